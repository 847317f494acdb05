/// <reference types="node" />
import { availableParallelism } from "node:os";
import type { Transferable } from "node:worker_threads";
import {
  assertInteger,
  assertOptions,
  assertUint8Array,
  CorruptDataError,
  LimitExceededError,
} from "@lowbit/bits";
import type * as Binding from "zstd-napi/binding.js";
import {
  assertLevel,
  assertMaxSize,
  BINDING_PATH,
  compressFrame,
  decompressKnown,
  decompressUnknown,
  newCCtx,
  scanFrames,
  zstd,
} from "./_native.js";
import { WorkerPool } from "./_pool.js";
import { WORKER_SOURCE } from "./_worker.js";

/** Options of zstdCompressor. */
export interface ZstdCompressorOptions {
  /** Level used when a call passes none: an integer in [min, max] of the linked zstd (−131072…22). Default 3. */
  readonly level?: number;
  /**
   * Worker threads for compressAsync/decompressAsync, started on first use. Default
   * min(2, os.availableParallelism()); 0 runs the async forms on the calling thread.
   */
  readonly threads?: number;
}

/**
 * A zstd Compressor (the shape @lowbit/store's `Compressor` interface asks for). Frames carry the content
 * size and a checksum, so corruption is detected on decompress and sizes are known before allocating.
 */
export interface ZstdCompressor {
  readonly name: "zstd";
  readonly defaultLevel: number;
  /** Size of the worker pool (0: the async forms run on the calling thread). */
  readonly threads: number;
  /** Async jobs queued or running. */
  readonly pending: number;
  /** One frame holding `data`. */
  compress(data: Uint8Array, level?: number): Uint8Array;
  /** The content of one frame or of several concatenated frames; ERR_CORRUPT / ERR_LIMIT on bad input. */
  decompress(data: Uint8Array, maxSize: number): Uint8Array;
  /** compress on a worker thread; identical bytes. */
  compressAsync(data: Uint8Array, level?: number): Promise<Uint8Array>;
  /** decompress on a worker thread; identical results and errors. */
  decompressAsync(data: Uint8Array, maxSize: number): Promise<Uint8Array>;
  /** Terminates the workers; later async calls reject. The sync forms keep working. Idempotent. */
  close(): Promise<void>;
}

const OPTION_KEYS = new Set(["level", "threads"]);
const MAX_THREADS = 256;
const DEFAULT_LEVEL = 3;

type WorkerReply =
  | { readonly ok: true; readonly value: Uint8Array }
  | {
      readonly ok: false;
      readonly kind: "corrupt" | "limit" | "error";
      readonly message: string;
      readonly cause?: string;
    };

/** The version of the zstd library zstd-napi links, e.g. "1.5.7". */
export function zstdVersion(): string {
  return zstd.versionString();
}

/** A zstd compressor with a lazily started worker pool for the async forms. */
export function zstdCompressor(options?: ZstdCompressorOptions): ZstdCompressor {
  assertOptions(options, "options");
  for (const key of Object.keys(options ?? {})) {
    if (!OPTION_KEYS.has(key)) throw new RangeError(`options.${key} is not an option of zstdCompressor`);
  }
  const defaultLevel = options?.level ?? DEFAULT_LEVEL;
  assertLevel(defaultLevel, "options.level");
  const threads = options?.threads ?? Math.min(2, availableParallelism());
  assertInteger(threads, "options.threads", 0, MAX_THREADS);

  let cctx: Binding.CCtx | undefined;
  let dctx: Binding.DCtx | undefined;
  let closed = false;
  const pool =
    threads > 0
      ? new WorkerPool({
          size: threads,
          source: WORKER_SOURCE,
          workerData: { bindingPath: BINDING_PATH },
          name: "zstdCompressor",
        })
      : undefined;

  const levelOf = (level: unknown): number => {
    if (level === undefined) return defaultLevel;
    assertLevel(level);
    return level;
  };

  const compress = (data: Uint8Array, level?: number): Uint8Array => {
    assertUint8Array(data, "data");
    const lvl = levelOf(level);
    cctx ??= newCCtx(defaultLevel);
    return compressFrame(cctx, data, lvl);
  };

  const decompress = (data: Uint8Array, maxSize: number): Uint8Array => {
    assertUint8Array(data, "data");
    assertMaxSize(maxSize);
    const scan = scanFrames(data, maxSize);
    dctx ??= new zstd.DCtx();
    return scan.known ? decompressKnown(dctx, data, scan.declared) : decompressUnknown(dctx, data, maxSize);
  };

  const closedError = (): Error =>
    new Error("zstdCompressor is closed: compressAsync and decompressAsync are no longer accepted");

  const runOnPool = async (message: Record<string, unknown>, data: Uint8Array): Promise<Uint8Array> => {
    const moved = movable(data);
    const reply = (await pool!.run({ ...message, data: moved.data }, moved.transfer)) as WorkerReply;
    if (reply.ok) return reply.value;
    const cause = reply.cause === undefined ? {} : { cause: new Error(reply.cause) };
    if (reply.kind === "corrupt") throw new CorruptDataError(reply.message, cause);
    if (reply.kind === "limit") throw new LimitExceededError(reply.message, cause);
    throw new Error(`zstdCompressor worker: ${reply.message}`);
  };

  return {
    name: "zstd",
    defaultLevel,
    threads,
    get pending(): number {
      return pool?.pending ?? 0;
    },
    compress,
    decompress,
    async compressAsync(data: Uint8Array, level?: number): Promise<Uint8Array> {
      if (closed) throw closedError();
      if (pool === undefined) return compress(data, level);
      assertUint8Array(data, "data");
      return runOnPool({ op: "compress", level: levelOf(level) }, data);
    },
    async decompressAsync(data: Uint8Array, maxSize: number): Promise<Uint8Array> {
      if (closed) throw closedError();
      if (pool === undefined) return decompress(data, maxSize);
      assertUint8Array(data, "data");
      assertMaxSize(maxSize);
      // Header walk on the calling thread (cheap): limit and framing errors never cost a copy.
      const scan = scanFrames(data, maxSize);
      return scan.known
        ? runOnPool({ op: "known", size: scan.declared }, data)
        : runOnPool({ op: "unknown", maxSize }, data);
    },
    async close(): Promise<void> {
      closed = true;
      await pool?.close();
    },
  };
}

/**
 * What to post for `data`: the caller keeps its buffer, so the bytes are copied once into a fresh
 * ArrayBuffer that is then transferred (a plain structured clone would copy the view's whole backing
 * buffer). Shared memory is posted as it is: the worker reads it in place.
 */
function movable(data: Uint8Array): { data: Uint8Array; transfer: Transferable[] } {
  if (data.buffer instanceof SharedArrayBuffer) return { data, transfer: [] };
  const copy = new Uint8Array(data);
  return { data: copy, transfer: [copy.buffer] };
}
