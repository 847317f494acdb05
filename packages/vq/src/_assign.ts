/**
 * Nearest-centroid assignment for a range of points: argmin_k ‖c_k‖² − 2 x·c_k (ties to the lower
 * index), distance ‖x‖² + that (clamped at 0). Self-contained (no imports, no closures over module
 * state) so the Node worker pool can ship its source text to worker threads; the same function runs
 * in both places, so threaded and single-threaded results are identical.
 */
export function assignRange(
  data: Float32Array,
  d: number,
  centroids: Float32Array,
  cnorm: Float64Array,
  k: number,
  start: number,
  end: number,
  labels: Int32Array,
  dists: Float64Array,
): void {
  for (let i = start; i < end; i++) {
    const xo = i * d;
    let xx = 0;
    for (let t = 0; t < d; t++) {
      const v = data[xo + t]!;
      xx += v * v;
    }
    let best = 0;
    let bestD = Number.POSITIVE_INFINITY;
    if (d === 8) {
      const x0 = data[xo]!;
      const x1 = data[xo + 1]!;
      const x2 = data[xo + 2]!;
      const x3 = data[xo + 3]!;
      const x4 = data[xo + 4]!;
      const x5 = data[xo + 5]!;
      const x6 = data[xo + 6]!;
      const x7 = data[xo + 7]!;
      for (let c = 0; c < k; c++) {
        const o = c * 8;
        const dot =
          x0 * centroids[o]! +
          x1 * centroids[o + 1]! +
          x2 * centroids[o + 2]! +
          x3 * centroids[o + 3]! +
          x4 * centroids[o + 4]! +
          x5 * centroids[o + 5]! +
          x6 * centroids[o + 6]! +
          x7 * centroids[o + 7]!;
        const dist = cnorm[c]! - 2 * dot;
        if (dist < bestD) {
          bestD = dist;
          best = c;
        }
      }
    } else if (d === 4) {
      const x0 = data[xo]!;
      const x1 = data[xo + 1]!;
      const x2 = data[xo + 2]!;
      const x3 = data[xo + 3]!;
      for (let c = 0; c < k; c++) {
        const o = c * 4;
        const dot =
          x0 * centroids[o]! + x1 * centroids[o + 1]! + x2 * centroids[o + 2]! + x3 * centroids[o + 3]!;
        const dist = cnorm[c]! - 2 * dot;
        if (dist < bestD) {
          bestD = dist;
          best = c;
        }
      }
    } else {
      // Four partial sums: V8 keeps them in registers and the loop runs about twice as fast.
      const d4 = d - (d % 4);
      for (let c = 0; c < k; c++) {
        const o = c * d;
        let s0 = 0;
        let s1 = 0;
        let s2 = 0;
        let s3 = 0;
        let t = 0;
        for (; t < d4; t += 4) {
          s0 += data[xo + t]! * centroids[o + t]!;
          s1 += data[xo + t + 1]! * centroids[o + t + 1]!;
          s2 += data[xo + t + 2]! * centroids[o + t + 2]!;
          s3 += data[xo + t + 3]! * centroids[o + t + 3]!;
        }
        for (; t < d; t++) s0 += data[xo + t]! * centroids[o + t]!;
        const dot = s0 + s1 + (s2 + s3);
        const dist = cnorm[c]! - 2 * dot;
        if (dist < bestD) {
          bestD = dist;
          best = c;
        }
      }
    }
    labels[i] = best;
    const e = xx + bestD;
    dists[i] = e > 0 ? e : 0;
  }
}

/** Per-coordinate weighted assignment: argmin_c Σ_t w_t c_t (c_t − 2 x_t); distance Σ_t w_t (x_t − c_t)². */
export function assignWeightedCoords(
  data: Float32Array,
  w: Float32Array,
  d: number,
  centroids: Float32Array,
  k: number,
  start: number,
  end: number,
  labels: Int32Array,
  dists: Float64Array,
): void {
  for (let i = start; i < end; i++) {
    const xo = i * d;
    let xx = 0;
    for (let t = 0; t < d; t++) xx += w[xo + t]! * data[xo + t]! * data[xo + t]!;
    let best = 0;
    let bestD = Number.POSITIVE_INFINITY;
    for (let c = 0; c < k; c++) {
      const o = c * d;
      let s = 0;
      for (let t = 0; t < d; t++) {
        const cv = centroids[o + t]!;
        s += w[xo + t]! * cv * (cv - 2 * data[xo + t]!);
      }
      if (s < bestD) {
        bestD = s;
        best = c;
      }
    }
    labels[i] = best;
    const e = xx + bestD;
    dists[i] = e > 0 ? e : 0;
  }
}
