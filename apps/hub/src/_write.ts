import { LowbitError } from "@lowbit/bits";
import { requireRead, requireWrite } from "./_auth.js";
import type { Call, HubContext } from "./_context.js";
import { checked, HttpError, originOf, readBody, readObject, sendJson } from "./_http.js";
import { drained, repoAt } from "./_read.js";
import {
  assertBranchName,
  assertRepoId,
  assertRepoPath,
  gitBlobOid,
  isCommitOid,
  isSha256,
  lfsGitOid,
} from "./names.js";
import type { BlobInfo, CommitChanges, TreeFile } from "./types.js";

/** Files at least this large go through LFS, as on the Hub. */
const LFS_THRESHOLD = 10 * 1024 * 1024;
/** Binary formats that always go through LFS. */
const LFS_EXTENSIONS =
  /\.(safetensors|bin|pt|pth|ckpt|onnx|gguf|h5|msgpack|npy|npz|tflite|pb|ot|zip|gz|zst|tar|parquet|arrow)$/i;
/** How long an upload URL from the batch endpoint stays valid. */
const UPLOAD_TTL_S = 3600;

function str(body: Record<string, unknown>, key: string, optional = false): string | undefined {
  const v = body[key];
  if (v === undefined || v === null) {
    if (optional) return undefined;
    throw new HttpError(400, `${key} is required`);
  }
  if (typeof v !== "string") throw new HttpError(400, `${key} must be a string`);
  return v;
}

async function writableRepo(ctx: HubContext, call: Call, id: string) {
  requireWrite(call.who);
  return requireRead(call.who, await ctx.meta.getRepo(id), id);
}

/** `POST /api/repos/create` `{name, organization?, type?, private?, visibility?}`. */
export async function createRepoRoute(ctx: HubContext, call: Call): Promise<void> {
  requireWrite(call.who);
  const body = await readObject(call.req, ctx.maxBodyBytes);
  const name = str(body, "name") as string;
  const org = str(body, "organization", true);
  const type = str(body, "type", true) ?? "model";
  if (type !== "model") throw new HttpError(400, `only model repos are supported, got type ${type}`);
  const id = org === undefined || name.includes("/") ? name : `${org}/${name}`;
  checked(() => assertRepoId(id));
  const isPrivate = body["private"] === true || body["visibility"] === "private";
  const url = `${originOf(call.req)}/${id}`;
  const existing = await ctx.meta.getRepo(id);
  if (existing !== undefined) {
    // The clients' `exist_ok` looks for 409 and carries on.
    throw new HttpError(409, `You already created this model repo: ${id}`, { extra: { url } });
  }
  await ctx.meta.createRepo(id, { private: isPrivate, author: call.who.name });
  ctx.log({ level: "info", msg: "repo created", repo: id, by: call.who.name, private: isPrivate });
  sendJson(call.res, 200, { url, name: id, id });
}

/** `DELETE /api/repos/delete` `{name, organization?, type?}`. */
export async function deleteRepoRoute(ctx: HubContext, call: Call): Promise<void> {
  requireWrite(call.who);
  const body = await readObject(call.req, ctx.maxBodyBytes);
  const name = str(body, "name") as string;
  const org = str(body, "organization", true);
  const id = org === undefined || name.includes("/") ? name : `${org}/${name}`;
  requireRead(call.who, await ctx.meta.getRepo(id), id);
  await ctx.meta.deleteRepo(id);
  ctx.log({ level: "info", msg: "repo deleted", repo: id, by: call.who.name });
  sendJson(call.res, 200, {});
}

/** `PUT /api/models/{repo}/settings` `{private?}`. */
export async function settingsRoute(ctx: HubContext, call: Call, id: string): Promise<void> {
  await writableRepo(ctx, call, id);
  const body = await readObject(call.req, ctx.maxBodyBytes);
  const p =
    body["private"] ?? (body["visibility"] === undefined ? undefined : body["visibility"] === "private");
  if (p !== undefined) {
    if (typeof p !== "boolean") throw new HttpError(400, "private must be a boolean");
    await ctx.meta.setPrivate(id, p);
  }
  sendJson(call.res, 200, { private: (await ctx.meta.getRepo(id))?.private });
}

/** `POST|DELETE /api/models/{repo}/branch/{branch}` `{startingPoint?}`. */
export async function branchRoute(ctx: HubContext, call: Call, id: string, branch: string): Promise<void> {
  await writableRepo(ctx, call, id);
  checked(() => assertBranchName(branch));
  if (call.req.method === "DELETE") {
    if (branch === "main") throw new HttpError(403, "the main branch cannot be deleted");
    await ctx.meta.deleteBranch(id, branch);
  } else {
    const body = await readObject(call.req, ctx.maxBodyBytes);
    const from = str(body, "startingPoint", true) ?? "main";
    const { oid } = await repoAt(ctx, call, id, from);
    await ctx.meta.createBranch(id, branch, oid);
  }
  sendJson(call.res, 200, {});
}

/** `GET /api/whoami-v2`. */
export function whoamiRoute(call: Call): void {
  if (call.who.role === "anonymous") throw new HttpError(401, "no token given");
  sendJson(call.res, 200, {
    type: "user",
    name: call.who.name,
    fullname: call.who.name,
    auth: { type: "access_token", accessToken: { displayName: call.who.name, role: call.who.role } },
  });
}

// ------------------------------------------------------------------------------------- preupload

/** `POST /api/models/{repo}/preupload/{rev}` `{files: [{path, size, sample}]}`. */
export async function preuploadRoute(ctx: HubContext, call: Call, id: string, rev: string): Promise<void> {
  await writableRepo(ctx, call, id);
  const { oid } = await repoAt(ctx, call, id, rev);
  const body = await readObject(call.req, ctx.maxBodyBytes);
  const files = body["files"];
  if (!Array.isArray(files)) throw new HttpError(400, "files must be an array");
  const out = [];
  for (const [i, f] of (files as unknown[]).entries()) {
    if (typeof f !== "object" || f === null) throw new HttpError(400, `files[${i}] must be an object`);
    const o = f as Record<string, unknown>;
    const path = o["path"] as string;
    checked(() => assertRepoPath(o["path"], `files[${i}].path`));
    const size = o["size"];
    if (typeof size !== "number" || !Number.isSafeInteger(size) || size < 0) {
      throw new HttpError(400, `files[${i}].size must be a non-negative integer`);
    }
    const sample = typeof o["sample"] === "string" ? Buffer.from(o["sample"], "base64") : Buffer.alloc(0);
    const binary = sample.includes(0);
    const lfs = size >= LFS_THRESHOLD || binary || LFS_EXTENSIONS.test(path);
    const existing = await ctx.meta.file(oid, path);
    out.push({
      path,
      uploadMode: lfs ? "lfs" : "regular",
      shouldIgnore: false,
      ...(existing === undefined ? {} : { oid: existing.gitOid }),
    });
  }
  sendJson(call.res, 200, { files: out, commitOid: oid });
}

// -------------------------------------------------------------------------------------- LFS batch

/** `POST /{repo}.git/info/lfs/objects/batch` (git-lfs batch API, "basic" transfer). */
export async function lfsBatchRoute(ctx: HubContext, call: Call, id: string): Promise<void> {
  const body = await readObject(call.req, ctx.maxBodyBytes);
  const operation = body["operation"];
  if (operation !== "upload" && operation !== "download") {
    throw new HttpError(400, `operation must be "upload" or "download", got ${JSON.stringify(operation)}`);
  }
  if (operation === "upload") await writableRepo(ctx, call, id);
  else requireRead(call.who, await ctx.meta.getRepo(id), id);
  const objects = body["objects"];
  if (!Array.isArray(objects) || objects.length > 10_000) {
    throw new HttpError(400, "objects must be an array of at most 10000 {oid, size}");
  }
  const origin = originOf(call.req);
  const out = [];
  for (const [i, o] of objects.entries()) {
    const oid = (o as Record<string, unknown> | null)?.["oid"];
    const size = (o as Record<string, unknown> | null)?.["size"];
    if (typeof oid !== "string" || !isSha256(oid)) {
      throw new HttpError(400, `objects[${i}].oid must be 64 lowercase hex digits (sha256)`);
    }
    if (typeof size !== "number" || !Number.isSafeInteger(size) || size < 0) {
      throw new HttpError(400, `objects[${i}].size must be a non-negative integer`);
    }
    const have = await ctx.blobs.has(oid);
    if (operation === "download") {
      if (have === undefined) out.push({ oid, size, error: { code: 404, message: "object not found" } });
      else {
        const { exp, sig } = ctx.signer.sign(["get", oid], UPLOAD_TTL_S);
        const href = `${origin}/api/lfs/objects/${oid}?exp=${exp}&sig=${sig}`;
        out.push({
          oid,
          size,
          authenticated: true,
          actions: { download: { href, expires_in: UPLOAD_TTL_S } },
        });
      }
      continue;
    }
    if (size > ctx.maxUploadBytes) {
      out.push({
        oid,
        size,
        error: { code: 422, message: `size ${size} exceeds the upload limit of ${ctx.maxUploadBytes} bytes` },
      });
    } else if (have !== undefined && have.size === size) {
      // Dedup at upload: the client skips objects without actions.
      out.push({ oid, size, authenticated: true });
    } else {
      const { exp, sig } = ctx.signer.sign(["put", oid, size], UPLOAD_TTL_S);
      const q = `size=${size}&exp=${exp}&sig=${sig}`;
      const v = ctx.signer.sign(["verify", oid, size], UPLOAD_TTL_S);
      out.push({
        oid,
        size,
        authenticated: true,
        actions: {
          upload: { href: `${origin}/api/lfs/objects/${oid}?${q}`, expires_in: UPLOAD_TTL_S },
          verify: {
            href: `${origin}/api/lfs/objects/${oid}/verify?size=${size}&exp=${v.exp}&sig=${v.sig}`,
            expires_in: UPLOAD_TTL_S,
          },
        },
      });
    }
  }
  const json = JSON.stringify({ transfer: "basic", objects: out, hash_algo: "sha256" });
  call.res.writeHead(200, {
    "Content-Type": "application/vnd.git-lfs+json",
    "Content-Length": Buffer.byteLength(json),
  });
  call.res.end(json);
}

function sizeParam(call: Call): number {
  const raw = call.url.searchParams.get("size");
  const size = raw === null ? Number.NaN : Number(raw);
  if (!Number.isSafeInteger(size) || size < 0)
    throw new HttpError(400, "size must be a non-negative integer");
  return size;
}

/** `PUT /api/lfs/objects/{sha256}?size=&exp=&sig=`: the raw bytes, checked before they count. */
export async function lfsPutRoute(ctx: HubContext, call: Call, oid: string): Promise<void> {
  if (!isSha256(oid)) throw new HttpError(400, "object id must be 64 lowercase hex digits (sha256)");
  const size = sizeParam(call);
  ctx.signer.verify(["put", oid, size], call.url.searchParams.get("exp"), call.url.searchParams.get("sig"));
  const declared = call.req.headers["content-length"];
  if (declared !== undefined && Number(declared) !== size) {
    throw new HttpError(400, `Content-Length ${declared} does not match the object's size ${size}`);
  }
  if (call.req.headers["transfer-encoding"] === undefined && declared === undefined && size > 0) {
    throw new HttpError(411, "Content-Length is required");
  }
  let counted = 0;
  const body = (async function* () {
    for await (const chunk of call.req as AsyncIterable<Uint8Array>) {
      counted += chunk.length;
      yield chunk;
    }
  })();
  const started = Date.now();
  let info: BlobInfo;
  try {
    info = await ctx.blobs.receive(body, { sha256: oid, size }, { signal: call.signal });
  } catch (e) {
    // The client sent bytes that are not what it announced: its error, not ours.
    if (e instanceof LowbitError && e.code === "ERR_INTEGRITY") {
      throw new HttpError(400, e.message, { code: e.code });
    }
    throw e;
  }
  ctx.metrics.bytesReceived += counted;
  ctx.metrics.uploads++;
  ctx.log({
    level: "info",
    msg: "lfs object stored",
    oid,
    size: info.size,
    received: counted,
    ms: Date.now() - started,
  });
  call.res.writeHead(200, { "Content-Length": "0" });
  call.res.end();
}

/** `POST /api/lfs/objects/{sha256}/verify`: the object is stored with this size. */
export async function lfsVerifyRoute(ctx: HubContext, call: Call, oid: string): Promise<void> {
  if (!isSha256(oid)) throw new HttpError(400, "object id must be 64 lowercase hex digits (sha256)");
  const size = sizeParam(call);
  ctx.signer.verify(
    ["verify", oid, size],
    call.url.searchParams.get("exp"),
    call.url.searchParams.get("sig"),
  );
  await readBody(call.req, 64 * 1024);
  const have = await ctx.blobs.has(oid);
  if (have === undefined || have.size !== size) {
    throw new HttpError(404, `object ${oid} of ${size} bytes was not received`);
  }
  sendJson(call.res, 200, { oid, size });
}

/** `GET /api/lfs/objects/{sha256}?exp=&sig=`: git-lfs download action. */
export async function lfsGetRoute(ctx: HubContext, call: Call, oid: string): Promise<void> {
  if (!isSha256(oid)) throw new HttpError(400, "object id must be 64 lowercase hex digits (sha256)");
  ctx.signer.verify(["get", oid], call.url.searchParams.get("exp"), call.url.searchParams.get("sig"));
  const f = await ctx.blobs.open(oid);
  call.res.writeHead(200, { "Content-Type": "application/octet-stream", "Content-Length": String(f.size) });
  for await (const chunk of f.stream()) {
    ctx.metrics.bytesServed += chunk.length;
    if (!call.res.write(chunk)) await drained(call.res);
  }
  call.res.end();
}

// ----------------------------------------------------------------------------------------- commit

interface ParsedCommit {
  summary: string;
  description: string;
  parentCommit: string | undefined;
  regular: { path: string; content: Buffer }[];
  lfs: { path: string; oid: string; size: number }[];
  deleted: string[];
  deletedFolders: string[];
}

/** Parses the NDJSON commit body: a header line first, then one operation per line. */
export function parseCommitBody(text: string): ParsedCommit {
  const out: ParsedCommit = {
    summary: "",
    description: "",
    parentCommit: undefined,
    regular: [],
    lfs: [],
    deleted: [],
    deletedFolders: [],
  };
  const lines = text.split("\n").filter((l) => l.trim() !== "");
  if (lines.length === 0) throw new HttpError(400, "commit body is empty: expected NDJSON lines");
  const seen = new Set<string>();
  const claim = (path: unknown, line: number): string => {
    checked(() => assertRepoPath(path, `line ${line}: path`));
    if (seen.has(path as string))
      throw new HttpError(400, `line ${line}: ${path} appears twice in one commit`);
    seen.add(path as string);
    return path as string;
  };
  for (const [i, line] of lines.entries()) {
    const n = i + 1;
    let item: unknown;
    try {
      item = JSON.parse(line);
    } catch (e) {
      throw new HttpError(400, `line ${n} is not valid JSON: ${(e as Error).message}`);
    }
    const key = (item as Record<string, unknown> | null)?.["key"];
    const value = (item as Record<string, unknown> | null)?.["value"] as Record<string, unknown> | undefined;
    if (typeof key !== "string" || typeof value !== "object" || value === null) {
      throw new HttpError(400, `line ${n} must be {"key": …, "value": {…}}`);
    }
    if ((key === "header") !== (n === 1)) {
      throw new HttpError(400, `line ${n}: the header must be the first line, and only the first`);
    }
    switch (key) {
      case "header": {
        const s = value["summary"];
        if (typeof s !== "string" || s.trim() === "")
          throw new HttpError(400, "header.summary must be a non-empty string");
        if (
          s.includes("\0") ||
          (typeof value["description"] === "string" && value["description"].includes("\0"))
        ) {
          throw new HttpError(400, "header: summary and description cannot contain NUL characters");
        }
        out.summary = s.slice(0, 1000);
        const d = value["description"];
        out.description = typeof d === "string" ? d.slice(0, 100_000) : "";
        const p = value["parentCommit"];
        if (p !== undefined && p !== null) {
          if (typeof p !== "string" || !isCommitOid(p))
            throw new HttpError(400, "header.parentCommit must be a 40-hex commit id");
          out.parentCommit = p;
        }
        break;
      }
      case "file": {
        const path = claim(value["path"], n);
        const enc = value["encoding"];
        const content = value["content"];
        if (enc !== "base64" || typeof content !== "string") {
          throw new HttpError(400, `line ${n}: a file needs "content" with "encoding": "base64"`);
        }
        if (!/^[A-Za-z0-9+/]*={0,2}$/.test(content))
          throw new HttpError(400, `line ${n}: content is not base64`);
        out.regular.push({ path, content: Buffer.from(content, "base64") });
        break;
      }
      case "lfsFile": {
        const path = claim(value["path"], n);
        const oid = value["oid"];
        const size = value["size"];
        const algo = value["algo"] ?? "sha256";
        if (algo !== "sha256") throw new HttpError(400, `line ${n}: algo must be sha256`);
        if (typeof oid !== "string" || !isSha256(oid))
          throw new HttpError(400, `line ${n}: oid must be a sha256`);
        if (typeof size !== "number" || !Number.isSafeInteger(size) || size < 0) {
          throw new HttpError(400, `line ${n}: size must be a non-negative integer`);
        }
        out.lfs.push({ path, oid, size });
        break;
      }
      case "deletedFile":
        out.deleted.push(claim(value["path"], n));
        break;
      case "deletedFolder": {
        const p = value["path"];
        out.deletedFolders.push(claim(typeof p === "string" ? p.replace(/\/+$/, "") : p, n));
        break;
      }
      default:
        throw new HttpError(400, `line ${n}: unknown operation ${JSON.stringify(key)}`);
    }
  }
  if (lines.length === 1) throw new HttpError(400, "nothing to commit: no operation follows the header");
  return out;
}

/** `POST /api/models/{repo}/commit/{rev}` (application/x-ndjson). */
export async function commitRoute(ctx: HubContext, call: Call, id: string, rev: string): Promise<void> {
  await writableRepo(ctx, call, id);
  if (call.url.searchParams.get("create_pr") === "1" || call.url.searchParams.get("create_pr") === "true") {
    throw new HttpError(400, "pull requests are not supported by this hub; commit to a branch");
  }
  if (isCommitOid(rev)) throw new HttpError(400, "commits go to a branch, not to a commit id");
  if ((await ctx.meta.resolveRevision(id, rev)) === undefined) {
    throw new HttpError(404, `branch ${rev} not found in ${id}`, { hfCode: "RevisionNotFound" });
  }
  const raw = await readBody(call.req, ctx.maxBodyBytes);
  const type = String(call.req.headers["content-type"] ?? "");
  if (type.startsWith("application/json")) {
    throw new HttpError(
      415,
      "send the commit as application/x-ndjson (header line, then one line per operation)",
    );
  }
  const c = parseCommitBody(raw.toString("utf8"));
  const put: TreeFile[] = [];
  for (const f of c.lfs) {
    // The object was hashed when it arrived; a commit may only name what was verified.
    const have = await ctx.blobs.has(f.oid);
    if (have === undefined) {
      throw new HttpError(
        422,
        `${f.path}: LFS object ${f.oid} was never uploaded (or failed its sha256 check)`,
        {
          code: "ERR_NOT_FOUND",
        },
      );
    }
    if (have.size !== f.size) {
      throw new HttpError(
        422,
        `${f.path}: LFS object ${f.oid} has ${have.size} bytes, the commit says ${f.size}`,
        {
          code: "ERR_INTEGRITY",
        },
      );
    }
    put.push({ path: f.path, size: f.size, sha256: f.oid, gitOid: lfsGitOid(f.oid, f.size), lfs: true });
  }
  for (const f of c.regular) {
    const info = await ctx.blobs.put(f.content);
    put.push({
      path: f.path,
      size: info.size,
      sha256: info.sha256,
      gitOid: gitBlobOid(f.content),
      lfs: false,
    });
  }
  const changes: CommitChanges = { put, delete: c.deleted, deleteFolders: c.deletedFolders };
  const commit = await ctx.meta.commit({
    repo: id,
    branch: rev,
    expectedHead: c.parentCommit,
    summary: c.summary,
    description: c.description,
    author: call.who.name,
    changes,
  });
  ctx.metrics.commits++;
  ctx.log({
    level: "info",
    msg: "commit",
    repo: id,
    branch: rev,
    oid: commit.oid,
    files: put.length,
    by: call.who.name,
  });
  sendJson(call.res, 200, {
    success: true,
    commitOid: commit.oid,
    commitUrl: `${originOf(call.req)}/${id}/commit/${commit.oid}`,
    hookOutput: "",
    pullRequestUrl: null,
  });
}
