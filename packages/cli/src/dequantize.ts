import { stat } from "node:fs/promises";
import { assertOneOf, describe, type TensorPart, throwIfAborted } from "@lowbit/bits";
import { dequantize, getCodec } from "@lowbit/formats";
import { writeSafetensors } from "@lowbit/safetensors/node";
import { isQuantizedTensor, openInput } from "./_model.js";
import { quote, withContext } from "./_text.js";
import type { FileProgress } from "./quantize.js";

export const DEQUANTIZE_DTYPES = ["f32", "f16", "bf16"] as const;
/** dtype of the restored tensors: F32 (exact), F16 or BF16 (rounded to nearest even, as ml_dtypes' astype). */
export type DequantizeDtype = (typeof DEQUANTIZE_DTYPES)[number];

export interface DequantizeFileOptions {
  readonly input: string;
  /** A plain safetensors file, written atomically; left untouched on any error. May equal `input`. */
  readonly output: string;
  /** Default `"f32"`. */
  readonly dtype?: DequantizeDtype;
  readonly onProgress?: (progress: FileProgress) => void;
  readonly signal?: AbortSignal;
}

export interface DequantizeResult {
  readonly input: string;
  readonly output: string;
  readonly dtype: DequantizeDtype;
  readonly tensors: number;
  /** Quantized tensors restored, and their elements. */
  readonly dequantized: number;
  readonly elements: number;
  /** Quantized formats found, in order of first appearance. */
  readonly formats: readonly string[];
  readonly bytesIn: number;
  readonly bytesOut: number;
  readonly seconds: number;
}

/** Float32 values as a TensorPart of `dtype`. */
export function floatTensor(
  values: Float32Array,
  shape: readonly number[],
  dtype: DequantizeDtype,
): TensorPart {
  switch (dtype) {
    case "f32":
      return { dtype: "F32", shape, data: values };
    case "f16":
      return { dtype: "F16", shape, data: getCodec("float16").encode(values) };
    case "bf16":
      return { dtype: "BF16", shape, data: getCodec("bfloat16").encode(values) };
  }
}

/**
 * Restores every lowbit quantized tensor of a model file to floats of `dtype` through its registered
 * quantizer (`dequantize` of @lowbit/formats) and keeps every other tensor as it is. The output is a
 * plain safetensors file with the input's metadata minus the lowbit key. Tensors are read one at a
 * time; the output is written atomically (`writeSafetensors`).
 */
export async function dequantizeFile(options: DequantizeFileOptions): Promise<DequantizeResult> {
  if (typeof options !== "object" || options === null) {
    throw new TypeError(`options must be an object, got ${describe(options)}`);
  }
  for (const key of ["input", "output"] as const) {
    if (typeof options[key] !== "string" || options[key] === "") {
      throw new TypeError(`options.${key} must be a non-empty string, got ${describe(options[key])}`);
    }
  }
  const dtype = options.dtype ?? "f32";
  assertOneOf(dtype, DEQUANTIZE_DTYPES, "options.dtype");
  const { input, output, signal, onProgress } = options;
  const started = performance.now();
  throwIfAborted(signal);

  const tensors = new Map<string, TensorPart>();
  const formats = new Set<string>();
  let dequantized = 0;
  let elements = 0;
  const reader = await openInput(input);
  const bytesIn = reader.file.header.dataStart + reader.file.header.dataLength;
  const metadata = reader.metadata;
  try {
    const names = reader.names();
    for (const [index, name] of names.entries()) {
      throwIfAborted(signal);
      const t = await reader.read(name);
      if (isQuantizedTensor(t)) {
        let values: Float32Array;
        try {
          values = dequantize(t);
        } catch (e) {
          throw withContext(e, `${input}: tensor ${quote(name)}`);
        }
        tensors.set(name, floatTensor(values, t.shape, dtype));
        formats.add(String(t.spec.format));
        dequantized++;
        elements += values.length;
      } else {
        tensors.set(name, t);
      }
      onProgress?.({ stage: "tensors", done: index + 1, total: names.length, tensor: name });
    }
  } finally {
    await reader.close();
  }
  await writeSafetensors(output, tensors, metadata, {
    ...(signal !== undefined ? { signal } : {}),
    ...(onProgress !== undefined
      ? { onProgress: (done: number, total: number) => onProgress({ stage: "write", done, total }) }
      : {}),
  });
  return {
    input,
    output,
    dtype,
    tensors: tensors.size,
    dequantized,
    elements,
    formats: [...formats],
    bytesIn,
    bytesOut: (await stat(output)).size,
    seconds: (performance.now() - started) / 1000,
  };
}
