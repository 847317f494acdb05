import {
  assertFloat32Array,
  assertInteger,
  createRng,
  describe,
  type Rng,
  throwIfAborted,
  type WorkContext,
} from "@lowbit/bits";
import { assignRange, assignWeightedCoords } from "./_assign.js";

/**
 * Parallel assignment step (see `createKmeansPool` in `@lowbit/vq/node`). It must produce exactly what
 * the built-in single-threaded step produces: labels (argmin, ties to the lower index) and squared
 * distances of every point.
 */
export interface KmeansAssigner {
  assign(
    data: Float32Array,
    n: number,
    d: number,
    centroids: Float32Array,
    cnorm: Float64Array,
    k: number,
    labels: Int32Array,
    dists: Float64Array,
  ): void;
}

export interface KmeansOptions {
  /** Number of clusters, 1 ≤ k ≤ number of points. */
  readonly k: number;
  /** Seed of the k-means++ draws and mini-batch samples (default 0). */
  readonly seed?: number;
  /** Lloyd iterations at most (default 25). */
  readonly maxIterations?: number;
  /** Stop when the relative inertia improvement of one iteration is below this (default 1e-4). */
  readonly tolerance?: number;
  /**
   * Sample weights: length n (one per point) or n·d (one per coordinate: the distance becomes
   * Σ_t w_t (x_t − c_t)² and centroids are per-coordinate weighted means). Non-negative, finite.
   */
  readonly weights?: Float32Array;
  /** Mini-batch size: 0 (default) = full Lloyd; otherwise each iteration updates from this many random points. */
  readonly batchSize?: number;
  /** Initial centroids [k, d] instead of k-means++ seeding. */
  readonly init?: Float32Array;
  /** A parallel assignment step (Node worker pool); not used with per-coordinate weights. */
  readonly assigner?: KmeansAssigner;
}

export interface KmeansResult {
  /** [k, d] row-major. */
  readonly centroids: Float32Array;
  /** Cluster of each point. */
  readonly labels: Int32Array;
  /** Σ weight · squared distance of each point to its centroid. */
  readonly inertia: number;
  /** Iterations run. */
  readonly iterations: number;
}

function centroidNorms(centroids: Float32Array, k: number, d: number, out: Float64Array): void {
  for (let c = 0; c < k; c++) {
    let s = 0;
    for (let t = 0; t < d; t++) s += centroids[c * d + t]! * centroids[c * d + t]!;
    out[c] = s;
  }
}

/** Squared (weighted) distance of point i to a centroid. */
function pointDist(
  data: Float32Array,
  w: Float32Array | null,
  perCoord: boolean,
  d: number,
  i: number,
  c: Float32Array,
  co: number,
): number {
  let s = 0;
  const xo = i * d;
  for (let t = 0; t < d; t++) {
    const diff = data[xo + t]! - c[co + t]!;
    s += perCoord ? w![xo + t]! * diff * diff : diff * diff;
  }
  return s;
}

function pickWeighted(rng: Rng, cum: Float64Array, n: number, total: number): number {
  const r = rng.nextFloat() * total;
  let lo = 0;
  let hi = n - 1;
  while (lo < hi) {
    const mid = (lo + hi) >>> 1;
    if (cum[mid]! > r) hi = mid;
    else lo = mid + 1;
  }
  return lo;
}

/** k-means++ (D² sampling, weighted by the per-point weight), from `rng`. */
function seedPlusPlus(
  data: Float32Array,
  w: Float32Array | null,
  perCoord: boolean,
  pw: Float64Array,
  n: number,
  d: number,
  k: number,
  rng: Rng,
  centroids: Float32Array,
  signal: WorkContext["signal"],
): void {
  // k-means++ seeding.
  const minD = new Float64Array(n).fill(Number.POSITIVE_INFINITY);
  const cum = new Float64Array(n);
  let total = 0;
  for (let i = 0; i < n; i++) {
    total += pw[i]!;
    cum[i] = total;
  }
  let first = total > 0 ? pickWeighted(rng, cum, n, total) : Math.min(n - 1, Math.floor(rng.nextFloat() * n));
  centroids.set(data.subarray(first * d, first * d + d), 0);
  for (let c = 1; c < k; c++) {
    const co = (c - 1) * d;
    total = 0;
    for (let i = 0; i < n; i++) {
      const dd = pointDist(data, w, perCoord, d, i, centroids, co);
      if (dd < minD[i]!) minD[i] = dd;
      total += pw[i]! * minD[i]!;
      cum[i] = total;
    }
    first = total > 0 ? pickWeighted(rng, cum, n, total) : Math.min(n - 1, Math.floor(rng.nextFloat() * n));
    centroids.set(data.subarray(first * d, first * d + d), c * d);
    if ((c & 63) === 0) throwIfAborted(signal);
  }
}

/**
 * k-means over n points of dimension d (`data` is [n, d] row-major float32): k-means++ seeding from
 * createRng(seed), Lloyd iterations (optionally weighted; float64 accumulators), empty clusters
 * re-seeded from the point with the largest error, early stop on relative inertia improvement,
 * optional mini-batch updates. Deterministic for a given seed (and any assigner that honours the
 * contract). Throws the signal's reason when aborted.
 */
export function kmeans(
  data: Float32Array,
  d: number,
  options: KmeansOptions,
  ctx?: WorkContext,
): KmeansResult {
  assertFloat32Array(data, "data");
  assertInteger(d, "d", 1, 1 << 20);
  if (data.length % d !== 0) throw new RangeError(`data length ${data.length} is not a multiple of d = ${d}`);
  const n = data.length / d;
  if (typeof options !== "object" || options === null)
    throw new TypeError(`options must be an object, got ${describe(options)}`);
  const k = options.k;
  if (typeof k !== "number" || !Number.isInteger(k))
    throw new TypeError(`options.k must be an integer, got ${describe(k)}`);
  if (k < 1 || k > n) throw new RangeError(`options.k must be in [1, number of points = ${n}], got ${k}`);
  const seed = options.seed ?? 0;
  if (typeof seed !== "number" || !Number.isInteger(seed))
    throw new TypeError(`options.seed must be an integer, got ${describe(seed)}`);
  const maxIt = options.maxIterations ?? 25;
  assertInteger(maxIt, "options.maxIterations", 0, 1_000_000);
  const tol = options.tolerance ?? 1e-4;
  if (typeof tol !== "number" || !(tol >= 0))
    throw new RangeError(`options.tolerance must be a number ≥ 0, got ${describe(tol)}`);
  const batch = options.batchSize ?? 0;
  assertInteger(batch, "options.batchSize", 0, Number.MAX_SAFE_INTEGER);
  const w = options.weights ?? null;
  if (w !== null) {
    assertFloat32Array(w, "options.weights");
    if (w.length !== n && w.length !== n * d) {
      throw new RangeError(
        `options.weights must have ${n} (per point) or ${n * d} (per coordinate) elements, got ${w.length}`,
      );
    }
    for (let i = 0; i < w.length; i++) {
      const v = w[i]!;
      if (!(v >= 0) || v === Number.POSITIVE_INFINITY)
        throw new RangeError(`options.weights[${i}] must be finite and ≥ 0, got ${describe(v)}`);
    }
  }
  const perCoord = w !== null && w.length === n * d && d > 1;
  for (let i = 0; i < data.length; i++) {
    const v = data[i]!;
    if (v - v !== 0) throw new RangeError(`data[${i}] must be finite, got ${describe(v)}`);
  }
  const signal = ctx?.signal;
  throwIfAborted(signal);
  // Per-point weight (for seeding, inertia and updates without per-coordinate weights).
  const pw = new Float64Array(n);
  if (w === null) pw.fill(1);
  else if (!perCoord) for (let i = 0; i < n; i++) pw[i] = w[i]!;
  else
    for (let i = 0; i < n; i++) {
      let s = 0;
      for (let t = 0; t < d; t++) s += w[i * d + t]!;
      pw[i] = s / d;
    }

  const rng = createRng(seed);
  const centroids = new Float32Array(k * d);
  const init = options.init;
  if (init !== undefined) {
    assertFloat32Array(init, "options.init");
    if (init.length !== k * d)
      throw new RangeError(`options.init must have k·d = ${k * d} elements, got ${init.length}`);
    centroids.set(init);
  } else seedPlusPlus(data, w, perCoord, pw, n, d, k, rng, centroids, signal);

  const labels = new Int32Array(n);
  const dists = new Float64Array(n);
  const cnorm = new Float64Array(k);
  const sums = new Float64Array(k * d);
  const wsum = new Float64Array(k * (perCoord ? d : 1));
  const assignAll = (): number => {
    if (perCoord) assignWeightedCoords(data, w!, d, centroids, k, 0, n, labels, dists);
    else {
      centroidNorms(centroids, k, d, cnorm);
      if (options.assigner) options.assigner.assign(data, n, d, centroids, cnorm, k, labels, dists);
      else assignRange(data, d, centroids, cnorm, k, 0, n, labels, dists);
    }
    let inertia = 0;
    for (let i = 0; i < n; i++) inertia += perCoord ? dists[i]! : pw[i]! * dists[i]!;
    return inertia;
  };

  let iterations = 0;
  let inertia = 0;
  if (batch > 0 && batch < n) {
    const counts = new Float64Array(k);
    const bl = new Int32Array(1);
    const bd = new Float64Array(1);
    const one = new Float32Array(d);
    for (let it = 0; it < maxIt; it++) {
      throwIfAborted(signal);
      centroidNorms(centroids, k, d, cnorm);
      for (let b = 0; b < batch; b++) {
        const i = Math.min(n - 1, Math.floor(rng.nextFloat() * n));
        one.set(data.subarray(i * d, i * d + d));
        if (perCoord) assignWeightedCoords(data, w!, d, centroids, k, i, i + 1, labels, dists);
        else {
          assignRange(one, d, centroids, cnorm, k, 0, 1, bl, bd);
          labels[i] = bl[0]!;
        }
        const c = labels[i]!;
        const wi = pw[i]!;
        if (wi <= 0) continue;
        counts[c] = counts[c]! + wi;
        const eta = wi / counts[c]!;
        for (let t = 0; t < d; t++) {
          const o = c * d + t;
          centroids[o] = centroids[o]! + eta * (data[i * d + t]! - centroids[o]!);
        }
      }
      iterations = it + 1;
      ctx?.onProgress?.(iterations, maxIt);
    }
    inertia = assignAll();
    return { centroids, labels, inertia, iterations };
  }

  let prev = Number.POSITIVE_INFINITY;
  let assigned = false;
  for (let it = 0; it < maxIt; it++) {
    throwIfAborted(signal);
    inertia = assignAll();
    assigned = true;
    if (prev !== Number.POSITIVE_INFINITY && prev - inertia <= tol * prev) break;
    prev = inertia;
    // Update.
    sums.fill(0);
    wsum.fill(0);
    for (let i = 0; i < n; i++) {
      const c = labels[i]!;
      if (perCoord) {
        for (let t = 0; t < d; t++) {
          const wt = w![i * d + t]!;
          sums[c * d + t] = sums[c * d + t]! + wt * data[i * d + t]!;
          wsum[c * d + t] = wsum[c * d + t]! + wt;
        }
      } else {
        const wi = pw[i]!;
        wsum[c] = wsum[c]! + wi;
        for (let t = 0; t < d; t++) sums[c * d + t] = sums[c * d + t]! + wi * data[i * d + t]!;
      }
    }
    for (let c = 0; c < k; c++) {
      let empty = true;
      for (let t = 0; t < (perCoord ? d : 1); t++) if (wsum[c * (perCoord ? d : 1) + t]! > 0) empty = false;
      if (empty) {
        // Re-seed from the point with the largest (weighted) error; zero it so the next empty cluster takes another.
        let bi = 0;
        let bv = -1;
        for (let i = 0; i < n; i++) {
          const e = perCoord ? dists[i]! : pw[i]! * dists[i]!;
          if (e > bv) {
            bv = e;
            bi = i;
          }
        }
        dists[bi] = 0;
        centroids.set(data.subarray(bi * d, bi * d + d), c * d);
        continue;
      }
      for (let t = 0; t < d; t++) {
        const ws = perCoord ? wsum[c * d + t]! : wsum[c]!;
        if (ws > 0) centroids[c * d + t] = sums[c * d + t]! / ws;
      }
    }
    assigned = false;
    iterations = it + 1;
    ctx?.onProgress?.(iterations, maxIt);
  }
  if (!assigned) inertia = assignAll();
  return { centroids, labels, inertia, iterations };
}
