/**
 * Content-defined chunking (FastCDC with normalized chunking, Xia et al., USENIX ATC 2016 / TPDS 2020).
 * A gear rolling hash `h = (h << 1) + GEAR[byte]` (mod 2^32) runs over each chunk; a cut falls where the
 * masked hash bits are all zero. Inserting or deleting bytes moves only the cuts near the edit, so the
 * chunks after it keep their bytes and their object ids.
 *
 * The cut points are part of the on-disk format: they decide which chunks dedup against stored ones.
 * The GEAR table, the masks and the cut rule below must therefore never change (test/cdc.test.ts pins
 * them); a different chunker would need a new manifest layout name.
 */
import { assertInteger, assertOptions, assertUint8Array, createRng } from "@lowbit/bits";

/** Seed of the GEAR table ("cdc1" as ASCII bytes, big-endian). */
const GEAR_SEED = 0x63646331;

/** GEAR[b] = the (b+1)-th `nextUint32()` of `createRng(GEAR_SEED)` (xoshiro128**, see @lowbit/bits rng). */
export const GEAR: Uint32Array = (() => {
  const rng = createRng(GEAR_SEED);
  const table = new Uint32Array(256);
  for (let i = 0; i < 256; i++) table[i] = rng.nextUint32();
  return table;
})();

// The same table as int32 so the hot loop stays in small-integer arithmetic (no doubles above 2^31).
const GEAR_I32 = new Int32Array(GEAR.buffer, GEAR.byteOffset, GEAR.length);

/**
 * A mask with `bits` one-bits spread evenly over the 32-bit word, from bit 31 downwards
 * (bit positions 31 − ⌊i·32/bits⌋). With `h = (h << 1) + g`, bit k of h depends on the last k+1 bytes
 * only, so low-bit masks would cut on a window of a few bytes; spreading the bits up to bit 31 makes
 * the cut depend on a 32-byte window, as FastCDC's padded masks do.
 */
export function spreadMask(bits: number): number {
  let mask = 0;
  for (let i = 0; i < bits; i++) mask |= 1 << (31 - Math.floor((i * 32) / bits));
  return mask >>> 0;
}

export interface CdcOptions {
  /** Target average chunk size, a power of two in [64, 2^28] (default 65536). */
  readonly avgSize?: number;
  /** Smallest chunk except the last (default avgSize / 4). */
  readonly minSize?: number;
  /** Largest chunk (default avgSize × 4). */
  readonly maxSize?: number;
}

interface CdcParams {
  readonly avg: number;
  readonly min: number;
  readonly max: number;
  /** Stricter mask used before `avg` bytes (log2(avg) + 2 bits): cuts there are 4× rarer. */
  readonly maskS: number;
  /** Looser mask used after `avg` bytes (log2(avg) − 2 bits): cuts there are 4× likelier. */
  readonly maskL: number;
}

const MIN_AVG = 64;
const MAX_AVG = 2 ** 28;

function params(options: CdcOptions | undefined): CdcParams {
  assertOptions(options, "options");
  const avg = options?.avgSize ?? 65536;
  assertInteger(avg, "options.avgSize", MIN_AVG, MAX_AVG);
  if ((avg & (avg - 1)) !== 0) throw new RangeError(`options.avgSize must be a power of two, got ${avg}`);
  const min = options?.minSize ?? avg / 4;
  const max = options?.maxSize ?? avg * 4;
  assertInteger(min, "options.minSize", 1, avg - 1);
  assertInteger(max, "options.maxSize", avg + 1, 0xffffffff);
  // Normalization level 2 (FastCDC §3.3): ±2 mask bits around log2(avg) pull chunk sizes towards avg.
  const bits = Math.log2(avg);
  return { avg, min, max, maskS: spreadMask(bits + 2) | 0, maskL: spreadMask(bits - 2) | 0 };
}

/** Length of the chunk starting at `start`: FastCDC's cut rule. */
function cutLength(data: Uint8Array, start: number, end: number, p: CdcParams): number {
  let n = end - start;
  if (n <= p.min) return n;
  if (n > p.max) n = p.max;
  const normal = n < p.avg ? n : p.avg;
  const gear = GEAR_I32;
  const maskS = p.maskS;
  const maskL = p.maskL;
  let h = 0;
  // The first `min` bytes can never end a chunk, so they are not hashed.
  let i = start + p.min;
  const iNormal = start + normal;
  const iEnd = start + n;
  for (; i < iNormal; i++) {
    h = ((h << 1) + gear[data[i]]) | 0;
    if ((h & maskS) === 0) return i + 1 - start;
  }
  for (; i < iEnd; i++) {
    h = ((h << 1) + gear[data[i]]) | 0;
    if ((h & maskL) === 0) return i + 1 - start;
  }
  return n;
}

/**
 * The chunk end offsets of `data`: strictly increasing, the last one `data.length`; empty for empty
 * input. Every chunk but the last is within [minSize, maxSize]; the last is at most maxSize.
 */
export function cdcCuts(data: Uint8Array, options?: CdcOptions): Uint32Array {
  assertUint8Array(data, "data");
  const p = params(options);
  const len = data.length;
  if (len > 0xffffffff) throw new RangeError(`data must be at most 2^32 − 1 bytes, got ${len}`);
  const cuts = new Uint32Array(Math.floor(len / p.min) + 1);
  let count = 0;
  for (let start = 0; start < len; ) {
    start += cutLength(data, start, len, p);
    cuts[count++] = start;
  }
  return cuts.slice(0, count);
}

/** The chunks of `data` as subarray views (no copies), in order. */
export function* cdcChunks(data: Uint8Array, options?: CdcOptions): Generator<Uint8Array, void, undefined> {
  let start = 0;
  for (const end of cdcCuts(data, options)) {
    yield data.subarray(start, end);
    start = end;
  }
}

/**
 * `cdcCuts` over a stream: feed the bytes in pieces of any size with `push`, then call `finish`.
 * The cut points are exactly those of `cdcCuts` on the concatenation (the rolling hash and the
 * length of the chunk in progress carry over from one piece to the next), as absolute offsets, so a
 * file of any size is chunked with one chunk's state in memory.
 */
export class CdcCutter {
  private readonly p: CdcParams;
  /** Bytes of the chunk in progress, and its gear hash (0 until `min` bytes are in). */
  private len = 0;
  private h = 0;
  private start = 0;

  constructor(options?: CdcOptions) {
    this.p = params(options);
  }

  /** Bytes pushed so far. */
  get offset(): number {
    return this.start + this.len;
  }

  /** The chunk ends that fall inside `data` (absolute offsets, increasing). */
  push(data: Uint8Array): number[] {
    assertUint8Array(data, "data");
    const { min, avg, max, maskS, maskL } = this.p;
    const gear = GEAR_I32;
    const cuts: number[] = [];
    const n = data.length;
    let len = this.len;
    let h = this.h;
    let i = 0;
    while (i < n) {
      // As in cutLength: the first `min` bytes of a chunk are not hashed.
      if (len < min) {
        const k = Math.min(min - len, n - i);
        i += k;
        len += k;
        continue;
      }
      const i0 = i;
      let cut = false;
      if (len < avg) {
        const stop = i + Math.min(avg - len, n - i);
        while (i < stop) {
          h = ((h << 1) + gear[data[i++]]) | 0;
          if ((h & maskS) === 0) {
            cut = true;
            break;
          }
        }
      } else {
        const stop = i + Math.min(max - len, n - i);
        while (i < stop) {
          h = ((h << 1) + gear[data[i++]]) | 0;
          if ((h & maskL) === 0) {
            cut = true;
            break;
          }
        }
      }
      len += i - i0;
      if (cut || len === max) {
        this.start += len;
        cuts.push(this.start);
        len = 0;
        h = 0;
      }
    }
    this.len = len;
    this.h = h;
    return cuts;
  }

  /** The end of the last chunk (none if it is empty); the cutter is then ready for a new stream. */
  finish(): number[] {
    const out = this.len > 0 ? [this.start + this.len] : [];
    this.start = 0;
    this.len = 0;
    this.h = 0;
    return out;
  }
}
