import { createRng, type QuantizedTensor, type TensorPart } from "@lowbit/bits";
import { dequantize, quantize } from "@lowbit/formats";
import { describe, expect, it } from "vitest";
import {
  encodeModel,
  encodeSafetensors,
  LOWBIT_FORMAT_VERSION,
  LOWBIT_METADATA_KEY,
  parseHeader,
  readModel,
  readModelFloat32,
} from "../src/index.js";
import { CORRUPT, expectLowbitError, NOT_FOUND, UNSUPPORTED } from "./_helpers.js";

function normals(n: number, seed: number): Float32Array {
  const rng = createRng(seed);
  const out = new Float32Array(n);
  for (let i = 0; i < n; i++) {
    const u = 1 - rng.nextFloat();
    out[i] = Math.sqrt(-2 * Math.log(u)) * Math.cos(2 * Math.PI * rng.nextFloat());
  }
  return out;
}

const w1 = normals(6 * 8, 1);
const w2 = normals(5 * 7, 2);
const q8 = quantize(w1, [6, 8], { format: "float8_e4m3fn" });
const q4 = quantize(w2, [5, 7], { format: "float4_e2m1fn", scaling: "tensor" });
const bias: TensorPart = { dtype: "F16", shape: [3], data: new Uint16Array([0x3c00, 0x4000, 0xbc00]) };
const plain = { shape: [2, 2], data: new Float32Array([1, 2, 3, 4]) };

describe("encodeModel / readModel", () => {
  const bytes = encodeModel(
    { "layer.0.weight": q8, "layer.1.weight": q4, "layer.0.bias": bias, norm: plain },
    { source: "test" },
  );

  it("stores parts as ordinary tensors any safetensors reader can open", () => {
    const header = parseHeader(bytes);
    expect([...header.tensors.keys()].sort()).toEqual([
      "layer.0.bias",
      "layer.0.weight.qdata",
      "layer.0.weight.scales",
      "layer.1.weight.qdata",
      "layer.1.weight.scales",
      "norm",
    ]);
    expect(header.tensors.get("layer.0.weight.qdata")).toMatchObject({ dtype: "F8_E4M3", shape: [6, 8] });
    expect(header.tensors.get("layer.1.weight.qdata")).toMatchObject({ dtype: "U8", shape: [18] });
    expect(header.tensors.get("norm")).toMatchObject({ dtype: "F32", shape: [2, 2] });
    expect(header.metadata["source"]).toBe("test");
  });

  it("records the quantized tensors in __metadata__.lowbit", () => {
    const json = JSON.parse(parseHeader(bytes).metadata[LOWBIT_METADATA_KEY]!);
    expect(json.version).toBe(LOWBIT_FORMAT_VERSION);
    expect(Object.keys(json.tensors)).toEqual(["layer.0.weight", "layer.1.weight"]);
    expect(json.tensors["layer.0.weight"]).toEqual({
      format: "float8_e4m3fn",
      shape: [6, 8],
      spec: { axis: 0, format: "float8_e4m3fn", saturate: true, scaling: "channel" },
      parts: ["qdata", "scales"],
    });
  });

  it("reads back identical parts, plain tensors and metadata", () => {
    const model = readModel(bytes);
    expect({ ...model.metadata }).toEqual({ source: "test" });
    expect(model.names).toContain("layer.0.weight");
    expect([...model.tensors.keys()].sort()).toEqual(["layer.0.bias", "norm"]);
    expect(model.tensors.get("layer.0.bias")).toEqual(bias);
    expect(model.tensors.get("norm")).toEqual({ dtype: "F32", ...plain });
    for (const [name, qt] of [
      ["layer.0.weight", q8],
      ["layer.1.weight", q4],
    ] as const) {
      const back = model.quantized.get(name)!;
      expect(back.shape).toEqual(qt.shape);
      expect({ ...back.spec }).toEqual({ ...qt.spec });
      expect(Object.keys(back.parts)).toEqual(Object.keys(qt.parts));
      for (const [p, part] of Object.entries(qt.parts)) expect(back.parts[p]).toEqual(part);
    }
  });

  it("dequantizes to exactly what the in-memory tensors give", () => {
    const floats = readModelFloat32(bytes);
    expect(floats.get("layer.0.weight")!.data).toEqual(dequantize(q8));
    expect(floats.get("layer.1.weight")!.data).toEqual(dequantize(q4));
    expect(floats.get("layer.1.weight")!.shape).toEqual([5, 7]);
    expect([...floats.get("layer.0.bias")!.data]).toEqual([1, 2, -1]);
    expect(floats.get("norm")!.data).toEqual(plain.data);
  });

  it("is deterministic", () => {
    expect(
      encodeModel(
        { norm: plain, "layer.1.weight": q4, "layer.0.bias": bias, "layer.0.weight": q8 },
        { source: "test" },
      ),
    ).toEqual(bytes);
  });

  it("writes a lowbit map with no tensors for a model without quantized tensors", () => {
    const m = readModel(encodeModel({ a: plain }));
    expect(m.quantized.size).toBe(0);
    expect(JSON.parse(parseHeader(encodeModel({ a: plain })).metadata["lowbit"]!)).toEqual({
      version: 1,
      tensors: {},
    });
  });

  it("rejects bad entries as bad arguments", () => {
    expect(() => encodeModel({ a: plain }, { lowbit: "x" })).toThrow(/reserved/);
    expect(() => encodeModel({ W: q8, "W.qdata": bias })).toThrow(/"W.qdata" is used twice/);
    expect(() => encodeModel({ W: { ...q8, spec: { ...q8.spec, bad: Number.NaN } } })).toThrow(
      /spec.bad must be a finite number/,
    );
    expect(() => encodeModel({ W: { ...q8, spec: { ...q8.spec, when: new Date() } } })).toThrow(TypeError);
    expect(() => encodeModel({ W: { ...q8, parts: {} } })).toThrow(/one or more named tensors/);
    expect(() => encodeModel({ W: { shape: [1], data: [1] } as unknown as QuantizedTensor })).toThrow(
      TypeError,
    );
    expect(() =>
      encodeModel({ W: { ...q8, parts: { qdata: { ...q8.parts["qdata"]!, shape: [1] } } } }),
    ).toThrow(RangeError);
  });
});

/** A file with the given lowbit metadata text and tensors. */
function withLowbit(lowbit: string, tensors: Record<string, TensorPart>): Uint8Array {
  return encodeSafetensors(tensors, { lowbit });
}

describe("readModel: corrupt lowbit metadata", () => {
  const qdata = q8.parts["qdata"]!;
  const scales = q8.parts["scales"]!;
  const good = { format: "float8_e4m3fn", shape: [6, 8], spec: q8.spec, parts: ["qdata", "scales"] };
  const wrap = (tensors: unknown, version: unknown = 1) => JSON.stringify({ version, tensors });
  const both = { "W.qdata": qdata, "W.scales": scales };

  it("accepts the well-formed case", () => {
    expect(readModel(withLowbit(wrap({ W: good }), both)).quantized.get("W")!.spec.format).toBe(
      "float8_e4m3fn",
    );
  });

  it("rejects malformed JSON and bad versions", () => {
    expectLowbitError(
      () => readModel(withLowbit("{not json", both)),
      "CorruptDataError",
      CORRUPT,
      /lowbit metadata is not valid JSON/,
    );
    expectLowbitError(
      () => readModel(withLowbit("[]", both)),
      "CorruptDataError",
      CORRUPT,
      /must be a JSON object/,
    );
    expectLowbitError(
      () => readModel(withLowbit(wrap({ W: good }, 2), both)),
      "UnsupportedError",
      UNSUPPORTED,
      /version 2 is newer/,
    );
    expectLowbitError(
      () => readModel(withLowbit(wrap({ W: good }, "1"), both)),
      "CorruptDataError",
      CORRUPT,
      /version must be a positive integer/,
    );
    expectLowbitError(
      () => readModel(withLowbit(wrap([good]), both)),
      "CorruptDataError",
      CORRUPT,
      /tensors must be an object/,
    );
    const dup = `{"version":1,"tensors":{"W":${JSON.stringify(good)},"W":${JSON.stringify(good)}}}`;
    expectLowbitError(
      () => readModel(withLowbit(dup, both)),
      "CorruptDataError",
      CORRUPT,
      /duplicate key "W"/,
    );
  });

  it("rejects malformed entries", () => {
    const bad = (patch: object, re: RegExp) =>
      expectLowbitError(
        () => readModel(withLowbit(wrap({ W: { ...good, ...patch } }), both)),
        "CorruptDataError",
        CORRUPT,
        re,
      );
    bad({ format: 3 }, /quantized tensor "W": format must be a non-empty string/);
    bad({ shape: [-1] }, /shape must be an array of non-negative integers/);
    bad({ shape: [2 ** 40, 2 ** 40] }, /too many elements/);
    bad({ spec: "x" }, /spec must be an object/);
    bad({ spec: { ...q8.spec, format: "float8_e5m2" } }, /spec.format "float8_e5m2" is not "float8_e4m3fn"/);
    bad({ parts: [] }, /parts must be a non-empty array/);
    bad({ parts: ["qdata", "qdata"] }, /part "qdata" is listed twice/);
    bad({ parts: ["qdata", 1] }, /non-empty string/);
  });

  it("rejects missing and doubly claimed parts, and names both plain and quantized", () => {
    expectLowbitError(
      () => readModel(withLowbit(wrap({ W: good }), { "W.qdata": qdata })),
      "CorruptDataError",
      CORRUPT,
      /quantized tensor "W": part "scales" \(tensor "W.scales"\) is missing/,
    );
    expectLowbitError(
      () => readModel(withLowbit(wrap({ W: good }), { ...both, W: qdata })),
      "CorruptDataError",
      CORRUPT,
      /"W" is both a quantized tensor and a stored tensor/,
    );
    const twice = wrap({ W: { ...good, parts: ["q.qdata"] }, "W.q": { ...good, parts: ["qdata"] } });
    expectLowbitError(
      () => readModel(withLowbit(twice, { "W.q.qdata": qdata })),
      "CorruptDataError",
      CORRUPT,
      /tensor "W.q.qdata" is a part of both "W" and "W.q"/,
    );
  });

  it("leaves part validation to dequantize, which rejects malformed parts", () => {
    const short = {
      "W.qdata": { dtype: "F8_E4M3", shape: [40], data: new Uint8Array(40) } as TensorPart,
      "W.scales": scales,
    };
    const model = readModel(withLowbit(wrap({ W: good }), short));
    expect(model.quantized.get("W")!.parts["qdata"]!.data.length).toBe(40);
    expectLowbitError(
      () => readModelFloat32(withLowbit(wrap({ W: good }), short)),
      "CorruptDataError",
      CORRUPT,
      /qdata/,
    );
    const unknown = { ...good, format: "nosuch", spec: { format: "nosuch" } };
    expect(readModel(withLowbit(wrap({ W: unknown }), both)).quantized.get("W")!.spec.format).toBe("nosuch");
    expectLowbitError(
      () => readModelFloat32(withLowbit(wrap({ W: unknown }), both)),
      "NotFoundError",
      NOT_FOUND,
      /nosuch/,
    );
  });
});
