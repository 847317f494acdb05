import {
  assertFloat32Array,
  assertShapeMatches,
  describe,
  type QuantizedTensor,
  type Quantizer,
  throwIfAborted,
  type WorkContext,
} from "@lowbit/bits";
import { float16 } from "@lowbit/fp16";
import { decodeInto, defaultsOf, layoutOf, readTensor, resolve, type VqFormat } from "./_format.js";
import { gptqEncode, inverseHessianFactor } from "./_gptq.js";
import { assignResidual, beamEncode, lsUpdate, sampleRows, stageSeed, trainResidual } from "./_train.js";
import { packCodes } from "./codes.js";

function roundF16(a: Float32Array): Uint16Array {
  const bits = float16.encode(a);
  a.set(float16.decode(bits));
  return bits;
}

function diagonal(H: Float32Array, cols: number): Float32Array {
  if (H.length !== cols * cols) {
    throw new RangeError(`hessian must be [cols, cols] = ${cols * cols} elements, got ${H.length}`);
  }
  const d = new Float32Array(cols);
  for (let c = 0; c < cols; c++) d[c] = Math.max(0, H[c * cols + c]!);
  return d;
}

function quantizeImpl(
  format: VqFormat,
  src: Float32Array,
  shape: readonly number[],
  spec: Readonly<Record<string, unknown>> | undefined,
  ctx: WorkContext | undefined,
): QuantizedTensor {
  const r = resolve(format, spec, false);
  assertFloat32Array(src, "src");
  assertShapeMatches(src, shape);
  const L = layoutOf(r, shape);
  const { rows, cols, G, K, sub } = L;
  const { v, M } = r;
  for (let i = 0; i < src.length; i++) {
    const x = src[i]!;
    if (x - x !== 0) throw new RangeError(`src[${i}] must be finite, got ${describe(x)}`);
  }
  const n = rows * G;
  if (K > n) {
    throw new RangeError(
      `bits = ${r.bits} gives ${K} codebook entries but shape [${shape.join(", ")}] has only ${n} vectors of length ${sub === v ? v : `${v}`}`,
    );
  }
  if (r.importance !== null) {
    if (r.importance.length !== cols) {
      throw new RangeError(
        `importance must have one weight per input column (${cols}), got ${r.importance.length}`,
      );
    }
    for (let i = 0; i < cols; i++) {
      const w = r.importance[i]!;
      if (!(w >= 0) || w === Number.POSITIVE_INFINITY)
        throw new RangeError(`importance[${i}] must be finite and ≥ 0, got ${describe(w)}`);
    }
  }
  // Training set: every vector, or a seeded sample of trainSample of them (the same rows for every stage).
  const nt = r.trainSample > 0 && r.trainSample < n ? r.trainSample : n;
  if (K > nt) {
    throw new RangeError(
      `bits = ${r.bits} gives ${K} codebook entries but trainSample is ${nt}; use trainSample ≥ ${K}`,
    );
  }
  throwIfAborted(ctx?.signal);
  const sampled = nt < n ? 1 : 0;
  const totalUnits = (format === "aq" ? M + r.rounds + 1 : format === "rvq" ? M + 1 : M) + sampled;
  const progress = (done: number): void => ctx?.onProgress?.(done, totalUnits);

  // vq: GPTQ factor, outlier columns (largest weighted column energy; ties to the lower index).
  const U = r.hessian === null ? null : inverseHessianFactor(r.hessian, cols);
  const colImp = r.importance ?? (r.hessian === null ? null : diagonal(r.hessian, cols));
  let outlierMask: Uint8Array | null = null;
  let outlierCols: Int32Array | null = null;
  if (r.outliers > 0) {
    const score = new Float64Array(cols);
    for (let row = 0; row < rows; row++)
      for (let c = 0; c < cols; c++) score[c] = score[c]! + src[row * cols + c]! ** 2;
    if (colImp !== null) for (let c = 0; c < cols; c++) score[c] = score[c]! * colImp[c]!;
    const order = Array.from({ length: cols }, (_, c) => c).sort((a, b) => score[b]! - score[a]! || a - b);
    outlierCols = Int32Array.from(order.slice(0, r.outliers)).sort();
    outlierMask = new Uint8Array(cols);
    for (const c of outlierCols) outlierMask[c] = 1;
  }

  // Per-row scales.
  let scaleBits: Uint16Array | null = null;
  let X = src;
  const s32 = new Float32Array(rows);
  if (L.scaled) {
    for (let row = 0; row < rows; row++) {
      let acc = 0;
      for (let c = 0; c < cols; c++) {
        if (outlierMask !== null && outlierMask[c] === 1) continue;
        const x = src[row * cols + c]!;
        acc = r.format === "vq" && r.normalize === "absmax" ? Math.max(acc, Math.abs(x)) : acc + x * x;
      }
      s32[row] = r.format === "aq" ? Math.sqrt(acc / cols) : r.normalize === "norm" ? Math.sqrt(acc) : acc;
    }
    scaleBits = roundF16(s32);
    X = new Float32Array(src.length);
    for (let row = 0; row < rows; row++) {
      const s = s32[row]!;
      if (s === 0 || !Number.isFinite(1 / s)) continue;
      for (let c = 0; c < cols; c++) X[row * cols + c] = src[row * cols + c]! / s;
    }
  }

  const cb = new Float32Array(M * K * sub);
  const poolOpt = r.pool === null ? {} : { assigner: r.pool };
  let codes: Uint16Array;
  const sctx = ctx?.signal ? { signal: ctx.signal } : undefined;
  const sampleSeed = stageSeed(r.seed, 0x10000);
  if (format === "pq") {
    codes = new Uint16Array(n * M);
    const S = new Float32Array(n * sub);
    for (let m = 0; m < M; m++) {
      for (let i = 0; i < n; i++) S.set(X.subarray(i * v + m * sub, i * v + m * sub + sub), i * sub);
      const St = nt < n ? sampleRows(S, n, sub, nt, sampleSeed, null).data : S;
      const t = trainResidual(
        St,
        nt,
        sub,
        1,
        K,
        { seed: (r.seed + m) | 0, iterations: r.iterations, weights: null, ...poolOpt },
        sctx,
        () => {},
      );
      cb.set(t.codebooks, m * K * sub);
      const all =
        nt < n ? assignResidual(S, n, sub, t.codebooks, 1, K, null, r.pool ?? undefined, sctx) : t.codes;
      for (let i = 0; i < n; i++) codes[i * M + m] = all[i]!;
      progress(m + 1);
    }
    if (sampled) progress(M + 1);
  } else {
    let W: Float32Array | null = null;
    let colW: Float32Array | null = null;
    if (colImp !== null || outlierMask !== null) {
      colW = colImp === null ? new Float32Array(cols).fill(1) : new Float32Array(colImp);
      if (outlierMask !== null) for (let c = 0; c < cols; c++) if (outlierMask[c] === 1) colW[c] = 0;
      W = new Float32Array(n * v);
      for (let i = 0; i < n; i++) W.set(colW.subarray((i % G) * v, (i % G) * v + v), i * v);
    }
    const T = nt < n ? sampleRows(X, n, v, nt, sampleSeed, W) : { data: X, weights: W };
    const Xt = T.data;
    const t = trainResidual(
      Xt,
      nt,
      v,
      M,
      K,
      { seed: r.seed, iterations: r.iterations, weights: T.weights, ...poolOpt },
      sctx,
      progress,
    );
    cb.set(t.codebooks);
    codes = t.codes;
    if (format === "rvq" || format === "aq") {
      if (M > 1) beamEncode(Xt, nt, v, cb, M, K, r.beam, codes, true, sctx);
      if (format === "aq") {
        for (let round = 0; round < r.rounds; round++) {
          throwIfAborted(ctx?.signal);
          lsUpdate(Xt, nt, v, codes, M, K, cb);
          beamEncode(Xt, nt, v, cb, M, K, r.beam, codes, false, sctx);
          progress(M + round + 1);
        }
      }
    }
    if (nt < n) {
      // Codes for every vector against the codebooks trained on the sample.
      if (format === "vq") codes = assignResidual(X, n, v, cb, M, K, W, r.pool ?? undefined, sctx);
      else {
        codes = new Uint16Array(n * M);
        beamEncode(X, n, v, cb, M, K, r.beam, codes, true, sctx);
      }
      progress(totalUnits - (format === "vq" ? 0 : 1));
    }
    if (U !== null) {
      const Xw = new Float32Array(X);
      gptqEncode(Xw, rows, cols, v, M, K, cb, colW, outlierMask, U, codes, sctx);
    }
  }
  const cbBits = roundF16(cb);
  if (format === "rvq" || format === "aq") {
    // Final codes against the stored (float16) codebooks; never worse than the current codes.
    beamEncode(X, n, v, cb, M, K, r.beam, codes, false, sctx);
    progress(totalUnits);
  }
  if (format === "aq") {
    // Least-squares row scales for the chosen codes: s = ⟨w, ŵ⟩ / ‖ŵ‖² (ŵ = unscaled decode).
    for (let row = 0; row < rows; row++) {
      let num = 0;
      let den = 0;
      for (let j = 0; j < G; j++) {
        const i = row * G + j;
        for (let t = 0; t < v; t++) {
          let h = 0;
          for (let m = 0; m < M; m++) h += cb[(m * K + codes[i * M + m]!) * v + t]!;
          h = Math.fround(h);
          num += src[i * v + t]! * h;
          den += h * h;
        }
      }
      if (den > 0) s32[row] = num / den;
    }
    scaleBits = roundF16(s32);
  }
  const parts: Record<
    string,
    { dtype: "U8" | "F16" | "I32"; shape: number[]; data: Uint8Array | Uint16Array | Int32Array }
  > = {};
  const qdata = packCodes(codes, r.bits);
  parts["qdata"] = { dtype: "U8", shape: [qdata.length], data: qdata };
  parts["codebooks"] = { dtype: "F16", shape: [M, K, sub], data: cbBits };
  if (scaleBits !== null) parts["scales"] = { dtype: "F16", shape: [rows], data: scaleBits };
  if (outlierCols !== null) {
    const no = outlierCols.length;
    const vals = new Float32Array(rows * no);
    for (let row = 0; row < rows; row++)
      for (let k = 0; k < no; k++) vals[row * no + k] = src[row * cols + outlierCols[k]!]!;
    parts["outlierColumns"] = { dtype: "I32", shape: [no], data: outlierCols };
    parts["outliers"] = { dtype: "F16", shape: [rows, no], data: float16.encode(vals) };
  }
  return { spec: r.spec, shape: [...shape], parts };
}

function dequantizeImpl(format: VqFormat, qt: QuantizedTensor, dst?: Float32Array): Float32Array {
  const D = readTensor(format, qt);
  const n = D.L.rows * D.L.cols;
  if (dst !== undefined) {
    assertFloat32Array(dst, "dst");
    if (dst.length !== n) throw new RangeError(`dst must have ${n} elements, got ${dst.length}`);
  }
  const out = dst ?? new Float32Array(n);
  decodeInto(D, out);
  return out;
}

function makeQuantizer(format: VqFormat, summary: string): Quantizer {
  return Object.freeze({
    name: format,
    summary,
    defaults: defaultsOf(format),
    quantize: (
      src: Float32Array,
      shape: readonly number[],
      spec?: Readonly<Record<string, unknown>>,
      ctx?: WorkContext,
    ) => quantizeImpl(format, src, shape, spec, ctx),
    dequantize: (qt: QuantizedTensor, dst?: Float32Array) => dequantizeImpl(format, qt, dst),
  });
}

/** VPTQ-style codebook VQ: vectors of `vectorLength` along the last dim, 2^bits entries, optional residual codebooks. */
export const vq: Quantizer = makeQuantizer(
  "vq",
  "Codebook VQ (VPTQ-style): k-means codebook of 2^bits vectors, optional residual codebooks and row scales",
);
/** Product quantization: each vector split into `subspaces` sub-vectors, one codebook each. */
export const pq: Quantizer = makeQuantizer(
  "pq",
  "Product quantization: M sub-space codebooks of 2^bits entries",
);
/** Residual VQ: `codebooks` stages of 2^bits entries, encoded by beam search. */
export const rvq: Quantizer = makeQuantizer(
  "rvq",
  "Residual VQ: M residual k-means codebooks, beam-search encoding",
);
/** AQLM-style additive quantization with per-row scales. */
export const aq: Quantizer = makeQuantizer(
  "aq",
  "Additive quantization (AQLM-style): M codebooks of 2^bits over groups, beam search + least squares, row scales",
);

/** Every quantizer of this package, for the @lowbit/formats registry. */
export const vqQuantizers: readonly Quantizer[] = Object.freeze([vq, pq, rvq, aq]);

const BY_NAME: Readonly<Record<string, VqFormat>> = { vq: "vq", pq: "pq", rvq: "rvq", aq: "aq" };

/** Decodes a tensor of any of the four formats (by its spec.format). */
export function decodeVq(qt: QuantizedTensor, dst?: Float32Array): Float32Array {
  const f = BY_NAME[String(qt?.spec?.format)];
  if (f === undefined)
    throw new RangeError(`qt.spec.format must be vq | pq | rvq | aq, got ${describe(qt?.spec?.format)}`);
  return dequantizeImpl(f, qt, dst);
}
