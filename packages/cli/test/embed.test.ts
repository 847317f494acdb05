import { existsSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { main } from "../src/index.js";
import { sink, tempDir, writeBytes } from "./_helpers.js";

// `lowbit embed` run in process on small synthetic files: n base vectors of dim D around a few
// centres (so neighbours are meaningful), queries near some base rows, exact cosine ground truth.
const D = 16;
const N = 600;
const NQ = 20;
const TRUTH_K = 20;
let dir = "";
let cleanup = () => {};
const at = (name: string) => join(dir, name);

function lcg(seed: number) {
  let s = seed >>> 0;
  return () => {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
    return s / 2 ** 32 - 0.5;
  };
}

const base = new Float32Array(N * D);
const queries = new Float32Array(NQ * D);
const truth = new Int32Array(NQ * TRUTH_K);

function exactTruth(): void {
  const cos = new Float64Array(N);
  const order = Int32Array.from({ length: N }, (_, i) => i);
  for (let q = 0; q < NQ; q++) {
    for (let r = 0; r < N; r++) {
      let dot = 0;
      let nq = 0;
      let nr = 0;
      for (let j = 0; j < D; j++) {
        dot += queries[q * D + j]! * base[r * D + j]!;
        nq += queries[q * D + j]! ** 2;
        nr += base[r * D + j]! ** 2;
      }
      cos[r] = dot / Math.sqrt(nq * nr);
    }
    order.sort((a, b) => cos[b]! - cos[a]! || a - b);
    truth.set(order.subarray(0, TRUTH_K), q * TRUTH_K);
  }
}

/** A hand-built NPY v1.0 file (see packages/embed/test/io.test.ts for the layout). */
function npyBytes(descr: string, shape: number[], data: Uint8Array): Uint8Array {
  let header = `{'descr': '${descr}', 'fortran_order': False, 'shape': (${shape.join(", ")}${shape.length === 1 ? "," : ""}), }`;
  header += `${" ".repeat((64 - ((10 + header.length + 1) % 64)) % 64)}\n`;
  const out = new Uint8Array(10 + header.length + data.length);
  out.set([0x93, 0x4e, 0x55, 0x4d, 0x50, 0x59, 1, 0, header.length & 0xff, header.length >> 8]);
  out.set(
    Uint8Array.from(header, (c) => c.charCodeAt(0)),
    10,
  );
  out.set(data, 10 + header.length);
  return out;
}

beforeAll(() => {
  ({ dir, cleanup } = tempDir());
  const rnd = lcg(7);
  const centres = Array.from({ length: 8 }, () => Float32Array.from({ length: D }, () => rnd() * 4));
  for (let r = 0; r < N; r++) {
    const c = centres[r % centres.length]!;
    for (let j = 0; j < D; j++) base[r * D + j] = c[j]! + rnd();
  }
  for (let q = 0; q < NQ; q++) {
    const r = (q * 37) % N;
    for (let j = 0; j < D; j++) queries[q * D + j] = base[r * D + j]! + rnd() * 0.05;
  }
  exactTruth();
  writeBytes(at("base.f32"), base);
  writeBytes(at("queries.f32"), queries);
  writeBytes(at("truth.i32"), truth);
  const q = new Uint8Array(queries.buffer, 0, 2 * D * 4);
  writeFileSync(at("queries.npy"), npyBytes("<f4", [2, D], q));
});
afterAll(() => cleanup());

async function lowbit(...args: string[]) {
  const stdout = sink();
  const stderr = sink();
  const code = await main(["embed", ...args], { stdout, stderr });
  return { code, stdout: stdout.text, stderr: stderr.text };
}

const EVAL = () => [
  "eval",
  "--base",
  at("base.f32"),
  "--queries",
  at("queries.f32"),
  "--truth",
  at("truth.i32"),
  "--dim",
  String(D),
];

describe("lowbit embed eval", () => {
  it("--json prints exactly one JSON object with the fields scripts read", async () => {
    const r = await lowbit(...EVAL(), "--codec", "float32", "--json");
    expect(r.stderr).toBe("");
    expect(r.code).toBe(0);
    const lines = r.stdout.trimEnd().split("\n");
    expect(lines).toHaveLength(1);
    const j = JSON.parse(lines[0]!) as Record<string, unknown>;
    for (const key of [
      "recall1",
      "recall10",
      "recall100",
      "ndcg10",
      "bytesPerVector",
      "qps",
      "buildSeconds",
      "codec",
      "index",
    ]) {
      expect(j, key).toHaveProperty(key);
    }
    expect(j).toMatchObject({
      codec: "float32",
      index: "scan",
      metric: "cosine",
      count: N,
      dim: D,
      queries: NQ,
      k: TRUTH_K,
    });
    expect(j["recall1"]).toBe(1);
    expect(j["recall10"]).toBe(1);
    expect(j["ndcg10"]).toBeCloseTo(1, 12);
    expect(j["recall100"]).toBeNull(); // the truth has 20 columns: recall@100 cannot be measured
    expect(j["bytesPerVector"]).toBeGreaterThanOrEqual(4 * D);
    expect(j["qps"]).toBeGreaterThan(0);
    expect(j["buildSeconds"]).toBeGreaterThan(0);
  });

  it("runs one line per --codec; lossy codecs cost recall and save bytes; --svg writes the plot", async () => {
    const r = await lowbit(
      ...EVAL(),
      "--codec",
      "int8",
      "--codec",
      "binary",
      "--json",
      "--svg",
      at("plot.svg"),
    );
    expect(r.code).toBe(0);
    const [int8, binary] = r.stdout
      .trimEnd()
      .split("\n")
      .map((l) => JSON.parse(l) as Record<string, number>);
    expect(int8!["recall10"]).toBeGreaterThanOrEqual(0.9);
    expect(binary!["recall10"]).toBeLessThan(int8!["recall10"]!);
    expect(binary!["bytesPerVector"]).toBeLessThan(int8!["bytesPerVector"]!);
    const svg = readFileSync(at("plot.svg"), "utf8");
    expect(svg).toMatch(/^<svg /);
    expect(svg).toContain(">int8</text>");
    expect(svg).toContain(">binary</text>");
  });

  it("prints a table without --json; --rescore defaults the rescore copy to int8", async () => {
    const r = await lowbit(...EVAL(), "--codec", "binary", "--rescore", "4", "-k", "10");
    expect(r.code).toBe(0);
    expect(r.stdout).toContain(`${N} vectors of dim ${D}, ${NQ} queries, k = 10, cosine`);
    expect(r.stdout).toMatch(/codec\s+index\s+B\/vector\s+recall@1\s+recall@10\s+recall@100/);
    expect(r.stdout).toMatch(/binary >int8 x4\s+scan/);
    const j = JSON.parse(
      (await lowbit(...EVAL(), "--codec", "binary", "--rescore", "4", "--json")).stdout,
    ) as Record<string, unknown>;
    expect(j).toMatchObject({ rescore: 4, rescoreCodec: "int8" });
    const plain = JSON.parse((await lowbit(...EVAL(), "--codec", "binary", "--json")).stdout) as Record<
      string,
      number
    >;
    expect(j["recall10"] as number).toBeGreaterThan(plain["recall10"]!);
  });

  it("--rescore-storage disk reads the copy from a saved file: same answers, not resident", async () => {
    const run = async (...extra: string[]) =>
      JSON.parse(
        (await lowbit(...EVAL(), "--codec", "binary", "--rescore", "4", "-k", "10", "--json", ...extra))
          .stdout,
      ) as Record<string, unknown> & { ram: Record<string, number> };
    const mem = await run();
    const disk = await run("--rescore-storage", "disk");
    expect(disk).toMatchObject({
      rescoreStorage: "disk",
      recall1: mem["recall1"],
      recall10: mem["recall10"],
    });
    expect(mem["rescoreStorage"]).toBe("memory");
    expect(disk.ram["rescore"]).toBe(0);
    expect(mem.ram["rescore"]).toBe(D);
    expect(disk["bytesPerVector"] as number).toBeCloseTo((mem["bytesPerVector"] as number) - D, 6);
    const bad = await lowbit(...EVAL(), "--codec", "binary", "--rescore-storage", "disk");
    expect(bad.code).toBe(2);
    expect(bad.stderr).toContain("--rescore-storage applies only with --rescore");
  });

  it("evaluates an HNSW index with --ef", async () => {
    const r = await lowbit(
      ...EVAL(),
      "--codec",
      "float16",
      "--index",
      "hnsw",
      "--ef",
      "64",
      "--M",
      "8",
      "--json",
    );
    expect(r.stderr).toBe("");
    const j = JSON.parse(r.stdout) as Record<string, unknown>;
    expect(j).toMatchObject({ index: "hnsw", ef: 64, M: 8, efConstruction: 200 });
    expect(j["recall10"] as number).toBeGreaterThanOrEqual(0.9);
  });

  it("shows a progress bar on a TTY", async () => {
    const stderr = sink(true);
    const code = await main(["embed", ...EVAL(), "--codec", "int8"], { stdout: sink(), stderr });
    expect(code).toBe(0);
    expect(stderr.text).toContain("build int8");
    expect(stderr.text).toContain("search int8");
    expect(stderr.text).toContain(`${NQ}/${NQ} queries`);
  });
});

describe("lowbit embed build and search", () => {
  it("builds a collection (ids are row numbers) and finds a base row's own id first", async () => {
    const b = await lowbit(
      "build",
      "--base",
      at("base.f32"),
      "--dim",
      String(D),
      "--codec",
      "int8",
      "--rescore",
      "float32",
      "--out",
      at("c1"),
    );
    expect(b.stderr).toBe("");
    expect(b.code).toBe(0);
    expect(b.stdout).toMatch(
      new RegExp(`^built ${N} vectors of dim ${D}: codec int8, rescore copy float32, index scan, `),
    );
    expect(existsSync(join(at("c1"), "CURRENT"))).toBe(true);
    const s = await lowbit(
      "search",
      "--collection",
      at("c1"),
      "--query",
      at("queries.f32"),
      "-k",
      "3",
      "--json",
    );
    expect(s.code).toBe(0);
    const j = JSON.parse(s.stdout) as {
      queries: number;
      k: number;
      results: { query: number; hits: { id: string; score: number }[] }[];
    };
    expect(j.queries).toBe(NQ);
    expect(j.k).toBe(3);
    for (const { query, hits } of j.results) {
      expect(hits).toHaveLength(3);
      expect(hits[0]!.id).toBe(String(truth[query * TRUTH_K]));
      expect(hits[0]!.score).toBeGreaterThanOrEqual(hits[1]!.score);
    }
    const text = await lowbit(
      "search",
      "--collection",
      at("c1"),
      "--query",
      at("queries.npy"),
      "-k",
      "2",
      "--rescore",
      "2",
    );
    expect(text.code).toBe(0);
    const lines = text.stdout.trimEnd().split("\n");
    expect(lines[0]).toBe("query\trank\tid\tscore");
    expect(lines).toHaveLength(1 + 2 * 2);
    expect(lines[1]).toMatch(new RegExp(`^0\\t1\\t${truth[0]}\\t[0-9.]+$`));
  });

  it("builds and searches an HNSW collection from an .npy base", async () => {
    writeFileSync(at("base.npy"), npyBytes("<f4", [N, D], new Uint8Array(base.buffer)));
    const b = await lowbit(
      "build",
      "--base",
      at("base.npy"),
      "--codec",
      "float16",
      "--index",
      "hnsw",
      "--M",
      "8",
      "--out",
      at("c2"),
    );
    expect(b.stderr).toBe("");
    expect(b.code).toBe(0);
    const s = await lowbit(
      "search",
      "--collection",
      at("c2"),
      "--query",
      at("queries.npy"),
      "-k",
      "1",
      "--ef",
      "32",
      "--json",
    );
    expect(s.stderr).toBe("");
    const j = JSON.parse(s.stdout) as { results: { hits: { id: string }[] }[] };
    expect(j.results.map((r) => r.hits[0]!.id)).toEqual([String(truth[0]), String(truth[TRUTH_K])]);
  });
});

describe("lowbit embed errors", () => {
  it.each([
    [["frobnicate"], /unknown subcommand "frobnicate"; subcommands: build, search, eval/],
    [[], /missing subcommand/],
    [["eval", "--base", "b", "--queries", "q", "--truth", "t"], /missing --codec <spec>/],
    [["eval", "--base", "b", "--queries", "q", "--truth", "t", "--codec", "int9"], /--codec: /],
    [
      ["eval", "--base", "b", "--queries", "q", "--truth", "t", "--codec", "int8", "--ef", "10"],
      /--ef applies only with --index hnsw/,
    ],
    [
      ["eval", "--base", "b", "--queries", "q", "--truth", "t", "--codec", "int8", "--rescore", "0.5"],
      /--rescore must be a number in \[1, 10000\]/,
    ],
    [
      ["eval", "--base", "b", "--queries", "q", "--truth", "t", "--codec", "int8", "--rescore-codec", "pq:4"],
      /--rescore-codec must be one of int8, float16, float32/,
    ],
    [["build", "--base", "b", "--codec", "int8"], /missing --out <dir>/],
    [
      ["build", "--base", "b", "--codec", "int8", "--out", "o", "--rescore-storage", "disk"],
      /--rescore-storage applies only with --rescore/,
    ],
    [
      ["build", "--base", "b", "--codec", "int8", "--out", "o", "--index", "ivf"],
      /--index must be one of scan, hnsw/,
    ],
    [["search", "--collection", "c"], /missing --query <file>/],
    [["search", "--collection", "c", "--query", "q", "-k", "ten"], /-k must be an integer/],
    [["search", "--collection", "c", "--query", "q", "extra"], /unexpected argument "extra"/],
  ])("usage error %j exits 2", async (args, message) => {
    const r = await lowbit(...(args as string[]));
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(message);
    expect(r.stderr).toContain("Run 'lowbit embed --help' for usage.");
    expect(r.stdout).toBe("");
  });

  it("a raw float32 base without --dim is a usage error; an .npy base needs none", async () => {
    const r = await lowbit(
      "eval",
      "--base",
      at("base.f32"),
      "--queries",
      at("queries.f32"),
      "--truth",
      at("truth.i32"),
      "--codec",
      "int8",
    );
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/missing --dim <n>: .*base\.f32 is a raw float32 file/);
    const b = await lowbit("build", "--base", at("base.f32"), "--codec", "int8", "--out", at("never"));
    expect(b.code).toBe(2);
    expect(existsSync(at("never"))).toBe(false);
  });

  it("bad data exits 1 with a clear message", async () => {
    writeBytes(at("short-truth.i32"), truth.subarray(0, truth.length - 1));
    const short = await lowbit(...EVAL(), "--truth", at("short-truth.i32"), "--codec", "int8");
    expect(short.code).toBe(1);
    expect(short.stderr).toMatch(/short-truth\.i32: 1596 bytes is not 20 equal rows of int32 values/);
    // 600 × 16 floats do not split into rows of 7.
    const wrongDim = await lowbit(
      "eval",
      "--base",
      at("base.f32"),
      "--queries",
      at("queries.f32"),
      "--truth",
      at("truth.i32"),
      "--dim",
      "7",
      "--codec",
      "int8",
    );
    expect(wrongDim.code).toBe(1);
    expect(wrongDim.stderr).toMatch(
      /base\.f32: 38400 bytes is not a whole number of rows of 7 float32 values/,
    );
    const bad = truth.slice();
    bad[5] = N + 3;
    writeBytes(at("bad-truth.i32"), bad);
    const r = await lowbit(
      "eval",
      "--base",
      at("base.f32"),
      "--queries",
      at("queries.f32"),
      "--truth",
      at("bad-truth.i32"),
      "--dim",
      String(D),
      "--codec",
      "int8",
    );
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/ground-truth id 603 \(query 0\) is not a row of the 600-row base/);
    const missing = await lowbit("search", "--collection", at("nowhere"), "--query", at("queries.f32"));
    expect(missing.code).toBe(1);
    expect(missing.stderr).toMatch(/^lowbit: /);
    writeFileSync(at("trunc.npy"), npyBytes("<f4", [2, D], new Uint8Array(D * 4)));
    const trunc = await lowbit("search", "--collection", at("c1"), "--query", at("trunc.npy"));
    expect(trunc.code).toBe(1);
    expect(trunc.stderr).toMatch(/trunc\.npy is truncated/);
  });

  it("prints its help", async () => {
    const r = await lowbit("--help");
    expect(r.code).toBe(0);
    expect(r.stdout).toContain("lowbit embed eval --base FILE --queries FILE --truth FILE --codec SPEC");
    const top = sink();
    await main(["--help"], { stdout: top, stderr: sink() });
    expect(top.text).toContain("embed        compressed embedding collections");
  });
});
