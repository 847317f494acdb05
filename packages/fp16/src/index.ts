export type { EncodeOptions, FloatCodec } from "@lowbit/minifloat";
export { bfloat16, float16 } from "./fp16.js";
