/**
 * A small seeded PRNG: xoshiro128** (Blackman & Vigna, 2018) with its 128-bit state filled from the
 * seed by SplitMix32. 32-bit outputs, period 2^128 − 1, passes BigCrush; all arithmetic is on 32-bit
 * integers (Math.imul), so the same seed gives the same stream in every JavaScript engine.
 *
 * Stream definition (so other languages can reproduce it):
 *   splitmix32(z): z = z + 0x9E3779B9; t = z; t = (t ^ t>>>16) * 0x21F0AAAD; t = (t ^ t>>>15) * 0x735A2D97;
 *                  return t ^ t>>>15                      (all mod 2^32)
 *   state s0..s3 = four successive splitmix32 outputs from z = seed
 *   next(): r = rotl(s1 * 5, 7) * 9; t = s1 << 9; s2 ^= s0; s3 ^= s1; s1 ^= s2; s0 ^= s3; s2 ^= t;
 *           s3 = rotl(s3, 11); return r
 */
export interface Rng {
  /** The next 32-bit unsigned integer. */
  nextUint32(): number;
  /** A float in [0, 1) with 32 random bits (a multiple of 2^-32). */
  nextFloat(): number;
}

/** Creates a xoshiro128** generator from a 32-bit seed (any integer; taken mod 2^32). */
export function createRng(seed: number): Rng {
  if (typeof seed !== "number" || !Number.isInteger(seed)) {
    throw new TypeError(`seed must be an integer, got ${String(seed)}`);
  }
  let z = seed >>> 0;
  const mix = (): number => {
    z = (z + 0x9e3779b9) >>> 0;
    let t = z;
    t = Math.imul(t ^ (t >>> 16), 0x21f0aaad);
    t = Math.imul(t ^ (t >>> 15), 0x735a2d97);
    return (t ^ (t >>> 15)) >>> 0;
  };
  let s0 = mix();
  let s1 = mix();
  let s2 = mix();
  let s3 = mix();
  if ((s0 | s1 | s2 | s3) === 0) s0 = 1; // the all-zero state is the one fixed point
  const nextUint32 = (): number => {
    const m = Math.imul(s1, 5);
    const r = Math.imul((m << 7) | (m >>> 25), 9) >>> 0;
    const t = s1 << 9;
    s2 ^= s0;
    s3 ^= s1;
    s1 ^= s2;
    s0 ^= s3;
    s2 ^= t;
    s3 = (s3 << 11) | (s3 >>> 21);
    return r;
  };
  return {
    nextUint32,
    nextFloat: () => nextUint32() * 2 ** -32,
  };
}

/** A random 32-bit seed for callers that asked for no particular one. */
export function randomSeed(): number {
  return Math.floor(Math.random() * 2 ** 32) >>> 0;
}
