import { CorruptDataError, createRng, type QuantizedTensor } from "@lowbit/bits";
import { describe, expect, it } from "vitest";
import { NVFP4_BLOCK_SIZE, nvfp4, nvfp4TeGlobalScales } from "../src/index.js";

function normals(n: number, seed: number): Float32Array {
  const rng = createRng(seed);
  const x = new Float32Array(n);
  for (let i = 0; i < n; i += 2) {
    const r = Math.sqrt(-2 * Math.log(1 - rng.nextFloat()));
    const t = 2 * Math.PI * rng.nextFloat();
    x[i] = r * Math.cos(t);
    x[i + 1] = r * Math.sin(t);
  }
  return x;
}

const E2M1 = [0, 0.5, 1, 1.5, 2, 3, 4, 6, -0, -0.5, -1, -1.5, -2, -3, -4, -6];

function e4m3Value(c: number): number {
  const e = (c >>> 3) & 15;
  const m = c & 7;
  const v = e === 0 ? m * 2 ** -9 : (1 + m / 8) * 2 ** (e - 7);
  return c & 0x80 ? -v : v;
}

function withPart(qt: QuantizedTensor, key: string, part: unknown): QuantizedTensor {
  const parts: Record<string, unknown> = { ...qt.parts };
  if (part === undefined) delete parts[key];
  else parts[key] = part;
  return { ...qt, parts } as QuantizedTensor;
}

describe("nvfp4 parts", () => {
  const x = normals(4 * 64, 11);
  let amax = 0;
  for (const v of x) amax = Math.max(amax, Math.abs(v));

  it("stores packed E2M1 codes, E4M3 block scales and the per-tensor scale amax/2688", () => {
    const qt = nvfp4.quantize(x, [4, 64]);
    expect(qt.spec).toEqual({ format: "nvfp4", variant: "torchao" });
    expect(qt.parts["qdata"]).toMatchObject({ dtype: "U8", shape: [4, 32] });
    expect(qt.parts["scales"]).toMatchObject({ dtype: "F8_E4M3", shape: [4, 4] });
    expect(qt.parts["globalScale"]).toMatchObject({ dtype: "F32", shape: [1] });
    expect(qt.parts["globalScale"]!.data[0]).toBe(Math.fround(Math.fround(amax) / 2688));
    expect(Object.keys(qt.parts).sort()).toEqual(["globalScale", "qdata", "scales"]);
  });

  it("decodes as e2m1 · fp32(global · block scale), element 2i in the low nibble", () => {
    const qt = nvfp4.quantize(x, [4, 64]);
    const q = qt.parts["qdata"]!.data as Uint8Array;
    const s = qt.parts["scales"]!.data as Uint8Array;
    const g = qt.parts["globalScale"]!.data[0] as number;
    const y = nvfp4.dequantize(qt);
    for (let i = 0; i < x.length; i++) {
      const code = (q[i >>> 1]! >>> ((i & 1) * 4)) & 15;
      const scale = Math.fround(g * e4m3Value(s[Math.floor(i / NVFP4_BLOCK_SIZE)]!));
      expect(y[i]).toBe(Math.fround(E2M1[code]! * scale));
    }
  });

  it("te keeps TE's global scales and amax; single-level has a unit global scale", () => {
    const te = nvfp4.quantize(x, [4, 64], { variant: "te" });
    const { encode, decode } = nvfp4TeGlobalScales(amax);
    expect(encode).toBe(Math.fround(2688 / Math.fround(amax)));
    expect(decode).toBe(Math.fround(1 / encode));
    expect(te.parts["globalScale"]!.data[0]).toBe(decode);
    expect(te.parts["globalAmax"]!.data[0]).toBe(Math.fround(amax));
    const single = nvfp4.quantize(x, [4, 64], { variant: "single-level" });
    expect(single.parts["globalScale"]!.data[0]).toBe(1);
    expect(nvfp4TeGlobalScales(0)).toEqual({ encode: 3.4028234663852886e38, decode: 2 ** -128 });
    expect(Number.isNaN(nvfp4TeGlobalScales(Number.NaN).encode)).toBe(true);
    expect(() => nvfp4TeGlobalScales("1" as unknown as number)).toThrow(TypeError);
  });

  it("quality: SQNR within 0.3 dB of the measured baseline", () => {
    const big = normals(256 * 64, 3);
    const baseline = { torchao: 20.39, te: 20.39, "single-level": 20.39 } as const;
    for (const variant of ["torchao", "te", "single-level"] as const) {
      const y = nvfp4.dequantize(nvfp4.quantize(big, [64, 256], { variant }));
      let s = 0;
      let e = 0;
      for (let i = 0; i < big.length; i++) {
        s += big[i]! ** 2;
        e += (big[i]! - y[i]!) ** 2;
      }
      expect(Math.abs(10 * Math.log10(s / e) - baseline[variant])).toBeLessThan(0.3);
    }
  });
});

describe("nvfp4 reference behaviour", () => {
  const tensor = () => {
    const x = normals(64, 12);
    x.fill(0, 16, 32); // a zero block
    x[0] = -0;
    x[33] = -0;
    return x;
  };

  it("torchao clamps block scales to ≥ 2^−6 and keeps −0; TE lets them be 0 and maps −0 to code 0", () => {
    const x = tensor();
    const t = nvfp4.quantize(x, [64]);
    expect(t.parts["scales"]!.data[1]).toBe(0x08);
    const tq = t.parts["qdata"]!.data as Uint8Array;
    expect(tq[0]! & 15).toBe(8);
    const te = nvfp4.quantize(x, [64], { variant: "te" });
    expect(te.parts["scales"]!.data[1]).toBe(0);
    expect((te.parts["qdata"]!.data as Uint8Array)[0]! & 15).toBe(0);
  });

  it("an all-zero tensor gives NaN scales in torchao's pipeline (0/0), as torchao does; TE gives zeros", () => {
    const z = new Float32Array(32);
    const t = nvfp4.quantize(z, [32]);
    expect(Array.from(t.parts["scales"]!.data as Uint8Array)).toEqual([0xff, 0xff]);
    expect(nvfp4.dequantize(t).every(Number.isNaN)).toBe(true);
    const te = nvfp4.quantize(z, [32], { variant: "te" });
    expect(Array.from(nvfp4.dequantize(te))).toEqual(new Array(32).fill(0));
    const single = nvfp4.quantize(z, [32], { variant: "single-level" });
    expect(Array.from(nvfp4.dequantize(single))).toEqual(new Array(32).fill(0));
  });

  it("a NaN makes every block NaN (the per-tensor scale is NaN)", () => {
    const x = normals(64, 13);
    x[40] = Number.NaN;
    for (const variant of ["torchao", "te"] as const) {
      expect(nvfp4.dequantize(nvfp4.quantize(x, [64], { variant })).every(Number.isNaN)).toBe(true);
    }
    // single-level: only the NaN's own block
    const y = nvfp4.dequantize(nvfp4.quantize(x, [64], { variant: "single-level" }));
    expect(y.filter(Number.isNaN).length).toBe(16);
  });

  it("saturates the block scale at 448 and the elements at ±6", () => {
    const x = new Float32Array(32);
    x[0] = 1;
    x[16] = 1e-30; // far below the tensor amax: the block scale clamps to its minimum
    const t = nvfp4.quantize(x, [32], { variant: "single-level" });
    // 1/6 rounds to E4M3 0.171875 (0x23); 1e−30/6 clamps to 2^−6 (0x08)
    expect(Array.from(t.parts["scales"]!.data as Uint8Array)).toEqual([0x23, 0x08]);
    const big = new Float32Array(16).fill(1e6);
    const b = nvfp4.quantize(big, [16], { variant: "single-level" });
    expect(b.parts["scales"]!.data[0]).toBe(0x7e);
    expect(Array.from(b.parts["qdata"]!.data as Uint8Array)).toEqual(new Array(8).fill(0x77));
  });
});

describe("nvfp4 bad input and corrupt parts", () => {
  const x = normals(64, 14);
  it("rejects bad shapes and options", () => {
    expect(() => nvfp4.quantize(x, [8, 8])).toThrow(RangeError);
    expect(() => nvfp4.quantize(x, [64], { variant: 2 })).toThrow(TypeError);
    expect(() => nvfp4.quantize(x, [64], { rounding: "even" })).toThrow(/unknown option "rounding"/);
  });

  it("throws CorruptDataError for malformed parts", () => {
    const qt = nvfp4.quantize(x, [2, 32], { variant: "te" });
    const g = qt.parts["globalScale"]!;
    const bad: QuantizedTensor[] = [
      withPart(qt, "globalScale", undefined),
      withPart(qt, "globalScale", { ...g, dtype: "F16" }),
      withPart(qt, "globalScale", { ...g, data: new Float32Array(2), shape: [2] }),
      withPart(qt, "scales", { ...qt.parts["scales"]!, dtype: "U8" }),
      withPart(qt, "qdata", { ...qt.parts["qdata"]!, shape: [2, 15] }),
      { ...qt, spec: { format: "nvfp4", variant: "modelopt" } },
      { ...qt, spec: { format: "mxfp4" } },
    ];
    for (const b of bad) expect(() => nvfp4.dequantize(b)).toThrow(CorruptDataError);
  });
});
