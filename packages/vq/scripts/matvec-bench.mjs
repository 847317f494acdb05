// matvec straight from codes vs a dense float32 matvec on a 4096×4096 layer.
// Codes and codebooks are random (timing does not depend on their values), built as an aq tensor.
// Usage: node packages/vq/scripts/matvec-bench.mjs [rows=4096] [cols=4096]
import { createRng } from "@lowbit/bits";
import { float16 } from "@lowbit/fp16";
import { aq, matvec, packCodes } from "../dist/index.js";

const rows = Number(process.argv[2] ?? 4096);
const cols = Number(process.argv[3] ?? 4096);
const rng = createRng(3);
const rand = (n) => {
  const a = new Float32Array(n);
  for (let i = 0; i < n; i++) a[i] = rng.nextFloat() * 2 - 1;
  return a;
};

function dense(w, x, y) {
  for (let r = 0; r < rows; r++) {
    let s = 0;
    const o = r * cols;
    for (let c = 0; c < cols; c++) s += w[o + c] * x[c];
    y[r] = s;
  }
  return y;
}

function best(fn, reps = 15) {
  let b = Infinity;
  for (let i = 0; i < reps; i++) {
    const t = performance.now();
    fn();
    b = Math.min(b, performance.now() - t);
  }
  return b;
}

const x = rand(cols);
const w = rand(rows * cols);
const yd = new Float32Array(rows);
const tDense = best(() => dense(w, x, yd));
console.log(`dense float32 ${rows}x${cols}: ${tDense.toFixed(1)} ms`);
for (const [M, bits, g] of [
  [2, 8, 8],
  [1, 8, 8],
  [4, 8, 8],
  [2, 4, 4],
]) {
  const K = 2 ** bits;
  const codes = new Uint16Array(rows * (cols / g) * M);
  for (let i = 0; i < codes.length; i++) codes[i] = rng.nextUint32() % K;
  const qt = {
    spec: { format: "aq", group: g, codebooks: M, bits, beam: 8, rounds: 6, seed: 0, iterations: 20 },
    shape: [rows, cols],
    parts: {
      qdata: { dtype: "U8", shape: [Math.ceil((codes.length * bits) / 8)], data: packCodes(codes, bits) },
      codebooks: { dtype: "F16", shape: [M, K, g], data: float16.encode(rand(M * K * g)) },
      scales: { dtype: "F16", shape: [rows], data: float16.encode(rand(rows)) },
    },
  };
  const y = new Float32Array(rows);
  const t = best(() => matvec(qt, x, y));
  const td = best(() => aq.dequantize(qt), 3);
  console.log(
    `aq ${M}x${bits} g${g}: matvec from codes ${t.toFixed(1)} ms (${(tDense / t).toFixed(2)}x dense); dequantize ${td.toFixed(0)} ms (${((rows * cols) / td / 1000).toFixed(0)} Mweights/s)`,
  );
}
