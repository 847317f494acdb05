/** Options and part reading shared by the quantizers and the state-dict converter. */

import type { QuantizedTensor } from "@lowbit/bits";
import { unnestAbsmax } from "./_kernels.js";
import {
  blockSizeRule,
  booleanRule,
  type OptionRule,
  readEnvelope,
  readPart,
  resolveStoredSpec,
  sourceDtypeRule,
} from "./_spec.js";
import { DYNAMIC_MAP } from "./_tables.js";
import type { Bnb4bitSpec } from "./nf4.js";

export const FOUR_BIT_RULES: Readonly<Record<string, OptionRule>> = {
  blockSize: blockSizeRule(64),
  doubleQuant: booleanRule(true),
  nestedBlockSize: blockSizeRule(256),
  sourceDtype: sourceDtypeRule,
};

export const EIGHT_BIT_RULES: Readonly<Record<string, OptionRule>> = { blockSize: blockSizeRule(4096) };

/**
 * The float32 absmax of every block of a 4-bit tensor, as `dequantize_4bit` rebuilds it (nested:
 * `dynamic_map[code] · nestedAbsmax[block / nestedBlockSize] + offset`). Validates the parts it reads.
 */
export function readAbsmax4(qt: QuantizedTensor, spec: Bnb4bitSpec, n: number): Float32Array {
  const blocks = Math.ceil(n / spec.blockSize);
  const where = spec.format;
  if (!spec.doubleQuant) return readPart(qt, "absmax", "F32", Float32Array, blocks, where);
  const codes = readPart(qt, "absmax", "U8", Uint8Array, blocks, where);
  const nested = readPart(
    qt,
    "nestedAbsmax",
    "F32",
    Float32Array,
    Math.ceil(blocks / spec.nestedBlockSize),
    where,
  );
  const offset = readPart(qt, "offset", "F32", Float32Array, 1, where)[0]!;
  const absmax = new Float32Array(blocks);
  unnestAbsmax(codes, nested, offset, spec.nestedBlockSize, DYNAMIC_MAP, absmax);
  return absmax;
}

/** Resolves and validates the spec and envelope of an `nf4` / `bnb_fp4` tensor. */
export function resolveFourBit(qt: QuantizedTensor): { spec: Bnb4bitSpec; n: number } {
  if (typeof qt !== "object" || qt === null) throw new TypeError("qt must be a QuantizedTensor");
  const format = (qt.spec as { format?: unknown } | undefined)?.format;
  if (format !== "nf4" && format !== "bnb_fp4") {
    throw new RangeError(`qt.spec.format must be "nf4" or "bnb_fp4", got ${JSON.stringify(format)}`);
  }
  const n = readEnvelope(qt, format);
  const spec = resolveStoredSpec(format, FOUR_BIT_RULES, qt.spec) as unknown as Bnb4bitSpec;
  return { spec, n };
}
