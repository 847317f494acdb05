import { mkdtemp, open, readFile, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { throwIfAborted } from "@lowbit/bits";
import {
  type AnnIndexFactory,
  Collection,
  type CollectionOptions,
  type EvaluationResult,
  evaluateAsync,
  type Metric,
  readInt32Matrix,
  readVectors,
  recallPlotSvg,
  type SearchHit,
} from "@lowbit/embed";
import { hnswIndex } from "@lowbit/hnsw";
import { writeAtomically } from "./convert.js";

/** The library side of `lowbit embed`: build, search and evaluate collections from vector files. */

export const EMBED_INDEXES = ["scan", "hnsw"] as const;
export type EmbedIndex = (typeof EMBED_INDEXES)[number];
export const RESCORE_CODECS = ["int8", "float16", "float32"] as const;
export const METRICS = ["cosine", "dot", "l2"] as const;

/** HNSW defaults of the CLI (hnswlib's usual M and efConstruction; ef = 64 at search). */
export const HNSW_DEFAULTS = { M: 16, efConstruction: 200, ef: 64 } as const;

/** Rows added per batch: between batches the progress bar moves and an abort is noticed. */
const BATCH_ROWS = 2048;
/** Largest fitting sample by default (rows, spread evenly over the base). */
export const DEFAULT_TRAIN_ROWS = 100_000;

export interface BuildProgress {
  readonly done: number;
  readonly total: number;
}

export interface CollectionSetup {
  readonly codec: string;
  readonly metric?: Metric;
  /** Codec of the rescoring copy, or null for none. */
  readonly rescore?: string | null;
  readonly rescoreStorage?: "memory" | "disk";
  /** Default rescoring factor of the collection. */
  readonly rescoreFactor?: number;
  readonly index?: EmbedIndex;
  readonly M?: number;
  readonly efConstruction?: number;
  readonly ef?: number;
  /** Rows of the fitting sample (spread evenly over the base); default min(count, 100,000). */
  readonly trainRows?: number;
  readonly onProgress?: (p: BuildProgress) => void;
  readonly signal?: AbortSignal;
}

/** The HNSW factory for the given options, or null for exact scan. */
export function indexFactory(
  setup: Pick<CollectionSetup, "index" | "M" | "efConstruction" | "ef">,
): AnnIndexFactory | null {
  if ((setup.index ?? "scan") === "scan") return null;
  return hnswIndex({
    M: setup.M ?? HNSW_DEFAULTS.M,
    efConstruction: setup.efConstruction ?? HNSW_DEFAULTS.efConstruction,
    ef: setup.ef ?? HNSW_DEFAULTS.ef,
  });
}

/** `rows` rows of `vectors` spread evenly over all `count` rows (all of them when rows ≥ count). */
function evenSample(vectors: Float32Array, count: number, dim: number, rows: number): Float32Array {
  if (rows >= count) return vectors;
  const out = new Float32Array(rows * dim);
  for (let i = 0; i < rows; i++) {
    const r = Math.floor((i * count) / rows);
    out.set(vectors.subarray(r * dim, (r + 1) * dim), i * dim);
  }
  return out;
}

/**
 * Builds a collection over `vectors` (count × dim) whose ids are the row numbers as strings. Adds in
 * batches, yielding to the event loop between them so progress is drawn and an abort is noticed.
 */
export async function buildCollection(
  vectors: Float32Array,
  dim: number,
  setup: CollectionSetup,
): Promise<{ collection: Collection; buildSeconds: number }> {
  const count = vectors.length / dim;
  if (count === 0) throw new RangeError("the base holds no vectors");
  const start = performance.now();
  const options: { -readonly [K in keyof CollectionOptions]: CollectionOptions[K] } = {
    dim,
    codec: setup.codec,
    metric: setup.metric ?? "cosine",
    rescore: setup.rescore ?? null,
    index: indexFactory(setup),
    train: evenSample(vectors, count, dim, Math.min(count, setup.trainRows ?? DEFAULT_TRAIN_ROWS)),
  };
  if (setup.rescoreStorage !== undefined) options.rescoreStorage = setup.rescoreStorage;
  if (setup.rescoreFactor !== undefined) options.rescoreFactor = setup.rescoreFactor;
  const collection = Collection.create(options);
  try {
    for (let first = 0; first < count; first += BATCH_ROWS) {
      throwIfAborted(setup.signal);
      const end = Math.min(count, first + BATCH_ROWS);
      const ids: string[] = [];
      for (let r = first; r < end; r++) ids.push(String(r));
      collection.add(ids, vectors.subarray(first * dim, end * dim));
      setup.onProgress?.({ done: end, total: count });
      if (end < count) await new Promise((resolve) => setImmediate(resolve));
    }
  } catch (e) {
    await collection.close();
    throw e;
  }
  return { collection, buildSeconds: (performance.now() - start) / 1000 };
}

export interface EmbedBuildOptions extends CollectionSetup {
  readonly base: string;
  readonly dim?: number;
  readonly out: string;
}

export interface EmbedBuildResult {
  readonly out: string;
  readonly count: number;
  readonly dim: number;
  readonly codec: string;
  readonly index: EmbedIndex;
  readonly rescore: string | null;
  readonly bytesPerVector: number;
  readonly totalBytesPerVector: number;
  readonly ram: Readonly<Record<string, number>>;
  readonly disk: Readonly<Record<string, number>>;
  readonly buildSeconds: number;
  readonly saveSeconds: number;
}

/** `lowbit embed build`: reads the base, builds the collection, saves it to `out`. */
export async function embedBuild(options: EmbedBuildOptions): Promise<EmbedBuildResult> {
  const base = await readVectors(options.base, options.dim === undefined ? {} : { dim: options.dim });
  const { collection, buildSeconds } = await buildCollection(base.vectors, base.dim, options);
  try {
    throwIfAborted(options.signal);
    const t0 = performance.now();
    await collection.save(options.out);
    const saveSeconds = (performance.now() - t0) / 1000;
    const stats = collection.stats();
    return {
      out: options.out,
      count: collection.size,
      dim: base.dim,
      codec: collection.codecSpec,
      index: options.index ?? "scan",
      rescore: options.rescore ?? null,
      bytesPerVector: stats.bytesPerVector,
      totalBytesPerVector: stats.totalBytesPerVector,
      ram: stats.ram,
      disk: stats.disk,
      buildSeconds,
      saveSeconds,
    };
  } finally {
    await collection.close();
  }
}

export function buildSummary(r: EmbedBuildResult): string {
  const rescore = r.rescore === null ? "" : `, rescore copy ${r.rescore}`;
  return (
    `built ${r.count} vectors of dim ${r.dim}: codec ${r.codec}${rescore}, index ${r.index}, ` +
    `${formatBytes(r.bytesPerVector)} B/vector resident; ${r.buildSeconds.toFixed(2)} s build, ` +
    `${r.saveSeconds.toFixed(2)} s save -> ${r.out}`
  );
}

export interface EmbedSearchOptions {
  readonly collection: string;
  readonly query: string;
  readonly dim?: number;
  readonly k: number;
  readonly rescore?: number;
  readonly ef?: number;
  readonly path?: "scan" | "index";
}

export interface EmbedSearchResult {
  readonly queries: number;
  readonly k: number;
  readonly results: ReadonlyArray<{ readonly query: number; readonly hits: readonly SearchHit[] }>;
}

/** True when the file starts with the NPY magic string (so it carries its own shape). */
export async function isNpyFile(path: string): Promise<boolean> {
  const file = await open(path, "r");
  try {
    const head = new Uint8Array(6);
    const { bytesRead } = await file.read(head, 0, 6, 0);
    return bytesRead === 6 && String.fromCharCode(...head) === "\x93NUMPY";
  } finally {
    await file.close();
  }
}

/**
 * The saved index of a collection folder, from its live generation's header (CURRENT, then
 * gen-<n>/header.json): kind and build options, or null when it has none or the header cannot be read
 * (open() then reports the problem properly).
 */
async function savedIndex(dir: string): Promise<{ kind: string; options: Record<string, number> } | null> {
  try {
    const gen = (await readFile(join(dir, "CURRENT"), "utf8")).trim();
    if (!/^gen-[0-9]+$/.test(gen)) return null;
    const header = JSON.parse(await readFile(join(dir, gen, "header.json"), "utf8")) as {
      index?: { kind?: unknown; options?: unknown } | null;
    };
    const index = header.index;
    if (index === null || index === undefined || typeof index.kind !== "string") return null;
    const options: Record<string, number> = {};
    if (typeof index.options === "object" && index.options !== null) {
      for (const [key, value] of Object.entries(index.options))
        if (typeof value === "number") options[key] = value;
    }
    return { kind: index.kind, options };
  } catch {
    return null;
  }
}

/** `lowbit embed search`: every row of the query file against a saved collection. */
export async function embedSearch(options: EmbedSearchOptions): Promise<EmbedSearchResult> {
  const saved = await savedIndex(options.collection);
  let index: AnnIndexFactory | undefined;
  if (saved?.kind === "hnsw") {
    const o = saved.options;
    index = hnswIndex({
      ...(o["M"] !== undefined ? { M: o["M"] } : {}),
      ...(o["efConstruction"] !== undefined ? { efConstruction: o["efConstruction"] } : {}),
      ...(o["seed"] !== undefined ? { seed: o["seed"] } : {}),
      ef: options.ef ?? o["ef"] ?? HNSW_DEFAULTS.ef,
    });
  }
  const collection = await Collection.open(options.collection, {
    readOnly: true,
    ...(index !== undefined ? { index } : {}),
  });
  try {
    const dim = options.dim ?? collection.dim;
    const q = await readVectors(options.query, { dim });
    if (q.dim !== collection.dim) {
      throw new RangeError(`the queries have dim ${q.dim}, the collection ${collection.dim}`);
    }
    const search: { rescore?: number; ef?: number; path?: "scan" | "index" } = {};
    if (options.rescore !== undefined) search.rescore = options.rescore;
    if (options.ef !== undefined) search.ef = options.ef;
    if (options.path !== undefined) search.path = options.path;
    const results = [];
    for (let i = 0; i < q.count; i++) {
      const hits = collection.search(q.vectors.subarray(i * q.dim, (i + 1) * q.dim), options.k, search);
      results.push({ query: i, hits });
    }
    return { queries: q.count, k: options.k, results };
  } finally {
    await collection.close();
  }
}

export function searchText(r: EmbedSearchResult): string {
  const lines = ["query\trank\tid\tscore"];
  for (const { query, hits } of r.results) {
    hits.forEach((h, rank) => {
      lines.push(`${query}\t${rank + 1}\t${h.id}\t${h.score.toFixed(6)}`);
    });
  }
  return `${lines.join("\n")}\n`;
}

export interface EmbedEvalOptions {
  readonly base: string;
  readonly queries: string;
  readonly truth: string;
  readonly dim?: number;
  /** One run per codec spec. */
  readonly codecs: readonly string[];
  readonly metric?: Metric;
  /** Rescoring factor (k × factor candidates), or undefined for the collection's default. */
  readonly rescore?: number;
  /** Codec of the rescoring copy (null: none). */
  readonly rescoreCodec?: string | null;
  /**
   * Where the rescoring copy lives: "memory" (default) or "disk" — the collection is saved to a
   * temporary folder (removed afterwards) so the copy is read from its file at search time.
   */
  readonly rescoreStorage?: "memory" | "disk";
  readonly index?: EmbedIndex;
  readonly M?: number;
  readonly efConstruction?: number;
  readonly ef?: number;
  readonly path?: "scan" | "index";
  readonly k?: number;
  readonly trainRows?: number;
  readonly onStage?: (stage: "build" | "search", codec: string) => void;
  readonly onProgress?: (done: number, total: number) => void;
  readonly signal?: AbortSignal;
}

/** One line of `lowbit embed eval --json`. NaN (a recall@K beyond k) is written as null. */
export interface EmbedEvalReport {
  readonly codec: string;
  readonly index: EmbedIndex;
  readonly metric: Metric;
  readonly rescore: number | null;
  readonly rescoreCodec: string | null;
  readonly rescoreStorage: "memory" | "disk" | null;
  readonly ef: number | null;
  readonly M: number | null;
  readonly efConstruction: number | null;
  readonly count: number;
  readonly dim: number;
  readonly queries: number;
  readonly k: number;
  readonly recall1: number | null;
  readonly recall10: number | null;
  readonly recall100: number | null;
  readonly ndcg10: number | null;
  readonly bytesPerVector: number;
  readonly totalBytesPerVector: number;
  readonly qps: number;
  readonly latencyP50Ms: number;
  readonly latencyP99Ms: number;
  readonly buildSeconds: number;
  readonly searchSeconds: number;
  readonly ram: Readonly<Record<string, number>>;
}

const finite = (v: number): number | null => (Number.isFinite(v) ? v : null);

/** `lowbit embed eval`: for each codec, build a collection over the base and evaluate the queries. */
export async function embedEval(options: EmbedEvalOptions): Promise<EmbedEvalReport[]> {
  const base = await readVectors(options.base, options.dim === undefined ? {} : { dim: options.dim });
  const dim = base.dim;
  const queries = await readVectors(options.queries, { dim });
  // A raw .i32 truth file has one row per query: its row length follows from its size.
  const truth = await readInt32Matrix(options.truth, undefined, { rows: queries.count });
  if (truth.rows !== queries.count) {
    throw new RangeError(
      `${options.truth} has ${truth.rows} rows of ground truth for ${queries.count} queries`,
    );
  }
  for (let i = 0; i < truth.data.length; i++) {
    const id = truth.data[i]!;
    if (id < 0 || id >= base.count) {
      throw new RangeError(
        `${options.truth}: ground-truth id ${id} (query ${Math.floor(i / truth.cols)}) is not a row of the ${base.count}-row base`,
      );
    }
  }
  const index = options.index ?? "scan";
  const rescoreCodec = options.rescoreCodec ?? null;
  const reports: EmbedEvalReport[] = [];
  for (const codec of options.codecs) {
    options.onStage?.("build", codec);
    const setup: { -readonly [K in keyof CollectionSetup]: CollectionSetup[K] } = {
      codec,
      metric: options.metric ?? "cosine",
      rescore: rescoreCodec,
      index,
    };
    for (const key of ["M", "efConstruction", "ef", "trainRows", "signal"] as const) {
      if (options[key] !== undefined) (setup as Record<string, unknown>)[key] = options[key];
    }
    if (options.rescore !== undefined) setup.rescoreFactor = options.rescore;
    if (options.rescoreStorage !== undefined) setup.rescoreStorage = options.rescoreStorage;
    if (options.onProgress !== undefined) {
      const report = options.onProgress;
      setup.onProgress = (p) => report(p.done, p.total);
    }
    const { collection, buildSeconds } = await buildCollection(base.vectors, dim, setup);
    let result: EvaluationResult;
    let tmp: string | null = null;
    try {
      if (options.rescoreStorage === "disk") {
        tmp = await mkdtemp(join(tmpdir(), "lowbit-embed-eval-"));
        await collection.save(join(tmp, "collection"));
      }
      throwIfAborted(options.signal);
      options.onStage?.("search", codec);
      result = await evaluateAsync(collection, queries.vectors, truth.data, {
        k: options.k ?? Math.min(100, truth.cols),
        ...(options.rescore !== undefined ? { rescore: options.rescore } : {}),
        ...(options.ef !== undefined && index === "hnsw" ? { ef: options.ef } : {}),
        ...(options.path !== undefined ? { path: options.path } : {}),
        ...(options.onProgress !== undefined ? { onProgress: options.onProgress } : {}),
        ...(options.signal !== undefined ? { signal: options.signal } : {}),
      });
    } finally {
      await collection.close();
      if (tmp !== null) await rm(tmp, { recursive: true, force: true });
    }
    const hnsw = index === "hnsw";
    reports.push({
      codec: collection.codecSpec,
      index,
      metric: collection.metric,
      rescore: options.rescore ?? null,
      rescoreCodec,
      rescoreStorage: rescoreCodec === null ? null : (options.rescoreStorage ?? "memory"),
      ef: hnsw ? (options.ef ?? HNSW_DEFAULTS.ef) : null,
      M: hnsw ? (options.M ?? HNSW_DEFAULTS.M) : null,
      efConstruction: hnsw ? (options.efConstruction ?? HNSW_DEFAULTS.efConstruction) : null,
      count: base.count,
      dim,
      queries: result.queries,
      k: result.k,
      recall1: finite(result.recall1),
      recall10: finite(result.recall10),
      recall100: finite(result.recall100),
      ndcg10: finite(result.ndcg10),
      bytesPerVector: result.bytesPerVector,
      totalBytesPerVector: result.totalBytesPerVector,
      qps: result.qps,
      latencyP50Ms: result.latencyP50Ms,
      latencyP99Ms: result.latencyP99Ms,
      buildSeconds,
      searchSeconds: result.searchSeconds,
      ram: result.ram,
    });
  }
  return reports;
}

function formatBytes(v: number): string {
  return Number.isInteger(v) ? String(v) : v.toFixed(1);
}

const fmt = (v: number | null, digits = 4) => (v === null ? "-" : v.toFixed(digits));

/** The human-readable table of `lowbit embed eval`. */
export function evalText(reports: readonly EmbedEvalReport[]): string {
  const head = [
    "codec",
    "index",
    "B/vector",
    "recall@1",
    "recall@10",
    "recall@100",
    "nDCG@10",
    "QPS",
    "build s",
  ];
  const rows = reports.map((r) => [
    r.rescoreCodec === null
      ? r.codec
      : `${r.codec} >${r.rescoreCodec}${r.rescore === null ? "" : ` x${r.rescore}`}`,
    r.index === "hnsw" ? `hnsw ef=${r.ef}` : "scan",
    formatBytes(r.bytesPerVector),
    fmt(r.recall1),
    fmt(r.recall10),
    fmt(r.recall100),
    fmt(r.ndcg10),
    r.qps.toFixed(0),
    r.buildSeconds.toFixed(2),
  ]);
  const widths = head.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i]!.length)));
  const line = (cells: string[]) =>
    cells
      .map((c, i) => (i < 2 ? c.padEnd(widths[i]!) : c.padStart(widths[i]!)))
      .join("  ")
      .trimEnd();
  const first = reports[0];
  const what =
    first === undefined
      ? ""
      : `${first.count} vectors of dim ${first.dim}, ${first.queries} queries, k = ${first.k}, ${first.metric}\n`;
  return `${what}${[line(head), ...rows.map(line)].join("\n")}\n`;
}

/** Writes the recall@10 / bytes-per-vector plot of the runs to `path` (atomically). */
export async function writeEvalSvg(path: string, reports: readonly EmbedEvalReport[]): Promise<void> {
  const points = reports
    .filter((r) => r.recall10 !== null)
    .map((r) => ({
      label: r.codec,
      bytesPerVector: r.bytesPerVector,
      recall: r.recall10!,
      group: r.rescoreCodec === null ? r.index : `${r.index} + ${r.rescoreCodec} rescore`,
    }));
  const first = reports[0];
  const title =
    first === undefined
      ? undefined
      : `Recall@10 against bytes per vector (${first.count} × ${first.dim}, ${first.metric})`;
  const svg = recallPlotSvg(points, title === undefined ? {} : { title });
  await writeAtomically(path, async (fh) => {
    await fh.writeFile(svg, "utf8");
  });
}
