export type { Bnb4bitSpec, BnbBlockwise8Spec } from "./nf4.js";
export { bnb_blockwise8, bnb_fp4, bnbBlockAbsmax, nf4, nf4Quantizers } from "./nf4.js";
export { fromBitsandbytesState, toBitsandbytesState } from "./state.js";
export { BNB_DYNAMIC_MAP, BNB_FP4_CODE, NF4_CODE } from "./tables.js";
