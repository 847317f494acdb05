import { DTYPE_BYTES, LowbitError, type QuantizedTensor, type TensorPart } from "@lowbit/bits";
import { dequantize } from "@lowbit/formats";
import { toFloat32 } from "@lowbit/safetensors";
import { type ModelReader, openModel } from "@lowbit/safetensors/node";
import { quote, withContext } from "./_text.js";

/** Opens a model file; a malformed file's error names the file. */
export async function openInput(path: string): Promise<ModelReader> {
  try {
    return await openModel(path);
  } catch (e) {
    // Node's own errors (ENOENT, EACCES) already name the path.
    throw e instanceof LowbitError ? withContext(e, path) : e;
  }
}

/** What one model name holds, as the header says (no tensor data read). */
export interface StoredTensor {
  readonly name: string;
  /** The dtype of a plain tensor, or the format of a quantized one. */
  readonly type: string;
  readonly quantized: boolean;
  readonly shape: readonly number[];
  readonly elements: number;
  /** Bytes in the file: the tensor's data, or every part of a quantized tensor. */
  readonly bytes: number;
  /** bytes · 8 / elements (0 for an empty tensor). */
  readonly bitsPerWeight: number;
}

const span = (offsets: readonly [number, number]): number => offsets[1] - offsets[0];

function elementsOf(shape: readonly number[]): number {
  let n = 1;
  for (const d of shape) n *= d;
  return n;
}

/** Type, shape and stored size of a model tensor, from the header alone. */
export function storedTensor(reader: ModelReader, name: string): StoredTensor {
  const info = reader.info(name);
  const elements = elementsOf(info.shape);
  if (info.kind === "tensor") {
    // A plain tensor costs its dtype's width, even when empty.
    return {
      name,
      type: info.dtype,
      quantized: false,
      shape: info.shape,
      elements,
      bytes: span(info.dataOffsets),
      bitsPerWeight: DTYPE_BYTES[info.dtype] * 8,
    };
  }
  let bytes = 0;
  for (const p of info.parts) bytes += span(reader.file.info(`${name}.${p}`).dataOffsets);
  return {
    name,
    type: info.format,
    quantized: true,
    shape: info.shape,
    elements,
    bytes,
    bitsPerWeight: elements === 0 ? 0 : (bytes * 8) / elements,
  };
}

export function isQuantizedTensor(t: TensorPart | QuantizedTensor): t is QuantizedTensor {
  return "parts" in t;
}

/**
 * Float32 values of a model tensor: quantized ones dequantized by their registered quantizer, plain
 * ones converted exactly (F64 and 64-bit integers rounded once). Errors name the file and tensor.
 */
export async function readValues(reader: ModelReader, name: string): Promise<Float32Array> {
  const t = await reader.read(name);
  try {
    return isQuantizedTensor(t) ? dequantize(t) : toFloat32(t);
  } catch (e) {
    throw withContext(e, `${reader.file.path}: tensor ${quote(name)}`);
  }
}
