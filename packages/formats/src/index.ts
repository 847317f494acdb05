export type { EncodeOptions, FloatCodec, SubByteFloatCodec } from "@lowbit/minifloat";
export type { CodecInfo, CodecKind } from "./registry.js";
export { codecNames, getCodec, getCodecInfo, hasCodec, listCodecs } from "./registry.js";
