import {
  assertShapeMatches,
  CorruptDataError,
  createRng,
  describe,
  packedLength,
  packInto,
  type QuantizedTensor,
  type Quantizer,
  shapeSize,
  type TensorPart,
  throwIfAborted,
  type WorkContext,
} from "@lowbit/bits";
import { float16 } from "@lowbit/fp16";
import { createWorkspace, fit, type KmeansWorkspace, prepare } from "./_kmeans.js";
import { createNearestTable, type NearestTable, nearestCode, prepareNearest } from "./_nearest.js";
import { createSortBuffers, radixSort, type SortBuffers } from "./_sort.js";
import { DEFAULT_ITERATIONS } from "./kmeans1d.js";

/**
 * any2 / any3 / any4 (facebookresearch/any4): per-row lookup table of 2^N float16 entries, per-group
 * float16 scale and zero; value = lut[row][code] · scale + zero (float32, rounded after each step).
 *
 * Encoding, per row of [rows, cols] (rows = product of the leading dims, cols = last dim):
 * 1. each group of `group` values gets the reference's asymmetric normalisation (any4 `group_q`):
 *    scale = max(max − min, 1e−6) / (2^N − 1), zero = min + scale · 2^(N−1), in float32; both are
 *    stored as float16;
 * 2. the row's normalised values (x − min) / scale − 2^(N−1) ∈ [−2^(N−1), 2^(N−1) − 1] are clustered by
 *    weighted 1-D k-means (k = 2^N, greedy k-means++ from the seed, Lloyd); the sorted centres,
 *    rounded to float16, are the row's table;
 * 3. codes are the nearest table entry (ties to the lower index) of (x − zero) / scale computed with
 *    the stored float16 scale and zero, so a code is chosen for the value decode will produce.
 */

const OPTION_NAMES = ["group", "seed", "iterations", "calibration", "scaleSampleWeight"] as const;
const MIN_RANGE = Math.fround(1e-6);

interface AnyOptions {
  readonly group: number;
  readonly seed: number;
  readonly iterations: number;
  readonly calibration: Float32Array | null;
  readonly scaleSampleWeight: boolean;
}

/** [rows, cols] of a tensor shape: 0-D → [1, 1], 1-D → [1, n], N-D → [product of leading dims, last]. */
function matrixOf(shape: readonly number[]): [number, number] {
  if (shape.length === 0) return [1, 1];
  const cols = shape[shape.length - 1]!;
  let rows = 1;
  for (let i = 0; i < shape.length - 1; i++) rows *= shape[i]!;
  return [rows, cols];
}

function resolveOptions(name: string, spec: Readonly<Record<string, unknown>> | undefined): AnyOptions {
  if (spec !== undefined && (typeof spec !== "object" || spec === null || Array.isArray(spec))) {
    throw new TypeError(`spec must be an options object, got ${describe(spec)}`);
  }
  const s = spec ?? {};
  for (const key of Object.keys(s)) {
    if (key === "format") {
      if (s["format"] !== name) {
        throw new RangeError(`spec.format must be ${JSON.stringify(name)}, got ${describe(s["format"])}`);
      }
      continue;
    }
    if (!(OPTION_NAMES as readonly string[]).includes(key)) {
      throw new RangeError(
        `unknown option ${JSON.stringify(key)} for ${name}; known: ${OPTION_NAMES.join(", ")}`,
      );
    }
  }
  const group = s["group"] ?? 128;
  if (typeof group !== "number") throw new TypeError(`group must be an integer, got ${describe(group)}`);
  if (!Number.isInteger(group) || group < 1 || group > 2 ** 31) {
    throw new RangeError(`group must be an integer in [1, 2^31], got ${describe(group)}`);
  }
  const seed = s["seed"] ?? 0;
  if (typeof seed !== "number" || !Number.isSafeInteger(seed)) {
    throw new TypeError(`seed must be a safe integer, got ${describe(seed)}`);
  }
  const iterations = s["iterations"] ?? DEFAULT_ITERATIONS;
  if (typeof iterations !== "number") {
    throw new TypeError(`iterations must be an integer, got ${describe(iterations)}`);
  }
  if (!Number.isInteger(iterations) || iterations < 0 || iterations > 1_000_000) {
    throw new RangeError(`iterations must be an integer in [0, 1000000], got ${describe(iterations)}`);
  }
  const cal = s["calibration"] ?? null;
  if (cal !== null && cal !== false && !(cal instanceof Float32Array)) {
    throw new TypeError(
      `calibration must be a Float32Array of per-column weights (a resolved spec's boolean only records ` +
        `that weights were used), got ${describe(cal)}`,
    );
  }
  const ssw = s["scaleSampleWeight"] ?? false;
  if (typeof ssw !== "boolean")
    throw new TypeError(`scaleSampleWeight must be a boolean, got ${describe(ssw)}`);
  return {
    group,
    seed,
    iterations,
    calibration: cal instanceof Float32Array ? cal : null,
    scaleSampleWeight: ssw,
  };
}

/** Row r draws its k-means++ samples from createRng(seed ^ r·0x9E3779B9): row 0 uses createRng(seed). */
function rowSeed(seed: number, row: number): number {
  return ((seed >>> 0) ^ Math.imul(row, 0x9e3779b9)) >>> 0;
}

/** Scratch for one row, reused across rows. */
interface RowState {
  readonly min: Float32Array;
  readonly scale: Float32Array;
  readonly zeroF32: Float32Array;
  readonly scale16: Float32Array;
  readonly zero16: Float32Array;
  readonly scaleBits: Uint16Array;
  readonly zeroBits: Uint16Array;
  readonly sort: SortBuffers;
  readonly ws: KmeansWorkspace;
  readonly rowWeights: Float64Array | null;
  readonly sortedWeights: Float64Array | null;
  readonly centers: Float64Array;
  readonly lutRow: Float32Array;
  readonly table: NearestTable;
}

function createRowState(cols: number, groups: number, k: number, weighted: boolean): RowState {
  return {
    min: new Float32Array(groups),
    scale: new Float32Array(groups),
    zeroF32: new Float32Array(groups),
    scale16: new Float32Array(groups),
    zero16: new Float32Array(groups),
    scaleBits: new Uint16Array(groups),
    zeroBits: new Uint16Array(groups),
    sort: createSortBuffers(cols),
    ws: createWorkspace(cols, k),
    rowWeights: weighted ? new Float64Array(cols) : null,
    sortedWeights: weighted ? new Float64Array(cols) : null,
    centers: new Float64Array(k),
    lutRow: new Float32Array(k),
    table: createNearestTable(),
  };
}

/**
 * The reference's asymmetric group normalisation (any4 `group_q`, float32): scale = max(max − min,
 * 1e−6) / (2^N − 1), zero = min + scale · 2^(N−1); and their float16 storage.
 */
function groupParams(
  src: Float32Array,
  base: number,
  group: number,
  groups: number,
  qmax: number,
  half: number,
  st: RowState,
): void {
  for (let g = 0; g < groups; g++) {
    const a = base + g * group;
    let mn = Number.POSITIVE_INFINITY;
    let mx = Number.NEGATIVE_INFINITY;
    for (let i = a; i < a + group; i++) {
      const v = src[i]!;
      if (v - v !== 0) throw new RangeError(`src[${i}] must be finite, got ${describe(v)}`);
      if (v < mn) mn = v;
      if (v > mx) mx = v;
    }
    let range = Math.fround(mx - mn);
    if (range < MIN_RANGE) range = MIN_RANGE;
    const scale = Math.fround(range / qmax);
    const zero = Math.fround(mn + Math.fround(scale * half));
    const s16 = float16.encodeValue(scale);
    const z16 = float16.encodeValue(zero);
    st.min[g] = mn;
    st.scale[g] = scale;
    st.zeroF32[g] = zero;
    st.scaleBits[g] = s16;
    st.zeroBits[g] = z16;
    st.scale16[g] = float16.decodeValue(s16);
    st.zero16[g] = float16.decodeValue(z16);
  }
}

/**
 * Sort keys of the row's normalised values (x − min) / scale ∈ [0, 2^N − 1] (float32). They are
 * non-negative, so their float32 bit patterns sort as unsigned integers.
 */
function normalisedKeys(src: Float32Array, base: number, group: number, groups: number, st: RowState): void {
  const keys = new Float32Array(st.sort.keys.buffer, st.sort.keys.byteOffset, st.sort.keys.length);
  for (let g = 0; g < groups; g++) {
    const mn = st.min[g]!;
    const scale = st.scale[g]!;
    const a = g * group;
    for (let i = a; i < a + group; i++) keys[i] = Math.fround(src[base + i]! - mn) / scale;
  }
}

/** k-means sample weights per column: |calibration| (reference: abs), times the group scale if asked. */
function rowWeights(
  cal: Float32Array | null,
  group: number,
  groups: number,
  byScale: boolean,
  st: RowState,
): void {
  const rw = st.rowWeights!;
  const idx = st.sort.index;
  for (let g = 0; g < groups; g++) {
    const f = byScale ? st.scale[g]! : 1;
    for (let i = g * group; i < (g + 1) * group; i++) {
      rw[i] = cal === null ? f : Math.abs(cal[i]!) * f;
      idx[i] = i;
    }
  }
}

/** Sorted keys → float64 values in the table's domain (normalised − 2^(N−1)), weights in sorted order. */
function sortedValues(cols: number, half: number, st: RowState): void {
  const keys = st.sort.keys;
  const vals = new Float32Array(keys.buffer, keys.byteOffset, keys.length);
  const xs = st.ws.xs;
  for (let i = 0; i < cols; i++) xs[i] = vals[i]! - half;
  if (st.sortedWeights !== null) {
    const idx = st.sort.index;
    const rw = st.rowWeights!;
    const sw = st.sortedWeights;
    for (let i = 0; i < cols; i++) sw[i] = rw[idx[i]!]!;
  }
}

/** Codes of one row: nearest table entry to (x − zero) / scale with the stored float16 scale and zero. */
function encodeRow(
  src: Float32Array,
  base: number,
  group: number,
  groups: number,
  st: RowState,
  codes: Uint8Array,
): void {
  const table = st.table;
  for (let g = 0; g < groups; g++) {
    const sv = st.scale16[g]!;
    const zv = st.zero16[g]!;
    const a = base + g * group;
    for (let i = a; i < a + group; i++)
      codes[i] = nearestCode(table, Math.fround(Math.fround(src[i]! - zv) / sv));
  }
}

interface DecodeInput {
  readonly qdata: Uint8Array;
  /** Decoded float16 parts. */
  readonly lut: Float32Array;
  readonly scales: Float32Array;
  readonly zeros: Float32Array;
  readonly rows: number;
  readonly groups: number;
  readonly group: number;
  readonly out: Float32Array;
}

/** The group's 2^N decoded values: lut[row][c] · scale + zero, rounded to float32 after each step. */
function groupTable(t: DecodeInput, r: number, g: number, k: number, tbl: Float32Array): void {
  const s = t.scales[r * t.groups + g]!;
  const z = t.zeros[r * t.groups + g]!;
  const lut = t.lut;
  for (let c = 0; c < k; c++) tbl[c] = Math.fround(Math.fround(lut[r * k + c]! * s) + z);
}

/** Whether Uint32Array views read bytes little-endian (true on every engine in practice). */
const LITTLE_ENDIAN = new Uint8Array(new Uint32Array([1]).buffer)[0] === 1;

/** 32-bit words of `qdata` when it can be read that way (aligned, little-endian), else null. */
function words(qdata: Uint8Array): Uint32Array | null {
  if (!LITTLE_ENDIAN || qdata.byteOffset % 4 !== 0 || qdata.length % 4 !== 0) return null;
  return new Uint32Array(qdata.buffer, qdata.byteOffset, qdata.length >>> 2);
}

/** 4-bit codes, group a multiple of 8: eight codes per little-endian 32-bit word, lowest nibble first. */
function decode4Words(t: DecodeInput, q32: Uint32Array): void {
  const { out, rows, groups } = t;
  const tbl = new Float32Array(16);
  const wordsPerGroup = t.group >>> 3;
  let o = 0;
  let i = 0;
  for (let r = 0; r < rows; r++) {
    for (let g = 0; g < groups; g++) {
      groupTable(t, r, g, 16, tbl);
      const end = o + wordsPerGroup;
      for (; o < end; o++) {
        const w = q32[o]!;
        out[i] = tbl[w & 15]!;
        out[i + 1] = tbl[(w >>> 4) & 15]!;
        out[i + 2] = tbl[(w >>> 8) & 15]!;
        out[i + 3] = tbl[(w >>> 12) & 15]!;
        out[i + 4] = tbl[(w >>> 16) & 15]!;
        out[i + 5] = tbl[(w >>> 20) & 15]!;
        out[i + 6] = tbl[(w >>> 24) & 15]!;
        out[i + 7] = tbl[w >>> 28]!;
        i += 8;
      }
    }
  }
}

/** 2-bit codes, group a multiple of 16: sixteen codes per little-endian 32-bit word. */
function decode2Words(t: DecodeInput, q32: Uint32Array): void {
  const { out, rows, groups } = t;
  const tbl = new Float32Array(4);
  const wordsPerGroup = t.group >>> 4;
  let o = 0;
  let i = 0;
  for (let r = 0; r < rows; r++) {
    for (let g = 0; g < groups; g++) {
      groupTable(t, r, g, 4, tbl);
      const end = o + wordsPerGroup;
      for (; o < end; o++) {
        const w = q32[o]!;
        out[i] = tbl[w & 3]!;
        out[i + 1] = tbl[(w >>> 2) & 3]!;
        out[i + 2] = tbl[(w >>> 4) & 3]!;
        out[i + 3] = tbl[(w >>> 6) & 3]!;
        out[i + 4] = tbl[(w >>> 8) & 3]!;
        out[i + 5] = tbl[(w >>> 10) & 3]!;
        out[i + 6] = tbl[(w >>> 12) & 3]!;
        out[i + 7] = tbl[(w >>> 14) & 3]!;
        out[i + 8] = tbl[(w >>> 16) & 3]!;
        out[i + 9] = tbl[(w >>> 18) & 3]!;
        out[i + 10] = tbl[(w >>> 20) & 3]!;
        out[i + 11] = tbl[(w >>> 22) & 3]!;
        out[i + 12] = tbl[(w >>> 24) & 3]!;
        out[i + 13] = tbl[(w >>> 26) & 3]!;
        out[i + 14] = tbl[(w >>> 28) & 3]!;
        out[i + 15] = tbl[w >>> 30]!;
        i += 16;
      }
    }
  }
}

/** 4-bit codes, even group: each group starts on a byte; low nibble first. */
function decode4(t: DecodeInput): void {
  const { qdata, out, rows, groups } = t;
  const tbl = new Float32Array(16);
  const bytesPerGroup = t.group >>> 1;
  let o = 0;
  let i = 0;
  for (let r = 0; r < rows; r++) {
    for (let g = 0; g < groups; g++) {
      groupTable(t, r, g, 16, tbl);
      const end = o + bytesPerGroup;
      for (; o < end; o++) {
        const b = qdata[o]!;
        out[i] = tbl[b & 15]!;
        out[i + 1] = tbl[b >>> 4]!;
        i += 2;
      }
    }
  }
}

/** 2-bit codes, group a multiple of 4: four codes per byte, lowest bits first. */
function decode2(t: DecodeInput): void {
  const { qdata, out, rows, groups } = t;
  const tbl = new Float32Array(4);
  const bytesPerGroup = t.group >>> 2;
  let o = 0;
  let i = 0;
  for (let r = 0; r < rows; r++) {
    for (let g = 0; g < groups; g++) {
      groupTable(t, r, g, 4, tbl);
      const end = o + bytesPerGroup;
      for (; o < end; o++) {
        const b = qdata[o]!;
        out[i] = tbl[b & 3]!;
        out[i + 1] = tbl[(b >>> 2) & 3]!;
        out[i + 2] = tbl[(b >>> 4) & 3]!;
        out[i + 3] = tbl[b >>> 6]!;
        i += 4;
      }
    }
  }
}

/** 3-bit codes, group a multiple of 8: eight codes in every three bytes (one 24-bit word). */
function decode3(t: DecodeInput): void {
  const { qdata, out, rows, groups } = t;
  const tbl = new Float32Array(8);
  const wordsPerGroup = t.group >>> 3;
  let o = 0;
  let i = 0;
  for (let r = 0; r < rows; r++) {
    for (let g = 0; g < groups; g++) {
      groupTable(t, r, g, 8, tbl);
      for (let w = 0; w < wordsPerGroup; w++) {
        const v = qdata[o]! | (qdata[o + 1]! << 8) | (qdata[o + 2]! << 16);
        o += 3;
        out[i] = tbl[v & 7]!;
        out[i + 1] = tbl[(v >>> 3) & 7]!;
        out[i + 2] = tbl[(v >>> 6) & 7]!;
        out[i + 3] = tbl[(v >>> 9) & 7]!;
        out[i + 4] = tbl[(v >>> 12) & 7]!;
        out[i + 5] = tbl[(v >>> 15) & 7]!;
        out[i + 6] = tbl[(v >>> 18) & 7]!;
        out[i + 7] = tbl[v >>> 21]!;
        i += 8;
      }
    }
  }
}

/** Any width and group: one continuous LSB-first bit stream. */
function decodeStream(t: DecodeInput, bits: number): void {
  const { qdata, out, rows, groups, group } = t;
  const k = 1 << bits;
  const mask = k - 1;
  const tbl = new Float32Array(k);
  let o = 0;
  let acc = 0;
  let nacc = 0;
  let i = 0;
  for (let r = 0; r < rows; r++) {
    for (let g = 0; g < groups; g++) {
      groupTable(t, r, g, k, tbl);
      const end = i + group;
      for (; i < end; i++) {
        if (nacc < bits) {
          acc |= qdata[o++]! << nacc;
          nacc += 8;
        }
        out[i] = tbl[acc & mask]!;
        acc >>>= bits;
        nacc -= bits;
      }
    }
  }
}

function makeQuantizer(bits: 2 | 3 | 4): Quantizer {
  const name = `any${bits}`;
  const k = 1 << bits;
  const half = k >>> 1;
  const qmax = k - 1;

  const quantize = (
    src: Float32Array,
    shape: readonly number[],
    spec?: Readonly<Record<string, unknown>>,
    ctx?: WorkContext,
  ): QuantizedTensor => {
    if (!(src instanceof Float32Array))
      throw new TypeError(`src must be a Float32Array, got ${describe(src)}`);
    const o = resolveOptions(name, spec);
    const n = assertShapeMatches(src, shape);
    const [rows, cols] = matrixOf(shape);
    const group = o.group;
    if (cols % group !== 0) {
      throw new RangeError(
        `group ${group} must divide the last dimension (cols = ${cols}) of shape [${shape.join(", ")}]`,
      );
    }
    const cal = o.calibration;
    if (cal !== null && cal.length !== cols) {
      throw new RangeError(`calibration must have ${cols} entries (one per column), got ${cal.length}`);
    }
    if (cal !== null) {
      for (let i = 0; i < cols; i++) {
        const w = cal[i]!;
        if (w - w !== 0) throw new RangeError(`calibration[${i}] must be finite, got ${describe(w)}`);
      }
    }
    const signal = ctx?.signal;
    const onProgress = ctx?.onProgress;
    const groups = cols / group;

    const codes = new Uint8Array(n);
    const lutBits = new Uint16Array(rows * k);
    const scaleBits = new Uint16Array(rows * groups);
    const zeroBits = new Uint16Array(rows * groups);

    const weighted = cal !== null || o.scaleSampleWeight;
    const st = createRowState(cols, groups, k, weighted);
    const batch = Math.max(1, Math.ceil(rows / 256));

    for (let r = 0; r < rows; r++) {
      throwIfAborted(signal);
      const base = r * cols;
      groupParams(src, base, group, groups, qmax, half, st);
      for (let g = 0; g < groups; g++) {
        const sv = st.scale16[g]!;
        const zv = st.zero16[g]!;
        if (sv - sv !== 0 || zv - zv !== 0) {
          throw new RangeError(
            `src row ${r}, group ${g}: scale ${st.scale[g]} or zero ${st.zeroF32[g]} overflows float16 ` +
              "(values beyond ±65504)",
          );
        }
        scaleBits[r * groups + g] = st.scaleBits[g]!;
        zeroBits[r * groups + g] = st.zeroBits[g]!;
      }
      normalisedKeys(src, base, group, groups, st);
      if (st.rowWeights !== null) rowWeights(cal, group, groups, o.scaleSampleWeight, st);
      radixSort(st.sort, cols, weighted);
      sortedValues(cols, half, st);
      prepare(st.ws, cols, st.sortedWeights);
      fit(st.ws, cols, k, createRng(rowSeed(o.seed, r)), o.iterations, st.centers);
      for (let j = 0; j < k; j++) {
        const c16 = float16.encodeValue(st.centers[j]!);
        lutBits[r * k + j] = c16;
        st.lutRow[j] = float16.decodeValue(c16);
      }
      prepareNearest(st.lutRow, 0, k, st.table);
      encodeRow(src, base, group, groups, st, codes);
      if (onProgress !== undefined && ((r + 1) % batch === 0 || r + 1 === rows)) onProgress(r + 1, rows);
    }
    if (rows === 0 && onProgress !== undefined) onProgress(0, 0);

    const qdata = new Uint8Array(packedLength(n, bits));
    packInto(codes, bits, qdata);
    const parts: Record<string, TensorPart> = {
      qdata: { dtype: "U8", shape: [qdata.length], data: qdata },
      lut: { dtype: "F16", shape: [rows, k], data: lutBits },
      scales: { dtype: "F16", shape: [rows, groups], data: scaleBits },
      zeros: { dtype: "F16", shape: [rows, groups], data: zeroBits },
    };
    return {
      spec: {
        format: name,
        group,
        seed: o.seed,
        iterations: o.iterations,
        calibration: cal !== null,
        scaleSampleWeight: o.scaleSampleWeight,
      },
      shape: [...shape],
      parts,
    };
  };

  const dequantize = (qt: QuantizedTensor, dst?: Float32Array): Float32Array => {
    if (typeof qt !== "object" || qt === null)
      throw new TypeError(`qt must be a QuantizedTensor, got ${describe(qt)}`);
    const spec = qt.spec as Readonly<Record<string, unknown>> | undefined;
    if (typeof spec !== "object" || spec === null || spec["format"] !== name) {
      throw new CorruptDataError(
        `tensor format is ${describe(spec?.["format"])}, not ${JSON.stringify(name)}`,
      );
    }
    let n: number;
    try {
      n = shapeSize(qt.shape, "qt.shape");
    } catch (e) {
      throw new CorruptDataError(`${name} tensor has a malformed shape: ${(e as Error).message}`, {
        cause: e,
      });
    }
    const [rows, cols] = matrixOf(qt.shape);
    const group = spec["group"];
    if (typeof group !== "number" || !Number.isInteger(group) || group < 1 || cols % group !== 0) {
      throw new CorruptDataError(
        `${name} spec.group must be a positive integer dividing ${cols}, got ${describe(group)}`,
      );
    }
    const groups = cols / group;
    if (dst !== undefined) {
      if (!(dst instanceof Float32Array))
        throw new TypeError(`dst must be a Float32Array, got ${describe(dst)}`);
      if (dst.length < n) throw new RangeError(`dst is too short: need ${n} values, got ${dst.length}`);
    }
    const parts = qt.parts;
    if (typeof parts !== "object" || parts === null)
      throw new CorruptDataError(`${name} tensor has no parts`);
    const qdata = part(parts, "qdata", "U8", [packedLength(n, bits)], Uint8Array) as Uint8Array;
    const lutRaw = part(parts, "lut", "F16", [rows, k], Uint16Array) as Uint16Array;
    const scaleRaw = part(parts, "scales", "F16", [rows, groups], Uint16Array) as Uint16Array;
    const zeroRaw = part(parts, "zeros", "F16", [rows, groups], Uint16Array) as Uint16Array;
    const out = dst ?? new Float32Array(n);
    if (n === 0) return out;
    const lut = float16.decode(lutRaw);
    const scales = float16.decode(scaleRaw);
    const zeros = float16.decode(zeroRaw);
    const t: DecodeInput = { qdata, lut, scales, zeros, rows, groups, group, out };
    const q32 = (bits === 4 && group % 8 === 0) || (bits === 2 && group % 16 === 0) ? words(qdata) : null;
    if (bits === 4 && q32 !== null) decode4Words(t, q32);
    else if (bits === 4 && group % 2 === 0) decode4(t);
    else if (bits === 2 && q32 !== null) decode2Words(t, q32);
    else if (bits === 2 && group % 4 === 0) decode2(t);
    else if (bits === 3 && group % 8 === 0) decode3(t);
    else decodeStream(t, bits);
    return out;
  };

  const summary = `any${bits}: per-row learned ${k}-entry float16 table, group-wise float16 scale and zero`;
  const defaults = Object.freeze({
    group: 128,
    seed: 0,
    iterations: DEFAULT_ITERATIONS,
    calibration: false,
    scaleSampleWeight: false,
  });
  return Object.freeze({ name, summary, defaults, quantize, dequantize });
}

type ArrayCtor = typeof Uint8Array | typeof Uint16Array;

/** A part of a tensor read from storage, checked for presence, dtype, shape and length. */
function part(
  parts: Readonly<Record<string, TensorPart>>,
  key: string,
  dtype: string,
  shape: readonly number[],
  ctor: ArrayCtor,
): Uint8Array | Uint16Array {
  const p = parts[key];
  if (p === undefined || p === null || typeof p !== "object")
    throw new CorruptDataError(`missing part "${key}"`);
  if (p.dtype !== dtype)
    throw new CorruptDataError(`part "${key}" must be ${dtype}, got ${describe(p.dtype)}`);
  const ps = p.shape;
  if (!Array.isArray(ps) || ps.length !== shape.length || ps.some((d, i) => d !== shape[i])) {
    throw new CorruptDataError(
      `part "${key}" must have shape [${shape.join(", ")}], got ${Array.isArray(ps) ? `[${ps.join(", ")}]` : describe(ps)}`,
    );
  }
  let len = 1;
  for (const d of shape) len *= d;
  if (!(p.data instanceof ctor) || p.data.length !== len) {
    throw new CorruptDataError(
      `part "${key}" must hold ${len} values in a ${ctor.name}, got ${describe(p.data)}`,
    );
  }
  return p.data;
}

/** any2: 4-entry per-row table, 2-bit codes. */
export const any2: Quantizer = makeQuantizer(2);
/** any3: 8-entry per-row table, 3-bit codes. */
export const any3: Quantizer = makeQuantizer(3);
/** any4: 16-entry per-row table, 4-bit codes. */
export const any4: Quantizer = makeQuantizer(4);

/** Every quantizer of the package, for the @lowbit/formats registry. */
export const any4Quantizers: readonly Quantizer[] = Object.freeze([any2, any3, any4]);
