import { assertInteger, assertMinLength, assertUint8Array } from "./assert.js";

/**
 * Native packing (SPEC §2): one little-endian bit stream, least significant bits first. Element i
 * occupies stream bits [i·b, i·b + b); a final partial byte is zero-padded. The element count is not
 * stored in the bytes — keep it beside them.
 */

/** Bytes needed for `count` elements of `bits` bits each. */
export function packedLength(count: number, bits: number): number {
  assertInteger(count, "count", 0, Number.MAX_SAFE_INTEGER);
  assertInteger(bits, "bits", 1, 8);
  return Math.ceil((count * bits) / 8);
}

function assertCodesFit(codes: Uint8Array, bits: number, name: string): void {
  if (bits === 8) return;
  let acc = 0;
  for (let i = 0; i < codes.length; i++) acc |= codes[i]!;
  if (acc >>> bits === 0) return;
  const limit = 1 << bits;
  for (let i = 0; i < codes.length; i++) {
    if (codes[i]! >= limit) {
      throw new RangeError(
        `${name}[${i}] = ${codes[i]} does not fit in ${bits} bits (expected 0..${limit - 1})`,
      );
    }
  }
}

/** Packs one code per byte (each < 2^bits) into the native LSB-first layout; returns a new array. */
export function pack(codes: Uint8Array, bits: number): Uint8Array {
  assertUint8Array(codes, "codes");
  const out = new Uint8Array(packedLength(codes.length, bits));
  packInto(codes, bits, out);
  return out;
}

/** Packs into `dst` (at least `packedLength(codes.length, bits)` bytes); returns the bytes written. */
export function packInto(codes: Uint8Array, bits: number, dst: Uint8Array): number {
  assertUint8Array(codes, "codes");
  assertUint8Array(dst, "dst");
  const n = packedLength(codes.length, bits);
  assertMinLength(dst, n, "dst");
  assertCodesFit(codes, bits, "codes");
  const count = codes.length;
  if (bits === 8) {
    dst.set(codes);
    return n;
  }
  if (bits === 4) {
    const pairs = count >>> 1;
    for (let i = 0; i < pairs; i++) dst[i] = codes[2 * i]! | (codes[2 * i + 1]! << 4);
    if (count & 1) dst[pairs] = codes[count - 1]!;
    return n;
  }
  if (bits === 2) {
    const quads = count >>> 2;
    for (let i = 0; i < quads; i++) {
      const j = 4 * i;
      dst[i] = codes[j]! | (codes[j + 1]! << 2) | (codes[j + 2]! << 4) | (codes[j + 3]! << 6);
    }
    packTail(codes, bits, dst, quads * 4, quads);
    return n;
  }
  if (bits === 6) {
    const groups = Math.floor(count / 4);
    for (let g = 0; g < groups; g++) {
      const j = 4 * g;
      const o = 3 * g;
      const w = codes[j]! | (codes[j + 1]! << 6) | (codes[j + 2]! << 12) | (codes[j + 3]! << 18);
      dst[o] = w & 0xff;
      dst[o + 1] = (w >>> 8) & 0xff;
      dst[o + 2] = w >>> 16;
    }
    packTail(codes, bits, dst, groups * 4, groups * 3);
    return n;
  }
  packTail(codes, bits, dst, 0, 0);
  return n;
}

/** Generic bit-stream packer from element `start`, which must sit on a byte boundary at byte `o`. */
function packTail(codes: Uint8Array, bits: number, dst: Uint8Array, start: number, o: number): void {
  let acc = 0;
  let nacc = 0;
  for (let i = start; i < codes.length; i++) {
    acc |= codes[i]! << nacc;
    nacc += bits;
    if (nacc >= 8) {
      dst[o++] = acc & 0xff;
      acc >>>= 8;
      nacc -= 8;
    }
  }
  if (nacc > 0) dst[o] = acc & 0xff;
}

/** Unpacks `count` codes of `bits` bits from the native layout into a new Uint8Array. */
export function unpack(bytes: Uint8Array, bits: number, count: number): Uint8Array {
  assertUint8Array(bytes, "bytes");
  assertInteger(count, "count", 0, Number.MAX_SAFE_INTEGER);
  const need = packedLength(count, bits);
  if (bytes.length < need) {
    throw new RangeError(
      `bytes is too short: ${count} elements of ${bits} bits need ${need} bytes, got ${bytes.length}`,
    );
  }
  const out = new Uint8Array(count);
  unpackInto(bytes, bits, out);
  return out;
}

/** Unpacks `dst.length` codes from the native layout into `dst`; returns `dst.length`. */
export function unpackInto(bytes: Uint8Array, bits: number, dst: Uint8Array): number {
  assertUint8Array(bytes, "bytes");
  assertUint8Array(dst, "dst");
  const count = dst.length;
  const need = packedLength(count, bits);
  if (bytes.length < need) {
    throw new RangeError(
      `bytes is too short: ${count} elements of ${bits} bits need ${need} bytes, got ${bytes.length}`,
    );
  }
  if (bits === 8) {
    dst.set(bytes.subarray(0, count));
    return count;
  }
  if (bits === 4) {
    const pairs = count >>> 1;
    for (let i = 0; i < pairs; i++) {
      const b = bytes[i]!;
      dst[2 * i] = b & 15;
      dst[2 * i + 1] = b >>> 4;
    }
    if (count & 1) dst[count - 1] = bytes[pairs]! & 15;
    return count;
  }
  const mask = (1 << bits) - 1;
  let acc = 0;
  let nacc = 0;
  let o = 0;
  for (let i = 0; i < count; i++) {
    if (nacc < bits) {
      acc |= bytes[o++]! << nacc;
      nacc += 8;
    }
    dst[i] = acc & mask;
    acc >>>= bits;
    nacc -= bits;
  }
  return count;
}

// ---------------------------------------------------------------------------------------------
// Compatibility layouts. Never the default; each names the project whose files use it.

/**
 * bitsandbytes 4-bit layout: element 2i in the **high** nibble of byte i, element 2i+1 in the low
 * nibble. An odd final element sits in the high nibble of the last byte.
 */
export function packNibblesHighFirst(codes: Uint8Array): Uint8Array {
  assertUint8Array(codes, "codes");
  const out = new Uint8Array((codes.length + 1) >>> 1);
  packNibblesHighFirstInto(codes, out);
  return out;
}

export function packNibblesHighFirstInto(codes: Uint8Array, dst: Uint8Array): number {
  assertUint8Array(codes, "codes");
  assertUint8Array(dst, "dst");
  const n = (codes.length + 1) >>> 1;
  assertMinLength(dst, n, "dst");
  assertCodesFit(codes, 4, "codes");
  const pairs = codes.length >>> 1;
  for (let i = 0; i < pairs; i++) dst[i] = (codes[2 * i]! << 4) | codes[2 * i + 1]!;
  if (codes.length & 1) dst[pairs] = codes[codes.length - 1]! << 4;
  return n;
}

export function unpackNibblesHighFirst(bytes: Uint8Array, count: number): Uint8Array {
  assertInteger(count, "count", 0, Number.MAX_SAFE_INTEGER);
  const out = new Uint8Array(count);
  unpackNibblesHighFirstInto(bytes, out);
  return out;
}

export function unpackNibblesHighFirstInto(bytes: Uint8Array, dst: Uint8Array): number {
  assertUint8Array(bytes, "bytes");
  assertUint8Array(dst, "dst");
  const count = dst.length;
  const need = (count + 1) >>> 1;
  if (bytes.length < need) {
    throw new RangeError(`bytes is too short: ${count} nibbles need ${need} bytes, got ${bytes.length}`);
  }
  const pairs = count >>> 1;
  for (let i = 0; i < pairs; i++) {
    const b = bytes[i]!;
    dst[2 * i] = b >>> 4;
    dst[2 * i + 1] = b & 15;
  }
  if (count & 1) dst[count - 1] = bytes[pairs]! >>> 4;
  return count;
}

/** GGUF block size for the split-halves nibble layout. */
export const GGUF_NIBBLE_BLOCK = 32;

function assertGgufCount(count: number): void {
  if (count % GGUF_NIBBLE_BLOCK !== 0) {
    throw new RangeError(`GGUF nibble layout needs a multiple of 32 elements, got ${count}`);
  }
}

/**
 * GGUF (llama.cpp) 4-bit layout: in each 32-element block, byte j (0..15) holds element j in its low
 * nibble and element j + 16 in its high nibble. The count must be a multiple of 32.
 */
export function packGgufNibbles(codes: Uint8Array): Uint8Array {
  assertUint8Array(codes, "codes");
  assertGgufCount(codes.length);
  const out = new Uint8Array(codes.length >>> 1);
  packGgufNibblesInto(codes, out);
  return out;
}

export function packGgufNibblesInto(codes: Uint8Array, dst: Uint8Array): number {
  assertUint8Array(codes, "codes");
  assertUint8Array(dst, "dst");
  assertGgufCount(codes.length);
  const n = codes.length >>> 1;
  assertMinLength(dst, n, "dst");
  assertCodesFit(codes, 4, "codes");
  for (let b = 0; b < codes.length; b += 32) {
    const o = b >>> 1;
    for (let j = 0; j < 16; j++) dst[o + j] = codes[b + j]! | (codes[b + j + 16]! << 4);
  }
  return n;
}

export function unpackGgufNibbles(bytes: Uint8Array, count: number): Uint8Array {
  assertInteger(count, "count", 0, Number.MAX_SAFE_INTEGER);
  assertGgufCount(count);
  const out = new Uint8Array(count);
  unpackGgufNibblesInto(bytes, out);
  return out;
}

export function unpackGgufNibblesInto(bytes: Uint8Array, dst: Uint8Array): number {
  assertUint8Array(bytes, "bytes");
  assertUint8Array(dst, "dst");
  const count = dst.length;
  assertGgufCount(count);
  if (bytes.length < count >>> 1) {
    throw new RangeError(
      `bytes is too short: ${count} nibbles need ${count >>> 1} bytes, got ${bytes.length}`,
    );
  }
  for (let b = 0; b < count; b += 32) {
    const o = b >>> 1;
    for (let j = 0; j < 16; j++) {
      const v = bytes[o + j]!;
      dst[b + j] = v & 15;
      dst[b + j + 16] = v >>> 4;
    }
  }
  return count;
}
