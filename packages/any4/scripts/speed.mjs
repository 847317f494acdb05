// Quantize / dequantize throughput of the built package on 16M seeded normal values ([4096, 4096]).
// Run from the repo root after a build: node packages/any4/scripts/speed.mjs [any2|any3|any4 ...]

import { any2, any3, any4 } from "@lowbit/any4";
import { createRng } from "@lowbit/bits";

const rows = 4096;
const cols = 4096;
const n = rows * cols;
const rng = createRng(1);
const x = new Float32Array(n);
for (let i = 0; i < n; i += 2) {
  // Box–Muller from the seeded generator.
  const u = 1 - rng.nextFloat();
  const v = rng.nextFloat();
  const m = Math.sqrt(-2 * Math.log(u));
  x[i] = m * Math.cos(2 * Math.PI * v);
  x[i + 1] = m * Math.sin(2 * Math.PI * v);
}
const all = { any2, any3, any4 };
const names = process.argv.length > 2 ? process.argv.slice(2) : Object.keys(all);
for (const name of names) {
  const q = all[name];
  // Quantize twice (the first call also warms up the JIT) and keep the faster.
  let t = performance.now();
  let qt = q.quantize(x, [rows, cols]);
  let tq = (performance.now() - t) / 1000;
  t = performance.now();
  qt = q.quantize(x, [rows, cols]);
  tq = Math.min(tq, (performance.now() - t) / 1000);
  const out = new Float32Array(n);
  q.dequantize(qt, out);
  const times = [];
  for (let rep = 0; rep < 7; rep++) {
    t = performance.now();
    q.dequantize(qt, out);
    times.push((performance.now() - t) / 1000);
  }
  times.sort((a, b) => a - b);
  let e = 0;
  let p = 0;
  for (let i = 0; i < n; i++) {
    const d = x[i] - out[i];
    e += d * d;
    p += x[i] * x[i];
  }
  console.log(
    `${name}: quantize ${(n / tq / 1e6).toFixed(2)} M/s (${tq.toFixed(2)} s, best of 2), ` +
      `dequantize ${(n / times[3] / 1e6).toFixed(0)} M/s (median of 7), SQNR ${(10 * Math.log10(p / e)).toFixed(2)} dB`,
  );
}
