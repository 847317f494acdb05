import { createRng, throwIfAborted, unpackInto, type WorkContext } from "@lowbit/bits";
import { roundHalfInto } from "./_half.js";

/**
 * INT-b kernels (SPEC §3). Every quantity is a float32 (`Math.fround` after each operation); element
 * codes live in an integer "level" domain:
 * - symmetric: level q = clamp(rne(x / scale), lo, hi), zero 0;
 * - asymmetric: level u = clamp(rne(x / scale) + zero, 0, 2^b − 1).
 * The stored code is (level + codeBias) & mask: two's complement for signed codes, offset for unsigned
 * symmetric codes (level + 2^(b−1)), offset the other way for signed asymmetric codes. Decoding is
 * value = (level − zero) · scale in float32 whatever the storage.
 */

const f32 = Math.fround;
/** 1.5 · 2^52: adding and subtracting it rounds a double of magnitude < 2^51 to an integer, ties to even. */
const RNE = 6755399441055744;

export type ScaleDtype = "F32" | "F16" | "BF16";

/** Everything the kernels need, derived from the resolved options. */
export interface IntParams {
  readonly bits: number;
  readonly signed: boolean;
  readonly symmetric: boolean;
  /** Level range before the zero is added: symmetric [lo, hi]; asymmetric [0, 2^b − 1]. */
  readonly lo: number;
  readonly hi: number;
  /** Symmetric: scale = amax / divisor. */
  readonly divisor: number;
  /** Stored code = (level + codeBias) & mask. */
  readonly codeBias: number;
  readonly mask: number;
  readonly scaleDtype: ScaleDtype;
}

export function intParams(
  bits: number,
  signed: boolean,
  symmetric: boolean,
  fullRange: boolean,
  scaleDtype: ScaleDtype,
): IntParams {
  const half = 2 ** (bits - 1);
  const levels = 2 ** bits - 1;
  if (symmetric) {
    return {
      bits,
      signed,
      symmetric,
      lo: fullRange ? -half : -(half - 1),
      hi: half - 1,
      divisor: fullRange ? levels / 2 : half - 1,
      codeBias: signed ? 0 : half,
      mask: levels,
      scaleDtype,
    };
  }
  return {
    bits,
    signed,
    symmetric,
    lo: 0,
    hi: levels,
    divisor: levels,
    codeBias: signed ? -half : 0,
    mask: levels,
    scaleDtype,
  };
}

/**
 * Which elements share a scale: segment k is elements [k·segLen, (k + 1)·segLen) and uses scale
 * k mod count. Per tensor: one segment; per channel along an axis: segments of the inner size; groups
 * along the last axis: one segment per group.
 */
export interface IntLayout {
  readonly count: number;
  readonly segLen: number;
  /** Shape of the scales (and zeros) part. */
  readonly grid: readonly number[];
}

export function intLayout(
  shape: readonly number[],
  n: number,
  group: number,
  axis: number | null,
): IntLayout {
  const rank = shape.length;
  if (group > 0) {
    if (rank === 0) throw new RangeError(`group ${group} needs a tensor of rank ≥ 1, got shape []`);
    const last = shape[rank - 1]!;
    if (last % group !== 0) {
      throw new RangeError(
        `group ${group} does not divide the last dimension ${last} of shape [${shape.join(", ")}]`,
      );
    }
    return { count: n / group, segLen: group, grid: [...shape.slice(0, -1), last / group] };
  }
  if (axis === null || rank === 0) return { count: 1, segLen: n, grid: [1] };
  const a = axis < 0 ? axis + rank : axis;
  if (a < 0 || a >= rank) {
    throw new RangeError(`axis ${axis} is out of range for shape [${shape.join(", ")}] (rank ${rank})`);
  }
  let inner = 1;
  for (let i = a + 1; i < rank; i++) inner *= shape[i]!;
  return { count: shape[a]!, segLen: inner, grid: [shape[a]!] };
}

/** The scale of each group, and its zero (level domain, 0..2^b − 1) when asymmetric. */
export interface IntScales {
  readonly scales: Float32Array;
  readonly zeros: Int32Array;
}

/**
 * Rounds raw float32 scales to the storage dtype in place (float16/bfloat16 through the bulk codec);
 * RangeError when a float16 scale overflows. `first` numbers the groups in the message.
 */
function roundScales(scales: Float32Array, p: IntParams, first: number): void {
  if (p.scaleDtype === "F32") return;
  const bad = roundHalfInto(scales, p.scaleDtype, scales);
  if (bad >= 0) {
    throw new RangeError(
      `scale of scale group ${first + bad} does not fit scaleDtype "F16" (max 65504); use "F32" or "BF16"`,
    );
  }
}

/** Symmetric raw scale for a (possibly clipped) amax. */
function symScale(amax: number, p: IntParams): number {
  return f32(amax / p.divisor);
}

/** Asymmetric raw scale for a range that contains 0; a range wider than float32 is split to stay finite. */
function asymScale(mn: number, mx: number, p: IntParams): number {
  const s = f32(f32(mx - mn) / p.divisor);
  return s === Number.POSITIVE_INFINITY ? f32(f32(mx / p.divisor) - f32(mn / p.divisor)) : s;
}

/** zero = clamp(rne(−min / scale), 0, 2^b − 1); 0 when the scale is 0. */
function asymZero(mn: number, s: number, p: IntParams): number {
  if (s === 0) return 0;
  const t = f32(-mn / s);
  const z = t + RNE - RNE;
  return z < 0 ? 0 : z > p.hi ? p.hi : z;
}

/** The element ranges of scale group `c`: its segments are k ≡ c (mod count). */
function groupValues(src: Float32Array, layout: IntLayout, n: number, c: number): Float32Array {
  const { count, segLen } = layout;
  const nseg = segLen === 0 ? 0 : n / segLen;
  if (nseg === count) return src.subarray(c * segLen, (c + 1) * segLen);
  const out = new Float32Array((nseg / count) * segLen);
  let o = 0;
  for (let k = c; k < nseg; k += count) {
    out.set(src.subarray(k * segLen, (k + 1) * segLen), o);
    o += segLen;
  }
  return out;
}

/** The clip factors tried by `clip: true`: 1.00, 0.99, …, 0.20 (float32). */
export const CLIP_FACTORS: Readonly<Float32Array> = Float32Array.from(
  { length: 81 },
  (_, k) => (100 - k) / 100,
);

/**
 * Sum of squared errors of the finite values of `x` for one scale and zero (nearest rounding). Stops
 * early, returning a value ≥ `limit`, once the sum reaches `limit`.
 */
function groupSse(x: Float32Array, s: number, z: number, p: IntParams, limit: number): number {
  let sse = 0;
  const lo = p.lo - z;
  const hi = p.hi - z;
  for (let i = 0; i < x.length; i++) {
    const v = x[i]!;
    if (v - v !== 0) continue; // NaN, ±Inf
    let q = 0;
    if (s !== 0) q = Math.min(Math.max(Math.fround(v / s), lo), hi) + RNE - RNE;
    const e = f32(q * s) - v;
    sse += e * e;
    if ((i & 63) === 63 && sse >= limit) return sse;
  }
  return sse;
}

/**
 * Scale (and zero) of every group. Statistics ignore NaN and ±Inf; asymmetric ranges always contain 0
 * (min ≤ 0 ≤ max) so that 0 is exact. With `clip`, each group keeps the factor of CLIP_FACTORS whose
 * shrunk range gives the least squared error (ties → the larger factor; factor 1 is the unclipped
 * scale, so clipping never increases the error).
 */
export function computeScales(
  src: Float32Array,
  n: number,
  layout: IntLayout,
  p: IntParams,
  clip: boolean,
  ctx: WorkContext | undefined,
): IntScales {
  const { count, segLen } = layout;
  const nseg = segLen === 0 ? 0 : n / segLen;
  const lowS = new Float64Array(count); // asymmetric min (≤ 0)
  const highS = new Float64Array(count); // symmetric amax, asymmetric max (≥ 0)
  for (let k = 0; k < nseg; k++) {
    const c = k % count;
    const end = (k + 1) * segLen;
    let mn = lowS[c]!;
    let mx = highS[c]!;
    if (p.symmetric) {
      for (let i = k * segLen; i < end; i++) {
        const a = Math.abs(src[i]!);
        if (a > mx && a !== Number.POSITIVE_INFINITY) mx = a;
      }
    } else {
      for (let i = k * segLen; i < end; i++) {
        const v = src[i]!;
        if (v > mx) {
          if (v !== Number.POSITIVE_INFINITY) mx = v;
        } else if (v < mn && v !== Number.NEGATIVE_INFINITY) mn = v;
      }
    }
    lowS[c] = mn;
    highS[c] = mx;
  }
  const scales = new Float32Array(count);
  const zeros = new Int32Array(count);
  for (let c = 0; c < count; c++) {
    scales[c] = p.symmetric ? symScale(highS[c]!, p) : asymScale(lowS[c]!, highS[c]!, p);
  }
  roundScales(scales, p, 0);
  if (!p.symmetric) for (let c = 0; c < count; c++) zeros[c] = asymZero(lowS[c]!, scales[c]!, p);
  if (!clip) return { scales, zeros };
  // Candidate scales of one group, rounded to the storage dtype together. A shrunk range never
  // overflows a dtype that held the unshrunk one.
  const nf = CLIP_FACTORS.length;
  const cand = new Float32Array(nf);
  const candMin = new Float64Array(nf);
  for (let c = 0; c < count; c++) {
    if ((c & 63) === 0) {
      throwIfAborted(ctx?.signal);
      ctx?.onProgress?.(c, count);
    }
    if (scales[c] === 0) continue;
    for (let k = 0; k < nf; k++) {
      const f = CLIP_FACTORS[k]!;
      if (p.symmetric) cand[k] = symScale(f32(highS[c]! * f), p);
      else {
        candMin[k] = f32(lowS[c]! * f);
        cand[k] = asymScale(candMin[k]!, f32(highS[c]! * f), p);
      }
    }
    roundScales(cand, p, c);
    const x = groupValues(src, layout, n, c);
    let bestSse = groupSse(x, scales[c]!, zeros[c]!, p, Number.POSITIVE_INFINITY);
    for (let k = 1; k < nf; k++) {
      const s = cand[k]!;
      const z = p.symmetric ? 0 : asymZero(candMin[k]!, s, p);
      const sse = groupSse(x, s, z, p, bestSse);
      if (sse < bestSse) {
        bestSse = sse;
        scales[c] = s;
        zeros[c] = z;
      }
    }
  }
  ctx?.onProgress?.(count, count);
  return { scales, zeros };
}

const PROGRESS_STEP = 1 << 20;

/**
 * Element codes, one per byte: level = clamp(round(x / scale) + zero), code = (level + codeBias) & mask.
 * NaN → the zero level (value 0); ±Inf → the end levels; scale 0 → the zero level. Stochastic rounding
 * draws one xoshiro128** float per element in row-major order and rounds up when it is below the
 * fraction of x / scale.
 */
export function encodeLevels(
  src: Float32Array,
  n: number,
  layout: IntLayout,
  p: IntParams,
  sc: IntScales,
  seed: number | null,
  ctx: WorkContext | undefined,
): Uint8Array {
  const codes = new Uint8Array(n);
  const { count, segLen } = layout;
  const nseg = segLen === 0 ? 0 : n / segLen;
  const rng = seed === null ? null : createRng(seed);
  const { mask, codeBias } = p;
  const step = Math.max(PROGRESS_STEP, Math.ceil(n / 200));
  let nextReport = step;
  for (let k = 0; k < nseg; k++) {
    const start = k * segLen;
    if (start >= nextReport) {
      throwIfAborted(ctx?.signal);
      ctx?.onProgress?.(start, n);
      nextReport = start + step;
    }
    const c = k % count;
    const s = sc.scales[c]!;
    const z = sc.zeros[c]!;
    const end = start + segLen;
    const lo = p.lo - z;
    const hi = p.hi - z;
    const zeroCode = (z + codeBias) & mask;
    const off = z + codeBias;
    if (s === 0) {
      codes.fill(zeroCode, start, end);
      if (rng !== null) for (let i = start; i < end; i++) rng.nextUint32();
    } else if (rng === null) {
      // Branch-free clamp (min/max); `|| 0` sends NaN to level 0, the zero (x / scale of +0 is +0 too).
      for (let i = start; i < end; i++) {
        const t = Math.min(Math.max(Math.fround(src[i]! / s) || 0, lo), hi);
        codes[i] = (t + RNE - RNE + off) & mask;
      }
    } else {
      // u < frac · 2^32 is nextFloat() < frac without the scaling; NaN → level 0 (the zero); ±Inf:
      // frac is NaN, so q = ±Inf, clamped to the end levels.
      for (let i = start; i < end; i++) {
        const t = Math.fround(src[i]! / s) || 0;
        const fl = Math.floor(t);
        const q = fl + (rng.nextUint32() < (t - fl) * 4294967296 ? 1 : 0);
        codes[i] = (Math.min(Math.max(q, lo), hi) + off) & mask;
      }
    }
  }
  ctx?.onProgress?.(n, n);
  return codes;
}

/** Level of every code: two's complement for signed codes, the code itself for unsigned ones. */
function codeLevels(bits: number, signed: boolean): Float64Array {
  const t = new Float64Array(1 << bits);
  const sh = 32 - bits;
  for (let c = 0; c < t.length; c++) t[c] = signed ? (c << sh) >> sh : c;
  return t;
}

const LEVELS: Float64Array[] = [];
function levelsOf(bits: number, signed: boolean): Float64Array {
  const key = bits * 2 + (signed ? 1 : 0);
  LEVELS[key] ??= codeLevels(bits, signed);
  return LEVELS[key]!;
}

const CHUNK = 1 << 16;
const LITTLE_ENDIAN = new Uint8Array(Uint16Array.of(1).buffer)[0] === 1;

/**
 * value = (level(code) − zero) · scale, one float32 rounding (the product of a ≤ 9-bit integer and a
 * float32 is exact in a double, and the Float32Array store rounds it once). `zeros` holds the stored
 * zero in the code's own domain (0 for signed symmetric, 2^(b−1) for unsigned symmetric).
 * Segments long enough get a per-scale table of the 2^b values, copied as bit patterns; 2-, 4- and
 * 8-bit codes whose segments start on a byte are read straight from the packed bytes.
 */
export function decodeLevels(
  packed: Uint8Array,
  n: number,
  layout: IntLayout,
  bits: number,
  signed: boolean,
  scales: Float64Array,
  zeros: Float64Array,
  out: Float32Array,
): void {
  const lv = levelsOf(bits, signed);
  const { count, segLen } = layout;
  const nseg = segLen === 0 ? 0 : n / segLen;
  const size = 1 << bits;
  const lut = new Float32Array(size);
  const lut32 = new Uint32Array(lut.buffer);
  const out32 = new Uint32Array(out.buffer, out.byteOffset, n);
  const useLut = segLen >= size;
  if (useLut && (bits === 2 || bits === 4 || bits === 8) && segLen % (8 / bits) === 0) {
    // Whole 32-bit words per segment when the bytes are aligned and the platform is little endian.
    const words =
      LITTLE_ENDIAN && (packed.byteOffset & 3) === 0 && ((segLen * bits) & 31) === 0
        ? new Uint32Array(packed.buffer, packed.byteOffset, (n * bits) >>> 5)
        : null;
    let lutFor = -1;
    for (let k = 0; k < nseg; k++) {
      const c = k % count;
      if (lutFor !== c) {
        const s = scales[c]!;
        const z = zeros[c]!;
        for (let q = 0; q < size; q++) lut[q] = (lv[q]! - z) * s;
        lutFor = c;
      }
      const start = k * segLen;
      const end = start + segLen;
      if (words !== null) {
        // 32 bits of codes per load: 8 four-bit, 4 eight-bit or 16 two-bit codes.
        if (bits === 4) {
          for (let w = start >>> 3, o = start; o < end; w++, o += 8) {
            const v = words[w]!;
            out32[o] = lut32[v & 15]!;
            out32[o + 1] = lut32[(v >>> 4) & 15]!;
            out32[o + 2] = lut32[(v >>> 8) & 15]!;
            out32[o + 3] = lut32[(v >>> 12) & 15]!;
            out32[o + 4] = lut32[(v >>> 16) & 15]!;
            out32[o + 5] = lut32[(v >>> 20) & 15]!;
            out32[o + 6] = lut32[(v >>> 24) & 15]!;
            out32[o + 7] = lut32[v >>> 28]!;
          }
        } else if (bits === 8) {
          for (let w = start >>> 2, o = start; o < end; w++, o += 4) {
            const v = words[w]!;
            out32[o] = lut32[v & 255]!;
            out32[o + 1] = lut32[(v >>> 8) & 255]!;
            out32[o + 2] = lut32[(v >>> 16) & 255]!;
            out32[o + 3] = lut32[v >>> 24]!;
          }
        } else {
          for (let w = start >>> 4, o = start; o < end; w++, o += 16) {
            const v = words[w]!;
            for (let r = 0; r < 16; r++) out32[o + r] = lut32[(v >>> (2 * r)) & 3]!;
          }
        }
      } else if (bits === 4) {
        for (let j = start >>> 1, o = start; o < end; j++, o += 2) {
          const v = packed[j]!;
          out32[o] = lut32[v & 15]!;
          out32[o + 1] = lut32[v >>> 4]!;
        }
      } else if (bits === 8) {
        for (let o = start; o < end; o++) out32[o] = lut32[packed[o]!]!;
      } else {
        for (let j = start >>> 2, o = start; o < end; j++, o += 4) {
          const v = packed[j]!;
          out32[o] = lut32[v & 3]!;
          out32[o + 1] = lut32[(v >>> 2) & 3]!;
          out32[o + 2] = lut32[(v >>> 4) & 3]!;
          out32[o + 3] = lut32[v >>> 6]!;
        }
      }
    }
    return;
  }
  const scratch = new Uint8Array(Math.min(CHUNK, n));
  let lutFor = -1;
  for (let c0 = 0; c0 < n; c0 += CHUNK) {
    const cn = Math.min(CHUNK, n - c0);
    const codes = cn === scratch.length ? scratch : scratch.subarray(0, cn);
    unpackInto(packed.subarray((c0 * bits) >>> 3), bits, codes);
    let i = c0;
    const chunkEnd = c0 + cn;
    while (i < chunkEnd) {
      const k = Math.floor(i / segLen);
      const segEnd = Math.min((k + 1) * segLen, chunkEnd);
      const c = k % count;
      const s = scales[c]!;
      const z = zeros[c]!;
      if (useLut) {
        if (lutFor !== c) {
          for (let q = 0; q < size; q++) lut[q] = (lv[q]! - z) * s;
          lutFor = c;
        }
        for (; i < segEnd; i++) out32[i] = lut32[codes[i - c0]!]!;
      } else {
        for (; i < segEnd; i++) out[i] = (lv[codes[i - c0]!]! - z) * s;
      }
    }
  }
}
