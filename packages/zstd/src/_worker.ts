/**
 * The pool's worker program, run with `new Worker(WORKER_SOURCE, { eval: true })`. Being a string it needs
 * no file next to the bundle: it works from the TypeScript sources under vitest, from dist, and inside a
 * user's bundle. Workers inherit the parent's execArgv, so with `--input-type=module` the string is
 * evaluated as an ES module: it uses only what both module kinds have (dynamic import, createRequire).
 * It mirrors compressFrame / decompressKnown / decompressUnknown of _native.ts (the calling
 * thread has already validated the arguments and walked the frame headers); the tests hold the two to
 * identical bytes and identical error codes. Keep it plain JavaScript.
 *
 * Request:  { op: "compress", data, level } | { op: "known", data, size } | { op: "unknown", data, maxSize }
 * Response: { ok: true, value } with value's ArrayBuffer transferred,
 *           or { ok: false, kind: "corrupt" | "limit" | "error", message, cause? }.
 */
export const WORKER_SOURCE = `"use strict";
(async () => {
  const { parentPort, workerData } = await import("node:worker_threads");
  const { createRequire } = await import("node:module");
  const { constants } = await import("node:buffer");
  const zstd = createRequire(workerData.bindingPath)(workerData.bindingPath);
  const MAX_BUFFER = constants.MAX_LENGTH;
  const D_STREAM_OUT = zstd.dStreamOutSize();
  const MAX_STREAM_CHUNK = 16 * 1024 * 1024;

  const cctx = new zstd.CCtx();
  cctx.setParameter(zstd.CParameter.contentSizeFlag, 1);
  cctx.setParameter(zstd.CParameter.checksumFlag, 1);
  const dctx = new zstd.DCtx();

  class Failure extends Error {
    constructor(kind, message, cause) {
      super(message);
      this.kind = kind;
      this.zstdMessage = cause;
    }
  }

  function zstdError(error, where) {
    const message = error instanceof Error ? error.message : String(error);
    if (message.includes("too much memory")) return new Failure("limit", "zstd " + where + ": " + message, message);
    return new Failure("corrupt", "zstd data is corrupt (" + where + "): " + message, message);
  }

  function trimmed(bytes, length) {
    if (length >= bytes.length * 0.75) return new Uint8Array(bytes.buffer, bytes.byteOffset, length);
    const out = new Uint8Array(length);
    out.set(bytes.subarray(0, length));
    return out;
  }

  function compress(data, level) {
    cctx.setParameter(zstd.CParameter.compressionLevel, level);
    const dst = Buffer.allocUnsafeSlow(zstd.compressBound(data.length));
    return trimmed(dst, cctx.compress2(dst, data));
  }

  function known(data, size) {
    const dst = Buffer.allocUnsafeSlow(size);
    let length;
    try {
      dctx.reset(zstd.ResetDirective.sessionOnly);
      length = dctx.decompress(dst, data);
    } catch (error) {
      throw zstdError(error, "decompress");
    }
    if (length !== size) {
      throw new Failure("corrupt", "zstd data is corrupt: frames declare " + size + " bytes but hold " + length);
    }
    return new Uint8Array(dst.buffer, dst.byteOffset, length);
  }

  function unknown(data, maxSize) {
    const budget = Math.min(maxSize, MAX_BUFFER);
    const chunkSize = Math.min(Math.max(D_STREAM_OUT, data.length * 4), MAX_STREAM_CHUNK);
    const pieces = [];
    let produced = 0;
    let frameEnded = false;
    let src = data;
    dctx.reset(zstd.ResetDirective.sessionOnly);
    for (;;) {
      const capacity = Math.min(chunkSize, budget - produced + 1);
      const dst = Buffer.allocUnsafeSlow(capacity);
      let result;
      try {
        result = dctx.decompressStream(dst, src);
      } catch (error) {
        throw zstdError(error, "stream");
      }
      const [ret, written, consumed] = result;
      if (written > 0 || consumed > 0) frameEnded = ret === 0;
      if (written > 0) {
        produced += written;
        if (produced > budget) throw new Failure("limit", "zstd content exceeds the limit of " + budget + " bytes");
        pieces.push(trimmed(dst, written));
      }
      src = src.subarray(consumed);
      if (src.length === 0 && (written < capacity || ret === 0)) break;
    }
    if (!frameEnded) throw new Failure("corrupt", "zstd data is corrupt: input ends inside a frame");
    if (pieces.length === 1) return pieces[0];
    const out = new Uint8Array(Buffer.allocUnsafeSlow(produced).buffer, 0, produced);
    let at = 0;
    for (const piece of pieces) {
      out.set(piece, at);
      at += piece.length;
    }
    return out;
  }

  parentPort.on("message", (job) => {
    let value;
    try {
      if (job.op === "compress") value = compress(job.data, job.level);
      else if (job.op === "known") value = known(job.data, job.size);
      else value = unknown(job.data, job.maxSize);
    } catch (error) {
      const failure = error instanceof Failure ? error : null;
      parentPort.postMessage({
        ok: false,
        kind: failure ? failure.kind : "error",
        message: error instanceof Error ? error.message : String(error),
        cause: failure ? failure.zstdMessage : undefined,
      });
      return;
    }
    parentPort.postMessage({ ok: true, value }, [value.buffer]);
  });
})();
`;
