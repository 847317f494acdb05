import type { QuantizedTensor, Quantizer, TensorPart, WorkContext } from "@lowbit/bits";
import { EIGHT_BIT_RULES, FOUR_BIT_RULES, readAbsmax4, resolveFourBit } from "./_fourbit.js";
import {
  DYNAMIC_BOOK,
  dequantize4,
  dequantize8,
  makeCodebook,
  nestAbsmax,
  quantize4,
  quantize8,
} from "./_kernels.js";
import {
  inputArray,
  type OptionRule,
  outputBuffer,
  readEnvelope,
  readPart,
  resolveSpec,
  resolveStoredSpec,
} from "./_spec.js";
import { BNB_FP4_TABLE, DYNAMIC_MAP, NF4_TABLE } from "./_tables.js";

/** The resolved options of `nf4` and `bnb_fp4`. */
export interface Bnb4bitSpec {
  readonly format: "nf4" | "bnb_fp4";
  /** Elements per absmax block: a power of two in [32, 4096]; bitsandbytes' default 64. */
  readonly blockSize: number;
  /** Double quantization of the absmax vector (bitsandbytes `compress_statistics`); default true. */
  readonly doubleQuant: boolean;
  /** Absmax values per nested 8-bit block (bitsandbytes always uses 256). */
  readonly nestedBlockSize: number;
  /** The dtype bitsandbytes records for the original tensor; it does not change the arithmetic. */
  readonly sourceDtype: "float32" | "float16" | "bfloat16";
}

/** The resolved options of `bnb_blockwise8`. */
export interface BnbBlockwise8Spec {
  readonly format: "bnb_blockwise8";
  /** Elements per absmax block: a power of two in [32, 4096]; bitsandbytes' default 4096. */
  readonly blockSize: number;
}

const defaultsOf = (rules: Readonly<Record<string, OptionRule>>): Readonly<Record<string, unknown>> =>
  Object.freeze(Object.fromEntries(Object.entries(rules).map(([k, r]) => [k, r.defaultValue])));

const part = (dtype: TensorPart["dtype"], data: TensorPart["data"]): TensorPart => ({
  dtype,
  shape: [data.length],
  data,
});

function makeFourBit(format: "nf4" | "bnb_fp4", table: Float32Array, summary: string): Quantizer {
  const book = makeCodebook(table);
  return Object.freeze({
    name: format,
    summary,
    defaults: defaultsOf(FOUR_BIT_RULES),
    quantize(
      src: Float32Array,
      shape: readonly number[],
      spec?: Readonly<Record<string, unknown>>,
      ctx?: WorkContext,
    ): QuantizedTensor {
      const s = resolveSpec(format, FOUR_BIT_RULES, spec) as unknown as Bnb4bitSpec;
      const n = inputArray(src, shape);
      const qdata = new Uint8Array(Math.ceil(n / 2));
      const absmax = new Float32Array(Math.ceil(n / s.blockSize));
      quantize4(src, s.blockSize, book, qdata, absmax, ctx);
      const parts: Record<string, TensorPart> = { qdata: part("U8", qdata) };
      if (s.doubleQuant) {
        const nested = nestAbsmax(absmax, s.nestedBlockSize);
        parts["absmax"] = part("U8", nested.codes);
        parts["nestedAbsmax"] = part("F32", nested.nestedAbsmax);
        parts["offset"] = part("F32", Float32Array.of(nested.offset));
      } else {
        parts["absmax"] = part("F32", absmax);
      }
      return { spec: s as unknown as QuantizedTensor["spec"], shape: [...shape], parts };
    },
    dequantize(qt: QuantizedTensor, dst?: Float32Array): Float32Array {
      const n = readEnvelope(qt, format);
      const s = resolveStoredSpec(format, FOUR_BIT_RULES, qt.spec) as unknown as Bnb4bitSpec;
      const qdata = readPart(qt, "qdata", "U8", Uint8Array, Math.ceil(n / 2), format);
      const absmax = readAbsmax4(qt, s, n);
      const out = outputBuffer(dst, n);
      dequantize4(qdata, s.blockSize, table, absmax, out);
      return out;
    },
  });
}

/**
 * bitsandbytes NF4: 4-bit normal-float code book, per-block absmax (default 64), double-quantized
 * absmax by default. Byte-exact with bitsandbytes' default backend.
 */
export const nf4: Quantizer = makeFourBit(
  "nf4",
  NF4_TABLE,
  "bitsandbytes NF4: 4-bit normal-float code book, block absmax (64), double-quantized absmax",
);

/** bitsandbytes FP4 (its own 4-bit float table, not OCP E2M1), otherwise as `nf4`. */
export const bnb_fp4: Quantizer = makeFourBit(
  "bnb_fp4",
  BNB_FP4_TABLE,
  "bitsandbytes FP4 (not OCP E2M1): block absmax (64), double-quantized absmax",
);

/**
 * bitsandbytes blockwise 8-bit (`quantize_blockwise` with the signed dynamic map): one byte per
 * element, one float32 absmax per block (default 4096).
 */
export const bnb_blockwise8: Quantizer = Object.freeze({
  name: "bnb_blockwise8",
  summary: "bitsandbytes blockwise 8-bit: signed dynamic map, block absmax (4096)",
  defaults: defaultsOf(EIGHT_BIT_RULES),
  quantize(
    src: Float32Array,
    shape: readonly number[],
    spec?: Readonly<Record<string, unknown>>,
    ctx?: WorkContext,
  ): QuantizedTensor {
    const s = resolveSpec("bnb_blockwise8", EIGHT_BIT_RULES, spec) as unknown as BnbBlockwise8Spec;
    const n = inputArray(src, shape);
    const codes = new Uint8Array(n);
    const absmax = new Float32Array(Math.ceil(n / s.blockSize));
    quantize8(src, s.blockSize, DYNAMIC_BOOK, codes, absmax, ctx);
    return {
      spec: s as unknown as QuantizedTensor["spec"],
      shape: [...shape],
      parts: { qdata: part("U8", codes), absmax: part("F32", absmax) },
    };
  },
  dequantize(qt: QuantizedTensor, dst?: Float32Array): Float32Array {
    const format = "bnb_blockwise8";
    const n = readEnvelope(qt, format);
    const s = resolveStoredSpec(format, EIGHT_BIT_RULES, qt.spec) as unknown as BnbBlockwise8Spec;
    const codes = readPart(qt, "qdata", "U8", Uint8Array, n, format);
    const absmax = readPart(qt, "absmax", "F32", Float32Array, Math.ceil(n / s.blockSize), format);
    const out = outputBuffer(dst, n);
    dequantize8(codes, s.blockSize, DYNAMIC_MAP, absmax, out);
    return out;
  },
});

/** Every quantizer of this package, for the registry of @lowbit/formats. */
export const nf4Quantizers: readonly Quantizer[] = Object.freeze([nf4, bnb_fp4, bnb_blockwise8]);

/**
 * The float32 absmax (scale) of every block of an `nf4`, `bnb_fp4` or `bnb_blockwise8` tensor, as
 * bitsandbytes' dequantization uses it: for double-quantized tensors the rebuilt
 * `dynamic_map[code] · nestedAbsmax + offset`. Malformed parts throw CorruptDataError.
 */
export function bnbBlockAbsmax(qt: QuantizedTensor): Float32Array {
  if (typeof qt !== "object" || qt === null) throw new TypeError("qt must be a QuantizedTensor");
  const format = (qt.spec as { format?: unknown } | undefined)?.format;
  if (format === "bnb_blockwise8") {
    const n = readEnvelope(qt, format);
    const s = resolveStoredSpec(format, EIGHT_BIT_RULES, qt.spec) as unknown as BnbBlockwise8Spec;
    return readPart(qt, "absmax", "F32", Float32Array, Math.ceil(n / s.blockSize), format).slice();
  }
  const { spec, n } = resolveFourBit(qt);
  const absmax = readAbsmax4(qt, spec, n);
  return absmax === qt.parts["absmax"]?.data ? absmax.slice() : absmax;
}
