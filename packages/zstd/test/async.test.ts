import { spawn } from "node:child_process";
import { join } from "node:path";
import { pathToFileURL } from "node:url";
import { CorruptDataError, LimitExceededError } from "@lowbit/bits";
import { afterAll, describe, expect, it } from "vitest";
import { zstdCompressor } from "../src/index.js";
import {
  caught,
  concat,
  expectBytes,
  f16Weights,
  frameWithoutSize,
  randomBytes,
  repoRoot,
  textBytes,
  thrown,
} from "./_helpers.js";

const pooled = zstdCompressor({ threads: 2 });
afterAll(() => pooled.close());

/** Eight inputs of different kinds and sizes: slices of real weights, text, random bytes. */
function inputs(): Uint8Array[] {
  const w = f16Weights();
  return [
    w.subarray(0, 1 << 20),
    w.subarray(1 << 20, (1 << 20) + 700_000),
    w.subarray(3_000_001, 3_000_001 + 500_000),
    textBytes(400_000, 1),
    textBytes(3, 2),
    randomBytes(200_000, 3),
    new Uint8Array(0),
    concat([textBytes(100_000, 4), w.subarray(5_000_000, 5_100_000)]),
  ];
}

describe("compressAsync / decompressAsync on the worker pool", () => {
  it("8 concurrent jobs on 2 workers give the same bytes as the sync calls", async () => {
    const data = inputs();
    const jobs = data.map((d, i) => pooled.compressAsync(d, i % 2 === 0 ? 1 : 3));
    expect(pooled.pending).toBe(8);
    const frames = await Promise.all(jobs);
    expect(pooled.pending).toBe(0);
    for (const [i, z] of frames.entries()) expectBytes(z, pooled.compress(data[i]!, i % 2 === 0 ? 1 : 3));
    const back = await Promise.all(frames.map((z, i) => pooled.decompressAsync(z, data[i]!.length)));
    for (const [i, b] of back.entries()) expectBytes(b, data[i]!);
  });

  it("frames without a declared size decode on the worker, with the limit enforced there", async () => {
    const data = textBytes(300_000, 9);
    const unsized = frameWithoutSize(data);
    expectBytes(await pooled.decompressAsync(unsized, data.length), data);
    const e = await caught(() => pooled.decompressAsync(unsized, data.length - 1));
    expect(e).toBeInstanceOf(LimitExceededError);
    expect(e.message).toBe(thrown(() => pooled.decompress(unsized, data.length - 1)).message);
  });

  it("bad data rejects with the same error class, code and message as the sync call", async () => {
    const data = textBytes(50_000, 5);
    const z = pooled.compress(data);
    const flipped = z.slice();
    flipped[z.length >> 1]! ^= 0x10;
    const checksum = z.slice();
    checksum[z.length - 1]! ^= 0xff;
    const cases: [Uint8Array, number][] = [
      [flipped, data.length],
      [checksum, data.length],
      [z.subarray(0, z.length - 3), data.length],
      [new Uint8Array(0), 10],
      [randomBytes(100, 1), 1000],
      [z, data.length - 1],
      [frameWithoutSize(data).subarray(0, 2000), data.length],
    ];
    for (const [bytes, maxSize] of cases) {
      const sync = thrown(() => pooled.decompress(bytes, maxSize));
      const async = await caught(() => pooled.decompressAsync(bytes, maxSize));
      expect(async.constructor).toBe(sync.constructor);
      expect(async.code).toBe(sync.code);
      expect(async.message).toBe(sync.message);
    }
    const e = await caught(() => pooled.decompressAsync(checksum, data.length));
    expect(e).toBeInstanceOf(CorruptDataError);
    expect((e.cause as Error).message).toMatch(/checksum/);
  });

  it("bad arguments reject (never throw synchronously)", async () => {
    const p = pooled.compressAsync("x" as never);
    expect(p).toBeInstanceOf(Promise);
    await expect(p).rejects.toThrow(TypeError);
    await expect(pooled.compressAsync(new Uint8Array(1), 99)).rejects.toThrow(RangeError);
    await expect(pooled.decompressAsync(new Uint8Array(1), -1)).rejects.toThrow(RangeError);
  });

  it("the caller's buffer is neither detached nor read after the call returns", async () => {
    const backing = textBytes(200_000, 6);
    const view = backing.subarray(1000, 150_000);
    const original = view.slice();
    const pending = pooled.compressAsync(view);
    view.fill(0); // after the call, before the result: must not change what is compressed
    const z = await pending;
    expect(backing.buffer.byteLength).toBe(200_000);
    expectBytes(pooled.decompress(z, original.length), original);
  });

  it("accepts input in shared memory", async () => {
    const shared = new Uint8Array(new SharedArrayBuffer(100_000));
    shared.set(textBytes(100_000, 7));
    const z = await pooled.compressAsync(shared);
    expectBytes(pooled.decompress(z, shared.length), shared);
  });
});

describe("close()", () => {
  it("rejects running and later async jobs, is idempotent, and leaves the sync forms working", async () => {
    const c = zstdCompressor({ threads: 1 });
    const data = f16Weights().subarray(0, 2_000_000);
    const first = c.compressAsync(data);
    const queued = c.compressAsync(data);
    const closing = c.close();
    await Promise.all([expect(first).rejects.toThrow(/closed/), expect(queued).rejects.toThrow(/closed/)]);
    await closing;
    await c.close();
    await expect(c.compressAsync(data)).rejects.toThrow(/zstdCompressor is closed/);
    await expect(c.decompressAsync(new Uint8Array(1), 1)).rejects.toThrow(/zstdCompressor is closed/);
    expect(c.pending).toBe(0);
    expectBytes(c.decompress(c.compress(data), data.length), data);
  });

  it("threads: 0 runs the async forms on the calling thread with the same results, and closes too", async () => {
    const c = zstdCompressor({ threads: 0 });
    expect(c.threads).toBe(0);
    const data = textBytes(100_000, 8);
    expectBytes(await c.compressAsync(data, 5), pooled.compress(data, 5));
    await expect(c.decompressAsync(new Uint8Array(0), 1)).rejects.toThrow(CorruptDataError);
    await c.close();
    await expect(c.compressAsync(data)).rejects.toThrow(/closed/);
  });
});

describe("an idle pool does not keep the process alive", () => {
  it("a child process that never calls close() exits by itself after its jobs", async () => {
    const entry = pathToFileURL(join(repoRoot(), "packages", "zstd", "src", "index.ts")).href;
    // Top-level await holds the process only through the worker's reference while a job runs: if the
    // pool unref'd busy workers, node would exit early with code 13 (unsettled top-level await).
    const script = [
      `const { zstdCompressor } = await import(${JSON.stringify(entry)});`,
      "const c = zstdCompressor({ threads: 2 });",
      "const data = new Uint8Array(4_000_000).map((_, i) => (i * 31) % 251);",
      "const frames = await Promise.all([0, 1, 2, 3].map(() => c.compressAsync(data)));",
      "const back = await c.decompressAsync(frames[3], data.length);",
      "console.log('done', frames.length, back.length);",
    ].join("\n");
    const result = await runNode(["--import", "tsx", "--input-type=module", "-e", script], 30_000);
    expect(result.stderr).toBe("");
    expect(result.stdout.trim()).toBe("done 4 4000000");
    // A pool that kept the process alive would run into the 30 s kill: code null, not 0.
    expect(result.code).toBe(0);
  });
});

function runNode(
  args: readonly string[],
  timeoutMs: number,
): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, args, { cwd: repoRoot(), timeout: timeoutMs, stdio: "pipe" });
    let stdout = "";
    let stderr = "";
    child.stdout.on("data", (d: Buffer) => {
      stdout += d.toString();
    });
    child.stderr.on("data", (d: Buffer) => {
      stderr += d.toString();
    });
    child.on("error", reject);
    child.on("close", (code) => resolve({ code, stdout, stderr }));
  });
}
