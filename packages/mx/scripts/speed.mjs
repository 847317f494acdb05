// Throughput of every quantizer on 16M seeded normals (4096 × 4096), single thread, after
// `npx turbo run build --filter=@lowbit/mx...`. Usage: node packages/mx/scripts/speed.mjs [name ...]
// Each format runs in its own process when several are named, so one format's JIT feedback does not
// slow another; the "× copy" column divides by a plain element-by-element Float32Array copy loop
// timed in the same process, which is what to compare across machines.
import { execFileSync } from "node:child_process";
import { fileURLToPath } from "node:url";
import { createRng } from "@lowbit/bits";
import { mxQuantizers } from "../dist/index.js";

const N = 4096 * 4096;
const SHAPE = [4096, 4096];
const REPS = 7;
const names = process.argv.slice(2);
const runs = [
  ...mxQuantizers.map((q) => [q.name, {}]),
  ["mxfp4", { scaleMode: "rceil" }],
  ["mxfp6_e2m3", { pack: false }],
  ["nvfp4", { variant: "te" }],
];

if (names.length !== 1) {
  const self = fileURLToPath(import.meta.url);
  console.log(`node ${process.version}, ${N / 2 ** 20}M normals, median of ${REPS} runs, M elements/s`);
  console.log("| format | options | quantize | × copy | dequantize | × copy |");
  console.log("|---|---|---:|---:|---:|---:|");
  for (const [name] of runs.filter(([n], i, a) => a.findIndex(([m]) => m === n) === i)) {
    if (names.length > 0 && !names.includes(name)) continue;
    process.stdout.write(execFileSync(process.execPath, [self, name], { encoding: "utf8" }));
  }
} else {
  const rng = createRng(20260201);
  const x = new Float32Array(N);
  for (let i = 0; i < N; i += 2) {
    const r = Math.sqrt(-2 * Math.log(1 - rng.nextFloat()));
    const t = 2 * Math.PI * rng.nextFloat();
    x[i] = r * Math.cos(t);
    x[i + 1] = r * Math.sin(t);
  }
  const median = (f) => {
    f();
    const ts = [];
    for (let k = 0; k < REPS; k++) {
      const t0 = performance.now();
      f();
      ts.push(performance.now() - t0);
    }
    return ts.sort((a, b) => a - b)[REPS >> 1];
  };
  const copy = new Float32Array(N);
  const tc = median(() => {
    for (let i = 0; i < N; i++) copy[i] = x[i];
  });
  const rate = (t) => (N / t / 1e3).toFixed(0);
  for (const [name, spec] of runs.filter(([n]) => n === names[0])) {
    const q = mxQuantizers.find((z) => z.name === name);
    let qt;
    const tq = median(() => {
      qt = q.quantize(x, SHAPE, spec);
    });
    const out = new Float32Array(N);
    const td = median(() => q.dequantize(qt, out));
    const opts = Object.keys(spec).length ? `\`${JSON.stringify(spec)}\`` : "";
    console.log(
      `| \`${name}\` | ${opts} | ${rate(tq)} | ${(tc / tq).toFixed(2)} | ${rate(td)} | ${(tc / td).toFixed(2)} |`,
    );
  }
}
