/**
 * Partial top-k selection: a fixed-size binary min-heap of (score, row) pairs. Pushing n scores costs
 * O(n log k) and allocates nothing; the full list of scores is never sorted. Ties prefer the lower row,
 * so results do not depend on the order candidates arrive in.
 */
export class TopK {
  readonly k: number;
  private readonly scores: Float64Array;
  private readonly rows: Int32Array;
  private count = 0;

  constructor(k: number) {
    this.k = k;
    this.scores = new Float64Array(k);
    this.rows = new Int32Array(k);
  }

  get size(): number {
    return this.count;
  }

  /** Empties the heap for reuse. */
  clear(): void {
    this.count = 0;
  }

  /** The worst kept score when full (a candidate below it cannot enter), else −Infinity. */
  threshold(): number {
    return this.count < this.k ? Number.NEGATIVE_INFINITY : this.scores[0]!;
  }

  /** True when (score, row) would enter the heap: not full, or better than the current worst. */
  accepts(score: number, row: number): boolean {
    if (this.count < this.k) return true;
    const s = this.scores[0]!;
    return score > s || (score === s && row < this.rows[0]!);
  }

  /** Offers one candidate; NaN scores are ignored. */
  push(score: number, row: number): void {
    if (Number.isNaN(score)) return;
    const scores = this.scores;
    const rows = this.rows;
    if (this.count < this.k) {
      // Sift up from the new leaf.
      let i = this.count++;
      while (i > 0) {
        const p = (i - 1) >> 1;
        const ps = scores[p]!;
        if (ps < score || (ps === score && rows[p]! > row)) break;
        scores[i] = ps;
        rows[i] = rows[p]!;
        i = p;
      }
      scores[i] = score;
      rows[i] = row;
      return;
    }
    if (this.k === 0 || !this.accepts(score, row)) return;
    this.siftDown(score, row);
  }

  /** Replaces the root (the worst kept) by (score, row) and restores the heap order. */
  private siftDown(score: number, row: number): void {
    const scores = this.scores;
    const rows = this.rows;
    const n = this.count;
    let i = 0;
    for (;;) {
      const l = 2 * i + 1;
      if (l >= n) break;
      let c = l;
      const r = l + 1;
      // Pick the worse child (lower score, or equal score with the higher row).
      if (r < n) {
        const ls = scores[l]!;
        const rs = scores[r]!;
        if (rs < ls || (rs === ls && rows[r]! > rows[l]!)) c = r;
      }
      const cs = scores[c]!;
      // Move the worse child up while it is worse than the new element.
      if (cs < score || (cs === score && rows[c]! > row)) {
        scores[i] = cs;
        rows[i] = rows[c]!;
        i = c;
      } else {
        break;
      }
    }
    scores[i] = score;
    rows[i] = row;
  }

  /** The kept candidates, best first (descending score, ascending row on ties). Empties the heap. */
  drain(): { rows: Int32Array; scores: Float64Array } {
    const n = this.count;
    const outRows = new Int32Array(n);
    const outScores = new Float64Array(n);
    // Pop the worst repeatedly and fill from the back.
    for (let j = n - 1; j >= 0; j--) {
      outRows[j] = this.rows[0]!;
      outScores[j] = this.scores[0]!;
      const last = --this.count;
      if (last > 0) this.siftDown(this.scores[last]!, this.rows[last]!);
    }
    return { rows: outRows, scores: outScores };
  }
}
