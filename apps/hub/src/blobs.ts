/**
 * The hub's file contents: each distinct content (by sha256) is one @lowbit/store model
 * `blob/<sha256>` holding one file, so dedup and delta compression against related models come
 * from the store; quantized variants are models `variant/<source sha256>/<recipe hash>`.
 */
import { createHash, randomBytes } from "node:crypto";
import { type FileHandle, mkdir, open, rm } from "node:fs/promises";
import { join } from "node:path";
import {
  assertInteger,
  assertUint8Array,
  CorruptDataError,
  describe,
  IntegrityError,
  LimitExceededError,
  LowbitError,
  NotFoundError,
  throwIfAborted,
  UnsupportedError,
} from "@lowbit/bits";
import { checkQuantizeOptions, quantizeFile } from "@lowbit/cli";
import { DEFAULT_LIMITS, parseHeader } from "@lowbit/safetensors";
import {
  type Backend,
  type Compressor,
  type IngestFile,
  type Manifest,
  type ManifestFile,
  Store,
  type StoredFile,
} from "@lowbit/store";
import { zstdCompressor } from "@lowbit/zstd";
import { Slots } from "./_slots.js";
import { isSha256 } from "./names.js";
import type { BlobInfo, BlobStats, BlobsApi, BlobsStats, VariantInfo, VariantRecipe } from "./types.js";

export interface BlobsOptions {
  /** Data folder: `store/` (objects, unless `backend` is given) and `tmp/` (work in flight). */
  readonly dir: string;
  /** Where the store's objects go instead of `<dir>/store` (e.g. an S3 backend). */
  readonly backend?: Backend;
  /** Default `zstdCompressor()`, closed by `close()`; a compressor passed in stays open. */
  readonly compressor?: Compressor;
  /** The store's cache of decoded objects (default: the store's, 256 MiB). */
  readonly cacheBytes?: number;
  /**
   * Largest blob accepted (default 50 GiB). The store reads files part by part, so its own limits
   * are on a single part: a safetensors tensor of at most 2 GiB − 1.
   */
  readonly maxUploadBytes?: number;
}

/** The one file of every blob and variant model. */
const FILE = "blob";
const DEFAULT_MAX_UPLOAD = 50 * 2 ** 30;
/** Variant computations at once per process: each keeps a core busy. */
const MAX_VARIANT_JOBS = 2;
/** Node reads at most this much per call. */
const IO_CHUNK = 2 ** 30;
/** `store.stats()` reads every manifest: answers are reused this long unless something was stored. */
const STATS_TTL_MS = 2000;
const DEFAULT_GRACE_MS = 3_600_000;
const DECIMAL = /^-?(?:\d+(?:\.\d*)?|\.\d+)(?:[eE][+-]?\d+)?$/;

function sha256Hex(data: Uint8Array | string): string {
  return createHash("sha256").update(data).digest("hex");
}

function blobName(sha: string): string {
  return `blob/${sha}`;
}

function variantName(source: string, key: string): string {
  return `variant/${source}/${sha256Hex(key).slice(0, 32)}`;
}

function assertSha(value: unknown, what: string): asserts value is string {
  if (typeof value !== "string") throw new TypeError(`${what} must be a string, got ${describe(value)}`);
  if (!isSha256(value))
    throw new RangeError(`${what} must be 64 lowercase hex digits (sha256), got ${describe(value)}`);
}

function assertBlobInfo(value: unknown, what: string): asserts value is BlobInfo {
  if (typeof value !== "object" || value === null)
    throw new TypeError(`${what} must be {sha256, size}, got ${describe(value)}`);
  const v = value as Partial<BlobInfo>;
  assertSha(v.sha256, `${what}.sha256`);
  assertInteger(v.size, `${what}.size`, 0, Number.MAX_SAFE_INTEGER);
}

function isNotFound(e: unknown): boolean {
  return e instanceof LowbitError && e.code === "ERR_NOT_FOUND";
}

function abortError(signal: AbortSignal): Error {
  const reason: unknown = signal.reason;
  if (reason instanceof Error) return reason;
  const e = new Error("the operation was aborted");
  e.name = "AbortError";
  return e;
}

/** A query value as a quantizer option: "true"/"false", a decimal number, else the string. */
function parseValue(text: string): number | string | boolean {
  if (text === "true") return true;
  if (text === "false") return false;
  if (DECIMAL.test(text)) {
    const n = Number(text);
    if (Number.isFinite(n)) return n;
  }
  return text;
}

/**
 * The canonical text of a recipe: `format;key=value;…` with keys sorted, strings percent-encoded.
 * It names the cached variant, so it must be injective: a string that would read back as a number
 * or boolean (`"128"`, `"true"`) is refused, as no URL could ask for it anyway.
 */
export function recipeKey(recipe: VariantRecipe): string {
  if (typeof recipe !== "object" || recipe === null)
    throw new TypeError(`recipe must be {format, options}, got ${describe(recipe)}`);
  if (typeof recipe.format !== "string" || recipe.format === "")
    throw new TypeError(`recipe.format must be a non-empty string, got ${describe(recipe.format)}`);
  const options: unknown = recipe.options;
  if (typeof options !== "object" || options === null || Array.isArray(options))
    throw new TypeError(`recipe.options must be an object, got ${describe(options)}`);
  const out = [encodeURIComponent(recipe.format)];
  for (const key of Object.keys(options).sort()) {
    const v: unknown = (options as Record<string, unknown>)[key];
    let text: string;
    if (typeof v === "boolean") text = String(v);
    else if (typeof v === "number") {
      if (!Number.isFinite(v))
        throw new RangeError(`recipe.options.${key} must be a finite number, got ${describe(v)}`);
      text = String(v);
    } else if (typeof v === "string") {
      if (parseValue(v) !== v)
        throw new RangeError(
          `recipe.options.${key} is the string ${JSON.stringify(v)}, which reads as a ${typeof parseValue(v)}; pass it as one`,
        );
      text = encodeURIComponent(v);
    } else
      throw new TypeError(`recipe.options.${key} must be a number, string or boolean, got ${describe(v)}`);
    out.push(`${encodeURIComponent(key)}=${text}`);
  }
  return out.join(";");
}

/**
 * The variant a download asks for: undefined without a `format` parameter; else every other
 * parameter is a quantizer option ("true"/"false" → boolean, a decimal number → number, else the
 * string). An unknown format or option, or a repeated parameter, is a RangeError listing what is
 * known; an option of the wrong type a TypeError (both from `checkQuantizeOptions`).
 */
export function parseVariantQuery(params: URLSearchParams): VariantRecipe | undefined {
  if (!(params instanceof URLSearchParams))
    throw new TypeError(`params must be URLSearchParams, got ${describe(params)}`);
  const formats = params.getAll("format");
  if (formats.length === 0) return undefined;
  if (formats.length > 1) throw new RangeError(`format must be given once, got ${formats.length} times`);
  const format = formats[0]!;
  const entries: [string, number | string | boolean][] = [];
  const seen = new Set<string>();
  for (const [key, value] of params) {
    if (key === "format") continue;
    if (seen.has(key)) throw new RangeError(`option ${JSON.stringify(key)} must be given once`);
    seen.add(key);
    entries.push([key, parseValue(value)]);
  }
  // fromEntries defines own properties: a "__proto__" key stays a (rejected) option, not a prototype.
  const options = Object.fromEntries(entries) as Record<string, number | string | boolean>;
  checkQuantizeOptions(format, options);
  return { format, options };
}

/** The model's one file; anything else means the store's metadata is not what this module wrote. */
function fileOf(m: Manifest): ManifestFile {
  const f = m.files.find((x) => x.path === FILE);
  if (f === undefined)
    throw new CorruptDataError(`stored model ${JSON.stringify(m.name)} has no file ${JSON.stringify(FILE)}`);
  return f;
}

/**
 * Every storage failure during a read (a corrupt or missing object, a bad header) is reported as
 * IntegrityError: the bytes the hub promised cannot be produced, and none wrong ever are.
 */
function verified(f: StoredFile, what: string): StoredFile {
  const wrap = (e: unknown): unknown =>
    e instanceof LowbitError
      ? new IntegrityError(`${what}: stored data failed verification (${e.code}): ${e.message}`, { cause: e })
      : e;
  return {
    path: f.path,
    size: f.size,
    sha256: f.sha256,
    async read(start?: number, end?: number): Promise<Uint8Array> {
      try {
        return await f.read(start, end);
      } catch (e) {
        throw wrap(e);
      }
    },
    async *stream(start?: number, end?: number): AsyncGenerator<Uint8Array> {
      try {
        yield* f.stream(start, end);
      } catch (e) {
        throw wrap(e);
      }
    },
  };
}

async function writeAll(fh: FileHandle, chunk: Uint8Array): Promise<void> {
  let off = 0;
  while (off < chunk.length) {
    const { bytesWritten } = await fh.write(chunk, off, Math.min(chunk.length - off, IO_CHUNK));
    off += bytesWritten;
  }
}

/** A computation shared by concurrent requests; aborted only when every one of them gave up. */
interface Shared {
  readonly promise: Promise<VariantInfo>;
  readonly controller: AbortController;
  waiters: number;
}

export class Blobs implements BlobsApi {
  /** The store is single-writer: every ingest and removal runs here, one at a time. */
  private queue: Promise<unknown> = Promise.resolve();
  /** Writes under way (uploads, variant computations, gc): `close` lets them finish. */
  private readonly active = new Set<Promise<unknown>>();
  private readonly inflight = new Map<string, Shared>();
  /** Variant computations running at once: quantizers are CPU-bound. */
  private readonly variantSlots = new Slots(MAX_VARIANT_JOBS);
  private statsCache:
    | { readonly at: number; readonly gen: number; readonly value: Promise<BlobsStats> }
    | undefined;
  /** Bumped by every change to the store, so a stats answer computed across one is not reused. */
  private gen = 0;
  private closing: Promise<void> | undefined;

  private constructor(
    private readonly store: Store,
    private readonly tmp: string,
    private readonly ownedCompressor: Compressor | undefined,
    readonly maxUploadBytes: number,
  ) {}

  /** Opens (or creates) the blob store in `options.dir`; temp files left by a crash are deleted. */
  static async open(options: BlobsOptions): Promise<Blobs> {
    if (typeof options !== "object" || options === null)
      throw new TypeError(`options must be an object, got ${describe(options)}`);
    const { dir, backend, compressor, cacheBytes } = options;
    if (typeof dir !== "string" || dir === "")
      throw new TypeError(`options.dir must be a non-empty path, got ${describe(dir)}`);
    const maxUploadBytes = options.maxUploadBytes ?? DEFAULT_MAX_UPLOAD;
    assertInteger(maxUploadBytes, "options.maxUploadBytes", 0, Number.MAX_SAFE_INTEGER);
    if (cacheBytes !== undefined) assertInteger(cacheBytes, "options.cacheBytes", 0, Number.MAX_SAFE_INTEGER);

    // Only this process writes here (the store is single-writer): whatever is in tmp/ is a leftover.
    const tmp = join(dir, "tmp");
    await rm(tmp, { recursive: true, force: true });
    await mkdir(tmp, { recursive: true });

    const owned = compressor === undefined ? zstdCompressor() : undefined;
    try {
      const storeOptions = {
        compressor: compressor ?? owned!,
        ...(cacheBytes !== undefined ? { cacheBytes } : {}),
      };
      const where = backend ?? join(dir, "store");
      let store: Store;
      try {
        store = await Store.open(where, storeOptions);
      } catch (e) {
        if (!isNotFound(e)) throw e;
        store = await Store.init(where, storeOptions);
      }
      return new Blobs(store, tmp, owned, maxUploadBytes);
    } catch (e) {
      await owned?.close?.();
      throw e;
    }
  }

  async open(sha256: string): Promise<StoredFile> {
    this.check();
    assertSha(sha256, "sha256");
    return this.openBlob(sha256);
  }

  private async openBlob(sha256: string): Promise<StoredFile> {
    const f = await this.openModel(blobName(sha256), `no blob with sha256 ${sha256}`);
    if (f.sha256 !== sha256)
      throw new IntegrityError(`stored blob ${sha256} says its content hashes to ${f.sha256}`);
    return verified(f, `blob ${sha256}`);
  }

  private check(): void {
    if (this.closing !== undefined) throw new Error("the blob store is closed");
  }

  private track<T>(work: Promise<T>): Promise<T> {
    this.active.add(work);
    const done = () => this.active.delete(work);
    work.then(done, done);
    return work;
  }

  private serial<T>(fn: () => Promise<T>): Promise<T> {
    const run = this.queue.then(fn);
    this.queue = run.catch(() => undefined);
    return run;
  }

  private invalidate(): void {
    this.gen++;
    this.statsCache = undefined;
  }

  private async tempDir(prefix: string): Promise<string> {
    const d = join(this.tmp, `${prefix}-${randomBytes(8).toString("hex")}`);
    await mkdir(d);
    return d;
  }

  private async manifestOf(name: string): Promise<Manifest | undefined> {
    try {
      return await this.store.manifest(name);
    } catch (e) {
      if (isNotFound(e)) return undefined;
      throw e;
    }
  }

  /** The file of a stored model, or NotFoundError(`missing`) when the model does not exist. */
  private async openModel(name: string, missing: string): Promise<StoredFile> {
    try {
      return await this.store.openFile(name, FILE);
    } catch (e) {
      if (!isNotFound(e)) throw e;
      // openFile says ERR_NOT_FOUND both for a missing model and for a model without the file.
      if ((await this.manifestOf(name)) === undefined) throw new NotFoundError(missing);
      throw new CorruptDataError(`stored model ${JSON.stringify(name)} has no file ${JSON.stringify(FILE)}`, {
        cause: e,
      });
    }
  }

  /**
   * Stores one file as model `name` through the queue, unless a model of that name already exists
   * (a concurrent upload of the same content got there first). The store hashes what it stores:
   * its hash must be `sha` (when given) and its size `size`.
   */
  private ingest(
    name: string,
    input: string | readonly IngestFile[],
    size: number,
    options: { readonly sha?: string; readonly base?: null; readonly signal?: AbortSignal | undefined },
  ): Promise<ManifestFile> {
    return this.serial(async () => {
      const { signal } = options;
      throwIfAborted(signal);
      const existing = await this.manifestOf(name);
      if (existing !== undefined) return fileOf(existing);
      let f: ManifestFile;
      try {
        const r = await this.store.ingest(input, {
          name,
          ...(options.base === null ? { base: null } : {}),
          ...(signal !== undefined ? { signal } : {}),
        });
        f = fileOf(r.manifest);
      } finally {
        this.invalidate();
      }
      if ((options.sha !== undefined && f.sha256 !== options.sha) || f.size !== size) {
        // The store read other bytes than were checked (the temp file changed?): do not keep them.
        await this.store.remove(name).catch(() => undefined);
        throw new IntegrityError(
          `stored ${name} hashes to ${f.sha256} (${f.size} bytes), expected ${options.sha ?? "?"} (${size} bytes)`,
        );
      }
      return f;
    });
  }

  async has(sha256: string): Promise<BlobInfo | undefined> {
    this.check();
    assertSha(sha256, "sha256");
    return this.lookup(sha256);
  }

  private async lookup(sha256: string): Promise<BlobInfo | undefined> {
    const m = await this.manifestOf(blobName(sha256));
    if (m === undefined) return undefined;
    const f = fileOf(m);
    if (f.sha256 !== sha256)
      throw new CorruptDataError(`stored blob ${sha256} says its content hashes to ${f.sha256}`);
    return { sha256: f.sha256, size: f.size };
  }

  async receive(
    body: AsyncIterable<Uint8Array>,
    expect: BlobInfo,
    options: { readonly signal?: AbortSignal } = {},
  ): Promise<BlobInfo> {
    this.check();
    return this.track(this.receiveNow(body, expect, options.signal));
  }

  private async receiveNow(
    body: AsyncIterable<Uint8Array>,
    expect: BlobInfo,
    signal: AbortSignal | undefined,
  ): Promise<BlobInfo> {
    const iterable = body as Partial<AsyncIterable<Uint8Array> & Iterable<Uint8Array>> | null;
    if (
      typeof iterable !== "object" ||
      iterable === null ||
      (typeof iterable[Symbol.asyncIterator] !== "function" &&
        typeof iterable[Symbol.iterator] !== "function")
    )
      throw new TypeError(`body must be an async iterable of Uint8Array, got ${describe(body)}`);
    assertBlobInfo(expect, "expect");
    if (expect.size > this.maxUploadBytes)
      throw new LimitExceededError(
        `upload of ${expect.size} bytes exceeds the limit of ${this.maxUploadBytes} bytes`,
      );
    throwIfAborted(signal);
    // Already stored: the body is left unread, for the caller to drain or drop.
    const existing = await this.lookup(expect.sha256);
    if (existing !== undefined) return existing;

    const work = await this.tempDir("upload");
    try {
      const path = join(work, FILE);
      const got = await receiveFile(iterable as AsyncIterable<Uint8Array>, path, expect, signal);
      if (got.size !== expect.size || got.sha256 !== expect.sha256)
        throw new IntegrityError(
          `upload does not match: expected sha256 ${expect.sha256} (${expect.size} bytes), got ${got.sha256} (${got.size} bytes)`,
        );
      const f = await this.ingest(blobName(expect.sha256), path, expect.size, {
        sha: expect.sha256,
        signal,
      });
      return { sha256: f.sha256, size: f.size };
    } finally {
      await rm(work, { recursive: true, force: true });
    }
  }

  async put(data: Uint8Array): Promise<BlobInfo> {
    this.check();
    assertUint8Array(data, "data");
    if (data.length > this.maxUploadBytes)
      throw new LimitExceededError(`${data.length} bytes exceed the limit of ${this.maxUploadBytes}`);
    return this.track(
      (async () => {
        const sha = sha256Hex(data);
        const existing = await this.lookup(sha);
        if (existing !== undefined) return existing;
        const f = await this.ingest(blobName(sha), [{ path: FILE, data }], data.length, { sha });
        return { sha256: f.sha256, size: f.size };
      })(),
    );
  }

  async cachedVariant(source: string, recipe: VariantRecipe): Promise<VariantInfo | undefined> {
    this.check();
    assertSha(source, "source");
    const key = recipeKey(recipe);
    const m = await this.manifestOf(variantName(source, key));
    if (m === undefined) return undefined;
    const f = fileOf(m);
    return { sha256: f.sha256, size: f.size, recipe: key, cached: true };
  }

  async openVariant(source: string, recipe: VariantRecipe): Promise<StoredFile> {
    this.check();
    assertSha(source, "source");
    const key = recipeKey(recipe);
    const f = await this.openModel(variantName(source, key), `no cached variant ${key} of blob ${source}`);
    return verified(f, `variant ${key} of blob ${source}`);
  }

  async variant(
    source: BlobInfo,
    recipe: VariantRecipe,
    options: { readonly signal?: AbortSignal } = {},
  ): Promise<VariantInfo> {
    this.check();
    assertBlobInfo(source, "source");
    const key = recipeKey(recipe);
    checkQuantizeOptions(recipe.format, recipe.options);
    const { signal } = options;
    throwIfAborted(signal);
    const name = variantName(source.sha256, key);
    let shared = this.inflight.get(name);
    if (shared === undefined) {
      const cached = await this.cachedVariant(source.sha256, recipe);
      if (cached !== undefined) return cached;
      shared = this.inflight.get(name);
    }
    if (shared === undefined) {
      const controller = new AbortController();
      const created: Shared = {
        promise: this.track(this.computeVariant(source, recipe, key, name, controller.signal)).finally(() => {
          if (this.inflight.get(name) === created) this.inflight.delete(name);
        }),
        controller,
        waiters: 0,
      };
      // Every waiter may have given up: the rejection is then nobody's to handle.
      created.promise.catch(() => undefined);
      shared = created;
      this.inflight.set(name, shared);
    }
    return this.awaitShared(name, shared, signal);
  }

  /** Waits for a shared computation; a caller's abort rejects only its own wait. */
  private awaitShared(name: string, shared: Shared, signal: AbortSignal | undefined): Promise<VariantInfo> {
    shared.waiters++;
    if (signal === undefined) return shared.promise;
    return new Promise<VariantInfo>((resolve, reject) => {
      const onAbort = () => {
        shared.waiters--;
        if (shared.waiters === 0) {
          // Nobody waits any more: stop the work, and let a later request start afresh.
          shared.controller.abort(signal.reason);
          if (this.inflight.get(name) === shared) this.inflight.delete(name);
        }
        reject(abortError(signal));
      };
      if (signal.aborted) {
        onAbort();
        return;
      }
      signal.addEventListener("abort", onAbort, { once: true });
      shared.promise.then(resolve, reject).finally(() => signal.removeEventListener("abort", onAbort));
    });
  }

  /** Variant computations waiting for a free slot. */
  variantsQueued(): number {
    return this.variantSlots.waiting;
  }

  private async computeVariant(
    source: BlobInfo,
    recipe: VariantRecipe,
    key: string,
    name: string,
    signal: AbortSignal,
  ): Promise<VariantInfo> {
    const release = await this.variantSlots.acquire(signal);
    try {
      return await this.quantizeVariant(source, recipe, key, name, signal);
    } finally {
      release();
    }
  }

  private async quantizeVariant(
    source: BlobInfo,
    recipe: VariantRecipe,
    key: string,
    name: string,
    signal: AbortSignal,
  ): Promise<VariantInfo> {
    const file = await this.openBlob(source.sha256);
    if (file.size !== source.size)
      throw new IntegrityError(
        `blob ${source.sha256} holds ${file.size} bytes, source.size says ${source.size}`,
      );
    await assertSafetensors(file, source.sha256);
    throwIfAborted(signal);
    const work = await this.tempDir("variant");
    try {
      const input = join(work, "source.safetensors");
      const fh = await open(input, "wx");
      try {
        for await (const chunk of file.stream()) {
          throwIfAborted(signal);
          await writeAll(fh, chunk);
        }
      } finally {
        await fh.close();
      }
      // Quantizing is the long part and touches no store state: it runs outside the queue.
      const output = join(work, FILE);
      // A tensor the format cannot hold (a block size that does not divide its last axis, a
      // depthwise kernel, too few vectors for a codebook) is kept as it is, as llama.cpp and ModelOpt
      // keep such layers; only when no tensor at all can be quantized is the request an error.
      const r = await quantizeFile({
        input,
        output,
        format: recipe.format,
        options: recipe.options,
        onError: "skip",
        signal,
      });
      // A quantized file is no delta of anything stored: no base search.
      const f = await this.ingest(name, output, r.bytesOut, { base: null, signal });
      return { sha256: f.sha256, size: f.size, recipe: key, cached: false };
    } finally {
      await rm(work, { recursive: true, force: true });
    }
  }

  async stats(): Promise<BlobsStats> {
    this.check();
    const c = this.statsCache;
    if (c !== undefined && c.gen === this.gen && Date.now() - c.at < STATS_TTL_MS) return c.value;
    const gen = this.gen;
    const value = this.computeStats();
    this.statsCache = { at: Date.now(), gen, value };
    value.catch(() => {
      if (this.statsCache?.value === value) this.statsCache = undefined;
    });
    return value;
  }

  private async computeStats(): Promise<BlobsStats> {
    const s = await this.store.stats();
    const blobs = new Map<string, BlobStats>();
    const variants = { count: 0, logicalBytes: 0, storedBytes: 0 };
    for (const m of s.models) {
      if (m.name.startsWith("blob/")) {
        blobs.set(m.name.slice("blob/".length), { logicalBytes: m.logicalBytes, storedBytes: m.storedBytes });
      } else if (m.name.startsWith("variant/")) {
        variants.count++;
        variants.logicalBytes += m.logicalBytes;
        variants.storedBytes += m.storedBytes;
      }
    }
    return { blobs, variants, logicalBytes: s.logicalBytes, storedBytes: s.storedBytes };
  }

  /**
   * Blobs younger than `graceMs` (default 1 h) are kept even when unreferenced: an upload is stored
   * before the commit that references it, and the store's gc keeps objects that young as well.
   */
  async gc(
    keep: ReadonlySet<string>,
    options: { readonly graceMs?: number } = {},
  ): Promise<{ readonly removed: number }> {
    this.check();
    if (typeof keep !== "object" || keep === null || typeof keep.has !== "function")
      throw new TypeError(`keep must be a Set of sha256, got ${describe(keep)}`);
    const grace = options.graceMs ?? DEFAULT_GRACE_MS;
    if (typeof grace !== "number" || !(grace >= 0))
      throw new RangeError(`options.graceMs must be a number ≥ 0, got ${describe(grace)}`);
    return this.track(
      this.serial(async () => {
        const now = Date.now();
        const models = await this.store.list();
        const live = new Set<string>();
        let removed = 0;
        try {
          for (const m of models) {
            if (!m.name.startsWith("blob/")) continue;
            const sha = m.name.slice("blob/".length);
            if (keep.has(sha) || now - Date.parse(m.createdAt) < grace) live.add(sha);
            else {
              await this.store.remove(m.name);
              removed++;
            }
          }
          for (const m of models) {
            if (m.name.startsWith("variant/") && !live.has(m.name.split("/")[1]!))
              await this.store.remove(m.name);
          }
        } finally {
          this.invalidate();
        }
        await this.store.gc({ graceMs: grace });
        return { removed };
      }),
    );
  }

  /**
   * Lets uploads and gc under way finish, then closes the store (and the own compressor). Variant
   * computations are stopped (a codebook format can take minutes): a later request starts them again.
   */
  close(): Promise<void> {
    this.closing ??= (async () => {
      for (const shared of this.inflight.values()) shared.controller.abort(new Error("the hub is stopping"));
      await Promise.allSettled([...this.active]);
      await this.queue;
      await this.store.close();
      await this.ownedCompressor?.close?.();
    })();
    return this.closing;
  }
}

/** Streams `body` into a new file at `path`, hashing it; stops reading at the first byte too many. */
async function receiveFile(
  body: AsyncIterable<Uint8Array> | Iterable<Uint8Array>,
  path: string,
  expect: BlobInfo,
  signal: AbortSignal | undefined,
): Promise<BlobInfo> {
  const it: AsyncIterator<Uint8Array> | Iterator<Uint8Array> =
    Symbol.asyncIterator in body ? body[Symbol.asyncIterator]() : body[Symbol.iterator]();
  let onAbort: (() => void) | undefined;
  // A body that stalls must not hold an aborted upload: the wait races the signal.
  const aborted =
    signal === undefined
      ? undefined
      : new Promise<never>((_, reject) => {
          onAbort = () => reject(abortError(signal));
          signal.addEventListener("abort", onAbort, { once: true });
        });
  aborted?.catch(() => undefined);
  const hash = createHash("sha256");
  let size = 0;
  let finished = false;
  const fh = await open(path, "wx");
  try {
    for (;;) {
      throwIfAborted(signal);
      const next = aborted === undefined ? await it.next() : await Promise.race([it.next(), aborted]);
      if (next.done === true) {
        finished = true;
        break;
      }
      const chunk: unknown = next.value;
      if (!(chunk instanceof Uint8Array))
        throw new TypeError(`body must yield Uint8Array chunks, got ${describe(chunk)}`);
      size += chunk.length;
      if (size > expect.size)
        throw new LimitExceededError(
          `upload of ${expect.sha256} sent more than the announced ${expect.size} bytes; stopped reading`,
        );
      hash.update(chunk);
      await writeAll(fh, chunk);
    }
    throwIfAborted(signal);
    await fh.sync();
  } finally {
    if (onAbort !== undefined) signal?.removeEventListener("abort", onAbort);
    // Stop the producer (a request stream) without waiting for it: it may never answer.
    if (!finished) Promise.resolve(it.return?.()).catch(() => undefined);
    await fh.close();
  }
  return { sha256: hash.digest("hex"), size };
}

/** UnsupportedError unless the stored file starts with a valid safetensors header. */
async function assertSafetensors(file: StoredFile, sha: string): Promise<void> {
  const notSafetensors = (why: string, cause?: unknown) =>
    new UnsupportedError(
      `blob ${sha} is not a safetensors file (${why}); quantized variants exist only for safetensors files`,
      cause === undefined ? undefined : { cause },
    );
  if (file.size < 8) throw notSafetensors(`${file.size} bytes`);
  const first8 = await file.read(0, 8);
  const n = new DataView(first8.buffer, first8.byteOffset, 8).getBigUint64(0, true);
  if (n > BigInt(Math.min(file.size - 8, DEFAULT_LIMITS.maxHeaderBytes)))
    throw notSafetensors(`its first 8 bytes give a header length of ${n} bytes`);
  const head = await file.read(0, 8 + Number(n));
  try {
    parseHeader(head, { fileSize: file.size });
  } catch (e) {
    if (e instanceof LowbitError || e instanceof RangeError) throw notSafetensors(e.message, e);
    throw e;
  }
}
