import { createRng } from "@lowbit/bits";
import { describe, expect, it } from "vitest";
import { packCodes, packedCodesLength, unpackCodes } from "../src/index.js";

describe("packCodes / unpackCodes", () => {
  it("round-trips every width 1..16 at its exact length", () => {
    const rng = createRng(7);
    for (let bits = 1; bits <= 16; bits++) {
      for (const count of [0, 1, 7, 33, 100]) {
        const codes = new Uint16Array(count);
        for (let i = 0; i < count; i++) codes[i] = rng.nextUint32() % 2 ** bits;
        const bytes = packCodes(codes, bits);
        expect(bytes.length).toBe(Math.ceil((count * bits) / 8));
        expect(bytes.length).toBe(packedCodesLength(count, bits));
        expect(unpackCodes(bytes, count, bits)).toEqual(codes);
      }
    }
  });

  it("is one LSB-first bit stream (12 and 9 bits)", () => {
    expect([...packCodes(Uint16Array.of(0xabc, 0x123), 12)]).toEqual([0xbc, 0x3a, 0x12]);
    // 9 bits: 0x1ff then 0x001 → bits 0..8 ones, bit 9 one → 0xff, 0x03, 0x00
    expect([...packCodes(Uint16Array.of(0x1ff, 0x001), 9)]).toEqual([0xff, 0x03, 0x00]);
    expect([...packCodes(Uint16Array.of(0x1234), 16)]).toEqual([0x34, 0x12]);
  });

  it("rejects codes that do not fit and short input", () => {
    expect(() => packCodes(Uint16Array.of(512), 9)).toThrow(RangeError);
    expect(() => packCodes(Uint16Array.of(0), 17)).toThrow(RangeError);
    expect(() => unpackCodes(new Uint8Array(2), 2, 12)).toThrow(RangeError);
  });
});
