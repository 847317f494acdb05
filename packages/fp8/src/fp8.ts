import { createMinifloat, type MinifloatCodec } from "@lowbit/minifloat";

type Fp8Codec = MinifloatCodec<Uint8Array>;

/** OFP8 E4M3 (S E4 M3, bias 7): no Inf, NaN = 0x7F/0xFF, max 448. Overflow → NaN unless saturating. */
export const float8_e4m3fn: Fp8Codec = createMinifloat({
  name: "float8_e4m3fn",
  exponentBits: 4,
  mantissaBits: 3,
  bias: 7,
  signed: true,
  special: "fn",
  zero: true,
}) as Fp8Codec;

/** OFP8 E5M2 (S E5 M2, bias 15): IEEE-like with ±Inf (0x7C/0xFC), max 57344. */
export const float8_e5m2: Fp8Codec = createMinifloat({
  name: "float8_e5m2",
  exponentBits: 5,
  mantissaBits: 2,
  bias: 15,
  signed: true,
  special: "ieee",
  zero: true,
}) as Fp8Codec;

/** E4M3 "fnuz" (bias 8): 0x80 is the only NaN, no −0, max 240 (AMD/Graphcore style). */
export const float8_e4m3fnuz: Fp8Codec = createMinifloat({
  name: "float8_e4m3fnuz",
  exponentBits: 4,
  mantissaBits: 3,
  bias: 8,
  signed: true,
  special: "fnuz",
  zero: true,
}) as Fp8Codec;

/** E5M2 "fnuz" (bias 16): 0x80 is the only NaN, no −0, max 57344. */
export const float8_e5m2fnuz: Fp8Codec = createMinifloat({
  name: "float8_e5m2fnuz",
  exponentBits: 5,
  mantissaBits: 2,
  bias: 16,
  signed: true,
  special: "fnuz",
  zero: true,
}) as Fp8Codec;

/**
 * E8M0 (unsigned, 2^(c − 127)): the MX block-scale type. 0xFF = NaN, no zero and no sign: zero,
 * negatives, ±Inf and NaN encode to 0xFF. With no mantissa the even-rounding rule makes every tie round
 * up (1.5 → 2). Code 0 is 2^−127.
 */
export const float8_e8m0fnu: Fp8Codec = createMinifloat({
  name: "float8_e8m0fnu",
  exponentBits: 8,
  mantissaBits: 0,
  bias: 127,
  signed: false,
  special: "fn",
  zero: false,
}) as Fp8Codec;

/** All FP8 codecs of this package, in ml_dtypes order. */
export const fp8Codecs: readonly Fp8Codec[] = [
  float8_e4m3fn,
  float8_e5m2,
  float8_e4m3fnuz,
  float8_e5m2fnuz,
  float8_e8m0fnu,
];
