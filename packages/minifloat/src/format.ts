/**
 * How a minifloat uses its special codes.
 * - "ieee":   all-ones exponent is ±Inf (mantissa 0) or NaN (mantissa ≠ 0); overflow → ±Inf.
 * - "fn":     finite + NaN: no Inf; only the all-ones code (per sign) is NaN; overflow and ±Inf → NaN.
 * - "fnuz":   finite + NaN + unsigned zero: the code with only the sign bit set is the single NaN,
 *             there is no −0; overflow, ±Inf and NaN → that code.
 * - "finite": no Inf, no NaN: overflow and ±Inf saturate to ±max; NaN → the ml_dtypes quiet_NaN()
 *             stand-in, which is −0 for +NaN and +0 for −NaN.
 */
export type SpecialStyle = "ieee" | "fn" | "fnuz" | "finite";

/** A description of one ExMy format, enough to derive every code's value and every rounding. */
export interface MinifloatFormat {
  /** Name as in ml_dtypes (`float8_e4m3fn`, …). */
  readonly name: string;
  /** Exponent field width, 1..8. */
  readonly exponentBits: number;
  /** Mantissa field width, 0..10. */
  readonly mantissaBits: number;
  /** Exponent bias: a normal code with field e has value 2^(e − bias) · (1 + m / 2^M). */
  readonly bias: number;
  /** False for formats without a sign bit (E8M0): negative inputs encode to NaN. */
  readonly signed: boolean;
  readonly special: SpecialStyle;
  /**
   * False when code 0 is not zero but 2^(−bias) (E8M0). Encoding still rounds the range below the
   * smallest normal as if code 0 were zero, which is what ml_dtypes does.
   */
  readonly zero: boolean;
}

/** Everything the encoders and decoders need, computed once from a MinifloatFormat. */
export interface ResolvedFormat extends MinifloatFormat {
  readonly bits: number;
  /** The sign bit of a code (0 when unsigned). */
  readonly signBit: number;
  /** The largest finite magnitude code (no sign). */
  readonly maxMag: number;
  /** Unbiased exponent of the smallest normal. */
  readonly emin: number;
  /** Code for +NaN / −NaN input (for "finite" formats, the ml_dtypes stand-in). */
  readonly nanPos: number;
  readonly nanNeg: number;
  /** Code for finite overflow and ±Inf when not saturating. */
  readonly ovfPos: number;
  readonly ovfNeg: number;
  /** Code for a negative input that rounds to zero. */
  readonly zeroNeg: number;
}

export function validateFormat(f: MinifloatFormat): void {
  const int = (v: number, lo: number, hi: number, what: string) => {
    if (!Number.isInteger(v) || v < lo || v > hi) {
      throw new RangeError(`format.${what} must be an integer in [${lo}, ${hi}], got ${String(v)}`);
    }
  };
  if (typeof f !== "object" || f === null) throw new TypeError("format must be an object");
  if (typeof f.name !== "string" || f.name.length === 0) throw new TypeError("format.name must be a string");
  int(f.exponentBits, 1, 8, "exponentBits");
  int(f.mantissaBits, 0, 10, "mantissaBits");
  int(f.bias, -64, 254, "bias");
  const bits = (f.signed ? 1 : 0) + f.exponentBits + f.mantissaBits;
  if (bits > 16) throw new RangeError(`format ${f.name} has ${bits} bits; at most 16 are supported`);
  if (!["ieee", "fn", "fnuz", "finite"].includes(f.special)) {
    throw new RangeError(
      `format.special must be "ieee" | "fn" | "fnuz" | "finite", got ${String(f.special)}`,
    );
  }
  if (f.special === "ieee" && f.mantissaBits === 0) {
    throw new RangeError(`format ${f.name}: "ieee" specials need at least one mantissa bit for NaN`);
  }
  if (f.special === "fnuz" && !f.signed) {
    throw new RangeError(`format ${f.name}: "fnuz" needs a sign bit`);
  }
}

export function resolveFormat(f: MinifloatFormat): ResolvedFormat {
  validateFormat(f);
  const E = f.exponentBits;
  const M = f.mantissaBits;
  const bits = (f.signed ? 1 : 0) + E + M;
  const signBit = f.signed ? 1 << (E + M) : 0;
  const allOnes = (1 << (E + M)) - 1;
  const expOnes = ((1 << E) - 1) << M;
  let maxMag: number;
  let nanPos: number;
  let nanNeg: number;
  let ovfPos: number;
  let ovfNeg: number;
  switch (f.special) {
    case "ieee":
      maxMag = expOnes - 1;
      nanPos = expOnes | (1 << (M - 1));
      nanNeg = nanPos | signBit;
      ovfPos = expOnes;
      ovfNeg = expOnes | signBit;
      break;
    case "fn":
      maxMag = allOnes - 1;
      nanPos = allOnes;
      nanNeg = allOnes | signBit;
      ovfPos = nanPos;
      ovfNeg = nanNeg;
      break;
    case "fnuz":
      maxMag = allOnes;
      nanPos = signBit;
      nanNeg = signBit;
      ovfPos = signBit;
      ovfNeg = signBit;
      break;
    case "finite":
      maxMag = allOnes;
      // ml_dtypes: quiet_NaN() of a NaN-less type is the bit pattern 1000…0 (−0); −NaN flips its sign.
      nanPos = signBit;
      nanNeg = 0;
      ovfPos = maxMag;
      ovfNeg = maxMag | signBit;
      break;
  }
  // Every value must be exact in float32.
  const emax = (maxMag >>> M) - f.bias;
  const eminSub = 1 - f.bias - M;
  if (emax > 127 || eminSub < -149) {
    throw new RangeError(`format ${f.name}: values must be exactly representable in float32`);
  }
  return {
    ...f,
    bits,
    signBit,
    maxMag,
    emin: 1 - f.bias,
    nanPos,
    nanNeg: f.signed ? nanNeg : nanPos,
    ovfPos,
    ovfNeg: f.signed ? ovfNeg : nanPos,
    zeroNeg: f.special === "fnuz" ? 0 : signBit,
  };
}
