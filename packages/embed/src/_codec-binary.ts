import { describe } from "@lowbit/bits";
import {
  type Arrays,
  checkIndex,
  checkRange,
  LITTLE_ENDIAN,
  NOT_FITTED,
  type Params,
  type StateReader,
  type TerminalStage,
} from "./_codec-common.js";
import type { FitOptions, QueryScorer, ScoreSpace } from "./types.js";

/**
 * One bit per dimension: bit t = x_t − m_t > 0 with m = 0 (`binary`) or the fitted per-dimension mean
 * (`binary:center`), packed LSB-first (dimension 8j + i is bit i of byte j), rows padded to whole bytes.
 * Decode: x̂_t = hi_t when the bit is set, lo_t otherwise, where hi_t / lo_t are the means of the
 * sample's values above / not above the threshold (the least-squares reconstruction for that
 * threshold); a side the sample never hit mirrors the other around m_t.
 */
export class BinaryTerminal implements TerminalStage {
  readonly kind = "terminal";
  dim = 0;
  bytesPerVector = 0;
  private mean = new Float32Array(0);
  private hi = new Float32Array(0);
  private lo = new Float32Array(0);

  constructor(private readonly center: boolean) {}

  get spec(): string {
    return this.center ? "binary:center" : "binary";
  }

  get paramBytes(): number {
    return 4 * (this.center ? 3 : 2) * this.dim;
  }

  private setDim(dim: number): void {
    this.dim = dim;
    this.bytesPerVector = (dim + 7) >>> 3;
  }

  sampleRows(n: number): number {
    return n;
  }

  fit(sample: Float32Array, n: number, dim: number, _options: FitOptions): void {
    this.setDim(dim);
    const mean = new Float64Array(dim);
    if (this.center) {
      for (let r = 0; r < n; r++) for (let t = 0; t < dim; t++) mean[t] = mean[t]! + sample[r * dim + t]!;
      for (let t = 0; t < dim; t++) mean[t] = mean[t]! / n;
    }
    this.mean = Float32Array.from(mean);
    const m = this.mean;
    const sumHi = new Float64Array(dim);
    const sumLo = new Float64Array(dim);
    const cntHi = new Float64Array(dim);
    for (let r = 0; r < n; r++) {
      for (let t = 0; t < dim; t++) {
        const v = sample[r * dim + t]!;
        if (v - m[t]! > 0) {
          sumHi[t] = sumHi[t]! + v;
          cntHi[t] = cntHi[t]! + 1;
        } else sumLo[t] = sumLo[t]! + v;
      }
    }
    const hi = new Float32Array(dim);
    const lo = new Float32Array(dim);
    for (let t = 0; t < dim; t++) {
      const ch = cntHi[t]!;
      const cl = n - ch;
      const mt = m[t]!;
      if (ch > 0 && cl > 0) {
        hi[t] = sumHi[t]! / ch;
        lo[t] = sumLo[t]! / cl;
      } else if (ch > 0) {
        hi[t] = sumHi[t]! / ch;
        lo[t] = 2 * mt - hi[t]!;
      } else {
        lo[t] = sumLo[t]! / cl;
        hi[t] = 2 * mt - lo[t]!;
      }
    }
    this.hi = hi;
    this.lo = lo;
  }

  encode(src: Float32Array, n: number, out: Uint8Array): void {
    const d = this.dim;
    const bpv = this.bytesPerVector;
    const m = this.mean;
    for (let r = 0; r < n; r++) {
      const o = r * d;
      const ob = r * bpv;
      for (let j = 0; j < bpv; j++) {
        let b = 0;
        const t0 = 8 * j;
        const t1 = Math.min(d, t0 + 8);
        for (let t = t0; t < t1; t++) if (src[o + t]! - m[t]! > 0) b |= 1 << (t - t0);
        out[ob + j] = b;
      }
    }
  }

  decode(codes: Uint8Array, n: number, out: Float32Array): void {
    const d = this.dim;
    const bpv = this.bytesPerVector;
    for (let r = 0; r < n; r++) {
      const o = r * d;
      const ob = r * bpv;
      for (let t = 0; t < d; t++) {
        out[o + t] = ((codes[ob + (t >>> 3)]! >>> (t & 7)) & 1) !== 0 ? this.hi[t]! : this.lo[t]!;
      }
    }
  }

  prepare(query: Float32Array, space: ScoreSpace, extra: number): QueryScorer {
    if (this.dim === 0) throw new RangeError(NOT_FITTED);
    const d = this.dim;
    const bpv = this.bytesPerVector;
    const l2 = space === "l2";
    // Per code byte, a 256-entry table of that byte's 8 dimensions' contribution: Σ q·x̂ (dot) or
    // −Σ (q − x̂)² (l2); both are sums over dimensions, so the score is Σ_j table[j][code byte j].
    const table = new Float32Array(bpv * 256);
    for (let j = 0; j < bpv; j++) {
      const tb = j * 256;
      let zero = 0;
      const t0 = 8 * j;
      const t1 = Math.min(d, t0 + 8);
      for (let t = t0; t < t1; t++) zero += contribution(query[t]!, this.lo[t]!, l2);
      table[tb] = zero;
      // Entries for codes with highest bit i extend the entries without it.
      const acc = new Float64Array(256);
      acc[0] = zero;
      for (let i = 0; i < 8; i++) {
        const t = t0 + i;
        const delta =
          t < t1 ? contribution(query[t]!, this.hi[t]!, l2) - contribution(query[t]!, this.lo[t]!, l2) : 0;
        const bit = 1 << i;
        for (let b = bit; b < 2 * bit; b++) acc[b] = acc[b - bit]! + delta;
      }
      for (let b = 0; b < 256; b++) table[tb + b] = acc[b]!;
    }
    const scoreAt = (codes: Uint8Array, i: number): number => {
      let s0 = 0;
      let s1 = 0;
      const o = i * bpv;
      let j = 0;
      for (; j + 1 < bpv; j += 2) {
        s0 += table[(j << 8) | codes[o + j]!]!;
        s1 += table[((j + 1) << 8) | codes[o + j + 1]!]!;
      }
      if (j < bpv) s0 += table[(j << 8) | codes[o + j]!]!;
      return extra + s0 + s1;
    };
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
    if (this.center) arrays[`${prefix}mean`] = this.mean.slice();
    arrays[`${prefix}hi`] = this.hi.slice();
    arrays[`${prefix}lo`] = this.lo.slice();
  }

  load(dim: number, state: StateReader): void {
    this.setDim(dim);
    this.mean = this.center ? state.array("mean", dim) : new Float32Array(dim);
    this.hi = state.array("hi", dim);
    this.lo = state.array("lo", dim);
  }
}

function contribution(q: number, x: number, l2: boolean): number {
  return l2 ? -(q - x) * (q - x) : q * x;
}

const POP8 = new Uint8Array(256);
for (let i = 1; i < 256; i++) POP8[i] = (i & 1) + POP8[i >>> 1]!;

function popcount32(v: number): number {
  v -= (v >>> 1) & 0x55555555;
  v = (v & 0x33333333) + ((v >>> 2) & 0x33333333);
  return (Math.imul((v + (v >>> 4)) & 0x0f0f0f0f, 0x01010101) >>> 24) & 0xff;
}

/**
 * Hamming distances between one binary code and n codes of the same length (queryCode.length bytes
 * each, packed back to back in `codes`): out[i] = popcount(queryCode XOR code i). Works on 32-bit words
 * (zero-copy when the rows are 4-byte aligned), tail bytes by table.
 */
export function hammingDistances(
  queryCode: Uint8Array,
  codes: Uint8Array,
  n: number,
  out: Uint32Array,
): void {
  if (!(queryCode instanceof Uint8Array))
    throw new TypeError(`queryCode must be a Uint8Array, got ${describe(queryCode)}`);
  if (!(codes instanceof Uint8Array))
    throw new TypeError(`codes must be a Uint8Array, got ${describe(codes)}`);
  if (!(out instanceof Uint32Array)) throw new TypeError(`out must be a Uint32Array, got ${describe(out)}`);
  if (typeof n !== "number" || !Number.isInteger(n) || n < 0) {
    throw new RangeError(`n must be a non-negative integer, got ${describe(n)}`);
  }
  const b = queryCode.length;
  if (b === 0) throw new RangeError("queryCode must not be empty");
  if (codes.length < n * b) {
    throw new RangeError(
      `codes must hold n × queryCode.length = ${n} × ${b} = ${n * b} bytes, got ${codes.length}`,
    );
  }
  if (out.length < n) throw new RangeError(`out must hold n = ${n} distances, got ${out.length}`);
  const words = b >>> 2;
  const q = new Uint32Array(words);
  for (let w = 0; w < words; w++) {
    q[w] =
      (queryCode[4 * w]! |
        (queryCode[4 * w + 1]! << 8) |
        (queryCode[4 * w + 2]! << 16) |
        (queryCode[4 * w + 3]! << 24)) >>>
      0;
  }
  if (LITTLE_ENDIAN && b % 4 === 0 && codes.byteOffset % 4 === 0) {
    const c = new Uint32Array(codes.buffer, codes.byteOffset, n * words);
    for (let i = 0; i < n; i++) {
      let s = 0;
      const o = i * words;
      for (let w = 0; w < words; w++) s += popcount32(c[o + w]! ^ q[w]!);
      out[i] = s;
    }
    return;
  }
  for (let i = 0; i < n; i++) {
    let s = 0;
    const o = i * b;
    for (let w = 0; w < words; w++) {
      const p = o + 4 * w;
      s += popcount32(
        (codes[p]! | (codes[p + 1]! << 8) | (codes[p + 2]! << 16) | (codes[p + 3]! << 24)) ^ q[w]!,
      );
    }
    for (let k = 4 * words; k < b; k++) s += POP8[codes[o + k]! ^ queryCode[k]!]!;
    out[i] = s;
  }
}
