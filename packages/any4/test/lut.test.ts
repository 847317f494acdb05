import { createRng } from "@lowbit/bits";
import { float16 } from "@lowbit/fp16";
import { describe, expect, it } from "vitest";
import { encodeWithLut, encodeWithLutInto } from "../src/index.js";

const f16 = (...values: number[]) => float16.encode(Float32Array.from(values));
const f32 = (...values: number[]) => Float32Array.from(values);

/** float32 neighbours of x. */
function nextUp(x: number): number {
  const a = new Float32Array([x]);
  const u = new Uint32Array(a.buffer);
  if (x === 0) u[0] = 1;
  else u[0] = x > 0 ? u[0]! + 1 : u[0]! - 1;
  return a[0]!;
}
const nextDown = (x: number) => -nextUp(-x);

/** A float32 or float16 value as an exact integer multiple of 2^−160 (both are multiples of 2^−149). */
const exact = (x: number) => BigInt(x * 2 ** 160);

/** Straightforward reference: the lowest index among the entries at minimal |v − e|, in exact arithmetic. */
function bruteForce(values: Float32Array, lut: Uint16Array): Uint8Array {
  const entries = float16.decode(lut);
  const out = new Uint8Array(values.length);
  for (let i = 0; i < values.length; i++) {
    const v = exact(values[i]!);
    let best = -1;
    let bestD = 0n;
    for (let c = 0; c < entries.length; c++) {
      const e = entries[c]!;
      if (!Number.isFinite(e)) continue;
      const diff = v - exact(e);
      const d = diff < 0n ? -diff : diff;
      if (best < 0 || d < bestD) {
        bestD = d;
        best = c;
      }
    }
    out[i] = best;
  }
  return out;
}

describe("encodeWithLut: nearest entry, ties to the lower index", () => {
  it("sends an exact midpoint to the lower index and its float32 neighbours to the nearer entry", () => {
    const lut = f16(-2, -0.5, 0.25, 3);
    const mids = [-1.25, -0.125, 1.625];
    for (let j = 0; j < mids.length; j++) {
      const m = mids[j]!;
      expect([...encodeWithLut(f32(m), lut)]).toEqual([j]);
      expect([...encodeWithLut(f32(nextDown(m)), lut)]).toEqual([j]);
      expect([...encodeWithLut(f32(nextUp(m)), lut)]).toEqual([j + 1]);
    }
  });

  it("resolves values a hair off a tie exactly, where float64 distances would round to a tie", () => {
    const tiny = 2 ** -149; // smallest float32 subnormal
    expect([...encodeWithLut(f32(-tiny, 0, tiny), f16(1, -1))]).toEqual([1, 0, 0]);
    expect([...encodeWithLut(f32(-tiny, 0, tiny), f16(-1, 1))]).toEqual([0, 0, 1]);
  });

  it("breaks ties by index, not by value, in an unsorted table", () => {
    // 1 is equally far from 2 (index 0) and 0 (index 1): index 0 wins although its value is larger.
    expect([...encodeWithLut(f32(1), f16(2, 0))]).toEqual([0]);
    expect([...encodeWithLut(f32(1), f16(0, 2))]).toEqual([0]);
    expect([...encodeWithLut(f32(1), f16(5, 2, 7, 0))]).toEqual([1]);
    expect([...encodeWithLut(f32(1), f16(5, 0, 7, 2))]).toEqual([1]);
  });

  it("gives a repeated value its lowest index, also when the tie is with a neighbour", () => {
    const lut = f16(3, 1, 1, 3, 1);
    expect([...encodeWithLut(f32(1, 0.9, 2, 2.5, 3, 100), lut)]).toEqual([1, 1, 0, 0, 0, 0]);
  });

  it("treats −0 and +0 as one value", () => {
    const lut = new Uint16Array([0x3c00, 0x8000, 0x0000]); // 1, −0, +0
    expect([...encodeWithLut(f32(0, -0, 0.25, 0.5), lut)]).toEqual([1, 1, 1, 0]);
  });

  it("sends ±Inf to the extreme entries and never picks NaN or Inf entries", () => {
    const lut = new Uint16Array([0x7e00, 0x3c00, 0x7c00, 0xbc00, 0xfc00]); // NaN, 1, +Inf, −1, −Inf
    const v = f32(Number.POSITIVE_INFINITY, Number.NEGATIVE_INFINITY, 1e30, -1e30, 0);
    expect([...encodeWithLut(v, lut)]).toEqual([1, 3, 1, 3, 1]);
  });

  it("agrees with a brute-force search on random tables and values, midpoints included", () => {
    const rng = createRng(7);
    for (let trial = 0; trial < 200; trial++) {
      const k = 1 + (rng.nextUint32() % (trial < 100 ? 16 : 256));
      const entries = new Float32Array(k);
      for (let c = 0; c < k; c++) entries[c] = Math.round((rng.nextFloat() * 2 - 1) * 64) / 8;
      const lut = float16.encode(entries);
      const dec = float16.decode(lut);
      const values = new Float32Array(600);
      for (let i = 0; i < 200; i++) values[i] = (rng.nextFloat() * 2 - 1) * 12;
      for (let i = 200; i < 600; i += 3) {
        const a = dec[rng.nextUint32() % k]!;
        const b = dec[rng.nextUint32() % k]!;
        const m = (a + b) / 2; // exact in float32 here
        values[i] = m;
        values[i + 1] = nextUp(m);
        values[i + 2] = nextDown(m);
      }
      expect(encodeWithLut(values, lut)).toEqual(bruteForce(values, lut));
    }
  });

  it("writes into a caller's buffer", () => {
    const dst = new Uint8Array(4).fill(99);
    expect(encodeWithLutInto(f32(0.1, 0.9, 2), f16(0, 1), dst)).toBe(3);
    expect([...dst]).toEqual([0, 1, 1, 99]);
  });

  it("rejects bad arguments", () => {
    expect(() => encodeWithLut([1] as unknown as Float32Array, f16(0))).toThrow(TypeError);
    expect(() => encodeWithLut(f32(1), f32(0) as unknown as Uint16Array)).toThrow(TypeError);
    expect(() => encodeWithLut(f32(1), new Uint16Array(0))).toThrow(RangeError);
    expect(() => encodeWithLut(f32(1), new Uint16Array(257))).toThrow(RangeError);
    expect(() => encodeWithLut(f32(1), new Uint16Array([0x7e00, 0x7c00]))).toThrow(/finite/);
    expect(() => encodeWithLut(f32(1, Number.NaN), f16(0))).toThrow(/values\[1\]/);
    expect(() => encodeWithLutInto(f32(1, 2), f16(0), new Uint8Array(1))).toThrow(RangeError);
  });
});
