export type { PartDtype, QuantizedTensor, QuantSpec, TensorPart, TypedArray } from "@lowbit/bits";
export { toFloat32 } from "./convert.js";
export type { EncodeOptions, TensorsInput } from "./encode.js";
export { encodeSafetensors } from "./encode.js";
export type { ReadOptions, SafetensorsHeader, SafetensorsLimits, TensorInfo } from "./header.js";
export { DEFAULT_LIMITS, parseHeader } from "./header.js";
export type { FloatTensor, Model, ModelEntries, ModelEntry, QuantizedInfo } from "./model.js";
export {
  encodeModel,
  LOWBIT_FORMAT_VERSION,
  LOWBIT_METADATA_KEY,
  modelToFloat32,
  readModel,
  readModelFloat32,
} from "./model.js";
export type { SafetensorsFile } from "./read.js";
export { readSafetensors } from "./read.js";
