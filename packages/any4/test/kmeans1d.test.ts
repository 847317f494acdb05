import { createRng } from "@lowbit/bits";
import { describe, expect, it } from "vitest";
import { kmeans1d } from "../src/index.js";

function normals(n: number, seed: number): Float32Array {
  const rng = createRng(seed);
  const x = new Float32Array(n);
  for (let i = 0; i < n; i++) {
    const u = 1 - rng.nextFloat();
    x[i] = Math.sqrt(-2 * Math.log(u)) * Math.cos(2 * Math.PI * rng.nextFloat());
  }
  return x;
}

/** Nearest centre (lower on a tie), brute force. */
function assign(x: number, centers: Float64Array): number {
  let best = 0;
  for (let j = 1; j < centers.length; j++) {
    if (Math.abs(x - centers[j]!) < Math.abs(x - centers[best]!)) best = j;
  }
  return best;
}

function weightedSse(values: Float32Array, centers: Float64Array, weights?: Float32Array): number {
  let s = 0;
  for (let i = 0; i < values.length; i++) {
    const d = values[i]! - centers[assign(values[i]!, centers)]!;
    s += (weights ? weights[i]! : 1) * d * d;
  }
  return s;
}

describe("kmeans1d", () => {
  const x = normals(4096, 1);

  it("is deterministic for a seed and differs across seeds", () => {
    const a = kmeans1d(x, 16, { seed: 5 });
    const b = kmeans1d(x, 16, { seed: 5 });
    expect(b.centers).toEqual(a.centers);
    const others = [6, 7, 8].map((seed) => kmeans1d(x, 16, { seed }).centers);
    expect(others.some((c) => c.some((v, j) => v !== a.centers[j]))).toBe(true);
  });

  it("returns sorted centres at a Lloyd fixed point: each is the mean of its cluster", () => {
    const r = kmeans1d(x, 16);
    const c = r.centers;
    for (let j = 1; j < c.length; j++) expect(c[j]!).toBeGreaterThan(c[j - 1]!);
    const sum = new Float64Array(16);
    const cnt = new Float64Array(16);
    for (const v of x) {
      const j = assign(v, c);
      sum[j] = sum[j]! + v;
      cnt[j] = cnt[j]! + 1;
    }
    for (let j = 0; j < 16; j++) expect(c[j]!).toBeCloseTo(sum[j]! / cnt[j]!, 10);
    expect(r.iterations).toBeGreaterThan(0);
    expect(r.iterations).toBeLessThan(300);
    expect(r.inertia).toBeCloseTo(weightedSse(x, c), 6);
  });

  it("Lloyd lowers the error of the k-means++ seeding, which beats a uniform grid", () => {
    const seeded = kmeans1d(x, 16, { iterations: 0 });
    const full = kmeans1d(x, 16);
    let lo = Number.POSITIVE_INFINITY;
    let hi = Number.NEGATIVE_INFINITY;
    for (const v of x) {
      lo = Math.min(lo, v);
      hi = Math.max(hi, v);
    }
    const uniform = Float64Array.from({ length: 16 }, (_, j) => lo + ((hi - lo) * (j + 0.5)) / 16);
    expect(seeded.iterations).toBe(0);
    // With no Lloyd step the centres are data points.
    for (const c of seeded.centers) expect(x.includes(Math.fround(c))).toBe(true);
    expect(full.inertia).toBeLessThan(seeded.inertia);
    expect(full.inertia).toBeLessThan(0.8 * weightedSse(x, uniform));
  });

  it("moves centres towards heavily weighted samples", () => {
    const u = new Float32Array(1000);
    for (let i = 0; i < 1000; i++) u[i] = i / 1000;
    const plain = kmeans1d(u, 2);
    expect(plain.centers[0]!).toBeCloseTo(0.25, 2);
    expect(plain.centers[1]!).toBeCloseTo(0.75, 2);
    const w = new Float32Array(1000).fill(1);
    for (let i = 900; i < 1000; i++) w[i] = 50;
    const heavy = kmeans1d(u, 2, { weights: w });
    expect(heavy.centers[1]!).toBeGreaterThan(plain.centers[1]! + 0.1);
    expect(heavy.inertia).toBeCloseTo(weightedSse(u, heavy.centers, w), 6);
    // k = 1: the weighted mean.
    let sw = 0;
    let swx = 0;
    for (let i = 0; i < 1000; i++) {
      sw += w[i]!;
      swx += w[i]! * u[i]!;
    }
    expect(kmeans1d(u, 1, { weights: w }).centers[0]!).toBeCloseTo(swx / sw, 10);
  });

  it("never seeds on a zero-weight sample and ignores all-zero weights", () => {
    const v = Float32Array.from([0, 1, 2, 100]);
    const w = Float32Array.from([1, 1, 1, 0]);
    for (let seed = 0; seed < 20; seed++) {
      const c = kmeans1d(v, 3, { weights: w, seed, iterations: 0 }).centers;
      expect([...c]).toEqual([0, 1, 2]);
    }
    expect(kmeans1d(v, 4, { weights: new Float32Array(4) }).centers).toEqual(
      Float64Array.from([0, 1, 2, 100]),
    );
  });

  it("handles fewer distinct values than centres, and no values", () => {
    const r = kmeans1d(Float32Array.from([3, 3, -1, 3]), 4);
    expect([...r.centers]).toEqual([-1, 3, 3, 3]);
    expect(r.inertia).toBe(0);
    expect([...kmeans1d(new Float32Array(0), 2).centers]).toEqual([0, 0]);
  });

  it("keeps precision far from zero", () => {
    const v = Float32Array.from([1e6, 1e6 + 0.0625, 1e6 + 10, 1e6 + 10.0625]);
    expect([...kmeans1d(v, 2).centers]).toEqual([1e6 + 0.03125, 1e6 + 10.03125]);
  });

  it("rejects bad arguments", () => {
    expect(() => kmeans1d([1, 2] as unknown as Float32Array, 2)).toThrow(TypeError);
    expect(() => kmeans1d(x, 0)).toThrow(RangeError);
    expect(() => kmeans1d(x, 2.5)).toThrow(RangeError);
    expect(() => kmeans1d(Float32Array.from([1, Number.NaN]), 2)).toThrow(/values\[1\]/);
    expect(() => kmeans1d(x, 2, { weights: new Float32Array(3) })).toThrow(RangeError);
    expect(() => kmeans1d(Float32Array.from([1, 2]), 2, { weights: Float32Array.from([1, -1]) })).toThrow(
      /weights\[1\]/,
    );
    expect(() => kmeans1d(x, 2, { seed: 0.5 })).toThrow(TypeError);
    expect(() => kmeans1d(x, 2, { iterations: -1 })).toThrow(RangeError);
  });
});
