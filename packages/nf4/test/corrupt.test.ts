import { CorruptDataError, type QuantizedTensor, type TensorPart } from "@lowbit/bits";
import { describe, expect, it } from "vitest";
import { bnb_blockwise8, bnb_fp4, bnbBlockAbsmax, nf4 } from "../src/index.js";

const x = new Float32Array(64 * 5 + 3).map((_, i) => Math.cos(i * 0.37) * (1 + (i % 7)));
const n = x.length;

const withPart = (qt: QuantizedTensor, key: string, part: TensorPart | undefined): QuantizedTensor => {
  const parts: Record<string, TensorPart> = { ...qt.parts };
  if (part === undefined) delete parts[key];
  else parts[key] = part;
  return { ...qt, parts };
};

const withSpec = (qt: QuantizedTensor, patch: Record<string, unknown>): QuantizedTensor => ({
  ...qt,
  spec: { ...qt.spec, ...patch } as QuantizedTensor["spec"],
});

function expectCorrupt(f: () => unknown, message: RegExp): void {
  let error: unknown;
  try {
    f();
  } catch (e) {
    error = e;
  }
  expect(error).toBeInstanceOf(CorruptDataError);
  expect((error as CorruptDataError).code).toBe("ERR_CORRUPT");
  expect((error as Error).message).toMatch(message);
}

describe.each([
  ["nf4 nested", nf4, { doubleQuant: true }],
  ["nf4 plain", nf4, { doubleQuant: false }],
  ["bnb_fp4 nested", bnb_fp4, { doubleQuant: true }],
  ["bnb_blockwise8", bnb_blockwise8, { blockSize: 64 }],
] as const)("%s: malformed tensors throw CorruptDataError", (_label, q, spec) => {
  const qt = q.quantize(x, [n], spec);
  const ok = q.dequantize(qt);

  it("decodes the well-formed tensor, also through structured copies", () => {
    expect(q.dequantize(structuredClone(qt))).toEqual(ok);
  });

  it("every part must be present", () => {
    for (const key of Object.keys(qt.parts)) {
      expectCorrupt(() => q.dequantize(withPart(qt, key, undefined)), new RegExp(`part "${key}" is missing`));
    }
  });

  it("every part must have its dtype, array type, length and a matching shape", () => {
    for (const [key, part] of Object.entries(qt.parts)) {
      const other = part.dtype === "U8" ? "F32" : "U8";
      expectCorrupt(
        () => q.dequantize(withPart(qt, key, { ...part, dtype: other })),
        new RegExp(`must be ${part.dtype}`),
      );
      const wrongArray =
        part.dtype === "U8" ? new Int8Array(part.data.length) : new Float64Array(part.data.length);
      expectCorrupt(() => q.dequantize(withPart(qt, key, { ...part, data: wrongArray })), /must hold a/);
      const short = part.data.slice(0, part.data.length - 1);
      expectCorrupt(
        () => q.dequantize(withPart(qt, key, { ...part, data: short, shape: [short.length] })),
        /elements, got/,
      );
      expectCorrupt(
        () => q.dequantize(withPart(qt, key, { ...part, shape: [part.data.length + 1] })),
        /does not hold/,
      );
      expectCorrupt(() => q.dequantize(withPart(qt, key, { ...part, shape: [-1] })), /non-negative integer/);
    }
  });

  it("the spec must be this format with valid options", () => {
    expectCorrupt(() => q.dequantize(withSpec(qt, { format: "int4" })), /format/);
    expectCorrupt(() => q.dequantize(withSpec(qt, { blockSize: 48 })), /blockSize/);
    expectCorrupt(() => q.dequantize(withSpec(qt, { blockSize: "64" })), /blockSize/);
    expectCorrupt(() => q.dequantize(withSpec(qt, { extra: 1 })), /extra/);
    // a block size other than the one used changes the expected part lengths
    const other = qt.spec["blockSize"] === 128 ? 64 : 128;
    expectCorrupt(() => q.dequantize(withSpec(qt, { blockSize: other })), /absmax/);
  });

  it("the envelope must be well formed", () => {
    expectCorrupt(() => q.dequantize({ ...qt, shape: [n + 2] }), /elements/);
    expectCorrupt(() => q.dequantize({ ...qt, shape: [1.5] as never }), /shape/);
    expectCorrupt(() => q.dequantize({ ...qt, spec: undefined as never }), /spec/);
    expectCorrupt(() => q.dequantize({ ...qt, parts: null as never }), /parts/);
    expect(() => q.dequantize(null as never)).toThrow(TypeError);
    expect(() => q.dequantize("qt" as never)).toThrow(TypeError);
  });
});

describe("nested parts", () => {
  it("switching doubleQuant without the parts is detected", () => {
    const nested = nf4.quantize(x, [n]);
    expectCorrupt(() => nf4.dequantize(withSpec(nested, { doubleQuant: false })), /"absmax" must be F32/);
    const plain = nf4.quantize(x, [n], { doubleQuant: false });
    expectCorrupt(() => nf4.dequantize(withSpec(plain, { doubleQuant: true })), /"absmax" must be U8/);
  });

  it("bnbBlockAbsmax validates too and rejects other formats", () => {
    const nested = nf4.quantize(x, [n]);
    expectCorrupt(() => bnbBlockAbsmax(withPart(nested, "offset", undefined)), /offset/);
    expect(() => bnbBlockAbsmax({ ...nested, spec: { format: "mxfp4" } })).toThrow(RangeError);
    const plain = nf4.quantize(x, [n], { doubleQuant: false });
    expect(bnbBlockAbsmax(plain)).toEqual(plain.parts["absmax"]!.data);
    expect(bnbBlockAbsmax(plain)).not.toBe(plain.parts["absmax"]!.data);
  });
});
