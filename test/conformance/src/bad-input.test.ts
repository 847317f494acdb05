import { pack, packedLength, unpack } from "@lowbit/bits";
import { codecNames, type FloatCodec, getCodec, getCodecInfo, listCodecs } from "@lowbit/formats";
import { float4_e2m1fn } from "@lowbit/fp4";
import { float6_e2m3fn, float6_e3m2fn } from "@lowbit/fp6";
import { float8_e4m3fn } from "@lowbit/fp8";
import { float16 } from "@lowbit/fp16";
import { describe, expect, it } from "vitest";
import { f32FromBits } from "./shared.js";

/**
 * SPEC §5: bad arguments throw TypeError (wrong type) or RangeError (wrong length or value), naming the
 * argument, what was expected and what came instead. Every float32 bit pattern is valid input.
 */

/** The codec API with its argument types erased, to call it the way untyped JavaScript can. */
interface Untyped {
  encode(src: unknown, opts?: unknown): unknown;
  encodeInto(src: unknown, dst: unknown, opts?: unknown): unknown;
  decode(codes: unknown): unknown;
  decodeInto(codes: unknown, dst: unknown): unknown;
  encodeValue(value: unknown, opts?: unknown): unknown;
  decodeValue(code: unknown): unknown;
}
const untyped = (c: FloatCodec) => c as unknown as Untyped;

const codecs = listCodecs().map((e) => e.codec);

/** Asserts that `fn` throws an instance of `cls` whose message matches `re`. */
function expectThrow(
  fn: () => unknown,
  cls: typeof TypeError | typeof RangeError,
  re: RegExp,
  label = "",
): void {
  let caught: unknown = null;
  try {
    fn();
  } catch (e) {
    caught = e;
  }
  expect(caught, `${label} expected ${cls.name} matching ${re}, got ${String(caught)}`).toBeInstanceOf(cls);
  expect((caught as Error).message, label).toMatch(re);
}

const codesFor = (c: FloatCodec, n: number) => (c.bits <= 8 ? new Uint8Array(n) : new Uint16Array(n));

describe("wrong array types → TypeError naming the argument, the expectation and what came", () => {
  it.each(codecs.map((c) => [c.name, c] as const))("%s", (_name, codec) => {
    const c = untyped(codec);
    const srcRe = /^src must be a Float32Array, Float64Array or number\[\], got /;
    expectThrow(() => c.encode(new Int32Array(4)), TypeError, /^src must be .*got Int32Array\(4\)$/);
    expectThrow(() => c.encode(new Uint8Array(4)), TypeError, srcRe);
    expectThrow(() => c.encode("1,2"), TypeError, srcRe);
    expectThrow(() => c.encode(null), TypeError, /got null$/);
    expectThrow(() => c.encode(undefined), TypeError, /got undefined$/);
    expectThrow(() => c.encodeInto(new Int32Array(4), codesFor(codec, 4)), TypeError, srcRe);
    const codeType = codec.bits <= 8 ? "Uint8Array" : "Uint16Array";
    const wrongCodes = codec.bits <= 8 ? new Uint16Array(4) : new Uint8Array(4);
    const wrongName = wrongCodes.constructor.name;
    expectThrow(
      () => c.decode(new Float32Array(4)),
      TypeError,
      new RegExp(`^codes must be a ${codeType}, got Float32Array\\(4\\)$`),
    );
    expectThrow(
      () => c.decode(wrongCodes),
      TypeError,
      new RegExp(`^codes must be a ${codeType}, got ${wrongName}\\(4\\)$`),
    );
    expectThrow(
      () => c.decode([1, 2]),
      TypeError,
      new RegExp(`^codes must be a ${codeType}, got Array\\(2\\)$`),
    );
    expectThrow(
      () => c.encodeInto(new Float32Array(4), wrongCodes),
      TypeError,
      new RegExp(`^dst must be a ${codeType}`),
    );
    expectThrow(
      () => c.decodeInto(wrongCodes, new Float32Array(4)),
      TypeError,
      new RegExp(`^codes must be a ${codeType}`),
    );
    expectThrow(
      () => c.decodeInto(codesFor(codec, 4), new Float64Array(4)),
      TypeError,
      /^dst must be a Float32Array, got Float64Array\(4\)$/,
    );
    expectThrow(() => c.encodeValue("1"), TypeError, /^value must be a number, got "1"$/);
    expectThrow(() => c.decodeValue("1"), TypeError, /^code must be an integer, got "1"$/);
  });

  it("decode(Uint8Array) for float16 and decode(Float32Array) for an 8-bit codec name the argument", () => {
    expectThrow(
      () => untyped(float16).decode(new Uint8Array(2)),
      TypeError,
      /^codes must be a Uint16Array, got Uint8Array\(2\)$/,
    );
    expectThrow(
      () => untyped(float8_e4m3fn).decode(new Float32Array(4)),
      TypeError,
      /^codes must be a Uint8Array, got Float32Array\(4\)$/,
    );
  });
});

describe("wrong lengths and values → RangeError", () => {
  it.each(codecs.map((c) => [c.name, c] as const))(
    "%s: short destinations, out-of-range decodeValue",
    (_name, codec) => {
      expectThrow(
        () => codec.encodeInto(new Float32Array(5), codesFor(codec, 4)),
        RangeError,
        /^dst is too short: need 5 codes, got 4$/,
      );
      expectThrow(
        () => codec.encodeInto([1, 2], codesFor(codec, 1)),
        RangeError,
        /^dst is too short: need 2 codes, got 1$/,
      );
      expectThrow(
        () => codec.decodeInto(codesFor(codec, 5), new Float32Array(4)),
        RangeError,
        /^dst is too short: need 5 values, got 4$/,
      );
      // Exactly long enough, and longer, are fine.
      expect(codec.encodeInto(new Float32Array(4), codesFor(codec, 4))).toBe(4);
      expect(codec.decodeInto(codesFor(codec, 4), new Float32Array(9))).toBe(4);
      const max = 2 ** codec.bits - 1;
      for (const bad of [max + 1, -1, 1.5, Number.NaN]) {
        expectThrow(
          () => codec.decodeValue(bad),
          RangeError,
          new RegExp(`^code must be an integer in \\[0, ${max}\\], got `),
        );
      }
    },
  );

  it.each([
    [float4_e2m1fn, 0x10],
    [float6_e2m3fn, 0x40],
    [float6_e3m2fn, 0xff],
  ] as const)(
    "%s: decoding a code that does not fit in its bits → RangeError naming the index",
    (codec, bad) => {
      const bits = codec.bits;
      const re = (i: number) =>
        new RegExp(
          `^codes\\[${i}\\] = ${bad} is not a ${bits}-bit code \\(expected 0\\.\\.${2 ** bits - 1}\\)$`,
        );
      // Single element (byte loop), aligned words (word loop), at the end of an unaligned view.
      expectThrow(() => codec.decode(Uint8Array.of(bad)), RangeError, re(0));
      const words = new Uint8Array(16);
      words[6] = bad;
      expectThrow(() => codec.decode(words), RangeError, re(6));
      const view = new Uint8Array(12).subarray(1);
      view[10] = bad;
      expectThrow(() => codec.decode(view), RangeError, re(10));
      expectThrow(() => codec.decodeInto(words, new Float32Array(16)), RangeError, re(6));
      expectThrow(
        () => codec.pack(Uint8Array.of(0, bad)),
        RangeError,
        new RegExp(`^codes\\[1\\] = ${bad} does not fit in ${bits} bits`),
      );
    },
  );

  it("unpack of a short buffer → RangeError (bits and codec.unpack)", () => {
    expectThrow(
      () => unpack(new Uint8Array(1), 4, 3),
      RangeError,
      /^bytes is too short: 3 elements of 4 bits need 2 bytes, got 1$/,
    );
    expectThrow(
      () => unpack(new Uint8Array(2), 6, 3),
      RangeError,
      /^bytes is too short: 3 elements of 6 bits need 3 bytes, got 2$/,
    );
    expectThrow(() => float4_e2m1fn.unpack(new Uint8Array(2), 5), RangeError, /^bytes is too short/);
    expectThrow(() => float6_e2m3fn.unpack(new Uint8Array(5), 7), RangeError, /^bytes is too short/);
    expectThrow(
      () => float4_e2m1fn.unpackInto(new Uint8Array(1), new Uint8Array(3)),
      RangeError,
      /^bytes is too short/,
    );
    expectThrow(
      () => float4_e2m1fn.packInto(new Uint8Array(3), new Uint8Array(1)),
      RangeError,
      /^dst is too short/,
    );
    expectThrow(() => packedLength(3, 9), RangeError, /^bits must be an integer in \[1, 8\], got 9$/);
    expectThrow(() => packedLength(-1, 4), RangeError, /^count must be an integer/);
    expectThrow(() => pack(new Uint8Array(2), 0), RangeError, /^bits must be an integer in \[1, 8\], got 0$/);
    expectThrow(
      () => pack([1, 2] as unknown as Uint8Array, 4),
      TypeError,
      /^codes must be a Uint8Array, got Array\(2\)$/,
    );
  });
});

describe("bad options → TypeError / RangeError naming the option", () => {
  const src = new Float32Array([1, 2.5]);
  const cases: readonly [string, unknown, typeof TypeError | typeof RangeError, RegExp][] = [
    [
      "rounding: 'up'",
      { rounding: "up" },
      RangeError,
      /^opts\.rounding must be "nearest-even" \| "nearest-away" \| "stochastic", got "up"$/,
    ],
    ["rounding: 5", { rounding: 5 }, TypeError, /^opts\.rounding must be .*, got 5$/],
    ["saturate: 'yes'", { saturate: "yes" }, TypeError, /^opts\.saturate must be a boolean, got "yes"$/],
    ["saturate: 1", { saturate: 1 }, TypeError, /^opts\.saturate must be a boolean, got 1$/],
    [
      "seed: -1",
      { rounding: "stochastic", seed: -1 },
      RangeError,
      /^opts\.seed must be an integer in \[0, 4294967295\], got -1$/,
    ],
    [
      "seed: 1.5",
      { rounding: "stochastic", seed: 1.5 },
      RangeError,
      /^opts\.seed must be an integer in \[0, 4294967295\], got 1\.5$/,
    ],
    [
      "seed: 2^32",
      { rounding: "stochastic", seed: 2 ** 32 },
      RangeError,
      /^opts\.seed must be an integer in \[0, 4294967295\]/,
    ],
    [
      "seed: '1'",
      { rounding: "stochastic", seed: "1" },
      TypeError,
      /^opts\.seed must be an integer, got "1"$/,
    ],
    ["seed: -1 without stochastic", { seed: -1 }, RangeError, /^opts\.seed must be an integer in/],
    ["opts: 'fast'", "fast", TypeError, /^opts must be an options object, got "fast"$/],
    ["opts: null", null, TypeError, /^opts must be an options object, got null$/],
    ["opts: []", [], TypeError, /^opts must be an options object, got Array\(0\)$/],
  ];
  it.each(codecs.map((c) => [c.name, c] as const))(
    "%s: encode, encodeInto and encodeValue",
    (_name, codec) => {
      const c = untyped(codec);
      for (const [what, opts, cls, re] of cases) {
        expectThrow(() => c.encode(src, opts), cls, re, `encode ${what}:`);
        expectThrow(() => c.encodeInto(src, codesFor(codec, 2), opts), cls, re, `encodeInto ${what}:`);
        expectThrow(() => c.encodeValue(1.5, opts), cls, re, `encodeValue ${what}:`);
      }
      // Valid options of every kind are accepted.
      for (const opts of [
        {},
        { saturate: false },
        { rounding: "stochastic", seed: 0 },
        { rounding: "stochastic", seed: 2 ** 32 - 1 },
        { rounding: "nearest-away" },
      ]) {
        expect(() => c.encode(src, opts)).not.toThrow();
      }
    },
  );
});

describe("every float32 bit-pattern class encodes without throwing", () => {
  const patterns = [
    0x7fa00000, // signalling NaN with payload
    0x7f800001, // smallest-payload NaN
    0xffc00001, // negative quiet NaN with payload
    0x7fc00000,
    0xffffffff,
    0x7f800000, // +Inf
    0xff800000, // −Inf
    0x00000001, // smallest float32 subnormal
    0x807fffff, // largest negative float32 subnormal
    0x00000000,
    0x80000000,
    0x7f7fffff, // float32 max
    0xff7fffff,
    0x00800000, // smallest float32 normal
  ];
  const src = f32FromBits(patterns);
  const optionSets = [
    undefined,
    { saturate: true },
    { rounding: "stochastic", seed: 3 },
    { rounding: "nearest-away" },
  ] as const;
  it.each(codecs.map((c) => [c.name, c] as const))("%s (bulk and scalar, every option)", (_name, codec) => {
    for (const opts of optionSets) {
      const bulk = codec.encode(src, opts);
      expect(bulk.length).toBe(patterns.length);
      for (let i = 0; i < src.length; i++) {
        const scalar = codec.encodeValue(src[i]!, opts);
        expect(Number.isInteger(scalar) && scalar >= 0 && scalar < 2 ** codec.bits).toBe(true);
        expect(bulk[i]).toBeLessThan(2 ** codec.bits);
      }
      // Every code that comes out decodes.
      expect(codec.decode(bulk).length).toBe(patterns.length);
    }
  });
});

describe("registry", () => {
  it("getCodec of an unknown name → RangeError listing the known names", () => {
    const all = codecNames();
    expect(all).toEqual(
      expect.arrayContaining(["float16", "bfloat16", "float8_e4m3fn", "float4_e2m1fn", "hifloat8"]),
    );
    expectThrow(
      () => getCodec("nope"),
      RangeError,
      new RegExp(`^unknown codec "nope"; known: ${all.join(", ")}$`),
    );
    expectThrow(() => getCodecInfo("FLOAT16"), RangeError, /^unknown codec "FLOAT16"; known: .*float16/);
    expectThrow(() => getCodec(42 as unknown as string), TypeError, /^name must be a string, got number$/);
    for (const name of all) expect(getCodec(name).name).toBe(name);
  });
});
