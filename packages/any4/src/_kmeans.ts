import type { Rng } from "@lowbit/bits";

/**
 * Weighted 1-D k-means on sorted values. In one dimension every cluster of a Lloyd step is a
 * contiguous run of the sorted values, cut at the midpoints between neighbouring centres, so with
 * prefix sums of w, w·x and w·x² each assignment is k − 1 binary searches and each update, cost or
 * k-means++ sample is O(1) or O(log n): O(n log n) to sort, then O(k·(iterations + trials·k)·log n).
 *
 * Initialisation is greedy k-means++ as scikit-learn's `KMeans(init="k-means++")`: the first centre
 * is drawn with probability ∝ w, each further one from 2 + ⌊ln k⌋ candidates drawn ∝ w·D², keeping
 * the candidate that lowers the potential most (the first on a tie). Lloyd iterations follow until no
 * point changes cluster or `maxIter` updates were made. A point exactly between two centres belongs
 * to the lower one. A cluster with no weight keeps its centre.
 */

export interface KmeansWorkspace {
  /** Sorted values (shifted in place by `prepare`). */
  readonly xs: Float64Array;
  /** Prefix sums of w, w·x, w·x² over the shifted values: entry i covers xs[0..i). */
  readonly pw: Float64Array;
  readonly ps: Float64Array;
  readonly pq: Float64Array;
  /** Centres (ascending), region starts, region costs; capacity k (+1 for starts). */
  readonly c: Float64Array;
  readonly b: Int32Array;
  readonly r: Float64Array;
  shift: number;
}

export function createWorkspace(capacity: number, kMax: number): KmeansWorkspace {
  return {
    xs: new Float64Array(capacity),
    pw: new Float64Array(capacity + 1),
    ps: new Float64Array(capacity + 1),
    pq: new Float64Array(capacity + 1),
    c: new Float64Array(kMax + 1),
    b: new Int32Array(kMax + 2),
    r: new Float64Array(kMax + 1),
    shift: 0,
  };
}

/**
 * Shifts `xs[0..n)` (sorted) by the centre of its range, which keeps the prefix sums well
 * conditioned, and builds the prefix sums. `weights` (sorted order, ≥ 0) or null for unit weights;
 * weights that sum to zero fall back to unit weights.
 */
export function prepare(ws: KmeansWorkspace, n: number, weights: Float64Array | null): void {
  const { xs, pw, ps, pq } = ws;
  const shift = n > 0 ? (xs[0]! + xs[n - 1]!) / 2 : 0;
  ws.shift = shift;
  for (let i = 0; i < n; i++) xs[i] = xs[i]! - shift;
  pw[0] = 0;
  ps[0] = 0;
  pq[0] = 0;
  let w = 0;
  let s = 0;
  let q = 0;
  if (weights !== null) {
    for (let i = 0; i < n; i++) {
      const x = xs[i]!;
      const wi = weights[i]!;
      w += wi;
      s += wi * x;
      q += wi * x * x;
      pw[i + 1] = w;
      ps[i + 1] = s;
      pq[i + 1] = q;
    }
    if (w > 0) return;
  }
  w = 0;
  s = 0;
  q = 0;
  for (let i = 0; i < n; i++) {
    const x = xs[i]!;
    w += 1;
    s += x;
    q += x * x;
    pw[i + 1] = w;
    ps[i + 1] = s;
    pq[i + 1] = q;
  }
}

/** Σ w·(x − c)² over xs[a..e), from the prefix sums (clamped at 0 against rounding). */
function rangeCost(ws: KmeansWorkspace, a: number, e: number, c: number): number {
  if (e <= a) return 0;
  const w = ws.pw[e]! - ws.pw[a]!;
  const s = ws.ps[e]! - ws.ps[a]!;
  const q = ws.pq[e]! - ws.pq[a]!;
  const v = q - 2 * c * s + c * c * w;
  return v > 0 ? v : 0;
}

/** First index i in [lo, hi) with xs[i] > v (hi when none). */
function upperBound(xs: Float64Array, lo: number, hi: number, v: number): number {
  while (lo < hi) {
    const mid = (lo + hi) >>> 1;
    if (xs[mid]! <= v) lo = mid + 1;
    else hi = mid;
  }
  return lo;
}

/** `upperBound(xs, 0, n, v)` by galloping from `hint` (boundaries move little between Lloyd steps). */
function upperBoundFrom(xs: Float64Array, n: number, v: number, hint: number): number {
  if (hint > 0 && xs[hint - 1]! > v) {
    let hi = hint - 1;
    let lo = hi - 1;
    let step = 1;
    while (lo >= 0 && xs[lo]! > v) {
      hi = lo;
      step <<= 1;
      lo = hi - step;
    }
    return upperBound(xs, lo < 0 ? 0 : lo + 1, hi, v);
  }
  let lo = hint;
  let hi = hint;
  let step = 1;
  while (hi < n && xs[hi]! <= v) {
    lo = hi + 1;
    hi = lo + step;
    step <<= 1;
  }
  return upperBound(xs, lo, hi > n ? n : hi, v);
}

/** Index of the point drawn for `target` ∈ [0, Σw): the first i with pw[i + 1] > target. */
function drawByWeight(ws: KmeansWorkspace, n: number, target: number): number {
  const pw = ws.pw;
  let lo = 0;
  let hi = n - 1;
  while (lo < hi) {
    const mid = (lo + hi) >>> 1;
    if (pw[mid + 1]! > target) hi = mid;
    else lo = mid + 1;
  }
  return lo;
}

/** Index of the point drawn for `target` ∈ [0, potential) with probability ∝ w·D² (m centres). */
function drawByCost(ws: KmeansWorkspace, m: number, target: number): number {
  const { b, c, r } = ws;
  let last = -1;
  for (let j = 0; j < m; j++) {
    const rj = r[j]!;
    if (rj <= 0) continue;
    last = j;
    if (target < rj) {
      const a = b[j]!;
      let lo = a;
      let hi = b[j + 1]! - 1;
      const cj = c[j]!;
      while (lo < hi) {
        const mid = (lo + hi) >>> 1;
        if (rangeCost(ws, a, mid + 1, cj) > target) hi = mid;
        else lo = mid + 1;
      }
      return lo;
    }
    target -= rj;
  }
  // Rounding left the target past the last region: take the last point of the last costly region.
  return last >= 0 ? b[last + 1]! - 1 : 0;
}

/** Position of `x` among the m sorted centres: the first j with c[j] > x. */
function centrePosition(c: Float64Array, m: number, x: number): number {
  let p = 0;
  while (p < m && c[p]! <= x) p++;
  return p;
}

/**
 * The potential after adding centre x at position p (m current centres), and where the split
 * points fall: returns the potential and writes [start of x's region, start of the next region].
 */
function potentialWith(ws: KmeansWorkspace, n: number, m: number, pot: number, x: number, split: Int32Array) {
  const { xs, b, c, r } = ws;
  const p = centrePosition(c, m, x);
  const lo = p > 0 ? b[p - 1]! : 0;
  const hi = p < m ? b[p + 1]! : n;
  const start = p > 0 ? upperBound(xs, lo, hi, (c[p - 1]! + x) / 2) : 0;
  const end = p < m ? upperBound(xs, start, hi, (x + c[p]!) / 2) : n;
  split[0] = start;
  split[1] = end;
  let v = pot;
  if (p > 0) v += rangeCost(ws, lo, start, c[p - 1]!) - r[p - 1]!;
  if (p < m) v += rangeCost(ws, end, hi, c[p]!) - r[p]!;
  v += rangeCost(ws, start, end, x);
  return v > 0 ? v : 0;
}

const split = new Int32Array(2);

/** Inserts centre x (m current centres), updating starts and region costs; returns the new potential. */
function insertCentre(ws: KmeansWorkspace, n: number, m: number, pot: number, x: number): number {
  const { b, c, r } = ws;
  const v = potentialWith(ws, n, m, pot, x, split);
  const p = centrePosition(c, m, x);
  for (let j = m; j > p; j--) {
    c[j] = c[j - 1]!;
    r[j] = r[j - 1]!;
  }
  for (let j = m + 1; j > p + 1; j--) b[j] = b[j - 1]!;
  c[p] = x;
  b[p] = split[0]!;
  b[p + 1] = split[1]!;
  b[m + 1] = n;
  for (let j = p > 0 ? p - 1 : 0; j <= p + 1 && j <= m; j++) r[j] = rangeCost(ws, b[j]!, b[j + 1]!, c[j]!);
  return v;
}

/**
 * Fits k centres to the prepared workspace (n ≥ 0 points) and writes them, ascending and shifted
 * back, to out[0..k). Returns the number of Lloyd updates made.
 */
export function fit(
  ws: KmeansWorkspace,
  n: number,
  k: number,
  rng: Rng,
  maxIter: number,
  out: Float64Array,
): number {
  const { xs, pw, ps, b, c, r } = ws;
  if (n === 0) {
    out.fill(0, 0, k);
    return 0;
  }
  // Greedy k-means++.
  c[0] = xs[drawByWeight(ws, n, rng.nextFloat() * pw[n]!)]!;
  b[0] = 0;
  b[1] = n;
  r[0] = rangeCost(ws, 0, n, c[0]!);
  let pot = r[0]!;
  const trials = 2 + Math.floor(Math.log(k));
  let m = 1;
  for (; m < k; m++) {
    if (!(pot > 0)) break;
    let bestPot = Number.POSITIVE_INFINITY;
    let bestX = 0;
    for (let t = 0; t < trials; t++) {
      const x = xs[drawByCost(ws, m, rng.nextFloat() * pot)]!;
      const v = potentialWith(ws, n, m, pot, x, split);
      if (v < bestPot) {
        bestPot = v;
        bestX = x;
      }
    }
    insertCentre(ws, n, m, pot, bestX);
    pot = 0;
    for (let j = 0; j <= m; j++) pot += r[j]!;
  }
  // Fewer distinct points than centres: the rest repeat the largest (they get empty clusters).
  for (; m < k; m++) {
    c[m] = c[m - 1]!;
    b[m + 1] = n;
  }
  // Lloyd.
  let it = 0;
  while (it < maxIter) {
    it++;
    let sorted = true;
    for (let j = 0; j < k; j++) {
      const a = b[j]!;
      const e = b[j + 1]!;
      const w = pw[e]! - pw[a]!;
      if (w > 0) c[j] = (ps[e]! - ps[a]!) / w;
      if (j > 0 && c[j]! < c[j - 1]!) sorted = false;
    }
    if (!sorted) sortSmall(c, k);
    let changed = false;
    for (let j = 1; j < k; j++) {
      const nb = upperBoundFrom(xs, n, (c[j - 1]! + c[j]!) / 2, b[j]!);
      if (nb !== b[j]) {
        b[j] = nb;
        changed = true;
      }
    }
    if (!changed) break;
  }
  const shift = ws.shift;
  for (let j = 0; j < k; j++) out[j] = c[j]! + shift;
  return it;
}

/** Σ w·(x − nearest centre)² for the final clusters of the last `fit`. */
export function inertia(ws: KmeansWorkspace, k: number): number {
  let s = 0;
  for (let j = 0; j < k; j++) s += rangeCost(ws, ws.b[j]!, ws.b[j + 1]!, ws.c[j]!);
  return s;
}

function sortSmall(c: Float64Array, k: number): void {
  for (let i = 1; i < k; i++) {
    const v = c[i]!;
    let j = i - 1;
    while (j >= 0 && c[j]! > v) {
      c[j + 1] = c[j]!;
      j--;
    }
    c[j + 1] = v;
  }
}
