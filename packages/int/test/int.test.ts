import { createRng, unpack } from "@lowbit/bits";
import { describe, expect, it } from "vitest";
import { createIntQuantizer, dequantizeInt, intQuantizers, quantizeInt } from "../src/index.js";

const normals = (n: number, seed: number) => {
  const rng = createRng(seed);
  return Float32Array.from({ length: n }, () => {
    const r = Math.sqrt(-2 * Math.log(1 - rng.nextFloat()));
    return r * Math.cos(2 * Math.PI * rng.nextFloat());
  });
};

describe("registry entries", () => {
  it("lists int2…int8, uint2…uint8 and the four GGUF formats, each with frozen defaults", () => {
    expect(intQuantizers.map((q) => q.name)).toEqual([
      ...[2, 3, 4, 5, 6, 7, 8].map((b) => `int${b}`),
      ...[2, 3, 4, 5, 6, 7, 8].map((b) => `uint${b}`),
      "gguf_q4_0",
      "gguf_q4_1",
      "gguf_q8_0",
      "gguf_mxfp4",
    ]);
    for (const q of intQuantizers) {
      expect(Object.isFrozen(q.defaults)).toBe(true);
      expect(q.summary.length).toBeGreaterThan(10);
    }
    expect(intQuantizers[0]!.defaults).toEqual({
      group: 0,
      axis: 0,
      symmetric: true,
      fullRange: false,
      rounding: "nearest-even",
      seed: null,
      clip: false,
      scaleDtype: "F32",
    });
    expect(intQuantizers.find((q) => q.name === "uint4")!.defaults["symmetric"]).toBe(false);
    expect(intQuantizers.find((q) => q.name === "gguf_q4_0")!.defaults).toEqual({ variant: "current" });
    expect(intQuantizers.find((q) => q.name === "gguf_q8_0")!.defaults).toEqual({});
  });

  it("the resolved spec round-trips through JSON and decodes the same", () => {
    const x = normals(256, 1);
    for (const q of intQuantizers) {
      const qt = q.quantize(x, [4, 64]);
      const again = { ...qt, spec: JSON.parse(JSON.stringify(qt.spec)) };
      expect(q.dequantize(again)).toEqual(q.dequantize(qt));
    }
  });

  it("createIntQuantizer checks its arguments", () => {
    expect(createIntQuantizer(5, false).name).toBe("uint5");
    expect(() => createIntQuantizer(9, true)).toThrow(RangeError);
    expect(() => createIntQuantizer(4, "yes" as never)).toThrow(TypeError);
  });
});

describe("quantizeInt / dequantizeInt", () => {
  it("pick the format from bits and signed, and agree with the registered quantizer", () => {
    const x = normals(512, 2);
    const a = quantizeInt(x, [8, 64], { bits: 5, signed: false, group: 32 });
    expect(a.spec["format"]).toBe("uint5");
    const b = intQuantizers.find((q) => q.name === "uint5")!.quantize(x, [8, 64], { group: 32 });
    expect(a).toEqual(b);
    expect(dequantizeInt(a)).toEqual(intQuantizers.find((q) => q.name === "uint5")!.dequantize(b));
  });

  it("parts: qdata U8 [packed bytes], scales on the group grid, zeros only when asymmetric", () => {
    const x = normals(3 * 40, 3);
    const sym = quantizeInt(x, [3, 40], { bits: 3, group: 8 });
    expect(Object.keys(sym.parts).sort()).toEqual(["qdata", "scales"]);
    expect(sym.parts["qdata"]).toMatchObject({ dtype: "U8", shape: [45] });
    expect(sym.parts["scales"]).toMatchObject({ dtype: "F32", shape: [3, 5] });
    const asym = quantizeInt(x, [3, 40], { bits: 7, signed: false, scaleDtype: "F16" });
    expect(asym.parts["qdata"]).toMatchObject({ dtype: "U8", shape: [105] });
    expect(asym.parts["scales"]).toMatchObject({ dtype: "F16", shape: [3] });
    expect(asym.parts["scales"]!.data).toBeInstanceOf(Uint16Array);
    expect(asym.parts["zeros"]).toMatchObject({ dtype: "U8", shape: [3] });
    const tensor = quantizeInt(x, [3, 40], { bits: 8, axis: null });
    expect(tensor.parts["scales"]).toMatchObject({ shape: [1] });
  });

  it("unpacked codes of an 8-bit symmetric tensor are the two's complement bytes", () => {
    const x = Float32Array.of(-127, -1, 0, 1, 127, -63.5, 63.5);
    const qt = quantizeInt(x, [7], { bits: 8, axis: null });
    expect([...unpack(qt.parts["qdata"]!.data as Uint8Array, 8, 7)]).toEqual([129, 255, 0, 1, 127, 192, 64]);
  });

  it("decodes qdata at any byte offset (word and byte paths agree)", () => {
    for (const [bits, cols, group] of [
      [2, 256, 64],
      [4, 256, 128],
      [4, 252, 18], // 72-bit groups: the byte path
      [8, 256, 32],
      [3, 256, 64],
    ] as const) {
      const x = normals(16 * cols, bits);
      const qt = quantizeInt(x, [16, cols], { bits, group });
      const want = dequantizeInt(qt);
      const q = qt.parts["qdata"]!;
      const shifted = new Uint8Array(q.data.length + 1);
      shifted.set(q.data as Uint8Array, 1);
      const moved = { ...qt, parts: { ...qt.parts, qdata: { ...q, data: shifted.subarray(1) } } };
      expect(dequantizeInt(moved), `int${bits} group ${group}`).toEqual(want);
      // Against the formula: (code − 0) · scale for every element.
      const scales = qt.parts["scales"]!.data as Float32Array;
      const codes = unpack(q.data as Uint8Array, bits, x.length);
      const sh = 32 - bits;
      for (let i = 0; i < x.length; i += 7) {
        expect(want[i]).toBe(Math.fround(((codes[i]! << sh) >> sh) * scales[Math.floor(i / group)]!));
      }
    }
  });

  it("does not change its input", () => {
    const x = normals(128, 4);
    const copy = Float32Array.from(x);
    quantizeInt(x, [128], { bits: 4, clip: true, rounding: "stochastic", seed: 1 });
    expect(x).toEqual(copy);
  });
});

describe("work context", () => {
  it("reports progress up to the total and honours an aborted signal", () => {
    const x = normals(1 << 21, 5);
    const seen: [number, number][] = [];
    quantizeInt(x, [1 << 21], { bits: 4, group: 64 }, { onProgress: (d, t) => seen.push([d, t]) });
    expect(seen.length).toBeGreaterThan(1);
    expect(seen.length).toBeLessThan(300);
    expect(seen.at(-1)).toEqual([1 << 21, 1 << 21]);
    for (let i = 1; i < seen.length; i++) expect(seen[i]![0]).toBeGreaterThanOrEqual(seen[i - 1]![0]);

    const reason = new Error("stop");
    const signal = { aborted: true, reason };
    expect(() => quantizeInt(x, [1 << 21], { bits: 4 }, { signal })).toThrow(reason);
    expect(() => quantizeInt(x, [1 << 21], { bits: 4, clip: true }, { signal: { aborted: true } })).toThrow(
      /aborted/,
    );
    const gguf = intQuantizers.find((q) => q.name === "gguf_q4_0")!;
    expect(() => gguf.quantize(x, [1 << 21], {}, { signal })).toThrow(reason);
    const g: number[] = [];
    gguf.quantize(x, [1 << 21], {}, { onProgress: (d) => g.push(d) });
    expect(g.at(-1)).toBe((1 << 21) / 32);
  });
});
