export {
  describe,
  assertUint8Array,
  assertUint16Array,
  assertFloat32Array,
  assertMinLength,
  assertInteger,
  assertBoolean,
  assertOneOf,
  assertOptions,
} from "./assert.js";
export {
  LowbitError,
  LowbitErrorCode,
  CorruptDataError,
  LimitExceededError,
  IntegrityError,
  NotFoundError,
  ConflictError,
  UnsupportedError,
} from "./errors.js";
export { createRng, randomSeed } from "./rng.js";
export type { Rng } from "./rng.js";
export {
  packedLength,
  pack,
  packInto,
  unpack,
  unpackInto,
  packNibblesHighFirst,
  packNibblesHighFirstInto,
  unpackNibblesHighFirst,
  unpackNibblesHighFirstInto,
  GGUF_NIBBLE_BLOCK,
  packGgufNibbles,
  packGgufNibblesInto,
  unpackGgufNibbles,
  unpackGgufNibblesInto,
} from "./pack.js";
