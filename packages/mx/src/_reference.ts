/**
 * Arithmetic of the reference implementations that the codecs reproduce bit for bit, beyond plain
 * round-to-nearest: microxcaling's Python element rounding and shared exponent (a float32 `log2`), and
 * the codes that torchao's integer FP4/FP6 packer produces for NaN inputs. Every operation is rounded
 * to float32 where the reference computes in float32.
 */

const fr = Math.fround;

/**
 * microxcaling `_round_mantissa` in float32: `sign(a) · floor(|a| + 0.5)` ("nearest", ties away), minus
 * one where `(|a| − 0.5) mod 2 == 0` ("even"). `sign(±0)` is 0, so −0 comes out as +0.
 */
export function mxcRound(a: number, even: boolean): number {
  const abs = Math.abs(a);
  let r = Math.floor(fr(abs + 0.5));
  if (even && fr(abs - 0.5) % 2 === 0) r -= 1;
  return a > 0 ? r : a < 0 ? -r : 0;
}

/**
 * microxcaling `_quantize_elemwise_core` for a float element format (saturating, subnormals kept):
 * the element's own exponent is `floor(log2f(|a|))` clipped to `minExp`, the mantissa is rounded at
 * `mbits − 2` fraction bits (mbits counts sign and implicit one, as microxcaling does), and the result
 * is clamped to ±maxNorm. Returns the element value (a float32).
 */
export function mxcFloatElement(
  a: number,
  mbits: number,
  minExp: number,
  maxNorm: number,
  even: boolean,
): number {
  let pe = Math.floor(fr(Math.log2(a === 0 ? 1 : Math.abs(a))));
  if (pe < minExp) pe = minExp;
  const up = 2 ** (mbits - 2);
  const p = 2 ** pe;
  let out = fr(fr(a / p) * up);
  out = mxcRound(out, even);
  out = fr(fr(out / up) * p);
  return out > maxNorm ? maxNorm : out < -maxNorm ? -maxNorm : out;
}

/** 1.5 · 2^52: adding and subtracting it rounds a double below 2^51 to an integer, ties to even. */
const RNE_MAGIC = 6755399441055744;
/** The largest float32 below 0.5: microxcaling's float32 `floor(x + 0.5)` rounds it up to 1. */
const BELOW_HALF = 0.4999999701976776;

/**
 * microxcaling INT8 element: `mxcRound(a · 64)` clamped to ±127, where `v` = a · 64 (exact). With ties
 * to even that is plain round-half-even except for ±BELOW_HALF, which its float32 `|x| + 0.5` turns
 * into ±1; the branch-free form below is checked against `mxcRound` in the tests.
 */
export function mxcInt8(v: number, even: boolean): number {
  let r: number;
  if (even) {
    r = v + RNE_MAGIC - RNE_MAGIC;
    if (v === BELOW_HALF || v === -BELOW_HALF) r = v < 0 ? -1 : 1;
  } else {
    r = mxcRound(v, false);
  }
  return r > 127 ? 127 : r < -127 ? -127 : r;
}

/**
 * microxcaling's shared exponent as an E8M0 byte: `floor(log2f(amax))` with a float32 log (so an amax
 * just below a power of two can land one binade high), a zero amax replaced by 2^−126, minus `emax`;
 * above 127 (or a non-finite amax) the scale is NaN (0xFF), below −127 it is clamped to −127.
 */
export function mxcScaleByte(amax: number, emax: number): number {
  if (!(amax <= 3.4028234663852886e38)) return 0xff;
  const l = Math.floor(fr(Math.log2(amax === 0 ? 2 ** -126 : amax)));
  const se = l - emax;
  if (se > 127) return 0xff;
  return se < -127 ? 0 : se + 127;
}

/**
 * torchao `_f32_to_floatx_unpacked` applied to a NaN: its integer "normal" branch runs on the NaN's bit
 * pattern and keeps the low byte, so each NaN payload gives a fixed finite code. The sign bit is kept.
 */
export function floatxCodeOfNaN(bits: number, ebits: number, mbits: number): number {
  const mag = bits & 0x7fffffff;
  const shift = 23 - mbits;
  const bias = (1 << (ebits - 1)) - 1;
  const n = (mag + ((bias - 127) << 23) + ((1 << (shift - 1)) - 1) + ((mag >>> shift) & 1)) | 0;
  return ((n >> shift) & 0xff) | ((bits >>> 31) << (ebits + mbits));
}
