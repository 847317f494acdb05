import {
  createRng,
  GGUF_NIBBLE_BLOCK,
  pack,
  packedLength,
  packGgufNibbles,
  packInto,
  packNibblesHighFirst,
  unpack,
  unpackGgufNibbles,
  unpackInto,
  unpackNibblesHighFirst,
} from "@lowbit/bits";
import { float4_e2m1fn } from "@lowbit/fp4";
import { float6_e2m3fn, float6_e3m2fn } from "@lowbit/fp6";
import { describe, expect, it } from "vitest";

/**
 * SPEC §2: the native layout is one little-endian bit stream, least significant bits first; element i
 * occupies stream bits [i·b, i·b + b); a final partial byte is zero-padded. Compatibility layouts
 * (bitsandbytes high-nibble-first, GGUF split halves) are separate functions. Expected bytes below are
 * worked out by hand from that rule, not by a second packer.
 */

const bytes = (...b: number[]) => Uint8Array.from(b);
const list = (a: ArrayLike<number>) => Array.from(a);

function randomCodes(seed: number, n: number, bits: number): Uint8Array {
  const rng = createRng(seed);
  const out = new Uint8Array(n);
  for (let i = 0; i < n; i++) out[i] = rng.nextUint32() >>> (32 - bits);
  return out;
}

describe("native pack/unpack (bits 1..8)", () => {
  const lengths = [0, 1, 3, 5, 7, 9, 15, 31, 33, 63, 127, 1001];
  it.each([1, 2, 3, 4, 5, 6, 7, 8])("%i-bit codes round-trip at odd lengths, with zero padding", (bits) => {
    for (const n of lengths) {
      const codes = randomCodes(0xbac0 + bits * 1000 + n, n, bits);
      const packed = pack(codes, bits);
      expect(packed.length).toBe(Math.ceil((n * bits) / 8));
      expect(packedLength(n, bits)).toBe(packed.length);
      expect(list(unpack(packed, bits, n))).toEqual(list(codes));
      // The bits past the last element are zero.
      const used = (n * bits) % 8;
      if (used !== 0) expect(packed[packed.length - 1]! >>> used, `n=${n}`).toBe(0);
      // Into caller buffers at odd offsets, and from an unaligned view of the codes.
      const src = new Uint8Array(n + 1);
      src.set(codes, 1);
      const dst = new Uint8Array(packed.length + 3).fill(0xee);
      expect(packInto(src.subarray(1), bits, dst.subarray(1))).toBe(packed.length);
      expect(list(dst.subarray(1, 1 + packed.length))).toEqual(list(packed));
      expect(dst[packed.length + 1]).toBe(0xee); // nothing written past the packed length
      const back = new Uint8Array(n + 2).fill(0xee);
      expect(unpackInto(dst.subarray(1), bits, back.subarray(1, 1 + n))).toBe(n);
      expect(list(back.subarray(1, 1 + n))).toEqual(list(codes));
      expect(back[n + 1]).toBe(0xee);
    }
  });

  it("every code value of every width survives (all 2^b values, then shifted by one element)", () => {
    for (let bits = 1; bits <= 8; bits++) {
      const all = Uint8Array.from({ length: 2 ** bits }, (_, i) => i);
      const shifted = Uint8Array.from([0, ...all]);
      expect(list(unpack(pack(all, bits), bits, all.length))).toEqual(list(all));
      expect(list(unpack(pack(shifted, bits), bits, shifted.length))).toEqual(list(shifted));
    }
  });

  it("unpack ignores garbage in the padding bits and in bytes past the end", () => {
    expect(list(unpack(bytes(0xf5, 0xff), 3, 2))).toEqual([5, 6]);
    expect(list(unpack(bytes(0x21, 0xf3, 0x99), 4, 3))).toEqual([1, 2, 3]);
  });
});

describe("native layout, hand-computed", () => {
  it("4-bit: element 2i is the low nibble of byte i", () => {
    expect(list(pack(bytes(1, 2, 3), 4))).toEqual([0x21, 0x03]);
    expect(list(pack(bytes(0xf, 0x0, 0xa, 0x5), 4))).toEqual([0x0f, 0x5a]);
    expect(list(unpack(bytes(0x21, 0x03), 4, 3))).toEqual([1, 2, 3]);
  });

  it("2-bit: element 4i is bits 1..0", () => {
    expect(list(pack(bytes(1, 2, 3, 0), 2))).toEqual([0b00111001]);
    expect(list(pack(bytes(1, 2, 3, 0, 3), 2))).toEqual([0b00111001, 0b00000011]);
  });

  it("6-bit: four elements fill three bytes", () => {
    // 000001, 111111, 101010, 010101 LSB-first: 11|000001, 1010|1111, 010101|10.
    expect(list(pack(bytes(0x01, 0x3f, 0x2a, 0x15), 6))).toEqual([0xc1, 0xaf, 0x56]);
    expect(list(pack(bytes(0x01, 0x3f, 0x2a, 0x15, 0x3f), 6))).toEqual([0xc1, 0xaf, 0x56, 0x3f]);
    expect(list(pack(bytes(0x3f, 0x3f, 0x3f, 0x3f), 6))).toEqual([0xff, 0xff, 0xff]);
  });

  it("3-, 5-, 7- and 1-bit codes run across byte boundaries", () => {
    // 5 = 101, 3 = 011, 7 = 111, 1 = 001, 6 = 110: byte 0 = 11|011|101, byte 1 = 0|110|001|1.
    expect(list(pack(bytes(5, 3, 7, 1, 6), 3))).toEqual([0xdd, 0x63]);
    // 31 | 0 << 5 | 17 << 10 = 0x441F.
    expect(list(pack(bytes(31, 0, 17), 5))).toEqual([0x1f, 0x44]);
    // 0x7F | 0x01 << 7 | 0x55 << 14 = 0x1540FF.
    expect(list(pack(bytes(0x7f, 0x01, 0x55), 7))).toEqual([0xff, 0x40, 0x15]);
    expect(list(pack(bytes(1, 0, 1, 1, 0, 0, 0, 0, 1), 1))).toEqual([0x0d, 0x01]);
    expect(list(unpack(bytes(0xdd, 0x63), 3, 5))).toEqual([5, 3, 7, 1, 6]);
    expect(list(unpack(bytes(0xff, 0x40, 0x15), 7, 3))).toEqual([0x7f, 0x01, 0x55]);
  });

  it("a final partial byte is zero-padded; 8-bit is the identity", () => {
    expect(list(pack(bytes(7), 3))).toEqual([0x07]);
    expect(list(pack(bytes(0xf), 4))).toEqual([0x0f]);
    expect(list(pack(bytes(0x3f), 6))).toEqual([0x3f]);
    expect(list(pack(bytes(), 4))).toEqual([]);
    expect(list(pack(bytes(0, 255, 128), 8))).toEqual([0, 255, 128]);
  });
});

describe("compatibility layouts", () => {
  it("packNibblesHighFirst (bitsandbytes): element 2i in the high nibble", () => {
    expect(list(packNibblesHighFirst(bytes(1, 2, 3)))).toEqual([0x12, 0x30]);
    expect(list(packNibblesHighFirst(bytes(0xa, 0x5, 0xf, 0x0)))).toEqual([0xa5, 0xf0]);
    expect(list(unpackNibblesHighFirst(bytes(0x12, 0x30), 3))).toEqual([1, 2, 3]);
    const codes = randomCodes(0x6b6b, 101, 4);
    expect(list(unpackNibblesHighFirst(packNibblesHighFirst(codes), 101))).toEqual(list(codes));
    // Never the default: the native layout of the same codes differs.
    expect(list(pack(bytes(1, 2, 3), 4))).not.toEqual(list(packNibblesHighFirst(bytes(1, 2, 3))));
  });

  it("packGgufNibbles: byte j holds element j (low) and element j + 16 (high) of each 32-block", () => {
    expect(GGUF_NIBBLE_BLOCK).toBe(32);
    // Elements 0..15 = 0..15, elements 16..31 = 15..0: byte j = j | (15 − j) << 4.
    const block = Uint8Array.from({ length: 32 }, (_, i) => (i < 16 ? i : 31 - i));
    const want = [
      0xf0, 0xe1, 0xd2, 0xc3, 0xb4, 0xa5, 0x96, 0x87, 0x78, 0x69, 0x5a, 0x4b, 0x3c, 0x2d, 0x1e, 0x0f,
    ];
    expect(list(packGgufNibbles(block))).toEqual(want);
    // A second block: low halves 1, high halves 2.
    const two = Uint8Array.from([
      ...block,
      ...new Array<number>(16).fill(1),
      ...new Array<number>(16).fill(2),
    ]);
    expect(list(packGgufNibbles(two))).toEqual([...want, ...new Array<number>(16).fill(0x21)]);
    expect(list(unpackGgufNibbles(packGgufNibbles(two), 64))).toEqual(list(two));
    const codes = randomCodes(0x9909, 96, 4);
    expect(list(unpackGgufNibbles(packGgufNibbles(codes), 96))).toEqual(list(codes));
  });

  it("packGgufNibbles needs a multiple of 32 elements (RangeError otherwise)", () => {
    for (const n of [1, 16, 31, 33, 48]) {
      expect(() => packGgufNibbles(new Uint8Array(n))).toThrow(RangeError);
      expect(() => packGgufNibbles(new Uint8Array(n))).toThrow(
        new RegExp(`^GGUF nibble layout needs a multiple of 32 elements, got ${n}$`),
      );
    }
    expect(() => unpackGgufNibbles(new Uint8Array(16), 31)).toThrow(/multiple of 32 elements, got 31/);
    expect(packGgufNibbles(new Uint8Array(0)).length).toBe(0);
  });
});

describe("codec.pack of sub-byte codecs is the native layout", () => {
  it.each([float4_e2m1fn, float6_e2m3fn, float6_e3m2fn].map((c) => [c.name, c] as const))(
    "%s",
    (_name, codec) => {
      const rng = createRng(0x70ac);
      for (const n of [1, 3, 7, 33, 1001]) {
        const x = Float32Array.from({ length: n }, () => (rng.nextFloat() - 0.5) * 2 * codec.maxFinite * 1.2);
        const codes = codec.encode(x);
        const packed = codec.pack(codes);
        expect(list(packed)).toEqual(list(pack(codes, codec.bits)));
        expect(codec.packedLength(n)).toBe(packedLength(n, codec.bits));
        expect(list(codec.unpack(packed, n))).toEqual(list(codes));
        const dst = new Uint8Array(codec.packedLength(n));
        expect(codec.packInto(codes, dst)).toBe(dst.length);
        expect(list(dst)).toEqual(list(packed));
        const back = new Uint8Array(n);
        expect(codec.unpackInto(packed, back)).toBe(n);
        expect(list(codec.decode(back))).toEqual(list(codec.decode(codes)));
      }
      // Hand-computed: float4 codes of [1, -0.5, 6] are 0x2, 0x9, 0x7 → bytes 0x92, 0x07.
      if (codec.bits === 4) expect(list(codec.pack(codec.encode([1, -0.5, 6])))).toEqual([0x92, 0x07]);
    },
  );
});
