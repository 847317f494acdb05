import { createMinifloat, type MinifloatCodec } from "@lowbit/minifloat";

type Codec16 = MinifloatCodec<Uint16Array>;

/**
 * IEEE 754 binary16 (S E5 M10, bias 15), numpy/ml_dtypes semantics: round to nearest even into the
 * subnormals, overflow → ±Inf (65520 and above), max 65504. NaN inputs encode to the quiet NaN
 * 0x7E00 with the input's sign (numpy keeps the payload instead; both are NaN codes).
 */
export const float16: Codec16 = createMinifloat({
  name: "float16",
  exponentBits: 5,
  mantissaBits: 10,
  bias: 15,
  signed: true,
  special: "ieee",
  zero: true,
}) as Codec16;

/**
 * bfloat16 (S E8 M7, bias 127): the high half of a float32, rounded to nearest even; NaN → 0x7FC0 with
 * the input's sign, as ml_dtypes. Decode is a 16-bit shift (NaN payloads survive).
 */
export const bfloat16: Codec16 = createMinifloat({
  name: "bfloat16",
  exponentBits: 8,
  mantissaBits: 7,
  bias: 127,
  signed: true,
  special: "ieee",
  zero: true,
}) as Codec16;
