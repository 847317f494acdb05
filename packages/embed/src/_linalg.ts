import { createRng } from "@lowbit/bits";

/**
 * Symmetric eigen-decomposition in float64 for PCA:
 * 1. Householder reduction to tridiagonal form T = Qᵀ A Q (the classical tred2 reduction, reflectors
 *    kept instead of accumulating Q);
 * 2. all eigenvalues of T by the implicit QL iteration (tql1), sorted descending;
 * 3. only the wanted eigenvectors: inverse iteration on T (with Gram–Schmidt inside clusters of close
 *    eigenvalues, as LAPACK's dstein), then back-transformation through the reflectors.
 * Skipping the explicit Q and the QL rotations of all n vectors makes dim 1536 take seconds instead of
 * tens of seconds. The working matrix is kept transposed (row j holds the textbook's column j), so
 * inner loops walk contiguous memory.
 */

export interface SymmetricEigen {
  /** All n eigenvalues, largest first. */
  readonly values: Float64Array;
  /** count × n row-major: row i is the unit eigenvector of values[i]. */
  readonly vectors: Float64Array;
}

export interface EigenOptions {
  /** How many leading eigenvectors to compute, from the sorted eigenvalues (default: all n). */
  readonly count?: (values: Float64Array) => number;
  /** Called now and then (abort checks, progress). */
  readonly tick?: (done: number, total: number) => void;
}

/**
 * Eigenvalues (all) and leading eigenvectors of the symmetric n × n matrix `a` (row-major; only its
 * lower triangle is read). `a` is overwritten.
 */
export function symmetricEigen(a: Float64Array, n: number, options: EigenOptions = {}): SymmetricEigen {
  if (a.length !== n * n) throw new RangeError(`matrix must have n² = ${n * n} values, got ${a.length}`);
  const tick = options.tick;
  // Transposed working copy W = Aᵀ = A, from the lower triangle.
  const w = a;
  for (let i = 0; i < n; i++) for (let j = 0; j < i; j++) w[j * n + i] = w[i * n + j]!;
  const h = new Float64Array(n);
  const diag = new Float64Array(n);
  const off = new Float64Array(n); // off[i] couples i and i + 1
  tridiagonalize(w, n, h, diag, off, tick);
  const values = tridiagonalEigenvalues(diag, off, n);
  values.sort().reverse();
  const count = Math.max(0, Math.min(n, options.count?.(values) ?? n));
  const vectors = tridiagonalEigenvectors(diag, off, n, values, count);
  tick?.(n, 2 * n);
  backTransform(w, h, n, vectors, count);
  return { values, vectors };
}

/**
 * Householder reduction (tred2 without accumulation). On return: diag/off hold T; row i of w
 * (columns 0..i−1) holds the reflector u_i and h[i] its u·u / 2, so that P_i = I − u_i u_iᵀ / h_i
 * (identity when h_i = 0) and A = Q T Qᵀ with Q = P_{n−1} ⋯ P_1.
 */
function tridiagonalize(
  w: Float64Array,
  n: number,
  hs: Float64Array,
  diag: Float64Array,
  off: Float64Array,
  tick?: (done: number, total: number) => void,
): void {
  const d = new Float64Array(n);
  const e = new Float64Array(n);
  for (let j = 0; j < n; j++) d[j] = w[j * n + n - 1]!;
  for (let i = n - 1; i > 0; i--) {
    let scale = 0;
    let h = 0;
    for (let k = 0; k < i; k++) scale += Math.abs(d[k]!);
    if (scale === 0) {
      e[i] = d[i - 1]!;
      for (let j = 0; j < i; j++) {
        d[j] = w[j * n + i - 1]!;
        w[j * n + i] = 0;
        w[i * n + j] = 0;
      }
    } else {
      for (let k = 0; k < i; k++) {
        d[k] = d[k]! / scale;
        h += d[k]! * d[k]!;
      }
      let f = d[i - 1]!;
      let g = Math.sqrt(h);
      if (f > 0) g = -g;
      e[i] = scale * g;
      h -= f * g;
      d[i - 1] = f - g;
      for (let j = 0; j < i; j++) e[j] = 0;
      // p = A u over the active triangle (one pass: row dot products and column updates).
      for (let j = 0; j < i; j++) {
        f = d[j]!;
        w[i * n + j] = f;
        const row = j * n;
        // Two accumulators break the add-latency chain.
        let g0 = e[j]! + w[row + j]! * f;
        let g1 = 0;
        let k = j + 1;
        for (; k + 1 < i; k += 2) {
          const v0 = w[row + k]!;
          const v1 = w[row + k + 1]!;
          g0 += v0 * d[k]!;
          g1 += v1 * d[k + 1]!;
          e[k] = e[k]! + v0 * f;
          e[k + 1] = e[k + 1]! + v1 * f;
        }
        if (k < i) {
          const v = w[row + k]!;
          g0 += v * d[k]!;
          e[k] = e[k]! + v * f;
        }
        e[j] = g0 + g1;
      }
      f = 0;
      for (let j = 0; j < i; j++) {
        e[j] = e[j]! / h;
        f += e[j]! * d[j]!;
      }
      const hh = f / (h + h);
      for (let j = 0; j < i; j++) e[j] = e[j]! - hh * d[j]!;
      // Rank-2 update A −= u qᵀ + q uᵀ, loading the next row to reduce.
      for (let j = 0; j < i; j++) {
        f = d[j]!;
        g = e[j]!;
        const row = j * n;
        for (let k = j; k < i; k++) w[row + k] = w[row + k]! - (f * e[k]! + g * d[k]!);
        d[j] = w[row + i - 1]!;
        w[row + i] = 0;
      }
    }
    hs[i] = h;
    if (tick !== undefined && (i & 31) === 0) tick(n - i, 2 * n);
  }
  for (let i = 0; i < n; i++) diag[i] = w[i * n + i]!;
  for (let i = 0; i + 1 < n; i++) off[i] = e[i + 1]!;
  off[n - 1] = 0;
}

const EPS = 2 ** -52;

/** Eigenvalues of the symmetric tridiagonal (diag, off) by implicit QL (tql1). Inputs are not modified. */
function tridiagonalEigenvalues(diag: Float64Array, off: Float64Array, n: number): Float64Array {
  const d = diag.slice();
  const e = off.slice();
  let f = 0;
  let tst1 = 0;
  for (let l = 0; l < n; l++) {
    tst1 = Math.max(tst1, Math.abs(d[l]!) + Math.abs(e[l]!));
    let m = l;
    while (m < n - 1 && Math.abs(e[m]!) > EPS * tst1) m++;
    if (m > l) {
      let iter = 0;
      do {
        if (++iter > 100) throw new Error("symmetricEigen: QL iteration did not converge");
        let g = d[l]!;
        let p = (d[l + 1]! - g) / (2 * e[l]!);
        let r = Math.sqrt(p * p + 1);
        if (p < 0) r = -r;
        d[l] = e[l]! / (p + r);
        d[l + 1] = e[l]! * (p + r);
        const dl1 = d[l + 1]!;
        let h = g - d[l]!;
        for (let i = l + 2; i < n; i++) d[i] = d[i]! - h;
        f += h;
        p = d[m]!;
        let c = 1;
        let c2 = c;
        let c3 = c;
        const el1 = e[l + 1]!;
        let s = 0;
        let s2 = 0;
        for (let i = m - 1; i >= l; i--) {
          c3 = c2;
          c2 = c;
          s2 = s;
          g = c * e[i]!;
          h = c * p;
          r = Math.sqrt(p * p + e[i]! * e[i]!);
          e[i + 1] = s * r;
          s = e[i]! / r;
          c = p / r;
          p = c * d[i]! - s * g;
          d[i + 1] = h + s * (c * g + s * d[i]!);
        }
        p = (-s * s2 * c3 * el1 * e[l]!) / dl1;
        e[l] = s * p;
        d[l] = c * p;
      } while (Math.abs(e[l]!) > EPS * tst1);
    }
    d[l] = d[l]! + f;
    e[l] = 0;
  }
  return d;
}

/**
 * Eigenvectors of the tridiagonal for values[0..count) (descending) by inverse iteration: LU with
 * partial pivoting of T − λI, two solves from a seeded random start, Gram–Schmidt against the earlier
 * vectors of the same cluster (eigenvalues closer than 1e-9 ‖T‖), close eigenvalues nudged apart.
 */
function tridiagonalEigenvectors(
  diag: Float64Array,
  off: Float64Array,
  n: number,
  values: Float64Array,
  count: number,
): Float64Array {
  const out = new Float64Array(count * n);
  if (count === 0) return out;
  let tnorm = 0;
  for (let i = 0; i < n; i++) {
    const v = Math.abs(diag[i]!) + Math.abs(off[i]!) + (i > 0 ? Math.abs(off[i - 1]!) : 0);
    if (v > tnorm) tnorm = v;
  }
  if (tnorm === 0) {
    for (let r = 0; r < count; r++) out[r * n + r] = 1;
    return out;
  }
  // Two computed vectors are about ε‖T‖ / gap from orthogonal, so only eigenvalues closer than
  // 1e-9 ‖T‖ (products ≲ 2e-7, the rounding of the float32 basis) are orthogonalised against each
  // other. LAPACK's dstein uses 1e-3 ‖T‖, which turns the flat tail of a covariance spectrum into one
  // O(n·k²) cluster: 5× slower at dim 1536.
  const ortol = 1e-9 * tnorm;
  const pertol = 10 * EPS * tnorm;
  const tiny = EPS * tnorm;
  const dd = new Float64Array(n);
  const du = new Float64Array(n);
  const du2 = new Float64Array(n);
  const dl = new Float64Array(n);
  const piv = new Uint8Array(n);
  const rng = createRng(0x2545f491);
  let clusterStart = 0;
  let prevLambda = Number.POSITIVE_INFINITY;
  for (let r = 0; r < count; r++) {
    let lambda = values[r]!;
    if (r > 0 && values[r - 1]! - values[r]! > ortol) clusterStart = r;
    if (r > 0 && prevLambda - lambda < pertol) lambda = prevLambda - pertol;
    prevLambda = lambda;
    // LU of T − λI with partial pivoting (rows i, i+1 may swap): U has two super-diagonals.
    for (let i = 0; i < n; i++) {
      dd[i] = diag[i]! - lambda;
      du[i] = off[i]!;
      dl[i] = off[i]!;
      du2[i] = 0;
    }
    for (let i = 0; i < n - 1; i++) {
      if (Math.abs(dd[i]!) >= Math.abs(dl[i]!)) {
        piv[i] = 0;
        if (dd[i] === 0) dd[i] = tiny;
        const fact = dl[i]! / dd[i]!;
        dl[i] = fact;
        dd[i + 1] = dd[i + 1]! - fact * du[i]!;
      } else {
        piv[i] = 1;
        const fact = dd[i]! / dl[i]!;
        dd[i] = dl[i]!;
        dl[i] = fact;
        const temp = du[i]!;
        du[i] = dd[i + 1]!;
        dd[i + 1] = temp - fact * dd[i + 1]!;
        if (i < n - 2) {
          du2[i] = du[i + 1]!;
          du[i + 1] = -fact * du[i + 1]!;
        }
      }
    }
    if (Math.abs(dd[n - 1]!) < tiny) dd[n - 1] = dd[n - 1]! < 0 ? -tiny : tiny;
    for (let i = 0; i < n - 1; i++) if (Math.abs(dd[i]!) < tiny) dd[i] = dd[i]! < 0 ? -tiny : tiny;
    const x = out.subarray(r * n, r * n + n);
    for (let i = 0; i < n; i++) x[i] = rng.nextFloat() - 0.5;
    for (let it = 0; it < 3; it++) {
      normalize(x);
      // Forward: L, with the row swaps.
      for (let i = 0; i < n - 1; i++) {
        if (piv[i] === 0) x[i + 1] = x[i + 1]! - dl[i]! * x[i]!;
        else {
          const t = x[i]!;
          x[i] = x[i + 1]!;
          x[i + 1] = t - dl[i]! * x[i]!;
        }
      }
      // Backward: U.
      x[n - 1] = x[n - 1]! / dd[n - 1]!;
      if (n > 1) x[n - 2] = (x[n - 2]! - du[n - 2]! * x[n - 1]!) / dd[n - 2]!;
      for (let i = n - 3; i >= 0; i--) x[i] = (x[i]! - du[i]! * x[i + 1]! - du2[i]! * x[i + 2]!) / dd[i]!;
      // Orthogonalise against the cluster's earlier vectors (twice is enough, as Kahan says).
      if (it > 0) {
        for (let pass = 0; pass < 2; pass++) {
          for (let q = clusterStart; q < r; q++) {
            const y = out.subarray(q * n, q * n + n);
            let dot = 0;
            for (let i = 0; i < n; i++) dot += x[i]! * y[i]!;
            for (let i = 0; i < n; i++) x[i] = x[i]! - dot * y[i]!;
          }
          normalize(x);
        }
      }
    }
    normalize(x);
  }
  return out;
}

function normalize(x: Float64Array): void {
  let big = 0;
  for (let i = 0; i < x.length; i++) big = Math.max(big, Math.abs(x[i]!));
  if (big === 0 || !Number.isFinite(big)) {
    x.fill(0);
    x[0] = 1;
    return;
  }
  let s = 0;
  for (let i = 0; i < x.length; i++) {
    x[i] = x[i]! / big;
    s += x[i]! * x[i]!;
  }
  const inv = 1 / Math.sqrt(s);
  for (let i = 0; i < x.length; i++) x[i] = x[i]! * inv;
}

/** Vectors (count × n) ← Q · vectors: P_1 first, P_{n−1} last; two vectors per pass share the loads of u. */
function backTransform(
  w: Float64Array,
  hs: Float64Array,
  n: number,
  vectors: Float64Array,
  count: number,
): void {
  const TILE = 16;
  for (let r0 = 0; r0 < count; r0 += TILE) {
    const r1 = Math.min(count, r0 + TILE);
    for (let i = 1; i < n; i++) {
      const h = hs[i]!;
      if (h === 0) continue;
      const u = i * n;
      let r = r0;
      for (; r + 1 < r1; r += 2) {
        const va = r * n;
        const vb = va + n;
        let a0 = 0;
        let a1 = 0;
        let b0 = 0;
        let b1 = 0;
        let k = 0;
        for (; k + 1 < i; k += 2) {
          const u0 = w[u + k]!;
          const u1 = w[u + k + 1]!;
          a0 += u0 * vectors[va + k]!;
          a1 += u1 * vectors[va + k + 1]!;
          b0 += u0 * vectors[vb + k]!;
          b1 += u1 * vectors[vb + k + 1]!;
        }
        if (k < i) {
          a0 += w[u + k]! * vectors[va + k]!;
          b0 += w[u + k]! * vectors[vb + k]!;
        }
        const ga = (a0 + a1) / h;
        const gb = (b0 + b1) / h;
        for (k = 0; k < i; k++) {
          const uk = w[u + k]!;
          vectors[va + k] = vectors[va + k]! - ga * uk;
          vectors[vb + k] = vectors[vb + k]! - gb * uk;
        }
      }
      if (r < r1) {
        const v = r * n;
        let g0 = 0;
        let g1 = 0;
        let k = 0;
        for (; k + 1 < i; k += 2) {
          g0 += w[u + k]! * vectors[v + k]!;
          g1 += w[u + k + 1]! * vectors[v + k + 1]!;
        }
        if (k < i) g0 += w[u + k]! * vectors[v + k]!;
        const g = (g0 + g1) / h;
        for (k = 0; k < i; k++) vectors[v + k] = vectors[v + k]! - g * w[u + k]!;
      }
    }
  }
}
