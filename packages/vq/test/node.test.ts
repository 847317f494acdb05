import { afterAll, describe, expect, it } from "vitest";
import { aq, kmeans } from "../src/index.js";
import { createKmeansPool } from "../src/node.js";
import { gaussian } from "./_data.js";

describe("createKmeansPool (worker_threads)", () => {
  const pool2 = createKmeansPool(2);
  const pool3 = createKmeansPool(3);
  afterAll(async () => {
    await pool2.close();
    await pool3.close();
  });

  it("gives byte-identical k-means results to the single-threaded path", () => {
    const data = gaussian(3001 * 8, 21);
    const ref = kmeans(data, 8, { k: 32, seed: 9, maxIterations: 6 });
    for (const pool of [pool2, pool3]) {
      const r = kmeans(data, 8, { k: 32, seed: 9, maxIterations: 6, assigner: pool });
      expect(r.centroids).toEqual(ref.centroids);
      expect(r.labels).toEqual(ref.labels);
      expect(r.inertia).toBe(ref.inertia);
    }
  });

  it("is accepted by the quantizers as `pool` (not recorded in the spec) with identical bytes", () => {
    const w = gaussian(64 * 64, 22);
    const spec = { bits: 5, rounds: 1, iterations: 5 };
    const a = aq.quantize(w, [64, 64], spec);
    const b = aq.quantize(w, [64, 64], { ...spec, pool: pool2 });
    expect(b.spec).toEqual(a.spec);
    expect(b.parts["qdata"]!.data).toEqual(a.parts["qdata"]!.data);
    expect(b.parts["codebooks"]!.data).toEqual(a.parts["codebooks"]!.data);
    expect(() => aq.quantize(w, [64, 64], { ...spec, pool: 3 })).toThrow(TypeError);
  });
});
