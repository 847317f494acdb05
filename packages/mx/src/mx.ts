import {
  CorruptDataError,
  pack,
  type QuantizedTensor,
  type Quantizer,
  type TensorPart,
  type WorkContext,
} from "@lowbit/bits";
import { float4_e2m1fn } from "@lowbit/fp4";
import { float6_e2m3fn, float6_e3m2fn } from "@lowbit/fp6";
import { float8_e4m3fn, float8_e5m2 } from "@lowbit/fp8";
import type { FloatCodec } from "@lowbit/minifloat";
import {
  bitsOf,
  blockLayout,
  fromBits,
  isBoolean,
  oneOf,
  outputArray,
  readPart,
  resolveSpec,
  step,
  storedLayout,
  storedSpec,
} from "./_common.js";
import { decodeByteBlocks, decodeNibbleBlocks, decodePackedSixBlocks, packNibblesInto } from "./_kernels.js";
import { floatxCodeOfNaN, mxcFloatElement, mxcInt8, mxcScaleByte } from "./_reference.js";

/**
 * OCP Microscaling (MX) block formats: 32 consecutive elements along the last axis share one E8M0
 * scale 2^(s − 127); value = element · 2^(s − 127). Bit-exact with torchao `MXTensor.to_mx` (FLOOR
 * and RCEIL) and with microxcaling's Python reference (MXINT8, and the `scaleMode: "microxcaling"`
 * option for every format).
 */

/** Elements per MX block. */
export const MX_BLOCK_SIZE = 32;

/** How the shared E8M0 scale is chosen. */
export type MxScaleMode = "floor" | "rceil" | "microxcaling";
/** How elements round at a tie. */
export type MxRounding = "even" | "nearest";

export interface MxOptions {
  /**
   * "floor" (default, OCP and torchao FLOOR): exponent field of the float32 block amax − emax_elem.
   * "rceil" (torchao RCEIL, cuBLAS/Blackwell): amax · (1/elem_max) rounded up to a power of two.
   * "microxcaling": microxcaling's Python reference: floor of a float32 log2 of the amax (one binade
   * high just below a power of two), NaN above 2^127, and its own element rounding (−0 becomes +0).
   */
  readonly scaleMode?: MxScaleMode;
  /** "even" (default): ties to even. "nearest": ties away from zero (microxcaling's default). */
  readonly rounding?: MxRounding;
}

export interface MxFp6Options extends MxOptions {
  /** true (default): four codes in three bytes, LSB first (SPEC §2). false: one code per byte (torchao). */
  readonly pack?: boolean;
}

const SCALE_MODES: readonly MxScaleMode[] = ["floor", "rceil", "microxcaling"];
const ROUNDINGS: readonly MxRounding[] = ["even", "nearest"];

interface Resolved {
  scaleMode: MxScaleMode;
  rounding: MxRounding;
  pack?: boolean;
}

/** An MX element format and the constants of its references. */
interface MxElement {
  readonly name: string;
  readonly summary: string;
  /** Element codec (absent for INT8). */
  readonly codec: FloatCodec<Uint8Array> | null;
  readonly bits: 4 | 6 | 8;
  /** Exponent of the largest normal element (torchao `*_MAX_POW2`, microxcaling `emax`). */
  readonly emax: number;
  /** Largest element magnitude. */
  readonly maxPos: number;
  /** microxcaling's format parameters: mantissa bits incl. sign and implicit one, min exponent. */
  readonly mxcMbits: number;
  readonly mxcMinExp: number;
  /** The code torchao stores for every element of a NaN block (scale 0xFF). */
  readonly nanCode: number;
}

const FP8_NAN_CODE = 0x7f; // torch casts a NaN to 0x7F for both e4m3fn and e5m2

const ELEMENTS = {
  mxfp8_e4m3: {
    name: "mxfp8_e4m3",
    summary: "OCP MXFP8 E4M3: 32-element blocks, E8M0 scale (8.25 bits/weight)",
    codec: float8_e4m3fn,
    bits: 8,
    emax: 8,
    maxPos: 448,
    mxcMbits: 5,
    mxcMinExp: -6,
    nanCode: FP8_NAN_CODE,
  },
  mxfp8_e5m2: {
    name: "mxfp8_e5m2",
    summary: "OCP MXFP8 E5M2: 32-element blocks, E8M0 scale (8.25 bits/weight)",
    codec: float8_e5m2,
    bits: 8,
    emax: 15,
    maxPos: 57344,
    mxcMbits: 4,
    mxcMinExp: -14,
    nanCode: FP8_NAN_CODE,
  },
  mxfp6_e3m2: {
    name: "mxfp6_e3m2",
    summary: "OCP MXFP6 E3M2: 32-element blocks, E8M0 scale (6.25 bits/weight)",
    codec: float6_e3m2fn,
    bits: 6,
    emax: 4,
    maxPos: 28,
    mxcMbits: 4,
    mxcMinExp: -2,
    nanCode: floatxCodeOfNaN(0x7fc00001, 3, 2),
  },
  mxfp6_e2m3: {
    name: "mxfp6_e2m3",
    summary: "OCP MXFP6 E2M3: 32-element blocks, E8M0 scale (6.25 bits/weight)",
    codec: float6_e2m3fn,
    bits: 6,
    emax: 2,
    maxPos: 7.5,
    mxcMbits: 5,
    mxcMinExp: 0,
    nanCode: floatxCodeOfNaN(0x7fc00001, 2, 3),
  },
  mxfp4: {
    name: "mxfp4",
    summary: "OCP MXFP4 (E2M1): 32-element blocks, E8M0 scale (4.25 bits/weight)",
    codec: float4_e2m1fn,
    bits: 4,
    emax: 2,
    maxPos: 6,
    mxcMbits: 3,
    mxcMinExp: 0,
    nanCode: floatxCodeOfNaN(0x7fc00001, 2, 1),
  },
  mxint8: {
    name: "mxint8",
    summary: "OCP MXINT8: 32-element blocks of int8/64, E8M0 scale (8.25 bits/weight)",
    codec: null,
    bits: 8,
    emax: 0,
    maxPos: 127 / 64,
    mxcMbits: 8,
    mxcMinExp: 0,
    nanCode: 0,
  },
} as const satisfies Record<string, MxElement>;

/** 2^(s − 127) for every E8M0 byte; 0xFF is NaN. */
const SCALE_VALUE = new Float64Array(256);
/** 2^(127 − s): what torchao multiplies by (its reciprocal E8M0 scale); 0xFF is NaN. */
const SCALE_INVERSE = new Float64Array(256);
for (let s = 0; s < 255; s++) {
  SCALE_VALUE[s] = 2 ** (s - 127);
  SCALE_INVERSE[s] = 2 ** (127 - s);
}
SCALE_VALUE[255] = Number.NaN;
SCALE_INVERSE[255] = Number.NaN;

const fr = Math.fround;

/** Blocks per chunk of work between progress reports (64 Ki elements). */
const CHUNK_BLOCKS = 2048;

function resolveOptions(e: MxElement, spec: Readonly<Record<string, unknown>> | undefined): Resolved {
  if (e.bits === 6) {
    return resolveSpec(
      e.name,
      spec,
      { scaleMode: "floor" as MxScaleMode, rounding: "even" as MxRounding, pack: true },
      { scaleMode: oneOf(SCALE_MODES), rounding: oneOf(ROUNDINGS), pack: isBoolean },
    );
  }
  return resolveSpec(
    e.name,
    spec,
    { scaleMode: "floor" as MxScaleMode, rounding: "even" as MxRounding },
    { scaleMode: oneOf(SCALE_MODES), rounding: oneOf(ROUNDINGS) },
  );
}

/** Shape of the qdata part for a tensor whose last axis is `lastDim`. */
function qdataLastDim(e: MxElement, o: Resolved, lastDim: number): number {
  if (e.bits === 4) return lastDim / 2;
  if (e.bits === 6 && o.pack !== false) return (lastDim / 4) * 3;
  return lastDim;
}

/**
 * The E8M0 scale byte of one block from the float32 bits of its amax (|x| bits, so ordered like the
 * values; above 0x7F800000 means a NaN was seen).
 */
function scaleByte(e: MxElement, mode: MxScaleMode, amaxBits: number, amax: number, invMax: number): number {
  if (mode === "floor") {
    // torchao FLOOR: clamp(exponent field − 127 − emax, −127, 128) + 127; non-finite amax → 0xFF.
    if (amaxBits >= 0x7f800000) return 0xff;
    const s = (amaxBits >>> 23) - e.emax;
    return s > 0 ? s : 0;
  }
  if (mode === "rceil") {
    // torchao RCEIL: descale = amax · fp32(1/max_pos), rounded up to a power of two on its bits.
    if (amaxBits >= 0x7f800000) return 0xff;
    const b = bitsOf(fr(amax * invMax));
    const exp = b >>> 23;
    const mant = b & 0x7fffff;
    return exp + (exp === 0 ? (mant > 0x400000 ? 1 : 0) : mant !== 0 ? 1 : 0);
  }
  return mxcScaleByte(amaxBits > 0x7f800000 ? Number.NaN : amax, e.emax);
}

const SATURATE = { saturate: true } as const;

/** Scale bytes of blocks [b0, b1); returns true if some block is NaN (0xFF). */
function blockScales(
  e: MxElement,
  mode: MxScaleMode,
  x32: Uint32Array,
  b0: number,
  b1: number,
  invMax: number,
  scales: Uint8Array,
): boolean {
  let nan = false;
  for (let b = b0; b < b1; b++) {
    const i0 = b * MX_BLOCK_SIZE;
    let amaxBits = 0;
    for (let i = i0; i < i0 + MX_BLOCK_SIZE; i++) {
      const a = x32[i]! & 0x7fffffff;
      if (a > amaxBits) amaxBits = a;
    }
    const s = scaleByte(e, mode, amaxBits, fromBits(amaxBits), invMax);
    scales[b] = s;
    if (s === 0xff) nan = true;
  }
  return nan;
}

/** x · 2^(127 − s) rounded to float32 by the store, as torchao multiplies by its reciprocal scale. */
function scaledElements(
  src: Float32Array,
  scales: Uint8Array,
  b0: number,
  b1: number,
  out: Float32Array,
): void {
  for (let b = b0, j = 0; b < b1; b++) {
    const inv = SCALE_INVERSE[scales[b]!]!;
    for (let i = b * MX_BLOCK_SIZE, end = i + MX_BLOCK_SIZE; i < end; i++, j++) out[j] = src[i]! * inv;
  }
}

/** microxcaling's element values (exact, so the element codec encodes them without rounding). */
function mxcScaled(
  e: MxElement,
  src: Float32Array,
  scales: Uint8Array,
  b0: number,
  b1: number,
  even: boolean,
  out: Float32Array,
): void {
  for (let b = b0, j = 0; b < b1; b++) {
    const inv = SCALE_INVERSE[scales[b]!]!;
    for (let i = b * MX_BLOCK_SIZE, end = i + MX_BLOCK_SIZE; i < end; i++, j++) {
      out[j] = mxcFloatElement(fr(src[i]! * inv), e.mxcMbits, e.mxcMinExp, e.maxPos, even);
    }
  }
}

/**
 * MXINT8 codes: microxcaling's round(fp32(x / 2^se) · 64), clamped to ±127, as two's complement bytes.
 * x · 2^(6 − se) is that value exactly whenever x / 2^se is a normal float32; below 2^−126 both round
 * to a zero code, so the float32 rounding step can be skipped.
 */
function int8Codes(
  src: Float32Array,
  scales: Uint8Array,
  b0: number,
  b1: number,
  even: boolean,
  codes: Uint8Array,
): void {
  for (let b = b0; b < b1; b++) {
    const inv64 = SCALE_INVERSE[scales[b]!]! * 64;
    for (let i = b * MX_BLOCK_SIZE, end = i + MX_BLOCK_SIZE; i < end; i++)
      codes[i] = mxcInt8(src[i]! * inv64, even);
  }
}

function quantizeMx(
  e: MxElement,
  src: Float32Array,
  shape: readonly number[],
  spec: Readonly<Record<string, unknown>> | undefined,
  ctx: WorkContext | undefined,
): QuantizedTensor {
  const o = resolveOptions(e, spec);
  const L = blockLayout(e.name, src, shape, MX_BLOCK_SIZE);
  const x32 = new Uint32Array(src.buffer, src.byteOffset, L.n);
  const scales = new Uint8Array(L.blocks);
  const codes = new Uint8Array(L.n);
  const scratch = new Float32Array(Math.min(L.blocks, CHUNK_BLOCKS) * MX_BLOCK_SIZE);
  const invMax = fr(1 / e.maxPos);
  const mxc = o.scaleMode === "microxcaling";
  const even = o.rounding === "even";
  // microxcaling's values are exact element values: RNE encodes them as they are.
  const encodeOpts = mxc || even ? SATURATE : ({ saturate: true, rounding: "nearest-away" } as const);
  const codec = e.codec;

  for (let b0 = 0; b0 < L.blocks; b0 += CHUNK_BLOCKS) {
    step(ctx, b0, L.blocks);
    const b1 = Math.min(L.blocks, b0 + CHUNK_BLOCKS);
    const nanBlocks = blockScales(e, o.scaleMode, x32, b0, b1, invMax, scales);
    if (codec === null) {
      int8Codes(src, scales, b0, b1, even, codes);
    } else {
      if (mxc) mxcScaled(e, src, scales, b0, b1, even, scratch);
      else scaledElements(src, scales, b0, b1, scratch);
      const base = b0 * MX_BLOCK_SIZE;
      const m = (b1 - b0) * MX_BLOCK_SIZE;
      codec.encodeInto(scratch.subarray(0, m), codes.subarray(base, base + m), encodeOpts);
    }
    if (nanBlocks) {
      for (let b = b0; b < b1; b++) {
        if (scales[b] === 0xff) codes.fill(e.nanCode, b * MX_BLOCK_SIZE, (b + 1) * MX_BLOCK_SIZE);
      }
    }
  }
  step(ctx, L.blocks, L.blocks);

  const qLast = qdataLastDim(e, o, L.lastDim);
  let qdata: Uint8Array = codes;
  if (e.bits === 4) {
    qdata = new Uint8Array(L.n >>> 1);
    packNibblesInto(codes, qdata);
  } else if (e.bits === 6 && o.pack !== false) {
    qdata = pack(codes, 6);
  }
  const parts: Record<string, TensorPart> = {
    qdata: { dtype: "U8", shape: [...L.lead, qLast], data: qdata },
    scales: { dtype: "F8_E8M0", shape: [...L.lead, L.lastDim / MX_BLOCK_SIZE], data: scales },
  };
  return { spec: { format: e.name, ...o }, shape: [...shape], parts };
}

/** Element values of every code, as doubles (NaN codes are NaN; codes past 2^bits too). */
function elementValues(e: MxElement): Float64Array {
  const t = new Float64Array(256).fill(Number.NaN);
  if (e.codec === null) {
    for (let c = 0; c < 256; c++) t[c] = ((c << 24) >> 24) / 64;
    return t;
  }
  const n = 1 << e.bits;
  const values = e.codec.decode(Uint8Array.from({ length: n }, (_, c) => c));
  for (let c = 0; c < n; c++) t[c] = values[c]!;
  return t;
}

/** float32 bits of value(code) · 2^(s − 127) for every scale byte s and 4-bit code: index s·16 + code. */
function scaledNibbleTable(values: Float64Array): Uint32Array {
  const f = new Float32Array(256 * 16);
  for (let s = 0; s < 256; s++) {
    for (let c = 0; c < 16; c++) f[(s << 4) | c] = values[c]! * SCALE_VALUE[s]!;
  }
  return new Uint32Array(f.buffer);
}

interface DecodeTables {
  values: Float64Array;
  nibbles: Uint32Array | null;
}

function dequantizeMx(
  e: MxElement,
  tables: DecodeTables,
  qt: QuantizedTensor,
  dst?: Float32Array,
): Float32Array {
  const o = storedSpec(e.name, qt, (spec) => resolveOptions(e, spec));
  const L = storedLayout(e.name, qt, MX_BLOCK_SIZE);
  const qLast = qdataLastDim(e, o, L.lastDim);
  const qdata = readPart<Uint8Array>(e.name, qt, "qdata", "U8", [...L.lead, qLast]);
  const scales = readPart<Uint8Array>(e.name, qt, "scales", "F8_E8M0", [
    ...L.lead,
    L.lastDim / MX_BLOCK_SIZE,
  ]);
  const out = outputArray(dst, L.n);
  if (e.bits === 4) {
    tables.nibbles ??= scaledNibbleTable(tables.values);
    decodeNibbleBlocks(qdata, scales, tables.nibbles, 16, out);
    return out;
  }
  const scaleValues = new Float64Array(scales.length);
  for (let b = 0; b < scales.length; b++) scaleValues[b] = SCALE_VALUE[scales[b]!]!;
  if (e.bits === 6 && o.pack !== false) {
    decodePackedSixBlocks(qdata, scaleValues, tables.values, out);
    return out;
  }
  if (e.bits === 6) {
    for (let i = 0; i < qdata.length; i++) {
      if (qdata[i]! > 63) {
        throw new CorruptDataError(`${e.name} qdata[${i}] = ${qdata[i]} is not a 6-bit code`);
      }
    }
  }
  decodeByteBlocks(qdata, scaleValues, tables.values, out);
  return out;
}

function createMxQuantizer(e: MxElement): Quantizer {
  let tables: DecodeTables | null = null;
  const defaults =
    e.bits === 6
      ? { scaleMode: "floor", rounding: "even", pack: true }
      : { scaleMode: "floor", rounding: "even" };
  return Object.freeze({
    name: e.name,
    summary: e.summary,
    defaults: Object.freeze(defaults),
    quantize: (
      src: Float32Array,
      shape: readonly number[],
      spec?: Readonly<Record<string, unknown>>,
      ctx?: WorkContext,
    ) => quantizeMx(e, src, shape, spec, ctx),
    dequantize: (qt: QuantizedTensor, dst?: Float32Array) => {
      tables ??= { values: elementValues(e), nibbles: null };
      return dequantizeMx(e, tables, qt, dst);
    },
  });
}

/** OCP MXFP8 with E4M3 elements (max 448). */
export const mxfp8_e4m3: Quantizer = createMxQuantizer(ELEMENTS.mxfp8_e4m3);
/** OCP MXFP8 with E5M2 elements (max 57344). */
export const mxfp8_e5m2: Quantizer = createMxQuantizer(ELEMENTS.mxfp8_e5m2);
/** OCP MXFP6 with E3M2 elements (max 28). */
export const mxfp6_e3m2: Quantizer = createMxQuantizer(ELEMENTS.mxfp6_e3m2);
/** OCP MXFP6 with E2M3 elements (max 7.5). */
export const mxfp6_e2m3: Quantizer = createMxQuantizer(ELEMENTS.mxfp6_e2m3);
/** OCP MXFP4 with E2M1 elements (max 6). */
export const mxfp4: Quantizer = createMxQuantizer(ELEMENTS.mxfp4);
/** OCP MXINT8: int8 elements read as code/64 (max 127/64). */
export const mxint8: Quantizer = createMxQuantizer(ELEMENTS.mxint8);
