/// <reference types="node" />
import { open } from "node:fs/promises";
import {
  assertInteger,
  assertOptions,
  assertUint8Array,
  CorruptDataError,
  describe,
  LimitExceededError,
  UnsupportedError,
} from "@lowbit/bits";
import { float16 } from "@lowbit/fp16";

/**
 * Reading embedding matrices from disk: raw little-endian float32 (`.f32`, `.bin`, …), NumPy `.npy`
 * (v1, v2, v3), and raw little-endian int32 ground-truth tables (`.i32`). Files are untrusted: the
 * NPY header is parsed by a small grammar under a size limit, and every size is checked against the
 * file before anything is allocated.
 */

/** Element types `parseNpy` accepts (all little-endian). */
export type NpyDtype = "float16" | "float32" | "float64" | "int32" | "int64";

/** A parsed `.npy` array: its header and a view of its raw little-endian, C-order element bytes. */
export interface NpyArray {
  readonly dtype: NpyDtype;
  readonly shape: readonly number[];
  /** Format version, e.g. "1.0". */
  readonly version: string;
  /** Byte offset of the data in the file (the header's length). */
  readonly dataOffset: number;
  /** The element bytes (product(shape) × itemsize), a view into the parsed bytes. */
  readonly data: Uint8Array;
}

export interface ParseNpyOptions {
  /** Largest accepted header (the dict text), in bytes; default 65,536. */
  readonly maxHeaderBytes?: number;
}

/** A row-major float32 matrix read from a file. */
export interface VectorFile {
  /** count × dim float32 values, row-major. */
  readonly vectors: Float32Array;
  readonly count: number;
  readonly dim: number;
  /** "npy" or "raw-float32". */
  readonly format: "npy" | "raw-float32";
  /** The stored element type (float16/float64 data is converted to float32). */
  readonly dtype: "float16" | "float32" | "float64";
}

export interface ReadVectorsOptions {
  /** Row length. Required for raw float32 files; for `.npy` it must match the file when given. */
  readonly dim?: number;
  /** First row to read (default 0). */
  readonly offset?: number;
  /** Rows to read (default: all rows from `offset`); more rows than the file holds is a RangeError. */
  readonly count?: number;
  /** Largest number of data bytes to read; default 4 GiB (2^32). */
  readonly maxBytes?: number;
  /** Largest accepted NPY header, in bytes; default 65,536. */
  readonly maxHeaderBytes?: number;
}

export interface ReadInt32MatrixOptions {
  /**
   * Expected number of rows (e.g. one per query). A raw file read without `cols` takes its row length
   * from its size and this; a file with another row count is a RangeError.
   */
  readonly rows?: number;
  /** Largest number of data bytes to read; default 4 GiB (2^32). */
  readonly maxBytes?: number;
  /** Largest accepted NPY header, in bytes; default 65,536. */
  readonly maxHeaderBytes?: number;
}

/** A row-major int32 matrix (e.g. ground truth: per query, the base row ids of its true neighbours). */
export interface Int32Matrix {
  readonly data: Int32Array;
  readonly rows: number;
  readonly cols: number;
}

const NPY_MAGIC = [0x93, 0x4e, 0x55, 0x4d, 0x50, 0x59] as const; // "\x93NUMPY"
const DEFAULT_MAX_HEADER = 65_536;
const DEFAULT_MAX_BYTES = 2 ** 32;
/** Enough bytes to hold any header allowed by the default limit plus the preamble. */
const PREAMBLE_BYTES = 12;

const ITEM_SIZE: Readonly<Record<NpyDtype, number>> = {
  float16: 2,
  float32: 4,
  float64: 8,
  int32: 4,
  int64: 8,
};

const DESCR: Readonly<Record<string, NpyDtype>> = {
  "<f2": "float16",
  "<f4": "float32",
  "<f8": "float64",
  "<i4": "int32",
  "<i8": "int64",
};

/** True when `bytes` start with the NPY magic string. */
function hasNpyMagic(bytes: Uint8Array): boolean {
  if (bytes.length < NPY_MAGIC.length) return false;
  for (let i = 0; i < NPY_MAGIC.length; i++) if (bytes[i] !== NPY_MAGIC[i]) return false;
  return true;
}

interface NpyHeader {
  readonly dtype: NpyDtype;
  readonly shape: readonly number[];
  readonly version: string;
  readonly dataOffset: number;
  readonly dataBytes: number;
}

/**
 * Parses the preamble and header dict of an NPY file from its first bytes. `prefix` must hold the
 * whole header (throws CorruptDataError "truncated" otherwise). Does not look at the data.
 */
function parseNpyHeader(prefix: Uint8Array, maxHeaderBytes: number): NpyHeader {
  if (!hasNpyMagic(prefix))
    throw new CorruptDataError("not an NPY file: the magic string \\x93NUMPY is missing");
  if (prefix.length < 10) throw new CorruptDataError("NPY file truncated inside its preamble");
  const major = prefix[6]!;
  const minor = prefix[7]!;
  if (major < 1 || major > 3) {
    throw new UnsupportedError(
      `NPY format version ${major}.${minor} is not supported (1.0, 2.0 and 3.0 are)`,
    );
  }
  const view = new DataView(prefix.buffer, prefix.byteOffset, prefix.byteLength);
  let headerLength: number;
  let headerStart: number;
  if (major === 1) {
    headerLength = view.getUint16(8, true);
    headerStart = 10;
  } else {
    if (prefix.length < PREAMBLE_BYTES) throw new CorruptDataError("NPY file truncated inside its preamble");
    headerLength = view.getUint32(8, true);
    headerStart = 12;
  }
  if (headerLength > maxHeaderBytes) {
    throw new LimitExceededError(`NPY header is ${headerLength} bytes; the limit is ${maxHeaderBytes}`);
  }
  const dataOffset = headerStart + headerLength;
  if (prefix.length < dataOffset) {
    throw new CorruptDataError(`NPY file truncated inside its header (${headerLength} bytes announced)`);
  }
  const headerBytes = prefix.subarray(headerStart, dataOffset);
  // v1 and v2 headers are latin-1; v3 is UTF-8. Only ASCII is meaningful in a valid header either way.
  let text: string;
  try {
    text = new TextDecoder(major === 3 ? "utf-8" : "latin1", { fatal: true }).decode(headerBytes);
  } catch (e) {
    throw new CorruptDataError("NPY header is not valid text", { cause: e });
  }
  const dict = parseHeaderDict(text);
  const descr = dict.get("descr");
  const fortran = dict.get("fortran_order");
  const shape = dict.get("shape");
  if (typeof descr !== "string") throw new CorruptDataError("NPY header: 'descr' is missing or not a string");
  if (typeof fortran !== "boolean") {
    throw new CorruptDataError("NPY header: 'fortran_order' is missing or not True/False");
  }
  if (!Array.isArray(shape)) throw new CorruptDataError("NPY header: 'shape' is missing or not a tuple");
  for (const key of dict.keys()) {
    if (key !== "descr" && key !== "fortran_order" && key !== "shape") {
      throw new CorruptDataError(`NPY header: unexpected key ${JSON.stringify(key)}`);
    }
  }
  const dtype = Object.hasOwn(DESCR, descr) ? DESCR[descr] : undefined;
  if (dtype === undefined) {
    throw new UnsupportedError(
      `NPY dtype ${JSON.stringify(descr)} is not supported; supported: ${Object.keys(DESCR).join(", ")} ` +
        "(little-endian float16/float32/float64, int32/int64)",
    );
  }
  if (fortran && shape.length > 1) {
    throw new UnsupportedError(
      "NPY array is in Fortran (column-major) order; save a C-order array (numpy.ascontiguousarray)",
    );
  }
  let elements = 1;
  for (const d of shape) {
    elements *= d;
    if (!Number.isSafeInteger(elements)) throw new CorruptDataError("NPY header: the shape's size overflows");
  }
  const dataBytes = elements * ITEM_SIZE[dtype];
  if (!Number.isSafeInteger(dataBytes)) throw new CorruptDataError("NPY header: the data size overflows");
  return { dtype, shape, version: `${major}.${minor}`, dataOffset, dataBytes };
}

type HeaderValue = string | boolean | number[];

/**
 * The NPY header is a Python dict literal such as
 * `{'descr': '<f4', 'fortran_order': False, 'shape': (3, 4), }` padded with spaces and a newline.
 * This accepts exactly that grammar: string keys; values that are strings, True/False or tuples of
 * non-negative integers. Anything else is corrupt; nothing is evaluated.
 */
function parseHeaderDict(text: string): Map<string, HeaderValue> {
  let i = 0;
  const fail = (what: string): never => {
    throw new CorruptDataError(`NPY header: ${what} at offset ${i} of ${JSON.stringify(text.slice(0, 120))}`);
  };
  const skip = () => {
    while (i < text.length && (text[i] === " " || text[i] === "\n" || text[i] === "\t" || text[i] === "\r"))
      i++;
  };
  const expect = (c: string) => {
    skip();
    if (text[i] !== c) fail(`expected '${c}'`);
    i++;
  };
  const string = (): string => {
    skip();
    const quote = text[i];
    if (quote !== "'" && quote !== '"') return fail("expected a string");
    const end = text.indexOf(quote, i + 1);
    if (end < 0) return fail("unterminated string");
    const s = text.slice(i + 1, end);
    if (s.includes("\\")) return fail("escapes are not allowed in strings");
    i = end + 1;
    return s;
  };
  const integer = (): number => {
    skip();
    const start = i;
    while (i < text.length && text.charCodeAt(i) >= 48 && text.charCodeAt(i) <= 57) i++;
    if (i === start) return fail("expected a non-negative integer");
    if (text[i] === "L") i++; // Python 2 long suffix, written by old numpy
    const n = Number(text.slice(start, i).replace("L", ""));
    if (!Number.isSafeInteger(n)) return fail("integer too large");
    return n;
  };
  const value = (): HeaderValue => {
    skip();
    const c = text[i];
    if (c === "'" || c === '"') return string();
    if (text.startsWith("True", i)) {
      i += 4;
      return true;
    }
    if (text.startsWith("False", i)) {
      i += 5;
      return false;
    }
    if (c === "(") {
      i++;
      const items: number[] = [];
      skip();
      if (text[i] === ")") {
        i++;
        return items;
      }
      for (;;) {
        items.push(integer());
        if (items.length > 32) return fail("too many dimensions");
        skip();
        if (text[i] === ",") {
          i++;
          skip();
          if (text[i] === ")") {
            i++;
            return items;
          }
          continue;
        }
        if (text[i] === ")") {
          i++;
          return items;
        }
        return fail("expected ',' or ')' in the shape");
      }
    }
    return fail("expected a string, True, False or a tuple");
  };

  const dict = new Map<string, HeaderValue>();
  expect("{");
  skip();
  while (text[i] !== "}") {
    const key = string();
    if (dict.has(key)) fail(`duplicate key ${JSON.stringify(key)}`);
    expect(":");
    dict.set(key, value());
    skip();
    if (text[i] === ",") i++;
    else if (text[i] !== "}") fail("expected ',' or '}'");
    skip();
    if (i >= text.length) fail("unterminated dict");
  }
  i++;
  skip();
  if (i !== text.length) fail("unexpected text after the dict");
  return dict;
}

/**
 * Parses a whole `.npy` file held in memory (NPY format 1.0, 2.0 or 3.0). Accepts little-endian
 * float16, float32, float64, int32 and int64 arrays in C order (1-D arrays also when flagged Fortran
 * order). Malformed or truncated bytes, and trailing bytes after the data, throw CorruptDataError;
 * other dtypes, big-endian data and Fortran-order matrices throw UnsupportedError; a header over
 * `maxHeaderBytes` throws LimitExceededError.
 */
export function parseNpy(bytes: Uint8Array, options: ParseNpyOptions = {}): NpyArray {
  assertUint8Array(bytes, "bytes");
  assertOptions(options, "options");
  const maxHeaderBytes = options.maxHeaderBytes ?? DEFAULT_MAX_HEADER;
  assertInteger(maxHeaderBytes, "options.maxHeaderBytes", 0, 2 ** 32);
  const h = parseNpyHeader(bytes, maxHeaderBytes);
  const available = bytes.length - h.dataOffset;
  if (available < h.dataBytes) {
    throw new CorruptDataError(
      `NPY data truncated: shape (${h.shape.join(", ")}) of ${h.dtype} needs ${h.dataBytes} bytes, the file has ${available}`,
    );
  }
  if (available > h.dataBytes) {
    throw new CorruptDataError(
      `NPY file has ${available - h.dataBytes} bytes after the data of shape (${h.shape.join(", ")})`,
    );
  }
  return {
    dtype: h.dtype,
    shape: h.shape,
    version: h.version,
    dataOffset: h.dataOffset,
    data: bytes.subarray(h.dataOffset, h.dataOffset + h.dataBytes),
  };
}

/** float16/float32/float64 little-endian bytes → a new Float32Array (float64 rounded to nearest). */
function toFloat32(bytes: Uint8Array, dtype: "float16" | "float32" | "float64"): Float32Array {
  const n = bytes.length / ITEM_SIZE[dtype];
  if (dtype === "float32") {
    // A fresh, aligned copy: the caller owns the result and the file buffer can go.
    const out = new Float32Array(n);
    new Uint8Array(out.buffer).set(bytes);
    return out;
  }
  if (dtype === "float16") {
    const codes = new Uint16Array(n);
    new Uint8Array(codes.buffer).set(bytes);
    const out = new Float32Array(n);
    float16.decodeInto(codes, out);
    return out;
  }
  const wide = new Float64Array(n);
  new Uint8Array(wide.buffer).set(bytes);
  return Float32Array.from(wide);
}

/** int32/int64 little-endian bytes → a new Int32Array; an int64 outside int32 is corrupt data. */
function toInt32(bytes: Uint8Array, dtype: "int32" | "int64"): Int32Array {
  if (dtype === "int32") {
    const out = new Int32Array(bytes.length / 4);
    new Uint8Array(out.buffer).set(bytes);
    return out;
  }
  const wide = new BigInt64Array(bytes.length / 8);
  new Uint8Array(wide.buffer).set(bytes);
  const out = new Int32Array(wide.length);
  for (let i = 0; i < wide.length; i++) {
    const v = wide[i]!;
    if (v < -2147483648n || v > 2147483647n) {
      throw new CorruptDataError(`int64 value ${v} at element ${i} does not fit in int32`);
    }
    out[i] = Number(v);
  }
  return out;
}

/** Reads exactly `length` bytes at `position`, or throws CorruptDataError naming what was short. */
async function readExactly(
  file: Awaited<ReturnType<typeof open>>,
  position: number,
  length: number,
  what: string,
): Promise<Uint8Array> {
  const out = new Uint8Array(length);
  let done = 0;
  while (done < length) {
    const { bytesRead } = await file.read(out, done, length - done, position + done);
    if (bytesRead === 0) throw new CorruptDataError(`${what}: file ended after ${done} of ${length} bytes`);
    done += bytesRead;
  }
  return out;
}

interface Layout {
  readonly kind: "npy" | "raw";
  readonly dtype: NpyDtype;
  readonly rows: number;
  readonly cols: number;
  readonly dataOffset: number;
}

/** Opens `path`, works out its layout from the magic bytes (NPY) or `cols` (raw), checks sizes. */
async function layoutOf(
  file: Awaited<ReturnType<typeof open>>,
  path: string,
  rawDtype: "float32" | "int32",
  cols: number | undefined,
  maxHeaderBytes: number,
  rowsHint?: number,
): Promise<Layout> {
  const size = (await file.stat()).size;
  const head = new Uint8Array(Math.min(size, PREAMBLE_BYTES));
  if (head.length > 0) await file.read(head, 0, head.length, 0);
  if (hasNpyMagic(head)) {
    // Read just enough for the header the preamble announces (capped by the limit).
    const announced =
      head.length >= 10 && head[6] === 1
        ? 10 + (head[8]! | (head[9]! << 8))
        : head.length >= 12
          ? 12 + new DataView(head.buffer).getUint32(8, true)
          : head.length;
    const prefixLength = Math.min(size, announced, PREAMBLE_BYTES + maxHeaderBytes);
    const prefix = await readExactly(file, 0, prefixLength, `${path}: NPY header`);
    const h = parseNpyHeader(prefix, maxHeaderBytes);
    if (size - h.dataOffset !== h.dataBytes) {
      const verb = size - h.dataOffset < h.dataBytes ? "is truncated" : "has trailing bytes";
      throw new CorruptDataError(
        `${path} ${verb}: shape (${h.shape.join(", ")}) of ${h.dtype} needs ${h.dataBytes} data bytes, ` +
          `the file has ${size - h.dataOffset}`,
      );
    }
    if (h.shape.length === 0 || h.shape.length > 2) {
      throw new UnsupportedError(
        `${path}: NPY array of shape (${h.shape.join(", ")}) is not a matrix; expected 2 dimensions (rows, cols) or 1`,
      );
    }
    const [rows, c] = h.shape.length === 1 ? [1, h.shape[0]!] : [h.shape[0]!, h.shape[1]!];
    return { kind: "npy", dtype: h.dtype, rows, cols: c, dataOffset: h.dataOffset };
  }
  let rowLength = cols;
  if (rowLength === undefined && rowsHint !== undefined && rowsHint > 0) {
    // The row count is known (e.g. one ground-truth row per query): the row length follows from the size.
    if (size === 0 || size % (4 * rowsHint) !== 0) {
      throw new CorruptDataError(
        `${path}: ${size} bytes is not ${rowsHint} equal rows of ${rawDtype} values (4 bytes each)`,
      );
    }
    rowLength = size / (4 * rowsHint);
  }
  if (rowLength === undefined) {
    throw new RangeError(
      `${path} is a raw ${rawDtype} file (no NPY header): give its row length (dim); got none`,
    );
  }
  const rowBytes = rowLength * 4;
  if (size % rowBytes !== 0) {
    throw new CorruptDataError(
      `${path}: ${size} bytes is not a whole number of rows of ${rowLength} ${rawDtype} values (${rowBytes} bytes each)`,
    );
  }
  return { kind: "raw", dtype: rawDtype, rows: size / rowBytes, cols: rowLength, dataOffset: 0 };
}

/**
 * Reads a matrix of float vectors: a raw little-endian float32 file (any name; `dim` required) or a
 * `.npy` file (recognised by its magic bytes; float32, float16 or float64, 2-D (rows, dim) or 1-D (one
 * row), C order). `offset`/`count` read a slice of rows with one positioned read.
 */
export async function readVectors(path: string, options: ReadVectorsOptions = {}): Promise<VectorFile> {
  if (typeof path !== "string") throw new TypeError(`path must be a string, got ${describe(path)}`);
  assertOptions(options, "options");
  const {
    dim,
    offset = 0,
    count,
    maxBytes = DEFAULT_MAX_BYTES,
    maxHeaderBytes = DEFAULT_MAX_HEADER,
  } = options;
  if (dim !== undefined) assertInteger(dim, "options.dim", 1, 2 ** 24);
  assertInteger(offset, "options.offset", 0, Number.MAX_SAFE_INTEGER);
  if (count !== undefined) assertInteger(count, "options.count", 0, Number.MAX_SAFE_INTEGER);
  assertInteger(maxBytes, "options.maxBytes", 0, Number.MAX_SAFE_INTEGER);
  assertInteger(maxHeaderBytes, "options.maxHeaderBytes", 0, 2 ** 32);
  const file = await open(path, "r");
  try {
    const layout = await layoutOf(file, path, "float32", dim, maxHeaderBytes);
    if (layout.dtype === "int32" || layout.dtype === "int64") {
      throw new UnsupportedError(
        `${path}: NPY dtype ${layout.dtype} is not a float type; expected float vectors`,
      );
    }
    if (dim !== undefined && layout.cols !== dim) {
      throw new RangeError(`options.dim is ${dim}, but ${path} holds rows of ${layout.cols} values`);
    }
    if (layout.cols === 0) throw new CorruptDataError(`${path}: rows of 0 values`);
    const rows = sliceRows(path, layout.rows, offset, count);
    const item = ITEM_SIZE[layout.dtype];
    const bytes = rows * layout.cols * item;
    if (bytes > maxBytes) {
      throw new LimitExceededError(
        `${path}: reading ${bytes} bytes exceeds the limit of ${maxBytes} (maxBytes)`,
      );
    }
    const position = layout.dataOffset + offset * layout.cols * item;
    const data = await readExactly(file, position, bytes, path);
    return {
      vectors: toFloat32(data, layout.dtype),
      count: rows,
      dim: layout.cols,
      format: layout.kind === "npy" ? "npy" : "raw-float32",
      dtype: layout.dtype,
    };
  } finally {
    await file.close();
  }
}

function sliceRows(path: string, total: number, offset: number, count: number | undefined): number {
  if (offset > total) throw new RangeError(`options.offset ${offset} is past the ${total} rows of ${path}`);
  const rows = count ?? total - offset;
  if (offset + rows > total) {
    throw new RangeError(`rows [${offset}, ${offset + rows}) requested, but ${path} has ${total} rows`);
  }
  return rows;
}

/**
 * Reads an int32 matrix of `cols` columns: a raw little-endian int32 file (`.i32`, e.g. ground truth:
 * per query, the base row ids of its nearest neighbours; `cols` or `options.rows` required) or an
 * int32/int64 `.npy` file (whose column count must equal `cols` when given).
 */
export async function readInt32Matrix(
  path: string,
  cols?: number,
  options: ReadInt32MatrixOptions = {},
): Promise<Int32Matrix> {
  if (typeof path !== "string") throw new TypeError(`path must be a string, got ${describe(path)}`);
  if (cols !== undefined) assertInteger(cols, "cols", 1, 2 ** 24);
  assertOptions(options, "options");
  const { maxBytes = DEFAULT_MAX_BYTES, maxHeaderBytes = DEFAULT_MAX_HEADER, rows } = options;
  assertInteger(maxBytes, "options.maxBytes", 0, Number.MAX_SAFE_INTEGER);
  assertInteger(maxHeaderBytes, "options.maxHeaderBytes", 0, 2 ** 32);
  if (rows !== undefined) assertInteger(rows, "options.rows", 0, Number.MAX_SAFE_INTEGER);
  const file = await open(path, "r");
  try {
    const layout = await layoutOf(file, path, "int32", cols, maxHeaderBytes, rows);
    if (rows !== undefined && layout.rows !== rows) {
      throw new RangeError(`options.rows is ${rows}, but ${path} holds ${layout.rows} rows`);
    }
    if (layout.dtype !== "int32" && layout.dtype !== "int64") {
      throw new UnsupportedError(`${path}: NPY dtype ${layout.dtype} is not an integer type; expected int32`);
    }
    if (cols !== undefined && layout.cols !== cols) {
      throw new RangeError(`cols is ${cols}, but ${path} holds rows of ${layout.cols} values`);
    }
    const bytes = layout.rows * layout.cols * ITEM_SIZE[layout.dtype];
    if (bytes > maxBytes) {
      throw new LimitExceededError(
        `${path}: reading ${bytes} bytes exceeds the limit of ${maxBytes} (maxBytes)`,
      );
    }
    const data = await readExactly(file, layout.dataOffset, bytes, path);
    return { data: toInt32(data, layout.dtype), rows: layout.rows, cols: layout.cols };
  } finally {
    await file.close();
  }
}
