import { readFile } from "node:fs/promises";
import { type ParseArgsConfig, parseArgs } from "node:util";
import { LowbitError } from "@lowbit/bits";
import { CONVERT_HELP, FORMATS_HELP, MAIN_HELP } from "./_help.js";
import { progressBar } from "./_progress.js";
import { type ConvertOptions, convertFile, ROUNDINGS, type Rounding, resolveFormat } from "./convert.js";
import { formatRows, formatsTable } from "./formats.js";

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
}

const COMMANDS: Readonly<Record<string, Command>> = {
  formats: { help: FORMATS_HELP, run: runFormats },
  convert: { help: CONVERT_HELP, run: runConvert },
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
  if (wantsHelp(rest)) {
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
    options.seed = parseInteger(seed, "--seed", 0xffffffff);
  }
  const count = values.count;
  if (count !== undefined) options.count = parseInteger(count, "--count", Number.MAX_SAFE_INTEGER);
  if (to === "float32" && (options.saturate !== undefined || rounding !== undefined)) {
    throw usage("--saturate and --rounding apply only when encoding; --to is float32");
  }
  if (values["no-pack"] === true) options.pack = false;
  if (values["unpacked-input"] === true) options.packedInput = false;
  if (ctx.signal !== undefined) options.signal = ctx.signal;

  const quiet = values.quiet === true;
  const bar = !quiet && ctx.stderr.isTTY === true ? progressBar(ctx.stderr, `${from} -> ${to}`) : null;
  if (bar !== null) options.onProgress = (p) => bar.update(p);
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

function parseInteger(text: string, what: string, max: number): number {
  const n = /^[0-9]+$/.test(text) ? Number(text) : Number.NaN;
  if (!Number.isSafeInteger(n) || n > max) {
    throw new UsageError(`${what} must be an integer in [0, ${max}]; got ${JSON.stringify(text)}`, "convert");
  }
  return n;
}
