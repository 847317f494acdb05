import { mkdir } from "node:fs/promises";
import { createServer, type IncomingMessage, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";
import { join } from "node:path";
import { describe } from "@lowbit/bits";
import type { Backend } from "@lowbit/store";
import { identify, UrlSigner } from "./_auth.js";
import type { Call, HubContext } from "./_context.js";
import { HttpError, preflight, sendError, sendJson, setCors, toHttpError } from "./_http.js";
import { Metrics } from "./_metrics.js";
import {
  collectStats,
  commitsRoute,
  formatsRoute,
  listModelsRoute,
  modelInfoRoute,
  pathsInfoRoute,
  refsRoute,
  resolveRoute,
  statsRoute,
  treeRoute,
} from "./_read.js";
import {
  branchRoute,
  commitRoute,
  createRepoRoute,
  deleteRepoRoute,
  lfsBatchRoute,
  lfsGetRoute,
  lfsPutRoute,
  lfsVerifyRoute,
  preuploadRoute,
  settingsRoute,
  whoamiRoute,
} from "./_write.js";
import { Blobs } from "./blobs.js";
import { Meta } from "./meta.js";
import type { Hub, HubLogEntry, HubOptions, MetaStore } from "./types.js";
import { PAGE_HTML } from "./web.js";

export const DEFAULT_PORT = 8080;
export const DEFAULT_HOST = "127.0.0.1";
/**
 * Largest single file by default. Larger uploads are refused by the batch endpoint, before any byte
 * moves. @lowbit/store ingests a file part by part (a tensor or a chunk at a time), so its size is
 * not bounded by memory; a single tensor must be under 2 GiB.
 */
export const DEFAULT_MAX_UPLOAD_BYTES = 50 * 2 ** 30;
export const DEFAULT_MAX_BODY_BYTES = 64 * 1024 ** 2;

/** Sub-resources of `/api/models/{repo}/…`: they tell a one-segment repo id from a two-segment one. */
const REPO_ACTIONS = new Set([
  "revision",
  "tree",
  "refs",
  "commits",
  "paths-info",
  "preupload",
  "commit",
  "branch",
  "settings",
  "xet-write-token",
  "xet-read-token",
]);

function decode(segment: string): string {
  try {
    return decodeURIComponent(segment);
  } catch {
    throw new HttpError(400, `malformed percent-encoding in ${JSON.stringify(segment)}`);
  }
}

/** Splits `segments` at the repo id: ["org","m","tree","main"] → {id:"org/m", rest:["tree","main"]}. */
function splitRepo(
  segments: readonly string[],
  actions: ReadonlySet<string>,
): { id: string; rest: string[] } {
  if (segments.length >= 3 && actions.has(segments[2]!)) {
    return { id: `${decode(segments[0]!)}/${decode(segments[1]!)}`, rest: segments.slice(2) };
  }
  if (segments.length >= 2 && actions.has(segments[1]!)) {
    return { id: decode(segments[0]!), rest: segments.slice(1) };
  }
  if (segments.length === 2) return { id: `${decode(segments[0]!)}/${decode(segments[1]!)}`, rest: [] };
  if (segments.length === 1) return { id: decode(segments[0]!), rest: [] };
  throw new HttpError(404, "no such route");
}

function allow(call: Call, ...methods: string[]): void {
  const m = call.req.method ?? "GET";
  if (!methods.includes(m)) {
    throw new HttpError(405, `${m} is not allowed here; use ${methods.join(" or ")}`, {
      headers: { Allow: methods.join(", ") },
    });
  }
}

/** `/api/models/{repo}[/action/…]`. */
async function modelsApi(ctx: HubContext, call: Call, segs: readonly string[]): Promise<void> {
  if (segs.length === 0) {
    call.route = "models.list";
    allow(call, "GET", "HEAD");
    return listModelsRoute(ctx, call);
  }
  const { id, rest } = splitRepo(segs, REPO_ACTIONS);
  const action = rest[0];
  const rev = rest[1] === undefined ? undefined : decode(rest[1]);
  const tail = rest.slice(2).map(decode).join("/");
  call.route = `models.${action ?? "info"}`;
  switch (action) {
    case undefined:
      allow(call, "GET", "HEAD");
      return modelInfoRoute(ctx, call, id, "main");
    case "revision":
      allow(call, "GET", "HEAD");
      return modelInfoRoute(ctx, call, id, rev ?? "main");
    case "tree":
      allow(call, "GET", "HEAD");
      return treeRoute(ctx, call, id, rev ?? "main", tail);
    case "refs":
      allow(call, "GET", "HEAD");
      return refsRoute(ctx, call, id);
    case "commits":
      allow(call, "GET", "HEAD");
      return commitsRoute(ctx, call, id, rev ?? "main");
    case "paths-info":
      allow(call, "POST");
      return pathsInfoRoute(ctx, call, id, rev ?? "main");
    case "preupload":
      allow(call, "POST");
      return preuploadRoute(ctx, call, id, rev ?? "main");
    case "commit":
      allow(call, "POST");
      return commitRoute(ctx, call, id, rev ?? "main");
    case "branch":
      allow(call, "POST", "DELETE");
      if (rest.length < 2) throw new HttpError(404, "no branch named");
      return branchRoute(ctx, call, id, rest.slice(1).map(decode).join("/"));
    case "settings":
      allow(call, "PUT");
      return settingsRoute(ctx, call, id);
    case "xet-write-token":
    case "xet-read-token":
      // huggingface_hub with hf-xet installed asks for these without checking what the server speaks.
      throw new HttpError(501, "this hub speaks git-lfs, not Xet: set HF_HUB_DISABLE_XET=1 to upload");
    default:
      throw new HttpError(404, "no such route");
  }
}

async function route(ctx: HubContext, call: Call): Promise<void> {
  const segs = call.segments;
  const method = call.req.method ?? "GET";
  if (segs.length === 0) {
    call.route = "page";
    allow(call, "GET", "HEAD");
    const body = Buffer.from(PAGE_HTML, "utf8");
    call.res.writeHead(200, {
      "Content-Type": "text/html; charset=utf-8",
      "Content-Length": String(body.length),
      "Content-Security-Policy":
        "default-src 'self'; script-src 'unsafe-inline'; style-src 'unsafe-inline'; img-src 'self' data:",
      "X-Content-Type-Options": "nosniff",
    });
    call.res.end(method === "HEAD" ? undefined : body);
    return;
  }
  const [first, second] = segs;
  if (first === "healthz") {
    call.route = "healthz";
    await ctx.meta.listRepos(); // touches the database
    return sendJson(call.res, 200, { ok: true });
  }
  if (first === "metrics") {
    call.route = "metrics";
    const s = await collectStats(ctx, true);
    const text = ctx.metrics.render({
      lowbit_hub_logical_bytes: {
        help: "Bytes of every stored file and variant, as users see them.",
        value: s.logicalBytes,
      },
      lowbit_hub_stored_bytes: {
        help: "Bytes on disk after dedup, delta and compression.",
        value: s.storedBytes,
      },
      lowbit_hub_repos: { help: "Repositories.", value: s.repos.length },
    });
    call.res.writeHead(200, { "Content-Type": "text/plain; version=0.0.4; charset=utf-8" });
    call.res.end(text);
    return;
  }
  if (first === "api") {
    switch (second) {
      case "models":
        return modelsApi(ctx, call, segs.slice(2));
      case "repos":
        if (segs[2] === "create") {
          call.route = "repos.create";
          allow(call, "POST");
          return createRepoRoute(ctx, call);
        }
        if (segs[2] === "delete") {
          call.route = "repos.delete";
          allow(call, "DELETE");
          return deleteRepoRoute(ctx, call);
        }
        break;
      case "whoami-v2":
        call.route = "whoami";
        return whoamiRoute(call);
      case "stats":
        call.route = "stats";
        allow(call, "GET", "HEAD");
        return statsRoute(ctx, call);
      case "formats":
        call.route = "formats";
        allow(call, "GET", "HEAD");
        return formatsRoute(call);
      case "lfs":
        if (segs[2] === "objects" && segs[3] !== undefined) {
          const oid = segs[3];
          if (segs[4] === "verify") {
            call.route = "lfs.verify";
            allow(call, "POST");
            return lfsVerifyRoute(ctx, call, oid);
          }
          call.route = method === "PUT" ? "lfs.put" : "lfs.get";
          allow(call, "PUT", "GET");
          return method === "PUT" ? lfsPutRoute(ctx, call, oid) : lfsGetRoute(ctx, call, oid);
        }
        break;
      case "datasets":
      case "spaces":
        throw new HttpError(404, `this hub stores models only (no ${second})`, { hfCode: "RepoNotFound" });
    }
    throw new HttpError(404, "no such route");
  }
  if (first === "datasets" || first === "spaces") {
    throw new HttpError(404, `this hub stores models only (no ${first})`, { hfCode: "RepoNotFound" });
  }
  // `/{repo}.git/info/lfs/objects/batch`
  const gitAt = segs.findIndex((s) => s.endsWith(".git"));
  if (gitAt >= 0 && gitAt <= 1 && segs.slice(gitAt + 1).join("/") === "info/lfs/objects/batch") {
    call.route = "lfs.batch";
    allow(call, "POST");
    const parts = segs.slice(0, gitAt + 1).map(decode);
    parts[gitAt] = parts[gitAt]!.slice(0, -4);
    return lfsBatchRoute(ctx, call, parts.join("/"));
  }
  // `/{repo}/resolve/{rev}/{path}` and `/raw/`
  const at =
    segs[2] === "resolve" || segs[2] === "raw" ? 2 : segs[1] === "resolve" || segs[1] === "raw" ? 1 : -1;
  if (at > 0 && segs.length >= at + 3) {
    call.route = "resolve";
    allow(call, "GET", "HEAD");
    const id = segs.slice(0, at).map(decode).join("/");
    return resolveRoute(
      ctx,
      call,
      id,
      decode(segs[at + 1]!),
      segs
        .slice(at + 2)
        .map(decode)
        .join("/"),
    );
  }
  throw new HttpError(404, "no such route");
}

function defaultLog(entry: HubLogEntry): void {
  process.stdout.write(`${JSON.stringify(entry)}\n`);
}

function assertOptions(o: HubOptions): void {
  if (typeof o !== "object" || o === null)
    throw new TypeError(`options must be an object, got ${describe(o)}`);
  if (typeof o.dataDir !== "string" || o.dataDir === "") {
    throw new TypeError(`options.dataDir must be a non-empty string, got ${describe(o.dataDir)}`);
  }
  if (o.port !== undefined && (!Number.isInteger(o.port) || o.port < 0 || o.port > 65535)) {
    throw new RangeError(`options.port must be an integer in [0, 65535], got ${describe(o.port)}`);
  }
  for (const k of ["maxUploadBytes", "maxBodyBytes"] as const) {
    const v = o[k];
    if (v !== undefined && (!Number.isSafeInteger(v) || v < 1)) {
      throw new RangeError(`options.${k} must be a positive integer, got ${describe(v)}`);
    }
  }
}

async function storeBackend(spec: string | undefined): Promise<Backend | undefined> {
  if (spec === undefined || spec === "") return undefined;
  const m = /^s3:\/\/([^/]+)\/?(.*)$/.exec(spec);
  if (m === null)
    throw new RangeError(`options.store must be "s3://bucket[/prefix]", got ${JSON.stringify(spec)}`);
  const { s3Backend } = await import("@lowbit/store-s3");
  const endpoint = process.env["LOWBIT_S3_ENDPOINT"] ?? process.env["AWS_ENDPOINT_URL"];
  return s3Backend({
    bucket: m[1]!,
    prefix: m[2] ?? "",
    ...(endpoint === undefined ? {} : { endpoint, forcePathStyle: true }),
  });
}

async function openMeta(spec: string | undefined, dataDir: string): Promise<MetaStore> {
  if (spec === undefined || spec === "") return Meta.open(join(dataDir, "hub.db"));
  if (!/^postgres(ql)?:\/\//.test(spec)) {
    throw new RangeError(
      `options.meta must be a "postgres://…" connection string, got ${JSON.stringify(spec.slice(0, 20))}…`,
    );
  }
  const { PgMeta } = await import("./meta-pg.js");
  return PgMeta.open(spec);
}

/**
 * Starts the hub: opens (or creates) `<dataDir>/hub.db` and the object store, then listens. Resolves
 * once the port is bound; `close()` drains requests in flight and closes everything.
 */
export async function startHub(options: HubOptions): Promise<Hub> {
  assertOptions(options);
  const dataDir = options.dataDir;
  await mkdir(dataDir, { recursive: true });
  const log =
    options.log === false
      ? () => {}
      : (e: Omit<HubLogEntry, "time">) =>
          (options.log || defaultLog)({ time: new Date().toISOString(), ...e } as HubLogEntry);
  const meta = await openMeta(options.meta, dataDir);
  let blobs: Blobs;
  try {
    const backend = await storeBackend(options.store);
    blobs = await Blobs.open({
      dir: dataDir,
      ...(backend === undefined ? {} : { backend }),
      maxUploadBytes: options.maxUploadBytes ?? DEFAULT_MAX_UPLOAD_BYTES,
    });
  } catch (e) {
    await meta.close();
    throw e;
  }
  const ctx: HubContext = {
    meta,
    blobs,
    metrics: new Metrics(),
    signer: new UrlSigner(options.secret),
    envToken: options.token,
    maxUploadBytes: options.maxUploadBytes ?? DEFAULT_MAX_UPLOAD_BYTES,
    maxBodyBytes: options.maxBodyBytes ?? DEFAULT_MAX_BODY_BYTES,
    log,
  };

  const handle = async (req: IncomingMessage, res: ServerResponse) => {
    const started = performance.now();
    ctx.metrics.inFlight++;
    const controller = new AbortController();
    res.on("close", () => {
      if (!res.writableFinished) controller.abort();
    });
    setCors(res);
    let call: Call | undefined;
    try {
      const url = new URL(req.url ?? "/", "http://hub.invalid");
      if (req.method === "OPTIONS") {
        preflight(res);
        return;
      }
      const segments = url.pathname.split("/").slice(1);
      if (segments.at(-1) === "") segments.pop();
      call = {
        req,
        res,
        url,
        segments,
        who: await identify(req, meta, options.token),
        signal: controller.signal,
        route: "unknown",
      };
      await route(ctx, call);
    } catch (e) {
      const err = toHttpError(e);
      if (err.status >= 500)
        log({ level: "error", msg: "request failed", error: String(e), stack: (e as Error)?.stack });
      // A request body left unread would stall the connection; we are done with it.
      if (!req.complete) req.resume();
      if (!res.headersSent && !res.destroyed) sendError(res, err);
      else if (!res.writableEnded) res.destroy();
    } finally {
      ctx.metrics.inFlight--;
      const seconds = (performance.now() - started) / 1000;
      const routeName = call?.route ?? "unknown";
      ctx.metrics.request(req.method ?? "GET", routeName, res.statusCode, seconds);
      // Signed query strings are secrets: log the path only.
      log({
        level: res.statusCode >= 500 ? "error" : "info",
        msg: "request",
        method: req.method,
        path: (req.url ?? "/").split("?")[0],
        route: routeName,
        status: res.statusCode,
        ms: Math.round(seconds * 1000),
        who: call?.who.name ?? "anonymous",
      });
    }
  };

  const server = createServer({ keepAliveTimeout: 5000, requestTimeout: 0 }, (req, res) => {
    void handle(req, res);
  });
  const host = options.host ?? DEFAULT_HOST;
  await new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    server.listen(options.port ?? DEFAULT_PORT, host, () => {
      server.off("error", reject);
      resolve();
    });
  });
  const port = (server.address() as AddressInfo).port;
  const url = `http://${host.includes(":") ? `[${host}]` : host}:${port}`;
  log({
    level: "info",
    msg: "listening",
    url,
    dataDir,
    store: options.store ?? join(dataDir, "store"),
    // The connection string may hold a password: name the kind only.
    meta: options.meta ? "postgres" : join(dataDir, "hub.db"),
  });

  let closing: Promise<void> | undefined;
  return {
    url,
    port,
    meta,
    blobs,
    close(graceMs = 10_000) {
      closing ??= (async () => {
        const closed = new Promise<void>((r) => server.close(() => r()));
        // Keep-alive connections turn idle as their last response ends: close them as they do.
        const idle = setInterval(() => server.closeIdleConnections(), 50);
        server.closeIdleConnections();
        const timer = setTimeout(() => server.closeAllConnections(), graceMs);
        await closed;
        clearInterval(idle);
        clearTimeout(timer);
        await blobs.close();
        await meta.close();
        log({ level: "info", msg: "stopped" });
      })();
      return closing;
    },
  };
}
