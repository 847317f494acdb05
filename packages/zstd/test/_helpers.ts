import { existsSync, readFileSync } from "node:fs";
import { createRequire } from "node:module";
import { dirname, join, resolve } from "node:path";
import { Readable, type Transform } from "node:stream";
import { pipeline } from "node:stream/promises";
import { fileURLToPath } from "node:url";
import { createRng, type LowbitError } from "@lowbit/bits";
import { expect } from "vitest";
import type * as Binding from "zstd-napi/binding.js";

const require = createRequire(import.meta.url);
/** zstd-napi itself, used as the independent reference (frame walking, other encoders and decoders). */
export const zstd: typeof Binding = require("zstd-napi/binding.js") as typeof Binding;
export const zstdNapi = require("zstd-napi") as typeof import("zstd-napi");

/** The repository root: the nearest ancestor holding turbo.json. */
export function repoRoot(): string {
  let dir = dirname(fileURLToPath(import.meta.url));
  while (!existsSync(join(dir, "turbo.json"))) {
    const parent = dirname(dir);
    if (parent === dir) throw new Error(`no turbo.json above ${fileURLToPath(import.meta.url)}`);
    dir = parent;
  }
  return dir;
}

/** The shared data folder: $LOWBIT_SHARED, else <repo root>/../shared. Missing data is an error, never a skip. */
export function sharedDir(): string {
  const fromEnv = process.env["LOWBIT_SHARED"];
  if (fromEnv !== undefined && fromEnv !== "") return resolve(fromEnv);
  return resolve(repoRoot(), "..", "shared");
}

let weights: Uint8Array | undefined;

/** The tensor bytes (everything after the header) of faceres.f16.safetensors: real float16 weights. */
export function f16Weights(): Uint8Array {
  if (weights !== undefined) return weights;
  const path = join(sharedDir(), "datasets", "models", "faceres.f16.safetensors");
  if (!existsSync(path)) {
    throw new Error(`test model ${path} not found: point LOWBIT_SHARED at the folder holding datasets/`);
  }
  const file = readFileSync(path);
  const headerLength = Number(file.readBigUInt64LE(0));
  weights = new Uint8Array(file.subarray(8 + headerLength));
  return weights;
}

/** `n` seeded random bytes (incompressible). */
export function randomBytes(n: number, seed: number): Uint8Array {
  const rng = createRng(seed);
  const out = new Uint8Array(n);
  for (let i = 0; i < n; i++) out[i] = rng.nextUint32() & 0xff;
  return out;
}

/** `n` bytes of compressible text-like data (words drawn from a small seeded vocabulary). */
export function textBytes(n: number, seed: number): Uint8Array {
  const rng = createRng(seed);
  const words = ["tensor", "weight", "bias", "layer", "norm", "attention", "mlp", "head", "embed", "zstd"];
  const out = new Uint8Array(n);
  let i = 0;
  while (i < n) {
    const word = `${words[rng.nextUint32() % words.length]!} `;
    for (let j = 0; j < word.length && i < n; j++) out[i++] = word.charCodeAt(j);
  }
  return out;
}

export function concat(parts: readonly Uint8Array[]): Uint8Array {
  const out = new Uint8Array(parts.reduce((s, p) => s + p.length, 0));
  let at = 0;
  for (const p of parts) {
    out.set(p, at);
    at += p.length;
  }
  return out;
}

/** The frames of a frame sequence, split with zstd's own findFrameCompressedSize. */
export function splitFrames(data: Uint8Array): Uint8Array[] {
  const frames: Uint8Array[] = [];
  let at = 0;
  while (at < data.length) {
    const size = zstd.findFrameCompressedSize(data.subarray(at));
    frames.push(data.subarray(at, at + size));
    at += size;
  }
  return frames;
}

/** Frame_Header_Descriptor bit 2 (RFC 8878 §3.1.1.1.1): the frame ends with a content checksum. */
export function hasChecksum(frame: Uint8Array): boolean {
  return (frame[4]! & 0x04) !== 0;
}

/** A frame without a content size in its header (zstd's streaming API, as other producers write them). */
export function frameWithoutSize(data: Uint8Array, level = 3, windowLog?: number): Uint8Array {
  const cctx = new zstd.CCtx();
  cctx.setParameter(zstd.CParameter.compressionLevel, level);
  if (windowLog !== undefined) cctx.setParameter(zstd.CParameter.windowLog, windowLog);
  cctx.setParameter(zstd.CParameter.checksumFlag, 1);
  const out: Uint8Array[] = [];
  const buf = Buffer.alloc(zstd.cStreamOutSize());
  const push = (src: Uint8Array, directive: Binding.EndDirective): void => {
    for (;;) {
      const [remaining, written, consumed] = cctx.compressStream2(buf, src, directive);
      out.push(Buffer.from(buf.subarray(0, written)));
      src = src.subarray(consumed);
      if (src.length === 0 && (directive === zstd.EndDirective.continue || remaining === 0)) return;
    }
  };
  // Two calls: the first ("continue") leaves the total unknown, so the header gets no size.
  push(data, zstd.EndDirective.continue);
  push(new Uint8Array(0), zstd.EndDirective.end);
  const frame = concat(out);
  expect(zstd.getFrameContentSize(frame)).toBeNull();
  return frame;
}

/**
 * A hand-made frame (RFC 8878) that declares `declared` content bytes but holds the `content` bytes in
 * one raw block: single-segment, 8-byte Frame_Content_Size, no checksum.
 */
export function forgedFrame(declared: number, content: Uint8Array): Uint8Array {
  const out = new Uint8Array(4 + 1 + 8 + 3 + content.length);
  const view = new DataView(out.buffer);
  view.setUint32(0, 0xfd2fb528, true);
  out[4] = 0xe0; // FCS_Field_Size 3 (8 bytes), Single_Segment
  view.setBigUint64(5, BigInt(declared), true);
  const blockHeader = 1 | (0 << 1) | (content.length << 3); // last block, raw, size
  out[13] = blockHeader & 0xff;
  out[14] = (blockHeader >> 8) & 0xff;
  out[15] = (blockHeader >> 16) & 0xff;
  out.set(content, 16);
  return out;
}

/** A skippable frame (RFC 8878 §3.1.2) holding `payload`. */
export function skippableFrame(payload: Uint8Array): Uint8Array {
  const out = new Uint8Array(8 + payload.length);
  const view = new DataView(out.buffer);
  view.setUint32(0, 0x184d2a50, true);
  view.setUint32(4, payload.length, true);
  out.set(payload, 8);
  return out;
}

/** Runs `chunks` through `transform`; resolves with the whole output or rejects with the stream's error. */
export async function throughStream(
  transform: Transform,
  chunks: readonly Uint8Array[],
): Promise<Uint8Array> {
  const out: Uint8Array[] = [];
  await pipeline(Readable.from(chunks), transform, async (source: AsyncIterable<Buffer>) => {
    for await (const piece of source) out.push(piece);
  });
  return concat(out);
}

/** Splits `data` into chunks of `size` bytes (the last may be shorter). */
export function chunked(data: Uint8Array, size: number): Uint8Array[] {
  const out: Uint8Array[] = [];
  for (let at = 0; at < data.length; at += size) out.push(data.subarray(at, at + size));
  return out;
}

/** What `fn` threw (or the promise rejected with); fails the test when nothing was thrown. */
export async function caught(fn: () => unknown): Promise<LowbitError> {
  try {
    await fn();
  } catch (error) {
    return error as LowbitError;
  }
  throw new Error("expected an error, none was thrown");
}

/** What a synchronous `fn` threw; fails the test when nothing was thrown. */
export function thrown(fn: () => unknown): LowbitError {
  try {
    fn();
  } catch (error) {
    return error as LowbitError;
  }
  throw new Error("expected an error, none was thrown");
}

/**
 * Asserts byte equality (vitest's deep equality walks typed arrays element by element, far too slowly for
 * megabytes); on a mismatch the message names the first differing byte.
 */
export function expectBytes(actual: Uint8Array, expected: Uint8Array): void {
  expect(actual).toBeInstanceOf(Uint8Array);
  expect(actual.length, "length").toBe(expected.length);
  if (Buffer.compare(actual, expected) === 0) return;
  let i = 0;
  while (actual[i] === expected[i]) i++;
  expect.fail(`bytes differ first at index ${i}: ${actual[i]} vs ${expected[i]}`);
}
