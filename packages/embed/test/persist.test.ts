import { type ChildProcess, spawn } from "node:child_process";
import {
  existsSync,
  mkdirSync,
  readdirSync,
  readFileSync,
  statSync,
  truncateSync,
  writeFileSync,
} from "node:fs";
import { mkdtemp, rm } from "node:fs/promises";
import { hostname, tmpdir } from "node:os";
import { join } from "node:path";
import { createRng } from "@lowbit/bits";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { Collection, type CollectionOptions, type SearchHit } from "../src/index.js";

function gaussian(n: number, dim: number, seed: number): Float32Array {
  const rng = createRng(seed);
  const out = new Float32Array(n * dim);
  for (let i = 0; i < out.length; i += 2) {
    const u = 1 - rng.nextFloat();
    const v = rng.nextFloat();
    const r = Math.sqrt(-2 * Math.log(u));
    out[i] = r * Math.cos(2 * Math.PI * v);
    if (i + 1 < out.length) out[i + 1] = r * Math.sin(2 * Math.PI * v);
  }
  return out;
}

const ids = (n: number): string[] => Array.from({ length: n }, (_, i) => `doc-${i}`);

let root: string;
let counter = 0;
beforeAll(async () => {
  root = await mkdtemp(join(tmpdir(), "lowbit-embed-persist-"));
});
afterAll(async () => {
  await rm(root, { recursive: true, force: true });
});
const freshDir = (): string => join(root, `c${counter++}`);

async function codeOf(p: Promise<unknown>): Promise<string | undefined> {
  try {
    await p;
  } catch (err) {
    return (err as { code?: string }).code ?? (err as Error).name;
  }
  return undefined;
}

const dim = 16;
const n = 400;
const base = gaussian(n, dim, 21);
const queries = gaussian(10, dim, 22);
const metas = Array.from({ length: n }, (_, i) => (i % 5 === 0 ? undefined : { i, even: i % 2 === 0 }));

function searchAll(c: Collection, k = 10): SearchHit[][] {
  const out: SearchHit[][] = [];
  for (let qi = 0; qi < 10; qi++) out.push(c.search(queries.subarray(qi * dim, (qi + 1) * dim), k));
  return out;
}

async function built(options: Partial<CollectionOptions> = {}): Promise<{ c: Collection; dir: string }> {
  const c = Collection.create({ dim, codec: "int8", rescore: "float16", ...options });
  c.add(ids(n), base, metas);
  const dir = freshDir();
  await c.save(dir);
  return { c, dir };
}

describe("save and open", () => {
  it("round trip gives identical search results, metadata, vectors and stats", async () => {
    const { c, dir } = await built();
    const before = searchAll(c);
    const filtered = c.search(queries.subarray(0, dim), 5, { filter: { even: true } });
    const vector7 = c.get("doc-7")!.vector;
    const saved = c.stats().disk;
    await c.close();
    const d = await Collection.open(dir);
    expect(d.size).toBe(n);
    expect(d.dim).toBe(dim);
    expect(d.metric).toBe("cosine");
    expect(d.codecSpec).toBe("int8");
    expect(searchAll(d)).toEqual(before);
    expect(d.search(queries.subarray(0, dim), 5, { filter: { even: true } })).toEqual(filtered);
    expect(d.get("doc-5")!.metadata).toBeUndefined();
    expect(d.get("doc-6")!.metadata).toEqual({ i: 6, even: true });
    expect(d.get("doc-7")!.vector).toEqual(vector7);
    const s = d.stats();
    expect(s.disk["codes.bin"]).toBe(n * dim);
    expect(s.disk["rescore.bin"]).toBe(n * dim * 2);
    expect(s.disk["codes.bin"]).toBe(statSync(join(dir, "gen-1", "codes.bin")).size);
    expect(s.disk["total"]).toBeGreaterThan(n * dim * 3);
    // The same accounting right after the save and after opening.
    expect(s.disk).toEqual(saved);
    expect(readFileSync(join(dir, "CURRENT"), "utf8").trim()).toBe("gen-1");
    await d.close();
  });

  it("compacts deletes on save and keeps upserts; later saves replace the generation", async () => {
    const { c, dir } = await built();
    c.delete(ids(n).filter((_, i) => i % 3 === 0));
    c.upsert("doc-1", base.subarray(2 * dim, 3 * dim), { replaced: true });
    c.add("new", base.subarray(4 * dim, 5 * dim));
    const before = searchAll(c, 20);
    await c.save();
    const live = n - Math.ceil(n / 3) + 1;
    expect(c.size).toBe(live);
    expect(searchAll(c, 20)).toEqual(before);
    expect(statSync(join(dir, "gen-2", "codes.bin")).size).toBe(live * dim);
    expect(existsSync(join(dir, "gen-1"))).toBe(false);
    // Memory was compacted too: modify and save again.
    c.delete("doc-1");
    await c.save();
    await c.close();
    const d = await Collection.open(dir, { readOnly: true });
    expect(d.size).toBe(live - 1);
    expect(d.has("doc-1")).toBe(false);
    expect(d.has("doc-3")).toBe(false);
    expect(d.get("new")).toBeDefined();
    expect(readdirSync(dir).sort()).toEqual(["CURRENT", "gen-3"]);
  });

  it("rescoreStorage disk: same results as memory, before and after saving, with upserts on saved rows", async () => {
    const mem = Collection.create({ dim, codec: "int4", rescore: "float32" });
    const disk = Collection.create({ dim, codec: "int4", rescore: "float32", rescoreStorage: "disk" });
    mem.add(ids(n), base);
    disk.add(ids(n), base);
    // Not saved yet: rows are pending in memory.
    expect(searchAll(disk)).toEqual(searchAll(mem));
    expect(disk.stats().ram["rescore"]).toBe(dim * 4);
    const dir = freshDir();
    await disk.save(dir);
    expect(disk.stats().ram["rescore"]).toBe(0);
    expect(searchAll(disk)).toEqual(searchAll(mem));
    // Replace saved rows and add new ones: overrides and pending rows until the next save.
    for (const c of [mem, disk]) {
      c.upsert(["doc-0", "doc-1"], queries.subarray(0, 2 * dim));
      c.add("extra", queries.subarray(2 * dim, 3 * dim));
      c.delete("doc-2");
    }
    expect(searchAll(disk)).toEqual(searchAll(mem));
    expect(disk.get("doc-0")!.vector).toEqual(mem.get("doc-0")!.vector);
    await disk.save();
    expect(searchAll(disk)).toEqual(searchAll(mem));
    await disk.close();
    const d = await Collection.open(dir);
    expect(searchAll(d)).toEqual(searchAll(mem));
    expect(d.stats().ram["rescore"]).toBe(0);
    await d.close();
    const m = await Collection.open(dir, { rescoreStorage: "memory" });
    expect(searchAll(m)).toEqual(searchAll(mem));
    expect(m.stats().ram["rescore"]).toBe(dim * 4);
    await m.close();
  });

  it("saves and reopens an empty, unfitted collection", async () => {
    const c = Collection.create({ dim: 4, metric: "l2", codec: "pq:2" });
    const dir = freshDir();
    await c.save(dir);
    await c.close();
    const d = await Collection.open(dir);
    expect(d.size).toBe(0);
    expect(d.metric).toBe("l2");
    d.add(ids(300), gaussian(300, 4, 9));
    expect(d.search(new Float32Array(4), 3).length).toBe(3);
    await d.save();
    await d.close();
  });

  it("refuses: save without a dir the first time, save over another collection, changes during a save", async () => {
    const c = Collection.create({ dim, codec: "int8" });
    c.add(ids(n), base);
    await expect(c.save()).rejects.toThrow(TypeError);
    const { c: other, dir } = await built();
    await other.close();
    expect(await codeOf(c.save(dir))).toBe("ERR_CONFLICT");
    const p = c.save(freshDir());
    expect(() => c.add("late", base.subarray(0, dim))).toThrow(
      expect.objectContaining({ code: "ERR_CONFLICT" }),
    );
    await p;
    c.add("late", base.subarray(0, dim));
    await c.close();
    expect(() => c.search(base.subarray(0, dim), 1)).toThrow(/closed/);
  });

  it("readOnly: no lock, no saving or modifying", async () => {
    const { c, dir } = await built();
    const r = await Collection.open(dir, { readOnly: true });
    expect(searchAll(r)).toEqual(searchAll(c));
    await expect(r.save()).rejects.toThrow(/readOnly/);
    expect(() => r.delete("doc-1")).toThrow(/readOnly/);
    await r.close();
    await c.close();
  });
});

describe("crash safety and corrupt data", () => {
  it("a kill mid-save (partial generation folder, stale CURRENT.tmp) still opens the last good state", async () => {
    const { c, dir } = await built();
    const want = searchAll(c);
    await c.close();
    // What a kill during the second save can leave: gen-2 half written, CURRENT.tmp naming it.
    mkdirSync(join(dir, "gen-2"));
    writeFileSync(join(dir, "gen-2", "codes.bin.tmp"), new Uint8Array(100));
    writeFileSync(join(dir, "gen-2", "ids.json"), '["doc-0", "doc');
    writeFileSync(join(dir, "CURRENT.tmp"), "gen-2\n");
    const d = await Collection.open(dir);
    expect(d.size).toBe(n);
    expect(searchAll(d)).toEqual(want);
    // The next save skips past the leftover and cleans it up.
    d.delete("doc-0");
    await d.save();
    expect(readdirSync(dir).sort()).toEqual(["CURRENT", "LOCK", "gen-3"]);
    await d.close();
    expect(readdirSync(dir).sort()).toEqual(["CURRENT", "gen-3"]);
    const e = await Collection.open(dir, { readOnly: true });
    expect(e.size).toBe(n - 1);
  });

  it("a truncated codes.bin is a CorruptDataError", async () => {
    const { c, dir } = await built();
    await c.close();
    truncateSync(join(dir, "gen-1", "codes.bin"), n * dim - 3);
    expect(await codeOf(Collection.open(dir))).toBe("ERR_CORRUPT");
    await expect(Collection.open(dir, { readOnly: true })).rejects.toThrow(/codes\.bin/);
    // The failed open released its lock.
    expect(existsSync(join(dir, "LOCK"))).toBe(false);
  });

  it("a truncated rescore.bin, bad ids.json or garbled CURRENT are CorruptDataErrors", async () => {
    const a = await built({ rescoreStorage: "disk" });
    await a.c.close();
    truncateSync(join(a.dir, "gen-1", "rescore.bin"), 10);
    expect(await codeOf(Collection.open(a.dir))).toBe("ERR_CORRUPT");

    const b = await built();
    await b.c.close();
    const idsPath = join(b.dir, "gen-1", "ids.json");
    const text = readFileSync(idsPath, "utf8");
    writeFileSync(idsPath, text.replace('"doc-1"', '"doc-0"'));
    // Same size, duplicate id.
    expect(await codeOf(Collection.open(b.dir))).toBe("ERR_CORRUPT");

    const c = await built();
    await c.c.close();
    writeFileSync(join(c.dir, "CURRENT"), "../../etc\n");
    expect(await codeOf(Collection.open(c.dir))).toBe("ERR_CORRUPT");
    expect(await codeOf(Collection.open(freshDir()))).toBe("ERR_NOT_FOUND");
    const empty = freshDir();
    mkdirSync(empty);
    expect(await codeOf(Collection.open(empty))).toBe("ERR_NOT_FOUND");
  });

  it("a header of format version 2 is ERR_UNSUPPORTED", async () => {
    const { c, dir } = await built();
    await c.close();
    const path = join(dir, "gen-1", "header.json");
    const h = JSON.parse(readFileSync(path, "utf8"));
    h.version = 2;
    writeFileSync(path, JSON.stringify(h));
    expect(await codeOf(Collection.open(dir))).toBe("ERR_UNSUPPORTED");
    h.version = 1;
    h.format = "something-else";
    writeFileSync(path, JSON.stringify(h));
    expect(await codeOf(Collection.open(dir))).toBe("ERR_CORRUPT");
  });
});

describe("writer lock", () => {
  function lockText(pid: number): string {
    return JSON.stringify({ pid, host: hostname(), token: "t", time: new Date().toISOString() });
  }

  function sleeper(): Promise<ChildProcess> {
    const child = spawn(process.execPath, ["-e", "setInterval(() => {}, 1000)"], { stdio: "ignore" });
    return new Promise((res, rej) => {
      child.once("spawn", () => res(child));
      child.once("error", rej);
    });
  }

  it("a second writer in this process gets ERR_LOCKED; readers are fine; close releases", async () => {
    const { c, dir } = await built();
    expect(await codeOf(Collection.open(dir))).toBe("ERR_LOCKED");
    const r = await Collection.open(dir, { readOnly: true });
    await r.close();
    await c.close();
    const d = await Collection.open(dir);
    expect(JSON.parse(readFileSync(join(dir, "LOCK"), "utf8")).pid).toBe(process.pid);
    await d.close();
    expect(existsSync(join(dir, "LOCK"))).toBe(false);
  });

  it("a lock held by a live process (real child, and the parent) is ERR_LOCKED; a dead holder's lock is taken over", async () => {
    const { c, dir } = await built();
    await c.close();
    const child = await sleeper();
    try {
      writeFileSync(join(dir, "LOCK"), lockText(child.pid!));
      expect(await codeOf(Collection.open(dir))).toBe("ERR_LOCKED");
      // Saving a collection into that folder is refused too.
      const other = Collection.create({ dim, codec: "int8" });
      expect(await codeOf(other.save(dir))).toBe("ERR_LOCKED");
      writeFileSync(join(dir, "LOCK"), lockText(process.ppid));
      expect(await codeOf(Collection.open(dir))).toBe("ERR_LOCKED");
      writeFileSync(join(dir, "LOCK"), lockText(child.pid!));
    } finally {
      const exited = new Promise((res) => child.once("exit", res));
      child.kill();
      await exited;
    }
    // The child is gone: its lock is stale.
    const d = await Collection.open(dir);
    expect(JSON.parse(readFileSync(join(dir, "LOCK"), "utf8")).pid).toBe(process.pid);
    expect(d.size).toBe(n);
    await d.close();
    // A garbled lock file (a writer killed while writing it, long ago) is stale too.
    writeFileSync(join(dir, "LOCK"), '{"pi');
    const e = await Collection.open(dir);
    await e.close();
  });

  it("a lock from another host is treated as live", async () => {
    const { c, dir } = await built();
    await c.close();
    writeFileSync(
      join(dir, "LOCK"),
      JSON.stringify({ pid: 1, host: `${hostname()}-elsewhere`, token: "t", time: "2020-01-01T00:00:00Z" }),
    );
    await expect(Collection.open(dir)).rejects.toThrow(/host/);
  });
});
