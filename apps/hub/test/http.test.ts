/**
 * The HTTP contract the clients rely on, checked on the wire: resolve headers (what Python's
 * huggingface_hub requires of HEAD), Range, errors with X-Error-Code, auth statuses, limits, CORS,
 * health and metrics.
 */
import { createHash } from "node:crypto";
import { readFile } from "node:fs/promises";
import { join } from "node:path";
import { parseHeader } from "@lowbit/safetensors";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { gitBlobOid, lfsGitOid } from "../src/names.js";
import { auth, MODELS, sha256, tempHub } from "./_hub.js";

let ctx: Awaited<ReturnType<typeof tempHub>>;
let url: string;
let model: Buffer;
let head: string;
const text = Buffer.from('{"hidden_size": 8}\n');

async function api(path: string, init: RequestInit = {}) {
  return fetch(`${url}${path}`, init);
}

/** Uploads one LFS object the way the clients do: batch, then PUT to the href it returns. */
async function lfsUpload(repo: string, data: Uint8Array, oid = sha256(data)) {
  const batch = await api(`/${repo}.git/info/lfs/objects/batch`, {
    method: "POST",
    headers: { ...auth(), "Content-Type": "application/vnd.git-lfs+json" },
    body: JSON.stringify({
      operation: "upload",
      transfers: ["basic"],
      objects: [{ oid, size: data.length }],
    }),
  });
  expect(batch.status).toBe(200);
  const json = (await batch.json()) as { objects: { actions?: { upload: { href: string } } }[] };
  const href = json.objects[0]!.actions?.upload.href;
  return href === undefined ? undefined : fetch(href, { method: "PUT", body: data });
}

function ndjson(lines: unknown[]): string {
  return lines.map((l) => JSON.stringify(l)).join("\n");
}

async function commitLines(repo: string, lines: unknown[], token = auth()) {
  return api(`/api/models/${repo}/commit/main`, {
    method: "POST",
    headers: { ...token, "Content-Type": "application/x-ndjson" },
    body: ndjson(lines),
  });
}

beforeAll(async () => {
  ctx = await tempHub({ maxUploadBytes: 8 * 1024 * 1024, maxBodyBytes: 1024 * 1024 });
  url = ctx.hub.url;
  model = await readFile(join(MODELS, "face_expression.f32.safetensors"));
  const created = await api("/api/repos/create", {
    method: "POST",
    headers: { ...auth(), "Content-Type": "application/json" },
    body: JSON.stringify({ name: "m", organization: "org" }),
  });
  expect(created.status).toBe(200);
  expect((await lfsUpload("org/m", model))?.status).toBe(200);
  const res = await commitLines("org/m", [
    { key: "header", value: { summary: "add model" } },
    {
      key: "lfsFile",
      value: { path: "model.safetensors", algo: "sha256", oid: sha256(model), size: model.length },
    },
    { key: "file", value: { path: "config.json", content: text.toString("base64"), encoding: "base64" } },
  ]);
  expect(res.status).toBe(200);
  head = ((await res.json()) as { commitOid: string }).commitOid;
});
afterAll(async () => ctx?.stop());

describe("resolve", () => {
  it("answers HEAD with everything huggingface_hub requires", async () => {
    const res = await api("/org/m/resolve/main/model.safetensors", {
      method: "HEAD",
      headers: { "Accept-Encoding": "identity" },
    });
    expect(res.status).toBe(200);
    expect(res.headers.get("x-repo-commit")).toBe(head);
    expect(res.headers.get("x-linked-etag")).toBe(`"${sha256(model)}"`);
    expect(res.headers.get("x-linked-size")).toBe(String(model.length));
    expect(res.headers.get("etag")).toBe(`"${sha256(model)}"`);
    expect(res.headers.get("content-length")).toBe(String(model.length));
    expect(res.headers.get("accept-ranges")).toBe("bytes");
    // A regular file's ETag is its git blob id, and it has no X-Linked-*.
    const cfg = await api("/org/m/resolve/main/config.json", { method: "HEAD" });
    expect(cfg.headers.get("etag")).toBe(`"${gitBlobOid(text)}"`);
    expect(cfg.headers.get("x-linked-etag")).toBeNull();
  });

  it("serves byte ranges as 206 and refuses unsatisfiable ones with 416", async () => {
    const cases: [string, number, number][] = [
      ["bytes=0-0", 0, 1],
      ["bytes=100-", 100, model.length],
      ["bytes=-500", model.length - 500, model.length],
      [`bytes=5-${model.length + 100}`, 5, model.length],
      ["bytes=700000-900001", 700000, 900002],
    ];
    for (const [range, a, b] of cases) {
      const res = await api("/org/m/resolve/main/model.safetensors", { headers: { Range: range } });
      expect(res.status, range).toBe(206);
      expect(res.headers.get("content-range")).toBe(`bytes ${a}-${b - 1}/${model.length}`);
      expect(Buffer.from(await res.arrayBuffer()).equals(model.subarray(a, b)), range).toBe(true);
    }
    const bad = await api("/org/m/resolve/main/model.safetensors", {
      headers: { Range: `bytes=${model.length}-` },
    });
    expect(bad.status).toBe(416);
    expect(bad.headers.get("content-range")).toBe(`bytes */${model.length}`);
  });

  it("serves a commit id like a branch, and honours If-None-Match", async () => {
    const res = await api(`/org/m/resolve/${head}/config.json`);
    expect(Buffer.from(await res.arrayBuffer()).equals(text)).toBe(true);
    expect(res.headers.get("cache-control")).toContain("immutable");
    const etag = res.headers.get("etag")!;
    const again = await api("/org/m/resolve/main/config.json", { headers: { "If-None-Match": etag } });
    expect(again.status).toBe(304);
  });

  it("names what is missing with the Hub's X-Error-Code", async () => {
    const entry = await api("/org/m/resolve/main/nope.bin");
    expect(entry.status).toBe(404);
    expect(entry.headers.get("x-error-code")).toBe("EntryNotFound");
    expect(entry.headers.get("x-repo-commit")).toBe(head);
    const rev = await api("/org/m/resolve/v9/config.json");
    expect(rev.status).toBe(404);
    expect(rev.headers.get("x-error-code")).toBe("RevisionNotFound");
    const repo = await api("/org/zz/resolve/main/config.json");
    expect(repo.status).toBe(404);
    expect(repo.headers.get("x-error-code")).toBe("RepoNotFound");
    const traversal = await api("/org/m/resolve/main/a%2F..%2Fconfig.json");
    expect(traversal.status).toBe(400);
  });
});

describe("variants", () => {
  it("computes several formats at once (two at a time), each its own cached file", async () => {
    const formats = ["nf4", "int8", "float8_e4m3fn", "float16", "bfloat16"];
    const res = await Promise.all(
      formats.map((f) => api(`/org/m/resolve/main/model.safetensors?format=${f}`)),
    );
    expect(res.map((r) => r.status)).toEqual(formats.map(() => 200));
    const etags = new Set(res.map((r) => r.headers.get("etag")));
    expect(etags.size).toBe(formats.length);
    for (const [i, r] of res.entries()) {
      const bytes = new Uint8Array(await r.arrayBuffer());
      expect(r.headers.get("etag"), formats[i]).toBe(`"${sha256(bytes)}"`);
      expect(r.headers.get("x-lowbit-variant")).toBe(formats[i]);
    }
    const again = await api("/org/m/resolve/main/model.safetensors?format=int8", { method: "HEAD" });
    expect(again.headers.get("x-lowbit-cache")).toBe("hit");
    // mxfp4 needs a last axis divisible by 32: the tensors that have none are kept as they are.
    const mx = new Uint8Array(
      await (await api("/org/m/resolve/main/model.safetensors?format=mxfp4")).arrayBuffer(),
    );
    const h = parseHeader(mx);
    const quantized = Object.keys((JSON.parse(h.metadata["lowbit"]!) as { tensors: object }).tensors);
    const source = parseHeader(model);
    expect(quantized.length).toBeGreaterThan(0);
    const kept = [...source.tensors.keys()].filter((n) => h.tensors.has(n) && !quantized.includes(n));
    expect(kept).toContain("dense2/conv1/depthwise_filter");
    // A variant of a file that is not safetensors, and bad options, are client errors.
    expect((await api("/org/m/resolve/main/config.json?format=nf4")).status).toBe(422);
    expect((await api("/org/m/resolve/main/model.safetensors?format=nf4&nope=1")).status).toBe(400);
  });
});

describe("a variant whose client leaves", () => {
  it("is computed to the end and cached, so the retry is a hit", async () => {
    const path = "/org/m/resolve/main/model.safetensors?format=vq";
    const controller = new AbortController();
    const first = api(path, { signal: controller.signal }).catch((e: Error) => e);
    await new Promise((r) => setTimeout(r, 300));
    controller.abort();
    expect(await first).toBeInstanceOf(Error);
    // Polled in the store itself: a request would join (or restart) the computation.
    let hit = false;
    for (let i = 0; i < 120 && !hit; i++) {
      await new Promise((r) => setTimeout(r, 250));
      hit = (await ctx.hub.blobs.cachedVariant(sha256(model), { format: "vq", options: {} })) !== undefined;
    }
    expect(hit).toBe(true);
    const again = await api(path, { method: "HEAD" });
    expect(again.headers.get("x-lowbit-cache")).toBe("hit");
  });
});

describe("api", () => {
  it("lists the tree with LFS info and paginates with an absolute Link", async () => {
    const res = await api("/api/models/org/m/tree/main?limit=1");
    expect(res.status).toBe(200);
    const page = (await res.json()) as { path: string }[];
    expect(page.length).toBe(1);
    const link = res.headers.get("link")!;
    expect(link).toMatch(
      /^<http:\/\/127\.0\.0\.1:\d+\/api\/models\/org\/m\/tree\/main\?limit=1&cursor=\w+>; rel="next"$/,
    );
    const next = await fetch(link.slice(1, link.indexOf(">")));
    const rest = (await next.json()) as { path: string; oid: string; lfs?: { oid: string } }[];
    expect(next.headers.get("link")).toBeNull();
    const all = [...page, ...rest];
    expect(all.map((e) => e.path)).toEqual(["config.json", "model.safetensors"]);
    const m = rest[0]!;
    expect(m.oid).toBe(lfsGitOid(sha256(model), model.length));
    expect(m.lfs?.oid).toBe(sha256(model));
  });

  it("gives model info with siblings and the commit sha", async () => {
    const info = (await (await api("/api/models/org/m/revision/main")).json()) as {
      id: string;
      sha: string;
      siblings: { rfilename: string; lfs?: { sha256: string } }[];
    };
    expect(info.id).toBe("org/m");
    expect(info.sha).toBe(head);
    expect(info.siblings.map((s) => s.rfilename)).toEqual(["config.json", "model.safetensors"]);
    expect(info.siblings[1]!.lfs?.sha256).toBe(sha256(model));
  });

  it("answers CORS preflights and exposes the headers browsers need", async () => {
    const pre = await api("/org/m/resolve/main/config.json", {
      method: "OPTIONS",
      headers: { Origin: "http://example.test", "Access-Control-Request-Headers": "range" },
    });
    expect(pre.status).toBe(204);
    expect(pre.headers.get("access-control-allow-headers")).toMatch(/Range/);
    const res = await api("/org/m/resolve/main/config.json");
    expect(res.headers.get("access-control-allow-origin")).toBe("*");
    expect(res.headers.get("access-control-expose-headers")).toMatch(/X-Linked-Etag/);
  });

  it("reports health, metrics and stats", async () => {
    expect((await api("/healthz")).status).toBe(200);
    const metrics = await (await api("/metrics")).text();
    expect(metrics).toMatch(/^lowbit_hub_requests_total\{method="GET",route="resolve",status="206"\} \d+$/m);
    expect(metrics).toMatch(/^lowbit_hub_bytes_served_total [1-9]\d*$/m);
    expect(metrics).toMatch(/^lowbit_hub_stored_bytes [1-9]\d*$/m);
    const stats = (await (await api("/api/stats")).json()) as {
      repos: { id: string; logicalBytes: number }[];
    };
    expect(stats.repos.find((r) => r.id === "org/m")?.logicalBytes).toBe(model.length + text.length);
  });
});

describe("access control", () => {
  it("uses 401 without or with a bad token, 403 for a read token, 404 for no repo", async () => {
    const body = JSON.stringify({ name: "x", organization: "org" });
    const json = { "Content-Type": "application/json" };
    expect((await api("/api/repos/create", { method: "POST", headers: json, body })).status).toBe(401);
    const bad = await api("/api/repos/create", {
      method: "POST",
      headers: { ...json, ...auth("nope") },
      body,
    });
    expect(bad.status).toBe(401);
    const read = (await ctx.hub.meta.createToken("reader", "read")).token;
    const ro = await api("/api/repos/create", { method: "POST", headers: { ...json, ...auth(read) }, body });
    expect(ro.status).toBe(403);
    const commit = await commitLines("org/missing", [{ key: "header", value: { summary: "x" } }]);
    expect(commit.status).toBe(404);
    expect(commit.headers.get("x-error-code")).toBe("RepoNotFound");
    // A read token reads a private repo; anonymous gets 401.
    await api("/api/repos/create", {
      method: "POST",
      headers: { ...json, ...auth() },
      body: JSON.stringify({ name: "org/p", private: true }),
    });
    expect((await api("/api/models/org/p")).status).toBe(401);
    expect((await api("/api/models/org/p", { headers: auth(read) })).status).toBe(200);
  });

  it("answers a second create with 409 and the repo's url (Python's exist_ok reads it)", async () => {
    const res = await api("/api/repos/create", {
      method: "POST",
      headers: { ...auth(), "Content-Type": "application/json" },
      body: JSON.stringify({ name: "m", organization: "org" }),
    });
    expect(res.status).toBe(409);
    expect(((await res.json()) as { url: string }).url).toBe(`${url}/org/m`);
  });

  it("tells Xet clients to use LFS", async () => {
    const res = await api("/api/models/org/m/xet-write-token/main", { headers: auth() });
    expect(res.status).toBe(501);
    expect(res.headers.get("x-error-message")).toMatch(/HF_HUB_DISABLE_XET=1/);
  });

  it("rejects invalid repo names", async () => {
    for (const name of ["../etc", "a/b/c", "a--b", "-x", "x\u0001y", ""]) {
      const res = await api("/api/repos/create", {
        method: "POST",
        headers: { ...auth(), "Content-Type": "application/json" },
        body: JSON.stringify({ name }),
      });
      expect(res.status, name).toBe(400);
    }
  });
});

describe("malformed uploads change nothing", () => {
  async function headOf() {
    return ((await (await api("/api/models/org/m")).json()) as { sha: string }).sha;
  }

  it("refuses an LFS object whose bytes do not match its sha256", async () => {
    const data = Buffer.from("not what was announced");
    const fake = createHash("sha256").update("something else").digest("hex");
    const put = await lfsUpload("org/m", data, fake);
    expect(put?.status).toBe(400);
    expect(((await put!.json()) as { code: string }).code).toBe("ERR_INTEGRITY");
    const c = await commitLines("org/m", [
      { key: "header", value: { summary: "ref a bad object" } },
      { key: "lfsFile", value: { path: "bad.bin", algo: "sha256", oid: fake, size: data.length } },
    ]);
    expect(c.status).toBe(422);
    expect(await headOf()).toBe(head);
  });

  it("refuses bad NDJSON, bad JSON, oversized bodies and over-limit objects", async () => {
    const cases: [string, Response][] = [
      ["empty commit", await commitLines("org/m", [{ key: "header", value: { summary: "x" } }])],
      [
        "bad json line",
        await Promise.resolve().then(() =>
          api("/api/models/org/m/commit/main", {
            method: "POST",
            headers: { ...auth(), "Content-Type": "application/x-ndjson" },
            body: `${JSON.stringify({ key: "header", value: { summary: "x" } })}\n{oops`,
          }),
        ),
      ],
      ["no header", await commitLines("org/m", [{ key: "deletedFile", value: { path: "config.json" } }])],
      [
        "unknown op",
        await commitLines("org/m", [
          { key: "header", value: { summary: "x" } },
          { key: "chmod", value: {} },
        ]),
      ],
      [
        "bad base64",
        await commitLines("org/m", [
          { key: "header", value: { summary: "x" } },
          { key: "file", value: { path: "a", content: "@@@", encoding: "base64" } },
        ]),
      ],
      [
        "traversal",
        await commitLines("org/m", [
          { key: "header", value: { summary: "x" } },
          { key: "deletedFile", value: { path: "../x" } },
        ]),
      ],
      [
        "bad json body",
        await api("/api/repos/create", {
          method: "POST",
          headers: { ...auth(), "Content-Type": "application/json" },
          body: "{",
        }),
      ],
    ];
    for (const [name, res] of cases) {
      expect(res.status, name).toBe(400);
      expect(((await res.json()) as { error: string }).error.length, name).toBeGreaterThan(5);
    }
    const big = await api("/api/models/org/m/commit/main", {
      method: "POST",
      headers: { ...auth(), "Content-Type": "application/x-ndjson" },
      body: "x".repeat(2 * 1024 * 1024),
    });
    expect(big.status).toBe(413);
    const batch = await api("/org/m.git/info/lfs/objects/batch", {
      method: "POST",
      headers: { ...auth(), "Content-Type": "application/json" },
      body: JSON.stringify({
        operation: "upload",
        objects: [{ oid: "a".repeat(64), size: 9 * 1024 * 1024 }],
      }),
    });
    const obj = ((await batch.json()) as { objects: { error?: { code: number } }[] }).objects[0]!;
    expect(obj.error?.code).toBe(422);
    expect(await headOf()).toBe(head);
  });

  it("refuses PUTs without a valid signature", async () => {
    const res = await fetch(`${url}/api/lfs/objects/${"b".repeat(64)}?size=3&exp=99999999999&sig=forged`, {
      method: "PUT",
      body: "abc",
    });
    expect(res.status).toBe(403);
  });
});
