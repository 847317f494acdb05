/**
 * The behaviour every `MetaStore` owes the routes, as one suite run against each backend (SQLite in
 * meta.test.ts, PostgreSQL in meta-pg.test.ts). Every call is awaited: a store may answer either way.
 */
import { createHash } from "node:crypto";
import { afterAll, afterEach, describe, expect, it } from "vitest";
import { gitBlobOid, lfsGitOid } from "../src/names.js";
import type { Awaitable, CommitChanges, MetaStore, NewCommit, TreeFile } from "../src/types.js";

export function sha256(text: string): string {
  return createHash("sha256").update(text).digest("hex");
}

function sha1(text: string): string {
  return createHash("sha1").update(text).digest("hex");
}

/** A regular (inline) file with real hashes of `content`. */
export function regular(path: string, content = path): TreeFile {
  const bytes = Buffer.from(content);
  return { path, size: bytes.length, sha256: sha256(content), gitOid: gitBlobOid(bytes), lfs: false };
}

/** An LFS file of `size` bytes whose content hashes to sha256(seed). */
export function lfs(path: string, seed: string, size: number): TreeFile {
  const hash = sha256(seed);
  return { path, size, sha256: hash, gitOid: lfsGitOid(hash, size), lfs: true };
}

function changes(c: Partial<CommitChanges>): CommitChanges {
  return { put: c.put ?? [], delete: c.delete ?? [], deleteFolders: c.deleteFolders ?? [] };
}

export function newCommit(
  repo: string,
  c: Partial<CommitChanges>,
  extra: Partial<NewCommit> = {},
): NewCommit {
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

/** The call's result as a promise, a synchronous throw becoming a rejection. */
export async function attempt<T>(fn: () => Awaitable<T>): Promise<T> {
  return fn();
}

/** The error the call throws or rejects with (fails the test if it does neither). */
export async function thrown(fn: () => unknown): Promise<unknown> {
  try {
    await fn();
  } catch (error) {
    return error;
  }
  throw new Error("expected the call to throw");
}

async function paths(meta: MetaStore, oid: string): Promise<string[]> {
  return (await meta.tree(oid)).map((f) => f.path);
}

async function head(meta: MetaStore, repo: string, branch = "main"): Promise<string> {
  const oid = await meta.resolveRevision(repo, branch);
  if (oid === undefined) throw new Error(`no ${branch} in ${repo}`);
  return oid;
}

/** The state a failed call must leave untouched. */
async function snapshot(meta: MetaStore, repo: string) {
  const oid = await head(meta, repo);
  return {
    refs: await meta.refs(repo),
    tree: await meta.tree(oid),
    log: await meta.log(repo, oid, 100),
    blobs: [...(await meta.allBlobs())].sort(),
  };
}

export interface ConformanceOptions {
  /** Time limit for committing (and for re-committing) a 10,000-file tree, in ms (default 1000). */
  readonly bigCommitMs?: number;
}

/**
 * Registers the suite under `describe(name)`. `open` returns a fresh, empty store for each test;
 * `cleanup` runs after the suite. Stores a failing test left open are closed after it.
 */
export function metaConformance(
  name: string,
  open: () => Promise<MetaStore>,
  cleanup: () => Awaitable<void>,
  options: ConformanceOptions = {},
): void {
  const opened: MetaStore[] = [];
  const fresh = async (): Promise<MetaStore> => {
    const meta = await open();
    opened.push(meta);
    return meta;
  };

  describe(name, () => {
    afterEach(async () => {
      for (const meta of opened.splice(0)) await meta.close();
    });
    afterAll(async () => {
      await cleanup();
    });

    describe("repos", () => {
      it("creates, gets, lists and deletes repos with their first commit on main", async () => {
        const meta = await fresh();
        const before = Date.now();
        const repo = await meta.createRepo("org/model", { private: false, author: "alice" });
        expect(repo.id).toBe("org/model");
        expect(repo.private).toBe(false);
        expect(Date.parse(repo.createdAt)).toBeGreaterThanOrEqual(before - 1);
        await meta.createRepo("gpt2", { private: true, author: "env" });
        await meta.createRepo("a-org/b", { private: false, author: "alice" });
        expect((await meta.listRepos()).map((r) => r.id)).toEqual(["a-org/b", "gpt2", "org/model"]);
        expect(await meta.getRepo("gpt2")).toMatchObject({ id: "gpt2", private: true });
        expect(await meta.getRepo("org/model")).toEqual(repo);

        const refs = await meta.refs("org/model");
        expect(refs.map((r) => r.name)).toEqual(["main"]);
        const first = (await meta.getCommit("org/model", refs[0]!.oid))!;
        expect(first).toMatchObject({
          repo: "org/model",
          parents: [],
          summary: "initial commit",
          description: "",
          author: "alice",
          createdAt: repo.createdAt,
        });
        expect(first.oid).toMatch(/^[0-9a-f]{40}$/);
        expect(await meta.tree(first.oid)).toEqual([]);

        await meta.deleteRepo("gpt2");
        expect(await meta.getRepo("gpt2")).toBeUndefined();
        expect((await meta.listRepos()).map((r) => r.id)).toEqual(["a-org/b", "org/model"]);
      });

      it("refuses existing ids case-insensitively, finds them case-sensitively, validates ids", async () => {
        const meta = await fresh();
        await meta.createRepo("Org/Model", { private: false, author: "alice" });
        await expect(
          attempt(() => meta.createRepo("Org/Model", { private: false, author: "alice" })),
        ).rejects.toThrow(expect.objectContaining({ code: "ERR_CONFLICT" }));
        await expect(
          attempt(() => meta.createRepo("org/model", { private: false, author: "alice" })),
        ).rejects.toThrow(/conflicts with the existing "Org\/Model"/);
        expect(await meta.getRepo("org/model")).toBeUndefined();
        expect((await meta.getRepo("Org/Model"))?.id).toBe("Org/Model");
        for (const bad of ["", "a/b/c", "-a", "a--b", "a..b", "a b", "../x", "x/", "/x", "a\u0000b"]) {
          await expect(
            attempt(() => meta.createRepo(bad, { private: false, author: "alice" })),
          ).rejects.toThrow(RangeError);
        }
        await expect(
          attempt(() => meta.createRepo(42 as unknown as string, { private: false, author: "a" })),
        ).rejects.toThrow(TypeError);
        await expect(
          attempt(() => meta.createRepo("x", { private: "no" as unknown as boolean, author: "a" })),
        ).rejects.toThrow(TypeError);
        await expect(attempt(() => meta.createRepo("x", { private: false, author: "" }))).rejects.toThrow(
          RangeError,
        );
        expect((await meta.listRepos()).map((r) => r.id)).toEqual(["Org/Model"]);
      });

      it("sets privacy; deleting removes commits, trees and blobs of that repo only", async () => {
        const meta = await fresh();
        await meta.createRepo("a/one", { private: false, author: "alice" });
        await meta.createRepo("a/two", { private: false, author: "alice" });
        await meta.setPrivate("a/one", true);
        expect((await meta.getRepo("a/one"))?.private).toBe(true);
        await meta.setPrivate("a/one", false);
        expect((await meta.getRepo("a/one"))?.private).toBe(false);
        await expect(attempt(() => meta.setPrivate("a/none", true))).rejects.toThrow(
          expect.objectContaining({ code: "ERR_NOT_FOUND" }),
        );

        const c1 = await meta.commit(
          newCommit("a/one", { put: [regular("x", "only in one"), regular("s", "shared")] }),
        );
        await meta.commit(newCommit("a/two", { put: [regular("s", "shared")] }));
        await meta.createBranch("a/one", "dev", c1.oid);
        expect(await meta.allBlobs()).toEqual(new Set([sha256("only in one"), sha256("shared")]));

        await meta.deleteRepo("a/one");
        expect(await meta.getCommit("a/one", c1.oid)).toBeUndefined();
        await expect(attempt(() => meta.tree(c1.oid))).rejects.toThrow(
          expect.objectContaining({ code: "ERR_NOT_FOUND" }),
        );
        expect(await meta.allBlobs()).toEqual(new Set([sha256("shared")]));
        await expect(attempt(() => meta.deleteRepo("a/one"))).rejects.toThrow(
          expect.objectContaining({ code: "ERR_NOT_FOUND" }),
        );
        await expect(attempt(() => meta.refs("a/one"))).rejects.toThrow(/repository "a\/one" not found/);
        // The id is free again, with a fresh history.
        await meta.createRepo("a/one", { private: true, author: "bob" });
        const oid = await head(meta, "a/one");
        expect((await meta.log("a/one", oid, 10)).map((c) => c.author)).toEqual(["bob"]);
        expect((await meta.refs("a/one")).map((r) => r.name)).toEqual(["main"]);
      });

      it("answers lookups of unknown or odd names as missing", async () => {
        const meta = await fresh();
        await meta.createRepo("m", { private: false, author: "alice" });
        const oid = await head(meta, "m");
        // Strings straight from a URL: never a server error, only "not there".
        for (const odd of ["nope", "M", "m\u0000", "m%00", "😀", "x".repeat(5000)]) {
          expect(await meta.getRepo(odd)).toBeUndefined();
          expect(await meta.resolveRevision(odd, "main")).toBeUndefined();
          expect(await meta.resolveRevision("m", odd)).toBeUndefined();
          expect(await meta.getCommit(odd, oid)).toBeUndefined();
          expect(await meta.getCommit("m", odd)).toBeUndefined();
          expect(await meta.file(oid, odd)).toBeUndefined();
          expect(await meta.revokeToken(odd)).toBe(false);
          const calls: (() => Awaitable<unknown>)[] = [
            () => meta.refs(odd),
            () => meta.repoBlobs(odd),
            () => meta.deleteRepo(odd),
            () => meta.setPrivate(odd, true),
            () => meta.log(odd, oid, 5),
            () => meta.log("m", odd, 5),
            () => meta.tree(odd),
            () => meta.file(odd, "x"),
            () => meta.deleteBranch("m", odd),
            () => meta.createBranch("m", "b", odd),
            () => meta.commit(newCommit(odd, {})),
            () => meta.commit(newCommit("m", {}, { branch: odd })),
          ];
          for (const call of calls) {
            await expect(attempt(call)).rejects.toThrow(expect.objectContaining({ code: "ERR_NOT_FOUND" }));
          }
        }
        expect(await meta.log("m", oid, 5)).toHaveLength(1);
      });
    });

    describe("commits", () => {
      it("builds trees from puts, replacements, deletes and folder deletes, with parent links", async () => {
        const meta = await fresh();
        await meta.createRepo("m", { private: false, author: "alice" });
        const c0 = await head(meta, "m");
        const c1 = await meta.commit(
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
        expect(await meta.resolveRevision("m", "main")).toBe(c1.oid);
        expect(await meta.getCommit("m", c1.oid)).toEqual(c1);
        expect(await paths(meta, c1.oid)).toEqual([
          "config.json",
          "docs/a/b.md",
          "model.safetensors",
          "onnx/model.onnx",
          "onnx/model_q4.onnx",
        ]);
        expect(await meta.file(c1.oid, "model.safetensors")).toEqual(
          lfs("model.safetensors", "weights", 1_000_000),
        );
        expect(await meta.file(c1.oid, "onnx")).toBeUndefined();

        const c2 = await meta.commit(
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
        expect(await meta.tree(c2.oid)).toEqual([
          regular("README.md", "# m"),
          regular("config.json", '{"v":2}'),
          regular("docs/a/b.md", "b"),
        ]);
        // Removing the last file of "docs/a" removes the folder; a put under it brings it back.
        const c3 = await meta.commit(
          newCommit("m", { deleteFolders: ["docs/a"], put: [regular("docs/c.md", "c")] }),
        );
        expect(await paths(meta, c3.oid)).toEqual(["README.md", "config.json", "docs/c.md"]);

        // Immutability: the older commits still have their trees.
        expect(await paths(meta, c1.oid)).toHaveLength(5);
        expect(await meta.file(c1.oid, "config.json")).toEqual(regular("config.json", "{}"));
        expect(await meta.getCommit("m", c2.oid)).toMatchObject({
          summary: "second",
          description: "details\nmore",
        });
        expect((await meta.log("m", c3.oid, 100)).map((c) => c.oid)).toEqual([c3.oid, c2.oid, c1.oid, c0]);
        expect((await meta.log("m", c3.oid, 2)).map((c) => c.oid)).toEqual([c3.oid, c2.oid]);
        expect(await meta.log("m", c2.oid, 0)).toEqual([]);
        expect(await meta.log("m", c2.oid, 100)).toEqual([c2, c1, await meta.getCommit("m", c0)]);
        await expect(attempt(() => meta.log("m", "0".repeat(40), 5))).rejects.toThrow(
          expect.objectContaining({ code: "ERR_NOT_FOUND" }),
        );
        // An empty commit keeps the tree and still makes a new commit.
        const c4 = await meta.commit(newCommit("m", {}, { summary: "empty" }));
        expect(c4.parents).toEqual([c3.oid]);
        expect(await meta.tree(c4.oid)).toEqual(await meta.tree(c3.oid));
      });

      it("sorts trees in UTF-8 byte order", async () => {
        const meta = await fresh();
        await meta.createRepo("m", { private: false, author: "alice" });
        const names = ["b", "B", "a.txt", "a/x", "é", "\uFFFD", "😀", "_", "0", "a b", "a-b", "Z"];
        const c = await meta.commit(newCommit("m", { put: names.map((n) => regular(n)) }));
        const expected = [...names].sort((x, y) => Buffer.compare(Buffer.from(x), Buffer.from(y)));
        expect(await paths(meta, c.oid)).toEqual(expected);
        // "😀" (a surrogate pair in UTF-16) sorts after U+FFFD in bytes, not before as JS strings do.
        expect(expected.indexOf("😀")).toBeGreaterThan(expected.indexOf("\uFFFD"));
        // Listings sort the same way.
        for (const id of ["b", "A0", "a-b", "a_b", "Z"])
          await meta.createRepo(id, { private: false, author: "a" });
        expect((await meta.listRepos()).map((r) => r.id)).toEqual(["A0", "Z", "a-b", "a_b", "b", "m"]);
      });

      it("computes oids from the canonical text; equal changes at different times give different oids", async () => {
        const meta = await fresh();
        await meta.createRepo("m", { private: false, author: "alice" });
        const c0 = (await meta.getCommit("m", await head(meta, "m")))!;
        const text = `tree ${sha1("")}\nauthor alice ${c0.createdAt}\n\ninitial commit\n\n`;
        expect(c0.oid).toBe(sha1(text));

        await meta.createBranch("m", "a", c0.oid);
        await meta.createBranch("m", "b", c0.oid);
        const onA = await meta.commit(newCommit("m", { put: [regular("f")] }, { branch: "a" }));
        await new Promise((r) => setTimeout(r, 5));
        const onB = await meta.commit(newCommit("m", { put: [regular("f")] }, { branch: "b" }));
        expect(onA.parents).toEqual(onB.parents);
        expect(onA.oid).not.toBe(onB.oid);
        expect(await meta.tree(onA.oid)).toEqual(await meta.tree(onB.oid));
        // The oid of a commit with a tree hashes the listing and the parent.
        const listing = `${sha256("f")} 1 regular\tf\n`;
        expect(onA.oid).toBe(
          sha1(`tree ${sha1(listing)}\nparent ${c0.oid}\nauthor alice ${onA.createdAt}\n\nupdate\n\n`),
        );
      });

      it("resolves branches and full oids of this repo only", async () => {
        const meta = await fresh();
        await meta.createRepo("one", { private: false, author: "alice" });
        await meta.createRepo("two", { private: false, author: "alice" });
        const c = await meta.commit(newCommit("one", { put: [regular("f")] }));
        const other = await meta.commit(newCommit("two", { put: [regular("g")] }));
        expect(await meta.resolveRevision("one", "main")).toBe(c.oid);
        expect(await meta.resolveRevision("one", c.oid)).toBe(c.oid);
        expect(await meta.resolveRevision("one", c.parents[0]!)).toBe(c.parents[0]);
        expect(await meta.resolveRevision("one", other.oid)).toBeUndefined();
        expect(await meta.resolveRevision("one", c.oid.toUpperCase())).toBeUndefined();
        expect(await meta.resolveRevision("one", c.oid.slice(0, 7))).toBeUndefined();
        expect(await meta.resolveRevision("one", "dev")).toBeUndefined();
        expect(await meta.resolveRevision("nope", "main")).toBeUndefined();
        expect(await meta.getCommit("one", other.oid)).toBeUndefined();
      });

      it("rejects a file where a folder is and a folder where a file is, changing nothing", async () => {
        const meta = await fresh();
        await meta.createRepo("m", { private: false, author: "alice" });
        await meta.commit(newCommit("m", { put: [regular("a/b"), regular("f")] }));
        const before = await snapshot(meta, "m");
        const cases: [Partial<CommitChanges>, RegExp][] = [
          [{ put: [regular("a")] }, /cannot add file "a": it is a folder in the tree \(holding "a\/b"\)/],
          [{ put: [regular("f/g")] }, /cannot add file "f\/g": "f" is a file/],
          [{ put: [regular("a/b/c")] }, /"a\/b" is a file/],
          [{ put: [regular("x"), regular("x/y")] }, /"x"/],
          [{ put: [regular("n/x/y"), regular("n/x")] }, /"n\/x" is a file/],
        ];
        for (const [c, message] of cases) {
          const error = await thrown(() => meta.commit(newCommit("m", c)));
          expect(error).toMatchObject({ code: "ERR_CONFLICT", message: expect.stringMatching(message) });
        }
        expect(await snapshot(meta, "m")).toEqual(before);
        // Deletes apply first: replacing a folder by a file in one commit is fine.
        const ok = await meta.commit(
          newCommit("m", { deleteFolders: ["a"], delete: ["f"], put: [regular("a"), regular("f/g")] }),
        );
        expect(await paths(meta, ok.oid)).toEqual(["a", "f/g"]);
      });

      it("a failed commit changes nothing: missing paths, bad fields, unknown branch or repo", async () => {
        const meta = await fresh();
        await meta.createRepo("m", { private: false, author: "alice" });
        await meta.commit(newCommit("m", { put: [regular("keep"), regular("dir/x")] }));
        const before = await snapshot(meta, "m");
        const notFound: [Partial<CommitChanges>, RegExp][] = [
          [{ put: [regular("new")], delete: ["missing.bin"] }, /cannot delete "missing.bin": no such file/],
          [{ delete: ["keep", "keep"] }, /cannot delete "keep"/],
          [{ delete: ["dir"] }, /cannot delete "dir"/],
          [{ put: [regular("new")], deleteFolders: ["nodir"] }, /cannot delete folder "nodir"/],
          [{ deleteFolders: ["keep"] }, /cannot delete folder "keep"/],
        ];
        for (const [c, message] of notFound) {
          const error = await thrown(() => meta.commit(newCommit("m", c)));
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
          [{ ...good, path: "a\u0000b" }, RangeError],
          [null, TypeError],
        ];
        for (const [file, type] of badFiles) {
          const error = await thrown(() =>
            meta.commit(newCommit("m", { put: [regular("fine"), file as TreeFile] })),
          );
          expect(error).toBeInstanceOf(type);
          expect(String(error)).toMatch(/changes\.put\[1\]/);
        }
        await expect(attempt(() => meta.commit(newCommit("m", { delete: ["./x"] })))).rejects.toThrow(
          /changes\.delete\[0\]/,
        );
        await expect(attempt(() => meta.commit(newCommit("m", {}, { author: "a\nb" })))).rejects.toThrow(
          RangeError,
        );
        await expect(attempt(() => meta.commit(newCommit("m", {}, { branch: "dev" })))).rejects.toThrow(
          expect.objectContaining({
            code: "ERR_NOT_FOUND",
            message: expect.stringMatching(/revision "dev" not found/),
          }),
        );
        await expect(attempt(() => meta.commit(newCommit("nope", {})))).rejects.toThrow(
          expect.objectContaining({
            code: "ERR_NOT_FOUND",
            message: expect.stringMatching(/repository "nope"/),
          }),
        );
        expect(await snapshot(meta, "m")).toEqual(before);
      });

      it("honours expectedHead: a stale parent is a conflict naming both oids and changes nothing", async () => {
        const meta = await fresh();
        await meta.createRepo("m", { private: false, author: "alice" });
        const c0 = await head(meta, "m");
        const c1 = await meta.commit(newCommit("m", { put: [regular("a")] }, { expectedHead: c0 }));
        expect(c1.parents).toEqual([c0]);
        const before = await snapshot(meta, "m");
        const error = await thrown(() =>
          meta.commit(newCommit("m", { put: [regular("b")] }, { expectedHead: c0 })),
        );
        expect(error).toMatchObject({ code: "ERR_CONFLICT" });
        expect(String(error)).toContain(c0);
        expect(String(error)).toContain(c1.oid);
        expect(await snapshot(meta, "m")).toEqual(before);
      });

      it("commits 10,000 files well under a second", async () => {
        const limit = options.bigCommitMs ?? 1000;
        const meta = await fresh();
        await meta.createRepo("big", { private: false, author: "alice" });
        const files = Array.from({ length: 10_000 }, (_, i) =>
          regular(`shard-${i % 100}/part-${i}.bin`, `c${i}`),
        );
        let t = performance.now();
        const c1 = await meta.commit(newCommit("big", { put: files }));
        const first = performance.now() - t;
        t = performance.now();
        const c2 = await meta.commit(
          newCommit("big", { put: [regular("shard-7/part-7.bin", "new")], delete: ["shard-0/part-0.bin"] }),
        );
        const second = performance.now() - t;
        t = performance.now();
        const tree = await meta.tree(c2.oid);
        const read = performance.now() - t;
        console.log(
          `${name}: commit of 10,000 new files ${first.toFixed(0)} ms, one change on a 10,000-file tree ${second.toFixed(0)} ms, tree() ${read.toFixed(0)} ms`,
        );
        expect(await meta.tree(c1.oid)).toHaveLength(10_000);
        expect(tree).toHaveLength(9_999);
        expect(await meta.file(c2.oid, "shard-7/part-7.bin")).toEqual(regular("shard-7/part-7.bin", "new"));
        expect(first).toBeLessThan(limit);
        expect(second).toBeLessThan(limit);
      });
    });

    describe("branches and blobs", () => {
      it("creates and deletes branches; a commit moves only its branch", async () => {
        const meta = await fresh();
        await meta.createRepo("m", { private: false, author: "alice" });
        // Another author: two first commits in the same millisecond by one author would share an oid.
        await meta.createRepo("other", { private: false, author: "bob" });
        const c0 = await head(meta, "m");
        const c1 = await meta.commit(newCommit("m", { put: [regular("a")] }));
        await meta.createBranch("m", "v1.0", c0);
        await meta.createBranch("m", "refs/pr/1", c1.oid);
        expect(await meta.refs("m")).toEqual([
          { name: "main", oid: c1.oid },
          { name: "refs/pr/1", oid: c1.oid },
          { name: "v1.0", oid: c0 },
        ]);
        const onBranch = await meta.commit(newCommit("m", { put: [regular("b")] }, { branch: "v1.0" }));
        expect(onBranch.parents).toEqual([c0]);
        expect(await paths(meta, onBranch.oid)).toEqual(["b"]);
        expect(await meta.resolveRevision("m", "main")).toBe(c1.oid);
        expect(await meta.resolveRevision("m", "v1.0")).toBe(onBranch.oid);

        await expect(attempt(() => meta.createBranch("m", "v1.0", c0))).rejects.toThrow(
          expect.objectContaining({ code: "ERR_CONFLICT", message: expect.stringContaining(onBranch.oid) }),
        );
        const foreign = await head(meta, "other");
        await expect(attempt(() => meta.createBranch("m", "x", foreign))).rejects.toThrow(
          expect.objectContaining({ code: "ERR_NOT_FOUND" }),
        );
        await expect(attempt(() => meta.createBranch("m", c0, c0))).rejects.toThrow(RangeError);
        await expect(attempt(() => meta.createBranch("m", "a..b", c0))).rejects.toThrow(RangeError);
        await expect(attempt(() => meta.createBranch("nope", "x", c0))).rejects.toThrow(
          expect.objectContaining({ code: "ERR_NOT_FOUND" }),
        );

        await meta.deleteBranch("m", "v1.0");
        expect(await meta.resolveRevision("m", "v1.0")).toBeUndefined();
        // Its commit stays reachable by oid (commits are immutable and never garbage-collected here).
        expect(await meta.resolveRevision("m", onBranch.oid)).toBe(onBranch.oid);
        await expect(attempt(() => meta.deleteBranch("m", "v1.0"))).rejects.toThrow(
          expect.objectContaining({ code: "ERR_NOT_FOUND" }),
        );
        await expect(attempt(() => meta.deleteBranch("m", "main"))).rejects.toThrow(
          expect.objectContaining({ code: "ERR_CONFLICT" }),
        );
        expect((await meta.refs("m")).map((r) => r.name)).toEqual(["main", "refs/pr/1"]);
        expect((await meta.refs("other")).map((r) => r.name)).toEqual(["main"]);
      });

      it("lists the distinct blobs of a repo and of all repos, old commits included", async () => {
        const meta = await fresh();
        await meta.createRepo("one", { private: false, author: "alice" });
        await meta.createRepo("two", { private: false, author: "alice" });
        expect(await meta.repoBlobs("one")).toEqual([]);
        expect(await meta.allBlobs()).toEqual(new Set());
        await meta.commit(
          newCommit("one", {
            put: [lfs("w.bin", "w1", 100), regular("c.json", "{}"), regular("d.json", "{}")],
          }),
        );
        await meta.commit(newCommit("one", { put: [lfs("w.bin", "w2", 200)], delete: ["c.json"] }));
        await meta.commit(newCommit("two", { put: [lfs("w.bin", "w2", 200)] }));
        const expected = [
          { sha256: sha256("w1"), size: 100 },
          { sha256: sha256("w2"), size: 200 },
          { sha256: sha256("{}"), size: 2 },
        ].sort((a, b) => (a.sha256 < b.sha256 ? -1 : 1));
        expect(await meta.repoBlobs("one")).toEqual(expected);
        expect(await meta.repoBlobs("two")).toEqual([{ sha256: sha256("w2"), size: 200 }]);
        expect(await meta.allBlobs()).toEqual(new Set(expected.map((b) => b.sha256)));
        await expect(attempt(() => meta.repoBlobs("three"))).rejects.toThrow(
          expect.objectContaining({ code: "ERR_NOT_FOUND" }),
        );
      });
    });

    describe("tokens", () => {
      it("creates, checks, lists and revokes tokens", async () => {
        const meta = await fresh();
        const a = await meta.createToken("ci-bot", "write");
        const b = await meta.createToken("reader.1", "read");
        expect(a.token).toMatch(/^hf_lowbit_[A-Za-z0-9_-]{43}$/);
        expect(a.info.id).toMatch(/^[0-9a-f]{16}$/);
        expect(a.info).toMatchObject({ name: "ci-bot", role: "write" });
        expect(a.token).not.toBe(b.token);
        expect(await meta.checkToken(a.token)).toEqual(a.info);
        expect(await meta.checkToken(b.token)).toEqual(b.info);
        const flipped = a.token.slice(0, -1) + (a.token.endsWith("A") ? "B" : "A");
        for (const bad of [
          flipped,
          "",
          "hf_lowbit_",
          a.token.slice(10),
          `${a.token}x`,
          "x".repeat(1 << 20),
        ]) {
          expect(await meta.checkToken(bad)).toBeUndefined();
        }
        for (const bad of [undefined, null, 42, { toString: () => a.token }]) {
          expect(await meta.checkToken(bad as unknown as string)).toBeUndefined();
        }
        expect(await meta.listTokens()).toEqual([a.info, b.info]);

        await expect(attempt(() => meta.createToken("ci-bot", "read"))).rejects.toThrow(
          expect.objectContaining({ code: "ERR_CONFLICT" }),
        );
        for (const bad of ["", "a b", "x".repeat(65), "naïve", "a/b", "env", "anonymous"]) {
          await expect(attempt(() => meta.createToken(bad, "read"))).rejects.toThrow(RangeError);
        }
        await expect(attempt(() => meta.createToken("ok", "admin" as "read"))).rejects.toThrow(RangeError);
        expect(await meta.listTokens()).toEqual([a.info, b.info]);

        expect(await meta.revokeToken(a.info.id)).toBe(true);
        expect(await meta.checkToken(a.token)).toBeUndefined();
        expect(await meta.revokeToken("reader.1")).toBe(true);
        expect(await meta.checkToken(b.token)).toBeUndefined();
        expect(await meta.revokeToken("reader.1")).toBe(false);
        expect(await meta.listTokens()).toEqual([]);
        // The name is free again, with a new secret.
        const c = await meta.createToken("ci-bot", "read");
        expect(c.token).not.toBe(a.token);
        expect(await meta.checkToken(a.token)).toBeUndefined();
        expect((await meta.checkToken(c.token))?.role).toBe("read");
      });

      it("revokes by id before name, one token at most", async () => {
        const meta = await fresh();
        const a = await meta.createToken("first", "read");
        // A token whose name is the other's id.
        const b = await meta.createToken(a.info.id, "write");
        expect(await meta.revokeToken(a.info.id)).toBe(true);
        expect(await meta.listTokens()).toEqual([b.info]);
        expect(await meta.revokeToken(a.info.id)).toBe(true);
        expect(await meta.listTokens()).toEqual([]);
      });
    });

    describe("closing", () => {
      it("close is idempotent and every later call fails with a clear error", async () => {
        const meta = await fresh();
        await meta.createRepo("m", { private: false, author: "alice" });
        await meta.close();
        await meta.close();
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
        for (const call of calls) expect(String(await thrown(call))).toMatch(/metadata database is closed/);
      });
    });
  });
}
