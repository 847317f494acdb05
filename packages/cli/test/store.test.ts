import { type ChildProcess, spawn, spawnSync } from "node:child_process";
import { createHash } from "node:crypto";
import { existsSync, mkdirSync, readdirSync, readFileSync, statSync, writeFileSync } from "node:fs";
import { createRequire } from "node:module";
import { join, relative } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { main } from "../src/index.js";
import { assertBuilt, BIN, lowbit as lowbitBin, sharedModel, sink, tempDir } from "./_helpers.js";

// `lowbit store` run in process against a temporary store, on the two faceres models of
// ../shared (same tensor names and shapes; faceres-deep differs in its weights like a fine-tune).
// The tests run in order and build on each other: init, ingest, restore, ls, stats, gc, verify.
const FACERES = sharedModel("faceres.f16.safetensors");
const DEEP = sharedModel("faceres-deep.f16.safetensors");

let dir = "";
let cleanup = () => {};
let store = "";
const at = (name: string) => join(dir, name);

beforeAll(() => {
  ({ dir, cleanup } = tempDir());
  store = at("store");
});
afterAll(() => cleanup());

async function lowbit(...args: string[]) {
  return lowbitWith({}, ...args);
}

async function lowbitWith(io: { tty?: boolean; signal?: AbortSignal }, ...args: string[]) {
  const stdout = sink();
  const stderr = sink(io.tty === true);
  const code = await main(["store", ...args], {
    stdout,
    stderr,
    ...(io.signal !== undefined ? { signal: io.signal } : {}),
  });
  return { code, stdout: stdout.text, stderr: stderr.text };
}

const sha256 = (path: string) => createHash("sha256").update(readFileSync(path)).digest("hex");

function filesUnder(root: string): string[] {
  const out: string[] = [];
  for (const entry of readdirSync(root, { withFileTypes: true, recursive: true })) {
    if (entry.isFile()) out.push(relative(root, join(entry.parentPath, entry.name)));
  }
  return out.sort();
}

describe("lowbit store", () => {
  it("init creates a store once; a second init exits 1", async () => {
    const r = await lowbit("init", "--store", store);
    expect(r.stderr).toBe("");
    expect(r.code).toBe(0);
    expect(r.stdout).toContain(store);
    expect(existsSync(store)).toBe(true);
    const again = await lowbit("init", "--store", store);
    expect(again.code).toBe(1);
    expect(again.stderr).toMatch(/^lowbit: /);
    expect(again.stdout).toBe("");
  });

  it("ingest --json stores a base model, then a fine-tune against it at a fraction of its size", async () => {
    const a = await lowbit("ingest", FACERES, "--store", store, "--name", "faceres", "--json");
    expect(a.stderr).toBe("");
    expect(a.code).toBe(0);
    const ja = JSON.parse(a.stdout);
    expect(ja).toMatchObject({ name: "faceres", base: null, files: 1, logicalBytes: statSync(FACERES).size });
    expect(ja.manifest).toBeUndefined();
    expect(ja.ratio).toBeCloseTo(ja.storedBytesAdded / ja.logicalBytes, 12);
    expect(ja.ratio).toBeGreaterThan(0);
    expect(ja.mbPerSecond).toBeGreaterThan(0);
    expect(ja.seconds).toBeGreaterThan(0);

    const b = await lowbit(
      "ingest",
      DEEP,
      "--store",
      store,
      "--name",
      "faceres-deep",
      "--base",
      "faceres",
      "--json",
    );
    expect(b.stderr).toBe("");
    expect(b.code).toBe(0);
    const jb = JSON.parse(b.stdout);
    expect(jb).toMatchObject({
      name: "faceres-deep",
      base: "faceres",
      files: 1,
      logicalBytes: statSync(DEEP).size,
    });
    expect(Object.keys(jb).sort()).toEqual(
      [
        "base",
        "files",
        "logicalBytes",
        "mbPerSecond",
        "name",
        "parts",
        "ratio",
        "seconds",
        "storedBytesAdded",
      ].sort(),
    );
    expect(jb.ratio).toBeLessThan(1);
    expect(jb.ratio).toBeCloseTo(jb.storedBytesAdded / jb.logicalBytes, 12);
    // The tensors were stored against the base (xor or delta parts), not on their own.
    expect(jb.parts.xor + jb.parts.delta).toBeGreaterThan(0);
  });

  it("ingest of an existing name exits 1", async () => {
    const r = await lowbit("ingest", FACERES, "--store", store, "--name", "faceres", "--no-base");
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/^lowbit: .*faceres/);
  });

  it("restore gives byte-identical files", async () => {
    for (const [model, original] of [
      ["faceres", FACERES],
      ["faceres-deep", DEEP],
    ] as const) {
      const out = at(`restored-${model}`);
      const r = await lowbit("restore", "--store", store, model, out);
      expect(r.stderr).toBe("");
      expect(r.code).toBe(0);
      expect(r.stdout).toMatch(
        new RegExp(`^restored ${model}: 1 file\\(s\\), ${statSync(original).size} bytes`),
      );
      const name = original.split("/").pop()!;
      expect(filesUnder(out)).toEqual([name]);
      expect(sha256(join(out, name))).toBe(sha256(original));
    }
    // A second restore into the same folder refuses to replace files unless told to.
    const again = await lowbit("restore", "--store", store, "faceres", at("restored-faceres"));
    expect(again.code).toBe(1);
    const over = await lowbit("restore", "--store", store, "faceres", at("restored-faceres"), "--overwrite");
    expect(over.code).toBe(0);
  });

  it("ingest of a directory keeps relative paths; restore recreates them", async () => {
    const src = at("tree");
    mkdirSync(join(src, "sub", "deeper"), { recursive: true });
    writeFileSync(join(src, "config.json"), '{"model_type": "faceres"}\n');
    writeFileSync(join(src, "sub", "deeper", "weights.bin"), readFileSync(FACERES).subarray(0, 300_000));
    const r = await lowbit("ingest", src, "--store", store, "--name", "org/tree", "--json");
    expect(r.stderr).toBe("");
    expect(r.code).toBe(0);
    expect(JSON.parse(r.stdout).files).toBe(2);
    const out = at("restored-tree");
    expect((await lowbit("restore", "--store", store, "org/tree", out)).code).toBe(0);
    expect(filesUnder(out)).toEqual(["config.json", join("sub", "deeper", "weights.bin")]);
    expect(sha256(join(out, "sub", "deeper", "weights.bin"))).toBe(
      sha256(join(src, "sub", "deeper", "weights.bin")),
    );
  });

  it("draws progress bars on a TTY and leaves the line clean", async () => {
    const r = await lowbitWith(
      { tty: true },
      "restore",
      "--store",
      store,
      "faceres-deep",
      at("restored-tty"),
      "--overwrite",
    );
    expect(r.code).toBe(0);
    expect(r.stderr).toMatch(/\r\[[#-]+\] restore faceres-deep +\d+% \d+\/\d+ bytes/);
    expect(r.stderr.endsWith("\r\x1b[K")).toBe(true);
  });

  it("ls lists the models, as text and as JSON", async () => {
    const t = await lowbit("ls", "--store", store);
    expect(t.code).toBe(0);
    const lines = t.stdout.trimEnd().split("\n");
    expect(lines[0]).toMatch(/^name\s+base\s+files\s+size\s+lossy\s+created$/);
    expect(lines.some((l) => /^faceres-deep\s+faceres\s+1\s+6\.99 MB\s+no\s/.test(l))).toBe(true);
    const j = await lowbit("ls", "--store", store, "--json");
    const models = JSON.parse(j.stdout) as { name: string; base: string | null; logicalBytes: number }[];
    expect(models.map((m) => m.name).sort()).toEqual(["faceres", "faceres-deep", "org/tree"]);
    expect(models.find((m) => m.name === "faceres-deep")).toMatchObject({
      base: "faceres",
      logicalBytes: statSync(DEEP).size,
    });
  });

  it("stats --json gives per-model and total bytes that add up", async () => {
    const r = await lowbit("stats", "--store", store, "--json");
    expect(r.code).toBe(0);
    const s = JSON.parse(r.stdout);
    expect(s.models.map((m: { name: string }) => m.name)).toEqual(["faceres", "faceres-deep", "org/tree"]);
    const sum = (key: "logicalBytes" | "storedBytes") =>
      s.models.reduce((n: number, m: Record<string, number>) => n + m[key]!, 0);
    expect(s.logicalBytes).toBe(sum("logicalBytes"));
    // Objects are attributed to one model each; the total also counts manifests.
    expect(s.storedBytes).toBeGreaterThanOrEqual(sum("storedBytes"));
    expect(s.ratio).toBeCloseTo(s.storedBytes / s.logicalBytes, 12);
    const deep = s.models.find((m: { name: string }) => m.name === "faceres-deep");
    expect(deep.storedBytes).toBeLessThan(deep.logicalBytes);
    const text = await lowbit("stats", "--store", store);
    expect(text.stdout).toMatch(/^model\s+base\s+files\s+logical\s+stored\s+ratio\n/);
    expect(text.stdout).toMatch(/\ntotal\s+-\s+4\s/);
  });

  it("gc removes what an overwritten model no longer uses", async () => {
    writeFileSync(at("one.bin"), "first version of a small file\n".repeat(1000));
    writeFileSync(at("two.bin"), "second version of a small file\n".repeat(1000));
    expect((await lowbit("ingest", at("one.bin"), "--store", store, "--name", "scratch")).code).toBe(0);
    const over = await lowbit("ingest", at("two.bin"), "--store", store, "--name", "scratch", "--overwrite");
    expect(over.code).toBe(0);
    const young = await lowbit("gc", "--store", store, "--json");
    expect(young.code).toBe(0);
    expect(JSON.parse(young.stdout).objectsRemoved).toBe(0); // within the default grace period
    const r = await lowbit("gc", "--store", store, "--grace", "0", "--json");
    expect(r.code).toBe(0);
    const report = JSON.parse(r.stdout);
    expect(report.objectsRemoved).toBeGreaterThanOrEqual(1);
    expect(report.bytesRemoved).toBeGreaterThan(0);
    const text = await lowbit("gc", "--store", store, "--grace", "0");
    expect(text.stdout).toMatch(/^removed 0 unreferenced object\(s\)/);
  });

  it("verify exits 0 on a clean store and 1 naming a damaged object", async () => {
    const ok = await lowbit("verify", "--store", store);
    expect(ok.stderr).toBe("");
    expect(ok.code).toBe(0);
    expect(ok.stdout).toMatch(/^ok: \d+ objects/);

    const objects = filesUnder(join(store, "objects")).filter((f) => !f.split("/").pop()!.startsWith("."));
    expect(objects.length).toBeGreaterThan(0);
    // The largest object: a tensor of both faceres models or of faceres-deep.
    const victim = objects.sort(
      (x, y) => statSync(join(store, "objects", y)).size - statSync(join(store, "objects", x)).size,
    )[0]!;
    const path = join(store, "objects", victim);
    const bytes = readFileSync(path);
    bytes[bytes.length >> 1] ^= 0x5a;
    writeFileSync(path, bytes);
    const id = victim.replaceAll("/", "");

    const bad = await lowbit("verify", "--store", store);
    expect(bad.code).toBe(1);
    expect(bad.stdout).toMatch(/^damaged: /);
    // The object itself, and possibly objects stored as deltas against it (they cannot be decoded).
    expect(bad.stdout).toMatch(new RegExp(`\\n(corrupt|hash-mismatch) objects/${victim}: .*\\(breaks `));
    expect(bad.stderr).toMatch(/^lowbit: store verify found \d+ problem\(s\) in /);
    const json = await lowbit("verify", "--store", store, "--json");
    expect(json.code).toBe(1);
    const report = JSON.parse(json.stdout) as {
      ok: boolean;
      problems: { key: string; problem: string; models: string[] }[];
    };
    expect(report.ok).toBe(false);
    const mine = report.problems.filter((p) => p.key.replaceAll("/", "").endsWith(id));
    expect(mine).toHaveLength(1);
    expect(["corrupt", "hash-mismatch"]).toContain(mine[0]!.problem);
    expect(mine[0]!.models.length).toBeGreaterThan(0);
    // A restore that needs the damaged object fails instead of writing wrong bytes.
    const restore = await lowbit("restore", "--store", store, mine[0]!.models[0]!, at("after-damage"));
    expect(restore.code).toBe(1);
    expect(restore.stderr).toMatch(/^lowbit: /);
  });

  it("the built command exits 1 on the damaged store and 2 on a usage error", () => {
    assertBuilt();
    const bad = lowbitBin(dir, "store", "verify", "--store", store);
    expect(bad.code).toBe(1);
    expect(bad.stderr).toMatch(/problem/);
    const usage = lowbitBin(dir, "store", "ingest", FACERES, "--store", store);
    expect(usage.code).toBe(2);
    expect(usage.stderr).toBe("lowbit: missing --name <model>\nRun 'lowbit store --help' for usage.\n");
  });
});

describe("lowbit store errors", () => {
  it("a folder that is not a store exits 1", async () => {
    mkdirSync(at("empty"), { recursive: true });
    const r = await lowbit("ls", "--store", at("empty"));
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/^lowbit: /);
  });

  it("an unknown model exits 1", async () => {
    const r = await lowbit("restore", "--store", store, "no-such-model", at("never"));
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/^lowbit: .*no-such-model/);
    expect(existsSync(at("never"))).toBe(false);
  });

  it("an aborted ingest exits 130 and stores nothing", async () => {
    const controller = new AbortController();
    controller.abort();
    const r = await lowbitWith(
      { signal: controller.signal },
      "ingest",
      DEEP,
      "--store",
      store,
      "--name",
      "aborted",
    );
    expect(r.code).toBe(130);
    expect(r.stderr).toBe("lowbit: interrupted\n");
    const ls = JSON.parse((await lowbit("ls", "--store", store, "--json")).stdout) as { name: string }[];
    expect(ls.map((m) => m.name)).not.toContain("aborted");
  });

  it.each([
    [[], /missing subcommand: init, ingest, restore, ls, stats, verify, gc/],
    [["push"], /unknown subcommand "push"/],
    [["ls"], /missing --store <dir\|s3:\/\/bucket\/prefix>/],
    [["ls", "--store", "s", "extra"], /expected no arguments, got 1/],
    [["ingest", "x", "--store", "s"], /missing --name <model>/],
    [["ingest", "--store", "s", "--name", "m"], /expected a directory or files to ingest/],
    [
      ["ingest", "x", "--store", "s", "--name", "m", "--base", "b", "--no-base"],
      /--base and --no-base exclude/,
    ],
    [["ingest", "x", "--store", "s", "--name", "m", "--lossy", "int4"], /--lossy must be bitdelta/],
    [["restore", "--store", "s", "model"], /expected MODEL and OUTDIR, got 1/],
    [["gc", "--store", "s", "--grace", "soon"], /--grace must be an integer/],
    [["ls", "--store", "s", "--s3-endpoint", "http://127.0.0.1:9000"], /--s3-endpoint applies only to an s3/],
    [["ls", "--store", "s3://"], /--store must be s3:\/\/bucket\[\/prefix\]/],
    [["ls", "--store", "s", "--fast"], /Unknown option '--fast'/],
  ])("usage error %j exits 2", async (args, message) => {
    const r = await lowbit(...(args as string[]));
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(message);
    expect(r.stderr).toContain("Run 'lowbit store --help' for usage.");
    expect(r.stdout).toBe("");
  });

  it("store --help prints the usage of every subcommand", async () => {
    const r = await lowbit("--help");
    expect(r.code).toBe(0);
    for (const sub of ["init", "ingest", "restore", "ls", "stats", "verify", "gc"]) {
      expect(r.stdout).toContain(`lowbit store ${sub} `);
    }
    expect(r.stdout).toContain("s3://bucket/prefix");
  });
});

// s3rver (the S3 test server @lowbit/store-s3's tests use) in its own process: it needs
// --openssl-legacy-provider for its ListObjectsV2 continuation tokens.
const S3_LAUNCHER = `
const S3rver = require(process.argv[2]);
const server = new S3rver({ port: 0, address: "127.0.0.1", silent: true, directory: process.argv[3],
  configureBuckets: [{ name: "lowbit" }] });
server.run().then((a) => process.stdout.write(JSON.stringify(a) + "\\n"));
process.on("SIGTERM", () => server.close().then(() => process.exit(0)));
`;

describe("lowbit store on s3://", () => {
  let server: ChildProcess | undefined;
  let endpoint = "";

  beforeAll(async () => {
    assertBuilt();
    const s3rver = createRequire(new URL("../../store-s3/package.json", import.meta.url)).resolve("s3rver");
    const launcher = at("s3rver-launcher.cjs");
    writeFileSync(launcher, S3_LAUNCHER);
    const child = spawn(process.execPath, ["--openssl-legacy-provider", launcher, s3rver, at("s3-data")], {
      stdio: ["ignore", "pipe", "inherit"],
    });
    server = child;
    const port = await new Promise<number>((resolvePort, reject) => {
      let out = "";
      child.stdout!.on("data", (d: Buffer) => {
        out += d.toString();
        if (out.includes("\n")) resolvePort((JSON.parse(out.split("\n")[0]!) as { port: number }).port);
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
  });

  /**
   * The built command with the AWS variables a user would set (and no others from this process),
   * including the switch that silences the AWS SDK's Node 20 end-of-support notice on stderr.
   */
  function lowbitS3(env: Record<string, string>, ...args: string[]) {
    const r = spawnSync(process.execPath, [BIN, "store", ...args], {
      cwd: dir,
      encoding: "utf8",
      timeout: 60_000,
      env: {
        PATH: process.env["PATH"] ?? "",
        AWS_ACCESS_KEY_ID: "S3RVER",
        AWS_SECRET_ACCESS_KEY: "S3RVER",
        AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED: "true",
        ...env,
      },
    });
    if (r.error !== undefined) throw r.error;
    return { code: r.status, stdout: r.stdout, stderr: r.stderr };
  }

  it("init, ingest, ls, restore and verify work against a bucket prefix", () => {
    const url = "s3://lowbit/team/models";
    const flag = ["--store", url, "--s3-endpoint", endpoint];
    const init = lowbitS3({}, "init", ...flag);
    expect(init.stderr).toBe("");
    expect(init.code).toBe(0);
    expect(init.stdout).toContain(url);
    const ingest = lowbitS3({}, "ingest", FACERES, ...flag, "--name", "faceres", "--json");
    expect(ingest.stderr).toBe("");
    expect(ingest.code).toBe(0);
    expect(JSON.parse(ingest.stdout)).toMatchObject({
      name: "faceres",
      logicalBytes: statSync(FACERES).size,
    });
    // The endpoint from AWS_ENDPOINT_URL instead of the flag; the region from AWS_REGION.
    const env = { AWS_ENDPOINT_URL: endpoint, AWS_REGION: "eu-west-1" };
    const ls = lowbitS3(env, "ls", "--store", url, "--json");
    expect(ls.code).toBe(0);
    expect((JSON.parse(ls.stdout) as { name: string }[]).map((m) => m.name)).toEqual(["faceres"]);
    const out = at("restored-s3");
    expect(lowbitS3(env, "restore", "--store", url, "faceres", out).code).toBe(0);
    expect(sha256(join(out, "faceres.f16.safetensors"))).toBe(sha256(FACERES));
    const verify = lowbitS3(env, "verify", "--store", url);
    expect(verify.code).toBe(0);
    expect(verify.stdout).toMatch(/^ok: \d+ objects, .* checked in s3:\/\/lowbit\/team\/models\n/);
    // Another prefix of the same bucket is another (absent) store.
    const other = lowbitS3(env, "ls", "--store", "s3://lowbit/elsewhere");
    expect(other.code).toBe(1);
    expect(other.stderr).toMatch(/^lowbit: /);
  });
});
