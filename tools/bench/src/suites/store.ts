/**
 * Suite "store": delta and deduplicated model storage on the real weights in shared/datasets/models.
 *
 * Ratios are stored bytes / raw bytes (lower is better), each next to the anchors measured in the
 * same run on the same file: whole-file zstd -3 (the zstd CLI), xz -9 (the xz CLI), byte planes +
 * zstd -3, and the BitX recipe (XOR with the base, 2 byte planes, zstd -3 each). Throughput is MB/s
 * of raw model bytes for a whole-folder ingest and restore, next to the zstd CLI's own -3 compress
 * and decompress of the same files (one process per file, as a user would run it).
 */
import { execFileSync } from "node:child_process";
import { mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { cpus, tmpdir } from "node:os";
import { join } from "node:path";
import { parseHeader } from "@lowbit/safetensors";
import { Store } from "@lowbit/store";
import { zstdCompressor } from "@lowbit/zstd";
import type { CaseResult, SuiteResult } from "../harness.js";
import { resultsPath } from "../harness.js";
import { sharedDir } from "./quality.js";

const r4 = (x: number) => Number(x.toPrecision(4));

function cli(cmd: string, args: string[], input: Uint8Array): { bytes: number; seconds: number } {
  const t0 = performance.now();
  const out = execFileSync(cmd, args, { input, maxBuffer: 1 << 30 });
  return { bytes: out.length, seconds: (performance.now() - t0) / 1000 };
}

function has(cmd: string): boolean {
  try {
    execFileSync(cmd, ["--version"], { stdio: "ignore" });
    return true;
  } catch {
    return false;
  }
}

/** Tensor bytes of a safetensors file as 2-byte elements: [header+..., planes]. */
function planesAnchor(file: Uint8Array, zstd: ReturnType<typeof zstdCompressor>, base?: Uint8Array): number {
  const h = parseHeader(file);
  let total = h.dataStart;
  const bh = base === undefined ? undefined : parseHeader(base);
  for (const [name, t] of h.tensors) {
    const data = file.subarray(h.dataStart + t.dataOffsets[0], h.dataStart + t.dataOffsets[1]);
    let x = data;
    const bt = bh?.tensors.get(name);
    if (base !== undefined && bh !== undefined && bt !== undefined && bt.dtype === t.dtype) {
      const b = base.subarray(bh.dataStart + bt.dataOffsets[0], bh.dataStart + bt.dataOffsets[1]);
      x = new Uint8Array(data.length);
      for (let i = 0; i < data.length; i++) x[i] = data[i]! ^ b[i]!;
    }
    const w = t.dtype === "F16" || t.dtype === "BF16" ? 2 : t.dtype === "F32" ? 4 : 1;
    if (w === 1 || x.length % w !== 0) {
      total += zstd.compress(x, 3).length;
      continue;
    }
    const n = x.length / w;
    for (let p = 0; p < w; p++) {
      const plane = new Uint8Array(n);
      for (let i = 0; i < n; i++) plane[i] = x[i * w + (w - 1 - p)]!;
      total += zstd.compress(plane, 3).length;
    }
  }
  return total;
}

export const storeSuite = {
  name: "store",
  async run(filters: readonly RegExp[]): Promise<SuiteResult | null> {
    if (filters.length > 0 && !filters.some((f) => f.test("store/"))) return null;
    const t0 = performance.now();
    console.log("\n# suite store: delta + dedup storage of shared/datasets/models\n");
    const models = join(sharedDir(), "datasets", "models");
    const read = (f: string) => new Uint8Array(readFileSync(join(models, f)));
    const zstd = zstdCompressor();
    const haveZstd = has("zstd");
    const haveXz = has("xz");
    const cases: CaseResult[] = [];
    const add = (c: CaseResult) => {
      cases.push(c);
      const peer = c.peer ? `   ${c.peer.name} ${c.peer.value}` : "";
      console.log(`${c.name.padEnd(52)} ${String(c.value).padStart(9)} ${c.unit}${peer}`);
    };
    const tmp = mkdtempSync(join(tmpdir(), "lowbit-bench-store-"));
    try {
      const deep = read("faceres-deep.f16.safetensors");
      const base = read("faceres.f16.safetensors");
      const deep32 = read("faceres-deep.f32.safetensors");

      // Anchors on the faceres-deep.f16 file.
      const anchors: Record<string, number> = {};
      if (haveZstd) anchors["zstd -3 (CLI)"] = cli("zstd", ["-3", "-c"], deep).bytes / deep.length;
      if (haveXz) anchors["xz -9 (CLI)"] = cli("xz", ["-9", "-c"], deep).bytes / deep.length;
      anchors["byte planes + zstd -3"] = planesAnchor(deep, zstd) / deep.length;
      anchors["BitX: xor + 2 planes + zstd -3"] = planesAnchor(deep, zstd, base) / deep.length;
      for (const [k, v] of Object.entries(anchors))
        add({
          name: `store/anchor/faceres-deep.f16/${k}`,
          metric: "ratio",
          value: r4(v),
          unit: "stored/raw",
        });

      // Ours: the pair, the single model, and the f32 fine-tune against the f16 base.
      const pair = await Store.init(join(tmp, "pair"), { compressor: zstd });
      await pair.ingest([join(models, "faceres.f16.safetensors")], { name: "faceres", base: null });
      const withBase = await pair.ingest([join(models, "faceres-deep.f16.safetensors")], {
        name: "faceres-deep",
      });
      const bitx = anchors["BitX: xor + 2 planes + zstd -3"]!;
      add({
        name: "store/faceres-deep.f16/with-base",
        metric: "ratio",
        value: r4(withBase.storedBytesAdded / deep.length),
        unit: "stored/raw",
        peer: { name: "BitX", value: r4(bitx) },
        ratio: r4(withBase.storedBytesAdded / deep.length / bitx),
      });
      const f32 = await pair.ingest([join(models, "faceres-deep.f32.safetensors")], {
        name: "faceres-deep-f32",
        base: "faceres",
      });
      add({
        name: "store/faceres-deep.f32/f16-base",
        metric: "ratio",
        value: r4(f32.storedBytesAdded / deep32.length),
        unit: "stored/raw",
      });
      const solo = await Store.init(join(tmp, "solo"), { compressor: zstd });
      const single = await solo.ingest([join(models, "faceres-deep.f16.safetensors")], {
        name: "deep",
        base: null,
      });
      const planes = anchors["byte planes + zstd -3"]!;
      add({
        name: "store/faceres-deep.f16/no-base",
        metric: "ratio",
        value: r4(single.storedBytesAdded / deep.length),
        unit: "stored/raw",
        peer: { name: "byte planes + zstd -3", value: r4(planes) },
        ratio: r4(single.storedBytesAdded / deep.length / planes),
      });
      const solo32 = await solo.ingest([join(models, "faceres-deep.f32.safetensors")], {
        name: "deep32",
        base: null,
      });
      add({
        name: "store/faceres-deep.f32/no-base",
        metric: "ratio",
        value: r4(solo32.storedBytesAdded / deep32.length),
        unit: "stored/raw",
      });

      // The whole folder as a hub would hold it, plus duplicates: the same file under a second
      // name, and every model as its own repository (so the facemesh pair and the silero pair meet).
      const files = readdirSync(models).sort();
      const hub = await Store.init(join(tmp, "hub"), { compressor: zstd });
      let raw = 0;
      let zstdEach = 0;
      let cliCompress = 0;
      let cliDecompress = 0;
      const tIngest = performance.now();
      for (const f of files) {
        const data = read(f);
        raw += data.length;
        zstdEach += zstd.compress(data, 3).length;
        await hub.ingest([join(models, f)], { name: f.replace(/\.(safetensors|onnx)$/, "") });
      }
      const dup = read("face_expression.f32.safetensors");
      raw += dup.length;
      zstdEach += zstd.compress(dup, 3).length;
      await hub.ingest([{ path: "model.safetensors", data: dup }], { name: "mirror/face-expression" });
      const ingestSeconds = (performance.now() - tIngest) / 1000;
      const st = await hub.stats();
      add({
        name: "store/hub-folder/total",
        metric: "ratio",
        value: r4(st.storedBytes / raw),
        unit: "stored/raw",
        peer: { name: "zstd -3 of each file", value: r4(zstdEach / raw) },
        ratio: r4(st.storedBytes / zstdEach),
      });
      for (const m of st.models)
        add({
          name: `store/hub-folder/model/${m.name}`,
          metric: "ratio",
          value: r4(m.ratio),
          unit: "stored/raw",
        });
      const tRestore = performance.now();
      let restored = 0;
      for (const m of await hub.list()) {
        const r = await hub.restore(m.name, join(tmp, "restore", m.name));
        restored += r.bytes;
      }
      const restoreSeconds = (performance.now() - tRestore) / 1000;
      if (haveZstd) {
        mkdirSync(join(tmp, "cli"), { recursive: true });
        for (const f of files) {
          const data = read(f);
          const c = cli("zstd", ["-3", "-c"], data);
          cliCompress += c.seconds;
          writeFileSync(
            join(tmp, "cli", `${f}.zst`),
            execFileSync("zstd", ["-3", "-c"], { input: data, maxBuffer: 1 << 30 }),
          );
          cliDecompress += cli("zstd", ["-d", "-c"], readFileSync(join(tmp, "cli", `${f}.zst`))).seconds;
        }
      }
      const cliRaw = files.reduce((a, f) => a + read(f).length, 0);
      add({
        name: "store/hub-folder/ingest",
        metric: "throughput",
        value: r4(raw / 1e6 / ingestSeconds),
        unit: "MB/s",
        ...(haveZstd
          ? { peer: { name: "zstd -3 CLI compress", value: r4(cliRaw / 1e6 / cliCompress) } }
          : {}),
      });
      add({
        name: "store/hub-folder/restore",
        metric: "throughput",
        value: r4(restored / 1e6 / restoreSeconds),
        unit: "MB/s",
        ...(haveZstd ? { peer: { name: "zstd -d CLI", value: r4(cliRaw / 1e6 / cliDecompress) } } : {}),
      });
      const verify = await hub.verify();
      add({ name: "store/hub-folder/verify", metric: "ok", value: verify.ok ? 1 : 0, unit: "bool" });
    } finally {
      await zstd.close();
      rmSync(tmp, { recursive: true, force: true });
    }
    const out: SuiteResult = {
      suite: "store",
      date: new Date().toISOString(),
      node: process.version,
      cpu: cpus()[0]?.model.trim() ?? "unknown",
      cases,
    };
    const path = resultsPath("store");
    mkdirSync(join(path, ".."), { recursive: true });
    writeFileSync(path, `${JSON.stringify(out, null, 2)}\n`);
    console.log(`\nsuite store: ${((performance.now() - t0) / 1000).toFixed(1)} s → ${path}`);
    return out;
  },
};
