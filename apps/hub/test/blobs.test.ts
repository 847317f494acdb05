import { spawn } from "node:child_process";
import { createHash, randomBytes } from "node:crypto";
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from "node:fs";
import { mkdir, readdir, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { LowbitError } from "@lowbit/bits";
import { encodeSafetensors, LOWBIT_METADATA_KEY, parseHeader } from "@lowbit/safetensors";
import { fsBackend, Store } from "@lowbit/store";
import { zstdCompressor } from "@lowbit/zstd";
import { afterAll, describe, expect, it } from "vitest";
import { Blobs, parseVariantQuery, recipeKey } from "../src/blobs.js";

const MODELS = "/work/shared/datasets/models";
const BASE = readFileSync(join(MODELS, "faceres.f16.safetensors"));
const DEEP = readFileSync(join(MODELS, "faceres-deep.f16.safetensors"));
const EXPR = readFileSync(join(MODELS, "face_expression.f32.safetensors"));

const dirs: string[] = [];
function tempDir(): string {
  const d = mkdtempSync(join(tmpdir(), "lowbit-blobs-"));
  dirs.push(d);
  return d;
}
afterAll(() => {
  for (const d of dirs) rmSync(d, { recursive: true, force: true });
});

function sha(data: Uint8Array): string {
  return createHash("sha256").update(data).digest("hex");
}

function info(data: Uint8Array) {
  return { sha256: sha(data), size: data.length };
}

async function* chunks(data: Uint8Array, size = 65536): AsyncGenerator<Uint8Array> {
  for (let i = 0; i < data.length; i += size) yield data.subarray(i, i + size);
}

/** A body that fails the test if anything reads it. */
const untouchable: AsyncIterable<Uint8Array> = {
  [Symbol.asyncIterator]() {
    throw new Error("the body was read");
  },
};

function tmpEntries(dir: string): string[] {
  return readdirSync(join(dir, "tmp"));
}

/** A small float32 safetensors file (two 2-D tensors, one 1-D), deterministic. */
function syntheticModel(seed: number, rows = 64, cols = 256): Uint8Array {
  let s = seed >>> 0;
  const next = () => {
    s = (s + 0x6d2b79f5) >>> 0;
    let t = s;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 2 ** 32 - 0.5;
  };
  const mat = () => Float32Array.from({ length: rows * cols }, next);
  return encodeSafetensors(
    {
      "a.weight": { dtype: "F32", shape: [rows, cols], data: mat() },
      "b.weight": { dtype: "F32", shape: [cols, rows], data: mat() },
      "b.bias": { dtype: "F32", shape: [rows], data: Float32Array.from({ length: rows }, next) },
    },
    { source: `synthetic-${seed}` },
  );
}

describe("recipeKey and parseVariantQuery", () => {
  it("parse query values as booleans, numbers or strings and canonicalize the key", () => {
    const r = parseVariantQuery(new URLSearchParams("symmetric=false&format=int4&group=128"));
    expect(r).toEqual({ format: "int4", options: { symmetric: false, group: 128 } });
    expect(recipeKey(r!)).toBe("int4;group=128;symmetric=false");
    // Same recipe, other parameter order: same key.
    const again = parseVariantQuery(new URLSearchParams("format=int4&group=128&symmetric=false"));
    expect(recipeKey(again!)).toBe(recipeKey(r!));
    expect(recipeKey({ format: "nf4", options: {} })).toBe("nf4");
    const f8 = parseVariantQuery(new URLSearchParams("format=float8_e4m3fn&scaling=channel"));
    expect(f8).toEqual({ format: "float8_e4m3fn", options: { scaling: "channel" } });
    expect(recipeKey(f8!)).toBe("float8_e4m3fn;scaling=channel");
    expect(recipeKey({ format: "int4", options: { group: 1e21 } })).toBe("int4;group=1e+21");
  });

  it("returns undefined without a format parameter", () => {
    expect(parseVariantQuery(new URLSearchParams(""))).toBeUndefined();
    expect(parseVariantQuery(new URLSearchParams("download=true"))).toBeUndefined();
  });

  it("rejects unknown formats and options with what is known, and repeated parameters", () => {
    expect(() => parseVariantQuery(new URLSearchParams("format=nf5"))).toThrow(RangeError);
    expect(() => parseVariantQuery(new URLSearchParams("format=nf5"))).toThrow(/known:.*nf4/);
    expect(() => parseVariantQuery(new URLSearchParams("format=nf4&groop=3"))).toThrow(
      /unknown option "groop" for nf4; its options: blockSize/,
    );
    expect(() => parseVariantQuery(new URLSearchParams("format=nf4&format=int4"))).toThrow(RangeError);
    expect(() => parseVariantQuery(new URLSearchParams("format=nf4&blockSize=64&blockSize=32"))).toThrow(
      RangeError,
    );
    expect(() => parseVariantQuery(new URLSearchParams("format=nf4&__proto__=1"))).toThrow(RangeError);
  });

  it("refuses recipes whose key would be ambiguous or malformed", () => {
    // "128" as a string would share the key of the number 128.
    expect(() => recipeKey({ format: "int4", options: { group: "128" } })).toThrow(RangeError);
    expect(() => recipeKey({ format: "int4", options: { clip: "true" } })).toThrow(RangeError);
    expect(() => recipeKey({ format: "int4", options: { group: Number.NaN } })).toThrow(RangeError);
    expect(() => recipeKey({ format: "int4", options: { group: null as unknown as number } })).toThrow(
      TypeError,
    );
    expect(() => recipeKey({ format: "", options: {} })).toThrow(TypeError);
    // Separators inside strings are escaped, so they cannot forge another option.
    expect(recipeKey({ format: "int4", options: { rounding: "a;group=4" } })).toBe(
      "int4;rounding=a%3Bgroup%3D4",
    );
  });
});

describe("Blobs", () => {
  it("receives a streamed upload, serves it back, and dedups a second upload without reading it", async () => {
    const dir = tempDir();
    const blobs = await Blobs.open({ dir });
    try {
      const want = info(BASE);
      expect(await blobs.has(want.sha256)).toBeUndefined();
      const got = await blobs.receive(chunks(BASE), want);
      expect(got).toEqual(want);
      expect(await blobs.has(want.sha256)).toEqual(want);
      expect(tmpEntries(dir)).toEqual([]);
      const again = await blobs.receive(untouchable, want);
      expect(again).toEqual(want);
      const f = await blobs.open(want.sha256);
      expect(f.size).toBe(BASE.length);
      expect(f.sha256).toBe(want.sha256);
      expect(sha(await f.read())).toBe(want.sha256);
      // put() of the same content is the same blob.
      expect(await blobs.put(new Uint8Array(BASE))).toEqual(want);
      const s = await blobs.stats();
      expect([...s.blobs.keys()]).toEqual([want.sha256]);
    } finally {
      await blobs.close();
    }
  });

  it("stores a fine-tune as a delta against its base (stored < 0.8 × logical)", async () => {
    const dir = tempDir();
    const blobs = await Blobs.open({ dir });
    try {
      await blobs.receive(chunks(BASE), info(BASE));
      await blobs.receive(chunks(DEEP, 1 << 20), info(DEEP));
      const s = await blobs.stats();
      const base = s.blobs.get(sha(BASE))!;
      const deep = s.blobs.get(sha(DEEP))!;
      expect(base.logicalBytes).toBe(BASE.length);
      expect(deep.logicalBytes).toBe(DEEP.length);
      // Measured 0.677 (delta/xor against faceres); without a base the zstd planes keep ~0.84.
      expect(deep.storedBytes).toBeLessThan(0.8 * deep.logicalBytes);
      expect(base.storedBytes).toBeGreaterThan(0.8 * base.logicalBytes);
      expect(s.logicalBytes).toBe(BASE.length + DEEP.length);
      expect(s.storedBytes).toBeLessThan(s.logicalBytes);
      expect(s.variants).toEqual({ count: 0, logicalBytes: 0, storedBytes: 0 });
      // Byte-identical back, whole and ranged.
      const f = await blobs.open(sha(DEEP));
      expect(Buffer.compare(Buffer.from(await f.read()), DEEP)).toBe(0);
    } finally {
      await blobs.close();
    }
  });

  it("serves ranges byte-identical to the source, by read and by stream", async () => {
    const dir = tempDir();
    const blobs = await Blobs.open({ dir });
    try {
      await blobs.put(new Uint8Array(BASE));
      const f = await blobs.open(sha(BASE));
      const n = BASE.length;
      const ranges: [number, number][] = [
        [0, 0],
        [0, 1],
        [0, 8],
        [7, 4096],
        [123_457, 987_654],
        [n - 1, n],
        [n, n],
        [1_000_003, n],
        [0, n],
      ];
      for (const [a, b] of ranges) {
        const got = await f.read(a, b);
        expect(got.length).toBe(b - a);
        expect(Buffer.compare(Buffer.from(got), BASE.subarray(a, b))).toBe(0);
        const parts: Buffer[] = [];
        for await (const c of f.stream(a, b)) parts.push(Buffer.from(c));
        expect(Buffer.compare(Buffer.concat(parts), BASE.subarray(a, b))).toBe(0);
      }
      await expect(f.read(0, n + 1)).rejects.toThrow(RangeError);
      await expect(f.read(5, 4)).rejects.toThrow(RangeError);
    } finally {
      await blobs.close();
    }
  });

  it("NotFoundError for an absent blob, RangeError for a malformed sha256", async () => {
    const blobs = await Blobs.open({ dir: tempDir() });
    try {
      await expect(blobs.open("0".repeat(64))).rejects.toMatchObject({ code: "ERR_NOT_FOUND" });
      await expect(blobs.open("0".repeat(63))).rejects.toThrow(RangeError);
      await expect(blobs.has("ABC")).rejects.toThrow(RangeError);
      await expect(blobs.receive(untouchable, { sha256: "x", size: 1 })).rejects.toThrow(RangeError);
      await expect(blobs.receive(untouchable, { sha256: "0".repeat(64), size: -1 })).rejects.toThrow(
        RangeError,
      );
    } finally {
      await blobs.close();
    }
  });

  it("a wrong sha256 or a short body → IntegrityError naming both hashes; nothing stored, no temp left", async () => {
    const dir = tempDir();
    const blobs = await Blobs.open({ dir });
    try {
      const data = randomBytes(300_000);
      const claimed = "ab".repeat(32);
      const err = await blobs.receive(chunks(data), { sha256: claimed, size: data.length }).catch((e) => e);
      expect(err).toBeInstanceOf(LowbitError);
      expect(err.code).toBe("ERR_INTEGRITY");
      expect(err.message).toContain(claimed);
      expect(err.message).toContain(sha(data));
      expect(await blobs.has(claimed)).toBeUndefined();
      expect(await blobs.has(sha(data))).toBeUndefined();
      // Fewer bytes than announced.
      const short = await blobs.receive(chunks(data.subarray(0, 1000)), info(data)).catch((e) => e);
      expect(short.code).toBe("ERR_INTEGRITY");
      expect(short.message).toContain("1000 bytes");
      expect(await blobs.has(sha(data))).toBeUndefined();
      expect(tmpEntries(dir)).toEqual([]);
      expect((await blobs.stats()).blobs.size).toBe(0);
    } finally {
      await blobs.close();
    }
  });

  it("too many bytes → LimitExceededError, reading stops at once; a size over the limit is refused unread", async () => {
    const dir = tempDir();
    const blobs = await Blobs.open({ dir, maxUploadBytes: 1 << 20 });
    try {
      let pulled = 0;
      let closed = false;
      async function* endless(): AsyncGenerator<Uint8Array> {
        try {
          for (;;) {
            pulled++;
            yield new Uint8Array(4096);
          }
        } finally {
          closed = true;
        }
      }
      const err = await blobs.receive(endless(), { sha256: "cd".repeat(32), size: 10_000 }).catch((e) => e);
      expect(err).toBeInstanceOf(LowbitError);
      expect(err.code).toBe("ERR_LIMIT");
      // The third chunk crosses 10,000 bytes: nothing after it is pulled, and the producer is closed.
      expect(pulled).toBe(3);
      expect(closed).toBe(true);
      expect(tmpEntries(dir)).toEqual([]);
      await expect(
        blobs.receive(untouchable, { sha256: "cd".repeat(32), size: (1 << 20) + 1 }),
      ).rejects.toMatchObject({ code: "ERR_LIMIT" });
      await expect(blobs.put(new Uint8Array((1 << 20) + 1))).rejects.toMatchObject({ code: "ERR_LIMIT" });
      // Exactly the limit is fine.
      const max = randomBytes(1 << 20);
      expect(await blobs.receive(chunks(max), info(max))).toEqual(info(max));
    } finally {
      await blobs.close();
    }
  });

  it("an abort during an upload rejects with AbortError, even while the body stalls; nothing stored", async () => {
    const dir = tempDir();
    const blobs = await Blobs.open({ dir });
    try {
      const data = randomBytes(200_000);
      const ac = new AbortController();
      let stalled = false;
      async function* stalling(): AsyncGenerator<Uint8Array> {
        yield data.subarray(0, 100_000);
        stalled = true;
        setTimeout(() => ac.abort(), 20);
        await new Promise(() => undefined);
      }
      const err = await blobs.receive(stalling(), info(data), { signal: ac.signal }).catch((e) => e);
      expect(stalled).toBe(true);
      expect(err.name).toBe("AbortError");
      expect(await blobs.has(sha(data))).toBeUndefined();
      expect(tmpEntries(dir)).toEqual([]);
      // An already aborted signal: nothing is read.
      await expect(
        blobs.receive(untouchable, info(data), { signal: AbortSignal.abort() }),
      ).rejects.toMatchObject({
        name: "AbortError",
      });
      // The same upload retried works.
      expect(await blobs.receive(chunks(data), info(data))).toEqual(info(data));
    } finally {
      await blobs.close();
    }
  });

  it("a corrupted object makes reads fail with ERR_INTEGRITY, never return wrong bytes", async () => {
    const dir = tempDir();
    const data = syntheticModel(7, 128, 512);
    const id = sha(data);
    let blobs = await Blobs.open({ dir });
    await blobs.put(data);
    await blobs.close();

    // Which object holds which byte range (from the store's own manifest).
    const compressor = zstdCompressor({ threads: 0 });
    const store = await Store.open(join(dir, "store"), { compressor });
    const parts = (await store.manifest(`blob/${id}`)).files[0]!.parts;
    await store.close();
    await compressor.close();
    const biggest = [...parts].sort((a, b) => b.length - a.length)[0]!;
    const objectPath = join(dir, "store", "objects", biggest.object.slice(0, 2), biggest.object.slice(2));
    const original = readFileSync(objectPath);
    const other = parts.find((p) => p.object !== biggest.object)!;

    for (const where of [original.length - 1, original.length >> 1, 12]) {
      const bad = Buffer.from(original);
      bad[where]! ^= 0x04;
      writeFileSync(objectPath, bad);
      blobs = await Blobs.open({ dir });
      try {
        const f = await blobs.open(id);
        const err = await f.read().catch((e) => e);
        expect(err).toBeInstanceOf(LowbitError);
        expect(err.code).toBe("ERR_INTEGRITY");
        expect(err.message).toContain(`blob ${id}`);
        // The cause is what the store itself said (ERR_CORRUPT or ERR_INTEGRITY, by where the flip lands).
        expect(["ERR_CORRUPT", "ERR_INTEGRITY"]).toContain(err.cause.code);
        await expect(f.read(biggest.offset, biggest.offset + 1)).rejects.toMatchObject({
          code: "ERR_INTEGRITY",
        });
        const streamed = (async () => {
          for await (const _ of f.stream()) {
            // drain
          }
        })();
        await expect(streamed).rejects.toMatchObject({ code: "ERR_INTEGRITY" });
        // The damage stays local: other parts still read right.
        const ok = await f.read(other.offset, other.offset + other.length);
        expect(
          Buffer.compare(
            Buffer.from(ok),
            Buffer.from(data.subarray(other.offset, other.offset + other.length)),
          ),
        ).toBe(0);
      } finally {
        await blobs.close();
      }
    }
    // A missing object is an integrity failure too, not "no such blob".
    rmSync(objectPath);
    blobs = await Blobs.open({ dir });
    try {
      await expect((await blobs.open(id)).read()).rejects.toMatchObject({ code: "ERR_INTEGRITY" });
    } finally {
      await blobs.close();
    }
  });

  it("computes an nf4 variant once, caches it, and serves valid lowbit safetensors", async () => {
    const dir = tempDir();
    const blobs = await Blobs.open({ dir });
    try {
      const source = await blobs.put(new Uint8Array(EXPR));
      const recipe = { format: "nf4", options: {} };
      expect(await blobs.cachedVariant(source.sha256, recipe)).toBeUndefined();
      await expect(blobs.openVariant(source.sha256, recipe)).rejects.toMatchObject({ code: "ERR_NOT_FOUND" });
      const first = await blobs.variant(source, recipe);
      expect(first).toMatchObject({ recipe: "nf4", cached: false });
      expect(first.size).toBeLessThan(EXPR.length / 4);
      const second = await blobs.variant(source, recipe);
      expect(second).toEqual({ ...first, cached: true });
      expect(await blobs.cachedVariant(source.sha256, recipe)).toEqual(second);

      const f = await blobs.openVariant(source.sha256, recipe);
      const bytes = await f.read();
      expect(sha(bytes)).toBe(first.sha256);
      const h = parseHeader(bytes);
      const meta = JSON.parse(h.metadata[LOWBIT_METADATA_KEY]!);
      expect(meta).toBeTypeOf("object");
      expect(JSON.stringify(meta)).toContain("nf4");
      // The source blob is untouched and no temp file is left.
      expect(sha(await (await blobs.open(source.sha256)).read())).toBe(source.sha256);
      expect(tmpEntries(dir)).toEqual([]);
      const s = await blobs.stats();
      expect(s.variants.count).toBe(1);
      expect(s.variants.logicalBytes).toBe(first.size);
      expect(s.blobs.size).toBe(1);
    } finally {
      await blobs.close();
    }
  });

  it("concurrent requests for one variant share one computation; one caller's abort leaves the others", async () => {
    const dir = tempDir();
    const blobs = await Blobs.open({ dir });
    try {
      const source = await blobs.put(new Uint8Array(EXPR));
      const recipe = { format: "int8", options: {} };
      // Count the work folders while it runs: two computations would make two.
      let most = 0;
      let watching = true;
      const watch = (async () => {
        while (watching) {
          const n = (await readdir(join(dir, "tmp"))).filter((e) => e.startsWith("variant-")).length;
          most = Math.max(most, n);
          await new Promise((r) => setTimeout(r, 2));
        }
      })();
      const [a, b, c] = await Promise.all([
        blobs.variant(source, recipe),
        blobs.variant(source, recipe),
        blobs.variant(source, recipe),
      ]).finally(() => {
        watching = false;
      });
      await watch;
      expect(most).toBe(1);
      expect(a!.cached).toBe(false);
      expect(b).toEqual(a);
      expect(c).toEqual(a);
      expect((await blobs.stats()).variants.count).toBe(1);
      expect(await blobs.variant(source, recipe)).toEqual({ ...a, cached: true });

      // The caller that started the work gives up: the ones that joined still get it.
      const other = { format: "int8", options: { symmetric: false } };
      const quitter = new AbortController();
      const calls = [
        blobs.variant(source, other, { signal: quitter.signal }),
        blobs.variant(source, other),
        blobs.variant(source, other),
      ];
      quitter.abort();
      const [quit, x, y] = await Promise.allSettled(calls);
      expect(quit).toMatchObject({ status: "rejected", reason: { name: "AbortError" } });
      expect(x).toMatchObject({
        status: "fulfilled",
        value: { recipe: "int8;symmetric=false", cached: false },
      });
      expect(y).toEqual(x);

      // A lone caller's abort stops the work; nothing is cached, nothing left behind.
      const lone = new AbortController();
      const third = { format: "int4", options: {} };
      const pending = blobs.variant(source, third, { signal: lone.signal });
      setTimeout(() => lone.abort(), 5);
      await expect(pending).rejects.toMatchObject({ name: "AbortError" });
      await blobs.close();
      expect(await (await Blobs.open({ dir })).cachedVariant(source.sha256, third)).toBeUndefined();
      expect(tmpEntries(dir)).toEqual([]);
    } finally {
      await blobs.close();
    }
  });

  it("checks the recipe before any work, and refuses sources that are not safetensors or absent", async () => {
    const dir = tempDir();
    const blobs = await Blobs.open({ dir });
    try {
      const absent = { sha256: "0".repeat(64), size: 10 };
      // Bad recipes fail before the (absent) source is even looked up.
      await expect(blobs.variant(absent, { format: "nf5", options: {} })).rejects.toThrow(
        /unknown format "nf5"/,
      );
      await expect(blobs.variant(absent, { format: "nf4", options: { groop: 1 } })).rejects.toThrow(
        RangeError,
      );
      await expect(blobs.variant(absent, { format: "nf4", options: { doubleQuant: 3 } })).rejects.toThrow(
        TypeError,
      );
      await expect(blobs.variant(absent, { format: "nf4", options: {} })).rejects.toMatchObject({
        code: "ERR_NOT_FOUND",
      });

      const junk = await blobs.put(randomBytes(5000));
      const err = await blobs.variant(junk, { format: "nf4", options: {} }).catch((e) => e);
      expect(err).toBeInstanceOf(LowbitError);
      expect(err.code).toBe("ERR_UNSUPPORTED");
      expect(err.message).toContain("is not a safetensors file");
      const tiny = await blobs.put(new Uint8Array([1, 2, 3]));
      await expect(blobs.variant(tiny, { format: "nf4", options: {} })).rejects.toMatchObject({
        code: "ERR_UNSUPPORTED",
      });
      // A valid-looking length with a header that is not JSON.
      const fake = new Uint8Array(64);
      new DataView(fake.buffer).setBigUint64(0, 16n, true);
      const fakeInfo = await blobs.put(fake);
      await expect(blobs.variant(fakeInfo, { format: "nf4", options: {} })).rejects.toThrow(
        /is not a safetensors file/,
      );
      expect(tmpEntries(dir)).toEqual([]);
      expect((await blobs.stats()).variants.count).toBe(0);
    } finally {
      await blobs.close();
    }
  });

  it("puts objects in the given backend instead of <dir>/store, and reopens it", async () => {
    const dir = tempDir();
    const elsewhere = tempDir();
    const data = randomBytes(70_000);
    let blobs = await Blobs.open({ dir, backend: fsBackend(elsewhere) });
    await blobs.put(data);
    await blobs.close();
    expect(existsSync(join(dir, "store"))).toBe(false);
    expect(readdirSync(join(elsewhere, "objects")).length).toBeGreaterThan(0);
    blobs = await Blobs.open({ dir, backend: fsBackend(elsewhere) });
    try {
      expect(sha(await (await blobs.open(sha(data))).read())).toBe(sha(data));
    } finally {
      await blobs.close();
    }
  });

  it("removes temp files left by a crash when it opens", async () => {
    const dir = tempDir();
    let blobs = await Blobs.open({ dir });
    const data = randomBytes(100_000);
    await blobs.put(data);
    await blobs.close();
    await mkdir(join(dir, "tmp", "upload-0123456789abcdef"), { recursive: true });
    await writeFile(join(dir, "tmp", "upload-0123456789abcdef", "blob"), randomBytes(1000));
    await writeFile(join(dir, "tmp", "stray.part"), randomBytes(10));
    blobs = await Blobs.open({ dir });
    try {
      expect(tmpEntries(dir)).toEqual([]);
      expect(sha(await (await blobs.open(sha(data))).read())).toBe(sha(data));
    } finally {
      await blobs.close();
    }
  });

  it("after kill -9 during an upload: no blob, no temp file, and the upload can be retried", async () => {
    const dir = tempDir();
    const data = randomBytes(3 << 20);
    const script = join(dir, "child.mts");
    // The child streams 2 MiB of the 3 MiB upload, says so, then stalls until killed.
    writeFileSync(
      script,
      `import { Blobs } from ${JSON.stringify(fileURLToPath(new URL("../src/blobs.ts", import.meta.url)))};
const blobs = await Blobs.open({ dir: ${JSON.stringify(dir)} });
const data = new Uint8Array(${3 << 20});
async function* body() {
  yield data.subarray(0, 1 << 20);
  yield data.subarray(1 << 20, 2 << 20);
  process.stdout.write("ready\\n");
  await new Promise(() => undefined);
}
await blobs.receive(body(), { sha256: ${JSON.stringify(sha(data))}, size: ${data.length} });
`,
    );
    const child = spawn(fileURLToPath(new URL("../../../node_modules/.bin/tsx", import.meta.url)), [script], {
      stdio: ["ignore", "pipe", "pipe"],
    });
    let stderr = "";
    child.stderr.on("data", (d) => {
      stderr += String(d);
    });
    await new Promise<void>((ok, fail) => {
      child.stdout.on("data", (d) => {
        if (String(d).includes("ready")) ok();
      });
      child.on("exit", (code) =>
        fail(new Error(`child exited (${code}) before the upload started: ${stderr}`)),
      );
    });
    const left = tmpEntries(dir);
    expect(left).toHaveLength(1);
    expect(statSync(join(dir, "tmp", left[0]!, "blob")).size).toBe(2 << 20);
    child.kill("SIGKILL");
    await new Promise((r) => child.once("exit", r));

    const blobs = await Blobs.open({ dir });
    try {
      expect(tmpEntries(dir)).toEqual([]);
      expect(await blobs.has(sha(data))).toBeUndefined();
      expect(await blobs.receive(chunks(data), info(data))).toEqual(info(data));
    } finally {
      await blobs.close();
    }
  });

  it("gc removes unreferenced blobs and their variants, keeps young ones within the grace period", async () => {
    const dir = tempDir();
    const blobs = await Blobs.open({ dir });
    try {
      const keep = await blobs.put(syntheticModel(1));
      const drop = await blobs.put(syntheticModel(2));
      await blobs.variant(drop, { format: "int8", options: {} });
      await blobs.variant(keep, { format: "int8", options: {} });
      const before = await blobs.stats();
      expect(before.blobs.size).toBe(2);
      expect(before.variants.count).toBe(2);

      // Default grace (1 h): just-uploaded blobs may be waiting for their commit.
      expect(await blobs.gc(new Set([keep.sha256]))).toEqual({ removed: 0 });
      expect(await blobs.has(drop.sha256)).toEqual(drop);

      expect(await blobs.gc(new Set([keep.sha256]), { graceMs: 0 })).toEqual({ removed: 1 });
      expect(await blobs.has(drop.sha256)).toBeUndefined();
      await expect(blobs.open(drop.sha256)).rejects.toMatchObject({ code: "ERR_NOT_FOUND" });
      expect(await blobs.cachedVariant(drop.sha256, { format: "int8", options: {} })).toBeUndefined();
      expect(await blobs.cachedVariant(keep.sha256, { format: "int8", options: {} })).toBeDefined();
      const after = await blobs.stats();
      expect([...after.blobs.keys()]).toEqual([keep.sha256]);
      expect(after.variants.count).toBe(1);
      expect(after.storedBytes).toBeLessThan(before.storedBytes);
      expect(sha(await (await blobs.open(keep.sha256)).read())).toBe(keep.sha256);
      await expect(blobs.gc(new Set(), { graceMs: -1 })).rejects.toThrow(RangeError);
    } finally {
      await blobs.close();
    }
  });

  it("stats are reused for a moment but never miss a stored blob", async () => {
    const blobs = await Blobs.open({ dir: tempDir() });
    try {
      const a = await blobs.put(randomBytes(10_000));
      const s1 = await blobs.stats();
      expect(await blobs.stats()).toBe(s1);
      const b = await blobs.put(randomBytes(10_000));
      const s2 = await blobs.stats();
      expect(s2).not.toBe(s1);
      expect([...s2.blobs.keys()].sort()).toEqual([a.sha256, b.sha256].sort());
    } finally {
      await blobs.close();
    }
  });

  it("close waits for work under way, keeps a compressor it was given, then refuses calls", async () => {
    const compressor = zstdCompressor({ threads: 1 });
    try {
      const blobs = await Blobs.open({ dir: tempDir(), compressor });
      const data = randomBytes(500_000);
      const pending = blobs.receive(chunks(data, 4096), info(data));
      await blobs.close();
      expect(await pending).toEqual(info(data));
      await expect(blobs.has(sha(data))).rejects.toThrow(/closed/);
      await expect(blobs.put(data)).rejects.toThrow(/closed/);
      await blobs.close();
      // Still usable: close() only closes a compressor it created.
      const round = await compressor.decompressAsync!(await compressor.compressAsync!(data), data.length);
      expect(Buffer.compare(Buffer.from(round), data)).toBe(0);
    } finally {
      await compressor.close();
    }
  });
});
