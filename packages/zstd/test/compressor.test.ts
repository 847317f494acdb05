import { CorruptDataError, LimitExceededError } from "@lowbit/bits";
import { describe, expect, it } from "vitest";
// Type only, erased at run time: checks at compile time that the adapter has the contract's shape
// without a dependency on @lowbit/store.
import type { Compressor } from "../../store/src/types.js";
import { zstdCompressor, zstdVersion } from "../src/index.js";
import {
  concat,
  expectBytes,
  f16Weights,
  forgedFrame,
  frameWithoutSize,
  hasChecksum,
  randomBytes,
  skippableFrame,
  splitFrames,
  textBytes,
  thrown,
  zstd,
  zstdNapi,
} from "./_helpers.js";

const c = zstdCompressor({ threads: 0 });

describe("zstdCompressor: round trips", () => {
  it("has the Compressor shape and reports the linked zstd", () => {
    const asContract: Compressor = c;
    expect(asContract.name).toBe("zstd");
    expect(asContract.defaultLevel).toBe(3);
    expect(zstdVersion()).toMatch(/^\d+\.\d+\.\d+$/);
    expect(zstdVersion()).toBe(zstd.versionString());
  });

  it.each([0, 1, 17, 1000, 131_072, 300_001])("random bytes, %i of them", (n) => {
    const data = randomBytes(n, n + 1);
    const z = c.compress(data);
    const frames = splitFrames(z);
    expect(frames).toHaveLength(1);
    expect(zstd.getFrameContentSize(z)).toBe(n);
    expect(hasChecksum(z)).toBe(true);
    const back = c.decompress(z, n);
    expect(back).toBeInstanceOf(Uint8Array);
    expectBytes(back, data);
    // An independent decoder reads the frame too.
    expectBytes(new Uint8Array(zstdNapi.decompress(Buffer.from(z))), data);
  });

  it("real float16 weights (faceres.f16) shrink and come back bit-exact", () => {
    const weights = f16Weights();
    expect(weights.length).toBeGreaterThan(6_000_000);
    const z = c.compress(weights);
    expect(z.length / weights.length).toBeLessThan(0.97);
    expectBytes(c.decompress(z, weights.length), weights);
  });

  it("levels: each one round-trips, higher levels are smaller on compressible data, the default applies", () => {
    const data = concat([textBytes(200_000, 5), f16Weights().subarray(0, 200_000)]);
    const sizes = new Map<number, number>();
    for (const level of [-5, 1, 3, 9, 19]) {
      const z = c.compress(data, level);
      sizes.set(level, z.length);
      expectBytes(c.decompress(z, data.length), data);
    }
    expect(sizes.get(-5)!).toBeGreaterThan(sizes.get(1)!);
    expect(sizes.get(1)!).toBeGreaterThan(sizes.get(19)!);
    expectBytes(c.compress(data), c.compress(data, 3));
    const at9 = zstdCompressor({ level: 9, threads: 0 });
    expect(at9.defaultLevel).toBe(9);
    expectBytes(at9.compress(data), c.compress(data, 9));
    const small = textBytes(5000, 1);
    expectBytes(c.decompress(c.compress(small, 22), small.length), small);
  });

  it("results own their memory: never a slice of Node's shared pool, never reused", () => {
    const a = textBytes(50, 1);
    const za = c.compress(a);
    const zb = c.compress(textBytes(50, 2));
    expect(za.buffer).not.toBe(zb.buffer);
    expect(za.buffer.byteLength).toBeLessThanOrEqual(zstd.compressBound(a.length));
    const back = c.decompress(za, 100);
    expect(back.byteOffset).toBe(0);
    expect(back.buffer.byteLength).toBe(a.length);
    za.fill(0);
    expectBytes(c.decompress(zb, 100), textBytes(50, 2));
  });
});

describe("zstdCompressor.decompress: frame sequences", () => {
  it("decodes concatenated frames, empty frames and skippable frames in order", () => {
    const a = textBytes(70_000, 1);
    const b = randomBytes(3000, 2);
    const seq = concat([
      c.compress(a),
      c.compress(new Uint8Array(0)),
      skippableFrame(randomBytes(9, 3)),
      c.compress(b, 1),
    ]);
    expectBytes(c.decompress(seq, a.length + b.length), concat([a, b]));
  });

  it("decodes frames without a declared size (streaming path), alone and mixed with sized ones", () => {
    const a = textBytes(500_000, 3);
    const b = randomBytes(1000, 4);
    expectBytes(c.decompress(frameWithoutSize(a), a.length), a);
    const mixed = concat([c.compress(b), frameWithoutSize(a), c.compress(b)]);
    expectBytes(c.decompress(mixed, a.length + 2 * b.length), concat([b, a, b]));
  });
});

describe("zstdCompressor.decompress: maxSize", () => {
  const data = textBytes(100_000, 7);
  const z = c.compress(data);

  it("declared sizes: exactly maxSize passes, one byte less is ERR_LIMIT, summed over frames", () => {
    expectBytes(c.decompress(z, data.length), data);
    const e = thrown(() => c.decompress(z, data.length - 1));
    expect(e).toBeInstanceOf(LimitExceededError);
    expect(e.code).toBe("ERR_LIMIT");
    const two = concat([z, z]);
    expect(c.decompress(two, 2 * data.length)).toHaveLength(2 * data.length);
    expect(thrown(() => c.decompress(two, 2 * data.length - 1)).code).toBe("ERR_LIMIT");
    expect(thrown(() => c.decompress(z, 0)).code).toBe("ERR_LIMIT");
  });

  it("a header declaring 1 TiB is refused from the header, before any allocation", () => {
    const bomb = forgedFrame(2 ** 40, new Uint8Array([1]));
    expect(zstd.getFrameContentSize(bomb)).toBe(2 ** 40);
    const t0 = performance.now();
    expect(thrown(() => c.decompress(bomb, 1_000_000)).code).toBe("ERR_LIMIT");
    // Even a maxSize above what a Buffer can hold gives ERR_LIMIT, not an allocation failure.
    expect(thrown(() => c.decompress(bomb, Number.MAX_SAFE_INTEGER)).code).toBe("ERR_LIMIT");
    expect(performance.now() - t0).toBeLessThan(1000);
  });

  it("undeclared sizes: decoding stops once output passes maxSize (a 64 MiB bomb under a 1 MiB limit)", () => {
    expect(thrown(() => c.decompress(frameWithoutSize(data), data.length - 1)).code).toBe("ERR_LIMIT");
    const zeros = frameWithoutSize(new Uint8Array(64 * 1024 * 1024), 19);
    expect(zeros.length).toBeLessThan(10_000);
    const e = thrown(() => c.decompress(zeros, 1024 * 1024));
    expect(e).toBeInstanceOf(LimitExceededError);
    expect(e.message).toContain("1048576");
  });

  it("a frame asking for a 256 MiB window (more than the decoder allows) is ERR_LIMIT, not ERR_CORRUPT", () => {
    const wide = frameWithoutSize(textBytes(1000, 1), 3, 28);
    const e = thrown(() => c.decompress(wide, 1e9));
    expect(e).toBeInstanceOf(LimitExceededError);
    expect(e.message).toMatch(/too much memory/);
  });
});

describe("zstdCompressor.decompress: corrupt input is ERR_CORRUPT, never partial data", () => {
  const data = textBytes(20_000, 11);
  const z = c.compress(data);

  it("a flipped bit anywhere in the frame never yields wrong bytes (the checksum catches what decoding does not)", () => {
    let detected = 0;
    let flips = 0;
    for (let i = 0; i < z.length; i++) {
      for (const bit of [0x01, 0x80]) {
        const bad = z.slice();
        bad[i]! ^= bit;
        flips++;
        let back: Uint8Array | undefined;
        try {
          back = c.decompress(bad, 10 * data.length);
        } catch (error) {
          // A flip in the size field can make the frame declare more than maxSize: ERR_LIMIT, also no data.
          expect(["ERR_CORRUPT", "ERR_LIMIT"]).toContain((error as { code?: string }).code);
          detected++;
        }
        // Some bits are don't-cares of the entropy table headers: decoding is then still exact.
        if (back !== undefined) expectBytes(back, data);
      }
    }
    expect(detected / flips).toBeGreaterThan(0.99);
    const middle = z.slice();
    middle[z.length >> 1]! ^= 0x10;
    const e = thrown(() => c.decompress(middle, data.length));
    expect(e).toBeInstanceOf(CorruptDataError);
    expect(e.cause).toBeInstanceOf(Error);
    expect(e.message).toContain((e.cause as Error).message);
  });

  it("the checksum alone: a flipped checksum byte is ERR_CORRUPT", () => {
    const bad = z.slice();
    bad[bad.length - 1]! ^= 0xff;
    const e = thrown(() => c.decompress(bad, data.length));
    expect(e.code).toBe("ERR_CORRUPT");
    expect(e.message).toMatch(/checksum/);
  });

  it("truncated at every length is ERR_CORRUPT", () => {
    for (let n = 1; n < z.length; n++) {
      expect(thrown(() => c.decompress(z.subarray(0, n), data.length)).code).toBe("ERR_CORRUPT");
    }
    const unsized = frameWithoutSize(data);
    for (const n of [5, 20, unsized.length >> 1, unsized.length - 4, unsized.length - 1]) {
      expect(thrown(() => c.decompress(unsized.subarray(0, n), data.length)).code).toBe("ERR_CORRUPT");
    }
  });

  it("garbage, empty input, trailing bytes and a lying size field are ERR_CORRUPT", () => {
    expect(thrown(() => c.decompress(randomBytes(1000, 1), 1e6)).code).toBe("ERR_CORRUPT");
    expect(thrown(() => c.decompress(new TextEncoder().encode("not zstd at all"), 1e6)).code).toBe(
      "ERR_CORRUPT",
    );
    expect(thrown(() => c.decompress(new Uint8Array(0), 1e6))).toBeInstanceOf(CorruptDataError);
    expect(thrown(() => c.decompress(concat([z, new Uint8Array([0, 1, 2])]), 1e6)).code).toBe("ERR_CORRUPT");
    expect(thrown(() => c.decompress(forgedFrame(100, new Uint8Array([1])), 1e6)).code).toBe("ERR_CORRUPT");
    expectBytes(c.decompress(forgedFrame(1, new Uint8Array([42])), 1), new Uint8Array([42]));
  });
});

describe("zstdCompressor: arguments", () => {
  const z = c.compress(new Uint8Array(10));

  it("data must be a Uint8Array (Buffers are)", () => {
    expect(() => c.compress("abc" as never)).toThrow(TypeError);
    expect(() => c.compress([1, 2, 3] as never)).toThrow(/data must be a Uint8Array, got Array\(3\)/);
    expect(() => c.compress(new DataView(new ArrayBuffer(4)) as never)).toThrow(TypeError);
    expect(() => c.decompress(new Uint16Array(4) as never, 10)).toThrow(TypeError);
    expectBytes(c.decompress(Buffer.from(z), 10), new Uint8Array(10));
  });

  it("level: an integer within zstd's range", () => {
    expect(() => c.compress(z, 23)).toThrow(RangeError);
    expect(() => c.compress(z, -131_073)).toThrow(/level must be an integer in \[-131072, 22\], got -131073/);
    expect(() => c.compress(z, 1.5)).toThrow(RangeError);
    expect(() => c.compress(z, "3" as never)).toThrow(TypeError);
  });

  it("maxSize: a non-negative safe integer", () => {
    expect(() => c.decompress(z, -1)).toThrow(RangeError);
    expect(() => c.decompress(z, 0.5)).toThrow(RangeError);
    expect(() => c.decompress(z, 2 ** 53)).toThrow(/maxSize/);
    expect(() => c.decompress(z, Number.NaN)).toThrow(RangeError);
    expect(() => (c.decompress as (d: Uint8Array) => Uint8Array)(z)).toThrow(TypeError);
  });

  it("options", () => {
    expect(() => zstdCompressor({ level: 23 })).toThrow(/options\.level/);
    expect(() => zstdCompressor({ threads: -1 })).toThrow(RangeError);
    expect(() => zstdCompressor({ threads: 1.5 })).toThrow(RangeError);
    expect(() => zstdCompressor({ thread: 2 } as never)).toThrow(/options\.thread is not an option/);
    expect(() => zstdCompressor("fast" as never)).toThrow(TypeError);
  });
});
