import { createHash, randomBytes } from "node:crypto";
import { mkdir, open, readdir, rename, stat, unlink } from "node:fs/promises";
import { dirname, join, relative, resolve, sep } from "node:path";
import {
  ConflictError,
  CorruptDataError,
  describe,
  IntegrityError,
  LimitExceededError,
  LowbitError,
  NotFoundError,
  UnsupportedError,
} from "@lowbit/bits";
import { DEFAULT_LIMITS, parseHeader, type SafetensorsHeader } from "@lowbit/safetensors";
import { BITDELTA_DTYPES, encodeBitDelta } from "./_bitdelta.js";
import { CdcCutter } from "./_cdc.js";
import { elementWidth } from "./_codecs.js";
import {
  decodeObject,
  encodeObject,
  headerLength,
  MAX_HEADER,
  type ObjectHeader,
  objectKey,
  parseObject,
  serializeObject,
  sha256Hex,
  widen,
} from "./_object.js";
import { blocks, fileSource, memorySource, type Source } from "./_source.js";
import { fsBackend, removeTempFiles } from "./backend-fs.js";
import type {
  Backend,
  Compressor,
  GcReport,
  IngestFile,
  IngestOptions,
  IngestResult,
  Manifest,
  ManifestFile,
  ManifestPart,
  ModelStats,
  ModelSummary,
  PartCodec,
  RestoreOptions,
  RestoreResult,
  StoreApi,
  StoredFile,
  StoreStats,
  VerifyProblem,
  VerifyReport,
} from "./types.js";

export interface StoreOptions {
  readonly compressor: Compressor;
  /** zstd level for new objects (default: the compressor's default). */
  readonly level?: number;
  /** Largest object a read will decode (default 16 GiB): a limit on untrusted headers. */
  readonly maxObjectBytes?: number;
  /**
   * Largest file an ingest takes (default 1 TiB). Files are read part by part, never whole: memory
   * is bounded by the largest part (a tensor, at most 2 GiB − 1 and `maxObjectBytes`), not the file.
   */
  readonly maxFileBytes?: number;
  /** Decoded objects kept for delta bases and range reads (default 256 MiB). */
  readonly cacheBytes?: number;
}

const STORE_KEY = "lowbit-store.json";
const FORMAT = "lowbit-store";
const VERSION = 1;
/** Files up to this size are one part; larger non-safetensors files are chunked. */
const SMALL_FILE = 64 * 1024;
/** Largest part (tensor): one array and one positional read; Node reads less than 2 GiB per call. */
const MAX_PART = 2 ** 31 - 1;
const NAME_RE = /^[A-Za-z0-9._-]+(?:\/[A-Za-z0-9._-]+)*$/;
const PATH_SEGMENT_RE = /^[^/\\\0]+$/;
const CODECS: readonly PartCodec[] = ["raw", "zstd", "xor", "delta", "bitdelta", "rans"];

function hex(s: string): string {
  return Buffer.from(s, "utf8").toString("hex");
}
function manifestKey(name: string): string {
  return `models/${hex(name)}.json`;
}
function fileIndexKey(sha: string): string {
  return `files/${sha.slice(0, 2)}/${sha.slice(2)}.json`;
}

function assertName(name: unknown, what = "name"): asserts name is string {
  if (typeof name !== "string") throw new TypeError(`${what} must be a string, got ${describe(name)}`);
  if (
    name.length < 1 ||
    name.length > 200 ||
    !NAME_RE.test(name) ||
    name.split("/").some((s) => s === "." || s === "..")
  ) {
    throw new RangeError(
      `${what} must be 1–200 chars of [A-Za-z0-9._-] segments joined by "/", got ${JSON.stringify(name)}`,
    );
  }
}

/** A relative path that cannot escape a directory. */
export function assertRelativePath(path: string, what = "path"): void {
  const segs = path.split("/");
  if (
    path.length === 0 ||
    path.length > 1024 ||
    path.startsWith("/") ||
    segs.some((s) => s === "" || s === "." || s === ".." || !PATH_SEGMENT_RE.test(s))
  ) {
    throw new RangeError(
      `${what} must be a relative "/"-separated path without "." or ".." segments, got ${JSON.stringify(path)}`,
    );
  }
}

function aborted(signal: AbortSignal | undefined): void {
  if (signal?.aborted) throw signal.reason ?? new DOMException("aborted", "AbortError");
}

async function* walk(dir: string, prefix = ""): AsyncGenerator<string> {
  const entries = await readdir(dir, { withFileTypes: true });
  entries.sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
  for (const e of entries) {
    const rel = prefix === "" ? e.name : `${prefix}/${e.name}`;
    if (e.isDirectory()) yield* walk(join(dir, e.name), rel);
    else if (e.isFile()) yield rel;
  }
}

/** A small LRU of decoded objects, bounded by bytes. */
class Cache {
  private readonly map = new Map<string, Uint8Array>();
  private bytes = 0;
  constructor(private readonly limit: number) {}
  get(id: string): Uint8Array | undefined {
    const v = this.map.get(id);
    if (v !== undefined) {
      this.map.delete(id);
      this.map.set(id, v);
    }
    return v;
  }
  set(id: string, v: Uint8Array): void {
    if (v.length > this.limit / 4 || this.map.has(id)) return;
    this.map.set(id, v);
    this.bytes += v.length;
    for (const [k, old] of this.map) {
      if (this.bytes <= this.limit) break;
      this.map.delete(k);
      this.bytes -= old.length;
    }
  }
}

interface TensorRef {
  readonly name: string;
  readonly dtype: string;
  readonly shape: readonly number[];
  readonly object: string;
  readonly elements: number;
}

interface PlannedPart {
  readonly offset: number;
  readonly length: number;
  readonly tensor?: { readonly name: string; readonly dtype: string; readonly shape: readonly number[] };
}

/** How a file is split: the safetensors header and tensors, one small part, or chunks by content. */
interface FilePlan {
  readonly layout: ManifestFile["layout"];
  readonly header?: SafetensorsHeader;
  /** Every part, except for chunked files: their cuts are found as they are read. */
  readonly parts?: readonly PlannedPart[];
}

/** The file's safetensors header (validated against its real size), or null if it is not safetensors. */
async function readHeader(src: Source): Promise<SafetensorsHeader | null> {
  if (src.size < 8) return null;
  const first8 = await src.read(0, 8);
  const n = new DataView(first8.buffer, first8.byteOffset, 8).getBigUint64(0, true);
  if (n > BigInt(Math.min(DEFAULT_LIMITS.maxHeaderBytes, src.size - 8))) return null;
  try {
    return parseHeader(await src.read(0, 8 + Number(n)), { fileSize: src.size });
  } catch (e) {
    // Not (valid) safetensors: stored as opaque bytes, never rejected.
    if (e instanceof LowbitError || e instanceof RangeError) return null;
    throw e;
  }
}

async function planFile(src: Source, partLimit: number): Promise<FilePlan> {
  const h = await readHeader(src);
  if (h === null) {
    if (src.size <= SMALL_FILE) return { layout: "small", parts: [{ offset: 0, length: src.size }] };
    return { layout: "chunked" };
  }
  const parts: PlannedPart[] = [{ offset: 0, length: h.dataStart }];
  for (const [name, t] of h.tensors) {
    const [b, e] = t.dataOffsets;
    if (e > b)
      parts.push({
        offset: h.dataStart + b,
        length: e - b,
        tensor: { name, dtype: t.dtype, shape: t.shape },
      });
  }
  for (const p of parts) {
    if (p.length > partLimit) {
      const what = p.tensor === undefined ? "header" : `tensor ${JSON.stringify(p.tensor.name)}`;
      throw new LimitExceededError(
        `${src.path}: ${what} is ${p.length} bytes; the store takes parts (tensors) of at most ${partLimit} bytes`,
      );
    }
  }
  return { layout: "safetensors", header: h, parts };
}

/** The planned parts with their bytes, in file order; a chunked file is cut as it streams by. */
async function* partsOf(
  src: Source,
  plan: FilePlan,
): AsyncGenerator<PlannedPart & { readonly bytes: Uint8Array }> {
  if (plan.parts !== undefined) {
    for (const p of plan.parts) yield { ...p, bytes: await src.read(p.offset, p.length) };
    return;
  }
  const cutter = new CdcCutter();
  // The chunk in progress: where it starts, and its bytes from earlier blocks.
  let start = 0;
  let pending: Uint8Array[] = [];
  const chunk = (block: Uint8Array, to: number): Uint8Array => {
    if (pending.length === 0) return block.subarray(0, to);
    const out = new Uint8Array(pending.reduce((a, b) => a + b.length, 0) + to);
    let o = 0;
    for (const b of pending) {
      out.set(b, o);
      o += b.length;
    }
    out.set(block.subarray(0, to), o);
    pending = [];
    return out;
  };
  let pos = 0;
  for await (const block of blocks(src)) {
    let from = 0;
    for (const end of cutter.push(block)) {
      const bytes = chunk(block.subarray(from), end - pos - from);
      yield { offset: start, length: end - start, bytes };
      start = end;
      from = end - pos;
    }
    if (from < block.length) pending.push(block.subarray(from));
    pos += block.length;
  }
  for (const end of cutter.finish()) {
    yield { offset: start, length: end - start, bytes: chunk(new Uint8Array(0), 0) };
  }
}

/** sha256 of the whole file, read in blocks. */
async function hashSource(src: Source, signal: AbortSignal | undefined): Promise<string> {
  const h = createHash("sha256");
  for await (const block of blocks(src)) {
    aborted(signal);
    h.update(block);
  }
  return h.digest("hex");
}

/**
 * Mean popcount of XOR per bit of the elements' most significant bytes (sign and exponent, where
 * related weights agree and the noise of the low mantissa bytes does not drown it), on a
 * deterministic sample, with b read `shift` elements further on (0 = aligned).
 */
function bitDistance(a: Uint8Array, b: Uint8Array, w: number, shift = 0, samples = 8192): number {
  const n = Math.floor(Math.min(a.length, b.length) / w);
  if (n === 0) return 1;
  const step = Math.max(1, Math.floor(n / samples));
  let bits = 0;
  let count = 0;
  for (let i = 0; i < n; i += step) {
    let x = a[i * w + w - 1]! ^ b[((i + shift) % n) * w + w - 1]!;
    x -= (x >> 1) & 0x55;
    x = (x & 0x33) + ((x >> 2) & 0x33);
    bits += (x + (x >> 4)) & 0x0f;
    count++;
  }
  return bits / (8 * count);
}

export class Store implements StoreApi {
  private readonly cache: Cache;
  private readonly level: number;
  private readonly maxObjectBytes: number;
  private readonly maxFileBytes: number;
  private closed = false;

  private constructor(
    readonly backend: Backend,
    private readonly compressor: Compressor,
    options: StoreOptions,
  ) {
    this.level = options.level ?? compressor.defaultLevel;
    this.maxObjectBytes = options.maxObjectBytes ?? 16 * 2 ** 30;
    this.maxFileBytes = options.maxFileBytes ?? 2 ** 40;
    this.cache = new Cache(options.cacheBytes ?? 256 * 2 ** 20);
  }

  private static resolve(where: string | Backend, options: StoreOptions): Backend {
    if (typeof options !== "object" || options === null)
      throw new TypeError(`options must be an object, got ${describe(options)}`);
    const c = options.compressor;
    if (
      typeof c !== "object" ||
      c === null ||
      typeof c.compress !== "function" ||
      typeof c.decompress !== "function"
    ) {
      throw new TypeError(
        `options.compressor must be a Compressor (e.g. zstdCompressor() from @lowbit/zstd), got ${describe(c)}`,
      );
    }
    if (typeof where === "string") {
      const b = fsBackend(where);
      if (b.cleanup !== undefined) return b;
      const root = resolve(where);
      return Object.assign(b, { cleanup: (olderThanMs: number) => removeTempFiles(root, olderThanMs) });
    }
    if (typeof where === "object" && where !== null && typeof where.put === "function") return where;
    throw new TypeError(`store location must be a directory path or a Backend, got ${describe(where)}`);
  }

  /** Creates a store (ConflictError if one exists there). */
  static async init(where: string | Backend, options: StoreOptions): Promise<Store> {
    const backend = Store.resolve(where, options);
    if ((await backend.stat(STORE_KEY)) !== undefined)
      throw new ConflictError(`a store already exists at ${backend.description}`);
    const doc = { format: FORMAT, version: VERSION, createdAt: new Date().toISOString() };
    await backend.put(STORE_KEY, new TextEncoder().encode(`${JSON.stringify(doc, null, 2)}\n`));
    return new Store(backend, options.compressor, options);
  }

  /** Opens an existing store (ERR_NOT_FOUND if there is none; ERR_UNSUPPORTED for a newer format). */
  static async open(where: string | Backend, options: StoreOptions): Promise<Store> {
    const backend = Store.resolve(where, options);
    let doc: { format?: unknown; version?: unknown };
    try {
      doc = JSON.parse(new TextDecoder().decode(await backend.get(STORE_KEY)));
    } catch (e) {
      if (e instanceof LowbitError && e.code === "ERR_NOT_FOUND")
        throw new NotFoundError(`no lowbit store at ${backend.description} (run init first)`);
      if (e instanceof SyntaxError)
        throw new CorruptDataError(`${STORE_KEY} at ${backend.description} is not JSON`, { cause: e });
      throw e;
    }
    if (doc.format !== FORMAT)
      throw new CorruptDataError(`${STORE_KEY} at ${backend.description} is not a lowbit store`);
    if (typeof doc.version !== "number" || doc.version > VERSION) {
      throw new UnsupportedError(
        `store format version ${String(doc.version)} is newer than this library (${VERSION}); upgrade @lowbit/store`,
      );
    }
    return new Store(backend, options.compressor, options);
  }

  private check(): void {
    if (this.closed) throw new Error("the store is closed");
  }

  // ---------------------------------------------------------------- objects

  private async readObjectBytes(id: string): Promise<Uint8Array> {
    try {
      return await this.backend.get(objectKey(id));
    } catch (e) {
      if (e instanceof LowbitError && e.code === "ERR_NOT_FOUND")
        throw new NotFoundError(`object ${id} is missing from the store`, { cause: e });
      throw e;
    }
  }

  /** The decoded, hash-checked bytes of an object (bases decoded recursively, depth ≤ MAX_DEPTH). */
  async object(id: string, depth = 0): Promise<Uint8Array> {
    const hit = this.cache.get(id);
    if (hit !== undefined) return hit;
    if (depth > 8) throw new CorruptDataError(`object ${id}: delta chain too deep (a cycle?)`);
    const { header, payload } = parseObject(await this.readObjectBytes(id), id, this.maxObjectBytes);
    const base = header.base === undefined ? undefined : await this.object(header.base, depth + 1);
    let out: Uint8Array;
    try {
      out = decodeObject(header, payload, base, this.compressor, id);
    } catch (e) {
      // Name the object in every decoding failure (the coders' own messages do not know it).
      if (e instanceof CorruptDataError && !e.message.includes(id))
        throw new CorruptDataError(`object ${id}: ${e.message}`, { cause: e });
      throw e;
    }
    this.cache.set(id, out);
    return out;
  }

  private async objectHeader(id: string): Promise<ObjectHeader | undefined> {
    const key = objectKey(id);
    const st = await this.backend.stat(key);
    if (st === undefined) return undefined;
    const prefix = await this.backend.getRange(key, 0, Math.min(8, st.size));
    const hlen = headerLength(prefix);
    if (hlen < 0 || hlen > MAX_HEADER || 8 + hlen > st.size)
      throw new CorruptDataError(`object ${id}: bad header`);
    const head = await this.backend.getRange(key, 8, 8 + hlen);
    // parseObject checks the payload size against the blocks; here only the header matters.
    let h: ObjectHeader;
    try {
      h = JSON.parse(new TextDecoder().decode(head)) as ObjectHeader;
    } catch (e) {
      throw new CorruptDataError(`object ${id}: header is not JSON`, { cause: e });
    }
    if (h.sha256 !== id) throw new CorruptDataError(`object ${id}: header names ${String(h.sha256)}`);
    return h;
  }

  // ---------------------------------------------------------------- models

  async manifest(name: string): Promise<Manifest> {
    this.check();
    assertName(name);
    let bytes: Uint8Array;
    try {
      bytes = await this.backend.get(manifestKey(name));
    } catch (e) {
      if (e instanceof LowbitError && e.code === "ERR_NOT_FOUND")
        throw new NotFoundError(`no model named ${JSON.stringify(name)} in the store`);
      throw e;
    }
    return parseManifest(bytes, name);
  }

  async list(): Promise<readonly ModelSummary[]> {
    this.check();
    const out: ModelSummary[] = [];
    for (const m of await this.manifests()) {
      out.push({
        name: m.name,
        base: m.base,
        files: m.files.length,
        logicalBytes: m.logicalBytes,
        createdAt: m.createdAt,
        lossy: m.files.some((f) => f.lossy !== undefined),
      });
    }
    return out;
  }

  private async manifests(): Promise<Manifest[]> {
    const out: Manifest[] = [];
    for await (const e of this.backend.list("models/")) {
      if (!e.key.endsWith(".json")) continue;
      const name = Buffer.from(e.key.slice("models/".length, -".json".length), "hex").toString("utf8");
      out.push(parseManifest(await this.backend.get(e.key), name));
    }
    out.sort((a, b) =>
      a.createdAt < b.createdAt ? -1 : a.createdAt > b.createdAt ? 1 : a.name < b.name ? -1 : 1,
    );
    return out;
  }

  async remove(name: string): Promise<void> {
    this.check();
    assertName(name);
    await this.manifest(name);
    await this.backend.delete(manifestKey(name));
  }

  // ---------------------------------------------------------------- ingest

  async ingest(
    input: string | readonly string[] | readonly IngestFile[],
    options: IngestOptions,
  ): Promise<IngestResult> {
    this.check();
    const t0 = performance.now();
    if (typeof options !== "object" || options === null)
      throw new TypeError(`options must be an object, got ${describe(options)}`);
    assertName(options.name, "options.name");
    if (options.base !== undefined && options.base !== null) assertName(options.base, "options.base");
    if (options.lossy !== undefined && options.lossy !== "bitdelta")
      throw new RangeError(`options.lossy must be "bitdelta", got ${describe(options.lossy)}`);
    if (!options.overwrite && (await this.backend.stat(manifestKey(options.name))) !== undefined) {
      throw new ConflictError(
        `a model named ${JSON.stringify(options.name)} exists (pass overwrite to replace it)`,
      );
    }
    const sources = await this.sources(input);
    try {
      return await this.ingestSources(sources, options, t0);
    } finally {
      await Promise.all(sources.map((s) => s.close()));
    }
  }

  private async ingestSources(
    sources: readonly Source[],
    options: IngestOptions,
    t0: number,
  ): Promise<IngestResult> {
    const { signal, onProgress } = options;
    const bytesTotal = sources.reduce((a, s) => a + s.size, 0);
    let bytesDone = 0;
    const report = (phase: "hash" | "match" | "encode" | "commit", file?: string) =>
      onProgress?.({ phase, ...(file !== undefined ? { file } : {}), bytesDone, bytesTotal });

    // Headers first: a tensor too large to store fails the ingest before any hashing.
    const partLimit = Math.min(this.maxObjectBytes, MAX_PART);
    const plans: FilePlan[] = [];
    for (const src of sources) {
      aborted(signal);
      try {
        plans.push(await planFile(src, partLimit));
      } finally {
        await src.close();
      }
    }

    // Base: named, automatic, or none.
    let baseName: string | null = null;
    let baseTensors: Map<string, TensorRef> | null = null;
    if (options.base !== null) {
      report("match");
      const picked = await this.pickBase(sources, plans, options.base, options.name);
      if (picked !== null) {
        baseName = picked.name;
        baseTensors = picked.tensors;
      }
    }
    aborted(signal);

    const counts: Record<PartCodec | "dedup", number> = {
      raw: 0,
      zstd: 0,
      xor: 0,
      delta: 0,
      bitdelta: 0,
      rans: 0,
      dedup: 0,
    };
    let storedBytesAdded = 0;
    const files: ManifestFile[] = [];
    const renamed = baseTensors === null ? null : renamePairs(baseTensors);
    for (const [i, src] of sources.entries()) {
      aborted(signal);
      const plan = plans[i]!;
      report("hash", src.path);
      let sha: string;
      try {
        sha = await hashSource(src, signal);
      } finally {
        await src.close();
      }
      // Whole-file dedup: an index entry for this content whose objects are all present.
      if (options.lossy === undefined) {
        const known = await this.knownFile(sha);
        if (known !== null) {
          files.push({ ...known, path: src.path });
          counts.dedup += known.parts.length;
          bytesDone += src.size;
          report("encode", src.path);
          continue;
        }
      }
      const parts: ManifestPart[] = [];
      const lossyTensors: Record<string, { relativeError: number }> = {};
      // The hash of what a restore yields: the file read a second time, or its lossy reconstruction.
      const restored = createHash("sha256");
      try {
        for await (const p of partsOf(src, plan)) {
          aborted(signal);
          let bytes = p.bytes;
          const t = p.tensor;
          let base: TensorRef | undefined;
          if (t !== undefined && baseTensors !== null) {
            base = matchBase(baseTensors, renamed!, t.name, t.dtype, t.shape);
          }
          let id: string;
          if (
            options.lossy === "bitdelta" &&
            t !== undefined &&
            base !== undefined &&
            base.dtype === t.dtype &&
            (BITDELTA_DTYPES as readonly string[]).includes(t.dtype)
          ) {
            const baseBytes = await this.object(base.object);
            const r = encodeBitDelta(bytes, baseBytes, t.dtype, t.shape);
            bytes = r.recon;
            id = sha256Hex(bytes);
            lossyTensors[t.name] = { relativeError: r.relativeError };
            if ((await this.backend.stat(objectKey(id))) === undefined) {
              const baseHeader = await this.objectHeader(base.object);
              const header: ObjectHeader = {
                v: 1,
                codec: "bitdelta",
                length: bytes.length,
                sha256: id,
                sizes: r.sizes,
                dtype: t.dtype,
                base: base.object,
                depth: (baseHeader?.depth ?? 0) + 1,
                rows: r.rows,
                relativeError: r.relativeError,
              };
              const blob = serializeObject(header, r.payload);
              await this.backend.put(objectKey(id), blob);
              storedBytesAdded += blob.length;
              counts.bitdelta++;
            } else counts.dedup++;
          } else {
            id = sha256Hex(bytes);
            if ((await this.backend.stat(objectKey(id))) !== undefined) counts.dedup++;
            else {
              let baseInput: { id: string; data: Uint8Array; dtype: string; depth: number } | undefined;
              if (base !== undefined) {
                const bh = await this.objectHeader(base.object);
                if (bh !== undefined)
                  baseInput = {
                    id: base.object,
                    data: await this.object(base.object),
                    dtype: base.dtype,
                    depth: bh.depth,
                  };
              }
              const enc = encodeObject(
                { data: bytes, id, dtype: t?.dtype, base: baseInput },
                this.compressor,
                this.level,
              );
              const blob = serializeObject(enc.header, enc.payload);
              await this.backend.put(objectKey(id), blob);
              storedBytesAdded += blob.length;
              counts[enc.header.codec]++;
            }
          }
          restored.update(bytes);
          parts.push({
            offset: p.offset,
            length: bytes.length,
            object: id,
            ...(t !== undefined ? { tensor: t.name, dtype: t.dtype, shape: [...t.shape] } : {}),
          });
          bytesDone += p.length;
          report("encode", src.path);
        }
      } finally {
        await src.close();
      }
      const fileSha = restored.digest("hex");
      let lossy: ManifestFile["lossy"];
      if (Object.keys(lossyTensors).length > 0)
        lossy = { originalSha256: sha, method: "bitdelta", tensors: lossyTensors };
      else if (fileSha !== sha)
        throw new IntegrityError(
          `${src.path} hashed to ${sha}, then to ${fileSha} when its parts were read: it changed during the ingest`,
        );
      const entry: ManifestFile = {
        path: src.path,
        size: src.size,
        sha256: fileSha,
        layout: plan.layout,
        parts,
        ...(lossy ? { lossy } : {}),
      };
      if (lossy === undefined) {
        const index = new TextEncoder().encode(
          JSON.stringify({ layout: entry.layout, size: entry.size, sha256: entry.sha256, parts }),
        );
        await this.backend.put(fileIndexKey(sha), index);
      }
      files.push(entry);
    }
    aborted(signal);
    report("commit");
    const manifest: Manifest = {
      format: "lowbit-store-manifest",
      version: 1,
      name: options.name,
      base: baseName,
      createdAt: new Date().toISOString(),
      files,
      logicalBytes: files.reduce((a, f) => a + f.size, 0),
    };
    await this.backend.put(manifestKey(options.name), new TextEncoder().encode(JSON.stringify(manifest)));
    return {
      name: options.name,
      base: baseName,
      manifest,
      logicalBytes: manifest.logicalBytes,
      storedBytesAdded,
      parts: counts,
      seconds: (performance.now() - t0) / 1000,
    };
  }

  private async sources(input: string | readonly string[] | readonly IngestFile[]): Promise<Source[]> {
    const limit = this.maxFileBytes;
    const fromDisk = async (abs: string, path: string) => {
      const st = await stat(abs);
      if (st.size > limit)
        throw new LimitExceededError(`${abs} is ${st.size} bytes, over the ingest limit of ${limit}`);
      return fileSource(abs, path, st.size);
    };
    if (typeof input === "string") {
      const st = await stat(input);
      if (st.isFile()) return [await fromDisk(input, input.split(/[\\/]/).pop()!)];
      const out = [];
      for await (const rel of walk(input)) out.push(await fromDisk(join(input, ...rel.split("/")), rel));
      if (out.length === 0) throw new RangeError(`${input} holds no files`);
      return out;
    }
    if (!Array.isArray(input) || input.length === 0)
      throw new TypeError(
        `input must be a directory, a non-empty list of file paths or of {path, data}, got ${describe(input)}`,
      );
    const out = [];
    const seen = new Set<string>();
    for (const item of input as readonly (string | IngestFile)[]) {
      let s: Source;
      if (typeof item === "string") s = await fromDisk(item, item.split(/[\\/]/).pop()!);
      else if (
        typeof item === "object" &&
        item !== null &&
        item.data instanceof Uint8Array &&
        typeof item.path === "string"
      ) {
        assertRelativePath(item.path, "input[].path");
        s = memorySource(item.path, item.data);
      } else
        throw new TypeError(
          `input entries must be file paths or {path, data: Uint8Array}, got ${describe(item)}`,
        );
      if (seen.has(s.path))
        throw new RangeError(`two input files map to the same path ${JSON.stringify(s.path)}`);
      seen.add(s.path);
      out.push(s);
    }
    return out;
  }

  private async knownFile(sha: string): Promise<Omit<ManifestFile, "path"> | null> {
    let doc: { layout: ManifestFile["layout"]; size: number; sha256: string; parts: ManifestPart[] };
    try {
      doc = JSON.parse(new TextDecoder().decode(await this.backend.get(fileIndexKey(sha))));
    } catch {
      return null;
    }
    if (doc.sha256 !== sha || !Array.isArray(doc.parts)) return null;
    for (const p of doc.parts) if ((await this.backend.stat(objectKey(p.object))) === undefined) return null;
    return { layout: doc.layout, size: doc.size, sha256: doc.sha256, parts: doc.parts };
  }

  /** The tensors of a stored model, by name. */
  private static tensorsOf(m: Manifest): Map<string, TensorRef> {
    const out = new Map<string, TensorRef>();
    for (const f of m.files) {
      for (const p of f.parts) {
        if (p.tensor === undefined || p.dtype === undefined || p.shape === undefined) continue;
        out.set(p.tensor, {
          name: p.tensor,
          dtype: p.dtype,
          shape: p.shape,
          object: p.object,
          elements: p.shape.reduce((a, b) => a * b, 1),
        });
      }
    }
    return out;
  }

  /**
   * Candidates share ≥ 1/2 of the new model's tensor bytes by signature (name, or shape for renamed
   * tensors, with an equal or narrower float dtype); the one with the lowest sampled bit distance
   * over up to 8 of the largest shared tensors wins, if it is below 0.9× the distance of the same
   * tensors misaligned (what an unrelated model of the same distribution scores).
   */
  private async pickBase(
    sources: readonly Source[],
    plans: readonly FilePlan[],
    named: string | undefined,
    self: string,
  ): Promise<{ name: string; tensors: Map<string, TensorRef> } | null> {
    if (named !== undefined) {
      const m = await this.manifest(named);
      return { name: m.name, tensors: Store.tensorsOf(m) };
    }
    try {
      return await this.findBase(sources, plans, self);
    } finally {
      await Promise.all(sources.map((s) => s.close()));
    }
  }

  private async findBase(
    sources: readonly Source[],
    plans: readonly FilePlan[],
    self: string,
  ): Promise<{ name: string; tensors: Map<string, TensorRef> } | null> {
    // The new model's tensors, from the headers; bytes are read only for the tensors compared.
    const mine: {
      name: string;
      dtype: string;
      shape: readonly number[];
      length: number;
      read: () => Promise<Uint8Array>;
    }[] = [];
    for (const [i, s] of sources.entries()) {
      const h = plans[i]!.header;
      if (h === undefined) continue;
      for (const [name, t] of h.tensors) {
        const [b, e] = t.dataOffsets;
        mine.push({
          name,
          dtype: t.dtype,
          shape: t.shape,
          length: e - b,
          read: () => s.read(h.dataStart + b, e - b),
        });
      }
    }
    if (mine.length === 0) return null;
    const total = mine.reduce((a, t) => a + t.length, 0);
    let best: { name: string; tensors: Map<string, TensorRef>; distance: number } | null = null;
    for (const m of await this.manifests()) {
      if (m.name === self) continue;
      const tensors = Store.tensorsOf(m);
      if (tensors.size === 0) continue;
      const renamed = renamePairs(tensors);
      const shared: { t: (typeof mine)[number]; b: TensorRef }[] = [];
      let sharedBytes = 0;
      for (const t of mine) {
        const b = matchBase(tensors, renamed, t.name, t.dtype, t.shape);
        if (b !== undefined) {
          shared.push({ t, b });
          sharedBytes += t.length;
        }
      }
      if (sharedBytes * 2 < total) continue;
      shared.sort((x, y) => y.t.length - x.t.length);
      let d = 0;
      let unrelated = 0;
      for (const { t, b } of shared.slice(0, 8)) {
        const baseBytes = await this.object(b.object);
        // A widened base is compared in the fine-tune's dtype.
        const wide = widen(baseBytes, b.dtype, t.dtype);
        if (wide === null || wide.length !== t.length) continue;
        const bytes = await t.read();
        const w = elementWidth(t.dtype);
        d += bitDistance(bytes, wide, w);
        unrelated += bitDistance(bytes, wide, w, 7919);
      }
      const distance = d / Math.max(unrelated, 1e-9);
      if (d > 0 && distance < 0.9 && (best === null || distance < best.distance))
        best = { name: m.name, tensors, distance };
      else if (d === 0 && unrelated > 0 && (best === null || best.distance > 0))
        best = { name: m.name, tensors, distance: 0 };
    }
    return best === null ? null : { name: best.name, tensors: best.tensors };
  }

  // ---------------------------------------------------------------- restore and reads

  async openFile(name: string, path: string): Promise<StoredFile> {
    this.check();
    const m = await this.manifest(name);
    const f = m.files.find((x) => x.path === path);
    if (f === undefined)
      throw new NotFoundError(`model ${JSON.stringify(name)} has no file ${JSON.stringify(path)}`);
    return this.storedFile(f);
  }

  private storedFile(f: ManifestFile): StoredFile {
    const parts = f.parts;
    const range = (start: number, end: number) => {
      if (
        !Number.isSafeInteger(start) ||
        !Number.isSafeInteger(end) ||
        start < 0 ||
        start > end ||
        end > f.size
      ) {
        throw new RangeError(`range must satisfy 0 ≤ start ≤ end ≤ ${f.size}, got [${start}, ${end})`);
      }
    };
    // First part whose end is after `pos` (parts are sorted and tile the file).
    const first = (pos: number) => {
      let lo = 0;
      let hi = parts.length;
      while (lo < hi) {
        const mid = (lo + hi) >> 1;
        if (parts[mid]!.offset + parts[mid]!.length <= pos) lo = mid + 1;
        else hi = mid;
      }
      return lo;
    };
    const self = this;
    async function* stream(start = 0, end = f.size): AsyncGenerator<Uint8Array> {
      range(start, end);
      for (let i = first(start); i < parts.length && parts[i]!.offset < end; i++) {
        const p = parts[i]!;
        const bytes = await self.object(p.object);
        if (bytes.length !== p.length)
          throw new CorruptDataError(
            `object ${p.object} holds ${bytes.length} bytes, the manifest says ${p.length}`,
          );
        const a = Math.max(start, p.offset) - p.offset;
        const b = Math.min(end, p.offset + p.length) - p.offset;
        yield bytes.subarray(a, b);
      }
    }
    return {
      path: f.path,
      size: f.size,
      sha256: f.sha256,
      async read(start = 0, end = f.size) {
        range(start, end);
        const out = new Uint8Array(end - start);
        let o = 0;
        for await (const chunk of stream(start, end)) {
          out.set(chunk, o);
          o += chunk.length;
        }
        return out;
      },
      stream,
    };
  }

  async restore(name: string, outDir: string, options: RestoreOptions = {}): Promise<RestoreResult> {
    this.check();
    const t0 = performance.now();
    if (typeof outDir !== "string" || outDir === "")
      throw new TypeError(`outDir must be a directory path, got ${describe(outDir)}`);
    const m = await this.manifest(name);
    const root = resolve(outDir);
    const bytesTotal = m.logicalBytes;
    let bytesDone = 0;
    for (const f of m.files) {
      assertRelativePath(f.path, "manifest file path");
      const target = resolve(root, ...f.path.split("/"));
      const rel = relative(root, target);
      if (rel.startsWith("..") || rel.includes(`..${sep}`))
        throw new CorruptDataError(`manifest path ${JSON.stringify(f.path)} escapes the output directory`);
      if (!options.overwrite) {
        const exists = await stat(target).then(
          () => true,
          () => false,
        );
        if (exists) throw new ConflictError(`${target} exists (pass overwrite to replace it)`);
      }
    }
    for (const f of m.files) {
      const target = resolve(root, ...f.path.split("/"));
      await mkdir(dirname(target), { recursive: true });
      const tmp = join(dirname(target), `.tmp-${randomBytes(6).toString("hex")}-${f.path.split("/").pop()}`);
      const fh = await open(tmp, "wx");
      const hash = createHash("sha256");
      let size = 0;
      try {
        for await (const chunk of this.storedFile(f).stream()) {
          aborted(options.signal);
          hash.update(chunk);
          await fh.write(chunk);
          size += chunk.length;
          bytesDone += chunk.length;
          options.onProgress?.({ file: f.path, bytesDone, bytesTotal });
        }
        const got = hash.digest("hex");
        if (size !== f.size || got !== f.sha256) {
          throw new CorruptDataError(
            `restored ${f.path} hashes to ${got} (${size} bytes), the manifest says ${f.sha256} (${f.size} bytes)`,
          );
        }
        await fh.sync();
        await fh.close();
        await rename(tmp, target);
      } catch (e) {
        await fh.close().catch(() => undefined);
        await unlink(tmp).catch(() => undefined);
        throw e;
      }
    }
    try {
      const d = await open(root, "r");
      await d.sync().catch(() => undefined);
      await d.close();
    } catch {
      // directory fsync is best effort
    }
    return { files: m.files.length, bytes: bytesDone, seconds: (performance.now() - t0) / 1000 };
  }

  // ---------------------------------------------------------------- housekeeping

  /** Every object a model needs: its parts and their delta bases, transitively. */
  private async closure(
    ids: Iterable<string>,
    headers: Map<string, ObjectHeader | null>,
  ): Promise<Set<string>> {
    const out = new Set<string>();
    const stack = [...ids];
    while (stack.length > 0) {
      const id = stack.pop()!;
      if (out.has(id)) continue;
      out.add(id);
      let h = headers.get(id);
      if (h === undefined) {
        try {
          h = (await this.objectHeader(id)) ?? null;
        } catch {
          h = null;
        }
        headers.set(id, h);
      }
      if (h?.base !== undefined) stack.push(h.base);
    }
    return out;
  }

  async stats(): Promise<StoreStats> {
    this.check();
    const sizes = new Map<string, number>();
    let storedBytes = 0;
    for await (const e of this.backend.list("objects/")) {
      sizes.set(e.key.slice("objects/".length).replace("/", ""), e.size);
      storedBytes += e.size;
    }
    for await (const e of this.backend.list("models/")) storedBytes += e.size;
    for await (const e of this.backend.list("files/")) storedBytes += e.size;
    const headers = new Map<string, ObjectHeader | null>();
    const counted = new Set<string>();
    const models: ModelStats[] = [];
    let logical = 0;
    for (const m of await this.manifests()) {
      const need = await this.closure(
        m.files.flatMap((f) => f.parts.map((p) => p.object)),
        headers,
      );
      let stored = 0;
      for (const id of need) {
        if (counted.has(id)) continue;
        counted.add(id);
        stored += sizes.get(id) ?? 0;
      }
      logical += m.logicalBytes;
      models.push({
        name: m.name,
        base: m.base,
        files: m.files.length,
        logicalBytes: m.logicalBytes,
        storedBytes: stored,
        ratio: m.logicalBytes > 0 ? stored / m.logicalBytes : 0,
      });
    }
    const byCodec = Object.fromEntries(
      CODECS.map((c) => [c, { objects: 0, logicalBytes: 0, storedBytes: 0 }]),
    ) as Record<PartCodec, { objects: number; logicalBytes: number; storedBytes: number }>;
    for (const [id, size] of sizes) {
      let h = headers.get(id);
      if (h === undefined) {
        h = (await this.objectHeader(id).catch(() => undefined)) ?? null;
        headers.set(id, h);
      }
      if (h === null) continue;
      const slot = byCodec[h.codec];
      slot.objects++;
      slot.logicalBytes += h.length;
      slot.storedBytes += size;
    }
    return {
      models,
      logicalBytes: logical,
      storedBytes,
      objects: sizes.size,
      ratio: logical > 0 ? storedBytes / logical : 0,
      byCodec,
    };
  }

  async verify(
    options: {
      onProgress?: (p: { objectsDone: number; objectsTotal: number }) => void;
      signal?: AbortSignal;
    } = {},
  ): Promise<VerifyReport> {
    this.check();
    const problems: VerifyProblem[] = [];
    const manifests: Manifest[] = [];
    for await (const e of this.backend.list("models/")) {
      const name = Buffer.from(e.key.slice("models/".length, -".json".length), "hex").toString("utf8");
      try {
        manifests.push(parseManifest(await this.backend.get(e.key), name));
      } catch (err) {
        problems.push({ key: e.key, problem: "corrupt", message: (err as Error).message, models: [name] });
      }
    }
    const users = new Map<string, Set<string>>();
    const headers = new Map<string, ObjectHeader | null>();
    for (const m of manifests) {
      for (const id of await this.closure(
        m.files.flatMap((f) => f.parts.map((p) => p.object)),
        headers,
      )) {
        let s = users.get(id);
        if (s === undefined) {
          s = new Set();
          users.set(id, s);
        }
        s.add(m.name);
      }
    }
    const present = new Set<string>();
    for await (const e of this.backend.list("objects/"))
      present.add(e.key.slice("objects/".length).replace("/", ""));
    let done = 0;
    let bytes = 0;
    const total = present.size;
    const bad = new Set<string>();
    for (const id of present) {
      aborted(options.signal);
      try {
        const { header, payload } = parseObject(await this.readObjectBytes(id), id, this.maxObjectBytes);
        // Bases are checked on their own; decode against the stored base without the cache.
        const base =
          header.base === undefined ? undefined : await this.object(header.base).catch(() => undefined);
        if (header.base !== undefined && base === undefined)
          throw new CorruptDataError(`object ${id}: its base ${header.base} cannot be read`);
        const out = decodeObject(header, payload, base, this.compressor, id);
        bytes += out.length;
      } catch (err) {
        bad.add(id);
        const problem =
          err instanceof LowbitError && err.code === "ERR_INTEGRITY" ? "hash-mismatch" : "corrupt";
        problems.push({
          key: objectKey(id),
          problem,
          message: (err as Error).message,
          models: [...(users.get(id) ?? [])],
        });
      }
      done++;
      options.onProgress?.({ objectsDone: done, objectsTotal: total });
    }
    for (const [id, models] of users) {
      if (!present.has(id))
        problems.push({
          key: objectKey(id),
          problem: "missing",
          message: `object ${id} is missing`,
          models: [...models],
        });
    }
    return { ok: problems.length === 0, objectsChecked: done, bytesChecked: bytes, problems };
  }

  async gc(options: { graceMs?: number } = {}): Promise<GcReport> {
    this.check();
    const grace = options.graceMs ?? 3_600_000;
    if (typeof grace !== "number" || !(grace >= 0))
      throw new RangeError(`options.graceMs must be a number ≥ 0, got ${describe(grace)}`);
    const now = Date.now();
    const headers = new Map<string, ObjectHeader | null>();
    const manifests = await this.manifests();
    const live = await this.closure(
      manifests.flatMap((m) => m.files.flatMap((f) => f.parts.map((p) => p.object))),
      headers,
    );
    const liveFiles = new Set(
      manifests.flatMap((m) => m.files.map((f) => f.lossy?.originalSha256 ?? f.sha256)),
    );
    let objectsRemoved = 0;
    let bytesRemoved = 0;
    const doomed: { key: string; size: number }[] = [];
    for await (const e of this.backend.list("objects/")) {
      const id = e.key.slice("objects/".length).replace("/", "");
      if (!live.has(id) && now - e.mtimeMs >= grace) doomed.push({ key: e.key, size: e.size });
    }
    for await (const e of this.backend.list("files/")) {
      const sha = e.key.slice("files/".length, -".json".length).replace("/", "");
      if (!liveFiles.has(sha) && now - e.mtimeMs >= grace) doomed.push({ key: e.key, size: 0 });
    }
    for (const d of doomed) {
      await this.backend.delete(d.key);
      if (d.key.startsWith("objects/")) {
        objectsRemoved++;
        bytesRemoved += d.size;
      }
    }
    const tempFilesRemoved = this.backend.cleanup ? await this.backend.cleanup(grace) : 0;
    return { objectsRemoved, bytesRemoved, tempFilesRemoved };
  }

  async close(): Promise<void> {
    this.closed = true;
  }
}

/** Tensors of a base grouped by (dtype-agnostic) shape, in order: pairs renamed tensors by position. */
function renamePairs(base: Map<string, TensorRef>): Map<string, TensorRef[]> {
  const out = new Map<string, TensorRef[]>();
  for (const t of base.values()) {
    const k = t.shape.join("x");
    let list = out.get(k);
    if (list === undefined) {
      list = [];
      out.set(k, list);
    }
    list.push(t);
  }
  return out;
}

function baseFits(b: TensorRef, dtype: string, elements: number): boolean {
  if (b.elements !== elements) return false;
  return b.dtype === dtype || (dtype === "F32" && (b.dtype === "F16" || b.dtype === "BF16"));
}

/** Same name (and fitting dtype/shape) first; else the unused same-shape base tensor in order. */
function matchBase(
  base: Map<string, TensorRef>,
  byShape: Map<string, TensorRef[]>,
  name: string,
  dtype: string,
  shape: readonly number[],
): TensorRef | undefined {
  const elements = shape.reduce((a, b) => a * b, 1);
  const same = base.get(name);
  if (same !== undefined && same.shape.join("x") === shape.join("x") && baseFits(same, dtype, elements))
    return same;
  const list = byShape.get(shape.join("x"));
  if (list === undefined) return undefined;
  // Renamed tensors: the first same-shape base tensor whose name the new model does not use itself.
  const idx = list.findIndex((t) => !base.has(name) && baseFits(t, dtype, elements));
  if (idx < 0) return undefined;
  return list.splice(idx, 1)[0];
}

function parseManifest(bytes: Uint8Array, name: string): Manifest {
  let m: Manifest;
  try {
    m = JSON.parse(new TextDecoder("utf-8", { fatal: true }).decode(bytes)) as Manifest;
  } catch (e) {
    throw new CorruptDataError(`manifest of ${JSON.stringify(name)} is not JSON`, { cause: e });
  }
  if (m === null || typeof m !== "object" || m.format !== "lowbit-store-manifest")
    throw new CorruptDataError(`manifest of ${JSON.stringify(name)} is not a lowbit manifest`);
  if (m.version !== 1)
    throw new UnsupportedError(
      `manifest of ${JSON.stringify(name)} has version ${String(m.version)}; this library reads 1`,
    );
  if (m.name !== name || !Array.isArray(m.files))
    throw new CorruptDataError(`manifest of ${JSON.stringify(name)} is inconsistent`);
  for (const f of m.files) {
    if (typeof f.path !== "string")
      throw new CorruptDataError(`manifest of ${JSON.stringify(name)} has a file without a path`);
    try {
      assertRelativePath(f.path, "manifest file path");
    } catch {
      throw new CorruptDataError(
        `manifest of ${JSON.stringify(name)} has an unsafe path ${JSON.stringify(f.path)}`,
      );
    }
    let pos = 0;
    for (const p of f.parts) {
      if (
        p.offset !== pos ||
        !Number.isSafeInteger(p.length) ||
        p.length < 0 ||
        !/^[0-9a-f]{64}$/.test(p.object)
      ) {
        throw new CorruptDataError(
          `manifest of ${JSON.stringify(name)}: parts of ${f.path} do not tile the file`,
        );
      }
      pos += p.length;
    }
    if (pos !== f.size)
      throw new CorruptDataError(
        `manifest of ${JSON.stringify(name)}: parts of ${f.path} cover ${pos} of ${f.size} bytes`,
      );
  }
  return m;
}
