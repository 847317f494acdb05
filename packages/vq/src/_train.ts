import { createRng, throwIfAborted, type WorkContext } from "@lowbit/bits";
import { assignRange, assignWeightedCoords } from "./_assign.js";
import { type KmeansAssigner, kmeans } from "./kmeans.js";

/** k-means trains on at most this many points per centroid (faiss uses 256); the rest are only assigned. */
export const SAMPLES_PER_CENTROID = 256;

/** Derives an independent seed for stage `m` (stage 0 uses the seed itself). */
export function stageSeed(seed: number, m: number): number {
  return ((seed >>> 0) ^ Math.imul(m, 0x9e3779b9)) >>> 0;
}

/** A deterministic sample of `count` of the n rows of X (partial Fisher–Yates from createRng(seed)). */
export function sampleRows(
  X: Float32Array,
  n: number,
  d: number,
  count: number,
  seed: number,
  W: Float32Array | null,
) {
  if (count >= n) return { data: X, weights: W };
  const idx = new Int32Array(n);
  for (let i = 0; i < n; i++) idx[i] = i;
  const rng = createRng(seed ^ 0x5a5a5a5a);
  for (let i = 0; i < count; i++) {
    const j = i + Math.min(n - i - 1, Math.floor(rng.nextFloat() * (n - i)));
    const t = idx[i]!;
    idx[i] = idx[j]!;
    idx[j] = t;
  }
  const chosen = idx.subarray(0, count).sort();
  const data = new Float32Array(count * d);
  const weights = W === null ? null : new Float32Array(count * d);
  for (let i = 0; i < count; i++) {
    const s = chosen[i]! * d;
    data.set(X.subarray(s, s + d), i * d);
    if (weights !== null) weights.set(W!.subarray(s, s + d), i * d);
  }
  return { data, weights };
}

export interface StageOptions {
  readonly seed: number;
  readonly iterations: number;
  /** Per-coordinate weights [n, d] or null. */
  readonly weights: Float32Array | null;
  readonly assigner?: KmeansAssigner;
}

/**
 * Residual k-means: codebook m is k-means (k = K) of the residual left by codebooks 0..m−1, each
 * point greedily assigned to its nearest entry. Returns codebooks [M, K, d] and codes [n, M].
 */
export function trainResidual(
  X: Float32Array,
  n: number,
  d: number,
  M: number,
  K: number,
  o: StageOptions,
  ctx: WorkContext | undefined,
  progress: (m: number) => void,
): { codebooks: Float32Array; codes: Uint16Array } {
  if (K > n)
    throw new RangeError(`the codebook has ${K} entries but there are only ${n} vectors to learn it from`);
  const R = new Float32Array(X);
  const codebooks = new Float32Array(M * K * d);
  const codes = new Uint16Array(n * M);
  const labels = new Int32Array(n);
  const dists = new Float64Array(n);
  const cnorm = new Float64Array(K);
  for (let m = 0; m < M; m++) {
    throwIfAborted(ctx?.signal);
    const seed = stageSeed(o.seed, m);
    const s = sampleRows(R, n, d, SAMPLES_PER_CENTROID * K, seed, o.weights);
    const km = kmeans(
      s.data,
      d,
      {
        k: K,
        seed,
        maxIterations: o.iterations,
        ...(s.weights ? { weights: s.weights } : {}),
        ...(o.assigner ? { assigner: o.assigner } : {}),
      },
      ctx?.signal ? { signal: ctx.signal } : undefined,
    );
    const C = km.centroids;
    codebooks.set(C, m * K * d);
    assignStage(R, n, d, C, K, o.weights, o.assigner, labels, dists, cnorm);
    for (let i = 0; i < n; i++) {
      const c = labels[i]!;
      codes[i * M + m] = c;
      for (let t = 0; t < d; t++) R[i * d + t] = R[i * d + t]! - C[c * d + t]!;
    }
    progress(m + 1);
  }
  return { codebooks, codes };
}

/** Nearest entry of C [K, d] for each of the n rows of R (weighted per coordinate when W is given). */
function assignStage(
  R: Float32Array,
  n: number,
  d: number,
  C: Float32Array,
  K: number,
  W: Float32Array | null,
  assigner: KmeansAssigner | undefined,
  labels: Int32Array,
  dists: Float64Array,
  cnorm: Float64Array,
): void {
  if (W !== null) {
    assignWeightedCoords(R, W, d, C, K, 0, n, labels, dists);
    return;
  }
  for (let c = 0; c < K; c++) {
    let sum = 0;
    for (let t = 0; t < d; t++) sum += C[c * d + t]! * C[c * d + t]!;
    cnorm[c] = sum;
  }
  if (assigner) assigner.assign(R, n, d, C, cnorm, K, labels, dists);
  else assignRange(R, d, C, cnorm, K, 0, n, labels, dists);
}

/**
 * Greedy residual codes for fixed codebooks [M, K, d]: code m of each vector is its nearest entry of
 * codebook m to what codebooks 0..m−1 left (the assignment half of trainResidual). Returns codes [n, M].
 */
export function assignResidual(
  X: Float32Array,
  n: number,
  d: number,
  codebooks: Float32Array,
  M: number,
  K: number,
  W: Float32Array | null,
  assigner: KmeansAssigner | undefined,
  ctx: WorkContext | undefined,
): Uint16Array {
  const R = new Float32Array(X);
  const codes = new Uint16Array(n * M);
  const labels = new Int32Array(n);
  const dists = new Float64Array(n);
  const cnorm = new Float64Array(K);
  for (let m = 0; m < M; m++) {
    throwIfAborted(ctx?.signal);
    const C = codebooks.subarray(m * K * d, (m + 1) * K * d);
    assignStage(R, n, d, C, K, W, assigner, labels, dists, cnorm);
    for (let i = 0; i < n; i++) {
      const c = labels[i]!;
      codes[i * M + m] = c;
      for (let t = 0; t < d; t++) R[i * d + t] = R[i * d + t]! - C[c * d + t]!;
    }
  }
  return codes;
}

/** Squared norms [M, K] and cross inner products [M, M, K, K]: X[l][m][a][k] = ⟨C_l[a], C_m[k]⟩. */
export function tables(
  cb: Float32Array,
  M: number,
  K: number,
  d: number,
): { norms: Float32Array; cross: Float32Array } {
  const norms = new Float32Array(M * K);
  for (let e = 0; e < M * K; e++) {
    let s = 0;
    for (let t = 0; t < d; t++) s += cb[e * d + t]! * cb[e * d + t]!;
    norms[e] = s;
  }
  const cross = new Float32Array(M > 1 ? M * M * K * K : 0);
  if (M > 1) {
    for (let l = 0; l < M; l++) {
      for (let m = 0; m < M; m++) {
        if (l === m) continue;
        const base = (l * M + m) * K * K;
        for (let a = 0; a < K; a++) {
          const ao = (l * K + a) * d;
          for (let k = 0; k < K; k++) {
            const ko = (m * K + k) * d;
            let s = 0;
            for (let t = 0; t < d; t++) s += cb[ao + t]! * cb[ko + t]!;
            cross[base + a * K + k] = s;
          }
        }
      }
    }
  }
  return { norms, cross };
}

/**
 * Beam search over M codebooks for every vector, with precomputed norms and cross products so a
 * candidate costs O(M): error(i_1..i_M) = ‖x‖² + Σ_m (‖C_m[i_m]‖² − 2⟨x, C_m[i_m]⟩) + Σ_{l≠m} ⟨C_l[i_l], C_m[i_m]⟩.
 * `fromScratch`: stage m picks codebook m given the codes chosen for 0..m−1 (residual VQ with a beam).
 * Otherwise the beam starts from the current codes and stage m re-chooses code m holding the others
 * (AQLM's code update); the current codes are a candidate, so the error never grows.
 * Candidates are kept by (error, then lower beam slot, then lower code); duplicate code tuples are dropped.
 */
export function beamEncode(
  X: Float32Array,
  n: number,
  d: number,
  cb: Float32Array,
  M: number,
  K: number,
  beam: number,
  codes: Uint16Array,
  fromScratch: boolean,
  ctx: WorkContext | undefined,
): void {
  const { norms, cross } = tables(cb, M, K, d);
  const u = new Float64Array(M * K);
  const B = beam;
  let bc = new Uint16Array(B * M); // beam codes
  let nbc = new Uint16Array(B * M);
  const be = new Float64Array(B); // beam errors (without ‖x‖²)
  let nb = 1;
  const topE = new Float64Array(B);
  const topB = new Int32Array(B);
  const topK = new Int32Array(B);
  const cand = new Float64Array(K);
  const KK = K * K;
  const MK = M * K;
  for (let i = 0; i < n; i++) {
    if ((i & 4095) === 0) throwIfAborted(ctx?.signal);
    const xo = i * d;
    if (d === 8) {
      const x0 = X[xo]!;
      const x1 = X[xo + 1]!;
      const x2 = X[xo + 2]!;
      const x3 = X[xo + 3]!;
      const x4 = X[xo + 4]!;
      const x5 = X[xo + 5]!;
      const x6 = X[xo + 6]!;
      const x7 = X[xo + 7]!;
      for (let e = 0; e < MK; e++) {
        const co = e * 8;
        const s =
          x0 * cb[co]! +
          x1 * cb[co + 1]! +
          x2 * cb[co + 2]! +
          x3 * cb[co + 3]! +
          x4 * cb[co + 4]! +
          x5 * cb[co + 5]! +
          x6 * cb[co + 6]! +
          x7 * cb[co + 7]!;
        u[e] = norms[e]! - 2 * s;
      }
    } else {
      const d4 = d - (d % 4);
      for (let e = 0; e < MK; e++) {
        const co = e * d;
        let s0 = 0;
        let s1 = 0;
        let s2 = 0;
        let s3 = 0;
        let t = 0;
        for (; t < d4; t += 4) {
          s0 += X[xo + t]! * cb[co + t]!;
          s1 += X[xo + t + 1]! * cb[co + t + 1]!;
          s2 += X[xo + t + 2]! * cb[co + t + 2]!;
          s3 += X[xo + t + 3]! * cb[co + t + 3]!;
        }
        for (; t < d; t++) s0 += X[xo + t]! * cb[co + t]!;
        u[e] = norms[e]! - 2 * (s0 + s1 + (s2 + s3));
      }
    }
    nb = 1;
    if (fromScratch) {
      be[0] = 0;
    } else {
      let e = 0;
      for (let m = 0; m < M; m++) {
        const cm = codes[i * M + m]!;
        bc[m] = cm;
        e += u[m * K + cm]!;
        for (let l = 0; l < M; l++) if (l !== m) e += cross[(l * M + m) * KK + codes[i * M + l]! * K + cm]!;
      }
      be[0] = e;
    }
    for (let m = 0; m < M; m++) {
      let nt = 0;
      for (let b = 0; b < nb; b++) {
        const bo = b * M;
        let base = be[b]!;
        if (!fromScratch) {
          const old = bc[bo + m]!;
          base -= u[m * K + old]!;
          for (let l = 0; l < M; l++)
            if (l !== m) base -= 2 * cross[(l * M + m) * KK + bc[bo + l]! * K + old]!;
        }
        const uo = m * K;
        for (let k = 0; k < K; k++) cand[k] = base + u[uo + k]!;
        const lEnd = fromScratch ? m : M;
        for (let l = 0; l < lEnd; l++) {
          if (l === m) continue;
          const row = (l * M + m) * KK + bc[bo + l]! * K;
          for (let k = 0; k < K; k++) cand[k] = cand[k]! + 2 * cross[row + k]!;
        }
        let worst = nt === B ? topE[B - 1]! : Number.POSITIVE_INFINITY;
        for (let k = 0; k < K; k++) {
          const e = cand[k]!;
          if (e >= worst) continue;
          // Duplicate tuple? (same k, beams equal outside position m)
          let dup = false;
          for (let q = 0; q < nt && !dup; q++) {
            if (topK[q] !== k) continue;
            const qo = topB[q]! * M;
            let same = true;
            for (let l = 0; l < (fromScratch ? m : M); l++) {
              if (l !== m && bc[qo + l] !== bc[bo + l]) {
                same = false;
                break;
              }
            }
            if (same) dup = true;
          }
          if (dup) continue;
          let p = nt < B ? nt++ : B - 1;
          while (p > 0 && topE[p - 1]! > e) {
            topE[p] = topE[p - 1]!;
            topB[p] = topB[p - 1]!;
            topK[p] = topK[p - 1]!;
            p--;
          }
          topE[p] = e;
          topB[p] = b;
          topK[p] = k;
          if (nt === B) worst = topE[B - 1]!;
        }
      }
      for (let q = 0; q < nt; q++) {
        const so = topB[q]! * M;
        for (let l = 0; l < M; l++) nbc[q * M + l] = bc[so + l]!;
        nbc[q * M + m] = topK[q]!;
        be[q] = topE[q]!;
      }
      const tmp = bc;
      bc = nbc;
      nbc = tmp;
      nb = nt;
    }
    for (let m = 0; m < M; m++) codes[i * M + m] = bc[m]!;
  }
}

/** In-place Cholesky solve of (A) Z = Rhs for symmetric positive definite A [N, N] and Rhs [N, R]. */
function choleskySolve(A: Float64Array, N: number, Rhs: Float64Array, R: number): void {
  for (let j = 0; j < N; j++) {
    const jo = j * N;
    let s = A[jo + j]!;
    for (let p = 0; p < j; p++) s -= A[jo + p]! * A[jo + p]!;
    const djj = Math.sqrt(s > 1e-300 ? s : 1e-300);
    A[jo + j] = djj;
    for (let i = j + 1; i < N; i++) {
      const io = i * N;
      let t = A[io + j]!;
      for (let p = 0; p < j; p++) t -= A[io + p]! * A[jo + p]!;
      A[io + j] = t / djj;
    }
  }
  for (let r = 0; r < R; r++) {
    for (let i = 0; i < N; i++) {
      let t = Rhs[i * R + r]!;
      for (let p = 0; p < i; p++) t -= A[i * N + p]! * Rhs[p * R + r]!;
      Rhs[i * R + r] = t / A[i * N + i]!;
    }
    for (let i = N - 1; i >= 0; i--) {
      let t = Rhs[i * R + r]!;
      for (let p = i + 1; p < N; p++) t -= A[p * N + i]! * Rhs[p * R + r]!;
      Rhs[i * R + r] = t / A[i * N + i]!;
    }
  }
}

/** Joint least squares is used while M·K ≤ this; larger codebooks use block updates. */
export const JOINT_LS_MAX = 2048;

/**
 * Codebook update for fixed codes, in float64. While M·K ≤ JOINT_LS_MAX: the joint least squares
 * min Σ_i ‖x_i − Σ_m C_m[i_m]‖² + λ‖C − C_old‖² (λ = 1e-3, which keeps unused entries where they were),
 * by the normal equations (A + λI) C = Σ e_i x_iᵀ + λ C_old (A[(l,a),(m,b)] = #{i: i_l = a, i_m = b}) and
 * Cholesky. Otherwise one block Gauss–Seidel sweep: each codebook in turn is the mean residual of
 * the vectors using each entry given the others.
 */
export function lsUpdate(
  X: Float32Array,
  n: number,
  d: number,
  codes: Uint16Array,
  M: number,
  K: number,
  cb: Float32Array,
): void {
  const N = M * K;
  const lambda = 1e-3;
  if (N <= JOINT_LS_MAX) {
    const A = new Float64Array(N * N);
    const Rhs = new Float64Array(N * d);
    for (let i = 0; i < n; i++) {
      const co = i * M;
      for (let l = 0; l < M; l++) {
        const a = l * K + codes[co + l]!;
        for (let m = 0; m < M; m++) {
          const b = m * K + codes[co + m]!;
          A[a * N + b] = A[a * N + b]! + 1;
        }
        for (let t = 0; t < d; t++) Rhs[a * d + t] = Rhs[a * d + t]! + X[i * d + t]!;
      }
    }
    for (let a = 0; a < N; a++) {
      A[a * N + a] = A[a * N + a]! + lambda;
      for (let t = 0; t < d; t++) Rhs[a * d + t] = Rhs[a * d + t]! + lambda * cb[a * d + t]!;
    }
    choleskySolve(A, N, Rhs, d);
    for (let e = 0; e < N * d; e++) cb[e] = Rhs[e]!;
    return;
  }
  const sums = new Float64Array(K * d);
  const cnt = new Float64Array(K);
  for (let m = 0; m < M; m++) {
    sums.fill(0);
    cnt.fill(0);
    for (let i = 0; i < n; i++) {
      const c = codes[i * M + m]!;
      cnt[c] = cnt[c]! + 1;
      for (let t = 0; t < d; t++) {
        let r = X[i * d + t]!;
        for (let l = 0; l < M; l++) if (l !== m) r -= cb[(l * K + codes[i * M + l]!) * d + t]!;
        sums[c * d + t] = sums[c * d + t]! + r;
      }
    }
    for (let c = 0; c < K; c++) {
      if (cnt[c]! === 0) continue;
      for (let t = 0; t < d; t++) cb[(m * K + c) * d + t] = sums[c * d + t]! / cnt[c]!;
    }
  }
}
