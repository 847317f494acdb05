import { type ChildProcess, spawn } from "node:child_process";
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { createRequire } from "node:module";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { DeleteObjectCommand, PutObjectCommand, S3Client } from "@aws-sdk/client-s3";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { backendConformance, collect } from "../../store/test/_backend-conformance.js";
import { type S3Backend, s3Backend } from "../src/index.js";

const BUCKET = "lowbit";
const CREDENTIALS = { accessKeyId: "S3RVER", secretAccessKey: "S3RVER" };

/**
 * s3rver runs in its own process, as a real server would: it encrypts ListObjectsV2 continuation
 * tokens with DES, which OpenSSL 3 (Node ≥ 17) only offers with --openssl-legacy-provider, a flag
 * the test workers should not carry.
 */
const LAUNCHER = `
const S3rver = require(${JSON.stringify(createRequire(import.meta.url).resolve("s3rver"))});
const server = new S3rver({
  port: 0,
  address: "127.0.0.1",
  silent: true,
  directory: process.argv[2],
  configureBuckets: [{ name: ${JSON.stringify(BUCKET)} }],
});
server.run().then((a) => process.stdout.write(JSON.stringify(a) + "\\n"));
process.on("SIGTERM", () => server.close().then(() => process.exit(0)));
`;

let server: ChildProcess | undefined;
let dataDir = "";
let endpoint = "";
let nextPrefix = 0;

beforeAll(async () => {
  dataDir = await mkdtemp(join(tmpdir(), "lowbit-s3rver-"));
  const launcher = join(dataDir, "s3rver-launcher.cjs");
  await writeFile(launcher, LAUNCHER);
  const child = spawn(process.execPath, ["--openssl-legacy-provider", launcher, join(dataDir, "data")], {
    stdio: ["ignore", "pipe", "inherit"],
  });
  server = child;
  const port = await new Promise<number>((resolvePort, reject) => {
    let out = "";
    child.stdout!.on("data", (d: Buffer) => {
      out += d.toString();
      const line = out.split("\n")[0]!;
      if (out.includes("\n")) resolvePort((JSON.parse(line) as { port: number }).port);
    });
    child.on("exit", (code) => reject(new Error(`s3rver exited (${code}) before listening`)));
  });
  endpoint = `http://127.0.0.1:${port}`;
});

afterAll(async () => {
  if (server !== undefined && server.exitCode === null) {
    const exited = new Promise((r) => server!.on("exit", r));
    server.kill("SIGTERM");
    await exited;
  }
  await rm(dataDir, { recursive: true, force: true });
});

function backend(
  prefix: string,
  extra: { bucket?: string; accessKeyId?: string; listPageSize?: number } = {},
): S3Backend {
  return s3Backend({
    bucket: extra.bucket ?? BUCKET,
    prefix,
    endpoint,
    region: "us-east-1",
    credentials: {
      ...CREDENTIALS,
      ...(extra.accessKeyId === undefined ? {} : { accessKeyId: extra.accessKeyId }),
    },
    forcePathStyle: true,
    ...(extra.listPageSize === undefined ? {} : { listPageSize: extra.listPageSize }),
  });
}

async function removeAll(b: S3Backend): Promise<void> {
  for (const e of await collect(b.list(""))) await b.delete(e.key);
}

// s3rver writes an object's file in place (no temp file, no rename), so a reader can catch a PUT half
// done and two PUTs can interleave. AWS S3 (and MinIO, R2, Ceph RGW) make a PUT visible atomically.
const S3RVER_WRITES_IN_PLACE = "s3rver 3.7.1 writes objects in place; S3 itself replaces objects atomically";

// Each test gets its own prefix in the one bucket, so tests never see each other's keys.
backendConformance(
  "s3Backend (s3rver)",
  async () => {
    const b = backend(`conformance/t${nextPrefix++}`);
    return {
      backend: b,
      cleanup: async () => {
        await removeAll(b);
        b.close();
      },
    };
  },
  {
    knownGaps: {
      "atomic-overwrite": S3RVER_WRITES_IN_PLACE,
      "concurrent-different-content": S3RVER_WRITES_IN_PLACE,
    },
  },
);

describe("s3Backend", () => {
  it("describes itself and applies the settings S3-compatible stores need", async () => {
    const b = backend("models/prod");
    try {
      expect(b.description).toBe("s3://lowbit/models/prod/");
      expect(b.prefix).toBe("models/prod/");
      expect(b.bucket).toBe(BUCKET);
      expect(await b.client.config.forcePathStyle).toBe(true);
      expect(await b.client.config.requestChecksumCalculation()).toBe("WHEN_REQUIRED");
      expect(await b.client.config.responseChecksumValidation()).toBe("WHEN_REQUIRED");
      const defaults = s3Backend({ bucket: BUCKET, endpoint, credentials: CREDENTIALS });
      expect(await defaults.client.config.region()).toBe("us-east-1");
      expect(await defaults.client.config.forcePathStyle).toBe(true);
      expect(defaults.description).toBe("s3://lowbit/");
      defaults.close();
    } finally {
      b.close();
    }
  });

  it("keeps keys under its prefix: the bucket root sees them prefixed, siblings do not see them", async () => {
    const a = backend("iso/a");
    const c = backend("iso/c");
    const root = backend("");
    try {
      await a.put("objects/ab/1", new Uint8Array([1]));
      await c.put("objects/ab/1", new Uint8Array([2, 2]));
      expect(Array.from(await a.get("objects/ab/1"))).toEqual([1]);
      expect((await collect(c.list(""))).map((e) => [e.key, e.size])).toEqual([["objects/ab/1", 2]]);
      expect((await collect(root.list("iso/"))).map((e) => e.key)).toEqual([
        "iso/a/objects/ab/1",
        "iso/c/objects/ab/1",
      ]);
      expect(Array.from(await root.get("iso/c/objects/ab/1"))).toEqual([2, 2]);
    } finally {
      await removeAll(a);
      await removeAll(c);
      a.close();
      c.close();
      root.close();
    }
  });

  it("list skips objects under the prefix that are not store keys", async () => {
    const FOREIGN = ["foreign/README.md", "foreign/Upper/x", "foreign/dir/", "foreign/a b"];
    const b = backend("foreign");
    const raw = new S3Client({
      endpoint,
      region: "us-east-1",
      forcePathStyle: true,
      credentials: CREDENTIALS,
      requestChecksumCalculation: "WHEN_REQUIRED",
      responseChecksumValidation: "WHEN_REQUIRED",
    });
    try {
      await b.put("objects/ok", new Uint8Array([1]));
      for (const key of FOREIGN) {
        await raw.send(new PutObjectCommand({ Bucket: BUCKET, Key: key, Body: new Uint8Array([9]) }));
      }
      expect((await collect(b.list(""))).map((e) => e.key)).toEqual(["objects/ok"]);
    } finally {
      await removeAll(b);
      for (const key of FOREIGN) await raw.send(new DeleteObjectCommand({ Bucket: BUCKET, Key: key }));
      raw.destroy();
      b.close();
    }
  });

  it("lists across pages (ListObjectsV2 continuation tokens)", async () => {
    const b = backend("paged", { listPageSize: 10 });
    const keys = Array.from(
      { length: 37 },
      (_, i) => `objects/${String(i % 3)}/${String(i).padStart(5, "0")}`,
    );
    try {
      await Promise.all(keys.map((k, i) => b.put(k, new Uint8Array(i))));
      const listed = await collect(b.list(""));
      expect(listed.map((e) => e.key)).toEqual([...keys].sort());
      expect(listed.map((e) => e.size)).toEqual([...keys].sort().map((k) => keys.indexOf(k)));
      const one = await collect(b.list("objects/1/"));
      expect(one.map((e) => e.key)).toEqual(keys.filter((k) => k.startsWith("objects/1/")).sort());
    } finally {
      // One at a time: s3rver removes emptied folders after a DELETE and races with itself.
      for (const k of keys) await b.delete(k);
      b.close();
    }
  });

  it("a missing bucket or bad credentials are errors with the S3 error as cause, not ERR_NOT_FOUND", async () => {
    const noBucket = backend("x", { bucket: "no-such-bucket" });
    const badKey = backend("x", { accessKeyId: "NOT-A-KEY" });
    try {
      const e1 = await noBucket.get("k").catch((e: unknown) => e);
      expect(e1).toBeInstanceOf(Error);
      expect((e1 as { code?: string }).code).toBeUndefined();
      expect((e1 as Error).message).toContain("s3://no-such-bucket/x/");
      expect((e1 as Error).cause).toMatchObject({ name: "NoSuchBucket" });
      const e2 = await badKey.put("k", new Uint8Array([1])).catch((e: unknown) => e);
      expect((e2 as Error).message).toContain('PUT "k"');
      expect((e2 as Error).cause).toMatchObject({ name: "InvalidAccessKeyId" });
      expect(await badKey.get("k").catch((e: unknown) => e)).not.toMatchObject({ code: "ERR_NOT_FOUND" });
    } finally {
      noBucket.close();
      badKey.close();
    }
  });

  it("leaves a client it was given open on close", async () => {
    const client = new S3Client({
      endpoint,
      region: "us-east-1",
      forcePathStyle: true,
      credentials: CREDENTIALS,
    });
    const b = s3Backend({ bucket: BUCKET, prefix: "given", client });
    try {
      expect(b.client).toBe(client);
      await b.put("k", new Uint8Array([4, 5]));
      b.close();
      b.close();
      const again = s3Backend({ bucket: BUCKET, prefix: "given", client });
      expect(Array.from(await again.get("k"))).toEqual([4, 5]);
      await again.delete("k");
    } finally {
      client.destroy();
    }
  });

  it("checks its options", () => {
    expect(() => s3Backend(undefined as unknown as { bucket: string })).toThrow(TypeError);
    expect(() => s3Backend({ bucket: 3 as unknown as string })).toThrow(TypeError);
    expect(() => s3Backend({ bucket: "" })).toThrow(RangeError);
    expect(() => s3Backend({ bucket: "a/b" })).toThrow(RangeError);
    expect(() => s3Backend({ bucket: BUCKET, prefix: "../x", endpoint })).toThrow(RangeError);
    expect(() => s3Backend({ bucket: BUCKET, prefix: "/abs", endpoint })).toThrow(RangeError);
    expect(() => s3Backend({ bucket: BUCKET, endpoint: "not a url" })).toThrow(RangeError);
    expect(() => s3Backend({ bucket: BUCKET, endpoint, listPageSize: 0 })).toThrow(RangeError);
    const client = new S3Client({ region: "us-east-1" });
    try {
      expect(() => s3Backend({ bucket: BUCKET, client, endpoint })).toThrow(TypeError);
      expect(() => s3Backend({ bucket: BUCKET, client: {} as S3Client })).toThrow(TypeError);
    } finally {
      client.destroy();
    }
  });
});
