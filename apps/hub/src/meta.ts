/**
 * The hub's metadata in SQLite (better-sqlite3): repos, immutable commits each with its full file tree,
 * branches and hashed tokens. Every method runs in one transaction, so a crash leaves the previous state;
 * WAL with `synchronous=FULL` makes a commit durable once its call has returned.
 */
import { createHash, randomBytes } from "node:crypto";
import {
  assertBoolean,
  assertInteger,
  assertOneOf,
  ConflictError,
  describe,
  NotFoundError,
  UnsupportedError,
} from "@lowbit/bits";
import Database from "better-sqlite3";
import { assertBranchName, assertRepoId, assertRepoPath, isCommitOid, isSha256 } from "./names.js";
import type {
  Commit,
  CommitChanges,
  MetaStore,
  NewCommit,
  Ref,
  Repo,
  TokenInfo,
  TokenRole,
  TreeFile,
} from "./types.js";

/** Bumped on every schema change; a file with a newer version is refused rather than misread. */
export const META_SCHEMA_VERSION = 1;
/** "LBHB": marks the file as a lowbit hub database (PRAGMA application_id). */
const APPLICATION_ID = 0x4c424842;
const BUSY_TIMEOUT_MS = 10_000;
const DEFAULT_BRANCH = "main";
// "hf_" because @huggingface/hub refuses tokens that do not start with it.
const TOKEN_PREFIX = "hf_lowbit_";
/** "hf_lowbit_" + base64url of 32 bytes. */
const TOKEN_LENGTH = TOKEN_PREFIX.length + 43;
const TOKEN_NAME = /^[A-Za-z0-9._-]{1,64}$/;
/** Author names the server uses for itself: a token with such a name would make authorship ambiguous. */
const RESERVED_TOKEN_NAMES = new Set(["anonymous", "env"]);
const TOKEN_ROLES: readonly TokenRole[] = ["read", "write"];
// C0 and C1 controls (and DEL) would make the canonical commit text ambiguous.
// biome-ignore lint/suspicious/noControlCharactersInRegex: the point is to reject them
const CONTROL = /[\u0000-\u001f\u007f-\u009f]/;

const SCHEMA = `
CREATE TABLE repos (
  rid INTEGER PRIMARY KEY,
  id TEXT NOT NULL UNIQUE,
  private INTEGER NOT NULL CHECK (private IN (0, 1)),
  created_at TEXT NOT NULL
) STRICT;
-- The Hugging Face Hub treats "Org/Model" and "org/model" as the same repo when creating one.
CREATE UNIQUE INDEX repos_id_nocase ON repos (id COLLATE NOCASE);

CREATE TABLE commits (
  cid INTEGER PRIMARY KEY,
  rid INTEGER NOT NULL REFERENCES repos (rid),
  oid TEXT NOT NULL,
  parent TEXT,
  summary TEXT NOT NULL,
  description TEXT NOT NULL,
  author TEXT NOT NULL,
  created_at TEXT NOT NULL,
  -- Two repos may hold the same oid (same tree, author, time and message), never one repo twice.
  UNIQUE (rid, oid),
  FOREIGN KEY (rid, parent) REFERENCES commits (rid, oid)
) STRICT;
CREATE INDEX commits_oid ON commits (oid);
CREATE INDEX commits_parent ON commits (rid, parent);

CREATE TABLE refs (
  rid INTEGER NOT NULL REFERENCES repos (rid),
  name TEXT NOT NULL,
  oid TEXT NOT NULL,
  PRIMARY KEY (rid, name),
  FOREIGN KEY (rid, oid) REFERENCES commits (rid, oid)
) STRICT, WITHOUT ROWID;

-- The full tree of every commit: simple, immutable, and a lookup is one index probe.
CREATE TABLE files (
  cid INTEGER NOT NULL REFERENCES commits (cid),
  path TEXT NOT NULL,
  size INTEGER NOT NULL CHECK (size >= 0),
  sha256 TEXT NOT NULL,
  git_oid TEXT NOT NULL,
  lfs INTEGER NOT NULL CHECK (lfs IN (0, 1)),
  PRIMARY KEY (cid, path)
) STRICT, WITHOUT ROWID;

CREATE TABLE tokens (
  id TEXT PRIMARY KEY,
  name TEXT NOT NULL UNIQUE,
  role TEXT NOT NULL CHECK (role IN ('read', 'write')),
  secret_sha256 TEXT NOT NULL UNIQUE,
  created_at TEXT NOT NULL
) STRICT;
`;

interface RepoRow {
  rid: number;
  id: string;
  private: number;
  created_at: string;
}

interface CommitRow {
  cid: number;
  oid: string;
  parent: string | null;
  summary: string;
  description: string;
  author: string;
  created_at: string;
}

/** path, size, sha256, git_oid, lfs (raw rows: a 10,000-file tree is read per commit). */
type FileRow = [string, number, string, string, number];

interface TokenRow {
  id: string;
  name: string;
  role: TokenRole;
  created_at: string;
}

type Db = Database.Database;

function prepareAll(db: Db) {
  const p = <P extends unknown[], R = unknown>(sql: string) => db.prepare<P, R>(sql);
  return {
    repo: p<[string], RepoRow>("SELECT rid, id, private, created_at FROM repos WHERE id = ?"),
    repoNocase: p<[string], string>("SELECT id FROM repos WHERE id = ? COLLATE NOCASE").pluck(),
    repos: p<[], RepoRow>("SELECT rid, id, private, created_at FROM repos ORDER BY id"),
    insertRepo: p<[string, number, string]>("INSERT INTO repos (id, private, created_at) VALUES (?, ?, ?)"),
    setPrivate: p<[number, number]>("UPDATE repos SET private = ? WHERE rid = ?"),
    deleteRefs: p<[number]>("DELETE FROM refs WHERE rid = ?"),
    deleteFiles: p<[number]>("DELETE FROM files WHERE cid IN (SELECT cid FROM commits WHERE rid = ?)"),
    deleteCommits: p<[number]>("DELETE FROM commits WHERE rid = ?"),
    deleteRepo: p<[number]>("DELETE FROM repos WHERE rid = ?"),
    ref: p<[number, string], string>("SELECT oid FROM refs WHERE rid = ? AND name = ?").pluck(),
    refs: p<[number], Ref>("SELECT name, oid FROM refs WHERE rid = ? ORDER BY name"),
    insertRef: p<[number, string, string]>("INSERT INTO refs (rid, name, oid) VALUES (?, ?, ?)"),
    moveRef: p<[string, number, string]>("UPDATE refs SET oid = ? WHERE rid = ? AND name = ?"),
    deleteRef: p<[number, string]>("DELETE FROM refs WHERE rid = ? AND name = ?"),
    commit: p<[number, string], CommitRow>(
      "SELECT cid, oid, parent, summary, description, author, created_at FROM commits WHERE rid = ? AND oid = ?",
    ),
    anyCommit: p<[string], number>("SELECT cid FROM commits WHERE oid = ? LIMIT 1").pluck(),
    insertCommit: p<[number, string, string | null, string, string, string, string]>(
      "INSERT INTO commits (rid, oid, parent, summary, description, author, created_at) VALUES (?, ?, ?, ?, ?, ?, ?)",
    ),
    tree: p<[number], FileRow>(
      "SELECT path, size, sha256, git_oid, lfs FROM files WHERE cid = ? ORDER BY path",
    ).raw(),
    file: p<[number, string], FileRow>(
      "SELECT path, size, sha256, git_oid, lfs FROM files WHERE cid = ? AND path = ?",
    ).raw(),
    insertFile: p<[number, string, number, string, string, number]>(
      "INSERT INTO files (cid, path, size, sha256, git_oid, lfs) VALUES (?, ?, ?, ?, ?, ?)",
    ),
    repoBlobs: p<[number], { sha256: string; size: number }>(
      "SELECT sha256, MAX(size) AS size FROM files WHERE cid IN (SELECT cid FROM commits WHERE rid = ?) GROUP BY sha256 ORDER BY sha256",
    ),
    allBlobs: p<[], string>("SELECT DISTINCT sha256 FROM files").pluck(),
    tokenByName: p<[string], string>("SELECT id FROM tokens WHERE name = ?").pluck(),
    tokenBySecret: p<[string], TokenRow>(
      "SELECT id, name, role, created_at FROM tokens WHERE secret_sha256 = ?",
    ),
    tokens: p<[], TokenRow>("SELECT id, name, role, created_at FROM tokens ORDER BY name"),
    insertToken: p<[string, string, string, string, string]>(
      "INSERT INTO tokens (id, name, role, secret_sha256, created_at) VALUES (?, ?, ?, ?, ?)",
    ),
    deleteTokenById: p<[string]>("DELETE FROM tokens WHERE id = ?"),
    deleteTokenByName: p<[string]>("DELETE FROM tokens WHERE name = ?"),
  };
}

type Statements = ReturnType<typeof prepareAll>;

function sha256Hex(text: string): string {
  return createHash("sha256").update(text, "utf8").digest("hex");
}

function sha1Hex(text: string): string {
  return createHash("sha1").update(text, "utf8").digest("hex");
}

/** UTF-8 byte order (= code point order), as SQLite's BINARY collation sorts the stored paths. */
function byteOrder(a: string, b: string): number {
  const n = Math.min(a.length, b.length);
  for (let i = 0; i < n; i++) {
    const x = a.charCodeAt(i);
    const y = b.charCodeAt(i);
    if (x !== y) {
      // UTF-16 puts surrogates (code points above U+FFFF) below U+E000–U+FFFF; UTF-8 puts them above.
      const xs = x >= 0xd800 && x <= 0xdfff;
      const ys = y >= 0xd800 && y <= 0xdfff;
      if (xs !== ys) return xs ? 1 : -1;
      return x - y;
    }
  }
  return a.length - b.length;
}

/** sha1 of the sorted listing; paths hold no control characters, so tab and newline separate safely. */
function treeHash(sorted: readonly TreeFile[]): string {
  const lines = sorted.map((f) => `${f.sha256} ${f.size} ${f.lfs ? "lfs" : "regular"}\t${f.path}\n`);
  return sha1Hex(lines.join(""));
}

/** The commit's canonical text, hashed into its oid. */
function commitOid(
  tree: string,
  parent: string | null,
  author: string,
  createdAt: string,
  summary: string,
  description: string,
): string {
  const parents = parent === null ? "" : `parent ${parent}\n`;
  return sha1Hex(`tree ${tree}\n${parents}author ${author} ${createdAt}\n\n${summary}\n\n${description}`);
}

function toRepo(row: RepoRow): Repo {
  return { id: row.id, private: row.private === 1, createdAt: row.created_at };
}

function toCommit(repo: string, row: CommitRow): Commit {
  return {
    oid: row.oid,
    repo,
    parents: row.parent === null ? [] : [row.parent],
    summary: row.summary,
    description: row.description,
    author: row.author,
    createdAt: row.created_at,
  };
}

function toFile(row: FileRow): TreeFile {
  return { path: row[0], size: row[1], sha256: row[2], gitOid: row[3], lfs: row[4] === 1 };
}

function toToken(row: TokenRow): TokenInfo {
  return { id: row.id, name: row.name, role: row.role, createdAt: row.created_at };
}

function assertString(value: unknown, what: string): asserts value is string {
  if (typeof value !== "string") throw new TypeError(`${what} must be a string, got ${describe(value)}`);
}

function assertObject(value: unknown, what: string): asserts value is object {
  if (typeof value !== "object" || value === null || Array.isArray(value)) {
    throw new TypeError(`${what} must be an object, got ${describe(value)}`);
  }
}

function assertArray(value: unknown, what: string): asserts value is readonly unknown[] {
  if (!Array.isArray(value)) throw new TypeError(`${what} must be an array, got ${describe(value)}`);
}

function assertAuthor(value: unknown, what: string): asserts value is string {
  assertString(value, what);
  if (value.length < 1 || value.length > 256 || CONTROL.test(value)) {
    throw new RangeError(
      `${what} must be 1–256 characters without control characters, got ${describe(value)}`,
    );
  }
}

function assertTreeFile(value: unknown, what: string): asserts value is TreeFile {
  assertObject(value, what);
  const f = value as Record<string, unknown>;
  assertRepoPath(f["path"], `${what}.path`);
  assertInteger(f["size"], `${what}.size`, 0, Number.MAX_SAFE_INTEGER);
  assertString(f["sha256"], `${what}.sha256`);
  if (!isSha256(f["sha256"])) {
    throw new RangeError(`${what}.sha256 must be 64 lowercase hex digits, got ${describe(f["sha256"])}`);
  }
  assertString(f["gitOid"], `${what}.gitOid`);
  if (!isCommitOid(f["gitOid"])) {
    throw new RangeError(`${what}.gitOid must be 40 lowercase hex digits, got ${describe(f["gitOid"])}`);
  }
  assertBoolean(f["lfs"], `${what}.lfs`);
}

function assertChanges(value: unknown): asserts value is CommitChanges {
  assertObject(value, "changes");
  const c = value as Record<string, unknown>;
  const put = c["put"];
  const del = c["delete"];
  const folders = c["deleteFolders"];
  assertArray(put, "changes.put");
  assertArray(del, "changes.delete");
  assertArray(folders, "changes.deleteFolders");
  for (let i = 0; i < put.length; i++) assertTreeFile(put[i], `changes.put[${i}]`);
  for (let i = 0; i < del.length; i++) assertRepoPath(del[i], `changes.delete[${i}]`);
  for (let i = 0; i < folders.length; i++) assertRepoPath(folders[i], `changes.deleteFolders[${i}]`);
}

function repoNotFound(id: string): NotFoundError {
  return new NotFoundError(`repository ${JSON.stringify(id)} not found`);
}

/** Metadata over one SQLite file (or ":memory:"); see `MetaStore`. */
export class Meta implements MetaStore {
  #db: Db | undefined;
  #s: Statements | undefined;
  readonly #commitTx: (c: NewCommit) => Commit;

  private constructor(db: Db) {
    this.#db = db;
    this.#s = prepareAll(db);
    // IMMEDIATE: a write transaction that starts by reading must hold the write lock from the start,
    // else a second process could commit in between and the upgrade fails with SQLITE_BUSY.
    this.#commitTx = db.transaction((c: NewCommit) => this.#commitIn(c)).immediate;
  }

  /**
   * Opens (creating if missing) the database file; ":memory:" for a throwaway one. A file written by a
   * newer schema version, or a SQLite file that is not a hub database → UnsupportedError.
   */
  static open(file: string): Meta {
    assertString(file, "file");
    if (file.length === 0) throw new RangeError(`file must be a non-empty path or ":memory:", got ""`);
    const db = new Database(file);
    try {
      db.pragma(`busy_timeout = ${BUSY_TIMEOUT_MS}`);
      // Checked before any pragma or schema write, so a newer file is never touched.
      const version = db.pragma("user_version", { simple: true }) as number;
      checkVersion(db, file, version);
      db.pragma("journal_mode = WAL");
      // FULL: the WAL is fsynced at every commit, so a commit that returned survives a crash.
      db.pragma("synchronous = FULL");
      db.pragma("foreign_keys = ON");
      if (version < META_SCHEMA_VERSION) {
        db.transaction(() => {
          // Read again under the write lock: another process may have created the schema meanwhile.
          const now = db.pragma("user_version", { simple: true }) as number;
          checkVersion(db, file, now);
          if (now === 0) {
            db.exec(SCHEMA);
            db.pragma(`application_id = ${APPLICATION_ID}`);
            db.pragma(`user_version = ${META_SCHEMA_VERSION}`);
          }
        }).immediate();
      }
      return new Meta(db);
    } catch (error) {
      db.close();
      throw error;
    }
  }

  #st(): Statements {
    if (this.#s === undefined) throw new Error("Meta: the metadata database is closed");
    return this.#s;
  }

  /** A write: IMMEDIATE, for the reason given in the constructor. */
  #tx<T>(fn: () => T): T {
    if (this.#db === undefined) throw new Error("Meta: the metadata database is closed");
    return this.#db.transaction(fn).immediate();
  }

  /** Several reads from one snapshot, without taking the write lock. */
  #read<T>(fn: () => T): T {
    if (this.#db === undefined) throw new Error("Meta: the metadata database is closed");
    return this.#db.transaction(fn).deferred();
  }

  #repoRow(id: string): RepoRow {
    const row = this.#st().repo.get(id);
    if (row === undefined) throw repoNotFound(id);
    return row;
  }

  createRepo(id: string, options: { readonly private: boolean; readonly author: string }): Repo {
    const s = this.#st();
    assertRepoId(id);
    assertObject(options, "options");
    assertBoolean(options.private, "options.private");
    assertAuthor(options.author, "options.author");
    return this.#tx(() => {
      const existing = s.repoNocase.get(id);
      if (existing !== undefined) {
        throw new ConflictError(
          existing === id
            ? `repository ${JSON.stringify(id)} already exists`
            : `repository ${JSON.stringify(id)} conflicts with the existing ${JSON.stringify(existing)} (names are case-insensitive)`,
        );
      }
      const createdAt = new Date().toISOString();
      const rid = Number(s.insertRepo.run(id, options.private ? 1 : 0, createdAt).lastInsertRowid);
      const summary = "initial commit";
      const oid = commitOid(treeHash([]), null, options.author, createdAt, summary, "");
      s.insertCommit.run(rid, oid, null, summary, "", options.author, createdAt);
      s.insertRef.run(rid, DEFAULT_BRANCH, oid);
      return { id, private: options.private, createdAt };
    });
  }

  getRepo(id: string): Repo | undefined {
    const s = this.#st();
    assertString(id, "repo id");
    const row = s.repo.get(id);
    return row === undefined ? undefined : toRepo(row);
  }

  listRepos(): readonly Repo[] {
    return this.#st().repos.all().map(toRepo);
  }

  setPrivate(id: string, isPrivate: boolean): void {
    const s = this.#st();
    assertString(id, "repo id");
    assertBoolean(isPrivate, "isPrivate");
    this.#tx(() => {
      s.setPrivate.run(isPrivate ? 1 : 0, this.#repoRow(id).rid);
    });
  }

  deleteRepo(id: string): void {
    const s = this.#st();
    assertString(id, "repo id");
    this.#tx(() => {
      const { rid } = this.#repoRow(id);
      s.deleteRefs.run(rid);
      s.deleteFiles.run(rid);
      s.deleteCommits.run(rid);
      s.deleteRepo.run(rid);
    });
  }

  resolveRevision(repo: string, rev: string): string | undefined {
    const s = this.#st();
    assertString(repo, "repo");
    assertString(rev, "rev");
    const row = s.repo.get(repo);
    if (row === undefined) return undefined;
    const head = s.ref.get(row.rid, rev);
    if (head !== undefined) return head;
    if (isCommitOid(rev) && s.commit.get(row.rid, rev) !== undefined) return rev;
    return undefined;
  }

  refs(repo: string): readonly Ref[] {
    const s = this.#st();
    assertString(repo, "repo");
    return s.refs.all(this.#repoRow(repo).rid);
  }

  createBranch(repo: string, name: string, oid: string): void {
    const s = this.#st();
    assertString(repo, "repo");
    assertBranchName(name, "branch name");
    assertString(oid, "oid");
    this.#tx(() => {
      const { rid } = this.#repoRow(repo);
      if (s.commit.get(rid, oid) === undefined) {
        throw new NotFoundError(
          `commit ${JSON.stringify(oid)} not found in repository ${JSON.stringify(repo)}`,
        );
      }
      const at = s.ref.get(rid, name);
      if (at !== undefined) {
        throw new ConflictError(
          `branch ${JSON.stringify(name)} of ${JSON.stringify(repo)} already exists (at ${at})`,
        );
      }
      s.insertRef.run(rid, name, oid);
    });
  }

  deleteBranch(repo: string, name: string): void {
    const s = this.#st();
    assertString(repo, "repo");
    assertString(name, "branch name");
    this.#tx(() => {
      const { rid } = this.#repoRow(repo);
      if (s.ref.get(rid, name) === undefined) {
        throw new NotFoundError(
          `branch ${JSON.stringify(name)} not found in repository ${JSON.stringify(repo)}`,
        );
      }
      // The routes resolve "main" (and HEAD) by default; as on the Hugging Face Hub it cannot go.
      if (name === DEFAULT_BRANCH) {
        throw new ConflictError(
          `cannot delete the default branch ${JSON.stringify(DEFAULT_BRANCH)} of ${JSON.stringify(repo)}`,
        );
      }
      s.deleteRef.run(rid, name);
    });
  }

  getCommit(repo: string, oid: string): Commit | undefined {
    const s = this.#st();
    assertString(repo, "repo");
    assertString(oid, "oid");
    const r = s.repo.get(repo);
    const row = r === undefined ? undefined : s.commit.get(r.rid, oid);
    return row === undefined ? undefined : toCommit(repo, row);
  }

  log(repo: string, oid: string, limit: number): readonly Commit[] {
    const s = this.#st();
    assertString(repo, "repo");
    assertString(oid, "oid");
    assertInteger(limit, "limit", 0, Number.MAX_SAFE_INTEGER);
    return this.#read(() => {
      const { rid } = this.#repoRow(repo);
      const out: Commit[] = [];
      let next: string | null = oid;
      while (next !== null && out.length < limit) {
        const row = s.commit.get(rid, next);
        if (row === undefined) {
          throw new NotFoundError(
            `commit ${JSON.stringify(next)} not found in repository ${JSON.stringify(repo)}`,
          );
        }
        out.push(toCommit(repo, row));
        next = row.parent;
      }
      return out;
    });
  }

  #cid(oid: string): number {
    const cid = this.#st().anyCommit.get(oid);
    if (cid === undefined) throw new NotFoundError(`commit ${JSON.stringify(oid)} not found`);
    return cid;
  }

  tree(oid: string): readonly TreeFile[] {
    const s = this.#st();
    assertString(oid, "oid");
    // Commits with the same oid (in different repos) have the same tree: the oid hashes it.
    return this.#read(() => s.tree.all(this.#cid(oid)).map(toFile));
  }

  file(oid: string, path: string): TreeFile | undefined {
    const s = this.#st();
    assertString(oid, "oid");
    assertString(path, "path");
    return this.#read(() => {
      const row = s.file.get(this.#cid(oid), path);
      return row === undefined ? undefined : toFile(row);
    });
  }

  commit(c: NewCommit): Commit {
    this.#st();
    assertObject(c, "commit");
    assertString(c.repo, "commit.repo");
    assertString(c.branch, "commit.branch");
    if (c.expectedHead !== undefined) assertString(c.expectedHead, "commit.expectedHead");
    assertString(c.summary, "commit.summary");
    assertString(c.description, "commit.description");
    assertAuthor(c.author, "commit.author");
    assertChanges(c.changes);
    return this.#commitTx(c);
  }

  /** The body of `commit`, inside its IMMEDIATE transaction: any throw rolls everything back. */
  #commitIn(c: NewCommit): Commit {
    const s = this.#st();
    const { rid } = this.#repoRow(c.repo);
    const head = s.ref.get(rid, c.branch);
    if (head === undefined) {
      throw new NotFoundError(
        `revision ${JSON.stringify(c.branch)} not found in repository ${JSON.stringify(c.repo)} (commits go to an existing branch)`,
      );
    }
    if (c.expectedHead !== undefined && c.expectedHead !== head) {
      throw new ConflictError(
        `branch ${JSON.stringify(c.branch)} of ${JSON.stringify(c.repo)} is at ${head}, not at the expected parent commit ${c.expectedHead}`,
      );
    }
    const parentCid = s.commit.get(rid, head)!.cid;
    const tree = new Map<string, TreeFile>();
    for (const row of s.tree.iterate(parentCid)) tree.set(row[0], toFile(row));

    const where = `revision ${JSON.stringify(c.branch)} of ${JSON.stringify(c.repo)}`;
    for (const path of c.changes.delete) {
      if (!tree.delete(path))
        throw new NotFoundError(`cannot delete ${JSON.stringify(path)}: no such file in ${where}`);
    }
    for (const folder of c.changes.deleteFolders) {
      const prefix = `${folder}/`;
      let removed = 0;
      for (const path of tree.keys()) {
        if (path.startsWith(prefix)) {
          tree.delete(path);
          removed++;
        }
      }
      if (removed === 0) {
        throw new NotFoundError(`cannot delete folder ${JSON.stringify(folder)}: no such folder in ${where}`);
      }
    }
    for (const f of c.changes.put) {
      tree.set(f.path, { path: f.path, size: f.size, sha256: f.sha256, gitOid: f.gitOid, lfs: f.lfs });
    }
    if (c.changes.put.length > 0) checkFoldersAgainstFiles(tree, c.changes.put);

    const files = [...tree.values()].sort((a, b) => byteOrder(a.path, b.path));
    const hash = treeHash(files);
    // Identical inputs in the same millisecond give the same oid: that is the same commit, reused. An
    // oid that exists with other fields (a summary/description split differently) moves the time on.
    let time = Date.now();
    for (;;) {
      const createdAt = new Date(time).toISOString();
      const oid = commitOid(hash, head, c.author, createdAt, c.summary, c.description);
      const existing = s.commit.get(rid, oid);
      if (existing === undefined) {
        const cid = Number(
          s.insertCommit.run(rid, oid, head, c.summary, c.description, c.author, createdAt).lastInsertRowid,
        );
        for (const f of files) s.insertFile.run(cid, f.path, f.size, f.sha256, f.gitOid, f.lfs ? 1 : 0);
      } else if (
        existing.parent !== head ||
        existing.summary !== c.summary ||
        existing.description !== c.description ||
        existing.author !== c.author ||
        existing.created_at !== createdAt
      ) {
        time++;
        continue;
      }
      s.moveRef.run(oid, rid, c.branch);
      return {
        oid,
        repo: c.repo,
        parents: [head],
        summary: c.summary,
        description: c.description,
        author: c.author,
        createdAt,
      };
    }
  }

  repoBlobs(repo: string): readonly { readonly sha256: string; readonly size: number }[] {
    const s = this.#st();
    assertString(repo, "repo");
    return this.#read(() => s.repoBlobs.all(this.#repoRow(repo).rid));
  }

  allBlobs(): ReadonlySet<string> {
    return new Set(this.#st().allBlobs.all());
  }

  createToken(name: string, role: TokenRole): { readonly token: string; readonly info: TokenInfo } {
    const s = this.#st();
    assertString(name, "token name");
    if (!TOKEN_NAME.test(name)) {
      throw new RangeError(`token name must be 1–64 of A-Z a-z 0-9 . _ -, got ${describe(name)}`);
    }
    if (RESERVED_TOKEN_NAMES.has(name)) {
      throw new RangeError(
        `token name ${JSON.stringify(name)} is reserved (it names the server's own authors)`,
      );
    }
    assertOneOf(role, TOKEN_ROLES, "role");
    const token = TOKEN_PREFIX + randomBytes(32).toString("base64url");
    const info: TokenInfo = {
      id: randomBytes(8).toString("hex"),
      name,
      role,
      createdAt: new Date().toISOString(),
    };
    this.#tx(() => {
      if (s.tokenByName.get(name) !== undefined) {
        throw new ConflictError(`a token named ${JSON.stringify(name)} already exists`);
      }
      s.insertToken.run(info.id, name, role, sha256Hex(token), info.createdAt);
    });
    return { token, info };
  }

  /**
   * The token's info, or undefined for anything that is not a live token (non-strings included, so a
   * malformed header is a plain 401). The lookup is by sha256 of the secret, so its timing says
   * nothing about the secret itself.
   */
  checkToken(token: string): TokenInfo | undefined {
    const s = this.#st();
    if (typeof token !== "string" || token.length !== TOKEN_LENGTH || !token.startsWith(TOKEN_PREFIX)) {
      return undefined;
    }
    const row = s.tokenBySecret.get(sha256Hex(token));
    return row === undefined ? undefined : toToken(row);
  }

  listTokens(): readonly TokenInfo[] {
    return this.#st().tokens.all().map(toToken);
  }

  /** By id first, then by name (one token at most). */
  revokeToken(idOrName: string): boolean {
    const s = this.#st();
    assertString(idOrName, "idOrName");
    return this.#tx(() => {
      if (s.deleteTokenById.run(idOrName).changes > 0) return true;
      return s.deleteTokenByName.run(idOrName).changes > 0;
    });
  }

  /** Idempotent; any other method afterwards throws. */
  close(): void {
    const db = this.#db;
    this.#db = undefined;
    this.#s = undefined;
    db?.close();
  }
}

function checkVersion(db: Db, file: string, version: number): void {
  if (version > META_SCHEMA_VERSION) {
    throw new UnsupportedError(
      `${file} has hub metadata schema version ${version}; this version of lowbit reads up to ${META_SCHEMA_VERSION} (upgrade lowbit)`,
    );
  }
  const appId = db.pragma("application_id", { simple: true }) as number;
  const objects = db.prepare("SELECT count(*) FROM sqlite_schema").pluck().get() as number;
  const ours = version === 0 ? objects === 0 && appId === 0 : appId === APPLICATION_ID;
  if (!ours) {
    throw new UnsupportedError(`${file} is a SQLite database but not lowbit hub metadata`);
  }
}

/**
 * A path is either a file or a folder. The parent tree is consistent, so only the new paths can clash:
 * with a file standing where a folder of theirs must be, or with files under their own path.
 */
function checkFoldersAgainstFiles(tree: ReadonlyMap<string, TreeFile>, put: readonly TreeFile[]): void {
  const folders = new Set<string>();
  for (const path of tree.keys()) {
    for (let i = path.indexOf("/"); i !== -1; i = path.indexOf("/", i + 1)) folders.add(path.slice(0, i));
  }
  for (const { path } of put) {
    if (folders.has(path)) {
      let inside = "";
      for (const p of tree.keys()) {
        if (p.startsWith(`${path}/`)) {
          inside = p;
          break;
        }
      }
      throw new ConflictError(
        `cannot add file ${JSON.stringify(path)}: it is a folder in the tree (holding ${JSON.stringify(inside)})`,
      );
    }
    for (let i = path.indexOf("/"); i !== -1; i = path.indexOf("/", i + 1)) {
      const prefix = path.slice(0, i);
      if (tree.has(prefix)) {
        throw new ConflictError(
          `cannot add file ${JSON.stringify(path)}: ${JSON.stringify(prefix)} is a file`,
        );
      }
    }
  }
}
