/**
 * The hub's metadata in SQLite (better-sqlite3): repos, immutable commits each with its full file tree,
 * branches and hashed tokens. Every method runs in one transaction, so a crash leaves the previous state;
 * WAL with `synchronous=FULL` makes a commit durable once its call has returned.
 */
import { assertBoolean, assertInteger, UnsupportedError } from "@lowbit/bits";
import Database from "better-sqlite3";
import {
  applyChanges,
  assertNewCommit,
  assertNewRepo,
  assertString,
  type CommitRow as BaseCommitRow,
  branchExists,
  branchNotFound,
  commitAt,
  commitBranchNotFound,
  commitNotFound,
  commitWhere,
  DEFAULT_BRANCH,
  defaultBranchUndeletable,
  headMoved,
  initialCommit,
  newToken,
  repoExists,
  repoNotFound,
  sameCommit,
  type TokenRow,
  toCommit,
  tokenExists,
  tokenLookupHash,
  toToken,
} from "./_meta-common.js";
import { assertBranchName, isCommitOid } from "./names.js";
import type { Commit, MetaStore, NewCommit, Ref, Repo, TokenInfo, TokenRole, TreeFile } from "./types.js";

/** Bumped on every schema change; a file with a newer version is refused rather than misread. */
export const META_SCHEMA_VERSION = 1;
/** "LBHB": marks the file as a lowbit hub database (PRAGMA application_id). */
const APPLICATION_ID = 0x4c424842;
const BUSY_TIMEOUT_MS = 10_000;
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

/** The shared commit row, plus SQLite's integer key. */
interface CommitRow extends BaseCommitRow {
  cid: number;
}

/** path, size, sha256, git_oid, lfs (raw rows: a 10,000-file tree is read per commit). */
type FileRow = [string, number, string, string, number];

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

function toRepo(row: RepoRow): Repo {
  return { id: row.id, private: row.private === 1, createdAt: row.created_at };
}

function toFile(row: FileRow): TreeFile {
  return { path: row[0], size: row[1], sha256: row[2], gitOid: row[3], lfs: row[4] === 1 };
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
    assertNewRepo(id, options);
    return this.#tx(() => {
      const existing = s.repoNocase.get(id);
      if (existing !== undefined) throw repoExists(id, existing);
      const createdAt = new Date().toISOString();
      const rid = Number(s.insertRepo.run(id, options.private ? 1 : 0, createdAt).lastInsertRowid);
      const first = initialCommit(id, options.author, createdAt);
      s.insertCommit.run(rid, first.oid, null, first.summary, "", options.author, createdAt);
      s.insertRef.run(rid, DEFAULT_BRANCH, first.oid);
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
      if (s.commit.get(rid, oid) === undefined) throw commitNotFound(oid, repo);
      const at = s.ref.get(rid, name);
      if (at !== undefined) throw branchExists(repo, name, at);
      s.insertRef.run(rid, name, oid);
    });
  }

  deleteBranch(repo: string, name: string): void {
    const s = this.#st();
    assertString(repo, "repo");
    assertString(name, "branch name");
    this.#tx(() => {
      const { rid } = this.#repoRow(repo);
      if (s.ref.get(rid, name) === undefined) throw branchNotFound(repo, name);
      if (name === DEFAULT_BRANCH) throw defaultBranchUndeletable(repo);
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
        if (row === undefined) throw commitNotFound(next, repo);
        out.push(toCommit(repo, row));
        next = row.parent;
      }
      return out;
    });
  }

  #cid(oid: string): number {
    const cid = this.#st().anyCommit.get(oid);
    if (cid === undefined) throw commitNotFound(oid);
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
    assertNewCommit(c);
    return this.#commitTx(c);
  }

  /** The body of `commit`, inside its IMMEDIATE transaction: any throw rolls everything back. */
  #commitIn(c: NewCommit): Commit {
    const s = this.#st();
    const { rid } = this.#repoRow(c.repo);
    const head = s.ref.get(rid, c.branch);
    if (head === undefined) throw commitBranchNotFound(c.repo, c.branch);
    if (c.expectedHead !== undefined && c.expectedHead !== head) throw headMoved(c, head);
    const parentCid = s.commit.get(rid, head)!.cid;
    const tree = new Map<string, TreeFile>();
    for (const row of s.tree.iterate(parentCid)) tree.set(row[0], toFile(row));
    const { files, hash } = applyChanges(tree, c.changes, commitWhere(c));
    for (let time = Date.now(); ; time++) {
      const next = commitAt(c, head, hash, time);
      const existing = s.commit.get(rid, next.oid);
      if (existing === undefined) {
        const cid = Number(
          s.insertCommit.run(rid, next.oid, head, c.summary, c.description, c.author, next.createdAt)
            .lastInsertRowid,
        );
        for (const f of files) s.insertFile.run(cid, f.path, f.size, f.sha256, f.gitOid, f.lfs ? 1 : 0);
      } else if (!sameCommit({ ...existing, createdAt: existing.created_at }, next)) {
        continue;
      }
      s.moveRef.run(next.oid, rid, c.branch);
      return next;
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
    const { token, info, secretSha256 } = newToken(name, role);
    this.#tx(() => {
      if (s.tokenByName.get(name) !== undefined) throw tokenExists(name);
      s.insertToken.run(info.id, name, role, secretSha256, info.createdAt);
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
    const hash = tokenLookupHash(token);
    if (hash === undefined) return undefined;
    const row = s.tokenBySecret.get(hash);
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
