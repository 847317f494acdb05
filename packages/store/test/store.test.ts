import { type ChildProcess, spawn } from "node:child_process";
import { createHash } from "node:crypto";
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { zstdCompressor } from "@lowbit/zstd";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { fsBackend, Store } from "../src/index.js";

function repoRootDir(): string {
  let dir = dirname(fileURLToPath(import.meta.url));
  while (!existsSync(join(dir, "turbo.json"))) {
    const up = dirname(dir);
    if (up === dir) throw new Error("no turbo.json above the test file");
    dir = up;
  }
  return dir;
}
const repoRoot = repoRootDir();
const env = process.env["LOWBIT_SHARED"];
const models = join(
  env !== undefined && env !== "" ? resolve(env) : resolve(repoRoot, "..", "shared"),
  "datasets",
  "models",
);
const sha = (b: Uint8Array) => createHash("sha256").update(b).digest("hex");
const compressor = zstdCompressor({ threads: 0 });

function objectFiles(root: string): string[] {
  const out: string[] = [];
  const walk = (d: string) => {
    for (const e of readdirSync(d, { withFileTypes: true })) {
      if (e.isDirectory()) walk(join(d, e.name));
      else out.push(join(d, e.name));
    }
  };
  walk(join(root, "objects"));
  return out;
}

describe("Store on real weights (faceres f16 pair)", () => {
  let dir: string;
  let store: Store;
  const base = readFileSync(join(models, "faceres.f16.safetensors"));
  const deep = readFileSync(join(models, "faceres-deep.f16.safetensors"));

  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), "lowbit-store-"));
    store = await Store.init(join(dir, "store"), { compressor });
    await store.ingest([join(models, "faceres.f16.safetensors")], { name: "faceres" });
  });
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it("picks the base automatically and stores the fine-tune under 0.68 of its size", async () => {
    const r = await store.ingest([join(models, "faceres-deep.f16.safetensors")], {
      name: "org/faceres-deep",
    });
    expect(r.base).toBe("faceres");
    expect(r.manifest.base).toBe("faceres");
    expect(r.logicalBytes).toBe(deep.length);
    expect(r.storedBytesAdded / r.logicalBytes).toBeLessThan(0.68);
    expect(r.parts.delta).toBeGreaterThan(0);
  });

  it("restores byte-identical files", async () => {
    const out = join(dir, "out");
    const r = await store.restore("org/faceres-deep", out);
    expect(r.bytes).toBe(deep.length);
    expect(sha(readFileSync(join(out, "faceres-deep.f16.safetensors")))).toBe(sha(deep));
    await store.restore("faceres", out);
    expect(sha(readFileSync(join(out, "faceres.f16.safetensors")))).toBe(sha(base));
    await expect(store.restore("faceres", out)).rejects.toMatchObject({ code: "ERR_CONFLICT" });
    await store.restore("faceres", out, { overwrite: true });
  });

  it("serves byte ranges that cross part boundaries without restoring the file", async () => {
    const f = await store.openFile("org/faceres-deep", "faceres-deep.f16.safetensors");
    expect(f.size).toBe(deep.length);
    for (const [a, b] of [
      [0, 8],
      [0, 20_000],
      [5_000, 1_500_000],
      [deep.length - 100, deep.length],
      [77, 77],
    ] as const) {
      expect(Buffer.from(await f.read(a, b)).equals(deep.subarray(a, b))).toBe(true);
    }
    await expect(f.read(0, deep.length + 1)).rejects.toThrow(RangeError);
    let streamed = 0;
    for await (const chunk of f.stream(100, 300_000)) streamed += chunk.length;
    expect(streamed).toBe(299_900);
  });

  it("stores a second copy of a file under another name and path for nothing but its manifest", async () => {
    const r = await store.ingest([{ path: "weights/copy.safetensors", data: new Uint8Array(base) }], {
      name: "copy",
      base: null,
    });
    expect(r.storedBytesAdded).toBe(0);
    expect(r.parts.dedup).toBeGreaterThan(0);
    const f = await store.openFile("copy", "weights/copy.safetensors");
    expect(sha(await f.read())).toBe(sha(base));
  });

  it("widens an f16 base for an f32 fine-tune and stays byte-identical", async () => {
    const f32 = readFileSync(join(models, "faceres-deep.f32.safetensors"));
    const r = await store.ingest([join(models, "faceres-deep.f32.safetensors")], {
      name: "deep-f32",
      base: "faceres",
    });
    expect(r.base).toBe("faceres");
    expect(r.storedBytesAdded / r.logicalBytes).toBeLessThan(0.8);
    const f = await store.openFile("deep-f32", "faceres-deep.f32.safetensors");
    expect(sha(await f.read())).toBe(sha(f32));
  });

  it("stores BitDelta (lossy) tensors, marked in the manifest with their error", async () => {
    const r = await store.ingest([join(models, "faceres-deep.f16.safetensors")], {
      name: "deep-bitdelta",
      base: "faceres",
      lossy: "bitdelta",
    });
    expect(r.parts.bitdelta).toBeGreaterThan(50);
    const file = r.manifest.files[0]!;
    expect(file.lossy?.method).toBe("bitdelta");
    expect(file.lossy?.originalSha256).toBe(sha(deep));
    expect(file.sha256).not.toBe(sha(deep));
    const errors = Object.values(file.lossy!.tensors).map((t) => t.relativeError);
    expect(errors.every((e) => e >= 0 && e < 1)).toBe(true);
    expect(r.storedBytesAdded / r.logicalBytes).toBeLessThan(0.15);
    const restored = await (await store.openFile("deep-bitdelta", "faceres-deep.f16.safetensors")).read();
    expect(sha(restored)).toBe(file.sha256);
    expect(restored.length).toBe(deep.length);
    // The header is kept verbatim, so the lossy file is still a valid safetensors file.
    expect(Buffer.from(restored.subarray(0, 1000)).equals(deep.subarray(0, 1000))).toBe(true);
    expect((await store.list()).find((m) => m.name === "deep-bitdelta")?.lossy).toBe(true);
  });

  it("reports logical and stored bytes per model, each object counted once", async () => {
    const s = await store.stats();
    const byName = new Map(s.models.map((m) => [m.name, m]));
    expect(byName.get("faceres")!.logicalBytes).toBe(base.length);
    expect(byName.get("copy")!.storedBytes).toBe(0);
    expect(byName.get("org/faceres-deep")!.ratio).toBeLessThan(0.68);
    const attributed = s.models.reduce((a, m) => a + m.storedBytes, 0);
    expect(attributed).toBeLessThanOrEqual(s.storedBytes);
    expect(s.byCodec.delta.objects).toBeGreaterThan(0);
  });

  it("verify names a corrupted object and the models it breaks; reads never return its bytes", async () => {
    const v0 = await store.verify();
    expect(v0.ok).toBe(true);
    // Corrupt the largest object (a delta-coded tensor of org/faceres-deep or a base tensor).
    const root = join(dir, "store");
    const files = objectFiles(root).sort((a, b) => statSync(b).size - statSync(a).size);
    const victim = files[0]!;
    const bytes = readFileSync(victim);
    const flipped = Buffer.from(bytes);
    flipped[flipped.length - 10] ^= 0x40;
    writeFileSync(victim, flipped);
    const v = await store.verify();
    expect(v.ok).toBe(false);
    const id = victim.slice(join(root, "objects").length + 1).replace(/[\\/]/, "");
    const p = v.problems.find((x) => x.key.replace(/objects\/|\//g, "") === id);
    expect(p).toBeDefined();
    expect(p!.models.length).toBeGreaterThan(0);
    // A fresh store instance (no cache) refuses to read the damaged file.
    const fresh = await Store.open(root, { compressor });
    const model = p!.models.find((m) => m !== "deep-bitdelta") ?? p!.models[0]!;
    const m = await fresh.manifest(model);
    await expect(fresh.restore(model, join(dir, "damaged"))).rejects.toMatchObject({
      code: expect.stringMatching(/ERR_(CORRUPT|INTEGRITY)/),
    });
    expect(existsSync(join(dir, "damaged", m.files[0]!.path))).toBe(false);
    writeFileSync(victim, bytes);
    expect((await Store.open(root, { compressor }).then((s) => s.verify())).ok).toBe(true);
  });

  it("gc removes what no model reaches, after the grace period only", async () => {
    const before = await store.stats();
    await store.remove("deep-bitdelta");
    expect((await store.gc()).objectsRemoved).toBe(0); // within the default one-hour grace
    const g = await store.gc({ graceMs: 0 });
    expect(g.objectsRemoved).toBeGreaterThan(50);
    const after = await store.stats();
    expect(after.storedBytes).toBeLessThan(before.storedBytes);
    expect((await store.verify()).ok).toBe(true);
    const out = join(dir, "after-gc");
    await store.restore("org/faceres-deep", out);
    expect(sha(readFileSync(join(out, "faceres-deep.f16.safetensors")))).toBe(sha(deep));
  });
});

describe("Store with opaque and malformed files", () => {
  let dir: string;
  let store: Store;
  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), "lowbit-store-"));
    store = await Store.init(join(dir, "store"), { compressor });
  });
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it("chunks non-safetensors files, dedups identical ones, and keeps malformed safetensors as opaque bytes", async () => {
    const onnx = readFileSync(join(models, "silero_vad_v5.onnx"));
    const good = readFileSync(join(models, "face_expression.f32.safetensors"));
    const truncated = good.subarray(0, good.length - 1000);
    const badHeader = Buffer.from(good);
    badHeader.writeUInt32LE(0xffffff, 0);
    const files = [
      { path: "model.onnx", data: new Uint8Array(onnx) },
      { path: "sub/dir/truncated.safetensors", data: new Uint8Array(truncated) },
      { path: "bad-header.safetensors", data: new Uint8Array(badHeader) },
      { path: "config.json", data: new TextEncoder().encode('{"a":1}\n') },
      { path: "empty.txt", data: new Uint8Array(0) },
    ];
    const phases = new Set<string>();
    const r = await store.ingest(files, { name: "mixed", onProgress: (p) => phases.add(p.phase) });
    expect(phases.has("encode")).toBe(true);
    const layouts = Object.fromEntries(r.manifest.files.map((f) => [f.path, f.layout]));
    expect(layouts["model.onnx"]).toBe("chunked");
    expect(layouts["sub/dir/truncated.safetensors"]).toBe("chunked");
    expect(layouts["config.json"]).toBe("small");
    const out = join(dir, "out");
    await store.restore("mixed", out);
    for (const f of files) expect(sha(readFileSync(join(out, ...f.path.split("/"))))).toBe(sha(f.data));
    // The same ONNX bytes in another model cost nothing.
    const again = await store.ingest([{ path: "v6.onnx", data: new Uint8Array(onnx) }], { name: "again" });
    expect(again.storedBytesAdded).toBe(0);
  });

  it("rejects bad names, conflicts, escaping paths and foreign directories with clear errors", async () => {
    await expect(store.ingest([{ path: "a", data: new Uint8Array(1) }], { name: "../x" })).rejects.toThrow(
      RangeError,
    );
    await expect(store.ingest([{ path: "../a", data: new Uint8Array(1) }], { name: "ok" })).rejects.toThrow(
      RangeError,
    );
    await expect(
      store.ingest([{ path: "a", data: new Uint8Array(1) }], { name: "mixed" }),
    ).rejects.toMatchObject({ code: "ERR_CONFLICT" });
    await expect(
      store.ingest([{ path: "a", data: new Uint8Array(1) }], { name: "x", base: "nope" }),
    ).rejects.toMatchObject({ code: "ERR_NOT_FOUND" });
    await expect(store.restore("nope", join(dir, "x"))).rejects.toMatchObject({ code: "ERR_NOT_FOUND" });
    await expect(Store.open(join(dir, "not-a-store"), { compressor })).rejects.toMatchObject({
      code: "ERR_NOT_FOUND",
    });
    await expect(Store.init(join(dir, "store"), { compressor })).rejects.toMatchObject({
      code: "ERR_CONFLICT",
    });
    await expect(Store.open(join(dir, "store"), {} as never)).rejects.toThrow(TypeError);
    // A manifest whose file path escapes the output directory is refused.
    const backend = fsBackend(join(dir, "store"));
    const evil = {
      format: "lowbit-store-manifest",
      version: 1,
      name: "evil",
      base: null,
      createdAt: new Date().toISOString(),
      logicalBytes: 0,
      files: [{ path: "../../escaped", size: 0, sha256: sha(new Uint8Array(0)), layout: "small", parts: [] }],
    };
    await backend.put(
      `models/${Buffer.from("evil").toString("hex")}.json`,
      new TextEncoder().encode(JSON.stringify(evil)),
    );
    await expect(store.restore("evil", join(dir, "evil-out"))).rejects.toMatchObject({ code: "ERR_CORRUPT" });
    expect(existsSync(join(dir, "escaped"))).toBe(false);
    await backend.delete(`models/${Buffer.from("evil").toString("hex")}.json`);
    // A store written by a newer version is refused, not misread.
    const newer = mkdtempSync(join(tmpdir(), "lowbit-store-newer-"));
    writeFileSync(join(newer, "lowbit-store.json"), JSON.stringify({ format: "lowbit-store", version: 99 }));
    await expect(Store.open(newer, { compressor })).rejects.toMatchObject({ code: "ERR_UNSUPPORTED" });
    rmSync(newer, { recursive: true });
  });
});

const CHILD = `
import { Store } from ${JSON.stringify(join(repoRoot, "packages/store/src/index.ts"))};
import { zstdCompressor } from ${JSON.stringify(join(repoRoot, "packages/zstd/src/index.ts"))};
const [root, models] = process.argv.slice(2);
const store = await Store.open(root, { compressor: zstdCompressor({ threads: 0 }) });
process.stdout.write("ready\\n");
await store.ingest([models + "/faceres-deep.f16.safetensors"], { name: "victim", base: "faceres", onProgress: (p) => p.phase === "encode" && process.stdout.write("part\\n") });
process.stdout.write("done\\n");
`;

describe("kill -9 during an ingest", () => {
  it("leaves a consistent store: verify passes, gc cleans up, a re-ingest succeeds", async () => {
    const dir = mkdtempSync(join(tmpdir(), "lowbit-store-kill-"));
    try {
      const root = join(dir, "store");
      const store = await Store.init(root, { compressor });
      await store.ingest([join(models, "faceres.f16.safetensors")], { name: "faceres" });
      const script = join(dir, "child.mts");
      writeFileSync(script, CHILD);
      for (const partsBeforeKill of [3, 40, 90]) {
        const child: ChildProcess = spawn(process.execPath, ["--import", "tsx", script, root, models], {
          cwd: repoRoot,
          stdio: ["ignore", "pipe", "pipe"],
        });
        let parts = 0;
        let finished = false;
        const exited = new Promise<void>((r) => child.on("exit", () => r()));
        await new Promise<void>((ready) => {
          child.stdout!.on("data", (d: Buffer) => {
            const text = d.toString();
            parts += text.split("\n").filter((l) => l === "part").length;
            if (text.includes("done")) finished = true;
            if (parts >= partsBeforeKill || finished) ready();
          });
          child.on("exit", () => ready());
        });
        child.kill("SIGKILL");
        await exited;
        const s = await Store.open(root, { compressor });
        const v = await s.verify();
        expect(v.problems).toEqual([]);
        const names = (await s.list()).map((m) => m.name);
        // Either the ingest committed (complete model) or the model does not exist: never half of one.
        if (names.includes("victim")) {
          const f = await s.openFile("victim", "faceres-deep.f16.safetensors");
          expect(sha(await f.read())).toBe(sha(readFileSync(join(models, "faceres-deep.f16.safetensors"))));
          await s.remove("victim");
        }
        await s.gc({ graceMs: 0 });
      }
      const s = await Store.open(root, { compressor });
      const r = await s.ingest([join(models, "faceres-deep.f16.safetensors")], {
        name: "victim",
        base: "faceres",
      });
      expect(r.storedBytesAdded / r.logicalBytes).toBeLessThan(0.68);
      expect((await s.verify()).ok).toBe(true);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  }, 120_000);
});
