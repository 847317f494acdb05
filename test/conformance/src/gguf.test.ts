import type { Quantizer } from "@lowbit/bits";
import { type GgufBlockCodec, ggufMxfp4, ggufQ4_0, ggufQ4_1, ggufQ8_0, intQuantizers } from "@lowbit/int";
import { afterAll, describe, expect, it } from "vitest";
import { f32FromBits, hex, isNaNBits, readVectorsJson } from "./shared.js";

/**
 * vectors/blocks/gguf_*.json against the built @lowbit/int (vectors/blocks/README.md). The normative
 * column `gguf_py` (current llama.cpp gguf-py) must match exactly for every case: the block stream
 * (`blocks_hex`), the codes, the float16 `d`/`m` or E8M0 `e` read back from our blocks, and the
 * dequantized float32 bits (any NaN equals any NaN). `gguf_py_pre15111` is checked against
 * `{ variant: "pre15111" }` for Q4_0 and against the default for Q4_1 and Q8_0 (whose rounding that
 * change did not touch).
 */

interface Output {
  readonly blocks_hex: string;
  readonly codes: readonly number[];
  readonly dequant_f32_bits: readonly number[];
  readonly d_f16_bits?: readonly number[];
  readonly m_f16_bits?: readonly number[];
  readonly scale_e8m0?: readonly number[];
}

interface Case {
  readonly name: string;
  readonly shape: readonly number[];
  readonly input_f32_bits: readonly number[];
  readonly outputs: Readonly<Record<string, Output>>;
}

interface BlockFile {
  readonly format: string;
  readonly ggml_type: string;
  readonly block_size: number;
  readonly block_bytes: number;
  readonly cases: readonly Case[];
}

/** Must stay empty: a divergence from the normative column is a bug, not an exception. */
const KNOWN_DIVERGENCES: readonly {
  readonly file: string;
  readonly case: string;
  readonly reason: string;
}[] = [];

const MAX_REPORTED = 6;

interface Spec {
  readonly file: string;
  readonly codec: GgufBlockCodec;
  /** Byte offset of the codes in a block, and whether they are split-halves nibbles. */
  readonly codesAt: number;
  readonly nibbles: boolean;
}

const SPECS: readonly Spec[] = [
  { file: "gguf_q4_0.json", codec: ggufQ4_0, codesAt: 2, nibbles: true },
  { file: "gguf_q4_1.json", codec: ggufQ4_1, codesAt: 4, nibbles: true },
  { file: "gguf_q8_0.json", codec: ggufQ8_0, codesAt: 2, nibbles: false },
  { file: "gguf_mxfp4.json", codec: ggufMxfp4, codesAt: 1, nibbles: true },
];

const tallies = new Map<string, { cases: number; blocks: number; elements: number }>();
function count(key: string, blocks: number, elements: number): void {
  const t = tallies.get(key) ?? { cases: 0, blocks: 0, elements: 0 };
  t.cases++;
  t.blocks += blocks;
  t.elements += elements;
  tallies.set(key, t);
}

afterAll(() => {
  const lines = [...tallies].map(
    ([k, t]) => `${k}: ${t.cases} cases, ${t.blocks} blocks, ${t.elements} elements exact`,
  );
  console.log(`GGUF block conformance (gguf_py normative)\n${lines.join("\n")}`);
});

function toHex(bytes: Uint8Array): string {
  return Buffer.from(bytes.buffer, bytes.byteOffset, bytes.length).toString("hex");
}

function fromHex(s: string): Uint8Array {
  return new Uint8Array(Buffer.from(s, "hex"));
}

/** Codes read back from a block stream (split halves: byte j = element j low, element j + 16 high). */
function codesOf(spec: Spec, blocks: Uint8Array, nb: number): number[] {
  const bb = spec.codec.blockBytes;
  const out: number[] = [];
  for (let b = 0; b < nb; b++) {
    const p = b * bb + spec.codesAt;
    if (spec.nibbles) {
      const lo: number[] = [];
      const hi: number[] = [];
      for (let j = 0; j < 16; j++) {
        lo.push(blocks[p + j]! & 15);
        hi.push(blocks[p + j]! >>> 4);
      }
      out.push(...lo, ...hi);
    } else {
      for (let j = 0; j < 32; j++) out.push(blocks[p + j]!);
    }
  }
  return out;
}

function u16At(blocks: Uint8Array, p: number): number {
  return blocks[p]! | (blocks[p + 1]! << 8);
}

/** Block indices whose bytes differ, described for the failure message. */
function blockDiffs(spec: Spec, got: Uint8Array, wantHex: string, c: Case): string[] {
  const bb = spec.codec.blockBytes;
  const want = fromHex(wantHex);
  const out: string[] = [];
  for (let b = 0; b * bb < want.length && out.length < MAX_REPORTED; b++) {
    const g = toHex(got.subarray(b * bb, (b + 1) * bb));
    const w = toHex(want.subarray(b * bb, (b + 1) * bb));
    if (g !== w) {
      const input = c.input_f32_bits.slice(b * 32, b * 32 + 4).map((x) => hex(x, 8));
      out.push(`block ${b} (inputs ${input.join(" ")} …): got ${g}, want ${w}`);
    }
  }
  return out;
}

function checkCase(spec: Spec, c: Case, column: string, variant: "current" | "pre15111" | null): void {
  const o = c.outputs[column]!;
  const { codec } = spec;
  const x = f32FromBits(c.input_f32_bits);
  const nb = x.length / 32;
  const label = `${spec.file} ${c.name} [${column}]`;
  const opts = variant === null ? undefined : { variant };

  // The block codec.
  const blocks = codec.encode(x, opts);
  const diffs = blockDiffs(spec, blocks, o.blocks_hex, c);
  expect(diffs, `${label}: block bytes differ:\n${diffs.join("\n")}`).toEqual([]);
  expect(toHex(blocks)).toBe(o.blocks_hex);

  // The same through the registered quantizer, with the case's tensor shape.
  const q = intQuantizers.find((z: Quantizer) => z.name === codec.name)!;
  const qt = q.quantize(x, c.shape, opts);
  const part = qt.parts["blocks"]!;
  expect(part.dtype).toBe("U8");
  expect(part.shape).toEqual([...c.shape.slice(0, -1), (c.shape.at(-1)! / 32) * codec.blockBytes]);
  expect(toHex(part.data as Uint8Array), `${label}: quantizer blocks`).toBe(o.blocks_hex);

  // Fields read back from our block bytes.
  expect(codesOf(spec, blocks, nb), `${label}: codes`).toEqual(o.codes);
  const bb = codec.blockBytes;
  if (o.d_f16_bits !== undefined) {
    const d = Array.from({ length: nb }, (_, b) => u16At(blocks, b * bb));
    expect(d, `${label}: d_f16_bits`).toEqual(o.d_f16_bits);
  }
  if (o.m_f16_bits !== undefined) {
    const m = Array.from({ length: nb }, (_, b) => u16At(blocks, b * bb + 2));
    expect(m, `${label}: m_f16_bits`).toEqual(o.m_f16_bits);
  }
  if (o.scale_e8m0 !== undefined) {
    const e = Array.from({ length: nb }, (_, b) => blocks[b * bb]!);
    expect(e, `${label}: scale_e8m0`).toEqual(o.scale_e8m0);
  }

  // Dequantization of the reference blocks (codec and quantizer), bit for bit.
  const deq = new Uint32Array(codec.decode(fromHex(o.blocks_hex)).buffer);
  const viaQuantizer = new Uint32Array(q.dequantize(qt).buffer);
  const bad: string[] = [];
  let nbad = 0;
  for (let i = 0; i < deq.length; i++) {
    const want = o.dequant_f32_bits[i]!;
    for (const got of [deq[i]!, viaQuantizer[i]!]) {
      if (got === want || (isNaNBits(got) && isNaNBits(want))) continue;
      nbad++;
      if (bad.length < MAX_REPORTED) bad.push(`element ${i}: got ${hex(got, 8)}, want ${hex(want, 8)}`);
    }
  }
  expect(nbad, `${label}: ${nbad} dequantized values differ: ${bad.join("; ")}`).toBe(0);
  count(`${spec.file.replace(/\.json$/, "")} ${column}`, nb, x.length);
}

it("no divergence from the normative column is listed", () => {
  expect(KNOWN_DIVERGENCES).toEqual([]);
});

for (const spec of SPECS) {
  describe(spec.file, () => {
    let cached: BlockFile | null = null;
    const file = (): BlockFile => {
      cached ??= readVectorsJson("blocks", spec.file) as BlockFile;
      return cached;
    };

    it("describes the codec's block layout", () => {
      const f = file();
      expect(f.format).toBe(spec.codec.name);
      expect(f.ggml_type).toBe(spec.codec.ggmlType);
      expect(f.block_size).toBe(spec.codec.blockSize);
      expect(f.block_bytes).toBe(spec.codec.blockBytes);
      expect(f.cases.length).toBeGreaterThanOrEqual(20);
    });

    it("matches the normative gguf_py column exactly on every case", () => {
      for (const c of file().cases) checkCase(spec, c, "gguf_py", spec.codec === ggufQ4_0 ? "current" : null);
    });

    it("matches the gguf_py_pre15111 column (Q4_0 with variant: pre15111) on every case", () => {
      const cases = file().cases.filter((c) => c.outputs["gguf_py_pre15111"] !== undefined);
      if (spec.codec === ggufMxfp4) {
        expect(cases.length, "gguf-py had no MXFP4 before PR #15111").toBe(0);
        return;
      }
      expect(cases.length).toBe(file().cases.length);
      for (const c of cases)
        checkCase(spec, c, "gguf_py_pre15111", spec.codec === ggufQ4_0 ? "pre15111" : null);
    });
  });
}

describe("Q4_0 variants", () => {
  it("differ exactly where the two gguf-py columns differ (near-tie elements of the ties case)", () => {
    const f = readVectorsJson("blocks", "gguf_q4_0.json") as BlockFile;
    let differing = 0;
    for (const c of f.cases) {
      const x = f32FromBits(c.input_f32_bits);
      const cur = toHex(ggufQ4_0.encode(x));
      const pre = toHex(ggufQ4_0.encode(x, { variant: "pre15111" }));
      const refDiffer = c.outputs["gguf_py"]!.blocks_hex !== c.outputs["gguf_py_pre15111"]!.blocks_hex;
      expect(cur !== pre, `${c.name}`).toBe(refDiffer);
      if (refDiffer) {
        const a = codesOf(SPECS[0]!, fromHex(cur), x.length / 32);
        const b = codesOf(SPECS[0]!, fromHex(pre), x.length / 32);
        differing += a.filter((v, i) => v !== b[i]).length;
      }
    }
    expect(differing, "README: 3 of 11,968 elements differ, all in `ties`").toBe(3);
  });
});
