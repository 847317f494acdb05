/**
 * The block kernels, written to reproduce bitsandbytes' default (pure torch) backend operation by
 * operation in float32 (`backends/default/ops.py`: `quantize_4bit`, `dequantize_4bit`,
 * `quantize_blockwise`, `dequantize_blockwise`):
 *
 * - absmax of a block = max |x| (NaN if the block holds a NaN);
 * - a full block is scaled by `x · (1 / max(absmax, 1e-38))` and stores the unclamped absmax;
 * - the partial last block stores `max(absmax, 1e-38)` and is scaled by `x / that` (a division);
 * - code = `bucketize(x, midpoints)`: the number of float32 midpoints of the sorted table that are
 *   strictly below x (ties go to the lower code; NaN counts as above every midpoint). The clamp to
 *   [−1, 1] that torch applies first cannot change this count, so it is left out;
 * - decode: `table[code] · absmax` in float32.
 */

import type { WorkContext } from "@lowbit/bits";
import { throwIfAborted } from "@lowbit/bits";
import { DYNAMIC_MAP } from "./_tables.js";
import { torchMeanF32 } from "./_torch_mean.js";

/** `clamp(min=1e-38)` on a float32 tensor clamps to float32(1e-38) (0x006CE3EE, a subnormal). */
export const ABSMAX_FLOOR: number = Math.fround(1e-38);

/** A code table prepared for encoding: the sorted float32 midpoints and sorted position → code. */
export interface Codebook {
  /** code → value */
  readonly table: Float32Array;
  /** The 2^bits − 1 float32 midpoints between neighbours of the sorted table. */
  readonly mids: Float64Array;
  /** Sorted position → code (identity for sorted tables; bitsandbytes FP4 needs the remap). */
  readonly order: Uint8Array;
}

/** Prepares a table of 2^k entries as bitsandbytes does: stable argsort, float32 `(a + b) / 2`. */
export function makeCodebook(table: Float32Array): Codebook {
  const size = table.length;
  const order = Uint8Array.from({ length: size }, (_, i) => i).sort((a, b) => table[a]! - table[b]! || a - b);
  const mids = new Float64Array(size - 1);
  for (let i = 0; i + 1 < size; i++) {
    mids[i] = Math.fround(Math.fround(table[order[i]!]! + table[order[i + 1]!]!) / 2);
  }
  return { table, mids, order };
}

/**
 * The codes of scaled float32 values through a table indexed by the top 16 bits of their bit pattern
 * (sign, exponent, 7 mantissa bits): for these code books each such range of values holds at most one
 * midpoint, so one comparison gives the code: `thr < x ? hi : lo`. Built on first use (384 KiB per
 * code book). Scaled values are finite or NaN (|x| ≤ absmax, and an infinite absmax turns every
 * element into 0 or NaN), so the Inf/NaN patterns all map to the top code, as NaN does.
 */
interface PrefixIndex {
  readonly lo: Uint8Array;
  readonly hi: Uint8Array;
  readonly thr: Float32Array;
}

const prefixIndexes = new WeakMap<Codebook, PrefixIndex>();

/** Sorted position of a scaled value: the number of midpoints below it (NaN above all). */
function searchSorted(mids: Float64Array, x: number): number {
  let idx = 0;
  for (let step = (mids.length + 1) >>> 1; step >= 1; step >>>= 1) {
    if (!(mids[idx + step - 1]! >= x)) idx += step;
  }
  return idx;
}

function prefixIndex(book: Codebook): PrefixIndex {
  const cached = prefixIndexes.get(book);
  if (cached !== undefined) return cached;
  const { mids, order } = book;
  const lo = new Uint8Array(65536);
  const hi = new Uint8Array(65536);
  const thr = new Float32Array(65536).fill(Number.POSITIVE_INFINITY);
  const f = new Float32Array(2);
  const u = new Uint32Array(f.buffer);
  for (let p = 0; p < 65536; p++) {
    if ((p & 0x7f80) === 0x7f80) {
      lo[p] = hi[p] = order[mids.length]!; // NaN (±Inf cannot occur)
      continue;
    }
    u[0] = p << 16;
    u[1] = (p << 16) | 0xffff;
    const negative = p >= 0x8000;
    const first = searchSorted(mids, negative ? f[1]! : f[0]!);
    const last = searchSorted(mids, negative ? f[0]! : f[1]!);
    if (last > first + 1)
      throw new Error(`internal: two midpoints share the float32 prefix ${p.toString(16)}`);
    lo[p] = order[first]!;
    hi[p] = order[last]!;
    if (last > first) thr[p] = mids[first]!;
  }
  const index = { lo, hi, thr };
  prefixIndexes.set(book, index);
  return index;
}

/** Little-endian hosts can read four packed bytes at once. */
const LITTLE_ENDIAN = new Uint8Array(Uint32Array.of(1).buffer)[0] === 1;

const bitsView = (a: Float32Array): Uint32Array => new Uint32Array(a.buffer, a.byteOffset, a.length);

const absScratch = new Float32Array(1);
const absScratchBits = new Uint32Array(absScratch.buffer);

/**
 * max |x| over src[start, end) on the bit patterns: |x| orders like its bits, and a NaN's bits exceed
 * every number's, so the maximum is NaN when the block holds one (torch `max` propagates NaN).
 */
function absMax(bits: Uint32Array, start: number, end: number): number {
  let m = 0;
  for (let i = start; i < end; i++) {
    const a = bits[i]! & 0x7fffffff;
    if (a > m) m = a;
  }
  absScratchBits[0] = m;
  return absScratch[0]!;
}

/** Reports progress and honours cancellation about `marks` times over `total` blocks. */
class Ticker {
  private readonly every: number;
  constructor(
    private readonly ctx: WorkContext | undefined,
    private readonly total: number,
    marks = 100,
  ) {
    this.every = Math.max(1, Math.ceil(total / marks));
  }
  at(done: number): void {
    if (this.ctx === undefined || done % this.every !== 0) return;
    throwIfAborted(this.ctx.signal);
    if (done > 0) this.ctx.onProgress?.(done, this.total);
  }
  end(): void {
    if (this.ctx === undefined) return;
    throwIfAborted(this.ctx.signal);
    this.ctx.onProgress?.(this.total, this.total);
  }
}

/**
 * 4-bit block quantization of src[0, n) into packed bytes (element 2i in the high nibble, an odd
 * count padded with the code of 0.0) and one float32 absmax per block. `blockSize` is even.
 */
export function quantize4(
  src: Float32Array,
  blockSize: number,
  book: Codebook,
  qdata: Uint8Array,
  absmax: Float32Array,
  ctx?: WorkContext,
): void {
  const n = src.length;
  const blocks = absmax.length;
  const { lo, hi, thr } = prefixIndex(book);
  const srcBits = bitsView(src);
  // The scaled block as float32: a store into a Float32Array rounds the double product (exact) or
  // quotient once, which is the float32 operation.
  const sc = new Float32Array(blockSize);
  const scBits = new Uint32Array(sc.buffer);
  const tick = new Ticker(ctx, blocks);
  for (let b = 0; b < blocks; b++) {
    tick.at(b);
    const start = b * blockSize;
    const count = Math.min(n, start + blockSize) - start;
    const am = absMax(srcBits, start, start + count);
    const floored = am < ABSMAX_FLOOR ? ABSMAX_FLOOR : am; // NaN stays NaN
    if (count === blockSize) {
      absmax[b] = am;
      const inv = Math.fround(1 / floored);
      for (let k = 0; k < count; k++) sc[k] = src[start + k]! * inv;
    } else {
      absmax[b] = floored;
      for (let k = 0; k < count; k++) sc[k] = src[start + k]! / floored;
      if (count & 1) sc[count] = 0; // bitsandbytes pads an odd tensor with one 0.0 element
    }
    const base = start >>> 1;
    for (let k = 0; k < count; k += 2) {
      let p = scBits[k]! >>> 16;
      const first = thr[p]! < sc[k]! ? hi[p]! : lo[p]!;
      p = scBits[k + 1]! >>> 16;
      const second = thr[p]! < sc[k + 1]! ? hi[p]! : lo[p]!;
      qdata[base + (k >>> 1)] = (first << 4) | second;
    }
  }
  tick.end();
}

/** Decodes n 4-bit codes: `table[code] · absmax[block]` in float32. */
export function dequantize4(
  qdata: Uint8Array,
  blockSize: number,
  table: Float32Array,
  absmax: Float32Array,
  out: Float32Array,
): void {
  const n = out.length;
  const lut = new Float32Array(16);
  const lutBits = new Uint32Array(lut.buffer);
  const outBits = bitsView(out); // copying bit patterns is cheaper than float loads and stores
  // Full blocks hold blockSize / 2 bytes, a multiple of 4: read them a 32-bit word at a time.
  const words =
    LITTLE_ENDIAN && (qdata.byteOffset & 3) === 0
      ? new Uint32Array(qdata.buffer, qdata.byteOffset, qdata.length >>> 2)
      : null;
  const blocks = absmax.length;
  for (let b = 0; b < blocks; b++) {
    const am = absmax[b]!;
    // A float32 product is exact in a double, so storing it rounds once: the float32 product.
    for (let k = 0; k < 16; k++) lut[k] = table[k]! * am;
    const start = b * blockSize;
    const end = Math.min(n, start + blockSize);
    if (words !== null && end - start === blockSize) {
      for (let k = start; k < end; k += 8) {
        const w = words[k >>> 3]!;
        outBits[k] = lutBits[(w >>> 4) & 15]!;
        outBits[k + 1] = lutBits[w & 15]!;
        outBits[k + 2] = lutBits[(w >>> 12) & 15]!;
        outBits[k + 3] = lutBits[(w >>> 8) & 15]!;
        outBits[k + 4] = lutBits[(w >>> 20) & 15]!;
        outBits[k + 5] = lutBits[(w >>> 16) & 15]!;
        outBits[k + 6] = lutBits[w >>> 28]!;
        outBits[k + 7] = lutBits[(w >>> 24) & 15]!;
      }
      continue;
    }
    const pairsEnd = start + ((end - start) & ~1);
    for (let k = start; k < pairsEnd; k += 2) {
      const byte = qdata[k >>> 1]!;
      outBits[k] = lutBits[byte >>> 4]!;
      outBits[k + 1] = lutBits[byte & 15]!;
    }
    if (pairsEnd < end) outBits[pairsEnd] = lutBits[qdata[pairsEnd >>> 1]! >>> 4]!;
  }
}

/** 8-bit block quantization (`quantize_blockwise`): one code per element, one absmax per block. */
export function quantize8(
  src: Float32Array,
  blockSize: number,
  book: Codebook,
  codes: Uint8Array,
  absmax: Float32Array,
  ctx?: WorkContext,
): void {
  const n = src.length;
  const blocks = absmax.length;
  const { lo, hi, thr } = prefixIndex(book);
  const srcBits = bitsView(src);
  const sc = new Float32Array(blockSize);
  const scBits = new Uint32Array(sc.buffer);
  const tick = new Ticker(ctx, blocks);
  for (let b = 0; b < blocks; b++) {
    tick.at(b);
    const start = b * blockSize;
    const count = Math.min(n, start + blockSize) - start;
    const am = absMax(srcBits, start, start + count);
    const floored = am < ABSMAX_FLOOR ? ABSMAX_FLOOR : am;
    if (count === blockSize) {
      absmax[b] = am;
      const inv = Math.fround(1 / floored);
      for (let k = 0; k < count; k++) sc[k] = src[start + k]! * inv;
    } else {
      absmax[b] = floored;
      for (let k = 0; k < count; k++) sc[k] = src[start + k]! / floored;
    }
    for (let k = 0; k < count; k++) {
      const p = scBits[k]! >>> 16;
      codes[start + k] = thr[p]! < sc[k]! ? hi[p]! : lo[p]!;
    }
  }
  tick.end();
}

/** Decodes 8-bit codes: `table[code] · absmax[block]` in float32. */
export function dequantize8(
  codes: Uint8Array,
  blockSize: number,
  table: Float32Array,
  absmax: Float32Array,
  out: Float32Array,
): void {
  const n = out.length;
  const blocks = absmax.length;
  const lut = new Float32Array(256);
  const lutBits = new Uint32Array(lut.buffer);
  const outBits = bitsView(out);
  for (let b = 0; b < blocks; b++) {
    const am = absmax[b]!;
    const start = b * blockSize;
    const end = Math.min(n, start + blockSize);
    if (end - start >= 1024) {
      // big blocks: 256 products once, then bit copies
      for (let k = 0; k < 256; k++) lut[k] = table[k]! * am;
      for (let k = start; k < end; k++) outBits[k] = lutBits[codes[k]!]!;
    } else {
      for (let k = start; k < end; k++) out[k] = table[codes[k]!]! * am;
    }
  }
}

export const DYNAMIC_BOOK: Codebook = makeCodebook(DYNAMIC_MAP);

/** The double-quantized form of an absmax vector. */
export interface NestedAbsmax {
  readonly codes: Uint8Array;
  readonly nestedAbsmax: Float32Array;
  readonly offset: number;
}

/**
 * bitsandbytes `compress_statistics`: offset = `absmax.mean()` (torch's float32 cascade sum), then
 * `quantize_blockwise(absmax − offset, blocksize=nestedBlockSize)` with the dynamic map.
 */
export function nestAbsmax(absmax: Float32Array, nestedBlockSize: number): NestedAbsmax {
  const offset = torchMeanF32(absmax);
  const centred = new Float32Array(absmax.length);
  // Rounding the double difference of two float32 values to float32 equals the float32 subtraction.
  for (let i = 0; i < absmax.length; i++) centred[i] = absmax[i]! - offset;
  const codes = new Uint8Array(absmax.length);
  const nestedAbsmax = new Float32Array(Math.ceil(absmax.length / nestedBlockSize));
  quantize8(centred, nestedBlockSize, DYNAMIC_BOOK, codes, nestedAbsmax);
  return { codes, nestedAbsmax, offset };
}

/** The absmax vector `dequantize_4bit` rebuilds: `map[code] · nested[block] + offset` in float32. */
export function unnestAbsmax(
  codes: Uint8Array,
  nestedAbsmax: Float32Array,
  offset: number,
  nestedBlockSize: number,
  map: Float32Array,
  out: Float32Array,
): void {
  const fr = Math.fround;
  for (let i = 0; i < codes.length; i++) {
    out[i] = fr(map[codes[i]!]! * nestedAbsmax[Math.floor(i / nestedBlockSize)]!) + offset;
  }
}
