/**
 * Faults: a server killed with SIGKILL in the middle of an upload, a damaged object on disk, and many
 * concurrent Range downloads while an upload runs.
 */
import { type ChildProcess, spawn } from "node:child_process";
import { once } from "node:events";
import { mkdtemp, readdir, readFile, rm, stat, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { createInterface } from "node:readline";
import { afterAll, describe, expect, it } from "vitest";
import { auth, MODELS, sha256, TOKEN, tempHub } from "./_hub.js";

const SERVE = join(import.meta.dirname, "_serve.ts");
const dirs: string[] = [];
const children: ChildProcess[] = [];
afterAll(async () => {
  for (const c of children) c.kill("SIGKILL");
  for (const d of dirs) await rm(d, { recursive: true, force: true });
});

async function serve(dataDir: string): Promise<{ child: ChildProcess; url: string }> {
  const child = spawn(process.execPath, ["--import", "tsx", SERVE], {
    env: { ...process.env, LOWBIT_HUB_DATA: dataDir, LOWBIT_HUB_TOKEN: TOKEN },
    stdio: ["ignore", "pipe", "inherit"],
  });
  children.push(child);
  const lines = createInterface({ input: child.stdout! });
  const [line] = (await once(lines, "line")) as [string];
  return { child, url: line.trim() };
}

async function batchHref(url: string, repo: string, data: Uint8Array): Promise<string | undefined> {
  const res = await fetch(`${url}/${repo}.git/info/lfs/objects/batch`, {
    method: "POST",
    headers: { ...auth(), "Content-Type": "application/json" },
    body: JSON.stringify({ operation: "upload", objects: [{ oid: sha256(data), size: data.length }] }),
  });
  const json = (await res.json()) as { objects: { actions?: { upload: { href: string } } }[] };
  return json.objects[0]!.actions?.upload.href;
}

async function commitLfs(url: string, repo: string, path: string, data: Uint8Array) {
  return fetch(`${url}/api/models/${repo}/commit/main`, {
    method: "POST",
    headers: { ...auth(), "Content-Type": "application/x-ndjson" },
    body: [
      JSON.stringify({ key: "header", value: { summary: `add ${path}` } }),
      JSON.stringify({
        key: "lfsFile",
        value: { path, algo: "sha256", oid: sha256(data), size: data.length },
      }),
    ].join("\n"),
  });
}

async function createRepo(url: string, name: string) {
  const res = await fetch(`${url}/api/repos/create`, {
    method: "POST",
    headers: { ...auth(), "Content-Type": "application/json" },
    body: JSON.stringify({ name }),
  });
  expect(res.status).toBe(200);
}

describe("kill -9 during an upload", () => {
  it("restarts at the previous commit with no partial file, and the upload can be retried", async () => {
    const dataDir = await mkdtemp(join(tmpdir(), "lowbit-hub-kill-"));
    dirs.push(dataDir);
    const first = await serve(dataDir);
    await createRepo(first.url, "org/m");
    const small = await readFile(join(MODELS, "face_expression.f32.safetensors"));
    await fetch((await batchHref(first.url, "org/m", small))!, { method: "PUT", body: small });
    expect((await commitLfs(first.url, "org/m", "a.safetensors", small)).status).toBe(200);
    const before = ((await (await fetch(`${first.url}/api/models/org/m`)).json()) as { sha: string }).sha;

    // Send half of a 7 MB object, then kill the server while it waits for the rest.
    const big = await readFile(join(MODELS, "faceres.f16.safetensors"));
    const href = (await batchHref(first.url, "org/m", big))!;
    const u = new URL(href);
    const { request } = await import("node:http");
    const req = request({
      host: u.hostname,
      port: u.port,
      path: u.pathname + u.search,
      method: "PUT",
      headers: { "Content-Length": big.length },
    });
    req.on("error", () => {});
    req.write(big.subarray(0, big.length >> 1));
    // Wait until the server has the bytes on disk as a temp file.
    const tmp = join(dataDir, "tmp");
    for (let i = 0; i < 200; i++) {
      const names = await readdir(tmp).catch(() => [] as string[]);
      const sizes = await Promise.all(
        names.map((n) =>
          stat(join(tmp, n)).then(
            (s) => s.size,
            () => 0,
          ),
        ),
      );
      if (sizes.some((s) => s > 0)) break;
      await new Promise((r) => setTimeout(r, 25));
    }
    first.child.kill("SIGKILL");
    await once(first.child, "exit");
    req.destroy();

    const second = await serve(dataDir);
    const after = (await (await fetch(`${second.url}/api/models/org/m`)).json()) as {
      sha: string;
      siblings: { rfilename: string }[];
    };
    expect(after.sha).toBe(before);
    expect(after.siblings.map((s) => s.rfilename)).toEqual(["a.safetensors"]);
    expect(await readdir(tmp)).toEqual([]);
    // Nothing of the big object was kept: the batch asks for it again, and the retry succeeds.
    const retry = await batchHref(second.url, "org/m", big);
    expect(retry).toBeDefined();
    expect((await fetch(retry!, { method: "PUT", body: big })).status).toBe(200);
    expect((await commitLfs(second.url, "org/m", "b.safetensors", big)).status).toBe(200);
    const got = Buffer.from(
      await (await fetch(`${second.url}/org/m/resolve/main/b.safetensors`)).arrayBuffer(),
    );
    expect(sha256(got)).toBe(sha256(big));
    second.child.kill("SIGTERM");
    await once(second.child, "exit");
  });
});

describe("a damaged object on disk", () => {
  it("answers 500 with ERR_INTEGRITY, never wrong bytes", async () => {
    const { hub, dir, stop } = await tempHub();
    try {
      await createRepo(hub.url, "org/d");
      const data = await readFile(join(MODELS, "face_landmark_68.f32.safetensors"));
      await fetch((await batchHref(hub.url, "org/d", data))!, { method: "PUT", body: data });
      expect((await commitLfs(hub.url, "org/d", "w.safetensors", data)).status).toBe(200);
      // Flip one byte in the middle of every object file (the payload, past the header).
      const objects = join(dir, "store", "objects");
      let damaged = 0;
      for (const sub of await readdir(objects)) {
        for (const name of await readdir(join(objects, sub))) {
          const p = join(objects, sub, name);
          const bytes = await readFile(p);
          if (bytes.length < 1024) continue;
          bytes[bytes.length - 100]! ^= 0x55;
          await writeFile(p, bytes);
          damaged++;
        }
      }
      expect(damaged).toBeGreaterThan(0);
      // A fresh hub over the same folder, so nothing is served from a decoded-object cache.
      await hub.close();
      const { startHub } = await import("../src/server.js");
      const again = await startHub({ dataDir: dir, port: 0, token: TOKEN, log: false });
      try {
        const res = await fetch(`${again.url}/org/d/resolve/main/w.safetensors`);
        expect(res.status).toBe(500);
        const body = (await res.json()) as { code: string };
        expect(["ERR_INTEGRITY", "ERR_CORRUPT"]).toContain(body.code);
      } finally {
        await again.close();
      }
    } finally {
      await stop().catch(() => {});
    }
  });
});

describe("64 concurrent Range downloads while an upload runs", () => {
  it("serves every byte right", async () => {
    const { hub, stop } = await tempHub();
    try {
      await createRepo(hub.url, "org/c");
      const data = await readFile(join(MODELS, "faceres.f16.safetensors"));
      await fetch((await batchHref(hub.url, "org/c", data))!, { method: "PUT", body: data });
      expect((await commitLfs(hub.url, "org/c", "w.safetensors", data)).status).toBe(200);
      const other = await readFile(join(MODELS, "faceres-deep.f16.safetensors"));
      const upload = (async () => {
        const r = await fetch((await batchHref(hub.url, "org/c", other))!, { method: "PUT", body: other });
        expect(r.status).toBe(200);
      })();
      let seed = 7;
      const rand = (n: number) => {
        seed = (seed * 1103515245 + 12345) % 2 ** 31;
        return seed % n;
      };
      const ranges = Array.from({ length: 64 }, () => {
        const a = rand(data.length - 1);
        return [a, Math.min(data.length - 1, a + rand(2_000_000))] as const;
      });
      const results = await Promise.all(
        ranges.map(async ([a, b]) => {
          const r = await fetch(`${hub.url}/org/c/resolve/main/w.safetensors`, {
            headers: { Range: `bytes=${a}-${b}` },
          });
          return { status: r.status, ok: Buffer.from(await r.arrayBuffer()).equals(data.subarray(a, b + 1)) };
        }),
      );
      await upload;
      expect(results.every((r) => r.status === 206 && r.ok)).toBe(true);
    } finally {
      await stop();
    }
  });
});
