import { createRng } from "@lowbit/bits";
import { describe, expect, it } from "vitest";
import { floatxCodeOfNaN, mxcFloatElement, mxcInt8, mxcRound, mxcScaleByte } from "../src/_reference.js";

const f32 = new Float32Array(1);
const u32 = new Uint32Array(f32.buffer);
const fromBits = (b: number) => {
  u32[0] = b >>> 0;
  return f32[0]!;
};

/** microxcaling's INT8 element written literally: round(fp32(a · 64)), clamp ±127. */
function literalInt8(a: number, even: boolean): number {
  const r = mxcRound(Math.fround(a * 64), even);
  return r > 127 ? 127 : r < -127 ? -127 : r;
}

describe("microxcaling arithmetic", () => {
  it("the branch-free INT8 rounding equals the literal float32 form", () => {
    const rng = createRng(31);
    for (let k = 0; k < 200_000; k++) {
      // float32 patterns with |a · 64| up to ~256, mantissas random or at the edges
      const e = 100 + (rng.nextUint32() % 30);
      const m = k % 4 === 0 ? 0x7fffff : k % 4 === 1 ? 0 : rng.nextUint32() & 0x7fffff;
      const a = fromBits(((k & 1) << 31) | (e << 23) | m);
      for (const even of [true, false]) expect(mxcInt8(a * 64, even) | 0).toBe(literalInt8(a, even) | 0);
    }
    for (let t = -130; t <= 130; t++) {
      const a = (t + 0.5) / 64;
      expect(mxcInt8(a * 64, true) | 0).toBe(literalInt8(a, true) | 0);
      expect(mxcInt8(a * 64, false) | 0).toBe(literalInt8(a, false) | 0);
    }
  });

  it("reproduces the float32 floor(x + 0.5) quirk: the float below 0.5 rounds to 1", () => {
    const belowHalf = fromBits(0x3effffff);
    expect(mxcRound(belowHalf, true)).toBe(1);
    expect(mxcInt8(belowHalf, true)).toBe(1);
    expect(mxcInt8(-belowHalf, true)).toBe(-1);
    expect(mxcRound(0.5, true)).toBe(0);
    expect(mxcRound(2.5, true)).toBe(2);
    expect(mxcRound(2.5, false)).toBe(3);
    expect(Object.is(mxcRound(-0, true), 0)).toBe(true);
    expect(Object.is(mxcRound(-0.1, true), -0)).toBe(true);
  });

  it("float elements: ties per mode, saturation, subnormal steps", () => {
    // E2M1: mbits 3, min exponent 0, max 6
    expect(mxcFloatElement(2.5, 3, 0, 6, true)).toBe(2);
    expect(mxcFloatElement(2.5, 3, 0, 6, false)).toBe(3);
    expect(mxcFloatElement(7, 3, 0, 6, true)).toBe(6);
    expect(mxcFloatElement(0.25, 3, 0, 6, true)).toBe(0);
    expect(mxcFloatElement(0.25, 3, 0, 6, false)).toBe(0.5);
    expect(mxcFloatElement(-5, 3, 0, 6, true)).toBe(-4);
  });

  it("shared exponent from a float32 log2: one binade high just below a power of two", () => {
    expect(mxcScaleByte(fromBits(0x40ffffff), 8)).toBe(127 + 3 - 8);
    expect(mxcScaleByte(fromBits(0x40fffff0), 8)).toBe(127 + 2 - 8);
    expect(mxcScaleByte(0, 0)).toBe(1);
    expect(mxcScaleByte(fromBits(0x7f7fffff), 0)).toBe(0xff);
    expect(mxcScaleByte(Number.POSITIVE_INFINITY, 2)).toBe(0xff);
    expect(mxcScaleByte(Number.NaN, 2)).toBe(0xff);
    expect(mxcScaleByte(1e-45, 2)).toBe(0);
  });
});

describe("torchao's FP4/FP6 packer on NaN bit patterns", () => {
  it("gives the fixed codes torchao stores", () => {
    expect(floatxCodeOfNaN(0x7fc00001, 2, 1)).toBe(0x3);
    expect(floatxCodeOfNaN(0xfff00000, 2, 1)).toBe(0xc);
    expect(floatxCodeOfNaN(0x7ff00000, 2, 1)).toBe(0x4);
    expect(floatxCodeOfNaN(0xffc00000, 2, 1)).toBe(0xb);
    expect(floatxCodeOfNaN(0x7fc00001, 3, 2)).toBe(0x0e);
    expect(floatxCodeOfNaN(0x7fc00001, 2, 3)).toBe(0x0c);
  });
});
