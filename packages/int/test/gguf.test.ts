import { createRng } from "@lowbit/bits";
import { describe, expect, it } from "vitest";
import {
  encodeMxfp4,
  MXFP4_KVALUES,
  mxfp4CodeExact,
  mxfp4Exponent,
  mxfp4Half,
} from "../src/_gguf-kernels.js";
import { ggufMxfp4, ggufQ4_0, ggufQ4_1, ggufQ8_0, intQuantizers } from "../src/index.js";

const CODECS = [ggufQ4_0, ggufQ4_1, ggufQ8_0, ggufMxfp4];

/** Random float32 bit patterns (every exponent), some exact multiples of 2^k/2, some ±0, NaN, ±Inf. */
function randomBlocks(nb: number, seed: number): Float32Array {
  const rng = createRng(seed);
  const u = new Uint32Array(nb * 32);
  for (let b = 0; b < nb; b++) {
    const kind = rng.nextUint32() % 4;
    const e = (rng.nextUint32() % 250) + 2;
    for (let j = 0; j < 32; j++) {
      const i = b * 32 + j;
      if (kind === 0) u[i] = rng.nextUint32();
      else if (kind === 1) u[i] = (e << 23) | (rng.nextUint32() & 0x807fffff);
      else if (kind === 2)
        u[i] = ((e << 23) | ((rng.nextUint32() % 16) << 19) | ((rng.nextUint32() & 1) << 31)) >>> 0;
      else u[i] = [0, 0x80000000, 0x7fc00000, 0x7f800000, 0xff800000, 1][rng.nextUint32() % 6]!;
    }
  }
  return new Float32Array(u.buffer);
}

describe("GGUF MXFP4 element selection", () => {
  it("the threshold fast path equals gguf-py's argmin on every element it handles", () => {
    const x = randomBlocks(4000, 11);
    const xb = new Uint32Array(x.buffer);
    const nb = x.length / 32;
    const out = new Uint8Array(nb * 17);
    encodeMxfp4(x, xb, out, nb);
    let checked = 0;
    for (let b = 0; b < nb; b++) {
      const d = mxfp4Half(out[b * 17]!);
      for (let j = 0; j < 32; j++) {
        const byte = out[b * 17 + 1 + (j & 15)]!;
        const code = j < 16 ? byte & 15 : byte >>> 4;
        expect(code, `block ${b} element ${j}`).toBe(mxfp4CodeExact(x[b * 32 + j]!, d));
        checked++;
      }
    }
    expect(checked).toBe(x.length);
  });

  it("ties go to the lower code, tiny negatives and −0 to code 0", () => {
    const d = 1;
    expect(mxfp4CodeExact(0.25, d)).toBe(0); // between 0 and 0.5·2
    expect(mxfp4CodeExact(0.5, d)).toBe(0); // tie 0 | 1 → 0
    expect(mxfp4CodeExact(1.5, d)).toBe(1); // tie 1 | 2 → 1
    expect(mxfp4CodeExact(5, d)).toBe(4); // tie 4 | 6 → 4
    expect(mxfp4CodeExact(-5, d)).toBe(12); // −4
    expect(mxfp4CodeExact(-0.5, d)).toBe(0); // tie −0 | −1 → code 0
    expect(mxfp4CodeExact(-0, d)).toBe(0);
    expect(mxfp4CodeExact(100, d)).toBe(7);
    expect(MXFP4_KVALUES[12]).toBe(-4);
  });

  it("the shared exponent is float32 floor(log2) − 2 + 127 with gguf-py's uint8 wrap", () => {
    expect(mxfp4Exponent(1)).toBe(125);
    expect(mxfp4Exponent(6)).toBe(127);
    expect(mxfp4Exponent(0)).toBe(0);
    expect(mxfp4Exponent(Number.NaN)).toBe(0);
    expect(mxfp4Exponent(Number.POSITIVE_INFINITY)).toBe(0);
    expect(mxfp4Exponent(2 ** -126)).toBe(255); // −1 wraps
    expect(mxfp4Exponent(2 ** -149)).toBe(232); // −24 wraps
    expect(mxfp4Exponent(3.4028234663852886e38)).toBe(253); // float32 log2(FLT_MAX) rounds to 128
  });
});

describe("GGUF codecs", () => {
  it("encode/encodeInto and decode/decodeInto agree, at unaligned offsets too", () => {
    const x = randomBlocks(64, 3);
    for (const c of CODECS) {
      const blocks = c.encode(x);
      expect(blocks.length).toBe(c.encodedLength(x.length));
      expect(blocks.length).toBe((x.length / 32) * c.blockBytes);
      const buf = new Uint8Array(blocks.length + 3);
      expect(c.encodeInto(x, buf.subarray(3))).toBe(blocks.length);
      expect(buf.subarray(3)).toEqual(blocks);
      const shifted = new Float32Array(x.length + 1);
      shifted.set(x, 1);
      expect(c.encode(shifted.subarray(1))).toEqual(blocks);
      const y = c.decode(blocks);
      const z = new Float32Array(x.length + 1);
      expect(c.decodeInto(buf.subarray(3), z.subarray(1))).toBe(x.length);
      expect(new Uint32Array(z.buffer, 4)).toEqual(new Uint32Array(y.buffer));
    }
  });

  it("re-encoding decoded values is stable for Q8_0 and Q4_0 on normal data", () => {
    const rng = createRng(9);
    const x = Float32Array.from({ length: 4096 }, () => rng.nextFloat() * 2 - 1);
    for (const c of [ggufQ8_0, ggufQ4_0]) {
      const y = c.decode(c.encode(x));
      const y2 = c.decode(c.encode(y));
      let maxDiff = 0;
      for (let i = 0; i < y.length; i++) maxDiff = Math.max(maxDiff, Math.abs(y2[i]! - y[i]!));
      expect(maxDiff).toBeLessThan(2e-3);
    }
  });

  it("the quantizers keep the tensor shape and lay blocks out along the last axis", () => {
    const x = randomBlocks(12, 5);
    for (const c of CODECS) {
      const q = intQuantizers.find((z) => z.name === c.name)!;
      const qt = q.quantize(x, [2, 3, 64]);
      expect(qt.shape).toEqual([2, 3, 64]);
      expect(qt.parts["blocks"]!.shape).toEqual([2, 3, 2 * c.blockBytes]);
      expect(qt.parts["blocks"]!.data).toEqual(c.encode(x));
      expect(q.dequantize(qt)).toEqual(c.decode(c.encode(x)));
    }
    const q40 = intQuantizers.find((z) => z.name === "gguf_q4_0")!;
    expect(q40.quantize(x, [384]).spec).toEqual({ format: "gguf_q4_0", variant: "current" });
    expect(q40.quantize(x, [384], { variant: "pre15111" }).spec).toEqual({
      format: "gguf_q4_0",
      variant: "pre15111",
    });
    expect(intQuantizers.find((z) => z.name === "gguf_mxfp4")!.quantize(x, [384]).spec).toEqual({
      format: "gguf_mxfp4",
    });
  });

  it("Q4_0: d = max/−8 keeps the sign of the first largest-magnitude element", () => {
    const x = new Float32Array(32);
    x[3] = -2;
    x[7] = 2;
    const b = ggufQ4_0.encode(x);
    expect(b[0]! | (b[1]! << 8)).toBe(0x3400); // d = −2/−8 = +0.25
    x[3] = 2;
    x[7] = -2;
    const c = ggufQ4_0.encode(x);
    expect(c[0]! | (c[1]! << 8)).toBe(0xb400); // d = −0.25
    expect(ggufQ4_0.decode(c)[3]).toBe(2); // (0 − 8)·(−0.25)
    expect(ggufQ4_0.decode(c)[7]).toBe(-1.75); // x·id + 8.5 = 16.5 → 15: the +max side clips
  });
});
