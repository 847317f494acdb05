import { createRng, packNibblesHighFirst, unpackNibblesHighFirst } from "@lowbit/bits";
import { describe, expect, it } from "vitest";
import {
  BNB_DYNAMIC_MAP,
  BNB_FP4_CODE,
  bnb_blockwise8,
  bnb_fp4,
  bnbBlockAbsmax,
  NF4_CODE,
  nf4,
} from "../src/index.js";

/** RMSE of NF4 (block 64, plain absmax) on N(0,1) from this PRNG, measured once: a quality baseline. */
const RMSE_NF4_N01_BS64 = 0.0917;

const u32 = (x: number): number => new Uint32Array(Float32Array.of(x).buffer)[0]!;

/** Box-Muller normals from the project's PRNG, as float32. */
function normals(n: number, seed: number): Float32Array {
  const rng = createRng(seed);
  const out = new Float32Array(n);
  for (let i = 0; i < n; i++) {
    const u = 1 - rng.nextFloat();
    out[i] = Math.sqrt(-2 * Math.log(u)) * Math.cos(2 * Math.PI * rng.nextFloat());
  }
  return out;
}

/** Reference encoder, one value at a time: nearest table entry by brute force, ties → lower sorted code. */
function nearestSortedCode(table: Float32Array, x: number): number {
  const order = [...table.keys()].sort((a, b) => table[a]! - table[b]! || a - b);
  let k = 0;
  for (let i = 0; i + 1 < order.length; i++) {
    const mid = Math.fround(Math.fround(table[order[i]!]! + table[order[i + 1]!]!) / 2);
    if (mid < x || Number.isNaN(x)) k = i + 1;
  }
  return order[k]!;
}

describe("code tables", () => {
  it("NF4 is sorted from -1 to 1 with 0 at code 7", () => {
    expect(NF4_CODE.length).toBe(16);
    for (let i = 1; i < 16; i++) expect(NF4_CODE[i]!).toBeGreaterThan(NF4_CODE[i - 1]!);
    expect([NF4_CODE[0], NF4_CODE[7], NF4_CODE[15]]).toEqual([-1, 0, 1]);
  });

  it("bitsandbytes FP4 is sign + [0, 0.0625, 8, 12, 4, 6, 2, 3] / 12 with +0 at code 8", () => {
    const mags = [0, 0.0625, 8, 12, 4, 6, 2, 3].map((v) => Math.fround(v / 12));
    for (let i = 0; i < 8; i++) {
      expect(BNB_FP4_CODE[i]).toBe(mags[i]);
      expect(BNB_FP4_CODE[i + 8]).toBe(i === 0 ? 0 : -mags[i]!);
    }
    expect(Object.is(BNB_FP4_CODE[8], 0)).toBe(true);
  });

  it("the dynamic map is sorted, -0.99296874 … 0 (code 127) … 1", () => {
    for (let i = 1; i < 256; i++) expect(BNB_DYNAMIC_MAP[i]!).toBeGreaterThan(BNB_DYNAMIC_MAP[i - 1]!);
    expect(u32(BNB_DYNAMIC_MAP[0]!)).toBe(0xbf7e3333);
    expect(BNB_DYNAMIC_MAP[127]).toBe(0);
    expect(BNB_DYNAMIC_MAP[255]).toBe(1);
  });

  it("exported tables are copies: mutating them changes nothing", () => {
    const x = normals(128, 1);
    const before = nf4.dequantize(nf4.quantize(x, [128]));
    const saved = NF4_CODE[3]!;
    NF4_CODE[3] = 99;
    try {
      expect(nf4.dequantize(nf4.quantize(x, [128]))).toEqual(before);
    } finally {
      NF4_CODE[3] = saved;
    }
  });
});

describe("4-bit encoding", () => {
  for (const [q, table] of [
    [nf4, NF4_CODE],
    [bnb_fp4, BNB_FP4_CODE],
  ] as const) {
    it(`${q.name}: codes are the nearest table entry of x·(1/absmax), packed high nibble first`, () => {
      const n = 64 * 7;
      const x = normals(n, 7);
      const qt = q.quantize(x, [n], { doubleQuant: false });
      const qdata = qt.parts["qdata"]!.data as Uint8Array;
      const absmax = qt.parts["absmax"]!.data as Float32Array;
      const codes = unpackNibblesHighFirst(qdata, n);
      for (let i = 0; i < n; i++) {
        const am = absmax[i >> 6]!;
        expect(am).toBe(Math.max(...Array.from(x.subarray(i & ~63, (i & ~63) + 64), Math.abs)));
        const scaled = Math.fround(x[i]! * Math.fround(1 / am));
        expect(codes[i], `element ${i}`).toBe(nearestSortedCode(table, scaled));
      }
      expect(qdata).toEqual(packNibblesHighFirst(codes));
      expect(q.dequantize(qt)).toEqual(Float32Array.from(codes, (c, i) => table[c]! * absmax[i >> 6]!));
    });
  }

  it("NF4 error stays within half the widest code gap times absmax", () => {
    const n = 1 << 14;
    const x = normals(n, 3);
    const plain = nf4.quantize(x, [n], { doubleQuant: false });
    const scales = plain.parts["absmax"]!.data as Float32Array;
    for (const qt of [plain, nf4.quantize(x, [n])]) {
      const y = nf4.dequantize(qt);
      const rebuilt = bnbBlockAbsmax(qt);
      let sq = 0;
      for (let i = 0; i < n; i++) {
        const err = Math.abs(x[i]! - y[i]!);
        // widest NF4 gap: −1 … −0.6961928 (0.304), so |x − t[c]·s| ≤ 0.152·s, plus the nested scale error
        const bound = 0.1520964 * scales[i >> 6]! + Math.abs(rebuilt[i >> 6]! - scales[i >> 6]!);
        expect(err, `element ${i}`).toBeLessThanOrEqual(bound * (1 + 2 ** -20));
        sq += err * err;
      }
      expect(Math.sqrt(sq / n)).toBeLessThan(RMSE_NF4_N01_BS64 * 1.05);
    }
  });

  it("an odd length is padded with the code of 0.0 (NF4: 7, FP4: 0); decoding ignores the pad", () => {
    const x = Float32Array.of(1, -1, 0.5);
    const nf = nf4.quantize(x, [3]).parts["qdata"]!.data as Uint8Array;
    expect([...nf]).toEqual([0xf0, 0xc7]);
    const fp = bnb_fp4.quantize(x, [3]).parts["qdata"]!.data as Uint8Array;
    expect([...fp]).toEqual([0x3b, 0x50]);
    for (const q of [nf4, bnb_fp4]) {
      const qt = q.quantize(x, [3], { doubleQuant: false });
      const bytes = (qt.parts["qdata"]!.data as Uint8Array).slice();
      bytes[1] = (bytes[1]! & 0xf0) | 0x0d;
      const other = { ...qt, parts: { ...qt.parts, qdata: { ...qt.parts["qdata"]!, data: bytes } } };
      expect(q.dequantize(other)).toEqual(q.dequantize(qt));
      expect([...q.dequantize(qt).subarray(0, 2)]).toEqual([1, -1]);
    }
  });

  it("ties go to the lower code; NaN to the top code; an all-zero block to 0.0", () => {
    // block absmax 1: x·(1/1) = x, so midpoints of the table are exact ties
    const mid = Math.fround(Math.fround(NF4_CODE[9]! + NF4_CODE[10]!) / 2);
    const x = new Float32Array(128);
    x[0] = 1;
    x[1] = mid;
    x[2] = Math.fround(mid * (1 + 2 ** -23));
    x[64] = 1;
    x[65] = Number.NaN; // a NaN makes the block absmax NaN: every element of block 1 becomes NaN → 15
    const codes = unpackNibblesHighFirst(nf4.quantize(x, [128]).parts["qdata"]!.data as Uint8Array, 128);
    expect([codes[0], codes[1], codes[2], codes[3]]).toEqual([15, 9, 10, 7]);
    expect(codes.subarray(64).every((c) => c === 15)).toBe(true);
    const zeros = nf4.quantize(new Float32Array(64), [64], { doubleQuant: false });
    expect((zeros.parts["qdata"]!.data as Uint8Array).every((b) => b === 0x77)).toBe(true);
    expect(zeros.parts["absmax"]!.data).toEqual(new Float32Array(1));
    expect(nf4.dequantize(zeros)).toEqual(new Float32Array(64));
  });

  it("the partial last block divides by its absmax floored at float32(1e-38)", () => {
    // Find a block absmax a and an element v where v / a and v · (1/a) fall on two sides of a midpoint.
    let found: [number, number] | undefined;
    for (let k = 0; k < 4096 && found === undefined; k++) {
      const a = Math.fround(1 + k * 2 ** -12);
      for (let c = 0; c < 15 && found === undefined; c++) {
        const mid = Math.fround(Math.fround(NF4_CODE[c]! + NF4_CODE[c + 1]!) / 2);
        const v0 = Math.fround(mid * a);
        for (let d = -4; d <= 4; d++) {
          const v = Math.fround(v0 * (1 + d * 2 ** -23));
          const byDiv = nearestSortedCode(NF4_CODE, Math.fround(v / a));
          const byMul = nearestSortedCode(NF4_CODE, Math.fround(v * Math.fround(1 / a)));
          if (byDiv !== byMul && Math.abs(v) < a) found = [a, v];
        }
      }
    }
    expect(found).toBeDefined();
    const [a, v] = found!;
    const x = new Float32Array(69);
    x[0] = 1;
    x[64] = a;
    x[65] = v;
    const qt = nf4.quantize(x, [69], { doubleQuant: false });
    const codes = unpackNibblesHighFirst(qt.parts["qdata"]!.data as Uint8Array, 69);
    expect(codes[65]).toBe(nearestSortedCode(NF4_CODE, Math.fround(v / a)));
    expect(codes[65]).not.toBe(nearestSortedCode(NF4_CODE, Math.fround(v * Math.fround(1 / a))));
    // a zero partial block stores 1e-38 as float32 (the clamp), a zero full block stores 0
    const z = nf4.quantize(new Float32Array(69), [69], { doubleQuant: false });
    expect([...new Uint32Array((z.parts["absmax"]!.data as Float32Array).buffer)]).toEqual([0, 0x006ce3ee]);
  });

  it("infinite and tiny absmax follow float32 arithmetic", () => {
    const x = new Float32Array(128);
    x[0] = Number.POSITIVE_INFINITY;
    x[1] = 5; // 5 · (1/inf) = 0 → code 7
    x[64] = 2 ** -149; // absmax below 1e-38: scaled by 1/1e-38
    x[65] = -(2 ** -149);
    const qt = nf4.quantize(x, [128], { doubleQuant: false });
    const codes = unpackNibblesHighFirst(qt.parts["qdata"]!.data as Uint8Array, 128);
    expect([codes[0], codes[1], codes[64], codes[65], codes[66]]).toEqual([15, 7, 7, 7, 7]);
  });
});

describe("double quantization", () => {
  it("centres the absmax vector on torch's float32 mean (cascade sum), checked against torch", () => {
    // One non-zero element per 32-block makes the absmax vector exactly `v`; the offsets below are
    // torch 2.13 `torch.from_numpy(v).mean()` (CPU, one thread) of the same float32 values.
    const golden: [number, number][] = [
      [1000, 0x41ef2644],
      [5000, 0x41f9efbb],
      [40000, 0x41ee8354],
    ];
    const rng = createRng(20260523);
    for (const [nb, bits] of golden) {
      const v = new Float32Array(nb);
      for (let i = 0; i < nb; i++) v[i] = (0.5 + rng.nextFloat()) * 2 ** ((rng.nextUint32() % 17) - 8);
      const x = new Float32Array(nb * 32);
      for (let i = 0; i < nb; i++) x[i * 32] = v[i]!;
      const qt = nf4.quantize(x, [x.length], { blockSize: 32 });
      expect(u32((qt.parts["offset"]!.data as Float32Array)[0]!), `${nb} blocks`).toBe(bits);
    }
  });

  it("stores U8 codes per block, float32 absmax per 256 of them, and the offset", () => {
    const n = 64 * 300;
    const qt = nf4.quantize(normals(n, 11), [n]);
    expect(qt.parts["absmax"]).toMatchObject({ dtype: "U8", shape: [300] });
    expect(qt.parts["nestedAbsmax"]).toMatchObject({ dtype: "F32", shape: [2] });
    expect(qt.parts["offset"]).toMatchObject({ dtype: "F32", shape: [1] });
    expect(qt.parts["qdata"]).toMatchObject({ dtype: "U8", shape: [n / 2] });
    const small = nf4.quantize(normals(n, 11), [n], { nestedBlockSize: 32 });
    expect(small.parts["nestedAbsmax"]!.shape).toEqual([10]);
  });

  it("rebuilds absmax as map[code] · nested + offset, within the nested 8-bit error", () => {
    const n = 64 * 600;
    const x = normals(n, 5);
    const plain = bnbBlockAbsmax(nf4.quantize(x, [n], { doubleQuant: false }));
    const rebuilt = bnbBlockAbsmax(nf4.quantize(x, [n]));
    for (let i = 0; i < plain.length; i++) expect(Math.abs(rebuilt[i]! - plain[i]!)).toBeLessThan(0.02);
  });
});

describe("blockwise 8-bit", () => {
  it("codes are the nearest dynamic-map entry; decode is map[code] · absmax", () => {
    const n = 1000;
    const x = normals(n, 9);
    const qt = bnb_blockwise8.quantize(x, [n], { blockSize: 256 });
    const codes = qt.parts["qdata"]!.data as Uint8Array;
    const absmax = qt.parts["absmax"]!.data as Float32Array;
    expect(absmax.length).toBe(4);
    for (let i = 0; i < n; i++) {
      const b = i >> 8;
      const full = b < 3;
      const scaled = full
        ? Math.fround(x[i]! * Math.fround(1 / absmax[b]!))
        : Math.fround(x[i]! / absmax[b]!);
      expect(codes[i], `element ${i}`).toBe(nearestSortedCode(BNB_DYNAMIC_MAP, scaled));
    }
    const y = bnb_blockwise8.dequantize(qt);
    expect(y).toEqual(Float32Array.from(codes, (c, i) => BNB_DYNAMIC_MAP[c]! * absmax[i >> 8]!));
    let worst = 0;
    for (let i = 0; i < n; i++) worst = Math.max(worst, Math.abs(y[i]! - x[i]!) / absmax[i >> 8]!);
    expect(worst).toBeLessThan(0.02); // the dynamic map's widest gap near ±1 is 0.0137
    expect(bnbBlockAbsmax(qt)).toEqual(absmax);
    expect(bnbBlockAbsmax(qt)).not.toBe(absmax);
  });
});

describe("dequantize into a buffer, progress and cancellation", () => {
  it("writes into dst and checks it", () => {
    const x = normals(200, 2);
    for (const q of [nf4, bnb_fp4, bnb_blockwise8]) {
      const qt = q.quantize(x, [200]);
      const dst = new Float32Array(200);
      expect(q.dequantize(qt, dst)).toBe(dst);
      expect(dst).toEqual(q.dequantize(qt));
      expect(() => q.dequantize(qt, new Float32Array(199))).toThrow(RangeError);
      expect(() => q.dequantize(qt, new Float64Array(200) as never)).toThrow(TypeError);
    }
  });

  it("decodes packed bytes at any byte offset (word and byte paths agree)", () => {
    const n = 64 * 9 + 17;
    const x = normals(n, 8);
    for (const q of [nf4, bnb_fp4]) {
      const qt = q.quantize(x, [n]);
      const qdata = qt.parts["qdata"]!.data as Uint8Array;
      const shifted = new Uint8Array(qdata.length + 1).subarray(1);
      shifted.set(qdata);
      const moved = { ...qt, parts: { ...qt.parts, qdata: { ...qt.parts["qdata"]!, data: shifted } } };
      expect(q.dequantize(moved)).toEqual(q.dequantize(qt));
    }
  });

  it("reports progress up to the total and stops when aborted", () => {
    const n = 64 * 1000;
    const x = normals(n, 4);
    const seen: [number, number][] = [];
    nf4.quantize(x, [n], {}, { onProgress: (d, t) => seen.push([d, t]) });
    expect(seen.length).toBeGreaterThan(10);
    expect(seen.length).toBeLessThanOrEqual(101);
    expect(seen.at(-1)).toEqual([1000, 1000]);
    for (let i = 1; i < seen.length; i++) expect(seen[i]![0]).toBeGreaterThan(seen[i - 1]![0]);

    const reason = new Error("stop");
    expect(() => nf4.quantize(x, [n], {}, { signal: { aborted: true, reason } })).toThrow(reason);
    let calls = 0;
    const signal = { aborted: false };
    expect(() =>
      bnb_blockwise8.quantize(
        x,
        [n],
        { blockSize: 64 },
        {
          signal,
          onProgress: () => {
            if (++calls === 3) signal.aborted = true;
          },
        },
      ),
    ).toThrow(/aborted/);
    expect(calls).toBe(3);
  });
});
