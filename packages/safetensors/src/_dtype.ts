import {
  CorruptDataError,
  DTYPE_BYTES,
  PART_DTYPES,
  type PartDtype,
  type TypedArray,
  UnsupportedError,
} from "@lowbit/bits";

/** A constructor of the typed array that holds a dtype (see `TensorPart` in @lowbit/bits). */
export interface TypedArrayConstructor {
  readonly BYTES_PER_ELEMENT: number;
  readonly name: string;
  new (length: number): TypedArray;
  new (buffer: ArrayBufferLike, byteOffset: number, length: number): TypedArray;
}

/** The array type of each dtype: floats narrower than 32 bits are their bit patterns. */
export const ARRAY_OF: Readonly<Record<PartDtype, TypedArrayConstructor>> = {
  F64: Float64Array,
  F32: Float32Array,
  F16: Uint16Array,
  BF16: Uint16Array,
  F8_E4M3: Uint8Array,
  F8_E5M2: Uint8Array,
  F8_E8M0: Uint8Array,
  I64: BigInt64Array,
  I32: Int32Array,
  I16: Int16Array,
  I8: Int8Array,
  U64: BigUint64Array,
  U32: Uint32Array,
  U16: Uint16Array,
  U8: Uint8Array,
  BOOL: Uint8Array,
};

export { DTYPE_BYTES };

/**
 * Position of each dtype in the reference implementation's `Dtype` enum (huggingface/safetensors,
 * "increasing alignment order"). Its writer sorts tensors by this rank, descending, then by name, so
 * every tensor starts at a multiple of its element size without padding between tensors.
 */
export const DTYPE_RANK: Readonly<Record<PartDtype, number>> = {
  BOOL: 0,
  U8: 1,
  I8: 2,
  F8_E5M2: 3,
  F8_E4M3: 4,
  F8_E8M0: 5,
  I16: 6,
  U16: 7,
  F16: 8,
  BF16: 9,
  I32: 10,
  U32: 11,
  F32: 12,
  F64: 13,
  I64: 14,
  U64: 15,
};

const CANONICAL: ReadonlyMap<string, PartDtype> = new Map<string, PartDtype>([
  ...PART_DTYPES.map((d) => [d, d] as const),
  // Spellings other writers use for the same OFP8 / MX types (the reference writes the short ones).
  ["F8_E4M3FN", "F8_E4M3"],
  ["F8_E8M0FNU", "F8_E8M0"],
]);

/** dtypes of the reference format that a TensorPart cannot hold (sub-byte, fnuz, complex). */
const UNSUPPORTED: ReadonlySet<string> = new Set([
  "F4",
  "F6_E2M3",
  "F6_E3M2",
  "F8_E4M3FNUZ",
  "F8_E5M2FNUZ",
  "C64",
]);

/** True if `value` is one of the 16 dtypes of `PART_DTYPES` (the canonical spelling). */
export function isPartDtype(value: unknown): value is PartDtype {
  return typeof value === "string" && CANONICAL.get(value) === value;
}

/**
 * The dtype of a header entry: canonical names and their aliases. Anything else is corrupt, except the
 * reference format's dtypes this library cannot represent, which are unsupported.
 */
export function parseDtype(value: unknown, tensor: string): PartDtype {
  if (typeof value === "string") {
    const d = CANONICAL.get(value);
    if (d !== undefined) return d;
    if (UNSUPPORTED.has(value)) {
      throw new UnsupportedError(
        `tensor ${quote(tensor)}: dtype ${value} is not supported by @lowbit/safetensors`,
      );
    }
  }
  throw new CorruptDataError(
    `tensor ${quote(tensor)}: unknown dtype ${typeof value === "string" ? quote(value) : typeof value}; ` +
      `expected one of ${PART_DTYPES.join(", ")}`,
  );
}

/** A name for messages: JSON-quoted, long names shortened. */
export function quote(name: string): string {
  return JSON.stringify(name.length > 80 ? `${name.slice(0, 80)}…` : name);
}
