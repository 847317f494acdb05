import { describe, expect, it } from "vitest";
import { kmeans } from "../src/index.js";
import { gaussian } from "./_data.js";

describe("kmeans", () => {
  const data = gaussian(2000 * 4, 3);

  it("is deterministic for a seed and differs across seeds", () => {
    const a = kmeans(data, 4, { k: 16, seed: 5 });
    const b = kmeans(data, 4, { k: 16, seed: 5 });
    const c = kmeans(data, 4, { k: 16, seed: 6 });
    expect(b.centroids).toEqual(a.centroids);
    expect(b.labels).toEqual(a.labels);
    expect(c.centroids).not.toEqual(a.centroids);
  });

  it("decreases inertia below the seeding and every point sits at its nearest centroid", () => {
    const r0 = kmeans(data, 4, { k: 8, seed: 1, maxIterations: 0 });
    const r = kmeans(data, 4, { k: 8, seed: 1, maxIterations: 50 });
    expect(r.inertia).toBeLessThan(r0.inertia * 0.9);
    for (let i = 0; i < 200; i++) {
      let best = -1;
      let bd = Infinity;
      for (let c = 0; c < 8; c++) {
        let s = 0;
        for (let t = 0; t < 4; t++) s += (data[i * 4 + t]! - r.centroids[c * 4 + t]!) ** 2;
        if (s < bd) {
          bd = s;
          best = c;
        }
      }
      expect(r.labels[i]).toBe(best);
    }
  });

  it("sample weights pull centroids (k = 1 is the weighted mean)", () => {
    const d = Float32Array.of(0, 10);
    expect(kmeans(d, 1, { k: 1 }).centroids[0]).toBeCloseTo(5, 5);
    expect(kmeans(d, 1, { k: 1, weights: Float32Array.of(1, 3) }).centroids[0]).toBeCloseTo(7.5, 5);
    // Per-coordinate weights: coordinate 0 weighs point 1, coordinate 1 weighs point 0.
    const d2 = Float32Array.of(0, 0, 10, 10);
    const c = kmeans(d2, 2, { k: 1, weights: Float32Array.of(1, 3, 3, 1) }).centroids;
    expect(c[0]).toBeCloseTo(7.5, 5);
    expect(c[1]).toBeCloseTo(2.5, 5);
  });

  it("repairs an empty cluster from the point with the largest error", () => {
    const d = Float32Array.of(0, 0, 0, 10, 10, 10, 20, 20, 20);
    const r = kmeans(d, 1, { k: 3, init: Float32Array.of(0, 0, 20) });
    expect(r.inertia).toBeCloseTo(0, 9);
    expect([...r.centroids].sort((a, b) => a - b)).toEqual([0, 10, 20]);
    expect(new Set(r.labels).size).toBe(3);
  });

  it("mini-batch reaches an inertia close to full Lloyd", () => {
    const full = kmeans(data, 4, { k: 8, seed: 2 });
    const mb = kmeans(data, 4, { k: 8, seed: 2, batchSize: 256, maxIterations: 40 });
    expect(mb.inertia).toBeLessThan(full.inertia * 1.1);
    expect(kmeans(data, 4, { k: 8, seed: 2, batchSize: 256 }).centroids).toEqual(
      kmeans(data, 4, { k: 8, seed: 2, batchSize: 256 }).centroids,
    );
  });

  it("rejects bad input and stops on abort", () => {
    expect(() => kmeans(Float32Array.of(1, 2), 1, { k: 3 })).toThrow(RangeError);
    expect(() => kmeans(Float32Array.of(1, Number.NaN), 1, { k: 1 })).toThrow(/data\[1\]/);
    expect(() => kmeans(Float32Array.of(1, 2, 3), 2, { k: 1 })).toThrow(RangeError);
    const ac = new AbortController();
    ac.abort(new Error("stop"));
    expect(() => kmeans(data, 4, { k: 4 }, { signal: ac.signal })).toThrow("stop");
    const ac2 = new AbortController();
    let calls = 0;
    expect(() =>
      kmeans(
        data,
        4,
        { k: 4, tolerance: 0, maxIterations: 100 },
        {
          signal: ac2.signal,
          onProgress: () => {
            calls++;
            if (calls === 2) ac2.abort(new Error("mid"));
          },
        },
      ),
    ).toThrow("mid");
    expect(calls).toBe(2);
  });
});
