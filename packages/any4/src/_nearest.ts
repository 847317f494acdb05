/**
 * Nearest-entry search in a float16 lookup table, ties to the lower index. The finite entries are
 * sorted by value (equal values keep their lowest index) and a value is placed among the midpoints
 * of neighbouring distinct entries. Midpoints of two float16 values are exact in float64 and the
 * values searched are float32, so every comparison, and every tie, is exact.
 */

/** Buckets over [smallest, largest entry] that say where to start the midpoint scan. */
const BUCKETS = 256;

export interface NearestTable {
  /** Midpoints between neighbouring distinct entries, then +Inf as a sentinel. */
  readonly mids: Float64Array;
  /** Code of each distinct entry (the lowest index holding that value), then the last repeated. */
  readonly codes: Uint8Array;
  /** For bucket b: the number of midpoints below the start of bucket b − 1 (a safe lower bound). */
  readonly start: Uint8Array;
  /** Entries for scratch sorting. */
  readonly values: Float64Array;
  readonly order: Uint16Array;
  lo: number;
  inv: number;
}

/** A table for up to 256 entries (codes are bytes). */
export function createNearestTable(): NearestTable {
  return {
    mids: new Float64Array(257),
    codes: new Uint8Array(258),
    start: new Uint8Array(BUCKETS),
    values: new Float64Array(256),
    order: new Uint16Array(256),
    lo: 0,
    inv: 0,
  };
}

/**
 * Prepares `t` for the table entries `decoded[off..off + len)` (float16 values as float32, len ≤ 256;
 * code i is entry off + i). Non-finite entries are never chosen. Returns false when no entry is finite.
 */
export function prepareNearest(decoded: Float32Array, off: number, len: number, t: NearestTable): boolean {
  const { values, order, mids, codes, start } = t;
  let m = 0;
  for (let i = 0; i < len; i++) {
    const v = decoded[off + i]!;
    if (v - v !== 0) continue; // NaN or ±Inf
    // Insertion by value; equal values keep index order, so the first of a run has the lowest index.
    let j = m - 1;
    while (j >= 0 && values[j]! > v) {
      values[j + 1] = values[j]!;
      order[j + 1] = order[j]!;
      j--;
    }
    values[j + 1] = v;
    order[j + 1] = i;
    m++;
  }
  if (m === 0) return false;
  let u = 0;
  codes[0] = order[0]!;
  for (let i = 1; i < m; i++) {
    if (values[i] === values[u]) continue; // −0 and +0 are one value
    mids[u] = (values[u]! + values[i]!) / 2;
    u++;
    values[u] = values[i]!;
    codes[u] = order[i]!;
  }
  const distinct = u + 1;
  mids[distinct - 1] = Number.POSITIVE_INFINITY;
  codes[distinct] = codes[distinct - 1]!;
  const lo = values[0]!;
  const span = values[distinct - 1]! - lo;
  t.lo = lo;
  t.inv = span > 0 ? BUCKETS / span : 0;
  // Bucket b covers [lo + b·span/B, lo + (b+1)·span/B); starting one bucket early absorbs any rounding
  // in the bucket computation, and the scan below is exact.
  let j = 0;
  start[0] = 0;
  for (let b = 1; b < BUCKETS; b++) {
    const edge = lo + ((b - 1) * span) / BUCKETS;
    while (mids[j]! < edge) j++;
    start[b] = j;
  }
  return true;
}

/**
 * The code of the entry nearest to v (finite or ±Inf; not NaN), ties to the lower index: the number
 * of midpoints below v picks the entry, and v equal to a midpoint takes the lower of the two codes.
 */
export function nearestCode(t: NearestTable, v: number): number {
  const f = (v - t.lo) * t.inv;
  let j = t.start[f >= 1 ? (f < BUCKETS ? f | 0 : BUCKETS - 1) : 0]!;
  const mids = t.mids;
  while (mids[j]! < v) j++;
  const codes = t.codes;
  if (mids[j] === v) {
    const a = codes[j]!;
    const b = codes[j + 1]!;
    return a < b ? a : b;
  }
  return codes[j]!;
}
