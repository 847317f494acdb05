/**
 * The contracts of @lowbit/embed: codecs, the approximate-nearest-neighbour index that adapters
 * (e.g. @lowbit/hnsw) implement, and the collection. Scores are similarities: higher is better.
 */

/** How a collection compares vectors. `cosine` normalises vectors and queries, then uses `dot`. */
export type Metric = "cosine" | "dot" | "l2";

/** The space a codec scores in: `dot` = ⟨q, x̂⟩, `l2` = −‖q − x̂‖² (negated so higher is better). */
export type ScoreSpace = "dot" | "l2";

/** A float query prepared against one fitted codec (lookup tables built once per query). */
export interface QueryScorer {
  /** out[i − start] = score of the code of vector i, for i in [start, end). */
  scoreRange(codes: Uint8Array, start: number, end: number, out: Float32Array): void;
  /** Score of the code of vector i. */
  score(codes: Uint8Array, i: number): number;
}

/** Fitted state of a codec, for persistence: small JSON params plus float32 arrays. */
export interface CodecState {
  /** Canonical spec string, e.g. "pca:50+float8" (see createCodec). */
  readonly spec: string;
  /** Input dimension. */
  readonly dim: number;
  /** JSON-serialisable parameters (numbers, strings, booleans). */
  readonly params: Readonly<Record<string, number | string | boolean>>;
  /** Fitted arrays by name (PCA basis, PQ codebooks, per-dimension ranges, …). */
  readonly arrays: Readonly<Record<string, Float32Array>>;
}

export interface FitOptions {
  /** Seed for anything random in fitting (k-means++, sampling); default 0. */
  readonly seed?: number;
  readonly signal?: AbortSignal;
  readonly onProgress?: (done: number, total: number) => void;
}

/**
 * An embedding codec: float32 vectors of `dim` → fixed-size codes of `bytesPerVector` bytes.
 * Every codec must be fitted (`fit`) before encode/decode/prepare — for codecs without learned
 * parameters (float32, float16, bfloat16) fit only records the dimension.
 */
export interface EmbeddingCodec {
  /** Canonical spec string (createCodec(spec) builds an equal, unfitted codec). */
  readonly spec: string;
  /** Input dimension; 0 until fitted. */
  readonly dim: number;
  /** Bytes of one vector's code; 0 until fitted. */
  readonly bytesPerVector: number;
  /** Bytes of the fitted parameters (PCA basis, codebooks, ranges), stored once per collection. */
  readonly paramBytes: number;
  readonly fitted: boolean;
  /** Learns parameters from `sample` (n × dim row-major float32). Refitting replaces them. */
  fit(sample: Float32Array, dim: number, options?: FitOptions): void;
  /** Codes of n = vectors.length / dim vectors, n × bytesPerVector bytes. */
  encode(vectors: Float32Array, out?: Uint8Array): Uint8Array;
  /** Float32 reconstruction (in the input space, n × dim) of n = codes.length / bytesPerVector codes. */
  decode(codes: Uint8Array, out?: Float32Array): Float32Array;
  /** Asymmetric scoring: the float query (input space, length dim) against codes. */
  prepare(query: Float32Array, space: ScoreSpace): QueryScorer;
  /** The fitted state (throws if not fitted). */
  state(): CodecState;
}

/** One search hit of an index: labels are the collection's internal row numbers. */
export interface AnnResult {
  readonly labels: Int32Array;
  /** Similarity scores, higher is better, in the index's space (descending order). */
  readonly scores: Float32Array;
}

/** An approximate-nearest-neighbour index over float32 vectors (implemented by @lowbit/hnsw). */
export interface AnnIndex {
  readonly dim: number;
  /** Live (not removed) vectors. */
  readonly size: number;
  /** Adds or replaces the vector of `label` (a non-negative integer < 2^31). */
  add(label: number, vector: Float32Array): void;
  /** Removes `label`; later searches never return it. Unknown labels are ignored. */
  remove(label: number): void;
  /** Top k by similarity; `filter(label)` false excludes a label. Fewer than k when fewer exist. */
  search(
    query: Float32Array,
    k: number,
    options?: { ef?: number; filter?: (label: number) => boolean },
  ): AnnResult;
  /** Writes the index to `path` (the collection writes to a temporary name and renames). */
  save(path: string): Promise<void>;
  /** Estimated resident bytes (vectors + graph). */
  memoryBytes(): number;
}

/** Creates and loads indexes of one kind with fixed build options. */
export interface AnnIndexFactory {
  /** e.g. "hnsw". */
  readonly kind: string;
  /** Build options recorded in the collection header, e.g. { M: 16, efConstruction: 200, ef: 64 }. */
  readonly options: Readonly<Record<string, number>>;
  /** `space`: "dot" scores ⟨q, x⟩, "l2" scores −‖q − x‖². */
  create(dim: number, space: ScoreSpace, capacity: number): AnnIndex;
  load(path: string, dim: number, space: ScoreSpace): Promise<AnnIndex>;
}

/** A search hit returned by Collection.search. */
export interface SearchHit {
  readonly id: string;
  /** Similarity: cosine/dot similarity, or −squared L2 distance. Rescored hits carry the rescored value. */
  readonly score: number;
  readonly metadata?: unknown;
}

export interface SearchOptions {
  /**
   * Rescore the top k × rescore candidates with the rescoring representation (≥ 1; default: the
   * collection's factor); 0 = no rescoring (the resident codes' scores only).
   */
  readonly rescore?: number;
  /** HNSW search breadth (default: the index factory's `ef`). */
  readonly ef?: number;
  /** Keep only entries whose metadata passes: a function, or an object of equalities on top-level keys. */
  readonly filter?: ((metadata: unknown, id: string) => boolean) | Readonly<Record<string, unknown>>;
  /** Search path: "scan" (exact over codes) or "index" (ANN); default "index" when the collection has one. */
  readonly path?: "scan" | "index";
  /** Include metadata in hits (default true). */
  readonly withMetadata?: boolean;
}

/** Memory and disk accounting of a collection, per component, in bytes. */
export interface CollectionStats {
  readonly count: number;
  readonly dim: number;
  /**
   * Resident bytes per vector of the vectors themselves: codes, the in-memory rescore copy, the ANN
   * index and its labels, and the codec parameters amortised — the figure comparable with a vector
   * index's size (ids and metadata excluded; see `totalBytesPerVector`).
   */
  readonly bytesPerVector: number;
  /** bytesPerVector plus the ids and metadata held in memory (an estimate for JS strings/objects). */
  readonly totalBytesPerVector: number;
  readonly ram: Readonly<Record<string, number>>;
  /** On-disk bytes per component as of the last save (0 before any save). */
  readonly disk: Readonly<Record<string, number>>;
}
