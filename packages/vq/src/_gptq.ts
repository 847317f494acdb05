import { describe, throwIfAborted, type WorkContext } from "@lowbit/bits";
import { assignRange, assignWeightedCoords } from "./_assign.js";

/** Lower Cholesky factor of a symmetric positive definite [N, N] float64 matrix, in place (upper part left as is). */
function cholesky(A: Float64Array, N: number, name: string): void {
  for (let j = 0; j < N; j++) {
    const jo = j * N;
    let s = A[jo + j]!;
    for (let p = 0; p < j; p++) s -= A[jo + p]! * A[jo + p]!;
    if (!(s > 0)) throw new RangeError(`${name} is not positive definite (pivot ${j} = ${s})`);
    const djj = Math.sqrt(s);
    A[jo + j] = djj;
    for (let i = j + 1; i < N; i++) {
      const io = i * N;
      let t = A[io + j]!;
      for (let p = 0; p < j; p++) t -= A[io + p]! * A[jo + p]!;
      A[io + j] = t / djj;
    }
  }
}

/**
 * The upper Cholesky factor U of H⁻¹ (H⁻¹ = UᵀU) for H damped by 1% of its mean diagonal, as GPTQ uses;
 * float64. H must be symmetric [cols, cols] with a non-negative diagonal.
 */
export function inverseHessianFactor(H: Float32Array, cols: number): Float64Array {
  if (H.length !== cols * cols) {
    throw new RangeError(`hessian must be [cols, cols] = ${cols * cols} elements, got ${H.length}`);
  }
  let mean = 0;
  for (let i = 0; i < H.length; i++) {
    const h = H[i]!;
    if (h - h !== 0) throw new RangeError(`hessian[${i}] must be finite, got ${describe(h)}`);
  }
  for (let i = 0; i < cols; i++) mean += H[i * cols + i]!;
  mean /= cols;
  const damp = 0.01 * (mean > 0 ? mean : 1);
  const A = new Float64Array(cols * cols);
  for (let i = 0; i < cols; i++) {
    for (let j = 0; j < cols; j++) A[i * cols + j] = 0.5 * (H[i * cols + j]! + H[j * cols + i]!);
    A[i * cols + i] = A[i * cols + i]! + damp;
  }
  cholesky(A, cols, "hessian");
  // Inverse of L (lower), then H⁻¹ = L⁻ᵀ L⁻¹.
  const Li = new Float64Array(cols * cols);
  for (let j = 0; j < cols; j++) {
    Li[j * cols + j] = 1 / A[j * cols + j]!;
    for (let i = j + 1; i < cols; i++) {
      let s = 0;
      for (let p = j; p < i; p++) s += A[i * cols + p]! * Li[p * cols + j]!;
      Li[i * cols + j] = -s / A[i * cols + i]!;
    }
  }
  const Hi = new Float64Array(cols * cols);
  for (let i = 0; i < cols; i++) {
    for (let j = 0; j <= i; j++) {
      let s = 0;
      for (let p = i; p < cols; p++) s += Li[p * cols + i]! * Li[p * cols + j]!;
      Hi[i * cols + j] = s;
      Hi[j * cols + i] = s;
    }
  }
  cholesky(Hi, cols, "the inverse hessian");
  const U = new Float64Array(cols * cols);
  for (let i = 0; i < cols; i++) for (let j = 0; j <= i; j++) U[j * cols + i] = Hi[i * cols + j]!;
  return U;
}

/**
 * GPTQ-style encoding with fixed codebooks: column groups left to right; each row's vector in the
 * group gets its greedy (stage-wise nearest) codes from the current, error-corrected weights; then,
 * column by column, err = (w − q) / U[i,i] is propagated to every later column (W[:, c] −= err · U[i, c]).
 * Outlier columns are exact (no error). `X` [rows, cols] is modified.
 */
export function gptqEncode(
  X: Float32Array,
  rows: number,
  cols: number,
  v: number,
  M: number,
  K: number,
  cb: Float32Array,
  colWeights: Float32Array | null,
  outlier: Uint8Array | null,
  U: Float64Array,
  codes: Uint16Array,
  ctx: WorkContext | undefined,
): void {
  const G = cols / v;
  const vec = new Float32Array(rows * v);
  const Q = new Float32Array(rows * v);
  const W = colWeights === null ? null : new Float32Array(rows * v);
  const labels = new Int32Array(rows);
  const dists = new Float64Array(rows);
  const cnorm = new Float64Array(M * K);
  for (let e = 0; e < M * K; e++) {
    let s = 0;
    for (let t = 0; t < v; t++) s += cb[e * v + t]! * cb[e * v + t]!;
    cnorm[e] = s;
  }
  const err = new Float64Array(rows);
  for (let j = 0; j < G; j++) {
    if ((j & 15) === 0) throwIfAborted(ctx?.signal);
    const c0 = j * v;
    for (let r = 0; r < rows; r++) vec.set(X.subarray(r * cols + c0, r * cols + c0 + v), r * v);
    if (W !== null) for (let r = 0; r < rows; r++) W.set(colWeights!.subarray(c0, c0 + v), r * v);
    Q.fill(0);
    for (let m = 0; m < M; m++) {
      const C = cb.subarray(m * K * v, (m + 1) * K * v);
      if (W !== null) assignWeightedCoords(vec, W, v, C, K, 0, rows, labels, dists);
      else assignRange(vec, v, C, cnorm.subarray(m * K, (m + 1) * K), K, 0, rows, labels, dists);
      for (let r = 0; r < rows; r++) {
        const k = labels[r]!;
        codes[(r * G + j) * M + m] = k;
        for (let t = 0; t < v; t++) {
          const e = C[k * v + t]!;
          vec[r * v + t] = vec[r * v + t]! - e;
          Q[r * v + t] = Q[r * v + t]! + e;
        }
      }
    }
    for (let t = 0; t < v; t++) {
      const i = c0 + t;
      const uii = U[i * cols + i]!;
      if (outlier !== null && outlier[i] === 1) continue;
      for (let r = 0; r < rows; r++) err[r] = (X[r * cols + i]! - Math.fround(Q[r * v + t]!)) / uii;
      for (let r = 0; r < rows; r++) {
        const e = err[r]!;
        if (e === 0) continue;
        const ro = r * cols;
        const uo = i * cols;
        for (let c = i + 1; c < cols; c++) X[ro + c] = X[ro + c]! - e * U[uo + c]!;
      }
    }
  }
}
