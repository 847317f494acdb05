// Relative MSE of vq / pq / rvq / aq at 2 bits/weight of codes on an iid Gaussian matrix, and times.
// Usage: node packages/vq/scripts/quality.mjs [size=1024] [formats=vq,pq,rvq,aq] [aqRounds] [threads=0]
import { createRng } from "@lowbit/bits";
import { aq, pq, rvq, vq } from "../dist/index.js";
import { createKmeansPool } from "../dist/node.js";

const size = Number(process.argv[2] ?? 1024);
const which = (process.argv[3] ?? "vq,pq,rvq,aq").split(",");
const rounds = process.argv[4] === undefined || process.argv[4] === "-" ? undefined : Number(process.argv[4]);
const threads = Number(process.argv[5] ?? 0);
const pool = threads > 0 ? createKmeansPool(threads) : undefined;
const rng = createRng(1);
const w = new Float32Array(size * size);
for (let i = 0; i < w.length; i += 2) {
  const u1 = 1 - rng.nextFloat();
  const u2 = rng.nextFloat();
  const r = Math.sqrt(-2 * Math.log(u1));
  w[i] = r * Math.cos(2 * Math.PI * u2);
  w[i + 1] = r * Math.sin(2 * Math.PI * u2);
}
const cases = {
  vq: [vq, { vectorLength: 4, bits: 8 }],
  pq: [pq, { vectorLength: 8, subspaces: 2, bits: 8 }],
  rvq: [rvq, { vectorLength: 8, codebooks: 2, bits: 8 }],
  aq: [aq, rounds === undefined ? {} : { rounds }],
};
let e2 = 0;
for (const x of w) e2 += x * x;
for (const name of which) {
  const [q, spec] = cases[name];
  const t0 = performance.now();
  const qt = q.quantize(w, [size, size], pool ? { ...spec, pool } : spec);
  const t1 = performance.now();
  const d = q.dequantize(qt);
  let err = 0;
  for (let i = 0; i < w.length; i++) err += (w[i] - d[i]) ** 2;
  console.log(
    `${name} ${JSON.stringify(qt.spec)} ${size}x${size}: rel MSE ${(err / e2).toFixed(4)}, quantize ${((t1 - t0) / 1000).toFixed(2)} s${pool ? ` (k-means pool of ${threads})` : ""}`,
  );
}
await pool?.close();
