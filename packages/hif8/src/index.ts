export type { EncodeOptions, FloatCodec } from "@lowbit/minifloat";
export { encodeHiF8Scalar, hif8DecodeTable, hifloat8 } from "./hif8.js";
