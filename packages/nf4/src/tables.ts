import { BNB_FP4_TABLE, DYNAMIC_MAP, NF4_TABLE } from "./_tables.js";

/** The NF4 code book, code → float32 value (a copy: the kernels keep their own). */
export const NF4_CODE: Float32Array = NF4_TABLE.slice();

/** bitsandbytes' FP4 code book, code → float32 value (bit 3 = sign; code 8 is +0.0). */
export const BNB_FP4_CODE: Float32Array = BNB_FP4_TABLE.slice();

/**
 * bitsandbytes' signed dynamic 8-bit map (`create_dynamic_map()`), code → float32 value: the code of
 * `bnb_blockwise8` and of the nested absmax quantization.
 */
export const BNB_DYNAMIC_MAP: Float32Array = DYNAMIC_MAP.slice();
