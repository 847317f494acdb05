import { CorruptDataError, describe, throwIfAborted } from "@lowbit/bits";
import type { FitOptions, QueryScorer, ScoreSpace } from "./types.js";

/** Fitted parameters of one stage, written under a stage prefix ("s0.", "s1.", …) of the CodecState. */
export type Params = Record<string, number | string | boolean>;
export type Arrays = Record<string, Float32Array>;

/** A stage reading the state of a restored codec: the prefix-qualified parameters and arrays. */
export interface StateReader {
  num(name: string, min: number, max: number, integer?: boolean): number;
  str(name: string): string;
  array(name: string, length: number): Float32Array<ArrayBuffer>;
}

/** The last stage of a codec: float vectors of `dim` → codes of `bytesPerVector` bytes. */
export interface TerminalStage {
  readonly kind: "terminal";
  /** Canonical stage spec ("int8", "pq:8", …). */
  readonly spec: string;
  readonly dim: number;
  readonly bytesPerVector: number;
  readonly paramBytes: number;
  /** Sample rows fit looks at, of n offered (0: only the dimension matters). */
  sampleRows(n: number): number;
  /** `sample`: n × dim, validated (finite). */
  fit(sample: Float32Array, n: number, dim: number, options: FitOptions): void;
  /** `src`: n × dim, finite; `out`: exactly n × bytesPerVector bytes. */
  encode(src: Float32Array, n: number, out: Uint8Array): void;
  /** `out`: at least n × dim values. */
  decode(codes: Uint8Array, n: number, out: Float32Array): void;
  /** `q`: the query in this stage's input space; `extra` is added to every score. */
  prepare(q: Float32Array, space: ScoreSpace, extra: number): QueryScorer;
  save(params: Params, arrays: Arrays, prefix: string): void;
  load(dim: number, state: StateReader): void;
}

/** A linear stage with orthonormal rows: x (inDim) → y = P x (outDim); back: x̂ = Pᵀ ŷ. */
export interface TransformStage {
  readonly kind: "transform";
  readonly spec: string;
  readonly inDim: number;
  readonly outDim: number;
  readonly paramBytes: number;
  /** Sample rows fit looks at, of n offered at input dimension dim. */
  sampleRows(n: number, dim: number): number;
  fit(sample: Float32Array, n: number, dim: number, options: FitOptions): void;
  forward(src: Float32Array, n: number, out: Float32Array): void;
  backward(src: Float32Array, n: number, out: Float32Array): void;
  save(params: Params, arrays: Arrays, prefix: string): void;
  load(dim: number, state: StateReader): void;
}

export const NOT_FITTED = "codec is not fitted: call fit(sample, dim) first";

/** True on little-endian platforms (every platform Node and browsers run on today). */
export const LITTLE_ENDIAN = new Uint8Array(new Uint16Array([1]).buffer)[0] === 1;

/** Throws a RangeError naming the row and column of the first non-finite value of an n × dim array. */
export function assertFiniteRows(data: Float32Array, dim: number, name: string): void {
  for (let i = 0; i < data.length; i++) {
    const v = data[i]!;
    if (v - v !== 0) {
      const row = Math.floor(i / dim);
      throw new RangeError(`${name} must be finite: row ${row}, column ${i - row * dim} is ${describe(v)}`);
    }
  }
}

/** Throws unless `data` is a whole number of rows of `dim`; returns the row count. */
export function rowCount(data: Float32Array, dim: number, name: string): number {
  if (data.length % dim !== 0) {
    throw new RangeError(
      `${name} must hold whole rows of dim = ${dim}: length ${data.length} is not a multiple of ${dim} ` +
        `(dimension mismatch?)`,
    );
  }
  return data.length / dim;
}

/**
 * Caches a typed view of a code array so that per-vector `score(codes, i)` calls do not allocate. The
 * view is rebuilt only when another code array (or a moved one) comes in.
 */
export class ViewCache<V> {
  private codes: Uint8Array | null = null;
  private buffer: ArrayBufferLike | null = null;
  private offset = -1;
  private length = -1;
  private view: V | null = null;

  constructor(private readonly make: (codes: Uint8Array) => V) {}

  get(codes: Uint8Array): V {
    if (
      codes !== this.codes ||
      codes.buffer !== this.buffer ||
      codes.byteOffset !== this.offset ||
      codes.length !== this.length
    ) {
      this.codes = codes;
      this.buffer = codes.buffer;
      this.offset = codes.byteOffset;
      this.length = codes.length;
      this.view = this.make(codes);
    }
    return this.view!;
  }
}

/** A little-endian 16-bit view of codes (zero-copy when aligned), or null where one cannot be made. */
export function u16View(codes: Uint8Array): Uint16Array | null {
  if (!LITTLE_ENDIAN || codes.byteOffset % 2 !== 0) return null;
  return new Uint16Array(codes.buffer, codes.byteOffset, codes.length >>> 1);
}

/** A little-endian float32 view of codes (zero-copy when aligned), or null. */
export function f32View(codes: Uint8Array): Float32Array | null {
  if (!LITTLE_ENDIAN || codes.byteOffset % 4 !== 0) return null;
  return new Float32Array(codes.buffer, codes.byteOffset, codes.length >>> 2);
}

/** Checks scoreRange arguments (cheap, once per call). */
export function checkRange(
  codes: Uint8Array,
  start: number,
  end: number,
  out: Float32Array,
  bpv: number,
): void {
  if (!(codes instanceof Uint8Array))
    throw new TypeError(`codes must be a Uint8Array, got ${describe(codes)}`);
  if (!Number.isInteger(start) || !Number.isInteger(end) || start < 0 || end < start) {
    throw new RangeError(`start and end must be integers with 0 ≤ start ≤ end, got ${start}, ${end}`);
  }
  if (end * bpv > codes.length) {
    throw new RangeError(
      `codes hold ${Math.floor(codes.length / bpv)} vectors of ${bpv} bytes, asked for [${start}, ${end})`,
    );
  }
  if (!(out instanceof Float32Array)) throw new TypeError(`out must be a Float32Array, got ${describe(out)}`);
  if (out.length < end - start) {
    throw new RangeError(`out must hold end − start = ${end - start} scores, got ${out.length}`);
  }
}

export function checkIndex(codes: Uint8Array, i: number, bpv: number): void {
  if (!(codes instanceof Uint8Array))
    throw new TypeError(`codes must be a Uint8Array, got ${describe(codes)}`);
  if (!Number.isInteger(i) || i < 0 || (i + 1) * bpv > codes.length) {
    throw new RangeError(
      `vector index must be in [0, ${Math.floor(codes.length / bpv)}), got ${describe(i)}`,
    );
  }
}

/** Builds a reader over a CodecState's params and arrays for one stage prefix; bad values → CorruptDataError. */
export function stateReader(
  params: Readonly<Record<string, unknown>>,
  arrays: Readonly<Record<string, unknown>>,
  prefix: string,
): StateReader {
  return {
    num(name, min, max, integer = false) {
      const key = prefix + name;
      const v = params[key];
      if (typeof v !== "number" || !(v >= min && v <= max) || (integer && !Number.isInteger(v))) {
        throw new CorruptDataError(
          `codec state param "${key}" must be ${integer ? "an integer" : "a number"} in [${min}, ${max}], got ${describe(v)}`,
        );
      }
      return v;
    },
    str(name) {
      const key = prefix + name;
      const v = params[key];
      if (typeof v !== "string")
        throw new CorruptDataError(`codec state param "${key}" must be a string, got ${describe(v)}`);
      return v;
    },
    array(name, length) {
      const key = prefix + name;
      const v = arrays[key];
      if (!(v instanceof Float32Array)) {
        throw new CorruptDataError(`codec state array "${key}" must be a Float32Array, got ${describe(v)}`);
      }
      if (v.length !== length) {
        throw new CorruptDataError(`codec state array "${key}" must have ${length} values, got ${v.length}`);
      }
      for (let i = 0; i < v.length; i++) {
        const x = v[i]!;
        if (x - x !== 0) throw new CorruptDataError(`codec state array "${key}"[${i}] is not finite`);
      }
      return v.slice();
    },
  };
}

export function progress(options: FitOptions, done: number, total: number): void {
  throwIfAborted(options.signal);
  options.onProgress?.(done, total);
}

/** Squared norm of x in float64. */
export function norm2(x: Float32Array): number {
  let s = 0;
  for (let i = 0; i < x.length; i++) s += x[i]! * x[i]!;
  return s;
}

/** Rows of a sample, chosen without replacement from createRng-driven draws when n > max (kept in order). */
export function subsampleRows(
  sample: Float32Array,
  n: number,
  dim: number,
  max: number,
  nextFloat: () => number,
): { data: Float32Array; n: number } {
  if (n <= max) return { data: sample, n };
  // Partial Fisher–Yates over row indices, then sorted for sequential copying.
  const idx = new Int32Array(n);
  for (let i = 0; i < n; i++) idx[i] = i;
  for (let i = 0; i < max; i++) {
    const j = i + Math.min(n - i - 1, Math.floor(nextFloat() * (n - i)));
    const t = idx[i]!;
    idx[i] = idx[j]!;
    idx[j] = t;
  }
  const chosen = idx.subarray(0, max).sort();
  const data = new Float32Array(max * dim);
  for (let r = 0; r < max; r++) {
    const s = chosen[r]! * dim;
    data.set(sample.subarray(s, s + dim), r * dim);
  }
  return { data, n: max };
}
