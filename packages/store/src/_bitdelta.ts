import { CorruptDataError } from "@lowbit/bits";
import { bfloat16, float16 } from "@lowbit/fp16";
import type { ObjectHeader } from "./_object.js";

/**
 * BitDelta (lossy): fine-tune ≈ base + s_r · sign(fine-tune − base), one scale per row r. The scale
 * minimising the squared error of a sign approximation is the row's mean |delta|. Payload: rows
 * float32 scales, then one bit per element (1 = +s), LSB first. The reconstruction is rounded to the
 * tensor's dtype (nearest-even) and is what the object's hash covers.
 */

export const BITDELTA_DTYPES = ["F16", "BF16", "F32"] as const;

function toFloat32(bytes: Uint8Array, dtype: string): Float32Array {
  const a = bytes.byteOffset % 4 === 0 ? bytes : bytes.slice();
  if (dtype === "F32") return new Float32Array(a.buffer, a.byteOffset, a.length / 4);
  const codes = new Uint16Array(a.buffer, a.byteOffset, a.length / 2);
  return dtype === "F16" ? float16.decode(codes) : bfloat16.decode(codes);
}

function fromFloat32(values: Float32Array, dtype: string): Uint8Array {
  if (dtype === "F32")
    return new Uint8Array(values.buffer.slice(values.byteOffset, values.byteOffset + values.byteLength));
  const codes = (dtype === "F16" ? float16 : bfloat16).encode(values) as Uint16Array;
  return new Uint8Array(codes.buffer, codes.byteOffset, codes.byteLength);
}

function reconstruct(base: Float32Array, scales: Float32Array, signs: Uint8Array, dtype: string): Uint8Array {
  const n = base.length;
  const rows = scales.length;
  const cols = n / rows;
  const out = new Float32Array(n);
  for (let r = 0; r < rows; r++) {
    const s = scales[r]!;
    for (let j = r * cols; j < (r + 1) * cols; j++) {
      const bit = (signs[j >>> 3]! >>> (j & 7)) & 1;
      out[j] = Math.fround(base[j]! + (bit ? s : -s));
    }
  }
  return fromFloat32(out, dtype);
}

export interface BitDeltaResult {
  readonly recon: Uint8Array;
  readonly payload: Uint8Array;
  readonly sizes: number[];
  readonly rows: number;
  readonly relativeError: number;
}

export function encodeBitDelta(
  ft: Uint8Array,
  base: Uint8Array,
  dtype: string,
  shape: readonly number[],
): BitDeltaResult {
  const f = toFloat32(ft, dtype);
  const b = toFloat32(base, dtype);
  const n = f.length;
  const rows = shape.length >= 2 && n > 0 ? shape[0]! : 1;
  const cols = n / rows;
  const scales = new Float32Array(rows);
  const signs = new Uint8Array(Math.ceil(n / 8));
  for (let r = 0; r < rows; r++) {
    let sum = 0;
    for (let j = r * cols; j < (r + 1) * cols; j++) {
      const d = f[j]! - b[j]!;
      if (Number.isFinite(d)) sum += Math.abs(d);
      if (d >= 0) signs[j >>> 3]! |= 1 << (j & 7);
    }
    scales[r] = cols > 0 ? sum / cols : 0;
  }
  const recon = reconstruct(b, scales, signs, dtype);
  const rf = toFloat32(recon, dtype);
  let err = 0;
  let norm = 0;
  for (let j = 0; j < n; j++) {
    const e = rf[j]! - f[j]!;
    err += e * e;
    norm += f[j]! * f[j]!;
  }
  const payload = new Uint8Array(4 * rows + signs.length);
  payload.set(new Uint8Array(scales.buffer), 0);
  payload.set(signs, 4 * rows);
  return {
    recon,
    payload,
    sizes: [4 * rows, signs.length],
    rows,
    relativeError: norm > 0 ? Math.sqrt(err / norm) : 0,
  };
}

export function decodeBitDelta(payload: Uint8Array, header: ObjectHeader, base: Uint8Array): Uint8Array {
  const dtype = header.dtype;
  const rows = header.rows;
  if (dtype === undefined || !(BITDELTA_DTYPES as readonly string[]).includes(dtype))
    throw new CorruptDataError("bitdelta object without a float dtype");
  const w = dtype === "F32" ? 4 : 2;
  const n = header.length / w;
  if (rows === undefined || !Number.isSafeInteger(rows) || rows < 1 || n % rows !== 0)
    throw new CorruptDataError("bitdelta object with a bad row count");
  if (header.sizes.length !== 2 || header.sizes[0] !== 4 * rows || header.sizes[1] !== Math.ceil(n / 8)) {
    throw new CorruptDataError("bitdelta object block sizes do not match its shape");
  }
  const scales = new Float32Array(payload.slice(0, 4 * rows).buffer);
  const signs = payload.subarray(4 * rows);
  return reconstruct(toFloat32(base, dtype), scales, signs, dtype);
}
