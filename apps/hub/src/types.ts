/**
 * The hub's internal contracts: the metadata store (`Meta`, SQLite), the blob store (`Blobs`, over
 * @lowbit/store) and the server. The HTTP layer only talks to these interfaces, so a second metadata
 * backend (PostgreSQL) or object backend (S3) plugs in without touching the routes.
 */
import type { StoredFile } from "@lowbit/store";

// ------------------------------------------------------------------------------------------ metadata

/** A model repository: `namespace/name` (or a bare `name`), as on the Hugging Face Hub. */
export interface Repo {
  readonly id: string;
  readonly private: boolean;
  /** ISO 8601. */
  readonly createdAt: string;
}

/** An immutable commit: a full file tree, a parent link, a message. */
export interface Commit {
  /** 40 lowercase hex digits: sha1 of the commit's canonical text (tree, parents, author, time, message). */
  readonly oid: string;
  readonly repo: string;
  /** Parent commit oids (0 for a repo's first commit, else 1). */
  readonly parents: readonly string[];
  readonly summary: string;
  readonly description: string;
  /** Name of the token that wrote it ("anonymous" never writes; "env" for LOWBIT_HUB_TOKEN). */
  readonly author: string;
  /** ISO 8601. */
  readonly createdAt: string;
}

/** One file of a commit's tree. */
export interface TreeFile {
  /** Repo-relative, "/"-separated, validated by `assertRepoPath`. */
  readonly path: string;
  readonly size: number;
  /** sha256 of the content (hex): the blob key and, for LFS files, the ETag the clients see. */
  readonly sha256: string;
  /**
   * The git object id the clients see as `oid` (hex sha1): of the content for a regular file, of the
   * LFS pointer text for an LFS file (see `gitBlobOid`, `lfsPointer`).
   */
  readonly gitOid: string;
  /** Uploaded through LFS (large or binary) rather than inline in the commit. */
  readonly lfs: boolean;
}

export interface Ref {
  /** Branch name, e.g. "main". */
  readonly name: string;
  readonly oid: string;
}

export type TokenRole = "read" | "write";

export interface TokenInfo {
  /** Short public id (hex); the secret itself is never stored, only its sha256. */
  readonly id: string;
  readonly name: string;
  readonly role: TokenRole;
  readonly createdAt: string;
}

export interface CommitChanges {
  /** Files added or replaced. */
  readonly put: readonly TreeFile[];
  /** Exact paths removed; a path not in the tree is an error (NotFoundError). */
  readonly delete: readonly string[];
  /** Folders removed with everything under them ("a/b" removes "a/b/…"). */
  readonly deleteFolders: readonly string[];
}

export interface NewCommit {
  readonly repo: string;
  readonly branch: string;
  /** When set (the clients' `parentCommit`), the branch head must still be this commit: else ConflictError. */
  readonly expectedHead?: string | undefined;
  readonly summary: string;
  readonly description: string;
  readonly author: string;
  readonly changes: CommitChanges;
}

/** A value, or a promise of it: the SQLite store answers synchronously, a networked one cannot. */
export type Awaitable<T> = T | Promise<T>;

/**
 * Repositories, commits, branches and tokens. Every method is atomic: a crash leaves the previous
 * state. Errors: `NotFoundError` (ERR_NOT_FOUND) for a missing repo/branch/commit/path,
 * `ConflictError` (ERR_CONFLICT) for an existing repo or a moved branch, RangeError for invalid
 * names (see `assertRepoId`, `assertRepoPath`, `assertBranchName`).
 */
export interface MetaStore {
  /** Creates the repo with a first commit ("initial commit", empty tree) on branch "main". */
  createRepo(id: string, options: { readonly private: boolean; readonly author: string }): Awaitable<Repo>;
  getRepo(id: string): Awaitable<Repo | undefined>;
  /** Sorted by id. */
  listRepos(): Awaitable<readonly Repo[]>;
  setPrivate(id: string, isPrivate: boolean): Awaitable<void>;
  /** Removes the repo, its refs and commits (blobs stay until a gc). */
  deleteRepo(id: string): Awaitable<void>;
  /** A branch name, or a full 40-hex commit oid of this repo → commit oid; undefined when unknown. */
  resolveRevision(repo: string, rev: string): Awaitable<string | undefined>;
  /** Branches, sorted by name. */
  refs(repo: string): Awaitable<readonly Ref[]>;
  /** Creates a branch at `oid` (a commit of the repo); ConflictError if it exists. */
  createBranch(repo: string, name: string, oid: string): Awaitable<void>;
  deleteBranch(repo: string, name: string): Awaitable<void>;
  getCommit(repo: string, oid: string): Awaitable<Commit | undefined>;
  /** `oid` first, then its ancestors, at most `limit`. */
  log(repo: string, oid: string, limit: number): Awaitable<readonly Commit[]>;
  /** The commit's whole tree, sorted by path (byte order). */
  tree(oid: string): Awaitable<readonly TreeFile[]>;
  file(oid: string, path: string): Awaitable<TreeFile | undefined>;
  /** Applies `changes` to the branch head's tree, stores the commit, moves the branch. */
  commit(c: NewCommit): Awaitable<Commit>;
  /** Distinct blobs referenced by any commit of the repo. */
  repoBlobs(repo: string): Awaitable<readonly { readonly sha256: string; readonly size: number }[]>;
  /** Distinct blobs referenced by any commit of any repo (for gc). */
  allBlobs(): Awaitable<ReadonlySet<string>>;
  /** Returns the secret once (`hf_lowbit_` + 43 base64url chars); stores its sha256. */
  createToken(name: string, role: TokenRole): Awaitable<{ readonly token: string; readonly info: TokenInfo }>;
  /** Constant-time lookup by sha256 of the presented secret. */
  checkToken(token: string): Awaitable<TokenInfo | undefined>;
  listTokens(): Awaitable<readonly TokenInfo[]>;
  /** By id or name; false when none matched. */
  revokeToken(idOrName: string): Awaitable<boolean>;
  close(): Awaitable<void>;
}

// ------------------------------------------------------------------------------------------- blobs

export interface BlobInfo {
  readonly sha256: string;
  readonly size: number;
}

/** A quantized variant request: a registered @lowbit/formats quantizer and its options. */
export interface VariantRecipe {
  readonly format: string;
  readonly options: Readonly<Record<string, number | string | boolean>>;
}

export interface VariantInfo extends BlobInfo {
  /** The canonical recipe text, e.g. "int4;groupSize=128" (sorted options). */
  readonly recipe: string;
  /** true when served from the cache, false when computed by this call. */
  readonly cached: boolean;
}

export interface BlobStats {
  readonly logicalBytes: number;
  /** Attributed as @lowbit/store's `ModelStats.storedBytes`. */
  readonly storedBytes: number;
}

export interface BlobsStats {
  /** Per source blob (sha256 → bytes). Variants are not in here. */
  readonly blobs: ReadonlyMap<string, BlobStats>;
  readonly variants: { readonly count: number; readonly logicalBytes: number; readonly storedBytes: number };
  /** The whole store, as the backend lists it. */
  readonly logicalBytes: number;
  readonly storedBytes: number;
}

/**
 * Content-addressed file contents (sha256) in a @lowbit/store: dedup and delta compression come from
 * the store, each blob being one stored model named `blob/<sha256>`; variants are `variant/<sha256>/<recipe hash>`.
 */
export interface BlobsApi {
  has(sha256: string): Promise<BlobInfo | undefined>;
  /**
   * Streams an upload to a temp file while hashing it, then stores it. More than `expect.size` bytes →
   * LimitExceededError (stops reading at once); a size or sha256 mismatch → IntegrityError; nothing is
   * stored in either case. Idempotent when the blob exists.
   */
  receive(
    body: AsyncIterable<Uint8Array>,
    expect: BlobInfo,
    options?: { readonly signal?: AbortSignal },
  ): Promise<BlobInfo>;
  /** Stores small in-memory content (a regular file from a commit). */
  put(data: Uint8Array): Promise<BlobInfo>;
  /** NotFoundError when absent. Reads verify against stored hashes (IntegrityError, never wrong bytes). */
  open(sha256: string): Promise<StoredFile>;
  /** Cached variant or undefined (never computes). */
  cachedVariant(source: string, recipe: VariantRecipe): Promise<VariantInfo | undefined>;
  /**
   * The quantized safetensors (SPEC §4) of a stored safetensors blob, computed once and cached in the
   * store; concurrent calls for the same (source, recipe) share one computation. A source that is not
   * safetensors → UnsupportedError; bad options → RangeError/TypeError (checked before any work).
   */
  variant(
    source: BlobInfo,
    recipe: VariantRecipe,
    options?: { readonly signal?: AbortSignal },
  ): Promise<VariantInfo>;
  /** Variant computations waiting for a free slot (a few run at once). */
  variantsQueued(): number;
  /** Opens a cached variant's bytes (NotFoundError if not cached). */
  openVariant(source: string, recipe: VariantRecipe): Promise<StoredFile>;
  stats(): Promise<BlobsStats>;
  /** Removes blobs not in `keep` (and variants of removed blobs), then the store's gc. */
  gc(
    keep: ReadonlySet<string>,
    options?: { readonly graceMs?: number },
  ): Promise<{ readonly removed: number }>;
  close(): Promise<void>;
}

// ------------------------------------------------------------------------------------------ server

export interface HubLogEntry {
  readonly time: string;
  readonly level: "info" | "warn" | "error";
  readonly msg: string;
  readonly [key: string]: unknown;
}

export interface HubOptions {
  /** Data folder: `hub.db` (SQLite), `store/` (objects), `tmp/` (uploads in flight). Created if missing. */
  readonly dataDir: string;
  /** Default "127.0.0.1". */
  readonly host?: string;
  /** Default 8080; 0 picks a free port. */
  readonly port?: number;
  /** A write token accepted as is (LOWBIT_HUB_TOKEN), for first runs and tests. */
  readonly token?: string | undefined;
  /** Objects in S3 instead of `<dataDir>/store`: "s3://bucket/prefix" (see the README). */
  readonly store?: string | undefined;
  /**
   * Metadata in PostgreSQL instead of `<dataDir>/hub.db`: a "postgres://…" connection string. Several
   * hub instances may share one database (and one S3 `store`).
   */
  readonly meta?: string | undefined;
  /**
   * Key that signs LFS upload URLs (LOWBIT_HUB_SECRET). Instances behind one load balancer need the
   * same key, since a URL handed out by one may be used on another; default: random per process.
   */
  readonly secret?: string | undefined;
  /** Largest single uploaded file (default 50 GiB). */
  readonly maxUploadBytes?: number;
  /** Largest JSON / NDJSON request body (default 64 MiB). */
  readonly maxBodyBytes?: number;
  /** Where structured logs go (default: one JSON line per entry on stdout); false = none. */
  readonly log?: ((entry: HubLogEntry) => void) | false;
}

export interface Hub {
  /** "http://host:port", no trailing slash. */
  readonly url: string;
  readonly port: number;
  readonly meta: MetaStore;
  readonly blobs: BlobsApi;
  /** Stops accepting, lets requests in flight finish (up to `graceMs`, default 10 s), closes the stores. */
  close(graceMs?: number): Promise<void>;
}
