import { type FloatCodec, getCodec } from "@lowbit/formats";
import { afterAll, describe, expect, it } from "vitest";
import {
  type FloatVectors,
  f32Bits,
  f32FromBits,
  hex,
  isNaNBits,
  listVectorFiles,
  loadFloatManifest,
  loadFloatVectors,
} from "./shared.js";

/**
 * Every file of vectors/floats against the built codec of the same name (vectors/README.md):
 * decode reproduces `float32_bits` for every non-NaN code (NaN codes decode to a NaN); encode reproduces
 * the ml_dtypes column, except that a NaN input may give any NaN code of a format that has NaN codes.
 * The bulk paths (table / integer fast paths) and the scalar path are separate implementations, so both
 * are checked on every vector.
 */

/** A listed, explained divergence from the reference. */
interface Divergence {
  readonly format: string;
  readonly inputBits: number;
  readonly reason: string;
}

/**
 * Must stay empty: lowbit is bit-exact with ml_dtypes on every vector. A divergence is a bug to fix;
 * one that is deliberate would be listed here with its reason (and this file's test of emptiness removed).
 */
const KNOWN_DIVERGENCES: readonly Divergence[] = [];

const MAX_REPORTED = 8;

let files: string[] = [];
let listError: unknown = null;
try {
  files = listVectorFiles("floats");
} catch (e) {
  listError = e;
}

interface Tally {
  decode: number;
  encode: number;
  failed: string[];
}
const tallies = new Map<string, Tally>();
const tally = (name: string): Tally => {
  let t = tallies.get(name);
  if (t === undefined) {
    t = { decode: 0, encode: 0, failed: [] };
    tallies.set(name, t);
  }
  return t;
};

afterAll(() => {
  if (tallies.size === 0) return;
  const lines = [...tallies].map(
    ([name, t]) =>
      `${name}: ${t.decode} decode, ${t.encode} encode ${t.failed.length === 0 ? "ok" : `FAILED (${t.failed.join(", ")})`}`,
  );
  console.log(`float conformance vectors (ml_dtypes column normative)\n${lines.join("\n")}`);
});

/** Runs `body`, recording a failure under `what` in the summary before rethrowing. */
function recorded(name: string, what: string, body: () => void): () => void {
  return () => {
    try {
      body();
    } catch (e) {
      tally(name).failed.push(what);
      throw e;
    }
  };
}

function newCodes(bits: number, n: number): Uint8Array | Uint16Array {
  return bits <= 8 ? new Uint8Array(n) : new Uint16Array(n);
}

/** The codes whose reference decode is a NaN. */
function nanCodesOf(v: FloatVectors): Set<number> {
  return new Set(v.decode.filter(([, bits]) => isNaNBits(bits)).map(([code]) => code));
}

/**
 * Compares encoder output with the ml_dtypes column over `inputs[start .. start + got.length)`.
 * Returns the number of vectors checked; throws with the mismatch count and the first few mismatches.
 */
function checkEncode(
  name: string,
  path: string,
  v: FloatVectors,
  start: number,
  got: ArrayLike<number>,
  acceptAnyNaN: boolean,
): number {
  const inputs = v.encode.input_f32_bits;
  const want = v.encode.ml_dtypes;
  const nanCodes = nanCodesOf(v);
  const digits = v.bits <= 8 ? 2 : 4;
  const mismatches: string[] = [];
  let count = 0;
  let listed = 0;
  for (let k = 0; k < got.length; k++) {
    const i = start + k;
    const x = inputs[i]!;
    const g = got[k]!;
    const ok = acceptAnyNaN && isNaNBits(x) ? nanCodes.has(g) : g === want[i];
    if (ok) continue;
    if (KNOWN_DIVERGENCES.some((d) => d.format === name && d.inputBits === x)) {
      listed++;
      continue;
    }
    count++;
    if (mismatches.length < MAX_REPORTED) {
      mismatches.push(`input ${hex(x, 8)} -> want ${hex(want[i]!, digits)}, got ${hex(g, digits)}`);
    }
  }
  expect(
    count,
    `${name} ${path}: ${count} of ${got.length} encode vectors differ; first: ${mismatches.join("; ")}`,
  ).toBe(0);
  return got.length - listed;
}

it("finds the float vectors (fails, never skips, when the shared folder is missing)", () => {
  if (listError !== null) throw listError;
  expect(files.length).toBeGreaterThan(0);
});

it("MANIFEST.json lists exactly the vector files, and no divergence from the reference is listed", () => {
  if (listError !== null) throw listError;
  const manifest = loadFloatManifest();
  expect(Object.keys(manifest.formats).sort()).toEqual(files.map((f) => f.replace(/\.json$/, "")).sort());
  expect(manifest.ml_dtypes).toBe("0.6.0");
  expect(KNOWN_DIVERGENCES).toEqual([]);
});

for (const file of files) {
  const name = file.replace(/\.json$/, "");
  describe(name, () => {
    let cached: FloatVectors | null = null;
    const vectors = (): FloatVectors => {
      cached ??= loadFloatVectors(file);
      return cached;
    };
    // Throws RangeError ("unknown codec") for a file with no codec: every test of the file fails.
    const codecOf = (): FloatCodec => getCodec(name);

    it(
      "has a registered codec whose name, width and vector counts agree with the file and MANIFEST",
      recorded(name, "metadata", () => {
        const codec = codecOf();
        const v = vectors();
        expect(v.format).toBe(name);
        expect(codec.name).toBe(name);
        expect(codec.bits).toBe(v.bits);
        const n = 2 ** v.bits;
        expect(v.decode.length, "decode vectors cover every code").toBe(n);
        expect(new Set(v.decode.map(([c]) => c)).size).toBe(n);
        expect(Math.max(...v.decode.map(([c]) => c))).toBe(n - 1);
        const manifest = loadFloatManifest().formats[name];
        expect(manifest, `MANIFEST.json has no entry for ${name}`).toBeDefined();
        expect(v.encode.input_f32_bits.length).toBe(manifest!.n_encode);
        expect(v.encode.input_f32_bits.length).toBeGreaterThan(1000);
      }),
    );

    it(
      "metadata (maxFinite, minSubnormal, hasInf, hasNaN, hasNegativeZero, signed) matches the decode vectors",
      recorded(name, "metadata table", () => {
        const codec = codecOf();
        const v = vectors();
        const values = f32FromBits(v.decode.map(([, b]) => b));
        const finite = [...values].filter((x) => Number.isFinite(x));
        expect(codec.maxFinite).toBe(Math.max(...finite));
        expect(codec.minSubnormal).toBe(Math.min(...finite.filter((x) => x > 0)));
        expect(codec.hasInf).toBe(values.some((x) => x === Number.POSITIVE_INFINITY));
        expect(codec.hasNaN).toBe(nanCodesOf(v).size > 0);
        expect(codec.hasNegativeZero).toBe(v.decode.some(([, b]) => b === 0x80000000));
        expect(codec.signed).toBe(finite.some((x) => x < 0));
      }),
    );

    it(
      "decode reproduces float32_bits for every code (bulk, unaligned view, decodeInto, decodeValue)",
      recorded(name, "decode", () => {
        const codec = codecOf();
        const v = vectors();
        const n = v.decode.length;
        const codes = newCodes(v.bits, n);
        for (let i = 0; i < n; i++) codes[i] = v.decode[i]![0];
        const bulk = new Uint32Array(codec.decode(codes).buffer);
        // The same codes at an odd element offset, and decodeInto at an odd offset of the destination.
        const shifted = newCodes(v.bits, n + 1);
        shifted.set(codes, 1);
        const view = shifted.subarray(1);
        const unaligned = new Uint32Array(codec.decode(view).buffer);
        const dst = new Float32Array(n + 3);
        expect(codec.decodeInto(view, dst.subarray(3))).toBe(n);
        const into = new Uint32Array(dst.buffer, 12, n);

        const mismatches: string[] = [];
        let bad = 0;
        const digits = v.bits <= 8 ? 2 : 4;
        for (let i = 0; i < n; i++) {
          const [code, want] = v.decode[i]!;
          const scalar = f32Bits(codec.decodeValue(code));
          const got = [bulk[i]!, unaligned[i]!, into[i]!, scalar];
          const ok = isNaNBits(want) ? got.every(isNaNBits) : got.every((g) => g === want);
          if (ok) continue;
          bad++;
          if (mismatches.length < MAX_REPORTED) {
            const g = got.map((x) => hex(x, 8)).join("/");
            mismatches.push(
              `code ${hex(code, digits)} -> want ${hex(want, 8)}, got bulk/unaligned/into/scalar ${g}`,
            );
          }
        }
        expect(bad, `${name} decode: ${bad} of ${n} codes differ; first: ${mismatches.join("; ")}`).toBe(0);
        tally(name).decode = n;
      }),
    );

    it(
      "encode (bulk, whole array) reproduces the ml_dtypes column",
      recorded(name, "encode bulk", () => {
        const codec = codecOf();
        const v = vectors();
        const src = f32FromBits(v.encode.input_f32_bits);
        const got = codec.encode(src);
        expect(got.length).toBe(src.length);
        expect(got.BYTES_PER_ELEMENT).toBe(v.bits <= 8 ? 1 : 2);
        tally(name).encode = checkEncode(name, "encode(bulk)", v, 0, got, codec.hasNaN);
      }),
    );

    it(
      "encode (bulk) on an odd-length subarray at byteOffset 4, and encodeInto an unaligned destination",
      recorded(name, "encode unaligned", () => {
        const codec = codecOf();
        const v = vectors();
        const all = f32FromBits(v.encode.input_f32_bits);
        const m = (all.length - 1) % 2 === 1 ? all.length - 1 : all.length - 2;
        const sub = all.subarray(1, 1 + m);
        expect(sub.byteOffset).toBe(4);
        expect(sub.length % 2).toBe(1);
        checkEncode(name, "encode(subarray)", v, 1, codec.encode(sub), codec.hasNaN);
        const dst = newCodes(v.bits, m + 1).subarray(1);
        expect(codec.encodeInto(sub, dst)).toBe(m);
        checkEncode(name, "encodeInto(unaligned dst)", v, 1, dst, codec.hasNaN);
      }),
    );

    it(
      "encodeValue (scalar path) reproduces the ml_dtypes column",
      recorded(name, "encode scalar", () => {
        const codec = codecOf();
        const v = vectors();
        const src = f32FromBits(v.encode.input_f32_bits);
        const got = new Uint32Array(src.length);
        for (let i = 0; i < src.length; i++) got[i] = codec.encodeValue(src[i]!);
        // NaN inputs lose their payload (and maybe sign) when read into a JS number; any NaN code is
        // accepted for formats with NaN codes, and the sign of a NaN decides the code only for formats
        // without one, where the engine keeps it.
        checkEncode(name, "encodeValue(scalar)", v, 0, got, codec.hasNaN);
      }),
    );

    it(
      "Float64Array and number[] inputs holding the same (non-NaN) float32 values give the same codes",
      recorded(name, "encode float64", () => {
        const codec = codecOf();
        const v = vectors();
        const idx: number[] = [];
        v.encode.input_f32_bits.forEach((b, i) => {
          if (!isNaNBits(b)) idx.push(i);
        });
        const values = f32FromBits(idx.map((i) => v.encode.input_f32_bits[i]!));
        const want = idx.map((i) => v.encode.ml_dtypes[i]!);
        const fromF64 = [...codec.encode(Float64Array.from(values))];
        const fromArray = [...codec.encode(Array.from(values))];
        const firstDiff = (got: number[]) => got.findIndex((c, k) => c !== want[k]);
        const d64 = firstDiff(fromF64);
        const dArr = firstDiff(fromArray);
        const at = (k: number) => `input ${hex(v.encode.input_f32_bits[idx[k]!]!, 8)}`;
        expect(d64, d64 < 0 ? "" : `Float64Array: ${at(d64)} want ${want[d64]}, got ${fromF64[d64]}`).toBe(
          -1,
        );
        expect(dArr, dArr < 0 ? "" : `number[]: ${at(dArr)} want ${want[dArr]}, got ${fromArray[dArr]}`).toBe(
          -1,
        );
      }),
    );
  });
}
