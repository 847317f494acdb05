export type { QuantizedTensor, Quantizer, QuantSpec, TensorPart, WorkContext } from "@lowbit/bits";
export type { EncodeOptions, FloatCodec, SubByteFloatCodec } from "@lowbit/minifloat";
export { elementQuantizers } from "./element-quantizers.js";
export { maxAbsError, mse, relativeMse, sqnrDb } from "./metrics.js";
export {
  bitsPerWeight,
  dequantize,
  getQuantizer,
  hasQuantizer,
  listQuantizers,
  quantize,
} from "./quantize.js";
export type { CodecInfo, CodecKind } from "./registry.js";
export { codecNames, getCodec, getCodecInfo, hasCodec, listCodecs } from "./registry.js";
