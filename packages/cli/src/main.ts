import { readFile } from "node:fs/promises";
import { type ParseArgsConfig, parseArgs } from "node:util";
import { LowbitError, type Quantizer } from "@lowbit/bits";
import { createCodec, type Metric } from "@lowbit/embed";
import { getQuantizer } from "@lowbit/formats";
import { vqQuantizers } from "@lowbit/vq";
import { createKmeansPool, type KmeansPool } from "@lowbit/vq/node";
import {
  COMPARE_HELP,
  CONVERT_HELP,
  DEQUANTIZE_HELP,
  EMBED_HELP,
  FORMATS_HELP,
  HUB_HELP,
  INSPECT_HELP,
  MAIN_HELP,
  QUANTIZE_HELP,
  STORE_HELP,
} from "./_help.js";
import { type ProgressBar, progressBar } from "./_progress.js";
import { compareFiles, compareJson, compareText } from "./compare.js";
import { type ConvertOptions, convertFile, ROUNDINGS, type Rounding, resolveFormat } from "./convert.js";
import { DEQUANTIZE_DTYPES, type DequantizeDtype, dequantizeFile } from "./dequantize.js";
import {
  buildSummary,
  EMBED_INDEXES,
  type EmbedIndex,
  embedBuild,
  embedEval,
  embedSearch,
  evalText,
  isNpyFile,
  METRICS,
  RESCORE_CODECS,
  searchText,
  writeEvalSvg,
} from "./embed.js";
import { formatRows, formatsTable } from "./formats.js";
import { inspectFile, inspectText } from "./inspect.js";
import {
  checkQuantizeOptions,
  type FileProgress,
  ON_ERROR,
  type OnError,
  optionsOf,
  type QuantizeResult,
  quantizeFile,
  quantizeSummary,
} from "./quantize.js";
import {
  describeLocation,
  gcText,
  ingestInput,
  ingestJson,
  ingestText,
  lsText,
  parseStoreLocation,
  type StoreLocation,
  statsText,
  verifyText,
  withStore,
} from "./store.js";

export const ExitCode = { OK: 0, ERROR: 1, USAGE: 2, INTERRUPTED: 130 } as const;
export type ExitCode = (typeof ExitCode)[keyof typeof ExitCode];

/** Where `main` writes, and what can stop it. Defaults: process.stdout, process.stderr, no signal. */
export interface CliIo {
  readonly stdout?: { write(text: string): unknown };
  /** A progress bar is drawn only when `isTTY` is true. */
  readonly stderr?: { write(text: string): unknown; readonly isTTY?: boolean; readonly columns?: number };
  readonly signal?: AbortSignal;
}

/** A mistake on the command line: exit code 2 and a pointer to the help. */
export class UsageError extends Error {
  readonly command: string | undefined;

  constructor(message: string, command?: string) {
    super(message);
    this.name = "UsageError";
    this.command = command;
  }
}

interface Context {
  readonly stdout: { write(text: string): unknown };
  readonly stderr: NonNullable<CliIo["stderr"]>;
  readonly signal: AbortSignal | undefined;
}

interface Command {
  readonly help: string;
  readonly run: (args: string[], ctx: Context) => Promise<number>;
  /** Handles --help itself, per subcommand (hub). */
  readonly ownHelp?: boolean;
}

const COMMANDS: Readonly<Record<string, Command>> = {
  formats: { help: FORMATS_HELP, run: runFormats },
  convert: { help: CONVERT_HELP, run: runConvert },
  inspect: { help: INSPECT_HELP, run: runInspect },
  quantize: { help: QUANTIZE_HELP, run: runQuantize },
  dequantize: { help: DEQUANTIZE_HELP, run: runDequantize },
  compare: { help: COMPARE_HELP, run: runCompare },
  embed: { help: EMBED_HELP, run: runEmbed },
  store: { help: STORE_HELP, run: runStore },
  hub: { help: HUB_HELP, run: runHub, ownHelp: true },
};

/**
 * Runs the `lowbit` command line (`argv` without the node and script paths) and returns the exit code.
 * Never throws for expected errors: they are printed as `lowbit: <message>` on stderr.
 */
export async function main(argv: readonly string[], io: CliIo = {}): Promise<number> {
  const ctx: Context = {
    stdout: io.stdout ?? process.stdout,
    stderr: io.stderr ?? process.stderr,
    signal: io.signal,
  };
  try {
    return await dispatch([...argv], ctx);
  } catch (e) {
    return report(e, ctx);
  }
}

async function dispatch(argv: string[], ctx: Context): Promise<number> {
  const [first, ...rest] = argv;
  if (first === undefined) {
    ctx.stderr.write(MAIN_HELP);
    return ExitCode.USAGE;
  }
  if (first === "-h" || first === "--help") {
    ctx.stdout.write(MAIN_HELP);
    return ExitCode.OK;
  }
  if (first === "-V" || first === "--version") {
    ctx.stdout.write(`${await readVersion()}\n`);
    return ExitCode.OK;
  }
  if (first === "help") {
    const topic = rest[0];
    if (topic === undefined) ctx.stdout.write(MAIN_HELP);
    else ctx.stdout.write(lookup(topic).help);
    return ExitCode.OK;
  }
  const command = lookup(first);
  if (command.ownHelp !== true && wantsHelp(rest)) {
    ctx.stdout.write(command.help);
    return ExitCode.OK;
  }
  return command.run(rest, ctx);
}

function lookup(name: string): Command {
  if (Object.hasOwn(COMMANDS, name)) return COMMANDS[name]!;
  throw new UsageError(
    `unknown command ${JSON.stringify(name)}; commands: ${Object.keys(COMMANDS).join(", ")}`,
  );
}

/** `--help` anywhere before `--` wins over everything else, even missing arguments. */
function wantsHelp(args: string[]): boolean {
  for (const a of args) {
    if (a === "--") return false;
    if (a === "-h" || a === "--help") return true;
  }
  return false;
}

function report(e: unknown, ctx: Context): number {
  const message = e instanceof Error ? e.message : String(e);
  if (e instanceof UsageError) {
    const help = e.command === undefined ? "lowbit --help" : `lowbit ${e.command} --help`;
    ctx.stderr.write(`lowbit: ${message}\nRun '${help}' for usage.\n`);
    return ExitCode.USAGE;
  }
  if ((e instanceof Error && e.name === "AbortError") || ctx.signal?.aborted) {
    ctx.stderr.write("lowbit: interrupted\n");
    return ExitCode.INTERRUPTED;
  }
  ctx.stderr.write(`lowbit: ${message}\n`);
  // Anything not raised on purpose (bad data, bad value, file system) is a bug: keep its stack.
  if (!isExpected(e) && e instanceof Error && e.stack !== undefined) ctx.stderr.write(`${e.stack}\n`);
  return ExitCode.ERROR;
}

function isExpected(e: unknown): boolean {
  if (e instanceof LowbitError || e instanceof RangeError || e instanceof TypeError) return true;
  // Node's system errors (ENOENT, EACCES, ENOSPC, ...) carry a string code and a readable message.
  return e instanceof Error && typeof (e as { code?: unknown }).code === "string";
}

async function readVersion(): Promise<string> {
  // dist/bin.js and src/main.ts both sit one level below the package.json.
  const text = await readFile(new URL("../package.json", import.meta.url), "utf8");
  return (JSON.parse(text) as { version: string }).version;
}

function parse<const O extends NonNullable<ParseArgsConfig["options"]>>(
  command: string,
  args: string[],
  options: O,
) {
  try {
    return parseArgs({ args, options, allowPositionals: true, strict: true });
  } catch (e) {
    const code = (e as { code?: unknown }).code;
    if (typeof code === "string" && code.startsWith("ERR_PARSE_ARGS")) {
      throw new UsageError((e as Error).message.split("\n").slice(0, 2).join(" "), command);
    }
    throw e;
  }
}

async function runFormats(args: string[], ctx: Context): Promise<number> {
  const { values, positionals } = parse("formats", args, { json: { type: "boolean" } });
  if (positionals.length > 0)
    throw new UsageError(`unexpected argument ${JSON.stringify(positionals[0])}`, "formats");
  ctx.stdout.write(values.json === true ? `${JSON.stringify(formatRows(), null, 2)}\n` : formatsTable());
  return ExitCode.OK;
}

const CONVERT_OPTIONS = {
  to: { type: "string" },
  from: { type: "string" },
  saturate: { type: "boolean" },
  rounding: { type: "string" },
  seed: { type: "string" },
  count: { type: "string" },
  "no-pack": { type: "boolean" },
  "unpacked-input": { type: "boolean" },
  quiet: { type: "boolean", short: "q" },
} as const;

async function runConvert(args: string[], ctx: Context): Promise<number> {
  const { values, positionals } = parse("convert", args, CONVERT_OPTIONS);
  const usage = (message: string) => new UsageError(message, "convert");

  const to = values.to;
  if (to === undefined) throw usage("missing --to <format>");
  const from = values.from ?? "float32";
  for (const [name, what] of [
    [from, "--from"],
    [to, "--to"],
  ] as const) {
    try {
      resolveFormat(name, what);
    } catch (e) {
      if (e instanceof RangeError) throw usage(e.message);
      throw e;
    }
  }
  if (positionals.length !== 2) {
    throw usage(`expected the files IN and OUT, got ${positionals.length} argument(s)`);
  }
  const [input, output] = positionals as [string, string];

  const options: { -readonly [K in keyof ConvertOptions]: ConvertOptions[K] } = { input, output, from, to };
  if (values.saturate === true) options.saturate = true;
  const rounding = values.rounding;
  if (rounding !== undefined) {
    if (!(ROUNDINGS as readonly string[]).includes(rounding)) {
      throw usage(`--rounding must be one of ${ROUNDINGS.join(", ")}; got ${JSON.stringify(rounding)}`);
    }
    options.rounding = rounding as Rounding;
  }
  const seed = values.seed;
  if (seed !== undefined) {
    if (rounding !== "stochastic") throw usage("--seed applies only with --rounding stochastic");
    options.seed = parseInteger(seed, "--seed", 0xffffffff, "convert");
  }
  const count = values.count;
  if (count !== undefined) options.count = parseInteger(count, "--count", Number.MAX_SAFE_INTEGER, "convert");
  if (to === "float32" && (options.saturate !== undefined || rounding !== undefined)) {
    throw usage("--saturate and --rounding apply only when encoding; --to is float32");
  }
  if (values["no-pack"] === true) options.pack = false;
  if (values["unpacked-input"] === true) options.packedInput = false;
  if (ctx.signal !== undefined) options.signal = ctx.signal;

  const quiet = values.quiet === true;
  const bar = !quiet && ctx.stderr.isTTY === true ? progressBar(ctx.stderr, `${from} -> ${to}`) : null;
  if (bar !== null) options.onProgress = (p) => bar.update(p.elements, p.totalElements);
  let result: Awaited<ReturnType<typeof convertFile>>;
  try {
    result = await convertFile(options);
  } finally {
    bar?.done();
  }
  if (!quiet) {
    const { elements, bytesIn, bytesOut, seconds } = result;
    const rate = seconds > 0 ? `, ${(elements / seconds / 1e6).toFixed(1)} M elements/s` : "";
    ctx.stdout.write(
      `${from} -> ${to}: ${elements} elements, ${bytesIn} bytes in, ${bytesOut} bytes out, ` +
        `${seconds.toFixed(3)} s${rate}\n`,
    );
  }
  return ExitCode.OK;
}

function parseInteger(text: string, what: string, max: number, command: string): number {
  const n = /^[0-9]+$/.test(text) ? Number(text) : Number.NaN;
  if (!Number.isSafeInteger(n) || n > max) {
    throw new UsageError(`${what} must be an integer in [0, ${max}]; got ${JSON.stringify(text)}`, command);
  }
  return n;
}

/** One positional argument per name in `names`; the message names them when they are not all there. */
function positionalsOf(command: string, positionals: string[], names: readonly string[]): string[] {
  if (positionals.length !== names.length) {
    const what = names.length === 1 ? `the file ${names[0]}` : `the files ${names.join(" and ")}`;
    throw new UsageError(`expected ${what}, got ${positionals.length} argument(s)`, command);
  }
  return positionals;
}

/**
 * Progress of a whole-file command on a TTY: a bar over tensors (with the current tensor's name),
 * then one over the bytes written. `pause` erases the bar so a warning can be printed.
 */
function fileProgress(ctx: Context, label: string, quiet: boolean) {
  if (quiet || ctx.stderr.isTTY !== true) return { onProgress: undefined, pause() {}, done() {} };
  let stage: FileProgress["stage"] | null = null;
  let bar: ProgressBar | null = null;
  return {
    onProgress(p: FileProgress) {
      if (p.stage !== stage) {
        bar?.done();
        stage = p.stage;
        bar =
          p.stage === "tensors"
            ? progressBar(ctx.stderr, label, { unit: "tensors", rate: false, eta: true })
            : progressBar(ctx.stderr, "writing", { unit: "bytes" });
      }
      const note =
        p.tensor !== undefined && p.tensorDone !== undefined && p.tensorTotal !== undefined
          ? `${p.tensor} (step ${p.tensorDone}/${p.tensorTotal})`
          : p.tensor;
      bar!.update(p.done, p.total, note, p.fraction);
    },
    pause() {
      bar?.done();
    },
    done() {
      bar?.done();
    },
  };
}

async function runInspect(args: string[], ctx: Context): Promise<number> {
  const { values, positionals } = parse("inspect", args, { json: { type: "boolean" } });
  const [file] = positionalsOf("inspect", positionals, ["FILE"]) as [string];
  const report = await inspectFile(file);
  ctx.stdout.write(values.json === true ? `${JSON.stringify(report, null, 2)}\n` : inspectText(report));
  return ExitCode.OK;
}

/** Formats whose k-means training can use a worker pool (`--threads`). */
const VQ_FORMATS: ReadonlySet<string> = new Set(vqQuantizers.map((q) => q.name));

/** Integer options with a flag of their own: `--flag N` is `--option name=N` for quantizers that have it. */
const SHORTHANDS = {
  group: "group",
  codebooks: "codebooks",
  bits: "bits",
  "block-size": "blockSize",
  "vector-length": "vectorLength",
  subspaces: "subspaces",
  beam: "beam",
  rounds: "rounds",
  seed: "seed",
  "train-sample": "trainSample",
} as const;

const QUANTIZE_OPTIONS = {
  format: { type: "string" },
  group: { type: "string" },
  codebooks: { type: "string" },
  bits: { type: "string" },
  "block-size": { type: "string" },
  "vector-length": { type: "string" },
  subspaces: { type: "string" },
  beam: { type: "string" },
  rounds: { type: "string" },
  seed: { type: "string" },
  "train-sample": { type: "string" },
  threads: { type: "string" },
  option: { type: "string", multiple: true },
  skip: { type: "string", multiple: true },
  "min-elements": { type: "string" },
  "on-error": { type: "string" },
  quiet: { type: "boolean", short: "q" },
} as const;

/** `key=value`, the value read as JSON when it parses and as a string otherwise. */
function parseOption(text: string): [string, unknown] {
  const eq = text.indexOf("=");
  if (eq <= 0) {
    throw new UsageError(`--option must be key=value; got ${JSON.stringify(text)}`, "quantize");
  }
  const raw = text.slice(eq + 1);
  let value: unknown = raw;
  try {
    value = JSON.parse(raw);
  } catch {
    // not JSON: the string itself
  }
  return [text.slice(0, eq), value];
}

async function runQuantize(args: string[], ctx: Context): Promise<number> {
  const { values, positionals } = parse("quantize", args, QUANTIZE_OPTIONS);
  const usage = (message: string) => new UsageError(message, "quantize");
  const format = values.format;
  if (format === undefined) throw usage("missing --format <name>");
  const options: Record<string, unknown> = {};
  for (const text of values.option ?? []) {
    const [key, value] = parseOption(text);
    if (Object.hasOwn(options, key)) throw usage(`--option ${key} is given twice`);
    options[key] = value;
  }
  let quantizer: Quantizer;
  try {
    quantizer = getQuantizer(format);
  } catch (e) {
    if (e instanceof RangeError) throw usage(`--format: ${e.message}`);
    throw e;
  }
  for (const [flag, name] of Object.entries(SHORTHANDS)) {
    const text = values[flag as keyof typeof SHORTHANDS];
    if (text === undefined) continue;
    if (!Object.hasOwn(quantizer.defaults, name)) {
      throw usage(`--${flag}: ${format} has no ${name} option (${optionsOf(quantizer)})`);
    }
    if (Object.hasOwn(options, name)) throw usage(`give ${name} once: --${flag} or --option ${name}=`);
    options[name] = parseInteger(text, `--${flag}`, Number.MAX_SAFE_INTEGER, "quantize");
  }
  try {
    checkQuantizeOptions(format, options);
  } catch (e) {
    if (e instanceof RangeError || e instanceof TypeError) throw usage(`--option: ${e.message}`);
    throw e;
  }
  const skip = (values.skip ?? []).map((pattern) => {
    try {
      return new RegExp(pattern);
    } catch (e) {
      throw usage(`--skip: ${(e as Error).message}`);
    }
  });
  const onError = values["on-error"] ?? "fail";
  if (!(ON_ERROR as readonly string[]).includes(onError)) {
    throw usage(`--on-error must be one of ${ON_ERROR.join(", ")}; got ${JSON.stringify(onError)}`);
  }
  const minElements =
    values["min-elements"] === undefined
      ? undefined
      : parseInteger(values["min-elements"], "--min-elements", Number.MAX_SAFE_INTEGER, "quantize");
  const [input, output] = positionalsOf("quantize", positionals, ["IN", "OUT"]) as [string, string];
  let pool: KmeansPool | null = null;
  if (values.threads !== undefined) {
    if (!VQ_FORMATS.has(format)) {
      throw usage(`--threads: only the vector quantizers (${[...VQ_FORMATS].join(", ")}) train in threads`);
    }
    pool = createKmeansPool(parseInteger(values.threads, "--threads", 64, "quantize"));
  }

  const quiet = values.quiet === true;
  const progress = fileProgress(ctx, `quantize ${format}`, quiet);
  let result: QuantizeResult;
  try {
    result = await quantizeFile({
      input,
      output,
      format,
      options,
      skip,
      onError: onError as OnError,
      ...(minElements !== undefined ? { minElements } : {}),
      onWarning: (message) => {
        progress.pause();
        ctx.stderr.write(`lowbit: warning: ${message}\n`);
      },
      ...(progress.onProgress !== undefined ? { onProgress: progress.onProgress } : {}),
      ...(ctx.signal !== undefined ? { signal: ctx.signal } : {}),
      ...(pool !== null ? { runtime: { pool } } : {}),
    });
  } finally {
    progress.done();
    await pool?.close();
  }
  if (!quiet) ctx.stdout.write(`${quantizeSummary(result)}\n`);
  return ExitCode.OK;
}

const DTYPE_ALIASES: Readonly<Record<string, DequantizeDtype>> = {
  f32: "f32",
  float32: "f32",
  f16: "f16",
  float16: "f16",
  bf16: "bf16",
  bfloat16: "bf16",
};

async function runDequantize(args: string[], ctx: Context): Promise<number> {
  const { values, positionals } = parse("dequantize", args, {
    dtype: { type: "string" },
    quiet: { type: "boolean", short: "q" },
  });
  const text = values.dtype ?? "f32";
  const dtype = Object.hasOwn(DTYPE_ALIASES, text.toLowerCase())
    ? DTYPE_ALIASES[text.toLowerCase()]
    : undefined;
  if (dtype === undefined) {
    throw new UsageError(
      `--dtype must be one of ${DEQUANTIZE_DTYPES.join(", ")}; got ${JSON.stringify(text)}`,
      "dequantize",
    );
  }
  const [input, output] = positionalsOf("dequantize", positionals, ["IN", "OUT"]) as [string, string];
  const quiet = values.quiet === true;
  const progress = fileProgress(ctx, "dequantize", quiet);
  let result: Awaited<ReturnType<typeof dequantizeFile>>;
  try {
    result = await dequantizeFile({
      input,
      output,
      dtype,
      ...(progress.onProgress !== undefined ? { onProgress: progress.onProgress } : {}),
      ...(ctx.signal !== undefined ? { signal: ctx.signal } : {}),
    });
  } finally {
    progress.done();
  }
  if (!quiet) {
    const r = result;
    const what =
      r.dequantized === 0
        ? `no quantized tensors: copied ${r.tensors} tensors`
        : `dequantized ${r.dequantized} of ${r.tensors} tensors (${r.formats.join(", ")}, ${r.elements} weights) to ${r.dtype.toUpperCase()}`;
    ctx.stdout.write(`${what}; ${r.bytesIn} -> ${r.bytesOut} bytes; ${r.seconds.toFixed(2)} s\n`);
  }
  return ExitCode.OK;
}

async function runCompare(args: string[], ctx: Context): Promise<number> {
  const { values, positionals } = parse("compare", args, {
    json: { type: "boolean" },
    quiet: { type: "boolean", short: "q" },
  });
  const [a, b] = positionalsOf("compare", positionals, ["A", "B"]) as [string, string];
  const progress = fileProgress(ctx, "compare", values.quiet === true);
  let report: Awaited<ReturnType<typeof compareFiles>>;
  try {
    report = await compareFiles(a, b, {
      ...(progress.onProgress !== undefined ? { onProgress: progress.onProgress } : {}),
      ...(ctx.signal !== undefined ? { signal: ctx.signal } : {}),
    });
  } finally {
    progress.done();
  }
  ctx.stdout.write(
    values.json === true ? `${JSON.stringify(compareJson(report), null, 2)}\n` : compareText(report),
  );
  return ExitCode.OK;
}

const EMBED_SUBCOMMANDS = ["build", "search", "eval"] as const;

async function runEmbed(args: string[], ctx: Context): Promise<number> {
  const [sub, ...rest] = args;
  if (sub === "build") return runEmbedBuild(rest, ctx);
  if (sub === "search") return runEmbedSearch(rest, ctx);
  if (sub === "eval") return runEmbedEval(rest, ctx);
  throw new UsageError(
    sub === undefined
      ? `missing subcommand: ${EMBED_SUBCOMMANDS.join(", ")}`
      : `unknown subcommand ${JSON.stringify(sub)}; subcommands: ${EMBED_SUBCOMMANDS.join(", ")}`,
    "embed",
  );
}

/** A required string option, or a usage error naming it. */
function required(value: string | undefined, flag: string, what: string): string {
  if (value === undefined) throw new UsageError(`missing --${flag} <${what}>`, "embed");
  return value;
}

function oneOf<T extends string>(
  value: string | undefined,
  choices: readonly T[],
  flag: string,
): T | undefined {
  if (value === undefined) return undefined;
  if (!(choices as readonly string[]).includes(value)) {
    throw new UsageError(
      `--${flag} must be one of ${choices.join(", ")}; got ${JSON.stringify(value)}`,
      "embed",
    );
  }
  return value as T;
}

/** An integer option in [min, max], or undefined when absent. */
function intOption(text: string | undefined, flag: string, min: number, max: number): number | undefined {
  if (text === undefined) return undefined;
  const n = parseInteger(text, `--${flag}`, max, "embed");
  if (n < min)
    throw new UsageError(
      `--${flag} must be an integer in [${min}, ${max}]; got ${JSON.stringify(text)}`,
      "embed",
    );
  return n;
}

/** A rescoring factor: a number >= 1 (k x factor candidates are rescored). */
function factorOption(text: string | undefined, flag: string): number | undefined {
  if (text === undefined) return undefined;
  const n = /^[0-9]+(\.[0-9]+)?$/.test(text) ? Number(text) : Number.NaN;
  if (!(n >= 1 && n <= 10_000)) {
    throw new UsageError(`--${flag} must be a number in [1, 10000]; got ${JSON.stringify(text)}`, "embed");
  }
  return n;
}

/** Checks a codec spec up front so a typo is a usage error, not a failure after reading the data. */
function codecOption(spec: string, flag: string): string {
  try {
    return createCodec(spec).spec;
  } catch (e) {
    if (e instanceof RangeError || e instanceof TypeError)
      throw new UsageError(`--${flag}: ${e.message}`, "embed");
    throw e;
  }
}

/** Raw float32 files carry no shape: --dim is then a required argument, not a data error. */
async function requireDim(dim: number | undefined, base: string): Promise<void> {
  if (dim === undefined && !(await isNpyFile(base))) {
    throw new UsageError(`missing --dim <n>: ${base} is a raw float32 file (no .npy header)`, "embed");
  }
}

function noPositionals(positionals: string[]): void {
  if (positionals.length > 0) {
    throw new UsageError(`unexpected argument ${JSON.stringify(positionals[0])}`, "embed");
  }
}

/** A bar over vectors or queries on a TTY; `stage` starts a new one with its own label. */
function embedProgress(ctx: Context, quiet: boolean) {
  if (quiet || ctx.stderr.isTTY !== true)
    return { stage(_label: string) {}, onProgress: undefined, done() {} };
  let bar: ProgressBar | null = null;
  let label = "";
  return {
    stage(next: string) {
      bar?.done();
      bar = null;
      label = next;
    },
    onProgress(done: number, total: number) {
      bar ??= progressBar(ctx.stderr, label, {
        unit: label.startsWith("search") ? "queries" : "vectors",
        rate: false,
        eta: true,
      });
      bar.update(done, total);
    },
    done() {
      bar?.done();
    },
  };
}

const HNSW_OPTIONS = {
  index: { type: "string" },
  M: { type: "string" },
  "ef-construction": { type: "string" },
  ef: { type: "string" },
} as const;

function hnswOptions(values: { index?: string; M?: string; "ef-construction"?: string; ef?: string }) {
  const index: EmbedIndex = oneOf(values.index, EMBED_INDEXES, "index") ?? "scan";
  const M = intOption(values.M, "M", 2, 512);
  const efConstruction = intOption(values["ef-construction"], "ef-construction", 1, 100_000);
  const ef = intOption(values.ef, "ef", 1, 100_000);
  if (index === "scan") {
    for (const [flag, v] of [
      ["M", M],
      ["ef-construction", efConstruction],
      ["ef", ef],
    ] as const) {
      if (v !== undefined) throw new UsageError(`--${flag} applies only with --index hnsw`, "embed");
    }
  }
  return {
    index,
    ...(M !== undefined ? { M } : {}),
    ...(efConstruction !== undefined ? { efConstruction } : {}),
    ...(ef !== undefined ? { ef } : {}),
  };
}

async function runEmbedBuild(args: string[], ctx: Context): Promise<number> {
  const { values, positionals } = parse("embed", args, {
    base: { type: "string" },
    dim: { type: "string" },
    codec: { type: "string" },
    metric: { type: "string" },
    rescore: { type: "string" },
    "rescore-storage": { type: "string" },
    "train-sample": { type: "string" },
    out: { type: "string" },
    quiet: { type: "boolean", short: "q" },
    ...HNSW_OPTIONS,
  });
  noPositionals(positionals);
  const base = required(values.base, "base", "file");
  const codec = codecOption(required(values.codec, "codec", "spec"), "codec");
  const out = required(values.out, "out", "dir");
  const dim = intOption(values.dim, "dim", 1, 1 << 20);
  const metric = oneOf<Metric>(values.metric, METRICS, "metric");
  const rescore = oneOf(values.rescore, RESCORE_CODECS, "rescore");
  const rescoreStorage = oneOf(values["rescore-storage"], ["memory", "disk"] as const, "rescore-storage");
  if (rescoreStorage !== undefined && rescore === undefined) {
    throw new UsageError("--rescore-storage applies only with --rescore <codec>", "embed");
  }
  const trainRows = intOption(values["train-sample"], "train-sample", 1, Number.MAX_SAFE_INTEGER);
  const hnsw = hnswOptions(values);
  await requireDim(dim, base);
  const quiet = values.quiet === true;
  const progress = embedProgress(ctx, quiet);
  progress.stage(`build ${codec}`);
  let result: Awaited<ReturnType<typeof embedBuild>>;
  try {
    result = await embedBuild({
      base,
      out,
      codec,
      ...hnsw,
      ...(dim !== undefined ? { dim } : {}),
      ...(metric !== undefined ? { metric } : {}),
      ...(rescore !== undefined ? { rescore } : {}),
      ...(rescoreStorage !== undefined ? { rescoreStorage } : {}),
      ...(trainRows !== undefined ? { trainRows } : {}),
      ...(progress.onProgress !== undefined
        ? { onProgress: (p: { done: number; total: number }) => progress.onProgress!(p.done, p.total) }
        : {}),
      ...(ctx.signal !== undefined ? { signal: ctx.signal } : {}),
    });
  } finally {
    progress.done();
  }
  if (!quiet) ctx.stdout.write(`${buildSummary(result)}\n`);
  return ExitCode.OK;
}

async function runEmbedSearch(args: string[], ctx: Context): Promise<number> {
  const { values, positionals } = parse("embed", args, {
    collection: { type: "string" },
    query: { type: "string" },
    dim: { type: "string" },
    k: { type: "string", short: "k" },
    rescore: { type: "string" },
    ef: { type: "string" },
    path: { type: "string" },
    json: { type: "boolean" },
  });
  noPositionals(positionals);
  const collection = required(values.collection, "collection", "dir");
  const query = required(values.query, "query", "file");
  const dim = intOption(values.dim, "dim", 1, 1 << 20);
  const k = intOption(values.k, "k", 1, 100_000) ?? 10;
  const rescore = factorOption(values.rescore, "rescore");
  const ef = intOption(values.ef, "ef", 1, 100_000);
  const path = oneOf(values.path, ["scan", "index"] as const, "path");
  const result = await embedSearch({
    collection,
    query,
    k,
    ...(dim !== undefined ? { dim } : {}),
    ...(rescore !== undefined ? { rescore } : {}),
    ...(ef !== undefined ? { ef } : {}),
    ...(path !== undefined ? { path } : {}),
  });
  ctx.stdout.write(values.json === true ? `${JSON.stringify(result)}\n` : searchText(result));
  return ExitCode.OK;
}

async function runEmbedEval(args: string[], ctx: Context): Promise<number> {
  const { values, positionals } = parse("embed", args, {
    base: { type: "string" },
    queries: { type: "string" },
    truth: { type: "string" },
    dim: { type: "string" },
    codec: { type: "string", multiple: true },
    metric: { type: "string" },
    rescore: { type: "string" },
    "rescore-codec": { type: "string" },
    "rescore-storage": { type: "string" },
    path: { type: "string" },
    k: { type: "string", short: "k" },
    "train-sample": { type: "string" },
    json: { type: "boolean" },
    svg: { type: "string" },
    quiet: { type: "boolean", short: "q" },
    ...HNSW_OPTIONS,
  });
  noPositionals(positionals);
  const base = required(values.base, "base", "file");
  const queries = required(values.queries, "queries", "file");
  const truth = required(values.truth, "truth", "file");
  const codecs = (values.codec ?? []).map((c) => codecOption(c, "codec"));
  if (codecs.length === 0) throw new UsageError("missing --codec <spec>", "embed");
  const dim = intOption(values.dim, "dim", 1, 1 << 20);
  const metric = oneOf<Metric>(values.metric, METRICS, "metric");
  const rescore = factorOption(values.rescore, "rescore");
  const rescoreCodec =
    oneOf(values["rescore-codec"], RESCORE_CODECS, "rescore-codec") ??
    (rescore !== undefined ? "int8" : undefined);
  const rescoreStorage = oneOf(values["rescore-storage"], ["memory", "disk"] as const, "rescore-storage");
  if (rescoreStorage !== undefined && rescoreCodec === undefined) {
    throw new UsageError("--rescore-storage applies only with --rescore or --rescore-codec", "embed");
  }
  const path = oneOf(values.path, ["scan", "index"] as const, "path");
  const k = intOption(values.k, "k", 1, 100_000);
  const trainRows = intOption(values["train-sample"], "train-sample", 1, Number.MAX_SAFE_INTEGER);
  const hnsw = hnswOptions(values);
  if (path === "index" && hnsw.index !== "hnsw")
    throw new UsageError("--path index needs --index hnsw", "embed");
  await requireDim(dim, base);
  const quiet = values.quiet === true || values.json === true;
  const progress = embedProgress(ctx, quiet);
  let reports: Awaited<ReturnType<typeof embedEval>>;
  try {
    reports = await embedEval({
      base,
      queries,
      truth,
      codecs,
      ...hnsw,
      ...(dim !== undefined ? { dim } : {}),
      ...(metric !== undefined ? { metric } : {}),
      ...(rescore !== undefined ? { rescore } : {}),
      ...(rescoreCodec !== undefined ? { rescoreCodec } : {}),
      ...(rescoreStorage !== undefined ? { rescoreStorage } : {}),
      ...(path !== undefined ? { path } : {}),
      ...(k !== undefined ? { k } : {}),
      ...(trainRows !== undefined ? { trainRows } : {}),
      onStage: (stage, codec) => progress.stage(`${stage} ${codec}`),
      ...(progress.onProgress !== undefined ? { onProgress: progress.onProgress } : {}),
      ...(ctx.signal !== undefined ? { signal: ctx.signal } : {}),
    });
  } finally {
    progress.done();
  }
  if (values.svg !== undefined) await writeEvalSvg(values.svg, reports);
  // --json: one JSON object per run, one per line (a single --codec prints exactly one object).
  ctx.stdout.write(
    values.json === true ? reports.map((r) => `${JSON.stringify(r)}\n`).join("") : evalText(reports),
  );
  return ExitCode.OK;
}

const STORE_SUBCOMMANDS = ["init", "ingest", "restore", "ls", "stats", "verify", "gc"] as const;

async function runStore(args: string[], ctx: Context): Promise<number> {
  const [sub, ...rest] = args;
  if (sub === "init") return runStoreInit(rest, ctx);
  if (sub === "ingest") return runStoreIngest(rest, ctx);
  if (sub === "restore") return runStoreRestore(rest, ctx);
  if (sub === "ls") return runStoreLs(rest, ctx);
  if (sub === "stats") return runStoreStats(rest, ctx);
  if (sub === "verify") return runStoreVerify(rest, ctx);
  if (sub === "gc") return runStoreGc(rest, ctx);
  throw new UsageError(
    sub === undefined
      ? `missing subcommand: ${STORE_SUBCOMMANDS.join(", ")}`
      : `unknown subcommand ${JSON.stringify(sub)}; subcommands: ${STORE_SUBCOMMANDS.join(", ")}`,
    "store",
  );
}

/** Options every `lowbit store` subcommand takes. */
const STORE_OPTIONS = {
  store: { type: "string" },
  "s3-endpoint": { type: "string" },
} as const;

/** The `--store` location, or a usage error when it is missing or malformed. */
function storeLocation(values: { store?: string; "s3-endpoint"?: string }): StoreLocation {
  if (values.store === undefined) throw new UsageError("missing --store <dir|s3://bucket/prefix>", "store");
  try {
    return parseStoreLocation(values.store, values["s3-endpoint"], process.env);
  } catch (e) {
    if (e instanceof RangeError) throw new UsageError(e.message, "store");
    throw e;
  }
}

function storePositionals(positionals: string[], names: readonly string[]): string[] {
  if (positionals.length !== names.length) {
    const what = names.length === 0 ? "no arguments" : names.join(" and ");
    throw new UsageError(`expected ${what}, got ${positionals.length} argument(s)`, "store");
  }
  return positionals;
}

/** A bytes bar on a TTY that starts afresh (label, ETA) when `label` changes. */
function storeProgress(ctx: Context, quiet: boolean, unit: "bytes" | "objects") {
  if (quiet || ctx.stderr.isTTY !== true) return { update: undefined, done() {} };
  let label: string | null = null;
  let bar: ProgressBar | null = null;
  return {
    update(next: string, done: number, total: number, note?: string) {
      if (next !== label) {
        bar?.done();
        label = next;
        bar = progressBar(ctx.stderr, next, { unit, rate: unit === "bytes", eta: true });
      }
      bar!.update(done, total, note);
    },
    done() {
      bar?.done();
    },
  };
}

async function runStoreInit(args: string[], ctx: Context): Promise<number> {
  const { values, positionals } = parse("store", args, STORE_OPTIONS);
  storePositionals(positionals, []);
  const location = storeLocation(values);
  await withStore(location, "init", async () => {});
  ctx.stdout.write(`initialized an empty store at ${describeLocation(location)}\n`);
  return ExitCode.OK;
}

async function runStoreIngest(args: string[], ctx: Context): Promise<number> {
  const { values, positionals } = parse("store", args, {
    ...STORE_OPTIONS,
    name: { type: "string" },
    base: { type: "string" },
    "no-base": { type: "boolean" },
    lossy: { type: "string" },
    overwrite: { type: "boolean" },
    json: { type: "boolean" },
    quiet: { type: "boolean", short: "q" },
  });
  const location = storeLocation(values);
  if (values.name === undefined) throw new UsageError("missing --name <model>", "store");
  if (positionals.length === 0) throw new UsageError("expected a directory or files to ingest", "store");
  if (values.base !== undefined && values["no-base"] === true) {
    throw new UsageError("--base and --no-base exclude each other", "store");
  }
  if (values.lossy !== undefined && values.lossy !== "bitdelta") {
    throw new UsageError(`--lossy must be bitdelta; got ${JSON.stringify(values.lossy)}`, "store");
  }
  if (values.lossy !== undefined && values["no-base"] === true) {
    throw new UsageError("--lossy bitdelta needs a base: it cannot go with --no-base", "store");
  }
  let input: string | string[];
  try {
    input = await ingestInput(positionals);
  } catch (e) {
    if (e instanceof RangeError) throw new UsageError(e.message, "store");
    throw e;
  }
  const name = values.name;
  const base = values["no-base"] === true ? null : values.base;
  const quiet = values.quiet === true || values.json === true;
  const progress = storeProgress(ctx, quiet, "bytes");
  const result = await withStore(location, "open", async (store) => {
    try {
      return await store.ingest(input, {
        name,
        ...(base !== undefined ? { base } : {}),
        ...(values.lossy !== undefined ? { lossy: "bitdelta" as const } : {}),
        ...(values.overwrite === true ? { overwrite: true } : {}),
        ...(progress.update !== undefined
          ? {
              onProgress: (p) =>
                progress.update(`ingest ${name}: ${p.phase}`, p.bytesDone, p.bytesTotal, p.file),
            }
          : {}),
        ...(ctx.signal !== undefined ? { signal: ctx.signal } : {}),
      });
    } finally {
      progress.done();
    }
  });
  if (values.json === true) ctx.stdout.write(`${JSON.stringify(ingestJson(result), null, 2)}\n`);
  else if (values.quiet !== true) ctx.stdout.write(ingestText(result));
  return ExitCode.OK;
}

async function runStoreRestore(args: string[], ctx: Context): Promise<number> {
  const { values, positionals } = parse("store", args, {
    ...STORE_OPTIONS,
    overwrite: { type: "boolean" },
    json: { type: "boolean" },
    quiet: { type: "boolean", short: "q" },
  });
  const location = storeLocation(values);
  const [model, outDir] = storePositionals(positionals, ["MODEL", "OUTDIR"]) as [string, string];
  const quiet = values.quiet === true || values.json === true;
  const progress = storeProgress(ctx, quiet, "bytes");
  const result = await withStore(location, "open", async (store) => {
    try {
      return await store.restore(model, outDir, {
        ...(values.overwrite === true ? { overwrite: true } : {}),
        ...(progress.update !== undefined
          ? { onProgress: (p) => progress.update(`restore ${model}`, p.bytesDone, p.bytesTotal, p.file) }
          : {}),
        ...(ctx.signal !== undefined ? { signal: ctx.signal } : {}),
      });
    } finally {
      progress.done();
    }
  });
  const mbPerSecond = result.seconds > 0 ? result.bytes / 1e6 / result.seconds : 0;
  if (values.json === true) {
    ctx.stdout.write(`${JSON.stringify({ name: model, outDir, ...result, mbPerSecond }, null, 2)}\n`);
  } else if (!quiet) {
    ctx.stdout.write(
      `restored ${model}: ${result.files} file(s), ${result.bytes} bytes -> ${outDir}; ` +
        `${result.seconds.toFixed(2)} s, ${mbPerSecond.toFixed(1)} MB/s\n`,
    );
  }
  return ExitCode.OK;
}

async function runStoreLs(args: string[], ctx: Context): Promise<number> {
  const { values, positionals } = parse("store", args, { ...STORE_OPTIONS, json: { type: "boolean" } });
  storePositionals(positionals, []);
  const models = await withStore(storeLocation(values), "open", (store) => store.list());
  ctx.stdout.write(values.json === true ? `${JSON.stringify(models, null, 2)}\n` : lsText(models));
  return ExitCode.OK;
}

async function runStoreStats(args: string[], ctx: Context): Promise<number> {
  const { values, positionals } = parse("store", args, { ...STORE_OPTIONS, json: { type: "boolean" } });
  storePositionals(positionals, []);
  const stats = await withStore(storeLocation(values), "open", (store) => store.stats());
  ctx.stdout.write(values.json === true ? `${JSON.stringify(stats, null, 2)}\n` : statsText(stats));
  return ExitCode.OK;
}

async function runStoreVerify(args: string[], ctx: Context): Promise<number> {
  const { values, positionals } = parse("store", args, {
    ...STORE_OPTIONS,
    json: { type: "boolean" },
    quiet: { type: "boolean", short: "q" },
  });
  storePositionals(positionals, []);
  const location = storeLocation(values);
  const progress = storeProgress(ctx, values.quiet === true || values.json === true, "objects");
  const report = await withStore(location, "open", async (store) => {
    try {
      return await store.verify({
        ...(progress.update !== undefined
          ? { onProgress: (p) => progress.update("verify", p.objectsDone, p.objectsTotal) }
          : {}),
        ...(ctx.signal !== undefined ? { signal: ctx.signal } : {}),
      });
    } finally {
      progress.done();
    }
  });
  const where = describeLocation(location);
  if (values.json === true) ctx.stdout.write(`${JSON.stringify(report, null, 2)}\n`);
  else if (values.quiet !== true || !report.ok) ctx.stdout.write(verifyText(report, where));
  if (report.ok) return ExitCode.OK;
  ctx.stderr.write(`lowbit: store verify found ${report.problems.length} problem(s) in ${where}\n`);
  return ExitCode.ERROR;
}

async function runStoreGc(args: string[], ctx: Context): Promise<number> {
  const { values, positionals } = parse("store", args, {
    ...STORE_OPTIONS,
    grace: { type: "string" },
    json: { type: "boolean" },
  });
  storePositionals(positionals, []);
  const location = storeLocation(values);
  const grace =
    values.grace === undefined ? undefined : parseInteger(values.grace, "--grace", 10 * 365 * 86400, "store");
  const report = await withStore(location, "open", (store) =>
    store.gc(grace !== undefined ? { graceMs: grace * 1000 } : {}),
  );
  ctx.stdout.write(values.json === true ? `${JSON.stringify(report, null, 2)}\n` : gcText(report));
  return ExitCode.OK;
}

/**
 * `lowbit hub …` runs the command line of the hub, the private app @lowbit/hub of this repository. It
 * depends on this package, so it is found at run time: a static import would be a cycle, and the
 * published @lowbit/cli does not have it.
 */
async function runHub(args: string[], ctx: Context): Promise<number> {
  const spec = "@lowbit/hub/cli";
  let hub: { hubMain(argv: readonly string[], io: CliIo): Promise<number> };
  try {
    hub = await import(spec);
  } catch (e) {
    const code = (e as { code?: unknown }).code;
    const message = e instanceof Error ? e.message : "";
    if (code === "ERR_MODULE_NOT_FOUND" && message.includes("'@lowbit/hub'")) {
      ctx.stderr.write(
        "lowbit hub: the hub is the @lowbit/hub app of the lowbit repository (apps/hub); run it from a clone\n",
      );
      return ExitCode.ERROR;
    }
    if (code === "ERR_MODULE_NOT_FOUND" && /[\\/]apps[\\/]hub[\\/]dist[\\/]cli\.js'/.test(message)) {
      ctx.stderr.write(
        "lowbit hub: the hub (apps/hub) is not built; run 'npm run build' in the repository\n",
      );
      return ExitCode.ERROR;
    }
    throw e;
  }
  return hub.hubMain(args, {
    stdout: ctx.stdout,
    stderr: ctx.stderr,
    ...(ctx.signal !== undefined ? { signal: ctx.signal } : {}),
  });
}
