/**
 * The hub's metadata in PostgreSQL, for several hub instances sharing one database (with one S3
 * object store). Same tables and semantics as the SQLite `Meta`; every write runs in one transaction,
 * and a commit locks its branch row (`SELECT … FOR UPDATE`), so commits to one branch from any number
 * of instances serialize: the second sees the first's head (or, with `expectedHead`, a ConflictError).
 */
import { createHash } from "node:crypto";
import { assertBoolean, assertInteger, assertOptions, UnsupportedError } from "@lowbit/bits";
import { Pool, type PoolClient } from "pg";
import {
  applyChanges,
  assertNewCommit,
  assertNewRepo,
  assertString,
  branchExists,
  branchNotFound,
  type CommitRow,
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

/** Bumped on every schema change; a database with a newer version is refused rather than misread. */
export const PG_META_SCHEMA_VERSION = 1;
const POOL_MAX = 10;
/** Lower case: an identifier PostgreSQL keeps as written, safe to quote into the SQL text. */
const SCHEMA_NAME = /^[a-z_][a-z0-9_]{0,62}$/;

/**
 * Every table is prefixed, so the hub can share a schema ("public" by default) with other software.
 * Text columns that are keys or sort orders use the "C" collation: byte order, as SQLite's BINARY, and
 * `lower()` folds ASCII only, as SQLite's NOCASE. Times stay ISO 8601 text: the exact string is hashed
 * into the commit oid, which a timestamp type would not round-trip.
 */
function schemaSql(s: string): string {
  return `
CREATE TABLE ${s}.lowbit_hub_repos (
  rid BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
  id TEXT COLLATE "C" NOT NULL UNIQUE,
  private BOOLEAN NOT NULL,
  created_at TEXT NOT NULL
);
-- The Hugging Face Hub treats "Org/Model" and "org/model" as the same repo when creating one.
CREATE UNIQUE INDEX lowbit_hub_repos_id_nocase ON ${s}.lowbit_hub_repos (lower(id));

CREATE TABLE ${s}.lowbit_hub_commits (
  cid BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
  rid BIGINT NOT NULL REFERENCES ${s}.lowbit_hub_repos (rid),
  oid TEXT COLLATE "C" NOT NULL,
  parent TEXT COLLATE "C",
  summary TEXT NOT NULL,
  description TEXT NOT NULL,
  author TEXT NOT NULL,
  created_at TEXT NOT NULL,
  -- Two repos may hold the same oid (same tree, author, time and message), never one repo twice.
  UNIQUE (rid, oid),
  FOREIGN KEY (rid, parent) REFERENCES ${s}.lowbit_hub_commits (rid, oid)
);
CREATE INDEX lowbit_hub_commits_oid ON ${s}.lowbit_hub_commits (oid);
CREATE INDEX lowbit_hub_commits_parent ON ${s}.lowbit_hub_commits (rid, parent);

CREATE TABLE ${s}.lowbit_hub_refs (
  rid BIGINT NOT NULL REFERENCES ${s}.lowbit_hub_repos (rid),
  name TEXT COLLATE "C" NOT NULL,
  oid TEXT COLLATE "C" NOT NULL,
  PRIMARY KEY (rid, name),
  FOREIGN KEY (rid, oid) REFERENCES ${s}.lowbit_hub_commits (rid, oid)
);

-- The full tree of every commit: simple, immutable, and a lookup is one index probe.
CREATE TABLE ${s}.lowbit_hub_files (
  cid BIGINT NOT NULL REFERENCES ${s}.lowbit_hub_commits (cid),
  path TEXT COLLATE "C" NOT NULL,
  size BIGINT NOT NULL CHECK (size >= 0),
  sha256 TEXT COLLATE "C" NOT NULL,
  git_oid TEXT NOT NULL,
  lfs BOOLEAN NOT NULL,
  PRIMARY KEY (cid, path)
);

CREATE TABLE ${s}.lowbit_hub_tokens (
  id TEXT COLLATE "C" PRIMARY KEY,
  name TEXT COLLATE "C" NOT NULL UNIQUE,
  role TEXT NOT NULL CHECK (role IN ('read', 'write')),
  secret_sha256 TEXT NOT NULL UNIQUE,
  created_at TEXT NOT NULL
);

CREATE TABLE ${s}.lowbit_hub_meta (
  key TEXT PRIMARY KEY,
  value TEXT NOT NULL
);
INSERT INTO ${s}.lowbit_hub_meta (key, value) VALUES ('schema_version', '${PG_META_SCHEMA_VERSION}');
`;
}

/** The statements, with the schema's tables quoted in (identifiers cannot be query parameters). */
function statements(schema: string) {
  const repos = `"${schema}".lowbit_hub_repos`;
  const commits = `"${schema}".lowbit_hub_commits`;
  const refs = `"${schema}".lowbit_hub_refs`;
  const files = `"${schema}".lowbit_hub_files`;
  const tokens = `"${schema}".lowbit_hub_tokens`;
  const commitCols = "c.oid, c.parent, c.summary, c.description, c.author, c.created_at";
  return {
    repo: `SELECT id, private, created_at FROM ${repos} WHERE id = $1`,
    repos: `SELECT id, private, created_at FROM ${repos} ORDER BY id`,
    rid: `SELECT rid FROM ${repos} WHERE id = $1`,
    // KEY SHARE: writes under a repo exclude its deletion (FOR UPDATE) but not setPrivate.
    ridShared: `SELECT rid FROM ${repos} WHERE id = $1 FOR KEY SHARE`,
    ridExclusive: `SELECT rid FROM ${repos} WHERE id = $1 FOR UPDATE`,
    repoNocase: `SELECT id FROM ${repos} WHERE lower(id) = lower($1)`,
    insertRepo: `INSERT INTO ${repos} (id, private, created_at) VALUES ($1, $2, $3) ON CONFLICT DO NOTHING RETURNING rid`,
    setPrivate: `UPDATE ${repos} SET private = $2 WHERE id = $1`,
    deleteRefs: `DELETE FROM ${refs} WHERE rid = $1`,
    deleteFiles: `DELETE FROM ${files} WHERE cid IN (SELECT cid FROM ${commits} WHERE rid = $1)`,
    deleteCommits: `DELETE FROM ${commits} WHERE rid = $1`,
    deleteRepo: `DELETE FROM ${repos} WHERE rid = $1`,
    resolve: `SELECT COALESCE(
        (SELECT oid FROM ${refs} WHERE rid = r.rid AND name = $2),
        CASE WHEN $3::boolean THEN (SELECT oid FROM ${commits} WHERE rid = r.rid AND oid = $2) END
      ) AS oid FROM ${repos} r WHERE r.id = $1`,
    refs: `SELECT f.name, f.oid FROM ${repos} r LEFT JOIN ${refs} f ON f.rid = r.rid WHERE r.id = $1 ORDER BY f.name`,
    ref: `SELECT oid FROM ${refs} WHERE rid = $1 AND name = $2`,
    refForUpdate: `SELECT oid FROM ${refs} WHERE rid = $1 AND name = $2 FOR UPDATE`,
    insertRef: `INSERT INTO ${refs} (rid, name, oid) VALUES ($1, $2, $3) ON CONFLICT DO NOTHING`,
    moveRef: `UPDATE ${refs} SET oid = $3 WHERE rid = $1 AND name = $2`,
    deleteRef: `DELETE FROM ${refs} WHERE rid = $1 AND name = $2`,
    commitExists: `SELECT 1 FROM ${commits} WHERE rid = $1 AND oid = $2`,
    commit: `SELECT ${commitCols} FROM ${repos} r JOIN ${commits} c ON c.rid = r.rid WHERE r.id = $1 AND c.oid = $2`,
    storedCommit: `SELECT ${commitCols} FROM ${commits} c WHERE c.rid = $1 AND c.oid = $2`,
    // A recursive walk down the parent links, stopped at `limit` so a long history is not read whole.
    log: `WITH RECURSIVE chain AS (
        SELECT ${commitCols}, 1::bigint AS depth FROM ${commits} c WHERE c.rid = $1 AND c.oid = $2
        UNION ALL
        SELECT ${commitCols}, chain.depth + 1 FROM chain
          JOIN ${commits} c ON c.rid = $1 AND c.oid = chain.parent
          WHERE chain.depth < $3::bigint
      ) SELECT oid, parent, summary, description, author, created_at FROM chain ORDER BY depth`,
    insertCommit: `INSERT INTO ${commits} (rid, oid, parent, summary, description, author, created_at)
      VALUES ($1, $2, $3, $4, $5, $6, $7) ON CONFLICT (rid, oid) DO NOTHING RETURNING cid`,
    // Commits with the same oid (in different repos) have the same tree: the oid hashes it. No row:
    // no such commit; one row of NULLs: an empty tree.
    tree: `SELECT f.path, f.size, f.sha256, f.git_oid, f.lfs
      FROM (SELECT cid FROM ${commits} WHERE oid = $1 LIMIT 1) c LEFT JOIN ${files} f ON f.cid = c.cid
      ORDER BY f.path`,
    file: `SELECT f.path, f.size, f.sha256, f.git_oid, f.lfs
      FROM (SELECT cid FROM ${commits} WHERE oid = $1 LIMIT 1) c LEFT JOIN ${files} f ON f.cid = c.cid AND f.path = $2`,
    headTree: `SELECT f.path, f.size, f.sha256, f.git_oid, f.lfs
      FROM ${commits} c JOIN ${files} f ON f.cid = c.cid WHERE c.rid = $1 AND c.oid = $2`,
    // One statement for the whole tree, however many files.
    insertFiles: `INSERT INTO ${files} (cid, path, size, sha256, git_oid, lfs)
      SELECT $1, * FROM unnest($2::text[], $3::bigint[], $4::text[], $5::text[], $6::boolean[])`,
    repoBlobs: `SELECT b.sha256, b.size FROM ${repos} r LEFT JOIN LATERAL (
        SELECT f.sha256, MAX(f.size) AS size FROM ${commits} c JOIN ${files} f ON f.cid = c.cid
        WHERE c.rid = r.rid GROUP BY f.sha256
      ) b ON true WHERE r.id = $1 ORDER BY b.sha256`,
    allBlobs: `SELECT DISTINCT sha256 FROM ${files}`,
    insertToken: `INSERT INTO ${tokens} (id, name, role, secret_sha256, created_at) VALUES ($1, $2, $3, $4, $5)
      ON CONFLICT (name) DO NOTHING`,
    tokenBySecret: `SELECT id, name, role, created_at FROM ${tokens} WHERE secret_sha256 = $1`,
    tokens: `SELECT id, name, role, created_at FROM ${tokens} ORDER BY name`,
    deleteTokenById: `DELETE FROM ${tokens} WHERE id = $1`,
    deleteTokenByName: `DELETE FROM ${tokens} WHERE name = $1`,
  };
}

type Statements = ReturnType<typeof statements>;

interface RepoRow {
  id: string;
  private: boolean;
  created_at: string;
}

/** path, size (int8 arrives as a string), sha256, git_oid, lfs; all NULL for an empty tree's row. */
type FileRow = [string, string, string, string, boolean];

function toRepo(row: RepoRow): Repo {
  return { id: row.id, private: row.private, createdAt: row.created_at };
}

function toFile(row: FileRow): TreeFile {
  return { path: row[0], size: Number(row[1]), sha256: row[2], gitOid: row[3], lfs: row[4] };
}

/**
 * PostgreSQL text cannot hold U+0000. Every stored key was validated without it, so a lookup by such a
 * string finds nothing, and is answered so without asking the server (which would fail the query).
 */
function storable(text: string): boolean {
  return !text.includes("\u0000");
}

function assertStorable(text: string, what: string): void {
  if (!storable(text)) {
    throw new RangeError(`${what} must not contain U+0000 (PostgreSQL text cannot hold it)`);
  }
}

/** The advisory lock that serializes schema creation per schema, across every client of the database. */
function migrationLockKey(schema: string): string {
  const digest = createHash("sha256").update(`lowbit-hub-meta/${schema}`).digest();
  return digest.readBigInt64BE(0).toString();
}

/** Metadata in a PostgreSQL database (one pool of connections); see `MetaStore`. */
export class PgMeta implements MetaStore {
  #pool: Pool | undefined;
  readonly #s: Statements;

  private constructor(pool: Pool, schema: string) {
    this.#pool = pool;
    this.#s = statements(schema);
  }

  /**
   * Connects and creates the tables if absent (in `options.schema`, default "public"). Safe when
   * several instances start at once. A database written by a newer schema version → UnsupportedError.
   */
  static async open(connectionString: string, options: { readonly schema?: string } = {}): Promise<PgMeta> {
    assertString(connectionString, "connectionString");
    if (connectionString.length === 0) {
      throw new RangeError(`connectionString must be a non-empty "postgres://…" URL, got ""`);
    }
    assertOptions(options, "options");
    const schema = options.schema ?? "public";
    assertString(schema, "options.schema");
    if (!SCHEMA_NAME.test(schema)) {
      throw new RangeError(
        `options.schema must be 1–63 of a-z 0-9 _ not starting with a digit, got ${JSON.stringify(schema)}`,
      );
    }
    const pool = new Pool({ connectionString, max: POOL_MAX });
    // An idle connection that breaks (server restart) is dropped by the pool; the next query gets a
    // fresh one. Without a listener the error would crash the process.
    pool.on("error", () => {});
    try {
      await migrate(pool, schema);
    } catch (error) {
      await pool.end();
      throw error;
    }
    return new PgMeta(pool, schema);
  }

  #p(): Pool {
    if (this.#pool === undefined) throw new Error("PgMeta: the metadata database is closed");
    return this.#pool;
  }

  /** One statement on any pooled connection. */
  async #q<R extends object>(text: string, values: readonly unknown[]): Promise<R[]> {
    return (await this.#p().query<R & Record<string, unknown>>(text, values as unknown[])).rows;
  }

  /** `fn` in one transaction on one connection: any throw rolls everything back. */
  #tx<T>(fn: (client: PoolClient) => Promise<T>): Promise<T> {
    return transaction(this.#p(), fn);
  }

  /** The repo's row id, locked as `sql` says; NotFoundError when it does not exist. */
  async #lockRepo(client: PoolClient, sql: string, id: string): Promise<string> {
    if (!storable(id)) throw repoNotFound(id);
    const row = (await client.query<{ rid: string }>(sql, [id])).rows[0];
    if (row === undefined) throw repoNotFound(id);
    return row.rid;
  }

  async #rid(id: string): Promise<string> {
    if (!storable(id)) throw repoNotFound(id);
    const row = (await this.#q<{ rid: string }>(this.#s.rid, [id]))[0];
    if (row === undefined) throw repoNotFound(id);
    return row.rid;
  }

  async createRepo(
    id: string,
    options: { readonly private: boolean; readonly author: string },
  ): Promise<Repo> {
    this.#p();
    assertNewRepo(id, options);
    const s = this.#s;
    return this.#tx(async (client) => {
      const createdAt = new Date().toISOString();
      // ON CONFLICT against the case-folded unique index: a concurrent create of the same name waits
      // for the other transaction, then finds its row.
      const inserted = await client.query<{ rid: string }>(s.insertRepo, [id, options.private, createdAt]);
      const rid = inserted.rows[0]?.rid;
      if (rid === undefined) {
        const existing = (await client.query<{ id: string }>(s.repoNocase, [id])).rows[0];
        throw repoExists(id, existing?.id ?? id);
      }
      const first = initialCommit(id, options.author, createdAt);
      await client.query(s.insertCommit, [
        rid,
        first.oid,
        null,
        first.summary,
        "",
        options.author,
        createdAt,
      ]);
      await client.query(s.insertRef, [rid, DEFAULT_BRANCH, first.oid]);
      return { id, private: options.private, createdAt };
    });
  }

  async getRepo(id: string): Promise<Repo | undefined> {
    this.#p();
    assertString(id, "repo id");
    if (!storable(id)) return undefined;
    const row = (await this.#q<RepoRow>(this.#s.repo, [id]))[0];
    return row === undefined ? undefined : toRepo(row);
  }

  async listRepos(): Promise<readonly Repo[]> {
    return (await this.#q<RepoRow>(this.#s.repos, [])).map(toRepo);
  }

  async setPrivate(id: string, isPrivate: boolean): Promise<void> {
    this.#p();
    assertString(id, "repo id");
    assertBoolean(isPrivate, "isPrivate");
    if (!storable(id)) throw repoNotFound(id);
    const result = await this.#p().query(this.#s.setPrivate, [id, isPrivate]);
    if (result.rowCount === 0) throw repoNotFound(id);
  }

  async deleteRepo(id: string): Promise<void> {
    this.#p();
    assertString(id, "repo id");
    const s = this.#s;
    await this.#tx(async (client) => {
      // FOR UPDATE waits for commits in flight under this repo (they hold KEY SHARE), and holds new ones off.
      const rid = await this.#lockRepo(client, s.ridExclusive, id);
      await client.query(s.deleteRefs, [rid]);
      await client.query(s.deleteFiles, [rid]);
      await client.query(s.deleteCommits, [rid]);
      await client.query(s.deleteRepo, [rid]);
    });
  }

  async resolveRevision(repo: string, rev: string): Promise<string | undefined> {
    this.#p();
    assertString(repo, "repo");
    assertString(rev, "rev");
    if (!storable(repo) || !storable(rev)) return undefined;
    const row = (await this.#q<{ oid: string | null }>(this.#s.resolve, [repo, rev, isCommitOid(rev)]))[0];
    return row?.oid ?? undefined;
  }

  async refs(repo: string): Promise<readonly Ref[]> {
    this.#p();
    assertString(repo, "repo");
    if (!storable(repo)) throw repoNotFound(repo);
    const rows = await this.#q<{ name: string | null; oid: string | null }>(this.#s.refs, [repo]);
    if (rows.length === 0) throw repoNotFound(repo);
    return rows.filter((r) => r.name !== null).map((r) => ({ name: r.name!, oid: r.oid! }));
  }

  async createBranch(repo: string, name: string, oid: string): Promise<void> {
    this.#p();
    assertString(repo, "repo");
    assertBranchName(name, "branch name");
    assertString(oid, "oid");
    const s = this.#s;
    await this.#tx(async (client) => {
      const rid = await this.#lockRepo(client, s.ridShared, repo);
      const found = storable(oid) && (await client.query(s.commitExists, [rid, oid])).rows.length > 0;
      if (!found) throw commitNotFound(oid, repo);
      const inserted = await client.query(s.insertRef, [rid, name, oid]);
      if (inserted.rowCount === 0) {
        const at = (await client.query<{ oid: string }>(s.ref, [rid, name])).rows[0]?.oid ?? "?";
        throw branchExists(repo, name, at);
      }
    });
  }

  async deleteBranch(repo: string, name: string): Promise<void> {
    this.#p();
    assertString(repo, "repo");
    assertString(name, "branch name");
    const s = this.#s;
    await this.#tx(async (client) => {
      const rid = await this.#lockRepo(client, s.ridShared, repo);
      const found = storable(name) && (await client.query(s.refForUpdate, [rid, name])).rows.length > 0;
      if (!found) throw branchNotFound(repo, name);
      if (name === DEFAULT_BRANCH) throw defaultBranchUndeletable(repo);
      await client.query(s.deleteRef, [rid, name]);
    });
  }

  async getCommit(repo: string, oid: string): Promise<Commit | undefined> {
    this.#p();
    assertString(repo, "repo");
    assertString(oid, "oid");
    if (!storable(repo) || !storable(oid)) return undefined;
    const row = (await this.#q<CommitRow>(this.#s.commit, [repo, oid]))[0];
    return row === undefined ? undefined : toCommit(repo, row);
  }

  async log(repo: string, oid: string, limit: number): Promise<readonly Commit[]> {
    this.#p();
    assertString(repo, "repo");
    assertString(oid, "oid");
    assertInteger(limit, "limit", 0, Number.MAX_SAFE_INTEGER);
    const rid = await this.#rid(repo);
    if (limit === 0) return [];
    const rows = storable(oid) ? await this.#q<CommitRow>(this.#s.log, [rid, oid, limit]) : [];
    // The foreign key on `parent` keeps every chain whole: only its first commit can be missing.
    if (rows.length === 0) throw commitNotFound(oid, repo);
    return rows.map((row) => toCommit(repo, row));
  }

  async tree(oid: string): Promise<readonly TreeFile[]> {
    this.#p();
    assertString(oid, "oid");
    const rows = storable(oid) ? await this.#rows(this.#s.tree, [oid]) : [];
    if (rows.length === 0) throw commitNotFound(oid);
    return rows[0]![0] === null ? [] : rows.map(toFile);
  }

  async file(oid: string, path: string): Promise<TreeFile | undefined> {
    this.#p();
    assertString(oid, "oid");
    assertString(path, "path");
    const rows = storable(oid) ? await this.#rows(this.#s.file, [oid, storable(path) ? path : ""]) : [];
    if (rows.length === 0) throw commitNotFound(oid);
    return rows[0]![0] === null ? undefined : toFile(rows[0]!);
  }

  /** Rows as arrays: a 10,000-file tree is read per commit, without an object per row. */
  async #rows(text: string, values: readonly unknown[], client?: PoolClient): Promise<FileRow[]> {
    const config = { text, values: values as unknown[], rowMode: "array" as const };
    return (await (client ?? this.#p()).query<FileRow>(config)).rows;
  }

  async commit(c: NewCommit): Promise<Commit> {
    this.#p();
    assertNewCommit(c);
    assertStorable(c.summary, "commit.summary");
    assertStorable(c.description, "commit.description");
    const s = this.#s;
    return this.#tx(async (client) => {
      const rid = await this.#lockRepo(client, s.ridShared, c.repo);
      // The branch row stays locked to the end: a concurrent commit to this branch, from this
      // instance or another, waits here and then reads the head this one leaves.
      const ref = storable(c.branch)
        ? (await client.query<{ oid: string }>(s.refForUpdate, [rid, c.branch])).rows[0]
        : undefined;
      if (ref === undefined) throw commitBranchNotFound(c.repo, c.branch);
      const head = ref.oid;
      if (c.expectedHead !== undefined && c.expectedHead !== head) throw headMoved(c, head);
      const tree = new Map<string, TreeFile>();
      for (const row of await this.#rows(s.headTree, [rid, head], client)) tree.set(row[0], toFile(row));
      const { files, hash } = applyChanges(tree, c.changes, commitWhere(c));
      for (let time = Date.now(); ; time++) {
        const next = commitAt(c, head, hash, time);
        const values = [rid, next.oid, head, c.summary, c.description, c.author, next.createdAt];
        const cid = (await client.query<{ cid: string }>(s.insertCommit, values)).rows[0]?.cid;
        if (cid !== undefined) {
          if (files.length > 0) {
            await client.query(s.insertFiles, [
              cid,
              files.map((f) => f.path),
              files.map((f) => f.size),
              files.map((f) => f.sha256),
              files.map((f) => f.gitOid),
              files.map((f) => f.lfs),
            ]);
          }
        } else {
          // The oid exists: the same commit made on another branch at the same millisecond is reused,
          // anything else moves the time on.
          const row = (await client.query<CommitRow>(s.storedCommit, [rid, next.oid])).rows[0]!;
          if (!sameCommit({ ...row, createdAt: row.created_at }, next)) continue;
        }
        await client.query(s.moveRef, [rid, c.branch, next.oid]);
        return next;
      }
    });
  }

  async repoBlobs(repo: string): Promise<readonly { readonly sha256: string; readonly size: number }[]> {
    this.#p();
    assertString(repo, "repo");
    if (!storable(repo)) throw repoNotFound(repo);
    const rows = await this.#q<{ sha256: string | null; size: string | null }>(this.#s.repoBlobs, [repo]);
    if (rows.length === 0) throw repoNotFound(repo);
    return rows.filter((r) => r.sha256 !== null).map((r) => ({ sha256: r.sha256!, size: Number(r.size) }));
  }

  async allBlobs(): Promise<ReadonlySet<string>> {
    return new Set((await this.#q<{ sha256: string }>(this.#s.allBlobs, [])).map((r) => r.sha256));
  }

  async createToken(
    name: string,
    role: TokenRole,
  ): Promise<{ readonly token: string; readonly info: TokenInfo }> {
    this.#p();
    const { token, info, secretSha256 } = newToken(name, role);
    const values = [info.id, name, role, secretSha256, info.createdAt];
    const result = await this.#p().query(this.#s.insertToken, values);
    if (result.rowCount === 0) throw tokenExists(name);
    return { token, info };
  }

  /** As `Meta.checkToken`: undefined for anything that is not a live token; looked up by sha256. */
  async checkToken(token: string): Promise<TokenInfo | undefined> {
    this.#p();
    const hash = tokenLookupHash(token);
    if (hash === undefined) return undefined;
    const row = (await this.#q<TokenRow>(this.#s.tokenBySecret, [hash]))[0];
    return row === undefined ? undefined : toToken(row);
  }

  async listTokens(): Promise<readonly TokenInfo[]> {
    return (await this.#q<TokenRow>(this.#s.tokens, [])).map(toToken);
  }

  /** By id first, then by name (one token at most). */
  async revokeToken(idOrName: string): Promise<boolean> {
    this.#p();
    assertString(idOrName, "idOrName");
    if (!storable(idOrName)) return false;
    const s = this.#s;
    return this.#tx(async (client) => {
      if ((await client.query(s.deleteTokenById, [idOrName])).rowCount! > 0) return true;
      return (await client.query(s.deleteTokenByName, [idOrName])).rowCount! > 0;
    });
  }

  /** Idempotent; ends the pool once its queries finish. Any other method afterwards throws. */
  async close(): Promise<void> {
    const pool = this.#pool;
    this.#pool = undefined;
    await pool?.end();
  }
}

/**
 * Creates the tables when absent, under an advisory lock held to the end of the transaction: two
 * instances starting at once on an empty database would otherwise both try to create them.
 */
async function migrate(pool: Pool, schema: string): Promise<void> {
  await transaction(pool, async (client) => {
    await client.query("SELECT pg_advisory_xact_lock($1::bigint)", [migrationLockKey(schema)]);
    const version = await schemaVersion(client, schema);
    if (version > PG_META_SCHEMA_VERSION) {
      throw new UnsupportedError(
        `schema "${schema}" has hub metadata schema version ${version}; this version of lowbit reads up to ${PG_META_SCHEMA_VERSION} (upgrade lowbit)`,
      );
    }
    if (version === 0) {
      const tables = await client.query<{ tablename: string }>(
        "SELECT tablename FROM pg_catalog.pg_tables WHERE schemaname = $1 AND tablename LIKE 'lowbit\\_hub\\_%'",
        [schema],
      );
      if (tables.rows.length > 0) {
        throw new UnsupportedError(
          `schema "${schema}" holds ${tables.rows.map((r) => r.tablename).join(", ")} but no lowbit hub schema version`,
        );
      }
      // Only when missing: CREATE SCHEMA IF NOT EXISTS would still need the CREATE privilege.
      const exists = await client.query("SELECT 1 FROM pg_catalog.pg_namespace WHERE nspname = $1", [schema]);
      if (exists.rows.length === 0) await client.query(`CREATE SCHEMA "${schema}"`);
      await client.query(schemaSql(`"${schema}"`));
    }
  });
}

/** `fn` in one transaction on one pooled connection: any throw rolls everything back. */
async function transaction<T>(pool: Pool, fn: (client: PoolClient) => Promise<T>): Promise<T> {
  const client = await pool.connect();
  // A connection lost while checked out is reported as an "error" event on the client, which would
  // crash the process without a listener; the query in flight fails on its own.
  let broken: Error | undefined;
  const onError = (error: Error) => {
    broken = error;
  };
  client.on("error", onError);
  try {
    await client.query("BEGIN");
    const out = await fn(client);
    await client.query("COMMIT");
    return out;
  } catch (error) {
    if (broken === undefined) {
      try {
        await client.query("ROLLBACK");
      } catch (rollback) {
        broken = rollback instanceof Error ? rollback : new Error(String(rollback));
      }
    }
    throw error;
  } finally {
    client.removeListener("error", onError);
    // A broken connection is discarded rather than handed to the next caller.
    client.release(broken);
  }
}

/** 0 when the schema holds no hub metadata yet. */
async function schemaVersion(client: PoolClient, schema: string): Promise<number> {
  const table = await client.query(
    "SELECT 1 FROM pg_catalog.pg_tables WHERE schemaname = $1 AND tablename = 'lowbit_hub_meta'",
    [schema],
  );
  if (table.rows.length === 0) return 0;
  const row = (
    await client.query<{ value: string }>(
      `SELECT value FROM "${schema}".lowbit_hub_meta WHERE key = 'schema_version'`,
    )
  ).rows[0];
  const version = Number(row?.value);
  if (!Number.isSafeInteger(version) || version < 1) {
    throw new UnsupportedError(
      `schema "${schema}" has a lowbit_hub_meta table without a valid schema_version (got ${JSON.stringify(row?.value ?? null)})`,
    );
  }
  return version;
}
