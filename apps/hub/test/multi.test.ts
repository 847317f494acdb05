/**
 * Two hub instances sharing PostgreSQL metadata and an S3 object store (s3rver, a real S3 server in
 * its own process), as behind a load balancer: an upload URL handed out by one is used on the other,
 * a commit on one is served by the other, and commits to one branch from both serialize.
 */
import { type ChildProcess, spawn } from "node:child_process";
import { mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import { createRequire } from "node:module";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startHub } from "../src/server.js";
import type { Hub } from "../src/types.js";
import { auth, MODELS, sha256, TOKEN } from "./_hub.js";
import { type Postgres, postgresUnavailable, startPostgres } from "./_postgres.js";

const BUCKET = "hub";
const unavailable = postgresUnavailable();
if (unavailable !== undefined) console.warn(`multi-instance hub tests skipped: ${unavailable}`);

// s3rver needs --openssl-legacy-provider (DES continuation tokens), so it runs in its own process.
const s3rverPath = createRequire(new URL("../../../packages/store-s3/package.json", import.meta.url)).resolve(
  "s3rver",
);
const LAUNCHER = `
const S3rver = require(${JSON.stringify(s3rverPath)});
const server = new S3rver({ port: 0, address: "127.0.0.1", silent: true, directory: process.argv[2],
  configureBuckets: [{ name: ${JSON.stringify(BUCKET)} }] });
server.run().then((a) => process.stdout.write(JSON.stringify(a) + "\\n"));
process.on("SIGTERM", () => server.close().then(() => process.exit(0)));
`;

describe.skipIf(unavailable !== undefined)("two hubs on PostgreSQL + S3", () => {
  let pg: Postgres;
  let s3: ChildProcess;
  let dir: string;
  let a: Hub;
  let b: Hub;

  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), "lowbit-hub-multi-"));
    await writeFile(join(dir, "s3rver.cjs"), LAUNCHER);
    s3 = spawn(process.execPath, ["--openssl-legacy-provider", join(dir, "s3rver.cjs"), join(dir, "s3")], {
      stdio: ["ignore", "pipe", "inherit"],
    });
    const port = await new Promise<number>((resolve, reject) => {
      let out = "";
      s3.stdout!.on("data", (d: Buffer) => {
        out += d.toString();
        if (out.includes("\n")) resolve((JSON.parse(out.split("\n")[0]!) as { port: number }).port);
      });
      s3.on("exit", (code) => reject(new Error(`s3rver exited (${code}) before listening`)));
    });
    pg = await startPostgres();
    // The hub reads S3 settings from the environment, as in production.
    process.env["LOWBIT_S3_ENDPOINT"] = `http://127.0.0.1:${port}`;
    process.env["AWS_ACCESS_KEY_ID"] = "S3RVER";
    process.env["AWS_SECRET_ACCESS_KEY"] = "S3RVER";
    const common = {
      port: 0,
      token: TOKEN,
      log: false as const,
      meta: pg.url,
      store: `s3://${BUCKET}/models`,
      secret: "shared-signing-key",
    };
    // Both start at once on an empty database: schema creation must not race.
    [a, b] = await Promise.all([
      startHub({ ...common, dataDir: join(dir, "a") }),
      startHub({ ...common, dataDir: join(dir, "b") }),
    ]);
  }, 120_000);

  afterAll(async () => {
    await a?.close(1000);
    await b?.close(1000);
    await pg?.stop();
    if (s3 !== undefined && s3.exitCode === null) {
      const exited = new Promise((r) => s3.on("exit", r));
      s3.kill("SIGTERM");
      await exited;
    }
    await rm(dir, { recursive: true, force: true });
  });

  async function post(hub: Hub, path: string, body: unknown, type = "application/json") {
    return fetch(`${hub.url}${path}`, {
      method: "POST",
      headers: { ...auth(), "Content-Type": type },
      body: typeof body === "string" ? body : JSON.stringify(body),
    });
  }

  function commitBody(path: string, data: Uint8Array, parent?: string): string {
    const header = { summary: `add ${path}`, ...(parent === undefined ? {} : { parentCommit: parent }) };
    return [
      JSON.stringify({ key: "header", value: header }),
      JSON.stringify({
        key: "lfsFile",
        value: { path, algo: "sha256", oid: sha256(data), size: data.length },
      }),
    ].join("\n");
  }

  it("uploads through one instance and serves from the other", async () => {
    expect((await post(a, "/api/repos/create", { name: "org/m" })).status).toBe(200);
    // The repo is visible at once on the other instance.
    expect((await post(b, "/api/repos/create", { name: "org/m" })).status).toBe(409);

    const data = await readFile(join(MODELS, "faceres.f16.safetensors"));
    const batch = await post(a, "/org/m.git/info/lfs/objects/batch", {
      operation: "upload",
      objects: [{ oid: sha256(data), size: data.length }],
    });
    const href = ((await batch.json()) as { objects: { actions: { upload: { href: string } } }[] })
      .objects[0]!.actions.upload.href;
    // The load balancer sends the PUT to the other instance: the shared key makes it valid there.
    const onB = href.replace(a.url, b.url);
    expect(onB).not.toBe(href);
    expect((await fetch(onB, { method: "PUT", body: data })).status).toBe(200);
    // Instance A sees the object B stored (same S3 store) and accepts a commit naming it.
    expect(
      (
        await post(
          a,
          "/api/models/org/m/commit/main",
          commitBody("w.safetensors", data),
          "application/x-ndjson",
        )
      ).status,
    ).toBe(200);

    const got = Buffer.from(await (await fetch(`${b.url}/org/m/resolve/main/w.safetensors`)).arrayBuffer());
    expect(sha256(got)).toBe(sha256(data));
    const range = await fetch(`${b.url}/org/m/resolve/main/w.safetensors`, {
      headers: { Range: "bytes=1000-1999" },
    });
    expect(range.status).toBe(206);
    expect(Buffer.from(await range.arrayBuffer()).equals(data.subarray(1000, 2000))).toBe(true);
  });

  it("stores a fine-tune pushed to the other instance as a delta", async () => {
    const tune = await readFile(join(MODELS, "faceres-deep.f16.safetensors"));
    expect((await post(b, "/api/repos/create", { name: "org/tune" })).status).toBe(200);
    const batch = await post(b, "/org/tune.git/info/lfs/objects/batch", {
      operation: "upload",
      objects: [{ oid: sha256(tune), size: tune.length }],
    });
    const href = ((await batch.json()) as { objects: { actions: { upload: { href: string } } }[] })
      .objects[0]!.actions.upload.href;
    expect((await fetch(href, { method: "PUT", body: tune })).status).toBe(200);
    expect(
      (
        await post(
          b,
          "/api/models/org/tune/commit/main",
          commitBody("w.safetensors", tune),
          "application/x-ndjson",
        )
      ).status,
    ).toBe(200);
    const stats = (await (await fetch(`${a.url}/api/stats`)).json()) as {
      repos: { id: string; logicalBytes: number; storedBytes: number }[];
    };
    const row = stats.repos.find((r) => r.id === "org/tune")!;
    expect(row.storedBytes / row.logicalBytes).toBeLessThan(0.8);
  });

  it("serializes commits to one branch from both instances", async () => {
    expect((await post(a, "/api/repos/create", { name: "org/race" })).status).toBe(200);
    const file = (i: number) =>
      [
        JSON.stringify({ key: "header", value: { summary: `file ${i}` } }),
        JSON.stringify({
          key: "file",
          value: { path: `f${i}.txt`, content: Buffer.from(`${i}\n`).toString("base64"), encoding: "base64" },
        }),
      ].join("\n");
    const results = await Promise.all(
      Array.from({ length: 12 }, (_, i) =>
        post(i % 2 === 0 ? a : b, "/api/models/org/race/commit/main", file(i), "application/x-ndjson"),
      ),
    );
    expect(results.map((r) => r.status)).toEqual(Array(12).fill(200));
    const tree = (await (await fetch(`${b.url}/api/models/org/race/tree/main`)).json()) as { path: string }[];
    expect(tree.length).toBe(12);
    const log = (await (await fetch(`${a.url}/api/models/org/race/commits/main`)).json()) as {
      parents: string[];
    }[];
    expect(log.length).toBe(13);
    // A client that names the head it saw loses when the other instance moved the branch first.
    const head = (log[0] as unknown as { id: string }).id;
    expect(
      (await post(a, "/api/models/org/race/commit/main", file(100), "application/x-ndjson")).status,
    ).toBe(200);
    const stale = await post(
      b,
      "/api/models/org/race/commit/main",
      [
        JSON.stringify({ key: "header", value: { summary: "stale", parentCommit: head } }),
        JSON.stringify({ key: "deletedFile", value: { path: "f0.txt" } }),
      ].join("\n"),
      "application/x-ndjson",
    );
    expect(stale.status).toBe(409);
  });
});
