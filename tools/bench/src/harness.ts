/**
 * A small benchmark harness on tinybench.
 *
 * A suite is a list of cases named `family/op/size`. Each case processes a fixed number of elements per
 * call, so its result is a throughput in M elements/s (elements / median latency of one call). A case
 * may name a peer: other cases of the same suite whose values are combined (mean or max) into the
 * number it is compared with; `ratio = value / peer.value`. Peers run in the same process and the same
 * run, which is what makes the ratio meaningful on a noisy shared machine (SPEC §6).
 *
 * Results go to `bench/results/<suite>.json` (repository root) and an aligned table goes to stdout.
 */
import { existsSync, mkdirSync, writeFileSync } from "node:fs";
import { cpus } from "node:os";
import { dirname, join, relative } from "node:path";
import { fileURLToPath } from "node:url";
import { Bench } from "tinybench";

/** How the cases a peer refers to are combined into one value. */
export type PeerCombine = "mean" | "max";

export interface PeerRef {
  /** Names of the cases measured against; they run whenever this case runs, even if filtered out. */
  readonly cases: readonly string[];
  /** Default "mean". With "max" the peer is the fastest of `cases` and takes that case's label. */
  readonly combine?: PeerCombine;
  /** Name written to `peer.name`. Default: the label of the single (or fastest) case. */
  readonly name?: string;
}

interface CaseCommon {
  /** `family/op/size`, unique in the suite, e.g. `float8_e4m3fn/encode/16M`. */
  readonly name: string;
  /** Human name used when this case is another case's peer (default: `name`). */
  readonly label?: string;
  readonly peer?: PeerRef;
  /** Smallest acceptable ratio; printed as met/MISSED in the table (not written to JSON). */
  readonly target?: number;
}

/** A case that is timed. */
export interface MeasuredCase extends CaseCommon {
  /** Elements processed by one call of `fn`. */
  readonly elements: number;
  /** The timed function. Allocate its inputs and outputs in `setup`, not here. */
  readonly fn: () => unknown;
  /** Runs before the case is timed (not timed): prepare inputs, allocate outputs. */
  readonly setup?: () => void;
}

/** A case that reports the value of another case against a different peer (nothing is timed). */
export interface DerivedCase extends CaseCommon {
  /** The case whose value this row reports. */
  readonly same: string;
}

export type BenchCase = MeasuredCase | DerivedCase;

export interface Suite {
  /** File name of the results: `bench/results/<name>.json`. */
  readonly name: string;
  /** Builds the cases. Keep it cheap: heavy preparation belongs in the cases' `setup`. */
  cases(): readonly BenchCase[];
}

export interface RunOptions {
  /** Case-name filters (regular expressions); a case runs if any matches. Empty: every case. */
  readonly filters?: readonly RegExp[];
  /** Time budget per case in ms (default 1000). */
  readonly timeMs?: number;
  /** Minimum timed iterations per case (default 5). */
  readonly iterations?: number;
  /** Where to write the JSON (default `bench/results/<suite>.json`, `<suite>.filtered.json` when filtered). */
  readonly outFile?: string;
}

/** One entry of `cases` in the results file (SPEC §6). */
export interface CaseResult {
  name: string;
  metric: string;
  value: number;
  unit: string;
  peer?: { name: string; value: number };
  ratio?: number;
}

/** The results file (SPEC §6). */
export interface SuiteResult {
  suite: string;
  date: string;
  node: string;
  cpu: string;
  cases: CaseResult[];
}

export const METRIC = "throughput";
export const UNIT = "M elements/s";

/** `16M`, `1M`, `64K`, `100`: the size part of a case name. */
export function sizeLabel(n: number): string {
  if (n % (1024 * 1024) === 0) return `${n / (1024 * 1024)}M`;
  if (n % 1024 === 0) return `${n / 1024}K`;
  return String(n);
}

/** The repository root: the nearest directory above this file that holds turbo.json. */
export function repoRoot(): string {
  let dir = dirname(fileURLToPath(import.meta.url));
  for (;;) {
    if (existsSync(join(dir, "turbo.json"))) return dir;
    const up = dirname(dir);
    if (up === dir) throw new Error("repository root (a directory with turbo.json) not found");
    dir = up;
  }
}

export function resultsPath(suite: string): string {
  return join(repoRoot(), "bench", "results", `${suite}.json`);
}

const isMeasured = (c: BenchCase): c is MeasuredCase => "fn" in c;

function gc(): void {
  globalThis.gc?.();
}

/** The cases selected by the filters plus, transitively, every case they depend on. */
function select(cases: readonly BenchCase[], filters: readonly RegExp[]): BenchCase[] {
  const byName = new Map<string, BenchCase>();
  for (const c of cases) {
    if (byName.has(c.name)) throw new Error(`duplicate case name ${c.name}`);
    byName.set(c.name, c);
  }
  const deps = (c: BenchCase): string[] => [...(c.peer?.cases ?? []), ...(isMeasured(c) ? [] : [c.same])];
  for (const c of cases) {
    for (const d of deps(c))
      if (!byName.has(d)) throw new Error(`case ${c.name} refers to unknown case ${d}`);
  }
  if (filters.length === 0) return [...cases];
  const chosen = new Set<string>();
  const visit = (name: string): void => {
    if (chosen.has(name)) return;
    chosen.add(name);
    for (const d of deps(byName.get(name)!)) visit(d);
  };
  for (const c of cases) if (filters.some((f) => f.test(c.name))) visit(c.name);
  return cases.filter((c) => chosen.has(c.name));
}

const round = (x: number, digits: number): number => Number(x.toPrecision(digits));

/** Median latency of one call in ms, measured with tinybench. */
async function measure(c: MeasuredCase, timeMs: number, iterations: number): Promise<number> {
  const bench = new Bench({
    name: c.name,
    time: timeMs,
    iterations,
    warmup: true,
    warmupTime: Math.min(250, timeMs / 4),
    warmupIterations: 2,
    throws: true,
  });
  bench.add(c.name, c.fn);
  await bench.run();
  const r = bench.tasks[0]!.result;
  if (r.state !== "completed") {
    throw new Error(`case ${c.name} did not complete (${r.state === "errored" ? r.error.message : r.state})`);
  }
  return r.latency.p50;
}

interface Row {
  result: CaseResult;
  target?: number;
}

/**
 * Runs a suite: the measured cases in the order given, then the peers and ratios. Writes the results
 * file and prints the table; returns the results.
 */
export async function runSuite(suite: Suite, opts: RunOptions = {}): Promise<SuiteResult | null> {
  const filters = opts.filters ?? [];
  const timeMs = opts.timeMs ?? 1000;
  const iterations = opts.iterations ?? 5;
  const cases = select(suite.cases(), filters);
  if (cases.length === 0) return null;

  const t0 = performance.now();
  console.log(`\n# suite ${suite.name}: ${cases.length} cases, ~${timeMs} ms each\n`);
  const values = new Map<string, number>();
  const labels = new Map<string, string>();
  for (const c of cases) {
    labels.set(c.name, c.label ?? c.name);
    if (!isMeasured(c)) continue;
    gc();
    c.setup?.();
    gc();
    const ms = await measure(c, timeMs, iterations);
    const v = c.elements / (ms * 1000); // elements per ms / 1000 = M elements per s
    values.set(c.name, v);
    console.log(`  ${c.name.padEnd(48)} ${v.toFixed(1).padStart(9)} ${UNIT}  (${ms.toFixed(2)} ms/call)`);
  }
  gc();

  const rows: Row[] = [];
  for (const c of cases) {
    const value = values.get(isMeasured(c) ? c.name : c.same);
    if (value === undefined) throw new Error(`no value for ${c.name}`);
    if (!isMeasured(c)) values.set(c.name, value);
    const result: CaseResult = { name: c.name, metric: METRIC, value: round(value, 4), unit: UNIT };
    if (c.peer !== undefined) {
      const peerValues = c.peer.cases.map((n) => values.get(n)!);
      let peerValue: number;
      let peerName: string;
      if ((c.peer.combine ?? "mean") === "max") {
        let best = 0;
        for (let i = 1; i < peerValues.length; i++) if (peerValues[i]! > peerValues[best]!) best = i;
        peerValue = peerValues[best]!;
        peerName = c.peer.name ?? labels.get(c.peer.cases[best]!)!;
      } else {
        peerValue = peerValues.reduce((a, b) => a + b, 0) / peerValues.length;
        peerName = c.peer.name ?? c.peer.cases.map((n) => labels.get(n)!).join(" + ");
      }
      result.peer = { name: peerName, value: round(peerValue, 4) };
      result.ratio = round(value / peerValue, 3);
    }
    rows.push(c.target === undefined ? { result } : { result, target: c.target });
  }

  const out: SuiteResult = {
    suite: suite.name,
    date: new Date().toISOString(),
    node: process.version,
    cpu: cpus()[0]?.model.trim() ?? "unknown",
    cases: rows.map((r) => r.result),
  };
  const file = opts.outFile ?? resultsPath(filters.length === 0 ? suite.name : `${suite.name}.filtered`);
  mkdirSync(dirname(file), { recursive: true });
  writeFileSync(file, `${JSON.stringify(out, null, 2)}\n`);

  const secs = (performance.now() - t0) / 1000;
  console.log(`\n${formatTable(out, rows)}`);
  console.log(`\n${out.node}, ${out.cpu}, ${cpus().length} CPUs; ${secs.toFixed(1)} s`);
  console.log(`wrote ${relative(process.cwd(), file) || file}`);
  return out;
}

function formatTable(res: SuiteResult, rows: readonly Row[]): string {
  const header = ["case", UNIT, "peer", "peer M/s", "ratio", "target"];
  const body = rows.map(({ result: r, target }) => [
    r.name,
    r.value.toFixed(1),
    r.peer?.name ?? "",
    r.peer === undefined ? "" : r.peer.value.toFixed(1),
    r.ratio === undefined ? "" : `${r.ratio.toFixed(2)}x`,
    target === undefined || r.ratio === undefined
      ? ""
      : `>=${target}x ${r.ratio >= target ? "met" : "MISSED"}`,
  ]);
  const numeric = [false, true, false, true, true, false];
  const widths = header.map((h, i) => Math.max(h.length, ...body.map((b) => b[i]!.length)));
  const line = (cells: readonly string[]) =>
    cells
      .map((s, i) => (numeric[i] ? s.padStart(widths[i]!) : s.padEnd(widths[i]!)))
      .join("  ")
      .trimEnd();
  return [
    `suite ${res.suite}  ${res.date}`,
    line(header),
    line(widths.map((w) => "-".repeat(w))),
    ...body.map(line),
  ].join("\n");
}
