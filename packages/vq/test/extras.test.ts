import { CorruptDataError, createRng } from "@lowbit/bits";
import { describe, expect, it } from "vitest";
import { matvec, vq } from "../src/index.js";
import { denseMatvec, gaussian, relMse } from "./_data.js";

describe("vq outlier columns", () => {
  it("keeps the largest columns exactly (float16) and decodes/matvecs them", () => {
    const rows = 64;
    const cols = 32;
    const w = gaussian(rows * cols, 31);
    for (let r = 0; r < rows; r++) {
      w[r * cols + 5] = w[r * cols + 5]! * 50;
      w[r * cols + 17] = w[r * cols + 17]! * 30;
    }
    const spec = { vectorLength: 4, bits: 4, iterations: 8 };
    const plain = vq.dequantize(vq.quantize(w, [rows, cols], spec));
    const qt = vq.quantize(w, [rows, cols], { ...spec, outliers: 2, normalize: "norm" });
    expect([...(qt.parts["outlierColumns"]!.data as Int32Array)]).toEqual([5, 17]);
    expect(qt.parts["outliers"]!.shape).toEqual([rows, 2]);
    const d = vq.dequantize(qt);
    for (let r = 0; r < rows; r++) {
      expect(Math.abs(d[r * cols + 5]! - w[r * cols + 5]!)).toBeLessThanOrEqual(
        Math.abs(w[r * cols + 5]!) * 2 ** -11,
      );
    }
    expect(relMse(w, d)).toBeLessThan(relMse(w, plain) / 5);
    const x = gaussian(cols, 32);
    const ref = denseMatvec(d, rows, cols, x);
    const y = matvec(qt, x);
    for (let r = 0; r < rows; r++)
      expect(Math.abs(y[r]! - ref[r]!)).toBeLessThan(1e-3 * (1 + Math.abs(ref[r]!)));
    const bad = new Int32Array([17, 5]);
    expect(() =>
      vq.dequantize({
        ...qt,
        parts: { ...qt.parts, outlierColumns: { dtype: "I32", shape: [2], data: bad } },
      }),
    ).toThrow(CorruptDataError);
    expect(() => vq.quantize(w, [rows, cols], { ...spec, outliers: 33 })).toThrow(RangeError);
  });
});

describe("vq with GPTQ-style error feedback (hessian)", () => {
  it("lowers the output error ‖(W − Ŵ) Xᵀ‖² on correlated inputs", () => {
    const rows = 64;
    const cols = 32;
    const samples = 256;
    const w = gaussian(rows * cols, 41);
    // Correlated activations: x = A z, A lower triangular random.
    const rng = createRng(42);
    const A = new Float32Array(cols * cols);
    for (let i = 0; i < cols; i++) for (let j = 0; j <= i; j++) A[i * cols + j] = rng.nextFloat() * 2 - 1;
    const z = gaussian(samples * cols, 43);
    const X = new Float32Array(samples * cols);
    for (let s = 0; s < samples; s++)
      for (let i = 0; i < cols; i++) {
        let acc = 0;
        for (let j = 0; j <= i; j++) acc += A[i * cols + j]! * z[s * cols + j]!;
        X[s * cols + i] = acc;
      }
    const H = new Float32Array(cols * cols);
    for (let s = 0; s < samples; s++)
      for (let i = 0; i < cols; i++)
        for (let j = 0; j < cols; j++)
          H[i * cols + j] = H[i * cols + j]! + X[s * cols + i]! * X[s * cols + j]!;
    const outErr = (d: Float32Array): number => {
      let e = 0;
      for (let s = 0; s < samples; s++) {
        const y = denseMatvec(w, rows, cols, X.subarray(s * cols, (s + 1) * cols));
        const yh = denseMatvec(d, rows, cols, X.subarray(s * cols, (s + 1) * cols));
        for (let r = 0; r < rows; r++) e += (y[r]! - yh[r]!) ** 2;
      }
      return e;
    };
    const spec = { vectorLength: 4, bits: 5, iterations: 10 };
    const plain = outErr(vq.dequantize(vq.quantize(w, [rows, cols], spec)));
    const qt = vq.quantize(w, [rows, cols], { ...spec, hessian: H });
    expect(qt.spec["hessian"]).toBe(true);
    expect(outErr(vq.dequantize(qt))).toBeLessThan(plain * 0.9);
    expect(() => vq.quantize(w, [rows, cols], { ...spec, hessian: new Float32Array(5) })).toThrow(RangeError);
  });
});
