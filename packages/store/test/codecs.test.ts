import { createRng } from "@lowbit/bits";
import { zstdCompressor } from "@lowbit/zstd";
import { describe, expect, it } from "vitest";
import {
  decodeDelta,
  decodeRans,
  decodeXor,
  decodeZstd,
  encodeDelta,
  encodeRans,
  encodeXor,
  encodeZstd,
  FLOAT_FORMATS,
} from "../src/_codecs.js";
import {
  decodeObject,
  encodeObject,
  parseObject,
  serializeObject,
  sha256Hex,
  widen,
} from "../src/_object.js";
import { ransDecode, ransEncode } from "../src/_rans.js";

const c = zstdCompressor({ threads: 0 });

function randomBytes(n: number, seed: number): Uint8Array {
  const rng = createRng(seed);
  const out = new Uint8Array(n);
  for (let i = 0; i < n; i++) out[i] = Math.floor(rng.nextFloat() * 256);
  return out;
}

/** Every f16 bit pattern (incl. ±0, subnormals, ±Inf, NaNs) against a shuffled partner. */
function allF16Pairs(): { ft: Uint8Array; base: Uint8Array } {
  const ft = new Uint16Array(65536);
  const base = new Uint16Array(65536);
  for (let i = 0; i < 65536; i++) {
    ft[i] = i;
    base[i] = (i * 40503 + 17) & 0xffff;
  }
  return { ft: new Uint8Array(ft.buffer), base: new Uint8Array(base.buffer) };
}

describe("rANS with contexts", () => {
  it("round-trips skewed, uniform and single-symbol data under many contexts", () => {
    const rng = createRng(3);
    for (const n of [0, 1, 2, 1000, 100_000]) {
      const sym = new Uint8Array(n);
      const ctx = new Uint8Array(n);
      for (let i = 0; i < n; i++) {
        ctx[i] = i % 7;
        sym[i] =
          ctx[i] === 0
            ? 42
            : ctx[i] === 1
              ? Math.floor(rng.nextFloat() * 256)
              : Math.floor(rng.nextFloat() ** 4 * 40);
      }
      const enc = ransEncode(sym, ctx, 7);
      const out = new Uint8Array(n);
      ransDecode(enc, ctx, 7, out);
      expect(Buffer.from(out).equals(sym)).toBe(true);
    }
  });

  it("codes skewed data near its entropy", () => {
    const n = 200_000;
    const rng = createRng(5);
    const sym = new Uint8Array(n);
    for (let i = 0; i < n; i++) sym[i] = rng.nextFloat() < 0.9 ? 0 : 1 + Math.floor(rng.nextFloat() * 3);
    const entropy = -(0.9 * Math.log2(0.9) + 0.1 * Math.log2(0.1 / 3));
    const enc = ransEncode(sym, new Uint8Array(n), 1);
    expect((enc.length * 8) / n).toBeLessThan(entropy * 1.01 + 0.001);
  });

  it("detects damaged streams instead of returning wrong symbols", () => {
    const n = 50_000;
    const sym = randomBytes(n, 9).map((b) => b & 15);
    const ctx = new Uint8Array(n);
    const enc = ransEncode(sym, ctx, 1);
    const out = new Uint8Array(n);
    expect(() => ransDecode(enc.subarray(0, enc.length - 3), ctx, 1, out)).toThrow(
      expect.objectContaining({ code: "ERR_CORRUPT" }),
    );
    expect(() => ransDecode(enc, new Uint8Array(n).fill(1), 2, out)).toThrow(
      expect.objectContaining({ code: "ERR_CORRUPT" }),
    );
    const bad = enc.slice();
    bad[2] ^= 0xff;
    expect(() => ransDecode(bad, ctx, 1, out)).toThrow(expect.objectContaining({ code: "ERR_CORRUPT" }));
  });
});

describe("part codecs are lossless on every bit pattern", () => {
  it("delta and rans on all 65 536 f16 values, incl. NaN, ±Inf, ±0 and subnormals", () => {
    const { ft, base } = allF16Pairs();
    const f = FLOAT_FORMATS["F16"]!;
    const d = encodeDelta(ft, base, f);
    expect(Buffer.from(decodeDelta(d.payload, d.sizes, base, f)).equals(ft)).toBe(true);
    const r = encodeRans(ft, f);
    expect(Buffer.from(decodeRans(r.payload, r.sizes, ft.length)).equals(ft)).toBe(true);
  });

  it("delta on bf16 and f32 random bit patterns (NaN payloads included)", () => {
    for (const dtype of ["BF16", "F32"]) {
      const f = FLOAT_FORMATS[dtype]!;
      const ft = randomBytes(40_000, 1);
      const base = randomBytes(40_000, 2);
      const d = encodeDelta(ft, base, f);
      expect(Buffer.from(decodeDelta(d.payload, d.sizes, base, f)).equals(ft)).toBe(true);
    }
  });

  it("xor and zstd planes, aligned or not", () => {
    const ft = randomBytes(10_001, 4).subarray(1);
    const base = randomBytes(10_000, 5);
    for (const w of [1, 2, 4]) {
      const x = encodeXor(ft, base, w, c, 3);
      expect(Buffer.from(decodeXor(x.payload, x.sizes, base, c)).equals(ft)).toBe(true);
      const z = encodeZstd(ft, w, c, 3);
      expect(Buffer.from(decodeZstd(z.payload, z.sizes, ft.length, c)).equals(ft)).toBe(true);
    }
  });

  it("widens f16 and bf16 bases to f32 exactly", () => {
    const { ft } = allF16Pairs();
    const wide = new Float32Array(widen(ft, "F16", "F32")!.buffer);
    const h = new Uint16Array(ft.buffer);
    for (const i of [0, 1, 0x3c00, 0x7bff, 0x7c00, 0x8000, 0x8001, 0xfc00, 0x3555]) {
      const e = (h[i]! >> 10) & 31;
      const m = h[i]! & 1023;
      const s = h[i]! & 0x8000 ? -1 : 1;
      const v =
        e === 0
          ? s * m * 2 ** -24
          : e === 31
            ? m
              ? Number.NaN
              : s * Number.POSITIVE_INFINITY
            : s * (1 + m / 1024) * 2 ** (e - 15);
      expect(Object.is(wide[i], Math.fround(v))).toBe(true);
    }
    expect(widen(ft, "F32", "F16")).toBeNull();
  });
});

describe("objects", () => {
  it("encode → serialize → parse → decode gives the bytes back and checks the hash", () => {
    // A fine-tune: every weight moved by a few ulps, so "delta" wins and decoding needs the base.
    const n = 100_000;
    const rng = createRng(11);
    const b16 = new Uint16Array(n);
    const f16 = new Uint16Array(n);
    for (let i = 0; i < n; i++) {
      b16[i] = 0x2000 + Math.floor(rng.nextFloat() * 0x2000);
      f16[i] = b16[i]! + Math.floor(rng.nextFloat() * 7) - 3;
    }
    const ft = new Uint8Array(f16.buffer);
    const base = new Uint8Array(b16.buffer);
    const id = sha256Hex(ft);
    const baseId = sha256Hex(base);
    const enc = encodeObject(
      { data: ft, id, dtype: "F16", base: { id: baseId, data: base, dtype: "F16", depth: 0 } },
      c,
      3,
    );
    const blob = serializeObject(enc.header, enc.payload);
    const { header, payload } = parseObject(blob, id, 1 << 30);
    expect(header.codec).toBe("delta");
    expect(blob.length).toBeLessThan(ft.length * 0.3);
    expect(Buffer.from(decodeObject(header, payload, base, c, id)).equals(ft)).toBe(true);
    const truncated = blob.subarray(0, blob.length - 1);
    expect(() => parseObject(truncated, id, 1 << 30)).toThrow(
      expect.objectContaining({ code: "ERR_CORRUPT" }),
    );
    expect(() => parseObject(blob, id, 10)).toThrow(expect.objectContaining({ code: "ERR_LIMIT" }));
    expect(() => parseObject(blob, baseId, 1 << 30)).toThrow(
      expect.objectContaining({ code: "ERR_CORRUPT" }),
    );
    // A wrong base never yields data: the coder or the hash check refuses it.
    const wrong = expect.objectContaining({ code: expect.stringMatching(/ERR_(CORRUPT|INTEGRITY)/) });
    expect(() => decodeObject(header, payload, randomBytes(base.length, 8), c, id)).toThrow(wrong);
    const near = base.slice();
    near[0] = near[0]! ^ 1;
    expect(() => decodeObject(header, payload, near, c, id)).toThrow(wrong);
  });
});
