import { spawn } from "node:child_process";
import { createHash } from "node:crypto";
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { createRequire } from "node:module";
import { tmpdir } from "node:os";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath, pathToFileURL } from "node:url";
import Database from "better-sqlite3";
import { afterAll, describe, expect, it } from "vitest";
import { META_SCHEMA_VERSION, Meta } from "../src/meta.js";
import { gitBlobOid, lfsGitOid } from "../src/names.js";
import type { CommitChanges, NewCommit, TreeFile } from "../src/types.js";

const here = dirname(fileURLToPath(import.meta.url));
const work = mkdtempSync(join(tmpdir(), "lowbit-hub-meta-"));
afterAll(() => rmSync(work, { recursive: true, force: true }));

let dbCount = 0;
function dbPath(): string {
  return join(work, `meta-${dbCount++}.db`);
}

function fresh(): Meta {
  return Meta.open(dbPath());
}

function sha256(text: string): string {
  return createHash("sha256").update(text).digest("hex");
}

function sha1(text: string): string {
  return createHash("sha1").update(text).digest("hex");
}

/** A regular (inline) file with real hashes of `content`. */
function regular(path: string, content = path): TreeFile {
  const bytes = Buffer.from(content);
  return { path, size: bytes.length, sha256: sha256(content), gitOid: gitBlobOid(bytes), lfs: false };
}

/** An LFS file of `size` bytes whose content hashes to sha256(seed). */
function lfs(path: string, seed: string, size: number): TreeFile {
  const hash = sha256(seed);
  return { path, size, sha256: hash, gitOid: lfsGitOid(hash, size), lfs: true };
}

function changes(c: Partial<CommitChanges>): CommitChanges {
  return { put: c.put ?? [], delete: c.delete ?? [], deleteFolders: c.deleteFolders ?? [] };
}

function newCommit(repo: string, c: Partial<CommitChanges>, extra: Partial<NewCommit> = {}): NewCommit {
  return {
    repo,
    branch: "main",
    summary: "update",
    description: "",
    author: "alice",
    changes: changes(c),
    ...extra,
  };
}

function paths(meta: Meta, oid: string): string[] {
  return meta.tree(oid).map((f) => f.path);
}

/** The state a failed call must leave untouched. */
function snapshot(meta: Meta, repo: string) {
  const head = meta.resolveRevision(repo, "main")!;
  return {
    refs: meta.refs(repo),
    tree: meta.tree(head),
    log: meta.log(repo, head, 100),
    blobs: [...meta.allBlobs()].sort(),
  };
}

/** The error a synchronous call throws (fails the test if it does not throw). */
function thrown(fn: () => unknown): unknown {
  try {
    fn();
  } catch (error) {
    return error;
  }
  throw new Error("expected the call to throw");
}

describe("repos", () => {
  it("creates, gets, lists and deletes repos with their first commit on main", () => {
    const meta = fresh();
    const before = Date.now();
    const repo = meta.createRepo("org/model", { private: false, author: "alice" });
    expect(repo.id).toBe("org/model");
    expect(repo.private).toBe(false);
    expect(Date.parse(repo.createdAt)).toBeGreaterThanOrEqual(before - 1);
    meta.createRepo("gpt2", { private: true, author: "env" });
    meta.createRepo("a-org/b", { private: false, author: "alice" });
    expect(meta.listRepos().map((r) => r.id)).toEqual(["a-org/b", "gpt2", "org/model"]);
    expect(meta.getRepo("gpt2")).toMatchObject({ id: "gpt2", private: true });

    const refs = meta.refs("org/model");
    expect(refs.map((r) => r.name)).toEqual(["main"]);
    const first = meta.getCommit("org/model", refs[0]!.oid)!;
    expect(first).toMatchObject({
      repo: "org/model",
      parents: [],
      summary: "initial commit",
      description: "",
      author: "alice",
    });
    expect(first.oid).toMatch(/^[0-9a-f]{40}$/);
    expect(meta.tree(first.oid)).toEqual([]);

    meta.deleteRepo("gpt2");
    expect(meta.getRepo("gpt2")).toBeUndefined();
    expect(meta.listRepos().map((r) => r.id)).toEqual(["a-org/b", "org/model"]);
    meta.close();
  });

  it("refuses existing ids case-insensitively, finds them case-sensitively, validates ids", () => {
    const meta = fresh();
    meta.createRepo("Org/Model", { private: false, author: "alice" });
    expect(() => meta.createRepo("Org/Model", { private: false, author: "alice" })).toThrow(
      expect.objectContaining({ code: "ERR_CONFLICT" }),
    );
    expect(() => meta.createRepo("org/model", { private: false, author: "alice" })).toThrow(
      /conflicts with the existing "Org\/Model"/,
    );
    expect(meta.getRepo("org/model")).toBeUndefined();
    expect(meta.getRepo("Org/Model")?.id).toBe("Org/Model");
    for (const bad of ["", "a/b/c", "-a", "a--b", "a..b", "a b", "../x", "x/", "/x"]) {
      expect(() => meta.createRepo(bad, { private: false, author: "alice" })).toThrow(RangeError);
    }
    expect(() => meta.createRepo(42 as unknown as string, { private: false, author: "a" })).toThrow(
      TypeError,
    );
    expect(() => meta.createRepo("x", { private: "no" as unknown as boolean, author: "a" })).toThrow(
      TypeError,
    );
    expect(() => meta.createRepo("x", { private: false, author: "" })).toThrow(RangeError);
    expect(meta.listRepos().map((r) => r.id)).toEqual(["Org/Model"]);
    meta.close();
  });

  it("sets privacy; deleting removes commits, trees and blobs of that repo only", () => {
    const meta = fresh();
    meta.createRepo("a/one", { private: false, author: "alice" });
    meta.createRepo("a/two", { private: false, author: "alice" });
    meta.setPrivate("a/one", true);
    expect(meta.getRepo("a/one")?.private).toBe(true);
    meta.setPrivate("a/one", false);
    expect(meta.getRepo("a/one")?.private).toBe(false);
    expect(() => meta.setPrivate("a/none", true)).toThrow(expect.objectContaining({ code: "ERR_NOT_FOUND" }));

    const c1 = meta.commit(
      newCommit("a/one", { put: [regular("x", "only in one"), regular("s", "shared")] }),
    );
    meta.commit(newCommit("a/two", { put: [regular("s", "shared")] }));
    meta.createBranch("a/one", "dev", c1.oid);
    expect(meta.allBlobs()).toEqual(new Set([sha256("only in one"), sha256("shared")]));

    meta.deleteRepo("a/one");
    expect(meta.getCommit("a/one", c1.oid)).toBeUndefined();
    expect(() => meta.tree(c1.oid)).toThrow(expect.objectContaining({ code: "ERR_NOT_FOUND" }));
    expect(meta.allBlobs()).toEqual(new Set([sha256("shared")]));
    expect(() => meta.deleteRepo("a/one")).toThrow(expect.objectContaining({ code: "ERR_NOT_FOUND" }));
    expect(() => meta.refs("a/one")).toThrow(/repository "a\/one" not found/);
    // The id is free again, with a fresh history.
    meta.createRepo("a/one", { private: true, author: "bob" });
    const head = meta.resolveRevision("a/one", "main")!;
    expect(meta.log("a/one", head, 10).map((c) => c.author)).toEqual(["bob"]);
    expect(meta.refs("a/one").map((r) => r.name)).toEqual(["main"]);
    meta.close();
  });
});

describe("commits", () => {
  it("builds trees from puts, replacements, deletes and folder deletes, with parent links", () => {
    const meta = fresh();
    meta.createRepo("m", { private: false, author: "alice" });
    const c0 = meta.resolveRevision("m", "main")!;
    const c1 = meta.commit(
      newCommit("m", {
        put: [
          regular("config.json", "{}"),
          lfs("model.safetensors", "weights", 1_000_000),
          regular("onnx/model.onnx", "o1"),
          regular("onnx/model_q4.onnx", "o2"),
          regular("docs/a/b.md", "b"),
        ],
      }),
    );
    expect(c1.parents).toEqual([c0]);
    expect(meta.resolveRevision("m", "main")).toBe(c1.oid);
    expect(meta.getCommit("m", c1.oid)).toEqual(c1);
    expect(paths(meta, c1.oid)).toEqual([
      "config.json",
      "docs/a/b.md",
      "model.safetensors",
      "onnx/model.onnx",
      "onnx/model_q4.onnx",
    ]);
    expect(meta.file(c1.oid, "model.safetensors")).toEqual(lfs("model.safetensors", "weights", 1_000_000));
    expect(meta.file(c1.oid, "onnx")).toBeUndefined();

    const c2 = meta.commit(
      newCommit(
        "m",
        {
          put: [regular("config.json", '{"v":2}'), regular("README.md", "# m")],
          delete: ["model.safetensors"],
          deleteFolders: ["onnx"],
        },
        { summary: "second", description: "details\nmore", author: "bob" },
      ),
    );
    expect(c2.parents).toEqual([c1.oid]);
    expect(meta.tree(c2.oid)).toEqual([
      regular("README.md", "# m"),
      regular("config.json", '{"v":2}'),
      regular("docs/a/b.md", "b"),
    ]);
    // Removing the last file of "docs/a" removes the folder; a put under it brings it back.
    const c3 = meta.commit(newCommit("m", { deleteFolders: ["docs/a"], put: [regular("docs/c.md", "c")] }));
    expect(paths(meta, c3.oid)).toEqual(["README.md", "config.json", "docs/c.md"]);

    // Immutability: the older commits still have their trees.
    expect(paths(meta, c1.oid)).toHaveLength(5);
    expect(meta.file(c1.oid, "config.json")).toEqual(regular("config.json", "{}"));
    expect(meta.getCommit("m", c2.oid)).toMatchObject({ summary: "second", description: "details\nmore" });
    expect(meta.log("m", c3.oid, 100).map((c) => c.oid)).toEqual([c3.oid, c2.oid, c1.oid, c0]);
    expect(meta.log("m", c3.oid, 2).map((c) => c.oid)).toEqual([c3.oid, c2.oid]);
    expect(meta.log("m", c2.oid, 0)).toEqual([]);
    expect(() => meta.log("m", "0".repeat(40), 5)).toThrow(
      expect.objectContaining({ code: "ERR_NOT_FOUND" }),
    );
    meta.close();
  });

  it("sorts trees in UTF-8 byte order", () => {
    const meta = fresh();
    meta.createRepo("m", { private: false, author: "alice" });
    const names = ["b", "B", "a.txt", "a/x", "é", "\uFFFD", "😀", "_", "0"];
    const c = meta.commit(newCommit("m", { put: names.map((n) => regular(n)) }));
    const expected = [...names].sort((x, y) => Buffer.compare(Buffer.from(x), Buffer.from(y)));
    expect(paths(meta, c.oid)).toEqual(expected);
    // "😀" (a surrogate pair in UTF-16) sorts after U+FFFD in bytes, not before as JS strings do.
    expect(expected.indexOf("😀")).toBeGreaterThan(expected.indexOf("\uFFFD"));
    meta.close();
  });

  it("computes oids from the canonical text; equal changes at different times give different oids", async () => {
    const meta = fresh();
    meta.createRepo("m", { private: false, author: "alice" });
    const c0 = meta.getCommit("m", meta.resolveRevision("m", "main")!)!;
    const text = `tree ${sha1("")}\nauthor alice ${c0.createdAt}\n\ninitial commit\n\n`;
    expect(c0.oid).toBe(sha1(text));

    meta.createBranch("m", "a", c0.oid);
    meta.createBranch("m", "b", c0.oid);
    const onA = meta.commit(newCommit("m", { put: [regular("f")] }, { branch: "a" }));
    await new Promise((r) => setTimeout(r, 5));
    const onB = meta.commit(newCommit("m", { put: [regular("f")] }, { branch: "b" }));
    expect(onA.parents).toEqual(onB.parents);
    expect(onA.oid).not.toBe(onB.oid);
    expect(meta.tree(onA.oid)).toEqual(meta.tree(onB.oid));
    meta.close();
  });

  it("resolves branches and full oids of this repo only", () => {
    const meta = fresh();
    meta.createRepo("one", { private: false, author: "alice" });
    meta.createRepo("two", { private: false, author: "alice" });
    const c = meta.commit(newCommit("one", { put: [regular("f")] }));
    const other = meta.commit(newCommit("two", { put: [regular("g")] }));
    expect(meta.resolveRevision("one", "main")).toBe(c.oid);
    expect(meta.resolveRevision("one", c.oid)).toBe(c.oid);
    expect(meta.resolveRevision("one", c.parents[0]!)).toBe(c.parents[0]);
    expect(meta.resolveRevision("one", other.oid)).toBeUndefined();
    expect(meta.resolveRevision("one", c.oid.toUpperCase())).toBeUndefined();
    expect(meta.resolveRevision("one", c.oid.slice(0, 7))).toBeUndefined();
    expect(meta.resolveRevision("one", "dev")).toBeUndefined();
    expect(meta.resolveRevision("nope", "main")).toBeUndefined();
    expect(meta.getCommit("one", other.oid)).toBeUndefined();
    meta.close();
  });

  it("rejects a file where a folder is and a folder where a file is, changing nothing", () => {
    const meta = fresh();
    meta.createRepo("m", { private: false, author: "alice" });
    meta.commit(newCommit("m", { put: [regular("a/b"), regular("f")] }));
    const before = snapshot(meta, "m");
    const cases: [Partial<CommitChanges>, RegExp][] = [
      [{ put: [regular("a")] }, /cannot add file "a": it is a folder in the tree \(holding "a\/b"\)/],
      [{ put: [regular("f/g")] }, /cannot add file "f\/g": "f" is a file/],
      [{ put: [regular("a/b/c")] }, /"a\/b" is a file/],
      [{ put: [regular("x"), regular("x/y")] }, /"x"/],
      [{ put: [regular("n/x/y"), regular("n/x")] }, /"n\/x" is a file/],
    ];
    for (const [c, message] of cases) {
      const error = thrown(() => meta.commit(newCommit("m", c)));
      expect(error).toMatchObject({ code: "ERR_CONFLICT", message: expect.stringMatching(message) });
    }
    expect(snapshot(meta, "m")).toEqual(before);
    // Deletes apply first: replacing a folder by a file in one commit is fine.
    const ok = meta.commit(
      newCommit("m", { deleteFolders: ["a"], delete: ["f"], put: [regular("a"), regular("f/g")] }),
    );
    expect(paths(meta, ok.oid)).toEqual(["a", "f/g"]);
    meta.close();
  });

  it("a failed commit changes nothing: missing paths, bad fields, unknown branch or repo", () => {
    const meta = fresh();
    meta.createRepo("m", { private: false, author: "alice" });
    meta.commit(newCommit("m", { put: [regular("keep"), regular("dir/x")] }));
    const before = snapshot(meta, "m");
    const notFound: [Partial<CommitChanges>, RegExp][] = [
      [{ put: [regular("new")], delete: ["missing.bin"] }, /cannot delete "missing.bin": no such file/],
      [{ delete: ["keep", "keep"] }, /cannot delete "keep"/],
      [{ delete: ["dir"] }, /cannot delete "dir"/],
      [{ put: [regular("new")], deleteFolders: ["nodir"] }, /cannot delete folder "nodir"/],
      [{ deleteFolders: ["keep"] }, /cannot delete folder "keep"/],
    ];
    for (const [c, message] of notFound) {
      const error = thrown(() => meta.commit(newCommit("m", c)));
      expect(error).toMatchObject({ code: "ERR_NOT_FOUND", message: expect.stringMatching(message) });
    }
    const good = regular("new");
    const badFiles: [unknown, ErrorConstructor][] = [
      [{ ...good, sha256: "A".repeat(64) }, RangeError],
      [{ ...good, sha256: "ab" }, RangeError],
      [{ ...good, sha256: 7 }, TypeError],
      [{ ...good, gitOid: "0".repeat(64) }, RangeError],
      [{ ...good, size: -1 }, RangeError],
      [{ ...good, size: 1.5 }, RangeError],
      [{ ...good, size: 2 ** 53 }, RangeError],
      [{ ...good, size: "3" }, TypeError],
      [{ ...good, lfs: 1 }, TypeError],
      [{ ...good, path: "../x" }, RangeError],
      [{ ...good, path: "/abs" }, RangeError],
      [{ ...good, path: "a//b" }, RangeError],
      [{ ...good, path: "a\\b" }, RangeError],
      [null, TypeError],
    ];
    for (const [file, type] of badFiles) {
      const error = thrown(() => meta.commit(newCommit("m", { put: [regular("fine"), file as TreeFile] })));
      expect(error).toBeInstanceOf(type);
      expect(String(error)).toMatch(/changes\.put\[1\]/);
    }
    expect(() => meta.commit(newCommit("m", { delete: ["./x"] }))).toThrow(/changes\.delete\[0\]/);
    expect(() => meta.commit(newCommit("m", {}, { author: "a\nb" }))).toThrow(RangeError);
    expect(() => meta.commit(newCommit("m", {}, { branch: "dev" }))).toThrow(
      expect.objectContaining({
        code: "ERR_NOT_FOUND",
        message: expect.stringMatching(/revision "dev" not found/),
      }),
    );
    expect(() => meta.commit(newCommit("nope", {}))).toThrow(
      expect.objectContaining({ code: "ERR_NOT_FOUND", message: expect.stringMatching(/repository "nope"/) }),
    );
    expect(snapshot(meta, "m")).toEqual(before);
    meta.close();
  });

  it("honours expectedHead: a stale parent is a conflict naming both oids and changes nothing", () => {
    const meta = fresh();
    meta.createRepo("m", { private: false, author: "alice" });
    const c0 = meta.resolveRevision("m", "main")!;
    const c1 = meta.commit(newCommit("m", { put: [regular("a")] }, { expectedHead: c0 }));
    expect(c1.parents).toEqual([c0]);
    const before = snapshot(meta, "m");
    const error = thrown(() => meta.commit(newCommit("m", { put: [regular("b")] }, { expectedHead: c0 })));
    expect(error).toMatchObject({ code: "ERR_CONFLICT" });
    expect(String(error)).toContain(c0);
    expect(String(error)).toContain(c1.oid);
    expect(snapshot(meta, "m")).toEqual(before);
    meta.close();
  });

  it("commits 10,000 files well under a second", () => {
    const meta = fresh();
    meta.createRepo("big", { private: false, author: "alice" });
    const files = Array.from({ length: 10_000 }, (_, i) =>
      regular(`shard-${i % 100}/part-${i}.bin`, `c${i}`),
    );
    let t = performance.now();
    const c1 = meta.commit(newCommit("big", { put: files }));
    const first = performance.now() - t;
    t = performance.now();
    const c2 = meta.commit(
      newCommit("big", { put: [regular("shard-7/part-7.bin", "new")], delete: ["shard-0/part-0.bin"] }),
    );
    const second = performance.now() - t;
    t = performance.now();
    const tree = meta.tree(c2.oid);
    const read = performance.now() - t;
    console.log(
      `meta: commit of 10,000 new files ${first.toFixed(0)} ms, one change on a 10,000-file tree ${second.toFixed(0)} ms, tree() ${read.toFixed(0)} ms`,
    );
    expect(meta.tree(c1.oid)).toHaveLength(10_000);
    expect(tree).toHaveLength(9_999);
    expect(meta.file(c2.oid, "shard-7/part-7.bin")?.sha256).toBe(sha256("new"));
    expect(first).toBeLessThan(1000);
    expect(second).toBeLessThan(1000);
    meta.close();
  });
});

describe("branches and blobs", () => {
  it("creates and deletes branches; a commit moves only its branch", () => {
    const meta = fresh();
    meta.createRepo("m", { private: false, author: "alice" });
    meta.createRepo("other", { private: false, author: "alice" });
    const c0 = meta.resolveRevision("m", "main")!;
    const c1 = meta.commit(newCommit("m", { put: [regular("a")] }));
    meta.createBranch("m", "v1.0", c0);
    meta.createBranch("m", "refs/pr/1", c1.oid);
    expect(meta.refs("m")).toEqual([
      { name: "main", oid: c1.oid },
      { name: "refs/pr/1", oid: c1.oid },
      { name: "v1.0", oid: c0 },
    ]);
    const onBranch = meta.commit(newCommit("m", { put: [regular("b")] }, { branch: "v1.0" }));
    expect(onBranch.parents).toEqual([c0]);
    expect(paths(meta, onBranch.oid)).toEqual(["b"]);
    expect(meta.resolveRevision("m", "main")).toBe(c1.oid);
    expect(meta.resolveRevision("m", "v1.0")).toBe(onBranch.oid);

    expect(() => meta.createBranch("m", "v1.0", c0)).toThrow(
      expect.objectContaining({ code: "ERR_CONFLICT" }),
    );
    const foreign = meta.resolveRevision("other", "main")!;
    expect(() => meta.createBranch("m", "x", foreign)).toThrow(
      expect.objectContaining({ code: "ERR_NOT_FOUND" }),
    );
    expect(() => meta.createBranch("m", c0, c0)).toThrow(RangeError);
    expect(() => meta.createBranch("m", "a..b", c0)).toThrow(RangeError);
    expect(() => meta.createBranch("nope", "x", c0)).toThrow(
      expect.objectContaining({ code: "ERR_NOT_FOUND" }),
    );

    meta.deleteBranch("m", "v1.0");
    expect(meta.resolveRevision("m", "v1.0")).toBeUndefined();
    // Its commit stays reachable by oid (commits are immutable and never garbage-collected here).
    expect(meta.resolveRevision("m", onBranch.oid)).toBe(onBranch.oid);
    expect(() => meta.deleteBranch("m", "v1.0")).toThrow(expect.objectContaining({ code: "ERR_NOT_FOUND" }));
    expect(() => meta.deleteBranch("m", "main")).toThrow(expect.objectContaining({ code: "ERR_CONFLICT" }));
    expect(meta.refs("m").map((r) => r.name)).toEqual(["main", "refs/pr/1"]);
    meta.close();
  });

  it("lists the distinct blobs of a repo and of all repos, old commits included", () => {
    const meta = fresh();
    meta.createRepo("one", { private: false, author: "alice" });
    meta.createRepo("two", { private: false, author: "alice" });
    expect(meta.repoBlobs("one")).toEqual([]);
    meta.commit(
      newCommit("one", { put: [lfs("w.bin", "w1", 100), regular("c.json", "{}"), regular("d.json", "{}")] }),
    );
    meta.commit(newCommit("one", { put: [lfs("w.bin", "w2", 200)], delete: ["c.json"] }));
    meta.commit(newCommit("two", { put: [lfs("w.bin", "w2", 200)] }));
    const expected = [
      { sha256: sha256("w1"), size: 100 },
      { sha256: sha256("w2"), size: 200 },
      { sha256: sha256("{}"), size: 2 },
    ].sort((a, b) => (a.sha256 < b.sha256 ? -1 : 1));
    expect(meta.repoBlobs("one")).toEqual(expected);
    expect(meta.repoBlobs("two")).toEqual([{ sha256: sha256("w2"), size: 200 }]);
    expect(meta.allBlobs()).toEqual(new Set(expected.map((b) => b.sha256)));
    expect(() => meta.repoBlobs("three")).toThrow(expect.objectContaining({ code: "ERR_NOT_FOUND" }));
    meta.close();
  });
});

describe("tokens", () => {
  it("creates, checks, lists and revokes tokens; the secret never reaches the file", () => {
    const file = dbPath();
    const meta = Meta.open(file);
    const a = meta.createToken("ci-bot", "write");
    const b = meta.createToken("reader.1", "read");
    expect(a.token).toMatch(/^hf_lowbit_[A-Za-z0-9_-]{43}$/);
    expect(a.info.id).toMatch(/^[0-9a-f]{16}$/);
    expect(a.info).toMatchObject({ name: "ci-bot", role: "write" });
    expect(a.token).not.toBe(b.token);
    expect(meta.checkToken(a.token)).toEqual(a.info);
    expect(meta.checkToken(b.token)).toEqual(b.info);
    const flipped = a.token.slice(0, -1) + (a.token.endsWith("A") ? "B" : "A");
    for (const bad of [flipped, "", "hf_lowbit_", a.token.slice(10), `${a.token}x`, "x".repeat(1 << 20)]) {
      expect(meta.checkToken(bad)).toBeUndefined();
    }
    for (const bad of [undefined, null, 42, { toString: () => a.token }]) {
      expect(meta.checkToken(bad as unknown as string)).toBeUndefined();
    }
    expect(meta.listTokens()).toEqual([a.info, b.info]);

    expect(() => meta.createToken("ci-bot", "read")).toThrow(
      expect.objectContaining({ code: "ERR_CONFLICT" }),
    );
    for (const bad of ["", "a b", "x".repeat(65), "naïve", "a/b", "env", "anonymous"]) {
      expect(() => meta.createToken(bad, "read")).toThrow(RangeError);
    }
    expect(() => meta.createToken("ok", "admin" as "read")).toThrow(RangeError);

    // Secrets are looked up by hash: the file holds the hash, never the secret.
    meta.close();
    const again = Meta.open(file);
    expect(again.checkToken(a.token)).toEqual(a.info);
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
    expect(meta2.checkToken(a.token)).toBeUndefined();
    expect(meta2.revokeToken("reader.1")).toBe(true);
    expect(meta2.checkToken(b.token)).toBeUndefined();
    expect(meta2.revokeToken("reader.1")).toBe(false);
    expect(meta2.listTokens()).toEqual([]);
    // The name is free again, with a new secret.
    const c = meta2.createToken("ci-bot", "read");
    expect(c.token).not.toBe(a.token);
    expect(meta2.checkToken(a.token)).toBeUndefined();
    expect(meta2.checkToken(c.token)?.role).toBe("read");
    meta2.close();
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

  it("refuses a newer schema version and foreign databases without touching them", () => {
    const file = dbPath();
    Meta.open(file).close();
    const raw = new Database(file);
    raw.pragma(`user_version = ${META_SCHEMA_VERSION + 1}`);
    raw.close();
    const error = thrown(() => Meta.open(file));
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

  it("close is idempotent and every later call throws a clear error", () => {
    const meta = Meta.open(":memory:");
    meta.createRepo("m", { private: false, author: "alice" });
    meta.close();
    meta.close();
    const calls: (() => unknown)[] = [
      () => meta.getRepo("m"),
      () => meta.listRepos(),
      () => meta.createRepo("x", { private: false, author: "a" }),
      () => meta.commit(newCommit("m", {})),
      () => meta.resolveRevision("m", "main"),
      () => meta.tree("0".repeat(40)),
      () => meta.allBlobs(),
      () => meta.checkToken("hf_lowbit_x"),
      () => meta.listTokens(),
      () => meta.revokeToken("x"),
    ];
    for (const call of calls) expect(call).toThrow(/metadata database is closed/);
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
