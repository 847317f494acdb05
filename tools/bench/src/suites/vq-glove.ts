/**
 * Suite "vq-glove": PQ vs residual VQ vs additive quantization on real vectors, the comparison faiss
 * publishes for SIFT1M (additive/LSQ ≈ 0.73× PQ's error at 64-bit codes).
 *
 * Data: all 100,000 GloVe 100-d vectors of shared/datasets/embeddings/glove-100d/base.f32. Each vector
 * is padded to 128 dimensions with its 100 real ones interleaved (dimension j at (j mod 16)·8 + ⌊j/16⌋),
 * so each of 8 PQ subspaces holds 12–13 real dimensions and each of 16 holds 6–7; the zero padding adds
 * no error to any method. Codebooks are trained on a seeded sample of 25,000 vectors (`trainSample`, as
 * faiss trains on a learn set) and every one of the 100,000 vectors is then encoded with them. The
 * relative MSE is over the full base.
 *
 * Budgets: 8 bytes (64 bits, suite vq-glove-8) and 16 bytes (128 bits, suite vq-glove-16) of codes per
 * vector: pq M×8, rvq M×8, aq M×8 with M = 8 and 16. The same k-means iterations for every method.
 */
import { mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { cpus } from "node:os";
import { dirname, join } from "node:path";
import { createKmeansPool } from "@lowbit/vq/node";
import type { CaseResult, SuiteResult } from "../harness.js";
import { resultsPath } from "../harness.js";
import { sharedDir } from "./quality.js";
import { type Row, run } from "./vq.js";

const r4 = (x: number) => Number(x.toPrecision(4));
export const GLOVE_TRAIN_SAMPLE = 25_000;
/**
 * k-means iterations, the same for every method of a run: 6 at 8 bytes (keeps vq-glove-8 inside the
 * 10-minute budget), 10 at 16 bytes (the opt-in run, as measured).
 */
const iterationsFor = (M: number): number => (M === 8 ? 6 : 10);

/** One suite per byte budget (each stays under the 10-minute suite limit on 2 cores). */
function gloveSuite(M: 8 | 16) {
  const name = `vq-glove-${M}`;
  return {
    name,
    async run(filters: readonly RegExp[]): Promise<SuiteResult | null> {
      if (filters.length > 0 && !filters.some((f) => f.test(`vq/glove-100k-${M}B/`))) return null;
      if (M === 16 && filters.length === 0) {
        // Over the 10-minute suite budget on 2 cores (16 codebooks: ~2× the k-means and 4× the beam
        // search of the 8-byte run), so it runs only when asked for by name.
        console.log("\n# suite vq-glove-16: skipped (opt-in: npm run bench -- vq/glove-100k-16B/)");
        return null;
      }
      return runGlove(name, M);
    },
  };
}

export const vqGlove8Suite = gloveSuite(8);
export const vqGlove16Suite = gloveSuite(16);

async function runGlove(suite: string, M: number): Promise<SuiteResult> {
  {
    const t0 = performance.now();
    console.log(`\n# suite ${suite}\n`);
    const D = 100;
    const P = 128;
    const bytes = readFileSync(join(sharedDir(), "datasets", "embeddings", "glove-100d", "base.f32"));
    const nv = bytes.byteLength / 4 / D;
    const raw = new Float32Array(bytes.buffer, bytes.byteOffset, nv * D);
    const v = new Float32Array(nv * P);
    for (let i = 0; i < nv; i++) {
      for (let j = 0; j < D; j++) v[i * P + (j % 16) * 8 + Math.floor(j / 16)] = raw[i * D + j]!;
    }
    const shape: [number, number] = [nv, P];
    const common = { bits: 8, iterations: iterationsFor(M), trainSample: GLOVE_TRAIN_SAMPLE };
    const rows: Row[] = [];
    const pool = createKmeansPool(2);
    try {
      {
        const G = `glove-100k-${M}B`;
        const bitsPerDim = (M * 8) / P; // code bits per padded dimension (the "bits/weight" of the run)
        rows.push(
          run(
            G,
            `pq ${M}x8`,
            v,
            shape,
            { format: "pq", vectorLength: P, subspaces: M, ...common },
            bitsPerDim,
            {
              pool,
            },
          ),
        );
        rows.push(
          run(
            G,
            `rvq ${M}x8`,
            v,
            shape,
            { format: "rvq", vectorLength: P, codebooks: M, beam: 4, ...common },
            bitsPerDim,
            {
              pool,
            },
          ),
        );
        rows.push(
          run(
            G,
            `aq ${M}x8`,
            v,
            shape,
            { format: "aq", group: P, codebooks: M, beam: 4, rounds: 3, ...common },
            bitsPerDim,
            { pool },
          ),
        );
      }
    } finally {
      await pool.close();
    }
    const cases: CaseResult[] = [];
    for (const r of rows) {
      const base = `vq/${r.group}/${r.label.replaceAll(" ", "-")}`;
      cases.push({ name: `${base}/relmse`, metric: "relative-mse", value: r4(r.relMse), unit: "" });
      cases.push({ name: `${base}/bpw`, metric: "bits-per-weight", value: r4(r.bpw), unit: "bits" });
      cases.push({
        name: `${base}/code-bits`,
        metric: "code-bits-per-weight",
        value: r.codeBits,
        unit: "bits",
      });
      cases.push({ name: `${base}/quantize-time`, metric: "time", value: r4(r.seconds), unit: "s" });
      const pqRow = rows.find((q) => q.group === r.group && q.label.startsWith("pq"));
      if (pqRow !== undefined && pqRow !== r) {
        cases.push({
          name: `${base}/vs-pq`,
          metric: "relative-mse",
          value: r4(r.relMse),
          unit: "",
          peer: { name: pqRow.label, value: r4(pqRow.relMse) },
          ratio: r4(r.relMse / pqRow.relMse),
        });
      }
    }
    const out: SuiteResult = {
      suite,
      date: new Date().toISOString(),
      node: process.version,
      cpu: cpus()[0]?.model.trim() ?? "unknown",
      cases,
    };
    const path = resultsPath(suite);
    mkdirSync(dirname(path), { recursive: true });
    writeFileSync(path, `${JSON.stringify(out, null, 2)}\n`);
    console.log(`\n${((performance.now() - t0) / 1000).toFixed(1)} s; wrote ${path}`);
    return out;
  }
}
