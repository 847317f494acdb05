/// <reference types="node" />
import { mkdir, rename, stat } from "node:fs/promises";
import { join, resolve } from "node:path";
import {
  assertFloat32Array,
  assertInteger,
  assertOneOf,
  assertOptions,
  ConflictError,
  CorruptDataError,
  describe,
  LowbitError,
  NotFoundError,
  UnsupportedError,
} from "@lowbit/bits";
import { acquireLock, type DirLock } from "./_lock.js";
import {
  createGenerationDir,
  type FileSource,
  fsyncDir,
  fsyncFile,
  generationName,
  jsonBytes,
  listGenerations,
  RowFile,
  readCurrent,
  readExact,
  readJson,
  removeOtherGenerations,
  requireCurrent,
  writeCurrent,
  writeFileDurable,
} from "./_persist.js";
import { TopK } from "./_topk.js";
import { createCodec, restoreCodec } from "./codec.js";
import type {
  AnnIndex,
  AnnIndexFactory,
  CodecState,
  CollectionStats,
  EmbeddingCodec,
  Metric,
  QueryScorer,
  ScoreSpace,
  SearchHit,
  SearchOptions,
} from "./types.js";

/** Options of Collection.create. */
export interface CollectionOptions {
  /** Input dimension of every vector and query. */
  readonly dim: number;
  /** "cosine" (default: vectors and queries are L2-normalised, then compared by dot product), "dot" or "l2". */
  readonly metric?: Metric;
  /** Spec of the resident codes, e.g. "int8", "pq:12", "pca:0.5+float8" (see createCodec). */
  readonly codec: string;
  /** Spec of a more precise copy used to rescore candidates ("int8", "float16", "float32"), or null (default). */
  readonly rescore?: string | null;
  /** Where the rescore copy lives: "memory" (default) or "disk" (positioned reads of the saved file). */
  readonly rescoreStorage?: "memory" | "disk";
  /** Candidates per wanted hit when something rescores them (≥ 1, default 4). */
  readonly rescoreFactor?: number;
  /** An ANN index factory (e.g. hnswIndex() from @lowbit/hnsw), or null (default) for exact scans only. */
  readonly index?: AnnIndexFactory | null;
  /** The float view the ANN index stores: "full" (default) or transforms such as "pca:32", "trunc:64". */
  readonly indexView?: string;
  /** Fitting sample (n × dim); default: the first add() batch. */
  readonly train?: Float32Array;
}

/** Options of Collection.open. */
export interface OpenOptions {
  /** Factory of the saved index's kind; required when the collection has an index, unless readOnly. */
  readonly index?: AnnIndexFactory;
  /** Open without the writer lock; save() and modifications are refused. Default false. */
  readonly readOnly?: boolean;
  /** Overrides where the rescore copy lives for this session (default: as saved). */
  readonly rescoreStorage?: "memory" | "disk";
}

const FORMAT = "lowbit-collection";
const VERSION = 1;
const MAX_ID_LENGTH = 1024;
const MAX_ROWS = 2 ** 31 - 1;
const MAX_DIM = 1 << 20;
/** Rows scored per scoreRange call on the scan path. */
const SCAN_BLOCK = 4096;
/** Bytes copied per chunk when writing codes. */
const WRITE_CHUNK = 1 << 24;
const MAX_HEADER_BYTES = 64 << 20;
const MAX_JSON_BYTES = 2 ** 31 - 1;
const MAX_METADATA_DEPTH = 64;
const DEFAULT_RESCORE_FACTOR = 4;
const INDEX_FILE = "index.bin";

const CREATE_KEYS = new Set([
  "dim",
  "metric",
  "codec",
  "rescore",
  "rescoreStorage",
  "rescoreFactor",
  "index",
  "indexView",
  "train",
]);
const OPEN_KEYS = new Set(["index", "readOnly", "rescoreStorage"]);
const SEARCH_KEYS = new Set(["rescore", "ef", "filter", "path", "withMetadata"]);

function assertKnownKeys(options: object, known: Set<string>, name: string): void {
  for (const key of Object.keys(options)) {
    if (!known.has(key)) {
      throw new RangeError(`${name}.${key} is not an option; expected one of ${[...known].join(", ")}`);
    }
  }
}

function assertFactory(value: unknown, name: string): asserts value is AnnIndexFactory {
  const f = value as Partial<AnnIndexFactory> | null;
  if (
    typeof f !== "object" ||
    f === null ||
    typeof f.kind !== "string" ||
    typeof f.create !== "function" ||
    typeof f.load !== "function" ||
    typeof f.options !== "object" ||
    f.options === null
  ) {
    throw new TypeError(
      `${name} must be an AnnIndexFactory ({ kind, options, create, load }), got ${describe(value)}`,
    );
  }
}

function metricSpace(metric: Metric): ScoreSpace {
  return metric === "l2" ? "l2" : "dot";
}

/** A growable byte buffer view helper: returns `arr` or a larger copy holding at least `length` bytes. */
function growBytes(arr: Uint8Array, length: number): Uint8Array {
  if (arr.length >= length) return arr;
  const next = new Uint8Array(Math.max(length, arr.length * 2, 1024));
  next.set(arr);
  return next;
}

function growInt32(arr: Int32Array, length: number, fill: number): Int32Array {
  if (arr.length >= length) return arr;
  const next = new Int32Array(Math.max(length, arr.length * 2, 1024));
  next.set(arr);
  if (fill !== 0) next.fill(fill, arr.length);
  return next;
}

/** Rough resident bytes of one id string (V8: header + chars) plus its Map entry and array slot. */
function idBytes(id: string): number {
  let wide = false;
  for (let i = 0; i < id.length; i++) {
    if (id.charCodeAt(i) > 0xff) {
      wide = true;
      break;
    }
  }
  return 56 + (wide ? 2 : 1) * id.length;
}

/** Rough resident bytes of parsed metadata from its JSON text length. */
function metadataBytes(jsonLength: number): number {
  return 16 + 2 * jsonLength;
}

/**
 * A deep, frozen copy of a JSON value, or a TypeError naming the path of the first part JSON cannot
 * represent exactly (functions, symbols, bigint, undefined, non-finite numbers, class instances such as
 * Date or Map, cycles).
 */
function copyJson(value: unknown, path: string, depth: number, seen: Set<object>): unknown {
  if (value === null || typeof value === "string" || typeof value === "boolean") return value;
  if (typeof value === "number") {
    if (Number.isFinite(value)) return value;
    throw new TypeError(`${path} must be JSON-serialisable: ${describe(value)} is not a finite number`);
  }
  if (typeof value !== "object") {
    throw new TypeError(`${path} must be JSON-serialisable, got ${describe(value)}`);
  }
  if (depth > MAX_METADATA_DEPTH) {
    throw new TypeError(`${path} must be JSON-serialisable: nested deeper than ${MAX_METADATA_DEPTH} levels`);
  }
  if (seen.has(value)) throw new TypeError(`${path} must be JSON-serialisable: it refers to itself (cycle)`);
  seen.add(value);
  let out: unknown;
  if (Array.isArray(value)) {
    const arr: unknown[] = new Array(value.length);
    for (let i = 0; i < value.length; i++) arr[i] = copyJson(value[i], `${path}[${i}]`, depth + 1, seen);
    out = Object.freeze(arr);
  } else {
    const proto = Object.getPrototypeOf(value);
    if (proto !== Object.prototype && proto !== null) {
      throw new TypeError(`${path} must be JSON-serialisable: a plain object, got ${describe(value)}`);
    }
    if (Object.getOwnPropertySymbols(value).length > 0) {
      throw new TypeError(`${path} must be JSON-serialisable: it has symbol keys`);
    }
    const obj: Record<string, unknown> = {};
    for (const key of Object.keys(value)) {
      obj[key] = copyJson((value as Record<string, unknown>)[key], `${path}.${key}`, depth + 1, seen);
    }
    out = Object.freeze(obj);
  }
  seen.delete(value);
  return out;
}

/** Structural equality of JSON values (metadata filters). */
function jsonEqual(a: unknown, b: unknown): boolean {
  if (a === b) return true;
  if (typeof a !== "object" || typeof b !== "object" || a === null || b === null) return false;
  if (Array.isArray(a)) {
    if (!Array.isArray(b) || a.length !== b.length) return false;
    for (let i = 0; i < a.length; i++) if (!jsonEqual(a[i], b[i])) return false;
    return true;
  }
  if (Array.isArray(b)) return false;
  const ka = Object.keys(a);
  if (ka.length !== Object.keys(b).length) return false;
  for (const k of ka) {
    if (
      !Object.hasOwn(b, k) ||
      !jsonEqual((a as Record<string, unknown>)[k], (b as Record<string, unknown>)[k])
    ) {
      return false;
    }
  }
  return true;
}

function assertId(id: unknown, name: string): asserts id is string {
  if (typeof id !== "string") throw new TypeError(`${name} must be a string, got ${describe(id)}`);
  if (id.length === 0 || id.length > MAX_ID_LENGTH) {
    throw new RangeError(
      `${name} must be a non-empty string of at most ${MAX_ID_LENGTH} characters, got length ${id.length}`,
    );
  }
}

function idList(ids: unknown, name: string): string[] {
  if (typeof ids === "string") {
    assertId(ids, name);
    return [ids];
  }
  if (!Array.isArray(ids))
    throw new TypeError(`${name} must be a string or an array of strings, got ${describe(ids)}`);
  for (let i = 0; i < ids.length; i++) assertId(ids[i], `${name}[${i}]`);
  return ids as string[];
}

/** Throws a RangeError naming the row and column of the first non-finite value. */
function assertFinite(data: Float32Array, dim: number, name: string): void {
  for (let i = 0; i < data.length; i++) {
    const v = data[i]!;
    if (v - v !== 0) {
      const row = Math.floor(i / dim);
      throw new RangeError(`${name} must be finite: row ${row}, index ${i - row * dim} is ${describe(v)}`);
    }
  }
}

/** Copies rows and L2-normalises each (zero rows stay zero). */
function normalizedRows(src: Float32Array, dim: number): Float32Array {
  const out = new Float32Array(src.length);
  for (let o = 0; o < src.length; o += dim) {
    let s = 0;
    for (let t = 0; t < dim; t++) s += src[o + t]! * src[o + t]!;
    if (s > 0) {
      const inv = 1 / Math.sqrt(s);
      for (let t = 0; t < dim; t++) out[o + t] = src[o + t]! * inv;
    }
  }
  return out;
}

function f32ViewOf(bytes: Uint8Array): Float32Array {
  // Codes come from fresh allocations (byteOffset 0); copy where a view cannot be made.
  if (bytes.byteOffset % 4 === 0) return new Float32Array(bytes.buffer, bytes.byteOffset, bytes.length >>> 2);
  return new Float32Array(bytes.slice().buffer);
}

const LITTLE_ENDIAN = new Uint8Array(new Uint16Array([1]).buffer)[0] === 1;

function float32Bytes(values: Float32Array): Uint8Array {
  if (LITTLE_ENDIAN) return new Uint8Array(values.buffer, values.byteOffset, values.byteLength);
  const out = new Uint8Array(values.length * 4);
  const dv = new DataView(out.buffer);
  for (let i = 0; i < values.length; i++) dv.setFloat32(4 * i, values[i]!, true);
  return out;
}

function int32Bytes(values: Int32Array): Uint8Array {
  if (LITTLE_ENDIAN) return new Uint8Array(values.buffer, values.byteOffset, values.byteLength);
  const out = new Uint8Array(values.length * 4);
  const dv = new DataView(out.buffer);
  for (let i = 0; i < values.length; i++) dv.setInt32(4 * i, values[i]!, true);
  return out;
}

function readFloat32LE(bytes: Uint8Array, byteOffset: number, length: number): Float32Array {
  const out = new Float32Array(length);
  const dv = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  for (let i = 0; i < length; i++) out[i] = dv.getFloat32(byteOffset + 4 * i, true);
  return out;
}

function readInt32LE(bytes: Uint8Array): Int32Array {
  const n = bytes.length >>> 2;
  const out = new Int32Array(n);
  const dv = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  for (let i = 0; i < n; i++) out[i] = dv.getInt32(4 * i, true);
  return out;
}

/** The persisted description of one codec: spec and JSON params; arrays live in codec-arrays.bin. */
interface CodecHeader {
  readonly spec: string;
  readonly fitted: boolean;
  readonly dim?: number;
  readonly bytesPerVector?: number;
  readonly params?: Record<string, number | string | boolean>;
  readonly arrays?: { name: string; offset: number; length: number }[];
}

interface Header {
  readonly format: string;
  readonly version: number;
  readonly generation: number;
  readonly dim: number;
  readonly metric: Metric;
  readonly count: number;
  readonly codec: CodecHeader;
  readonly rescore: (CodecHeader & { readonly storage: "memory" | "disk" }) | null;
  readonly rescoreFactor: number;
  readonly index: {
    readonly kind: string;
    readonly options: Record<string, number>;
    readonly space: ScoreSpace;
    readonly view: string;
    readonly viewCodec: CodecHeader | null;
    readonly dim: number;
    readonly nextLabel: number;
    readonly built: boolean;
  } | null;
  readonly metadataRows: number;
  readonly files: Record<string, number>;
}

/** Collects the float32 arrays of several codec states into one buffer with a name/offset table. */
class ArrayPack {
  private readonly parts: Float32Array[] = [];
  private offset = 0;

  add(state: CodecState): { name: string; offset: number; length: number }[] {
    const table: { name: string; offset: number; length: number }[] = [];
    for (const name of Object.keys(state.arrays).sort()) {
      const a = state.arrays[name]!;
      table.push({ name, offset: this.offset, length: a.length });
      this.parts.push(a);
      this.offset += a.length * 4;
    }
    return table;
  }

  bytes(): Uint8Array {
    const out = new Uint8Array(this.offset);
    let o = 0;
    for (const p of this.parts) {
      out.set(float32Bytes(p), o);
      o += p.length * 4;
    }
    return out;
  }
}

function codecHeader(codec: EmbeddingCodec, pack: ArrayPack): CodecHeader {
  if (!codec.fitted) return { spec: codec.spec, fitted: false };
  const state = codec.state();
  return {
    spec: state.spec,
    fitted: true,
    dim: state.dim,
    bytesPerVector: codec.bytesPerVector,
    params: { ...state.params },
    arrays: pack.add(state),
  };
}

// ---- header validation: every malformed field is a CorruptDataError naming it ----

function corrupt(where: string, what: string, got: unknown): CorruptDataError {
  return new CorruptDataError(`${where}: ${what}, got ${describe(got)}`);
}

function hInt(o: Record<string, unknown>, key: string, min: number, max: number, where: string): number {
  const v = o[key];
  if (typeof v !== "number" || !Number.isInteger(v) || v < min || v > max) {
    throw corrupt(where, `"${key}" must be an integer in [${min}, ${max}]`, v);
  }
  return v;
}

function hStr(o: Record<string, unknown>, key: string, where: string): string {
  const v = o[key];
  if (typeof v !== "string") throw corrupt(where, `"${key}" must be a string`, v);
  return v;
}

function hObj(
  o: Record<string, unknown>,
  key: string,
  where: string,
  nullable: true,
): Record<string, unknown> | null;
function hObj(
  o: Record<string, unknown>,
  key: string,
  where: string,
  nullable?: false,
): Record<string, unknown>;
function hObj(
  o: Record<string, unknown>,
  key: string,
  where: string,
  nullable = false,
): Record<string, unknown> | null {
  const v = o[key];
  if (v === null && nullable) return null;
  if (typeof v !== "object" || v === null || Array.isArray(v))
    throw corrupt(where, `"${key}" must be an object`, v);
  return v as Record<string, unknown>;
}

function restoreFromHeader(h: Record<string, unknown>, arrays: Uint8Array, where: string): EmbeddingCodec {
  const spec = hStr(h, "spec", where);
  if (h["fitted"] !== true) {
    try {
      return createCodec(spec);
    } catch (err) {
      throw new CorruptDataError(`${where}: bad codec spec ${JSON.stringify(spec)}`, { cause: err });
    }
  }
  const dim = hInt(h, "dim", 1, MAX_DIM, where);
  const bpv = hInt(h, "bytesPerVector", 1, 2 ** 31 - 1, where);
  const params = hObj(h, "params", where);
  for (const [k, v] of Object.entries(params)) {
    if (typeof v !== "number" && typeof v !== "string" && typeof v !== "boolean") {
      throw corrupt(where, `params.${k} must be a number, string or boolean`, v);
    }
  }
  const table = h["arrays"];
  if (!Array.isArray(table)) throw corrupt(where, `"arrays" must be an array`, table);
  const out: Record<string, Float32Array> = {};
  for (const entry of table as unknown[]) {
    if (typeof entry !== "object" || entry === null)
      throw corrupt(where, "arrays[] entries must be objects", entry);
    const e = entry as Record<string, unknown>;
    const name = hStr(e, "name", where);
    const offset = hInt(e, "offset", 0, arrays.length, where);
    const length = hInt(e, "length", 0, arrays.length, where);
    if (offset % 4 !== 0 || offset + 4 * length > arrays.length) {
      throw new CorruptDataError(
        `${where}: array ${JSON.stringify(name)} [${offset}, +${4 * length}) lies outside codec-arrays.bin (${arrays.length} bytes)`,
      );
    }
    out[name] = readFloat32LE(arrays, offset, length);
  }
  let codec: EmbeddingCodec;
  try {
    codec = restoreCodec({
      spec,
      dim,
      params: params as Record<string, number | string | boolean>,
      arrays: out,
    });
  } catch (err) {
    if (err instanceof LowbitError) throw err;
    throw new CorruptDataError(
      `${where}: cannot restore codec ${JSON.stringify(spec)}: ${(err as Error).message}`,
      {
        cause: err,
      },
    );
  }
  if (codec.bytesPerVector !== bpv) {
    throw new CorruptDataError(
      `${where}: codec ${spec} has ${codec.bytesPerVector} bytes per vector, the header says ${bpv}`,
    );
  }
  return codec;
}

interface Init {
  readonly dim: number;
  readonly metric: Metric;
  readonly codec: EmbeddingCodec;
  readonly rescoreCodec: EmbeddingCodec | null;
  readonly rescoreStorage: "memory" | "disk";
  readonly rescoreFactor: number;
  readonly factory: AnnIndexFactory | null;
  readonly view: string;
  readonly viewCodec: EmbeddingCodec | null;
}

/**
 * A compressed, searchable set of embeddings with string ids and JSON metadata. Vectors are stored as
 * codes of one codec (resident in memory), optionally with a more precise rescore copy (in memory or
 * read from disk) and an approximate-nearest-neighbour index. Scores are similarities (higher is
 * better): cosine/dot similarity, or −squared L2 distance.
 */
export class Collection {
  readonly dim: number;
  readonly metric: Metric;
  private readonly space: ScoreSpace;
  private readonly codec: EmbeddingCodec;
  private readonly rescoreCodec: EmbeddingCodec | null;
  private rescoreStorage: "memory" | "disk";
  private readonly rescoreFactor: number;
  private readonly factory: AnnIndexFactory | null;
  private readonly view: string;
  private readonly viewCodec: EmbeddingCodec | null;
  private ann: AnnIndex | null = null;

  /** Rows including tombstones; rows [0, rows) are valid in every per-row array. */
  private rows = 0;
  private live = 0;
  private codes: Uint8Array = new Uint8Array(0);
  private dead: Uint8Array = new Uint8Array(0);
  private ids: (string | null)[] = [];
  private metas: unknown[] = [];
  private readonly idRow = new Map<string, number>();
  /** Index label of each row, and the row of each label (−1: none); only with an index. */
  private labels: Int32Array = new Int32Array(0);
  private labelRow: Int32Array = new Int32Array(0);
  private nextLabel = 0;
  /** Rescore codes: every row ("memory"), or rows ≥ diskRows ("disk"). */
  private rcodes: Uint8Array = new Uint8Array(0);
  private rfile: RowFile | null = null;
  private diskRows = 0;
  /** "disk": replaced rescore rows of rows < diskRows, until the next save. */
  private readonly roverride = new Map<number, Uint8Array>();
  private idTotal = 0;
  private metaTotal = 0;
  private metaCount = 0;

  private home: string | null = null;
  private lock: DirLock | null = null;
  private generation = 0;
  private diskBytes: Record<string, number> = {};
  private readOnly = false;
  private closed = false;
  private saving: Promise<void> | null = null;

  private constructor(init: Init) {
    this.dim = init.dim;
    this.metric = init.metric;
    this.space = metricSpace(init.metric);
    this.codec = init.codec;
    this.rescoreCodec = init.rescoreCodec;
    this.rescoreStorage = init.rescoreStorage;
    this.rescoreFactor = init.rescoreFactor;
    this.factory = init.factory;
    this.view = init.view;
    this.viewCodec = init.viewCodec;
  }

  /** Canonical spec of the resident codes. */
  get codecSpec(): string {
    return this.codec.spec;
  }

  /** Live (not deleted) vectors. */
  get size(): number {
    return this.live;
  }

  /** A new, empty collection (fitted now when `train` is given, else on the first add). */
  static create(options: CollectionOptions): Collection {
    assertOptions(options, "options");
    if (options === undefined) throw new TypeError("options must be an options object, got undefined");
    assertKnownKeys(options, CREATE_KEYS, "options");
    assertInteger(options.dim, "options.dim", 1, MAX_DIM);
    const metric = options.metric ?? "cosine";
    assertOneOf(metric, ["cosine", "dot", "l2"] as const, "options.metric");
    if (typeof options.codec !== "string") {
      throw new TypeError(
        `options.codec must be a codec spec string (e.g. "int8"), got ${describe(options.codec)}`,
      );
    }
    const codec = createCodec(options.codec);
    const rescoreSpec = options.rescore ?? null;
    if (rescoreSpec !== null && typeof rescoreSpec !== "string") {
      throw new TypeError(
        `options.rescore must be a codec spec string or null, got ${describe(rescoreSpec)}`,
      );
    }
    const rescoreCodec = rescoreSpec === null ? null : createCodec(rescoreSpec);
    const rescoreStorage = options.rescoreStorage ?? "memory";
    assertOneOf(rescoreStorage, ["memory", "disk"] as const, "options.rescoreStorage");
    if (rescoreStorage === "disk" && rescoreCodec === null) {
      throw new RangeError(
        `options.rescoreStorage "disk" needs options.rescore (a rescore copy to keep on disk)`,
      );
    }
    const rescoreFactor = options.rescoreFactor ?? DEFAULT_RESCORE_FACTOR;
    if (typeof rescoreFactor !== "number") {
      throw new TypeError(`options.rescoreFactor must be a number ≥ 1, got ${describe(rescoreFactor)}`);
    }
    if (!(rescoreFactor >= 1 && rescoreFactor <= 1e6)) {
      throw new RangeError(
        `options.rescoreFactor must be a number in [1, 1e6], got ${describe(rescoreFactor)}`,
      );
    }
    const factory = options.index ?? null;
    if (factory !== null) assertFactory(factory, "options.index");
    const view = options.indexView ?? "full";
    if (typeof view !== "string")
      throw new TypeError(`options.indexView must be a string, got ${describe(view)}`);
    if (view !== "full" && factory === null) {
      throw new RangeError(
        `options.indexView ${JSON.stringify(view)} needs options.index (an ANN index factory)`,
      );
    }
    const viewCodec = view === "full" ? null : viewCodecOf(view, "options.indexView");
    const c = new Collection({
      dim: options.dim,
      metric,
      codec,
      rescoreCodec,
      rescoreStorage,
      rescoreFactor,
      factory,
      view: viewCodec === null ? "full" : view,
      viewCodec,
    });
    if (options.train !== undefined) {
      assertFloat32Array(options.train, "options.train");
      if (options.train.length === 0 || options.train.length % options.dim !== 0) {
        throw new RangeError(
          `options.train must hold n ≥ 1 rows of dim = ${options.dim}: length ${options.train.length} is not a positive multiple`,
        );
      }
      assertFinite(options.train, options.dim, "options.train");
      c.fit(c.prepareRows(options.train));
    }
    return c;
  }

  /**
   * Opens a saved collection. Writers take `dir/LOCK` (LowbitError "ERR_LOCKED" when a live process holds
   * it); `readOnly` opens take no lock. A newer format version is an UnsupportedError ("ERR_UNSUPPORTED"),
   * missing or mis-sized files a CorruptDataError ("ERR_CORRUPT").
   */
  static async open(dir: string, options?: OpenOptions): Promise<Collection> {
    if (typeof dir !== "string" || dir.length === 0)
      throw new TypeError(`dir must be a folder path, got ${describe(dir)}`);
    assertOptions(options, "options");
    const opts = options ?? {};
    assertKnownKeys(opts, OPEN_KEYS, "options");
    if (opts.index !== undefined) assertFactory(opts.index, "options.index");
    const readOnly = opts.readOnly ?? false;
    if (typeof readOnly !== "boolean")
      throw new TypeError(`options.readOnly must be a boolean, got ${describe(readOnly)}`);
    if (opts.rescoreStorage !== undefined) {
      assertOneOf(opts.rescoreStorage, ["memory", "disk"] as const, "options.rescoreStorage");
    }
    const root = resolve(dir);
    const st = await stat(root).catch(() => null);
    if (st === null || !st.isDirectory())
      throw new NotFoundError(`no collection folder at ${JSON.stringify(root)}`);
    const lock = readOnly ? null : acquireLock(root);
    try {
      // A reader may race a writer that replaces the generation it is reading: retry on a moved CURRENT.
      for (let attempt = 0; ; attempt++) {
        const gen = await requireCurrent(root);
        try {
          const c = await Collection.load(root, gen, opts, readOnly);
          c.lock = lock;
          return c;
        } catch (err) {
          if (attempt < 3 && (await readCurrent(root).catch(() => null)) !== gen) continue;
          throw err;
        }
      }
    } catch (err) {
      lock?.release();
      throw err;
    }
  }

  private static async load(
    root: string,
    gen: string,
    opts: OpenOptions,
    readOnly: boolean,
  ): Promise<Collection> {
    const gdir = join(root, gen);
    const where = join(gdir, "header.json");
    const raw = await readJson(where, MAX_HEADER_BYTES);
    if (typeof raw !== "object" || raw === null || Array.isArray(raw))
      throw corrupt(where, "must be a JSON object", raw);
    const h = raw as Record<string, unknown>;
    if (h["format"] !== FORMAT) throw corrupt(where, `"format" must be "${FORMAT}"`, h["format"]);
    const version = h["version"];
    if (typeof version !== "number" || !Number.isInteger(version) || version < 1) {
      throw corrupt(where, `"version" must be a positive integer`, version);
    }
    if (version > VERSION) {
      throw new UnsupportedError(
        `${where}: collection format version ${version} is newer than this library reads (${VERSION}); upgrade @lowbit/embed`,
      );
    }
    const dim = hInt(h, "dim", 1, MAX_DIM, where);
    const metric = h["metric"];
    if (metric !== "cosine" && metric !== "dot" && metric !== "l2") {
      throw corrupt(where, `"metric" must be "cosine" | "dot" | "l2"`, metric);
    }
    const count = hInt(h, "count", 0, MAX_ROWS, where);
    const generation = hInt(h, "generation", 1, Number.MAX_SAFE_INTEGER, where);
    const files = hObj(h, "files", where);
    const fileSize = (name: string): number =>
      hInt(files, name, 0, Number.MAX_SAFE_INTEGER, `${where} files`);
    const hasFile = (name: string): boolean => Object.hasOwn(files, name);
    const rescoreFactor = h["rescoreFactor"];
    if (typeof rescoreFactor !== "number" || !(rescoreFactor >= 1 && rescoreFactor <= 1e6)) {
      throw corrupt(where, `"rescoreFactor" must be a number in [1, 1e6]`, rescoreFactor);
    }
    const metadataRows = hInt(h, "metadataRows", 0, count, where);

    const arrays = hasFile("codec-arrays.bin")
      ? await readExact(join(gdir, "codec-arrays.bin"), fileSize("codec-arrays.bin"))
      : new Uint8Array(0);
    const codec = restoreFromHeader(hObj(h, "codec", where), arrays, `${where} codec`);
    const rh = hObj(h, "rescore", where, true);
    const rescoreCodec = rh === null ? null : restoreFromHeader(rh, arrays, `${where} rescore`);
    const savedStorage = rh === null ? "memory" : rh["storage"];
    if (savedStorage !== "memory" && savedStorage !== "disk") {
      throw corrupt(where, `rescore.storage must be "memory" | "disk"`, savedStorage);
    }
    const ih = hObj(h, "index", where, true);
    let factory: AnnIndexFactory | null = null;
    let view = "full";
    let viewCodec: EmbeddingCodec | null = null;
    if (ih !== null) {
      const kind = hStr(ih, "kind", `${where} index`);
      view = hStr(ih, "view", `${where} index`);
      const vh = hObj(ih, "viewCodec", `${where} index`, true);
      viewCodec = vh === null ? null : restoreFromHeader(vh, arrays, `${where} index.viewCodec`);
      if (opts.index !== undefined) {
        if (opts.index.kind !== kind) {
          throw new RangeError(
            `options.index is a ${JSON.stringify(opts.index.kind)} index factory, but the collection has a ${JSON.stringify(kind)} index`,
          );
        }
        factory = opts.index;
      } else if (!readOnly) {
        throw new TypeError(
          `options.index is required: the collection at ${JSON.stringify(root)} has a ${JSON.stringify(kind)} index ` +
            `(pass its factory, e.g. hnswIndex() from @lowbit/hnsw, or open with { readOnly: true } to search by scan)`,
        );
      }
    } else if (opts.index !== undefined) {
      throw new RangeError(
        `options.index was given, but the collection at ${JSON.stringify(root)} was saved without an index`,
      );
    }
    const c = new Collection({
      dim,
      metric,
      codec,
      rescoreCodec,
      rescoreStorage: opts.rescoreStorage ?? (savedStorage as "memory" | "disk"),
      rescoreFactor,
      factory,
      view,
      viewCodec,
    });
    c.readOnly = readOnly;
    c.home = root;
    c.generation = generation;
    try {
      await c.readRows(gdir, where, count, files, metadataRows, ih);
    } catch (err) {
      c.rfile?.close();
      throw err;
    }
    return c;
  }

  /** Reads ids, metadata, codes, the rescore copy and the index of a generation into a fresh collection. */
  private async readRows(
    gdir: string,
    where: string,
    count: number,
    files: Record<string, unknown>,
    metadataRows: number,
    ih: Record<string, unknown> | null,
  ): Promise<void> {
    const codec = this.codec;
    const rescoreCodec = this.rescoreCodec;
    const factory = this.factory;
    const fileSize = (name: string): number =>
      hInt(files, name, 0, Number.MAX_SAFE_INTEGER, `${where} files`);
    // ids and metadata
    const ids = await readJson(join(gdir, "ids.json"), MAX_JSON_BYTES, fileSize("ids.json"));
    if (!Array.isArray(ids) || ids.length !== count) {
      throw corrupt(join(gdir, "ids.json"), `must be an array of ${count} ids`, ids);
    }
    let metas: unknown[] | null = null;
    let absent: Set<number> | null = null;
    if (metadataRows > 0) {
      const m = await readJson(join(gdir, "metadata.json"), MAX_JSON_BYTES, fileSize("metadata.json"));
      const mo = m as Record<string, unknown> | null;
      if (
        typeof mo !== "object" ||
        mo === null ||
        !Array.isArray(mo["values"]) ||
        !Array.isArray(mo["absent"])
      ) {
        throw corrupt(join(gdir, "metadata.json"), `must be {"values": [...], "absent": [...]}`, m);
      }
      metas = mo["values"] as unknown[];
      const abs = mo["absent"] as unknown[];
      if (metas.length !== count || abs.length !== count - metadataRows) {
        throw new CorruptDataError(
          `${join(gdir, "metadata.json")}: ${metas.length} values and ${abs.length} absent rows, the header says ${count} rows, ${metadataRows} with metadata`,
        );
      }
      absent = new Set();
      for (const r of abs) {
        if (typeof r !== "number" || !Number.isInteger(r) || r < 0 || r >= count) {
          throw corrupt(join(gdir, "metadata.json"), "absent[] must hold row numbers", r);
        }
        absent.add(r);
      }
    }
    this.ensureCapacity(count);
    for (let r = 0; r < count; r++) {
      const id = ids[r];
      if (typeof id !== "string" || id.length === 0 || id.length > MAX_ID_LENGTH) {
        throw corrupt(
          join(gdir, "ids.json"),
          `id of row ${r} must be a non-empty string of ≤ ${MAX_ID_LENGTH} chars`,
          id,
        );
      }
      if (this.idRow.has(id))
        throw new CorruptDataError(`${join(gdir, "ids.json")}: id ${JSON.stringify(id)} appears twice`);
      this.idRow.set(id, r);
      this.ids[r] = id;
      this.idTotal += idBytes(id);
      if (metas !== null && !absent!.has(r)) {
        const v = copyJson(metas[r], `metadata of row ${r}`, 0, new Set());
        this.metas[r] = v;
        this.metaTotal += metadataBytes(JSON.stringify(v).length);
        this.metaCount++;
      } else {
        this.metas[r] = undefined;
      }
    }
    this.rows = count;
    this.live = count;

    // codes
    if (codec.fitted) {
      await readExact(
        join(gdir, "codes.bin"),
        count * codec.bytesPerVector,
        this.codes.subarray(0, count * codec.bytesPerVector),
      );
      if (fileSize("codes.bin") !== count * codec.bytesPerVector) {
        throw new CorruptDataError(`${where}: files["codes.bin"] disagrees with count × bytesPerVector`);
      }
    } else if (count > 0) {
      throw new CorruptDataError(`${where}: ${count} rows but the codec is not fitted`);
    }
    if (rescoreCodec?.fitted) {
      const rb = rescoreCodec.bytesPerVector;
      const path = join(gdir, "rescore.bin");
      if (fileSize("rescore.bin") !== count * rb) {
        throw new CorruptDataError(
          `${where}: files["rescore.bin"] disagrees with count × rescore bytesPerVector`,
        );
      }
      if (this.rescoreStorage === "memory") {
        await readExact(path, count * rb, this.rcodes.subarray(0, count * rb));
      } else {
        const size = (await stat(path).catch(() => null))?.size;
        if (size !== count * rb) {
          throw new CorruptDataError(
            `${path} has ${size ?? "no"} bytes, expected count × ${rb} = ${count * rb} (truncated?)`,
          );
        }
        this.rfile = new RowFile(path, rb, count);
        this.diskRows = count;
      }
    }

    // index
    if (ih !== null) {
      const built = ih["built"] === true;
      this.nextLabel = hInt(ih, "nextLabel", 0, MAX_ROWS, `${where} index`);
      const indexDim = hInt(ih, "dim", 0, MAX_DIM, `${where} index`);
      if (built && factory !== null) {
        const lb = await readExact(join(gdir, "labels.bin"), count * 4);
        const labels = readInt32LE(lb);
        this.labelRow = growInt32(this.labelRow, this.nextLabel, -1);
        for (let r = 0; r < count; r++) {
          const l = labels[r]!;
          if (l < 0 || l >= this.nextLabel || this.labelRow[l] !== -1) {
            throw new CorruptDataError(
              `${join(gdir, "labels.bin")}: label ${l} of row ${r} is out of range or repeated`,
            );
          }
          this.labels[r] = l;
          this.labelRow[l] = r;
        }
        const path = join(gdir, INDEX_FILE);
        {
          let ann: AnnIndex;
          try {
            ann = await factory.load(path, indexDim, this.space);
          } catch (err) {
            if (err instanceof LowbitError) throw err;
            throw new CorruptDataError(
              `${path}: the ${factory.kind} index cannot be loaded: ${(err as Error).message}`,
              {
                cause: err,
              },
            );
          }
          if (ann.dim !== indexDim || ann.size !== count) {
            throw new CorruptDataError(
              `${path}: index holds ${ann.size} vectors of dim ${ann.dim}, the collection ${count} of dim ${indexDim}`,
            );
          }
          this.ann = ann;
        }
      }
    }
    const disk: Record<string, number> = {};
    for (const name of Object.keys(files)) disk[name] = fileSize(name);
    disk["header.json"] = (await stat(where)).size;
    this.diskBytes = disk;
  }

  // ---- writing ----

  /** Adds new entries; an id already present (or repeated in the batch) is a ConflictError and nothing is added. */
  add(ids: string | readonly string[], vectors: Float32Array, metadata?: unknown): void {
    this.insert(ids, vectors, metadata, false);
  }

  /** Adds new entries and replaces existing ones (vector and metadata). */
  upsert(ids: string | readonly string[], vectors: Float32Array, metadata?: unknown): void {
    this.insert(ids, vectors, metadata, true);
  }

  /** Deletes entries by id; unknown ids are ignored. Returns how many were deleted. */
  delete(ids: string | readonly string[]): number {
    this.assertWritable();
    const list = idList(ids, "ids");
    let n = 0;
    for (const id of list) {
      const row = this.idRow.get(id);
      if (row === undefined) continue;
      this.idRow.delete(id);
      this.dead[row] = 1;
      this.ids[row] = null;
      this.idTotal -= idBytes(id);
      this.setMeta(row, undefined, 0);
      this.roverride.delete(row);
      if (this.ann !== null) {
        const label = this.labels[row]!;
        this.ann.remove(label);
        this.labelRow[label] = -1;
      }
      this.live--;
      n++;
    }
    return n;
  }

  private insert(
    idsIn: string | readonly string[],
    vectors: Float32Array,
    metadata: unknown,
    replace: boolean,
  ): void {
    this.assertWritable();
    const single = typeof idsIn === "string";
    const ids = idList(idsIn, "ids");
    const n = ids.length;
    assertFloat32Array(vectors, "vectors");
    if (vectors.length !== n * this.dim) {
      throw new RangeError(
        `vectors must hold ids.length × dim = ${n} × ${this.dim} = ${n * this.dim} values, got ${vectors.length} (dimension mismatch?)`,
      );
    }
    assertFinite(vectors, this.dim, "vectors");
    let metaList: readonly unknown[] | null;
    if (metadata === undefined) metaList = null;
    else if (single) metaList = [metadata];
    else {
      if (!Array.isArray(metadata)) {
        throw new TypeError(
          `metadata must be an array with one entry per id (or undefined), got ${describe(metadata)}`,
        );
      }
      if (metadata.length !== n) {
        throw new RangeError(`metadata must have one entry per id: ${n} ids, got ${metadata.length} entries`);
      }
      metaList = metadata;
    }
    const metaCopies: unknown[] = new Array(n);
    const metaLens = new Int32Array(n);
    for (let i = 0; i < n; i++) {
      const m = metaList?.[i];
      if (m === undefined || m === null) continue;
      const copy = copyJson(m, single ? "metadata" : `metadata[${i}]`, 0, new Set());
      metaCopies[i] = copy;
      metaLens[i] = JSON.stringify(copy).length;
    }
    // New rows, after duplicate checks (add: every id must be new and unique within the batch).
    const seen = new Set<string>();
    let fresh = 0;
    for (let i = 0; i < n; i++) {
      const id = ids[i]!;
      const exists = this.idRow.has(id);
      if (!replace && (exists || seen.has(id))) {
        throw new ConflictError(
          `id ${JSON.stringify(id)} ${exists ? "already exists" : "appears twice in the batch"}; nothing was added (use upsert to replace)`,
        );
      }
      if (!exists && !seen.has(id)) fresh++;
      seen.add(id);
    }
    if (this.rows + fresh > MAX_ROWS) throw new RangeError(`a collection holds at most ${MAX_ROWS} rows`);
    if (n === 0) return;

    const prepared = this.prepareRows(vectors);
    if (!this.codec.fitted) this.fit(prepared);
    // Encode everything first: a failure leaves the collection untouched.
    const bpv = this.codec.bytesPerVector;
    const codes = this.codec.encode(prepared);
    const rcodes = this.rescoreCodec?.encode(prepared) ?? null;
    const rb = this.rescoreCodec?.bytesPerVector ?? 0;
    const viewVecs = this.factory === null ? null : this.viewVectors(prepared);
    const vd = this.annDim();
    if (this.factory !== null && this.ann === null) {
      this.ann = this.factory.create(vd, this.space, Math.max(1024, this.rows + fresh));
    }
    this.ensureCapacity(this.rows + fresh);

    for (let i = 0; i < n; i++) {
      const id = ids[i]!;
      let row = this.idRow.get(id);
      const isNew = row === undefined;
      if (row === undefined) {
        row = this.rows++;
        this.idRow.set(id, row);
        this.ids[row] = id;
        this.idTotal += idBytes(id);
        this.dead[row] = 0;
        this.metas[row] = undefined;
        this.live++;
      }
      this.codes.set(codes.subarray(i * bpv, (i + 1) * bpv), row * bpv);
      if (rcodes !== null) this.setRescoreRow(row, rcodes.subarray(i * rb, (i + 1) * rb));
      this.setMeta(row, metaCopies[i], metaLens[i]!);
      if (this.ann !== null && viewVecs !== null) {
        let label: number;
        if (isNew) {
          label = this.nextLabel++;
          this.labelRow = growInt32(this.labelRow, this.nextLabel, -1);
          this.labels[row] = label;
          this.labelRow[label] = row;
        } else {
          label = this.labels[row]!;
        }
        this.ann.add(label, viewVecs.subarray(i * vd, (i + 1) * vd));
      }
    }
  }

  private setMeta(row: number, value: unknown, jsonLength: number): void {
    if (this.metas[row] !== undefined) {
      this.metaTotal -= metadataBytes(JSON.stringify(this.metas[row]).length);
      this.metaCount--;
    }
    this.metas[row] = value;
    if (value !== undefined) {
      this.metaTotal += metadataBytes(jsonLength);
      this.metaCount++;
    }
  }

  private setRescoreRow(row: number, bytes: Uint8Array): void {
    const rb = bytes.length;
    if (this.rescoreStorage === "memory") {
      this.rcodes.set(bytes, row * rb);
    } else if (row < this.diskRows) {
      this.roverride.set(row, bytes.slice());
    } else {
      this.rcodes = growBytes(this.rcodes, (row - this.diskRows + 1) * rb);
      this.rcodes.set(bytes, (row - this.diskRows) * rb);
    }
  }

  /** Copies the rescore row of `row` into `out` at `offset`. */
  private readRescoreRow(row: number, out: Uint8Array, offset: number): void {
    const rb = this.rescoreCodec!.bytesPerVector;
    if (this.rescoreStorage === "memory") {
      out.set(this.rcodes.subarray(row * rb, (row + 1) * rb), offset);
      return;
    }
    const o = this.roverride.get(row);
    if (o !== undefined) out.set(o, offset);
    else if (row >= this.diskRows) {
      const p = (row - this.diskRows) * rb;
      out.set(this.rcodes.subarray(p, p + rb), offset);
    } else this.rfile!.readRow(row, out, offset);
  }

  private ensureCapacity(rows: number): void {
    if (this.dead.length >= rows && this.codes.length >= rows * this.codec.bytesPerVector) return;
    const cap = Math.max(rows, this.dead.length * 2, 1024);
    const bpv = this.codec.bytesPerVector;
    const codes = new Uint8Array(cap * bpv);
    codes.set(this.codes.subarray(0, this.rows * bpv));
    this.codes = codes;
    const dead = new Uint8Array(cap);
    dead.set(this.dead.subarray(0, this.rows));
    this.dead = dead;
    if (this.factory !== null) {
      const labels = new Int32Array(cap);
      labels.set(this.labels.subarray(0, this.rows));
      this.labels = labels;
    }
    if (this.rescoreCodec !== null && this.rescoreStorage === "memory") {
      const rb = this.rescoreCodec.bytesPerVector;
      const r = new Uint8Array(cap * rb);
      r.set(this.rcodes.subarray(0, this.rows * rb));
      this.rcodes = r;
    }
  }

  /** Fits every codec on the (already normalised) sample. */
  private fit(sample: Float32Array): void {
    this.codec.fit(sample, this.dim, { seed: 0 });
    this.rescoreCodec?.fit(sample, this.dim, { seed: 0 });
    this.viewCodec?.fit(sample, this.dim, { seed: 0 });
    // Buffers sized for zero bytes per vector until now.
    this.codes = new Uint8Array(this.dead.length * this.codec.bytesPerVector);
    if (this.rescoreCodec !== null && this.rescoreStorage === "memory") {
      this.rcodes = new Uint8Array(this.dead.length * this.rescoreCodec.bytesPerVector);
    }
  }

  /** Input rows as stored: copied and normalised for cosine. */
  private prepareRows(vectors: Float32Array): Float32Array {
    return this.metric === "cosine" ? normalizedRows(vectors, this.dim) : vectors;
  }

  private annDim(): number {
    return this.viewCodec === null ? this.dim : this.viewCodec.bytesPerVector / 4;
  }

  /** The index's float view of prepared rows. */
  private viewVectors(prepared: Float32Array): Float32Array {
    return this.viewCodec === null ? prepared : f32ViewOf(this.viewCodec.encode(prepared));
  }

  // ---- reading ----

  has(id: string): boolean {
    this.assertOpen();
    assertId(id, "id");
    return this.idRow.has(id);
  }

  /** The entry of `id` with its vector decoded (from the rescore copy when there is one), or undefined. */
  get(id: string): { id: string; metadata: unknown; vector: Float32Array } | undefined {
    this.assertOpen();
    assertId(id, "id");
    const row = this.idRow.get(id);
    if (row === undefined) return undefined;
    let vector: Float32Array;
    if (this.rescoreCodec !== null) {
      const buf = new Uint8Array(this.rescoreCodec.bytesPerVector);
      this.readRescoreRow(row, buf, 0);
      vector = this.rescoreCodec.decode(buf);
    } else {
      const bpv = this.codec.bytesPerVector;
      vector = this.codec.decode(this.codes.slice(row * bpv, (row + 1) * bpv));
    }
    return { id, metadata: this.metas[row], vector };
  }

  /** The k best entries for `query` (fewer when fewer match), best first. */
  search(query: Float32Array, k: number, options?: SearchOptions): SearchHit[] {
    this.assertOpen();
    assertFloat32Array(query, "query");
    if (query.length !== this.dim) {
      throw new RangeError(
        `query must have dim = ${this.dim} values, got ${query.length} (dimension mismatch)`,
      );
    }
    assertFinite(query, this.dim, "query");
    assertInteger(k, "k", 1, MAX_ROWS);
    assertOptions(options, "options");
    const opts = options ?? {};
    assertKnownKeys(opts, SEARCH_KEYS, "options");
    if (opts.rescore !== undefined) {
      if (typeof opts.rescore !== "number")
        throw new TypeError(
          `options.rescore must be 0 (no rescoring) or a number ≥ 1, got ${describe(opts.rescore)}`,
        );
      if (!(opts.rescore === 0 || (opts.rescore >= 1 && opts.rescore <= 1e6))) {
        throw new RangeError(
          `options.rescore must be 0 (no rescoring) or a number in [1, 1e6], got ${describe(opts.rescore)}`,
        );
      }
    }
    if (opts.ef !== undefined) assertInteger(opts.ef, "options.ef", 1, MAX_ROWS);
    const path = opts.path ?? (this.factory !== null ? "index" : "scan");
    assertOneOf(path, ["scan", "index"] as const, "options.path");
    if (path === "index" && this.factory === null) {
      throw new RangeError(
        `options.path "index" needs a collection with an index (this one ${this.indexlessWhy()})`,
      );
    }
    const withMetadata = opts.withMetadata ?? true;
    if (typeof withMetadata !== "boolean") {
      throw new TypeError(`options.withMetadata must be a boolean, got ${describe(withMetadata)}`);
    }
    const rowFilter = this.rowFilter(opts.filter);
    if (this.live === 0 || !this.codec.fitted) return [];
    const q = this.metric === "cosine" ? normalizedRows(query, this.dim) : query;

    let rows: Int32Array;
    let scores: Float64Array;
    if (path === "index" && this.ann !== null) {
      const r = this.searchIndex(q, k, opts, rowFilter);
      if (r === null) {
        ({ rows, scores } = this.searchScan(q, k, opts, rowFilter));
      } else ({ rows, scores } = r);
    } else {
      ({ rows, scores } = this.searchScan(q, k, opts, rowFilter));
    }
    const hits: SearchHit[] = new Array(rows.length);
    for (let i = 0; i < rows.length; i++) {
      const row = rows[i]!;
      const m = this.metas[row];
      hits[i] =
        withMetadata && m !== undefined
          ? { id: this.ids[row]!, score: scores[i]!, metadata: m }
          : { id: this.ids[row]!, score: scores[i]! };
    }
    return hits;
  }

  private indexlessWhy(): string {
    return this.home !== null && this.readOnly ? "was opened without options.index" : "has no index";
  }

  /** A row predicate for a SearchOptions.filter, or null for none. */
  private rowFilter(filter: SearchOptions["filter"]): ((row: number) => boolean) | null {
    if (filter === undefined) return null;
    if (typeof filter === "function") {
      return (row) => Boolean(filter(this.metas[row], this.ids[row]!));
    }
    if (typeof filter !== "object" || filter === null || Array.isArray(filter)) {
      throw new TypeError(
        `options.filter must be a function or an object of metadata equalities, got ${describe(filter)}`,
      );
    }
    const entries = Object.entries(filter);
    if (entries.length === 0) return null;
    return (row) => {
      const m = this.metas[row];
      if (typeof m !== "object" || m === null || Array.isArray(m)) return false;
      for (const [key, want] of entries) {
        if (!Object.hasOwn(m, key) || !jsonEqual((m as Record<string, unknown>)[key], want)) return false;
      }
      return true;
    };
  }

  private candidateCount(k: number, opts: SearchOptions, rescores: boolean): number {
    if (!rescores) return k;
    const f = opts.rescore ?? this.rescoreFactor;
    return Math.min(MAX_ROWS, Math.max(k, Math.ceil(k * f)));
  }

  /** Exact scan over the resident codes, then rescoring of the top candidates when a rescore copy exists. */
  private searchScan(
    q: Float32Array,
    k: number,
    opts: SearchOptions,
    filter: ((row: number) => boolean) | null,
  ): { rows: Int32Array; scores: Float64Array } {
    const rescores = this.rescoreCodec !== null && opts.rescore !== 0;
    const heap = new TopK(Math.min(this.candidateCount(k, opts, rescores), this.live));
    const scorer = this.codec.prepare(q, this.space);
    const block = new Float32Array(Math.min(SCAN_BLOCK, this.rows));
    const dead = this.dead;
    const codes = this.codes;
    const rows = this.rows;
    // Most rows fall below the heap's worst score: one compare rejects them.
    let threshold = Number.NEGATIVE_INFINITY;
    for (let start = 0; start < rows; start += SCAN_BLOCK) {
      const end = Math.min(rows, start + SCAN_BLOCK);
      scorer.scoreRange(codes, start, end, block);
      for (let i = 0, row = start; row < end; i++, row++) {
        const s = block[i]!;
        if (s < threshold || dead[row] === 1) continue;
        // The filter runs only for rows that would enter the heap.
        if (!heap.accepts(s, row)) continue;
        if (filter !== null && !filter(row)) continue;
        heap.push(s, row);
        threshold = heap.threshold();
      }
    }
    const cand = heap.drain();
    if (!rescores) return cand;
    return this.rescore(q, cand.rows, k);
  }

  /**
   * ANN search over the index view for max(k × factor, k) candidates, then rescoring. Returns null when
   * a filter left fewer than k hits (the graph walk may miss rare matches): the caller scans instead.
   */
  private searchIndex(
    q: Float32Array,
    k: number,
    opts: SearchOptions,
    filter: ((row: number) => boolean) | null,
  ): { rows: Int32Array; scores: Float64Array } | null {
    const ann = this.ann!;
    const lossyView = this.viewCodec !== null;
    const useCopy = this.rescoreCodec !== null && opts.rescore !== 0;
    const rescores = useCopy || lossyView;
    const n = this.candidateCount(k, opts, rescores);
    const qv = this.viewCodec === null ? q : f32ViewOf(this.viewCodec.encode(q));
    const labelRow = this.labelRow;
    const dead = this.dead;
    const annOpts: { ef?: number; filter?: (label: number) => boolean } = {};
    if (opts.ef !== undefined) annOpts.ef = opts.ef;
    if (filter !== null) {
      annOpts.filter = (label) => {
        const row = label < labelRow.length ? labelRow[label]! : -1;
        return row >= 0 && dead[row] === 0 && filter(row);
      };
    }
    const res = ann.search(qv, n, annOpts);
    const m = res.labels.length;
    const rows = new Int32Array(m);
    let kept = 0;
    const scores = new Float64Array(m);
    for (let i = 0; i < m; i++) {
      const label = res.labels[i]!;
      const row = label >= 0 && label < labelRow.length ? labelRow[label]! : -1;
      if (row < 0 || dead[row] === 1) continue;
      rows[kept] = row;
      scores[kept++] = res.scores[i]!;
    }
    if (filter !== null && kept < Math.min(k, this.live)) return null;
    const cand = rows.subarray(0, kept);
    if (useCopy) return this.rescore(q, cand, k);
    if (lossyView) return this.rescoreWith(this.codec.prepare(q, this.space), this.codes, cand, k, false);
    const heap = new TopK(Math.min(k, kept));
    for (let i = 0; i < kept; i++) heap.push(scores[i]!, cand[i]!);
    return heap.drain();
  }

  /** Scores candidate rows with the rescore copy and keeps the best k. */
  private rescore(q: Float32Array, cand: Int32Array, k: number): { rows: Int32Array; scores: Float64Array } {
    const codec = this.rescoreCodec!;
    const rb = codec.bytesPerVector;
    const scorer = codec.prepare(q, this.space);
    if (this.rescoreStorage === "memory") return this.rescoreWith(scorer, this.rcodes, cand, k, false);
    const buf = new Uint8Array(cand.length * rb);
    for (let i = 0; i < cand.length; i++) this.readRescoreRow(cand[i]!, buf, i * rb);
    return this.rescoreWith(scorer, buf, cand, k, true);
  }

  /** `gathered`: codes[i] belongs to cand[i] (else codes are indexed by row). */
  private rescoreWith(
    scorer: QueryScorer,
    codes: Uint8Array,
    cand: Int32Array,
    k: number,
    gathered: boolean,
  ): { rows: Int32Array; scores: Float64Array } {
    const heap = new TopK(Math.min(k, cand.length));
    for (let i = 0; i < cand.length; i++) {
      const row = cand[i]!;
      heap.push(scorer.score(codes, gathered ? i : row), row);
    }
    return heap.drain();
  }

  // ---- persistence ----

  /**
   * Saves to `dir` (required the first time; later saves default to the folder the collection lives in).
   * Crash-safe: a new generation folder is written and fsynced, then CURRENT is replaced atomically.
   * Deleted rows are compacted. Modifications during a save are refused (ConflictError).
   */
  async save(dir?: string): Promise<void> {
    this.assertOpen();
    if (this.readOnly)
      throw new Error("this collection was opened with { readOnly: true }: it cannot be saved");
    if (this.saving !== null)
      throw new ConflictError("a save of this collection is already in progress; await it first");
    if (dir !== undefined && (typeof dir !== "string" || dir.length === 0)) {
      throw new TypeError(`dir must be a folder path, got ${describe(dir)}`);
    }
    const target = dir === undefined ? this.home : resolve(dir);
    if (target === null)
      throw new TypeError("save() needs a dir the first time: the collection has no folder yet");
    const p = this.saveTo(target);
    this.saving = p;
    try {
      await p;
    } finally {
      this.saving = null;
    }
  }

  private async saveTo(target: string): Promise<void> {
    let lock = this.lock;
    const moving = target !== this.home;
    if (moving) {
      await mkdir(target, { recursive: true });
      lock = acquireLock(target);
      try {
        if ((await readCurrent(target)) !== null) {
          throw new ConflictError(
            `${JSON.stringify(target)} already holds a saved collection; open() it, or save to an empty folder`,
          );
        }
      } catch (err) {
        lock.release();
        throw err;
      }
    }
    try {
      const existing = await listGenerations(target);
      const genNo =
        Math.max(moving ? 0 : this.generation, existing.length > 0 ? existing[existing.length - 1]! : 0) + 1;
      const gen = generationName(genNo);
      const gdir = await createGenerationDir(target, gen);
      const files = await this.writeGeneration(gdir, genNo);
      fsyncDir(gdir);
      await writeCurrent(target, gen);
      // Committed. Bring memory in line with what was written, then drop older generations.
      this.compactAfterSave(join(gdir, "rescore.bin"));
      if (moving && this.lock !== null) this.lock.release();
      this.lock = lock;
      this.home = target;
      this.generation = genNo;
      this.diskBytes = files;
      await removeOtherGenerations(target, gen);
    } catch (err) {
      if (moving) lock?.release();
      throw err;
    }
  }

  /** Writes every file of a generation; returns the file sizes (header.json included). */
  private async writeGeneration(gdir: string, genNo: number): Promise<Record<string, number>> {
    const files: Record<string, number> = {};
    const liveRuns = this.liveRuns();
    const count = this.live;
    const pack = new ArrayPack();
    const codecH = codecHeader(this.codec, pack);
    const rescoreH = this.rescoreCodec === null ? null : codecHeader(this.rescoreCodec, pack);
    const viewH = this.viewCodec === null ? null : codecHeader(this.viewCodec, pack);
    const arrays = pack.bytes();
    if (arrays.length > 0)
      files["codec-arrays.bin"] = await writeFileDurable(gdir, "codec-arrays.bin", arrays);

    if (this.codec.fitted) {
      files["codes.bin"] = await writeFileDurable(
        gdir,
        "codes.bin",
        this.rowsSource(this.codes, this.codec.bytesPerVector, liveRuns),
      );
    }
    if (this.rescoreCodec?.fitted) {
      const rb = this.rescoreCodec.bytesPerVector;
      files["rescore.bin"] = await writeFileDurable(
        gdir,
        "rescore.bin",
        this.rescoreStorage === "memory"
          ? this.rowsSource(this.rcodes, rb, liveRuns)
          : this.diskRescoreSource(liveRuns),
      );
    }
    const ids: string[] = new Array(count);
    const values: unknown[] = new Array(count);
    const absent: number[] = [];
    const labels = new Int32Array(count);
    let j = 0;
    for (const [s, e] of liveRuns) {
      for (let r = s; r < e; r++, j++) {
        ids[j] = this.ids[r]!;
        const m = this.metas[r];
        values[j] = m === undefined ? null : m;
        if (m === undefined) absent.push(j);
        labels[j] = this.labels[r] ?? 0;
      }
    }
    files["ids.json"] = await writeFileDurable(gdir, "ids.json", jsonBytes(ids));
    if (this.metaCount > 0) {
      files["metadata.json"] = await writeFileDurable(gdir, "metadata.json", jsonBytes({ values, absent }));
    }
    const built = this.ann !== null;
    if (built) {
      files["labels.bin"] = await writeFileDurable(gdir, "labels.bin", int32Bytes(labels));
      const tmp = join(gdir, `${INDEX_FILE}.tmp`);
      await this.ann!.save(tmp);
      await fsyncFile(tmp);
      await rename(tmp, join(gdir, INDEX_FILE));
      files[INDEX_FILE] = (await stat(join(gdir, INDEX_FILE))).size;
    }
    const header: Header = {
      format: FORMAT,
      version: VERSION,
      generation: genNo,
      dim: this.dim,
      metric: this.metric,
      count,
      codec: codecH,
      rescore: rescoreH === null ? null : { ...rescoreH, storage: this.rescoreStorage },
      rescoreFactor: this.rescoreFactor,
      index:
        this.factory === null
          ? null
          : {
              kind: this.factory.kind,
              options: { ...this.factory.options },
              space: this.space,
              view: this.view,
              viewCodec: viewH,
              dim: this.codec.fitted ? this.annDim() : 0,
              nextLabel: this.nextLabel,
              built,
            },
      metadataRows: this.metaCount,
      files: { ...files },
    };
    const headerBytes = new TextEncoder().encode(`${JSON.stringify(header, null, 1)}\n`);
    files["header.json"] = await writeFileDurable(gdir, "header.json", headerBytes);
    return files;
  }

  /** Maximal runs [start, end) of live rows. */
  private liveRuns(): [number, number][] {
    const runs: [number, number][] = [];
    let s = -1;
    for (let r = 0; r < this.rows; r++) {
      if (this.dead[r] === 0) {
        if (s < 0) s = r;
      } else if (s >= 0) {
        runs.push([s, r]);
        s = -1;
      }
    }
    if (s >= 0) runs.push([s, this.rows]);
    return runs;
  }

  private rowsSource(buf: Uint8Array, rowBytes: number, runs: [number, number][]): FileSource {
    return async (write) => {
      for (const [s, e] of runs) {
        for (let o = s * rowBytes; o < e * rowBytes; o += WRITE_CHUNK) {
          await write(buf.subarray(o, Math.min(e * rowBytes, o + WRITE_CHUNK)));
        }
      }
    };
  }

  /** Live rescore rows in order, merged from the saved file, pending rows and overrides. */
  private diskRescoreSource(runs: [number, number][]): FileSource {
    const rb = this.rescoreCodec!.bytesPerVector;
    const per = Math.max(1, Math.floor(WRITE_CHUNK / rb));
    return async (write) => {
      const buf = new Uint8Array(per * rb);
      for (const [s, e] of runs) {
        for (let r0 = s; r0 < e; r0 += per) {
          const r1 = Math.min(e, r0 + per);
          const fromDisk = Math.max(0, Math.min(r1, this.diskRows) - r0);
          if (fromDisk > 0) this.rfile!.readRows(r0, fromDisk, buf, 0);
          for (let r = r0; r < r1; r++) {
            if (r >= this.diskRows || this.roverride.has(r)) this.readRescoreRow(r, buf, (r - r0) * rb);
          }
          await write(buf.subarray(0, (r1 - r0) * rb));
        }
      }
    };
  }

  /** After a committed save: drop tombstones from memory and point the disk rescore copy at the new file. */
  private compactAfterSave(rescorePath: string): void {
    const bpv = this.codec.bytesPerVector;
    const rb = this.rescoreCodec?.bytesPerVector ?? 0;
    if (this.live !== this.rows) {
      let w = 0;
      for (let r = 0; r < this.rows; r++) {
        if (this.dead[r] === 1) continue;
        if (w !== r) {
          this.codes.copyWithin(w * bpv, r * bpv, (r + 1) * bpv);
          if (this.rescoreStorage === "memory" && rb > 0)
            this.rcodes.copyWithin(w * rb, r * rb, (r + 1) * rb);
          this.ids[w] = this.ids[r]!;
          this.metas[w] = this.metas[r];
          this.idRow.set(this.ids[w]!, w);
          if (this.factory !== null) {
            const label = this.labels[r]!;
            this.labels[w] = label;
            this.labelRow[label] = w;
          }
        }
        w++;
      }
      this.ids.length = w;
      this.metas.length = w;
      this.dead.fill(0, 0, this.rows);
      this.rows = w;
    }
    if (this.rescoreStorage === "disk" && this.rescoreCodec?.fitted) {
      const next = new RowFile(rescorePath, rb, this.rows);
      this.rfile?.close();
      this.rfile = next;
      this.diskRows = this.rows;
      this.roverride.clear();
      this.rcodes = new Uint8Array(0);
    }
  }

  /** Waits for a running save, releases the writer lock and open files. Further use throws. */
  async close(): Promise<void> {
    if (this.closed) return;
    if (this.saving !== null) await this.saving.catch(() => undefined);
    this.closed = true;
    this.rfile?.close();
    this.rfile = null;
    this.lock?.release();
    this.lock = null;
  }

  // ---- accounting ----

  /**
   * Memory per live vector by component (`ram`, bytes/vector: codes, rescore (0 when on disk, except rows
   * not yet saved), index, labels, ids and metadata estimates, codec params amortised) and the files of
   * the last save (`disk`, total bytes per file, plus `total`).
   */
  stats(): CollectionStats {
    this.assertOpen();
    const n = Math.max(1, this.live);
    const rb = this.rescoreCodec?.bytesPerVector ?? 0;
    let rescore = 0;
    if (this.rescoreCodec !== null) {
      rescore =
        this.rescoreStorage === "memory" ? rb : ((this.rows - this.diskRows + this.roverride.size) * rb) / n;
    }
    const params =
      this.codec.paramBytes + (this.rescoreCodec?.paramBytes ?? 0) + (this.viewCodec?.paramBytes ?? 0);
    const ram: Record<string, number> = {
      codes: this.codec.bytesPerVector,
      rescore,
      index: this.ann === null ? 0 : this.ann.memoryBytes() / n,
      labels: this.factory === null ? 0 : 8,
      ids: this.idTotal / n,
      metadata: this.metaTotal / n,
      codecParams: params / n,
    };
    let bytesPerVector = 0;
    for (const [k, v] of Object.entries(ram)) if (k !== "ids" && k !== "metadata") bytesPerVector += v;
    const totalBytesPerVector = bytesPerVector + ram["ids"]! + ram["metadata"]!;
    const disk: Record<string, number> = { ...this.diskBytes };
    let total = 0;
    for (const v of Object.values(disk)) total += v;
    disk["total"] = total;
    return { count: this.live, dim: this.dim, bytesPerVector, totalBytesPerVector, ram, disk };
  }

  private assertOpen(): void {
    if (this.closed) throw new Error("this collection is closed");
  }

  private assertWritable(): void {
    this.assertOpen();
    if (this.readOnly)
      throw new Error("this collection was opened with { readOnly: true }: it cannot be modified");
    if (this.saving !== null) {
      throw new ConflictError("a save of this collection is in progress; await save() before modifying it");
    }
  }
}

/** The codec of an index view ("pca:32", "trunc:64", …): transforms only, with a float32 terminal. */
function viewCodecOf(view: string, name: string): EmbeddingCodec {
  let codec: EmbeddingCodec;
  try {
    codec = createCodec(view);
  } catch (err) {
    throw new RangeError(
      `${name} must be "full" or transforms such as "pca:32", "trunc:64": ${(err as Error).message}`,
    );
  }
  if (!codec.spec.endsWith("+float32")) {
    throw new RangeError(
      `${name} must be "full" or transforms only (no terminal codec), got ${JSON.stringify(view)}`,
    );
  }
  return codec;
}
