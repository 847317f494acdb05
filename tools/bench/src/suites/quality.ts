/**
 * Suite "quality": what each quantization format costs on real weights. For every model in
 * shared/datasets/models and every format at its common settings: bits per weight (every part
 * counted), SQNR in dB and relative MSE (pooled over all selected tensors: Σref² / Σerr²), and
 * quantize / dequantize throughput over the whole model.
 *
 * Tensors: every float tensor (F32/F16/BF16) with at least 1024 elements and a multiple of 128
 * elements (98.5–99.9% of each model's float weights), viewed as 2-D [n / last, last] when the last
 * dimension is a multiple of 128, else [n / 128, 128], so every format — blocks of 16/32/64/256,
 * groups of 128, per-row tables — sees the same elements.
 */
import { mkdirSync, readdirSync, readFileSync, writeFileSync } from "node:fs";
import { cpus } from "node:os";
import { dirname, join, resolve } from "node:path";
import { bitsPerWeight, dequantize, hasQuantizer, type QuantSpec, quantize } from "@lowbit/formats";
import { readSafetensors, toFloat32 } from "@lowbit/safetensors";
import { type CaseResult, repoRoot, resultsPath, type Suite, type SuiteResult } from "../harness.js";

/** The formats of the table, at their common settings. */
export const QUALITY_FORMATS: readonly { label: string; spec: QuantSpec }[] = [
  { label: "int8 per-channel", spec: { format: "int8", group: 0 } },
  { label: "int4 g128 sym", spec: { format: "int4", group: 128 } },
  { label: "uint4 g128 asym", spec: { format: "uint4", group: 128 } },
  { label: "int4 g64 sym", spec: { format: "int4", group: 64 } },
  { label: "nf4 b64 dq", spec: { format: "nf4", blockSize: 64, doubleQuant: true } },
  { label: "nf4 b64", spec: { format: "nf4", blockSize: 64, doubleQuant: false } },
  { label: "bnb fp4 b64 dq", spec: { format: "bnb_fp4", blockSize: 64, doubleQuant: true } },
  { label: "fp4 e2m1 per-channel", spec: { format: "float4_e2m1fn" } },
  { label: "any4 g128", spec: { format: "any4", group: 128 } },
  { label: "any3 g128", spec: { format: "any3", group: 128 } },
  { label: "any2 g128", spec: { format: "any2", group: 128 } },
  { label: "mxfp8 e4m3", spec: { format: "mxfp8_e4m3" } },
  { label: "mxfp6 e2m3", spec: { format: "mxfp6_e2m3" } },
  { label: "mxfp4", spec: { format: "mxfp4" } },
  { label: "nvfp4", spec: { format: "nvfp4" } },
  { label: "fp8 e4m3 per-channel", spec: { format: "float8_e4m3fn" } },
  { label: "gguf q8_0", spec: { format: "gguf_q8_0" } },
  { label: "gguf q4_0", spec: { format: "gguf_q4_0" } },
];

export interface Tensor2d {
  name: string;
  shape: [number, number];
  data: Float32Array;
}

export function sharedDir(): string {
  return process.env["LOWBIT_SHARED"] ?? resolve(repoRoot(), "..", "shared");
}

/** The selected float tensors of one safetensors file, as 2-D float32. */
export function loadTensors(file: string): Tensor2d[] {
  const { tensors } = readSafetensors(new Uint8Array(readFileSync(file)));
  const out: Tensor2d[] = [];
  for (const [name, t] of tensors) {
    if (t.dtype !== "F32" && t.dtype !== "F16" && t.dtype !== "BF16") continue;
    const n = t.shape.reduce((a, b) => a * b, 1);
    if (n < 1024 || n % 128 !== 0) continue;
    const last = t.shape[t.shape.length - 1]!;
    const cols = last % 128 === 0 ? last : 128;
    out.push({ name, shape: [n / cols, cols], data: toFloat32(t) });
  }
  return out;
}

interface Row {
  model: string;
  label: string;
  format: string;
  weights: number;
  bpw: number;
  sqnrDb: number;
  relMse: number;
  quantizeMps: number;
  dequantizeMps: number;
}

function measureFormat(model: string, tensors: readonly Tensor2d[], label: string, spec: QuantSpec): Row {
  let bits = 0;
  let weights = 0;
  let err = 0;
  let pow = 0;
  let tq = 0;
  let td = 0;
  for (const t of tensors) {
    let t0 = performance.now();
    const qt = quantize(t.data, t.shape, spec);
    tq += performance.now() - t0;
    const out = new Float32Array(t.data.length);
    t0 = performance.now();
    dequantize(qt, out);
    td += performance.now() - t0;
    bits += bitsPerWeight(qt) * t.data.length;
    weights += t.data.length;
    for (let i = 0; i < out.length; i++) {
      const r = t.data[i]!;
      const d = r - out[i]!;
      err += d * d;
      pow += r * r;
    }
  }
  const rel = err / pow;
  return {
    model,
    label,
    format: spec.format,
    weights,
    bpw: bits / weights,
    sqnrDb: -10 * Math.log10(rel),
    relMse: rel,
    quantizeMps: weights / (tq * 1000),
    dequantizeMps: weights / (td * 1000),
  };
}

const r4 = (x: number): number => Number(x.toPrecision(4));

export const quality: Suite & { run(filters: readonly RegExp[]): Promise<SuiteResult | null> } = {
  name: "quality",
  cases: () => [],
  async run(filters) {
    const dir = join(sharedDir(), "datasets", "models");
    const files = readdirSync(dir)
      .filter((f) => f.endsWith(".safetensors"))
      .sort();
    const t0 = performance.now();
    const rows: Row[] = [];
    const skipped: string[] = [];
    console.log(`\n# suite quality: ${files.length} models x ${QUALITY_FORMATS.length} formats\n`);
    for (const f of files) {
      const model = f.replace(/\.safetensors$/, "");
      const tensors = loadTensors(join(dir, f));
      for (const { label, spec } of QUALITY_FORMATS) {
        const name = `quality/${model}/${label.replaceAll(" ", "-")}`;
        if (filters.length > 0 && !filters.some((re) => re.test(name))) continue;
        if (!hasQuantizer(spec.format)) {
          if (!skipped.includes(spec.format)) skipped.push(spec.format);
          continue;
        }
        const row = measureFormat(model, tensors, label, spec);
        rows.push(row);
        console.log(
          `  ${model.padEnd(28)} ${label.padEnd(22)} ${row.bpw.toFixed(3).padStart(7)} bpw ${row.sqnrDb.toFixed(2).padStart(7)} dB  q ${row.quantizeMps.toFixed(0).padStart(5)} M/s  dq ${row.dequantizeMps.toFixed(0).padStart(5)} M/s`,
        );
      }
    }
    if (rows.length === 0) return null;
    if (skipped.length > 0) console.log(`\nnot registered (skipped): ${skipped.join(", ")}`);
    const cases: CaseResult[] = [];
    for (const r of rows) {
      const base = `quality/${r.model}/${r.label.replaceAll(" ", "-")}`;
      cases.push({ name: `${base}/bpw`, metric: "bits-per-weight", value: r4(r.bpw), unit: "bits" });
      cases.push({ name: `${base}/sqnr`, metric: "sqnr", value: r4(r.sqnrDb), unit: "dB" });
      cases.push({ name: `${base}/relmse`, metric: "relative-mse", value: r4(r.relMse), unit: "" });
      cases.push({
        name: `${base}/quantize`,
        metric: "throughput",
        value: r4(r.quantizeMps),
        unit: "M weights/s",
      });
      cases.push({
        name: `${base}/dequantize`,
        metric: "throughput",
        value: r4(r.dequantizeMps),
        unit: "M weights/s",
      });
    }
    const out: SuiteResult = {
      suite: "quality",
      date: new Date().toISOString(),
      node: process.version,
      cpu: cpus()[0]?.model.trim() ?? "unknown",
      cases,
    };
    const file = resultsPath(filters.length === 0 ? "quality" : "quality.filtered");
    mkdirSync(dirname(file), { recursive: true });
    writeFileSync(file, `${JSON.stringify(out, null, 2)}\n`);
    console.log(`\n${((performance.now() - t0) / 1000).toFixed(1)} s; wrote ${file}`);
    return out;
  },
};
