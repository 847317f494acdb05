import { float16 } from "@lowbit/fp16";
import { hifloat8 } from "@lowbit/hif8";
import { describe, expect, it } from "vitest";
import { f32Bits, f32FromBits, f32OfBits, hex } from "./shared.js";

/**
 * HiFloat8 (SPEC §1.2). ml_dtypes has no HiF8, so there are no vector files: the goldens below are the
 * SPEC's pairs from the Ascend reference (HiF8FromIeeeBits, "TA" rounding), copied verbatim, and the code
 * table is checked against an independent decoder written from the SPEC's table.
 */

/** SPEC §1.2 golden pairs: float32 bits → HiF8 code. */
const GOLDEN_F32: readonly (readonly [number, number])[] = [
  [0x3638c290, 0x04],
  [0x3698aeb6, 0x05],
  [0x36e515dd, 0x06],
  [0x371c2ff8, 0x06],
  [0x358b4f67, 0x03],
  [0x3f48849e, 0x1d],
  [0x3cfdc7cd, 0x54],
  [0x3f112a2c, 0x19],
  [0x3f655965, 0x1e],
  [0x3e2040ed, 0x3a],
  [0x43411383, 0x4e],
  [0x438e0e21, 0x60],
  [0x42356389, 0x46],
  [0x43b308db, 0x61],
  [0x42536b25, 0x47],
  [0x4686c7e7, 0x6c],
  [0x46e1ca4a, 0x6e],
  [0x453d6d1b, 0x67],
  [0x462b0bbf, 0x6b],
  [0x4743505e, 0x6f],
];

/** SPEC §1.2 golden pairs: float16 bits → HiF8 code (the float16 value is exact in float32). */
const GOLDEN_F16: readonly (readonly [number, number])[] = [
  [0x0005, 0x01],
  [0x0008, 0x02],
  [0x002c, 0x04],
  [0x0033, 0x05],
  [0x008d, 0x06],
  [0x289b, 0x55],
  [0x3716, 0x36],
  [0x2e79, 0x52],
  [0x3b69, 0x1f],
  [0x38fc, 0x1a],
  [0x67df, 0x66],
  [0x64f3, 0x64],
  [0x658d, 0x65],
  [0x6070, 0x62],
  [0x691f, 0x67],
  [0x7871, 0x6e],
  [0x77ae, 0x6e],
  [0x746e, 0x6c],
  [0x711b, 0x6b],
  [0x79ea, 0x6f],
];

/** Independent decoder, straight from the SPEC §1.2 table (bits 6..3 select the exponent width). */
function specDecode(code: number): number {
  if (code === 0x80) return Number.NaN;
  const sign = code & 0x80 ? -1 : 1;
  if ((code & 0x7f) === 0x6f) return sign * Number.POSITIVE_INFINITY;
  const b = (k: number) => (code >>> k) & 1;
  const dot = (code >>> 3) & 0xf;
  let e: number;
  let mant: number;
  let w: number;
  if ((dot & 0b1100) === 0b1100) {
    e = (b(4) ? -1 : 1) * (8 + ((code >>> 1) & 7));
    w = 1;
    mant = code & 1;
  } else if ((dot & 0b1100) === 0b1000) {
    e = (b(4) ? -1 : 1) * (4 + ((code >>> 2) & 3));
    w = 2;
    mant = code & 3;
  } else if ((dot & 0b1100) === 0b0100) {
    e = (b(4) ? -1 : 1) * (2 + b(3));
    w = 3;
    mant = code & 7;
  } else if ((dot & 0b1110) === 0b0010) {
    e = b(3) ? -1 : 1;
    w = 3;
    mant = code & 7;
  } else if (dot === 0b0001) {
    e = 0;
    w = 3;
    mant = code & 7;
  } else {
    const m = code & 7;
    return m === 0 ? 0 : sign * 2 ** (m - 23);
  }
  return sign * 2 ** e * (1 + mant / 2 ** w);
}

const ALL_CODES = Uint8Array.from({ length: 256 }, (_, i) => i);
const NON_NAN_CODES = ALL_CODES.filter((c) => c !== 0x80);

/** Encodes float32 bit patterns through both paths; returns [bulk, scalar] codes. */
function encodeBoth(bits: readonly number[], opts?: { saturate: boolean }): [number[], number[]] {
  const src = f32FromBits(bits);
  const bulk = [...(opts === undefined ? hifloat8.encode(src) : hifloat8.encode(src, opts))];
  const scalar = [...src].map((x) =>
    opts === undefined ? hifloat8.encodeValue(x) : hifloat8.encodeValue(x, opts),
  );
  return [bulk, scalar];
}

function expectCodes(
  what: string,
  inputs: readonly number[],
  want: readonly number[],
  opts?: { saturate: boolean },
) {
  const [bulk, scalar] = encodeBoth(inputs, opts);
  const bad: string[] = [];
  inputs.forEach((x, i) => {
    if (bulk[i] !== want[i] || scalar[i] !== want[i]) {
      bad.push(`${hex(x, 8)}: want ${hex(want[i]!)}, got bulk ${hex(bulk[i]!)} scalar ${hex(scalar[i]!)}`);
    }
  });
  expect(bad, `${what}: ${bad.length} of ${inputs.length} differ`).toEqual([]);
}

describe("hifloat8: SPEC §1.2 goldens", () => {
  it("is registered with the reference's metadata", () => {
    expect(hifloat8.name).toBe("hifloat8");
    expect(hifloat8.bits).toBe(8);
    expect(hifloat8.defaultRounding).toBe("nearest-away");
    expect(hifloat8.maxFinite).toBe(32768);
    expect(hifloat8.minSubnormal).toBe(2 ** -22);
    expect([hifloat8.hasInf, hifloat8.hasNaN, hifloat8.hasNegativeZero, hifloat8.signed]).toEqual([
      true,
      true,
      false,
      true,
    ]);
  });

  it("encodes the float32 goldens (and their negatives), bulk and scalar", () => {
    const inputs = GOLDEN_F32.map(([x]) => x);
    expectCodes(
      "float32 goldens",
      inputs,
      GOLDEN_F32.map(([, c]) => c),
    );
    expectCodes(
      "negated float32 goldens",
      inputs.map((x) => (x | 0x80000000) >>> 0),
      GOLDEN_F32.map(([, c]) => (c === 0 ? 0 : c | 0x80)),
    );
  });

  it("encodes the float16 goldens after float16.decodeValue, bulk and scalar", () => {
    const viaValue = GOLDEN_F16.map(([h]) => f32Bits(float16.decodeValue(h)));
    const viaBulk = [...new Uint32Array(float16.decode(Uint16Array.from(GOLDEN_F16, ([h]) => h)).buffer)];
    expect(viaBulk).toEqual(viaValue);
    expectCodes(
      "float16 goldens",
      viaValue,
      GOLDEN_F16.map(([, c]) => c),
    );
    expectCodes(
      "negated float16 goldens",
      viaValue.map((x) => (x | 0x80000000) >>> 0),
      GOLDEN_F16.map(([, c]) => (c === 0 ? 0 : c | 0x80)),
    );
  });
});

describe("hifloat8: code table", () => {
  it("decodes every code as the SPEC table says (bulk and decodeValue)", () => {
    const bulk = hifloat8.decode(ALL_CODES);
    const bad: string[] = [];
    for (let c = 0; c < 256; c++) {
      const want = specDecode(c);
      const got = [bulk[c]!, hifloat8.decodeValue(c)];
      const ok = Number.isNaN(want) ? got.every(Number.isNaN) : got.every((g) => Object.is(g, want));
      if (!ok) bad.push(`${hex(c)}: want ${want}, got ${got.join("/")}`);
    }
    expect(bad).toEqual([]);
  });

  it("0x80 is the only NaN, 0x00 the only zero, 0x6F/0xEF are ±Inf, 0x6E/0xEE are ±2^15", () => {
    const v = hifloat8.decode(ALL_CODES);
    expect([...ALL_CODES].filter((c) => Number.isNaN(v[c]!))).toEqual([0x80]);
    expect([...ALL_CODES].filter((c) => v[c] === 0)).toEqual([0x00]);
    expect(Object.is(v[0], 0)).toBe(true);
    expect([v[0x6f], v[0xef], v[0x6e], v[0xee]]).toEqual([
      Number.POSITIVE_INFINITY,
      Number.NEGATIVE_INFINITY,
      32768,
      -32768,
    ]);
    // 0x01..0x7F less 0x6F: 126 distinct positive finite values; negation flips only the sign bit.
    const positive = [...ALL_CODES].filter((c) => c > 0 && c < 0x80 && c !== 0x6f).map((c) => v[c]!);
    expect(new Set(positive).size).toBe(126);
    for (let c = 1; c < 0x80; c++) if (c !== 0x6f) expect(v[c | 0x80]).toBe(-v[c]!);
  });

  it("all 255 non-NaN codes round-trip decode → encode (bulk and scalar)", () => {
    const values = hifloat8.decode(NON_NAN_CODES);
    expect([...hifloat8.encode(values)]).toEqual([...NON_NAN_CODES]);
    expect([...values].map((x) => hifloat8.encodeValue(x))).toEqual([...NON_NAN_CODES]);
    // Also when saturating: only the ±Inf codes move, to ±max.
    const sat = [...NON_NAN_CODES].map((c) => ((c & 0x7f) === 0x6f ? c - 1 : c));
    expect([...hifloat8.encode(values, { saturate: true })]).toEqual(sat);
  });
});

describe("hifloat8: special inputs and range edges", () => {
  it("0x80 decodes to NaN; NaN inputs (any payload, either sign) encode to 0x80", () => {
    expect(hifloat8.decodeValue(0x80)).toBeNaN();
    expect(hifloat8.decode(Uint8Array.of(0x80))[0]).toBeNaN();
    const nans = [0x7fc00000, 0xffc00000, 0x7f800001, 0xff800001, 0x7fa00000, 0xffc00001, 0x7fffffff];
    expectCodes(
      "NaN",
      nans,
      nans.map(() => 0x80),
    );
    expectCodes(
      "NaN saturating",
      nans,
      nans.map(() => 0x80),
      { saturate: true },
    );
  });

  it("±0 encode to 0x00 (there is no −0)", () => {
    expectCodes("zeros", [0x00000000, 0x80000000], [0x00, 0x00]);
    expect(hifloat8.encodeValue(-0)).toBe(0);
  });

  it("±Inf encode to 0x6F/0xEF, and to 0x6E/0xEE with saturate", () => {
    expectCodes("Inf", [0x7f800000, 0xff800000], [0x6f, 0xef]);
    expectCodes("Inf saturating", [0x7f800000, 0xff800000], [0x6e, 0xee], { saturate: true });
  });

  it("|x| ≥ 40960 encodes to ±Inf (±max with saturate); [32768, 40960) to ±0x6E", () => {
    const over = [
      f32Bits(40960),
      f32Bits(40960) + 1,
      f32Bits(49152),
      f32Bits(65504),
      f32Bits(1e30),
      0x7f7fffff,
    ];
    const near = [f32Bits(32768), f32Bits(32768) + 1, f32Bits(36000), f32Bits(40960) - 1];
    expect(f32OfBits(f32Bits(40960) - 1)).toBeLessThan(40960);
    const neg = (xs: number[]) => xs.map((x) => (x | 0x80000000) >>> 0);
    expectCodes("overflow", [...over, ...neg(over)], [...over.map(() => 0x6f), ...over.map(() => 0xef)]);
    expectCodes(
      "overflow saturating",
      [...over, ...neg(over)],
      [...over.map(() => 0x6e), ...over.map(() => 0xee)],
      { saturate: true },
    );
    expectCodes("top band", [...near, ...neg(near)], [...near.map(() => 0x6e), ...near.map(() => 0xee)]);
  });

  it("[2^-23, 2^-22) encodes to ±0x01 (2^-22); below 2^-23 to 0x00", () => {
    const up = [f32Bits(2 ** -23), f32Bits(1.5 * 2 ** -23), f32Bits(2 ** -22) - 1, f32Bits(2 ** -22)];
    const down = [f32Bits(2 ** -23) - 1, f32Bits(2 ** -24), f32Bits(2 ** -30), 0x00000001, 0x007fffff];
    const neg = (xs: number[]) => xs.map((x) => (x | 0x80000000) >>> 0);
    expectCodes("to 2^-22", [...up, ...neg(up)], [...up.map(() => 0x01), ...up.map(() => 0x81)]);
    expectCodes(
      "to zero",
      [...down, ...neg(down)],
      [...down, ...down].map(() => 0x00),
    );
  });

  it("rounds ties away from zero by default; nearest-even on request", () => {
    // 1 + 1/16 is halfway between 1 (0x08) and 1.125 (0x09); 2^-16 · 1.5 between 0x07 and 2^-15.
    const ties = [f32Bits(1 + 1 / 16), f32Bits(-(1 + 1 / 16)), f32Bits(1.5 * 2 ** -16)];
    const min15 = hifloat8.encodeValue(2 ** -15);
    expectCodes("ties", ties, [0x09, 0x89, min15]);
    // Nearest-even on request (which neighbour is "even" across a band edge is not specified).
    const src = f32FromBits(ties.slice(0, 2));
    expect([...hifloat8.encode(src, { rounding: "nearest-even" })]).toEqual([0x08, 0x88]);
    expect([...src].map((x) => hifloat8.encodeValue(x, { rounding: "nearest-even" }))).toEqual([0x08, 0x88]);
  });
});
