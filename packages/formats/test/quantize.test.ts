import { CorruptDataError, createRng, NotFoundError } from "@lowbit/bits";
import { float4_e2m1fn } from "@lowbit/fp4";
import { float8_e4m3fn } from "@lowbit/fp8";
import { describe, expect, it } from "vitest";
import {
  bitsPerWeight,
  dequantize,
  getQuantizer,
  listQuantizers,
  maxAbsError,
  mse,
  quantize,
  relativeMse,
  sqnrDb,
} from "../src/index.js";

function normals(n: number, seed: number): Float32Array {
  const rng = createRng(seed);
  const out = new Float32Array(n);
  for (let i = 0; i < n; i++) {
    const u = 1 - rng.nextFloat();
    out[i] = Math.sqrt(-2 * Math.log(u)) * Math.cos(2 * Math.PI * rng.nextFloat());
  }
  return out;
}

describe("metrics", () => {
  const ref = Float32Array.of(1, -2, 3, 0);
  const approx = Float32Array.of(1, -1, 3, 0.5);
  it("compute mse, relative mse, sqnr and max error", () => {
    expect(mse(ref, approx)).toBe((1 + 0.25) / 4);
    expect(relativeMse(ref, approx)).toBeCloseTo(1.25 / 14, 12);
    expect(sqnrDb(ref, approx)).toBeCloseTo(-10 * Math.log10(1.25 / 14), 12);
    expect(maxAbsError(ref, approx)).toBe(1);
    expect(sqnrDb(ref, ref)).toBe(Number.POSITIVE_INFINITY);
  });
  it("reject mismatched inputs", () => {
    expect(() => mse(ref, new Float32Array(3))).toThrow(RangeError);
    expect(() => mse(ref, [1, 2, 3, 4] as unknown as Float32Array)).toThrow(TypeError);
  });
});

describe("element-codec quantizers", () => {
  it("are registered under the codec names", () => {
    const names = listQuantizers().map((q) => q.name);
    for (const n of ["float16", "bfloat16", "float8_e4m3fn", "float6_e2m3fn", "float4_e2m1fn", "hifloat8"]) {
      expect(names).toContain(n);
    }
  });

  it("scale per channel so each row's amax maps to max finite (float8_e4m3fn)", () => {
    const x = Float32Array.of(1, -2, 4, 0.5, 100, -300, 50, 0);
    const qt = quantize(x, [2, 4], { format: "float8_e4m3fn" });
    expect(qt.spec).toEqual({ format: "float8_e4m3fn", scaling: "channel", axis: 0, saturate: true });
    const scales = qt.parts["scales"]!.data as Float32Array;
    expect([...scales]).toEqual([Math.fround(4 / 448), Math.fround(300 / 448)]);
    expect(qt.parts["qdata"]!.dtype).toBe("F8_E4M3");
    // codes are the element codec applied to x · (1 / scale) in float32
    const inv0 = Math.fround(1 / scales[0]!);
    expect((qt.parts["qdata"]!.data as Uint8Array)[2]).toBe(float8_e4m3fn.encodeValue(Math.fround(4 * inv0)));
    const y = dequantize(qt);
    expect(maxAbsError(x.subarray(0, 4), y.subarray(0, 4))).toBeLessThan(4 * 2 ** -3);
    expect(y[5]).toBeCloseTo(-300, 0);
    expect(bitsPerWeight(qt)).toBe((8 * 8 + 2 * 32) / 8);
  });

  it("pack sub-byte codes and reach the expected quality on normal data", () => {
    const x = normals(64 * 256, 1);
    const fp4 = quantize(x, [64, 256], { format: "float4_e2m1fn" });
    expect(fp4.parts["qdata"]!.data.length).toBe((64 * 256) / 2);
    // FP4 with per-row max scaling on Gaussian rows: ~18-19 dB; E4M3 ~31 dB.
    expect(sqnrDb(x, dequantize(fp4))).toBeGreaterThan(17);
    expect(sqnrDb(x, dequantize(quantize(x, [64, 256], { format: "float8_e4m3fn" })))).toBeGreaterThan(30);
    expect(sqnrDb(x, dequantize(quantize(x, [64, 256], { format: "hifloat8" })))).toBeGreaterThan(30);
  });

  it.each([[[6, 8]], [[3, 5]], [[7]]])(
    "4-bit dequantize equals decode(code) · channel scale exactly, shape %j",
    (shape) => {
      const n = shape.reduce((a, b) => a * b, 1);
      const x = normals(n, 3);
      const qt = quantize(x, shape, { format: "float4_e2m1fn" });
      const codes = float4_e2m1fn.unpack(qt.parts["qdata"]!.data as Uint8Array, n);
      const scales = qt.parts["scales"]!.data as Float32Array;
      const inner = n / shape[0]!;
      const want = new Float32Array(n);
      for (let i = 0; i < n; i++)
        want[i] = float4_e2m1fn.decodeValue(codes[i]!) * scales[Math.floor(i / inner)]!;
      expect(dequantize(qt)).toEqual(want);
    },
  );

  it("per-tensor, axis and no-scaling options", () => {
    const x = normals(6 * 8, 2);
    const t = quantize(x, [6, 8], { format: "float8_e5m2", scaling: "tensor" });
    expect(t.parts["scales"]!.data.length).toBe(1);
    const a = quantize(x, [6, 8], { format: "float8_e5m2", axis: 1 });
    expect(a.parts["scales"]!.data.length).toBe(8);
    expect(sqnrDb(x, dequantize(a))).toBeGreaterThan(20);
    const f16 = quantize(x, [6, 8], { format: "float16" });
    expect(f16.parts["scales"]).toBeUndefined();
    expect(f16.parts["qdata"]!.dtype).toBe("F16");
    expect(sqnrDb(x, dequantize(f16))).toBeGreaterThan(60);
  });

  it("rejects bad specs and corrupt tensors", () => {
    const x = new Float32Array(8);
    expect(() => quantize(x, [2, 4], { format: "float8_e4m3fn", group: 4 })).toThrow(
      /unknown option "group"/,
    );
    expect(() => quantize(x, [2, 4], { format: "float8_e4m3fn", scaling: "row" })).toThrow(RangeError);
    expect(() => quantize(x, [3, 4], { format: "float8_e4m3fn" })).toThrow(
      /8 elements but shape \[3, 4\] needs 12/,
    );
    expect(() => quantize(x, [2, 4], { format: "int9" })).toThrow(/unknown format "int9"/);
    expect(() => getQuantizer("float8_e8m0fnu").quantize(x, [8], { scaling: "channel" })).toThrow(/unsigned/);
    const qt = quantize(x, [2, 4], { format: "float8_e4m3fn" });
    expect(() => dequantize({ ...qt, parts: { qdata: qt.parts["qdata"]! } })).toThrow(CorruptDataError);
    expect(() => dequantize({ ...qt, spec: { format: "nope" } })).toThrow(NotFoundError);
  });
});
