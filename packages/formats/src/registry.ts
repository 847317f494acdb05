import { float4_e2m1fn } from "@lowbit/fp4";
import { float6_e2m3fn, float6_e3m2fn } from "@lowbit/fp6";
import { float8_e4m3fn, float8_e4m3fnuz, float8_e5m2, float8_e5m2fnuz, float8_e8m0fnu } from "@lowbit/fp8";
import { bfloat16, float16 } from "@lowbit/fp16";
import { hifloat8 } from "@lowbit/hif8";
import type { FloatCodec } from "@lowbit/minifloat";

/** What kind of thing a registry entry is. Block formats (MX, NVFP4, GGUF, NF4) join in later releases. */
export type CodecKind = "element";

/** A registry entry: the codec plus what a tool needs to describe it. */
export interface CodecInfo {
  readonly name: string;
  readonly kind: CodecKind;
  /** npm package that implements it. */
  readonly package: string;
  /** The normative reference for bit-exactness. */
  readonly reference: string;
  /** One line for tables. */
  readonly summary: string;
  readonly codec: FloatCodec;
}

const ML_DTYPES = "ml_dtypes 0.6.0 astype from float32";

const entries: readonly CodecInfo[] = [
  info(float16, "@lowbit/fp16", "numpy 2.5 float16 cast", "IEEE binary16, S E5 M10"),
  info(bfloat16, "@lowbit/fp16", ML_DTYPES, "bfloat16, S E8 M7 (float32 high half)"),
  info(float8_e4m3fn, "@lowbit/fp8", ML_DTYPES, "OFP8 E4M3, no Inf, NaN 0x7F/0xFF"),
  info(float8_e5m2, "@lowbit/fp8", ML_DTYPES, "OFP8 E5M2, IEEE-like"),
  info(float8_e4m3fnuz, "@lowbit/fp8", ML_DTYPES, "E4M3 bias 8, NaN 0x80, no -0"),
  info(float8_e5m2fnuz, "@lowbit/fp8", ML_DTYPES, "E5M2 bias 16, NaN 0x80, no -0"),
  info(float8_e8m0fnu, "@lowbit/fp8", ML_DTYPES, "E8M0 power-of-two scale, NaN 0xFF"),
  info(float6_e2m3fn, "@lowbit/fp6", ML_DTYPES, "MX FP6 E2M3, finite only"),
  info(float6_e3m2fn, "@lowbit/fp6", ML_DTYPES, "MX FP6 E3M2, finite only"),
  info(float4_e2m1fn, "@lowbit/fp4", ML_DTYPES, "MX FP4 E2M1, finite only"),
  info(hifloat8, "@lowbit/hif8", "Ascend graph engine HiF8FromIeeeBits (TA)", "HiFloat8, tapered exponent"),
];

function info(codec: FloatCodec, pkg: string, reference: string, summary: string): CodecInfo {
  return Object.freeze({ name: codec.name, kind: "element", package: pkg, reference, summary, codec });
}

const byName = new Map(entries.map((e) => [e.name, e]));

/** Every registered codec, element formats first, in a stable order. */
export function listCodecs(): readonly CodecInfo[] {
  return entries;
}

/** The names `getCodec` accepts. */
export function codecNames(): string[] {
  return entries.map((e) => e.name);
}

/** True if `name` is a registered codec. */
export function hasCodec(name: string): boolean {
  return byName.has(name);
}

/**
 * The codec registered under `name` (ml_dtypes spelling, e.g. `float8_e4m3fn`).
 * Throws TypeError for a non-string and RangeError, listing the known names, for an unknown one.
 */
export function getCodec(name: string): FloatCodec {
  return getCodecInfo(name).codec;
}

export function getCodecInfo(name: string): CodecInfo {
  if (typeof name !== "string") throw new TypeError(`name must be a string, got ${typeof name}`);
  const e = byName.get(name);
  if (e === undefined) {
    throw new RangeError(`unknown codec ${JSON.stringify(name)}; known: ${codecNames().join(", ")}`);
  }
  return e;
}
