/**
 * Suite "vq": vector and additive quantization against the references that bound it.
 * - iid Gaussian 1024×1024 at exactly 2.0 bits/weight of codes (codebook and scale overhead reported
 *   separately): vq, pq, rvq, aq, next to the Lloyd–Max optimal 2-bit scalar quantizer (relative MSE
 *   0.1175) and the rate–distortion bound 2^(−2R) = 0.0625; plus aq's quantize time with a 2-thread pool.
 * - Real weights: the largest matrices of faceres-deep.f32 at ~2 and ~3 bits/weight, aq against the best
 *   scalar formats at the same rate (any2/any3 g128, int2/int3 g128 with clip search).
 * - GloVe vectors: suite vq-glove (vq-glove.ts).
 * - matvec straight from aq 2×8 g8 codes on 4096×4096 vs a dense float32 matvec in the same run.
 */
import { mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { cpus } from "node:os";
import { dirname, join } from "node:path";
import { createRng } from "@lowbit/bits";
import { bitsPerWeight, dequantize, type QuantSpec, quantize, relativeMse } from "@lowbit/formats";
import { float16 } from "@lowbit/fp16";
import { readSafetensors, toFloat32 } from "@lowbit/safetensors";
import { matvec, packCodes } from "@lowbit/vq";
import { createKmeansPool } from "@lowbit/vq/node";
import type { CaseResult, SuiteResult } from "../harness.js";
import { resultsPath } from "../harness.js";
import { sharedDir } from "./quality.js";

export const LLOYD_MAX_2BIT = 0.1175;
export const RD_BOUND_2BIT = 0.0625;

function gaussian(n: number, seed: number): Float32Array {
  const rng = createRng(seed);
  const out = new Float32Array(n);
  for (let i = 0; i < n; i++) {
    const u = 1 - rng.nextFloat();
    out[i] = Math.sqrt(-2 * Math.log(u)) * Math.cos(2 * Math.PI * rng.nextFloat());
  }
  return out;
}

export interface Row {
  group: string;
  label: string;
  relMse: number;
  bpw: number;
  codeBits: number;
  seconds: number;
}

const r4 = (x: number) => Number(x.toPrecision(4));

export function run(
  group: string,
  label: string,
  w: Float32Array,
  shape: [number, number],
  spec: QuantSpec,
  codeBits: number,
  extra: Record<string, unknown> = {},
): Row {
  const t0 = performance.now();
  const qt = quantize(w, shape, { ...spec, ...extra } as QuantSpec);
  const seconds = (performance.now() - t0) / 1000;
  const rel = relativeMse(w, dequantize(qt));
  const row = { group, label, relMse: rel, bpw: bitsPerWeight(qt), codeBits, seconds };
  console.log(
    `  ${group.padEnd(28)} ${label.padEnd(22)} rel MSE ${rel.toFixed(4)}  ${row.bpw.toFixed(3)} bpw  ${seconds.toFixed(1)} s`,
  );
  return row;
}

function denseMatvec(w: Float32Array, x: Float32Array, y: Float32Array, rows: number, cols: number): void {
  for (let r = 0; r < rows; r++) {
    let s = 0;
    const o = r * cols;
    for (let c = 0; c < cols; c++) s += w[o + c]! * x[c]!;
    y[r] = s;
  }
}

function bestMs(fn: () => void, reps = 10): number {
  let b = Number.POSITIVE_INFINITY;
  for (let i = 0; i < reps; i++) {
    const t = performance.now();
    fn();
    b = Math.min(b, performance.now() - t);
  }
  return b;
}

export const vqSuite = {
  name: "vq",
  async run(filters: readonly RegExp[]): Promise<SuiteResult | null> {
    if (filters.length > 0 && !filters.some((f) => f.test("vq/"))) return null;
    const t0 = performance.now();
    console.log("\n# suite vq\n");
    const rows: Row[] = [];
    const pool = createKmeansPool(2);
    try {
      // 1. iid Gaussian at exactly 2.0 bits/weight of codes.
      const n = 1024;
      const g = gaussian(n * n, 1);
      const shape: [number, number] = [n, n];
      const G = "gaussian-1024";
      rows.push(run(G, "vq v4 8-bit", g, shape, { format: "vq", vectorLength: 4, bits: 8 }, 2, { pool }));
      rows.push(
        run(G, "pq v8 2x8", g, shape, { format: "pq", vectorLength: 8, subspaces: 2, bits: 8 }, 2, { pool }),
      );
      rows.push(
        run(G, "rvq v8 2x8", g, shape, { format: "rvq", vectorLength: 8, codebooks: 2, bits: 8 }, 2, {
          pool,
        }),
      );
      rows.push(
        run(G, "aq 2x8 g8", g, shape, { format: "aq", codebooks: 2, bits: 8, group: 8 }, 2, { pool }),
      );

      // 2. Real weights: the largest matrices of faceres-deep.f32.
      const file = join(sharedDir(), "datasets", "models", "faceres-deep.f32.safetensors");
      const { tensors } = readSafetensors(new Uint8Array(readFileSync(file)));
      const picks = [...tensors]
        .filter(([, t]) => t.dtype === "F32" && t.shape.length >= 2)
        .map(([name, t]) => ({ name, t, n: t.shape.reduce((a, b) => a * b, 1) }))
        .sort((a, b) => b.n - a.n)
        .slice(0, 2);
      for (const { name, t } of picks) {
        const cols = t.shape[t.shape.length - 1]!;
        const w = toFloat32(t);
        const s: [number, number] = [w.length / cols, cols];
        const R = `faceres-deep/${name}`;
        rows.push(run(R, "aq 2x8 g8", w, s, { format: "aq", codebooks: 2, bits: 8, group: 8 }, 2, { pool }));
        rows.push(run(R, "any2 g128", w, s, { format: "any2", group: 128 }, 2));
        rows.push(run(R, "int2 g128 clip", w, s, { format: "int2", group: 128, clip: true }, 2));
        rows.push(run(R, "aq 3x8 g8", w, s, { format: "aq", codebooks: 3, bits: 8, group: 8 }, 3, { pool }));
        rows.push(run(R, "any3 g128", w, s, { format: "any3", group: 128 }, 3));
        rows.push(run(R, "int3 g128 clip", w, s, { format: "int3", group: 128, clip: true }, 3));
      }
    } finally {
      await pool.close();
    }

    // matvec from codes vs dense float32, 4096×4096 (random codes: timing does not depend on them).
    const R = 4096;
    const rng = createRng(3);
    const rand = (k: number) => Float32Array.from({ length: k }, () => rng.nextFloat() * 2 - 1);
    const codes = new Uint16Array(R * (R / 8) * 2).map(() => rng.nextUint32() & 255);
    const qt = {
      spec: { format: "aq", group: 8, codebooks: 2, bits: 8, beam: 8, rounds: 6, seed: 0, iterations: 20 },
      shape: [R, R],
      parts: {
        qdata: { dtype: "U8" as const, shape: [codes.length], data: packCodes(codes, 8) },
        codebooks: { dtype: "F16" as const, shape: [2, 256, 8], data: float16.encode(rand(2 * 256 * 8)) },
        scales: { dtype: "F16" as const, shape: [R], data: float16.encode(rand(R)) },
      },
    };
    const x = rand(R);
    const w = dequantize(qt);
    const y = new Float32Array(R);
    const dense = bestMs(() => denseMatvec(w, x, y, R, R));
    const lut = bestMs(() => matvec(qt, x, y));
    console.log(
      `  matvec 4096x4096: dense ${dense.toFixed(1)} ms, aq 2x8 g8 from codes ${lut.toFixed(1)} ms (${(dense / lut).toFixed(2)}x)`,
    );

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
      if (r.group === "gaussian-1024") {
        cases.push({
          name: `${base}/vs-lloyd-max`,
          metric: "relative-mse",
          value: r4(r.relMse),
          unit: "",
          peer: { name: "Lloyd-Max 2-bit scalar", value: LLOYD_MAX_2BIT },
          ratio: r4(r.relMse / LLOYD_MAX_2BIT),
        });
        cases.push({
          name: `${base}/vs-rd-bound`,
          metric: "relative-mse",
          value: r4(r.relMse),
          unit: "",
          peer: { name: "rate-distortion bound 2^-2R", value: RD_BOUND_2BIT },
          ratio: r4(r.relMse / RD_BOUND_2BIT),
        });
      }
    }
    cases.push({
      name: "vq/matvec/aq-2x8-g8/4096",
      metric: "time",
      value: r4(lut),
      unit: "ms",
      peer: { name: "dense float32 matvec", value: r4(dense) },
      ratio: r4(dense / lut),
    });
    const out: SuiteResult = {
      suite: "vq",
      date: new Date().toISOString(),
      node: process.version,
      cpu: cpus()[0]?.model.trim() ?? "unknown",
      cases,
    };
    const path = resultsPath("vq");
    mkdirSync(dirname(path), { recursive: true });
    writeFileSync(path, `${JSON.stringify(out, null, 2)}\n`);
    console.log(`\n${((performance.now() - t0) / 1000).toFixed(1)} s; wrote ${path}`);
    return out;
  },
};
