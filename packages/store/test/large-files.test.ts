import { createHash } from "node:crypto";
import {
  closeSync,
  createReadStream,
  mkdirSync,
  mkdtempSync,
  openSync,
  rmSync,
  writeFileSync,
  writeSync,
} from "node:fs";
import { readFile, truncate, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { createRng } from "@lowbit/bits";
import { encodeSafetensors } from "@lowbit/safetensors";
import { zstdCompressor } from "@lowbit/zstd";
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import { CdcCutter, cdcCuts } from "../src/_cdc.js";
import { setSequentialReadSize } from "../src/_source.js";
import { type IngestFile, type Manifest, Store } from "../src/index.js";

const compressor = zstdCompressor({ threads: 0 });
const sha = (b: Uint8Array) => createHash("sha256").update(b).digest("hex");

function randomBytes(n: number, seed: number): Uint8Array {
  const out = new Uint8Array(n);
  const rng = createRng(seed);
  for (let i = 0; i < n; i++) out[i] = rng.nextUint32() >>> 24;
  return out;
}

/** f16 bit patterns of moderate magnitude (exponents 10–14), as a trained layer's weights look. */
function weights(n: number, seed: number): Uint16Array {
  const rng = createRng(seed);
  const out = new Uint16Array(n);
  for (let i = 0; i < n; i++) {
    const r = rng.nextUint32();
    out[i] = ((r >>> 31) << 15) | ((10 + (r % 5)) << 10) | ((r >>> 8) & 0x3ff);
  }
  return out;
}

/** The same weights with their 3 lowest mantissa bits changed: a fine-tune's small updates. */
function nudged(w: Uint16Array, seed: number): Uint16Array {
  const rng = createRng(seed);
  return w.map((x) => x ^ (rng.nextUint32() & 7));
}

/** Cuts of `data` fed to a CdcCutter in pieces whose sizes come from `sizes`. */
function streamedCuts(data: Uint8Array, sizes: () => number, options?: { avgSize?: number }): number[] {
  const cutter = new CdcCutter(options);
  const cuts: number[] = [];
  for (let pos = 0; pos < data.length; ) {
    const piece = data.subarray(pos, pos + sizes());
    cuts.push(...cutter.push(piece));
    pos += piece.length;
  }
  cuts.push(...cutter.finish());
  return cuts;
}

function withoutTimes(m: Manifest): Omit<Manifest, "createdAt"> {
  const { createdAt: _, ...rest } = m;
  return rest;
}

describe("CdcCutter", () => {
  // Random bytes with a run of zeros (cuts at maxSize) and a repeated region.
  const data = randomBytes(3 << 20, 11);
  data.fill(0, 1 << 20, (1 << 20) + 700_000);
  data.copyWithin(2 << 20, 100_000, 600_000);

  it("cuts a stream exactly where cdcCuts cuts the whole buffer, whatever the read sizes", () => {
    for (const options of [undefined, { avgSize: 4096 }, { avgSize: 1024, minSize: 100, maxSize: 5000 }]) {
      const want = Array.from(cdcCuts(data, options));
      expect(want.length).toBeGreaterThan(10);
      for (const size of [7, 64, 1000, 4095, 16_384, 65_536, 65_537, 262_144, 1 << 20, data.length]) {
        expect(streamedCuts(data, () => size, options)).toEqual(want);
      }
      const rng = createRng(12);
      expect(streamedCuts(data, () => 1 + (rng.nextUint32() % 300_000), options)).toEqual(want);
      // Single bytes, on a prefix (slow per byte, but every state boundary is crossed).
      const prefix = data.subarray(0, 300_000);
      expect(streamedCuts(prefix, () => 1, options)).toEqual(Array.from(cdcCuts(prefix, options)));
    }
  });

  it("handles empty pieces, an empty stream, and starts afresh after finish", () => {
    const cutter = new CdcCutter();
    expect(cutter.push(new Uint8Array(0))).toEqual([]);
    expect(cutter.finish()).toEqual([]);
    const short = data.subarray(0, 5000);
    expect([...cutter.push(short), ...cutter.finish()]).toEqual([5000]);
    expect(cutter.offset).toBe(0);
    const again = [...cutter.push(data), ...cutter.finish()];
    expect(again).toEqual(Array.from(cdcCuts(data)));
    expect(() => cutter.push([1, 2] as unknown as Uint8Array)).toThrow(TypeError);
  });
});

describe("ingest by path, read in many small pieces", () => {
  let dir: string;
  let files: IngestFile[];
  const opaque = randomBytes(700_000, 4);
  opaque.copyWithin(400_000, 0, 250_000); // a repeat: chunks dedup within the file
  const baseModel = weights(40_000, 1);
  const layers = [weights(30_000, 2), weights(10_000, 3)];
  beforeAll(() => {
    dir = mkdtempSync(join(tmpdir(), "lowbit-large-"));
    const tensors = (w: readonly Uint16Array[]) => ({
      "embed.weight": { dtype: "F16" as const, shape: [200, 200], data: w[0]! },
      "layer.0.weight": { dtype: "F16" as const, shape: [300, 100], data: w[1]! },
      "layer.0.bias": { dtype: "F32" as const, shape: [4], data: Float32Array.of(1, 2, 3, 4) },
      "layer.1.weight": { dtype: "F16" as const, shape: [100, 100], data: w[2]! },
      empty: { dtype: "F32" as const, shape: [0], data: new Float32Array(0) },
    });
    // In the order a directory ingest takes them (sorted by name).
    files = [
      { path: "base.safetensors", data: encodeSafetensors(tensors([baseModel, ...layers])) },
      { path: "config.json", data: new TextEncoder().encode('{"hidden": 200}\n') },
      { path: "empty.bin", data: new Uint8Array(0) },
      { path: "model.onnx", data: opaque },
    ];
    mkdirSync(join(dir, "in", "base"), { recursive: true });
    for (const f of files) writeFileSync(join(dir, "in", "base", f.path), f.data);
    const tuned = encodeSafetensors(
      tensors([nudged(baseModel, 5), ...layers.map((w, i) => nudged(w, 6 + i))]),
    );
    mkdirSync(join(dir, "in", "tuned"));
    writeFileSync(join(dir, "in", "tuned", "model.safetensors"), tuned);
  });
  afterEach(() => setSequentialReadSize(undefined));
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it("stores what an in-memory ingest of the same bytes stores, and restores byte-identical files", async () => {
    const mem = await Store.init(join(dir, "mem"), { compressor });
    const fromMemory = await mem.ingest(files, { name: "m" });
    const memTuned = await mem.ingest(
      [{ path: "model.safetensors", data: await readFile(join(dir, "in", "tuned", "model.safetensors")) }],
      { name: "t" },
    );

    setSequentialReadSize(1000); // hash and chunking passes take hundreds of reads per file
    const disk = await Store.init(join(dir, "disk"), { compressor });
    const phases: string[] = [];
    let last = { bytesDone: -1, bytesTotal: 0 };
    const fromDisk = await disk.ingest(join(dir, "in", "base"), {
      name: "m",
      onProgress: (p) => {
        phases.push(p.phase);
        last = p;
      },
    });
    expect(withoutTimes(fromDisk.manifest)).toEqual(withoutTimes(fromMemory.manifest));
    expect(fromDisk.manifest.files.map((f) => f.layout)).toEqual([
      "safetensors",
      "small",
      "small",
      "chunked",
    ]);
    expect(fromDisk.storedBytesAdded).toBe(fromMemory.storedBytesAdded);
    expect(fromDisk.parts).toEqual(fromMemory.parts);
    expect(fromDisk.parts.dedup).toBeGreaterThan(0); // the repeated region of model.onnx
    expect(new Set(phases)).toEqual(new Set(["match", "hash", "encode", "commit"]));
    expect(last.bytesDone).toBe(last.bytesTotal);

    // Automatic base matching reads only the compared tensors, by position.
    const diskTuned = await disk.ingest([join(dir, "in", "tuned", "model.safetensors")], { name: "t" });
    expect(diskTuned.base).toBe("m");
    expect(memTuned.base).toBe("m");
    expect(withoutTimes(diskTuned.manifest)).toEqual(withoutTimes(memTuned.manifest));
    expect(diskTuned.storedBytesAdded).toBeLessThan(diskTuned.logicalBytes * 0.7);

    await disk.restore("m", join(dir, "out"));
    for (const f of files) expect(sha(await readFile(join(dir, "out", f.path)))).toBe(sha(f.data));
    const onnx = await disk.openFile("m", "model.onnx");
    expect(await onnx.read(123_456, 654_321)).toEqual(opaque.subarray(123_456, 654_321));
  });

  it("stops between reads of the hash pass when aborted, storing no model", async () => {
    setSequentialReadSize(1000);
    const store = await Store.init(join(dir, "abort"), { compressor });
    const controller = new AbortController();
    const reason = new Error("stop");
    const phases = new Set<string>();
    await expect(
      store.ingest(join(dir, "in", "base"), {
        name: "a",
        signal: controller.signal,
        onProgress: (p) => {
          phases.add(p.phase);
          if (p.phase === "hash") setTimeout(() => controller.abort(reason), 0);
        },
      }),
    ).rejects.toBe(reason);
    expect(phases.has("encode")).toBe(false); // stopped inside the first file's hash pass
    expect(await store.list()).toEqual([]);
  });

  it("refuses to store a file that changes between its hash and its parts", async () => {
    setSequentialReadSize(1000);
    const path = join(dir, "changing.bin");
    await writeFile(path, opaque);
    const store = await Store.init(join(dir, "changing"), { compressor });
    let changed = false;
    await expect(
      store.ingest([path], {
        name: "c",
        onProgress: (p) => {
          if (p.phase === "encode" && !changed) {
            changed = true;
            const fd = openSync(path, "r+");
            writeSync(fd, Uint8Array.of(1, 2, 3), 0, 3, 600_000);
            closeSync(fd);
          }
        },
      }),
    ).rejects.toMatchObject({ code: "ERR_INTEGRITY" });
    expect(changed).toBe(true);
    expect(await store.list()).toEqual([]);
  });

  it("refuses a tensor larger than a part may be, naming it", async () => {
    const store = await Store.init(join(dir, "limit"), { compressor, maxObjectBytes: 50_000 });
    await expect(store.ingest(join(dir, "in", "base"), { name: "l" })).rejects.toThrow(
      /base\.safetensors: tensor "embed\.weight" is 80000 bytes; the store takes parts \(tensors\) of at most 50000 bytes/,
    );
    await expect(store.ingest(join(dir, "in", "base"), { name: "l" })).rejects.toMatchObject({
      code: "ERR_LIMIT",
    });
  });
});

// Hashes 4.2 GB twice and reads it back: about a minute. LOWBIT_SLOW=1 runs it.
describe.skipIf(!process.env["LOWBIT_SLOW"])("a file over 4 GiB", () => {
  let dir: string;
  beforeAll(() => {
    dir = mkdtempSync(join(tmpdir(), "lowbit-4g-"));
  });
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it("is ingested from its path and read back byte-identical, in bounded memory", async () => {
    const size = Math.floor(4.2 * 2 ** 30);
    const path = join(dir, "shard.bin");
    // Sparse: zeros (one chunk, stored once) with random regions, one across the 4 GiB mark.
    await writeFile(path, new Uint8Array(0));
    await truncate(path, size);
    const regions = [0, 2 ** 31 - 300_000, 2 ** 32 - 500_000, size - 1_000_000];
    const fd = openSync(path, "r+");
    for (const [i, at] of regions.entries()) writeSync(fd, randomBytes(1_000_000, 20 + i), 0, 1_000_000, at);
    closeSync(fd);

    const t0 = performance.now();
    const want = createHash("sha256");
    for await (const chunk of createReadStream(path, { highWaterMark: 8 << 20 }))
      want.update(chunk as Buffer);
    const wantSha = want.digest("hex");
    const hashSeconds = (performance.now() - t0) / 1000;

    const store = await Store.init(join(dir, "store"), { compressor });
    const rss0 = process.memoryUsage().rss;
    let peak = rss0;
    const sampler = setInterval(() => {
      peak = Math.max(peak, process.memoryUsage().rss);
    }, 50);
    const t1 = performance.now();
    let r: Awaited<ReturnType<Store["ingest"]>>;
    try {
      r = await store.ingest([path], { name: "big" });
    } finally {
      clearInterval(sampler);
    }
    const ingestSeconds = (performance.now() - t1) / 1000;
    const f = r.manifest.files[0]!;
    expect(f.size).toBe(size);
    expect(f.sha256).toBe(wantSha);
    expect(f.layout).toBe("chunked");
    expect(f.parts.at(-1)!.offset).toBeGreaterThan(2 ** 32);
    expect(r.storedBytesAdded).toBeLessThan(10_000_000); // the random regions and one zero chunk

    const t2 = performance.now();
    const file = await store.openFile("big", "shard.bin");
    const got = createHash("sha256");
    let n = 0;
    for await (const chunk of file.stream()) {
      got.update(chunk);
      n += chunk.length;
    }
    const readSeconds = (performance.now() - t2) / 1000;
    expect(n).toBe(size);
    expect(got.digest("hex")).toBe(wantSha);
    const across = await file.read(2 ** 32 - 10, 2 ** 32 + 10);
    expect(sha(across)).toBe(sha(randomBytes(1_000_000, 22).subarray(500_000 - 10, 500_000 + 10)));

    const mb = size / 1e6;
    console.log(
      `4.2 GiB file: sha256 of the file ${(mb / hashSeconds).toFixed(0)} MB/s; ingest ${ingestSeconds.toFixed(1)} s ` +
        `(${(mb / ingestSeconds).toFixed(0)} MB/s); stream back ${(mb / readSeconds).toFixed(0)} MB/s; ` +
        `rss ${(rss0 / 2 ** 20).toFixed(0)} MiB before, peak ${(peak / 2 ** 20).toFixed(0)} MiB during the ingest`,
    );
    // A whole-file read would need 4.2 GB.
    expect(peak - rss0).toBeLessThan(512 * 2 ** 20);
  }, 900_000);
});
