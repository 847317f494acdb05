// Throughput of @lowbit/zstd on real float16 weights (faceres.f16.safetensors, the whole file).
// Run after building:  node packages/zstd/scripts/speed.mjs   (from the repository root)
// Prints a Markdown table (medians of 5 rounds): sync on the calling thread, and async through a 2-worker pool with 8 jobs
// in flight. MB/s counts uncompressed bytes (10^6 bytes per MB) for both directions.
import { readFileSync } from "node:fs";
import { cpus } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { zstdCompressor, zstdVersion } from "../dist/index.js";

// The shared data folder: $LOWBIT_SHARED, else <repo root>/../shared (this file is <repo>/packages/zstd/scripts).
const shared = process.env.LOWBIT_SHARED ?? fileURLToPath(new URL("../../../../shared", import.meta.url));
const file = new Uint8Array(readFileSync(join(shared, "datasets", "models", "faceres.f16.safetensors")));
const ROUNDS = 5;
const ROUND_SECONDS = 0.6;
const JOBS = 8;

/**
 * MB/s of `round` (which handles `bytes` per call): the median of ROUNDS rounds of at least
 * ROUND_SECONDS each, after a warm-up call (contexts, worker start-up). The median damps a shared machine.
 */
async function rate(bytes, round) {
  await round();
  const rates = [];
  for (let r = 0; r < ROUNDS; r++) {
    let n = 0;
    const t0 = performance.now();
    let elapsed = 0;
    while (elapsed < ROUND_SECONDS * 1000) {
      await round();
      n++;
      elapsed = performance.now() - t0;
    }
    rates.push((bytes * n) / (elapsed / 1000) / 1e6);
  }
  return rates.sort((a, b) => a - b)[ROUNDS >> 1];
}

const sync = zstdCompressor({ threads: 0 });
const pooled = zstdCompressor({ threads: 2 });
const rows = [];
for (const level of [1, 3]) {
  const z = sync.compress(file, level);
  const ratio = z.length / file.length;
  const syncC = await rate(file.length, () => sync.compress(file, level));
  const syncD = await rate(file.length, () => sync.decompress(z, file.length));
  const jobs = Array.from({ length: JOBS });
  const asyncC = await rate(file.length * JOBS, () =>
    Promise.all(jobs.map(() => pooled.compressAsync(file, level))),
  );
  const asyncD = await rate(file.length * JOBS, () =>
    Promise.all(jobs.map(() => pooled.decompressAsync(z, file.length))),
  );
  rows.push({ level, ratio, syncC, syncD, asyncC, asyncD });
}
await pooled.close();

const f = (x) => x.toFixed(0);
console.log(`zstd ${zstdVersion()}, Node ${process.version}, ${cpus().length} × ${cpus()[0]?.model ?? "?"}`);
console.log(`input: faceres.f16.safetensors, ${file.length} bytes\n`);
console.log(
  "| level | ratio | compress, sync MB/s | decompress, sync MB/s | compress, 2 workers × 8 jobs MB/s | decompress, 2 workers × 8 jobs MB/s |",
);
console.log("|---:|---:|---:|---:|---:|---:|");
for (const r of rows) {
  console.log(
    `| ${r.level} | ${(r.ratio * 100).toFixed(1)} % | ${f(r.syncC)} | ${f(r.syncD)} | ${f(r.asyncC)} | ${f(r.asyncD)} |`,
  );
}
