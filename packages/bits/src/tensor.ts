/**
 * The shapes every quantizer shares: a quantized tensor is a set of named, typed parts (SPEC §4) plus
 * the resolved spec that produced them. Parts are stored in safetensors as they are, so each carries
 * the safetensors dtype and shape it is saved with.
 */

/** safetensors element types. */
export const PART_DTYPES = [
  "F64",
  "F32",
  "F16",
  "BF16",
  "F8_E4M3",
  "F8_E5M2",
  "F8_E8M0",
  "I64",
  "I32",
  "I16",
  "I8",
  "U64",
  "U32",
  "U16",
  "U8",
  "BOOL",
] as const;

export type PartDtype = (typeof PART_DTYPES)[number];

/** Bytes per element of each dtype. */
export const DTYPE_BYTES: Readonly<Record<PartDtype, number>> = {
  F64: 8,
  F32: 4,
  F16: 2,
  BF16: 2,
  F8_E4M3: 1,
  F8_E5M2: 1,
  F8_E8M0: 1,
  I64: 8,
  I32: 4,
  I16: 2,
  I8: 1,
  U64: 8,
  U32: 4,
  U16: 2,
  U8: 1,
  BOOL: 1,
};

export type TypedArray =
  | Float64Array
  | Float32Array
  | Int32Array
  | Int16Array
  | Int8Array
  | Uint32Array
  | Uint16Array
  | Uint8Array
  | BigInt64Array
  | BigUint64Array;

/**
 * One stored array. `data` is the array type of the dtype: F64 Float64Array, F32 Float32Array,
 * F16/BF16/U16 Uint16Array (bit patterns for the floats), F8_E4M3/F8_E5M2/F8_E8M0/U8/BOOL Uint8Array, I8 Int8Array,
 * I16 Int16Array, I32 Int32Array, U32 Uint32Array, I64 BigInt64Array, U64 BigUint64Array.
 */
export interface TensorPart {
  readonly dtype: PartDtype;
  readonly shape: readonly number[];
  readonly data: TypedArray;
}

/** A quantizer's options: the registered format name plus format-specific settings. */
export interface QuantSpec {
  readonly format: string;
  readonly [option: string]: unknown;
}

export interface QuantizedTensor {
  /** The resolved spec: format name and every option with defaults filled in (JSON-serialisable). */
  readonly spec: QuantSpec;
  /** Shape of the float tensor this represents. */
  readonly shape: readonly number[];
  /** Named parts (SPEC §4): `qdata` (packed codes), `scales`, `zeros`, `lut`, `globalScale`, … */
  readonly parts: Readonly<Record<string, TensorPart>>;
}

/** Progress and cancellation for long work (k-means, whole models). */
export interface WorkContext {
  /** Called with (units done, units total), e.g. rows or tensors; at most a few hundred times. */
  readonly onProgress?: (done: number, total: number) => void;
  /** An AbortSignal (described structurally so the package needs no DOM or Node types). */
  readonly signal?: AbortLike;
}

/** The part of AbortSignal that long work checks between steps. */
export interface AbortLike {
  readonly aborted: boolean;
  readonly reason?: unknown;
}

/** Throws the signal's reason (or an AbortError) if it has been aborted. */
export function throwIfAborted(signal: AbortLike | undefined): void {
  if (signal?.aborted) {
    const reason = signal.reason;
    if (reason instanceof Error) throw reason;
    const e = new Error("the operation was aborted");
    e.name = "AbortError";
    throw e;
  }
}

export interface Quantizer {
  /** Registered name (`int4`, `nf4`, `mxfp4`, …). */
  readonly name: string;
  /** One line for tables. */
  readonly summary: string;
  /** Default options (everything but `format`). */
  readonly defaults: Readonly<Record<string, unknown>>;
  /**
   * Quantizes a row-major float tensor of `shape`. `spec` options override the defaults; unknown or
   * invalid options throw TypeError/RangeError naming the option.
   */
  quantize(
    src: Float32Array,
    shape: readonly number[],
    spec?: Readonly<Record<string, unknown>>,
    ctx?: WorkContext,
  ): QuantizedTensor;
  /**
   * Restores floats. Parts are validated (presence, dtype, length) and a malformed tensor — as read
   * from an untrusted file — throws CorruptDataError. Writes into `dst` when given.
   */
  dequantize(qt: QuantizedTensor, dst?: Float32Array): Float32Array;
}

/** Number of elements of a shape. Throws RangeError for a malformed shape. */
export function shapeSize(shape: readonly number[], name = "shape"): number {
  if (!Array.isArray(shape)) throw new TypeError(`${name} must be an array of integers`);
  let n = 1;
  for (let i = 0; i < shape.length; i++) {
    const d = shape[i];
    if (typeof d !== "number" || !Number.isInteger(d) || d < 0) {
      throw new RangeError(`${name}[${i}] must be a non-negative integer, got ${String(d)}`);
    }
    n *= d;
  }
  if (!Number.isSafeInteger(n)) throw new RangeError(`${name} has too many elements (${n})`);
  return n;
}

/** Throws RangeError unless `src.length` equals the number of elements of `shape`. */
export function assertShapeMatches(src: ArrayLike<unknown>, shape: readonly number[], name = "src"): number {
  const n = shapeSize(shape);
  if (src.length !== n) {
    throw new RangeError(`${name} has ${src.length} elements but shape [${shape.join(", ")}] needs ${n}`);
  }
  return n;
}
