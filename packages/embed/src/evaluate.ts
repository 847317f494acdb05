import {
  type AbortLike,
  assertFloat32Array,
  assertInteger,
  assertOptions,
  describe,
  throwIfAborted,
} from "@lowbit/bits";
import type { CollectionStats, SearchHit, SearchOptions } from "./types.js";

/**
 * What `evaluate` needs of a collection (a `Collection` has all of it). Hit ids must be the base row
 * numbers as decimal strings ("0", "1", …): the row ids the ground truth refers to.
 */
export interface EvaluationTarget {
  readonly dim: number;
  readonly size: number;
  search(query: Float32Array, k: number, options?: SearchOptions): readonly SearchHit[];
  stats(): CollectionStats;
}

export interface EvaluateOptions {
  /** Hits asked per query (default 100, capped by the truth's columns); recall@K needs k ≥ K. */
  readonly k?: number;
  /** Rescoring factor passed to every search (SearchOptions.rescore). */
  readonly rescore?: number;
  /** HNSW search breadth passed to every search (SearchOptions.ef). */
  readonly ef?: number;
  /** "scan" or "index" (SearchOptions.path); default: the collection's default. */
  readonly path?: "scan" | "index";
  /** Untimed searches before the timed ones, to let the JIT settle; default min(10, queries). */
  readonly warmup?: number;
  /** Called after each query: (done, total). */
  readonly onProgress?: (done: number, total: number) => void;
  readonly signal?: AbortLike;
}

export interface EvaluationResult {
  /** Mean recall@1, @10, @100 (NaN when k or the truth's columns are below that K). */
  readonly recall1: number;
  readonly recall10: number;
  readonly recall100: number;
  /** Mean nDCG@10, binary relevance: a hit is relevant when it is among the true top 10. */
  readonly ndcg10: number;
  /** Queries per second over the search calls only (total queries / summed search time). */
  readonly qps: number;
  /** Median and 99th-percentile latency of one search, in milliseconds. */
  readonly latencyP50Ms: number;
  readonly latencyP99Ms: number;
  /** Seconds spent inside search calls. */
  readonly searchSeconds: number;
  /** Resident bytes per vector of the vectors (codes, rescore copy in memory, index; its stats()). */
  readonly bytesPerVector: number;
  /** bytesPerVector plus ids and metadata in memory (stats().totalBytesPerVector). */
  readonly totalBytesPerVector: number;
  /** The collection's resident memory per component (its stats().ram). */
  readonly ram: Readonly<Record<string, number>>;
  /** Number of queries evaluated. */
  readonly queries: number;
  /** Hits asked per query. */
  readonly k: number;
  /** Columns of the ground truth. */
  readonly truthK: number;
  /** Vectors in the collection. */
  readonly count: number;
}

/** Reads the ground-truth row `row` of `truth` (nq × cols) as a subarray, without copying. */
function truthRow(truth: Int32Array, cols: number, row: number): Int32Array {
  return truth.subarray(row * cols, (row + 1) * cols);
}

function checkRankArgs(
  retrieved: Int32Array | readonly number[],
  truth: Int32Array | readonly number[],
  k: number,
): void {
  if (!(retrieved instanceof Int32Array) && !Array.isArray(retrieved)) {
    throw new TypeError(`retrieved must be an Int32Array or an array of numbers, got ${describe(retrieved)}`);
  }
  if (!(truth instanceof Int32Array) && !Array.isArray(truth)) {
    throw new TypeError(`truth must be an Int32Array or an array of numbers, got ${describe(truth)}`);
  }
  assertInteger(k, "k", 1, 2 ** 31 - 1);
  if (truth.length < k)
    throw new RangeError(`truth has ${truth.length} ids; recall@${k} needs at least ${k}`);
}

/** How many of the first `k` retrieved ids are among the first `k` true ids (each true id counts once). */
function hitsAtK(
  retrieved: Int32Array | readonly number[],
  truth: Int32Array | readonly number[],
  k: number,
): Uint8Array {
  const n = Math.min(k, retrieved.length);
  const relevant = new Uint8Array(n);
  // k is small (≤ a few hundred): a quadratic match beats building a Set, and handles repeats.
  const used = new Uint8Array(k);
  for (let i = 0; i < n; i++) {
    const id = retrieved[i]!;
    for (let j = 0; j < k; j++) {
      if (used[j] === 0 && truth[j] === id) {
        used[j] = 1;
        relevant[i] = 1;
        break;
      }
    }
  }
  return relevant;
}

/**
 * recall@k = |first k retrieved ∩ first k true| / k. Fewer than k retrieved ids count the missing
 * ones as misses; an id retrieved twice counts once.
 */
export function recallAtK(
  retrieved: Int32Array | readonly number[],
  truth: Int32Array | readonly number[],
  k: number,
): number {
  checkRankArgs(retrieved, truth, k);
  const relevant = hitsAtK(retrieved, truth, k);
  let hits = 0;
  for (let i = 0; i < relevant.length; i++) hits += relevant[i]!;
  return hits / k;
}

/**
 * nDCG@k with binary relevance: retrieved position i (0-based) gains 1/log2(i + 2) when its id is
 * among the first k true ids; divided by the ideal gain Σ_{i<k} 1/log2(i + 2).
 */
export function ndcgAtK(
  retrieved: Int32Array | readonly number[],
  truth: Int32Array | readonly number[],
  k: number,
): number {
  checkRankArgs(retrieved, truth, k);
  const relevant = hitsAtK(retrieved, truth, k);
  let dcg = 0;
  let ideal = 0;
  for (let i = 0; i < k; i++) {
    const gain = 1 / Math.log2(i + 2);
    ideal += gain;
    if (i < relevant.length && relevant[i] === 1) dcg += gain;
  }
  return dcg / ideal;
}

/** A hit id as the base row number it stands for; anything else breaks the evaluation's contract. */
function rowOf(id: string): number {
  const n = Number(id);
  if (!Number.isInteger(n) || n < 0 || n > 2147483647 || String(n) !== id) {
    throw new RangeError(
      `evaluate: hit id ${JSON.stringify(id)} is not a row number; ids must be String(row)`,
    );
  }
  return n;
}

function percentile(sorted: Float64Array, p: number): number {
  if (sorted.length === 0) return Number.NaN;
  const i = Math.min(sorted.length - 1, Math.max(0, Math.ceil(p * sorted.length) - 1));
  return sorted[i]!;
}

/** One evaluation in progress: validated inputs, running sums; `step` searches one query. */
class EvaluationRun {
  readonly nq: number;
  private readonly dim: number;
  private readonly k: number;
  private readonly truthK: number;
  private readonly search: SearchOptions;
  private readonly recallSums = new Float64Array(3);
  private ndcgSum = 0;
  private readonly latencies: Float64Array;
  private readonly retrieved: Int32Array;
  private total = 0;
  private done = 0;

  constructor(
    private readonly collection: EvaluationTarget,
    private readonly queries: Float32Array,
    private readonly truth: Int32Array,
    private readonly options: EvaluateOptions,
  ) {
    if (typeof collection !== "object" || collection === null || typeof collection.search !== "function") {
      throw new TypeError(`collection must be a Collection, got ${describe(collection)}`);
    }
    assertFloat32Array(queries, "queries");
    if (!(truth instanceof Int32Array))
      throw new TypeError(`truth must be an Int32Array, got ${describe(truth)}`);
    assertOptions(options, "options");
    const dim = collection.dim;
    if (queries.length === 0 || queries.length % dim !== 0) {
      throw new RangeError(
        `queries must hold a whole, non-zero number of rows of dim ${dim}; got ${queries.length} values`,
      );
    }
    const nq = queries.length / dim;
    if (truth.length === 0 || truth.length % nq !== 0) {
      throw new RangeError(
        `truth must hold ${nq} rows (one per query) of equal length; got ${truth.length} ids`,
      );
    }
    const truthK = truth.length / nq;
    const k = options.k ?? Math.min(100, truthK);
    assertInteger(k, "options.k", 1, 100_000);
    if (k > truthK) throw new RangeError(`options.k is ${k}, but the truth has only ${truthK} ids per query`);
    const warmup = options.warmup ?? Math.min(10, nq);
    assertInteger(warmup, "options.warmup", 0, 1_000_000);
    if (options.onProgress !== undefined && typeof options.onProgress !== "function") {
      throw new TypeError(`options.onProgress must be a function, got ${describe(options.onProgress)}`);
    }
    const search: { -readonly [K in keyof SearchOptions]: SearchOptions[K] } = { withMetadata: false };
    if (options.rescore !== undefined) search.rescore = options.rescore;
    if (options.ef !== undefined) search.ef = options.ef;
    if (options.path !== undefined) search.path = options.path;
    this.nq = nq;
    this.dim = dim;
    this.k = k;
    this.truthK = truthK;
    this.search = search;
    this.latencies = new Float64Array(nq);
    this.retrieved = new Int32Array(k);
    for (let w = 0; w < warmup; w++) {
      collection.search(queries.subarray((w % nq) * dim, ((w % nq) + 1) * dim), k, search);
    }
  }

  /** Searches the next query and scores its hits; false when every query is done. */
  step(): boolean {
    const q = this.done;
    if (q >= this.nq) return false;
    throwIfAborted(this.options.signal);
    const dim = this.dim;
    const k = this.k;
    const retrieved = this.retrieved;
    const query = this.queries.subarray(q * dim, (q + 1) * dim);
    const t0 = performance.now();
    const hits = this.collection.search(query, k, this.search);
    const t = performance.now() - t0;
    this.latencies[q] = t;
    this.total += t;
    const n = Math.min(hits.length, k);
    for (let i = 0; i < n; i++) retrieved[i] = rowOf(hits[i]!.id);
    const got = retrieved.subarray(0, n);
    const row = truthRow(this.truth, this.truthK, q);
    for (let j = 0; j < RECALL_KS.length; j++) {
      const K = RECALL_KS[j]!;
      if (K <= k) this.recallSums[j] = this.recallSums[j]! + recallAtK(got, row, K);
    }
    if (k >= 10) this.ndcgSum += ndcgAtK(got, row, 10);
    this.done = q + 1;
    this.options.onProgress?.(this.done, this.nq);
    return this.done < this.nq;
  }

  result(): EvaluationResult {
    const nq = this.nq;
    const k = this.k;
    const total = this.total;
    const latencies = this.latencies.slice().sort();
    const stats = this.collection.stats();
    const mean = (sum: number, K: number) => (K <= k ? sum / nq : Number.NaN);
    return {
      recall1: mean(this.recallSums[0]!, 1),
      recall10: mean(this.recallSums[1]!, 10),
      recall100: mean(this.recallSums[2]!, 100),
      ndcg10: mean(this.ndcgSum, 10),
      qps: total > 0 ? nq / (total / 1000) : Number.POSITIVE_INFINITY,
      latencyP50Ms: percentile(latencies, 0.5),
      latencyP99Ms: percentile(latencies, 0.99),
      searchSeconds: total / 1000,
      bytesPerVector: stats.bytesPerVector,
      totalBytesPerVector: stats.totalBytesPerVector,
      ram: stats.ram,
      queries: nq,
      k,
      truthK: this.truthK,
      count: this.collection.size,
    };
  }
}

const RECALL_KS = [1, 10, 100] as const;

/**
 * Searches the collection with every query and scores the hits against the ground truth:
 * mean recall@1/10/100 and nDCG@10, queries per second (over the search calls only) and latency
 * percentiles, with the collection's resident bytes per vector. `queries` is nq × dim row-major;
 * `truth` is nq × truthK base row ids, best first (hit ids are read as row numbers, see
 * EvaluationTarget).
 */
export function evaluate(
  collection: EvaluationTarget,
  queries: Float32Array,
  truth: Int32Array,
  options: EvaluateOptions = {},
): EvaluationResult {
  const run = new EvaluationRun(collection, queries, truth, options);
  while (run.step()) {
    // every query
  }
  return run.result();
}

/**
 * `evaluate` that yields to the event loop about every `yieldMs` milliseconds (default 50), so a
 * progress display can redraw, timers run and an abort (e.g. Ctrl-C turned into an AbortSignal) is
 * noticed mid-run. Same results; the time spent yielding is not search time.
 */
export async function evaluateAsync(
  collection: EvaluationTarget,
  queries: Float32Array,
  truth: Int32Array,
  options: EvaluateOptions & { readonly yieldMs?: number } = {},
): Promise<EvaluationResult> {
  const { yieldMs = 50, ...rest } = options ?? {};
  if (typeof yieldMs !== "number" || !(yieldMs >= 0)) {
    throw new RangeError(`options.yieldMs must be a number >= 0, got ${describe(yieldMs)}`);
  }
  const run = new EvaluationRun(collection, queries, truth, rest);
  let last = performance.now();
  while (run.step()) {
    if (performance.now() - last >= yieldMs) {
      await new Promise<void>((resolve) => setTimeout(resolve, 0));
      last = performance.now();
    }
  }
  throwIfAborted(rest.signal);
  return run.result();
}
