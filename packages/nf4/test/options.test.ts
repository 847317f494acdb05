import { describe, expect, it } from "vitest";
import { bnb_blockwise8, bnb_fp4, nf4, nf4Quantizers } from "../src/index.js";

const src = new Float32Array(256).map((_, i) => Math.sin(i));

describe("registration", () => {
  it("lists the three quantizers with their defaults", () => {
    expect(nf4Quantizers.map((q) => q.name)).toEqual(["nf4", "bnb_fp4", "bnb_blockwise8"]);
    expect(nf4.defaults).toEqual({
      blockSize: 64,
      doubleQuant: true,
      nestedBlockSize: 256,
      sourceDtype: "float32",
    });
    expect(bnb_fp4.defaults).toEqual(nf4.defaults);
    expect(bnb_blockwise8.defaults).toEqual({ blockSize: 4096 });
    for (const q of nf4Quantizers) expect(q.summary.length).toBeGreaterThan(10);
  });

  it("resolves the spec with every option filled in", () => {
    expect(nf4.quantize(src, [256]).spec).toEqual({
      format: "nf4",
      blockSize: 64,
      doubleQuant: true,
      nestedBlockSize: 256,
      sourceDtype: "float32",
    });
    expect(bnb_fp4.quantize(src, [16, 16], { blockSize: 128, doubleQuant: false }).spec).toEqual({
      format: "bnb_fp4",
      blockSize: 128,
      doubleQuant: false,
      nestedBlockSize: 256,
      sourceDtype: "float32",
    });
    expect(bnb_blockwise8.quantize(src, [256], { format: "bnb_blockwise8" }).spec).toEqual({
      format: "bnb_blockwise8",
      blockSize: 4096,
    });
  });

  it("keeps the shape and copies it", () => {
    const shape = [4, 64];
    const qt = nf4.quantize(src, shape);
    expect(qt.shape).toEqual([4, 64]);
    expect(qt.shape).not.toBe(shape);
  });
});

describe("bad options", () => {
  it("rejects unknown options by name", () => {
    expect(() => nf4.quantize(src, [256], { blocksize: 64 })).toThrow(RangeError);
    expect(() => nf4.quantize(src, [256], { blocksize: 64 })).toThrow(/spec\.blocksize/);
    expect(() => bnb_blockwise8.quantize(src, [256], { doubleQuant: true })).toThrow(/spec\.doubleQuant/);
  });

  it("rejects another format name", () => {
    expect(() => nf4.quantize(src, [256], { format: "bnb_fp4" })).toThrow(RangeError);
    expect(() => nf4.quantize(src, [256], { format: "bnb_fp4" })).toThrow(/spec\.format/);
  });

  it("checks block sizes: powers of two in [32, 4096]", () => {
    for (const blockSize of [16, 48, 100, 8192, 0, -64, 64.5]) {
      expect(() => nf4.quantize(src, [256], { blockSize }), String(blockSize)).toThrow(RangeError);
      expect(() => bnb_blockwise8.quantize(src, [256], { blockSize }), String(blockSize)).toThrow(RangeError);
    }
    expect(() => nf4.quantize(src, [256], { nestedBlockSize: 255 })).toThrow(/spec\.nestedBlockSize/);
    for (const blockSize of [32, 64, 128, 256, 512, 1024, 2048, 4096]) {
      expect(nf4.quantize(src, [256], { blockSize }).parts["absmax"]!.data.length).toBe(
        Math.ceil(256 / blockSize),
      );
    }
  });

  it("checks option types", () => {
    expect(() => nf4.quantize(src, [256], { blockSize: "64" })).toThrow(TypeError);
    expect(() => nf4.quantize(src, [256], { doubleQuant: 1 })).toThrow(TypeError);
    expect(() => nf4.quantize(src, [256], { doubleQuant: 1 })).toThrow(/spec\.doubleQuant/);
    expect(() => nf4.quantize(src, [256], { sourceDtype: "float64" })).toThrow(RangeError);
    expect(() => nf4.quantize(src, [256], { sourceDtype: 16 })).toThrow(TypeError);
    expect(() => nf4.quantize(src, [256], null as never)).toThrow(TypeError);
    expect(() => nf4.quantize(src, [256], [] as never)).toThrow(TypeError);
  });
});

describe("bad input", () => {
  it("needs a Float32Array matching the shape", () => {
    for (const q of nf4Quantizers) {
      expect(() => q.quantize(Array.from(src) as never, [256])).toThrow(TypeError);
      expect(() => q.quantize(new Float64Array(256) as never, [256])).toThrow(/src must be a Float32Array/);
      expect(() => q.quantize(src, [255])).toThrow(RangeError);
      expect(() => q.quantize(src, [255])).toThrow(/src has 256 elements/);
      expect(() => q.quantize(src, [16, -16])).toThrow(RangeError);
      expect(() => q.quantize(src, "256" as never)).toThrow(TypeError);
    }
  });

  it("quantizes empty tensors", () => {
    for (const q of nf4Quantizers) {
      const qt = q.quantize(new Float32Array(0), [0, 8]);
      expect(q.dequantize(qt)).toEqual(new Float32Array(0));
    }
  });
});
