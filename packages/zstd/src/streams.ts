/// <reference types="node" />
import { Transform, type TransformCallback } from "node:stream";
import { assertInteger, assertOptions, CorruptDataError } from "@lowbit/bits";
import type * as Binding from "zstd-napi/binding.js";
import {
  assertLevel,
  assertMaxSize,
  C_STREAM_OUT,
  D_STREAM_OUT,
  decompressStreaming,
  newCCtx,
  ownedBuffer,
  zstd,
} from "./_native.js";

/** Options of createCompressStream. */
export interface CompressStreamOptions {
  /** Compression level, an integer in [−131072, 22]. Default 3. */
  readonly level?: number;
  /** Input bytes per frame: a frame ends after every `frameSize` bytes written. Default 1 MiB. */
  readonly frameSize?: number;
}

/** Options of createDecompressStream. */
export interface DecompressStreamOptions {
  /** Most bytes the stream may output; past it the stream fails with ERR_LIMIT. */
  readonly maxSize: number;
}

const DEFAULT_FRAME_SIZE = 1024 * 1024;

function checkKeys(options: object | undefined, keys: readonly string[], fn: string): void {
  for (const key of Object.keys(options ?? {})) {
    if (!keys.includes(key)) throw new RangeError(`options.${key} is not an option of ${fn}`);
  }
}

/**
 * A Transform that compresses into independent frames of `frameSize` input bytes each (the last may be
 * shorter; an empty stream gives one empty frame). Each frame carries a checksum; a frame whose whole
 * input arrived in one write also carries its content size. A reader can start decoding at any frame
 * boundary, and the concatenated output is what `decompress` accepts.
 */
export function createCompressStream(options?: CompressStreamOptions): Transform {
  assertOptions(options, "options");
  checkKeys(options, ["level", "frameSize"], "createCompressStream");
  const level = options?.level ?? 3;
  assertLevel(level, "options.level");
  const frameSize = options?.frameSize ?? DEFAULT_FRAME_SIZE;
  assertInteger(frameSize, "options.frameSize", 1, Number.MAX_SAFE_INTEGER);
  return new FramedCompressStream(newCCtx(level), frameSize);
}

/**
 * A Transform that decompresses a sequence of zstd frames, failing with LimitExceededError (ERR_LIMIT)
 * as soon as the output would pass `maxSize` bytes and with CorruptDataError (ERR_CORRUPT) on bad or
 * truncated data. Output already pushed before an error is not taken back: treat the stream as failed.
 */
export function createDecompressStream(options: DecompressStreamOptions): Transform {
  assertOptions(options, "options");
  if (options === undefined)
    throw new TypeError("options must be an options object with maxSize, got undefined");
  checkKeys(options, ["maxSize"], "createDecompressStream");
  assertMaxSize(options.maxSize);
  return new LimitedDecompressStream(new zstd.DCtx(), options.maxSize);
}

// Both streams drive the zstd-napi binding's streaming calls (compressStream2 / decompressStream), the
// calls under zstd-napi's CompressStream and DecompressStream: CompressStream.endFrame() queues its
// marker behind writes already buffered, so it cannot end a frame at an exact byte inside a chunk, and
// DecompressStream has no output limit.

class FramedCompressStream extends Transform {
  readonly #cctx: Binding.CCtx;
  readonly #frameSize: number;
  /** Input bytes in the open frame. */
  #inFrame = 0;
  #framesEnded = 0;
  #out: Buffer = ownedBuffer(C_STREAM_OUT);

  constructor(cctx: Binding.CCtx, frameSize: number) {
    super();
    this.#cctx = cctx;
    this.#frameSize = frameSize;
  }

  override _transform(chunk: Buffer, _encoding: BufferEncoding, done: TransformCallback): void {
    try {
      let src: Uint8Array = chunk;
      while (src.length > 0) {
        const take = Math.min(src.length, this.#frameSize - this.#inFrame);
        this.#inFrame += take;
        const ends = this.#inFrame === this.#frameSize;
        this.#feed(src.subarray(0, take), ends);
        src = src.subarray(take);
      }
    } catch (error) {
      done(error as Error);
      return;
    }
    done();
  }

  override _flush(done: TransformCallback): void {
    try {
      if (this.#inFrame > 0 || this.#framesEnded === 0) this.#feed(new Uint8Array(0), true);
    } catch (error) {
      done(error as Error);
      return;
    }
    done();
  }

  #feed(src: Uint8Array, endFrame: boolean): void {
    const directive = endFrame ? zstd.EndDirective.end : zstd.EndDirective.continue;
    for (;;) {
      const [remaining, written, consumed] = this.#cctx.compressStream2(this.#out, src, directive);
      if (written > 0) this.#emit(written);
      src = src.subarray(consumed);
      if (src.length === 0 && (!endFrame || remaining === 0)) break;
    }
    if (endFrame) {
      this.#inFrame = 0;
      this.#framesEnded++;
    }
  }

  /** Pushes the first `written` bytes of the output buffer without ever handing out a buffer twice. */
  #emit(written: number): void {
    if (written < this.#out.length / 4) {
      // Small output (a frame end): copy it and keep the 128 KiB buffer for the next call.
      this.push(Buffer.from(this.#out.subarray(0, written)));
    } else {
      this.push(this.#out.subarray(0, written));
      this.#out = ownedBuffer(C_STREAM_OUT);
    }
  }
}

class LimitedDecompressStream extends Transform {
  readonly #dctx: Binding.DCtx;
  readonly #maxSize: number;
  #produced = 0;
  #sawInput = false;
  #frameEnded = true;

  constructor(dctx: Binding.DCtx, maxSize: number) {
    super();
    this.#dctx = dctx;
    this.#maxSize = maxSize;
  }

  override _transform(chunk: Buffer, _encoding: BufferEncoding, done: TransformCallback): void {
    if (chunk.length === 0) {
      done();
      return;
    }
    this.#sawInput = true;
    try {
      const step = decompressStreaming(
        this.#dctx,
        chunk,
        this.#produced,
        this.#maxSize,
        D_STREAM_OUT,
        (piece) => this.push(piece),
      );
      this.#produced += step.produced;
      this.#frameEnded = step.frameEnded;
    } catch (error) {
      done(error as Error);
      return;
    }
    done();
  }

  override _flush(done: TransformCallback): void {
    if (!this.#sawInput) done(new CorruptDataError("zstd data is corrupt: the stream holds no frame"));
    else if (!this.#frameEnded) done(new CorruptDataError("zstd data is corrupt: input ends inside a frame"));
    else done();
  }
}
