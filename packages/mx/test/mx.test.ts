import { CorruptDataError, createRng, type QuantizedTensor, type Quantizer } from "@lowbit/bits";
import { describe, expect, it } from "vitest";
import {
  MX_BLOCK_SIZE,
  mxfp4,
  mxfp6_e2m3,
  mxfp6_e3m2,
  mxfp8_e4m3,
  mxfp8_e5m2,
  mxint8,
  mxQuantizers,
  nvfp4,
} from "../src/index.js";

const MX: readonly Quantizer[] = [mxfp8_e4m3, mxfp8_e5m2, mxfp6_e3m2, mxfp6_e2m3, mxfp4, mxint8];

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

function sqnrDb(x: Float32Array, y: Float32Array): number {
  let s = 0;
  let e = 0;
  for (let i = 0; i < x.length; i++) {
    s += x[i]! ** 2;
    e += (x[i]! - y[i]!) ** 2;
  }
  return 10 * Math.log10(s / e);
}

const bits = (f: Float32Array) => Array.from(new Uint32Array(f.buffer, f.byteOffset, f.length));

/** A copy of `qt` with one part replaced (or removed with `undefined`). */
function withPart(qt: QuantizedTensor, key: string, part: unknown): QuantizedTensor {
  const parts: Record<string, unknown> = { ...qt.parts };
  if (part === undefined) delete parts[key];
  else parts[key] = part;
  return { ...qt, parts } as QuantizedTensor;
}

describe("registry", () => {
  it("lists every quantizer with its defaults", () => {
    expect(mxQuantizers.map((q) => q.name)).toEqual([
      "mxfp8_e4m3",
      "mxfp8_e5m2",
      "mxfp6_e3m2",
      "mxfp6_e2m3",
      "mxfp4",
      "mxint8",
      "nvfp4",
    ]);
    expect(mxfp4.defaults).toEqual({ scaleMode: "floor", rounding: "even" });
    expect(mxfp6_e2m3.defaults).toEqual({ scaleMode: "floor", rounding: "even", pack: true });
    expect(nvfp4.defaults).toEqual({ variant: "torchao" });
  });
});

describe("MX parts and layout", () => {
  const x = normals(4 * 64, 1);
  it.each([
    ["mxfp8_e4m3", mxfp8_e4m3, {}, 64],
    ["mxfp8_e5m2", mxfp8_e5m2, {}, 64],
    ["mxfp6_e3m2", mxfp6_e3m2, {}, 48],
    ["mxfp6_e3m2 unpacked", mxfp6_e3m2, { pack: false }, 64],
    ["mxfp6_e2m3", mxfp6_e2m3, {}, 48],
    ["mxfp4", mxfp4, {}, 32],
    ["mxint8", mxint8, {}, 64],
  ] as const)("%s: qdata U8 with the right shape, scales F8_E8M0 [..., 2]", (_, q, spec, qLast) => {
    const qt = q.quantize(x, [2, 2, 64], spec);
    expect(qt.shape).toEqual([2, 2, 64]);
    expect(qt.parts["qdata"]!.dtype).toBe("U8");
    expect(qt.parts["qdata"]!.shape).toEqual([2, 2, qLast]);
    expect(qt.parts["qdata"]!.data).toBeInstanceOf(Uint8Array);
    expect(qt.parts["qdata"]!.data.length).toBe(4 * qLast);
    expect(qt.parts["scales"]).toMatchObject({ dtype: "F8_E8M0", shape: [2, 2, 2] });
    expect(Object.keys(qt.parts).sort()).toEqual(["qdata", "scales"]);
    expect(qt.spec).toEqual({ format: q.name, ...q.defaults, ...spec });
  });

  it("packs FP4 low nibble first and FP6 four codes in three bytes, LSB first", () => {
    const v = new Float32Array(32);
    v.set([0.5, 1, 4, -6]);
    // amax 6 = 1.5 · 2^2, so the scale is 2^(2 − emax 2) = 1 and the elements are their own values.
    const q4 = mxfp4.quantize(v, [32]);
    expect(q4.parts["scales"]!.data[0]).toBe(127);
    const d = q4.parts["qdata"]!.data as Uint8Array;
    expect([d[0], d[1]]).toEqual([0x21, 0xf6]); // codes 1, 2 | 6, 15: element 2i in the low nibble
    expect(Array.from(mxfp4.dequantize(q4).subarray(0, 4))).toEqual([0.5, 1, 4, -6]);
    const q6 = mxfp6_e2m3.quantize(v, [32]);
    const q6u = mxfp6_e2m3.quantize(v, [32], { pack: false });
    const c = q6u.parts["qdata"]!.data as Uint8Array;
    const p = q6.parts["qdata"]!.data as Uint8Array;
    expect(p[0]).toBe((c[0]! | (c[1]! << 6)) & 0xff);
    expect(p[1]).toBe(((c[1]! >>> 2) | (c[2]! << 4)) & 0xff);
    expect(p[2]).toBe(((c[2]! >>> 4) | (c[3]! << 2)) & 0xff);
    expect(bits(mxfp6_e2m3.dequantize(q6))).toEqual(bits(mxfp6_e2m3.dequantize(q6u)));
  });
});

describe("MX scale rule (SPEC §3)", () => {
  const block = (amax: number) => {
    const v = new Float32Array(32).fill(amax / 4);
    v[7] = -amax;
    return v;
  };
  it("takes the exponent bits of the amax minus emax_elem, never a float log", () => {
    // 7.9999995 is 1 ulp below 8: a float log2 rounds it to 3, the exponent field says 2.
    const below8 = new Float32Array(Uint32Array.of(0x40ffffff).buffer)[0]!;
    expect(mxfp8_e4m3.quantize(block(below8), [32]).parts["scales"]!.data[0]).toBe(127 + 2 - 8);
    expect(mxfp8_e4m3.quantize(block(8), [32]).parts["scales"]!.data[0]).toBe(127 + 3 - 8);
    expect(mxfp4.quantize(block(8), [32]).parts["scales"]!.data[0]).toBe(127 + 3 - 2);
    expect(mxint8.quantize(block(8), [32]).parts["scales"]!.data[0]).toBe(127 + 3);
    // microxcaling's float log2 puts the same block one binade higher.
    expect(
      mxfp8_e4m3.quantize(block(below8), [32], { scaleMode: "microxcaling" }).parts["scales"]!.data[0],
    ).toBe(127 + 3 - 8);
  });

  it("clamps: a zero block gets 0x00 and zero codes, a tiny amax 0x00, Inf and NaN 0xFF", () => {
    for (const q of MX) {
      const z = q.quantize(new Float32Array(32), [32]);
      expect(z.parts["scales"]!.data[0]).toBe(0);
      expect(Array.from(q.dequantize(z))).toEqual(new Array(32).fill(0));
      expect(q.quantize(block(1e-40), [32]).parts["scales"]!.data[0]).toBe(0);
      for (const special of [Number.POSITIVE_INFINITY, Number.NEGATIVE_INFINITY, Number.NaN]) {
        const v = block(1);
        v[3] = special;
        const qt = q.quantize(v, [32]);
        expect(qt.parts["scales"]!.data[0]).toBe(0xff);
        expect(Array.from(q.dequantize(qt)).every(Number.isNaN)).toBe(true);
      }
    }
  });

  it("keeps −0 (torchao) and turns it into +0 in microxcaling mode", () => {
    const v = block(2);
    v[0] = -0;
    const floor = mxfp8_e4m3.dequantize(mxfp8_e4m3.quantize(v, [32]));
    expect(Object.is(floor[0], -0)).toBe(true);
    const mxc = mxfp8_e4m3.dequantize(mxfp8_e4m3.quantize(v, [32], { scaleMode: "microxcaling" }));
    expect(Object.is(mxc[0], 0)).toBe(true);
  });

  it("rceil picks the smallest power of two that needs no clamping", () => {
    const x = normals(32 * 64, 2);
    for (const q of MX) {
      const qt = q.quantize(x, [64, 32], { scaleMode: "rceil" });
      const floor = q.quantize(x, [64, 32]);
      const s = qt.parts["scales"]!.data as Uint8Array;
      const f = floor.parts["scales"]!.data as Uint8Array;
      for (let b = 0; b < 64; b++) expect(s[b]! - f[b]!).toBeGreaterThanOrEqual(0);
      for (let b = 0; b < 64; b++) expect(s[b]! - f[b]!).toBeLessThanOrEqual(1);
    }
  });

  it("rounds ties to even by default and away from zero with rounding: nearest", () => {
    const v = new Float32Array(32);
    v[0] = 4; // scale 2^0 for FP4 (floor(log2 4) − 2)
    v[1] = 2.5; // between 2 (code 4) and 3 (code 5)
    v[2] = -0.75; // between 0.5 and 1
    const even = mxfp4.dequantize(mxfp4.quantize(v, [32]));
    const away = mxfp4.dequantize(mxfp4.quantize(v, [32], { rounding: "nearest" }));
    expect([even[1], even[2]]).toEqual([2, -1]);
    expect([away[1], away[2]]).toEqual([3, -1]);
    const i8 = new Float32Array(32);
    i8[0] = 1.5; // scale 2^0: codes are x · 64
    i8[1] = 2.5 / 64;
    i8[2] = -3.5 / 64;
    expect(Array.from(mxint8.dequantize(mxint8.quantize(i8, [32])).subarray(1, 3))).toEqual([
      2 / 64,
      -4 / 64,
    ]);
    expect(
      Array.from(mxint8.dequantize(mxint8.quantize(i8, [32], { rounding: "nearest" })).subarray(1, 3)),
    ).toEqual([3 / 64, -4 / 64]);
  });

  it("saturates elements above the element max to ±max (an amax mantissa above it)", () => {
    const v = new Float32Array(32);
    v[0] = 7; // 1.75 · 2^2: scale 2^0, 7 clamps to 6
    v[1] = -7;
    const d = mxfp4.dequantize(mxfp4.quantize(v, [32]));
    expect([d[0], d[1]]).toEqual([6, -6]);
    const i8 = new Float32Array(32);
    i8[0] = 1.999; // 127.936 → clamps to 127
    expect(mxint8.dequantize(mxint8.quantize(i8, [32]))[0]).toBe(127 / 64);
  });
});

describe("MX round trips and quality", () => {
  const x = normals(256 * 64, 3);
  // Measured on this seeded data (dB): a drop means a rounding or scale bug.
  const baseline: Record<string, number> = {
    mxfp8_e4m3: 30.5,
    mxfp8_e5m2: 25.22,
    mxfp6_e3m2: 25.22,
    mxfp6_e2m3: 30.93,
    mxfp4: 18.76,
    mxint8: 41.7,
  };
  it.each(MX.map((q) => [q.name, q] as const))("%s: SQNR within 0.3 dB of the baseline", (name, q) => {
    const y = q.dequantize(q.quantize(x, [64, 256]));
    expect(Math.abs(sqnrDb(x, y) - baseline[name]!)).toBeLessThan(0.3);
  });

  it.each(MX.map((q) => [q.name, q] as const))(
    "%s: quantizing the decoded tensor gives the same parts",
    (_, q) => {
      const qt = q.quantize(x, [64, 256]);
      const y = q.dequantize(qt);
      const again = q.quantize(y, [64, 256]);
      expect(again.parts["scales"]!.data).toEqual(qt.parts["scales"]!.data);
      expect(again.parts["qdata"]!.data).toEqual(qt.parts["qdata"]!.data);
    },
  );

  it("writes into dst and returns it", () => {
    const qt = mxfp4.quantize(x, [64, 256]);
    const dst = new Float32Array(x.length + 5).fill(7);
    expect(mxfp4.dequantize(qt, dst)).toBe(dst);
    expect(bits(dst.subarray(0, x.length))).toEqual(bits(mxfp4.dequantize(qt)));
    expect(dst[x.length]).toBe(7);
  });

  it("decodes from qdata that is not 4-byte aligned", () => {
    for (const q of [mxfp4, mxfp8_e4m3, mxint8]) {
      const qt = q.quantize(x.subarray(0, 128), [4, 32]);
      const qd = qt.parts["qdata"]!.data as Uint8Array;
      const shifted = new Uint8Array(qd.length + 1).subarray(1);
      shifted.set(qd);
      const moved = withPart(qt, "qdata", { ...qt.parts["qdata"]!, data: shifted });
      expect(bits(q.dequantize(moved))).toEqual(bits(q.dequantize(qt)));
    }
  });

  it("handles an empty tensor", () => {
    const qt = mxfp4.quantize(new Float32Array(0), [0, 32]);
    expect(qt.parts["qdata"]!.shape).toEqual([0, 16]);
    expect(mxfp4.dequantize(qt).length).toBe(0);
  });

  it("reports progress and stops when aborted", () => {
    const big = normals(MX_BLOCK_SIZE * 5000, 4);
    const calls: [number, number][] = [];
    mxfp4.quantize(big, [5000, 32], {}, { onProgress: (d, t) => calls.push([d, t]) });
    expect(calls.length).toBeGreaterThan(1);
    expect(calls.at(-1)).toEqual([5000, 5000]);
    const reason = new Error("stop");
    expect(() => mxfp4.quantize(big, [5000, 32], {}, { signal: { aborted: true, reason } })).toThrow(reason);
    expect(() => mxint8.quantize(big, [5000, 32], {}, { signal: { aborted: true } })).toThrow(
      expect.objectContaining({ name: "AbortError" }),
    );
  });
});

describe("bad arguments", () => {
  const x = new Float32Array(64);
  it("rejects a wrong source type or shape", () => {
    expect(() => mxfp4.quantize([1, 2] as unknown as Float32Array, [2])).toThrow(TypeError);
    expect(() => mxfp4.quantize(new Float64Array(64) as unknown as Float32Array, [64])).toThrow(TypeError);
    expect(() => mxfp4.quantize(x, [65])).toThrow(RangeError);
    expect(() => mxfp4.quantize(x, [2, 32.5] as number[])).toThrow(RangeError);
    expect(() => mxfp4.quantize(new Float32Array(1), [])).toThrow(/scalar/);
  });

  it("rejects a last axis that is not a multiple of the block size, naming it", () => {
    expect(() => mxfp4.quantize(x, [4, 16])).toThrow(/multiple of 32, got shape \[4, 16\]/);
    expect(() => nvfp4.quantize(x, [8, 8])).toThrow(/multiple of 16/);
    expect(() => nvfp4.quantize(x, [4, 16])).not.toThrow();
  });

  it("rejects unknown options and bad option values", () => {
    expect(() => mxfp4.quantize(x, [64], { blockSize: 16 })).toThrow(/unknown option "blockSize"/);
    expect(() => mxfp4.quantize(x, [64], { pack: false })).toThrow(RangeError);
    expect(() => mxfp4.quantize(x, [64], { scaleMode: "ceil" })).toThrow(RangeError);
    expect(() => mxfp4.quantize(x, [64], { scaleMode: 1 })).toThrow(TypeError);
    expect(() => mxfp4.quantize(x, [64], { rounding: "stochastic" })).toThrow(/rounding must be/);
    expect(() => mxfp6_e3m2.quantize(x, [64], { pack: "no" })).toThrow(TypeError);
    expect(() => mxfp4.quantize(x, [64], { format: "mxfp6_e2m3" })).toThrow(/spec.format/);
    expect(() => mxfp4.quantize(x, [64], { format: "mxfp4", scaleMode: "rceil" })).not.toThrow();
    expect(() => mxfp4.quantize(x, [64], null as unknown as Record<string, unknown>)).toThrow(TypeError);
    expect(() => nvfp4.quantize(x, [64], { variant: "modelopt" })).toThrow(/variant must be/);
  });

  it("rejects a bad dst", () => {
    const qt = mxfp4.quantize(x, [64]);
    expect(() => mxfp4.dequantize(qt, new Float32Array(63))).toThrow(RangeError);
    expect(() => mxfp4.dequantize(qt, new Float64Array(64) as unknown as Float32Array)).toThrow(TypeError);
  });
});

describe("corrupt quantized tensors", () => {
  const x = normals(128, 5);
  it.each(MX.map((q) => [q.name, q] as const))("%s: every malformed part is CorruptDataError", (_, q) => {
    const qt = q.quantize(x, [2, 64]);
    const qd = qt.parts["qdata"]!;
    const sc = qt.parts["scales"]!;
    const bad: QuantizedTensor[] = [
      withPart(qt, "qdata", undefined),
      withPart(qt, "scales", undefined),
      withPart(qt, "qdata", { ...qd, dtype: "I8" }),
      withPart(qt, "scales", { ...sc, dtype: "U8" }),
      withPart(qt, "qdata", { ...qd, data: (qd.data as Uint8Array).subarray(1) }),
      withPart(qt, "qdata", { ...qd, data: new Uint16Array(qd.data.length) }),
      withPart(qt, "scales", { ...sc, shape: [4] }),
      withPart(qt, "qdata", { ...qd, shape: [qd.data.length] }),
      { ...qt, shape: [2, 60] },
      { ...qt, shape: [-1, 64] },
      { ...qt, shape: [] },
      { ...qt, spec: { ...qt.spec, format: "mxfp8_e4m3fn" } },
      { ...qt, spec: { ...qt.spec, scaleMode: "banana" } },
      { ...qt, spec: { ...qt.spec, extra: 1 } },
    ];
    for (const b of bad) expect(() => q.dequantize(b), JSON.stringify(b.spec)).toThrow(CorruptDataError);
  });

  it("rejects unpacked FP6 codes above 63", () => {
    const qt = mxfp6_e2m3.quantize(x, [2, 64], { pack: false });
    const data = Uint8Array.from(qt.parts["qdata"]!.data as Uint8Array);
    data[5] = 64;
    expect(() => mxfp6_e2m3.dequantize(withPart(qt, "qdata", { ...qt.parts["qdata"]!, data }))).toThrow(
      CorruptDataError,
    );
  });

  it("reads a packed FP6 tensor only with its own layout", () => {
    const qt = mxfp6_e3m2.quantize(x, [2, 64]);
    expect(() => mxfp6_e3m2.dequantize({ ...qt, spec: { ...qt.spec, pack: false } })).toThrow(
      CorruptDataError,
    );
  });
});
