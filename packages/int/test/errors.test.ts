import { CorruptDataError, LowbitErrorCode, type QuantizedTensor, type TensorPart } from "@lowbit/bits";
import { describe, expect, it } from "vitest";
import { dequantizeInt, ggufQ4_0, ggufQ8_0, intQuantizers, quantizeInt } from "../src/index.js";

const q = (name: string) => intQuantizers.find((z) => z.name === name)!;
const x = Float32Array.from({ length: 64 }, (_, i) => Math.sin(i) * 2);

function expectThrow(fn: () => unknown, cls: new (...a: never[]) => Error, re: RegExp): void {
  let caught: unknown = null;
  try {
    fn();
  } catch (e) {
    caught = e;
  }
  expect(caught, `expected ${cls.name} matching ${re}, got ${String(caught)}`).toBeInstanceOf(cls);
  expect((caught as Error).message).toMatch(re);
}

/** A copy of `qt` with one part replaced (or removed when `part` is undefined). */
function withPart(qt: QuantizedTensor, name: string, part: TensorPart | undefined): QuantizedTensor {
  const parts: Record<string, TensorPart> = { ...qt.parts };
  if (part === undefined) delete parts[name];
  else parts[name] = part;
  return { ...qt, parts };
}

describe("INT options", () => {
  it("unknown options → RangeError naming the option", () => {
    expectThrow(
      () => q("int4").quantize(x, [64], { grup: 32 }),
      RangeError,
      /unknown option "grup" for int4/,
    );
    expectThrow(
      () => quantizeInt(x, [64], { bits: 4, nope: 1 } as never),
      RangeError,
      /unknown option "nope"/,
    );
    expectThrow(
      () => q("int4").quantize(x, [64], { format: "int8" }),
      RangeError,
      /options.format must be "int4"/,
    );
  });

  it("wrong option types → TypeError; wrong values → RangeError", () => {
    expectThrow(
      () => q("int4").quantize(x, [64], { group: "32" }),
      TypeError,
      /option group must be an integer, got "32"/,
    );
    expectThrow(
      () => q("int4").quantize(x, [64], { group: -1 }),
      RangeError,
      /option group must be an integer in \[0, /,
    );
    expectThrow(() => q("int4").quantize(x, [64], { group: 1.5 }), RangeError, /option group/);
    expectThrow(
      () => q("int4").quantize(x, [64], { symmetric: 1 }),
      TypeError,
      /option symmetric must be a boolean/,
    );
    expectThrow(
      () => q("int4").quantize(x, [64], { clip: "yes" }),
      TypeError,
      /option clip must be a boolean/,
    );
    expectThrow(() => q("int4").quantize(x, [64], { rounding: "up" }), RangeError, /option rounding must be/);
    expectThrow(() => q("int4").quantize(x, [64], { rounding: 1 }), TypeError, /option rounding must be/);
    expectThrow(
      () => q("int4").quantize(x, [64], { scaleDtype: "F64" }),
      RangeError,
      /option scaleDtype must be "F32"/,
    );
    expectThrow(() => q("int4").quantize(x, [64], { seed: -1 }), RangeError, /option seed/);
    expectThrow(
      () => q("int4").quantize(x, [64], { axis: "0" }),
      TypeError,
      /option axis must be an integer/,
    );
    expectThrow(
      () => q("uint4").quantize(x, [64], { fullRange: true }),
      RangeError,
      /fullRange applies only to symmetric/,
    );
    expectThrow(
      () => q("int4").quantize(x, [64], { group: 32, axis: 0 }),
      RangeError,
      /axis applies only when group is 0/,
    );
    expectThrow(() => q("int4").quantize(x, [64], "int4" as never), TypeError, /options must be an object/);
  });

  it("quantizeInt checks bits and signed", () => {
    expectThrow(
      () => quantizeInt(x, [64], { bits: 9 }),
      RangeError,
      /opts.bits must be an integer in \[2, 8\], got 9/,
    );
    expectThrow(() => quantizeInt(x, [64], { bits: 1 }), RangeError, /opts.bits/);
    expectThrow(
      () => quantizeInt(x, [64], { bits: "4" } as never),
      TypeError,
      /opts.bits must be an integer/,
    );
    expectThrow(
      () => quantizeInt(x, [64], { bits: 4, signed: 0 } as never),
      TypeError,
      /opts.signed must be a boolean/,
    );
    expectThrow(() => quantizeInt(x, [64], null as never), TypeError, /opts must be an object/);
  });
});

describe("INT shapes", () => {
  it("a group that does not divide the last dimension → RangeError with the shape", () => {
    expectThrow(
      () => q("int4").quantize(x, [2, 32], { group: 24 }),
      RangeError,
      /group 24 does not divide the last dimension 32 of shape \[2, 32\]/,
    );
    expectThrow(() => q("int4").quantize(new Float32Array(1), [], { group: 4 }), RangeError, /rank ≥ 1/);
  });

  it("shape mismatch and bad shapes → RangeError; a non-Float32Array → TypeError", () => {
    expectThrow(
      () => q("int4").quantize(x, [8, 9]),
      RangeError,
      /src has 64 elements but shape \[8, 9\] needs 72/,
    );
    expectThrow(
      () => q("int4").quantize(x, [64, -1]),
      RangeError,
      /shape\[1\] must be a non-negative integer/,
    );
    expectThrow(
      () => q("int4").quantize(Float64Array.from(x) as never, [64]),
      TypeError,
      /src must be a Float32Array/,
    );
    expectThrow(
      () => q("int4").quantize(x, [8, 8], { axis: 2 }),
      RangeError,
      /axis 2 is out of range for shape \[8, 8\]/,
    );
    expectThrow(() => q("int4").quantize(x, [8, 8], { axis: -3 }), RangeError, /axis -3 is out of range/);
  });

  it("float16 scales that overflow → RangeError naming the scale group", () => {
    const big = new Float32Array(8).fill(1e6);
    expectThrow(
      () => q("int4").quantize(big, [2, 4], { scaleDtype: "F16" }),
      RangeError,
      /scale group 0 does not fit scaleDtype "F16"/,
    );
    expect(() => q("int4").quantize(big, [2, 4], { scaleDtype: "BF16" })).not.toThrow();
  });

  it("empty tensors quantize and dequantize", () => {
    for (const [shape, spec] of [
      [[0], {}],
      [[3, 0], { group: 4 }],
      [[0, 5], { axis: 1 }],
    ] as const) {
      const qt = q("uint4").quantize(new Float32Array(0), shape, spec);
      expect(q("uint4").dequantize(qt)).toEqual(new Float32Array(0));
    }
  });

  it("dst: written in place; too short → RangeError; wrong type → TypeError", () => {
    const qt = q("int4").quantize(x, [64]);
    const dst = new Float32Array(70);
    expect(q("int4").dequantize(qt, dst)).toBe(dst);
    expect(dst.subarray(0, 64)).toEqual(q("int4").dequantize(qt));
    expectThrow(
      () => q("int4").dequantize(qt, new Float32Array(63)),
      RangeError,
      /dst is too short: need 64 values, got 63/,
    );
    expectThrow(
      () => q("int4").dequantize(qt, new Float64Array(64) as never),
      TypeError,
      /dst must be a Float32Array/,
    );
  });
});

describe("corrupt INT tensors → CorruptDataError (ERR_CORRUPT)", () => {
  const qt = q("uint4").quantize(x, [4, 16], { group: 8 });
  const sym = q("int3").quantize(x.subarray(0, 63), [63], {});
  const cases: [string, () => unknown, RegExp][] = [
    ["format", () => q("int4").dequantize(qt), /spec.format is "uint4", not "int4"/],
    ["not an object", () => q("uint4").dequantize(null as never), /must be an object/],
    [
      "dequantizeInt of another format",
      () => dequantizeInt({ ...qt, spec: { format: "nf4" } }),
      /not an INT tensor/,
    ],
    [
      "bad option in spec",
      () => q("uint4").dequantize({ ...qt, spec: { ...qt.spec, group: "8" } }),
      /option group/,
    ],
    [
      "unknown option in spec",
      () => q("uint4").dequantize({ ...qt, spec: { ...qt.spec, extra: 1 } }),
      /unknown option/,
    ],
    ["bad shape", () => q("uint4").dequantize({ ...qt, shape: [4, -16] }), /shape\[1\]/],
    ["group vs shape", () => q("uint4").dequantize({ ...qt, shape: [4, 12] }), /does not divide/],
    ["missing qdata", () => q("uint4").dequantize(withPart(qt, "qdata", undefined)), /missing part "qdata"/],
    ["missing zeros", () => q("uint4").dequantize(withPart(qt, "zeros", undefined)), /missing part "zeros"/],
    [
      "extra part",
      () => q("int3").dequantize(withPart(sym, "zeros", qt.parts["zeros"])),
      /unexpected part "zeros"/,
    ],
    [
      "qdata dtype",
      () => q("uint4").dequantize(withPart(qt, "qdata", { ...qt.parts["qdata"]!, dtype: "I8" })),
      /part "qdata" must be U8/,
    ],
    [
      "qdata array type",
      () =>
        q("uint4").dequantize(withPart(qt, "qdata", { dtype: "U8", shape: [32], data: new Int8Array(32) })),
      /part "qdata" must be U8 \(Uint8Array\)/,
    ],
    [
      "qdata length",
      () =>
        q("uint4").dequantize(withPart(qt, "qdata", { dtype: "U8", shape: [31], data: new Uint8Array(31) })),
      /part "qdata" must hold 32 elements, got 31/,
    ],
    [
      "qdata shape",
      () => q("uint4").dequantize(withPart(qt, "qdata", { ...qt.parts["qdata"]!, shape: [4, 8] })),
      /part "qdata" must have shape \[32\]/,
    ],
    [
      "scales length",
      () =>
        q("uint4").dequantize(
          withPart(qt, "scales", { dtype: "F32", shape: [4, 2], data: new Float32Array(7) }),
        ),
      /part "scales" must hold 8 elements/,
    ],
    [
      "scales shape",
      () => q("uint4").dequantize(withPart(qt, "scales", { ...qt.parts["scales"]!, shape: [8] })),
      /part "scales" must have shape \[4, 2\]/,
    ],
    [
      "scales dtype",
      () =>
        q("uint4").dequantize(
          withPart(qt, "scales", { dtype: "F16", shape: [4, 2], data: new Uint16Array(8) }),
        ),
      /part "scales" must be F32/,
    ],
    [
      "NaN scale",
      () =>
        q("uint4").dequantize(
          withPart(qt, "scales", { dtype: "F32", shape: [4, 2], data: new Float32Array(8).fill(Number.NaN) }),
        ),
      /scales\[0\] = NaN is not a finite non-negative number/,
    ],
    [
      "negative scale",
      () =>
        q("uint4").dequantize(
          withPart(qt, "scales", { dtype: "F32", shape: [4, 2], data: new Float32Array(8).fill(-1) }),
        ),
      /scales\[0\] = -1/,
    ],
    [
      "zero out of range",
      () =>
        q("uint4").dequantize(
          withPart(qt, "zeros", { dtype: "U8", shape: [4, 2], data: new Uint8Array(8).fill(16) }),
        ),
      /zeros\[0\] = 16 is outside \[0, 15\]/,
    ],
    [
      "padding bits",
      () => {
        const bytes = Uint8Array.from(sym.parts["qdata"]!.data as Uint8Array);
        bytes[bytes.length - 1]! |= 0x80;
        return q("int3").dequantize(withPart(sym, "qdata", { ...sym.parts["qdata"]!, data: bytes }));
      },
      /non-zero padding bits/,
    ],
  ];
  it.each(cases)("%s", (_name, fn, re) => {
    let caught: unknown = null;
    try {
      fn();
    } catch (e) {
      caught = e;
    }
    expect(caught, String(caught)).toBeInstanceOf(CorruptDataError);
    expect((caught as CorruptDataError).code).toBe(LowbitErrorCode.CORRUPT);
    expect((caught as Error).message).toMatch(re);
  });

  it("the unmodified tensors decode", () => {
    expect(() => q("uint4").dequantize(qt)).not.toThrow();
    expect(() => q("int3").dequantize(sym)).not.toThrow();
  });
});

describe("GGUF argument errors", () => {
  it("lengths that are not a multiple of 32 → RangeError", () => {
    expectThrow(
      () => ggufQ4_0.encode(new Float32Array(33)),
      RangeError,
      /src must be a multiple of 32 elements, got 33/,
    );
    expectThrow(() => ggufQ4_0.encodedLength(31), RangeError, /count must be a multiple of 32/);
    expectThrow(() => ggufQ8_0.decode(new Uint8Array(35)), RangeError, /multiple of 34 bytes/);
    expectThrow(
      () => ggufQ8_0.decodeInto(new Uint8Array(33), new Float32Array(32)),
      RangeError,
      /blocks is too short/,
    );
    expectThrow(
      () => ggufQ8_0.encodeInto(x, new Uint8Array(67)),
      RangeError,
      /dst is too short: need 68 bytes/,
    );
    expectThrow(
      () => q("gguf_q4_1").quantize(x, [2, 32 + 0 * 1, 1]),
      RangeError,
      /last dimension to be a multiple of 32/,
    );
    expectThrow(
      () => q("gguf_q4_1").quantize(x.subarray(0, 1), []),
      RangeError,
      /multiple of 32, got shape \[\]/,
    );
  });

  it("wrong types → TypeError; unknown options → RangeError; variant only on Q4_0", () => {
    expectThrow(() => ggufQ4_0.encode(Array.from(x) as never), TypeError, /src must be a Float32Array/);
    expectThrow(() => ggufQ4_0.decode(new Int8Array(18) as never), TypeError, /blocks must be a Uint8Array/);
    expectThrow(
      () => ggufQ4_0.encode(x, { variant: "old" } as never),
      RangeError,
      /option variant must be "current" \| "pre15111"/,
    );
    expectThrow(
      () => ggufQ8_0.encode(x, { variant: "current" }),
      RangeError,
      /unknown option "variant" for gguf_q8_0; known options: none/,
    );
    expectThrow(
      () => q("gguf_q4_0").quantize(x, [64], { group: 32 }),
      RangeError,
      /unknown option "group" for gguf_q4_0/,
    );
  });

  it("corrupt GGUF tensors → CorruptDataError", () => {
    const qt = q("gguf_q4_0").quantize(x, [2, 32]);
    const blocks = qt.parts["blocks"]!;
    const bad: [QuantizedTensor, RegExp][] = [
      [{ ...qt, spec: { format: "gguf_q4_1" } }, /spec.format is "gguf_q4_1"/],
      [{ ...qt, spec: { format: "gguf_q4_0", variant: "x" } }, /option variant/],
      [{ ...qt, shape: [2, 31] }, /multiple of 32/],
      [withPart(qt, "blocks", undefined), /missing part "blocks"/],
      [withPart(qt, "scales", blocks), /unexpected part "scales"/],
      [withPart(qt, "blocks", { ...blocks, data: new Uint8Array(35) }), /must hold 36 bytes, got 35/],
      [withPart(qt, "blocks", { ...blocks, dtype: "I8" }), /must be U8/],
      [withPart(qt, "blocks", { ...blocks, shape: [36] }), /must have shape \[2, 18\]/],
    ];
    for (const [t, re] of bad) {
      expectThrow(() => q("gguf_q4_0").dequantize(t), CorruptDataError, re);
    }
    expect(q("gguf_q4_0").dequantize(qt)).toEqual(ggufQ4_0.decode(blocks.data as Uint8Array));
  });
});
