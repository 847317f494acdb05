import { describe, expect, it } from "vitest";
import { createRng } from "../src/index.js";

// Expected streams computed by an independent Python transcription of the documented algorithm
// (SplitMix32 seeding, xoshiro128**), so the JS stream is pinned for other languages to reproduce.
describe("createRng (xoshiro128** seeded by SplitMix32)", () => {
  it.each([
    [0, [1789933344, 44971166, 2521387044, 3848737593, 1138324114]],
    [42, [660444221, 3652823732, 77672526, 910233633, 2297337756]],
    [0xffffffff, [4104197751, 1825856343, 1152209388]],
  ])("seed %i gives the documented stream", (seed, expected) => {
    const rng = createRng(seed);
    expect(expected.map(() => rng.nextUint32())).toEqual(expected);
  });

  it("takes the seed mod 2^32", () => {
    expect(createRng(-1).nextUint32()).toBe(createRng(0xffffffff).nextUint32());
  });

  it("nextFloat is in [0, 1) with mean near 1/2", () => {
    const rng = createRng(7);
    let sum = 0;
    const n = 100_000;
    for (let i = 0; i < n; i++) {
      const u = rng.nextFloat();
      expect(u >= 0 && u < 1).toBe(true);
      sum += u;
    }
    // σ of the mean = sqrt(1/12 / n) ≈ 0.0009; 5σ bound
    expect(Math.abs(sum / n - 0.5)).toBeLessThan(0.0046);
  });

  it("rejects a non-integer seed", () => {
    expect(() => createRng(1.5)).toThrow(TypeError);
    expect(() => createRng(Number.NaN)).toThrow(/seed must be an integer/);
  });
});
