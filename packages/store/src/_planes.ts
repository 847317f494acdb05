/**
 * Byte-plane transforms of little-endian elements of width w: plane 0 holds every element's most
 * significant byte (sign and exponent for floats), plane w−1 the least significant. Floats compress
 * far better this way: the exponent bytes are highly repetitive, the low mantissa bytes are noise.
 */

/** planes = w concatenated planes of n = data.length / w bytes each. */
export function splitPlanes(data: Uint8Array, w: number): Uint8Array {
  const n = data.length / w;
  const out = new Uint8Array(data.length);
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
