/**
 * Read/write throughput of @lowbit/safetensors on the shared model files and on a large synthetic
 * file (page cache warm: this measures the library, not the disk). Not a test; run with
 *   npx tsx packages/safetensors/bench/throughput.ts [shared folder]
 */
import { readFileSync } from "node:fs";
import { mkdtemp, readFile, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import type { TensorPart } from "@lowbit/bits";
import { encodeSafetensors, readSafetensors, toFloat32 } from "../src/index.js";
import { openSafetensors, writeSafetensors } from "../src/node.js";

const shared = resolve(process.argv[2] ?? fileURLToPath(new URL("../../../../shared", import.meta.url)));
const MB = 1e6;

/** Median seconds of `fn` over `runs` runs after one warm-up. */
async function time(runs: number, fn: () => unknown): Promise<number> {
  await fn();
  const t: number[] = [];
  for (let i = 0; i < runs; i++) {
    const t0 = performance.now();
    await fn();
    t.push((performance.now() - t0) / 1000);
  }
  return t.sort((a, b) => a - b)[Math.floor(t.length / 2)]!;
}

const rows: string[] = [];
const row = (what: string, bytes: number, s: number, extra = "") =>
  rows.push(
    `| ${what} | ${(bytes / MB).toFixed(1)} | ${(s * 1000).toFixed(2)} | ${(bytes / MB / s).toFixed(0)} | ${extra} |`,
  );

async function measure(label: string, path: string, runs: number, smallReads = true): Promise<void> {
  const size = readFileSync(path).length;
  let bytes = new Uint8Array(0);
  row(
    `${label}: readFile`,
    size,
    await time(runs, async () => {
      bytes = new Uint8Array(await readFile(path));
    }),
  );
  row(`${label}: readSafetensors (bytes in memory)`, size, await time(runs, () => readSafetensors(bytes)));
  const file = readSafetensors(bytes);
  let floats = 0;
  for (const t of file.tensors.values()) floats += t.data.length;
  row(
    `${label}: toFloat32 of every tensor`,
    size,
    await time(runs, () => {
      for (const t of file.tensors.values()) toFloat32(t);
    }),
    `${(floats / 1e6).toFixed(1)} M values`,
  );
  row(
    `${label}: openSafetensors + read every tensor`,
    size,
    await time(runs, async () => {
      await using h = await openSafetensors(path);
      for (const n of h.names()) await h.read(n);
    }),
  );
  // Single tensors through the file handle: the largest, and per-call cost of the smallest.
  const h = await openSafetensors(path);
  let largest = "";
  let smallest = "";
  for (const [n, t] of file.tensors) {
    if (largest === "" || t.data.byteLength > file.tensors.get(largest)!.data.byteLength) largest = n;
    if (smallest === "" || t.data.byteLength < file.tensors.get(smallest)!.data.byteLength) smallest = n;
  }
  const lb = file.tensors.get(largest)!.data.byteLength;
  row(
    `${label}: read(largest tensor, ${(lb / MB).toFixed(2)} MB)`,
    lb,
    await time(runs * 5, () => h.read(largest)),
  );
  if (smallReads) {
    const reps = 2000;
    const small = await time(runs, async () => {
      for (let i = 0; i < reps; i++) await h.read(smallest);
    });
    const sb = file.tensors.get(smallest)!.data.byteLength;
    rows.push(
      `| ${label}: read(smallest tensor, ${sb} B) | – | ${((small / reps) * 1000).toFixed(3)} | – | per call |`,
    );
  }
  await h.close();
}

const tmp = await mkdtemp(join(tmpdir(), "lowbit-st-bench-"));
try {
  await measure("faceres-deep.f32 (14 MB)", join(shared, "datasets/models/faceres-deep.f32.safetensors"), 9);
  await measure("faceres.f16 (7 MB)", join(shared, "datasets/models/faceres.f16.safetensors"), 9);

  // 512 MB synthetic: 64 F16 tensors of 8 MB.
  const big: Record<string, TensorPart> = {};
  for (let i = 0; i < 64; i++) {
    const data = new Uint16Array(4 << 20);
    for (let j = 0; j < data.length; j++) data[j] = (j * 2654435761 + i) & 0x7bff;
    big[`layer.${i}.weight`] = { dtype: "F16", shape: [2048, 2048], data };
  }
  const bigPath = join(tmp, "big.safetensors");
  const total = encodeSafetensors(big).length;
  row("synthetic 512 MB: encodeSafetensors", total, await time(3, () => encodeSafetensors(big)));
  row(
    "synthetic 512 MB: writeSafetensors (temp + fsync + rename)",
    total,
    await time(3, () => writeSafetensors(bigPath, big)),
  );
  await measure("synthetic 512 MB", bigPath, 3, false);
} finally {
  await rm(tmp, { recursive: true, force: true });
}

console.log(`Node ${process.version}\n`);
console.log("| case | MB | ms | MB/s | note |\n|---|---:|---:|---:|---|");
console.log(rows.join("\n"));
