export { codecNames, getCodec, getCodecInfo, hasCodec, listCodecs } from "./registry.js";
export type { CodecInfo, CodecKind } from "./registry.js";
export type { EncodeOptions, FloatCodec, SubByteFloatCodec } from "@lowbit/minifloat";
