import type { TensorPart } from "@lowbit/bits";
import { describe, expect, it } from "vitest";
import { toFloat32 } from "../src/index.js";

const f32 = (bits: number[]) => new Float32Array(Uint32Array.from(bits).buffer);

describe("toFloat32", () => {
  it("decodes the float dtypes exactly", () => {
    const cases: [TensorPart, Float32Array][] = [
      [
        { dtype: "F16", shape: [4], data: new Uint16Array([0x3c00, 0xc000, 0x7c00, 0x0001]) },
        f32([0x3f800000, 0xc0000000, 0x7f800000, 0x33800000]),
      ],
      [
        { dtype: "BF16", shape: [3], data: new Uint16Array([0x3f80, 0xc049, 0xff80]) },
        f32([0x3f800000, 0xc0490000, 0xff800000]),
      ],
      [
        { dtype: "F8_E4M3", shape: [3], data: new Uint8Array([0x38, 0x7e, 0x01]) },
        f32([0x3f800000, 0x43e00000, 0x3b000000]),
      ],
      [
        { dtype: "F8_E5M2", shape: [3], data: new Uint8Array([0x3c, 0x7c, 0xc0]) },
        f32([0x3f800000, 0x7f800000, 0xc0000000]),
      ],
      [
        { dtype: "F8_E8M0", shape: [3], data: new Uint8Array([0x7f, 0x80, 0x00]) },
        f32([0x3f800000, 0x40000000, 0x00400000]),
      ],
      [{ dtype: "F32", shape: [2], data: f32([0x7fc00001, 0x80000000]) }, f32([0x7fc00001, 0x80000000])],
    ];
    for (const [t, want] of cases) {
      const got = toFloat32(t);
      expect(new Uint32Array(got.buffer), t.dtype).toEqual(new Uint32Array(want.buffer));
    }
    const nan = toFloat32({ dtype: "F8_E4M3", shape: [1], data: new Uint8Array([0x7f]) });
    expect(Number.isNaN(nan[0])).toBe(true);
  });

  it("rounds F64 to nearest even", () => {
    const x = new Float64Array([1 / 3, 1 + 2 ** -24, 1 + 3 * 2 ** -24, 1e300]);
    expect([...toFloat32({ dtype: "F64", shape: [4], data: x })]).toEqual([
      Math.fround(1 / 3),
      1,
      1 + 2 ** -22,
      Number.POSITIVE_INFINITY,
    ]);
  });

  it("converts integers, 64-bit ones rounded once", () => {
    expect([...toFloat32({ dtype: "I8", shape: [2], data: new Int8Array([-128, 127]) })]).toEqual([
      -128, 127,
    ]);
    expect([...toFloat32({ dtype: "U16", shape: [1], data: new Uint16Array([65535]) })]).toEqual([65535]);
    expect([...toFloat32({ dtype: "I32", shape: [1], data: new Int32Array([16777217]) })]).toEqual([
      16777216,
    ]);
    expect([...toFloat32({ dtype: "U32", shape: [1], data: new Uint32Array([4294967295]) })]).toEqual([
      4294967296,
    ]);
    // 2^60 + 2^36 + 1 lies just above a float32 midpoint; rounding through float64 first would make it
    // an exact tie and round down to 2^60.
    const tricky = (1n << 60n) + (1n << 36n) + 1n;
    const i64 = new BigInt64Array([tricky, -tricky, 3n, -(1n << 63n), (1n << 60n) + (1n << 36n)]);
    expect([...toFloat32({ dtype: "I64", shape: [5], data: i64 })]).toEqual([
      2 ** 60 + 2 ** 37,
      -(2 ** 60 + 2 ** 37),
      3,
      -(2 ** 63),
      2 ** 60,
    ]);
    const u64 = new BigUint64Array([(1n << 64n) - 1n, 0n]);
    expect([...toFloat32({ dtype: "U64", shape: [2], data: u64 })]).toEqual([2 ** 64, 0]);
  });

  it("maps BOOL bytes to 0 and 1", () => {
    expect([...toFloat32({ dtype: "BOOL", shape: [3], data: new Uint8Array([0, 1, 7]) })]).toEqual([0, 1, 1]);
  });

  it("writes into dst and checks its arguments", () => {
    const dst = new Float32Array(4).fill(9);
    const out = toFloat32({ dtype: "U8", shape: [2], data: new Uint8Array([1, 2]) }, dst);
    expect(out).toBe(dst);
    expect([...dst]).toEqual([1, 2, 9, 9]);
    expect(() =>
      toFloat32({ dtype: "U8", shape: [2], data: new Uint8Array([1, 2]) }, new Float32Array(1)),
    ).toThrow(RangeError);
    expect(() => toFloat32({ dtype: "U8", shape: [3], data: new Uint8Array([1, 2]) })).toThrow(RangeError);
    expect(() => toFloat32({ dtype: "F16", shape: [1], data: new Uint8Array(2) })).toThrow(TypeError);
  });
});
