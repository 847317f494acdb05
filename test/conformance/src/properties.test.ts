import { createRng, type Rng } from "@lowbit/bits";
import { type EncodeOptions, type FloatCodec, listCodecs } from "@lowbit/formats";
import { createMinifloat } from "@lowbit/minifloat";
import { describe, expect, it } from "vitest";
import { bitsOfF32, f32Bits, f32OfBits, hex } from "./shared.js";

/**
 * Properties every registered codec must have, on seeded random data: round trip, monotonicity,
 * saturation, unbiased and reproducible stochastic rounding, bulk ≡ scalar, float32 rounding of
 * float64 input. Seeds are fixed, so a failure reproduces.
 */

const codecs = listCodecs().map((e) => e.codec);

type Codes = Uint8Array | Uint16Array;

function codesOf(codec: FloatCodec, list: ArrayLike<number>): Codes {
  return codec.bits <= 8 ? Uint8Array.from(list) : Uint16Array.from(list);
}

function allCodes(codec: FloatCodec): Codes {
  const n = 2 ** codec.bits;
  return codec.bits <= 8
    ? Uint8Array.from({ length: n }, (_, i) => i)
    : Uint16Array.from({ length: n }, (_, i) => i);
}

/** Every code's value, indexed by code. */
function decodeAll(codec: FloatCodec): Float32Array {
  return codec.decode(allCodes(codec));
}

/** Distinct finite values of the format, ascending (−0 and +0 count once). */
function sortedFiniteValues(codec: FloatCodec): number[] {
  return [...new Set([...decodeAll(codec)].filter(Number.isFinite))].sort((a, b) => a - b);
}

function isNaNCode(codec: FloatCodec, code: number): boolean {
  return Number.isNaN(codec.decodeValue(code));
}

const f32 = (x: number) => Math.fround(x);

/** Next float32 towards +Inf / −Inf. */
function nextUp(x: number): number {
  if (x === 0) return f32OfBits(1);
  const b = f32Bits(x);
  return f32OfBits(x > 0 ? b + 1 : b - 1);
}
function nextDown(x: number): number {
  return -nextUp(-x);
}

/** A random float32 bit pattern (any class: NaN, Inf, subnormal, normal). */
function randomBits(rng: Rng, n: number): Float32Array {
  const u = new Uint32Array(n);
  for (let i = 0; i < n; i++) u[i] = rng.nextUint32();
  return new Float32Array(u.buffer);
}

/** Random finite values, log-uniform in magnitude over [lo, hi], random sign when `signed`. */
function logUniform(rng: Rng, n: number, lo: number, hi: number, signed = true): Float32Array {
  const a = Math.log2(lo);
  const b = Math.log2(hi);
  const out = new Float32Array(n);
  for (let i = 0; i < n; i++) {
    const m = 2 ** (a + (b - a) * rng.nextFloat());
    out[i] = signed && rng.nextUint32() & 1 ? -m : m;
  }
  return out;
}

function rangeOf(codec: FloatCodec): [number, number] {
  return [codec.minSubnormal / 4, Math.min(codec.maxFinite * 4, 3e38)];
}

const OPTION_SETS: readonly EncodeOptions[] = [
  {},
  { saturate: true },
  { rounding: "nearest-even" },
  { rounding: "nearest-away" },
  { rounding: "nearest-away", saturate: true },
];

/** Overflow codes per format (SPEC §1): `sat` with saturate, `plain` without; [positive, negative]. */
const OVERFLOW: Readonly<Record<string, { sat: readonly number[]; plain: readonly number[] }>> = {
  float16: { sat: [0x7bff, 0xfbff], plain: [0x7c00, 0xfc00] },
  bfloat16: { sat: [0x7f7f, 0xff7f], plain: [0x7f80, 0xff80] },
  float8_e4m3fn: { sat: [0x7e, 0xfe], plain: [0x7f, 0xff] },
  float8_e5m2: { sat: [0x7b, 0xfb], plain: [0x7c, 0xfc] },
  float8_e4m3fnuz: { sat: [0x7f, 0xff], plain: [0x80, 0x80] },
  float8_e5m2fnuz: { sat: [0x7f, 0xff], plain: [0x80, 0x80] },
  // Unsigned: a negative input is NaN (0xFF), saturating or not.
  float8_e8m0fnu: { sat: [0xfe, 0xff], plain: [0xff, 0xff] },
  float6_e2m3fn: { sat: [0x1f, 0x3f], plain: [0x1f, 0x3f] },
  float6_e3m2fn: { sat: [0x1f, 0x3f], plain: [0x1f, 0x3f] },
  float4_e2m1fn: { sat: [0x7, 0xf], plain: [0x7, 0xf] },
  hifloat8: { sat: [0x6e, 0xee], plain: [0x6f, 0xef] },
};

describe.each(codecs.map((c) => [c.name, c] as const))("%s", (_name, codec) => {
  const digits = codec.bits <= 8 ? 2 : 4;

  it("decode ∘ encode ∘ decode is the identity on every non-NaN code (bulk, scalar, every option)", () => {
    const codes = allCodes(codec);
    const values = codec.decode(codes);
    const maxCode = codec.encodeValue(codec.maxFinite);
    const negMaxCode = codec.encodeValue(-codec.maxFinite);
    const bad: string[] = [];
    const optionSets: readonly EncodeOptions[] = [...OPTION_SETS, { rounding: "stochastic", seed: 7 }];
    for (const opts of optionSets) {
      const bulk = codec.encode(values, opts);
      const again = bitsOfF32(codec.decode(bulk));
      const vbits = bitsOfF32(values);
      for (let c = 0; c < codes.length; c++) {
        if (Number.isNaN(values[c]!)) continue;
        const v = values[c]!;
        const scalar = codec.encodeValue(v, opts);
        // Saturation moves ±Inf codes to ±max; everything else must come back unchanged.
        const want = opts.saturate && !Number.isFinite(v) ? (v > 0 ? maxCode : negMaxCode) : c;
        if (bulk[c] !== want || scalar !== want || (want === c && again[c] !== vbits[c])) {
          if (bad.length < 8) {
            bad.push(
              `${JSON.stringify(opts)} code ${hex(c, digits)}: bulk ${hex(bulk[c]!, digits)} scalar ${hex(scalar, digits)}`,
            );
          }
        }
      }
    }
    expect(bad).toEqual([]);
  });

  it("encode is monotone: sorted finite inputs (random, code values, midpoints ± 1 ulp) never decode lower", () => {
    const rng = createRng(0x5eed0001);
    const values = sortedFiniteValues(codec);
    const inputs: number[] = [...values, 0, -0, 3.4028234663852886e38, -3.4028234663852886e38];
    for (let i = 0; i + 1 < values.length; i++) {
      const mid = f32((values[i]! + values[i + 1]!) / 2);
      inputs.push(mid, nextUp(mid), nextDown(mid));
    }
    const [lo, hi] = rangeOf(codec);
    inputs.push(...logUniform(rng, 20_000, lo, hi), ...[...randomBits(rng, 20_000)].filter(Number.isFinite));
    const sorted = Float32Array.from(inputs).sort();
    const bad: string[] = [];
    for (const opts of OPTION_SETS) {
      const decoded = codec.decode(codec.encode(sorted, opts));
      let last = Number.NEGATIVE_INFINITY;
      let lastIdx = -1;
      for (let i = 0; i < sorted.length; i++) {
        const d = decoded[i]!;
        if (Number.isNaN(d)) continue;
        if (d < last && bad.length < 8) {
          const a = `${hex(f32Bits(sorted[lastIdx]!), 8)} -> ${last}`;
          const b = `${hex(f32Bits(sorted[i]!), 8)} -> ${d}`;
          bad.push(`${JSON.stringify(opts)}: ${a} but ${b}`);
        }
        last = d;
        lastIdx = i;
      }
    }
    expect(bad, `not monotone over ${sorted.length} sorted inputs`).toEqual([]);
  });

  it("bulk encode equals encodeValue on 10^5 raw random float32 bit patterns (NaN, Inf, subnormals)", () => {
    const src = randomBits(createRng(0x5eed0002), 100_000);
    const u = bitsOfF32(src);
    // Make sure every class is present, including at odd positions for the paired 16-bit stores.
    u.set(
      [0x7fc00000, 0xffc00001, 0x7f800001, 0x7f800000, 0xff800000, 0x00000001, 0x807fffff, 0x80000000],
      1,
    );
    for (const opts of [{}, { saturate: true }] as const) {
      const bulk = codec.encode(src, opts);
      expect([...codec.encode(src, opts)]).toEqual([...bulk]); // deterministic
      const bad: string[] = [];
      for (let i = 0; i < src.length; i++) {
        const scalar = codec.encodeValue(src[i]!, opts);
        if (scalar !== bulk[i] && bad.length < 8) {
          bad.push(`${hex(u[i]!, 8)}: bulk ${hex(bulk[i]!, digits)} scalar ${hex(scalar, digits)}`);
        }
      }
      expect(bad, JSON.stringify(opts)).toEqual([]);
    }
    // Explicitly naming the default rounding takes the same path and gives the same codes.
    expect([...codec.encode(src, { rounding: codec.defaultRounding })]).toEqual([...codec.encode(src)]);
  });

  it("saturate maps finite overflow and ±Inf to ±max; NaN stays NaN; without it overflow follows the format", () => {
    // [+max, −max] codes with saturate, and [+overflow, −overflow] without (SPEC §1 table).
    const named = OVERFLOW[codec.name];
    const maxCode = codec.encodeValue(codec.maxFinite);
    const negMaxCode = codec.signed ? codec.encodeValue(-codec.maxFinite) : null;
    expect(codec.decodeValue(maxCode)).toBe(codec.maxFinite);
    if (negMaxCode !== null) expect(codec.decodeValue(negMaxCode)).toBe(-codec.maxFinite);
    const posNaN = codec.encodeValue(Number.NaN);
    const negNaN = codec.encodeValue(f32OfBits(0xffc00000));
    if (codec.hasNaN)
      expect([codec.decodeValue(posNaN), codec.decodeValue(negNaN)]).toEqual([Number.NaN, Number.NaN]);
    // Derived from the metadata: ±Inf where the format has it, else NaN, else (neither) saturation.
    const derived = {
      sat: [maxCode, negMaxCode ?? posNaN],
      plain: codec.hasInf
        ? [codec.encodeValue(Number.POSITIVE_INFINITY), codec.encodeValue(Number.NEGATIVE_INFINITY)]
        : codec.hasNaN
          ? [posNaN, codec.signed ? negNaN : posNaN]
          : [maxCode, negMaxCode!],
    };
    if (named !== undefined) expect(derived).toEqual(named);
    const want = named ?? derived;
    if (codec.hasInf) expect(codec.decodeValue(want.plain[0]!)).toBe(Number.POSITIVE_INFINITY);

    const overflow = [3.4028234663852886e38, Number.POSITIVE_INFINITY];
    if (Number.isFinite(f32(codec.maxFinite * 2))) overflow.push(codec.maxFinite * 2);
    const xs = [...overflow, ...overflow.map((x) => -x)];
    const check = (opts: EncodeOptions, pair: readonly number[]) => {
      const expected = [...overflow.map(() => pair[0]), ...overflow.map(() => pair[1])];
      const bulk = [...codec.encode(Float32Array.from(xs), opts)];
      const scalar = xs.map((x) => codec.encodeValue(x, opts));
      expect(bulk, `bulk ${JSON.stringify(opts)} of ${xs.join(", ")}`).toEqual(expected);
      expect(scalar, `scalar ${JSON.stringify(opts)} of ${xs.join(", ")}`).toEqual(expected);
    };
    check({ saturate: true }, want.sat);
    check({ saturate: true, rounding: "stochastic", seed: 1 }, want.sat);
    check({}, want.plain);
    // NaN stays NaN where the format has one (NaN-less formats keep ml_dtypes' stand-in code).
    for (const x of [Number.NaN, f32OfBits(0xffc00000)]) {
      expect(codec.encodeValue(x, { saturate: true })).toBe(codec.encodeValue(x));
      expect(codec.encode(Float32Array.of(x), { saturate: true })[0]).toBe(codec.encodeValue(x));
    }
  });

  it("stochastic rounding is reproducible: same seed → same codes, another seed → other codes", () => {
    const [lo, hi] = rangeOf(codec);
    const src = logUniform(createRng(0x5eed0003), 20_000, lo, hi, codec.signed);
    const a = codec.encode(src, { rounding: "stochastic", seed: 12345 });
    const b = codec.encode(src, { rounding: "stochastic", seed: 12345 });
    const c = codec.encode(src, { rounding: "stochastic", seed: 12346 });
    expect([...a]).toEqual([...b]);
    let differ = 0;
    for (let i = 0; i < a.length; i++) if (a[i] !== c[i]) differ++;
    expect(differ).toBeGreaterThan(src.length / 100);
  });

  it("stochastic rounding only ever gives the floor or the ceiling of x in the format", () => {
    const [lo, hi] = rangeOf(codec);
    const src = logUniform(createRng(0x5eed0006), 20_000, lo, hi, codec.signed);
    const values = codec.decode(codec.encode(src, { rounding: "stochastic", seed: 99 }));
    const grid = sortedFiniteValues(codec);
    const minV = grid[0]!;
    const maxV = grid[grid.length - 1]!;
    const bad: string[] = [];
    for (let i = 0; i < src.length; i++) {
      const x = src[i]!;
      const v = values[i]!;
      if (!Number.isFinite(v)) continue; // overflow to Inf/NaN is the overflow rule's business
      // Beyond the format's range the only neighbour is the end of the range.
      let allowed: number[];
      if (x > maxV) allowed = [maxV];
      else if (x < minV) allowed = [minV];
      else {
        const k = grid.findIndex((g) => g >= x); // ceiling
        allowed = grid[k] === x ? [x] : [grid[k - 1]!, grid[k]!];
      }
      if (!allowed.includes(v) && bad.length < 8) {
        bad.push(`${hex(f32Bits(x), 8)} (${x}): stochastic ${v}, neighbours ${allowed.join(", ")}`);
      }
    }
    expect(bad).toEqual([]);
  });
});

/** Mean of the decoded stochastic codes of `x` over n draws vs x, and the codes that appear. */
function stochasticRun(codec: FloatCodec, x: number, seed: number, n: number) {
  const codes = codec.encode(new Float32Array(n).fill(x), { rounding: "stochastic", seed });
  const values = codec.decode(codes);
  let sum = 0;
  for (let i = 0; i < n; i++) sum += values[i]!;
  return { mean: sum / n, seen: new Set(codes) };
}

describe("stochastic rounding is unbiased (10^6 draws; mean within 4σ; only the two neighbours appear)", () => {
  interface Case {
    codec: FloatCodec;
    label: string;
    lo: number;
    hi: number;
    frac: number;
  }
  const cases: Case[] = [];
  for (const codec of codecs) {
    const values = sortedFiniteValues(codec);
    const after = (v: number) => values[values.indexOf(v) + 1]!;
    const before = (v: number) => values[values.indexOf(v) - 1]!;
    cases.push({ codec, label: "1 + 0.3 ulp", lo: 1, hi: after(1), frac: 0.3 });
    if (codec.signed) cases.push({ codec, label: "−1 − 0.7 ulp", lo: -1, hi: before(-1), frac: 0.7 });
    const sub = codec.minSubnormal;
    cases.push({ codec, label: "min subnormal + 0.3 ulp", lo: sub, hi: after(sub), frac: 0.3 });
    if (values.includes(0)) cases.push({ codec, label: "0.2 · min subnormal", lo: 0, hi: sub, frac: 0.2 });
  }

  it.each(cases.map((c) => [c.codec.name, c.label, c] as const))("%s: %s", (_n, _l, c) => {
    const n = 1_000_000;
    const x = f32(c.lo + c.frac * (c.hi - c.lo));
    const ulp = Math.abs(c.hi - c.lo);
    const p = Math.abs(x - c.lo) / ulp;
    expect(p).toBeGreaterThan(0.05);
    expect(p).toBeLessThan(0.95);
    const { mean, seen } = stochasticRun(c.codec, x, 0x5eed0004, n);
    const loCode = c.codec.encodeValue(c.lo);
    const hiCode = c.codec.encodeValue(c.hi);
    expect([...seen].sort((a, b) => a - b)).toEqual([loCode, hiCode].sort((a, b) => a - b));
    const sigma = (Math.sqrt(p * (1 - p)) * ulp) / Math.sqrt(n);
    const z = (mean - x) / sigma;
    expect(
      Math.abs(z),
      `x = ${x} between ${c.lo} and ${c.hi}: mean ${mean}, ${z.toFixed(1)}σ off (p(up) should be ${p.toFixed(4)}, ` +
        `observed ${(Math.abs(mean - c.lo) / ulp).toFixed(4)})`,
    ).toBeLessThan(4);
  });
});

describe("float64 / number[] input is rounded to float32 first (as ml_dtypes does)", () => {
  it.each(codecs.map((c) => [c.name, c] as const))("%s", (_name, codec) => {
    const values = sortedFiniteValues(codec);
    const lo = 1;
    const hi = values[values.indexOf(1) + 1]!;
    const tie = f32((lo + hi) / 2);
    expect(tie).toBe((lo + hi) / 2); // exact in float32
    const tieCode = codec.encodeValue(tie);
    const loCode = codec.encodeValue(lo);
    const hiCode = codec.encodeValue(hi);
    expect([loCode, hiCode]).toContain(tieCode);
    // A float64 a hair off the tie, on the side away from where the tie goes: rounding the float64
    // directly would give the other neighbour; rounding to float32 first lands on the tie.
    const towardsOther = tieCode === loCode ? 1 : -1;
    const x = tie + towardsOther * tie * 2 ** -40;
    expect(f32(x)).toBe(tie);
    const other = tieCode === loCode ? hiCode : loCode;
    expect(codec.encodeValue(towardsOther > 0 ? nextUp(tie) : nextDown(tie))).toBe(other); // the test can fail
    expect([...codec.encode(Float64Array.of(x, -x))]).toEqual([...codec.encode(Float32Array.of(tie, -tie))]);
    expect([...codec.encode([x, -x])]).toEqual([...codec.encode(Float32Array.of(tie, -tie))]);
    expect(codec.encodeValue(x)).toBe(tieCode);
    const dst = codesOf(codec, [0, 0]);
    expect(codec.encodeInto(Float64Array.of(x, 1e-50), dst)).toBe(2);
    expect([...dst]).toEqual([tieCode, codec.encodeValue(0)]);
    // Beyond float32 range a float64 is ±Inf once rounded.
    expect([...codec.encode([1e39, -1e39])]).toEqual([...codec.encode(Float32Array.of(Infinity, -Infinity))]);
  });
});

describe("engine fast paths on custom formats agree with the scalar path", () => {
  // Formats wider than 8 bits other than float16/bfloat16 take the generic integer fast path.
  const custom = [
    { name: "e5m9", exponentBits: 5, mantissaBits: 9, bias: 15, signed: true, special: "ieee", zero: true },
    { name: "e6m9fn", exponentBits: 6, mantissaBits: 9, bias: 31, signed: true, special: "fn", zero: true },
    {
      name: "e5m10fnuz",
      exponentBits: 5,
      mantissaBits: 10,
      bias: 16,
      signed: true,
      special: "fnuz",
      zero: true,
    },
    { name: "e3m4", exponentBits: 3, mantissaBits: 4, bias: 3, signed: true, special: "finite", zero: true },
  ] as const;
  it.each(custom.map((f) => [f.name, f] as const))("%s", (_name, format) => {
    const codec = createMinifloat(format) as FloatCodec;
    const rng = createRng(0x5eed0005);
    const values = sortedFiniteValues(codec);
    const inputs: number[] = [...values];
    for (let i = 0; i + 1 < values.length; i++) {
      const mid = f32((values[i]! + values[i + 1]!) / 2);
      inputs.push(mid, nextUp(mid), nextDown(mid));
    }
    inputs.push(...randomBits(rng, 20_000), ...logUniform(rng, 20_000, ...rangeOf(codec)));
    const src = Float32Array.from(inputs);
    for (const opts of [{}, { saturate: true }] as const) {
      const bulk = codec.encode(src, opts);
      const bad: string[] = [];
      for (let i = 0; i < src.length; i++) {
        const s = codec.encodeValue(src[i]!, opts);
        if (s !== bulk[i] && bad.length < 8)
          bad.push(`${hex(f32Bits(src[i]!), 8)}: bulk ${bulk[i]} scalar ${s}`);
      }
      expect(bad, JSON.stringify(opts)).toEqual([]);
    }
    // And every non-NaN code round-trips.
    const codes = allCodes(codec);
    const back = codec.encode(codec.decode(codes));
    const wrong = [...codes].filter((c) => !isNaNCode(codec, c) && back[c] !== c);
    expect(wrong.slice(0, 8)).toEqual([]);
  });
});
