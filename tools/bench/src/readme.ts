/**
 * `npm run bench:readme [-- <results.json>]`: writes the numbers of bench/results/floats.json into the
 * READMEs. In every packages/<dir>/README.md (package @lowbit/<dir>) and in the root README.md, the text
 * between `<!-- bench:floats:start -->` and `<!-- bench:floats:end -->` is replaced by a table: that
 * package's codecs, or every codec in the root README. A README without the markers is left alone.
 */
import { existsSync, readFileSync, writeFileSync } from "node:fs";
import { join, relative } from "node:path";
import { pathToFileURL } from "node:url";
import { listCodecs } from "@lowbit/formats";
import { type CaseResult, repoRoot, resultsPath, type SuiteResult, sizeLabel } from "./harness.js";
import { decodeCase, decodeVsPeerCase, encodeCase, encodeVsPeerCase, N, PEER_N } from "./suites/floats.js";

const START = "<!-- bench:floats:start -->";
const END = "<!-- bench:floats:end -->";
const PEER = "@petamoriken/float16";

const fmt = (x: number | undefined, digits = 1): string => (x === undefined ? "–" : x.toFixed(digits));

export function renderTables(
  res: SuiteResult,
  codecs: readonly { name: string; package: string }[],
  withPkg: boolean,
): string {
  const byName = new Map<string, CaseResult>(res.cases.map((c) => [c.name, c]));
  const lines: string[] = [];
  const date = res.date.slice(0, 10);
  lines.push(
    `Encode and decode of ${N / (1024 * 1024)}M float32 values, in M elements/s (median of the timed calls).`,
    "× copy: ratio to a plain JS loop copying a Float32Array element by element, measured in the same run.",
    `Measured ${date} on Node ${res.node}, ${res.cpu}; reproduce with \`npm run bench\`.`,
    "",
    withPkg
      ? "| codec | package | encode M/s | × copy | decode M/s | × copy |"
      : "| codec | encode M/s | × copy | decode M/s | × copy |",
    withPkg ? "|---|---|---:|---:|---:|---:|" : "|---|---:|---:|---:|---:|",
  );
  for (const c of codecs) {
    const e = byName.get(encodeCase(c.name));
    const d = byName.get(decodeCase(c.name));
    const cells = [
      `\`${c.name}\``,
      ...(withPkg ? [`\`${c.package}\``] : []),
      fmt(e?.value),
      fmt(e?.ratio, 2),
      fmt(d?.value),
      fmt(d?.ratio, 2),
    ];
    lines.push(`| ${cells.join(" | ")} |`);
  }
  for (const c of codecs) {
    const e = byName.get(encodeVsPeerCase(c.name));
    const d = byName.get(decodeVsPeerCase(c.name));
    if (e === undefined && d === undefined) continue;
    lines.push(
      "",
      `\`${c.name}\` against [${PEER}](https://www.npmjs.com/package/@petamoriken/float16) in the same run,`,
      `through its fastest bulk paths (timed on a ${sizeLabel(PEER_N)} slice):`,
      "",
      `| op | lowbit M/s | ${PEER} M/s | ${PEER} path | × ${PEER} |`,
      "|---|---:|---:|---|---:|",
    );
    for (const [op, r] of [
      ["encode", e],
      ["decode", d],
    ] as const) {
      if (r === undefined) continue;
      const path = r.peer?.name.replace(`${PEER} `, "") ?? "";
      lines.push(`| ${op} | ${fmt(r.value)} | ${fmt(r.peer?.value)} | \`${path}\` | ${fmt(r.ratio)} |`);
    }
  }
  return lines.join("\n");
}

/** Replaces the text between every pair of markers; returns null when the file has no markers. */
export function replaceBetweenMarkers(text: string, body: string): string | null {
  let out = "";
  let from = 0;
  let found = false;
  for (;;) {
    const s = text.indexOf(START, from);
    if (s < 0) break;
    const e = text.indexOf(END, s + START.length);
    if (e < 0) throw new Error(`${START} without ${END}`);
    out += `${text.slice(from, s + START.length)}\n${body}\n`;
    from = e;
    found = true;
  }
  return found ? out + text.slice(from) : null;
}

function main(): void {
  const root = repoRoot();
  const file = process.argv[2] ?? resultsPath("floats");
  if (!existsSync(file)) throw new Error(`${file} not found: run \`npm run bench\` first`);
  const res = JSON.parse(readFileSync(file, "utf8")) as SuiteResult;
  const all = listCodecs();
  const targets: { readme: string; codecs: typeof all; withPkg: boolean }[] = [];
  for (const pkg of new Set(all.map((c) => c.package))) {
    const dir = pkg.replace(/^@lowbit\//, "");
    targets.push({
      readme: join(root, "packages", dir, "README.md"),
      codecs: all.filter((c) => c.package === pkg),
      withPkg: false,
    });
  }
  targets.push({ readme: join(root, "README.md"), codecs: all, withPkg: true });

  for (const t of targets) {
    if (!existsSync(t.readme)) continue;
    const text = readFileSync(t.readme, "utf8");
    const next = replaceBetweenMarkers(text, renderTables(res, t.codecs, t.withPkg));
    const name = relative(root, t.readme);
    if (next === null) continue;
    if (next === text) {
      console.log(`${name}: up to date`);
    } else {
      writeFileSync(t.readme, next);
      console.log(`${name}: updated`);
    }
  }
}

if (process.argv[1] !== undefined && import.meta.url === pathToFileURL(process.argv[1]).href) main();
