/**
 * The contracts of @lowbit/store: the two injected interfaces (Compressor, Backend) and the shapes
 * of manifests, progress reports and statistics. Native code (zstd-napi, an S3 client) lives in
 * adapter packages (@lowbit/zstd, @lowbit/store-s3) that implement these interfaces.
 */

/** A byte compressor. `@lowbit/zstd`'s `zstdCompressor()` is the one the store is built for. */
export interface Compressor {
  /** Short name written into object headers, e.g. "zstd". */
  readonly name: string;
  /** The level used when `compress` gets none. */
  readonly defaultLevel: number;
  /** One complete frame (or a concatenation of frames) holding `data`. Synchronous. */
  compress(data: Uint8Array, level?: number): Uint8Array;
  /**
   * The bytes `compress` was given. Throws a LowbitError `ERR_CORRUPT` for bytes that are not a
   * valid frame sequence, and `ERR_LIMIT` when the content would exceed `maxSize` bytes (checked
   * before allocating where the frame header says the size).
   */
  decompress(data: Uint8Array, maxSize: number): Uint8Array;
  /** Off the calling thread (a worker pool) where the adapter has one; same results as the sync forms. */
  compressAsync?(data: Uint8Array, level?: number): Promise<Uint8Array>;
  decompressAsync?(data: Uint8Array, maxSize: number): Promise<Uint8Array>;
  /** Releases worker threads, if any. Idempotent. */
  close?(): Promise<void>;
}

/** One stored key as listed by a backend. */
export interface BackendEntry {
  readonly key: string;
  readonly size: number;
  /** Last modification, ms since the epoch (gc keeps young unreferenced objects: a live ingest may own them). */
  readonly mtimeMs: number;
}

/**
 * Where the store's bytes live. Keys are "/"-separated relative paths made of [a-z0-9._-] segments
 * (the store never passes anything else; a backend rejects other keys with a RangeError).
 * `put` is atomic: a reader sees the old value, the new value or nothing, never a partial one,
 * even after a kill -9 (filesystem: temp file + fsync + rename + directory fsync).
 */
export interface Backend {
  /** e.g. "fs:/path/to/store" or "s3://bucket/prefix"; for messages and stats. */
  readonly description: string;
  put(key: string, data: Uint8Array): Promise<void>;
  /** The whole value; LowbitError `ERR_NOT_FOUND` if absent. */
  get(key: string): Promise<Uint8Array>;
  /** Bytes [start, end) of the value; RangeError if the range is outside it; `ERR_NOT_FOUND` if absent. */
  getRange(key: string, start: number, end: number): Promise<Uint8Array>;
  /** Size in bytes, or undefined if absent. */
  stat(key: string): Promise<BackendEntry | undefined>;
  /** No error if absent. */
  delete(key: string): Promise<void>;
  /** Every key starting with `prefix` (a directory-like prefix ending in "/" or ""), any order. */
  list(prefix: string): AsyncIterable<BackendEntry>;
  /** Removes leftovers of interrupted puts older than `olderThanMs` (temp files); returns how many. */
  cleanup?(olderThanMs: number): Promise<number>;
}

/** How one stored part (a tensor, a header, a chunk) is encoded. */
export type PartCodec =
  /** The bytes as they are. */
  | "raw"
  /** zstd of the bytes (byte-plane split first for float tensors: see `planes`). */
  | "zstd"
  /** XOR with the base part, byte planes, zstd of each plane (ZipLLM's BitX, generalised to f16/f32). */
  | "xor"
  /** Ordered-integer difference from the base, byte planes, static rANS with the base's exponent as context. */
  | "delta"
  /** Lossy: base + per-row scale × sign(fine-tune − base) (BitDelta). */
  | "bitdelta"
  /** No base: byte planes coded with static rANS, each element's context the previous element's exponent. */
  | "rans";

/** One contiguous byte range of a file, backed by one object. */
export interface ManifestPart {
  /** Byte offset in the file. */
  readonly offset: number;
  readonly length: number;
  /** sha256 (hex) of the part's logical bytes, which is also its object id. */
  readonly object: string;
  /** The tensor this part holds, for safetensors tensors, with its dtype and shape. */
  readonly tensor?: string;
  readonly dtype?: string;
  readonly shape?: readonly number[];
}

export interface ManifestFile {
  /** Relative path inside the model, "/"-separated, no "..", no leading "/". */
  readonly path: string;
  readonly size: number;
  /** sha256 (hex) of the file a restore produces (of the lossy reconstruction for lossy files). */
  readonly sha256: string;
  /** "safetensors" (header + tensors), "chunked" (content-defined chunks) or "small" (one part). */
  readonly layout: "safetensors" | "chunked" | "small";
  readonly parts: readonly ManifestPart[];
  /** Present only for lossy files: the original's hash and each lossy tensor's relative error. */
  readonly lossy?: {
    readonly originalSha256: string;
    readonly method: "bitdelta";
    readonly tensors: Readonly<Record<string, { readonly relativeError: number }>>;
  };
}

export interface Manifest {
  readonly format: "lowbit-store-manifest";
  readonly version: 1;
  readonly name: string;
  /** The model whose tensors served as delta bases, if any. */
  readonly base: string | null;
  readonly createdAt: string;
  readonly files: readonly ManifestFile[];
  /** Σ file sizes. */
  readonly logicalBytes: number;
}

export type IngestPhase = "hash" | "match" | "encode" | "commit";

export interface IngestProgress {
  readonly phase: IngestPhase;
  /** The file being worked on, when there is one. */
  readonly file?: string;
  /** Raw bytes handled so far and in all (for the bar and the ETA). */
  readonly bytesDone: number;
  readonly bytesTotal: number;
}

export interface RestoreProgress {
  readonly file: string;
  readonly bytesDone: number;
  readonly bytesTotal: number;
}

export interface ModelStats {
  readonly name: string;
  readonly base: string | null;
  readonly files: number;
  /** Bytes a restore produces. */
  readonly logicalBytes: number;
  /**
   * Stored bytes attributed to this model: each object counted once, for the first model (in
   * creation order) that references it; objects shared with earlier models cost nothing here.
   */
  readonly storedBytes: number;
  /** storedBytes / logicalBytes. */
  readonly ratio: number;
}

export interface StoreStats {
  readonly models: readonly ModelStats[];
  readonly logicalBytes: number;
  /** Σ object sizes + manifests, as the backend lists them. */
  readonly storedBytes: number;
  readonly objects: number;
  readonly ratio: number;
  /** Stored bytes by part codec. */
  readonly byCodec: Readonly<
    Record<
      PartCodec,
      { readonly objects: number; readonly logicalBytes: number; readonly storedBytes: number }
    >
  >;
}

export interface VerifyProblem {
  /** The object id or the manifest/ref key. */
  readonly key: string;
  readonly problem: "missing" | "corrupt" | "hash-mismatch";
  readonly message: string;
  /** Models whose restore this breaks. */
  readonly models: readonly string[];
}

export interface VerifyReport {
  readonly ok: boolean;
  readonly objectsChecked: number;
  readonly bytesChecked: number;
  readonly problems: readonly VerifyProblem[];
}

export interface GcReport {
  readonly objectsRemoved: number;
  readonly bytesRemoved: number;
  readonly tempFilesRemoved: number;
}

/** A file handed to `ingest` by content instead of by path. */
export interface IngestFile {
  /** Relative path inside the model ("/"-separated; no "..", no leading "/"). */
  readonly path: string;
  readonly data: Uint8Array;
}

export interface IngestOptions {
  /** Model name: 1–200 chars of [A-Za-z0-9._-] with optional "/" between segments (e.g. "org/model"). */
  readonly name: string;
  /**
   * Delta base: a stored model's name; `null` = store without a base; undefined (default) = pick one
   * automatically (same tensor signature, lowest sampled bit distance), or none.
   */
  readonly base?: string | null;
  /** "bitdelta" stores tensors that have a base as 1-bit deltas (lossy; marked in the manifest). */
  readonly lossy?: "bitdelta";
  /** Replace an existing model of the same name (default false: ERR_CONFLICT). */
  readonly overwrite?: boolean;
  readonly onProgress?: (p: IngestProgress) => void;
  readonly signal?: AbortSignal;
}

export interface IngestResult {
  readonly name: string;
  readonly base: string | null;
  readonly manifest: Manifest;
  readonly logicalBytes: number;
  /** Bytes of new objects this ingest wrote (0 for a full duplicate). */
  readonly storedBytesAdded: number;
  /** Parts by how they were stored; "dedup" = already in the store. */
  readonly parts: Readonly<Record<PartCodec | "dedup", number>>;
  readonly seconds: number;
}

export interface RestoreOptions {
  /** Replace existing files in the output directory (default false: ERR_CONFLICT). */
  readonly overwrite?: boolean;
  readonly onProgress?: (p: RestoreProgress) => void;
  readonly signal?: AbortSignal;
}

export interface RestoreResult {
  readonly files: number;
  readonly bytes: number;
  readonly seconds: number;
}

export interface ModelSummary {
  readonly name: string;
  readonly base: string | null;
  readonly files: number;
  readonly logicalBytes: number;
  readonly createdAt: string;
  readonly lossy: boolean;
}

/** A stored file opened for reading (HTTP GET with Range maps onto `read`). */
export interface StoredFile {
  readonly path: string;
  readonly size: number;
  readonly sha256: string;
  /** Bytes [start, end); decodes only the parts that overlap. RangeError outside [0, size]. */
  read(start?: number, end?: number): Promise<Uint8Array>;
  /** The bytes [start, end) as a stream of part-sized chunks, each checked against its hash. */
  stream(start?: number, end?: number): AsyncIterable<Uint8Array>;
}

/**
 * The store. Create with `Store.init(dirOrBackend, options)` or `Store.open(dirOrBackend, options)`;
 * a string is a local directory (the filesystem backend).
 */
export interface StoreApi {
  ingest(
    input: string | readonly string[] | readonly IngestFile[],
    options: IngestOptions,
  ): Promise<IngestResult>;
  restore(name: string, outDir: string, options?: RestoreOptions): Promise<RestoreResult>;
  openFile(name: string, path: string): Promise<StoredFile>;
  list(): Promise<readonly ModelSummary[]>;
  manifest(name: string): Promise<Manifest>;
  remove(name: string): Promise<void>;
  stats(): Promise<StoreStats>;
  verify(options?: {
    onProgress?: (p: { objectsDone: number; objectsTotal: number }) => void;
    signal?: AbortSignal;
  }): Promise<VerifyReport>;
  /** Removes objects no manifest reaches and stale temp files older than graceMs (default 1 h). */
  gc(options?: { graceMs?: number }): Promise<GcReport>;
  close(): Promise<void>;
}
