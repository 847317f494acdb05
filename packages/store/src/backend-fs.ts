/// <reference types="node" />
import { randomBytes } from "node:crypto";
import { constants, type Dirent } from "node:fs";
import { type FileHandle, lstat, mkdir, open, readdir, rename, rm, unlink } from "node:fs/promises";
import { dirname, isAbsolute, join, relative, resolve, sep } from "node:path";
import { assertBoolean, assertOptions, assertUint8Array, describe, NotFoundError } from "@lowbit/bits";
import type { Backend, BackendEntry } from "./types.js";

/**
 * The filesystem backend: key "objects/ab/cdef" is the file root/objects/ab/cdef. A put writes
 * `.tmp-<random>-<name>` beside the final file, fsyncs it, renames it over the final name and fsyncs
 * the folder, so a reader (or a restart after kill -9) sees the old value, the new one or none,
 * never a partial file. Leftover temp files are skipped by `list` and removed by `cleanup` (gc).
 */

/** Name prefix of in-flight (or abandoned) writes. Keys cannot start with "." so they never collide. */
export const TEMP_PREFIX = ".tmp-";
const SEGMENT_RE = /^[a-z0-9][a-z0-9._-]*$/;
const MAX_KEY_LENGTH = 512;
/** NAME_MAX of common filesystems; a longer segment could never be a file name. */
const MAX_SEGMENT_LENGTH = 255;
/** ".tmp-" + 12 hex + "-": the temp name keeps this much room for the final name's start. */
const TEMP_NAME_OVERHEAD = TEMP_PREFIX.length + 13;
/** Files stat'ed at once while listing (bounded so a huge shard does not open thousands of requests). */
const STAT_BATCH = 64;

export interface FsBackendOptions {
  /** fsync each file and its folder on put (default true). Off only for scratch stores and tests. */
  readonly fsync?: boolean;
}

function isValidSegment(s: string): boolean {
  return s.length <= MAX_SEGMENT_LENGTH && SEGMENT_RE.test(s);
}

/** Throws unless `key` is a store key: "/"-separated [a-z0-9._-] segments, no dot-leading segment. */
function assertKey(key: unknown, name = "key"): asserts key is string {
  if (typeof key !== "string") throw new TypeError(`${name} must be a string, got ${describe(key)}`);
  if (key.length > 0 && key.length <= MAX_KEY_LENGTH && key.split("/").every(isValidSegment)) return;
  throw new RangeError(
    `${name} must be 1–${MAX_KEY_LENGTH} chars of "/"-separated segments matching ${SEGMENT_RE} ` +
      `(at most ${MAX_SEGMENT_LENGTH} chars each), got ${JSON.stringify(key)}`,
  );
}

/** "" or a key, optionally ending in "/". */
function assertPrefix(prefix: unknown): asserts prefix is string {
  if (typeof prefix !== "string") throw new TypeError(`prefix must be a string, got ${describe(prefix)}`);
  if (prefix === "") return;
  try {
    assertKey(prefix.endsWith("/") ? prefix.slice(0, -1) : prefix, "prefix");
  } catch (err) {
    if (err instanceof RangeError) {
      throw new RangeError(
        `prefix must be "" or a key optionally ending in "/", got ${JSON.stringify(prefix)}`,
      );
    }
    throw err;
  }
}

function assertRange(start: unknown, end: unknown): void {
  if (typeof start !== "number") throw new TypeError(`start must be an integer, got ${describe(start)}`);
  if (typeof end !== "number") throw new TypeError(`end must be an integer, got ${describe(end)}`);
  if (!Number.isSafeInteger(start) || !Number.isSafeInteger(end) || start < 0 || end < start) {
    throw new RangeError(`range must be integers with 0 ≤ start ≤ end, got [${start}, ${end})`);
  }
}

function errCode(err: unknown): string | undefined {
  return (err as NodeJS.ErrnoException | null)?.code;
}

/**
 * ENOTDIR/EISDIR: a path component is a file, or the key names a folder; ELOOP: the key is a symbolic
 * link (list and stat skip those). None of them is a stored key.
 */
function isMissing(err: unknown): boolean {
  const code = errCode(err);
  return code === "ENOENT" || code === "ENOTDIR" || code === "EISDIR" || code === "ELOOP";
}

/** Reads never follow a symbolic link in the last component (O_NOFOLLOW is 0 where unsupported). */
const READ_FLAGS = constants.O_RDONLY | (constants.O_NOFOLLOW ?? 0);

/** fsync of a folder so a rename or creation in it survives power loss; skipped where the OS refuses. */
async function fsyncDir(dir: string): Promise<void> {
  let fh: FileHandle;
  try {
    fh = await open(dir, "r");
  } catch (err) {
    const code = errCode(err);
    if (code === "EISDIR" || code === "EPERM" || code === "EACCES") return;
    throw err;
  }
  try {
    await fh.sync();
  } catch (err) {
    const code = errCode(err);
    if (code !== "EINVAL" && code !== "EISDIR" && code !== "EPERM" && code !== "EBADF") throw err;
  } finally {
    await fh.close();
  }
}

/** Reads exactly `length` bytes at `position` (short reads are retried; EOF early is an error). */
async function readExactly(
  fh: FileHandle,
  length: number,
  position: number,
  what: string,
): Promise<Uint8Array> {
  const out = new Uint8Array(length);
  let off = 0;
  while (off < length) {
    const { bytesRead } = await fh.read(out, off, Math.min(length - off, 1 << 30), position + off);
    // Values are replaced by rename, never modified in place, so an early EOF means outside damage.
    if (bytesRead === 0) throw new Error(`${what} ended after ${off} of ${length} bytes`);
    off += bytesRead;
  }
  return out;
}

/** Every entry of a folder, or none when it does not exist (or stopped existing). */
async function readdirOrEmpty(dir: string): Promise<Dirent[]> {
  try {
    const entries = await readdir(dir, { withFileTypes: true });
    return entries.sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
  } catch (err) {
    if (isMissing(err)) return [];
    throw err;
  }
}

/** Creates `dir` and its parents; fsyncs each folder that gained a subfolder (when `durable`). */
async function mkdirDurable(dir: string, durable: boolean): Promise<void> {
  // `first` is the top-most folder mkdir created (undefined: `dir` existed already).
  const first = await mkdir(dir, { recursive: true });
  if (first === undefined || !durable) return;
  for (let d = dir; ; d = dirname(d)) {
    await fsyncDir(dirname(d));
    if (d === first || dirname(d) === d) break;
  }
}

/**
 * A Backend storing each key as a file under `root` (created on first put).
 *
 * ```ts
 * const backend = fsBackend("/var/lib/models");
 * await backend.put("objects/ab/cdef", bytes);
 * ```
 */
export function fsBackend(root: string, options?: FsBackendOptions): Backend {
  if (typeof root !== "string") throw new TypeError(`root must be a string, got ${describe(root)}`);
  if (root.length === 0) throw new RangeError(`root must be a folder path, got ""`);
  assertOptions(options, "options");
  const durable = options?.fsync ?? true;
  assertBoolean(durable, "options.fsync");
  const absRoot = resolve(root);

  /** The file path of a valid key; refuses anything that would resolve outside root. */
  const pathOf = (key: unknown): string => {
    assertKey(key);
    const path = resolve(absRoot, ...key.split("/"));
    const rel = relative(absRoot, path);
    if (rel === "" || rel.startsWith(`..${sep}`) || rel === ".." || isAbsolute(rel)) {
      throw new RangeError(`key must stay inside the store root, got ${JSON.stringify(key)}`);
    }
    return path;
  };

  const notFound = (key: string, err: unknown): NotFoundError =>
    new NotFoundError(`no object ${JSON.stringify(key)} in ${absRoot}`, { cause: err });

  const openForRead = async (key: string, path: string): Promise<FileHandle> => {
    try {
      return await open(path, READ_FLAGS);
    } catch (err) {
      if (isMissing(err)) throw notFound(key, err);
      throw err;
    }
  };

  const statFile = async (key: string, path: string): Promise<BackendEntry | undefined> => {
    try {
      const s = await lstat(path);
      if (!s.isFile()) return undefined;
      return { key, size: s.size, mtimeMs: s.mtimeMs };
    } catch (err) {
      if (isMissing(err)) return undefined;
      throw err;
    }
  };

  async function* walk(dirPath: string, dirKey: string, prefix: string): AsyncGenerator<BackendEntry> {
    const entries = await readdirOrEmpty(dirPath);
    const files: Array<{ key: string; path: string }> = [];
    const dirs: Array<{ key: string; path: string }> = [];
    for (const e of entries) {
      // Temp files start with "." and so fail the segment rule, as does anything not written by us.
      if (!isValidSegment(e.name)) continue;
      const key = dirKey === "" ? e.name : `${dirKey}/${e.name}`;
      // Prune folders that cannot hold a key with the prefix (the prefix may end mid-name).
      if (!key.startsWith(prefix) && !prefix.startsWith(`${key}/`)) continue;
      if (e.isFile()) {
        if (key.startsWith(prefix)) files.push({ key, path: join(dirPath, e.name) });
      } else if (e.isDirectory()) {
        dirs.push({ key, path: join(dirPath, e.name) });
      }
    }
    for (let i = 0; i < files.length; i += STAT_BATCH) {
      const batch = files.slice(i, i + STAT_BATCH);
      const stats = await Promise.all(batch.map((f) => statFile(f.key, f.path)));
      for (const s of stats) if (s !== undefined) yield s;
    }
    for (const d of dirs) {
      if (d.key.length < MAX_KEY_LENGTH) yield* walk(d.path, d.key, prefix);
    }
  }

  return {
    description: `fs:${absRoot}`,

    async put(key: string, data: Uint8Array): Promise<void> {
      const path = pathOf(key);
      assertUint8Array(data, "data");
      const dir = dirname(path);
      await mkdirDurable(dir, durable);
      const base = path.slice(dir.length + 1);
      const tmp = join(
        dir,
        `${TEMP_PREFIX}${randomBytes(6).toString("hex")}-${base.slice(0, MAX_SEGMENT_LENGTH - TEMP_NAME_OVERHEAD)}`,
      );
      try {
        const fh = await open(tmp, "wx", 0o644);
        try {
          await fh.writeFile(data);
          if (durable) await fh.sync();
        } finally {
          await fh.close();
        }
        await rename(tmp, path);
      } catch (err) {
        await rm(tmp, { force: true }).catch(() => undefined);
        throw err;
      }
      if (durable) await fsyncDir(dir);
    },

    async get(key: string): Promise<Uint8Array> {
      const path = pathOf(key);
      const fh = await openForRead(key, path);
      try {
        const s = await fh.stat();
        if (!s.isFile()) throw notFound(key, undefined);
        return await readExactly(fh, s.size, 0, path);
      } catch (err) {
        if (isMissing(err)) throw notFound(key, err);
        throw err;
      } finally {
        await fh.close();
      }
    },

    async getRange(key: string, start: number, end: number): Promise<Uint8Array> {
      const path = pathOf(key);
      assertRange(start, end);
      const fh = await openForRead(key, path);
      try {
        const s = await fh.stat();
        if (!s.isFile()) throw notFound(key, undefined);
        if (end > s.size) {
          throw new RangeError(
            `range [${start}, ${end}) is outside ${JSON.stringify(key)} of ${s.size} bytes`,
          );
        }
        return await readExactly(fh, end - start, start, path);
      } catch (err) {
        if (isMissing(err)) throw notFound(key, err);
        throw err;
      } finally {
        await fh.close();
      }
    },

    async stat(key: string): Promise<BackendEntry | undefined> {
      return statFile(key, pathOf(key));
    },

    async delete(key: string): Promise<void> {
      const path = pathOf(key);
      try {
        await unlink(path);
      } catch (err) {
        if (errCode(err) === "ENOENT" || errCode(err) === "ENOTDIR") return;
        // A folder is not a stored key, so there is nothing to delete (Linux says EISDIR, macOS EPERM).
        if (
          (errCode(err) === "EISDIR" || errCode(err) === "EPERM") &&
          (await statFile(key, path)) === undefined
        ) {
          return;
        }
        throw err;
      }
    },

    list(prefix: string): AsyncIterable<BackendEntry> {
      assertPrefix(prefix);
      // Start at the deepest folder the prefix names completely; filter the rest by name.
      const cut = prefix.lastIndexOf("/");
      const dirKey = cut < 0 ? "" : prefix.slice(0, cut);
      const dirPath = dirKey === "" ? absRoot : pathOf(dirKey);
      return walk(dirPath, dirKey, prefix);
    },

    cleanup(olderThanMs: number): Promise<number> {
      return removeTempFiles(absRoot, olderThanMs);
    },
  };
}

/**
 * Every temp file (`.tmp-*`) under `root`: in-flight writes and those a crash abandoned. Only regular
 * files are reported; symbolic links are never followed.
 */
export async function* listTempFiles(root: string): AsyncIterable<{ path: string; mtimeMs: number }> {
  if (typeof root !== "string") throw new TypeError(`root must be a string, got ${describe(root)}`);
  const absRoot = resolve(root);
  const stack = [absRoot];
  while (stack.length > 0) {
    const dir = stack.pop()!;
    for (const e of await readdirOrEmpty(dir)) {
      const path = join(dir, e.name);
      if (e.isDirectory()) {
        stack.push(path);
      } else if (e.isFile() && e.name.startsWith(TEMP_PREFIX)) {
        try {
          yield { path, mtimeMs: (await lstat(path)).mtimeMs };
        } catch (err) {
          // Renamed into place (or removed) since the folder was read.
          if (!isMissing(err)) throw err;
        }
      }
    }
  }
}

/**
 * Removes temp files under `root` last modified more than `olderThanMs` ago (a live write keeps its
 * temp file young, so a grace period of minutes to hours never removes one). Returns how many it removed.
 */
export async function removeTempFiles(root: string, olderThanMs: number): Promise<number> {
  if (typeof olderThanMs !== "number") {
    throw new TypeError(`olderThanMs must be a number, got ${describe(olderThanMs)}`);
  }
  if (!(olderThanMs >= 0)) throw new RangeError(`olderThanMs must be ≥ 0, got ${describe(olderThanMs)}`);
  const cutoff = Date.now() - olderThanMs;
  let removed = 0;
  for await (const t of listTempFiles(root)) {
    if (t.mtimeMs > cutoff) continue;
    try {
      await unlink(t.path);
      removed++;
    } catch (err) {
      if (!isMissing(err)) throw err;
    }
  }
  return removed;
}
