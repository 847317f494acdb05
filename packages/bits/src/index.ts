export {
  assertBoolean,
  assertFloat32Array,
  assertInteger,
  assertMinLength,
  assertOneOf,
  assertOptions,
  assertUint8Array,
  assertUint16Array,
  describe,
} from "./assert.js";
export {
  ConflictError,
  CorruptDataError,
  IntegrityError,
  LimitExceededError,
  LockedError,
  LowbitError,
  LowbitErrorCode,
  NotFoundError,
  UnsupportedError,
} from "./errors.js";
export {
  GGUF_NIBBLE_BLOCK,
  pack,
  packedLength,
  packGgufNibbles,
  packGgufNibblesInto,
  packInto,
  packNibblesHighFirst,
  packNibblesHighFirstInto,
  unpack,
  unpackGgufNibbles,
  unpackGgufNibblesInto,
  unpackInto,
  unpackNibblesHighFirst,
  unpackNibblesHighFirstInto,
} from "./pack.js";
export type { Rng } from "./rng.js";
export { createRng, randomSeed } from "./rng.js";
export type {
  AbortLike,
  PartDtype,
  QuantizedTensor,
  Quantizer,
  QuantSpec,
  TensorPart,
  TypedArray,
  WorkContext,
} from "./tensor.js";
export { assertShapeMatches, DTYPE_BYTES, PART_DTYPES, shapeSize, throwIfAborted } from "./tensor.js";
