/**
 * `npm run bench:readme` (third step): writes bench/results/vq.json and vq-glove.json into
 * packages/vq/README.md between `<!-- bench:vq:start -->` and `<!-- bench:vq:end -->`.
 */
import { existsSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { repoRoot, resultsPath, type SuiteResult } from "./harness.js";
import { LLOYD_MAX_2BIT, RD_BOUND_2BIT } from "./suites/vq.js";
import { GLOVE_TRAIN_SAMPLE } from "./suites/vq-glove.js";

const START = "<!-- bench:vq:start -->";
const END = "<!-- bench:vq:end -->";

export function renderVq(res: SuiteResult): string {
  const byName = new Map(res.cases.map((c) => [c.name, c]));
  const groups = new Map<string, string[]>();
  for (const c of res.cases) {
    const m = /^vq\/(.+)\/([^/]+)\/relmse$/.exec(c.name);
    if (m === null) continue;
    const list = groups.get(m[1]!) ?? [];
    list.push(m[2]!);
    groups.set(m[1]!, list);
  }
  const v = (g: string, l: string, w: string) => byName.get(`vq/${g}/${l}/${w}`)?.value;
  const lines = [
    `Measured ${res.date.slice(0, 10)} on Node ${res.node}, ${res.cpu} (k-means on a 2-thread pool); reproduce with`,
    "`npm run bench -- vq/` (suites vq, vq-glove-8 — 9 minutes — and the opt-in vq-glove-16, 35 minutes while",
    "other jobs shared the 2 cores). k-means runs 6 iterations at 8 bytes and 10 at 16 bytes.",
  ];
  for (const [g, labels] of groups) {
    lines.push(
      "",
      `**${g}**`,
      "",
      "| format | relative MSE | bits/weight (all parts) | quantize s |",
      "|---|---:|---:|---:|",
    );
    for (const l of labels) {
      lines.push(
        `| ${l.replaceAll("-", " ")} | ${v(g, l, "relmse")!.toFixed(4)} | ${v(g, l, "bpw")!.toFixed(3)} | ${v(g, l, "quantize-time")!.toFixed(1)} |`,
      );
    }
    if (g.startsWith("glove")) {
      lines.push(
        "",
        `All 100,000 GloVe vectors (padded to 128 dims), codebooks learned on a seeded sample of ${GLOVE_TRAIN_SAMPLE.toLocaleString("en-US")} (\`trainSample\`), every vector coded; relative MSE over all of them.`,
      );
      const lines2 = labels
        .map((l) => byName.get(`vq/${g}/${l}/vs-pq`))
        .filter((c) => c?.peer !== undefined)
        .map((c) => `${c!.name.split("/")[2]!.replaceAll("-", " ")} ${c!.ratio}× ${c!.peer!.name}'s error`);
      if (lines2.length > 0) lines.push("", `Against PQ at the same bytes: ${lines2.join("; ")}.`);
    }
    if (g.startsWith("gaussian")) {
      lines.push(
        `| Lloyd–Max optimal 2-bit scalar (reference) | ${LLOYD_MAX_2BIT} | 2 | – |`,
        `| rate–distortion bound 2^(−2R) (reference) | ${RD_BOUND_2BIT} | 2 | – |`,
      );
    }
  }
  const mv = byName.get("vq/matvec/aq-2x8-g8/4096");
  if (mv?.peer !== undefined) {
    lines.push(
      "",
      `matvec on 4096×4096 straight from aq 2×8 g8 codes: ${mv.value} ms vs ${mv.peer.value} ms for a dense float32 matvec in the same run (${mv.ratio}× faster).`,
    );
  }
  return lines.join("\n");
}

function main(): void {
  const file = process.argv[2] ?? resultsPath("vq");
  if (!existsSync(file)) {
    console.log(`no ${file}: skipping the vq README table`);
    return;
  }
  const res = JSON.parse(readFileSync(file, "utf8")) as SuiteResult;
  for (const extra of ["vq-glove-8", "vq-glove-16"]) {
    const f = resultsPath(extra);
    if (process.argv[2] !== undefined || !existsSync(f)) continue;
    res.cases.push(...(JSON.parse(readFileSync(f, "utf8")) as SuiteResult).cases);
  }
  const readme = join(repoRoot(), "packages", "vq", "README.md");
  const text = readFileSync(readme, "utf8");
  const a = text.indexOf(START);
  const b = text.indexOf(END);
  if (a < 0 || b < a) return;
  const next = `${text.slice(0, a + START.length)}\n${renderVq(res)}\n${text.slice(b)}`;
  if (next !== text) writeFileSync(readme, next);
  console.log(`packages/vq/README.md: ${next === text ? "up to date" : "updated"}`);
}

main();
