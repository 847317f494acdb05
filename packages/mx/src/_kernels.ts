/**
 * Hot loops shared by the MX and NVFP4 codecs. They read and write 32-bit words where the arrays allow
 * it (V8 turns four byte loads into one), so they assume a little-endian host — every JS engine in
 * practice — and fall back to byte loops otherwise.
 */

export const LITTLE_ENDIAN = new Uint8Array(new Uint16Array([1]).buffer)[0] === 1;

/** Packs 4-bit codes two per byte, element 2i in the low nibble; `codes.length` must be even. */
export function packNibblesInto(codes: Uint8Array, out: Uint8Array): void {
  const n = codes.length;
  let i = 0;
  if (LITTLE_ENDIAN && (codes.byteOffset & 3) === 0 && (out.byteOffset & 1) === 0) {
    const words = new Uint32Array(codes.buffer, codes.byteOffset, n >>> 2);
    const halves = new Uint16Array(out.buffer, out.byteOffset, n >>> 2);
    for (let k = 0; k < words.length; k++) {
      const w = words[k]!;
      halves[k] = (w & 0xf) | ((w >>> 4) & 0xf0) | ((w >>> 8) & 0xf00) | ((w >>> 12) & 0xf000);
    }
    i = words.length << 2;
  }
  for (; i < n; i += 2) out[i >>> 1] = codes[i]! | (codes[i + 1]! << 4);
}

/**
 * Decodes packed 4-bit codes block by block through a table of float32 bit patterns: block b uses the
 * 16 entries at `table[scaleIndex[b] · 16]`, already multiplied by its scale. `bytesPerBlock` is 8
 * (16 elements) or 16 (32 elements).
 */
export function decodeNibbleBlocks(
  qdata: Uint8Array,
  scaleIndex: Uint8Array,
  table: Uint32Array,
  bytesPerBlock: 8 | 16,
  out: Float32Array,
): void {
  const o32 = new Uint32Array(out.buffer, out.byteOffset, qdata.length * 2);
  const blocks = scaleIndex.length;
  if (LITTLE_ENDIAN && (qdata.byteOffset & 3) === 0) {
    const q32 = new Uint32Array(qdata.buffer, qdata.byteOffset, qdata.length >>> 2);
    const wpb = bytesPerBlock >>> 2;
    for (let b = 0, w = 0, o = 0; b < blocks; b++) {
      const t = scaleIndex[b]! << 4;
      for (const end = w + wpb; w < end; w++, o += 8) {
        const v = q32[w]!;
        o32[o] = table[t | (v & 15)]!;
        o32[o + 1] = table[t | ((v >>> 4) & 15)]!;
        o32[o + 2] = table[t | ((v >>> 8) & 15)]!;
        o32[o + 3] = table[t | ((v >>> 12) & 15)]!;
        o32[o + 4] = table[t | ((v >>> 16) & 15)]!;
        o32[o + 5] = table[t | ((v >>> 20) & 15)]!;
        o32[o + 6] = table[t | ((v >>> 24) & 15)]!;
        o32[o + 7] = table[t | (v >>> 28)]!;
      }
    }
    return;
  }
  for (let b = 0, j = 0, o = 0; b < blocks; b++) {
    const t = scaleIndex[b]! << 4;
    for (const end = j + bytesPerBlock; j < end; j++, o += 2) {
      const v = qdata[j]!;
      o32[o] = table[t | (v & 15)]!;
      o32[o + 1] = table[t | (v >>> 4)]!;
    }
  }
}

/** Decodes one-byte codes in blocks of 32: value = values[code] · scale[block]. */
export function decodeByteBlocks(
  codes: Uint8Array,
  scaleValues: Float64Array,
  values: Float64Array,
  out: Float32Array,
): void {
  const blocks = scaleValues.length;
  if (LITTLE_ENDIAN && (codes.byteOffset & 3) === 0) {
    const c32 = new Uint32Array(codes.buffer, codes.byteOffset, codes.length >>> 2);
    for (let b = 0, w = 0, o = 0; b < blocks; b++) {
      const s = scaleValues[b]!;
      for (const end = w + 8; w < end; w++, o += 4) {
        const v = c32[w]!;
        out[o] = values[v & 0xff]! * s;
        out[o + 1] = values[(v >>> 8) & 0xff]! * s;
        out[o + 2] = values[(v >>> 16) & 0xff]! * s;
        out[o + 3] = values[v >>> 24]! * s;
      }
    }
    return;
  }
  for (let b = 0, i = 0; b < blocks; b++) {
    const s = scaleValues[b]!;
    for (const end = i + 32; i < end; i++) out[i] = values[codes[i]!]! * s;
  }
}

/** Decodes 6-bit codes packed four in three bytes (LSB first) in blocks of 32 (24 bytes). */
export function decodePackedSixBlocks(
  qdata: Uint8Array,
  scaleValues: Float64Array,
  values: Float64Array,
  out: Float32Array,
): void {
  const blocks = scaleValues.length;
  for (let b = 0, j = 0, o = 0; b < blocks; b++) {
    const s = scaleValues[b]!;
    for (const end = j + 24; j < end; j += 3, o += 4) {
      const w = qdata[j]! | (qdata[j + 1]! << 8) | (qdata[j + 2]! << 16);
      out[o] = values[w & 63]! * s;
      out[o + 1] = values[(w >>> 6) & 63]! * s;
      out[o + 2] = values[(w >>> 12) & 63]! * s;
      out[o + 3] = values[w >>> 18]! * s;
    }
  }
}
