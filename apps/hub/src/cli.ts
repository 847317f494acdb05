/**
 * `lowbit hub serve|token|push|pull`: the hub's command line. `hubMain` is what this app's own bin
 * (`lowbit-hub`) runs, and what `lowbit hub …` of @lowbit/cli forwards to.
 */
import { createHash } from "node:crypto";
import { openAsBlob } from "node:fs";
import { access, lstat, mkdir, readdir, realpath, stat } from "node:fs/promises";
import { join, resolve, sep } from "node:path";
import { type ParseArgsConfig, parseArgs } from "node:util";
import {
  type CommitOperation,
  commitIter,
  downloadFile,
  HubApiError,
  listFiles,
  modelInfo,
} from "@huggingface/hub";
import { IntegrityError, LowbitError, NotFoundError } from "@lowbit/bits";
import { ExitCode, UsageError, writeAtomically } from "@lowbit/cli";
import { Blobs } from "./blobs.js";
import { Meta } from "./meta.js";
import { assertBranchName, assertRepoId, assertRepoPath } from "./names.js";
import { DEFAULT_HOST, DEFAULT_PORT, startHub } from "./server.js";
import type { HubLogEntry, TokenInfo, TokenRole } from "./types.js";

/** Where `hubMain` writes, what it reads its defaults from, and what can stop it. */
export interface HubCliIo {
  /** JSON logs (serve), secrets, summaries. Default process.stdout. */
  readonly stdout?: { write(text: string): unknown };
  /** The listening line, warnings, errors; a progress line is drawn only when `isTTY` is true. */
  readonly stderr?: { write(text: string): unknown; readonly isTTY?: boolean; readonly columns?: number };
  /** Default process.env. */
  readonly env?: Readonly<Record<string, string | undefined>>;
  /** Relative paths (--data, DIR) are resolved against it. Default process.cwd(). */
  readonly cwd?: string;
  /** Stops serve gracefully (as SIGTERM does); aborts push and pull (exit 130). */
  readonly signal?: AbortSignal;
}

interface Ctx {
  readonly stdout: { write(text: string): unknown };
  readonly stderr: NonNullable<HubCliIo["stderr"]>;
  readonly env: Readonly<Record<string, string | undefined>>;
  readonly cwd: string;
  readonly signal: AbortSignal | undefined;
}

/** `serve`'s default data folder, relative to the current directory. */
export const DEFAULT_DATA_DIR = "hub-data";
export const DEFAULT_ENDPOINT = "http://127.0.0.1:8080";
/** How long serve lets requests in flight finish after SIGTERM/SIGINT. */
export const SHUTDOWN_GRACE_MS = 10_000;

const USAGE = {
  serve:
    "lowbit hub serve [--port N] [--host H] [--data DIR] [--store s3://bucket/prefix] [--meta postgres://…] [--max-upload-bytes N]",
  token:
    "lowbit hub token create NAME [--read|--write] [--json] | list [--json] | revoke ID|NAME  [--data DIR]",
  push: "lowbit hub push DIR REPO [--endpoint URL] [--token T] [--branch B] [--message M] [--private] [--json]",
  pull: "lowbit hub pull REPO DIR [--revision REV] [--endpoint URL] [--token T] [--format NAME] [--json]",
  gc: "lowbit hub gc [--data DIR] [--grace SECONDS] [--json]",
} as const;
type Sub = keyof typeof USAGE;

export const HUB_HELP = `lowbit hub: a Hugging Face Hub compatible model server over the lowbit store

Usage:
  lowbit hub serve [--port N] [--host H] [--data DIR] [--store s3://bucket/prefix] [--meta postgres://…] [--max-upload-bytes N]
  lowbit hub token create NAME [--read|--write] [--data DIR] [--json]
  lowbit hub token list [--data DIR] [--json]
  lowbit hub token revoke ID|NAME [--data DIR]
  lowbit hub push DIR REPO [--endpoint URL] [--token T] [--branch B] [--message M] [--private] [--json]
  lowbit hub pull REPO DIR [--revision REV] [--endpoint URL] [--token T] [--format NAME] [--json]
  lowbit hub gc [--data DIR] [--grace SECONDS] [--json]

Commands:
  serve   run the server (HF Hub HTTP API, web page at /, /healthz, /metrics)
  token   create, list and revoke the bearer tokens of a data folder
  push    upload a local directory as one commit, with the official @huggingface/hub client
  pull    download a repo's files into a local directory, every file checked against the tree
  gc      remove stored files no commit references any more (deleted repos), and their variants

Exit codes: 0 success, 1 error (HTTP, data, file system), 2 usage error, 130 interrupted.
Run 'lowbit hub <command> --help' for a command's options.
`;

const SERVE_HELP = `Usage: ${USAGE.serve}

Runs the hub: the Hugging Face Hub HTTP API, the web page at /, /healthz and /metrics. Once the port is
bound it prints "lowbit hub listening on <url> (data: <dir>)" on stderr (with --port 0, the port the
system picked), then one JSON log line per request on stdout.

Options (each falls back to its environment variable, then to the default):
  --port <n>                port, 0 for any free one ($LOWBIT_HUB_PORT; default ${DEFAULT_PORT})
  --host <h>                address to listen on ($LOWBIT_HUB_HOST; default ${DEFAULT_HOST}; 0.0.0.0 for all)
  --data <dir>              data folder, created if missing: hub.db (SQLite metadata), store/ (objects),
                            tmp/ (uploads in flight) ($LOWBIT_HUB_DATA; default ./${DEFAULT_DATA_DIR}, relative
                            to the current directory)
  --store <s3://b/prefix>   keep the objects in S3 instead of <data>/store (endpoint from
                            $LOWBIT_S3_ENDPOINT or $AWS_ENDPOINT_URL, keys from $AWS_ACCESS_KEY_ID and
                            $AWS_SECRET_ACCESS_KEY) ($LOWBIT_HUB_STORE)
  --meta <postgres://…>     keep the metadata in PostgreSQL instead of <data>/hub.db, so several hubs can
                            share it ($LOWBIT_HUB_META; prefer the env: a password shows in ps)
  --max-upload-bytes <n>    largest single uploaded file (default 50 GiB)
  -h, --help                show this help

Environment:
  LOWBIT_HUB_TOKEN          a write token accepted as it is (commits by it are authored "env"), for first
                            runs and tests. There is no --token: a secret on the command line shows in ps.
  LOWBIT_HUB_SECRET         the key that signs upload URLs; give every instance behind one load balancer
                            the same one (default: random per process)

SIGTERM or SIGINT stops accepting connections, lets requests in flight finish (up to 10 s), closes the
stores and exits 0; a second signal exits at once (130 for SIGINT, 143 for SIGTERM).
`;

const TOKEN_HELP = `Usage:
  lowbit hub token create NAME [--read|--write] [--data DIR] [--json]
  lowbit hub token list [--data DIR] [--json]
  lowbit hub token revoke ID|NAME [--data DIR]

Manages the bearer tokens in <data>/hub.db directly (local administration; it works while the server
runs, and the server sees the change on the next request). Only the sha256 of a token is stored.

create: prints the new secret on stdout, once; it cannot be shown again. NAME is 1-64 of A-Z a-z 0-9 . _ -
  --write                 may push, create and delete repos (the default)
  --read                  may read private repos only
  --json                  print {token, id, name, role}
list: id, name, role and creation time of every token (--json: an array of {id, name, role, createdAt}).
revoke: deletes the token with that id, or else that name; exit 1 if there is none.

Every subcommand:
  --data <dir>            the data folder ($LOWBIT_HUB_DATA; default ./${DEFAULT_DATA_DIR})
`;

const PUSH_HELP = `Usage: ${USAGE.push}

Uploads every file under DIR to the repo REPO ("name" or "namespace/name") as one commit, through the
hub's HTTP API with the official @huggingface/hub client: the repo is created if missing, large and
binary files go through LFS (an object the hub already has is not sent again). Paths in the repo are
the paths relative to DIR. Skipped: .git, OS clutter (.DS_Store, Thumbs.db, desktop.ini, ._*), links
to anything outside DIR and links to folders (each with a warning).

Options:
  --endpoint <url>     the hub ($HF_ENDPOINT; default ${DEFAULT_ENDPOINT})
  --token <t>          a write token ($LOWBIT_HUB_TOKEN, then $HF_TOKEN); required
  --branch <b>         branch to commit to (default main)
  --message <m>        commit summary (default "Upload N file(s) with lowbit hub push")
  --private            create the repo private (no effect on a repo that exists)
  --json               print {repo, commit, files, bytes, seconds}
  -q, --quiet          no progress line, no summary
  -h, --help           show this help

On a terminal, stderr shows the bytes uploaded.
`;

const PULL_HELP = `Usage: ${USAGE.pull}

Downloads every file of REPO at --revision into DIR (created if missing), keeping the repo's folders.
The revision is resolved to one commit first, so all files come from the same commit. Each file is
written to a temporary file, checked, then renamed into place: against the tree's sha256 (lfs.oid) for
LFS files and its git blob id (oid) for the others. A mismatch is an error naming the file, and that
file is not written.

Options:
  --revision <rev>     branch or 40-hex commit id (default main)
  --endpoint <url>     the hub ($HF_ENDPOINT; default ${DEFAULT_ENDPOINT})
  --token <t>          a token, needed for private repos ($LOWBIT_HUB_TOKEN, then $HF_TOKEN)
  --format <name>      fetch each .safetensors file as the hub's quantized variant in this lowbit
                       format (nf4, int4, fp8, mxfp4, ...; see GET /api/formats) instead, saved as
                       <name>.<format>.safetensors and checked against the variant's sha256 ETag
  --json               print {repo, revision, commit, files, bytes, seconds}
  -q, --quiet          no progress line, no summary
  -h, --help           show this help

On a terminal, stderr shows the bytes downloaded.
`;

const GC_HELP = `Usage: ${USAGE.gc}

Removes from <data>/store every stored file that no commit of any repo references (what deleting a repo
leaves behind), the quantized variants computed from them, and then the objects nothing reaches. Safe
while the server runs: files stored less than --grace seconds ago (default 3600) are kept, so an upload
whose commit has not arrived yet is never lost.

  --data <dir>        the data folder ($LOWBIT_HUB_DATA; default ./${DEFAULT_DATA_DIR})
  --grace <seconds>   keep what is younger than this (default 3600)
  --json              print {removed, seconds}
`;

const HELP: Record<Sub, string> = {
  serve: SERVE_HELP,
  token: TOKEN_HELP,
  push: PUSH_HELP,
  pull: PULL_HELP,
  gc: GC_HELP,
};

/**
 * Runs `lowbit hub …` (`argv` starts after "hub") and returns the exit code: 0 success, 1 error,
 * 2 usage error, 130 interrupted. Never throws for expected errors: they are printed as
 * `lowbit hub: <message>` on stderr. `serve` returns only once the server has stopped.
 */
export async function hubMain(argv: readonly string[], io: HubCliIo = {}): Promise<number> {
  const ctx: Ctx = {
    stdout: io.stdout ?? process.stdout,
    stderr: io.stderr ?? process.stderr,
    env: io.env ?? process.env,
    cwd: io.cwd ?? process.cwd(),
    signal: io.signal,
  };
  try {
    return await dispatch([...argv], ctx);
  } catch (e) {
    return report(e, ctx);
  }
}

async function dispatch(argv: string[], ctx: Ctx): Promise<number> {
  const [first, ...rest] = argv;
  if (first === undefined) {
    ctx.stderr.write(HUB_HELP);
    return ExitCode.USAGE;
  }
  if (first === "-h" || first === "--help" || (first === "help" && rest[0] === undefined)) {
    ctx.stdout.write(HUB_HELP);
    return ExitCode.OK;
  }
  if (first === "help") {
    ctx.stdout.write(HELP[subcommand(rest[0]!)]);
    return ExitCode.OK;
  }
  const sub = subcommand(first);
  if (wantsHelp(rest)) {
    ctx.stdout.write(HELP[sub]);
    return ExitCode.OK;
  }
  switch (sub) {
    case "serve":
      return runServe(rest, ctx);
    case "token":
      return runToken(rest, ctx);
    case "push":
      return runPush(rest, ctx);
    case "pull":
      return runPull(rest, ctx);
    case "gc":
      return runGc(rest, ctx);
  }
}

function subcommand(name: string): Sub {
  if (Object.hasOwn(USAGE, name)) return name as Sub;
  throw new UsageError(
    `unknown command ${JSON.stringify(name)}; commands: ${Object.keys(USAGE).join(", ")}`,
    undefined,
  );
}

function wantsHelp(args: string[]): boolean {
  for (const a of args) {
    if (a === "--") return false;
    if (a === "-h" || a === "--help") return true;
  }
  return false;
}

function report(e: unknown, ctx: Ctx): number {
  if (e instanceof UsageError) {
    const sub = e.command as Sub | undefined;
    const usage = sub === undefined ? "" : `usage: ${USAGE[sub]}\n`;
    const help = sub === undefined ? "lowbit hub --help" : `lowbit hub ${sub} --help`;
    ctx.stderr.write(`lowbit hub: ${e.message}\n${usage}Run '${help}' for details.\n`);
    return ExitCode.USAGE;
  }
  if ((e instanceof Error && e.name === "AbortError") || ctx.signal?.aborted) {
    ctx.stderr.write("lowbit hub: interrupted\n");
    return ExitCode.INTERRUPTED;
  }
  ctx.stderr.write(`lowbit hub: ${describeError(e)}\n`);
  if (!isExpected(e) && e instanceof Error && e.stack !== undefined) ctx.stderr.write(`${e.stack}\n`);
  return ExitCode.ERROR;
}

/** An HTTP answer that was not a success, from a request this file makes itself. */
class HttpFailure extends Error {
  readonly status: number;

  constructor(status: number, message: string) {
    super(message);
    this.name = "HttpFailure";
    this.status = status;
  }
}

function describeError(e: unknown): string {
  if (e instanceof HubApiError) {
    // The client appends ". URL: …" to the server's message; keep the server's own words and say where.
    const data = e.data as { error?: unknown } | undefined;
    const text = typeof data?.error === "string" ? data.error : e.message.replace(/\. URL: .*$/s, "");
    return `${text} (HTTP ${e.statusCode} from ${e.url})`;
  }
  // fetch hides the reason (ECONNREFUSED, ENOTFOUND, …) in `cause`.
  if (e instanceof TypeError && e.message === "fetch failed") {
    const cause = (e as { cause?: unknown }).cause;
    return `cannot reach the hub: ${cause instanceof Error ? cause.message : String(cause)}`;
  }
  return e instanceof Error ? e.message : String(e);
}

function isExpected(e: unknown): boolean {
  if (e instanceof LowbitError || e instanceof RangeError || e instanceof HubApiError) return true;
  if (e instanceof HttpFailure || e instanceof TypeError) return true;
  // Node's system errors (ENOENT, EADDRINUSE, …) carry a string code and a readable message.
  return e instanceof Error && typeof (e as { code?: unknown }).code === "string";
}

function parse<const O extends NonNullable<ParseArgsConfig["options"]>>(
  sub: Sub,
  args: string[],
  options: O,
) {
  try {
    return parseArgs({ args, options, allowPositionals: true, strict: true });
  } catch (e) {
    const code = (e as { code?: unknown }).code;
    if (typeof code === "string" && code.startsWith("ERR_PARSE_ARGS")) {
      throw new UsageError((e as Error).message.split("\n").slice(0, 2).join(" "), sub);
    }
    throw e;
  }
}

function positionals(sub: Sub, got: string[], names: readonly string[]): string[] {
  if (got.length !== names.length) {
    throw new UsageError(`expected ${names.join(" and ")}, got ${got.length} argument(s)`, sub);
  }
  return got;
}

/** A flag, else its environment variable; "" in the environment counts as unset. */
function option(
  flag: string | undefined,
  env: Ctx["env"],
  name: string,
): { value: string; from: string } | undefined {
  if (flag !== undefined) return { value: flag, from: "" };
  const v = env[name];
  return v === undefined || v === "" ? undefined : { value: v, from: name };
}

function integer(text: string, what: string, min: number, max: number, sub: Sub): number {
  const n = /^[0-9]+$/.test(text) ? Number(text) : Number.NaN;
  if (!Number.isSafeInteger(n) || n < min || n > max) {
    throw new UsageError(`${what} must be an integer in [${min}, ${max}]; got ${JSON.stringify(text)}`, sub);
  }
  return n;
}

function dataDir(flag: string | undefined, ctx: Ctx): string {
  return resolve(ctx.cwd, option(flag, ctx.env, "LOWBIT_HUB_DATA")?.value ?? DEFAULT_DATA_DIR);
}

/** Re-throws a RangeError/TypeError from a validator as a usage error of `sub`. */
function usage<T>(sub: Sub, fn: () => T): T {
  try {
    return fn();
  } catch (e) {
    if (e instanceof RangeError || e instanceof TypeError) throw new UsageError(e.message, sub);
    throw e;
  }
}

// ------------------------------------------------------------------------------------------- serve

async function runServe(args: string[], ctx: Ctx): Promise<number> {
  const { values, positionals: rest } = parse("serve", args, {
    port: { type: "string" },
    host: { type: "string" },
    data: { type: "string" },
    store: { type: "string" },
    meta: { type: "string" },
    "max-upload-bytes": { type: "string" },
    // Only to say why it is refused.
    token: { type: "string" },
  });
  positionals("serve", rest, []);
  if (values.token !== undefined) {
    throw new UsageError(
      "serve takes no --token (a secret on the command line shows in ps); set LOWBIT_HUB_TOKEN instead",
      "serve",
    );
  }
  const port = option(values.port, ctx.env, "LOWBIT_HUB_PORT");
  const host = option(values.host, ctx.env, "LOWBIT_HUB_HOST")?.value ?? DEFAULT_HOST;
  const dir = dataDir(values.data, ctx);
  const token = option(undefined, ctx.env, "LOWBIT_HUB_TOKEN")?.value;
  const store = option(values.store, ctx.env, "LOWBIT_HUB_STORE")?.value;
  const meta = option(values.meta, ctx.env, "LOWBIT_HUB_META")?.value;
  if (meta !== undefined && !/^postgres(ql)?:\/\//.test(meta)) {
    throw new UsageError("--meta must be a postgres:// connection string", "serve");
  }
  const secret = option(undefined, ctx.env, "LOWBIT_HUB_SECRET")?.value;
  if (store !== undefined && !/^s3:\/\/[^/]+/.test(store)) {
    throw new UsageError(`--store must be s3://bucket[/prefix]; got ${JSON.stringify(store)}`, "serve");
  }
  const maxUpload = values["max-upload-bytes"];

  // Signals are watched from the start, so one that comes while the stores open still stops cleanly.
  // Only signals count towards "a second one exits at once": a bin that also turns SIGINT into an
  // abort of `signal` hears the same Ctrl-C twice.
  let reason = "stopping";
  let signals = 0;
  let stop!: () => void;
  const stopped = new Promise<void>((r) => {
    stop = r;
  });
  const onSignal = (name: NodeJS.Signals) => {
    if (++signals > 1) {
      ctx.stderr.write(`lowbit hub: ${name} again: exiting now\n`);
      process.exit(name === "SIGINT" ? 130 : 143);
    }
    reason = `${name} received`;
    stop();
  };
  process.on("SIGTERM", onSignal);
  process.on("SIGINT", onSignal);
  ctx.signal?.addEventListener("abort", stop, { once: true });
  if (ctx.signal?.aborted) stop();
  try {
    const hub = await startHub({
      dataDir: dir,
      host,
      port: port === undefined ? DEFAULT_PORT : integer(port.value, port.from || "--port", 0, 65535, "serve"),
      token,
      store,
      meta,
      secret,
      ...(maxUpload === undefined
        ? {}
        : { maxUploadBytes: integer(maxUpload, "--max-upload-bytes", 1, Number.MAX_SAFE_INTEGER, "serve") }),
      log: (entry: HubLogEntry) => ctx.stdout.write(`${JSON.stringify(entry)}\n`),
    });
    const where = store === undefined ? `data: ${dir}` : `data: ${dir}, store: ${store}`;
    ctx.stderr.write(`lowbit hub listening on ${hub.url} (${where})\n`);
    await stopped;
    ctx.stderr.write(
      `lowbit hub: ${reason}: finishing requests in flight (up to ${SHUTDOWN_GRACE_MS / 1000} s)\n`,
    );
    await hub.close(SHUTDOWN_GRACE_MS);
    ctx.stderr.write("lowbit hub: stopped\n");
    return ExitCode.OK;
  } finally {
    process.off("SIGTERM", onSignal);
    process.off("SIGINT", onSignal);
    ctx.signal?.removeEventListener("abort", stop);
  }
}

// ------------------------------------------------------------------------------------------- token

// ---------------------------------------------------------------------------------------------- gc

async function runGc(args: string[], ctx: Ctx): Promise<number> {
  const { values, positionals: rest } = parse("gc", args, {
    data: { type: "string" },
    grace: { type: "string" },
    json: { type: "boolean" },
  });
  positionals("gc", rest, []);
  const graceMs =
    values.grace === undefined ? 3_600_000 : integer(values.grace, "--grace", 0, 10 ** 9, "gc") * 1000;
  const dir = dataDir(values.data, ctx);
  const meta = await openMeta(dir, false);
  if (meta === undefined) throw new NotFoundError(`no hub data in ${dir} (no hub.db)`);
  const started = performance.now();
  try {
    const keep = meta.allBlobs();
    const blobs = await Blobs.open({ dir });
    try {
      const { removed } = await blobs.gc(keep, { graceMs });
      const seconds = (performance.now() - started) / 1000;
      if (values.json === true) ctx.stdout.write(`${JSON.stringify({ removed, seconds })}\n`);
      else
        ctx.stdout.write(
          `removed ${removed} stored file(s) no commit references (${seconds.toFixed(2)} s)\n`,
        );
    } finally {
      await blobs.close();
    }
  } finally {
    meta.close();
  }
  return ExitCode.OK;
}

async function runToken(args: string[], ctx: Ctx): Promise<number> {
  const [sub, ...rest] = args;
  if (sub === "create") return runTokenCreate(rest, ctx);
  if (sub === "list") return runTokenList(rest, ctx);
  if (sub === "revoke") return runTokenRevoke(rest, ctx);
  throw new UsageError(
    sub === undefined
      ? "missing subcommand: create, list, revoke"
      : `unknown subcommand ${JSON.stringify(sub)}; subcommands: create, list, revoke`,
    "token",
  );
}

/** Opens `<data>/hub.db`; with `create` false, undefined when there is none (nothing to list or revoke). */
async function openMeta(dir: string, create: boolean): Promise<Meta | undefined> {
  const file = join(dir, "hub.db");
  if (create) await mkdir(dir, { recursive: true });
  else if (!(await exists(file))) return undefined;
  return Meta.open(file);
}

async function exists(path: string): Promise<boolean> {
  try {
    await access(path);
    return true;
  } catch {
    return false;
  }
}

async function runTokenCreate(args: string[], ctx: Ctx): Promise<number> {
  const { values, positionals: rest } = parse("token", args, {
    read: { type: "boolean" },
    write: { type: "boolean" },
    data: { type: "string" },
    json: { type: "boolean" },
  });
  const [name] = positionals("token", rest, ["NAME"]) as [string];
  if (values.read === true && values.write === true)
    throw new UsageError("--read and --write exclude each other", "token");
  const role: TokenRole = values.read === true ? "read" : "write";
  const meta = (await openMeta(dataDir(values.data, ctx), true))!;
  let created: { token: string; info: TokenInfo };
  try {
    created = usage("token", () => meta.createToken(name, role));
  } finally {
    meta.close();
  }
  const { token, info } = created;
  if (values.json === true) {
    ctx.stdout.write(`${JSON.stringify({ token, id: info.id, name: info.name, role: info.role })}\n`);
  } else {
    ctx.stdout.write(`${token}\n`);
    ctx.stderr.write(
      `created ${info.role} token ${JSON.stringify(info.name)} (id ${info.id}); it is shown only this once\n`,
    );
  }
  return ExitCode.OK;
}

async function runTokenList(args: string[], ctx: Ctx): Promise<number> {
  const { values, positionals: rest } = parse("token", args, {
    data: { type: "string" },
    json: { type: "boolean" },
  });
  positionals("token", rest, []);
  const dir = dataDir(values.data, ctx);
  const meta = await openMeta(dir, false);
  let tokens: readonly TokenInfo[] = [];
  try {
    if (meta !== undefined) tokens = meta.listTokens();
  } finally {
    meta?.close();
  }
  if (values.json === true) {
    ctx.stdout.write(`${JSON.stringify(tokens, null, 2)}\n`);
  } else if (tokens.length === 0) {
    ctx.stdout.write(`no tokens in ${join(dir, "hub.db")}\n`);
  } else {
    const rows = [
      ["ID", "NAME", "ROLE", "CREATED"],
      ...tokens.map((t) => [t.id, t.name, t.role, t.createdAt]),
    ];
    const widths = rows[0]!.map((_, i) => Math.max(...rows.map((r) => r[i]!.length)));
    for (const r of rows)
      ctx.stdout.write(
        `${r
          .map((c, i) => c.padEnd(widths[i]!))
          .join("  ")
          .trimEnd()}\n`,
      );
  }
  return ExitCode.OK;
}

async function runTokenRevoke(args: string[], ctx: Ctx): Promise<number> {
  const { values, positionals: rest } = parse("token", args, { data: { type: "string" } });
  const [which] = positionals("token", rest, ["ID|NAME"]) as [string];
  const dir = dataDir(values.data, ctx);
  const meta = await openMeta(dir, false);
  let gone: TokenInfo | undefined;
  try {
    if (meta !== undefined) {
      const all = meta.listTokens();
      // The same order as revokeToken: an id first, then a name.
      gone = all.find((t) => t.id === which) ?? all.find((t) => t.name === which);
      if (gone !== undefined && !meta.revokeToken(gone.id)) gone = undefined;
    }
  } finally {
    meta?.close();
  }
  if (gone === undefined) {
    throw new NotFoundError(`no token with id or name ${JSON.stringify(which)} in ${join(dir, "hub.db")}`);
  }
  ctx.stdout.write(`revoked ${gone.role} token ${JSON.stringify(gone.name)} (id ${gone.id})\n`);
  return ExitCode.OK;
}

// --------------------------------------------------------------------------------------- push, pull

interface Remote {
  readonly endpoint: string;
  readonly token: string | undefined;
  /** fetch with the token on requests to the endpoint's origin, and the command's AbortSignal. */
  readonly fetch: typeof fetch;
}

function remote(sub: Sub, values: { endpoint?: string; token?: string }, ctx: Ctx): Remote {
  const raw = option(values.endpoint, ctx.env, "HF_ENDPOINT")?.value ?? DEFAULT_ENDPOINT;
  let url: URL;
  try {
    url = new URL(raw);
  } catch {
    throw new UsageError(`--endpoint must be an http(s) URL; got ${JSON.stringify(raw)}`, sub);
  }
  if (url.protocol !== "http:" && url.protocol !== "https:") {
    throw new UsageError(`--endpoint must be an http(s) URL; got ${JSON.stringify(raw)}`, sub);
  }
  const endpoint = url.href.replace(/\/+$/, "");
  const token =
    values.token ??
    option(undefined, ctx.env, "LOWBIT_HUB_TOKEN")?.value ??
    option(undefined, ctx.env, "HF_TOKEN")?.value;
  const origin = url.origin;
  const signal = ctx.signal;
  // The client's own `accessToken` must start with "hf_", which a LOWBIT_HUB_TOKEN need not. Passing the
  // header through `fetch` (which the client supports for exactly this) works for any token, and keeps
  // it off any other origin an answer might point to.
  const authed: typeof fetch = (input, init = {}) => {
    const href = typeof input === "string" ? input : input instanceof URL ? input.href : input.url;
    const headers = new Headers(init.headers ?? (input instanceof Request ? input.headers : undefined));
    if (token !== undefined && !headers.has("authorization") && new URL(href).origin === origin) {
      headers.set("Authorization", `Bearer ${token}`);
    }
    return fetch(input, {
      ...init,
      headers,
      ...(init.signal == null && signal !== undefined ? { signal } : {}),
    });
  };
  return { endpoint, token, fetch: authed };
}

/** A one-line byte counter redrawn in place on a terminal; nothing otherwise. */
function byteProgress(ctx: Ctx, quiet: boolean) {
  const tty = !quiet && ctx.stderr.isTTY === true;
  const started = Date.now();
  let last = 0;
  let drawn = false;
  return {
    update(label: string, done: number, total: number, force = false) {
      if (!tty) return;
      const now = Date.now();
      // A redraw per chunk would cost more than the chunk.
      if (!force && now - last < 100) return;
      last = now;
      const pct = total > 0 ? Math.min(100, Math.floor((done / total) * 100)) : 100;
      const rate = done / 1e6 / Math.max((now - started) / 1000, 1e-3);
      ctx.stderr.write(
        `\r${label} ${String(pct).padStart(3)}% ${done}/${total} bytes ${rate.toFixed(1)} MB/s\x1b[K`,
      );
      drawn = true;
    },
    done() {
      if (drawn) ctx.stderr.write("\r\x1b[K");
      drawn = false;
    },
  };
}

/** File names that operating systems leave behind and nobody means to publish. */
const JUNK = new Set([
  ".git",
  ".DS_Store",
  "Thumbs.db",
  "desktop.ini",
  "__MACOSX",
  ".Spotlight-V100",
  ".Trashes",
]);

interface LocalFile {
  /** Repo path, "/"-separated. */
  readonly path: string;
  /** Where to read it (a link's target). */
  readonly file: string;
  readonly size: number;
}

/** Every file under `root` to push, sorted by repo path; links are followed only to files inside `root`. */
async function collectFiles(root: string, warn: (message: string) => void): Promise<LocalFile[]> {
  const rootReal = await realpath(root);
  if (!(await stat(rootReal)).isDirectory()) throw new RangeError(`DIR must be a directory; ${root} is not`);
  const inside = (p: string) => p === rootReal || p.startsWith(rootReal + sep);
  const out: LocalFile[] = [];
  const walk = async (dir: string, prefix: string): Promise<void> => {
    const entries = await readdir(dir, { withFileTypes: true });
    for (const entry of entries) {
      const name = entry.name;
      if (JUNK.has(name) || name.startsWith("._")) continue;
      const full = join(dir, name);
      const path = prefix === "" ? name : `${prefix}/${name}`;
      if (entry.isDirectory()) {
        await walk(full, path);
      } else if (entry.isFile()) {
        out.push({ path, file: full, size: (await lstat(full)).size });
      } else if (entry.isSymbolicLink()) {
        let target: string;
        try {
          target = await realpath(full);
        } catch {
          warn(`skipping ${path}: a broken link`);
          continue;
        }
        const st = await stat(target);
        if (!inside(target)) warn(`skipping ${path}: a link to ${target}, outside ${root}`);
        else if (!st.isFile()) warn(`skipping ${path}: links to folders are not followed`);
        else out.push({ path, file: target, size: st.size });
      } else {
        warn(`skipping ${path}: not a regular file`);
      }
    }
  };
  await walk(rootReal, "");
  for (const f of out) assertRepoPath(f.path, `file ${JSON.stringify(f.path)}`);
  return out.sort((a, b) => (a.path < b.path ? -1 : a.path > b.path ? 1 : 0));
}

async function runPush(args: string[], ctx: Ctx): Promise<number> {
  const { values, positionals: rest } = parse("push", args, {
    endpoint: { type: "string" },
    token: { type: "string" },
    branch: { type: "string" },
    message: { type: "string" },
    private: { type: "boolean" },
    json: { type: "boolean" },
    quiet: { type: "boolean", short: "q" },
  });
  const [dirArg, repo] = positionals("push", rest, ["DIR", "REPO"]) as [string, string];
  usage("push", () => assertRepoId(repo, "REPO"));
  const branch = values.branch ?? "main";
  usage("push", () => assertBranchName(branch, "--branch"));
  const hub = remote("push", values, ctx);
  if (hub.token === undefined) {
    throw new UsageError("push needs a write token: --token, or set LOWBIT_HUB_TOKEN or HF_TOKEN", "push");
  }
  const quiet = values.quiet === true || values.json === true;
  const started = performance.now();
  const dir = resolve(ctx.cwd, dirArg);
  const files = await collectFiles(dir, (m) => ctx.stderr.write(`lowbit hub: warning: ${m}\n`));
  if (files.length === 0) throw new RangeError(`nothing to push: ${dir} holds no files`);
  const total = files.reduce((a, f) => a + f.size, 0);

  await ensureRepo(hub, repo, values.private === true);
  const operations: CommitOperation[] = [];
  for (const f of files) {
    // A lazy Blob over the file: the client reads it to hash and to send, never whole into memory.
    operations.push({ operation: "addOrUpdate", path: f.path, content: await openAsBlob(f.file) });
  }
  const sizes = new Map(files.map((f) => [f.path, f.size]));
  const uploaded = new Map<string, number>();
  const progress = byteProgress(ctx, quiet);
  let label = "push: preuploading";
  const iterator = commitIter({
    repo: { type: "model", name: repo },
    operations,
    title: values.message ?? `Upload ${files.length} file(s) with lowbit hub push`,
    branch,
    hubUrl: hub.endpoint,
    fetch: hub.fetch,
    // The hub speaks plain LFS; the client would fall back on its own, after a wasted round trip.
    useXet: false,
    ...(ctx.signal !== undefined ? { abortSignal: ctx.signal } : {}),
  });
  let commitOid: string | null = null;
  try {
    for (;;) {
      const step = await iterator.next();
      if (step.done) {
        commitOid = step.value?.commit.oid ?? null;
        break;
      }
      const ev = step.value;
      if (ev.event === "phase") label = `push: ${ev.phase}`;
      else if (ev.state === "uploading") uploaded.set(ev.path, ev.progress);
      let done = 0;
      for (const [path, fraction] of uploaded) done += (sizes.get(path) ?? 0) * fraction;
      progress.update(label, Math.round(done), total, ev.event === "phase");
    }
    progress.update("push: committed", total, total, true);
  } finally {
    progress.done();
  }
  const seconds = (performance.now() - started) / 1000;
  if (values.json === true) {
    ctx.stdout.write(
      `${JSON.stringify({ repo, commit: commitOid, files: files.length, bytes: total, seconds })}\n`,
    );
  } else if (!quiet) {
    ctx.stdout.write(
      `pushed ${files.length} file(s), ${total} bytes to ${repo}@${branch}: commit ${commitOid ?? "(none)"}; ` +
        `${seconds.toFixed(2)} s, ${(total / 1e6 / Math.max(seconds, 1e-3)).toFixed(1)} MB/s\n`,
    );
  }
  return ExitCode.OK;
}

/**
 * Creates the repo; one that exists already (409) is fine. The request is the one the client's
 * `createRepo` sends, made here because `createRepo` demands an "hf_" token (LOWBIT_HUB_TOKEN may be
 * anything) and a "namespace/name" id (bare names are valid repo ids on the hub).
 */
async function ensureRepo(hub: Remote, repo: string, isPrivate: boolean): Promise<void> {
  const slash = repo.indexOf("/");
  const name =
    slash < 0 ? { name: repo } : { name: repo.slice(slash + 1), organization: repo.slice(0, slash) };
  const res = await hub.fetch(`${hub.endpoint}/api/repos/create`, {
    method: "POST",
    headers: { "Content-Type": "application/json" },
    body: JSON.stringify({ ...name, type: "model", ...(isPrivate ? { visibility: "private" } : {}) }),
  });
  if (res.status !== 409) await ensureOk(res, "POST");
  await res.body?.cancel();
}

/** Throws an HttpFailure with the server's message (X-Error-Message, else the JSON `error`). */
async function ensureOk(res: Response, method: string): Promise<void> {
  if (res.ok) return;
  let text = res.headers.get("x-error-message") ?? "";
  const body = await res.text().catch(() => "");
  if (text === "") {
    try {
      const json = JSON.parse(body) as { error?: unknown };
      if (typeof json.error === "string") text = json.error;
    } catch {
      text = body.slice(0, 200);
    }
  }
  throw new HttpFailure(
    res.status,
    `${text || res.statusText} (HTTP ${res.status} from ${method} ${res.url})`,
  );
}

const FORMAT_NAME = /^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$/;

interface PullItem {
  /** Repo path. */
  readonly path: string;
  /** Local file it becomes. */
  readonly target: string;
  readonly size: number;
  /** Expected hash: sha256 of an LFS file, git blob sha1 of a regular one; variants check their ETag. */
  readonly check: { readonly algo: "sha256" | "git-sha1"; readonly hex: string } | "variant";
}

async function runPull(args: string[], ctx: Ctx): Promise<number> {
  const { values, positionals: rest } = parse("pull", args, {
    revision: { type: "string" },
    endpoint: { type: "string" },
    token: { type: "string" },
    format: { type: "string" },
    json: { type: "boolean" },
    quiet: { type: "boolean", short: "q" },
  });
  const [repo, dirArg] = positionals("pull", rest, ["REPO", "DIR"]) as [string, string];
  usage("pull", () => assertRepoId(repo, "REPO"));
  const revision = values.revision ?? "main";
  // biome-ignore lint/suspicious/noControlCharactersInRegex: the point is to reject them
  if (revision === "" || /[\u0000-\u001f\u007f]/.test(revision)) {
    throw new UsageError(`--revision must be a branch or commit id; got ${JSON.stringify(revision)}`, "pull");
  }
  const format = values.format;
  if (format !== undefined && !FORMAT_NAME.test(format)) {
    throw new UsageError(`--format must be a format name such as nf4; got ${JSON.stringify(format)}`, "pull");
  }
  const hub = remote("pull", values, ctx);
  const quiet = values.quiet === true || values.json === true;
  const started = performance.now();
  const dir = resolve(ctx.cwd, dirArg);
  const repoDesignation = { type: "model" as const, name: repo };

  // One commit for every file, even if the branch moves meanwhile.
  const info = await modelInfo({
    name: repo,
    revision,
    hubUrl: hub.endpoint,
    fetch: hub.fetch,
    additionalFields: ["sha"],
  });
  const commit = info.sha;
  if (typeof commit !== "string" || !/^[0-9a-f]{40}$/.test(commit)) {
    throw new HttpFailure(200, `the hub gave no commit id for ${repo}@${revision}`);
  }
  const items: PullItem[] = [];
  const targets = new Set<string>();
  for await (const entry of listFiles({
    repo: repoDesignation,
    revision: commit,
    recursive: true,
    hubUrl: hub.endpoint,
    fetch: hub.fetch,
  })) {
    if (entry.type !== "file") continue;
    // The tree comes from the network: a path must not climb out of DIR.
    assertRepoPath(entry.path, `path ${JSON.stringify(entry.path)} in the tree`);
    const variant = format !== undefined && entry.path.endsWith(".safetensors");
    const local = variant
      ? `${entry.path.slice(0, -".safetensors".length)}.${format}.safetensors`
      : entry.path;
    const target = join(dir, ...local.split("/"));
    if (targets.has(target)) throw new RangeError(`two files of ${repo} would both be written to ${target}`);
    targets.add(target);
    const check = variant
      ? "variant"
      : entry.lfs !== undefined
        ? { algo: "sha256" as const, hex: entry.lfs.oid }
        : { algo: "git-sha1" as const, hex: entry.oid ?? "" };
    items.push({ path: entry.path, target, size: entry.lfs?.size ?? entry.size, check });
  }

  let total = items.reduce((a, f) => a + f.size, 0);
  let done = 0;
  const progress = byteProgress(ctx, quiet);
  await mkdir(dir, { recursive: true });
  try {
    for (const item of items) {
      const label = `pull: ${item.path}`;
      const onBytes = (n: number) => {
        done += n;
        progress.update(label, done, total);
      };
      await mkdir(join(item.target, ".."), { recursive: true });
      if (item.check === "variant") {
        const size = await pullVariant(hub, repo, commit, item, format!, onBytes, ctx.signal);
        // The variant's size is known only once it arrives.
        total += size - item.size;
      } else {
        const encoded = item.path.split("/").map(encodeURIComponent).join("/");
        const blob = await downloadFile({
          repo: repoDesignation,
          path: encoded,
          revision: commit,
          hubUrl: hub.endpoint,
          fetch: hub.fetch,
          xet: false,
        });
        if (blob === null)
          throw new NotFoundError(`${item.path} is in the tree of ${commit} but the hub has no such file`);
        await writeChecked(item.target, item.path, blob.stream(), item.size, item.check, onBytes);
      }
    }
    progress.update("pull: done", total, total, true);
  } finally {
    progress.done();
  }
  const seconds = (performance.now() - started) / 1000;
  if (values.json === true) {
    ctx.stdout.write(
      `${JSON.stringify({ repo, revision, commit, files: items.length, bytes: total, seconds })}\n`,
    );
  } else if (!quiet) {
    ctx.stdout.write(
      `pulled ${items.length} file(s), ${total} bytes from ${repo}@${revision} (commit ${commit}) into ${dir}; ` +
        `${seconds.toFixed(2)} s, ${(total / 1e6 / Math.max(seconds, 1e-3)).toFixed(1)} MB/s\n`,
    );
  }
  return ExitCode.OK;
}

/**
 * Fetches `?format=` of a .safetensors file (the client's downloadFile takes no query) and checks it
 * against the variant's ETag, which is its sha256. Returns its size.
 */
async function pullVariant(
  hub: Remote,
  repo: string,
  commit: string,
  item: PullItem,
  format: string,
  onBytes: (n: number) => void,
  signal: AbortSignal | undefined,
): Promise<number> {
  const encoded = item.path.split("/").map(encodeURIComponent).join("/");
  const url = `${hub.endpoint}/${repo}/resolve/${commit}/${encoded}?format=${encodeURIComponent(format)}`;
  const res = await hub.fetch(url, signal === undefined ? {} : { signal });
  await ensureOk(res, "GET");
  const etag = (res.headers.get("x-linked-etag") ?? res.headers.get("etag") ?? "")
    .replace(/^W\//, "")
    .replaceAll('"', "");
  if (!/^[0-9a-f]{64}$/.test(etag)) {
    await res.body?.cancel();
    throw new IntegrityError(
      `${item.path}: the ${format} variant came without a sha256 ETag to check it against`,
    );
  }
  const size = Number(res.headers.get("content-length"));
  if (res.body === null || !Number.isSafeInteger(size)) {
    await res.body?.cancel();
    throw new IntegrityError(`${item.path}: the ${format} variant came without a Content-Length`);
  }
  await writeChecked(
    item.target,
    `${item.path} (${format})`,
    res.body,
    size,
    { algo: "sha256", hex: etag },
    onBytes,
  );
  return size;
}

/** Streams `body` into `target` atomically; a wrong size or hash throws IntegrityError and writes nothing. */
async function writeChecked(
  target: string,
  what: string,
  body: ReadableStream<Uint8Array>,
  size: number,
  check: { readonly algo: "sha256" | "git-sha1"; readonly hex: string },
  onBytes: (n: number) => void,
): Promise<void> {
  // git's blob id is sha1("blob <size>\0" + content), as `gitBlobOid`; hashed as it streams here.
  const hash = check.algo === "sha256" ? createHash("sha256") : createHash("sha1").update(`blob ${size}\0`);
  await writeAtomically(target, async (fh) => {
    let n = 0;
    try {
      for await (const chunk of body as unknown as AsyncIterable<Uint8Array>) {
        n += chunk.length;
        if (n > size) throw new IntegrityError(`${what}: more than the ${size} bytes the tree lists`);
        hash.update(chunk);
        let off = 0;
        while (off < chunk.length) off += (await fh.write(chunk, off, chunk.length - off)).bytesWritten;
        onBytes(chunk.length);
      }
    } catch (e) {
      // The client's stream fails with the message text alone; give it back its Error shape.
      throw typeof e === "string" ? new Error(`${what}: ${e}`) : e;
    }
    if (n !== size)
      throw new IntegrityError(`${what}: got ${n} bytes, the tree lists ${size}; nothing written`);
    const got = hash.digest("hex");
    if (got !== check.hex) {
      const kind = check.algo === "sha256" ? "sha256" : "git blob id";
      throw new IntegrityError(
        `${what}: ${kind} ${got} does not match the hub's ${check.hex}; nothing written`,
      );
    }
  });
}
