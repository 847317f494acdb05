/**
 * Byte-plane transforms of little-endian elements of width w: plane 0 holds every element's most
 * significant byte (sign and exponent for floats), plane w−1 the least significant. Floats compress
 * far better this way: the exponent bytes are highly repetitive, the low mantissa bytes are noise.
 */

/** Elements are little-endian on disk; word-wide loops below are only right on a little-endian CPU. */
const LITTLE_ENDIAN = new Uint8Array(new Uint16Array([1]).buffer)[0] === 1;

/** planes = w concatenated planes of n = data.length / w bytes each. */
export function splitPlanes(data: Uint8Array, w: number): Uint8Array {
  const n = data.length / w;
  const out = new Uint8Array(data.length);
  if (w === 2 && LITTLE_ENDIAN && data.byteOffset % 2 === 0) {
    // One 16-bit load per element instead of two byte loads.
    const src = new Uint16Array(data.buffer, data.byteOffset, n);
    for (let i = 0; i < n; i++) {
      const v = src[i]!;
      out[i] = v >>> 8;
      out[n + i] = v & 0xff;
    }
    return out;
  }
  if (w === 2) {
    for (let i = 0, j = 0; i < n; i++, j += 2) {
      out[i] = data[j + 1]!;
      out[n + i] = data[j]!;
    }
    return out;
  }
  for (let p = 0; p < w; p++) {
    const src = w - 1 - p;
    const o = p * n;
    for (let i = 0; i < n; i++) out[o + i] = data[i * w + src]!;
  }
  return out;
}

export function mergePlanes(planes: Uint8Array, w: number, out: Uint8Array): void {
  const n = planes.length / w;
  if (w === 2 && LITTLE_ENDIAN && out.byteOffset % 2 === 0) {
    // One 16-bit store per element instead of two byte stores.
    const dst = new Uint16Array(out.buffer, out.byteOffset, n);
    for (let i = 0; i < n; i++) dst[i] = (planes[i]! << 8) | planes[n + i]!;
    return;
  }
  if (w === 4 && LITTLE_ENDIAN && out.byteOffset % 4 === 0) {
    const dst = new Uint32Array(out.buffer, out.byteOffset, n);
    const n2 = 2 * n;
    const n3 = 3 * n;
    for (let i = 0; i < n; i++) {
      dst[i] = ((planes[i]! << 24) | (planes[n + i]! << 16) | (planes[n2 + i]! << 8) | planes[n3 + i]!) >>> 0;
    }
    return;
  }
  if (w === 2) {
    for (let i = 0, j = 0; i < n; i++, j += 2) {
      out[j + 1] = planes[i]!;
      out[j] = planes[n + i]!;
    }
    return;
  }
  for (let p = 0; p < w; p++) {
    const dst = w - 1 - p;
    const o = p * n;
    for (let i = 0; i < n; i++) out[i * w + dst] = planes[o + i]!;
  }
}

/** dst = a XOR b (same length), 4 bytes at a time where aligned. */
export function xorInto(a: Uint8Array, b: Uint8Array, dst: Uint8Array): void {
  const n = a.length;
  let i = 0;
  if (a.byteOffset % 4 === 0 && b.byteOffset % 4 === 0 && dst.byteOffset % 4 === 0) {
    const m = n >>> 2;
    const a32 = new Uint32Array(a.buffer, a.byteOffset, m);
    const b32 = new Uint32Array(b.buffer, b.byteOffset, m);
    const d32 = new Uint32Array(dst.buffer, dst.byteOffset, m);
    for (let k = 0; k < m; k++) d32[k] = a32[k]! ^ b32[k]!;
    i = m * 4;
  }
  for (; i < n; i++) dst[i] = a[i]! ^ b[i]!;
}
