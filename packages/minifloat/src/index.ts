export type {
  CodeArray,
  CodecSpec,
  EncodeOptions,
  FloatCodec,
  FloatInput,
  SubByteFloatCodec,
  WideParams,
} from "./codec.js";
export { createCodec, withPacking } from "./codec.js";
export type { MinifloatFormat, ResolvedFormat, SpecialStyle } from "./format.js";
export { resolveFormat, validateFormat } from "./format.js";
export type { MinifloatCodec, SubByteMinifloatCodec } from "./minifloat.js";
export { createMinifloat, createSubByteMinifloat } from "./minifloat.js";
export type { RoundMode } from "./round.js";
export { roundShift, splitFloat32 } from "./round.js";
export type { ScalarEncoder } from "./scalar.js";
export { buildDecodeTable, codeValue, createScalarEncoder, isNaNCode } from "./scalar.js";
