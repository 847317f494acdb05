import { existsSync, readFileSync } from "node:fs";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { CorruptDataError, createRng, UnsupportedError } from "@lowbit/bits";
import { describe, expect, it } from "vitest";
import { symmetricEigen } from "../src/_linalg.js";
import {
  type CodecState,
  createCodec,
  type EmbeddingCodec,
  hammingDistances,
  listCodecSpecs,
  restoreCodec,
  type ScoreSpace,
} from "../src/index.js";

/** n × dim values: a shared random direction plus per-dimension scaled Gaussian-ish noise (seeded). */
function data(n: number, dim: number, seed = 1): Float32Array {
  const rng = createRng(seed);
  const g = () => rng.nextFloat() + rng.nextFloat() + rng.nextFloat() - 1.5;
  const mean = Float32Array.from({ length: dim }, () => 0.3 * g());
  const scale = Float32Array.from({ length: dim }, (_, t) => 0.2 + 1 / (1 + t));
  const x = new Float32Array(n * dim);
  for (let i = 0; i < n; i++) for (let t = 0; t < dim; t++) x[i * dim + t] = mean[t]! + scale[t]! * g();
  return x;
}

function fitted(spec: string, sample: Float32Array, dim: number, seed = 0): EmbeddingCodec {
  const c = createCodec(spec);
  c.fit(sample, dim, { seed });
  return c;
}

function exactScore(q: Float32Array, x: Float32Array, o: number, space: ScoreSpace): number {
  let s = 0;
  for (let t = 0; t < q.length; t++) s += space === "dot" ? q[t]! * x[o + t]! : -((q[t]! - x[o + t]!) ** 2);
  return s;
}

const DIM = 37; // odd and not a multiple of 4 or 8: exercises int4/binary padding and PQ's uneven split
const TRAIN = data(600, DIM, 1);
const TEST = data(50, DIM, 2);

const TERMINALS: ReadonlyArray<[spec: string, bytes: number]> = [
  ["float32", 4 * DIM],
  ["float16", 2 * DIM],
  ["bfloat16", 2 * DIM],
  ["float8", DIM],
  ["float8_e5m2", DIM],
  ["int8", DIM],
  ["int4", Math.ceil(DIM / 2)],
  ["binary", Math.ceil(DIM / 8)],
  ["binary:center", Math.ceil(DIM / 8)],
  ["pq:8", 8],
];
const COMPOSITIONS: ReadonlyArray<[spec: string, bytes: number]> = [
  ["pca:12+int8", 12],
  ["pca:0.5+float8", Math.round(DIM / 2)],
  ["trunc:16+float16", 32],
  ["pca:var0.9+binary", -1],
  ["trunc:30+pca:10+pq:5", 5],
];

describe("spec parsing", () => {
  it("canonicalises specs and makes the terminal explicit", () => {
    expect(createCodec("float8_e4m3").spec).toBe("float8");
    expect(createCodec("float8_e4m3fn").spec).toBe("float8");
    expect(createCodec("pca:0.50").spec).toBe("pca:0.5+float32");
    expect(createCodec("pca:64").spec).toBe("pca:64+float32");
    expect(createCodec(" pca:var0.95 + int8 ").spec).toBe("pca:var0.95+int8");
    expect(createCodec("trunc:64+pca:32+pq:8").spec).toBe("trunc:64+pca:32+pq:8");
    for (const { spec } of listCodecSpecs().examples)
      expect(createCodec(spec).spec.startsWith(spec)).toBe(true);
  });

  it.each([
    ["", ""],
    ["int7", "int7"],
    ["pq:0", "pq:0"],
    ["pq:x", "pq:x"],
    ["pq", "pq"],
    ["pca:1.5", "pca:1.5"],
    ["pca:0", "pca:0"],
    ["pca:var0", "pca:var0"],
    ["pca:var1.2", "pca:var1.2"],
    ["trunc:-1", "trunc:-1"],
    ["int8+pca:4", "pca:4"],
    ["int8+int4", "int4"],
    ["pca:8++int8", ""],
    ["binary:centre", "binary:centre"],
  ])("rejects %j naming %j and listing the valid forms", (spec, part) => {
    expect(() => createCodec(spec)).toThrow(RangeError);
    expect(() => createCodec(spec)).toThrow(`"${part}"`);
    expect(() => createCodec(spec)).toThrow("valid forms");
  });

  it("rejects a non-string spec with a TypeError", () => {
    expect(() => createCodec(8 as unknown as string)).toThrow(TypeError);
  });
});

describe.each([...TERMINALS, ...COMPOSITIONS])("%s", (spec, bytes) => {
  const codec = fitted(spec, TRAIN, DIM);
  const codes = codec.encode(TEST);
  const decoded = codec.decode(codes);
  const n = TEST.length / DIM;

  it("has the documented code size", () => {
    expect(codec.fitted).toBe(true);
    expect(codec.dim).toBe(DIM);
    if (bytes >= 0) expect(codec.bytesPerVector).toBe(bytes);
    expect(codes.length).toBe(n * codec.bytesPerVector);
    expect(decoded.length).toBe(n * DIM);
  });

  it.each(["dot", "l2"] as const)("scores (%s) equal the exact score against decode()", (space) => {
    const out = new Float32Array(n);
    for (let qi = 0; qi < 5; qi++) {
      const q = TEST.subarray(qi * DIM, qi * DIM + DIM);
      const scorer = codec.prepare(q, space);
      scorer.scoreRange(codes, 0, n, out);
      for (let i = 0; i < n; i++) {
        const want = exactScore(q, decoded, i * DIM, space);
        expect(Math.abs(out[i]! - want)).toBeLessThanOrEqual(1e-5 * (1 + Math.abs(want)));
        expect(scorer.score(codes, i)).toBeCloseTo(out[i]!, 4);
      }
      // A sub-range writes from out[0].
      const part = new Float32Array(3);
      scorer.scoreRange(codes, 7, 10, part);
      expect(Array.from(part)).toEqual(Array.from(out.subarray(7, 10)));
    }
  });

  it("encodes and scores the same from a misaligned buffer", () => {
    const bpv = codec.bytesPerVector;
    const buf = new Uint8Array(codes.length + 1);
    const shifted = codec.encode(TEST, buf.subarray(1));
    expect(Array.from(shifted)).toEqual(Array.from(codes));
    const q = TEST.subarray(0, DIM);
    const s = codec.prepare(q, "l2");
    const a = new Float32Array(n);
    const b = new Float32Array(n);
    s.scoreRange(codes, 0, n, a);
    s.scoreRange(shifted, 0, n, b);
    expect(Array.from(b)).toEqual(Array.from(a));
    expect(Array.from(codec.decode(shifted))).toEqual(Array.from(decoded));
    expect(bpv).toBeGreaterThan(0);
  });

  it("round-trips through state() and restoreCodec: same codes, decode and scores", () => {
    const state = codec.state();
    expect(state.spec).toBe(codec.spec);
    expect(state.dim).toBe(DIM);
    // The params survive JSON; the arrays are copies.
    const params = JSON.parse(JSON.stringify(state.params)) as CodecState["params"];
    const arrays = Object.fromEntries(Object.entries(state.arrays).map(([k, v]) => [k, v.slice()]));
    const restored = restoreCodec({ spec: state.spec, dim: state.dim, params, arrays });
    expect(restored.bytesPerVector).toBe(codec.bytesPerVector);
    expect(restored.paramBytes).toBe(codec.paramBytes);
    const codes2 = restored.encode(TEST);
    expect(Array.from(codes2)).toEqual(Array.from(codes));
    expect(Array.from(restored.decode(codes))).toEqual(Array.from(decoded));
    const q = TEST.subarray(DIM, 2 * DIM);
    for (const space of ["dot", "l2"] as const) {
      const a = new Float32Array(n);
      const b = new Float32Array(n);
      codec.prepare(q, space).scoreRange(codes, 0, n, a);
      restored.prepare(q, space).scoreRange(codes, 0, n, b);
      expect(Array.from(b)).toEqual(Array.from(a));
    }
  });

  it("refuses a state of a newer version or with a bad spec", () => {
    const state = codec.state();
    expect(() => restoreCodec({ ...state, params: { ...state.params, version: 2 } })).toThrow(
      UnsupportedError,
    );
    expect(() => restoreCodec({ ...state, spec: "int9" })).toThrow(CorruptDataError);
    expect(() => restoreCodec({ ...state, dim: 0 })).toThrow(CorruptDataError);
  });

  it("refuses a state with a wrong-length array", () => {
    const state = codec.state();
    const keys = Object.keys(state.arrays);
    if (keys.length === 0) return; // nothing fitted beyond the dimension (float16, …)
    const arrays = { ...state.arrays, [keys[0]!]: new Float32Array(3) };
    expect(() => restoreCodec({ ...state, arrays })).toThrow(CorruptDataError);
  });
});

describe("decode error bounds", () => {
  it("float16: relative error < 1e-3; bfloat16: < 2^-8", () => {
    for (const [spec, bound] of [
      ["float16", 1e-3],
      ["bfloat16", 2 ** -8],
    ] as const) {
      const dec = fitted(spec, TRAIN, DIM).decode(fitted(spec, TRAIN, DIM).encode(TEST));
      let worst = 0;
      for (let i = 0; i < TEST.length; i++)
        worst = Math.max(worst, Math.abs(dec[i]! - TEST[i]!) / Math.abs(TEST[i]!));
      expect(worst).toBeLessThanOrEqual(bound);
      expect(worst).toBeGreaterThan(0);
    }
  });

  it("float16 saturates instead of overflowing to Inf", () => {
    const c = fitted("float16", new Float32Array([1e6, -1e6]), 2);
    expect(Array.from(c.decode(c.encode(new Float32Array([1e6, -1e6]))))).toEqual([65504, -65504]);
  });

  it("float8: the fitted scale maps the sample's maxabs to 448, relative error ≤ 2^-4 on normals", () => {
    const c = fitted("float8", TRAIN, DIM);
    const scale = c.state().params["s0.scale"] as number;
    let maxAbs = 0;
    for (const v of TRAIN) maxAbs = Math.max(maxAbs, Math.abs(v));
    expect(scale).toBe(Math.fround(maxAbs / 448));
    const dec = c.decode(c.encode(TRAIN));
    let worst = 0;
    for (let i = 0; i < TRAIN.length; i++) {
      if (Math.abs(TRAIN[i]!) < scale * 2 ** -6) continue;
      worst = Math.max(worst, Math.abs(dec[i]! - TRAIN[i]!) / Math.abs(TRAIN[i]!));
    }
    expect(worst).toBeLessThanOrEqual(2 ** -4 * (1 + 1e-6));
    expect(worst).toBeGreaterThan(2 ** -6);
  });

  it.each([
    ["int8", 255],
    ["int4", 15],
  ] as const)(
    "%s: max abs error ≤ step/2 within the fitted range, codes saturate outside",
    (spec, levels) => {
      const c = fitted(spec, TRAIN, DIM);
      const lo = c.state().arrays["s0.lo"]!;
      const step = c.state().arrays["s0.step"]!;
      let hi0 = Number.NEGATIVE_INFINITY;
      for (let i = 0; i < TRAIN.length / DIM; i++) hi0 = Math.max(hi0, TRAIN[i * DIM]!);
      expect(lo[0]! + levels * step[0]!).toBeCloseTo(hi0, 5);
      const dec = c.decode(c.encode(TRAIN));
      let worst = 0; // error in units of the step
      for (let i = 0; i < TRAIN.length; i++)
        worst = Math.max(worst, Math.abs(dec[i]! - TRAIN[i]!) / step[i % DIM]!);
      expect(worst).toBeLessThanOrEqual(0.5 + 1e-5);
      expect(worst).toBeGreaterThan(0.4);
      // Outside the range: clamped to the end points.
      const out = new Float32Array(DIM).fill(1e3);
      const d2 = c.decode(c.encode(out));
      for (let t = 0; t < DIM; t++) expect(d2[t]).toBeCloseTo(lo[t]! + levels * step[t]!, 5);
    },
  );

  it.each(["binary", "binary:center"])(
    "%s: bit = x − m > 0; decode = hi/lo, the means of each side",
    (spec) => {
      const c = fitted(spec, TRAIN, DIM);
      const { arrays } = c.state();
      const hi = arrays["s0.hi"]!;
      const lo = arrays["s0.lo"]!;
      const m = arrays["s0.mean"] ?? new Float32Array(DIM);
      if (spec === "binary") expect(arrays["s0.mean"]).toBeUndefined();
      const codes = c.encode(TRAIN);
      const dec = c.decode(codes);
      const n = TRAIN.length / DIM;
      const bpv = c.bytesPerVector;
      let wrongBits = 0;
      let wrongValues = 0;
      for (let t = 0; t < DIM; t++) {
        let sumHi = 0;
        let nHi = 0;
        let sumLo = 0;
        for (let i = 0; i < n; i++) {
          const x = TRAIN[i * DIM + t]!;
          const bit = (codes[i * bpv + (t >> 3)]! >> (t & 7)) & 1;
          if (bit !== (x - m[t]! > 0 ? 1 : 0)) wrongBits++;
          if (dec[i * DIM + t] !== (bit ? hi[t] : lo[t])) wrongValues++;
          if (bit) {
            sumHi += x;
            nHi++;
          } else sumLo += x;
        }
        // A side the sample never reached mirrors the other around the threshold.
        expect(hi[t]).toBeCloseTo(nHi > 0 ? sumHi / nHi : 2 * m[t]! - lo[t]!, 5);
        expect(lo[t]).toBeCloseTo(nHi < n ? sumLo / (n - nHi) : 2 * m[t]! - hi[t]!, 5);
        expect(hi[t]).toBeGreaterThan(lo[t]!);
      }
      expect(wrongBits).toBe(0);
      expect(wrongValues).toBe(0);
      // Padding bits of the last byte stay 0.
      for (let i = 0; i < n; i++) expect(codes[i * bpv + bpv - 1]! >> (DIM & 7)).toBe(0);
    },
  );

  it("int4 packs dimension 2j in the low nibble of byte j", () => {
    const c = fitted("int4", new Float32Array([0, 0, 0, 15, 15, 15]), 3);
    expect(Array.from(c.encode(new Float32Array([15, 0, 15])))).toEqual([0x0f, 0x0f]);
  });

  it("float16 codes are little-endian uint16 per dimension", () => {
    const c = fitted("float16", new Float32Array([1, -2]), 2);
    expect(Array.from(c.encode(new Float32Array([1, -2])))).toEqual([0x00, 0x3c, 0x00, 0xc0]);
  });
});

describe("PCA and truncation", () => {
  it("learns an orthonormal basis; keeping every dimension is lossless", () => {
    const c = fitted(`pca:${DIM}`, TRAIN, DIM);
    const p = c.state().arrays["s0.basis"]!;
    for (let a = 0; a < DIM; a++) {
      for (let b = 0; b < DIM; b++) {
        let s = 0;
        for (let t = 0; t < DIM; t++) s += p[a * DIM + t]! * p[b * DIM + t]!;
        expect(Math.abs(s - (a === b ? 1 : 0))).toBeLessThan(1e-5);
      }
    }
    const dec = c.decode(c.encode(TEST));
    let worst = 0;
    for (let i = 0; i < TEST.length; i++) worst = Math.max(worst, Math.abs(dec[i]! - TEST[i]!));
    expect(worst).toBeLessThan(1e-5);
  });

  it("pca:var<f> keeps the fewest leading components explaining f of the second moment", () => {
    const c = fitted("pca:var0.9", TRAIN, DIM);
    const k = c.bytesPerVector / 4;
    const p = c.state().arrays["s0.basis"]!;
    const n = TRAIN.length / DIM;
    const explained = (rows: number): number => {
      let kept = 0;
      let total = 0;
      for (let i = 0; i < n; i++) {
        for (let t = 0; t < DIM; t++) total += TRAIN[i * DIM + t]! ** 2;
        for (let r = 0; r < rows; r++) {
          let y = 0;
          for (let t = 0; t < DIM; t++) y += p[r * DIM + t]! * TRAIN[i * DIM + t]!;
          kept += y * y;
        }
      }
      return kept / total;
    };
    expect(k).toBeGreaterThan(1);
    expect(k).toBeLessThan(DIM);
    expect(explained(k)).toBeGreaterThanOrEqual(0.9 - 1e-6);
    expect(explained(k - 1)).toBeLessThan(0.9);
  });

  it("the leading component beats any other unit direction (here: the coordinate axes)", () => {
    const c = fitted("pca:1", TRAIN, DIM);
    const y = c.encode(TRAIN);
    const proj = new Float32Array(y.buffer, y.byteOffset, y.length / 4);
    let best = 0;
    for (const v of proj) best += v * v;
    const n = TRAIN.length / DIM;
    for (let t = 0; t < DIM; t++) {
      let s = 0;
      for (let i = 0; i < n; i++) s += TRAIN[i * DIM + t]! ** 2;
      expect(s).toBeLessThanOrEqual(best * (1 + 1e-6));
    }
  });

  it("trunc:k keeps the first k dims and decodes with zeros after them", () => {
    const c = fitted("trunc:5", TRAIN, DIM);
    const dec = c.decode(c.encode(TEST.subarray(0, DIM)));
    expect(Array.from(dec.subarray(0, 5))).toEqual(Array.from(TEST.subarray(0, 5)));
    expect(Array.from(dec.subarray(5))).toEqual(new Array(DIM - 5).fill(0));
  });

  it("symmetricEigen: A v = λ v, orthonormal vectors, descending values, for a matrix with a cluster", () => {
    const n = 60;
    const rng = createRng(9);
    // A = Q diag(λ) Qᵀ with Q from Householder reflections of random vectors and a tight cluster of λ.
    const lambdas = Float64Array.from({ length: n }, (_, i) => (i < 20 ? 10 - i * 0.4 : 1 + i * 1e-9));
    const q = new Float64Array(n * n);
    for (let i = 0; i < n; i++) q[i * n + i] = 1;
    for (let r = 0; r < 3; r++) {
      const v = Float64Array.from({ length: n }, () => rng.nextFloat() - 0.5);
      let vv = 0;
      for (const x of v) vv += x * x;
      for (let col = 0; col < n; col++) {
        let s = 0;
        for (let i = 0; i < n; i++) s += v[i]! * q[i * n + col]!;
        for (let i = 0; i < n; i++) q[i * n + col] = q[i * n + col]! - (2 * s * v[i]!) / vv;
      }
    }
    const a = new Float64Array(n * n);
    for (let i = 0; i < n; i++) {
      for (let j = 0; j < n; j++) {
        let s = 0;
        for (let t = 0; t < n; t++) s += q[i * n + t]! * lambdas[t]! * q[j * n + t]!;
        a[i * n + j] = s;
      }
    }
    const orig = a.slice();
    const { values, vectors } = symmetricEigen(a, n, { count: () => 40 });
    expect(vectors.length).toBe(40 * n);
    const sorted = Float64Array.from(lambdas).sort().reverse();
    for (let i = 0; i < n; i++) expect(values[i]).toBeCloseTo(sorted[i]!, 10);
    for (let r = 0; r < 40; r++) {
      for (let i = 0; i < n; i++) {
        let s = 0;
        for (let j = 0; j < n; j++) s += orig[i * n + j]! * vectors[r * n + j]!;
        expect(Math.abs(s - values[r]! * vectors[r * n + i]!)).toBeLessThan(1e-9);
      }
      for (let r2 = 0; r2 <= r; r2++) {
        let s = 0;
        for (let i = 0; i < n; i++) s += vectors[r * n + i]! * vectors[r2 * n + i]!;
        expect(Math.abs(s - (r === r2 ? 1 : 0))).toBeLessThan(1e-9);
      }
    }
  });
});

describe("product quantization", () => {
  it("is deterministic for a seed and uses the seed", () => {
    const a = fitted("pq:4", TRAIN, DIM, 3).state().arrays["s0.codebooks"]!;
    const b = fitted("pq:4", TRAIN, DIM, 3).state().arrays["s0.codebooks"]!;
    const c = fitted("pq:4", TRAIN, DIM, 4).state().arrays["s0.codebooks"]!;
    expect(Array.from(b)).toEqual(Array.from(a));
    expect(Array.from(c)).not.toEqual(Array.from(a));
  });

  it("codes name the nearest centroid of each sub-space (widths ⌈dim/M⌉ first)", () => {
    const c = fitted("pq:5", TRAIN, DIM);
    const cb = c.state().arrays["s0.codebooks"]!;
    const k = c.state().params["s0.k"] as number;
    expect(k).toBe(256);
    const widths = [8, 8, 7, 7, 7];
    const codes = c.encode(TEST);
    let a = 0;
    widths.forEach((w, s) => {
      for (let i = 0; i < 10; i++) {
        let best = 0;
        let bestD = Number.POSITIVE_INFINITY;
        for (let cc = 0; cc < k; cc++) {
          let d = 0;
          for (let t = 0; t < w; t++) d += (TEST[i * DIM + a + t]! - cb[k * a + cc * w + t]!) ** 2;
          if (d < bestD - 1e-9) {
            bestD = d;
            best = cc;
          }
        }
        expect(codes[i * 5 + s]).toBe(best);
      }
      a += w;
    });
  });

  it("fits with fewer rows than 256 (k = rows)", () => {
    const c = fitted("pq:3", TRAIN.subarray(0, 40 * DIM), DIM);
    expect(c.state().params["s0.k"]).toBe(40);
    const dec = c.decode(c.encode(TRAIN.subarray(0, 40 * DIM)));
    for (let i = 0; i < 40 * DIM; i++) expect(dec[i]).toBeCloseTo(TRAIN[i]!, 5);
  });

  it("reports progress and stops on abort", () => {
    const calls: number[] = [];
    createCodec("pq:3").fit(TRAIN.subarray(0, 100 * DIM), DIM, { onProgress: (d) => calls.push(d) });
    expect(calls.at(-1)).toBe(3);
    const ac = new AbortController();
    ac.abort(new Error("stop"));
    expect(() => createCodec("pq:3").fit(TRAIN, DIM, { signal: ac.signal })).toThrow("stop");
  });
});

describe("hammingDistances", () => {
  const naive = (a: Uint8Array, b: Uint8Array, o: number): number => {
    let s = 0;
    for (let i = 0; i < a.length; i++) {
      let x = a[i]! ^ b[o + i]!;
      while (x) {
        s += x & 1;
        x >>= 1;
      }
    }
    return s;
  };

  it.each([
    [13, 0],
    [13, 1],
    [16, 0],
    [16, 2],
    [192, 0],
    [3, 0],
  ])("equals a naive popcount (%i bytes per code, offset %i)", (bpv, offset) => {
    const rng = createRng(bpv * 31 + offset);
    const n = 70;
    const buf = new Uint8Array(n * bpv + offset);
    for (let i = 0; i < buf.length; i++) buf[i] = rng.nextUint32() & 0xff;
    const codes = buf.subarray(offset);
    const q = codes.slice(5 * bpv, 6 * bpv);
    const out = new Uint32Array(n);
    hammingDistances(q, codes, n, out);
    for (let i = 0; i < n; i++) expect(out[i]).toBe(naive(q, codes, i * bpv));
    expect(out[5]).toBe(0);
  });

  it("matches the sign codes of the binary codec", () => {
    const c = fitted("binary", TRAIN, DIM);
    const codes = c.encode(TEST);
    const out = new Uint32Array(TEST.length / DIM);
    hammingDistances(codes.subarray(0, c.bytesPerVector), codes, out.length, out);
    let want = 0;
    for (let t = 0; t < DIM; t++) if (TEST[t]! > 0 !== TEST[DIM + t]! > 0) want++;
    expect(out[1]).toBe(want);
  });

  it("rejects bad arguments", () => {
    const q = new Uint8Array(4);
    expect(() => hammingDistances(q, new Uint8Array(7), 2, new Uint32Array(2))).toThrow(RangeError);
    expect(() => hammingDistances(q, new Uint8Array(8), 2, new Uint32Array(1))).toThrow(RangeError);
    expect(() =>
      hammingDistances(q, new Uint8Array(8), 2, new Int32Array(2) as unknown as Uint32Array),
    ).toThrow(TypeError);
    expect(() => hammingDistances(new Uint8Array(0), new Uint8Array(8), 2, new Uint32Array(2))).toThrow(
      RangeError,
    );
  });
});

describe("bad input", () => {
  it("refuses encode, decode, prepare and state before fit", () => {
    const c = createCodec("int8");
    expect(c.fitted).toBe(false);
    expect(c.dim).toBe(0);
    expect(c.bytesPerVector).toBe(0);
    const msg = "codec is not fitted: call fit(sample, dim) first";
    expect(() => c.encode(TEST)).toThrow(RangeError);
    expect(() => c.encode(TEST)).toThrow(msg);
    expect(() => c.decode(new Uint8Array(DIM))).toThrow(msg);
    expect(() => c.prepare(TEST.subarray(0, DIM), "dot")).toThrow(msg);
    expect(() => c.state()).toThrow(msg);
  });

  it("names the row and column of a NaN or Inf in fit and encode", () => {
    const bad = TRAIN.slice(0, 10 * DIM);
    bad[3 * DIM + 5] = Number.NaN;
    expect(() => createCodec("int8").fit(bad, DIM)).toThrow(/row 3, column 5/);
    const c = fitted("int8", TRAIN, DIM);
    const bad2 = TEST.slice(0, 4 * DIM);
    bad2[2 * DIM + 36] = Number.POSITIVE_INFINITY;
    expect(() => c.encode(bad2)).toThrow(RangeError);
    expect(() => c.encode(bad2)).toThrow(/row 2, column 36/);
    const q = TEST.slice(0, DIM);
    q[1] = Number.NaN;
    expect(() => c.prepare(q, "dot")).toThrow(RangeError);
  });

  it("rejects dimension mismatches", () => {
    expect(() => createCodec("int8").fit(TRAIN.subarray(0, 100), DIM)).toThrow(RangeError);
    expect(() => createCodec("int8").fit(new Float32Array(0), DIM)).toThrow(RangeError);
    expect(() => createCodec("int8").fit(TRAIN, 0)).toThrow(RangeError);
    expect(() => createCodec("int8").fit(Array.from(TRAIN) as unknown as Float32Array, DIM)).toThrow(
      TypeError,
    );
    const c = fitted("int8", TRAIN, DIM);
    expect(() => c.encode(TEST.subarray(0, DIM + 1))).toThrow(RangeError);
    expect(() => c.decode(new Uint8Array(DIM + 1))).toThrow(RangeError);
    expect(() => c.prepare(TEST.subarray(0, DIM - 1), "dot")).toThrow(RangeError);
    expect(() => c.prepare(TEST.subarray(0, DIM), "cos" as ScoreSpace)).toThrow(RangeError);
    expect(() => c.encode(TEST, new Uint8Array(10))).toThrow(RangeError);
    const s = c.prepare(TEST.subarray(0, DIM), "dot");
    const codes = c.encode(TEST);
    expect(() => s.scoreRange(codes, 0, 51, new Float32Array(51))).toThrow(RangeError);
    expect(() => s.scoreRange(codes, 0, 50, new Float32Array(49))).toThrow(RangeError);
    expect(() => s.score(codes, 50)).toThrow(RangeError);
  });

  it("rejects stages that ask for more than the input has", () => {
    expect(() => createCodec("pq:38").fit(TRAIN, DIM)).toThrow(RangeError);
    expect(() => createCodec("pq:38").fit(TRAIN, DIM)).toThrow(/M ≤ dim/);
    expect(() => createCodec("pca:38").fit(TRAIN, DIM)).toThrow(RangeError);
    expect(() => createCodec("trunc:38").fit(TRAIN, DIM)).toThrow(RangeError);
    expect(() => createCodec("trunc:20+pq:21").fit(TRAIN, DIM)).toThrow(RangeError);
  });

  it("a refit that fails validation leaves the previous fit in place", () => {
    const c = fitted("int8", TRAIN, DIM);
    const bad = TRAIN.slice(0, 2 * DIM);
    bad[0] = Number.NaN;
    expect(() => c.fit(bad, DIM)).toThrow(RangeError);
    expect(c.fitted).toBe(true); // validation runs before anything changes
    expect(() => c.fit(TRAIN, 39 as number)).toThrow(RangeError);
    expect(c.dim).toBe(DIM);
  });
});

/** The shared folder: $LOWBIT_SHARED, else <repo root>/../shared (repo root: nearest ancestor with turbo.json). */
function sharedDir(): string {
  const env = process.env["LOWBIT_SHARED"];
  if (env !== undefined && env !== "") return resolve(env);
  let dir = dirname(fileURLToPath(import.meta.url));
  while (!existsSync(join(dir, "turbo.json"))) {
    const up = dirname(dir);
    if (up === dir) throw new Error("no turbo.json above the test file");
    dir = up;
  }
  return resolve(dir, "..", "shared");
}

describe("GloVe-100 subset (cosine, 5 000 base rows, 200 held-out rows as queries)", () => {
  const path = join(sharedDir(), "datasets", "embeddings", "glove-100d", "base.f32");
  if (!existsSync(path)) {
    throw new Error(
      `${path} is missing: point LOWBIT_SHARED at the folder that holds datasets/ (this test never skips)`,
    );
  }
  const dim = 100;
  const n = 5000;
  const nq = 200;
  const bytes = readFileSync(path);
  const all = new Float32Array(bytes.buffer, bytes.byteOffset, (n + nq) * dim).slice();
  for (let i = 0; i < n + nq; i++) {
    let s = 0;
    for (let t = 0; t < dim; t++) s += all[i * dim + t]! ** 2;
    const inv = 1 / Math.sqrt(s);
    for (let t = 0; t < dim; t++) all[i * dim + t] = all[i * dim + t]! * inv;
  }
  const base = all.subarray(0, n * dim);
  const queries = all.subarray(n * dim);
  /** Rows of the 10 highest scores (insertion into a sorted list of 10; ties to the lower row). */
  const top10 = (s: Float32Array): number[] => {
    const ids: number[] = [];
    const vals: number[] = [];
    for (let i = 0; i < s.length; i++) {
      const v = s[i]!;
      if (ids.length === 10 && v <= vals[9]!) continue;
      let p = Math.min(ids.length, 9);
      if (ids.length < 10) {
        ids.push(i);
        vals.push(v);
      }
      while (p > 0 && vals[p - 1]! < v) {
        ids[p] = ids[p - 1]!;
        vals[p] = vals[p - 1]!;
        p--;
      }
      ids[p] = i;
      vals[p] = v;
    }
    return ids;
  };
  const truth: number[][] = [];
  const scores = new Float32Array(n);
  for (let q = 0; q < nq; q++) {
    for (let i = 0; i < n; i++) {
      let s = 0;
      for (let t = 0; t < dim; t++) s += queries[q * dim + t]! * base[i * dim + t]!;
      scores[i] = s;
    }
    truth.push(top10(scores));
  }
  const recall = (spec: string, sampleRows = n): number => {
    const c = fitted(spec, base.subarray(0, sampleRows * dim), dim, 1);
    const codes = c.encode(base);
    let hits = 0;
    for (let q = 0; q < nq; q++) {
      c.prepare(queries.subarray(q * dim, q * dim + dim), "dot").scoreRange(codes, 0, n, scores);
      const got = new Set(top10(scores));
      for (const id of truth[q]!) if (got.has(id)) hits++;
    }
    return hits / (10 * nq);
  };

  // Measured: int8 0.995, float8 0.96, pca:0.5 0.698, pca:0.5+float8 0.692, binary 0.58, pq:20 0.68
  // (chance: 10/5000). GloVe's spectrum is flat, so PCA-50% itself caps recall near 0.7 here.
  it("int8 keeps the top-10 neighbours (recall@10 > 0.95)", () => {
    expect(recall("int8")).toBeGreaterThan(0.95);
  });

  it("pca:0.5+float8 keeps most of them, and float8 costs almost nothing on top of PCA", () => {
    const composed = recall("pca:0.5+float8");
    expect(composed).toBeGreaterThan(0.62);
    expect(composed).toBeGreaterThan(recall("pca:0.5") - 0.03);
  });

  it("binary and pq:20 (codebooks from 1 000 rows) are far better than chance", () => {
    expect(recall("binary")).toBeGreaterThan(0.45);
    expect(recall("pq:20", 1000)).toBeGreaterThan(0.55);
  });
});

describe("batch independence", () => {
  it.each(["pca:0.5+int8", "pq:8", "trunc:20+pca:9+float8"])(
    "%s: a row encodes the same alone and in a batch",
    (spec) => {
      const c = fitted(spec, TRAIN, DIM);
      const all = c.encode(TEST);
      const bpv = c.bytesPerVector;
      for (const i of [0, 3, 5, 49]) {
        expect(Array.from(c.encode(TEST.subarray(i * DIM, (i + 1) * DIM)))).toEqual(
          Array.from(all.subarray(i * bpv, (i + 1) * bpv)),
        );
      }
    },
  );
});
