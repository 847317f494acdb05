/**
 * LSD radix sort of float32 values, optionally carrying a uint32 payload (the original position).
 * Values travel as uint32 keys whose unsigned order is the numeric order, so three counting
 * passes sort them in O(n); a pass whose digit is the same for every key is skipped.
 */

/** Reusable buffers for `radixSort`, sized for the longest sequence to sort. */
export interface SortBuffers {
  keys: Uint32Array;
  keysAlt: Uint32Array;
  index: Uint32Array;
  indexAlt: Uint32Array;
  readonly hist: Uint32Array;
}

export function createSortBuffers(capacity: number): SortBuffers {
  return {
    keys: new Uint32Array(capacity),
    keysAlt: new Uint32Array(capacity),
    index: new Uint32Array(capacity),
    indexAlt: new Uint32Array(capacity),
    hist: new Uint32Array(5120),
  };
}

/** float32 bit pattern → key with the numeric order (−0 sorts just below +0; no NaN here). */
export function keyOfBits(bits: number): number {
  return (bits & 0x80000000 ? ~bits : bits | 0x80000000) >>> 0;
}

/** Inverse of `keyOfBits`. */
export function bitsOfKey(key: number): number {
  return (key & 0x80000000 ? key & 0x7fffffff : ~key) >>> 0;
}

/**
 * Sorts `buf.keys[0..n)` ascending (stable), permuting `buf.index[0..n)` alongside when `withIndex`.
 * Three counting passes over 11, 11 and 10 bits. The result is left in `buf.keys` / `buf.index` (the
 * buffers are swapped internally as needed).
 */
export function radixSort(buf: SortBuffers, n: number, withIndex: boolean): void {
  const hist = buf.hist;
  hist.fill(0);
  let keys = buf.keys;
  for (let i = 0; i < n; i++) {
    const k = keys[i]!;
    hist[k & 0x7ff]!++;
    hist[2048 + ((k >>> 11) & 0x7ff)]!++;
    hist[4096 + (k >>> 22)]!++;
  }
  let alt = buf.keysAlt;
  let index = buf.index;
  let indexAlt = buf.indexAlt;
  for (let pass = 0; pass < 3; pass++) {
    const shift = pass * 11;
    const h = pass * 2048;
    if (n === 0 || hist[h + ((keys[0]! >>> shift) & 0x7ff)] === n) continue;
    const size = pass === 2 ? 1024 : 2048;
    let sum = 0;
    for (let b = 0; b < size; b++) {
      const c = hist[h + b]!;
      hist[h + b] = sum;
      sum += c;
    }
    if (withIndex) {
      for (let i = 0; i < n; i++) {
        const k = keys[i]!;
        const pos = hist[h + ((k >>> shift) & 0x7ff)]!++;
        alt[pos] = k;
        indexAlt[pos] = index[i]!;
      }
      const t = index;
      index = indexAlt;
      indexAlt = t;
    } else {
      for (let i = 0; i < n; i++) {
        const k = keys[i]!;
        alt[hist[h + ((k >>> shift) & 0x7ff)]!++] = k;
      }
    }
    const t = keys;
    keys = alt;
    alt = t;
  }
  buf.keys = keys;
  buf.keysAlt = alt;
  buf.index = index;
  buf.indexAlt = indexAlt;
}
