import { createHash } from "node:crypto";
import type { ServerResponse } from "node:http";
import { listQuantizers } from "@lowbit/formats";
import type { StoredFile } from "@lowbit/store";
import { requireRead } from "./_auth.js";
import type { Call, HubContext } from "./_context.js";
import { checked, HttpError, originOf, parseRange, readObject, sendJson } from "./_http.js";
import { parseVariantQuery } from "./blobs.js";
import { assertRepoPath, lfsPointer } from "./names.js";
import type { Commit, Repo, TreeFile } from "./types.js";

/** Variant computations that may wait for a slot before new ones get 503. */
const MAX_VARIANT_QUEUE = 32;

/** `promise`, or an AbortError as soon as `signal` aborts (the work itself goes on). */
function untilAborted<T>(promise: Promise<T>, signal: AbortSignal): Promise<T> {
  return new Promise<T>((resolve, reject) => {
    const onAbort = () => reject(Object.assign(new Error("request aborted"), { name: "AbortError" }));
    if (signal.aborted) return onAbort();
    signal.addEventListener("abort", onAbort, { once: true });
    promise.then(resolve, reject).finally(() => signal.removeEventListener("abort", onAbort));
  });
}

/** Tree pages: the Hub's default page size, and the most a client may ask for. */
const PAGE = 1000;
const MAX_PAGE = 10_000;

/** Repo (readable by the caller) and the commit a revision names, or the Hub's 404s. */
export async function repoAt(
  ctx: HubContext,
  call: Call,
  id: string,
  rev: string,
): Promise<{ repo: Repo; oid: string }> {
  const repo = requireRead(call.who, await ctx.meta.getRepo(id), id);
  // "HEAD" is what hub.js asks for when no revision is given: the default branch.
  const oid = await ctx.meta.resolveRevision(id, rev === "HEAD" ? "main" : rev);
  if (oid === undefined) {
    throw new HttpError(404, `revision ${rev} not found in ${id}`, { hfCode: "RevisionNotFound" });
  }
  return { repo, oid };
}

export function formatNames(): readonly string[] {
  return listQuantizers().map((q) => q.name);
}

function isSafetensors(path: string): boolean {
  return path.endsWith(".safetensors");
}

function contentType(path: string): string {
  if (path.endsWith(".json")) return "application/json; charset=utf-8";
  if (/\.(md|txt|py|yaml|yml|gitattributes)$/.test(path) || path === ".gitattributes") {
    return "text/plain; charset=utf-8";
  }
  return "application/octet-stream";
}

// ------------------------------------------------------------------------------ resolve (downloads)

/** `GET|HEAD /{repo}/resolve/{rev}/{path}` (and `/raw/`), with `?format=` for quantized variants. */
export async function resolveRoute(
  ctx: HubContext,
  call: Call,
  id: string,
  rev: string,
  path: string,
): Promise<void> {
  const { oid } = await repoAt(ctx, call, id, rev);
  checked(() => assertRepoPath(path));
  const file = await ctx.meta.file(oid, path);
  if (file === undefined) {
    throw new HttpError(404, `${path} does not exist at revision ${rev} of ${id}`, {
      hfCode: "EntryNotFound",
      headers: { "X-Repo-Commit": oid },
    });
  }
  const recipe = checked(() => parseVariantQuery(call.url.searchParams));
  const headers: Record<string, string> = {
    "X-Repo-Commit": oid,
    "Accept-Ranges": "bytes",
    "Content-Type": contentType(path),
  };
  let stored: StoredFile;
  if (recipe === undefined) {
    stored = await ctx.blobs.open(file.sha256);
    // The Hub's convention: git blob id for regular files, sha256 for LFS files.
    headers["ETag"] = `"${file.lfs ? file.sha256 : file.gitOid}"`;
    if (file.lfs) {
      headers["X-Linked-Etag"] = `"${file.sha256}"`;
      headers["X-Linked-Size"] = String(file.size);
    }
    // A commit never changes: the same URL by commit id is the same bytes forever.
    headers["Cache-Control"] = rev === oid ? "public, max-age=31536000, immutable" : "no-cache";
  } else {
    if (!isSafetensors(path)) {
      throw new HttpError(422, `quantized variants exist for .safetensors files only, not ${path}`, {
        code: "ERR_UNSUPPORTED",
      });
    }
    let v = await ctx.blobs.cachedVariant(file.sha256, recipe);
    if (v === undefined) {
      ctx.metrics.variantMisses++;
      const started = Date.now();
      // Quantizing is CPU work anyone may ask for: Blobs runs a few at a time; past a bounded queue,
      // new work is refused. A computation goes on when its client leaves (codebook formats can take
      // minutes), so a retry finds it running or cached instead of starting over.
      if (ctx.blobs.variantsQueued() >= MAX_VARIANT_QUEUE) {
        throw new HttpError(503, "too many quantized variants are being computed; retry shortly", {
          headers: { "Retry-After": "10" },
        });
      }
      v = await untilAborted(
        ctx.blobs.variant({ sha256: file.sha256, size: file.size }, recipe),
        call.signal,
      );
      ctx.log({
        level: "info",
        msg: "variant computed",
        repo: id,
        path,
        recipe: v.recipe,
        ms: Date.now() - started,
      });
    } else {
      ctx.metrics.variantHits++;
    }
    stored = await ctx.blobs.openVariant(file.sha256, recipe);
    headers["ETag"] = `"${v.sha256}"`;
    headers["X-Linked-Etag"] = `"${v.sha256}"`;
    headers["X-Linked-Size"] = String(v.size);
    headers["X-Lowbit-Variant"] = v.recipe;
    headers["X-Lowbit-Cache"] = v.cached ? "hit" : "miss";
    headers["Cache-Control"] = "no-cache";
    const base = path.slice(path.lastIndexOf("/") + 1).replace(/\.safetensors$/, "");
    headers["Content-Disposition"] = `attachment; filename="${base}.${recipe.format}.safetensors"`;
  }
  await sendStored(ctx, call, stored, headers);
}

/** Resolves on "drain" or "close", removing both listeners (a race of two once() calls leaks one). */
export function drained(res: ServerResponse): Promise<void> {
  return new Promise((resolve) => {
    const done = () => {
      res.off("drain", done);
      res.off("close", done);
      resolve();
    };
    res.on("drain", done);
    res.on("close", done);
  });
}

/** Serves a stored file with Range, If-None-Match and backpressure; never sends unverified bytes. */
async function sendStored(
  ctx: HubContext,
  call: Call,
  f: StoredFile,
  headers: Record<string, string>,
): Promise<void> {
  const { req, res } = call;
  const inm = req.headers["if-none-match"];
  if (inm !== undefined && headers["ETag"] !== undefined && inm.split(/\s*,\s*/).includes(headers["ETag"])) {
    res.writeHead(304, headers);
    res.end();
    return;
  }
  const range = parseRange(req.headers.range, f.size);
  if (range === "unsatisfiable") {
    throw new HttpError(416, `range ${req.headers.range} is outside the file's ${f.size} bytes`, {
      headers: { "Content-Range": `bytes */${f.size}`, ...headers },
    });
  }
  const start = range?.start ?? 0;
  const end = range?.end ?? f.size;
  const status = range === undefined ? 200 : 206;
  headers["Content-Length"] = String(end - start);
  if (range !== undefined) headers["Content-Range"] = `bytes ${start}-${end - 1}/${f.size}`;
  if (req.method === "HEAD") {
    res.writeHead(status, headers);
    res.end();
    return;
  }
  const it = f.stream(start, end)[Symbol.asyncIterator]();
  // The first part is read (and verified) before the status line, so a damaged object is a clean 500.
  let next = await it.next();
  res.writeHead(status, headers);
  try {
    while (!next.done) {
      if (res.destroyed) {
        await it.return?.(undefined);
        return;
      }
      const chunk = next.value;
      ctx.metrics.bytesServed += chunk.length;
      if (!res.write(chunk)) await drained(res);
      next = await it.next();
    }
    res.end();
  } catch (e) {
    // Headers are out: the only honest signal left is a cut connection (the length will not match).
    ctx.log({ level: "error", msg: "download failed mid-stream", error: String(e), path: call.url.pathname });
    res.destroy(e instanceof Error ? e : new Error(String(e)));
  }
}

// ------------------------------------------------------------------------------------------ trees

interface TreeEntry {
  readonly type: "file" | "directory";
  readonly path: string;
  readonly size: number;
  readonly oid: string;
  readonly lfs?: { readonly oid: string; readonly size: number; readonly pointerSize: number };
  readonly variants?: readonly string[];
}

function fileEntry(f: TreeFile, variants: readonly string[]): TreeEntry {
  const e: TreeEntry = { type: "file", path: f.path, size: f.size, oid: f.gitOid };
  const lfs = f.lfs
    ? { lfs: { oid: f.sha256, size: f.size, pointerSize: Buffer.byteLength(lfsPointer(f.sha256, f.size)) } }
    : {};
  return { ...e, ...lfs, ...(isSafetensors(f.path) ? { variants } : {}) };
}

function dirOid(files: readonly TreeFile[]): string {
  const h = createHash("sha1");
  for (const f of files) h.update(`${f.path}\0${f.sha256}\0`);
  return h.digest("hex");
}

/** Entries under `prefix` ("" = root): direct children, or everything with `recursive`. */
function listTree(tree: readonly TreeFile[], prefix: string, recursive: boolean): TreeEntry[] {
  const variants = formatNames();
  const under = prefix === "" ? tree : tree.filter((f) => f.path.startsWith(`${prefix}/`));
  const start = prefix === "" ? 0 : prefix.length + 1;
  const dirs = new Map<string, TreeFile[]>();
  const out: TreeEntry[] = [];
  for (const f of under) {
    const rest = f.path.slice(start);
    const parts = rest.split("/");
    // Every folder between the prefix and the file (only the first one when not recursive).
    const depth = recursive ? parts.length - 1 : Math.min(1, parts.length - 1);
    for (let i = 1; i <= depth; i++) {
      const dir = f.path.slice(0, start) + parts.slice(0, i).join("/");
      const list = dirs.get(dir);
      if (list === undefined) dirs.set(dir, [f]);
      else list.push(f);
    }
    if (recursive || parts.length === 1) out.push(fileEntry(f, variants));
  }
  for (const [path, files] of dirs) out.push({ type: "directory", path, size: 0, oid: dirOid(files) });
  return out.sort((a, b) => (a.path < b.path ? -1 : a.path > b.path ? 1 : 0));
}

/** `GET /api/models/{repo}/tree/{rev}[/{path}]?recursive=&limit=&cursor=` with a `Link` header. */
export async function treeRoute(
  ctx: HubContext,
  call: Call,
  id: string,
  rev: string,
  path: string,
): Promise<void> {
  const { oid } = await repoAt(ctx, call, id, rev);
  if (path !== "") checked(() => assertRepoPath(path));
  const tree = await ctx.meta.tree(oid);
  const q = call.url.searchParams;
  const recursive = /^(1|true|True)$/.test(q.get("recursive") ?? "");
  const entries = listTree(tree, path, recursive);
  if (path !== "" && entries.length === 0) {
    throw new HttpError(404, `${path} is not a folder at revision ${rev} of ${id}`, {
      hfCode: "EntryNotFound",
      headers: { "X-Repo-Commit": oid },
    });
  }
  const limit = Math.min(Math.max(Number(q.get("limit") ?? PAGE) || PAGE, 1), MAX_PAGE);
  const cursor = q.get("cursor");
  const offset = cursor === null ? 0 : Number.parseInt(Buffer.from(cursor, "base64url").toString(), 10);
  if (!Number.isSafeInteger(offset) || offset < 0) throw new HttpError(400, "invalid cursor");
  const page = entries.slice(offset, offset + limit);
  const headers: Record<string, string> = { "X-Repo-Commit": oid };
  if (offset + limit < entries.length) {
    const next = new URL(call.url.pathname + call.url.search, originOf(call.req));
    next.searchParams.set("cursor", Buffer.from(String(offset + limit)).toString("base64url"));
    headers["Link"] = `<${next.href}>; rel="next"`;
  }
  sendJson(call.res, 200, page, headers);
}

/** `POST /api/models/{repo}/paths-info/{rev}`: JSON or form `{paths, expand}`. */
export async function pathsInfoRoute(ctx: HubContext, call: Call, id: string, rev: string): Promise<void> {
  const { oid } = await repoAt(ctx, call, id, rev);
  const body = await readObject(call.req, ctx.maxBodyBytes);
  const raw = body["paths"];
  const paths = typeof raw === "string" ? [raw] : raw;
  if (!Array.isArray(paths) || !paths.every((p) => typeof p === "string")) {
    throw new HttpError(400, "paths must be a string or an array of strings");
  }
  const tree = await ctx.meta.tree(oid);
  const variants = formatNames();
  const out: TreeEntry[] = [];
  for (const p of paths as string[]) {
    const f = tree.find((x) => x.path === p);
    if (f !== undefined) out.push(fileEntry(f, variants));
    else {
      const files = tree.filter((x) => x.path.startsWith(`${p}/`));
      if (files.length > 0) out.push({ type: "directory", path: p, size: 0, oid: dirOid(files) });
    }
  }
  sendJson(call.res, 200, out, { "X-Repo-Commit": oid });
}

// ------------------------------------------------------------------------------------- repo info

function commitJson(c: Commit) {
  return {
    id: c.oid,
    title: c.summary,
    message: c.description === "" ? c.summary : `${c.summary}\n\n${c.description}`,
    authors: [{ user: c.author }],
    date: c.createdAt,
    parents: c.parents,
  };
}

async function modelSummary(ctx: HubContext, repo: Repo) {
  const oid = await ctx.meta.resolveRevision(repo.id, "main");
  const head = oid === undefined ? undefined : await ctx.meta.getCommit(repo.id, oid);
  const slash = repo.id.indexOf("/");
  return {
    _id: createHash("sha1").update(repo.id).digest("hex").slice(0, 24),
    id: repo.id,
    modelId: repo.id,
    author: slash < 0 ? undefined : repo.id.slice(0, slash),
    sha: oid,
    private: repo.private,
    gated: false,
    disabled: false,
    downloads: 0,
    likes: 0,
    tags: ["lowbit"],
    createdAt: repo.createdAt,
    lastModified: head?.createdAt ?? repo.createdAt,
  };
}

/** `GET /api/models/{repo}` and `/api/models/{repo}/revision/{rev}`. */
export async function modelInfoRoute(ctx: HubContext, call: Call, id: string, rev: string): Promise<void> {
  const { repo, oid } = await repoAt(ctx, call, id, rev);
  const commit = await ctx.meta.getCommit(id, oid);
  const tree = await ctx.meta.tree(oid);
  const siblings = tree.map((f) => ({
    rfilename: f.path,
    size: f.size,
    blobId: f.gitOid,
    ...(f.lfs
      ? {
          lfs: {
            sha256: f.sha256,
            size: f.size,
            pointerSize: Buffer.byteLength(lfsPointer(f.sha256, f.size)),
          },
        }
      : {}),
  }));
  sendJson(call.res, 200, {
    ...(await modelSummary(ctx, repo)),
    sha: oid,
    lastModified: commit?.createdAt ?? repo.createdAt,
    siblings,
    usedStorage: tree.reduce((a, f) => a + f.size, 0),
  });
}

/** `GET /api/models?search=&author=&limit=`: public repos, private ones too for a token holder. */
export async function listModelsRoute(ctx: HubContext, call: Call): Promise<void> {
  const q = call.url.searchParams;
  const search = (q.get("search") ?? "").toLowerCase();
  const author = q.get("author");
  const limit = Math.min(Math.max(Number(q.get("limit") ?? 1000) || 1000, 1), 10_000);
  const repos = (await ctx.meta.listRepos())
    .filter((r) => !r.private || call.who.role !== "anonymous")
    .filter((r) => search === "" || r.id.toLowerCase().includes(search))
    .filter((r) => author === null || r.id.startsWith(`${author}/`))
    .slice(0, limit);
  sendJson(call.res, 200, await Promise.all(repos.map((r) => modelSummary(ctx, r))));
}

/** `GET /api/models/{repo}/refs`. */
export async function refsRoute(ctx: HubContext, call: Call, id: string): Promise<void> {
  requireRead(call.who, await ctx.meta.getRepo(id), id);
  sendJson(call.res, 200, {
    branches: (await ctx.meta.refs(id)).map((r) => ({
      name: r.name,
      ref: `refs/heads/${r.name}`,
      targetCommit: r.oid,
    })),
    tags: [],
    converts: [],
  });
}

/** `GET /api/models/{repo}/commits/{rev}?limit=`: newest first. */
export async function commitsRoute(ctx: HubContext, call: Call, id: string, rev: string): Promise<void> {
  const { oid } = await repoAt(ctx, call, id, rev);
  const limit = Math.min(Math.max(Number(call.url.searchParams.get("limit") ?? 100) || 100, 1), 1000);
  sendJson(call.res, 200, (await ctx.meta.log(id, oid, limit)).map(commitJson));
}

// ----------------------------------------------------------------------------------- stats, formats

/** `GET /api/stats`: logical vs stored bytes per repo and overall. */
export async function statsRoute(ctx: HubContext, call: Call): Promise<void> {
  sendJson(call.res, 200, await collectStats(ctx, call.who.role !== "anonymous"));
}

export async function collectStats(ctx: HubContext, includePrivate: boolean) {
  const s = await ctx.blobs.stats();
  const all = (await ctx.meta.listRepos()).filter((r) => includePrivate || !r.private);
  const repos = await Promise.all(
    all.map(async (r) => {
      let logical = 0;
      let stored = 0;
      const blobs = await ctx.meta.repoBlobs(r.id);
      for (const b of blobs) {
        logical += b.size;
        stored += s.blobs.get(b.sha256)?.storedBytes ?? 0;
      }
      const head = await ctx.meta.resolveRevision(r.id, "main");
      return {
        id: r.id,
        private: r.private,
        files: head === undefined ? 0 : (await ctx.meta.tree(head)).length,
        blobs: blobs.length,
        logicalBytes: logical,
        storedBytes: stored,
        ratio: logical === 0 ? 1 : stored / logical,
      };
    }),
  );
  return {
    logicalBytes: s.logicalBytes,
    storedBytes: s.storedBytes,
    ratio: s.logicalBytes === 0 ? 1 : s.storedBytes / s.logicalBytes,
    variants: s.variants,
    repos,
  };
}

/** `GET /api/formats`: the quantizers a `?format=` may name, with their options. */
export function formatsRoute(call: Call): void {
  sendJson(
    call.res,
    200,
    listQuantizers().map((q) => ({ name: q.name, description: q.summary, defaults: q.defaults })),
  );
}
