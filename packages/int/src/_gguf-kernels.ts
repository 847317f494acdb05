import { encodeFloat16Into, float16Table } from "./_half.js";

/**
 * Block kernels reproducing llama.cpp's gguf-py (`gguf-py/gguf/quants.py`) bit for bit. gguf-py works
 * in numpy float32, so every operation is followed by `Math.fround`; the numpy casts it relies on are
 * reproduced too:
 * - `float32 → uint8/int8` goes through a 32-bit integer (x86 `cvttss2si`): truncation toward zero,
 *   then the low byte; NaN and ±Inf give 0. The operands here are bounded, so `(t | 0) & 0xff`
 *   (ToInt32, which also maps NaN/Inf to 0) is that cast.
 * - reductions (`max`, `min`, `argmax`, `argmin`) propagate NaN: `argmax`/`argmin` return the first NaN.
 * Inputs are taken as float32 bit patterns where a NaN's sign or payload matters.
 */

export const QK = 32;

/** Blocks per chunk: d values are gathered and converted to float16 in one call per chunk. */
const CHUNK = 1024;
const dF32 = new Float32Array(CHUNK);
const dU32 = new Uint32Array(dF32.buffer);
const dF16 = new Uint16Array(CHUNK);
const mF32 = new Float32Array(CHUNK);
const mU32 = new Uint32Array(mF32.buffer);
const mF16 = new Uint16Array(CHUNK);

const QNAN_BITS = 0x7fc00000;
const f32 = Math.fround;

/** Writes the float16 bits of `count` gathered values at byte `offset` of every block. */
function writeHalves(
  values: Float32Array,
  halves: Uint16Array,
  count: number,
  out: Uint8Array,
  firstBlock: number,
  blockBytes: number,
  offset: number,
): void {
  encodeFloat16Into(values.subarray(0, count), halves.subarray(0, count));
  for (let k = 0; k < count; k++) {
    const h = halves[k]!;
    const p = (firstBlock + k) * blockBytes + offset;
    out[p] = h & 0xff;
    out[p + 1] = h >>> 8;
  }
}

// ---------------------------------------------------------------------------------------------
// Q4_0: 18 bytes = fp16 d + 16 bytes of split-halves nibbles.

/**
 * `max` = the signed element of largest |x| (the first one; the first NaN if any), d = max / −8,
 * id = d ? 1/d : 0, q = min(15, uint8(trunc(x·id + 8.5))). `pre15111` computes x·id + 8.5 in float64
 * (the FMA emulation of gguf-py before llama.cpp PR #15111) and rounds that once to float32.
 */
export function encodeQ4_0(x: Float32Array, xb: Uint32Array, out: Uint8Array, nb: number, pre15111: boolean) {
  for (let c0 = 0; c0 < nb; c0 += CHUNK) {
    const cn = Math.min(CHUNK, nb - c0);
    for (let k = 0; k < cn; k++) {
      const b = c0 + k;
      const o = b * QK;
      let imax = o;
      let amax = -1;
      let nan = false;
      for (let j = o; j < o + QK; j++) {
        const v = x[j]!;
        if (Number.isNaN(v)) {
          imax = j;
          nan = true;
          break;
        }
        const a = Math.abs(v);
        if (a > amax) {
          amax = a;
          imax = j;
        }
      }
      let id: number;
      if (nan) {
        // NaN / −8 is that NaN, quieted, sign kept (x86 divss); the float16 cast keeps the sign.
        dU32[k] = xb[imax]! | 0x00400000;
        id = Number.NaN;
      } else {
        const d = f32(x[imax]! / -8);
        dF32[k] = d;
        id = d === 0 ? 0 : f32(1 / d);
      }
      const p = b * 18 + 2;
      if (pre15111) {
        for (let j = 0; j < 16; j++) {
          const lo = (f32(x[o + j]! * id + 8.5) | 0) & 0xff;
          const hi = (f32(x[o + j + 16]! * id + 8.5) | 0) & 0xff;
          out[p + j] = (lo > 15 ? 15 : lo) | ((hi > 15 ? 15 : hi) << 4);
        }
      } else {
        for (let j = 0; j < 16; j++) {
          const lo = (f32(f32(x[o + j]! * id) + 8.5) | 0) & 0xff;
          const hi = (f32(f32(x[o + j + 16]! * id) + 8.5) | 0) & 0xff;
          out[p + j] = (lo > 15 ? 15 : lo) | ((hi > 15 ? 15 : hi) << 4);
        }
      }
    }
    writeHalves(dF32, dF16, cn, out, c0, 18, 0);
  }
}

/** value = (q − 8) · d, d the stored float16. */
export function decodeQ4_0(blocks: Uint8Array, out: Float32Array, nb: number): void {
  const h = float16Table();
  for (let b = 0; b < nb; b++) {
    const p = b * 18;
    const d = h[blocks[p]! | (blocks[p + 1]! << 8)]!;
    const o = b * QK;
    for (let j = 0; j < 16; j++) {
      const v = blocks[p + 2 + j]!;
      out[o + j] = d * ((v & 15) - 8);
      out[o + j + 16] = d * ((v >>> 4) - 8);
    }
  }
}

// ---------------------------------------------------------------------------------------------
// Q4_1: 20 bytes = fp16 d + fp16 m + 16 bytes of split-halves nibbles.

/** d = (max − min) / 15, m = min, id = d ? 1/d : 0, q = min(15, uint8(trunc((x − min)·id + 0.5))). */
export function encodeQ4_1(x: Float32Array, out: Uint8Array, nb: number): void {
  for (let c0 = 0; c0 < nb; c0 += CHUNK) {
    const cn = Math.min(CHUNK, nb - c0);
    for (let k = 0; k < cn; k++) {
      const b = c0 + k;
      const o = b * QK;
      let mx = Number.NEGATIVE_INFINITY;
      let mn = Number.POSITIVE_INFINITY;
      let nan = false;
      for (let j = o; j < o + QK; j++) {
        const v = x[j]!;
        if (v >= mx) mx = v;
        if (v <= mn) mn = v;
        if (Number.isNaN(v)) nan = true;
      }
      let id: number;
      if (nan) {
        // numpy's max/min of a block holding a NaN come out as the positive quiet NaN.
        dU32[k] = QNAN_BITS;
        mU32[k] = QNAN_BITS;
        mn = Number.NaN;
        id = Number.NaN;
      } else {
        const d = f32(f32(mx - mn) / 15);
        dF32[k] = d;
        mF32[k] = mn;
        id = d === 0 ? 0 : f32(1 / d);
      }
      const p = b * 20 + 4;
      for (let j = 0; j < 16; j++) {
        const lo = (f32(f32(f32(x[o + j]! - mn) * id) + 0.5) | 0) & 0xff;
        const hi = (f32(f32(f32(x[o + j + 16]! - mn) * id) + 0.5) | 0) & 0xff;
        out[p + j] = (lo > 15 ? 15 : lo) | ((hi > 15 ? 15 : hi) << 4);
      }
    }
    writeHalves(dF32, dF16, cn, out, c0, 20, 0);
    writeHalves(mF32, mF16, cn, out, c0, 20, 2);
  }
}

/** value = d·q + m (two float32 roundings; d·q is exact). */
export function decodeQ4_1(blocks: Uint8Array, out: Float32Array, nb: number): void {
  const h = float16Table();
  for (let b = 0; b < nb; b++) {
    const p = b * 20;
    const d = h[blocks[p]! | (blocks[p + 1]! << 8)]!;
    const m = h[blocks[p + 2]! | (blocks[p + 3]! << 8)]!;
    const o = b * QK;
    for (let j = 0; j < 16; j++) {
      const v = blocks[p + 4 + j]!;
      out[o + j] = d * (v & 15) + m;
      out[o + j + 16] = d * (v >>> 4) + m;
    }
  }
}

// ---------------------------------------------------------------------------------------------
// Q8_0: 34 bytes = fp16 d + 32 int8.

/** d = amax / 127, id = d ? 1/d : 0, q = int8(roundf(x·id)) with ties away from zero. */
const HALF_AWAY = Float64Array.of(0.5, -0.5);

export function encodeQ8_0(x: Float32Array, xb: Uint32Array, out: Uint8Array, nb: number): void {
  for (let c0 = 0; c0 < nb; c0 += CHUNK) {
    const cn = Math.min(CHUNK, nb - c0);
    for (let k = 0; k < cn; k++) {
      const b = c0 + k;
      const o = b * QK;
      let amax = 0;
      let nan = false;
      for (let j = o; j < o + QK; j++) {
        const a = Math.abs(x[j]!);
        if (a > amax) amax = a;
        else if (Number.isNaN(a)) nan = true;
      }
      let id: number;
      if (nan) {
        dU32[k] = QNAN_BITS;
        id = Number.NaN;
      } else {
        const d = f32(amax / 127);
        dF32[k] = d;
        id = d === 0 ? 0 : f32(1 / d);
      }
      const p = b * 34 + 2;
      for (let j = 0; j < QK; j++) {
        // Round half away from zero: id ≥ 0, so t has x's sign and t ± 0.5 truncated is roundf(t);
        // the ±0.5 comes from the sign bit (no branch: signs are random). NaN and ±Inf cast to 0.
        out[p + j] = (f32(x[o + j]! * id) + HALF_AWAY[xb[o + j]! >>> 31]!) | 0;
      }
    }
    writeHalves(dF32, dF16, cn, out, c0, 34, 0);
  }
}

/** value = q · d. */
export function decodeQ8_0(blocks: Uint8Array, out: Float32Array, nb: number): void {
  const h = float16Table();
  const q = new Int8Array(blocks.buffer, blocks.byteOffset, blocks.length);
  for (let b = 0; b < nb; b++) {
    const p = b * 34;
    const d = h[blocks[p]! | (blocks[p + 1]! << 8)]!;
    const o = b * QK - p - 2;
    for (let j = p + 2; j < p + 34; j++) out[o + j] = q[j]! * d;
  }
}

// ---------------------------------------------------------------------------------------------
// MXFP4 (GGUF): 17 bytes = E8M0 e + 16 bytes of split-halves nibbles.

/** The E2M1 values doubled, by code: 0..7 positive, 8..15 negative (code 8 is a second zero). */
export const MXFP4_KVALUES: Readonly<Int8Array> = Int8Array.of(
  0,
  1,
  2,
  3,
  4,
  6,
  8,
  12,
  0,
  -1,
  -2,
  -3,
  -4,
  -6,
  -8,
  -12,
);

/** float32 `floor(log2(amax)) − 2 + 127` cast to uint8 as gguf-py does (no clamp: tiny amax wraps). */
export function mxfp4Exponent(amax: number): number {
  if (!(amax > 0)) return 0; // zero and NaN
  const l = f32(Math.log2(amax)); // float32 log2: FLT_MAX gives 128, not 127.99…
  return ((Math.floor(l) + 125) | 0) & 0xff; // +Inf → 0
}

/** The block scale 2^(e − 128) (`ggml_e8m0_to_fp32_half`). */
export function mxfp4Half(e: number): number {
  return 2 ** (e - 128);
}

/**
 * The code gguf-py picks for x: argmin over the 16 codes of |d·k − x| in float32, the first minimum
 * (ties → the lower code), the first NaN if an error is NaN. Reference path for any block.
 */
export function mxfp4CodeExact(x: number, d: number): number {
  let best = 0;
  let bi = 0;
  for (let i = 0; i < 16; i++) {
    const err = Math.abs(f32(f32(d * MXFP4_KVALUES[i]!) - x));
    if (Number.isNaN(err)) return i;
    if (i === 0 || err < best) {
      best = err;
      bi = i;
    }
  }
  return bi;
}

/**
 * Fast path, for blocks whose amax is finite and in [2^−120, 2^120) (so d is normal, every level finite
 * and |x| < 16·d): the nearest of the levels {0, 1, 2, 3, 4, 6, 8, 12}·d by magnitude, an exact tie to
 * the smaller magnitude (the lower code), and a negative value keeps code 0 for zero. gguf-py's float32
 * errors are exact near every midpoint (Sterbenz), so its argmin picks the same code. With u = 2|x|/d
 * (exact: a power-of-two scaling) the midpoints are the integers 1, 3, 5, 7, 10, 14, 20, and the
 * code is a table lookup on ceil(u) (an exact tie u = T stays below T).
 */
const FAST_MIN = 2 ** -120;
const FAST_MAX = 2 ** 120;
const MIDPOINTS_2D = [1, 3, 5, 7, 10, 14, 20];
/** Index ceil(u) + 33·sign → code; u < 32. */
const FAST_CODES = (() => {
  const t = new Uint8Array(66);
  for (let c = 0; c <= 32; c++) {
    const i = MIDPOINTS_2D.filter((m) => m < c).length;
    t[c] = i;
    t[33 + c] = i === 0 ? 0 : i | 8;
  }
  return t;
})();

export function encodeMxfp4(x: Float32Array, xb: Uint32Array, out: Uint8Array, nb: number): void {
  for (let b = 0; b < nb; b++) {
    const o = b * QK;
    let amax = 0;
    let nan = false;
    for (let j = o; j < o + QK; j++) {
      const a = Math.abs(x[j]!);
      if (a > amax) amax = a;
      else if (Number.isNaN(a)) nan = true;
    }
    const e = nan ? 0 : mxfp4Exponent(amax);
    const d = mxfp4Half(e);
    const p = b * 17;
    out[p] = e;
    if (!nan && amax >= FAST_MIN && amax < FAST_MAX) {
      const inv = 2 / d;
      for (let j = 0; j < 16; j++) {
        const lo = FAST_CODES[Math.ceil(Math.abs(x[o + j]!) * inv) + 33 * (xb[o + j]! >>> 31)]!;
        const hi = FAST_CODES[Math.ceil(Math.abs(x[o + j + 16]!) * inv) + 33 * (xb[o + j + 16]! >>> 31)]!;
        out[p + 1 + j] = lo | (hi << 4);
      }
    } else {
      for (let j = 0; j < 16; j++) {
        out[p + 1 + j] = mxfp4CodeExact(x[o + j]!, d) | (mxfp4CodeExact(x[o + j + 16]!, d) << 4);
      }
    }
  }
}

let mxfp4Values: Uint32Array | null = null;

/** float32 bits of d · k for every (e, code): index e·16 + code (16 KiB, built once). */
function mxfp4Table(): Uint32Array {
  if (mxfp4Values === null) {
    const v = new Float32Array(256 * 16);
    for (let e = 0; e < 256; e++) {
      for (let c = 0; c < 16; c++) v[e * 16 + c] = mxfp4Half(e) * MXFP4_KVALUES[c]!; // overflow → ±Inf
    }
    mxfp4Values = new Uint32Array(v.buffer);
  }
  return mxfp4Values;
}

/** value = d · k[code], d = 2^(e − 128): one float32 rounding (±Inf on overflow, as gguf-py). */
export function decodeMxfp4(blocks: Uint8Array, out: Float32Array, nb: number): void {
  const t = mxfp4Table();
  const o32 = new Uint32Array(out.buffer, out.byteOffset, nb * QK);
  for (let b = 0; b < nb; b++) {
    const p = b * 17;
    const e16 = blocks[p]! << 4;
    const o = b * QK;
    for (let j = 0; j < 16; j++) {
      const v = blocks[p + 1 + j]!;
      o32[o + j] = t[e16 | (v & 15)]!;
      o32[o + j + 16] = t[e16 | (v >>> 4)]!;
    }
  }
}
