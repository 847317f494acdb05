// Quick throughput check of the built package (not a test, not the project bench):
//   npx turbo run build --filter=@lowbit/nf4... && node packages/nf4/scripts/speed.mjs
// 16M standard normals (xoshiro128** + Box-Muller), one core; best of 7 timed calls after a warm-up,
// next to a plain element-by-element Float32Array copy measured in the same run.
import { createRng } from "@lowbit/bits";
import { bnb_blockwise8, bnb_fp4, nf4 } from "@lowbit/nf4";

const n = 1 << 24;
const rng = createRng(1);
const x = new Float32Array(n);
for (let i = 0; i < n; i++) {
  const u = 1 - rng.nextFloat();
  x[i] = Math.sqrt(-2 * Math.log(u)) * Math.cos(2 * Math.PI * rng.nextFloat());
}
const dst = new Float32Array(n);

function best(f) {
  f();
  let t = Number.POSITIVE_INFINITY;
  for (let r = 0; r < 7; r++) {
    const t0 = performance.now();
    f();
    t = Math.min(t, performance.now() - t0);
  }
  return n / t / 1e3; // M elements/s
}

const copy = best(() => {
  for (let i = 0; i < n; i++) dst[i] = x[i];
});
console.log(`copy loop: ${copy.toFixed(0)} M/s`);
const rows = [
  [nf4, {}],
  [nf4, { doubleQuant: false }],
  [bnb_fp4, {}],
  [bnb_blockwise8, {}],
  [bnb_blockwise8, { blockSize: 256 }],
];
for (const [q, spec] of rows) {
  let qt = q.quantize(x, [n], spec);
  const quantize = best(() => {
    qt = q.quantize(x, [n], spec);
  });
  const dequantize = best(() => q.dequantize(qt, dst));
  console.log(
    `${q.name} ${JSON.stringify(spec)}: quantize ${quantize.toFixed(0)} M/s (${(quantize / copy).toFixed(2)}× copy), ` +
      `dequantize ${dequantize.toFixed(0)} M/s (${(dequantize / copy).toFixed(2)}× copy)`,
  );
}
