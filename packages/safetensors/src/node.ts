import { randomBytes } from "node:crypto";
import { type FileHandle, open, rename, unlink } from "node:fs/promises";
import { basename, dirname, join } from "node:path";
import {
  CorruptDataError,
  describe,
  NotFoundError,
  type QuantizedTensor,
  type TensorPart,
  throwIfAborted,
  type WorkContext,
} from "@lowbit/bits";
import { dequantize } from "@lowbit/formats";
import { quote } from "./_dtype.js";
import { type EncodeOptions, type Layout, planLayout, type TensorsInput } from "./_layout.js";
import {
  assembleQuantized,
  type FloatTensor,
  flattenModel,
  type ModelEntries,
  type ModelLayout,
  modelLayout,
  partTensorName,
  type QuantizedInfo,
} from "./_model.js";
import { tensorOfBytes } from "./_tensor.js";
import { toFloat32 } from "./convert.js";
import {
  assertLittleEndian,
  headerLengthOf,
  parseHeader,
  resolveLimits,
  type SafetensorsHeader,
  type SafetensorsLimits,
  type TensorInfo,
} from "./header.js";
import { assembleModel, type Model } from "./model.js";

/** Node reads and writes at most this many bytes per call (libuv's limit is just under 2 GiB). */
const IO_CHUNK = 1 << 30;

async function readExactly(fh: FileHandle, dst: Uint8Array, position: number, path: string): Promise<void> {
  let off = 0;
  while (off < dst.length) {
    const { bytesRead } = await fh.read(dst, off, Math.min(dst.length - off, IO_CHUNK), position + off);
    if (bytesRead === 0) {
      throw new CorruptDataError(
        `${path}: file ended at byte ${position + off}; was it truncated after it was opened?`,
      );
    }
    off += bytesRead;
  }
}

/** A safetensors file opened for reading single tensors. */
export interface SafetensorsReader {
  readonly path: string;
  readonly header: SafetensorsHeader;
  /** `__metadata__`; empty when the file has none. */
  readonly metadata: Readonly<Record<string, string>>;
  /** Tensor names in file order. */
  names(): string[];
  /** dtype, shape and data offsets of a tensor; NotFoundError if the file has no such tensor. */
  info(name: string): TensorInfo;
  /** Reads only this tensor's bytes from the file; the data is a fresh, aligned array. */
  read(name: string): Promise<TensorPart>;
  /** Reads the tensor and converts it with `toFloat32`. */
  readFloat32(name: string, dst?: Float32Array): Promise<Float32Array>;
  /** Closes the file; later reads throw. Calling it again does nothing. */
  close(): Promise<void>;
  [Symbol.asyncDispose](): Promise<void>;
}

class Reader implements SafetensorsReader {
  readonly metadata: Readonly<Record<string, string>>;
  #fh: FileHandle | null;

  constructor(
    readonly path: string,
    fh: FileHandle,
    readonly header: SafetensorsHeader,
  ) {
    this.#fh = fh;
    this.metadata = header.metadata;
  }

  names(): string[] {
    return [...this.header.tensors.keys()];
  }

  info(name: string): TensorInfo {
    if (typeof name !== "string") throw new TypeError(`name must be a string, got ${describe(name)}`);
    const info = this.header.tensors.get(name);
    if (info === undefined) throw new NotFoundError(`${this.path}: no tensor named ${quote(name)}`);
    return info;
  }

  async read(name: string): Promise<TensorPart> {
    const info = this.info(name);
    const fh = this.#fh;
    if (fh === null) throw new Error(`${this.path}: the safetensors file is closed`);
    const [begin, end] = info.dataOffsets;
    const bytes = new Uint8Array(end - begin);
    await readExactly(fh, bytes, this.header.dataStart + begin, this.path);
    return tensorOfBytes(info, bytes);
  }

  async readFloat32(name: string, dst?: Float32Array): Promise<Float32Array> {
    return toFloat32(await this.read(name), dst);
  }

  async close(): Promise<void> {
    const fh = this.#fh;
    this.#fh = null;
    await fh?.close();
  }

  [Symbol.asyncDispose](): Promise<void> {
    return this.close();
  }
}

/**
 * Opens a safetensors file and validates its header (as `parseHeader`, under `limits`), reading only
 * the 8-byte length and the header. Tensors are then read one by one with `read(name)`.
 */
export async function openSafetensors(path: string, limits?: SafetensorsLimits): Promise<SafetensorsReader> {
  if (typeof path !== "string") throw new TypeError(`path must be a string, got ${describe(path)}`);
  assertLittleEndian();
  const resolved = resolveLimits(limits);
  const fh = await open(path, "r");
  try {
    const size = (await fh.stat()).size;
    const first8 = new Uint8Array(8);
    if (size >= 8) await readExactly(fh, first8, 0, path);
    const n = headerLengthOf(first8, size, resolved);
    const head = new Uint8Array(8 + n);
    await readExactly(fh, head, 0, path);
    const header = parseHeader(head, { ...resolved, fileSize: size });
    return new Reader(path, fh, header);
  } catch (e) {
    await fh.close().catch(() => {});
    throw e;
  }
}

/** Options of the writers: the `like` layout of `encodeSafetensors`, progress and cancellation. */
export interface WriteOptions extends EncodeOptions, WorkContext {}

/** Small tensors are gathered into one buffer of this size before a write. */
const GATHER = 4 << 20;

async function writeAll(fh: FileHandle, bytes: Uint8Array): Promise<void> {
  let off = 0;
  while (off < bytes.length) {
    const { bytesWritten } = await fh.write(bytes, off, Math.min(bytes.length - off, IO_CHUNK));
    off += bytesWritten;
  }
}

async function writeLayout(fh: FileHandle, layout: Layout, ctx: WorkContext): Promise<void> {
  const total = layout.head.length + layout.dataLength;
  let done = 0;
  let reported = -1;
  const progress = () => {
    // At most ~256 calls, plus the final one.
    const step = Math.floor((done / Math.max(total, 1)) * 256);
    if (ctx.onProgress !== undefined && (step > reported || done === total)) {
      reported = step;
      ctx.onProgress(done, total);
    }
  };
  const gather = new Uint8Array(Math.min(GATHER, total));
  let used = 0;
  const flush = async () => {
    if (used === 0) return;
    throwIfAborted(ctx.signal);
    await writeAll(fh, gather.subarray(0, used));
    done += used;
    used = 0;
    progress();
  };
  for (const bytes of [layout.head, ...layout.chunks]) {
    if (used + bytes.length <= gather.length) {
      gather.set(bytes, used);
      used += bytes.length;
      continue;
    }
    await flush();
    if (bytes.length <= gather.length) {
      gather.set(bytes, 0);
      used = bytes.length;
      continue;
    }
    for (let off = 0; off < bytes.length; off += GATHER * 16) {
      throwIfAborted(ctx.signal);
      const part = bytes.subarray(off, Math.min(off + GATHER * 16, bytes.length));
      await writeAll(fh, part);
      done += part.length;
      progress();
    }
  }
  await flush();
}

/** Makes a rename durable. Some platforms (Windows) cannot open a directory; the rename stands anyway. */
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

async function writeAtomically(path: string, layout: Layout, ctx: WorkContext): Promise<void> {
  const dir = dirname(path);
  const tmp = join(dir, `.${basename(path)}.${process.pid}.${randomBytes(6).toString("hex")}.tmp`);
  let fh: FileHandle | undefined;
  let created = false;
  try {
    throwIfAborted(ctx.signal);
    fh = await open(tmp, "wx");
    created = true;
    await writeLayout(fh, layout, ctx);
    await fh.sync();
    await fh.close();
    fh = undefined;
    throwIfAborted(ctx.signal);
    await rename(tmp, path);
  } catch (e) {
    await fh?.close().catch(() => {});
    if (created) await unlink(tmp).catch(() => {});
    throw e;
  }
  await syncDirectory(dir);
}

/**
 * Writes a safetensors file atomically: every tensor is checked first (a bad one throws before the
 * disk is touched), then the file is streamed to a temporary file in the same folder, fsynced and
 * renamed over `path`. On any error or abort the temporary file is removed and an existing `path` is
 * left as it was. Layout as `encodeSafetensors` (including `options.like`).
 */
export async function writeSafetensors(
  path: string,
  tensors: TensorsInput,
  metadata?: Readonly<Record<string, string>>,
  options?: WriteOptions,
): Promise<void> {
  if (typeof path !== "string") throw new TypeError(`path must be a string, got ${describe(path)}`);
  const layout = planLayout(tensors, metadata, options);
  await writeAtomically(path, layout, options ?? {});
}

/** Writes a model (see `encodeModel`) atomically, as `writeSafetensors`. */
export async function writeModel(
  path: string,
  entries: ModelEntries,
  metadata?: Readonly<Record<string, string>>,
  options?: WorkContext,
): Promise<void> {
  const flat = flattenModel(entries, metadata);
  await writeSafetensors(path, flat.tensors, flat.metadata, {
    ...(options?.onProgress !== undefined ? { onProgress: options.onProgress } : {}),
    ...(options?.signal !== undefined ? { signal: options.signal } : {}),
  });
}

/** What a model name holds. */
export type ModelTensorInfo =
  | ({ readonly kind: "tensor" } & TensorInfo)
  | ({ readonly kind: "quantized" } & QuantizedInfo);

/** A model file opened for reading tensors one by one. */
export interface ModelReader {
  readonly file: SafetensorsReader;
  /** User metadata (without the lowbit key). */
  readonly metadata: Readonly<Record<string, string>>;
  /** Model names (plain and quantized) in file order. */
  names(): string[];
  info(name: string): ModelTensorInfo;
  /** A stored tensor, or a quantized tensor reassembled from its parts (each read from the file). */
  read(name: string): Promise<TensorPart | QuantizedTensor>;
  /** Float32 values: dequantized (through @lowbit/formats) or converted with `toFloat32`. */
  readFloat32(name: string): Promise<Float32Array>;
  /** Every tensor, as `readModel` of bytes returns it. */
  readModel(): Promise<Model>;
  /** Every tensor as float32, as `readModelFloat32` of bytes returns it. */
  readModelFloat32(): Promise<Map<string, FloatTensor>>;
  close(): Promise<void>;
  [Symbol.asyncDispose](): Promise<void>;
}

class ModelFileReader implements ModelReader {
  readonly metadata: Readonly<Record<string, string>>;
  readonly #names: ReadonlySet<string>;

  constructor(
    readonly file: SafetensorsReader,
    private readonly layout: ModelLayout,
  ) {
    this.metadata = layout.metadata;
    this.#names = new Set(layout.names);
  }

  names(): string[] {
    return [...this.layout.names];
  }

  info(name: string): ModelTensorInfo {
    const q = this.layout.quantized.get(name);
    if (q !== undefined) return { kind: "quantized", ...q };
    if (this.#names.has(name)) return { kind: "tensor", ...this.file.info(name) };
    throw new NotFoundError(`${this.file.path}: no model tensor named ${quote(String(name))}`);
  }

  async read(name: string): Promise<TensorPart | QuantizedTensor> {
    const info = this.info(name);
    if (info.kind === "tensor") return this.file.read(name);
    const parts = await Promise.all(
      info.parts.map(async (p) => [p, await this.file.read(partTensorName(name, p))] as const),
    );
    return assembleQuantized(info, new Map(parts));
  }

  async readFloat32(name: string): Promise<Float32Array> {
    const t = await this.read(name);
    return "parts" in t ? dequantize(t) : toFloat32(t);
  }

  async readModel(): Promise<Model> {
    const stored = new Map<string, TensorPart>();
    for (const name of this.file.names()) stored.set(name, await this.file.read(name));
    return assembleModel(this.layout, stored);
  }

  async readModelFloat32(): Promise<Map<string, FloatTensor>> {
    const out = new Map<string, FloatTensor>();
    for (const name of this.layout.names) {
      out.set(name, { shape: this.info(name).shape, data: await this.readFloat32(name) });
    }
    return out;
  }

  close(): Promise<void> {
    return this.file.close();
  }

  [Symbol.asyncDispose](): Promise<void> {
    return this.close();
  }
}

/** Opens a model file: the header and the lowbit metadata are validated as `readModel` does. */
export async function openModel(path: string, limits?: SafetensorsLimits): Promise<ModelReader> {
  const file = await openSafetensors(path, limits);
  try {
    return new ModelFileReader(file, modelLayout(file.header));
  } catch (e) {
    await file.close();
    throw e;
  }
}
