export { float16, bfloat16 } from "./fp16.js";
export type { EncodeOptions, FloatCodec } from "@lowbit/minifloat";
