/**
 * Files to ingest, read by position: a file on disk is never read whole, so its size is bounded
 * only by `maxFileBytes`, and memory by the largest part in work. In-memory inputs go through the
 * same interface (views of their array).
 */
import { type FileHandle, open } from "node:fs/promises";
import { CorruptDataError } from "@lowbit/bits";

export interface Source {
  /** The file's path in the model. */
  readonly path: string;
  readonly size: number;
  /** Bytes [pos, pos + length): a fresh array for a file on disk, a view for in-memory data. */
  read(pos: number, length: number): Promise<Uint8Array>;
  /** Closes the file handle, if one is open; a later read opens it again. */
  close(): Promise<void>;
}

/** Bytes per read of a sequential pass (hash, chunking). */
const DEFAULT_READ_SIZE = 8 * 2 ** 20;
let readSize = DEFAULT_READ_SIZE;
/** Node reads at most about 2 GiB per call; larger reads are split. */
const IO_CHUNK = 2 ** 30;

/**
 * Sets the bytes per sequential read (tests use tiny ones to run the multi-read paths on small
 * files); undefined restores the default of 8 MiB.
 */
export function setSequentialReadSize(bytes: number | undefined): void {
  if (bytes !== undefined && (!Number.isSafeInteger(bytes) || bytes < 1))
    throw new RangeError(`bytes must be a positive integer, got ${String(bytes)}`);
  readSize = bytes ?? DEFAULT_READ_SIZE;
}

export function memorySource(path: string, data: Uint8Array): Source {
  return {
    path,
    size: data.length,
    read: async (pos, length) => data.subarray(pos, pos + length),
    close: async () => undefined,
  };
}

/** A file of `size` bytes (from a stat): reads past its end mean it shrank since, and throw. */
export function fileSource(abs: string, path: string, size: number): Source {
  let fh: Promise<FileHandle> | undefined;
  return {
    path,
    size,
    async read(pos, length) {
      if (pos + length > size)
        throw new RangeError(`read of [${pos}, ${pos + length}) is outside ${abs} (${size} bytes)`);
      fh ??= open(abs, "r");
      const handle = await fh;
      // Every byte is read into it below (or the read throws), so it need not be zeroed first; a
      // plain Uint8Array, not a Buffer, whose slice() would share memory.
      const out = new Uint8Array(Buffer.allocUnsafeSlow(length).buffer, 0, length);
      let off = 0;
      while (off < length) {
        const { bytesRead } = await handle.read(out, off, Math.min(length - off, IO_CHUNK), pos + off);
        if (bytesRead === 0)
          throw new CorruptDataError(
            `${abs} ended at byte ${pos + off}, but was ${size} bytes when the ingest began (did it change?)`,
          );
        off += bytesRead;
      }
      return out;
    },
    async close() {
      const h = fh;
      fh = undefined;
      // A file that failed to open has nothing to close.
      if (h !== undefined)
        await h.then(
          (x) => x.close(),
          () => undefined,
        );
    },
  };
}

/**
 * The file's bytes in order, in blocks of the sequential read size, one read ahead: the next block
 * is read while the caller works on this one.
 */
export async function* blocks(src: Source): AsyncGenerator<Uint8Array> {
  const size = src.size;
  const step = readSize;
  const readAt = (pos: number) => {
    const p = src.read(pos, Math.min(step, size - pos));
    // A read left behind by a caller that stopped is nobody's failure.
    p.catch(() => undefined);
    return p;
  };
  let next = size > 0 ? readAt(0) : undefined;
  let pos = 0;
  while (next !== undefined) {
    const block = await next;
    pos += block.length;
    next = pos < size ? readAt(pos) : undefined;
    yield block;
  }
}
