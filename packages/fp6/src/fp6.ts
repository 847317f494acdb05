import { createSubByteMinifloat, type SubByteMinifloatCodec } from "@lowbit/minifloat";

/**
 * OCP MX FP6 E2M3 (S E2 M3, bias 1): no Inf, no NaN, max 7.5. Overflow and ±Inf saturate to ±7.5;
 * NaN follows ml_dtypes (+NaN → 0x20 (−0), −NaN → 0x00).
 */
export const float6_e2m3fn: SubByteMinifloatCodec = createSubByteMinifloat({
  name: "float6_e2m3fn",
  exponentBits: 2,
  mantissaBits: 3,
  bias: 1,
  signed: true,
  special: "finite",
  zero: true,
});

/** OCP MX FP6 E3M2 (S E3 M2, bias 3): no Inf, no NaN, max 28; same overflow and NaN rules as E2M3. */
export const float6_e3m2fn: SubByteMinifloatCodec = createSubByteMinifloat({
  name: "float6_e3m2fn",
  exponentBits: 3,
  mantissaBits: 2,
  bias: 3,
  signed: true,
  special: "finite",
  zero: true,
});
