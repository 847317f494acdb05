/**
 * `npm run bench [-- [--time=ms] [--iterations=n] [--list] <regex>...]`: runs every suite of
 * src/suites/index.ts, or only the cases whose name matches one of the regexes (plus the cases they
 * are compared with). Unfiltered runs write bench/results/<suite>.json; filtered runs write
 * bench/results/<suite>.filtered.json so a partial run never replaces the full results.
 */
import { runSuite } from "./harness.js";
import { customSuites, suites } from "./suites/index.js";

interface Args {
  filters: RegExp[];
  timeMs?: number;
  iterations?: number;
  list: boolean;
}

function parseArgs(argv: readonly string[]): Args {
  const args: Args = { filters: [], list: false };
  for (const a of argv) {
    if (a === "--") continue;
    const m = /^--(time|iterations)=(\d+)$/.exec(a);
    if (m !== null) {
      if (m[1] === "time") args.timeMs = Number(m[2]);
      else args.iterations = Number(m[2]);
    } else if (a === "--list") {
      args.list = true;
    } else if (a.startsWith("--")) {
      throw new Error(`unknown option ${a} (known: --time=ms, --iterations=n, --list)`);
    } else {
      args.filters.push(new RegExp(a));
    }
  }
  return args;
}

async function main(): Promise<void> {
  const args = parseArgs(process.argv.slice(2));
  if (args.list) {
    for (const s of suites) for (const c of s.cases()) console.log(`${s.name}\t${c.name}`);
    return;
  }
  if (globalThis.gc === undefined)
    console.warn("note: run with --expose-gc to collect garbage between cases");
  const t0 = performance.now();
  let ran = 0;
  for (const suite of suites) {
    const res = await runSuite(suite, {
      filters: args.filters,
      ...(args.timeMs === undefined ? {} : { timeMs: args.timeMs }),
      ...(args.iterations === undefined ? {} : { iterations: args.iterations }),
    });
    if (res !== null) ran++;
  }
  for (const suite of customSuites) {
    if ((await suite.run(args.filters)) !== null) ran++;
  }
  if (ran === 0) {
    console.error(`no case matches ${args.filters.map(String).join(" ")}`);
    process.exitCode = 1;
    return;
  }
  console.log(`\ntotal ${((performance.now() - t0) / 1000).toFixed(1)} s`);
}

await main();
