/// <reference types="node" />
import { closeSync, fsyncSync, openSync, readSync } from "node:fs";
import { type FileHandle, mkdir, open, readdir, readFile, rename, rm, stat } from "node:fs/promises";
import { join } from "node:path";
import { CorruptDataError, NotFoundError } from "@lowbit/bits";

/**
 * Crash-safe generations of a collection folder:
 *
 *   dir/CURRENT        text: the live generation's folder name ("gen-7")
 *   dir/LOCK           the writer lock (see _lock.ts)
 *   dir/gen-<n>/       header.json and the binary files of one saved state
 *
 * A save writes gen-<n+1>/ (every file to `<name>.tmp`, fsync, rename), fsyncs the folder, then
 * replaces CURRENT atomically (CURRENT.tmp, fsync, rename, fsync of dir) and only then removes older
 * generations. A kill at any moment leaves CURRENT naming a complete generation; leftovers of an
 * interrupted save (a partial gen folder, CURRENT.tmp) are ignored by open and removed by the next save.
 */

export const CURRENT_FILE = "CURRENT";
const GEN_RE = /^gen-(\d{1,15})$/;
/** CURRENT is a few bytes; anything larger is not ours. */
const MAX_CURRENT_BYTES = 64;

export function generationName(n: number): string {
  return `gen-${n}`;
}

export function generationNumber(name: string): number | null {
  const m = GEN_RE.exec(name);
  return m ? Number(m[1]) : null;
}

/** The live generation's folder name, or null when the folder holds no saved collection. */
export async function readCurrent(dir: string): Promise<string | null> {
  let text: string;
  try {
    const bytes = await readFile(join(dir, CURRENT_FILE));
    if (bytes.length > MAX_CURRENT_BYTES) {
      throw new CorruptDataError(
        `${join(dir, CURRENT_FILE)} has ${bytes.length} bytes, expected a generation name`,
      );
    }
    text = bytes.toString("utf8").trim();
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === "ENOENT") return null;
    throw err;
  }
  if (generationNumber(text) === null) {
    throw new CorruptDataError(
      `${join(dir, CURRENT_FILE)} must name a generation "gen-<n>", got ${JSON.stringify(text)}`,
    );
  }
  return text;
}

/** Like readCurrent, but a folder without a collection is a NotFoundError. */
export async function requireCurrent(dir: string): Promise<string> {
  const current = await readCurrent(dir);
  if (current === null) {
    throw new NotFoundError(`no saved collection in ${JSON.stringify(dir)} (no ${CURRENT_FILE} file)`);
  }
  return current;
}

/** Generation numbers of every gen-<n> folder present (complete or not). */
export async function listGenerations(dir: string): Promise<number[]> {
  const names = await readdir(dir).catch((err: NodeJS.ErrnoException) => {
    if (err.code === "ENOENT") return [] as string[];
    throw err;
  });
  const out: number[] = [];
  for (const name of names) {
    const n = generationNumber(name);
    if (n !== null) out.push(n);
  }
  return out.sort((a, b) => a - b);
}

/** fsync of a folder, so renames and creations in it are durable; a no-op where the OS refuses. */
export function fsyncDir(dir: string): void {
  let fd: number;
  try {
    fd = openSync(dir, "r");
  } catch {
    return;
  }
  try {
    fsyncSync(fd);
  } catch {
    // Windows and some file systems cannot fsync a directory.
  } finally {
    closeSync(fd);
  }
}

/** Where a file's bytes come from: one buffer or a producer writing its chunks in order. */
export type FileSource = Uint8Array | ((write: (chunk: Uint8Array) => Promise<void>) => Promise<void>);

/**
 * Writes `dir/name` durably: to `name.tmp`, fsync, rename. Returns the size in bytes.
 */
export async function writeFileDurable(dir: string, name: string, source: FileSource): Promise<number> {
  const tmp = join(dir, `${name}.tmp`);
  const fh = await open(tmp, "w", 0o644);
  let size = 0;
  try {
    const write = async (chunk: Uint8Array): Promise<void> => {
      let off = 0;
      while (off < chunk.length) {
        const { bytesWritten } = await fh.write(chunk, off, chunk.length - off, size);
        off += bytesWritten;
        size += bytesWritten;
      }
    };
    if (source instanceof Uint8Array) await write(source);
    else await source(write);
    await fh.sync();
  } finally {
    await fh.close();
  }
  await rename(tmp, join(dir, name));
  return size;
}

/** fsyncs an existing file (one written by someone else, e.g. the ANN index adapter). */
export async function fsyncFile(path: string): Promise<number> {
  const fh = await open(path, "r+");
  try {
    await fh.sync();
    return (await fh.stat()).size;
  } finally {
    await fh.close();
  }
}

/** Replaces CURRENT with `gen` atomically and durably. */
export async function writeCurrent(dir: string, gen: string): Promise<void> {
  await writeFileDurable(dir, CURRENT_FILE, new TextEncoder().encode(`${gen}\n`));
  fsyncDir(dir);
}

/** Removes every generation folder except `keep`, and a stale CURRENT.tmp. Best effort. */
export async function removeOtherGenerations(dir: string, keep: string): Promise<void> {
  for (const n of await listGenerations(dir)) {
    const name = generationName(n);
    if (name === keep) continue;
    await rm(join(dir, name), { recursive: true, force: true }).catch(() => undefined);
  }
  await rm(join(dir, `${CURRENT_FILE}.tmp`), { force: true }).catch(() => undefined);
}

/** Creates a fresh, empty generation folder (removing a leftover of the same name). */
export async function createGenerationDir(dir: string, gen: string): Promise<string> {
  const path = join(dir, gen);
  await rm(path, { recursive: true, force: true });
  await mkdir(path, { recursive: false });
  return path;
}

/** Size of a file, or −1 when it does not exist. */
export async function fileSize(path: string): Promise<number> {
  try {
    return (await stat(path)).size;
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === "ENOENT") return -1;
    throw err;
  }
}

/**
 * Reads a whole file whose size must be exactly `expected` bytes into `target` (or a new array),
 * checking the size first: a truncated or extended file is a CorruptDataError.
 */
export async function readExact(path: string, expected: number, target?: Uint8Array): Promise<Uint8Array> {
  let fh: FileHandle;
  try {
    fh = await open(path, "r");
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === "ENOENT") {
      throw new CorruptDataError(`${path} is missing`, { cause: err });
    }
    throw err;
  }
  try {
    const { size } = await fh.stat();
    if (size !== expected) {
      throw new CorruptDataError(
        `${path} has ${size} bytes, the header says ${expected} (truncated or mismatched file)`,
      );
    }
    const out = target ?? new Uint8Array(expected);
    let off = 0;
    while (off < expected) {
      const { bytesRead } = await fh.read(out, off, Math.min(expected - off, 1 << 30), off);
      if (bytesRead === 0) throw new CorruptDataError(`${path} ended after ${off} of ${expected} bytes`);
      off += bytesRead;
    }
    return out;
  } finally {
    await fh.close();
  }
}

/** Reads a JSON file of at most `maxBytes` bytes (expected size checked when given). */
export async function readJson(path: string, maxBytes: number, expected?: number): Promise<unknown> {
  const size = await fileSize(path);
  if (size < 0) throw new CorruptDataError(`${path} is missing`);
  if (expected !== undefined && size !== expected) {
    throw new CorruptDataError(
      `${path} has ${size} bytes, the header says ${expected} (truncated or mismatched file)`,
    );
  }
  if (size > maxBytes)
    throw new CorruptDataError(`${path} has ${size} bytes, more than the limit of ${maxBytes}`);
  const bytes = await readExact(path, size);
  try {
    return JSON.parse(new TextDecoder("utf-8", { fatal: true }).decode(bytes));
  } catch (err) {
    throw new CorruptDataError(`${path} is not valid JSON: ${(err as Error).message}`, { cause: err });
  }
}

/** Encodes a JSON value as UTF-8 bytes. */
export function jsonBytes(value: unknown): Uint8Array {
  return new TextEncoder().encode(JSON.stringify(value));
}

/**
 * Positioned reads of fixed-size rows from an open file (the on-disk rescore copy). The file handle
 * stays open until close(), so a later save that removes the generation does not pull it away.
 */
export class RowFile {
  private fd: number;

  constructor(
    readonly path: string,
    readonly rowBytes: number,
    readonly rows: number,
  ) {
    this.fd = openSync(path, "r");
  }

  /** Reads row `row` into `out` at byte offset `outOffset`. */
  readRow(row: number, out: Uint8Array, outOffset: number): void {
    this.readRows(row, 1, out, outOffset);
  }

  /** Reads `n` consecutive rows starting at `row` into `out` at `outOffset`. */
  readRows(row: number, n: number, out: Uint8Array, outOffset: number): void {
    const len = n * this.rowBytes;
    let done = 0;
    while (done < len) {
      const got = readSync(this.fd, out, outOffset + done, len - done, row * this.rowBytes + done);
      if (got === 0) {
        throw new CorruptDataError(
          `${this.path} ended early: rows ${row}..${row + n} of ${this.rows} expected`,
        );
      }
      done += got;
    }
  }

  close(): void {
    if (this.fd >= 0) {
      closeSync(this.fd);
      this.fd = -1;
    }
  }
}
