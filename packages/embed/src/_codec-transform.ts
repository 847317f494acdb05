import { createRng, throwIfAborted } from "@lowbit/bits";
import {
  type Arrays,
  type Params,
  progress,
  type StateReader,
  subsampleRows,
  type TransformStage,
} from "./_codec-common.js";
import { symmetricEigen } from "./_linalg.js";
import type { FitOptions } from "./types.js";

/**
 * Rows of the PCA fitting sample (a seeded random subset beyond it): the second-moment matrix costs
 * rows · dim² / 2 multiply-adds, so the cap shrinks with dim² — 50 000 rows up to dim 400, 13 563 at
 * dim 768, 3 390 at dim 1536, never fewer than 2·dim.
 */
export function pcaSampleRows(dim: number): number {
  return Math.max(2 * dim, Math.min(50_000, Math.floor(8e9 / (dim * dim))));
}

/** Rows of the tile the second moment is accumulated over (keeps the transposed tile in cache). */
const TILE = 256;

/**
 * PCA with an uncentered second moment M = XᵀX / n: the basis is the top-k eigenvectors of M (rows of P,
 * unit length, each with its largest-magnitude component positive), y = P x, x̂ = Pᵀ y. Uncentered so
 * that dot products are preserved in the best rank-k sense.
 */
export class PcaTransform implements TransformStage {
  readonly kind = "transform";
  inDim = 0;
  outDim = 0;
  /** outDim × inDim row-major. */
  private basis = new Float32Array(0);

  constructor(
    private readonly mode: "k" | "fraction" | "variance",
    private readonly value: number,
  ) {}

  get spec(): string {
    return this.mode === "variance" ? `pca:var${this.value}` : `pca:${this.value}`;
  }

  get paramBytes(): number {
    return 4 * this.basis.length;
  }

  sampleRows(n: number, dim: number): number {
    return Math.min(n, pcaSampleRows(dim));
  }

  fit(sample: Float32Array, n: number, dim: number, options: FitOptions): void {
    if (this.mode === "k" && this.value > dim) {
      throw new RangeError(`${this.spec} keeps more dimensions than the input has (dim = ${dim})`);
    }
    const rng = createRng(options.seed ?? 0);
    const sub = subsampleRows(sample, n, dim, pcaSampleRows(dim), () => rng.nextFloat());
    const m = secondMoment(sub.data, sub.n, dim, options);
    let k = 0;
    const eig = symmetricEigen(m, dim, {
      count: (values) => {
        k = this.keep(values, dim);
        return k;
      },
      tick: () => throwIfAborted(options.signal),
    });
    const basis = new Float32Array(k * dim);
    for (let r = 0; r < k; r++) {
      const o = r * dim;
      let big = 0;
      for (let t = 0; t < dim; t++)
        if (Math.abs(eig.vectors[o + t]!) > Math.abs(eig.vectors[o + big]!)) big = t;
      const sign = eig.vectors[o + big]! < 0 ? -1 : 1;
      for (let t = 0; t < dim; t++) basis[o + t] = sign * eig.vectors[o + t]!;
    }
    this.inDim = dim;
    this.outDim = k;
    this.basis = basis;
  }

  /** Dimensions kept, from the eigenvalues (descending). */
  private keep(values: Float64Array, dim: number): number {
    if (this.mode === "k") return this.value;
    if (this.mode === "fraction") return Math.min(dim, Math.max(1, Math.round(this.value * dim)));
    let total = 0;
    for (let i = 0; i < dim; i++) total += Math.max(0, values[i]!);
    let acc = 0;
    for (let i = 0; i < dim; i++) {
      acc += Math.max(0, values[i]!);
      // A relative slack absorbs rounding when f = 1 or f lands exactly on a cumulative sum.
      if (acc >= this.value * total * (1 - 1e-12)) return i + 1;
    }
    return dim;
  }

  forward(src: Float32Array, n: number, out: Float32Array): void {
    const d = this.inDim;
    const k = this.outDim;
    const p = this.basis;
    // Blocks of 4 rows × 2 basis rows: six loads feed eight products in eight independent sums.
    let r = 0;
    for (; r + 3 < n; r += 4) {
      const x0 = r * d;
      const x1 = x0 + d;
      const x2 = x1 + d;
      const x3 = x2 + d;
      let c = 0;
      for (; c + 1 < k; c += 2) {
        const pa = c * d;
        const pb = pa + d;
        let s00 = 0;
        let s01 = 0;
        let s10 = 0;
        let s11 = 0;
        let s20 = 0;
        let s21 = 0;
        let s30 = 0;
        let s31 = 0;
        for (let t = 0; t < d; t++) {
          const a = p[pa + t]!;
          const b = p[pb + t]!;
          const v0 = src[x0 + t]!;
          const v1 = src[x1 + t]!;
          const v2 = src[x2 + t]!;
          const v3 = src[x3 + t]!;
          s00 += a * v0;
          s01 += b * v0;
          s10 += a * v1;
          s11 += b * v1;
          s20 += a * v2;
          s21 += b * v2;
          s30 += a * v3;
          s31 += b * v3;
        }
        const o = r * k + c;
        out[o] = s00;
        out[o + 1] = s01;
        out[o + k] = s10;
        out[o + k + 1] = s11;
        out[o + 2 * k] = s20;
        out[o + 2 * k + 1] = s21;
        out[o + 3 * k] = s30;
        out[o + 3 * k + 1] = s31;
      }
      if (c < k) for (let q = 0; q < 4; q++) out[(r + q) * k + c] = dot(p, c * d, src, (r + q) * d, d);
    }
    for (; r < n; r++) for (let c = 0; c < k; c++) out[r * k + c] = dot(p, c * d, src, r * d, d);
  }

  backward(src: Float32Array, n: number, out: Float32Array): void {
    const d = this.inDim;
    const k = this.outDim;
    const p = this.basis;
    const acc = new Float64Array(d);
    for (let r = 0; r < n; r++) {
      acc.fill(0);
      for (let c = 0; c < k; c++) {
        const y = src[r * k + c]!;
        const po = c * d;
        for (let t = 0; t < d; t++) acc[t] = acc[t]! + y * p[po + t]!;
      }
      out.set(acc, r * d);
    }
  }

  save(params: Params, arrays: Arrays, prefix: string): void {
    params[`${prefix}k`] = this.outDim;
    arrays[`${prefix}basis`] = this.basis.slice();
  }

  load(dim: number, state: StateReader): void {
    const k = state.num("k", 1, dim, true);
    this.basis = state.array("basis", k * dim);
    this.inDim = dim;
    this.outDim = k;
  }
}

/**
 * ⟨a[ao..ao+d), b[bo..bo+d)⟩ summed in order, exactly as each sum of the blocked loop: a vector projects
 * to the same bits whether it is encoded alone, as a query, or inside a batch.
 */
function dot(a: Float32Array, ao: number, b: Float32Array, bo: number, d: number): number {
  let s = 0;
  for (let t = 0; t < d; t++) s += a[ao + t]! * b[bo + t]!;
  return s;
}

/**
 * XᵀX / n in float64 (lower triangle filled), accumulated over tiles of rows held transposed, in 4 × 2
 * blocks of the output: six loads feed eight products, and eight independent sums hide the add latency.
 */
function secondMoment(x: Float32Array, n: number, dim: number, options: FitOptions): Float64Array {
  const m = new Float64Array((dim + 4) * dim); // 4 spare rows absorb the blocks past the last row
  const tile = new Float64Array((dim + 4) * TILE);
  for (let r0 = 0; r0 < n; r0 += TILE) {
    const rows = Math.min(TILE, n - r0);
    // Transposed tile: tile[t·rows + r] = x[r0 + r][t]; zero rows past dim pad the last blocks.
    for (let r = 0; r < rows; r++) {
      const xo = (r0 + r) * dim;
      for (let t = 0; t < dim; t++) tile[t * rows + r] = x[xo + t]!;
    }
    tile.fill(0, dim * rows, (dim + 4) * rows);
    for (let i = 0; i < dim; i += 4) {
      const i0 = i * rows;
      const i1 = i0 + rows;
      const i2 = i1 + rows;
      const i3 = i2 + rows;
      // Columns j ≤ i + 3 cover the lower triangle of these four rows (extra upper entries are ignored).
      for (let j = 0; j <= i + 3 && j < dim; j += 2) {
        const j0 = j * rows;
        const j1 = j0 + rows;
        let s00 = 0;
        let s01 = 0;
        let s10 = 0;
        let s11 = 0;
        let s20 = 0;
        let s21 = 0;
        let s30 = 0;
        let s31 = 0;
        for (let r = 0; r < rows; r++) {
          const b0 = tile[j0 + r]!;
          const b1 = tile[j1 + r]!;
          const a0 = tile[i0 + r]!;
          const a1 = tile[i1 + r]!;
          const a2 = tile[i2 + r]!;
          const a3 = tile[i3 + r]!;
          s00 += a0 * b0;
          s01 += a0 * b1;
          s10 += a1 * b0;
          s11 += a1 * b1;
          s20 += a2 * b0;
          s21 += a2 * b1;
          s30 += a3 * b0;
          s31 += a3 * b1;
        }
        const mo = i * dim + j;
        m[mo] = m[mo]! + s00;
        m[mo + 1] = m[mo + 1]! + s01;
        m[mo + dim] = m[mo + dim]! + s10;
        m[mo + dim + 1] = m[mo + dim + 1]! + s11;
        m[mo + 2 * dim] = m[mo + 2 * dim]! + s20;
        m[mo + 2 * dim + 1] = m[mo + 2 * dim + 1]! + s21;
        m[mo + 3 * dim] = m[mo + 3 * dim]! + s30;
        m[mo + 3 * dim + 1] = m[mo + 3 * dim + 1]! + s31;
      }
    }
    progress(options, r0 + rows, n);
  }
  // Keep the lower triangle (j ≤ i) of the first dim rows, scaled; the rest is scratch.
  const out = new Float64Array(dim * dim);
  const inv = 1 / n;
  for (let i = 0; i < dim; i++) for (let j = 0; j <= i; j++) out[i * dim + j] = m[i * dim + j]! * inv;
  return out;
}

/** Matryoshka truncation: keeps the first k dimensions; back-projection pads with zeros. */
export class TruncTransform implements TransformStage {
  readonly kind = "transform";
  readonly paramBytes = 0;
  inDim = 0;
  outDim = 0;

  constructor(private readonly k: number) {}

  get spec(): string {
    return `trunc:${this.k}`;
  }

  sampleRows(): number {
    return 0;
  }

  fit(_sample: Float32Array, _n: number, dim: number, _options: FitOptions): void {
    if (this.k > dim)
      throw new RangeError(`trunc:${this.k} keeps more dimensions than the input has (dim = ${dim})`);
    this.inDim = dim;
    this.outDim = this.k;
  }

  forward(src: Float32Array, n: number, out: Float32Array): void {
    const d = this.inDim;
    const k = this.k;
    for (let r = 0; r < n; r++) out.set(src.subarray(r * d, r * d + k), r * k);
  }

  backward(src: Float32Array, n: number, out: Float32Array): void {
    const d = this.inDim;
    const k = this.k;
    for (let r = 0; r < n; r++) {
      out.set(src.subarray(r * k, r * k + k), r * d);
      out.fill(0, r * d + k, r * d + d);
    }
  }

  save(_params: Params, _arrays: Arrays, _prefix: string): void {}

  load(dim: number, _state: StateReader): void {
    if (this.k > dim)
      throw new RangeError(`trunc:${this.k} keeps more dimensions than the input has (dim = ${dim})`);
    this.inDim = dim;
    this.outDim = this.k;
  }
}
