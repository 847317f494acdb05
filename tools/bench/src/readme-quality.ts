/**
 * `npm run bench:readme` (second step): writes bench/results/quality.json into the READMEs that hold
 * `<!-- bench:quality:start -->` … `<!-- bench:quality:end -->` (the root README and @lowbit/formats):
 * the full table for the headline model (faceres.f16) and SQNR of every format on every model.
 */
import { existsSync, readFileSync, writeFileSync } from "node:fs";
import { join, relative } from "node:path";
import { repoRoot, resultsPath, type SuiteResult } from "./harness.js";
import { QUALITY_FORMATS } from "./suites/quality.js";

const START = "<!-- bench:quality:start -->";
const END = "<!-- bench:quality:end -->";
const HEADLINE = "faceres.f16";

export function renderQuality(res: SuiteResult): string {
  const value = new Map(res.cases.map((c) => [c.name, c.value]));
  const models = [...new Set(res.cases.map((c) => c.name.split("/")[1]!))].sort();
  const key = (model: string, label: string, what: string) =>
    `quality/${model}/${label.replaceAll(" ", "-")}/${what}`;
  const f = (x: number | undefined, d: number) => (x === undefined ? "–" : x.toFixed(d));
  const lines = [
    `Every float tensor with ≥ 1024 elements and a multiple of 128 elements, as 2-D [n/last, last] (or`,
    `[n/128, 128] when the last axis is not a multiple of 128). SQNR and relative MSE pooled over the model;`,
    `bits per weight count every part (codes, scales, zeros, tables). Speeds are one thread, M weights/s.`,
    `Measured ${res.date.slice(0, 10)} on Node ${res.node}, ${res.cpu}; reproduce with \`npm run bench\`.`,
    "",
    `**${HEADLINE}** (3.49M weights):`,
    "",
    "| format | bits/weight | SQNR dB | relative MSE | quantize M/s | dequantize M/s |",
    "|---|---:|---:|---:|---:|---:|",
  ];
  for (const { label } of QUALITY_FORMATS) {
    const v = (w: string) => value.get(key(HEADLINE, label, w));
    if (v("sqnr") === undefined) continue;
    lines.push(
      `| ${label} | ${f(v("bpw"), 3)} | ${f(v("sqnr"), 2)} | ${v("relmse")!.toExponential(2)} | ${f(v("quantize"), 0)} | ${f(v("dequantize"), 0)} |`,
    );
  }
  lines.push(
    "",
    "SQNR (dB) on every model:",
    "",
    `| format | ${models.join(" | ")} |`,
    `|---|${models.map(() => "---:").join("|")}|`,
  );
  for (const { label } of QUALITY_FORMATS) {
    if (value.get(key(HEADLINE, label, "sqnr")) === undefined) continue;
    lines.push(`| ${label} | ${models.map((m) => f(value.get(key(m, label, "sqnr")), 1)).join(" | ")} |`);
  }
  return lines.join("\n");
}

function main(): void {
  const file = process.argv[2] ?? resultsPath("quality");
  if (!existsSync(file)) {
    console.error(`no results at ${file}: run \`npm run bench\` first`);
    process.exitCode = 1;
    return;
  }
  const res = JSON.parse(readFileSync(file, "utf8")) as SuiteResult;
  const root = repoRoot();
  for (const readme of [join(root, "README.md"), join(root, "packages", "formats", "README.md")]) {
    const text = readFileSync(readme, "utf8");
    const a = text.indexOf(START);
    const b = text.indexOf(END);
    if (a < 0 || b < a) continue;
    const next = `${text.slice(0, a + START.length)}\n${renderQuality(res)}\n${text.slice(b)}`;
    if (next !== text) writeFileSync(readme, next);
    console.log(`${relative(root, readme)}: ${next === text ? "up to date" : "updated"}`);
  }
}

main();
