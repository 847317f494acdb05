import { CorruptDataError, createRng, type QuantizedTensor, type Quantizer, unpack } from "@lowbit/bits";
import { float16 } from "@lowbit/fp16";
import { describe, expect, it } from "vitest";
import { any2, any3, any4, any4Quantizers, encodeWithLut } from "../src/index.js";

function normals(n: number, seed: number): Float32Array {
  const rng = createRng(seed);
  const x = new Float32Array(n);
  for (let i = 0; i < n; i++) {
    const u = 1 - rng.nextFloat();
    x[i] = Math.sqrt(-2 * Math.log(u)) * Math.cos(2 * Math.PI * rng.nextFloat());
  }
  return x;
}

function sse(a: Float32Array, b: Float32Array, from = 0, to = a.length, stride = 0, cols = 0): number {
  let s = 0;
  if (stride === 0) {
    for (let i = from; i < to; i++) s += (a[i]! - b[i]!) ** 2;
    return s;
  }
  for (let r = 0; r * cols < a.length; r++) {
    for (let c = from; c < to; c++) s += (a[r * cols + c]! - b[r * cols + c]!) ** 2;
  }
  return s;
}

function sqnrDb(x: Float32Array, y: Float32Array): number {
  let p = 0;
  for (const v of x) p += v * v;
  return 10 * Math.log10(p / sse(x, y));
}

/** Decode rule written out: lut[row][code] · scale + zero in float32, from the parts. */
function decodeByRule(qt: QuantizedTensor, bits: number): Float32Array {
  const n = qt.shape.reduce((a, b) => a * b, 1);
  const cols = qt.shape.at(-1) ?? 1;
  const group = qt.spec["group"] as number;
  const groups = cols / group;
  const k = 2 ** bits;
  const codes = unpack(qt.parts["qdata"]!.data as Uint8Array, bits, n);
  const lut = float16.decode(qt.parts["lut"]!.data as Uint16Array);
  const s = float16.decode(qt.parts["scales"]!.data as Uint16Array);
  const z = float16.decode(qt.parts["zeros"]!.data as Uint16Array);
  const out = new Float32Array(n);
  for (let i = 0; i < n; i++) {
    const r = Math.floor(i / cols);
    const g = r * groups + Math.floor((i % cols) / group);
    out[i] = Math.fround(Math.fround(lut[r * k + codes[i]!]! * s[g]!) + z[g]!);
  }
  return out;
}

const cases: readonly { name: string; q: Quantizer; bits: number; minSqnr: number }[] = [
  { name: "any2", q: any2, bits: 2, minSqnr: 8.5 },
  { name: "any3", q: any3, bits: 3, minSqnr: 14.3 },
  { name: "any4", q: any4, bits: 4, minSqnr: 20.4 },
];

describe.each(cases)("$name", ({ q, bits, minSqnr }) => {
  const rows = 16;
  const cols = 512;
  const x = normals(rows * cols, bits);

  it("has the documented parts and a resolved spec", () => {
    const qt = q.quantize(x, [rows, cols]);
    expect(qt.spec).toEqual({
      format: `any${bits}`,
      group: 128,
      seed: 0,
      iterations: 300,
      calibration: false,
      scaleSampleWeight: false,
    });
    expect(qt.shape).toEqual([rows, cols]);
    expect(Object.keys(qt.parts).sort()).toEqual(["lut", "qdata", "scales", "zeros"]);
    expect(qt.parts["qdata"]).toMatchObject({ dtype: "U8", shape: [(rows * cols * bits) / 8] });
    expect(qt.parts["qdata"]!.data).toBeInstanceOf(Uint8Array);
    expect(qt.parts["lut"]).toMatchObject({ dtype: "F16", shape: [rows, 2 ** bits] });
    expect(qt.parts["scales"]).toMatchObject({ dtype: "F16", shape: [rows, cols / 128] });
    expect(qt.parts["zeros"]).toMatchObject({ dtype: "F16", shape: [rows, cols / 128] });
    for (const p of ["lut", "scales", "zeros"]) expect(qt.parts[p]!.data).toBeInstanceOf(Uint16Array);
    expect(q.defaults).toEqual({
      group: 128,
      seed: 0,
      iterations: 300,
      calibration: false,
      scaleSampleWeight: false,
    });
  });

  it("round-trips with small error, decoding by lut[row][code] · scale + zero", () => {
    const qt = q.quantize(x, [rows, cols]);
    const y = q.dequantize(qt);
    expect(sqnrDb(x, y)).toBeGreaterThan(minSqnr);
    expect(y).toEqual(decodeByRule(qt, bits));
    // Tables are sorted and stay inside the normalised range [−2^(N−1), 2^(N−1) − 1].
    const lut = float16.decode(qt.parts["lut"]!.data as Uint16Array);
    const k = 2 ** bits;
    for (let r = 0; r < rows; r++) {
      for (let j = 0; j < k; j++) {
        expect(lut[r * k + j]!).toBeGreaterThanOrEqual(-(k / 2));
        expect(lut[r * k + j]!).toBeLessThanOrEqual(k / 2 - 1);
        if (j > 0) expect(lut[r * k + j]!).toBeGreaterThanOrEqual(lut[r * k + j - 1]!);
      }
    }
  });

  it("encodes each value to the nearest float16 table entry of (x − zero) / scale (stored values)", () => {
    const group = 64;
    const qt = q.quantize(x, [rows, cols], { group });
    const codes = unpack(qt.parts["qdata"]!.data as Uint8Array, bits, rows * cols);
    const s = float16.decode(qt.parts["scales"]!.data as Uint16Array);
    const z = float16.decode(qt.parts["zeros"]!.data as Uint16Array);
    const k = 2 ** bits;
    const lut = qt.parts["lut"]!.data as Uint16Array;
    for (let r = 0; r < rows; r++) {
      const t = new Float32Array(cols);
      for (let i = 0; i < cols; i++) {
        const g = r * (cols / group) + Math.floor(i / group);
        t[i] = Math.fround(Math.fround(x[r * cols + i]! - z[g]!) / s[g]!);
      }
      expect(encodeWithLut(t, lut.subarray(r * k, r * k + k))).toEqual(
        codes.subarray(r * cols, r * cols + cols),
      );
    }
  });

  it("stores the reference's group scale and zero in float16", () => {
    const qt = q.quantize(x, [rows, cols]);
    const s = qt.parts["scales"]!.data as Uint16Array;
    const z = qt.parts["zeros"]!.data as Uint16Array;
    for (let g = 0; g < rows * (cols / 128); g++) {
      let mn = Number.POSITIVE_INFINITY;
      let mx = Number.NEGATIVE_INFINITY;
      for (let i = g * 128; i < (g + 1) * 128; i++) {
        mn = Math.min(mn, x[i]!);
        mx = Math.max(mx, x[i]!);
      }
      const scale = Math.fround(Math.max(Math.fround(mx - mn), Math.fround(1e-6)) / (2 ** bits - 1));
      const zero = Math.fround(mn + scale * 2 ** (bits - 1));
      expect(s[g]).toBe(float16.encodeValue(scale));
      expect(z[g]).toBe(float16.encodeValue(zero));
    }
  });

  it("is deterministic for a seed and differs across seeds", () => {
    const a = q.quantize(x, [rows, cols], { seed: 3 });
    const b = q.quantize(x, [rows, cols], { seed: 3 });
    expect(b.parts["lut"]!.data).toEqual(a.parts["lut"]!.data);
    expect(b.parts["qdata"]!.data).toEqual(a.parts["qdata"]!.data);
    const c = q.quantize(x, [rows, cols], { seed: 4 });
    expect(c.parts["lut"]!.data).not.toEqual(a.parts["lut"]!.data);
    expect(c.spec["seed"]).toBe(4);
  });

  it("learns tables that beat the uniform grid, and Lloyd improves on the k-means++ seeding", () => {
    const learned = q.quantize(x, [rows, cols]);
    const seededOnly = q.quantize(x, [rows, cols], { iterations: 0 });
    // Same scales and zeros with the uniform table −2^(N−1) … 2^(N−1) − 1: asymmetric INT-N.
    const k = 2 ** bits;
    const uniformRow = float16.encode(Float32Array.from({ length: k }, (_, j) => j - k / 2));
    const lut = new Uint16Array(rows * k);
    for (let r = 0; r < rows; r++) lut.set(uniformRow, r * k);
    const s = float16.decode(learned.parts["scales"]!.data as Uint16Array);
    const z = float16.decode(learned.parts["zeros"]!.data as Uint16Array);
    const t = new Float32Array(rows * cols);
    for (let i = 0; i < t.length; i++) {
      const g = Math.floor(i / 128);
      t[i] = Math.fround(Math.fround(x[i]! - z[g]!) / s[g]!);
    }
    const codes = encodeWithLut(t, uniformRow);
    const uniform = new Float32Array(t.length);
    for (let i = 0; i < t.length; i++) {
      const g = Math.floor(i / 128);
      uniform[i] = Math.fround(Math.fround((codes[i]! - k / 2) * s[g]!) + z[g]!);
    }
    const eLearned = sse(x, q.dequantize(learned));
    const eSeeded = sse(x, q.dequantize(seededOnly));
    expect(eLearned).toBeLessThan(eSeeded);
    expect(eLearned).toBeLessThan(0.9 * sse(x, uniform));
  });

  it("weights columns by calibration: heavy columns get lower error", () => {
    const cal = new Float32Array(cols).fill(1);
    for (let c = 0; c < cols; c += 8) cal[c] = -200; // the reference takes |weight|
    const plain = q.dequantize(q.quantize(x, [rows, cols]));
    const qt = q.quantize(x, [rows, cols], { calibration: cal });
    expect(qt.spec["calibration"]).toBe(true);
    const weighted = q.dequantize(qt);
    let heavyPlain = 0;
    let heavyWeighted = 0;
    for (let i = 0; i < x.length; i += 8) {
      heavyPlain += (x[i]! - plain[i]!) ** 2;
      heavyWeighted += (x[i]! - weighted[i]!) ** 2;
    }
    expect(heavyWeighted).toBeLessThan(0.9 * heavyPlain);
    // scaleSampleWeight changes the learned tables.
    const byScale = q.quantize(x, [rows, cols], { scaleSampleWeight: true });
    expect(byScale.parts["lut"]!.data).not.toEqual(q.quantize(x, [rows, cols]).parts["lut"]!.data);
  });

  it("decodes every group size and buffer alignment (word, byte and bit-stream paths) by the same rule", () => {
    const x2 = normals(6 * 48, 9);
    for (const group of [1, 2, 3, 4, 6, 8, 12, 16, 24, 48]) {
      const qt = q.quantize(x2, [6, 48], { group });
      const want = decodeByRule(qt, bits);
      expect(q.dequantize(qt)).toEqual(want);
      // The same bytes at an odd offset of a larger buffer.
      const bytes = qt.parts["qdata"]!.data as Uint8Array;
      const shifted = new Uint8Array(bytes.length + 3).subarray(1, bytes.length + 1);
      shifted.set(bytes);
      const moved = { ...qt, parts: { ...qt.parts, qdata: { ...qt.parts["qdata"]!, data: shifted } } };
      expect(q.dequantize(moved)).toEqual(want);
    }
  });
});

describe("shapes", () => {
  it("treats 1-D as one row, N-D as rows = product of the leading dimensions, 0-D as [1, 1]", () => {
    const x = normals(2 * 3 * 256, 4);
    const flat = any4.quantize(x.subarray(0, 256), [256]);
    expect(flat.parts["lut"]!.shape).toEqual([1, 16]);
    expect(flat.parts["scales"]!.shape).toEqual([1, 2]);
    const nd = any4.quantize(x, [2, 3, 256]);
    expect(nd.shape).toEqual([2, 3, 256]);
    expect(nd.parts["lut"]!.shape).toEqual([6, 16]);
    expect(nd.parts["scales"]!.shape).toEqual([6, 2]);
    expect(any4.dequantize(nd)).toEqual(any4.dequantize(any4.quantize(x, [6, 256])));
    const scalar = any4.quantize(Float32Array.of(0.75), [], { group: 1 });
    expect(any4.dequantize(scalar)[0]).toBeCloseTo(0.75, 3);
  });

  it("handles empty tensors", () => {
    for (const shape of [[0, 128], [4, 0], [0]]) {
      const qt = any4.quantize(new Float32Array(0), shape);
      expect(any4.dequantize(qt)).toEqual(new Float32Array(0));
    }
  });

  it("reproduces constant groups closely", () => {
    const x = new Float32Array(256).fill(0.3);
    x.fill(-2, 128);
    const y = any4.dequantize(any4.quantize(x, [1, 256]));
    for (let i = 0; i < 256; i++) expect(Math.abs(y[i]! - x[i]!)).toBeLessThan(1e-3);
  });

  it("writes into dst", () => {
    const x = normals(256, 2);
    const qt = any3.quantize(x, [2, 128]);
    const dst = new Float32Array(300).fill(7);
    expect(any3.dequantize(qt, dst)).toBe(dst);
    expect(dst.subarray(0, 256)).toEqual(any3.dequantize(qt));
    expect(dst[299]).toBe(7);
    expect(() => any3.dequantize(qt, new Float32Array(255))).toThrow(RangeError);
    expect(() => any3.dequantize(qt, [] as unknown as Float32Array)).toThrow(TypeError);
  });
});

describe("arguments", () => {
  const x = normals(512, 3);

  it("rejects a group that does not divide the last dimension", () => {
    expect(() => any4.quantize(x, [4, 128], { group: 96 })).toThrow(RangeError);
    expect(() => any4.quantize(x, [2, 256], { group: 96 })).toThrow(/group 96 must divide/);
    expect(() => any4.quantize(x, [512])).not.toThrow();
  });

  it("rejects bad options, sources and shapes", () => {
    expect(() => any4.quantize(x, [4, 128], { groupSize: 64 })).toThrow(/unknown option "groupSize"/);
    expect(() => any4.quantize(x, [4, 128], { format: "any2" })).toThrow(RangeError);
    expect(() => any4.quantize(x, [4, 128], { group: "64" })).toThrow(TypeError);
    expect(() => any4.quantize(x, [4, 128], { group: 0 })).toThrow(RangeError);
    expect(() => any4.quantize(x, [4, 128], { seed: 1.5 })).toThrow(TypeError);
    expect(() => any4.quantize(x, [4, 128], { iterations: -1 })).toThrow(RangeError);
    expect(() => any4.quantize(x, [4, 128], { iterations: "9" })).toThrow(TypeError);
    expect(() => any4.quantize(x, [4, 128], { scaleSampleWeight: 1 })).toThrow(TypeError);
    expect(() => any4.quantize(x, [4, 128], { calibration: [1, 2] })).toThrow(TypeError);
    expect(() => any4.quantize(x, [4, 128], { calibration: true })).toThrow(TypeError);
    expect(() => any4.quantize(x, [4, 128], { calibration: new Float32Array(64) })).toThrow(RangeError);
    const badCal = new Float32Array(128);
    badCal[5] = Number.NaN;
    expect(() => any4.quantize(x, [4, 128], { calibration: badCal })).toThrow(/calibration\[5\]/);
    expect(() => any4.quantize(Array.from(x) as unknown as Float32Array, [4, 128])).toThrow(TypeError);
    expect(() => any4.quantize(x, [4, 100])).toThrow(RangeError);
    const nan = x.slice();
    nan[300] = Number.NaN;
    expect(() => any4.quantize(nan, [4, 128])).toThrow(/src\[300\]/);
    const huge = x.slice();
    huge[7] = 1e6;
    expect(() => any4.quantize(huge, [4, 128])).toThrow(/float16/);
  });

  it("reports progress and stops when aborted", () => {
    const calls: [number, number][] = [];
    any2.quantize(x, [8, 64], { group: 64 }, { onProgress: (d, t) => calls.push([d, t]) });
    expect(calls.at(-1)).toEqual([8, 8]);
    for (let i = 1; i < calls.length; i++) expect(calls[i]![0]).toBeGreaterThan(calls[i - 1]![0]);
    const controller = new AbortController();
    controller.abort(new Error("stop"));
    expect(() => any2.quantize(x, [8, 64], { group: 64 }, { signal: controller.signal })).toThrow("stop");
    let rowsDone = 0;
    const signal = { aborted: false, reason: undefined };
    expect(() =>
      any2.quantize(
        x,
        [8, 64],
        { group: 64 },
        {
          signal,
          onProgress: (d) => {
            rowsDone = d;
            if (d === 3) signal.aborted = true;
          },
        },
      ),
    ).toThrow(expect.objectContaining({ name: "AbortError" }));
    expect(rowsDone).toBe(3);
  });

  it("lists the three quantizers for the registry", () => {
    expect(any4Quantizers.map((q) => q.name)).toEqual(["any2", "any3", "any4"]);
  });
});

describe("corrupt tensors", () => {
  const x = normals(2 * 256, 5);
  const good = any4.quantize(x, [2, 256]);
  const withPart = (key: string, part: unknown): QuantizedTensor => ({
    ...good,
    parts: { ...good.parts, [key]: part } as QuantizedTensor["parts"],
  });

  it("throws CorruptDataError for malformed parts", () => {
    const bad: QuantizedTensor[] = [
      { ...good, spec: { ...good.spec, format: "any3" } },
      { ...good, spec: { ...good.spec, group: 100 } },
      { ...good, spec: { ...good.spec, group: "128" } },
      { ...good, shape: [2, -256] },
      { ...good, shape: [2, 512] },
      {
        ...good,
        parts: { lut: good.parts["lut"]!, scales: good.parts["scales"]!, zeros: good.parts["zeros"]! },
      },
      withPart("qdata", { ...good.parts["qdata"]!, data: new Uint8Array(255), shape: [255] }),
      withPart("qdata", { ...good.parts["qdata"]!, dtype: "I8" }),
      withPart("lut", { ...good.parts["lut"]!, dtype: "BF16" }),
      withPart("lut", { ...good.parts["lut"]!, data: new Uint16Array(31) }),
      withPart("lut", { ...good.parts["lut"]!, shape: [32] }),
      withPart("scales", { ...good.parts["scales"]!, data: new Float32Array(4) }),
      withPart("zeros", { ...good.parts["zeros"]!, shape: [4, 1] }),
      withPart("zeros", null),
    ];
    for (const qt of bad) expect(() => any4.dequantize(qt)).toThrow(CorruptDataError);
    expect(() => any4.dequantize(good)).not.toThrow();
  });
});
