import { type QuantizedTensor, type TensorPart, unpackNibblesHighFirst } from "@lowbit/bits";
import {
  BNB_DYNAMIC_MAP,
  BNB_FP4_CODE,
  bnb_blockwise8,
  bnb_fp4,
  bnbBlockAbsmax,
  fromBitsandbytesState,
  NF4_CODE,
  nf4,
  toBitsandbytesState,
} from "@lowbit/nf4";
import { afterAll, describe, expect, it } from "vitest";
import { bitsOfF32, f32FromBits, hex, isNaNBits, readVectorsJson } from "./shared.js";

// bitsandbytes NF4 / FP4 / blockwise 8-bit against vectors/blocks/bnb_*.json (bitsandbytes' default
// torch backend). Both 4-bit columns are normative: `bnb_default_nested` (double quantization, what
// checkpoints store) and `bnb_default_plain`; both 8-bit columns (block sizes 256 and 4096) as well.
// Every field must match exactly; float32 fields compare bit patterns, any NaN equals any NaN.

interface Bnb4Output {
  readonly codes: readonly number[];
  readonly packed_hex: string;
  readonly absmax_f32_bits?: readonly number[];
  readonly absmax_u8?: readonly number[];
  readonly offset_f32_bits?: number;
  readonly nested_blocksize?: number;
  readonly nested_absmax_f32_bits?: readonly number[];
  readonly absmax_dequant_f32_bits?: readonly number[];
  readonly quant_state_key: string;
  readonly quant_state_json: string;
  readonly dequant_f32_bits: readonly number[];
}

interface Bnb8Output {
  readonly codes: readonly number[];
  readonly absmax_f32_bits: readonly number[];
  readonly dequant_f32_bits: readonly number[];
}

interface Case<O> {
  readonly name: string;
  readonly shape: readonly number[];
  readonly input_f32_bits: readonly number[];
  readonly outputs: Readonly<Record<string, O>>;
}

interface BnbFile<O> {
  readonly format: string;
  readonly block_size: number | readonly number[];
  readonly code_table_f32_bits?: readonly number[];
  readonly dynamic_map_f32_bits: readonly number[];
  readonly cases: readonly Case<O>[];
  readonly summary: { readonly n_elements: number };
}

function load<O>(file: string): BnbFile<O> {
  const v = readVectorsJson("blocks", file) as BnbFile<O> | null;
  if (v === null || typeof v !== "object" || !Array.isArray(v.cases) || v.cases.length === 0) {
    throw new Error(`vectors/blocks/${file}: no cases`);
  }
  return v;
}

const sameF32 = (a: number, b: number): boolean => a >>> 0 === b >>> 0 || (isNaNBits(a) && isNaNBits(b));
const toHex = (bytes: Uint8Array): string => Buffer.from(bytes).toString("hex");
const fromHex = (s: string): Uint8Array => Uint8Array.from(Buffer.from(s, "hex"));
const f32Bits = (x: number): number => bitsOfF32(Float32Array.of(x))[0]!;

/** Per-field mismatch counter that keeps the first few examples for the failure message. */
class Tally {
  readonly compared = new Map<string, number>();
  readonly mismatches = new Map<string, string[]>();

  ints(field: string, got: ArrayLike<number>, want: readonly number[], where: string): void {
    this.list(field, got, want, where, (a, b) => a === b, String);
  }

  f32(field: string, got: ArrayLike<number>, want: readonly number[], where: string): void {
    this.list(field, got, want, where, sameF32, (x) => hex(x, 8));
  }

  one(field: string, ok: boolean, message: string): void {
    this.compared.set(field, (this.compared.get(field) ?? 0) + 1);
    if (!ok) this.miss(field, message);
  }

  private list(
    field: string,
    got: ArrayLike<number>,
    want: readonly number[],
    where: string,
    eq: (a: number, b: number) => boolean,
    show: (x: number) => string,
  ): void {
    this.compared.set(field, (this.compared.get(field) ?? 0) + want.length);
    if (got.length !== want.length) {
      this.miss(field, `${where}: length ${got.length}, reference ${want.length}`);
      return;
    }
    for (let i = 0; i < want.length; i++) {
      if (!eq(got[i]!, want[i]!))
        this.miss(field, `${where}[${i}]: got ${show(got[i]!)}, reference ${show(want[i]!)}`);
    }
  }

  private miss(field: string, message: string): void {
    const list = this.mismatches.get(field) ?? [];
    list.push(message);
    this.mismatches.set(field, list);
  }

  expectClean(): void {
    const report = [...this.mismatches].map(
      ([f, l]) => `${f}: ${l.length} mismatches, e.g. ${l.slice(0, 5).join("; ")}`,
    );
    expect(report).toEqual([]);
  }

  summary(): string {
    return [...this.compared].map(([f, n]) => `${f} ${n}`).join(", ");
  }
}

const counts: string[] = [];
afterAll(() => {
  // The counts the conformance run proves, one line per vector file and column.
  console.log(`bitsandbytes conformance:\n  ${counts.join("\n  ")}`);
});

const FOUR_BIT = [
  { file: "bnb_nf4.json", quantizer: nf4, table: NF4_CODE, quantType: "nf4" },
  { file: "bnb_fp4.json", quantizer: bnb_fp4, table: BNB_FP4_CODE, quantType: "fp4" },
] as const;

const COLUMNS = [
  { column: "bnb_default_nested", doubleQuant: true },
  { column: "bnb_default_plain", doubleQuant: false },
] as const;

/** The state dict bitsandbytes would have saved for this case, built from the reference's fields. */
function referenceState(
  name: string,
  o: Bnb4Output,
  codeTable: readonly number[],
  dynamicMap: readonly number[],
): Record<string, TensorPart> {
  const packed = fromHex(o.packed_hex);
  const json = Uint8Array.from(Buffer.from(o.quant_state_json, "utf8"));
  const state: Record<string, TensorPart> = {
    [name]: { dtype: "U8", shape: [packed.length, 1], data: packed },
    [`${name}.quant_map`]: { dtype: "F32", shape: [16], data: f32FromBits(codeTable) },
    [`${name}.${o.quant_state_key}`]: { dtype: "U8", shape: [json.length], data: json },
  };
  if (o.absmax_u8 !== undefined) {
    state[`${name}.absmax`] = {
      dtype: "U8",
      shape: [o.absmax_u8.length],
      data: Uint8Array.from(o.absmax_u8),
    };
    const nested = f32FromBits(o.nested_absmax_f32_bits!);
    state[`${name}.nested_absmax`] = { dtype: "F32", shape: [nested.length], data: nested };
    state[`${name}.nested_quant_map`] = { dtype: "F32", shape: [256], data: f32FromBits(dynamicMap) };
  } else {
    const absmax = f32FromBits(o.absmax_f32_bits!);
    state[`${name}.absmax`] = { dtype: "F32", shape: [absmax.length], data: absmax };
  }
  return state;
}

const bytesOf = (p: TensorPart): Uint8Array =>
  new Uint8Array(p.data.buffer, p.data.byteOffset, p.data.byteLength);

/** Same keys, and per key the same dtype, shape and bytes. */
function sameState(a: Record<string, TensorPart>, b: Record<string, TensorPart>): boolean {
  const keys = Object.keys(a).sort();
  if (keys.join("|") !== Object.keys(b).sort().join("|")) return false;
  return keys.every((k) => {
    const x = a[k]!;
    const y = b[k]!;
    return (
      x.dtype === y.dtype &&
      x.shape.join(",") === y.shape.join(",") &&
      toHex(bytesOf(x)) === toHex(bytesOf(y))
    );
  });
}

for (const { file, quantizer, table, quantType } of FOUR_BIT) {
  describe(`vectors/blocks/${file}`, () => {
    const v = load<Bnb4Output>(file);

    it("code table and dynamic map are the reference's, bit for bit", () => {
      expect([...bitsOfF32(table)]).toEqual(v.code_table_f32_bits);
      expect([...bitsOfF32(BNB_DYNAMIC_MAP)]).toEqual(v.dynamic_map_f32_bits);
      expect(v.block_size).toBe(64);
    });

    for (const { column, doubleQuant } of COLUMNS) {
      it(`${column}: every case, every field exact`, () => {
        const t = new Tally();
        let elements = 0;
        for (const c of v.cases) {
          const o = c.outputs[column];
          if (o === undefined) throw new Error(`${file} ${c.name}: no ${column} column`);
          const input = f32FromBits(c.input_f32_bits);
          const n = input.length;
          elements += n;
          const where = `${c.name}`;
          const qt = quantizer.quantize(input, [n], { doubleQuant });
          const qdata = qt.parts["qdata"]!.data as Uint8Array;

          t.ints("codes", unpackNibblesHighFirst(qdata, n), o.codes, where);
          t.one("packed_hex", toHex(qdata) === o.packed_hex, `${where}: ${toHex(qdata)} vs ${o.packed_hex}`);
          if (doubleQuant) {
            t.ints("absmax_u8", qt.parts["absmax"]!.data as Uint8Array, o.absmax_u8!, where);
            const offset = (qt.parts["offset"]!.data as Float32Array)[0]!;
            t.f32("offset_f32_bits", [f32Bits(offset)], [o.offset_f32_bits!], where);
            t.ints("nested_blocksize", [qt.spec["nestedBlockSize"] as number], [o.nested_blocksize!], where);
            t.f32(
              "nested_absmax_f32_bits",
              bitsOfF32(qt.parts["nestedAbsmax"]!.data as Float32Array),
              o.nested_absmax_f32_bits!,
              where,
            );
            t.f32(
              "absmax_dequant_f32_bits",
              bitsOfF32(bnbBlockAbsmax(qt)),
              o.absmax_dequant_f32_bits!,
              where,
            );
          } else {
            t.f32(
              "absmax_f32_bits",
              bitsOfF32(qt.parts["absmax"]!.data as Float32Array),
              o.absmax_f32_bits!,
              where,
            );
          }
          t.f32("dequant_f32_bits", bitsOfF32(quantizer.dequantize(qt)), o.dequant_f32_bits, where);

          // The packed quant state: key and JSON byte for byte.
          const name = `cases.${c.name}.weight`;
          const state = toBitsandbytesState(name, qt);
          const stateKey = `${name}.${o.quant_state_key}`;
          const json = state[stateKey];
          t.one(
            "quant_state_key",
            json !== undefined,
            `${where}: no ${stateKey} in ${Object.keys(state).join(", ")}`,
          );
          const text = json === undefined ? "" : Buffer.from(json.data as Uint8Array).toString("utf8");
          t.one(
            "quant_state_json",
            text === o.quant_state_json,
            `${where}: ${text} vs ${o.quant_state_json}`,
          );

          // Reading the reference's own state dict decodes to the reference's values, and writing it
          // back reproduces every tensor of it byte for byte (dtype, shape, bytes).
          const reference = referenceState(name, o, v.code_table_f32_bits!, v.dynamic_map_f32_bits);
          const read = fromBitsandbytesState(name, reference);
          expect(read.spec["format"]).toBe(quantType === "nf4" ? "nf4" : "bnb_fp4");
          t.f32(
            "dequant_f32_bits (from reference state)",
            bitsOfF32(quantizer.dequantize(read)),
            o.dequant_f32_bits,
            where,
          );
          const again = toBitsandbytesState(name, read);
          t.one("state round trip", sameState(again, reference), `${where}: rewritten state differs`);
        }
        expect(elements).toBe(v.summary.n_elements);
        counts.push(`${file} ${column}: ${v.cases.length} cases, ${elements} elements; ${t.summary()}`);
        t.expectClean();
      });
    }
  });
}

describe("vectors/blocks/bnb_blockwise8.json", () => {
  const v = load<Bnb8Output>("bnb_blockwise8.json");

  it("dynamic map is the reference's, bit for bit", () => {
    expect([...bitsOfF32(BNB_DYNAMIC_MAP)]).toEqual(v.dynamic_map_f32_bits);
    expect(v.block_size).toEqual([256, 4096]);
  });

  for (const [column, blockSize] of [
    ["bnb_default_bs256", 256],
    ["bnb_default_bs4096", 4096],
  ] as const) {
    it(`${column}: every case, every field exact`, () => {
      const t = new Tally();
      let elements = 0;
      for (const c of v.cases) {
        const o = c.outputs[column];
        if (o === undefined) throw new Error(`bnb_blockwise8.json ${c.name}: no ${column} column`);
        const input = f32FromBits(c.input_f32_bits);
        const n = input.length;
        elements += n;
        const qt = bnb_blockwise8.quantize(input, [n], { blockSize });
        t.ints("codes", qt.parts["qdata"]!.data as Uint8Array, o.codes, c.name);
        t.f32(
          "absmax_f32_bits",
          bitsOfF32(qt.parts["absmax"]!.data as Float32Array),
          o.absmax_f32_bits,
          c.name,
        );
        t.f32("dequant_f32_bits", bitsOfF32(bnb_blockwise8.dequantize(qt)), o.dequant_f32_bits, c.name);
        // Decoding the reference's codes and absmax (not ours) gives the reference's values.
        const absmax = f32FromBits(o.absmax_f32_bits);
        const theirs: QuantizedTensor = {
          spec: { format: "bnb_blockwise8", blockSize },
          shape: [n],
          parts: {
            qdata: { dtype: "U8", shape: [n], data: Uint8Array.from(o.codes) },
            absmax: { dtype: "F32", shape: [absmax.length], data: absmax },
          },
        };
        t.f32(
          "dequant_f32_bits (from reference codes)",
          bitsOfF32(bnb_blockwise8.dequantize(theirs)),
          o.dequant_f32_bits,
          c.name,
        );
      }
      expect(elements).toBe(v.summary.n_elements);
      counts.push(
        `bnb_blockwise8.json ${column}: ${v.cases.length} cases, ${elements} elements; ${t.summary()}`,
      );
      t.expectClean();
    });
  }
});
