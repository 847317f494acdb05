import { createRng } from "@lowbit/bits";
import { describe, expect, it } from "vitest";
import { TopK } from "../src/_topk.js";
import { Collection, type Metric } from "../src/index.js";

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

const ids = (n: number, prefix = ""): string[] => Array.from({ length: n }, (_, i) => `${prefix}${i}`);

/** Brute-force top k in float64 over the exact vectors: [row, score][] best first, ties → lower row. */
function bruteForce(
  base: Float32Array,
  q: Float32Array,
  dim: number,
  k: number,
  metric: Metric,
): [number, number][] {
  const n = base.length / dim;
  const norm = (v: Float32Array, o: number): number => {
    let s = 0;
    for (let t = 0; t < dim; t++) s += v[o + t]! * v[o + t]!;
    return Math.sqrt(s);
  };
  const qn = metric === "cosine" ? norm(q, 0) : 1;
  const all: [number, number][] = [];
  for (let i = 0; i < n; i++) {
    let s = 0;
    if (metric === "l2") {
      for (let t = 0; t < dim; t++) {
        const d = q[t]! - base[i * dim + t]!;
        s -= d * d;
      }
    } else {
      for (let t = 0; t < dim; t++) s += q[t]! * base[i * dim + t]!;
      if (metric === "cosine") s /= qn * norm(base, i * dim);
    }
    all.push([i, s]);
  }
  all.sort((a, b) => b[1] - a[1] || a[0] - b[0]);
  return all.slice(0, k);
}

describe("TopK", () => {
  it("keeps the k best of a stream, best first, ties to the lower row, like a full sort", () => {
    const rng = createRng(7);
    for (const k of [1, 3, 10, 64]) {
      const n = 500;
      // Coarse scores so that ties are common.
      const scores = Array.from({ length: n }, () => Math.floor(rng.nextFloat() * 50));
      const heap = new TopK(k);
      // Rows arrive in a shuffled order: the result must not depend on it.
      const order = Array.from({ length: n }, (_, i) => i).sort(() => rng.nextFloat() - 0.5);
      for (const r of order) heap.push(scores[r]!, r);
      const got = heap.drain();
      const want = scores
        .map((s, r) => [r, s] as const)
        .sort((a, b) => b[1] - a[1] || a[0] - b[0])
        .slice(0, k);
      expect(Array.from(got.rows)).toEqual(want.map((w) => w[0]));
      expect(Array.from(got.scores)).toEqual(want.map((w) => w[1]));
    }
  });

  it("ignores NaN and returns fewer than k when fewer came", () => {
    const heap = new TopK(5);
    heap.push(Number.NaN, 0);
    heap.push(2, 1);
    heap.push(3, 2);
    const got = heap.drain();
    expect(Array.from(got.rows)).toEqual([2, 1]);
  });
});

describe("Collection: exact scan", () => {
  const dim = 24;
  const n = 600;
  const base = gaussian(n, dim, 1);
  const queries = gaussian(20, dim, 2);

  for (const metric of ["dot", "l2", "cosine"] as const) {
    it(`float32 scan equals brute force (${metric})`, () => {
      const c = Collection.create({ dim, metric, codec: "float32" });
      c.add(ids(n), base);
      expect(c.size).toBe(n);
      for (let qi = 0; qi < 20; qi++) {
        const q = queries.subarray(qi * dim, (qi + 1) * dim);
        const hits = c.search(q, 10);
        const want = bruteForce(base, q, dim, 10, metric);
        expect(hits.map((h) => h.id)).toEqual(want.map((w) => String(w[0])));
        for (let i = 0; i < 10; i++) expect(hits[i]!.score).toBeCloseTo(want[i]![1], 4);
      }
    });
  }

  it("int8 scan finds most of the true top 10 and a float32 rescore over all candidates is exact", () => {
    const c = Collection.create({ dim, metric: "dot", codec: "int4", rescore: "float32" });
    c.add(ids(n), base);
    let found = 0;
    for (let qi = 0; qi < 20; qi++) {
      const q = queries.subarray(qi * dim, (qi + 1) * dim);
      const want = bruteForce(base, q, dim, 10, "dot");
      // rescore = n / k candidates: every row is rescored with the exact copy.
      const exact = c.search(q, 10, { rescore: n / 10 });
      expect(exact.map((h) => h.id)).toEqual(want.map((w) => String(w[0])));
      const approx = c.search(q, 10, { rescore: 1 });
      const truth = new Set(want.map((w) => String(w[0])));
      found += approx.filter((h) => truth.has(h.id)).length;
    }
    // int4 alone on 24 gaussian dims keeps well over half of the true neighbours.
    expect(found / 200).toBeGreaterThan(0.6);
  });

  it("rescore 0 searches the resident codes only, like a collection without a rescore copy", () => {
    const withCopy = Collection.create({ dim, metric: "dot", codec: "int4", rescore: "float32" });
    const codesOnly = Collection.create({ dim, metric: "dot", codec: "int4" });
    withCopy.add(ids(n), base);
    codesOnly.add(ids(n), base);
    let differs = 0;
    for (let qi = 0; qi < 10; qi++) {
      const q = queries.subarray(qi * dim, (qi + 1) * dim);
      const plain = codesOnly.search(q, 10);
      expect(withCopy.search(q, 10, { rescore: 0 })).toEqual(plain);
      const rescored = withCopy.search(q, 10, { rescore: 4 });
      if (rescored.map((h) => h.id).join() !== plain.map((h) => h.id).join()) differs++;
    }
    expect(differs).toBeGreaterThan(0); // rescoring does change int4's answers
    expect(() => withCopy.search(queries.subarray(0, dim), 10, { rescore: 0.5 })).toThrow(RangeError);
  });

  it("returns fewer hits than k when the collection is smaller, and none when empty", () => {
    const c = Collection.create({ dim: 4, codec: "float32" });
    expect(c.search(new Float32Array([1, 0, 0, 0]), 3)).toEqual([]);
    c.add(["a", "b"], new Float32Array([1, 0, 0, 0, 0, 1, 0, 0]));
    const hits = c.search(new Float32Array([1, 0, 0, 0]), 5);
    expect(hits.map((h) => h.id)).toEqual(["a", "b"]);
    expect(hits[0]!.score).toBeCloseTo(1, 6);
  });

  it("fits on options.train instead of the first batch", () => {
    const train = gaussian(300, 8, 3);
    const c = Collection.create({ dim: 8, metric: "dot", codec: "int8", train });
    // A first batch of one vector alone would give int8 degenerate ranges.
    c.add("x", train.subarray(0, 8));
    c.add("y", train.subarray(8, 16));
    const got = c.get("x")!.vector;
    for (let t = 0; t < 8; t++) expect(got[t]).toBeCloseTo(train[t]!, 1);
  });
});

describe("Collection: add, upsert, delete", () => {
  const v = (...xs: number[]) => new Float32Array(xs);

  it("add rejects an existing id with ERR_CONFLICT and adds nothing of the batch", () => {
    const c = Collection.create({ dim: 2, metric: "dot", codec: "float32" });
    c.add(["a", "b"], v(1, 0, 0, 1), [{ n: 1 }, { n: 2 }]);
    let err: unknown;
    try {
      c.add(["c", "a"], v(1, 1, 2, 2));
    } catch (e) {
      err = e;
    }
    expect((err as { code?: string }).code).toBe("ERR_CONFLICT");
    expect(c.size).toBe(2);
    expect(c.has("c")).toBe(false);
    expect(c.get("a")!.vector).toEqual(v(1, 0));
    expect(() => c.add(["d", "d"], v(1, 1, 2, 2))).toThrow(expect.objectContaining({ code: "ERR_CONFLICT" }));
    expect(c.has("d")).toBe(false);
  });

  it("upsert replaces vector and metadata of existing ids and adds new ones", () => {
    const c = Collection.create({ dim: 2, metric: "dot", codec: "float32" });
    c.add(["a", "b"], v(1, 0, 0, 1), [{ tag: "old" }, { tag: "b" }]);
    c.upsert(["a", "c"], v(0, 5, 3, 0), [{ tag: "new" }, undefined]);
    expect(c.size).toBe(3);
    expect(c.get("a")).toEqual({ id: "a", metadata: { tag: "new" }, vector: v(0, 5) });
    expect(c.get("c")!.metadata).toBeUndefined();
    const hits = c.search(v(0, 1), 3);
    expect(hits[0]).toEqual({ id: "a", score: 5, metadata: { tag: "new" } });
    // A repeated new id within one upsert batch: the last one wins.
    c.upsert(["z", "z"], v(1, 1, 2, 2));
    expect(c.get("z")!.vector).toEqual(v(2, 2));
    expect(c.size).toBe(4);
  });

  it("delete tombstones entries: gone from search, has, get; count returned; re-add works", () => {
    const c = Collection.create({ dim: 2, metric: "dot", codec: "float32" });
    c.add(["a", "b", "c"], v(3, 0, 2, 0, 1, 0));
    expect(c.delete(["a", "nope", "a"])).toBe(1);
    expect(c.delete("b")).toBe(1);
    expect(c.size).toBe(1);
    expect(c.has("a")).toBe(false);
    expect(c.get("a")).toBeUndefined();
    expect(c.search(v(1, 0), 3).map((h) => h.id)).toEqual(["c"]);
    c.add("a", v(10, 0));
    expect(c.search(v(1, 0), 3).map((h) => h.id)).toEqual(["a", "c"]);
  });

  it("rejects bad input: NaN/Inf, dim mismatch, bad ids, non-JSON metadata", () => {
    const c = Collection.create({ dim: 3, codec: "float32" });
    expect(() => c.add(["a", "b"], v(1, 2, 3, 4, Number.NaN, 6))).toThrow(RangeError);
    expect(() => c.add(["a", "b"], v(1, 2, 3, 4, Number.NaN, 6))).toThrow(/row 1, index 1/);
    expect(() => c.add("a", v(1, Number.POSITIVE_INFINITY, 0))).toThrow(RangeError);
    expect(() => c.add("a", v(1, 2))).toThrow(RangeError);
    expect(() => c.add(["a", "b"], v(1, 2, 3))).toThrow(/dimension mismatch/);
    expect(() => c.add("", v(1, 2, 3))).toThrow(RangeError);
    expect(() => c.add("x".repeat(1025), v(1, 2, 3))).toThrow(RangeError);
    c.add("x".repeat(1024), v(1, 2, 3));
    expect(() => c.add([7 as unknown as string], v(1, 2, 3))).toThrow(TypeError);
    expect(() => c.add("f", v(1, 2, 3), { f: () => 1 })).toThrow(TypeError);
    expect(() => c.add("f", v(1, 2, 3), { n: Number.NaN })).toThrow(/metadata\.n/);
    expect(() => c.add("f", v(1, 2, 3), { d: new Date(0) })).toThrow(TypeError);
    expect(() => c.add("f", v(1, 2, 3), { b: 1n })).toThrow(TypeError);
    expect(() => c.add("f", v(1, 2, 3), { u: undefined })).toThrow(TypeError);
    const cyclic: Record<string, unknown> = {};
    cyclic["self"] = cyclic;
    expect(() => c.add("f", v(1, 2, 3), cyclic)).toThrow(/cycle/);
    expect(() => c.add(["f", "g"], v(1, 2, 3, 4, 5, 6), [{}])).toThrow(RangeError);
    expect(c.has("f")).toBe(false);
    expect(c.size).toBe(1);
    expect(() => c.search(v(1, 2), 1)).toThrow(RangeError);
    expect(() => c.search(v(1, 2, Number.NaN), 1)).toThrow(RangeError);
    expect(() => c.search(v(1, 2, 3), 0)).toThrow(RangeError);
    expect(() => c.search(v(1, 2, 3), 1, { path: "index" })).toThrow(RangeError);
    expect(() => c.search(v(1, 2, 3), 1, { bogus: 1 } as object)).toThrow(/bogus/);
  });

  it("rejects bad create options", () => {
    expect(() => Collection.create({ dim: 0, codec: "int8" })).toThrow(RangeError);
    expect(() => Collection.create({ dim: 4, codec: "int9" })).toThrow(RangeError);
    expect(() => Collection.create({ dim: 4, codec: "int8", metric: "manhattan" as Metric })).toThrow(
      RangeError,
    );
    expect(() => Collection.create({ dim: 4, codec: "int8", rescoreStorage: "disk" })).toThrow(
      /needs options.rescore/,
    );
    expect(() => Collection.create({ dim: 4, codec: "int8", rescoreFactor: 0.5 })).toThrow(RangeError);
    expect(() => Collection.create({ dim: 4, codec: "int8", indexView: "pca:2" })).toThrow(
      /needs options.index/,
    );
    expect(() => Collection.create({ dim: 4, codec: "int8", colour: 1 } as never)).toThrow(/colour/);
  });

  it("stores a frozen copy of metadata", () => {
    const c = Collection.create({ dim: 2, codec: "float32" });
    const meta = { tags: ["x"], n: 1 };
    c.add("a", v(1, 0), meta);
    meta.tags.push("y");
    const got = c.get("a")!.metadata as { tags: string[] };
    expect(got).toEqual({ tags: ["x"], n: 1 });
    expect(Object.isFrozen(got) && Object.isFrozen(got.tags)).toBe(true);
  });
});

describe("Collection: filters and options", () => {
  const dim = 8;
  const n = 300;
  const base = gaussian(n, dim, 11);
  const metas = Array.from({ length: n }, (_, i) => ({
    parity: i % 2 === 0 ? "even" : "odd",
    bucket: i % 7,
    nested: { a: [i % 3] },
  }));

  function make(): Collection {
    const c = Collection.create({ dim, metric: "dot", codec: "float32" });
    c.add(ids(n), base, metas);
    return c;
  }

  it("a function filter keeps only passing entries and still returns the k best of them", () => {
    const c = make();
    const q = base.subarray(0, dim);
    const hits = c.search(q, 10, { filter: (m, id) => (m as { bucket: number }).bucket === 3 && id !== "3" });
    const passing = new Float32Array(n * dim);
    const keep: number[] = [];
    for (let i = 0; i < n; i++) if (metas[i]!.bucket === 3 && i !== 3) keep.push(i);
    keep.forEach((r, j) => {
      passing.set(base.subarray(r * dim, (r + 1) * dim), j * dim);
    });
    const want = bruteForce(passing.subarray(0, keep.length * dim), q, dim, 10, "dot").map((w) =>
      String(keep[w[0]]!),
    );
    expect(hits.map((h) => h.id)).toEqual(want);
  });

  it("an object filter matches top-level keys by (deep) equality", () => {
    const c = make();
    const q = base.subarray(dim, 2 * dim);
    const hits = c.search(q, 1000, { filter: { parity: "odd", nested: { a: [1] } } });
    expect(hits.length).toBe(metas.filter((m) => m.parity === "odd" && m.nested.a[0] === 1).length);
    for (const h of hits) {
      const m = h.metadata as (typeof metas)[number];
      expect(m.parity).toBe("odd");
      expect(m.nested.a).toEqual([1]);
    }
    expect(c.search(q, 5, { filter: { missing: 1 } })).toEqual([]);
    expect(() => c.search(q, 5, { filter: "odd" as never })).toThrow(TypeError);
  });

  it("withMetadata false leaves metadata out", () => {
    const c = make();
    const hits = c.search(base.subarray(0, dim), 2, { withMetadata: false });
    expect(Object.keys(hits[0]!)).toEqual(["id", "score"]);
  });
});

describe("Collection: stats", () => {
  it("counts codes, rescore copy, ids and metadata per vector", () => {
    const dim = 16;
    const c = Collection.create({ dim, codec: "int8", rescore: "float16" });
    c.add(
      ids(100, "id-"),
      gaussian(100, dim, 5),
      Array.from({ length: 100 }, () => ({ k: "v" })),
    );
    const s = c.stats();
    expect(s.count).toBe(100);
    expect(s.dim).toBe(dim);
    expect(s.ram["codes"]).toBe(dim);
    expect(s.ram["rescore"]).toBe(2 * dim);
    expect(s.ram["index"]).toBe(0);
    expect(s.ram["ids"]).toBeGreaterThan(56);
    expect(s.ram["metadata"]).toBeGreaterThan(16);
    // int8 keeps a [min, max] range per dimension.
    expect(s.ram["codecParams"]).toBeGreaterThan(0);
    const sum = Object.values(s.ram).reduce((a, b) => a + b, 0);
    expect(s.totalBytesPerVector).toBeCloseTo(sum, 9);
    // The comparable vector figure leaves ids and metadata out.
    expect(s.bytesPerVector).toBeCloseTo(sum - s.ram["ids"]! - s.ram["metadata"]!, 9);
    expect(s.disk).toEqual({ total: 0 });
  });
});
