import { createRng } from "@lowbit/bits";

/** Standard normal samples (Box–Muller over createRng). */
export function gaussian(n: number, seed: number): Float32Array {
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

export function relMse(a: Float32Array, b: Float32Array): number {
  let e = 0;
  let s = 0;
  for (let i = 0; i < a.length; i++) {
    e += (a[i]! - b[i]!) ** 2;
    s += a[i]! ** 2;
  }
  return e / s;
}

/** A [rows, cols] matrix whose length-v vectors are drawn from `patterns` distinct ones, plus small noise. */
export function structured(
  rows: number,
  cols: number,
  v: number,
  patterns: number,
  noise: number,
  seed: number,
): Float32Array {
  const rng = createRng(seed);
  const pats = gaussian(patterns * v, seed + 1);
  const noiseV = gaussian(rows * cols, seed + 2);
  const out = new Float32Array(rows * cols);
  for (let i = 0; i < (rows * cols) / v; i++) {
    const p = Math.floor(rng.nextFloat() * patterns);
    for (let t = 0; t < v; t++) out[i * v + t] = pats[p * v + t]! + noise * noiseV[i * v + t]!;
  }
  return out;
}

export function denseMatvec(w: Float32Array, rows: number, cols: number, x: Float32Array): Float64Array {
  const y = new Float64Array(rows);
  for (let r = 0; r < rows; r++) {
    let s = 0;
    for (let c = 0; c < cols; c++) s += w[r * cols + c]! * x[c]!;
    y[r] = s;
  }
  return y;
}
