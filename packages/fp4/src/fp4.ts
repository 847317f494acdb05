import { createSubByteMinifloat, type SubByteMinifloatCodec } from "@lowbit/minifloat";

/**
 * OCP MX FP4 E2M1 (S E2 M1, bias 1): values 0, 0.5, 1, 1.5, 2, 3, 4, 6 and their negatives. No Inf or
 * NaN: overflow and ±Inf saturate to ±6; +NaN → 0x8 (−0) and −NaN → 0x0, as ml_dtypes.
 * Packed two per byte, element 2i in the low nibble (torch `float4_e2m1fn_x2`, NVIDIA, OCP).
 */
export const float4_e2m1fn: SubByteMinifloatCodec = createSubByteMinifloat({
  name: "float4_e2m1fn",
  exponentBits: 2,
  mantissaBits: 1,
  bias: 1,
  signed: true,
  special: "finite",
  zero: true,
});
