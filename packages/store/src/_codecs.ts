import { CorruptDataError } from "@lowbit/bits";
import { mergePlanes, splitPlanes, xorInto } from "./_planes.js";
import { ransDecode, ransDecodeChained, ransEncode } from "./_rans.js";
import type { Compressor } from "./types.js";

/** Float dtypes the store models bit by bit: element width and where the exponent sits. */
export interface FloatFormat {
  readonly dtype: "F16" | "BF16" | "F32";
  readonly width: 2 | 4;
  readonly expShift: number;
  readonly expBits: number;
}

export const FLOAT_FORMATS: Readonly<Record<string, FloatFormat>> = {
  F16: { dtype: "F16", width: 2, expShift: 10, expBits: 5 },
  BF16: { dtype: "BF16", width: 2, expShift: 7, expBits: 8 },
  F32: { dtype: "F32", width: 4, expShift: 23, expBits: 8 },
};

/** Bytes per element of a safetensors dtype (1 for unknown ones: no plane split). */
export function elementWidth(dtype: string | undefined): number {
  switch (dtype) {
    case "F64":
    case "I64":
    case "U64":
      return 8;
    case "F32":
    case "I32":
    case "U32":
      return 4;
    case "F16":
    case "BF16":
    case "I16":
    case "U16":
      return 2;
    default:
      return 1;
  }
}

/** A 2- or 4-byte aligned copy when the view is not aligned (typed-array views need it). */
function aligned(data: Uint8Array, w: number): Uint8Array {
  return data.byteOffset % w === 0 ? data : data.slice();
}

function compressPlanes(
  planes: Uint8Array,
  w: number,
  c: Compressor,
  level: number,
): { payload: Uint8Array; sizes: number[] } {
  const n = planes.length / w;
  const parts: Uint8Array[] = [];
  for (let p = 0; p < w; p++) parts.push(c.compress(planes.subarray(p * n, (p + 1) * n), level));
  return concat(parts);
}

function decompressPlanes(
  payload: Uint8Array,
  sizes: readonly number[],
  length: number,
  c: Compressor,
): Uint8Array {
  const w = sizes.length;
  if (length % w !== 0)
    throw new CorruptDataError(`object length ${length} is not a multiple of ${w} planes`);
  const n = length / w;
  const planes = new Uint8Array(length);
  let off = 0;
  for (let p = 0; p < w; p++) {
    const size = sizes[p]!;
    const plane = c.decompress(payload.subarray(off, off + size), n);
    if (plane.length !== n)
      throw new CorruptDataError(`plane ${p} holds ${plane.length} bytes, expected ${n}`);
    planes.set(plane, p * n);
    off += size;
  }
  if (off !== payload.length) throw new CorruptDataError("object payload has trailing bytes");
  return planes;
}

export function concat(parts: readonly Uint8Array[]): { payload: Uint8Array; sizes: number[] } {
  let total = 0;
  for (const p of parts) total += p.length;
  const payload = new Uint8Array(total);
  const sizes: number[] = [];
  let off = 0;
  for (const p of parts) {
    payload.set(p, off);
    sizes.push(p.length);
    off += p.length;
  }
  return { payload, sizes };
}

/** zstd of the byte planes (one plane when w = 1). */
export function encodeZstd(data: Uint8Array, w: number, c: Compressor, level: number) {
  const planes = w > 1 && data.length % w === 0 ? w : 1;
  return compressPlanes(planes > 1 ? splitPlanes(data, planes) : data, planes, c, level);
}

export function decodeZstd(
  payload: Uint8Array,
  sizes: readonly number[],
  length: number,
  c: Compressor,
): Uint8Array {
  const w = sizes.length;
  const planes = decompressPlanes(payload, sizes, length, c);
  if (w === 1) return planes;
  const out = new Uint8Array(length);
  mergePlanes(planes, w, out);
  return out;
}

/** BitX: XOR with the base, byte planes, zstd per plane. */
export function encodeXor(data: Uint8Array, base: Uint8Array, w: number, c: Compressor, level: number) {
  const x = new Uint8Array(data.length);
  xorInto(data, base, x);
  return encodeZstd(x, w, c, level);
}

export function decodeXor(
  payload: Uint8Array,
  sizes: readonly number[],
  base: Uint8Array,
  c: Compressor,
): Uint8Array {
  const x = decodeZstd(payload, sizes, base.length, c);
  xorInto(x, base, x);
  return x;
}

/*
 * "delta": the fine-tune and the base as order-preserving integer keys (negative floats flipped so
 * that integer order is float order), their modular difference zigzag-coded, split into byte planes
 * from the most significant, each plane coded with static rANS. Plane 0's context is the base
 * element's exponent (how far a weight moves in ulps depends on its magnitude); plane j's context is
 * plane j−1's byte, capped at 15 (a large high byte predicts a noisy low byte).
 */

const LOW_CONTEXTS = 16;

function key16(v: number): number {
  return v & 0x8000 ? ~v & 0xffff : v | 0x8000;
}
function unkey16(k: number): number {
  return k & 0x8000 ? k & 0x7fff : ~k & 0xffff;
}

function planeContexts(prev: Uint8Array, n: number): Uint8Array {
  const ctx = new Uint8Array(n);
  for (let i = 0; i < n; i++) {
    const b = prev[i]!;
    ctx[i] = b < LOW_CONTEXTS ? b : LOW_CONTEXTS - 1;
  }
  return ctx;
}

function codePlanes(planes: Uint8Array, w: number, ctx0: Uint8Array, nCtx0: number) {
  const n = planes.length / w;
  const parts: Uint8Array[] = [ransEncode(planes.subarray(0, n), ctx0, nCtx0)];
  for (let p = 1; p < w; p++) {
    const ctx = planeContexts(planes.subarray((p - 1) * n, p * n), n);
    parts.push(ransEncode(planes.subarray(p * n, (p + 1) * n), ctx, LOW_CONTEXTS));
  }
  return concat(parts);
}

function decodeCodedPlanes(
  payload: Uint8Array,
  sizes: readonly number[],
  n: number,
  ctx0: Uint8Array,
  nCtx0: number,
): Uint8Array {
  const w = sizes.length;
  const planes = new Uint8Array(n * w);
  let off = 0;
  for (let p = 0; p < w; p++) {
    const block = payload.subarray(off, off + sizes[p]!);
    off += sizes[p]!;
    const out = planes.subarray(p * n, (p + 1) * n);
    if (p === 0) ransDecode(block, ctx0, nCtx0, out);
    else ransDecode(block, planeContexts(planes.subarray((p - 1) * n, p * n), n), LOW_CONTEXTS, out);
  }
  if (off !== payload.length) throw new CorruptDataError("object payload has trailing bytes");
  return planes;
}

function exponentContexts(base: Uint8Array, f: FloatFormat): Uint8Array {
  const n = base.length / f.width;
  const ctx = new Uint8Array(n);
  const mask = (1 << f.expBits) - 1;
  if (f.width === 2) {
    const b16 = new Uint16Array(base.buffer, base.byteOffset, n);
    for (let i = 0; i < n; i++) ctx[i] = (b16[i]! >>> f.expShift) & mask;
  } else {
    const b32 = new Uint32Array(base.buffer, base.byteOffset, n);
    for (let i = 0; i < n; i++) ctx[i] = (b32[i]! >>> f.expShift) & mask;
  }
  return ctx;
}

export function encodeDelta(data: Uint8Array, base: Uint8Array, f: FloatFormat) {
  const d = aligned(data, f.width);
  const b = aligned(base, f.width);
  const n = d.length / f.width;
  const zz = new Uint8Array(d.length);
  if (f.width === 2) {
    const a16 = new Uint16Array(d.buffer, d.byteOffset, n);
    const b16 = new Uint16Array(b.buffer, b.byteOffset, n);
    const z16 = new Uint16Array(zz.buffer, 0, n);
    for (let i = 0; i < n; i++) {
      const s = (((key16(a16[i]!) - key16(b16[i]!)) << 16) >> 16) | 0;
      z16[i] = (s << 1) ^ (s >> 31);
    }
  } else {
    const a32 = new Int32Array(d.buffer, d.byteOffset, n);
    const b32 = new Int32Array(b.buffer, b.byteOffset, n);
    const z32 = new Int32Array(zz.buffer, 0, n);
    for (let i = 0; i < n; i++) {
      const x = a32[i]!;
      const y = b32[i]!;
      // Order-preserving keys for 32-bit floats: flip all bits of negatives, the sign bit of positives.
      const kx = x < 0 ? ~x : x ^ 0x80000000;
      const ky = y < 0 ? ~y : y ^ 0x80000000;
      const s = (kx - ky) | 0;
      z32[i] = (s << 1) ^ (s >> 31);
    }
  }
  return codePlanes(splitPlanes(zz, f.width), f.width, exponentContexts(b, f), 1 << f.expBits);
}

export function decodeDelta(
  payload: Uint8Array,
  sizes: readonly number[],
  base: Uint8Array,
  f: FloatFormat,
): Uint8Array {
  if (sizes.length !== f.width)
    throw new CorruptDataError(`delta object has ${sizes.length} planes, ${f.dtype} needs ${f.width}`);
  const b = aligned(base, f.width);
  const n = b.length / f.width;
  const planes = decodeCodedPlanes(payload, sizes, n, exponentContexts(b, f), 1 << f.expBits);
  const out = new Uint8Array(b.length);
  mergePlanes(planes, f.width, out);
  if (f.width === 2) {
    const z16 = new Uint16Array(out.buffer, 0, n);
    const b16 = new Uint16Array(b.buffer, b.byteOffset, n);
    for (let i = 0; i < n; i++) {
      const z = z16[i]!;
      const s = (z >>> 1) ^ -(z & 1);
      z16[i] = unkey16((key16(b16[i]!) + s) & 0xffff);
    }
  } else {
    const z32 = new Int32Array(out.buffer, 0, n);
    const b32 = new Int32Array(b.buffer, b.byteOffset, n);
    for (let i = 0; i < n; i++) {
      const z = z32[i]!;
      const s = (z >>> 1) ^ -(z & 1);
      const y = b32[i]!;
      const ky = y < 0 ? ~y : y ^ 0x80000000;
      const k = (ky + s) | 0;
      z32[i] = k < 0 ? k ^ 0x80000000 : ~k;
    }
  }
  return out;
}

/*
 * "rans" (no base, F16 only): the value's own byte planes. Plane 0 (sign, exponent, two mantissa
 * bits) has the previous element's exponent as context — neighbouring weights have similar
 * magnitudes — and plane 1 is coded as in "delta". bf16 and f32 keep an exponent bit in plane 1,
 * so they use zstd planes instead.
 */

/** Previous high byte → context (its f16 exponent). */
const F16_NEXT = Uint8Array.from({ length: 256 }, (_, b) => (b >>> 2) & 31);

export function encodeRans(data: Uint8Array, f: FloatFormat) {
  if (f.dtype !== "F16") throw new RangeError(`rans codes F16 only, got ${f.dtype}`);
  const d = aligned(data, 2);
  const planes = splitPlanes(d, 2);
  const n = d.length / 2;
  const ctx0 = new Uint8Array(n);
  for (let i = 1; i < n; i++) ctx0[i] = F16_NEXT[planes[i - 1]!]!;
  return codePlanes(planes, 2, ctx0, 32);
}

export function decodeRans(payload: Uint8Array, sizes: readonly number[], length: number): Uint8Array {
  if (sizes.length !== 2) throw new CorruptDataError(`rans object has ${sizes.length} planes, F16 needs 2`);
  if (length % 2 !== 0) throw new CorruptDataError(`rans object length ${length} is odd`);
  const n = length / 2;
  const planes = new Uint8Array(length);
  ransDecodeChained(payload.subarray(0, sizes[0]!), F16_NEXT, 32, planes.subarray(0, n));
  const rest = payload.subarray(sizes[0]!, sizes[0]! + sizes[1]!);
  if (sizes[0]! + sizes[1]! !== payload.length)
    throw new CorruptDataError("object payload has trailing bytes");
  ransDecode(rest, planeContexts(planes.subarray(0, n), n), LOW_CONTEXTS, planes.subarray(n));
  const out = new Uint8Array(length);
  mergePlanes(planes, 2, out);
  return out;
}
