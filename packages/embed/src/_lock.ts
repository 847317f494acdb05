/// <reference types="node" />
import { randomBytes } from "node:crypto";
import {
  closeSync,
  fsyncSync,
  linkSync,
  openSync,
  readFileSync,
  renameSync,
  statSync,
  unlinkSync,
  writeSync,
} from "node:fs";
import { hostname } from "node:os";
import { join, resolve } from "node:path";
import { LockedError } from "@lowbit/bits";

/**
 * The writer lock of a collection folder: `dir/LOCK`, created with O_EXCL and holding
 * `{"pid", "host", "token", "time"}` as JSON. A lock whose process is gone (same host, pid not alive)
 * is stale and taken over; a lock of another host is always treated as live (its pid means nothing
 * here). Locks held by this process are tracked so a second writer in the same process is refused too.
 */

export const LOCK_FILE = "LOCK";

export { LockedError };

interface LockContent {
  readonly pid: number;
  readonly host: string;
  readonly token: string;
  readonly time: string;
}

/** Absolute lock paths held by this process, with the token written into each. */
const held = new Map<string, string>();

/** A held lock; release() is idempotent. */
export interface DirLock {
  readonly dir: string;
  release(): void;
}

/** True when `pid` names a live process on this machine (EPERM means alive but not ours). */
export function pidAlive(pid: number): boolean {
  if (!Number.isInteger(pid) || pid <= 0) return false;
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === "EPERM";
  }
}

function parseLock(text: string): LockContent | null {
  try {
    const v = JSON.parse(text) as Partial<LockContent> | null;
    if (v && typeof v.pid === "number" && typeof v.host === "string" && typeof v.token === "string") {
      return { pid: v.pid, host: v.host, token: v.token, time: typeof v.time === "string" ? v.time : "" };
    }
  } catch {
    // An unreadable lock (e.g. a writer killed between create and write) is judged below.
  }
  return null;
}

function readLock(path: string): string | null {
  try {
    return readFileSync(path, "utf8");
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === "ENOENT") return null;
    throw err;
  }
}

/** Why the lock at `path` with `text` is live, or null when it is stale. */
function liveReason(path: string, text: string): string | null {
  const content = parseLock(text);
  if (content === null) {
    // Empty or garbled: a writer died between O_EXCL create and the write, or one is writing right now.
    // Treat as live only while it is very young.
    return text.length === 0 && isYoung(path) ? "a lock being written right now" : null;
  }
  if (held.get(path) === content.token) return `this process (another open collection, pid ${content.pid})`;
  if (content.host !== hostname()) return `host ${JSON.stringify(content.host)} (pid ${content.pid})`;
  if (content.pid === process.pid) return null; // our pid but not our token: left by an earlier process
  return pidAlive(content.pid) ? `process ${content.pid} since ${content.time}` : null;
}

function isYoung(path: string): boolean {
  try {
    return Date.now() - statSync(path).mtimeMs < 2000;
  } catch {
    return false;
  }
}

/**
 * Takes the writer lock of `dir` (which must exist). Throws LockedError (code "ERR_LOCKED") when a live
 * process holds it; takes over a stale one.
 */
export function acquireLock(dir: string): DirLock {
  const path = join(resolve(dir), LOCK_FILE);
  const token = randomBytes(12).toString("hex");
  const content: LockContent = { pid: process.pid, host: hostname(), token, time: new Date().toISOString() };
  const bytes = Buffer.from(JSON.stringify(content));
  for (let attempt = 0; attempt < 8; attempt++) {
    let fd: number;
    try {
      fd = openSync(path, "wx", 0o644);
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== "EEXIST") throw err;
      const text = readLock(path);
      if (text === null) continue; // released meanwhile: try again
      const reason = liveReason(path, text);
      if (reason !== null) {
        throw new LockedError(
          `collection folder ${JSON.stringify(resolve(dir))} is locked for writing by ${reason}; ` +
            `close it there, or open with { readOnly: true }`,
        );
      }
      removeStale(path, text);
      continue;
    }
    try {
      writeSync(fd, bytes, 0, bytes.length, 0);
      fsyncSync(fd);
    } finally {
      closeSync(fd);
    }
    held.set(path, token);
    let released = false;
    return {
      dir: resolve(dir),
      release() {
        if (released) return;
        released = true;
        if (held.get(path) === token) held.delete(path);
        // Remove only our own lock: never one another process took over meanwhile.
        const now = readLock(path);
        if (now !== null && parseLock(now)?.token === token) {
          try {
            unlinkSync(path);
          } catch {
            // Already gone.
          }
        }
      },
    };
  }
  throw new LockedError(`could not take the lock of ${JSON.stringify(resolve(dir))}: it keeps changing`);
}

/**
 * Removes a stale lock whose content was `text`, without ever removing a fresh lock another process took
 * meanwhile: the file is first renamed to a private name, then its content checked; a fresh lock moved
 * by mistake is linked back (link fails if yet another lock appeared, which then wins).
 */
function removeStale(path: string, text: string): void {
  const aside = `${path}.${randomBytes(6).toString("hex")}.stale`;
  try {
    renameSync(path, aside);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === "ENOENT") return;
    throw err;
  }
  const moved = readLock(aside);
  if (moved !== null && moved !== text) {
    try {
      linkSync(aside, path);
    } catch {
      // Someone else created a lock meanwhile; theirs stands, the moved one is lost with its holder's race.
    }
  }
  try {
    unlinkSync(aside);
  } catch {
    // Nothing to clean.
  }
}
