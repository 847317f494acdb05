import { float8_e4m3fn, float8_e5m2 } from "@lowbit/fp8";
import { bfloat16, float16 } from "@lowbit/fp16";
import {
  type Arrays,
  checkIndex,
  checkRange,
  f32View,
  LITTLE_ENDIAN,
  NOT_FITTED,
  norm2,
  type Params,
  type StateReader,
  type TerminalStage,
  u16View,
  ViewCache,
} from "./_codec-common.js";
import type { FitOptions, QueryScorer, ScoreSpace } from "./types.js";

export type FloatKind = "float32" | "float16" | "bfloat16" | "float8" | "float8_e5m2";

/** Rows encoded per chunk (bounds the scratch memory of 8/16-bit encodes). */
const CHUNK = 1 << 16;

let table16: Float32Array | null = null;
let tableBf16: Float32Array | null = null;

/** Value of every 16-bit code (256 KiB each, built once on first use). */
function table16For(kind: "float16" | "bfloat16"): Float32Array {
  if (kind === "float16") {
    table16 ??= float16.decode(allCodes16());
    return table16;
  }
  tableBf16 ??= bfloat16.decode(allCodes16());
  return tableBf16;
}

function allCodes16(): Uint16Array {
  const c = new Uint16Array(65536);
  for (let i = 0; i < 65536; i++) c[i] = i;
  return c;
}

function allCodes8(): Uint8Array {
  const c = new Uint8Array(256);
  for (let i = 0; i < 256; i++) c[i] = i;
  return c;
}

/**
 * Terminals that store each (optionally scaled) value in a float format: float32 (4 bytes, exact),
 * float16 / bfloat16 (2 bytes little-endian, round to nearest even, saturating), float8 = e4m3fn and
 * float8_e5m2 (1 byte, values divided by one fitted scale = maxabs of the sample / the format's max
 * finite, so the sample's range maps onto the format's; saturating).
 */
export class FloatTerminal implements TerminalStage {
  readonly kind = "terminal";
  dim = 0;
  bytesPerVector = 0;
  /** float8 only: decode = scale × code value. */
  private scale = 1;
  /** float8 only: value of each of the 256 codes, already multiplied by `scale`. */
  private scaled8: Float32Array | null = null;

  constructor(readonly spec: FloatKind) {}

  private get width(): number {
    return this.spec === "float32" ? 4 : this.spec === "float16" || this.spec === "bfloat16" ? 2 : 1;
  }

  get paramBytes(): number {
    return this.spec === "float8" || this.spec === "float8_e5m2" ? 4 : 0;
  }

  private elementCodec() {
    return this.spec === "float8" ? float8_e4m3fn : float8_e5m2;
  }

  sampleRows(n: number): number {
    return this.width === 1 ? n : 0;
  }

  fit(sample: Float32Array, _n: number, dim: number, _options: FitOptions): void {
    this.dim = dim;
    this.bytesPerVector = dim * this.width;
    if (this.width === 1) {
      let maxAbs = 0;
      for (let i = 0; i < sample.length; i++) {
        const a = Math.abs(sample[i]!);
        if (a > maxAbs) maxAbs = a;
      }
      const s = Math.fround(maxAbs / this.elementCodec().maxFinite);
      this.setScale(s > 0 && Number.isFinite(s) ? s : 1);
    }
  }

  private setScale(scale: number): void {
    this.scale = scale;
    const base = this.elementCodec().decode(allCodes8());
    const t = new Float32Array(256);
    for (let c = 0; c < 256; c++) t[c] = Math.fround(base[c]! * scale);
    this.scaled8 = t;
  }

  encode(src: Float32Array, n: number, out: Uint8Array): void {
    const count = n * this.dim;
    if (this.spec === "float32") {
      const view = f32View(out);
      if (view !== null) view.set(src.subarray(0, count));
      else {
        const dv = new DataView(out.buffer, out.byteOffset, out.byteLength);
        for (let i = 0; i < count; i++) dv.setFloat32(4 * i, src[i]!, true);
      }
      return;
    }
    if (this.width === 2) {
      const codec = this.spec === "float16" ? float16 : bfloat16;
      const aligned = LITTLE_ENDIAN && out.byteOffset % 2 === 0;
      if (aligned) {
        codec.encodeInto(src.subarray(0, count), new Uint16Array(out.buffer, out.byteOffset, count), {
          saturate: true,
        });
        return;
      }
      const tmp = new Uint16Array(Math.min(count, CHUNK * this.dim));
      for (let s = 0; s < count; s += tmp.length) {
        const len = Math.min(tmp.length, count - s);
        const part = tmp.subarray(0, len);
        codec.encodeInto(src.subarray(s, s + len), part, { saturate: true });
        for (let i = 0; i < len; i++) {
          out[2 * (s + i)] = part[i]! & 0xff;
          out[2 * (s + i) + 1] = part[i]! >>> 8;
        }
      }
      return;
    }
    const codec = this.elementCodec();
    const inv = this.scale;
    const tmp = new Float32Array(Math.min(count, CHUNK * this.dim));
    for (let s = 0; s < count; s += tmp.length) {
      const len = Math.min(tmp.length, count - s);
      for (let i = 0; i < len; i++) tmp[i] = src[s + i]! / inv;
      codec.encodeInto(tmp.subarray(0, len), out.subarray(s, s + len), { saturate: true });
    }
  }

  decode(codes: Uint8Array, n: number, out: Float32Array): void {
    const count = n * this.dim;
    if (this.spec === "float32") {
      const view = f32View(codes);
      if (view !== null) out.set(view.subarray(0, count));
      else {
        const dv = new DataView(codes.buffer, codes.byteOffset, codes.byteLength);
        for (let i = 0; i < count; i++) out[i] = dv.getFloat32(4 * i, true);
      }
      return;
    }
    if (this.width === 2) {
      const t = table16For(this.spec as "float16" | "bfloat16");
      for (let i = 0; i < count; i++) out[i] = t[codes[2 * i]! | (codes[2 * i + 1]! << 8)]!;
      return;
    }
    const t = this.scaled8!;
    for (let i = 0; i < count; i++) out[i] = t[codes[i]!]!;
  }

  prepare(query: Float32Array, space: ScoreSpace, extra: number): QueryScorer {
    if (this.dim === 0) throw new RangeError(NOT_FITTED);
    const d = this.dim;
    const bpv = this.bytesPerVector;
    const q = Float64Array.from(query);
    const l2 = space === "l2";
    // l2: −‖q − x‖² = −‖q‖² + Σ x (2q − x); the loops accumulate Σ x (q2 − x) with q2 = 2q.
    const q2 = Float64Array.from(query, (v) => 2 * v);
    const base = (l2 ? -norm2(query) : 0) + extra;
    // Values come from a float32 view, a 16-bit view through a 65 536-entry table, or a 256-entry table;
    // two partial sums break the add chain. dot: Σ q x; l2: base + Σ x (2q − x).
    let scoreAt: (codes: Uint8Array, i: number) => number;
    if (this.spec === "float32") {
      const cache = new ViewCache<Float32Array | DataView>(
        (codes) => f32View(codes) ?? new DataView(codes.buffer, codes.byteOffset, codes.byteLength),
      );
      scoreAt = (codes, i) => {
        const v = cache.get(codes);
        let a0 = 0;
        let a1 = 0;
        if (v instanceof Float32Array) {
          const o = i * d;
          let t = 0;
          if (l2) {
            for (; t + 1 < d; t += 2) {
              const x0 = v[o + t]!;
              const x1 = v[o + t + 1]!;
              a0 += x0 * (q2[t]! - x0);
              a1 += x1 * (q2[t + 1]! - x1);
            }
            if (t < d) a0 += v[o + t]! * (q2[t]! - v[o + t]!);
          } else {
            for (; t + 1 < d; t += 2) {
              a0 += q[t]! * v[o + t]!;
              a1 += q[t + 1]! * v[o + t + 1]!;
            }
            if (t < d) a0 += q[t]! * v[o + t]!;
          }
        } else {
          // Same summation order as the aligned loop: even dims in a0, odd in a1.
          const o = i * bpv;
          for (let t = 0; t < d; t++) {
            const x = v.getFloat32(o + 4 * t, true);
            const y = l2 ? x * (q2[t]! - x) : q[t]! * x;
            if ((t & 1) === 0) a0 += y;
            else a1 += y;
          }
        }
        return base + a0 + a1;
      };
    } else if (this.width === 2) {
      const tab = table16For(this.spec as "float16" | "bfloat16");
      const cache = new ViewCache<Uint16Array | null>(u16View);
      scoreAt = (codes, i) => {
        const v = cache.get(codes);
        let a0 = 0;
        let a1 = 0;
        if (v !== null) {
          const o = i * d;
          let t = 0;
          if (l2) {
            for (; t + 1 < d; t += 2) {
              const x0 = tab[v[o + t]!]!;
              const x1 = tab[v[o + t + 1]!]!;
              a0 += x0 * (q2[t]! - x0);
              a1 += x1 * (q2[t + 1]! - x1);
            }
            if (t < d) {
              const x = tab[v[o + t]!]!;
              a0 += x * (q2[t]! - x);
            }
          } else {
            for (; t + 1 < d; t += 2) {
              a0 += q[t]! * tab[v[o + t]!]!;
              a1 += q[t + 1]! * tab[v[o + t + 1]!]!;
            }
            if (t < d) a0 += q[t]! * tab[v[o + t]!]!;
          }
        } else {
          let o = i * bpv;
          for (let t = 0; t < d; t++, o += 2) {
            const x = tab[codes[o]! | (codes[o + 1]! << 8)]!;
            const y = l2 ? x * (q2[t]! - x) : q[t]! * x;
            if ((t & 1) === 0) a0 += y;
            else a1 += y;
          }
        }
        return base + a0 + a1;
      };
    } else {
      const tab = this.scaled8!;
      scoreAt = (codes, i) => {
        let a0 = 0;
        let a1 = 0;
        const o = i * bpv;
        let t = 0;
        if (l2) {
          for (; t + 1 < d; t += 2) {
            const x0 = tab[codes[o + t]!]!;
            const x1 = tab[codes[o + t + 1]!]!;
            a0 += x0 * (q2[t]! - x0);
            a1 += x1 * (q2[t + 1]! - x1);
          }
          if (t < d) {
            const x = tab[codes[o + t]!]!;
            a0 += x * (q2[t]! - x);
          }
        } else {
          for (; t + 1 < d; t += 2) {
            a0 += q[t]! * tab[codes[o + t]!]!;
            a1 += q[t + 1]! * tab[codes[o + t + 1]!]!;
          }
          if (t < d) a0 += q[t]! * tab[codes[o + t]!]!;
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

  save(params: Params, _arrays: Arrays, prefix: string): void {
    if (this.width === 1) params[`${prefix}scale`] = this.scale;
  }

  load(dim: number, state: StateReader): void {
    this.dim = dim;
    this.bytesPerVector = dim * this.width;
    if (this.width === 1) {
      const s = state.num("scale", Number.MIN_VALUE, 3.4028234663852886e38);
      this.setScale(Math.fround(s));
    }
  }
}
