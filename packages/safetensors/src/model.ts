import { assertUint8Array, type QuantizedTensor, type TensorPart } from "@lowbit/bits";
import { dequantize } from "@lowbit/formats";
import {
  assembleQuantized,
  type FloatTensor,
  flattenModel,
  LOWBIT_FORMAT_VERSION,
  LOWBIT_METADATA_KEY,
  type ModelEntries,
  type ModelEntry,
  type ModelLayout,
  modelLayout,
  partTensorName,
  type QuantizedInfo,
} from "./_model.js";
import { toFloat32 } from "./convert.js";
import { encodeSafetensors } from "./encode.js";
import type { SafetensorsLimits } from "./header.js";
import { readSafetensors } from "./read.js";

export type { FloatTensor, ModelEntries, ModelEntry, QuantizedInfo };
export { LOWBIT_FORMAT_VERSION, LOWBIT_METADATA_KEY };

/** A model read back: stored tensors and reassembled quantized tensors. */
export interface Model {
  /** User metadata (`__metadata__` without the lowbit key). */
  readonly metadata: Readonly<Record<string, string>>;
  /** Tensors that are not parts of a quantized tensor, in file order. */
  readonly tensors: ReadonlyMap<string, TensorPart>;
  /** Quantized tensors, ready for `dequantize` of @lowbit/formats. */
  readonly quantized: ReadonlyMap<string, QuantizedTensor>;
  /** Every model name (plain and quantized) in file order. */
  readonly names: readonly string[];
}

/**
 * Encodes a model as a safetensors file (SPEC §4): each quantized tensor `W` as its parts `W.<part>`
 * in their own dtypes, the map of quantized tensors in `__metadata__["lowbit"]`, float32 values as F32
 * and TensorParts as given. Any safetensors reader can open the result.
 */
export function encodeModel(entries: ModelEntries, metadata?: Readonly<Record<string, string>>): Uint8Array {
  const flat = flattenModel(entries, metadata);
  return encodeSafetensors(flat.tensors, flat.metadata);
}

/** Splits a file's tensors into plain and quantized ones by its layout. */
export function assembleModel(layout: ModelLayout, stored: ReadonlyMap<string, TensorPart>): Model {
  const tensors = new Map<string, TensorPart>();
  const quantized = new Map<string, QuantizedTensor>();
  for (const name of layout.names) {
    const info = layout.quantized.get(name);
    if (info === undefined) {
      tensors.set(name, stored.get(name)!);
      continue;
    }
    const parts = new Map(info.parts.map((p) => [p, stored.get(partTensorName(name, p))!] as const));
    quantized.set(name, assembleQuantized(info, parts));
  }
  return Object.freeze({ metadata: layout.metadata, tensors, quantized, names: layout.names });
}

/**
 * Reads a model from bytes: validates the file (as `readSafetensors`) and the lowbit metadata (all
 * parts present, JSON well-formed and of a known version; CorruptDataError / UnsupportedError
 * otherwise) and reassembles each QuantizedTensor from its parts.
 */
export function readModel(bytes: Uint8Array, limits?: SafetensorsLimits): Model {
  assertUint8Array(bytes, "bytes");
  const file = readSafetensors(bytes, limits);
  return assembleModel(modelLayout(file.header), file.tensors);
}

/** Float32 values of every model tensor: quantized ones through `dequantize`, the others `toFloat32`. */
export function modelToFloat32(model: Model): Map<string, FloatTensor> {
  const out = new Map<string, FloatTensor>();
  for (const name of model.names) {
    const plain = model.tensors.get(name);
    if (plain !== undefined) {
      out.set(name, { shape: plain.shape, data: toFloat32(plain) });
    } else {
      const qt = model.quantized.get(name)!;
      out.set(name, { shape: qt.shape, data: dequantize(qt) });
    }
  }
  return out;
}

/** `readModel`, then every tensor as float32 (quantized tensors dequantized). */
export function readModelFloat32(bytes: Uint8Array, limits?: SafetensorsLimits): Map<string, FloatTensor> {
  return modelToFloat32(readModel(bytes, limits));
}
