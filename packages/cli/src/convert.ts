import { randomBytes } from "node:crypto";
import { type FileHandle, open, rename, unlink } from "node:fs/promises";
import { basename, dirname, join } from "node:path";
import {
  assertBoolean,
  assertInteger,
  assertOneOf,
  CorruptDataError,
  createRng,
  describe,
  randomSeed,
  UnsupportedError,
} from "@lowbit/bits";
import { type EncodeOptions, type FloatCodec, getCodec, type SubByteFloatCodec } from "@lowbit/formats";

export const ROUNDINGS = ["nearest-even", "nearest-away", "stochastic"] as const;
export type Rounding = (typeof ROUNDINGS)[number];

/** Elements per chunk by default: 4 MiB of float32, small enough to stream, big enough to be fast. */
export const DEFAULT_CHUNK_ELEMENTS = 1 << 20;

export interface ConvertOptions {
  /** Path of the raw input file. */
  readonly input: string;
  /** Path of the output file; replaced atomically, left untouched on any error. */
  readonly output: string;
  /** Input format: `"float32"` (the default) or a codec name from `@lowbit/formats`. */
  readonly from?: string;
  /** Output format: `"float32"` or a codec name. */
  readonly to: string;
  /** Encoding only: map overflow and ±Inf to ±max finite. */
  readonly saturate?: boolean;
  /** Encoding only: default is the output codec's own rounding. */
  readonly rounding?: Rounding;
  /** Encoding only, with `rounding: "stochastic"`: the same seed and chunk size give the same output. */
  readonly seed?: number;
  /** Element count. Required where packed padding makes it ambiguous; otherwise checked against the size. */
  readonly count?: number;
  /** Write sub-byte codes packed LSB-first (default) or one per byte. */
  readonly pack?: boolean;
  /** Read sub-byte input codes packed LSB-first (default) or one per byte. */
  readonly packedInput?: boolean;
  /** Elements per chunk, a multiple of 8 so packed sub-byte chunks end on a byte boundary. */
  readonly chunkElements?: number;
  /** Called after each chunk is written. */
  readonly onProgress?: (progress: ConvertProgress) => void;
  /** Aborting stops between chunks, removes the temporary file and rejects with the signal's reason. */
  readonly signal?: AbortSignal;
}

export interface ConvertProgress {
  readonly elements: number;
  readonly totalElements: number;
  readonly bytesIn: number;
  readonly bytesOut: number;
}

export interface ConvertResult {
  readonly from: string;
  readonly to: string;
  readonly elements: number;
  readonly bytesIn: number;
  readonly bytesOut: number;
  readonly seconds: number;
}

/** One end of a conversion: a format and how its elements sit in the file. */
interface Side {
  readonly name: string;
  /** null for float32. */
  readonly codec: FloatCodec | null;
  readonly sub: SubByteFloatCodec | null;
  readonly bits: number;
  /** Sub-byte codes packed into a bit stream; otherwise a whole number of bytes per element. */
  readonly packed: boolean;
  /** Bytes per element when not packed. */
  readonly unit: number;
}

/**
 * Resolves a format name: `float32` or a registry codec. Unknown names throw getCodec's RangeError
 * (which lists the codecs), prefixed with `what` and with float32 added.
 */
export function resolveFormat(name: string, what: string): FloatCodec | null {
  if (typeof name !== "string") throw new TypeError(`${what} must be a string, got ${describe(name)}`);
  if (name === "float32") return null;
  try {
    return getCodec(name);
  } catch (e) {
    if (e instanceof RangeError) throw new RangeError(`${what}: ${e.message}, and float32`);
    throw e;
  }
}

function side(name: string, codec: FloatCodec | null, packed: boolean): Side {
  if (codec === null) return { name, codec, sub: null, bits: 32, packed: false, unit: 4 };
  const sub = codec.bits < 8 ? (codec as SubByteFloatCodec) : null;
  return { name, codec, sub, bits: codec.bits, packed: sub !== null && packed, unit: codec.bits > 8 ? 2 : 1 };
}

function byteLength(s: Side, elements: number): number {
  return s.packed ? Math.ceil((elements * s.bits) / 8) : elements * s.unit;
}

/** Number of elements in an input of `size` bytes; throws CorruptDataError when the size cannot be right. */
function countElements(s: Side, size: number, count: number | undefined): number {
  if (s.packed) {
    const n = count ?? Math.floor((size * 8) / s.bits);
    const need = byteLength(s, n);
    if (need !== size) {
      throw new CorruptDataError(
        `input is ${size} bytes, but ${n} packed ${s.bits}-bit ${s.name} elements take ${need} bytes`,
      );
    }
    return n;
  }
  if (size % s.unit !== 0) {
    throw new CorruptDataError(
      `input length ${size} bytes is not a multiple of ${s.unit} bytes (one ${s.name} element)`,
    );
  }
  const n = size / s.unit;
  if (count !== undefined && count !== n) {
    throw new CorruptDataError(`input holds ${n} ${s.name} elements (${size} bytes), but count is ${count}`);
  }
  return n;
}

function assertOptions(o: ConvertOptions): void {
  if (typeof o !== "object" || o === null)
    throw new TypeError(`options must be an object, got ${describe(o)}`);
  for (const key of ["input", "output", "to"] as const) {
    if (typeof o[key] !== "string" || o[key] === "") {
      throw new TypeError(`options.${key} must be a non-empty string, got ${describe(o[key])}`);
    }
  }
  if (o.saturate !== undefined) assertBoolean(o.saturate, "options.saturate");
  if (o.rounding !== undefined) assertOneOf(o.rounding, ROUNDINGS, "options.rounding");
  if (o.seed !== undefined) assertInteger(o.seed, "options.seed", 0, 0xffffffff);
  if (o.count !== undefined) assertInteger(o.count, "options.count", 0, Number.MAX_SAFE_INTEGER);
  if (o.pack !== undefined) assertBoolean(o.pack, "options.pack");
  if (o.packedInput !== undefined) assertBoolean(o.packedInput, "options.packedInput");
  if (o.chunkElements !== undefined) {
    assertInteger(o.chunkElements, "options.chunkElements", 8, 1 << 28);
    if (o.chunkElements % 8 !== 0) {
      throw new RangeError(`options.chunkElements must be a multiple of 8, got ${o.chunkElements}`);
    }
  }
  if (o.onProgress !== undefined && typeof o.onProgress !== "function") {
    throw new TypeError(`options.onProgress must be a function, got ${describe(o.onProgress)}`);
  }
  if (o.signal !== undefined && !(o.signal instanceof AbortSignal)) {
    throw new TypeError(`options.signal must be an AbortSignal, got ${describe(o.signal)}`);
  }
}

const LITTLE_ENDIAN = new Uint8Array(new Uint16Array([1]).buffer)[0] === 1;

/**
 * Converts a raw little-endian file between float32 and any registry codec, or between two codecs
 * (through float32), in chunks so files larger than memory work. The output is written to a temporary
 * file beside `output`, fsynced and renamed over it; on any error or abort the temporary file is removed
 * and an existing `output` is left as it was.
 */
export async function convertFile(options: ConvertOptions): Promise<ConvertResult> {
  assertOptions(options);
  // Typed-array views are host-endian and the files are little-endian.
  if (!LITTLE_ENDIAN) throw new UnsupportedError("lowbit convert needs a little-endian host");
  const fromName = options.from ?? "float32";
  const src = side(fromName, resolveFormat(fromName, "options.from"), options.packedInput ?? true);
  const dst = side(options.to, resolveFormat(options.to, "options.to"), options.pack ?? true);
  const encoding = dst.codec !== null;
  if (!encoding) {
    for (const key of ["saturate", "rounding", "seed"] as const) {
      if (options[key] !== undefined) {
        throw new RangeError(`options.${key} applies only when encoding; options.to is float32`);
      }
    }
  }
  if (options.seed !== undefined && options.rounding !== "stochastic") {
    throw new RangeError(`options.seed applies only with rounding "stochastic"`);
  }
  const { signal, onProgress } = options;
  signal?.throwIfAborted();
  const started = performance.now();

  const input = await open(options.input, "r");
  try {
    const stat = await input.stat();
    if (!stat.isFile()) throw new RangeError(`input ${options.input} is not a regular file`);
    const total = countElements(src, stat.size, options.count);
    const chunk = options.chunkElements ?? DEFAULT_CHUNK_ELEMENTS;
    const cap = Math.min(chunk, Math.max(total, 8));
    const buffers = {
      in: new Uint8Array(byteLength(src, cap)),
      values: new Float32Array(src.codec === null ? 0 : cap),
      inCodes: new Uint8Array(src.packed ? cap : 0),
      outCodes: dst.unit === 2 ? new Uint16Array(cap) : new Uint8Array(cap),
      out: new Uint8Array(dst.packed ? byteLength(dst, cap) : 0),
    };
    const nextEncodeOptions = encodeOptionsFactory(options);
    let bytesOut = 0;
    await writeAtomically(options.output, async (out) => {
      for (let done = 0; done < total; ) {
        signal?.throwIfAborted();
        const n = Math.min(cap, total - done);
        const inBytes = byteLength(src, n);
        await readExactly(input, buffers.in, inBytes, byteLength(src, done));
        const values = toFloat32(
          src,
          buffers.in.subarray(0, inBytes),
          buffers.inCodes,
          n,
          buffers.values,
          done,
        );
        const bytes = fromFloat32(dst, values, buffers.outCodes, buffers.out, nextEncodeOptions);
        await writeAll(out, bytes);
        done += n;
        bytesOut += bytes.length;
        onProgress?.({ elements: done, totalElements: total, bytesIn: byteLength(src, done), bytesOut });
      }
    });
    return {
      from: src.name,
      to: dst.name,
      elements: total,
      bytesIn: stat.size,
      bytesOut,
      seconds: (performance.now() - started) / 1000,
    };
  } finally {
    await input.close();
  }
}

/**
 * Encode options for each chunk. Stochastic rounding reseeds the codec's PRNG on every call, so each
 * chunk gets its own seed drawn from one generator seeded by `seed`: chunks never reuse a stream.
 */
function encodeOptionsFactory(o: ConvertOptions): () => EncodeOptions {
  const base: EncodeOptions = {};
  if (o.saturate !== undefined) base.saturate = o.saturate;
  if (o.rounding !== undefined) base.rounding = o.rounding;
  if (o.rounding !== "stochastic") return () => base;
  const seeds = createRng(o.seed ?? randomSeed());
  return () => ({ ...base, seed: seeds.nextUint32() });
}

/**
 * Decodes one chunk of `n` input elements; float32 input is returned as a view of `bytes`, codes are
 * decoded into `valueBuf`. `first` is the chunk's first element, for messages.
 */
function toFloat32(
  s: Side,
  bytes: Uint8Array,
  codeBuf: Uint8Array,
  n: number,
  valueBuf: Float32Array,
  first: number,
): Float32Array {
  if (s.codec === null) return new Float32Array(bytes.buffer, bytes.byteOffset, n);
  let codes: Uint8Array | Uint16Array;
  if (s.unit === 2) codes = new Uint16Array(bytes.buffer, bytes.byteOffset, n);
  else if (s.packed) {
    codes = codeBuf.subarray(0, n);
    s.sub!.unpackInto(bytes, codes);
  } else {
    codes = bytes;
    if (s.sub !== null) assertCodesFit(codes, s.bits, s.name, first);
  }
  const values = valueBuf.subarray(0, n);
  s.codec.decodeInto(codes, values);
  return values;
}

/** Encodes one chunk of values; returns the bytes to write (a view of one of the buffers). */
function fromFloat32(
  s: Side,
  values: Float32Array,
  codeBuf: Uint8Array | Uint16Array,
  packBuf: Uint8Array,
  encodeOptions: () => EncodeOptions,
): Uint8Array {
  const n = values.length;
  if (s.codec === null) return new Uint8Array(values.buffer, values.byteOffset, n * 4);
  const codes = codeBuf.subarray(0, n);
  s.codec.encodeInto(values, codes, encodeOptions());
  if (s.packed) return packBuf.subarray(0, s.sub!.packInto(codes as Uint8Array, packBuf));
  return new Uint8Array(codes.buffer, codes.byteOffset, codes.byteLength);
}

/** One-byte-per-code input of a sub-byte format: a byte with high bits set means the file is not that. */
function assertCodesFit(codes: Uint8Array, bits: number, name: string, first: number): void {
  let acc = 0;
  for (let i = 0; i < codes.length; i++) acc |= codes[i]!;
  if (acc >>> bits === 0) return;
  const i = codes.findIndex((c) => c >>> bits !== 0);
  throw new CorruptDataError(
    `input element ${first + i} is 0x${codes[i]!.toString(16)}, not a ${bits}-bit ${name} code`,
  );
}

async function readExactly(fh: FileHandle, buf: Uint8Array, length: number, position: number): Promise<void> {
  let off = 0;
  while (off < length) {
    const { bytesRead } = await fh.read(buf, off, length - off, position + off);
    if (bytesRead === 0) {
      throw new CorruptDataError(
        `input ended early at byte ${position + off}; was it truncated while reading?`,
      );
    }
    off += bytesRead;
  }
}

async function writeAll(fh: FileHandle, bytes: Uint8Array): Promise<void> {
  let off = 0;
  while (off < bytes.length) {
    const { bytesWritten } = await fh.write(bytes, off, bytes.length - off);
    off += bytesWritten;
  }
}

/**
 * Runs `fill` on a new temporary file beside `path`, then fsyncs it and renames it over `path`.
 * On any failure the temporary file is removed and `path` is not touched.
 */
export async function writeAtomically(path: string, fill: (fh: FileHandle) => Promise<void>): Promise<void> {
  const dir = dirname(path);
  const tmp = join(dir, `.${basename(path)}.${process.pid}.${randomBytes(6).toString("hex")}.tmp`);
  let fh: FileHandle | undefined;
  let created = false;
  try {
    fh = await open(tmp, "wx");
    created = true;
    await fill(fh);
    await fh.sync();
    await fh.close();
    fh = undefined;
    await rename(tmp, path);
  } catch (e) {
    await fh?.close().catch(() => {});
    if (created) await unlink(tmp).catch(() => {});
    throw e;
  }
  await syncDirectory(dir);
}

/** Makes the rename durable. Some platforms (Windows) cannot open a directory; the rename still stands. */
async function syncDirectory(dir: string): Promise<void> {
  let fh: FileHandle | undefined;
  try {
    fh = await open(dir, "r");
    await fh.sync();
  } catch {
    // best effort, see above
  } finally {
    await fh?.close().catch(() => {});
  }
}
