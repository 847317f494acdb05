import { assertInteger, assertUint8Array, describe, pack, unpack } from "@lowbit/bits";

/**
 * Codes of 1..16 bits in the native layout (SPEC §2): one little-endian bit stream, least significant
 * bits first; code i occupies stream bits [i·b, i·b + b); the last byte is zero-padded. Widths ≤ 8 use
 * `pack`/`unpack` from @lowbit/bits; 9..16 extend the same stream.
 */

/** Bytes needed for `count` codes of `bits` bits. */
export function packedCodesLength(count: number, bits: number): number {
  assertInteger(count, "count", 0, Number.MAX_SAFE_INTEGER);
  assertInteger(bits, "bits", 1, 16);
  return Math.ceil((count * bits) / 8);
}

/** Packs codes (each < 2^bits) at exactly `bits` bits each; returns a new byte array. */
export function packCodes(codes: Uint16Array, bits: number): Uint8Array {
  if (!(codes instanceof Uint16Array))
    throw new TypeError(`codes must be a Uint16Array, got ${describe(codes)}`);
  const n = packedCodesLength(codes.length, bits);
  const limit = 2 ** bits;
  for (let i = 0; i < codes.length; i++) {
    if (codes[i]! >= limit) {
      throw new RangeError(
        `codes[${i}] = ${codes[i]} does not fit in ${bits} bits (expected 0..${limit - 1})`,
      );
    }
  }
  if (bits <= 8) {
    const c8 = new Uint8Array(codes.length);
    for (let i = 0; i < codes.length; i++) c8[i] = codes[i]!;
    return pack(c8, bits);
  }
  const out = new Uint8Array(n);
  if (bits === 16) {
    for (let i = 0; i < codes.length; i++) {
      out[2 * i] = codes[i]! & 0xff;
      out[2 * i + 1] = codes[i]! >>> 8;
    }
    return out;
  }
  let acc = 0;
  let nb = 0;
  let o = 0;
  for (let i = 0; i < codes.length; i++) {
    acc |= codes[i]! << nb;
    nb += bits;
    while (nb >= 8) {
      out[o++] = acc & 0xff;
      acc >>>= 8;
      nb -= 8;
    }
  }
  if (nb > 0) out[o] = acc & 0xff;
  return out;
}

/** Unpacks `count` codes of `bits` bits from `bytes` (at least packedCodesLength bytes) into `dst`. */
export function unpackCodes(bytes: Uint8Array, count: number, bits: number, dst?: Uint16Array): Uint16Array {
  assertUint8Array(bytes, "bytes");
  const n = packedCodesLength(count, bits);
  if (bytes.length < n)
    throw new RangeError(
      `bytes is too short: need ${n} bytes for ${count} codes of ${bits} bits, got ${bytes.length}`,
    );
  const out = dst ?? new Uint16Array(count);
  if (out.length < count) throw new RangeError(`dst is too short: need ${count} elements, got ${out.length}`);
  if (bits === 8) {
    for (let i = 0; i < count; i++) out[i] = bytes[i]!;
    return out;
  }
  if (bits < 8) {
    const u = unpack(bytes.subarray(0, n), bits, count);
    for (let i = 0; i < count; i++) out[i] = u[i]!;
    return out;
  }
  if (bits === 16) {
    for (let i = 0; i < count; i++) out[i] = bytes[2 * i]! | (bytes[2 * i + 1]! << 8);
    return out;
  }
  const mask = (1 << bits) - 1;
  let acc = 0;
  let nb = 0;
  let p = 0;
  for (let i = 0; i < count; i++) {
    while (nb < bits) {
      acc |= bytes[p++]! << nb;
      nb += 8;
    }
    out[i] = acc & mask;
    acc >>>= bits;
    nb -= bits;
  }
  return out;
}
