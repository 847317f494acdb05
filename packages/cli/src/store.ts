import { stat } from "node:fs/promises";
import { basename } from "node:path";
import type {
  Backend,
  GcReport,
  IngestResult,
  ModelSummary,
  StoreApi,
  StoreStats,
  VerifyReport,
} from "@lowbit/store";
import { type Column, formatSize, renderTable } from "./_text.js";

/**
 * The library side of `lowbit store`: where a `--store` argument points, opening the store with the
 * zstd compressor, and the text and JSON each subcommand prints. Flag parsing lives in main.ts.
 */

/** A local store folder, or a prefix of an S3 (or S3-compatible) bucket. */
export type StoreLocation =
  | { readonly kind: "fs"; readonly path: string }
  | {
      readonly kind: "s3";
      readonly bucket: string;
      readonly prefix: string;
      readonly endpoint: string | undefined;
      readonly region: string;
      readonly credentials: { readonly accessKeyId: string; readonly secretAccessKey: string } | undefined;
    };

/** The environment variables `--store s3://…` reads (the AWS CLI's names). */
export type StoreEnv = Readonly<Record<string, string | undefined>>;

const S3_URL = /^s3:\/\/([^/]+)(?:\/(.*))?$/;

/**
 * Reads `--store`: `s3://bucket/prefix` is an S3 location (endpoint from `--s3-endpoint` or
 * AWS_ENDPOINT_URL, region AWS_REGION or us-east-1, keys AWS_ACCESS_KEY_ID / AWS_SECRET_ACCESS_KEY,
 * else the SDK's default chain); anything else is a local folder.
 * Throws RangeError for a malformed s3 URL or an endpoint given for a local store.
 */
export function parseStoreLocation(
  spec: string,
  s3Endpoint: string | undefined,
  env: StoreEnv,
): StoreLocation {
  if (!spec.startsWith("s3://")) {
    if (s3Endpoint !== undefined) throw new RangeError("--s3-endpoint applies only to an s3:// store");
    if (spec === "") throw new RangeError("--store must not be empty");
    return { kind: "fs", path: spec };
  }
  const m = S3_URL.exec(spec);
  if (m === null) throw new RangeError(`--store must be s3://bucket[/prefix], got ${JSON.stringify(spec)}`);
  const prefix = (m[2] ?? "").replace(/\/+$/, "");
  const endpoint = s3Endpoint ?? nonEmpty(env["AWS_ENDPOINT_URL"]);
  if (endpoint !== undefined && !/^https?:\/\/[^/]/.test(endpoint)) {
    throw new RangeError(`the S3 endpoint must be an http(s) URL, got ${JSON.stringify(endpoint)}`);
  }
  const accessKeyId = nonEmpty(env["AWS_ACCESS_KEY_ID"]);
  const secretAccessKey = nonEmpty(env["AWS_SECRET_ACCESS_KEY"]);
  const credentials =
    accessKeyId !== undefined && secretAccessKey !== undefined ? { accessKeyId, secretAccessKey } : undefined;
  return {
    kind: "s3",
    bucket: m[1]!,
    prefix,
    endpoint,
    region: nonEmpty(env["AWS_REGION"]) ?? "us-east-1",
    credentials,
  };
}

function nonEmpty(v: string | undefined): string | undefined {
  return v === undefined || v === "" ? undefined : v;
}

/** Where the store lives, for messages. */
export function describeLocation(location: StoreLocation): string {
  if (location.kind === "fs") return location.path;
  return `s3://${location.bucket}${location.prefix === "" ? "" : `/${location.prefix}`}`;
}

async function backendOf(location: StoreLocation & { kind: "s3" }): Promise<Backend & { close(): void }> {
  // Loaded only for s3:// stores: the AWS SDK is large and local stores never need it.
  const { s3Backend } = await import("@lowbit/store-s3");
  return s3Backend({
    bucket: location.bucket,
    prefix: location.prefix,
    region: location.region,
    // S3-compatible servers (MinIO, Ceph, a local test server) address buckets by path.
    ...(location.endpoint !== undefined ? { endpoint: location.endpoint, forcePathStyle: true } : {}),
    ...(location.credentials !== undefined ? { credentials: location.credentials } : {}),
  });
}

/**
 * Opens (or with `create`, creates) the store at `location` with a zstd compressor, runs `fn` on it
 * and closes both, also when `fn` throws.
 */
export async function withStore<T>(
  location: StoreLocation,
  mode: "init" | "open",
  fn: (store: StoreApi) => Promise<T>,
): Promise<T> {
  // Imported here so the other commands never load the native zstd module.
  const [{ Store }, { zstdCompressor }] = await Promise.all([
    import("@lowbit/store"),
    import("@lowbit/zstd"),
  ]);
  const compressor = zstdCompressor();
  let backend: (Backend & { close(): void }) | null = null;
  try {
    if (location.kind === "s3") backend = await backendOf(location);
    const target = location.kind === "fs" ? location.path : backend!;
    const store =
      mode === "init" ? await Store.init(target, { compressor }) : await Store.open(target, { compressor });
    try {
      return await fn(store);
    } finally {
      await store.close();
    }
  } finally {
    backend?.close();
    await compressor.close();
  }
}

/**
 * What `store.ingest` gets for the command's arguments: one directory as it is (its files,
 * recursively, with paths relative to it) or a list of files (each named by its basename).
 * Throws RangeError for a mix of directories and files, a directory among several arguments, or two
 * files with the same basename.
 */
export async function ingestInput(paths: readonly string[]): Promise<string | string[]> {
  const kinds = await Promise.all(paths.map(async (p) => ((await stat(p)).isDirectory() ? "dir" : "file")));
  if (kinds.includes("dir")) {
    if (paths.length === 1) return paths[0]!;
    throw new RangeError("give one directory, or one or more files, not both");
  }
  const seen = new Map<string, string>();
  for (const p of paths) {
    const name = basename(p);
    const other = seen.get(name);
    if (other !== undefined) {
      throw new RangeError(`${other} and ${p} would both be stored as ${JSON.stringify(name)}`);
    }
    seen.set(name, p);
  }
  return [...paths];
}

/** `lowbit store ingest --json`: the IngestResult without its manifest, plus ratio and speed. */
export interface IngestJson {
  readonly name: string;
  readonly base: string | null;
  readonly files: number;
  readonly logicalBytes: number;
  readonly storedBytesAdded: number;
  /** storedBytesAdded / logicalBytes (0 for an empty model). */
  readonly ratio: number;
  readonly parts: IngestResult["parts"];
  readonly seconds: number;
  /** logicalBytes / 10^6 / seconds. */
  readonly mbPerSecond: number;
}

export function ingestJson(r: IngestResult): IngestJson {
  return {
    name: r.name,
    base: r.base,
    files: r.manifest.files.length,
    logicalBytes: r.logicalBytes,
    storedBytesAdded: r.storedBytesAdded,
    ratio: r.logicalBytes > 0 ? r.storedBytesAdded / r.logicalBytes : 0,
    parts: r.parts,
    seconds: r.seconds,
    mbPerSecond: r.seconds > 0 ? r.logicalBytes / 1e6 / r.seconds : 0,
  };
}

/** One line: what was stored, against which base, how small, how fast. */
export function ingestText(r: IngestResult): string {
  const j = ingestJson(r);
  const parts = Object.entries(j.parts)
    .filter(([, n]) => n > 0)
    .map(([codec, n]) => `${n} ${codec}`)
    .join(", ");
  const base = j.base === null ? "no base" : `base ${j.base}`;
  return (
    `stored ${j.name} (${base}): ${j.files} file(s), ${formatSize(j.logicalBytes)} -> ` +
    `${formatSize(j.storedBytesAdded)} new (ratio ${j.ratio.toFixed(3)}); parts: ${parts || "none"}; ` +
    `${j.seconds.toFixed(2)} s, ${j.mbPerSecond.toFixed(1)} MB/s\n`
  );
}

const LS_COLUMNS: readonly Column<ModelSummary>[] = [
  { title: "name", cell: (m) => m.name },
  { title: "base", cell: (m) => m.base ?? "-" },
  { title: "files", right: true, cell: (m) => String(m.files) },
  { title: "size", right: true, cell: (m) => formatSize(m.logicalBytes) },
  { title: "lossy", cell: (m) => (m.lossy ? "yes" : "no") },
  { title: "created", cell: (m) => m.createdAt },
];

export function lsText(models: readonly ModelSummary[]): string {
  if (models.length === 0) return "no models\n";
  return `${renderTable(LS_COLUMNS, models).join("\n")}\n`;
}

type StatsRow = StoreStats["models"][number];

const STATS_COLUMNS: readonly Column<StatsRow>[] = [
  { title: "model", cell: (m) => m.name },
  { title: "base", cell: (m) => m.base ?? "-" },
  { title: "files", right: true, cell: (m) => String(m.files) },
  { title: "logical", right: true, cell: (m) => formatSize(m.logicalBytes) },
  { title: "stored", right: true, cell: (m) => formatSize(m.storedBytes) },
  { title: "ratio", right: true, cell: (m) => m.ratio.toFixed(3) },
];

/** A table per model, a total line, and stored bytes by codec. */
export function statsText(s: StoreStats): string {
  const total: StatsRow = {
    name: "total",
    base: null,
    files: s.models.reduce((n, m) => n + m.files, 0),
    logicalBytes: s.logicalBytes,
    storedBytes: s.storedBytes,
    ratio: s.ratio,
  };
  const lines = renderTable(STATS_COLUMNS, [...s.models, total]);
  const codecs = Object.entries(s.byCodec)
    .filter(([, c]) => c.objects > 0)
    .map(
      ([codec, c]) =>
        `  ${codec}: ${c.objects} objects, ${formatSize(c.logicalBytes)} -> ${formatSize(c.storedBytes)}`,
    );
  return `${lines.join("\n")}\n${s.objects} objects\n${codecs.length > 0 ? `${codecs.join("\n")}\n` : ""}`;
}

/** Text of `lowbit store verify`: a summary line, then one line per problem. */
export function verifyText(r: VerifyReport, where: string): string {
  const head = `${r.ok ? "ok" : "damaged"}: ${r.objectsChecked} objects, ${formatSize(r.bytesChecked)} checked in ${where}`;
  return `${[head, ...r.problems.map(problemText)].join("\n")}\n`;
}

export function problemText(p: VerifyReport["problems"][number]): string {
  const models = p.models.length > 0 ? ` (breaks ${p.models.join(", ")})` : "";
  return `${p.problem} ${p.key}: ${p.message}${models}`;
}

export function gcText(r: GcReport): string {
  return `removed ${r.objectsRemoved} unreferenced object(s) (${formatSize(r.bytesRemoved)}) and ${r.tempFilesRemoved} stale temp file(s)\n`;
}
