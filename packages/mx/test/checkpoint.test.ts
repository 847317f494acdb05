import { CorruptDataError, createRng, NotFoundError, type TensorPart } from "@lowbit/bits";
import { describe, expect, it } from "vitest";
import {
  fromGptOssMxfp4,
  fromModelOptNvfp4,
  mxfp4,
  mxfp8_e4m3,
  nvfp4,
  toGptOssMxfp4,
  toModelOptNvfp4,
} from "../src/index.js";

const LUT = [0, 0.5, 1, 1.5, 2, 3, 4, 6, -0, -0.5, -1, -1.5, -2, -3, -4, -6];

function uniform(n: number, seed: number): Float32Array {
  const rng = createRng(seed);
  return Float32Array.from(
    { length: n },
    () => (rng.nextFloat() - 0.5) * 2 ** ((rng.nextUint32() % 20) - 10),
  );
}

describe("gpt-oss / transformers MXFP4", () => {
  const x = uniform(2 * 3 * 64, 21);
  const qt = mxfp4.quantize(x, [2, 3, 64]);

  it("exposes {name}_blocks [..., G, 16] and {name}_scales [..., G] over the same bytes", () => {
    const parts = toGptOssMxfp4("model.layers.0.mlp.experts.gate_up_proj", qt);
    const blocks = parts["model.layers.0.mlp.experts.gate_up_proj_blocks"]!;
    const scales = parts["model.layers.0.mlp.experts.gate_up_proj_scales"]!;
    expect(blocks).toMatchObject({ dtype: "U8", shape: [2, 3, 2, 16] });
    expect(scales).toMatchObject({ dtype: "U8", shape: [2, 3, 2] });
    expect(blocks.data).toBe(qt.parts["qdata"]!.data);
    expect(scales.data).toBe(qt.parts["scales"]!.data);
  });

  it("decodes like transformers: ldexp(lut[nibble], scale − 127), low nibble first", () => {
    const parts = toGptOssMxfp4("w", qt);
    const b = parts["w_blocks"]!.data as Uint8Array;
    const s = parts["w_scales"]!.data as Uint8Array;
    const y = mxfp4.dequantize(fromGptOssMxfp4("w", parts));
    for (let i = 0; i < y.length; i++) {
      const nib = (b[i >>> 1]! >>> ((i & 1) * 4)) & 15;
      expect(y[i]).toBe(Math.fround(LUT[nib]! * 2 ** (s[i >>> 5]! - 127)));
    }
  });

  it("restores the natural shape, or a given one with the same blocks", () => {
    const parts = toGptOssMxfp4("w", qt);
    const back = fromGptOssMxfp4("w", parts);
    expect(back.shape).toEqual([2, 3, 64]);
    expect(back.spec).toEqual({ format: "mxfp4", scaleMode: "floor", rounding: "even" });
    const flat = fromGptOssMxfp4("w", parts, [6, 64]);
    expect(flat.parts["qdata"]!.shape).toEqual([6, 32]);
    expect(Array.from(mxfp4.dequantize(flat))).toEqual(Array.from(mxfp4.dequantize(qt)));
    expect(() => fromGptOssMxfp4("w", parts, [6, 32])).toThrow(RangeError);
    expect(() => fromGptOssMxfp4("w", parts, [12, 32, 1])).toThrow(/multiple of 32/);
  });

  it("accepts F8_E8M0 scales and rejects missing or malformed tensors", () => {
    const parts = toGptOssMxfp4("w", qt);
    const b = parts["w_blocks"]!;
    const s = parts["w_scales"]!;
    expect(() => fromGptOssMxfp4("w", { w_blocks: b, w_scales: { ...s, dtype: "F8_E8M0" } })).not.toThrow();
    expect(() => fromGptOssMxfp4("v", parts)).toThrow(NotFoundError);
    expect(() => fromGptOssMxfp4("w", { w_blocks: b })).toThrow(NotFoundError);
    const bad: Record<string, TensorPart>[] = [
      { w_blocks: { ...b, dtype: "I8" }, w_scales: s },
      { w_blocks: { ...b, shape: [2, 3, 4, 8] }, w_scales: s },
      { w_blocks: b, w_scales: { ...s, shape: [2, 3, 1] } },
      { w_blocks: b, w_scales: { ...s, dtype: "F32" } },
      { w_blocks: { ...b, data: new Uint8Array(3) }, w_scales: s },
      { w_blocks: { ...b, data: new Uint16Array(192) as unknown as Uint8Array }, w_scales: s },
    ];
    for (const t of bad) expect(() => fromGptOssMxfp4("w", t)).toThrow(CorruptDataError);
  });

  it("rejects bad arguments", () => {
    expect(() => toGptOssMxfp4("w", mxfp8_e4m3.quantize(x, [2, 3, 64]))).toThrow(RangeError);
    expect(() => toGptOssMxfp4(1 as unknown as string, qt)).toThrow(TypeError);
    expect(() => fromGptOssMxfp4("w", null as unknown as Record<string, TensorPart>)).toThrow(TypeError);
  });
});

describe("ModelOpt NVFP4", () => {
  const x = uniform(4 * 32, 22);
  const qt = nvfp4.quantize(x, [4, 32]);

  it("exposes weight, weight_scale and weight_scale_2 under the module prefix", () => {
    const parts = toModelOptNvfp4("model.layers.0.mlp.down_proj", qt);
    expect(Object.keys(parts).sort()).toEqual([
      "model.layers.0.mlp.down_proj.weight",
      "model.layers.0.mlp.down_proj.weight_scale",
      "model.layers.0.mlp.down_proj.weight_scale_2",
    ]);
    expect(parts["model.layers.0.mlp.down_proj.weight"]).toMatchObject({ dtype: "U8", shape: [4, 16] });
    expect(parts["model.layers.0.mlp.down_proj.weight_scale"]).toMatchObject({
      dtype: "F8_E4M3",
      shape: [4, 2],
    });
    expect(parts["model.layers.0.mlp.down_proj.weight_scale_2"]).toMatchObject({ dtype: "F32", shape: [] });
    expect(Object.keys(toModelOptNvfp4("", qt)).sort()).toEqual(["weight", "weight_scale", "weight_scale_2"]);
  });

  it("round-trips, with weight_scale_2 as a scalar or [1], and U8 scales", () => {
    const parts = toModelOptNvfp4("m", qt);
    const want = Array.from(nvfp4.dequantize(qt));
    expect(Array.from(nvfp4.dequantize(fromModelOptNvfp4("m", parts)))).toEqual(want);
    const alt = {
      ...parts,
      "m.weight_scale": { ...parts["m.weight_scale"]!, dtype: "U8" as const },
      "m.weight_scale_2": { ...parts["m.weight_scale_2"]!, shape: [1] },
    };
    expect(Array.from(nvfp4.dequantize(fromModelOptNvfp4("m", alt)))).toEqual(want);
    expect(fromModelOptNvfp4("m", parts, [2, 64]).shape).toEqual([2, 64]);
  });

  it("rejects missing or malformed tensors", () => {
    const parts = toModelOptNvfp4("m", qt);
    expect(() => fromModelOptNvfp4("n", parts)).toThrow(NotFoundError);
    const bad = [
      { ...parts, "m.weight_scale": { ...parts["m.weight_scale"]!, shape: [4, 1], data: new Uint8Array(4) } },
      { ...parts, "m.weight_scale_2": { dtype: "F32" as const, shape: [2], data: new Float32Array(2) } },
      { ...parts, "m.weight": { ...parts["m.weight"]!, shape: [4, 4, 4] } },
      { ...parts, "m.weight": { dtype: "U8" as const, shape: [4, 12], data: new Uint8Array(48) } },
    ];
    for (const t of bad) expect(() => fromModelOptNvfp4("m", t)).toThrow(CorruptDataError);
    expect(() => toModelOptNvfp4("m", mxfp4.quantize(x, [4, 32]))).toThrow(RangeError);
  });
});
