import { existsSync } from "node:fs";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { describe, expect, it } from "vitest";
import {
  Collection,
  type CollectionStats,
  type EvaluationTarget,
  evaluate,
  evaluateAsync,
  ndcgAtK,
  readVectors,
  recallAtK,
  recallPlotSvg,
  type SearchHit,
  type SearchOptions,
} from "../src/index.js";

describe("recallAtK", () => {
  it("counts the first k retrieved ids among the first k true ids", () => {
    const truth = Int32Array.of(7, 3, 9, 1, 4);
    expect(recallAtK(Int32Array.of(7, 3, 9), truth, 3)).toBe(1);
    expect(recallAtK([9, 7, 3], truth, 3)).toBe(1); // order inside the top k does not matter
    expect(recallAtK([7, 1, 3], truth, 3)).toBeCloseTo(2 / 3, 15); // 1 is true rank 4: outside the top 3
    expect(recallAtK([4, 1, 0], truth, 3)).toBe(0);
    expect(recallAtK([3], truth, 1)).toBe(0);
    expect(recallAtK([7, 3], truth, 1)).toBe(1);
  });

  it("counts missing hits as misses and a repeated id once", () => {
    const truth = [1, 2, 3, 4];
    expect(recallAtK([1, 2], truth, 4)).toBe(0.5);
    expect(recallAtK([], truth, 4)).toBe(0);
    expect(recallAtK([1, 1, 1, 1], truth, 4)).toBe(0.25);
  });

  it("checks its arguments", () => {
    expect(() => recallAtK([1], [1, 2], 3)).toThrow(/truth has 2 ids; recall@3 needs at least 3/);
    expect(() => recallAtK([1], [1], 0)).toThrow(RangeError);
    expect(() => recallAtK(new Float32Array(1) as unknown as Int32Array, [1], 1)).toThrow(TypeError);
  });
});

describe("ndcgAtK", () => {
  it("weights a hit at position i by 1 / log2(i + 2) over the ideal gain", () => {
    const truth = [10, 11, 12];
    expect(ndcgAtK([10, 11, 12], truth, 3)).toBeCloseTo(1, 15);
    expect(ndcgAtK([12, 10, 11], truth, 3)).toBeCloseTo(1, 15); // binary relevance: any order of the true set
    const ideal = 1 + 1 / Math.log2(3) + 1 / Math.log2(4);
    expect(ndcgAtK([99, 10, 98], truth, 3)).toBeCloseTo(1 / Math.log2(3) / ideal, 15);
    expect(ndcgAtK([10, 99, 98], truth, 3)).toBeCloseTo(1 / ideal, 15);
    expect(ndcgAtK([98, 99, 11], truth, 3)).toBeCloseTo(0.5 / ideal, 15);
    expect(ndcgAtK([], truth, 3)).toBe(0);
  });
});

/** A stand-in collection returning scripted hits, to check evaluate's bookkeeping exactly. */
function fakeTarget(
  dim: number,
  answers: (q: Float32Array) => number[],
  calls: SearchOptions[] = [],
): EvaluationTarget {
  const stats: CollectionStats = {
    count: 50,
    dim,
    bytesPerVector: 12.5,
    totalBytesPerVector: 20,
    ram: { codes: 500 },
    disk: {},
  };
  return {
    dim,
    size: 50,
    search(query, k, options): SearchHit[] {
      calls.push({ ...options, k } as SearchOptions);
      return answers(query)
        .slice(0, k)
        .map((row, i) => ({ id: String(row), score: -i }));
    },
    stats: () => stats,
  };
}

describe("evaluate", () => {
  // Two queries of dim 2; the query's first value selects its scripted answer.
  const queries = Float32Array.of(0, 0, 1, 0);
  const truth = new Int32Array(2 * 100);
  for (let i = 0; i < 100; i++) {
    truth[i] = i; // query 0: rows 0..99
    truth[100 + i] = 100 + i; // query 1: rows 100..199
  }
  const answers = (q: Float32Array) =>
    q[0] === 0
      ? Array.from({ length: 100 }, (_, i) => i) // perfect
      : Array.from({ length: 100 }, (_, i) => (i % 2 === 0 ? 100 + i : 1000 + i)); // every other hit right

  it("averages recall@1/10/100 and nDCG@10 over the queries", () => {
    const r = evaluate(fakeTarget(2, answers), queries, truth, { warmup: 0 });
    expect(r.queries).toBe(2);
    expect(r.k).toBe(100);
    expect(r.truthK).toBe(100);
    expect(r.recall1).toBe((1 + 1) / 2);
    expect(r.recall10).toBe((1 + 0.5) / 2);
    expect(r.recall100).toBe((1 + 0.5) / 2);
    let dcg = 0;
    let ideal = 0;
    for (let i = 0; i < 10; i++) {
      ideal += 1 / Math.log2(i + 2);
      if (i % 2 === 0) dcg += 1 / Math.log2(i + 2);
    }
    expect(r.ndcg10).toBeCloseTo((1 + dcg / ideal) / 2, 12);
    expect(r.bytesPerVector).toBe(12.5);
    expect(r.totalBytesPerVector).toBe(20);
    expect(r.ram).toEqual({ codes: 500 });
    expect(r.count).toBe(50);
    expect(r.qps).toBeGreaterThan(0);
    expect(r.searchSeconds).toBeGreaterThan(0);
    expect(r.latencyP99Ms).toBeGreaterThanOrEqual(r.latencyP50Ms);
  });

  it("passes rescore, ef and path to every search; warms up untimed; reports progress", () => {
    const calls: SearchOptions[] = [];
    const progress: [number, number][] = [];
    evaluate(fakeTarget(2, answers, calls), queries, truth, {
      k: 10,
      rescore: 4,
      ef: 80,
      path: "index",
      warmup: 3,
      onProgress: (done, total) => progress.push([done, total]),
    });
    expect(calls).toHaveLength(3 + 2);
    for (const c of calls)
      expect(c).toEqual({ k: 10, rescore: 4, ef: 80, path: "index", withMetadata: false });
    expect(progress).toEqual([
      [1, 2],
      [2, 2],
    ]);
  });

  it("gives NaN for a recall@K above k, and rejects k above the truth's columns", () => {
    const r = evaluate(fakeTarget(2, answers), queries, truth, { k: 10 });
    expect(r.recall10).toBe(0.75);
    expect(r.recall100).toBeNaN();
    const narrow = truth.filter((_, i) => i % 100 < 5);
    expect(evaluate(fakeTarget(2, answers), queries, narrow).k).toBe(5);
    expect(() => evaluate(fakeTarget(2, answers), queries, narrow, { k: 10 })).toThrow(
      /only 5 ids per query/,
    );
  });

  it("evaluateAsync gives the same numbers and lets timers and aborts in between queries", async () => {
    const sync = evaluate(fakeTarget(2, answers), queries, truth, { warmup: 0 });
    let ticked = false;
    setTimeout(() => {
      ticked = true;
    }, 0);
    const seen: boolean[] = [];
    const slow = fakeTarget(2, (q) => {
      const until = performance.now() + 2;
      while (performance.now() < until) {
        // a search that takes 2 ms
      }
      return answers(q);
    });
    const r = await evaluateAsync(slow, queries, truth, {
      warmup: 0,
      yieldMs: 0,
      onProgress: () => seen.push(ticked),
    });
    expect({ ...r, qps: 0, searchSeconds: 0, latencyP50Ms: 0, latencyP99Ms: 0 }).toEqual({
      ...sync,
      qps: 0,
      searchSeconds: 0,
      latencyP50Ms: 0,
      latencyP99Ms: 0,
    });
    expect(seen).toEqual([false, true]); // the timer ran between the two queries
    const controller = new AbortController();
    setTimeout(() => controller.abort(new Error("interrupted")), 0);
    await expect(
      evaluateAsync(slow, queries, truth, { warmup: 0, yieldMs: 0, signal: controller.signal }),
    ).rejects.toThrow("interrupted");
  });

  it("checks shapes, ids and the abort signal", () => {
    const t = fakeTarget(2, answers);
    expect(() => evaluate(t, new Float32Array(3), truth)).toThrow(/whole, non-zero number of rows of dim 2/);
    expect(() => evaluate(t, queries, new Int32Array(3))).toThrow(/2 rows \(one per query\)/);
    expect(() => evaluate(t, queries, truth as unknown as Int32Array, { k: 0 })).toThrow(RangeError);
    const named = { ...t, search: () => [{ id: "doc-1", score: 1 }] };
    expect(() => evaluate(named, queries, truth, { k: 1 })).toThrow(/hit id "doc-1" is not a row number/);
    const controller = new AbortController();
    controller.abort(new Error("stop"));
    expect(() => evaluate(t, queries, truth, { signal: controller.signal })).toThrow("stop");
  });
});

describe("recallPlotSvg", () => {
  const points = [
    { label: "float32", bytesPerVector: 400, recall: 1, group: "scan" },
    { label: "int8", bytesPerVector: 100, recall: 0.97, group: "scan" },
    { label: "binary", bytesPerVector: 13, recall: 0.42, group: "scan" },
    { label: "binary <x10 f16", bytesPerVector: 213, recall: 0.9, group: "rescore" },
  ];

  it("draws axes, log-scale ticks, one marker and label per point, a legend per group", () => {
    const svg = recallPlotSvg(points, { title: "GloVe & friends" });
    expect(svg.startsWith('<svg xmlns="http://www.w3.org/2000/svg"')).toBe(true);
    expect(svg.trimEnd().endsWith("</svg>")).toBe(true);
    expect(svg.match(/<circle cx=/g)).toHaveLength(4 + 2); // points + legend markers
    for (const label of ["float32", "int8", "binary", "binary &lt;x10 f16"])
      expect(svg).toContain(`>${label}</text>`);
    expect(svg).toContain("GloVe &amp; friends");
    expect(svg).not.toContain("GloVe & friends");
    for (const tick of [">10<", ">20<", ">50<", ">100<", ">200<", ">500<"]) expect(svg).toContain(tick);
    expect(svg).toContain(">bytes per vector (log scale)<");
    expect(svg).toContain(">recall@10<");
    expect(svg).toContain('data-group="scan"');
    expect(svg).toContain(">rescore</text>");
    expect(svg.match(/<polyline/g)).toHaveLength(1); // only "scan" has more than one point
    // Log scale: 10 → 100 and 50 → 500 are equal distances.
    const x = (label: string) =>
      Number(new RegExp(`<text x="([0-9.]+)" y="[0-9.]+" text-anchor="middle">${label}<`).exec(svg)![1]);
    expect(x("100") - x("10")).toBeCloseTo(x("500") - x("50"), 1);
    // Higher recall is drawn higher (smaller y).
    const y = (label: string) =>
      Number(new RegExp(`<circle cx="[0-9.]+" cy="([0-9.]+)" r="4"><title>${label}:`).exec(svg)![1]);
    expect(y("float32")).toBeLessThan(y("int8"));
    expect(y("int8")).toBeLessThan(y("binary"));
    expect(recallPlotSvg(points, { title: "GloVe & friends" })).toBe(svg); // deterministic
  });

  it("rejects points off the axes", () => {
    expect(() => recallPlotSvg([{ label: "x", bytesPerVector: 0, recall: 0.5 }])).toThrow(
      /points\[0\].bytesPerVector/,
    );
    expect(() => recallPlotSvg([{ label: "x", bytesPerVector: 4, recall: 1.5 }])).toThrow(
      /points\[0\].recall/,
    );
    expect(() => recallPlotSvg([{ label: 3 as unknown as string, bytesPerVector: 4, recall: 1 }])).toThrow(
      TypeError,
    );
    expect(recallPlotSvg([])).toContain("</svg>");
  });
});

/** The shared data folder: $LOWBIT_SHARED, else <repo root>/../shared (as test/conformance finds it). */
function sharedDir(): string {
  const fromEnv = process.env["LOWBIT_SHARED"];
  if (fromEnv !== undefined && fromEnv !== "") return resolve(fromEnv);
  let dir = dirname(fileURLToPath(import.meta.url));
  while (!existsSync(join(dir, "turbo.json"))) {
    const parent = dirname(dir);
    if (parent === dir) throw new Error(`no turbo.json above ${fileURLToPath(import.meta.url)}`);
    dir = parent;
  }
  return resolve(dir, "..", "shared");
}

function gloveFile(name: string): string {
  const path = join(sharedDir(), "datasets", "embeddings", "glove-100d", name);
  if (!existsSync(path))
    throw new Error(`${path} not found: point LOWBIT_SHARED at the folder holding datasets/`);
  return path;
}

/** Exact cosine top-k (float64 sums, ties by lower row) of every query against the base. */
function exactCosineTopK(base: Float32Array, queries: Float32Array, dim: number, k: number): Int32Array {
  const n = base.length / dim;
  const nq = queries.length / dim;
  const norms = new Float64Array(n);
  for (let r = 0; r < n; r++) {
    let s = 0;
    for (let j = 0; j < dim; j++) s += base[r * dim + j]! * base[r * dim + j]!;
    norms[r] = Math.sqrt(s);
  }
  const out = new Int32Array(nq * k);
  const scores = new Float64Array(n);
  const order = new Int32Array(n);
  for (let q = 0; q < nq; q++) {
    for (let r = 0; r < n; r++) {
      let s = 0;
      for (let j = 0; j < dim; j++) s += queries[q * dim + j]! * base[r * dim + j]!;
      scores[r] = norms[r]! > 0 ? s / norms[r]! : Number.NEGATIVE_INFINITY;
      order[r] = r;
    }
    order.sort((a, b) => scores[b]! - scores[a]! || a - b);
    out.set(order.subarray(0, k), q * k);
  }
  return out;
}

describe("evaluate on real GloVe vectors (10,000 base rows, 100 queries)", async () => {
  const dim = 100;
  const base = (await readVectors(gloveFile("base.f32"), { dim, count: 10_000 })).vectors;
  const queries = (await readVectors(gloveFile("queries.f32"), { dim, count: 100 })).vectors;
  const truth = exactCosineTopK(base, queries, dim, 100);
  const ids = Array.from({ length: 10_000 }, (_, i) => String(i));

  const results = new Map<string, ReturnType<typeof evaluate>>();
  const run = (codec: string) => {
    let r = results.get(codec);
    if (r === undefined) {
      const c = Collection.create({ dim, codec });
      c.add(ids, base);
      r = evaluate(c, queries, truth, { k: 100, path: "scan", warmup: 2 });
      results.set(codec, r);
    }
    return r;
  };

  it("float32 scan finds the exact neighbours", () => {
    const r = run("float32");
    expect(r.recall1).toBe(1);
    expect(r.recall10).toBeGreaterThanOrEqual(0.999);
    expect(r.recall100).toBeGreaterThanOrEqual(0.999);
    expect(r.ndcg10).toBeGreaterThanOrEqual(0.999);
  });

  it("int8 scan keeps recall@10 >= 0.95 with a quarter of the code bytes", () => {
    const r = run("int8");
    expect(r.ram["codes"]).toBe(100);
    expect(r.recall10).toBeGreaterThanOrEqual(0.95);
    expect(r.recall100).toBeGreaterThanOrEqual(0.95);
    expect(r.ndcg10).toBeGreaterThanOrEqual(0.95);
    expect(r.bytesPerVector).toBeLessThan(run("float32").bytesPerVector);
    expect(r.qps).toBeGreaterThan(0);
  });

  it("binary codes lose recall; a lossy codec finds a wide set more easily than the exact top 1", () => {
    const r = run("binary");
    // Measured: recall@1 0.25, recall@10 0.35, recall@100 0.45 (int8: 1, 0.99, 0.99).
    expect(r.recall10).toBeLessThan(0.6);
    expect(r.recall10).toBeLessThan(run("int8").recall10);
    // Random codes would score about k / n = 0.01; sign bits keep far more than that.
    expect(r.recall100).toBeGreaterThan(0.2);
    expect(r.recall1).toBeLessThanOrEqual(r.recall10);
    expect(r.recall10).toBeLessThanOrEqual(r.recall100);
    expect(r.bytesPerVector).toBeLessThan(run("int8").bytesPerVector);
  });
});
