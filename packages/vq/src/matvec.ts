import { assertFloat32Array, describe, type QuantizedTensor } from "@lowbit/bits";
import { codesOf, readTensor, type VqFormat } from "./_format.js";

/** LUT entries (floats) built at once: 2^12 = 16 KiB (stays in L1), a chunk of input groups. */
const LUT_FLOATS = 1 << 12;
const LITTLE_ENDIAN = new Uint8Array(Uint32Array.of(1).buffer)[0] === 1;

/**
 * y = W x straight from the codes of a vq / pq / rvq / aq tensor W [rows, cols] (never materialising W).
 * When 2^bits is small against rows: for a chunk of input groups, the dot products of every codebook
 * entry with x's segment are tabulated once (a LUT of M × 2^bits per group), then each row sums M
 * lookups per group. Otherwise (huge codebooks) each row decodes and dots group by group.
 * y[r] = fl32(scale[r] · Σ) (scale 1 when unscaled), sums in float64. Writes into `y` when given.
 */
export function matvec(qt: QuantizedTensor, x: Float32Array, y?: Float32Array): Float32Array {
  const fmt = qt?.spec?.format;
  if (fmt !== "vq" && fmt !== "pq" && fmt !== "rvq" && fmt !== "aq") {
    throw new RangeError(`qt.spec.format must be vq | pq | rvq | aq, got ${describe(fmt)}`);
  }
  const D = readTensor(fmt as VqFormat, qt);
  const x0 = x;
  const { L, codebooks, scales } = D;
  const { rows, cols, G, K, sub, additive } = L;
  const { M, v, bits } = L.r;
  assertFloat32Array(x, "x");
  if (x.length !== cols)
    throw new RangeError(`x must have ${cols} elements (the last dimension), got ${x.length}`);
  if (y !== undefined) {
    assertFloat32Array(y, "y");
    if (y.length !== rows) throw new RangeError(`y must have ${rows} elements, got ${y.length}`);
  }
  const out = y ?? new Float32Array(rows);
  const oc = D.outlierColumns;
  const ov = D.outlierValues;
  if (oc !== null) {
    // Outlier columns come from their float16 values, not the codes: zero them in x for the codes.
    x = new Float32Array(x);
    for (let k = 0; k < oc.length; k++) x[oc[k]!] = 0;
  }
  const acc = new Float64Array(rows);
  const codes: Uint8Array | Uint16Array = bits === 8 ? D.qdata : codesOf(D);
  const GM = G * M;
  const q8 = D.qdata;
  const words =
    LITTLE_ENDIAN && bits === 8 && M === 2 && (GM & 3) === 0 && (q8.byteOffset & 3) === 0
      ? new Uint32Array(q8.buffer, q8.byteOffset, q8.length >>> 2)
      : null;
  if (K * 2 <= rows) {
    const perGroup = M * K;
    const chunk = Math.max(1, Math.min(G, Math.floor(LUT_FLOATS / perGroup)));
    const lut = new Float32Array(chunk * perGroup);
    for (let j0 = 0; j0 < G; j0 += chunk) {
      const j1 = Math.min(G, j0 + chunk);
      for (let j = j0; j < j1; j++) {
        for (let m = 0; m < M; m++) {
          const xo = j * v + (additive ? 0 : m * sub);
          const lo = ((j - j0) * M + m) * K;
          for (let k = 0; k < K; k++) {
            const co = (m * K + k) * sub;
            let s = 0;
            for (let t = 0; t < sub; t++) s += codebooks[co + t]! * x[xo + t]!;
            lut[lo + k] = s;
          }
        }
      }
      const span = (j1 - j0) * M;
      if (words !== null && (span & 3) === 0) {
        // 2 codebooks of 8 bits: one 32-bit load holds the codes of two groups.
        const wspan = span >>> 2;
        for (let r = 0; r < rows; r++) {
          const wo = (r * GM + j0 * M) >>> 2;
          let s = 0;
          let o = 0;
          for (let q = 0; q < wspan; q++) {
            const wd = words[wo + q]!;
            s +=
              lut[o + (wd & 255)]! +
              lut[o + 256 + ((wd >>> 8) & 255)]! +
              lut[o + 512 + ((wd >>> 16) & 255)]! +
              lut[o + 768 + (wd >>> 24)]!;
            o += 1024;
          }
          acc[r] = acc[r]! + s;
        }
      } else if (M === 2) {
        for (let r = 0; r < rows; r++) {
          const co = r * GM + j0 * M;
          let s = 0;
          for (let q = 0; q < span; q += 2)
            s += lut[q * K + codes[co + q]!]! + lut[(q + 1) * K + codes[co + q + 1]!]!;
          acc[r] = acc[r]! + s;
        }
      } else {
        for (let r = 0; r < rows; r++) {
          const co = r * GM + j0 * M;
          let s = 0;
          for (let q = 0; q < span; q++) s += lut[q * K + codes[co + q]!]!;
          acc[r] = acc[r]! + s;
        }
      }
    }
  } else {
    for (let r = 0; r < rows; r++) {
      let s = 0;
      for (let j = 0; j < G; j++) {
        for (let m = 0; m < M; m++) {
          const co = (m * K + codes[r * GM + j * M + m]!) * sub;
          const xo = j * v + (additive ? 0 : m * sub);
          for (let t = 0; t < sub; t++) s += codebooks[co + t]! * x[xo + t]!;
        }
      }
      acc[r] = s;
    }
  }
  if (oc !== null && ov !== null) {
    const no = oc.length;
    for (let r = 0; r < rows; r++) {
      let e = 0;
      for (let k = 0; k < no; k++) e += ov[r * no + k]! * x0[oc[k]!]!;
      out[r] = (scales === null ? acc[r]! : scales[r]! * acc[r]!) + e;
    }
    return out;
  }
  for (let r = 0; r < rows; r++) out[r] = scales === null ? acc[r]! : scales[r]! * acc[r]!;
  return out;
}
