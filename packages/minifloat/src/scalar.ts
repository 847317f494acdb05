import type { Rng } from "@lowbit/bits";
import type { ResolvedFormat } from "./format.js";
import { type RoundMode, roundShift, splitFloat32 } from "./round.js";

/** One float32 bit pattern → one code; the reference path every fast path must agree with. */
export type ScalarEncoder = (bits: number, saturate: boolean, mode: RoundMode, rng: Rng | null) => number;

/**
 * The exact float32 → ExMy conversion of ml_dtypes (`ConvertImpl`, kTruncate = false) generalised to
 * every rounding mode: specials first, then the significand rounded at the target's precision (more
 * bits dropped in the subnormal range), a carry moving into the next binade, overflow last.
 */
export function createScalarEncoder(f: ResolvedFormat): ScalarEncoder {
  const M = f.mantissaBits;
  const { bias, emin, maxMag, signBit, nanPos, nanNeg, ovfPos, ovfNeg, zeroNeg, signed, zero } = f;
  const parts = { sig: 0, exp: 0 };
  return (x, saturate, mode, rng) => {
    const neg = x >>> 31 === 1;
    const a = x & 0x7fffffff;
    if (a >= 0x7f800000) {
      if (a > 0x7f800000) return neg ? nanNeg : nanPos;
      if (neg && !signed) return nanPos;
      if (saturate) return neg ? maxMag | signBit : maxMag;
      return neg ? ovfNeg : ovfPos;
    }
    if (!signed && (neg || a === 0)) return nanPos; // no sign and no zero: ml_dtypes gives NaN
    if (a === 0) return neg ? zeroNeg : 0;
    splitFloat32(a, parts);
    const e = parts.exp;
    let mag: number;
    if (e >= emin) {
      mag = ((e + bias - 1) << M) + roundShift(parts.sig, 23 - M, mode, rng);
    } else if (zero || mode === "nearest-even") {
      // Subnormal range. A zeroless format (E8M0) still rounds here as if code 0 were zero under
      // nearest-even: that is ml_dtypes' rule (so 1.2·2^-127 → 2^-126), which the vectors pin.
      mag = roundShift(parts.sig, 23 - M + (emin - e), mode, rng);
    } else if (e === emin - 1) {
      // Zeroless, other modes: field 0 is the binade 2^-bias, rounded like any normal binade.
      mag = roundShift(parts.sig, 23 - M, mode, rng) - (1 << M);
    } else {
      mag = 0; // below the smallest code of a zeroless format: it is the nearest, and the only floor
    }
    if (mag > maxMag) {
      if (saturate) return neg ? maxMag | signBit : maxMag;
      return neg ? ovfNeg : ovfPos;
    }
    if (mag === 0) return neg ? zeroNeg : 0;
    return neg ? mag | signBit : mag;
  };
}

/** The float32 bit pattern of every code, NaN codes as the canonical quiet NaN with their sign. */
export function buildDecodeTable(f: ResolvedFormat): Uint32Array {
  const n = 1 << f.bits;
  const table = new Uint32Array(n);
  const f32 = new Float32Array(1);
  const u32 = new Uint32Array(f32.buffer);
  for (let c = 0; c < n; c++) {
    f32[0] = codeValue(f, c);
    // Canonical quiet NaN with the code's sign (fnuz's single NaN is negative, as ml_dtypes decodes it).
    table[c] = Number.isNaN(f32[0]!)
      ? (c & f.signBit) !== 0 || f.special === "fnuz"
        ? 0xffc00000
        : 0x7fc00000
      : u32[0]!;
  }
  return table;
}

/** The exact value of one code (NaN for NaN codes, ±Infinity for Inf codes). */
export function codeValue(f: ResolvedFormat, c: number): number {
  if (isNaNCode(f, c)) return Number.NaN;
  const M = f.mantissaBits;
  const eMask = (1 << f.exponentBits) - 1;
  const neg = (c & f.signBit) !== 0;
  const e = (c >>> M) & eMask;
  const m = c & ((1 << M) - 1);
  let v: number;
  if (f.special === "ieee" && e === eMask) v = Number.POSITIVE_INFINITY;
  else if (e === 0) v = f.zero ? m * 2 ** (1 - f.bias - M) : 2 ** -f.bias * (1 + m / 2 ** M);
  else v = (1 + m / 2 ** M) * 2 ** (e - f.bias);
  return neg ? -v : v;
}

export function isNaNCode(f: ResolvedFormat, code: number): boolean {
  const M = f.mantissaBits;
  const eMask = (1 << f.exponentBits) - 1;
  const e = (code >>> M) & eMask;
  const m = code & ((1 << M) - 1);
  switch (f.special) {
    case "ieee":
      return e === eMask && m !== 0;
    case "fn":
      return (code & ~f.signBit) === (1 << (f.exponentBits + M)) - 1;
    case "fnuz":
      return code === f.signBit;
    case "finite":
      return false;
  }
}
