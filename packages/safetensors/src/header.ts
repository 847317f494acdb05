import {
  CorruptDataError,
  DTYPE_BYTES,
  describe,
  LimitExceededError,
  type PartDtype,
  UnsupportedError,
} from "@lowbit/bits";
import { parseDtype, quote } from "./_dtype.js";
import { assertNoDuplicateKeys } from "./_json.js";

/** Bounds on untrusted input. Every field is a non-negative safe integer. */
export interface SafetensorsLimits {
  /** Largest header JSON accepted, in bytes. Default 100,000,000 (the reference reader's limit). */
  readonly maxHeaderBytes?: number;
  /** Most tensors accepted in one file. Default 1,000,000. */
  readonly maxTensors?: number;
  /** Largest data buffer (all tensor bytes) accepted. Default Number.MAX_SAFE_INTEGER (no limit). */
  readonly maxTotalBytes?: number;
}

/** Options of the readers: limits, and the file size when `bytes` is only the start of a file. */
export interface ReadOptions extends SafetensorsLimits {
  /** Size of the whole file when `bytes` holds only its first 8 + N bytes. Default `bytes.length`. */
  readonly fileSize?: number;
}

export const DEFAULT_LIMITS: Readonly<Required<SafetensorsLimits>> = Object.freeze({
  maxHeaderBytes: 100_000_000,
  maxTensors: 1_000_000,
  maxTotalBytes: Number.MAX_SAFE_INTEGER,
});

/** Where a tensor is and what it holds, as declared by the header. */
export interface TensorInfo {
  readonly dtype: PartDtype;
  readonly shape: readonly number[];
  /** [begin, end) in bytes, relative to the first byte after the header. */
  readonly dataOffsets: readonly [number, number];
}

/** A validated header. */
export interface SafetensorsHeader {
  /** `__metadata__` (string → string); empty when the file has none. */
  readonly metadata: Readonly<Record<string, string>>;
  /** Every tensor, in the order of its data in the file. */
  readonly tensors: ReadonlyMap<string, TensorInfo>;
  /** N: bytes of header JSON (including padding) after the 8-byte length. */
  readonly headerLength: number;
  /** Offset of the data buffer in the file: 8 + N. */
  readonly dataStart: number;
  /** Bytes of tensor data; the file is exactly dataStart + dataLength bytes. */
  readonly dataLength: number;
  /** The N header bytes exactly as in the file (lets a writer reproduce the file byte for byte). */
  readonly raw: Uint8Array;
}

/** Validates limits (a bad limit is a bad argument) and fills in the defaults. */
export function resolveLimits(options: ReadOptions | undefined): Required<SafetensorsLimits> {
  if (options === undefined) return DEFAULT_LIMITS;
  if (typeof options !== "object" || options === null) {
    throw new TypeError(`options must be an object of limits, got ${describe(options)}`);
  }
  const out = { ...DEFAULT_LIMITS };
  for (const key of ["maxHeaderBytes", "maxTensors", "maxTotalBytes"] as const) {
    const v = options[key];
    if (v === undefined) continue;
    if (typeof v !== "number") throw new TypeError(`options.${key} must be a number, got ${describe(v)}`);
    if (!Number.isSafeInteger(v) || v < 0) {
      throw new RangeError(`options.${key} must be a non-negative safe integer, got ${describe(v)}`);
    }
    out[key] = v;
  }
  return out;
}

const LITTLE_ENDIAN = new Uint8Array(new Uint16Array([1]).buffer)[0] === 1;

/** safetensors data is little-endian and typed arrays use the host's order. */
export function assertLittleEndian(): void {
  if (!LITTLE_ENDIAN) throw new UnsupportedError("@lowbit/safetensors needs a little-endian host");
}

/**
 * Reads and checks the 8-byte little-endian header length N: within `maxHeaderBytes` and within the
 * file, and leaves a data buffer within `maxTotalBytes`. Returns N.
 */
export function headerLengthOf(
  first8: Uint8Array,
  fileSize: number,
  limits: Required<SafetensorsLimits>,
): number {
  if (fileSize < 8 || first8.length < 8) {
    throw new CorruptDataError(
      `file is ${fileSize} bytes; a safetensors file starts with an 8-byte header length`,
    );
  }
  const view = new DataView(first8.buffer, first8.byteOffset, 8);
  const n64 = view.getBigUint64(0, true);
  if (n64 > BigInt(limits.maxHeaderBytes)) {
    throw new LimitExceededError(
      `safetensors header length ${n64} exceeds maxHeaderBytes (${limits.maxHeaderBytes})`,
    );
  }
  const n = Number(n64);
  if (n > fileSize - 8) {
    throw new CorruptDataError(
      `safetensors header length ${n} runs past the end of the file (${fileSize} bytes, ${fileSize - 8} after the length)`,
    );
  }
  const dataLength = fileSize - 8 - n;
  if (dataLength > limits.maxTotalBytes) {
    throw new LimitExceededError(
      `safetensors data buffer is ${dataLength} bytes, more than maxTotalBytes (${limits.maxTotalBytes})`,
    );
  }
  return n;
}

const decoder = new TextDecoder("utf-8", { fatal: true, ignoreBOM: true });

function isPlainObject(v: unknown): v is Record<string, unknown> {
  return typeof v === "object" && v !== null && !Array.isArray(v);
}

/** A JSON value that must be a non-negative safe integer. */
function isCount(v: unknown): v is number {
  return typeof v === "number" && Number.isSafeInteger(v) && v >= 0;
}

function parseMetadata(value: unknown): Record<string, string> {
  const out: Record<string, string> = Object.create(null);
  if (value === null) return out; // the reference reader reads null as "no metadata"
  if (!isPlainObject(value)) {
    throw new CorruptDataError(`__metadata__ must be an object of strings, got ${jsonType(value)}`);
  }
  for (const key of Object.keys(value)) {
    const v = value[key];
    if (typeof v !== "string") {
      throw new CorruptDataError(`__metadata__[${quote(key)}] must be a string, got ${jsonType(v)}`);
    }
    out[key] = v;
  }
  return out;
}

function jsonType(v: unknown): string {
  if (v === null) return "null";
  if (Array.isArray(v)) return "an array";
  return typeof v === "object" ? "an object" : `${typeof v} ${JSON.stringify(v)?.slice(0, 40)}`;
}

function parseEntry(name: string, value: unknown, dataLength: number): TensorInfo {
  if (!isPlainObject(value)) {
    throw new CorruptDataError(
      `tensor ${quote(name)}: entry must be an object {dtype, shape, data_offsets}, got ${jsonType(value)}`,
    );
  }
  const dtype = parseDtype(value["dtype"], name);
  const shape = value["shape"];
  if (!Array.isArray(shape) || !shape.every(isCount)) {
    throw new CorruptDataError(
      `tensor ${quote(name)}: shape must be an array of non-negative integers, got ${JSON.stringify(shape)?.slice(0, 80)}`,
    );
  }
  const offsets = value["data_offsets"];
  if (!Array.isArray(offsets) || offsets.length !== 2 || !isCount(offsets[0]) || !isCount(offsets[1])) {
    throw new CorruptDataError(
      `tensor ${quote(name)}: data_offsets must be [begin, end] of non-negative integers, got ${JSON.stringify(offsets)?.slice(0, 80)}`,
    );
  }
  const [begin, end] = offsets as [number, number];
  if (begin > end) {
    throw new CorruptDataError(
      `tensor ${quote(name)}: data_offsets [${begin}, ${end}] end before they begin`,
    );
  }
  if (end > dataLength) {
    throw new CorruptDataError(
      `tensor ${quote(name)}: data_offsets [${begin}, ${end}] run past the end of the data buffer (${dataLength} bytes)`,
    );
  }
  let elements = 1;
  for (const d of shape as number[]) {
    elements *= d;
    if (!Number.isSafeInteger(elements)) {
      throw new CorruptDataError(`tensor ${quote(name)}: shape [${shape.join(", ")}] has too many elements`);
    }
  }
  const bytes = elements * DTYPE_BYTES[dtype];
  if (bytes !== end - begin) {
    throw new CorruptDataError(
      `tensor ${quote(name)}: ${dtype} × shape [${shape.join(", ")}] is ${Number.isSafeInteger(bytes) ? bytes : "too many"} bytes but data_offsets [${begin}, ${end}] span ${end - begin}`,
    );
  }
  return {
    dtype,
    shape: Object.freeze([...(shape as number[])]),
    dataOffsets: Object.freeze([begin, end]) as readonly [number, number],
  };
}

/**
 * Parses and validates a safetensors header. `bytes` is the whole file or at least its first 8 + N
 * bytes (then pass `fileSize`). Checks, in this order: the 8-byte length against `maxHeaderBytes` and
 * the file size, the data size against `maxTotalBytes`, strict UTF-8, JSON starting with `{`, no
 * duplicate keys, `__metadata__` a string → string map, at most `maxTensors` entries, each entry's
 * dtype, shape and data_offsets (within the buffer, size = dtype × shape), and that the tensors tile
 * the data buffer exactly: no overlap, no gap, no trailing bytes (as the reference reader requires).
 * Bad bytes throw CorruptDataError (ERR_CORRUPT), exceeded limits LimitExceededError (ERR_LIMIT), dtypes
 * of the reference format that a TensorPart cannot hold UnsupportedError (ERR_UNSUPPORTED).
 */
export function parseHeader(bytes: Uint8Array, options?: ReadOptions): SafetensorsHeader {
  if (!(bytes instanceof Uint8Array))
    throw new TypeError(`bytes must be a Uint8Array, got ${describe(bytes)}`);
  const limits = resolveLimits(options);
  const fileSize = options?.fileSize ?? bytes.length;
  if (!Number.isSafeInteger(fileSize) || fileSize < bytes.length) {
    throw new RangeError(
      `options.fileSize must be an integer ≥ bytes.length (${bytes.length}), got ${describe(fileSize)}`,
    );
  }
  const n = headerLengthOf(bytes, fileSize, limits);
  if (bytes.length < 8 + n) {
    throw new RangeError(`bytes holds ${bytes.length} bytes but the header needs the first ${8 + n}`);
  }
  const dataLength = fileSize - 8 - n;
  const raw = bytes.subarray(8, 8 + n);
  let text: string;
  try {
    text = decoder.decode(raw);
  } catch (e) {
    throw new CorruptDataError("safetensors header is not valid UTF-8", { cause: e });
  }
  if (text.charCodeAt(0) !== 0x7b) {
    throw new CorruptDataError(
      `safetensors header must be a JSON object starting with "{", got ${JSON.stringify(text.slice(0, 20))}`,
    );
  }
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch (e) {
    throw new CorruptDataError(`safetensors header is not valid JSON: ${(e as Error).message}`, { cause: e });
  }
  if (!isPlainObject(json)) {
    throw new CorruptDataError(`safetensors header must be a JSON object, got ${jsonType(json)}`);
  }
  assertNoDuplicateKeys(text, "safetensors header");

  const names = Object.keys(json);
  const count = names.length - (Object.hasOwn(json, "__metadata__") ? 1 : 0);
  if (count > limits.maxTensors) {
    throw new LimitExceededError(
      `safetensors header lists ${count} tensors, more than maxTensors (${limits.maxTensors})`,
    );
  }
  const metadata = parseMetadata(Object.hasOwn(json, "__metadata__") ? json["__metadata__"] : null);
  const entries: [string, TensorInfo][] = [];
  for (const name of names) {
    if (name === "__metadata__") continue;
    entries.push([name, parseEntry(name, json[name], dataLength)]);
  }
  // Stable: equal offsets (zero-size tensors) keep the header's order.
  entries.sort(
    (a, b) => a[1].dataOffsets[0] - b[1].dataOffsets[0] || a[1].dataOffsets[1] - b[1].dataOffsets[1],
  );
  let cursor = 0;
  let previous = "";
  for (const [name, info] of entries) {
    const [begin, end] = info.dataOffsets;
    if (begin < cursor) {
      throw new CorruptDataError(
        `tensor ${quote(name)}: data_offsets [${begin}, ${end}] overlap tensor ${quote(previous)}, which ends at ${cursor}`,
      );
    }
    if (begin > cursor) {
      throw new CorruptDataError(
        `tensor ${quote(name)}: data buffer bytes [${cursor}, ${begin}) before it belong to no tensor (a gap)`,
      );
    }
    if (end > begin) previous = name;
    cursor = end;
  }
  if (cursor !== dataLength) {
    throw new CorruptDataError(
      `safetensors data buffer is ${dataLength} bytes but the tensors cover ${cursor}: ${dataLength - cursor} trailing bytes`,
    );
  }
  return Object.freeze({
    metadata: Object.freeze(metadata),
    tensors: new Map(entries),
    headerLength: n,
    dataStart: 8 + n,
    dataLength,
    raw: raw.slice(),
  });
}
