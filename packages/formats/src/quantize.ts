import { any4Quantizers } from "@lowbit/any4";
import {
  NotFoundError,
  type QuantizedTensor,
  type Quantizer,
  type QuantSpec,
  shapeSize,
  type WorkContext,
} from "@lowbit/bits";
import { intQuantizers } from "@lowbit/int";
import { mxQuantizers } from "@lowbit/mx";
import { nf4Quantizers } from "@lowbit/nf4";
import { vqQuantizers } from "@lowbit/vq";
import { elementQuantizers } from "./element-quantizers.js";

const registry = new Map<string, Quantizer>();
for (const group of [
  elementQuantizers,
  intQuantizers,
  nf4Quantizers,
  any4Quantizers,
  mxQuantizers,
  vqQuantizers,
]) {
  for (const q of group) {
    if (registry.has(q.name)) throw new Error(`quantizer ${q.name} is registered twice`);
    registry.set(q.name, q);
  }
}

/** Every registered quantizer, in registration order. */
export function listQuantizers(): readonly Quantizer[] {
  return [...registry.values()];
}

/** True if a quantizer is registered under `name`. */
export function hasQuantizer(name: string): boolean {
  return registry.has(name);
}

/** The quantizer registered under `name`; RangeError listing the known names otherwise. */
export function getQuantizer(name: string): Quantizer {
  if (typeof name !== "string") throw new TypeError(`format must be a string, got ${typeof name}`);
  const q = registry.get(name);
  if (q === undefined) {
    throw new RangeError(`unknown format ${JSON.stringify(name)}; known: ${[...registry.keys()].join(", ")}`);
  }
  return q;
}

/**
 * Quantizes a row-major float tensor: `spec.format` names the quantizer, the other fields are its
 * options. Returns the parts and the resolved spec (every option, defaults filled in).
 */
export function quantize(
  src: Float32Array,
  shape: readonly number[],
  spec: QuantSpec,
  ctx?: WorkContext,
): QuantizedTensor {
  if (typeof spec !== "object" || spec === null) throw new TypeError("spec must be an object with a format");
  const { format, ...options } = spec;
  return getQuantizer(format).quantize(src, shape, options, ctx);
}

/**
 * Restores the float tensor. A format that is not registered throws NotFoundError (ERR_NOT_FOUND):
 * the tensor usually comes from a file, so this is bad data rather than a bad argument.
 */
export function dequantize(qt: QuantizedTensor, dst?: Float32Array): Float32Array {
  const format = qt?.spec?.format;
  if (typeof format !== "string" || !registry.has(format)) {
    throw new NotFoundError(`no quantizer for format ${JSON.stringify(format)}`);
  }
  return registry.get(format)!.dequantize(qt, dst);
}

/** Storage cost: bits of every part (codes, scales, zeros, tables, …) per element of the tensor. */
export function bitsPerWeight(qt: QuantizedTensor): number {
  const n = shapeSize(qt.shape);
  let bytes = 0;
  for (const p of Object.values(qt.parts)) bytes += p.data.byteLength;
  return n === 0 ? 0 : (bytes * 8) / n;
}
