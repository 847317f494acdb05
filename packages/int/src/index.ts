export type { GgufBlockCodec, GgufEncodeOptions, GgufQ4_0Variant } from "./gguf.js";
export { ggufMxfp4, ggufQ4_0, ggufQ4_1, ggufQ8_0, ggufQuantizers } from "./gguf.js";
export type { IntOptions, IntRounding, IntScaleDtype, QuantizeIntOptions } from "./int.js";
export { createIntQuantizer, dequantizeInt, quantizeInt } from "./int.js";
export { intQuantizers } from "./quantizers.js";
