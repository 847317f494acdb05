/// <reference types="node" />
import { constants as bufferConstants } from "node:buffer";
import { createRequire } from "node:module";
import { assertInteger, CorruptDataError, LimitExceededError } from "@lowbit/bits";
import type * as Binding from "zstd-napi/binding.js";

// zstd-napi is CommonJS whose binding module assigns `module.exports` at run time, so ESM named
// imports cannot see its exports: load it through require. Workers load the same resolved file.
const require = createRequire(import.meta.url);
/** Absolute path of zstd-napi's native binding module (the worker pool requires it by this path). */
export const BINDING_PATH: string = require.resolve("zstd-napi/binding.js");
export const zstd: typeof Binding = require(BINDING_PATH) as typeof Binding;

export const MIN_LEVEL: number = zstd.minCLevel();
export const MAX_LEVEL: number = zstd.maxCLevel();
/** Output chunk size zstd recommends for streaming decompression (128 KiB + a block header). */
export const D_STREAM_OUT: number = zstd.dStreamOutSize();
export const C_STREAM_OUT: number = zstd.cStreamOutSize();
/** The largest buffer Node can allocate; a larger declared content size cannot be decoded at all. */
const MAX_BUFFER: number = bufferConstants.MAX_LENGTH;
/** Streamed one-shot decompression grows its output chunks up to this size. */
const MAX_STREAM_CHUNK = 16 * 1024 * 1024;

export function assertLevel(level: unknown, name = "level"): asserts level is number {
  assertInteger(level, name, MIN_LEVEL, MAX_LEVEL);
}

export function assertMaxSize(maxSize: unknown): asserts maxSize is number {
  assertInteger(maxSize, "maxSize", 0, Number.MAX_SAFE_INTEGER);
}

/** A compression context that writes the content size and a checksum into every frame header. */
export function newCCtx(level: number): Binding.CCtx {
  const cctx = new zstd.CCtx();
  cctx.setParameter(zstd.CParameter.contentSizeFlag, 1);
  cctx.setParameter(zstd.CParameter.checksumFlag, 1);
  cctx.setParameter(zstd.CParameter.compressionLevel, level);
  return cctx;
}

/** An uninitialised buffer that owns its ArrayBuffer (never a slice of Node's shared pool slab). */
export function ownedBuffer(size: number): Buffer {
  return Buffer.allocUnsafeSlow(size);
}

/** `bytes[0, length)` as a plain Uint8Array; copies when most of the allocation would be wasted. */
function trimmed(bytes: Uint8Array, length: number): Uint8Array {
  if (length >= bytes.length * 0.75) return new Uint8Array(bytes.buffer, bytes.byteOffset, length);
  const out = new Uint8Array(length);
  out.set(bytes.subarray(0, length));
  return out;
}

/** Maps a zstd failure on bad bytes to the lowbit error users match on. */
export function zstdError(error: unknown, where: string): Error {
  const message = error instanceof Error ? error.message : String(error);
  // ZSTD_error_frameParameter_windowTooLarge: the frame needs more window memory than the decoder allows.
  if (message.includes("too much memory")) {
    return new LimitExceededError(`zstd ${where}: ${message}`, { cause: error });
  }
  return new CorruptDataError(`zstd data is corrupt (${where}): ${message}`, { cause: error });
}

/** One frame holding `data` (content size and checksum in the frame). */
export function compressFrame(cctx: Binding.CCtx, data: Uint8Array, level: number): Uint8Array {
  cctx.setParameter(zstd.CParameter.compressionLevel, level);
  const dst = ownedBuffer(zstd.compressBound(data.length));
  const length = cctx.compress2(dst, data);
  return trimmed(dst, length);
}

/** What the frame headers of a frame sequence declare. */
export interface FrameScan {
  readonly frames: number;
  /** Σ declared content sizes; meaningful for the limit check even when some frame has none. */
  readonly declared: number;
  /** Every frame declares its content size (skippable frames count as 0). */
  readonly known: boolean;
}

/**
 * Walks the frame headers of `data` without decoding a block: throws ERR_CORRUPT for bytes that do not
 * parse as a whole number of frames and ERR_LIMIT as soon as the declared sizes pass `maxSize`.
 */
export function scanFrames(data: Uint8Array, maxSize: number): FrameScan {
  if (data.length === 0) throw new CorruptDataError("zstd data is corrupt: empty input holds no frame");
  const limit = Math.min(maxSize, MAX_BUFFER);
  let offset = 0;
  let frames = 0;
  let declared = 0;
  let known = true;
  while (offset < data.length) {
    const rest = data.subarray(offset);
    const where = `frame ${frames} at byte ${offset}`;
    let size: number | null;
    let compressedSize: number;
    try {
      size = zstd.getFrameContentSize(rest);
      compressedSize = zstd.findFrameCompressedSize(rest);
    } catch (error) {
      throw zstdError(error, where);
    }
    if (size === null) known = false;
    else declared += size;
    if (declared > limit) {
      throw new LimitExceededError(
        `zstd frames declare ${declared} bytes of content by ${where}, more than the limit of ${limit} bytes`,
      );
    }
    offset += compressedSize;
    frames++;
  }
  return { frames, declared, known };
}

/** Decodes frames that all declare their sizes into one allocation of exactly `size` bytes. */
export function decompressKnown(dctx: Binding.DCtx, data: Uint8Array, size: number): Uint8Array {
  const dst = ownedBuffer(size);
  let length: number;
  try {
    dctx.reset(zstd.ResetDirective.sessionOnly);
    length = dctx.decompress(dst, data);
  } catch (error) {
    throw zstdError(error, "decompress");
  }
  if (length !== size) {
    throw new CorruptDataError(`zstd data is corrupt: frames declare ${size} bytes but hold ${length}`);
  }
  return new Uint8Array(dst.buffer, dst.byteOffset, length);
}

/** Progress of a streaming decode. */
export interface StreamStep {
  /** Bytes emitted by this call. */
  readonly produced: number;
  /** True when the input ended exactly on a frame boundary. */
  readonly frameEnded: boolean;
}

/**
 * Feeds `src` through a streaming context, emitting output pieces (each in its own allocation), and throws
 * ERR_LIMIT as soon as the total output (`before` bytes from earlier calls plus this call's) would pass
 * `limit`: output chunks never reach past limit + 1, so at most one byte beyond the limit is decoded.
 */
export function decompressStreaming(
  dctx: Binding.DCtx,
  src: Uint8Array,
  before: number,
  limit: number,
  chunkSize: number,
  emit: (piece: Uint8Array) => void,
): StreamStep {
  let produced = 0;
  let frameEnded = false;
  for (;;) {
    const capacity = Math.min(chunkSize, limit - before - produced + 1);
    const dst = ownedBuffer(capacity);
    let ret: number;
    let written: number;
    let consumed: number;
    try {
      [ret, written, consumed] = dctx.decompressStream(dst, src);
    } catch (error) {
      throw zstdError(error, "stream");
    }
    // A call with no input and no output says nothing about frame state (zstd returns a size hint).
    if (written > 0 || consumed > 0) frameEnded = ret === 0;
    if (written > 0) {
      produced += written;
      if (before + produced > limit) {
        throw new LimitExceededError(`zstd content exceeds the limit of ${limit} bytes`);
      }
      emit(trimmed(dst, written));
    }
    src = src.subarray(consumed);
    if (src.length === 0 && (written < capacity || ret === 0)) return { produced, frameEnded };
  }
}

/** One-shot decode of frames whose sizes are not all declared, aborting past `maxSize`. */
export function decompressUnknown(dctx: Binding.DCtx, data: Uint8Array, maxSize: number): Uint8Array {
  const limit = Math.min(maxSize, MAX_BUFFER);
  const pieces: Uint8Array[] = [];
  // The whole input is at hand, so zstd fills big buffers in one call: fewer native calls.
  const chunkSize = Math.min(Math.max(D_STREAM_OUT, data.length * 4), MAX_STREAM_CHUNK);
  dctx.reset(zstd.ResetDirective.sessionOnly);
  const step = decompressStreaming(dctx, data, 0, limit, chunkSize, (piece) => pieces.push(piece));
  if (!step.frameEnded) throw new CorruptDataError("zstd data is corrupt: input ends inside a frame");
  if (pieces.length === 1) return pieces[0]!;
  const out = new Uint8Array(ownedBuffer(step.produced).buffer, 0, step.produced);
  let at = 0;
  for (const piece of pieces) {
    out.set(piece, at);
    at += piece.length;
  }
  return out;
}
