import { assertFloat32Array, assertInteger, assertOptions, createRng, describe } from "@lowbit/bits";
import { createWorkspace, fit, inertia, prepare } from "./_kmeans.js";
import { bitsOfKey, createSortBuffers, keyOfBits, radixSort } from "./_sort.js";

export interface Kmeans1dOptions {
  /** Sample weights (≥ 0, finite), one per value. All zero counts as no weights. */
  readonly weights?: Float32Array | Float64Array;
  /** Seed of the k-means++ draws (`createRng(seed)` from @lowbit/bits). Default 0. */
  readonly seed?: number;
  /** Most Lloyd updates after k-means++; stops earlier when no value changes cluster. Default 300. */
  readonly iterations?: number;
}

export interface Kmeans1dResult {
  /** The k centres, ascending (repeated when there are fewer distinct values than k). */
  readonly centers: Float64Array;
  /** Lloyd updates made. */
  readonly iterations: number;
  /** Σ w·(x − nearest centre)². */
  readonly inertia: number;
}

/** Default cap on Lloyd updates (scikit-learn's `max_iter`). */
export const DEFAULT_ITERATIONS = 300;

/**
 * Weighted 1-D k-means: greedy k-means++ seeding (as scikit-learn) from `createRng(seed)`, then Lloyd
 * iterations on the sorted values with prefix sums, O(n log n) to sort plus O(k log n) per
 * iteration. Deterministic for a seed. This is the table learner of the any-N quantizers, exposed for
 * tests and for other one-dimensional codebooks.
 */
export function kmeans1d(values: Float32Array, k: number, options?: Kmeans1dOptions): Kmeans1dResult {
  assertFloat32Array(values, "values");
  assertInteger(k, "k", 1, 65536);
  assertOptions(options, "options");
  const seed = options?.seed ?? 0;
  if (typeof seed !== "number" || !Number.isSafeInteger(seed)) {
    throw new TypeError(`options.seed must be a safe integer, got ${describe(seed)}`);
  }
  const iterations = options?.iterations ?? DEFAULT_ITERATIONS;
  assertInteger(iterations, "options.iterations", 0, 1_000_000);
  const weights = options?.weights;
  const n = values.length;
  if (weights !== undefined) {
    if (!(weights instanceof Float32Array || weights instanceof Float64Array)) {
      throw new TypeError(`options.weights must be a Float32Array or Float64Array, got ${describe(weights)}`);
    }
    if (weights.length !== n) {
      throw new RangeError(`options.weights must have ${n} entries (one per value), got ${weights.length}`);
    }
    for (let i = 0; i < n; i++) {
      const w = weights[i]!;
      if (!(w >= 0 && w < Number.POSITIVE_INFINITY)) {
        throw new RangeError(`options.weights[${i}] must be finite and ≥ 0, got ${describe(w)}`);
      }
    }
  }
  const bits = new Uint32Array(values.buffer, values.byteOffset, n);
  const buf = createSortBuffers(n);
  for (let i = 0; i < n; i++) {
    const v = values[i]!;
    if (v - v !== 0) throw new RangeError(`values[${i}] must be finite, got ${describe(v)}`);
    buf.keys[i] = keyOfBits(bits[i]!);
    buf.index[i] = i;
  }
  radixSort(buf, n, weights !== undefined);
  const ws = createWorkspace(n, k);
  const f32 = new Float32Array(1);
  const u32 = new Uint32Array(f32.buffer);
  for (let i = 0; i < n; i++) {
    u32[0] = bitsOfKey(buf.keys[i]!);
    ws.xs[i] = f32[0]!;
  }
  let sortedWeights: Float64Array | null = null;
  if (weights !== undefined) {
    sortedWeights = new Float64Array(n);
    for (let i = 0; i < n; i++) sortedWeights[i] = weights[buf.index[i]!]!;
  }
  prepare(ws, n, sortedWeights);
  const centers = new Float64Array(k);
  const its = fit(ws, n, k, createRng(seed), iterations, centers);
  return { centers, iterations: its, inertia: n === 0 ? 0 : inertia(ws, k) };
}
