export type { EncodeOptions, SubByteFloatCodec } from "@lowbit/minifloat";
export { float4_e2m1fn } from "./fp4.js";
