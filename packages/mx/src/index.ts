export { fromGptOssMxfp4, fromModelOptNvfp4, toGptOssMxfp4, toModelOptNvfp4 } from "./checkpoint.js";
export type { MxFp6Options, MxOptions, MxRounding, MxScaleMode } from "./mx.js";
export { MX_BLOCK_SIZE, mxfp4, mxfp6_e2m3, mxfp6_e3m2, mxfp8_e4m3, mxfp8_e5m2, mxint8 } from "./mx.js";
export type { Nvfp4Options, Nvfp4Variant } from "./nvfp4.js";
export { NVFP4_BLOCK_SIZE, nvfp4, nvfp4TeGlobalScales } from "./nvfp4.js";
export { mxQuantizers } from "./quantizers.js";
