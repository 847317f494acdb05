export { hifloat8, encodeHiF8Scalar, hif8DecodeTable } from "./hif8.js";
export type { EncodeOptions, FloatCodec } from "@lowbit/minifloat";
