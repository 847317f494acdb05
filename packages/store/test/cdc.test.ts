import { createHash } from "node:crypto";
import { createRng } from "@lowbit/bits";
import { describe, expect, it } from "vitest";
import { cdcChunks, cdcCuts, GEAR, spreadMask } from "../src/_cdc.js";

function randomBytes(n: number, seed: number): Uint8Array {
  const out = new Uint8Array(n);
  const words = new Uint32Array(out.buffer, 0, n >>> 2);
  const rng = createRng(seed);
  for (let i = 0; i < words.length; i++) words[i] = rng.nextUint32();
  for (let i = words.length * 4; i < n; i++) out[i] = rng.nextUint32() & 0xff;
  return out;
}

function lengths(cuts: Uint32Array): number[] {
  return Array.from(cuts, (end, i) => end - (i === 0 ? 0 : cuts[i - 1]!));
}

function chunkHashes(data: Uint8Array, options?: { avgSize?: number }): Map<string, number> {
  const out = new Map<string, number>();
  for (const chunk of cdcChunks(data, options)) {
    out.set(createHash("sha256").update(chunk).digest("hex"), chunk.length);
  }
  return out;
}

/** Bytes of `data` that fall in chunks also present in `reference`. */
function sharedBytes(data: Uint8Array, reference: Uint8Array, options?: { avgSize?: number }): number {
  const known = chunkHashes(reference, options);
  let shared = 0;
  for (const chunk of cdcChunks(data, options)) {
    if (known.has(createHash("sha256").update(chunk).digest("hex"))) shared += chunk.length;
  }
  return shared;
}

describe("on-disk format pins (changing any of these breaks dedup against existing stores)", () => {
  it("GEAR is xoshiro128** from seed 0x63646331, first entries pinned", () => {
    expect(GEAR).toBeInstanceOf(Uint32Array);
    expect(GEAR.length).toBe(256);
    expect(Array.from(GEAR.subarray(0, 4))).toEqual([0xab58d3b6, 0x86630b0e, 0x49b37372, 0xf40ad662]);
    const rng = createRng(0x63646331);
    for (let i = 0; i < 256; i++) expect(GEAR[i]).toBe(rng.nextUint32());
  });

  it("masks spread their bits from bit 31 down", () => {
    expect(spreadMask(18)).toBe(0xd5aad5aa); // avg 64 KiB, before avg
    expect(spreadMask(14)).toBe(0xaa54aa54); // avg 64 KiB, after avg
    expect(spreadMask(8)).toBe(0x88888888);
    expect(spreadMask(4)).toBe(0x80808080);
    for (const bits of [4, 8, 14, 18, 30]) {
      let count = 0;
      for (let m = spreadMask(bits); m !== 0; m >>>= 1) count += m & 1;
      expect(count).toBe(bits);
    }
  });

  it("cuts of a fixed pseudo-random input are pinned", () => {
    const data = new Uint8Array(1 << 20);
    const rng = createRng(7);
    for (let i = 0; i < data.length; i++) data[i] = rng.nextUint32() >>> 24;
    const cuts = cdcCuts(data, { avgSize: 16384 });
    expect(cuts.length).toBe(57);
    expect(Array.from(cuts.subarray(0, 12))).toEqual([
      4414, 19751, 40602, 49949, 70939, 87933, 111869, 133438, 141895, 154064, 177308, 196851,
    ]);
    expect(Array.from(cuts.subarray(-4))).toEqual([1001053, 1022066, 1039479, 1048576]);
  });
});

describe("cdcCuts", () => {
  it("is deterministic and independent of where the bytes sit in their buffer", () => {
    const data = randomBytes(1 << 20, 1);
    const a = cdcCuts(data, { avgSize: 4096 });
    expect(cdcCuts(data.slice(), { avgSize: 4096 })).toEqual(a);
    const padded = new Uint8Array(data.length + 13);
    padded.set(data, 13);
    expect(cdcCuts(padded.subarray(13), { avgSize: 4096 })).toEqual(a);
  });

  it("ends strictly increasing at data.length with every chunk but the last in [min, max]", () => {
    const cases = [
      { avgSize: 1024 },
      { avgSize: 4096 },
      { avgSize: 4096, minSize: 100, maxSize: 5000 },
      { avgSize: 65536 },
    ];
    for (const options of cases) {
      const min = options.minSize ?? options.avgSize / 4;
      const max = options.maxSize ?? options.avgSize * 4;
      const data = randomBytes((1 << 20) + 12345, 2);
      const cuts = cdcCuts(data, options);
      expect(cuts[cuts.length - 1]).toBe(data.length);
      const lens = lengths(cuts);
      for (const len of lens.slice(0, -1)) {
        expect(len).toBeGreaterThanOrEqual(min);
        expect(len).toBeLessThanOrEqual(max);
      }
      expect(lens.at(-1)).toBeGreaterThan(0);
      expect(lens.at(-1)).toBeLessThanOrEqual(max);
    }
  });

  it("cuts constant data at maxSize", () => {
    const cuts = cdcCuts(new Uint8Array(100_000), { avgSize: 4096 });
    expect(lengths(cuts)).toEqual([16384, 16384, 16384, 16384, 16384, 16384, 1696]);
  });

  it("averages within ±25 % of avgSize on random data", () => {
    const data = randomBytes(8 << 20, 3);
    for (const avgSize of [1024, 4096, 16384, 65536]) {
      const mean = data.length / cdcCuts(data, { avgSize }).length;
      expect(mean).toBeGreaterThan(avgSize * 0.75);
      expect(mean).toBeLessThan(avgSize * 1.25);
    }
  });

  it("handles empty and short input", () => {
    expect(cdcCuts(new Uint8Array(0))).toEqual(new Uint32Array(0));
    expect(cdcCuts(new Uint8Array(1))).toEqual(Uint32Array.of(1));
    expect(cdcCuts(randomBytes(16384, 4))).toEqual(Uint32Array.of(16384)); // ≤ min: one chunk
  });

  it("keeps ≥ 90 % of the bytes in identical chunks after an insertion near the start", () => {
    const original = randomBytes(4 << 20, 5);
    for (const at of [0, 1000, 70_000]) {
      const edited = new Uint8Array(original.length + 7);
      edited.set(original.subarray(0, at));
      edited.set([1, 2, 3, 4, 5, 6, 7], at);
      edited.set(original.subarray(at), at + 7);
      expect(sharedBytes(edited, original) / edited.length).toBeGreaterThanOrEqual(0.9);
      expect(sharedBytes(edited, original, { avgSize: 8192 }) / edited.length).toBeGreaterThanOrEqual(0.9);
    }
  });

  it("keeps ≥ 90 % after a deletion near the start", () => {
    const original = randomBytes(4 << 20, 6);
    const edited = new Uint8Array(original.length - 3);
    edited.set(original.subarray(0, 5000));
    edited.set(original.subarray(5003), 5000);
    expect(sharedBytes(edited, original) / edited.length).toBeGreaterThanOrEqual(0.9);
  });

  it("yields repeated chunks for a duplicated region", () => {
    const a = randomBytes(1 << 20, 8);
    const b = randomBytes(300_001, 9);
    const data = new Uint8Array(a.length * 2 + b.length);
    data.set(a);
    data.set(b, a.length);
    data.set(a, a.length + b.length);
    const seen = new Set<string>();
    let repeated = 0;
    for (const chunk of cdcChunks(data, { avgSize: 16384 })) {
      const h = createHash("sha256").update(chunk).digest("hex");
      if (seen.has(h)) repeated += chunk.length;
      seen.add(h);
    }
    // Only the chunks straddling the seams differ: nearly all of the second copy repeats.
    expect(repeated).toBeGreaterThanOrEqual(a.length * 0.85);
    expect(repeated).toBeLessThanOrEqual(a.length);
  });

  it("rejects bad arguments", () => {
    const data = new Uint8Array(10);
    expect(() => cdcCuts([1, 2] as unknown as Uint8Array)).toThrow(TypeError);
    expect(() => cdcCuts(data, 5 as never)).toThrow(TypeError);
    expect(() => cdcCuts(data, { avgSize: "4096" as never })).toThrow(TypeError);
    expect(() => cdcCuts(data, { avgSize: 5000 })).toThrow(/power of two/);
    expect(() => cdcCuts(data, { avgSize: 32 })).toThrow(RangeError);
    expect(() => cdcCuts(data, { avgSize: 2 ** 29 })).toThrow(RangeError);
    expect(() => cdcCuts(data, { avgSize: 4096, minSize: 4096 })).toThrow(/minSize/);
    expect(() => cdcCuts(data, { avgSize: 4096, minSize: 0 })).toThrow(RangeError);
    expect(() => cdcCuts(data, { avgSize: 4096, maxSize: 4096 })).toThrow(/maxSize/);
    expect(() => cdcCuts(data, { avgSize: 4096, maxSize: 1.5e4 + 0.5 })).toThrow(RangeError);
  });
});

describe("cdcChunks", () => {
  it("yields views that tile the input", () => {
    const data = randomBytes(300_000, 10);
    const chunks = [...cdcChunks(data, { avgSize: 4096 })];
    expect(chunks.length).toBe(cdcCuts(data, { avgSize: 4096 }).length);
    let offset = 0;
    for (const chunk of chunks) {
      expect(chunk.buffer).toBe(data.buffer);
      expect(chunk.byteOffset).toBe(offset);
      offset += chunk.length;
    }
    expect(offset).toBe(data.length);
  });
});
