import { createRng, type QuantizedTensor, type Quantizer, unpack } from "@lowbit/bits";
import { bfloat16, float16 } from "@lowbit/fp16";
import { dequantizeInt, type IntOptions, intQuantizers, quantizeInt } from "@lowbit/int";
import { describe, expect, it } from "vitest";
import { f32Bits, f32FromBits } from "./shared.js";

/**
 * The INT-b quantizers (SPEC §3) have no reference library, so they are checked against
 * - hand-computed cases from the SPEC formulas (ties, clamps, amax = 0, zero points, layouts, packing,
 *   fullRange, float16/bfloat16 scales), with literal expected codes, scales and bytes;
 * - an independent scalar transcription of the formulas below, on random tensors over every width,
 *   signedness and layout;
 * - statistics: stochastic rounding is unbiased and reproducible, the clip search lowers the error on
 *   heavy-tailed data and never raises it.
 */

const f32 = Math.fround;
const quantizer = (name: string): Quantizer => intQuantizers.find((q) => q.name === name)!;

/** Codes of a tensor as stored (unsigned b-bit integers), unpacked from qdata. */
function storedCodes(qt: QuantizedTensor, bits: number): number[] {
  const n = qt.shape.reduce((a, b) => a * b, 1);
  return [...unpack(qt.parts["qdata"]!.data as Uint8Array, bits, n)];
}

/** Signed values of b-bit two's-complement codes. */
const signedOf = (codes: number[], bits: number) =>
  codes.map((c) => (c >= 2 ** (bits - 1) ? c - 2 ** bits : c));

const arr = (xs: readonly number[]) => Float32Array.from(xs);
const values = (a: Float32Array) => [...a];

describe("hand-computed cases (SPEC §3 formulas)", () => {
  it("ties round to even: int4 per tensor, amax 7 → scale 1", () => {
    const x = arr([7, 0.5, 1.5, 2.5, -0.5, -1.5, -2.5, 3.5]);
    const qt = quantizeInt(x, [8], { bits: 4, axis: null });
    expect(qt.spec).toEqual({
      format: "int4",
      group: 0,
      axis: null,
      symmetric: true,
      fullRange: false,
      rounding: "nearest-even",
      seed: null,
      clip: false,
      scaleDtype: "F32",
    });
    expect(values(qt.parts["scales"]!.data as Float32Array)).toEqual([1]);
    expect(qt.parts["scales"]!.shape).toEqual([1]);
    expect(signedOf(storedCodes(qt, 4), 4)).toEqual([7, 0, 2, 2, 0, -2, -2, 4]);
    // Two's complement nibbles, element 2i in the low nibble: 7,0 | 2,2 | 0,−2 | −2,4.
    expect([...(qt.parts["qdata"]!.data as Uint8Array)]).toEqual([0x07, 0x22, 0xe0, 0x4e]);
    expect(qt.parts["qdata"]!.shape).toEqual([4]);
    expect(values(dequantizeInt(qt))).toEqual([7, 0, 2, 2, 0, -2, -2, 4]);
    expect(qt.parts["zeros"]).toBeUndefined();
  });

  it("x / scale is rounded to float32 before rne: a quotient just below 3.5 that rounds to it is a tie (→ 4)", () => {
    // scale = 3/7 in float32; x = 2.5·scale in float32 divides back to exactly 2.5 → 2 (even).
    const s = f32(3 / 7);
    const x = arr([3, f32(2.5 * s), f32(3.5 * s)]);
    const qt = quantizeInt(x, [3], { bits: 4, axis: null });
    expect(values(qt.parts["scales"]!.data as Float32Array)).toEqual([s]);
    expect(f32(x[1]! / s)).toBe(2.5);
    expect(f32(x[2]! / s)).toBe(3.5);
    expect(x[2]! / s).toBeLessThan(3.5); // the exact quotient would round to 3
    expect(signedOf(storedCodes(qt, 4), 4)).toEqual([7, 2, 4]);
  });

  it("clamp: fullRange int4 maps +amax (7.5 → 8) to 7 and −amax to −8; ±Inf saturate, NaN → 0", () => {
    const x = arr([7.5, -7.5, 3.5, -3.5, Number.POSITIVE_INFINITY, Number.NEGATIVE_INFINITY, Number.NaN, 1]);
    const qt = quantizeInt(x, [8], { bits: 4, axis: null, fullRange: true });
    expect(values(qt.parts["scales"]!.data as Float32Array)).toEqual([1]); // 7.5 / (15 / 2)
    expect(signedOf(storedCodes(qt, 4), 4)).toEqual([7, -8, 4, -4, 7, -8, 0, 1]);
    expect(values(dequantizeInt(qt))).toEqual([7, -8, 4, -4, 7, -8, 0, 1]);
    // Without fullRange: scale 7.5/7, ±Inf → ±7 (never −8), NaN → 0.
    const r = quantizeInt(x, [8], { bits: 4, axis: null });
    expect(values(r.parts["scales"]!.data as Float32Array)).toEqual([f32(7.5 / 7)]);
    expect(signedOf(storedCodes(r, 4), 4).slice(4, 7)).toEqual([7, -7, 0]);
  });

  it("amax = 0 gives scale 0 and codes 0 (the zero level); non-finite values do not enter amax", () => {
    const zeros = arr([0, -0, 0, 0]);
    for (const [name, zeroCode] of [
      ["int4", 0],
      ["uint4", 0],
      ["int8", 0],
    ] as const) {
      const qt = quantizer(name).quantize(zeros, [4], { axis: null });
      expect(values(qt.parts["scales"]!.data as Float32Array)).toEqual([0]);
      expect(storedCodes(qt, name.endsWith("8") ? 8 : 4)).toEqual([zeroCode, zeroCode, zeroCode, zeroCode]);
      expect(values(quantizer(name).dequantize(qt))).toEqual([0, 0, 0, 0]);
    }
    // uint4 symmetric stores levels with offset 8: the zero level is code 8.
    const u = quantizer("uint4").quantize(zeros, [4], { axis: null, symmetric: true });
    expect(storedCodes(u, 4)).toEqual([8, 8, 8, 8]);
    // Only NaN and Inf: scale 0, everything decodes to 0.
    const nf = quantizeInt(arr([Number.NaN, Number.POSITIVE_INFINITY, 0]), [3], { bits: 4, axis: null });
    expect(values(nf.parts["scales"]!.data as Float32Array)).toEqual([0]);
    expect(values(dequantizeInt(nf))).toEqual([0, 0, 0]);
  });

  it("asymmetric uint4: range [−1, 2] → scale 0.2f, zero 5; codes 0, 5, 15", () => {
    const qt = quantizeInt(arr([-1, 0, 2]), [3], { bits: 4, signed: false, axis: null });
    expect(qt.spec["symmetric"]).toBe(false);
    expect(values(qt.parts["scales"]!.data as Float32Array)).toEqual([f32(3 / 15)]);
    expect(qt.parts["zeros"]!.dtype).toBe("U8");
    expect([...(qt.parts["zeros"]!.data as Uint8Array)]).toEqual([5]);
    expect(storedCodes(qt, 4)).toEqual([0, 5, 15]);
    expect(values(dequantizeInt(qt))).toEqual([-1, 0, 2]);
  });

  it("asymmetric ranges contain 0: all-positive → zero 0, all-negative → zero 2^b − 1", () => {
    const pos = quantizeInt(arr([1, 2, 3]), [3], { bits: 4, signed: false, axis: null });
    expect(values(pos.parts["scales"]!.data as Float32Array)).toEqual([f32(3 / 15)]);
    expect([...(pos.parts["zeros"]!.data as Uint8Array)]).toEqual([0]);
    expect(storedCodes(pos, 4)).toEqual([5, 10, 15]);
    const neg = quantizeInt(arr([-3, -1]), [2], { bits: 4, signed: false, axis: null });
    expect([...(neg.parts["zeros"]!.data as Uint8Array)]).toEqual([15]);
    expect(storedCodes(neg, 4)).toEqual([0, 10]);
  });

  it("the zero point is clamped: uint8 with a bfloat16 scale rounded down (−min/scale = 255.9 → 256 → 255)", () => {
    const x = arr([-255.9, 0, 100]);
    // The range [−255.9, 100]: f32 scale 355.9/255 → bf16. Use only the negative side to force the clamp.
    const qt = quantizeInt(x.subarray(0, 2), [2], { bits: 8, signed: false, axis: null, scaleDtype: "BF16" });
    expect(qt.parts["scales"]!.dtype).toBe("BF16");
    expect([...(qt.parts["scales"]!.data as Uint16Array)]).toEqual([0x3f80]); // 1.0035294 → 1.0
    expect([...(qt.parts["zeros"]!.data as Uint8Array)]).toEqual([255]);
    expect(storedCodes(qt, 8)).toEqual([0, 255]);
    expect(values(dequantizeInt(qt))).toEqual([-255, 0]);
  });

  it("signed asymmetric int4 stores codes and zeros shifted by −8 (I8 zeros)", () => {
    const u = quantizeInt(arr([-1, 0, 2, 0.7]), [4], { bits: 4, signed: false, axis: null });
    const s = quantizeInt(arr([-1, 0, 2, 0.7]), [4], { bits: 4, axis: null, symmetric: false });
    expect(s.parts["zeros"]!.dtype).toBe("I8");
    expect([...(s.parts["zeros"]!.data as Int8Array)]).toEqual([5 - 8]);
    expect(signedOf(storedCodes(s, 4), 4)).toEqual(storedCodes(u, 4).map((c) => c - 8));
    expect(values(dequantizeInt(s))).toEqual(values(dequantizeInt(u)));
  });

  it("per-channel, per-tensor and group layouts of a [2, 4] tensor", () => {
    const x = arr([1, -2, 3, -4, 0.5, 0.25, -0.125, 7]);
    const byAxis0 = quantizeInt(x, [2, 4], { bits: 8 });
    expect(byAxis0.parts["scales"]!.shape).toEqual([2]);
    expect(values(byAxis0.parts["scales"]!.data as Float32Array)).toEqual([f32(4 / 127), f32(7 / 127)]);
    const byAxis1 = quantizeInt(x, [2, 4], { bits: 8, axis: 1 });
    const byLast = quantizeInt(x, [2, 4], { bits: 8, axis: -1 });
    expect(byAxis1.parts["scales"]!.shape).toEqual([4]);
    expect(values(byAxis1.parts["scales"]!.data as Float32Array)).toEqual(
      [1, 2, 3, 7].map((a) => f32(a / 127)),
    );
    expect(byLast.parts["scales"]!.data).toEqual(byAxis1.parts["scales"]!.data);
    expect(byLast.spec["axis"]).toBe(-1);
    const tensor = quantizeInt(x, [2, 4], { bits: 8, axis: null });
    expect(values(tensor.parts["scales"]!.data as Float32Array)).toEqual([f32(7 / 127)]);
    const grouped = quantizeInt(x, [2, 4], { bits: 8, group: 2 });
    expect(grouped.spec["axis"]).toBeNull();
    expect(grouped.parts["scales"]!.shape).toEqual([2, 2]);
    expect(values(grouped.parts["scales"]!.data as Float32Array)).toEqual(
      [2, 4, 0.5, 7].map((a) => f32(a / 127)),
    );
    // Each element uses its own group's scale: 1 / (2/127) = 63.5 → 64 (even), 3 / (4/127) = 95.25 → 95,
    // 0.25 / (0.5/127) = 63.5 → 64, −0.125 / (7/127) = −2.27 → −2.
    expect(signedOf(storedCodes(grouped, 8), 8)).toEqual([64, -127, 95, -127, 127, 64, -2, 127]);
    // 3-D, axis 1: channel of element i is ⌊i / 2⌋ mod 3 for shape [2, 3, 2].
    const y = arr([1, 1, 2, 2, 4, 4, 8, 8, 16, 16, 32, 32]);
    const mid = quantizeInt(y, [2, 3, 2], { bits: 8, axis: 1 });
    expect(values(mid.parts["scales"]!.data as Float32Array)).toEqual([8, 16, 32].map((a) => f32(a / 127)));
  });

  it("packs signed codes as two's complement, LSB first across byte boundaries (int3)", () => {
    // fullRange int3: amax 3.5 → scale 1; −3.5 → −4 (even).
    const x = arr([-1, 3, -3.5, 0, 1, 2, -2, -3]);
    const qt = quantizeInt(x, [8], { bits: 3, axis: null, fullRange: true });
    expect(values(qt.parts["scales"]!.data as Float32Array)).toEqual([1]);
    expect(storedCodes(qt, 3)).toEqual([7, 3, 4, 0, 1, 2, 6, 5]);
    // Σ code_i · 2^(3i) = 0xB9111F, little endian.
    expect([...(qt.parts["qdata"]!.data as Uint8Array)]).toEqual([0x1f, 0x11, 0xb9]);
    expect(values(dequantizeInt(qt))).toEqual([-1, 3, -4, 0, 1, 2, -2, -3]);
    // An odd count: the last byte is zero-padded.
    const odd = quantizeInt(arr([3.5, -1, -2]), [3], { bits: 3, axis: null, fullRange: true });
    expect(storedCodes(odd, 3)).toEqual([3, 7, 6]); // 3.5 → 4 → clamped to 3
    expect([...(odd.parts["qdata"]!.data as Uint8Array)]).toEqual([0xbb, 0x01]); // 3 + 7·8 + 6·64 = 0x1BB
  });

  it("scaleDtype F16 rounds the scale before the codes: ties are ties of the stored scale, decode is exact", () => {
    const amax = f32(7 * (1 + 2 ** -11 + 2 ** -13));
    const s32 = f32(amax / 7);
    const s16 = 1 + 2 ** -10; // float16 0x3C01, the nearest to s32
    const x = arr([amax, f32(2.5 * s16), -f32(2.5 * s16), f32(0.5 * s16)]);
    const q16 = quantizeInt(x, [4], { bits: 4, axis: null, scaleDtype: "F16" });
    expect(q16.parts["scales"]!.dtype).toBe("F16");
    expect([...(q16.parts["scales"]!.data as Uint16Array)]).toEqual([0x3c01]);
    expect(signedOf(storedCodes(q16, 4), 4)).toEqual([7, 2, -2, 0]);
    expect(values(dequantizeInt(q16))).toEqual([7, 2, -2, 0].map((c) => f32(c * s16)));
    // With float32 scales the same values are not ties: 2.5·s16 / s32 > 2.5 → 3.
    const q32 = quantizeInt(x, [4], { bits: 4, axis: null });
    expect(values(q32.parts["scales"]!.data as Float32Array)).toEqual([s32]);
    expect(signedOf(storedCodes(q32, 4), 4)).toEqual([7, 3, -3, 1]);
  });

  it("scaleDtype BF16 stores bfloat16 bits and decodes exactly with them", () => {
    const x = arr([1, -0.3, 0.77, 0.01]);
    const qt = quantizeInt(x, [4], { bits: 6, axis: null, scaleDtype: "BF16" });
    const bits = (qt.parts["scales"]!.data as Uint16Array)[0]!;
    const s = bfloat16.decode(Uint16Array.of(bits))[0]!;
    expect(bits).toBe(bfloat16.encode(arr([f32(1 / 31)]))[0]);
    const codes = signedOf(storedCodes(qt, 6), 6);
    expect(values(dequantizeInt(qt))).toEqual(codes.map((c) => f32(c * s)));
  });
});

// ---------------------------------------------------------------------------------------------
// An independent scalar transcription of SPEC §3, for random tensors.

interface RefOptions {
  readonly group: number;
  readonly axis: number | null;
  readonly symmetric: boolean;
  readonly fullRange: boolean;
  readonly scaleDtype: "F32" | "F16" | "BF16";
}

/** Round half to even, written out (not Math.round). */
function rne(t: number): number {
  if (!Number.isFinite(t)) return t;
  const fl = Math.floor(t);
  const frac = t - fl;
  if (frac > 0.5) return fl + 1;
  if (frac < 0.5) return fl;
  return fl % 2 === 0 ? fl : fl + 1;
}

function roundScale(s: number, dtype: RefOptions["scaleDtype"]): number {
  if (dtype === "F32") return s;
  const codec = dtype === "F16" ? float16 : bfloat16;
  return codec.decode(codec.encode(arr([s])))[0]!;
}

function groupOf(i: number, shape: readonly number[], o: RefOptions): number {
  if (o.group > 0) return Math.floor(i / o.group);
  if (o.axis === null) return 0;
  const a = o.axis < 0 ? o.axis + shape.length : o.axis;
  const inner = shape.slice(a + 1).reduce((p, d) => p * d, 1);
  return Math.floor(i / inner) % shape[a]!;
}

function reference(x: Float32Array, shape: readonly number[], bits: number, signed: boolean, o: RefOptions) {
  const half = 2 ** (bits - 1);
  const L = 2 ** bits - 1;
  const groups = new Map<number, number[]>();
  x.forEach((v, i) => {
    const g = groupOf(i, shape, o);
    if (!groups.has(g)) groups.set(g, []);
    if (Number.isFinite(v)) groups.get(g)!.push(v);
  });
  const scales = new Map<number, number>();
  const zeros = new Map<number, number>();
  for (const [g, vs] of groups) {
    if (o.symmetric) {
      const amax = vs.reduce((m, v) => Math.max(m, Math.abs(v)), 0);
      scales.set(g, roundScale(f32(amax / (o.fullRange ? L / 2 : half - 1)), o.scaleDtype));
      zeros.set(g, 0);
    } else {
      const mn = vs.reduce((m, v) => Math.min(m, v), 0);
      const mx = vs.reduce((m, v) => Math.max(m, v), 0);
      const s = roundScale(f32(f32(mx - mn) / L), o.scaleDtype);
      scales.set(g, s);
      zeros.set(g, s === 0 ? 0 : Math.min(Math.max(rne(f32(-mn / s)), 0), L));
    }
  }
  const codes: number[] = [];
  const deq: number[] = [];
  x.forEach((v, i) => {
    const g = groupOf(i, shape, o);
    const s = scales.get(g)!;
    const z = zeros.get(g)!;
    let level: number;
    if (s === 0 || Number.isNaN(v)) level = z;
    else if (o.symmetric)
      level = Math.min(Math.max(rne(f32(v / s)), o.fullRange ? -half : -(half - 1)), half - 1);
    else level = Math.min(Math.max(rne(f32(v / s)) + z, 0), L);
    const stored = o.symmetric ? (signed ? level & L : level + half) : signed ? (level - half) & L : level;
    codes.push(stored);
    deq.push(f32((level + 0 - z) * s)); // integer levels have no −0
  });
  return { codes, deq, scales: [...scales.values()], zeros: [...zeros.values()] };
}

function randomTensor(n: number, seed: number, specials: boolean): Float32Array {
  const rng = createRng(seed);
  const x = new Float32Array(n);
  for (let i = 0; i < n; i++) {
    const u = rng.nextFloat();
    if (specials && u < 0.01) {
      x[i] = [Number.NaN, Number.POSITIVE_INFINITY, Number.NEGATIVE_INFINITY, 0, -0][rng.nextUint32() % 5]!;
    } else {
      // Wide dynamic range per element, and exact ties k + 0.5 in a few places.
      const m = rng.nextFloat() * 2 - 1;
      x[i] = u < 0.05 ? (rng.nextUint32() % 17) - 8.5 : m * 2 ** ((rng.nextUint32() % 9) - 4);
    }
  }
  return x;
}

describe("differential: the package equals the scalar transcription of SPEC §3", () => {
  const layouts: readonly [readonly number[], Partial<RefOptions>][] = [
    [[6, 64], { axis: 0 }],
    [[6, 64], { axis: 1 }],
    [[6, 64], { axis: -1 }],
    [[6, 64], { axis: null }],
    [[6, 64], { group: 16 }],
    [[6, 64], { group: 64 }],
    [[3, 4, 10], { axis: 1 }],
    [[3, 4, 10], { group: 5 }],
    [[4, 72], { group: 18 }],
    [[2, 96], { group: 48 }],
    [[385], { axis: null }],
    [[385], { axis: 0 }],
  ];
  const variants: readonly Partial<RefOptions>[] = [
    {},
    { symmetric: true, fullRange: true },
    { symmetric: false },
    { symmetric: true },
    { scaleDtype: "F16" },
    { scaleDtype: "BF16", symmetric: false },
  ];
  let seed = 100;
  for (const bits of [2, 3, 4, 5, 6, 7, 8]) {
    for (const signed of [true, false]) {
      const name = `${signed ? "int" : "uint"}${bits}`;
      it(`${name}: codes, scales, zeros and decoded bits over ${layouts.length * variants.length} configurations`, () => {
        for (const [shape, layout] of layouts) {
          for (const variant of variants) {
            const o: RefOptions = {
              group: 0,
              axis: 0,
              symmetric: signed,
              fullRange: false,
              scaleDtype: "F32",
              ...layout,
              ...variant,
            };
            const n = shape.reduce((a, b) => a * b, 1);
            const x = randomTensor(n, seed++, seed % 2 === 0);
            const opts: IntOptions = {
              ...(o.group > 0 ? { group: o.group } : { axis: o.axis }),
              symmetric: o.symmetric,
              fullRange: o.fullRange,
              scaleDtype: o.scaleDtype,
            };
            const label = `${name} ${JSON.stringify(shape)} ${JSON.stringify(opts)}`;
            const ref = reference(x, shape, bits, signed, o);
            const qt = quantizer(name).quantize(x, shape, opts as Record<string, unknown>);
            expect(storedCodes(qt, bits), label).toEqual(ref.codes);
            const sp = qt.parts["scales"]!;
            const scales =
              o.scaleDtype === "F32"
                ? values(sp.data as Float32Array)
                : values((o.scaleDtype === "F16" ? float16 : bfloat16).decode(sp.data as Uint16Array));
            expect(scales, label).toEqual(ref.scales);
            if (!o.symmetric) {
              const z = [...(qt.parts["zeros"]!.data as Uint8Array | Int8Array)];
              expect(z, label).toEqual(ref.zeros.map((v) => (signed ? v - 2 ** (bits - 1) : v)));
            }
            const deq = quantizer(name).dequantize(qt);
            expect([...deq].map(f32Bits), label).toEqual(ref.deq.map(f32Bits));
          }
        }
      });
    }
  }
});

// ---------------------------------------------------------------------------------------------
// Statistics.

function normals(n: number, seed: number): Float32Array {
  const rng = createRng(seed);
  const out = new Float32Array(n);
  for (let i = 0; i < n; i += 2) {
    const r = Math.sqrt(-2 * Math.log(1 - rng.nextFloat()));
    const a = 2 * Math.PI * rng.nextFloat();
    out[i] = r * Math.cos(a);
    if (i + 1 < n) out[i + 1] = r * Math.sin(a);
  }
  return out;
}

/** Student-t with `dof` degrees of freedom: Z / sqrt(χ²_dof / dof), from the seeded PRNG. */
function studentT(n: number, dof: number, seed: number): Float32Array {
  const z = normals(n * (dof + 1), seed);
  const out = new Float32Array(n);
  for (let i = 0; i < n; i++) {
    let chi = 0;
    for (let k = 1; k <= dof; k++) chi += z[i * (dof + 1) + k]! ** 2;
    out[i] = z[i * (dof + 1)]! / Math.sqrt(chi / dof);
  }
  return out;
}

describe("stochastic rounding", () => {
  const N = 100_000;

  it("is unbiased: mean code of a constant with x / scale = k + 0.3 is k + 0.3 within 4σ", () => {
    const x = new Float32Array(N + 1).fill(2.3);
    x[N] = 7; // amax 7 → scale 1; x / scale = 2.3 (float32)
    const qt = quantizeInt(x, [N + 1], { bits: 4, axis: null, rounding: "stochastic", seed: 42 });
    const codes = signedOf(storedCodes(qt, 4), 4).slice(0, N);
    expect(new Set(codes)).toEqual(new Set([2, 3]));
    const t = f32(2.3);
    const p = t - 2;
    const mean = codes.reduce((a, b) => a + b, 0) / N;
    const sigma = Math.sqrt((p * (1 - p)) / N);
    expect(Math.abs(mean - t)).toBeLessThan(4 * sigma);
  });

  it("is unbiased on normal data: mean dequantization error within 4σ (per-channel uint4, asymmetric)", () => {
    const x = normals(N, 7);
    const qt = quantizeInt(x, [100, 1000], { bits: 4, signed: false, rounding: "stochastic", seed: 9 });
    const y = dequantizeInt(qt);
    const scales = qt.parts["scales"]!.data as Float32Array;
    let err = 0;
    let variance = 0;
    for (let i = 0; i < N; i++) {
      err += y[i]! - x[i]!;
      // Rounding x / s up with probability p = frac(x / s) has variance s²·p(1 − p).
      const s = scales[Math.floor(i / 1000)]!;
      const t = f32(x[i]! / s);
      const p = t - Math.floor(t);
      variance += s * s * p * (1 - p);
    }
    const sigma = Math.sqrt(variance) / N;
    expect(Math.abs(err / N)).toBeLessThan(4 * sigma);
    // Nearest rounding of the same data has errors of both signs too, but stochastic codes differ from it.
    const nearest = quantizeInt(x, [100, 1000], { bits: 4, signed: false });
    expect(qt.parts["qdata"]!.data).not.toEqual(nearest.parts["qdata"]!.data);
  });

  it("moves by less than one level, sometimes to the farther neighbour", () => {
    const x = normals(4096, 3);
    const qt = quantizeInt(x, [4096], { bits: 3, axis: null, rounding: "stochastic", seed: 5 });
    const s = (qt.parts["scales"]!.data as Float32Array)[0]!;
    const y = dequantizeInt(qt);
    let worst = 0;
    for (let i = 0; i < x.length; i++) worst = Math.max(worst, Math.abs(y[i]! - x[i]!) / s);
    expect(worst).toBeLessThan(1.0000001);
    expect(worst).toBeGreaterThan(0.5); // some values went to the farther neighbour
  });

  it("is reproducible: the same seed gives the same codes, another seed others; the seed is recorded", () => {
    const x = normals(10_000, 11);
    const a = quantizeInt(x, [10, 1000], { bits: 4, rounding: "stochastic", seed: 123 });
    const b = quantizeInt(x, [10, 1000], { bits: 4, rounding: "stochastic", seed: 123 });
    const c = quantizeInt(x, [10, 1000], { bits: 4, rounding: "stochastic", seed: 124 });
    expect(a.parts["qdata"]!.data).toEqual(b.parts["qdata"]!.data);
    expect(a.parts["qdata"]!.data).not.toEqual(c.parts["qdata"]!.data);
    expect(a.spec["seed"]).toBe(123);
    const r = quantizeInt(x, [10, 1000], { bits: 4, rounding: "stochastic" });
    const seed = r.spec["seed"];
    expect(typeof seed).toBe("number");
    const again = quantizeInt(x, [10, 1000], { bits: 4, rounding: "stochastic", seed: seed as number });
    expect(again.parts["qdata"]!.data).toEqual(r.parts["qdata"]!.data);
  });
});

describe("clip search", () => {
  const sse = (a: Float32Array, b: Float32Array, from = 0, to = a.length) => {
    let s = 0;
    for (let i = from; i < to; i++) s += (a[i]! - b[i]!) ** 2;
    return s;
  };

  it("lowers the error on heavy-tailed data (Student-t, 3 dof) for every width, and never raises it per group", () => {
    const x = studentT(64 * 256, 3, 2026);
    for (const [name, opts] of [
      ["int2", { group: 64 }],
      ["int3", { group: 128 }],
      ["int4", {}],
      ["uint4", { group: 128 }],
      ["int8", { axis: null }],
      ["uint3", { scaleDtype: "F16" }],
    ] as const) {
      const q = quantizer(name);
      const plain = q.quantize(x, [64, 256], opts);
      const clipped = q.quantize(x, [64, 256], { ...opts, clip: true });
      expect(clipped.spec["clip"]).toBe(true);
      const yp = q.dequantize(plain);
      const yc = q.dequantize(clipped);
      const total = sse(yc, x);
      expect(total, `${name} clip must lower the error`).toBeLessThan(sse(yp, x) * 0.97);
      const group = "group" in opts ? opts.group : "axis" in opts ? x.length : 256;
      for (let g = 0; g < x.length; g += group) {
        expect(sse(yc, x, g, g + group), `${name} group at ${g}`).toBeLessThanOrEqual(
          sse(yp, x, g, g + group),
        );
      }
    }
  });

  it("never raises the error on uniform data either (factor 1 is always a candidate)", () => {
    const rng = createRng(4);
    const x = Float32Array.from({ length: 8192 }, () => rng.nextFloat() * 2 - 1);
    for (const name of ["int2", "int4", "uint4", "int8"]) {
      const q = quantizer(name);
      const yp = q.dequantize(q.quantize(x, [64, 128], { group: 32 }));
      const yc = q.dequantize(q.quantize(x, [64, 128], { group: 32, clip: true }));
      for (let g = 0; g < x.length; g += 32) {
        expect(sse(yc, x, g, g + 32)).toBeLessThanOrEqual(sse(yp, x, g, g + 32));
      }
    }
  });
});

describe("round trip", () => {
  it("nearest rounding errs by at most half a scale step on finite values (every width)", () => {
    const x = normals(8 * 512, 77);
    for (const q of intQuantizers.filter((z) => /^u?int\d$/.test(z.name))) {
      const qt = q.quantize(x, [8, 512], { group: 128 });
      const y = q.dequantize(qt);
      const scales = qt.parts["scales"]!.data as Float32Array;
      let worst = 0; // error in units of the group's scale
      for (let i = 0; i < x.length; i++) {
        worst = Math.max(worst, Math.abs(y[i]! - x[i]!) / scales[Math.floor(i / 128)]!);
      }
      expect(worst, q.name).toBeLessThanOrEqual(0.5000001);
      expect(worst, q.name).toBeGreaterThan(0.45);
    }
  });

  it("float32 inputs are taken bit for bit: subnormal groups (scale underflows to 0) and huge groups", () => {
    const x = f32FromBits([
      0x00000001,
      0x80000003,
      0x00000002,
      0, // subnormals only: amax/qmax underflows, codes 0
      0x72000000,
      0xf2800000,
      0x3f800000,
      0, // ±2^101, 2^102
    ]);
    for (const name of ["int4", "uint4", "int8", "uint8"]) {
      const q = quantizer(name);
      const y = q.dequantize(q.quantize(x, [2, 4], {}));
      expect(y.every(Number.isFinite), name).toBe(true);
      expect(Math.abs(y[5]! / x[5]! - 1), name).toBeLessThan(0.01);
    }
    const sym = quantizer("int4").quantize(x, [2, 4], {});
    expect((sym.parts["scales"]!.data as Float32Array)[0]).toBe(0);
    expect([...quantizer("int4").dequantize(sym).subarray(0, 4)]).toEqual([0, 0, 0, 0]);
  });
});
