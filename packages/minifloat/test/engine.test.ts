import { createRng } from "@lowbit/bits";
import { describe, expect, it } from "vitest";
import { createMinifloat, resolveFormat, roundShift } from "../src/index.js";

describe("roundShift", () => {
  it("nearest-even breaks ties to even, nearest-away away from zero", () => {
    // 0b1010 >> 2 = 2.5 → 2 (even) / 3 (away); 0b1110 >> 2 = 3.5 → 4 / 4
    expect(roundShift(0b1010, 2, "nearest-even", null)).toBe(2);
    expect(roundShift(0b1010, 2, "nearest-away", null)).toBe(3);
    expect(roundShift(0b1110, 2, "nearest-even", null)).toBe(4);
    expect(roundShift(0b1011, 2, "nearest-even", null)).toBe(3);
    expect(roundShift(0b1001, 2, "nearest-away", null)).toBe(2);
  });

  it("shifts past the significand round to zero", () => {
    expect(roundShift(0xffffff, 26, "nearest-even", null)).toBe(0);
    expect(roundShift(0x800000, 24, "nearest-even", null)).toBe(0); // exact tie at 1/2 → even 0
    expect(roundShift(0x800001, 24, "nearest-even", null)).toBe(1);
  });

  it("stochastic rounds up with probability rem / 2^shift", () => {
    const rng = createRng(1);
    let ups = 0;
    const n = 200_000;
    for (let i = 0; i < n; i++) ups += roundShift(0b0100_01, 2, "stochastic", rng) - 0b0100; // rem 1/4
    const p = 0.25;
    expect(Math.abs(ups / n - p)).toBeLessThan(4 * Math.sqrt((p * (1 - p)) / n));
  });
});

describe("createMinifloat for a format not shipped in a package", () => {
  // ml_dtypes float8_e3m4: S E3 M4, bias 3, IEEE specials. Values computed by hand from the layout.
  const e3m4 = createMinifloat({
    name: "float8_e3m4",
    exponentBits: 3,
    mantissaBits: 4,
    bias: 3,
    signed: true,
    special: "ieee",
    zero: true,
  });

  it("derives limits from the layout", () => {
    expect(e3m4.bits).toBe(8);
    expect(e3m4.maxFinite).toBe(15.5); // 0x6F: 2^3 · 1.9375
    expect(e3m4.minNormal).toBe(0.25); // 2^(1-3)
    expect(e3m4.minSubnormal).toBe(2 ** -6); // 2^(1-3-4)
    expect(e3m4.hasInf && e3m4.hasNaN && e3m4.hasNegativeZero).toBe(true);
  });

  it("encodes by hand-checked codes", () => {
    expect(e3m4.encodeValue(1)).toBe(0x30);
    expect(e3m4.encodeValue(-1)).toBe(0xb0);
    expect(e3m4.encodeValue(15.5)).toBe(0x6f);
    expect(e3m4.encodeValue(15.75)).toBe(0x70); // tie above max: 0x6F is odd → up → +Inf
    expect(e3m4.encodeValue(15.74)).toBe(0x6f);
    expect(e3m4.encodeValue(15.75, { saturate: true })).toBe(0x6f);
    expect(e3m4.encodeValue(2 ** -7)).toBe(0x00); // half the smallest subnormal: tie → even 0
    expect(e3m4.encodeValue(1.5 * 2 ** -7)).toBe(0x01);
    expect(e3m4.encodeValue(Number.NaN)).toBe(0x78);
    expect(e3m4.decodeValue(0x70)).toBe(Number.POSITIVE_INFINITY);
    expect(e3m4.decodeValue(0x01)).toBe(2 ** -6);
  });

  it("bulk and scalar paths agree on random float32 bit patterns", () => {
    const rng = createRng(99);
    const bits = new Uint32Array(50_001).map(() => rng.nextUint32());
    const src = new Float32Array(bits.buffer);
    const bulk = e3m4.encode(src);
    for (let i = 0; i < src.length; i++) expect(bulk[i]).toBe(e3m4.encodeValue(src[i]!));
  });
});

describe("format validation", () => {
  const base = {
    name: "x",
    exponentBits: 4,
    mantissaBits: 3,
    bias: 7,
    signed: true,
    special: "fn",
    zero: true,
  } as const;

  it("rejects impossible layouts with a RangeError naming the field", () => {
    expect(() => resolveFormat({ ...base, exponentBits: 9 })).toThrow(/format\.exponentBits/);
    expect(() => resolveFormat({ ...base, mantissaBits: 11 })).toThrow(/format\.mantissaBits/);
    expect(() => resolveFormat({ ...base, special: "ieee", mantissaBits: 0 })).toThrow(
      /at least one mantissa bit/,
    );
    expect(() => resolveFormat({ ...base, special: "fnuz", signed: false })).toThrow(/needs a sign bit/);
    expect(() => resolveFormat({ ...base, exponentBits: 8, bias: 0 })).toThrow(/representable in float32/);
    expect(() => resolveFormat({ ...base, special: "weird" as "fn" })).toThrow(RangeError);
  });

  it("computes the special codes of each style", () => {
    const fn = resolveFormat(base);
    expect([fn.maxMag, fn.nanPos, fn.nanNeg, fn.ovfPos, fn.zeroNeg]).toEqual([0x7e, 0x7f, 0xff, 0x7f, 0x80]);
    const fnuz = resolveFormat({ ...base, special: "fnuz", bias: 8 });
    expect([fnuz.maxMag, fnuz.nanPos, fnuz.nanNeg, fnuz.ovfNeg, fnuz.zeroNeg]).toEqual([
      0x7f, 0x80, 0x80, 0x80, 0,
    ]);
    const fin = resolveFormat({ ...base, exponentBits: 2, mantissaBits: 1, bias: 1, special: "finite" });
    expect([fin.maxMag, fin.nanPos, fin.nanNeg, fin.ovfPos, fin.ovfNeg]).toEqual([7, 8, 0, 7, 15]);
  });
});
