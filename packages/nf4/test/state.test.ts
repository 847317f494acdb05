import { CorruptDataError, type TensorPart, UnsupportedError } from "@lowbit/bits";
import { describe, expect, it } from "vitest";
import {
  BNB_DYNAMIC_MAP,
  BNB_FP4_CODE,
  bnb_blockwise8,
  bnb_fp4,
  fromBitsandbytesState,
  NF4_CODE,
  nf4,
  toBitsandbytesState,
} from "../src/index.js";

const W = "model.layers.0.mlp.down_proj.weight";
const x = new Float32Array(24 * 40).map((_, i) => Math.sin(i * 0.11) * (1 + (i % 13)));
const ascii = (part: TensorPart | undefined): string =>
  Buffer.from(part!.data as Uint8Array).toString("latin1");
const bytes = (text: string): TensorPart => {
  const data = Uint8Array.from(Buffer.from(text, "latin1"));
  return { dtype: "U8", shape: [data.length], data };
};

function expectCorrupt(f: () => unknown, message: RegExp): void {
  let error: unknown;
  try {
    f();
  } catch (e) {
    error = e;
  }
  expect(error).toBeInstanceOf(CorruptDataError);
  expect((error as Error).message).toMatch(message);
}

describe("toBitsandbytesState", () => {
  it("writes Linear4bit's keys, dtypes and shapes for a double-quantized NF4 weight", () => {
    const qt = nf4.quantize(x, [24, 40]);
    const state = toBitsandbytesState(W, qt);
    expect(Object.keys(state)).toEqual([
      W,
      `${W}.absmax`,
      `${W}.quant_map`,
      `${W}.nested_absmax`,
      `${W}.nested_quant_map`,
      `${W}.quant_state.bitsandbytes__nf4`,
    ]);
    expect(state[W]).toMatchObject({ dtype: "U8", shape: [480, 1] });
    expect(state[W]!.data).toBe(qt.parts["qdata"]!.data);
    expect(state[`${W}.absmax`]).toMatchObject({ dtype: "U8", shape: [15] });
    expect(state[`${W}.quant_map`]).toEqual({ dtype: "F32", shape: [16], data: NF4_CODE });
    expect(state[`${W}.nested_absmax`]).toMatchObject({ dtype: "F32", shape: [1] });
    expect(state[`${W}.nested_quant_map`]).toEqual({ dtype: "F32", shape: [256], data: BNB_DYNAMIC_MAP });
    const offset = (qt.parts["offset"]!.data as Float32Array)[0]!;
    const json = ascii(state[`${W}.quant_state.bitsandbytes__nf4`]);
    const head =
      '{"quant_type": "nf4", "blocksize": 64, "dtype": "float32", "shape": [24, 40], "nested_blocksize": 256, "nested_dtype": "float32", "nested_offset": ';
    expect(json.startsWith(head)).toBe(true);
    expect(json.endsWith("}")).toBe(true);
    expect(Number(json.slice(head.length, -1))).toBe(offset);
    expect(state[`${W}.quant_state.bitsandbytes__nf4`]!.shape).toEqual([
      state[`${W}.quant_state.bitsandbytes__nf4`]!.data.length,
    ]);
  });

  it("writes the plain form for FP4 without double quantization, with the recorded dtype", () => {
    const qt = bnb_fp4.quantize(x, [960], { doubleQuant: false, blockSize: 128, sourceDtype: "bfloat16" });
    const state = toBitsandbytesState("w", qt);
    expect(Object.keys(state)).toEqual(["w", "w.absmax", "w.quant_map", "w.quant_state.bitsandbytes__fp4"]);
    expect(state["w.absmax"]).toMatchObject({ dtype: "F32", shape: [8] });
    expect(state["w.quant_map"]!.data).toEqual(BNB_FP4_CODE);
    expect(ascii(state["w.quant_state.bitsandbytes__fp4"])).toBe(
      '{"quant_type": "fp4", "blocksize": 128, "dtype": "bfloat16", "shape": [960]}',
    );
  });

  it("formats nested_offset as Python's repr does", () => {
    const qt = nf4.quantize(x, [960]);
    const cases: [number, string][] = [
      [1e-5, "9.999999747378752e-06"],
      [1e-4, "9.999999747378752e-05"],
      [1e-3, "0.0010000000474974513"],
      [1e16, "1.0000000272564224e+16"],
      [2 ** 53, "9007199254740992.0"],
      [2 ** 54, "1.8014398509481984e+16"],
      [123456789, "123456792.0"],
      [2.5, "2.5"],
      [2, "2.0"],
      [0, "0.0"],
      [-0, "-0.0"],
      [-2.5e-7, "-2.499999993688107e-07"],
      [2 ** -149, "1.401298464324817e-45"],
      [3.4028234663852886e38, "3.4028234663852886e+38"],
      [Number.POSITIVE_INFINITY, "Infinity"],
      [Number.NEGATIVE_INFINITY, "-Infinity"],
      [Number.NaN, "NaN"],
    ];
    for (const [value, repr] of cases) {
      const patched = {
        ...qt,
        parts: { ...qt.parts, offset: { dtype: "F32", shape: [1], data: Float32Array.of(value) } },
      };
      const json = ascii(toBitsandbytesState("w", patched as typeof qt)["w.quant_state.bitsandbytes__nf4"]);
      expect(json.endsWith(`"nested_offset": ${repr}}`), `${value} → ${json}`).toBe(true);
      const back = fromBitsandbytesState("w", toBitsandbytesState("w", patched as typeof qt));
      expect(Object.is((back.parts["offset"]!.data as Float32Array)[0], Math.fround(value))).toBe(true);
    }
  });

  it("accepts only valid 4-bit tensors and a name", () => {
    const qt = nf4.quantize(x, [960]);
    expect(() => toBitsandbytesState("w", bnb_blockwise8.quantize(x, [960]))).toThrow(RangeError);
    expect(() => toBitsandbytesState("", qt)).toThrow(RangeError);
    expect(() => toBitsandbytesState(3 as never, qt)).toThrow(TypeError);
    expect(() => toBitsandbytesState("w", null as never)).toThrow(TypeError);
    const { offset: _, ...rest } = qt.parts;
    expectCorrupt(() => toBitsandbytesState("w", { ...qt, parts: rest }), /offset/);
  });
});

describe("fromBitsandbytesState", () => {
  for (const [q, spec] of [
    [nf4, { doubleQuant: true }],
    [nf4, { doubleQuant: false, blockSize: 32 }],
    [bnb_fp4, { doubleQuant: true, nestedBlockSize: 64, sourceDtype: "float16" }],
    [bnb_fp4, { doubleQuant: false }],
  ] as const) {
    it(`round-trips ${q.name} ${JSON.stringify(spec)}: same spec, parts, values and state bytes`, () => {
      const qt = q.quantize(x, [24, 40], spec);
      const state = toBitsandbytesState(W, qt);
      const other = { "lm_head.weight": { dtype: "F32", shape: [1], data: new Float32Array(1) } } as const;
      const back = fromBitsandbytesState(W, { ...other, ...state });
      expect(back.spec).toEqual(qt.spec);
      expect(back.shape).toEqual([24, 40]);
      expect(Object.keys(back.parts).sort()).toEqual(Object.keys(qt.parts).sort());
      for (const [k, p] of Object.entries(qt.parts)) expect(back.parts[k], k).toEqual(p);
      expect(q.dequantize(back)).toEqual(q.dequantize(qt));
      expect(toBitsandbytesState(W, back)).toEqual(state);
    });
  }

  it("reads a weight saved with another quant_storage dtype as its bytes", () => {
    const qt = nf4.quantize(x, [960]);
    const state = toBitsandbytesState("w", qt);
    const packed = state["w"]!.data as Uint8Array;
    const asBf16 = new Uint16Array(packed.buffer, packed.byteOffset, packed.length / 2);
    const back = fromBitsandbytesState("w", {
      ...state,
      w: { dtype: "BF16", shape: [asBf16.length, 1], data: asBf16 },
    });
    expect(nf4.dequantize(back)).toEqual(nf4.dequantize(qt));
  });

  describe("malformed states throw CorruptDataError", () => {
    const state = toBitsandbytesState("w", nf4.quantize(x, [960]));
    const key = "w.quant_state.bitsandbytes__nf4";
    const json = ascii(state[key]);
    const withJson = (text: string) => ({ ...state, [key]: bytes(text) });
    const without = (k: string) => {
      const s = { ...state };
      delete s[k];
      return s;
    };

    it("missing tensors", () => {
      expectCorrupt(() => fromBitsandbytesState("w", without(key)), /no w\.quant_state/);
      expectCorrupt(() => fromBitsandbytesState("v", state), /no v\.quant_state/);
      expectCorrupt(() => fromBitsandbytesState("w", without("w")), /packed weight tensor is missing/);
      expectCorrupt(() => fromBitsandbytesState("w", without("w.absmax")), /w\.absmax" is missing/);
      expectCorrupt(() => fromBitsandbytesState("w", without("w.quant_map")), /w\.quant_map" is missing/);
      expectCorrupt(
        () => fromBitsandbytesState("w", without("w.nested_quant_map")),
        /nested_quant_map" is missing/,
      );
      // without nested_absmax the nested JSON fields are unexpected
      expectCorrupt(() => fromBitsandbytesState("w", without("w.nested_absmax")), /without a nested_absmax/);
      const both = { ...state, "w.quant_state.bitsandbytes__fp4": state[key]! };
      expectCorrupt(() => fromBitsandbytesState("w", both), /both/);
    });

    it("bad JSON", () => {
      expectCorrupt(() => fromBitsandbytesState("w", withJson("{")), /not valid JSON/);
      expectCorrupt(() => fromBitsandbytesState("w", withJson("[]")), /JSON object/);
      expectCorrupt(() => fromBitsandbytesState("w", withJson(json.replace("nf4", "n\u00e94"))), /not ASCII/);
      expectCorrupt(
        () => fromBitsandbytesState("w", withJson(json.replace('"nf4"', '"fp4"'))),
        /does not match/,
      );
      expectCorrupt(() => fromBitsandbytesState("w", withJson(json.replace("64", "48"))), /power of two/);
      expectCorrupt(() => fromBitsandbytesState("w", withJson(json.replace('"float32"', '"int8"'))), /dtype/);
      expectCorrupt(() => fromBitsandbytesState("w", withJson(json.replace("[960]", "[960.5]"))), /shape/);
      expectCorrupt(() => fromBitsandbytesState("w", withJson(json.replace("[960]", "null"))), /shape/);
      expectCorrupt(
        () => fromBitsandbytesState("w", withJson(json.replace("[960]", "[961]"))),
        /must hold 481 bytes/,
      );
      expectCorrupt(
        () => fromBitsandbytesState("w", withJson(json.replace(', "nested_dtype": "float32"', ""))),
        /lacks/,
      );
      expectCorrupt(
        () =>
          fromBitsandbytesState(
            "w",
            withJson(json.replace('"float32", "nested_offset"', '"float16", "nested_offset"')),
          ),
        /nested_dtype/,
      );
      expectCorrupt(
        () =>
          fromBitsandbytesState(
            "w",
            withJson(json.replace(/"nested_offset": [^}]*/, '"nested_offset": "1.5"')),
          ),
        /nested_offset/,
      );
      expectCorrupt(
        () => fromBitsandbytesState("w", withJson(json.replace("}", ', "extra": 1}'))),
        /unexpected field "extra"/,
      );
      expectCorrupt(
        () =>
          fromBitsandbytesState(
            "w",
            withJson(json.replace(/"nested_offset": [^}]*/, '"nested_offset": NaNa')),
          ),
        /not valid JSON/,
      );
      expectCorrupt(
        () =>
          fromBitsandbytesState(
            "w",
            withJson(json.replace(/"nested_offset": [^}]*/, '"nested_offset": "\\u0000py:NaN"')),
          ),
        /NUL/,
      );
      expectCorrupt(
        () => fromBitsandbytesState("w", { ...state, [key]: { ...bytes(json), dtype: "I8" } }),
        /U8 tensor/,
      );
      expectCorrupt(
        () => fromBitsandbytesState("w", { ...state, [key]: bytes(" ".repeat(70000)) }),
        /more than/,
      );
    });

    it("mistyped or mis-sized tensors", () => {
      const absmax = state["w.absmax"]!;
      expectCorrupt(
        () => fromBitsandbytesState("w", { ...state, "w.absmax": { ...absmax, dtype: "F32" } }),
        /must be U8/,
      );
      expectCorrupt(
        () =>
          fromBitsandbytesState("w", {
            ...state,
            "w.absmax": { dtype: "U8", shape: [14], data: new Uint8Array(14) },
          }),
        /must have 15 elements/,
      );
      expectCorrupt(
        () =>
          fromBitsandbytesState("w", {
            ...state,
            "w.quant_map": { dtype: "F32", shape: [8], data: new Float32Array(8) },
          }),
        /quant_map" must have 16/,
      );
      expectCorrupt(
        () =>
          fromBitsandbytesState("w", {
            ...state,
            w: { dtype: "U8", shape: [480, 1], data: new Uint8Array(479) },
          }),
        /480 bytes/,
      );
      expectCorrupt(
        () =>
          fromBitsandbytesState("w", {
            ...state,
            w: { dtype: "F32", shape: [120, 1], data: new Uint8Array(480) },
          }),
        /packed weight has dtype/,
      );
      expectCorrupt(
        () => fromBitsandbytesState("w", { ...state, w: { ...state["w"]!, shape: [481, 1] } }),
        /does not hold/,
      );
    });

    it("arguments", () => {
      expect(() => fromBitsandbytesState("w", null as never)).toThrow(TypeError);
      expect(() => fromBitsandbytesState(null as never, state)).toThrow(TypeError);
      expect(() => fromBitsandbytesState("", state)).toThrow(RangeError);
    });
  });

  it("accepts NaN/Infinity offsets and ignores quant_map values, as bitsandbytes does", () => {
    const qt = nf4.quantize(x, [960]);
    const state = toBitsandbytesState("w", qt);
    const key = "w.quant_state.bitsandbytes__nf4";
    const json = ascii(state[key]).replace(/"nested_offset": [^}]*/, '"nested_offset": -Infinity');
    const back = fromBitsandbytesState("w", {
      ...state,
      [key]: bytes(json),
      "w.quant_map": { dtype: "F32", shape: [16], data: new Float32Array(16) },
    });
    expect((back.parts["offset"]!.data as Float32Array)[0]).toBe(Number.NEGATIVE_INFINITY);
    expect(nf4.dequantize(back).some((v) => v === Number.NEGATIVE_INFINITY || Number.isNaN(v))).toBe(true);
  });

  it("refuses a non-standard nested_quant_map with UnsupportedError", () => {
    const state = toBitsandbytesState("w", nf4.quantize(x, [960]));
    const map = BNB_DYNAMIC_MAP.slice();
    map[200] = 0.5;
    expect(() =>
      fromBitsandbytesState("w", {
        ...state,
        "w.nested_quant_map": { dtype: "F32", shape: [256], data: map },
      }),
    ).toThrow(UnsupportedError);
  });
});
