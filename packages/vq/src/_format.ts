import { CorruptDataError, describe, type QuantizedTensor, type TensorPart } from "@lowbit/bits";
import { float16 } from "@lowbit/fp16";
import { packedCodesLength, unpackCodes } from "./codes.js";
import type { KmeansAssigner } from "./kmeans.js";

export type VqFormat = "vq" | "pq" | "rvq" | "aq";
export type Normalize = "none" | "norm" | "absmax";

/** Every option of every format, resolved. Options a format does not have are unused. */
export interface Resolved {
  readonly format: VqFormat;
  /** Vector (vq, pq, rvq) or group (aq) length along the last dimension. */
  readonly v: number;
  /** Number of codebooks (vq: 1 + residual; pq: subspaces; rvq/aq: codebooks). */
  readonly M: number;
  readonly bits: number;
  readonly beam: number;
  readonly rounds: number;
  readonly seed: number;
  readonly iterations: number;
  /** Train codebooks on a seeded sample of this many vectors (0 = all), then encode every vector. */
  readonly trainSample: number;
  readonly normalize: Normalize;
  readonly importance: Float32Array | null;
  readonly importanceFlag: boolean;
  /** vq: H = XᵀX [cols, cols] for GPTQ-style error feedback (runtime only; the spec records a boolean). */
  readonly hessian: Float32Array | null;
  /** vq: number of input columns kept in float16. */
  readonly outliers: number;
  /** Runtime-only `pool` option (a KmeansAssigner, e.g. createKmeansPool); never recorded in the spec. */
  readonly pool: KmeansAssigner | null;
  /** The resolved spec as stored (JSON-serialisable). */
  readonly spec: Readonly<Record<string, unknown>> & { readonly format: string };
}

interface OptDef {
  readonly name: string;
  readonly def: unknown;
  readonly min?: number;
  readonly max?: number;
}

const INT = (name: string, def: number, min: number, max: number): OptDef => ({ name, def, min, max });

export const OPTIONS: Readonly<Record<VqFormat, readonly OptDef[]>> = {
  vq: [
    INT("vectorLength", 8, 1, 1024),
    INT("bits", 8, 1, 16),
    INT("residual", 0, 0, 7),
    { name: "normalize", def: "none" },
    { name: "importance", def: false },
    INT("outliers", 0, 0, 1 << 20),
    { name: "hessian", def: false },
    INT("seed", 0, -(2 ** 31), 2 ** 32 - 1),
    INT("iterations", 25, 0, 10000),
    INT("trainSample", 0, 0, 2 ** 31 - 1),
  ],
  pq: [
    INT("vectorLength", 8, 1, 1024),
    INT("subspaces", 2, 1, 1024),
    INT("bits", 8, 1, 16),
    INT("seed", 0, -(2 ** 31), 2 ** 32 - 1),
    INT("iterations", 25, 0, 10000),
    INT("trainSample", 0, 0, 2 ** 31 - 1),
  ],
  rvq: [
    INT("vectorLength", 8, 1, 1024),
    INT("codebooks", 2, 1, 16),
    INT("bits", 8, 1, 16),
    INT("beam", 4, 1, 64),
    INT("seed", 0, -(2 ** 31), 2 ** 32 - 1),
    INT("iterations", 25, 0, 10000),
    INT("trainSample", 0, 0, 2 ** 31 - 1),
  ],
  aq: [
    INT("group", 8, 1, 1024),
    INT("codebooks", 2, 1, 16),
    INT("bits", 8, 1, 16),
    INT("beam", 8, 1, 64),
    INT("rounds", 6, 0, 1000),
    INT("seed", 0, -(2 ** 31), 2 ** 32 - 1),
    INT("iterations", 20, 0, 10000),
    INT("trainSample", 0, 0, 2 ** 31 - 1),
  ],
};

export function defaultsOf(format: VqFormat): Readonly<Record<string, unknown>> {
  const out: Record<string, unknown> = {};
  for (const o of OPTIONS[format]) out[o.name] = o.def;
  return Object.freeze(out);
}

/**
 * Resolves options. `stored` = reading a QuantizedTensor's spec (errors become CorruptDataError by the
 * caller; `importance` is then the recorded boolean).
 */
export function resolve(format: VqFormat, spec: unknown, stored: boolean): Resolved {
  if (spec !== undefined && (typeof spec !== "object" || spec === null || Array.isArray(spec))) {
    throw new TypeError(`spec must be an options object, got ${describe(spec)}`);
  }
  const s = (spec ?? {}) as Record<string, unknown>;
  const defs = OPTIONS[format];
  for (const key of Object.keys(s)) {
    if (key === "pool" && !stored) continue;
    if (key === "format") {
      if (s["format"] !== format) {
        throw new RangeError(`spec.format must be ${JSON.stringify(format)}, got ${describe(s["format"])}`);
      }
      continue;
    }
    if (!defs.some((d) => d.name === key)) {
      throw new RangeError(
        `unknown option ${JSON.stringify(key)} for ${format}; known: ${defs.map((d) => d.name).join(", ")}`,
      );
    }
  }
  const out: Record<string, unknown> = { format };
  let importance: Float32Array | null = null;
  let hessian: Float32Array | null = null;
  for (const d of defs) {
    const val = s[d.name] ?? d.def;
    if (d.min !== undefined) {
      if (typeof val !== "number") throw new TypeError(`${d.name} must be an integer, got ${describe(val)}`);
      if (!Number.isInteger(val) || val < d.min || val > d.max!) {
        throw new RangeError(`${d.name} must be an integer in [${d.min}, ${d.max}], got ${describe(val)}`);
      }
      out[d.name] = val;
    } else if (d.name === "normalize") {
      if (typeof val !== "string")
        throw new TypeError(`normalize must be "none" | "norm" | "absmax", got ${describe(val)}`);
      if (val !== "none" && val !== "norm" && val !== "absmax") {
        throw new RangeError(`normalize must be "none" | "norm" | "absmax", got ${describe(val)}`);
      }
      out[d.name] = val;
    } else if (d.name === "importance" || d.name === "hessian") {
      const what = d.name === "importance" ? "per-input-column weights" : "XᵀX [cols, cols]";
      if (stored) {
        if (typeof val !== "boolean")
          throw new TypeError(`${d.name} must be a boolean in a stored spec, got ${describe(val)}`);
        out[d.name] = val;
      } else {
        if (val !== false && !(val instanceof Float32Array)) {
          throw new TypeError(
            `${d.name} must be a Float32Array of ${what} (a resolved spec's boolean only records that it was used), got ${describe(val)}`,
          );
        }
        const arr = val instanceof Float32Array ? val : null;
        if (d.name === "importance") importance = arr;
        else hessian = arr;
        out[d.name] = arr !== null;
      }
    }
  }
  const pool = stored ? undefined : s["pool"];
  if (
    pool !== undefined &&
    (typeof pool !== "object" || pool === null || typeof (pool as KmeansAssigner).assign !== "function")
  ) {
    throw new TypeError(
      `pool must be a k-means pool (createKmeansPool from @lowbit/vq/node), got ${describe(pool)}`,
    );
  }
  const num = (n: string): number => (out[n] as number | undefined) ?? 0;
  const v = format === "aq" ? num("group") : num("vectorLength");
  const M = format === "vq" ? 1 + num("residual") : format === "pq" ? num("subspaces") : num("codebooks");
  if (format === "pq" && v % M !== 0) {
    throw new RangeError(`vectorLength (${v}) must be a multiple of subspaces (${M})`);
  }
  const bits = num("bits");
  if ((format === "rvq" || format === "aq") && M > 1 && M * M * 4 ** bits > 2 ** 24) {
    throw new RangeError(
      `${format} with ${M} codebooks of ${bits} bits needs a ${M}²·4^${bits}-entry cross-product table; use bits ≤ ${Math.floor(Math.log2(2 ** 12 / M))} or 1 codebook`,
    );
  }
  return {
    format,
    v,
    M,
    bits,
    beam: num("beam") || 1,
    rounds: num("rounds"),
    seed: num("seed"),
    iterations: num("iterations"),
    trainSample: num("trainSample"),
    normalize: (out["normalize"] as Normalize | undefined) ?? (format === "aq" ? "norm" : "none"),
    importance,
    importanceFlag: out["importance"] === true,
    hessian,
    outliers: num("outliers"),
    pool: (pool as KmeansAssigner | undefined) ?? null,
    spec: out as Record<string, unknown> & { format: string },
  };
}

/** [rows, cols]: 0-D → [1, 1], 1-D → [1, n], N-D → [product of leading dims, last]. */
export function matrixOf(shape: readonly number[]): [number, number] {
  if (shape.length === 0) return [1, 1];
  const cols = shape[shape.length - 1]!;
  let rows = 1;
  for (let i = 0; i < shape.length - 1; i++) rows *= shape[i]!;
  return [rows, cols];
}

export interface Layout {
  readonly r: Resolved;
  readonly rows: number;
  readonly cols: number;
  /** Vectors per row. */
  readonly G: number;
  readonly K: number;
  /** Length of one codebook entry (v, or v/M for pq). */
  readonly sub: number;
  readonly additive: boolean;
  readonly scaled: boolean;
}

export function layoutOf(r: Resolved, shape: readonly number[]): Layout {
  const [rows, cols] = matrixOf(shape);
  if (cols % r.v !== 0) {
    throw new RangeError(
      `shape [${shape.join(", ")}]: the last dimension (${cols}) must be a multiple of the ${r.format === "aq" ? "group" : "vector"} length ${r.v} (pad the input columns)`,
    );
  }
  if (r.outliers > cols) {
    throw new RangeError(`outliers (${r.outliers}) must not exceed the number of input columns (${cols})`);
  }
  const additive = r.format !== "pq";
  return {
    r,
    rows,
    cols,
    G: cols / r.v,
    K: 2 ** r.bits,
    sub: additive ? r.v : r.v / r.M,
    additive,
    scaled: r.format === "aq" || (r.format === "vq" && r.normalize !== "none"),
  };
}

/** The float32 view of a decoded tensor's parts. */
export interface Decoded {
  readonly L: Layout;
  readonly qdata: Uint8Array;
  /** [M, K, sub] float32. */
  readonly codebooks: Float32Array;
  /** [rows] float32, or null. */
  readonly scales: Float32Array | null;
  /** vq outlier columns (ascending) and their float16 values [rows, count], or null. */
  readonly outlierColumns: Int32Array | null;
  readonly outlierValues: Float32Array | null;
}

function part(
  qt: QuantizedTensor,
  name: string,
  dtype: string,
  shape: readonly number[],
  ctor: typeof Uint8Array | typeof Uint16Array | typeof Int32Array,
): TensorPart {
  const p = qt.parts[name];
  if (p === undefined) throw new CorruptDataError(`part ${JSON.stringify(name)} is missing`);
  if (p.dtype !== dtype)
    throw new CorruptDataError(`part ${name} must be ${dtype}, got ${describe(p.dtype)}`);
  const n = shape.reduce((a, b) => a * b, 1);
  if (!(p.data instanceof ctor) || p.data.length !== n) {
    throw new CorruptDataError(`part ${name} must hold ${n} elements of ${dtype}, got ${describe(p.data)}`);
  }
  if (!Array.isArray(p.shape) || p.shape.length !== shape.length || p.shape.some((d, i) => d !== shape[i])) {
    throw new CorruptDataError(
      `part ${name} must have shape [${shape.join(", ")}], got ${describe(p.shape)}`,
    );
  }
  return p;
}

/** Validates a QuantizedTensor of `format` and returns its parts as float32. Throws CorruptDataError. */
export function readTensor(format: VqFormat, qt: QuantizedTensor): Decoded {
  if (typeof qt !== "object" || qt === null)
    throw new TypeError(`qt must be a QuantizedTensor, got ${describe(qt)}`);
  let L: Layout;
  try {
    if (qt.spec?.format !== format)
      throw new Error(`spec.format must be ${JSON.stringify(format)}, got ${describe(qt.spec?.format)}`);
    const r = resolve(format, qt.spec, true);
    L = layoutOf(r, qt.shape);
  } catch (e) {
    if (e instanceof CorruptDataError) throw e;
    throw new CorruptDataError(`malformed ${format} tensor: ${(e as Error).message}`, { cause: e });
  }
  const nCodes = L.rows * L.G * L.r.M;
  const qlen = packedCodesLength(nCodes, L.r.bits);
  const q = part(qt, "qdata", "U8", [qlen], Uint8Array).data as Uint8Array;
  const cbp = part(qt, "codebooks", "F16", [L.r.M, L.K, L.sub], Uint16Array).data as Uint16Array;
  const codebooks = float16.decode(cbp);
  for (let i = 0; i < codebooks.length; i++) {
    if (codebooks[i]! - codebooks[i]! !== 0) throw new CorruptDataError(`codebooks[${i}] is not finite`);
  }
  let scales: Float32Array | null = null;
  if (L.scaled) {
    scales = float16.decode(part(qt, "scales", "F16", [L.rows], Uint16Array).data as Uint16Array);
    for (let i = 0; i < scales.length; i++) {
      if (scales[i]! - scales[i]! !== 0) throw new CorruptDataError(`scales[${i}] is not finite`);
    }
  } else if (qt.parts["scales"] !== undefined) {
    throw new CorruptDataError(`part "scales" is not expected for this ${format} spec`);
  }
  let outlierColumns: Int32Array | null = null;
  let outlierValues: Float32Array | null = null;
  const no = L.r.outliers;
  if (no > 0) {
    outlierColumns = part(qt, "outlierColumns", "I32", [no], Int32Array).data as Int32Array;
    for (let i = 0; i < no; i++) {
      const c = outlierColumns[i]!;
      if (c < 0 || c >= L.cols || (i > 0 && c <= outlierColumns[i - 1]!)) {
        throw new CorruptDataError(
          `outlierColumns must be ascending column indices < ${L.cols}; [${i}] = ${c}`,
        );
      }
    }
    outlierValues = float16.decode(
      part(qt, "outliers", "F16", [L.rows, no], Uint16Array).data as Uint16Array,
    );
    for (let i = 0; i < outlierValues.length; i++) {
      if (outlierValues[i]! - outlierValues[i]! !== 0)
        throw new CorruptDataError(`outliers[${i}] is not finite`);
    }
  } else if (qt.parts["outliers"] !== undefined || qt.parts["outlierColumns"] !== undefined) {
    throw new CorruptDataError(`parts "outliers"/"outlierColumns" are not expected for this ${format} spec`);
  }
  return { L, qdata: q, codebooks, scales, outlierColumns, outlierValues };
}

/** All codes as Uint16 [rows, G, M]. */
export function codesOf(D: Decoded): Uint16Array {
  const { L } = D;
  return unpackCodes(D.qdata, L.rows * L.G * L.r.M, L.r.bits);
}

/**
 * Decode: w[r, j·v + t] = fl32(scale[r] · fl32(Σ_m C_m[code(r, j, m)][t])) (additive; the sum in
 * float64), or the concatenation of the M sub-entries (pq). Unscaled formats use scale 1.
 */
export function decodeInto(D: Decoded, dst: Float32Array): void {
  const { L, codebooks, scales } = D;
  const { rows, G, K, sub, additive } = L;
  const { M, v } = L.r;
  const codes: Uint8Array | Uint16Array = L.r.bits === 8 ? D.qdata : codesOf(D);
  const off = new Int32Array(M);
  let ci = 0;
  for (let r = 0; r < rows; r++) {
    const s = scales === null ? 1 : scales[r]!;
    const ro = r * G * v;
    for (let j = 0; j < G; j++) {
      const o = ro + j * v;
      if (!additive) {
        for (let m = 0; m < M; m++) {
          const e = (m * K + codes[ci++]!) * sub;
          const so = o + m * sub;
          for (let t = 0; t < sub; t++) dst[so + t] = s * codebooks[e + t]!;
        }
      } else if (M === 1) {
        const e = codes[ci++]! * sub;
        for (let t = 0; t < v; t++) dst[o + t] = s * codebooks[e + t]!;
      } else if (M === 2) {
        const e0 = codes[ci]! * sub;
        const e1 = (K + codes[ci + 1]!) * sub;
        ci += 2;
        for (let t = 0; t < v; t++) dst[o + t] = s * Math.fround(codebooks[e0 + t]! + codebooks[e1 + t]!);
      } else {
        for (let m = 0; m < M; m++) off[m] = (m * K + codes[ci + m]!) * sub;
        ci += M;
        for (let t = 0; t < v; t++) {
          let sum = 0;
          for (let m = 0; m < M; m++) sum += codebooks[off[m]! + t]!;
          dst[o + t] = s * Math.fround(sum);
        }
      }
    }
  }
  const oc = D.outlierColumns;
  const ov = D.outlierValues;
  if (oc !== null && ov !== null) {
    const no = oc.length;
    const cols = L.cols;
    for (let r = 0; r < rows; r++) for (let k = 0; k < no; k++) dst[r * cols + oc[k]!] = ov[r * no + k]!;
  }
}
