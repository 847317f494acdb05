import { describe, expect, it } from "vitest";
import { createRng, pack, packedLength, packInto, unpack, unpackInto } from "../src/index.js";

/** Reference bit-stream packer, one bit at a time: element i occupies stream bits [i·b, i·b + b). */
function packSlow(codes: Uint8Array, bits: number): Uint8Array {
  const out = new Uint8Array(Math.ceil((codes.length * bits) / 8));
  for (let i = 0; i < codes.length; i++) {
    for (let k = 0; k < bits; k++) {
      const bit = (codes[i]! >>> k) & 1;
      const pos = i * bits + k;
      out[pos >>> 3]! |= bit << (pos & 7);
    }
  }
  return out;
}

describe("native LSB-first packing", () => {
  const rng = createRng(2026);
  for (let bits = 1; bits <= 8; bits++) {
    it(`${bits}-bit: fast path equals the bit-by-bit reference and round-trips`, () => {
      for (const count of [0, 1, 2, 3, 5, 7, 8, 9, 31, 33, 1001]) {
        const codes = new Uint8Array(count).map(() => rng.nextUint32() & ((1 << bits) - 1));
        const packed = pack(codes, bits);
        expect(packed.length).toBe(packedLength(count, bits));
        expect(packed).toEqual(packSlow(codes, bits));
        expect(unpack(packed, bits, count)).toEqual(codes);
      }
    });
  }

  it("Into forms write into caller buffers and report counts", () => {
    const codes = Uint8Array.of(1, 2, 3);
    const dst = new Uint8Array(4).fill(0xee);
    expect(packInto(codes, 4, dst)).toBe(2);
    expect([...dst]).toEqual([0x21, 0x03, 0xee, 0xee]);
    const back = new Uint8Array(3);
    expect(unpackInto(dst, 4, back)).toBe(3);
    expect([...back]).toEqual([1, 2, 3]);
  });

  it("rejects codes that do not fit, naming the index", () => {
    expect(() => pack(Uint8Array.of(1, 16), 4)).toThrow(
      new RangeError("codes[1] = 16 does not fit in 4 bits (expected 0..15)"),
    );
  });

  it("rejects short buffers and bad widths", () => {
    expect(() => unpack(new Uint8Array(1), 4, 3)).toThrow(RangeError);
    expect(() => packInto(Uint8Array.of(1, 2, 3), 4, new Uint8Array(1))).toThrow(/dst is too short/);
    expect(() => pack(new Uint8Array(1), 9)).toThrow(/bits must be an integer in \[1, 8\]/);
    expect(() => pack([1, 2] as unknown as Uint8Array, 4)).toThrow(TypeError);
  });
});
