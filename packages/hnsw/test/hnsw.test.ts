import { statSync, writeFileSync } from "node:fs";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Collection } from "@lowbit/embed";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { hnswIndex } from "../src/index.js";

/** Seeded gaussian rows (xorshift32 + Box–Muller); tests need no other randomness. */
function gaussian(n: number, dim: number, seed: number, normalise = false): Float32Array {
  let s = seed >>> 0 || 1;
  const next = (): number => {
    s ^= s << 13;
    s >>>= 0;
    s ^= s >>> 17;
    s ^= s << 5;
    s >>>= 0;
    return (s + 0.5) / 2 ** 32;
  };
  const out = new Float32Array(n * dim);
  for (let i = 0; i < out.length; i += 2) {
    const r = Math.sqrt(-2 * Math.log(next()));
    const a = 2 * Math.PI * next();
    out[i] = r * Math.cos(a);
    if (i + 1 < out.length) out[i + 1] = r * Math.sin(a);
  }
  if (normalise) {
    for (let o = 0; o < out.length; o += dim) {
      let q = 0;
      for (let t = 0; t < dim; t++) q += out[o + t]! ** 2;
      const inv = 1 / Math.sqrt(q);
      for (let t = 0; t < dim; t++) out[o + t]! *= inv;
    }
  }
  return out;
}

function bruteTop(
  base: Float32Array,
  q: Float32Array,
  dim: number,
  k: number,
  space: "dot" | "l2",
): number[] {
  const n = base.length / dim;
  const s = new Float64Array(n);
  for (let i = 0; i < n; i++) {
    let acc = 0;
    for (let t = 0; t < dim; t++) {
      const x = base[i * dim + t]!;
      acc += space === "dot" ? q[t]! * x : -((q[t]! - x) ** 2);
    }
    s[i] = acc;
  }
  return Array.from({ length: n }, (_, i) => i)
    .sort((a, b) => s[b]! - s[a]! || a - b)
    .slice(0, k);
}

let root: string;
let counter = 0;
beforeAll(async () => {
  root = await mkdtemp(join(tmpdir(), "lowbit-hnsw-"));
});
afterAll(async () => {
  await rm(root, { recursive: true, force: true });
});
const fresh = (name: string): string => join(root, `${counter++}-${name}`);

const dim = 32;
const n = 2000;

describe("hnswIndex", () => {
  for (const space of ["dot", "l2"] as const) {
    it(`recall@10 vs brute force on ${n} × ${dim} at ef 64 is ≥ 0.95 (${space})`, () => {
      const base = gaussian(n, dim, 1, space === "dot");
      const queries = gaussian(100, dim, 2, space === "dot");
      // Start small: the index grows by doubling.
      const index = hnswIndex().create(dim, space, 100);
      for (let i = 0; i < n; i++) index.add(i, base.subarray(i * dim, (i + 1) * dim));
      expect(index.size).toBe(n);
      let hit = 0;
      for (let qi = 0; qi < 100; qi++) {
        const q = queries.subarray(qi * dim, (qi + 1) * dim);
        const res = index.search(q, 10);
        expect(res.labels.length).toBe(10);
        for (let i = 1; i < 10; i++) expect(res.scores[i]!).toBeLessThanOrEqual(res.scores[i - 1]!);
        // Scores are similarities in the index's space.
        const l0 = res.labels[0]!;
        let want = 0;
        for (let t = 0; t < dim; t++) {
          const x = base[l0 * dim + t]!;
          want += space === "dot" ? q[t]! * x : -((q[t]! - x) ** 2);
        }
        expect(res.scores[0]!).toBeCloseTo(want, 4);
        const truth = new Set(bruteTop(base, q, dim, 10, space));
        for (const l of res.labels) if (truth.has(l)) hit++;
      }
      const recall = hit / 1000;
      expect(recall).toBeGreaterThanOrEqual(0.95);
    });
  }

  it("remove, filter and replace", () => {
    const base = gaussian(500, 8, 3, true);
    const index = hnswIndex({ M: 8, efConstruction: 100, ef: 50 }).create(8, "dot", 10);
    for (let i = 0; i < 500; i++) index.add(i, base.subarray(i * 8, (i + 1) * 8));
    const q = base.subarray(0, 8);
    expect(index.search(q, 1).labels[0]).toBe(0);
    index.remove(0);
    index.remove(0);
    index.remove(12345);
    expect(index.size).toBe(499);
    expect(Array.from(index.search(q, 50).labels)).not.toContain(0);
    // Filter: only odd labels.
    const odd = index.search(q, 20, { filter: (l) => l % 2 === 1 });
    expect(odd.labels.length).toBe(20);
    for (const l of odd.labels) expect(l % 2).toBe(1);
    // Replace label 7 by the query itself: it becomes the best hit, size unchanged.
    index.add(7, q);
    expect(index.size).toBe(499);
    const r = index.search(q, 1);
    expect(r.labels[0]).toBe(7);
    expect(r.scores[0]).toBeCloseTo(1, 5);
    // Re-adding a removed label revives it.
    index.add(0, base.subarray(8, 16));
    expect(index.size).toBe(500);
    expect(Array.from(index.search(base.subarray(8, 16), 2).labels).sort((a, b) => a - b)).toEqual([0, 1]);
    // Asking for more than exist returns what exists.
    expect(index.search(q, 10_000).labels.length).toBe(500);
    expect(() => index.add(-1, q)).toThrow(RangeError);
    expect(() => index.add(1, new Float32Array(7))).toThrow(RangeError);
    expect(() => index.search(q, 0)).toThrow(RangeError);
    expect(() => hnswIndex({ M: 1 })).toThrow(RangeError);
    expect(() => hnswIndex({ m: 16 } as never)).toThrow(/m is not an option/);
  });

  it("save and load round trip: same results, removals kept, dimension checked; file size as documented", async () => {
    const base = gaussian(n, dim, 4);
    const f = hnswIndex();
    const index = f.create(dim, "l2", n);
    for (let i = 0; i < n; i++) index.add(i, base.subarray(i * dim, (i + 1) * dim));
    for (let i = 0; i < n; i += 10) index.remove(i);
    const path = fresh("index.bin");
    await index.save(path);
    const loaded = await f.load(path, dim, "l2");
    expect(loaded.size).toBe(index.size);
    expect(loaded.dim).toBe(dim);
    const queries = gaussian(20, dim, 5);
    for (let qi = 0; qi < 20; qi++) {
      const q = queries.subarray(qi * dim, (qi + 1) * dim);
      const a = index.search(q, 10);
      const b = loaded.search(q, 10);
      expect(b.labels).toEqual(a.labels);
      expect(b.scores).toEqual(a.scores);
      for (const l of b.labels) expect(l % 10).not.toBe(0);
    }
    // Removal state survives the round trip (hnswlib-node does not expose it; the adapter reads it).
    loaded.remove(1);
    expect(loaded.size).toBe(index.size - 1);
    loaded.remove(10);
    expect(loaded.size).toBe(index.size - 1);
    // File: 96-byte header + per element (2·M·4 + 4 + dim·4 + 8) + 4 + upper-level links.
    const size = statSync(path).size;
    const level0 = 96 + n * (2 * 16 * 4 + 4 + dim * 4 + 8 + 4);
    expect(size).toBeGreaterThanOrEqual(level0);
    expect(size).toBeLessThan(level0 + n * 20);
    expect(index.memoryBytes()).toBeGreaterThan(n * (dim * 4 + 2 * 16 * 4));
    await expect(f.load(path, dim + 1, "l2")).rejects.toThrow(/not an hnswlib index of dim 33/);
    const junk = fresh("junk.bin");
    writeFileSync(junk, new Uint8Array(50));
    await expect(f.load(junk, dim, "l2")).rejects.toThrow();
  });
});

describe("Collection with hnswIndex()", () => {
  const cdim = 32;
  const cn = 2000;
  const base = gaussian(cn, cdim, 7);
  const queries = gaussian(50, cdim, 8);
  const ids = Array.from({ length: cn }, (_, i) => `v${i}`);
  const metas = ids.map((_, i) => ({ group: i % 4 }));

  function recall(c: Collection, opts: Parameters<Collection["search"]>[2]): number {
    let hit = 0;
    for (let qi = 0; qi < 50; qi++) {
      const q = queries.subarray(qi * cdim, (qi + 1) * cdim);
      const truth = new Set(c.search(q, 10, { path: "scan" }).map((h) => h.id));
      for (const h of c.search(q, 10, opts)) if (truth.has(h.id)) hit++;
    }
    return hit / 500;
  }

  it("index path agrees with the exact scan; filters, deletes and upserts reach the index", () => {
    const c = Collection.create({ dim: cdim, codec: "float32", index: hnswIndex() });
    c.add(ids, base, metas);
    expect(recall(c, {})).toBeGreaterThanOrEqual(0.95);
    const q = queries.subarray(0, cdim);
    const top = c.search(q, 5);
    // Index scores of a full float32 view are the exact cosine similarities.
    const scan = c.search(q, 5, { path: "scan" });
    expect(top[0]!.id).toBe(scan[0]!.id);
    expect(top[0]!.score).toBeCloseTo(scan[0]!.score, 5);
    for (const h of c.search(q, 10, { filter: { group: 2 } }))
      expect((h.metadata as { group: number }).group).toBe(2);
    // A filter matching only 3 entries: the ANN walk may miss some; the scan fallback finds them all.
    const rare = c.search(q, 10, { filter: (_, id) => id === "v5" || id === "v77" || id === "v1999" });
    expect(rare.map((h) => h.id).sort()).toEqual(["v1999", "v5", "v77"]);
    c.delete(top[0]!.id);
    expect(c.search(q, 5).map((h) => h.id)).not.toContain(top[0]!.id);
    c.upsert("v9", q);
    expect(c.search(q, 1)[0]!.id).toBe("v9");
    expect(c.stats().ram["index"]).toBeGreaterThan(cdim * 4);
  });

  it("int8 codes with a lossy pca:16 index view rescored by float16 keep recall", () => {
    const c = Collection.create({
      dim: cdim,
      metric: "l2",
      codec: "int8",
      rescore: "float16",
      index: hnswIndex(),
      indexView: "pca:16",
    });
    // Embedding-like spectrum (variance decaying over dimensions), so that 16 PCA dims carry most of it.
    const skewed = base.map((x, i) => x * 0.8 ** (i % cdim));
    c.add(ids, skewed);
    const r = recall(c, { rescore: 10 });
    expect(r).toBeGreaterThan(0.9);
    // The index stores 16 floats per vector instead of 32.
    const full = Collection.create({ dim: cdim, metric: "l2", codec: "int8", index: hnswIndex() });
    full.add(ids, skewed);
    const saved = full.stats().ram["index"]! - c.stats().ram["index"]!;
    expect(saved).toBeGreaterThanOrEqual(16 * 4);
    expect(saved).toBeLessThan(16 * 4 * 2.5);
  });

  it("save and open round trip with the index: identical results; deleted rows compacted, labels kept", async () => {
    const dir = fresh("collection");
    const c = Collection.create({ dim: cdim, codec: "int8", rescore: "float32", index: hnswIndex() });
    c.add(ids, base, metas);
    c.delete(ids.filter((_, i) => i % 9 === 0));
    await c.save(dir);
    const before = [];
    for (let qi = 0; qi < 20; qi++) before.push(c.search(queries.subarray(qi * cdim, (qi + 1) * cdim), 10));
    // After compaction in memory the index still answers with the right ids.
    c.add("after", queries.subarray(0, cdim));
    expect(c.search(queries.subarray(0, cdim), 1)[0]!.id).toBe("after");
    c.delete("after");
    await c.close();

    await expect(Collection.open(dir)).rejects.toThrow(/options.index is required/);
    const d = await Collection.open(dir, { index: hnswIndex() });
    expect(d.size).toBe(cn - Math.ceil(cn / 9));
    const after = [];
    for (let qi = 0; qi < 20; qi++) after.push(d.search(queries.subarray(qi * cdim, (qi + 1) * cdim), 10));
    expect(after).toEqual(before);
    const s = d.stats();
    expect(s.disk["index.bin"]).toBe(statSync(join(dir, "gen-1", "index.bin")).size);
    expect(s.ram["index"]).toBeGreaterThan(0);
    await d.close();
    // Read-only without the factory: exact scans only.
    const r = await Collection.open(dir, { readOnly: true });
    expect(r.search(queries.subarray(0, cdim), 10)).toEqual(
      r.search(queries.subarray(0, cdim), 10, { path: "scan" }),
    );
    expect(() => r.search(queries.subarray(0, cdim), 10, { path: "index" })).toThrow(
      /opened without options.index/,
    );
    await r.close();
  });
});
