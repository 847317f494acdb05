import type { Rng } from "@lowbit/bits";

/** Rounding modes of the integer significand helpers. */
export type RoundMode = "nearest-even" | "nearest-away" | "stochastic";

/**
 * Rounds the non-negative integer `sig` (< 2^24) right by `shift` bits (≥ 1):
 * - "nearest-even": to nearest, ties to the even result (IEEE default, ml_dtypes);
 * - "nearest-away": to nearest, ties away from zero (C `roundf`, HiFloat8 "TA");
 * - "stochastic": up with probability (discarded bits) / 2^shift, using `rng`.
 * The result may carry into the next power of two; callers rely on that to move to the next binade.
 */
export function roundShift(sig: number, shift: number, mode: RoundMode, rng: Rng | null): number {
  if (mode === "stochastic") {
    if (shift > 32) return rng!.nextFloat() < sig * 2 ** -shift ? 1 : 0;
    const rem = shift === 32 ? sig : sig & (((1 << shift) - 1) >>> 0);
    const q = shift === 32 ? 0 : sig >>> shift;
    // Draw `shift` uniform bits r; round up iff r < rem, i.e. with probability rem / 2^shift exactly.
    const r = rng!.nextUint32() >>> (32 - shift);
    return r < rem ? q + 1 : q;
  }
  if (shift > 25) return 0; // sig < 2^24: even the rounding bit is zero
  const q = sig >>> shift;
  const rem = sig & ((1 << shift) - 1);
  const half = 1 << (shift - 1);
  if (mode === "nearest-even") return rem > half || (rem === half && (q & 1) === 1) ? q + 1 : q;
  return rem >= half ? q + 1 : q;
}

/**
 * Splits positive finite float32 bits `a` (no sign, 0 < a < 0x7F800000) into a 24-bit significand with
 * its leading one at bit 23 and the unbiased exponent: value = sig · 2^(exp − 23). Float32 subnormals are
 * normalised. Writes into `out` to stay allocation-free.
 */
export function splitFloat32(a: number, out: { sig: number; exp: number }): void {
  if (a >= 0x800000) {
    out.sig = (a & 0x7fffff) | 0x800000;
    out.exp = (a >>> 23) - 127;
  } else {
    const lz = Math.clz32(a) - 8;
    out.sig = a << lz;
    out.exp = -126 - lz;
  }
}
