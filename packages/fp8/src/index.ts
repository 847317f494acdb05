export type { EncodeOptions, FloatCodec } from "@lowbit/minifloat";
export {
  float8_e4m3fn,
  float8_e4m3fnuz,
  float8_e5m2,
  float8_e5m2fnuz,
  float8_e8m0fnu,
  fp8Codecs,
} from "./fp8.js";
