import { CorruptDataError } from "@lowbit/bits";
import {
  type Arrays,
  checkIndex,
  checkRange,
  NOT_FITTED,
  norm2,
  type Params,
  type StateReader,
  type TerminalStage,
} from "./_codec-common.js";
import type { FitOptions, QueryScorer, ScoreSpace } from "./types.js";

/**
 * Uniform scalar quantization with a fitted [min, max] range per dimension: code c ∈ [0, L]
 * (L = 255 for int8, 15 for int4), x̂ = lo + step · c with step = (max − min) / L, c = ⌊(x − lo)/step + ½⌋
 * clamped to [0, L] (values outside the fitted range saturate). int4 packs two codes per byte, LSB-first
 * (dimension 2j in the low nibble of byte j); an odd dim leaves the last high nibble 0.
 */
export class IntTerminal implements TerminalStage {
  readonly kind = "terminal";
  dim = 0;
  bytesPerVector = 0;
  private lo = new Float32Array(0);
  private step = new Float32Array(0);

  constructor(readonly spec: "int8" | "int4") {}

  private get levels(): number {
    return this.spec === "int8" ? 255 : 15;
  }

  get paramBytes(): number {
    return 8 * this.dim;
  }

  private setDim(dim: number): void {
    this.dim = dim;
    this.bytesPerVector = this.spec === "int8" ? dim : (dim + 1) >>> 1;
  }

  sampleRows(n: number): number {
    return n;
  }

  fit(sample: Float32Array, n: number, dim: number, _options: FitOptions): void {
    this.setDim(dim);
    const lo = new Float32Array(dim).fill(Number.POSITIVE_INFINITY);
    const hi = new Float32Array(dim).fill(Number.NEGATIVE_INFINITY);
    for (let r = 0; r < n; r++) {
      const o = r * dim;
      for (let t = 0; t < dim; t++) {
        const v = sample[o + t]!;
        if (v < lo[t]!) lo[t] = v;
        if (v > hi[t]!) hi[t] = v;
      }
    }
    const step = new Float32Array(dim);
    for (let t = 0; t < dim; t++) step[t] = (hi[t]! - lo[t]!) / this.levels;
    this.lo = lo;
    this.step = step;
  }

  encode(src: Float32Array, n: number, out: Uint8Array): void {
    const d = this.dim;
    const L = this.levels;
    const lo = Float64Array.from(this.lo);
    const inv = Float64Array.from(this.step, (s) => (s > 0 ? 1 / s : 0));
    const bpv = this.bytesPerVector;
    const wide = this.spec === "int8";
    if (!wide) out.fill(0, 0, n * bpv);
    for (let r = 0; r < n; r++) {
      const o = r * d;
      const ob = r * bpv;
      for (let t = 0; t < d; t++) {
        let c = Math.floor((src[o + t]! - lo[t]!) * inv[t]! + 0.5);
        c = c < 0 ? 0 : c > L ? L : c;
        if (wide) out[ob + t] = c;
        else out[ob + (t >>> 1)] |= (t & 1) === 0 ? c : c << 4;
      }
    }
  }

  decode(codes: Uint8Array, n: number, out: Float32Array): void {
    const d = this.dim;
    const bpv = this.bytesPerVector;
    const lo = this.lo;
    const step = this.step;
    const wide = this.spec === "int8";
    for (let r = 0; r < n; r++) {
      const o = r * d;
      const ob = r * bpv;
      for (let t = 0; t < d; t++) {
        const c = wide ? codes[ob + t]! : (codes[ob + (t >>> 1)]! >>> ((t & 1) << 2)) & 15;
        out[o + t] = lo[t]! + step[t]! * c;
      }
    }
  }

  prepare(query: Float32Array, space: ScoreSpace, extra: number): QueryScorer {
    if (this.dim === 0) throw new RangeError(NOT_FITTED);
    const d = this.dim;
    const bpv = this.bytesPerVector;
    const l2 = space === "l2";
    // dot: Σ q (lo + s c) = Σ q lo + Σ (q s) c.
    // l2:  −‖q‖² + Σ x (2q − x) with x = lo + s c = −‖q‖² + Σ lo (2q − lo) + Σ c (2s (q − lo) − s² c).
    const n2 = 2 * bpv; // weights padded to whole bytes for int4 (the padding nibble has weight 0)
    const w = new Float64Array(this.spec === "int8" ? d : n2);
    const e = new Float64Array(w.length);
    let base = extra + (l2 ? -norm2(query) : 0);
    for (let t = 0; t < d; t++) {
      const q = query[t]!;
      const lo = this.lo[t]!;
      const s = this.step[t]!;
      if (l2) {
        base += lo * (2 * q - lo);
        w[t] = 2 * s * (q - lo);
        e[t] = -s * s;
      } else {
        base += q * lo;
        w[t] = q * s;
      }
    }
    // Four partial sums break the floating-point add chain (about 2× faster in V8).
    let scoreAt: (codes: Uint8Array, i: number) => number;
    if (this.spec === "int8") {
      scoreAt = l2
        ? (codes, i) => {
            let a0 = 0;
            let a1 = 0;
            let a2 = 0;
            let a3 = 0;
            const o = i * bpv;
            let t = 0;
            for (; t + 3 < d; t += 4) {
              const c0 = codes[o + t]!;
              const c1 = codes[o + t + 1]!;
              const c2 = codes[o + t + 2]!;
              const c3 = codes[o + t + 3]!;
              a0 += c0 * (w[t]! + e[t]! * c0);
              a1 += c1 * (w[t + 1]! + e[t + 1]! * c1);
              a2 += c2 * (w[t + 2]! + e[t + 2]! * c2);
              a3 += c3 * (w[t + 3]! + e[t + 3]! * c3);
            }
            for (; t < d; t++) {
              const c = codes[o + t]!;
              a0 += c * (w[t]! + e[t]! * c);
            }
            return base + (a0 + a1) + (a2 + a3);
          }
        : (codes, i) => {
            let a0 = 0;
            let a1 = 0;
            let a2 = 0;
            let a3 = 0;
            const o = i * bpv;
            let t = 0;
            for (; t + 3 < d; t += 4) {
              a0 += w[t]! * codes[o + t]!;
              a1 += w[t + 1]! * codes[o + t + 1]!;
              a2 += w[t + 2]! * codes[o + t + 2]!;
              a3 += w[t + 3]! * codes[o + t + 3]!;
            }
            for (; t < d; t++) a0 += w[t]! * codes[o + t]!;
            return base + (a0 + a1) + (a2 + a3);
          };
    } else {
      scoreAt = l2
        ? (codes, i) => {
            let a0 = 0;
            let a1 = 0;
            const o = i * bpv;
            for (let j = 0; j < bpv; j++) {
              const b = codes[o + j]!;
              const c0 = b & 15;
              const c1 = b >>> 4;
              a0 += c0 * (w[2 * j]! + e[2 * j]! * c0);
              a1 += c1 * (w[2 * j + 1]! + e[2 * j + 1]! * c1);
            }
            return base + a0 + a1;
          }
        : (codes, i) => {
            let a0 = 0;
            let a1 = 0;
            const o = i * bpv;
            for (let j = 0; j < bpv; j++) {
              const b = codes[o + j]!;
              a0 += w[2 * j]! * (b & 15);
              a1 += w[2 * j + 1]! * (b >>> 4);
            }
            return base + a0 + a1;
          };
    }
    return {
      scoreRange(codes, start, end, out) {
        checkRange(codes, start, end, out, bpv);
        for (let i = start; i < end; i++) out[i - start] = scoreAt(codes, i);
      },
      score(codes, i) {
        checkIndex(codes, i, bpv);
        return scoreAt(codes, i);
      },
    };
  }

  save(_params: Params, arrays: Arrays, prefix: string): void {
    arrays[`${prefix}lo`] = this.lo.slice();
    arrays[`${prefix}step`] = this.step.slice();
  }

  load(dim: number, state: StateReader): void {
    this.setDim(dim);
    this.lo = state.array("lo", dim);
    this.step = state.array("step", dim);
    for (let t = 0; t < dim; t++) {
      if (this.step[t]! < 0) throw new CorruptDataError(`codec state array "step"[${t}] is negative`);
    }
  }
}
