import {
  describe,
  PART_DTYPES,
  type PartDtype,
  shapeSize,
  type TensorPart,
  type TypedArray,
} from "@lowbit/bits";
import { ARRAY_OF, DTYPE_BYTES, isPartDtype, quote } from "./_dtype.js";
import type { TensorInfo } from "./header.js";

/**
 * The tensor whose bytes are `bytes` (exactly its data range): a view on the same memory when the
 * range is aligned to the element size, otherwise a copy.
 */
export function tensorOfBytes(info: TensorInfo, bytes: Uint8Array): TensorPart {
  const Ctor = ARRAY_OF[info.dtype];
  const size = DTYPE_BYTES[info.dtype];
  const length = bytes.length / size;
  let data: TypedArray;
  if (bytes.byteOffset % size === 0) {
    data = new Ctor(bytes.buffer, bytes.byteOffset, length);
  } else {
    data = new Ctor(length);
    new Uint8Array(data.buffer).set(bytes);
  }
  return Object.freeze({ dtype: info.dtype, shape: info.shape, data });
}

/**
 * Checks a tensor given to a writer (a bad argument throws TypeError/RangeError naming it) and returns
 * its bytes: a Uint8Array view on the same memory.
 */
export function bytesOfTensor(
  part: unknown,
  what: string,
): { dtype: PartDtype; shape: number[]; bytes: Uint8Array } {
  if (typeof part !== "object" || part === null) {
    throw new TypeError(`${what} must be a tensor {dtype, shape, data}, got ${describe(part)}`);
  }
  const { dtype, shape, data } = part as Partial<TensorPart>;
  if (!isPartDtype(dtype)) {
    if (typeof dtype !== "string")
      throw new TypeError(`${what}.dtype must be a string, got ${describe(dtype)}`);
    throw new RangeError(`${what}.dtype must be one of ${PART_DTYPES.join(", ")}, got ${quote(dtype)}`);
  }
  const n = shapeSize(shape as number[], `${what}.shape`);
  const Ctor = ARRAY_OF[dtype];
  if (!(data instanceof Ctor)) {
    throw new TypeError(`${what}.data must be a ${Ctor.name} for dtype ${dtype}, got ${describe(data)}`);
  }
  if (data.length !== n) {
    throw new RangeError(
      `${what}.data has ${data.length} elements but ${dtype} shape [${(shape as number[]).join(", ")}] needs ${n}`,
    );
  }
  return {
    dtype,
    shape: [...(shape as number[])],
    bytes: new Uint8Array(data.buffer, data.byteOffset, data.byteLength),
  };
}
