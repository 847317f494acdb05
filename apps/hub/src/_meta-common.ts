/**
 * What every `MetaStore` backend shares, so SQLite and PostgreSQL agree to the byte: argument checks,
 * the canonical commit text and its oid, applying a commit's changes to a tree (with the file/folder
 * checks), token secrets and their hashes, and the error messages the routes pass on to clients.
 */
import { createHash, randomBytes } from "node:crypto";
import {
  assertBoolean,
  assertInteger,
  assertOneOf,
  ConflictError,
  describe,
  NotFoundError,
} from "@lowbit/bits";
import { assertRepoId, assertRepoPath, isCommitOid, isSha256 } from "./names.js";
import type { Commit, CommitChanges, NewCommit, TokenInfo, TokenRole, TreeFile } from "./types.js";

export const DEFAULT_BRANCH = "main";
const INITIAL_SUMMARY = "initial commit";
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

// ------------------------------------------------------------------------------------------ hashes

function sha256Hex(text: string): string {
  return createHash("sha256").update(text, "utf8").digest("hex");
}

function sha1Hex(text: string): string {
  return createHash("sha1").update(text, "utf8").digest("hex");
}

/** UTF-8 byte order (= code point order), as the stores sort paths (SQLite BINARY, PostgreSQL "C"). */
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

/** A repo's first commit: empty tree, no parent, on `DEFAULT_BRANCH`. */
export function initialCommit(repo: string, author: string, createdAt: string): Commit {
  const oid = commitOid(treeHash([]), null, author, createdAt, INITIAL_SUMMARY, "");
  return { oid, repo, parents: [], summary: INITIAL_SUMMARY, description: "", author, createdAt };
}

/** The commit `c` on top of `head` with tree hash `tree`, stamped at `time` (ms since the epoch). */
export function commitAt(c: NewCommit, head: string, tree: string, time: number): Commit {
  const createdAt = new Date(time).toISOString();
  return {
    oid: commitOid(tree, head, c.author, createdAt, c.summary, c.description),
    repo: c.repo,
    parents: [head],
    summary: c.summary,
    description: c.description,
    author: c.author,
    createdAt,
  };
}

/** The stored fields of a commit, as both stores keep them. */
export interface StoredCommitFields {
  readonly parent: string | null;
  readonly summary: string;
  readonly description: string;
  readonly author: string;
  readonly createdAt: string;
}

/**
 * Identical inputs in the same millisecond give the same oid: that is the same commit, reused. An oid
 * that exists with other fields (a summary/description split differently) must move the time on.
 */
export function sameCommit(stored: StoredCommitFields, wanted: Commit): boolean {
  return (
    stored.parent === (wanted.parents[0] ?? null) &&
    stored.summary === wanted.summary &&
    stored.description === wanted.description &&
    stored.author === wanted.author &&
    stored.createdAt === wanted.createdAt
  );
}

// ------------------------------------------------------------------------------------------ checks

export function assertString(value: unknown, what: string): asserts value is string {
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

/** The arguments of `createRepo`. */
export function assertNewRepo(
  id: unknown,
  options: unknown,
): asserts options is { readonly private: boolean; readonly author: string } {
  assertRepoId(id);
  assertObject(options, "options");
  const o = options as Record<string, unknown>;
  assertBoolean(o["private"], "options.private");
  assertAuthor(o["author"], "options.author");
}

/** The argument of `commit`, checked whole before any work. */
export function assertNewCommit(c: unknown): asserts c is NewCommit {
  assertObject(c, "commit");
  const n = c as Record<string, unknown>;
  assertString(n["repo"], "commit.repo");
  assertString(n["branch"], "commit.branch");
  if (n["expectedHead"] !== undefined) assertString(n["expectedHead"], "commit.expectedHead");
  assertString(n["summary"], "commit.summary");
  assertString(n["description"], "commit.description");
  assertAuthor(n["author"], "commit.author");
  assertChanges(n["changes"]);
}

// -------------------------------------------------------------------------------------------- tree

/**
 * The head's tree (`parent`, consumed) with `changes` applied — deletes first, then folder deletes,
 * then puts — sorted in byte order, with its hash. A missing path → NotFoundError, a file where a
 * folder is (or the reverse) → ConflictError.
 */
export function applyChanges(
  parent: Map<string, TreeFile>,
  changes: CommitChanges,
  where: string,
): { readonly files: readonly TreeFile[]; readonly hash: string } {
  const tree = parent;
  for (const path of changes.delete) {
    if (!tree.delete(path))
      throw new NotFoundError(`cannot delete ${JSON.stringify(path)}: no such file in ${where}`);
  }
  for (const folder of changes.deleteFolders) {
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
  for (const f of changes.put) {
    tree.set(f.path, { path: f.path, size: f.size, sha256: f.sha256, gitOid: f.gitOid, lfs: f.lfs });
  }
  if (changes.put.length > 0) checkFoldersAgainstFiles(tree, changes.put);
  const files = [...tree.values()].sort((a, b) => byteOrder(a.path, b.path));
  return { files, hash: treeHash(files) };
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

// ------------------------------------------------------------------------------------------ tokens

/** A fresh token for `name`/`role` (checked): the secret, its public info and the sha256 to store. */
export function newToken(
  name: unknown,
  role: unknown,
): { readonly token: string; readonly info: TokenInfo; readonly secretSha256: string } {
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
  return { token, info, secretSha256: sha256Hex(token) };
}

/**
 * The sha256 to look a presented secret up by, or undefined for anything that cannot be a token
 * (non-strings included, so a malformed header is a plain 401). Looking up the hash means the lookup's
 * timing says nothing about the secret itself.
 */
export function tokenLookupHash(token: unknown): string | undefined {
  if (typeof token !== "string" || token.length !== TOKEN_LENGTH || !token.startsWith(TOKEN_PREFIX)) {
    return undefined;
  }
  return sha256Hex(token);
}

// ------------------------------------------------------------------------------------------ errors

export function repoNotFound(id: string): NotFoundError {
  return new NotFoundError(`repository ${JSON.stringify(id)} not found`);
}

export function repoExists(id: string, existing: string): ConflictError {
  return new ConflictError(
    existing === id
      ? `repository ${JSON.stringify(id)} already exists`
      : `repository ${JSON.stringify(id)} conflicts with the existing ${JSON.stringify(existing)} (names are case-insensitive)`,
  );
}

export function commitNotFound(oid: string, repo?: string): NotFoundError {
  return new NotFoundError(
    repo === undefined
      ? `commit ${JSON.stringify(oid)} not found`
      : `commit ${JSON.stringify(oid)} not found in repository ${JSON.stringify(repo)}`,
  );
}

export function branchExists(repo: string, name: string, at: string): ConflictError {
  return new ConflictError(
    `branch ${JSON.stringify(name)} of ${JSON.stringify(repo)} already exists (at ${at})`,
  );
}

export function branchNotFound(repo: string, name: string): NotFoundError {
  return new NotFoundError(`branch ${JSON.stringify(name)} not found in repository ${JSON.stringify(repo)}`);
}

/** The routes resolve "main" (and HEAD) by default; as on the Hugging Face Hub it cannot go. */
export function defaultBranchUndeletable(repo: string): ConflictError {
  return new ConflictError(
    `cannot delete the default branch ${JSON.stringify(DEFAULT_BRANCH)} of ${JSON.stringify(repo)}`,
  );
}

export function commitBranchNotFound(repo: string, branch: string): NotFoundError {
  return new NotFoundError(
    `revision ${JSON.stringify(branch)} not found in repository ${JSON.stringify(repo)} (commits go to an existing branch)`,
  );
}

export function headMoved(c: NewCommit, head: string): ConflictError {
  return new ConflictError(
    `branch ${JSON.stringify(c.branch)} of ${JSON.stringify(c.repo)} is at ${head}, not at the expected parent commit ${c.expectedHead}`,
  );
}

export function tokenExists(name: string): ConflictError {
  return new ConflictError(`a token named ${JSON.stringify(name)} already exists`);
}

/** Where a commit lands, for the messages of `applyChanges`. */
export function commitWhere(c: NewCommit): string {
  return `revision ${JSON.stringify(c.branch)} of ${JSON.stringify(c.repo)}`;
}

// ------------------------------------------------------------------------------------- rows

/** A commit as both stores keep it: one parent column, ISO times. */
export interface CommitRow {
  oid: string;
  parent: string | null;
  summary: string;
  description: string;
  author: string;
  created_at: string;
}

export interface TokenRow {
  id: string;
  name: string;
  role: TokenRole;
  created_at: string;
}

export function toCommit(repo: string, row: CommitRow): Commit {
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

export function toToken(row: TokenRow): TokenInfo {
  return { id: row.id, name: row.name, role: row.role, createdAt: row.created_at };
}
