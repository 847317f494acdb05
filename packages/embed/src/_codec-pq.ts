import { createRng } from "@lowbit/bits";
import { kmeans } from "@lowbit/vq";
import {
  type Arrays,
  checkIndex,
  checkRange,
  NOT_FITTED,
  type Params,
  progress,
  type StateReader,
  subsampleRows,
  type TerminalStage,
} from "./_codec-common.js";
import type { FitOptions, QueryScorer, ScoreSpace } from "./types.js";

/** At most this many sample rows train the codebooks (256 per centroid). */
export const PQ_MAX_TRAIN_ROWS = 256 * 256;
/** Lloyd iterations per sub-space. */
const PQ_ITERATIONS = 20;

/**
 * Product quantization: the dim coordinates split into M consecutive sub-spaces (the first dim mod M
 * get ⌈dim/M⌉ dims, the rest ⌊dim/M⌋), each with k ≤ 256 centroids from k-means (@lowbit/vq, k-means++
 * seeded by FitOptions.seed + m); a code is one byte per sub-space (the nearest centroid, ties to the
 * lower index). Codebooks are stored sub-space by sub-space: sub-space m at offset k · start_m, k rows
 * of its width. Codes ≥ k (only possible in corrupt data) decode to zeros.
 */
export class PqTerminal implements TerminalStage {
  readonly kind = "terminal";
  dim = 0;
  bytesPerVector = 0;
  private k = 0;
  private codebooks = new Float32Array(0);
  private starts = new Int32Array(0);

  constructor(private readonly m: number) {}

  get spec(): string {
    return `pq:${this.m}`;
  }

  get paramBytes(): number {
    return 4 * this.codebooks.length;
  }

  private setDim(dim: number): void {
    if (this.m > dim) throw new RangeError(`pq:${this.m} needs M ≤ dim, got dim = ${dim}`);
    this.dim = dim;
    this.bytesPerVector = this.m;
    const starts = new Int32Array(this.m + 1);
    const base = Math.floor(dim / this.m);
    const extra = dim % this.m;
    for (let s = 0; s < this.m; s++) starts[s + 1] = starts[s]! + base + (s < extra ? 1 : 0);
    this.starts = starts;
  }

  sampleRows(n: number): number {
    return Math.min(n, PQ_MAX_TRAIN_ROWS);
  }

  fit(sample: Float32Array, n: number, dim: number, options: FitOptions): void {
    this.setDim(dim);
    const seed = options.seed ?? 0;
    const rng = createRng(seed ^ 0x5bd1e995);
    const sub = subsampleRows(sample, n, dim, PQ_MAX_TRAIN_ROWS, () => rng.nextFloat());
    const rows = sub.n;
    const k = Math.min(256, rows);
    const codebooks = new Float32Array(k * dim);
    for (let s = 0; s < this.m; s++) {
      const a = this.starts[s]!;
      const w = this.starts[s + 1]! - a;
      const part = new Float32Array(rows * w);
      for (let r = 0; r < rows; r++) part.set(sub.data.subarray(r * dim + a, r * dim + a + w), r * w);
      const signal = options.signal;
      const res = kmeans(
        part,
        w,
        { k, seed: (seed + s) | 0, maxIterations: PQ_ITERATIONS, tolerance: 1e-3 },
        signal === undefined ? {} : { signal },
      );
      codebooks.set(res.centroids, k * a);
      progress(options, s + 1, this.m);
    }
    this.k = k;
    this.codebooks = codebooks;
  }

  encode(src: Float32Array, n: number, out: Uint8Array): void {
    const d = this.dim;
    const k = this.k;
    const m = this.m;
    // Per sub-space: its centroids padded to a width of 4 or 8 (zeros), so the nearest-centroid loop
    // is unrolled with the sub-vector in registers; argmin ‖c‖² − 2⟨x, c⟩, ties to the lower index.
    for (let s = 0; s < m; s++) {
      const a = this.starts[s]!;
      const w = this.starts[s + 1]! - a;
      const pw = w <= 4 ? 4 : w <= 8 ? 8 : w;
      const cb = new Float64Array(k * pw);
      const norms = new Float64Array(k);
      for (let c = 0; c < k; c++) {
        let v = 0;
        for (let t = 0; t < w; t++) {
          const y = this.codebooks[k * a + c * w + t]!;
          cb[c * pw + t] = y;
          v += y * y;
        }
        norms[c] = v;
      }
      for (let r = 0; r < n; r++) {
        const xo = r * d + a;
        out[r * m + s] = nearest(src, xo, w, pw, cb, norms, k);
      }
    }
  }

  decode(codes: Uint8Array, n: number, out: Float32Array): void {
    const d = this.dim;
    const k = this.k;
    for (let r = 0; r < n; r++) {
      for (let s = 0; s < this.m; s++) {
        const a = this.starts[s]!;
        const w = this.starts[s + 1]! - a;
        const c = codes[r * this.m + s]!;
        if (c < k) out.set(this.codebooks.subarray(k * a + c * w, k * a + c * w + w), r * d + a);
        else out.fill(0, r * d + a, r * d + a + w);
      }
    }
  }

  prepare(query: Float32Array, space: ScoreSpace, extra: number): QueryScorer {
    if (this.dim === 0) throw new RangeError(NOT_FITTED);
    const m = this.m;
    const k = this.k;
    const cb = this.codebooks;
    const l2 = space === "l2";
    // M × 256 table: ⟨q_s, c⟩ or −‖q_s − c‖² per sub-space s and centroid c (codes ≥ k: a zero centroid).
    const table = new Float32Array(m * 256);
    for (let s = 0; s < m; s++) {
      const a = this.starts[s]!;
      const w = this.starts[s + 1]! - a;
      let qq = 0;
      for (let t = 0; t < w; t++) qq += query[a + t]! * query[a + t]!;
      for (let c = 0; c < 256; c++) {
        let v = 0;
        if (c < k) {
          const co = k * a + c * w;
          if (l2)
            for (let t = 0; t < w; t++) {
              const diff = query[a + t]! - cb[co + t]!;
              v -= diff * diff;
            }
          else for (let t = 0; t < w; t++) v += query[a + t]! * cb[co + t]!;
        } else if (l2) v = -qq;
        table[s * 256 + c] = v;
      }
    }
    const scoreAt = (codes: Uint8Array, i: number): number => {
      let a0 = 0;
      let a1 = 0;
      const o = i * m;
      let s = 0;
      for (; s + 1 < m; s += 2) {
        a0 += table[(s << 8) | codes[o + s]!]!;
        a1 += table[((s + 1) << 8) | codes[o + s + 1]!]!;
      }
      if (s < m) a0 += table[(s << 8) | codes[o + s]!]!;
      return extra + a0 + a1;
    };
    return {
      scoreRange(codes, start, end, out) {
        checkRange(codes, start, end, out, m);
        for (let i = start; i < end; i++) out[i - start] = scoreAt(codes, i);
      },
      score(codes, i) {
        checkIndex(codes, i, m);
        return scoreAt(codes, i);
      },
    };
  }

  save(params: Params, arrays: Arrays, prefix: string): void {
    params[`${prefix}k`] = this.k;
    arrays[`${prefix}codebooks`] = this.codebooks.slice();
  }

  load(dim: number, state: StateReader): void {
    this.setDim(dim);
    const k = state.num("k", 1, 256, true);
    this.codebooks = state.array("codebooks", k * dim);
    this.k = k;
  }
}

/** Index of the centroid (rows of cb, padded width pw) minimising ‖c‖² − 2⟨x, c⟩; ties to the lower index. */
function nearest(
  src: Float32Array,
  xo: number,
  w: number,
  pw: number,
  cb: Float64Array,
  norms: Float64Array,
  k: number,
): number {
  let best = 0;
  let bestD = Number.POSITIVE_INFINITY;
  if (pw === 4) {
    const x0 = src[xo]!;
    const x1 = w > 1 ? src[xo + 1]! : 0;
    const x2 = w > 2 ? src[xo + 2]! : 0;
    const x3 = w > 3 ? src[xo + 3]! : 0;
    for (let c = 0, o = 0; c < k; c++, o += 4) {
      const dot = x0 * cb[o]! + x1 * cb[o + 1]! + (x2 * cb[o + 2]! + x3 * cb[o + 3]!);
      const dist = norms[c]! - 2 * dot;
      if (dist < bestD) {
        bestD = dist;
        best = c;
      }
    }
    return best;
  }
  if (pw === 8) {
    const x0 = src[xo]!;
    const x1 = src[xo + 1]!;
    const x2 = src[xo + 2]!;
    const x3 = src[xo + 3]!;
    const x4 = src[xo + 4]!;
    const x5 = w > 5 ? src[xo + 5]! : 0;
    const x6 = w > 6 ? src[xo + 6]! : 0;
    const x7 = w > 7 ? src[xo + 7]! : 0;
    for (let c = 0, o = 0; c < k; c++, o += 8) {
      const dot =
        x0 * cb[o]! +
        x1 * cb[o + 1]! +
        (x2 * cb[o + 2]! + x3 * cb[o + 3]!) +
        (x4 * cb[o + 4]! + x5 * cb[o + 5]!) +
        (x6 * cb[o + 6]! + x7 * cb[o + 7]!);
      const dist = norms[c]! - 2 * dot;
      if (dist < bestD) {
        bestD = dist;
        best = c;
      }
    }
    return best;
  }
  // Wider sub-spaces: four centroids per pass share the loads of x (each sum still runs in order of t).
  let c = 0;
  for (; c + 3 < k; c += 4) {
    const o0 = c * pw;
    const o1 = o0 + pw;
    const o2 = o1 + pw;
    const o3 = o2 + pw;
    let s0 = 0;
    let s1 = 0;
    let s2 = 0;
    let s3 = 0;
    for (let t = 0; t < w; t++) {
      const x = src[xo + t]!;
      s0 += x * cb[o0 + t]!;
      s1 += x * cb[o1 + t]!;
      s2 += x * cb[o2 + t]!;
      s3 += x * cb[o3 + t]!;
    }
    const d0 = norms[c]! - 2 * s0;
    const d1 = norms[c + 1]! - 2 * s1;
    const d2 = norms[c + 2]! - 2 * s2;
    const d3 = norms[c + 3]! - 2 * s3;
    if (d0 < bestD) {
      bestD = d0;
      best = c;
    }
    if (d1 < bestD) {
      bestD = d1;
      best = c + 1;
    }
    if (d2 < bestD) {
      bestD = d2;
      best = c + 2;
    }
    if (d3 < bestD) {
      bestD = d3;
      best = c + 3;
    }
  }
  for (; c < k; c++) {
    let s0 = 0;
    for (let t = 0; t < w; t++) s0 += src[xo + t]! * cb[c * pw + t]!;
    const dist = norms[c]! - 2 * s0;
    if (dist < bestD) {
      bestD = dist;
      best = c;
    }
  }
  return best;
}
