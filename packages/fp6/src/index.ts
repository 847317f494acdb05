export type { EncodeOptions, SubByteFloatCodec } from "@lowbit/minifloat";
export { float6_e2m3fn, float6_e3m2fn } from "./fp6.js";
