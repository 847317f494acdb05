import { Readable } from "node:stream";
import { CorruptDataError, LimitExceededError } from "@lowbit/bits";
import { describe, expect, it } from "vitest";
import { createCompressStream, createDecompressStream, zstdCompressor } from "../src/index.js";
import {
  caught,
  chunked,
  concat,
  expectBytes,
  f16Weights,
  frameWithoutSize,
  hasChecksum,
  randomBytes,
  splitFrames,
  textBytes,
  throughStream,
  zstd,
  zstdNapi,
} from "./_helpers.js";

const c = zstdCompressor({ threads: 0 });

describe("createCompressStream", () => {
  const data = f16Weights().subarray(0, 1_000_000);

  it("ends a frame every frameSize input bytes; each frame decodes on its own", async () => {
    const frameSize = 64 * 1024;
    // Odd chunk sizes, so frame boundaries fall inside chunks.
    const z = await throughStream(createCompressStream({ frameSize, level: 1 }), chunked(data, 7777));
    const frames = splitFrames(z);
    expect(frames).toHaveLength(Math.ceil(data.length / frameSize));
    frames.forEach((frame, k) => {
      expect(hasChecksum(frame)).toBe(true);
      const slice = data.subarray(k * frameSize, Math.min((k + 1) * frameSize, data.length));
      expectBytes(c.decompress(frame, frameSize), slice);
    });
    expectBytes(c.decompress(z, data.length), data);
    // From any frame boundary to the end.
    const from = frames.slice(0, 5).reduce((s, f) => s + f.length, 0);
    expectBytes(c.decompress(z.subarray(from), data.length), data.subarray(5 * frameSize));
  });

  it("default 1 MiB frames; a frame whose whole input came in one write declares its size", async () => {
    const big = f16Weights().subarray(0, 2_500_000);
    const z = await throughStream(createCompressStream(), [big]);
    const frames = splitFrames(z);
    expect(frames).toHaveLength(3);
    // The tail was written before the stream knew it would end there: no size in its header.
    expect(frames.map((f) => zstd.getFrameContentSize(f))).toEqual([1 << 20, 1 << 20, null]);
    expectBytes(c.decompress(z, big.length), big);
  });

  it("input of exactly k frames gives k frames; an empty stream gives one empty frame", async () => {
    const z = await throughStream(
      createCompressStream({ frameSize: 1000 }),
      chunked(textBytes(3000, 1), 500),
    );
    expect(splitFrames(z)).toHaveLength(3);
    const empty = await throughStream(createCompressStream(), []);
    expect(splitFrames(empty)).toHaveLength(1);
    expect(c.decompress(empty, 0)).toHaveLength(0);
  });

  it("zstd-napi's own decoder reads the output", async () => {
    const text = textBytes(300_000, 2);
    const z = await throughStream(
      createCompressStream({ frameSize: 100_000, level: 9 }),
      chunked(text, 65536),
    );
    expectBytes(await throughStream(new zstdNapi.DecompressStream(), [z]), text);
  });

  it("options are checked", () => {
    expect(() => createCompressStream({ frameSize: 0 })).toThrow(RangeError);
    expect(() => createCompressStream({ frameSize: 1.5 })).toThrow(/options\.frameSize/);
    expect(() => createCompressStream({ level: 99 })).toThrow(/options\.level/);
    expect(() => createCompressStream({ size: 1 } as never)).toThrow(/options\.size is not an option/);
  });
});

describe("createDecompressStream", () => {
  const data = textBytes(400_000, 3);

  it("decodes frame sequences from any producer, in chunks of any size", async () => {
    const seq = concat([c.compress(data), frameWithoutSize(data), c.compress(new Uint8Array(0))]);
    const expected = concat([data, data]);
    expectBytes(
      await throughStream(createDecompressStream({ maxSize: expected.length }), chunked(seq, 13)),
      expected,
    );
    expectBytes(await throughStream(createDecompressStream({ maxSize: expected.length }), [seq]), expected);
    const napi = await throughStream(
      new zstdNapi.CompressStream({ compressionLevel: 5 }),
      chunked(data, 4096),
    );
    expectBytes(await throughStream(createDecompressStream({ maxSize: data.length }), [napi]), data);
  });

  it("fails with ERR_LIMIT once output passes maxSize, having passed on no more than maxSize bytes", async () => {
    const bomb = frameWithoutSize(new Uint8Array(32 * 1024 * 1024));
    const maxSize = 1_000_000;
    const t = createDecompressStream({ maxSize });
    let received = 0;
    t.on("data", (piece: Buffer) => {
      received += piece.length;
    });
    const e = await caught(() => throughStream(t, chunked(bomb, 100)));
    expect(e).toBeInstanceOf(LimitExceededError);
    expect(e.code).toBe("ERR_LIMIT");
    expect(received).toBeLessThanOrEqual(maxSize);
    // Exactly maxSize is fine.
    const exact = await throughStream(createDecompressStream({ maxSize: data.length }), [c.compress(data)]);
    expect(exact).toHaveLength(data.length);
    expect(
      (
        await caught(() =>
          throughStream(createDecompressStream({ maxSize: data.length - 1 }), [c.compress(data)]),
        )
      ).code,
    ).toBe("ERR_LIMIT");
  });

  it("fails with ERR_CORRUPT on flipped, truncated, garbage and empty input", async () => {
    const z = c.compress(data);
    const flipped = z.slice();
    flipped[z.length - 2]! ^= 0x40;
    const cases = [
      flipped,
      z.subarray(0, z.length - 1),
      z.subarray(0, 3),
      randomBytes(500, 9),
      new Uint8Array(0),
    ];
    for (const bad of cases) {
      const e = await caught(() =>
        throughStream(createDecompressStream({ maxSize: 10 * data.length }), chunked(bad, 1000)),
      );
      expect(e).toBeInstanceOf(CorruptDataError);
    }
    const truncated = await caught(() =>
      throughStream(createDecompressStream({ maxSize: 1e9 }), [z.subarray(0, z.length >> 1)]),
    );
    expect(truncated.message).toMatch(/ends inside a frame/);
  });

  it("works with pipe() and async iteration", async () => {
    const z = c.compress(data);
    const out: Buffer[] = [];
    for await (const piece of Readable.from([z]).pipe(createDecompressStream({ maxSize: data.length }))) {
      out.push(piece as Buffer);
    }
    expectBytes(concat(out), data);
  });

  it("options are checked", () => {
    expect(() => (createDecompressStream as () => unknown)()).toThrow(TypeError);
    expect(() => createDecompressStream({ maxSize: -1 })).toThrow(RangeError);
    expect(() => createDecompressStream({ maxSize: "1" as never })).toThrow(TypeError);
  });
});
