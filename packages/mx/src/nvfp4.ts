import type { QuantizedTensor, Quantizer, TensorPart, WorkContext } from "@lowbit/bits";
import { float4_e2m1fn } from "@lowbit/fp4";
import { float8_e4m3fn } from "@lowbit/fp8";
import {
  bitsOf,
  blockLayout,
  fromBits,
  isNaNBits,
  oneOf,
  outputArray,
  readPart,
  resolveSpec,
  step,
  storedLayout,
  storedSpec,
} from "./_common.js";
import { decodeNibbleBlocks, packNibblesInto } from "./_kernels.js";
import { floatxCodeOfNaN } from "./_reference.js";

/**
 * NVIDIA NVFP4: 16 consecutive elements along the last axis share one E4M3 block scale, and the whole
 * tensor one float32 scale; value = e2m1 · (global · block). The default pipeline is torchao's two-level
 * `nvfp4_quantize` (what NVFP4 checkpoints store); TransformerEngine's reference and torchao's
 * single-level mode are options. Every step is float32 arithmetic in the reference's order, including
 * how NaN payloads travel through it (they decide the codes of NaN blocks).
 */

/** Elements per NVFP4 block. */
export const NVFP4_BLOCK_SIZE = 16;

/** Which reference pipeline computes the scales and codes. */
export type Nvfp4Variant = "torchao" | "te" | "single-level";

export interface Nvfp4Options {
  /**
   * "torchao" (default): per-tensor scale amax/2688, block scale clamp((block_amax/6)/global, 2^−6,
   * 448) in E4M3, elements x · ((1/global)/block). "te": TransformerEngine's reference (S_enc =
   * 2688/amax, reciprocal multiply, block scales may be 0 or subnormal, −0 and NaN → code 0).
   * "single-level": torchao without a per-tensor scale (global scale 1).
   */
  readonly variant?: Nvfp4Variant;
}

const VARIANTS: readonly Nvfp4Variant[] = ["torchao", "te", "single-level"];

const fr = Math.fround;
const FLT_MAX = 3.4028234663852886e38;
const E4M3_MAX = 448;
/** torch.finfo(float8_e4m3fn).tiny: torchao's lower clamp of block scales. */
const E4M3_TINY = 2 ** -6;
/** The NaN an invalid float32 operation produces on x86 (0/0, ∞/∞, 0·∞). */
const DEFAULT_NAN = 0xffc00000;
/** torch.max over a tensor holding a NaN returns all ones (its vectorised max ORs a NaN mask in). */
const REDUCED_NAN = 0xffffffff;
const CHUNK_BLOCKS = 4096;

const BITS_ONE = bitsOf(1);
const BITS_SIX = bitsOf(6);
const BITS_2688 = bitsOf(2688);

function quiet(bits: number): number {
  return (bits | 0x00400000) >>> 0;
}

/** float32 a / b on bit patterns, with x86 NaN rules: the first NaN operand is returned, quieted. */
function div(a: number, b: number): number {
  if (isNaNBits(a)) return quiet(a);
  if (isNaNBits(b)) return quiet(b);
  const r = fr(fromBits(a) / fromBits(b));
  return Number.isNaN(r) ? DEFAULT_NAN : bitsOf(r);
}

/** E4M3 code → float32 bits as torch converts it (NaN → 0x7FF00000 with the code's sign). */
const E4M3_BITS = (() => {
  const t = new Uint32Array(256);
  const v = float8_e4m3fn.decode(Uint8Array.from({ length: 256 }, (_, c) => c));
  for (let c = 0; c < 256; c++)
    t[c] = (c & 0x7f) === 0x7f ? (c & 0x80 ? 0xfff00000 : 0x7ff00000) : bitsOf(v[c]!);
  return t;
})();
const E4M3_VALUE = (() => {
  const t = new Float64Array(256);
  for (let c = 0; c < 256; c++) t[c] = fromBits(E4M3_BITS[c]!);
  return t;
})();
const E2M1_VALUE = Float64Array.from(float4_e2m1fn.decode(Uint8Array.from({ length: 16 }, (_, c) => c)));

/** Block-scale arithmetic of one variant. */
interface Pipeline {
  readonly globalScale: number;
  /** TE maps −0 and NaN elements to code 0 (its bin table); torchao keeps −0 and packs NaN bits. */
  readonly te: boolean;
  /** True when `blockScaleValue` is exact for every finite block amax (no NaN can arise). */
  readonly numeric: boolean;
  /** The clamped float32 value cast to E4M3, for a finite block amax (when `numeric`). */
  blockScaleValue(amax: number): number;
  /** The same on bit patterns, for any amax (NaN payloads carried as the reference carries them). */
  blockScaleBits(amaxBits: number): number;
  /** float32 bits of the element multiplier, from the E4M3 code. */
  multiplier(code: number): number;
}

function clampBits(bits: number, lo: number, hi: number): number {
  if (isNaNBits(bits)) return bits;
  const v = fromBits(bits);
  return bitsOf(v < lo ? lo : v > hi ? hi : v);
}

function clampScale(v: number): number {
  return v < E4M3_TINY ? E4M3_TINY : v > E4M3_MAX ? E4M3_MAX : v;
}

function torchaoPipeline(gBits: number, twoLevel: boolean): Pipeline {
  if (!twoLevel) {
    return {
      globalScale: 1,
      te: false,
      numeric: true,
      blockScaleValue: (a) => clampScale(fr(a / 6)),
      blockScaleBits: (a) => clampBits(div(a, BITS_SIX), E4M3_TINY, E4M3_MAX),
      multiplier: (code) => div(BITS_ONE, E4M3_BITS[code]!),
    };
  }
  const pts = div(gBits, BITS_2688);
  const invPts = div(BITS_ONE, pts);
  const ptsV = fromBits(pts);
  return {
    globalScale: ptsV,
    te: false,
    // (a/6)/pts is finite and never NaN for finite a when pts is finite and non-zero.
    numeric: ptsV > 0 && ptsV < Number.POSITIVE_INFINITY,
    blockScaleValue: (a) => clampScale(fr(fr(a / 6) / ptsV)),
    blockScaleBits: (a) => clampBits(div(div(a, BITS_SIX), pts), E4M3_TINY, E4M3_MAX),
    multiplier: (code) => div(invPts, E4M3_BITS[code]!),
  };
}

/** TransformerEngine's global scales from the tensor amax: S_enc = min(2688/amax, FLT_MAX) (0 → 1), S_dec = 1/S_enc. */
export function nvfp4TeGlobalScales(amax: number): { encode: number; decode: number } {
  if (typeof amax !== "number") throw new TypeError(`amax must be a number, got ${typeof amax}`);
  const a = fr(amax);
  if (Number.isNaN(a)) return { encode: Number.NaN, decode: Number.NaN };
  let enc = fr(2688 / a);
  if (enc > FLT_MAX) enc = FLT_MAX;
  if (enc === 0) enc = 1;
  return { encode: enc, decode: fr(1 / enc) };
}

function tePipeline(gBits: number): Pipeline & { amax: number } {
  const { encode, decode } = nvfp4TeGlobalScales(fromBits(gBits));
  // TE folds the FP4 reciprocal into the global multiplier: vec_max · (S_enc · fp32(1/6)).
  const mult = fr(encode * fr(1 / 6));
  const value = (a: number) => {
    const d = fr(a * mult);
    return d > E4M3_MAX ? E4M3_MAX : d;
  };
  return {
    amax: fromBits(gBits),
    globalScale: decode,
    te: true,
    numeric: !Number.isNaN(mult),
    blockScaleValue: value,
    // A NaN anywhere makes the global amax NaN, and TE's NaN scales come out positive.
    blockScaleBits: (a) => (isNaNBits(a) || Number.isNaN(mult) ? 0x7fc00000 : bitsOf(value(fromBits(a)))),
    multiplier: (code) => {
      const enc = fr(1 / fr(E4M3_VALUE[code]! * decode));
      return bitsOf(enc > FLT_MAX ? FLT_MAX : enc);
    },
  };
}

interface Resolved {
  variant: Nvfp4Variant;
}

function resolveOptions(spec: Readonly<Record<string, unknown>> | undefined): Resolved {
  return resolveSpec("nvfp4", spec, { variant: "torchao" as Nvfp4Variant }, { variant: oneOf(VARIANTS) });
}

/**
 * Codes of NaN products: a whole block when its multiplier is NaN (`nanBlock[k]` holds the NaN's bits),
 * single elements for 0 · ∞ (x86's default NaN). torchao packs the NaN's bit pattern, TE stores 0.
 */
function fixNaNCodes(
  te: boolean,
  nanBlock: Uint32Array,
  nb: number,
  scaled: Float32Array,
  codes: Uint8Array,
): void {
  for (let k = 0; k < nb; k++) {
    const j0 = k * NVFP4_BLOCK_SIZE;
    if (nanBlock[k] !== 0) {
      codes.fill(te ? 0 : floatxCodeOfNaN(nanBlock[k]!, 2, 1), j0, j0 + NVFP4_BLOCK_SIZE);
      continue;
    }
    for (let j = j0; j < j0 + NVFP4_BLOCK_SIZE; j++) {
      if (Number.isNaN(scaled[j]!)) codes[j] = te ? 0 : floatxCodeOfNaN(DEFAULT_NAN, 2, 1);
    }
  }
}

function quantizeNvfp4(
  src: Float32Array,
  shape: readonly number[],
  spec: Readonly<Record<string, unknown>> | undefined,
  ctx: WorkContext | undefined,
): QuantizedTensor {
  const o = resolveOptions(spec);
  const L = blockLayout("nvfp4", src, shape, NVFP4_BLOCK_SIZE);
  const x32 = new Uint32Array(src.buffer, src.byteOffset, L.n);
  // One pass for the block amaxes; the tensor amax is their max (torch.max(abs(x)) is all ones on NaN).
  const amaxBits = new Uint32Array(L.blocks);
  const amaxValues = new Float32Array(amaxBits.buffer);
  let gBits = 0;
  for (let b = 0, i = 0; b < L.blocks; b++) {
    let a = 0;
    for (const end = i + NVFP4_BLOCK_SIZE; i < end; i++) {
      const m = x32[i]! & 0x7fffffff;
      if (a < m) a = m;
    }
    amaxBits[b] = a;
    if (gBits < a) gBits = a;
  }
  if (gBits > 0x7f800000) gBits = REDUCED_NAN;
  const p = o.variant === "te" ? tePipeline(gBits) : torchaoPipeline(gBits, o.variant === "torchao");
  const multBits = new Uint32Array(256);
  const multValues = new Float32Array(multBits.buffer);
  for (let c = 0; c < 256; c++) multBits[c] = p.multiplier(c);

  const scales = new Uint8Array(L.blocks);
  const qdata = new Uint8Array(L.n >>> 1);
  const chunk = Math.min(L.blocks, CHUNK_BLOCKS);
  const blockValues = new Float32Array(chunk);
  const blockBits = new Uint32Array(blockValues.buffer);
  const scaled = new Float32Array(chunk * NVFP4_BLOCK_SIZE);
  const codes = new Uint8Array(chunk * NVFP4_BLOCK_SIZE);
  const nanBlock = new Uint32Array(chunk);
  const saturate = { saturate: true } as const;

  for (let b0 = 0; b0 < L.blocks; b0 += CHUNK_BLOCKS) {
    step(ctx, b0, L.blocks);
    const nb = Math.min(L.blocks, b0 + CHUNK_BLOCKS) - b0;
    for (let k = 0; k < nb; k++) {
      const a = amaxBits[b0 + k]!;
      if (p.numeric && a < 0x7f800000) blockValues[k] = p.blockScaleValue(amaxValues[b0 + k]!);
      // A NaN block amax is positive (abs), 0x7FC00000 once quieted.
      else blockBits[k] = p.blockScaleBits(a > 0x7f800000 ? 0x7fc00000 : a);
    }
    // The E4M3 codec keeps a NaN's sign, as torch's cast does.
    const sc = scales.subarray(b0, b0 + nb);
    float8_e4m3fn.encodeInto(blockValues.subarray(0, nb), sc, saturate);
    let fix = false;
    for (let k = 0; k < nb; k++) {
      const code = sc[k]!;
      const r = multBits[code]!;
      const j0 = k * NVFP4_BLOCK_SIZE;
      const i0 = (b0 + k) * NVFP4_BLOCK_SIZE;
      if (isNaNBits(r)) {
        // x · r with r NaN yields r's NaN (torch's broadcast multiply keeps the scale operand's payload).
        nanBlock[k] = quiet(r);
        fix = true;
        continue;
      }
      nanBlock[k] = 0;
      const rv = multValues[code]!;
      if (p.te) {
        // TE's bins send −0 and NaN to code 0: store them as +0 (after rounding to float32).
        for (let i = i0, j = j0; i < i0 + NVFP4_BLOCK_SIZE; i++, j++) {
          const v = fr(src[i]! * rv);
          scaled[j] = v > 6 ? 6 : v < -6 ? -6 : v === 0 || Number.isNaN(v) ? 0 : v;
        }
      } else {
        // Only 0 · ∞ makes a NaN here, so only a zero or infinite multiplier needs the NaN pass.
        if (rv === 0 || rv === Number.POSITIVE_INFINITY) fix = true;
        // Clamping before or after the float32 rounding of the store gives the same: ±6 is representable.
        for (let i = i0, j = j0; i < i0 + NVFP4_BLOCK_SIZE; i++, j++) {
          const v = src[i]! * rv;
          scaled[j] = v > 6 ? 6 : v < -6 ? -6 : v;
        }
      }
    }
    const m = nb * NVFP4_BLOCK_SIZE;
    const blockCodes = codes.subarray(0, m);
    float4_e2m1fn.encodeInto(scaled.subarray(0, m), blockCodes, saturate);
    if (fix) fixNaNCodes(p.te, nanBlock, nb, scaled, blockCodes);
    const q0 = (b0 * NVFP4_BLOCK_SIZE) >>> 1;
    packNibblesInto(blockCodes, qdata.subarray(q0, q0 + (m >>> 1)));
  }
  step(ctx, L.blocks, L.blocks);

  const parts: Record<string, TensorPart> = {
    qdata: { dtype: "U8", shape: [...L.lead, L.lastDim / 2], data: qdata },
    scales: { dtype: "F8_E4M3", shape: [...L.lead, L.lastDim / NVFP4_BLOCK_SIZE], data: scales },
    globalScale: { dtype: "F32", shape: [1], data: Float32Array.of(p.globalScale) },
  };
  if ("amax" in p)
    parts["globalAmax"] = { dtype: "F32", shape: [1], data: Float32Array.of(p.amax as number) };
  return { spec: { format: "nvfp4", ...o }, shape: [...shape], parts };
}

function dequantizeNvfp4(qt: QuantizedTensor, dst?: Float32Array): Float32Array {
  storedSpec("nvfp4", qt, resolveOptions);
  const L = storedLayout("nvfp4", qt, NVFP4_BLOCK_SIZE);
  const qdata = readPart<Uint8Array>("nvfp4", qt, "qdata", "U8", [...L.lead, L.lastDim / 2]);
  const scales = readPart<Uint8Array>("nvfp4", qt, "scales", "F8_E4M3", [
    ...L.lead,
    L.lastDim / NVFP4_BLOCK_SIZE,
  ]);
  const g = readPart<Float32Array>("nvfp4", qt, "globalScale", "F32", [1])[0]!;
  const out = outputArray(dst, L.n);
  // torchao: e2m1 · (per_tensor_scale · float(block scale)), that product rounded to float32 first.
  const f = new Float32Array(256 * 16);
  for (let c = 0; c < 256; c++) {
    const s = fr(g * E4M3_VALUE[c]!);
    for (let k = 0; k < 16; k++) f[(c << 4) | k] = E2M1_VALUE[k]! * s;
  }
  decodeNibbleBlocks(qdata, scales, new Uint32Array(f.buffer), 8, out);
  return out;
}

/** NVIDIA NVFP4 (E2M1 elements, E4M3 scale per 16, float32 per-tensor scale; 4.5 bits/weight). */
export const nvfp4: Quantizer = Object.freeze({
  name: "nvfp4",
  summary:
    "NVIDIA NVFP4: E2M1 in 16-element blocks, E4M3 block scale, float32 tensor scale (4.5 bits/weight)",
  defaults: Object.freeze({ variant: "torchao" }),
  quantize: quantizeNvfp4,
  dequantize: dequantizeNvfp4,
});
