import { spawn } from "node:child_process";
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { createRequire } from "node:module";
import { tmpdir } from "node:os";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath, pathToFileURL } from "node:url";
import Database from "better-sqlite3";
import { afterAll, describe, expect, it } from "vitest";
import { META_SCHEMA_VERSION, Meta } from "../src/meta.js";
import { lfs, metaConformance, newCommit, regular, sha256, thrown } from "./_meta-conformance.js";

const here = dirname(fileURLToPath(import.meta.url));
const work = mkdtempSync(join(tmpdir(), "lowbit-hub-meta-"));
afterAll(() => rmSync(work, { recursive: true, force: true }));

let dbCount = 0;
function dbPath(): string {
  return join(work, `meta-${dbCount++}.db`);
}

// Everything a MetaStore owes the routes, on a fresh database file per test.
const conformanceDir = mkdtempSync(join(tmpdir(), "lowbit-hub-meta-conformance-"));
let conformanceCount = 0;
metaConformance(
  "SQLite Meta",
  async () => Meta.open(join(conformanceDir, `meta-${conformanceCount++}.db`)),
  () => rmSync(conformanceDir, { recursive: true, force: true }),
);

describe("tokens in the file", () => {
  it("keeps only the sha256 of a secret in the file, and finds the token again after reopening", () => {
    const file = dbPath();
    const meta = Meta.open(file);
    const a = meta.createToken("ci-bot", "write");
    const b = meta.createToken("reader.1", "read");
    meta.close();
    const again = Meta.open(file);
    expect(again.checkToken(a.token)).toEqual(a.info);
    expect(again.listTokens()).toEqual([a.info, b.info]);
    again.close();
    const bytes = Buffer.concat(
      [file, `${file}-wal`, `${file}-shm`].filter((f) => existsSync(f)).map((f) => readFileSync(f)),
    );
    for (const { token } of [a, b]) {
      expect(bytes.includes(token)).toBe(false);
      expect(bytes.includes(token.slice(4))).toBe(false);
      expect(bytes.includes(sha256(token))).toBe(true);
    }

    const meta2 = Meta.open(file);
    expect(meta2.revokeToken(a.info.id)).toBe(true);
    meta2.close();
    const third = Meta.open(file);
    expect(third.checkToken(a.token)).toBeUndefined();
    expect(third.checkToken(b.token)).toEqual(b.info);
    third.close();
  });
});

describe("the database file", () => {
  it("reopens with all data, in WAL mode, consistent, and shares it with a second connection", () => {
    const file = dbPath();
    const meta = Meta.open(file);
    meta.createRepo("m", { private: true, author: "alice" });
    const c = meta.commit(newCommit("m", { put: [regular("a"), lfs("w", "w", 9)] }));
    const token = meta.createToken("t", "write");
    // A second process (the CLI next to a running server) sees committed writes at once.
    const other = Meta.open(file);
    expect(other.resolveRevision("m", "main")).toBe(c.oid);
    other.createRepo("n", { private: false, author: "bob" });
    expect(meta.getRepo("n")?.private).toBe(false);
    other.close();
    meta.close();

    const again = Meta.open(file);
    expect(again.getRepo("m")?.private).toBe(true);
    expect(again.getCommit("m", c.oid)).toEqual(c);
    expect(again.tree(c.oid)).toEqual([regular("a"), lfs("w", "w", 9)]);
    expect(again.checkToken(token.token)).toEqual(token.info);
    expect(again.listRepos().map((r) => r.id)).toEqual(["m", "n"]);
    again.close();

    const raw = new Database(file, { readonly: true });
    expect(raw.pragma("journal_mode", { simple: true })).toBe("wal");
    expect(raw.pragma("user_version", { simple: true })).toBe(META_SCHEMA_VERSION);
    expect(raw.pragma("integrity_check", { simple: true })).toBe("ok");
    expect(raw.pragma("foreign_key_check")).toEqual([]);
    raw.close();
  });

  it("refuses a newer schema version and foreign databases without touching them", async () => {
    const file = dbPath();
    Meta.open(file).close();
    const raw = new Database(file);
    raw.pragma(`user_version = ${META_SCHEMA_VERSION + 1}`);
    raw.close();
    const error = await thrown(() => Meta.open(file));
    expect(error).toMatchObject({ name: "UnsupportedError", code: "ERR_UNSUPPORTED" });
    expect(String(error)).toMatch(/schema version 2/);
    const check = new Database(file, { readonly: true });
    expect(check.pragma("user_version", { simple: true })).toBe(META_SCHEMA_VERSION + 1);
    check.close();

    const foreign = dbPath();
    const f = new Database(foreign);
    f.exec("CREATE TABLE notes (x TEXT)");
    f.close();
    expect(() => Meta.open(foreign)).toThrow(/not lowbit hub metadata/);
    const tables = new Database(foreign, { readonly: true });
    expect(tables.prepare("SELECT name FROM sqlite_schema").pluck().all()).toEqual(["notes"]);
    tables.close();

    const junk = join(work, "junk.db");
    writeFileSync(junk, "this is not a database, just text that is long enough to be a header ".repeat(20));
    expect(() => Meta.open(junk)).toThrow();
  });
});

// ------------------------------------------------------------------------------------ kill -9

const metaUrl = pathToFileURL(resolve(here, "../src/meta.ts")).href;
const tsxLoader = pathToFileURL(createRequire(import.meta.url).resolve("tsx")).href;

/**
 * The child commits one file per commit and reports each returned commit; with `idle` it stops after
 * the first and waits, so the kill lands right after a commit returned with nothing else going on.
 */
const CHILD = `
import { createHash } from "node:crypto";
import { Meta } from ${JSON.stringify(metaUrl)};
const [file, mode] = process.argv.slice(2);
const meta = Meta.open(file);
meta.createRepo("org/model", { private: false, author: "child" });
for (let i = 0; ; i++) {
  const sha256 = createHash("sha256").update(String(i)).digest("hex");
  const put = [{ path: "f/" + i, size: i, sha256, gitOid: sha256.slice(0, 40), lfs: true }];
  const c = meta.commit({ repo: "org/model", branch: "main", summary: "c" + i, description: "", author: "child", changes: { put, delete: [], deleteFolders: [] } });
  process.stdout.write("committed " + i + " " + c.oid + "\\n");
  if (mode === "idle") { setInterval(() => {}, 1000); break; }
}
`;

/** Runs the child, SIGKILLs it as soon as `killAfter` commits were reported; returns the reported oids. */
function runAndKill(script: string, file: string, mode: string, killAfter: number): Promise<string[]> {
  return new Promise((resolvePromise, reject) => {
    const child = spawn(process.execPath, ["--import", tsxLoader, script, file, mode], {
      stdio: ["ignore", "pipe", "pipe"],
    });
    const oids: string[] = [];
    let out = "";
    let err = "";
    child.stdout.setEncoding("utf8");
    child.stdout.on("data", (chunk: string) => {
      out += chunk;
      for (const m of chunk.matchAll(/committed \d+ ([0-9a-f]{40})\n/g)) oids.push(m[1]!);
      if (oids.length >= killAfter) child.kill("SIGKILL");
    });
    child.stderr.on("data", (d) => {
      err += String(d);
    });
    child.on("error", reject);
    child.on("exit", (_code, signal) => {
      // Stack frames dropped: vitest would try to load the source maps of the child's files.
      const said = `${err}${out}`.replace(/^\s+at .*$/gm, "").trim();
      if (signal !== "SIGKILL") reject(new Error(`the child exited on its own: ${said}`));
      else resolvePromise(oids);
    });
  });
}

describe("durability with a real kill -9", () => {
  // .mts: an ES module for tsx whatever the temp folder's package.json says.
  const script = join(work, "child.mts");
  writeFileSync(script, CHILD);

  it("keeps a commit whose call returned just before the kill", async () => {
    const file = dbPath();
    const [oid] = await runAndKill(script, file, "idle", 1);
    const meta = Meta.open(file);
    expect(meta.resolveRevision("org/model", "main")).toBe(oid);
    expect(meta.tree(oid!)).toEqual([expect.objectContaining({ path: "f/0", size: 0 })]);
    meta.close();
  });

  it("keeps every reported commit when killed in the middle of a stream of commits", async () => {
    const file = dbPath();
    const reported = await runAndKill(script, file, "loop", 30);
    const meta = Meta.open(file);
    const head = meta.resolveRevision("org/model", "main")!;
    const log = meta.log("org/model", head, 1_000_000).map((c) => c.oid);
    for (const oid of reported) expect(log).toContain(oid);
    // The head is a complete commit: its tree has one file per commit after the initial one.
    expect(meta.tree(head)).toHaveLength(log.length - 1);
    meta.close();
    const raw = new Database(file, { readonly: true });
    expect(raw.pragma("integrity_check", { simple: true })).toBe("ok");
    expect(raw.pragma("foreign_key_check")).toEqual([]);
    raw.close();
  });
});
