/**
 * `npm run bench:readme` (fourth step): writes bench/results/embed.json into packages/embed/README.md
 * between `<!-- bench:embed:start -->` and `<!-- bench:embed:end -->`.
 */
import { existsSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { repoRoot, resultsPath, type SuiteResult } from "./harness.js";

const START = "<!-- bench:embed:start -->";
const END = "<!-- bench:embed:end -->";

export function renderEmbed(res: SuiteResult): string {
  const rows = new Map<string, Map<string, number>>();
  for (const c of res.cases) {
    const m = /^embed\/(.+)\/([^/]+)$/.exec(c.name);
    if (m === null) continue;
    const row = rows.get(m[1]!) ?? new Map<string, number>();
    row.set(m[2]!, c.value);
    rows.set(m[1]!, row);
  }
  const fmt = (v: number | undefined, digits: number) => (v === undefined ? "–" : v.toFixed(digits));
  const lines = [
    `Measured ${res.date.slice(0, 10)} on Node ${res.node}, ${res.cpu}, one thread; GloVe-100d (100,000 base`,
    "vectors, 1,000 held-out queries, exact cosine top-100), k = 10; reproduce with `npm run bench -- embed/`.",
    "Bytes/vector are resident: codes, in-memory copies and the graph (a peer's index file size / n);",
    "ids and metadata are left out on both sides. Rescoring reads the top 100 rows of a copy on disk (int8, or float16 for the 4× codecs).",
    "",
    "| who | configuration | path | recall@1 | recall@10 | recall@100 | nDCG@10 | bytes/vector | ×smaller | queries/s | build s |",
    "|---|---|---|---:|---:|---:|---:|---:|---:|---:|---:|",
  ];
  for (const [key, v] of rows) {
    const [group, label, path] = key.split("/") as [string, string, string];
    const bytes = v.get("bytes");
    lines.push(
      `| ${group} | ${label.replaceAll("-", " ")} | ${path} | ${fmt(v.get("recall1"), 3)} | ${fmt(v.get("recall10"), 3)} | ${fmt(v.get("recall100"), 3)} | ${fmt(v.get("ndcg10"), 3)} | ${fmt(bytes, 1)} | ${bytes === undefined ? "–" : (400 / bytes).toFixed(1)} | ${fmt(v.get("qps"), 0)} | ${fmt(v.get("build"), 1)} |`,
    );
  }
  lines.push("", "![recall@10 against resident bytes per vector](recall.svg)");
  return lines.join("\n");
}

function main(): void {
  const file = process.argv[2] ?? resultsPath("embed");
  if (!existsSync(file)) {
    console.log(`no ${file}: skipping the embed README table`);
    return;
  }
  const res = JSON.parse(readFileSync(file, "utf8")) as SuiteResult;
  const readme = join(repoRoot(), "packages", "embed", "README.md");
  const text = readFileSync(readme, "utf8");
  const a = text.indexOf(START);
  const b = text.indexOf(END);
  if (a < 0 || b < a) return;
  const next = `${text.slice(0, a + START.length)}\n${renderEmbed(res)}\n${text.slice(b)}`;
  if (next !== text) writeFileSync(readme, next);
  console.log(`packages/embed/README.md: ${next === text ? "up to date" : "updated"}`);
}

main();
