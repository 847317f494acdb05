/**
 * Suite "embed": compressed RAG collections on real vectors (GloVe 100-d, 100,000 base vectors, 1,000
 * held-out queries, exact cosine top-100 in shared/datasets/embeddings/glove-100d), k = 10, one thread.
 *
 * Peers in the same run: exact float32 brute force (JS), hnswlib-node float32 (M 16, efConstruction
 * 200, ef 128), usearch 2.25 with f16, i8 and b1 (connectivity 16, expansion 128; b1 also with float
 * rescoring of the top 100). Ours: every codec at 2×–32× on the exact-scan path, with and without
 * rescoring of the top 100 from an int8 copy on disk, and the HNSW path (@lowbit/hnsw) over a PCA view.
 * Metrics: recall@1/@10/@100 against exact float32, nDCG@10, resident bytes/vector, queries/s.
 */
import { mkdirSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from "node:fs";
import { cpus, tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { Collection, evaluate, recallPlotSvg } from "@lowbit/embed";
import { hnswIndex } from "@lowbit/hnsw";
import hnswlib from "hnswlib-node";
import { Index as UsearchIndex } from "usearch";
import type { CaseResult, SuiteResult } from "../harness.js";
import { repoRoot, resultsPath } from "../harness.js";
import { sharedDir } from "./quality.js";

const r4 = (x: number) => Number(x.toPrecision(4));
const K = 10;

interface Row {
  group: string;
  label: string;
  path: string;
  recall1: number;
  recall10: number;
  recall100: number;
  ndcg10: number;
  bytesPerVector: number;
  qps: number;
  buildSeconds: number;
  compression: number;
}

function load(name: string): Buffer {
  return readFileSync(join(sharedDir(), "datasets", "embeddings", "glove-100d", name));
}

function normalizeRows(x: Float32Array, d: number): Float32Array {
  const out = new Float32Array(x.length);
  for (let i = 0; i < x.length / d; i++) {
    let s = 0;
    for (let t = 0; t < d; t++) s += x[i * d + t]! ** 2;
    const inv = s > 0 ? 1 / Math.sqrt(s) : 0;
    for (let t = 0; t < d; t++) out[i * d + t] = x[i * d + t]! * inv;
  }
  return out;
}

/** recall@k = |returned top-k ∩ true top-k| / k, averaged; nDCG@10 with binary relevance. */
function score(
  results: Int32Array[],
  truth: Int32Array,
  tk: number,
): Pick<Row, "recall1" | "recall10" | "recall100" | "ndcg10"> {
  const nq = results.length;
  const rec = (k: number) => {
    let s = 0;
    for (let q = 0; q < nq; q++) {
      const want = new Set(truth.subarray(q * tk, q * tk + k));
      const got = results[q]!.subarray(0, k);
      let hit = 0;
      for (const g of got) if (want.has(g)) hit++;
      s += hit / k;
    }
    return s / nq;
  };
  let ndcg = 0;
  let ideal = 0;
  for (let i = 0; i < 10; i++) ideal += 1 / Math.log2(i + 2);
  for (let q = 0; q < nq; q++) {
    const want = new Set(truth.subarray(q * tk, q * tk + 10));
    let dcg = 0;
    const got = results[q]!;
    for (let i = 0; i < Math.min(10, got.length); i++) if (want.has(got[i]!)) dcg += 1 / Math.log2(i + 2);
    ndcg += dcg / ideal;
  }
  return {
    recall1: rec(1),
    recall10: rec(10),
    recall100: results[0]!.length >= 100 ? rec(100) : Number.NaN,
    ndcg10: ndcg / nq,
  };
}

function topK(scores: Float32Array, k: number): Int32Array {
  // Partial selection: keep the k best in a small sorted buffer.
  const idx = new Int32Array(k).fill(-1);
  const val = new Float32Array(k).fill(Number.NEGATIVE_INFINITY);
  for (let i = 0; i < scores.length; i++) {
    const s = scores[i]!;
    if (s <= val[k - 1]!) continue;
    let p = k - 1;
    while (p > 0 && val[p - 1]! < s) {
      val[p] = val[p - 1]!;
      idx[p] = idx[p - 1]!;
      p--;
    }
    val[p] = s;
    idx[p] = i;
  }
  return idx;
}

function printRow(r: Row): void {
  console.log(
    `  ${r.group.padEnd(8)} ${r.label.padEnd(34)} ${r.path.padEnd(6)} R@1 ${r.recall1.toFixed(3)}  R@10 ${r.recall10.toFixed(3)}  nDCG@10 ${r.ndcg10.toFixed(3)}  ${r.bytesPerVector.toFixed(1).padStart(6)} B/vec  ${r.qps.toFixed(0).padStart(6)} q/s  build ${r.buildSeconds.toFixed(1)} s`,
  );
}

export const embedSuite = {
  name: "embed",
  async run(filters: readonly RegExp[]): Promise<SuiteResult | null> {
    if (filters.length > 0 && !filters.some((f) => f.test("embed/"))) return null;
    const t0 = performance.now();
    console.log("\n# suite embed: GloVe-100d, 100k base, 1k queries, k = 10, one thread\n");
    const D = 100;
    const baseBytes = load("base.f32");
    const base = new Float32Array(baseBytes.buffer, baseBytes.byteOffset, baseBytes.byteLength / 4);
    const n = base.length / D;
    const qBytes = load("queries.f32");
    const queries = new Float32Array(qBytes.buffer, qBytes.byteOffset, qBytes.byteLength / 4);
    const nq = queries.length / D;
    const tBytes = load("groundtruth.i32");
    const truth = new Int32Array(tBytes.buffer, tBytes.byteOffset, tBytes.byteLength / 4);
    const tk = truth.length / nq;
    const baseN = normalizeRows(base, D);
    const queriesN = normalizeRows(queries, D);
    const rows: Row[] = [];
    const add = (r: Row) => {
      rows.push(r);
      printRow(r);
    };
    const f32Bytes = D * 4;

    // Peer: exact float32 brute force.
    {
      const results: Int32Array[] = [];
      const s = new Float32Array(n);
      const t = performance.now();
      for (let q = 0; q < nq; q++) {
        const qo = q * D;
        for (let i = 0; i < n; i++) {
          let acc = 0;
          const o = i * D;
          for (let j = 0; j < D; j++) acc += baseN[o + j]! * queriesN[qo + j]!;
          s[i] = acc;
        }
        results.push(topK(s, 100));
      }
      const secs = (performance.now() - t) / 1000;
      add({
        group: "peer",
        label: "float32 brute force",
        path: "scan",
        ...score(results, truth, tk),
        bytesPerVector: f32Bytes,
        qps: nq / secs,
        buildSeconds: 0,
        compression: 1,
      });
    }

    // Peer: hnswlib-node float32 (cosine), M 16, efConstruction 200, ef 128.
    const tmp = mkdtempSync(join(tmpdir(), "lowbit-bench-embed-"));
    try {
      {
        const t = performance.now();
        const index = new hnswlib.HierarchicalNSW("cosine", D);
        index.initIndex({ maxElements: n, m: 16, efConstruction: 200, randomSeed: 100 });
        for (let i = 0; i < n; i++) index.addPoint(Array.from(base.subarray(i * D, i * D + D)), i);
        const build = (performance.now() - t) / 1000;
        index.setEf(128);
        const file = join(tmp, "hnswlib.bin");
        index.writeIndexSync(file);
        const bytes = statSync(file).size / n;
        const results: Int32Array[] = [];
        const t2 = performance.now();
        for (let q = 0; q < nq; q++) {
          const r = index.searchKnn(Array.from(queries.subarray(q * D, q * D + D)), K);
          results.push(Int32Array.from(r.neighbors));
        }
        const secs = (performance.now() - t2) / 1000;
        add({
          group: "peer",
          label: "hnswlib-node float32 M16 ef128",
          path: "hnsw",
          ...score(results, truth, tk),
          bytesPerVector: bytes,
          qps: nq / secs,
          buildSeconds: build,
          compression: f32Bytes / bytes,
        });
      }

      // Peers: usearch f16 / i8 / b1.
      for (const quantization of ["f16", "i8", "b1"] as const) {
        const t = performance.now();
        const index = new UsearchIndex({
          dimensions: D,
          metric: (quantization === "b1" ? "hamming" : "cos") as never,
          quantization: quantization as never,
          connectivity: 16,
          expansion_add: 128,
          expansion_search: 128,
          multi: false,
        });
        const keys = new BigUint64Array(n);
        for (let i = 0; i < n; i++) keys[i] = BigInt(i);
        index.add(keys, quantization === "i8" ? baseN : base, 1);
        const build = (performance.now() - t) / 1000;
        const file = join(tmp, `usearch-${quantization}.bin`);
        index.save(file);
        const bytes = statSync(file).size / n;
        for (const rescore of quantization === "i8" || quantization === "b1"
          ? [0, quantization === "b1" ? 100 : 40]
          : [0]) {
          const results: Int32Array[] = [];
          const t2 = performance.now();
          for (let q = 0; q < nq; q++) {
            const qv = (quantization === "i8" ? queriesN : queries).subarray(q * D, q * D + D);
            const m = index.search(qv, rescore > 0 ? rescore : K, 1);
            let ids = Int32Array.from(m.keys, (k) => Number(k));
            if (rescore > 0) {
              const s = new Float32Array(ids.length);
              for (let c = 0; c < ids.length; c++) {
                let acc = 0;
                const o = ids[c]! * D;
                for (let j = 0; j < D; j++) acc += baseN[o + j]! * queriesN[q * D + j]!;
                s[c] = acc;
              }
              const order = topK(s, Math.min(K, ids.length));
              ids = Int32Array.from(order, (p) => ids[p]!);
            }
            results.push(ids);
          }
          const secs = (performance.now() - t2) / 1000;
          add({
            group: "peer",
            label: `usearch ${quantization}${rescore > 0 ? ` + float rescore top ${rescore}` : ""}`,
            path: "hnsw",
            ...score(results, truth, tk),
            bytesPerVector: bytes,
            qps: nq / secs,
            buildSeconds: build,
            compression: f32Bytes / bytes,
          });
        }
      }

      // Ours, exact scan over codes: [codec, compression label]; each without rescoring and with the
      // top 100 rescored from an int8 copy kept on disk.
      const scanCodecs: readonly [string, string | null][] = [
        // [resident codec, codec of the on-disk copy whose top 100 are rescored (or none)]
        ["float16", null],
        ["int8", "float16"],
        ["float8", "float16"],
        ["pca:0.5+float8", "int8"],
        ["int4", "int8"],
        ["pq:25", "int8"],
        ["pq:12", "int8"],
        ["binary", "int8"],
      ];
      for (const [codec, rescoreCodec] of scanCodecs) {
        const t = performance.now();
        const dir = join(tmp, codec.replaceAll(/[^a-z0-9]/gi, "_"));
        const c = Collection.create({
          dim: D,
          metric: "cosine",
          codec,
          rescore: rescoreCodec ?? "int8",
          rescoreStorage: "disk",
          index: null,
        });
        c.add(
          Array.from({ length: n }, (_, i) => String(i)),
          base,
        );
        const build = (performance.now() - t) / 1000;
        await c.save(dir);
        for (const rescore of rescoreCodec !== null ? [0, 10] : [0]) {
          // k = 10 with factor 10: exactly the top 100 candidates rescored.
          const r = evaluate(c, queries, truth, { k: rescore > 0 ? 10 : 100, rescore, path: "scan" });
          const bytes = r.bytesPerVector;
          add({
            group: "lowbit",
            label: `${codec}${rescore > 0 ? ` + ${rescoreCodec} rescore top 100 (disk)` : ""}`,
            path: "scan",
            recall1: r.recall1,
            recall10: r.recall10,
            recall100: r.recall100,
            ndcg10: r.ndcg10,
            bytesPerVector: bytes,
            qps: r.qps,
            buildSeconds: build,
            compression: f32Bytes / bytes,
          });
        }
        await c.close();
      }

      // Ours, HNSW path: the graph over a PCA view, candidates rescored.
      for (const [codec, view] of [["pca:0.5+float8", "pca:0.25"]] as const) {
        const t = performance.now();
        const c = Collection.create({
          dim: D,
          metric: "cosine",
          codec,
          rescore: "int8",
          rescoreStorage: "disk",
          index: hnswIndex({ M: 16, efConstruction: 200, ef: 128 }),
          indexView: view,
        });
        c.add(
          Array.from({ length: n }, (_, i) => String(i)),
          base,
        );
        const build = (performance.now() - t) / 1000;
        await c.save(join(tmp, `hnsw-${codec.replaceAll(/[^a-z0-9]/gi, "_")}`));
        for (const rescore of [0, 10]) {
          const r = evaluate(c, queries, truth, { k: 10, rescore, path: "index", ef: 128 });
          add({
            group: "lowbit",
            label: `${codec} hnsw(${view})${rescore > 1 ? " + int8 rescore top 100 (disk)" : ""}`,
            path: "hnsw",
            recall1: r.recall1,
            recall10: r.recall10,
            recall100: r.recall100,
            ndcg10: r.ndcg10,
            bytesPerVector: r.bytesPerVector,
            qps: r.qps,
            buildSeconds: build,
            compression: f32Bytes / r.bytesPerVector,
          });
        }
        await c.close();
      }
    } finally {
      rmSync(tmp, { recursive: true, force: true });
    }

    const cases: CaseResult[] = [];
    const slug = (s: string) => s.replaceAll(/[^a-zA-Z0-9.:+]+/g, "-");
    for (const r of rows) {
      const b = `embed/${r.group}/${slug(r.label)}/${r.path}`;
      cases.push({ name: `${b}/recall10`, metric: "recall@10", value: r4(r.recall10), unit: "" });
      cases.push({ name: `${b}/recall1`, metric: "recall@1", value: r4(r.recall1), unit: "" });
      if (!Number.isNaN(r.recall100))
        cases.push({ name: `${b}/recall100`, metric: "recall@100", value: r4(r.recall100), unit: "" });
      cases.push({ name: `${b}/ndcg10`, metric: "ndcg@10", value: r4(r.ndcg10), unit: "" });
      cases.push({ name: `${b}/bytes`, metric: "bytes-per-vector", value: r4(r.bytesPerVector), unit: "B" });
      cases.push({ name: `${b}/qps`, metric: "throughput", value: r4(r.qps), unit: "queries/s" });
      cases.push({ name: `${b}/build`, metric: "time", value: r4(r.buildSeconds), unit: "s" });
    }
    const out: SuiteResult = {
      suite: "embed",
      date: new Date().toISOString(),
      node: process.version,
      cpu: cpus()[0]?.model.trim() ?? "unknown",
      cases,
    };
    const path = resultsPath("embed");
    mkdirSync(dirname(path), { recursive: true });
    writeFileSync(path, `${JSON.stringify(out, null, 2)}\n`);
    const svg = recallPlotSvg(
      rows.map((r) => ({
        label: `${r.label} (${r.path})`,
        bytesPerVector: r.bytesPerVector,
        recall: r.recall10,
        group: r.group,
      })),
    );
    const plot = join(repoRoot(), "packages", "embed", "recall.svg");
    writeFileSync(plot, svg);
    console.log(`\n${((performance.now() - t0) / 1000).toFixed(1)} s; wrote ${path} and ${plot}`);
    return out;
  },
};
