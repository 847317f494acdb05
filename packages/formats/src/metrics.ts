import { assertFloat32Array } from "@lowbit/bits";

/** Error metrics between a reference tensor and its reconstruction (float64 accumulation). */

function check(ref: Float32Array, approx: Float32Array): void {
  assertFloat32Array(ref, "ref");
  assertFloat32Array(approx, "approx");
  if (ref.length !== approx.length) {
    throw new RangeError(`ref and approx differ in length: ${ref.length} vs ${approx.length}`);
  }
}

/** Mean squared error. NaN if either side holds a NaN. 0 for empty inputs. */
export function mse(ref: Float32Array, approx: Float32Array): number {
  check(ref, approx);
  if (ref.length === 0) return 0;
  let s = 0;
  for (let i = 0; i < ref.length; i++) {
    const d = ref[i]! - approx[i]!;
    s += d * d;
  }
  return s / ref.length;
}

/** MSE divided by the mean square of the reference (0 = exact, 1 = as bad as predicting zeros). */
export function relativeMse(ref: Float32Array, approx: Float32Array): number {
  check(ref, approx);
  let e = 0;
  let p = 0;
  for (let i = 0; i < ref.length; i++) {
    const r = ref[i]!;
    const d = r - approx[i]!;
    e += d * d;
    p += r * r;
  }
  if (p === 0) return e === 0 ? 0 : Number.POSITIVE_INFINITY;
  return e / p;
}

/** Signal-to-quantization-noise ratio in dB: 10·log10(Σref² / Σ(ref − approx)²). Infinity when exact. */
export function sqnrDb(ref: Float32Array, approx: Float32Array): number {
  const r = relativeMse(ref, approx);
  return r === 0 ? Number.POSITIVE_INFINITY : -10 * Math.log10(r);
}

/** Largest |ref − approx|. */
export function maxAbsError(ref: Float32Array, approx: Float32Array): number {
  check(ref, approx);
  let m = 0;
  for (let i = 0; i < ref.length; i++) {
    const d = Math.abs(ref[i]! - approx[i]!);
    if (d > m || Number.isNaN(d)) m = d;
  }
  return m;
}
