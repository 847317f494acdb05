import { CorruptDataError, type QuantizedTensor } from "@lowbit/bits";
import { describe, expect, it } from "vitest";
import { aq, decodeVq, matvec, pq, rvq, vq, vqQuantizers } from "../src/index.js";
import { denseMatvec, gaussian, relMse, structured } from "./_data.js";

const fast = { iterations: 8 };

describe("quantizers", () => {
  it("registers vq, pq, rvq, aq with their defaults", () => {
    expect(vqQuantizers.map((q) => q.name)).toEqual(["vq", "pq", "rvq", "aq"]);
    expect(aq.defaults).toMatchObject({ group: 8, codebooks: 2, bits: 8, beam: 8 });
    expect(vq.defaults).toMatchObject({ vectorLength: 8, bits: 8, residual: 0, normalize: "none" });
  });

  it("recovers structured data almost exactly (each format)", () => {
    const w = structured(64, 64, 8, 12, 0.001, 11);
    for (const [q, spec] of [
      [vq, { bits: 4 }],
      [pq, { bits: 4, subspaces: 2 }],
      [rvq, { bits: 4, codebooks: 2 }],
      [aq, { bits: 4, codebooks: 2, rounds: 1 }],
    ] as const) {
      const qt = q.quantize(w, [64, 64], { ...spec, ...fast });
      // aq's per-row scales break the shared patterns across rows, hence its looser bound.
      expect(relMse(w, q.dequantize(qt)), q.name).toBeLessThan(q.name === "aq" ? 5e-3 : 1e-3);
    }
  });

  it("error decreases with more bits and more codebooks", () => {
    const w = gaussian(64 * 64, 4);
    const err = (q: typeof vq, spec: Record<string, unknown>): number =>
      relMse(w, q.dequantize(q.quantize(w, [64, 64], { ...spec, ...fast })));
    expect(err(vq, { vectorLength: 4, bits: 6 })).toBeLessThan(err(vq, { vectorLength: 4, bits: 3 }));
    expect(err(vq, { vectorLength: 4, bits: 3, residual: 1 })).toBeLessThan(
      err(vq, { vectorLength: 4, bits: 3 }),
    );
    expect(err(pq, { bits: 6 })).toBeLessThan(err(pq, { bits: 3 }));
    expect(err(rvq, { bits: 5, codebooks: 2 })).toBeLessThan(err(rvq, { bits: 5, codebooks: 1 }));
    expect(err(aq, { bits: 5, codebooks: 2, rounds: 1 })).toBeLessThan(
      err(aq, { bits: 5, codebooks: 1, rounds: 1 }),
    );
  });

  it("AQ 2x8 g8 beats Lloyd–Max 2-bit (0.1175) on an iid Gaussian 256x256", () => {
    const w = gaussian(256 * 256, 9);
    const qt = aq.quantize(w, [256, 256], { rounds: 2, iterations: 10 });
    const e = relMse(w, aq.dequantize(qt));
    expect(e).toBeLessThan(0.1175);
    // 2 bits/weight of codes
    expect(qt.parts["qdata"]!.data.length * 8).toBe(2 * 256 * 256);
    expect(qt.parts["codebooks"]!.shape).toEqual([2, 256, 8]);
    expect(qt.parts["scales"]!.shape).toEqual([256]);
  }, 20_000);

  it("AQ rounds improve on the residual-VQ start", () => {
    const w = gaussian(128 * 128, 10);
    const e0 = relMse(w, aq.dequantize(aq.quantize(w, [128, 128], { bits: 6, rounds: 0, ...fast })));
    const e2 = relMse(w, aq.dequantize(aq.quantize(w, [128, 128], { bits: 6, rounds: 2, ...fast })));
    expect(e2).toBeLessThan(e0);
  });

  it("is deterministic for a seed: identical bytes; another seed differs", () => {
    const w = gaussian(64 * 64, 5);
    const a = aq.quantize(w, [64, 64], { bits: 5, rounds: 1, seed: 3, ...fast });
    const b = aq.quantize(w, [64, 64], { bits: 5, rounds: 1, seed: 3, ...fast });
    const c = aq.quantize(w, [64, 64], { bits: 5, rounds: 1, seed: 4, ...fast });
    expect(b.parts["qdata"]!.data).toEqual(a.parts["qdata"]!.data);
    expect(b.parts["codebooks"]!.data).toEqual(a.parts["codebooks"]!.data);
    expect(c.parts["codebooks"]!.data).not.toEqual(a.parts["codebooks"]!.data);
  });

  it("trainSample: codebooks from a seeded sample, codes for every vector", () => {
    // 128 rows × 16 groups = 2048 vectors of 8; train on 512 of them.
    const w = structured(128, 128, 8, 12, 0.001, 21);
    for (const [q, spec] of [
      [vq, { bits: 4, residual: 1 }],
      [pq, { bits: 4 }],
      [rvq, { bits: 4, codebooks: 2 }],
      [aq, { bits: 4, codebooks: 2, rounds: 1 }],
    ] as const) {
      const units: number[] = [];
      const qt = q.quantize(
        w,
        [128, 128],
        { ...spec, ...fast, trainSample: 512 },
        { onProgress: (d, t) => units.push(d, t) },
      );
      expect(qt.spec["trainSample"], q.name).toBe(512);
      // Every vector is coded, including the 1536 never seen in training.
      expect(relMse(w, q.dequantize(qt)), q.name).toBeLessThan(q.name === "aq" ? 5e-3 : 1e-3);
      // Progress reaches its total, which counts the encode-everything step.
      expect(units.at(-2), q.name).toBe(units.at(-1));
      const again = q.quantize(w, [128, 128], { ...spec, ...fast, trainSample: 512 });
      expect(again.parts["qdata"]!.data, q.name).toEqual(qt.parts["qdata"]!.data);
      // A sample as large as the set is the set: identical bytes to no sampling.
      const all = q.quantize(w, [128, 128], { ...spec, ...fast, trainSample: 2048 });
      const none = q.quantize(w, [128, 128], { ...spec, ...fast });
      expect(all.parts["qdata"]!.data, q.name).toEqual(none.parts["qdata"]!.data);
      expect(all.parts["codebooks"]!.data, q.name).toEqual(none.parts["codebooks"]!.data);
      // …and a smaller sample trains different codebooks.
      expect(qt.parts["codebooks"]!.data, q.name).not.toEqual(none.parts["codebooks"]!.data);
    }
    expect(() => aq.quantize(w, [128, 128], { bits: 8, trainSample: 100 })).toThrow(
      /trainSample is 100; use trainSample ≥ 256/,
    );
  });

  it("vq options: normalize, importance weights, wide codes (10 bits), N-D shapes", () => {
    const w = gaussian(4 * 32 * 64, 6);
    for (let r = 0; r < 128; r++) for (let c = 0; c < 64; c++) w[r * 64 + c] = w[r * 64 + c]! * (1 + r / 16);
    const qn = vq.quantize(w, [4, 32, 64], { vectorLength: 4, bits: 4, normalize: "norm", ...fast });
    expect(qn.parts["scales"]!.shape).toEqual([128]);
    const plainErr = relMse(
      w,
      vq.dequantize(vq.quantize(w, [4, 32, 64], { vectorLength: 4, bits: 4, ...fast })),
    );
    expect(relMse(w, vq.dequantize(qn))).toBeLessThan(0.4);
    const qa = vq.quantize(w, [4, 32, 64], { vectorLength: 4, bits: 4, normalize: "absmax", ...fast });
    expect(relMse(w, vq.dequantize(qa))).toBeLessThan(0.4);
    // Rows scaled 1..9×: per-row normalisation beats one shared codebook.
    expect(relMse(w, vq.dequantize(qn))).toBeLessThan(plainErr);
    const imp = new Float32Array(64).fill(1);
    for (let c = 0; c < 8; c++) imp[c] = 100;
    const plain = vq.dequantize(vq.quantize(w, [4, 32, 64], { vectorLength: 4, bits: 4, ...fast }));
    const qi = vq.quantize(w, [4, 32, 64], { vectorLength: 4, bits: 4, importance: imp, ...fast });
    expect(qi.spec["importance"]).toBe(true);
    const weighted = vq.dequantize(qi);
    const colErr = (d: Float32Array): number => {
      let e = 0;
      for (let r = 0; r < 128; r++) for (let c = 0; c < 8; c++) e += (w[r * 64 + c]! - d[r * 64 + c]!) ** 2;
      return e;
    };
    expect(colErr(weighted)).toBeLessThan(colErr(plain));
    const wide = vq.quantize(w, [4, 32, 64], { vectorLength: 2, bits: 10, iterations: 3 });
    expect(wide.parts["qdata"]!.data.length).toBe((128 * 32 * 10) / 8);
    expect(relMse(w, vq.dequantize(wide))).toBeLessThan(0.05);
    expect(decodeVq(wide)).toEqual(vq.dequantize(wide));
  });

  it("matvec from codes equals dequantize + dense matvec (every format, LUT and direct paths)", () => {
    const cases: [typeof vq, Record<string, unknown>, number, number][] = [
      [vq, { vectorLength: 4, bits: 5, normalize: "norm" }, 96, 64],
      [vq, { vectorLength: 2, bits: 8 }, 96, 64], // 256 entries > rows / 2: direct path
      [pq, { bits: 4, subspaces: 4 }, 96, 64],
      [rvq, { bits: 4, codebooks: 3 }, 96, 64],
      [aq, { bits: 4, codebooks: 2, rounds: 1 }, 96, 64],
      [aq, { bits: 8, codebooks: 2, rounds: 1, iterations: 3, beam: 2 }, 512, 32], // 2x8 32-bit code loads
      [aq, { bits: 8, codebooks: 2, rounds: 0, iterations: 2, beam: 1 }, 512, 24], // odd group count
    ];
    for (const [q, spec, rows, cols] of cases) {
      const w = gaussian(rows * cols, 12);
      const x = gaussian(cols, 13);
      const qt = q.quantize(w, [rows, cols], { ...fast, ...spec });
      const ref = denseMatvec(q.dequantize(qt), rows, cols, x);
      const y = matvec(qt, x);
      let e = 0;
      let s = 0;
      for (let r = 0; r < rows; r++) {
        e += (y[r]! - ref[r]!) ** 2;
        s += ref[r]! ** 2;
      }
      expect(Math.sqrt(e / s), `${q.name} ${JSON.stringify(spec)}`).toBeLessThan(1e-4);
    }
  });

  it("rejects bad shapes, too-large codebooks, NaN, bad options", () => {
    const w = gaussian(16 * 20, 1);
    expect(() => aq.quantize(w, [16, 20])).toThrow(/\[16, 20\].*multiple of the group length 8/);
    expect(() => vq.quantize(gaussian(16 * 16, 1), [16, 16], { bits: 8 })).toThrow(
      /256 codebook entries.*32 vectors/,
    );
    const bad = gaussian(64, 1);
    bad[37] = Number.POSITIVE_INFINITY;
    expect(() => vq.quantize(bad, [8, 8], { bits: 1 })).toThrow(/src\[37\]/);
    expect(() => vq.quantize(w, [16, 20], { vectorLength: 4, bogus: 1 })).toThrow(RangeError);
    expect(() => vq.quantize(w, [16, 20], { vectorLength: "4" })).toThrow(TypeError);
    expect(() => vq.quantize(w, [16, 20], { vectorLength: 4, importance: true })).toThrow(TypeError);
    expect(() => vq.quantize(w, [16, 20], { vectorLength: 4, importance: new Float32Array(3) })).toThrow(
      RangeError,
    );
    expect(() => pq.quantize(w, [16, 20], { vectorLength: 4, subspaces: 3 })).toThrow(RangeError);
    expect(() => vq.quantize(w, [16, 21])).toThrow(RangeError);
  });

  it("stops on abort with the signal's reason", () => {
    const w = gaussian(64 * 64, 2);
    const ac = new AbortController();
    let calls = 0;
    expect(() =>
      aq.quantize(
        w,
        [64, 64],
        { bits: 4, rounds: 4, ...fast },
        {
          signal: ac.signal,
          onProgress: () => {
            if (++calls === 3) ac.abort(new Error("cancelled"));
          },
        },
      ),
    ).toThrow("cancelled");
  });

  it("throws CorruptDataError for malformed parts", () => {
    const w = gaussian(32 * 32, 3);
    const qt = aq.quantize(w, [32, 32], { bits: 3, rounds: 1, ...fast });
    const withPart = (name: string, p: unknown): QuantizedTensor =>
      ({ ...qt, parts: { ...qt.parts, [name]: p } }) as QuantizedTensor;
    const { scales: _s, ...noScales } = qt.parts;
    expect(() => aq.dequantize({ ...qt, parts: noScales })).toThrow(CorruptDataError);
    const q = qt.parts["qdata"]!;
    expect(() =>
      aq.dequantize(withPart("qdata", { ...q, data: q.data.subarray(1), shape: [q.shape[0]! - 1] })),
    ).toThrow(CorruptDataError);
    expect(() => aq.dequantize(withPart("qdata", { ...q, dtype: "I8" }))).toThrow(CorruptDataError);
    const cb = qt.parts["codebooks"]!;
    const nan = new Uint16Array(cb.data as Uint16Array);
    nan[5] = 0x7e00;
    expect(() => aq.dequantize(withPart("codebooks", { ...cb, data: nan }))).toThrow(CorruptDataError);
    expect(() => aq.dequantize(withPart("codebooks", { ...cb, shape: [2, 4, 8] }))).toThrow(CorruptDataError);
    expect(() => aq.dequantize({ ...qt, spec: { ...qt.spec, bits: 4 } })).toThrow(CorruptDataError);
    expect(() => aq.dequantize({ ...qt, spec: { ...qt.spec, format: "vq" } })).toThrow(CorruptDataError);
    expect(() => aq.dequantize({ ...qt, shape: [32, 30] })).toThrow(CorruptDataError);
    expect(() => matvec({ ...qt, parts: noScales }, new Float32Array(32))).toThrow(CorruptDataError);
    expect(() => matvec(qt, new Float32Array(31))).toThrow(RangeError);
  });
});
