import {
  createCodec,
  type FloatCodec,
  roundShift,
  type ScalarEncoder,
  splitFloat32,
} from "@lowbit/minifloat";

/**
 * HiFloat8 (Ascend HiF8): tapered precision. After the sign, a prefix "dot" field (bits 6..3) says how
 * wide the sign-magnitude exponent is, and the mantissa gets what is left:
 *
 *   bits 6..3  exponent                              mantissa   |E|
 *   11xx       b4 sign, 8 + b3..b1                   1 bit      8..15
 *   10xx       b4 sign, 4 + b3..b2                   2 bits     4..7
 *   01xx       b4 sign, 2 + b3                       3 bits     2..3
 *   001x       b3 sign, 1                            3 bits     1
 *   0001       0                                     3 bits     0
 *   0000       denormal: m = bits 2..0, 2^(m − 23)   –          (m = 0: zero)
 *
 * 0x00 is the only zero, 0x80 the only NaN, 0x6F/0xEF are ±Inf, max finite 0x6E = 2^15.
 * Reference: the Ascend graph engine's HiF8FromIeeeBits ("TA" rounding: half away from zero).
 */

/** Mantissa width of the band holding unbiased exponent e (|e| ≤ 15). */
function mantissaWidth(absE: number): number {
  return absE >= 8 ? 1 : absE >= 4 ? 2 : 3;
}

/** The 7-bit magnitude code of 2^e · (1 + m / 2^w) for |e| ≤ 15, w = mantissaWidth(|e|). */
function normalCode(e: number, m: number): number {
  const s = e < 0 ? 1 : 0;
  const ae = e < 0 ? -e : e;
  if (ae >= 8) return 0x60 | (s << 4) | ((ae - 8) << 1) | m;
  if (ae >= 4) return 0x40 | (s << 4) | ((ae - 4) << 2) | m;
  if (ae >= 2) return 0x20 | (s << 4) | ((ae - 2) << 3) | m;
  if (ae === 1) return 0x10 | (s << 3) | m;
  return 0x08 | m;
}

const INF = 0x6f;
const MAX = 0x6e;
const NAN = 0x80;

const parts = { sig: 0, exp: 0 };

/** float32 bits → HiF8 code, any rounding mode. The reference path of the codec. */
export const encodeHiF8Scalar: ScalarEncoder = (x, saturate, mode, rng) => {
  const sgn = x >>> 31 === 1 ? 0x80 : 0;
  const a = x & 0x7fffffff;
  if (a > 0x7f800000) return NAN;
  if (a === 0x7f800000) return sgn | (saturate ? MAX : INF);
  if (a === 0) return 0;
  splitFloat32(a, parts);
  const sig = parts.sig;
  let e = parts.exp;
  let mag: number;
  if (e < -22) {
    // Below the smallest denormal 2^-22: round between 0 and 2^-22 (TA: all of [2^-23, 2^-22) → 2^-22).
    mag = roundShift(sig, 24 + (-23 - e), mode, rng);
  } else if (e < -15) {
    // Denormal band: 2^e (m = e + 23) or the next power of two, split at 1.5 · 2^e.
    const q = roundShift(sig, 23, mode, rng);
    const m = e + 23 + q - 1;
    mag = m === 8 ? normalCode(-15, 0) : m;
  } else {
    if (e > 15) return sgn | (saturate ? MAX : INF);
    let w = mantissaWidth(e < 0 ? -e : e);
    let q = roundShift(sig, 23 - w, mode, rng);
    if (q === 1 << (w + 1)) {
      e += 1;
      w = mantissaWidth(e < 0 ? -e : e);
      q = 1 << w;
    }
    const m = q - (1 << w);
    if (e > 15 || (e === 15 && m !== 0)) return sgn | (saturate ? MAX : INF);
    mag = normalCode(e, m);
  }
  return mag === 0 ? 0 : sgn | mag;
};

/** float32 bits of all 256 codes. */
export function hif8DecodeTable(): Uint32Array {
  const table = new Uint32Array(256);
  const f32 = new Float32Array(1);
  const u32 = new Uint32Array(f32.buffer);
  for (let c = 0; c < 256; c++) {
    const neg = c >= 0x80;
    const low = c & 0x7f;
    let v: number;
    if (c === NAN) {
      table[c] = 0x7fc00000;
      continue;
    }
    if (low === INF) {
      v = Number.POSITIVE_INFINITY;
    } else {
      const d = low >>> 3;
      let e: number;
      let m: number;
      let w: number;
      if (d >= 12) {
        e = 8 + ((low >>> 1) & 7);
        if ((low >>> 4) & 1) e = -e;
        m = low & 1;
        w = 1;
      } else if (d >= 8) {
        e = 4 + ((low >>> 2) & 3);
        if ((low >>> 4) & 1) e = -e;
        m = low & 3;
        w = 2;
      } else if (d >= 4) {
        e = 2 + ((low >>> 3) & 1);
        if ((low >>> 4) & 1) e = -e;
        m = low & 7;
        w = 3;
      } else if (d >= 2) {
        e = (low >>> 3) & 1 ? -1 : 1;
        m = low & 7;
        w = 3;
      } else if (d === 1) {
        e = 0;
        m = low & 7;
        w = 3;
      } else {
        const dm = low & 7;
        e = dm - 23;
        m = 0;
        w = 0;
        if (dm === 0) e = Number.NaN; // zero
      }
      v = Number.isNaN(e) ? 0 : 2 ** e * (1 + m / 2 ** w);
    }
    f32[0] = neg ? -v : v;
    table[c] = u32[0]!;
  }
  return table;
}

/**
 * The HiFloat8 codec. Default rounding is the reference's half-away-from-zero ("TA");
 * `rounding: "nearest-even"` and `"stochastic"` are available as options.
 */
export const hifloat8: FloatCodec<Uint8Array> = Object.freeze(
  createCodec<Uint8Array>({
    name: "hifloat8",
    bits: 8,
    signed: true,
    hasInf: true,
    hasNaN: true,
    hasNegativeZero: false,
    minNormal: 2 ** -15,
    defaultRounding: "nearest-away",
    encodeScalar: encodeHiF8Scalar,
    decodeTable: hif8DecodeTable,
  }),
);
