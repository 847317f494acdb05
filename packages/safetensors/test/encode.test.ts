import { DTYPE_BYTES, PART_DTYPES, type PartDtype, type TensorPart } from "@lowbit/bits";
import { describe, expect, it } from "vitest";
import { encodeSafetensors, parseHeader, readSafetensors } from "../src/index.js";
import { entry, fileOf } from "./_helpers.js";

const text = (bytes: Uint8Array) => new TextDecoder().decode(bytes);
const headerText = (bytes: Uint8Array) => {
  const n = Number(new DataView(bytes.buffer, bytes.byteOffset).getBigUint64(0, true));
  return text(bytes.subarray(8, 8 + n));
};

/** A tensor of `dtype` with `n` elements holding the byte pattern seed, seed+1, … */
function tensorOf(dtype: PartDtype, shape: number[], seed = 1): TensorPart {
  const n = shape.reduce((a, b) => a * b, 1);
  const bytes = Uint8Array.from({ length: n * DTYPE_BYTES[dtype] }, (_, i) => (seed + i * 7) & 0xff);
  const view = {
    F64: Float64Array,
    F32: Float32Array,
    F16: Uint16Array,
    BF16: Uint16Array,
    F8_E4M3: Uint8Array,
    F8_E5M2: Uint8Array,
    F8_E8M0: Uint8Array,
    I64: BigInt64Array,
    I32: Int32Array,
    I16: Int16Array,
    I8: Int8Array,
    U64: BigUint64Array,
    U32: Uint32Array,
    U16: Uint16Array,
    U8: Uint8Array,
    BOOL: Uint8Array,
  }[dtype];
  return { dtype, shape, data: new view(bytes.buffer, 0, n) };
}

describe("encodeSafetensors: the reference writer's layout", () => {
  it("writes a compact header with no padding when it is a multiple of 8", () => {
    const data = new Float32Array([0, 1, 2, 3, 4, 5]);
    const out = encodeSafetensors({ "attn.0": { dtype: "F32", shape: [1, 2, 3], data } });
    const json = '{"attn.0":{"dtype":"F32","shape":[1,2,3],"data_offsets":[0,24]}}';
    expect(json.length).toBe(64);
    expect(headerText(out)).toBe(json);
    expect(out.length).toBe(8 + 64 + 24);
    expect([...out.subarray(0, 8)]).toEqual([64, 0, 0, 0, 0, 0, 0, 0]);
    expect([...out.subarray(72)]).toEqual([...new Uint8Array(data.buffer)]);
  });

  it("pads the header with spaces to a multiple of 8", () => {
    const out = encodeSafetensors({
      attn0: { dtype: "F32", shape: [1, 1, 2, 3], data: new Float32Array(6) },
    });
    expect(headerText(out)).toBe(
      `${'{"attn0":{"dtype":"F32","shape":[1,1,2,3],"data_offsets":[0,24]}}'}       `,
    );
    expect(encodeSafetensors({})).toEqual(
      new Uint8Array([8, 0, 0, 0, 0, 0, 0, 0, 0x7b, 0x7d, 32, 32, 32, 32, 32, 32]),
    );
    expect(headerText(encodeSafetensors({}, { framework: "pt" }))).toBe(
      '{"__metadata__":{"framework":"pt"}}     ',
    );
  });

  it("puts __metadata__ first with sorted keys, and omits it when empty", () => {
    const out = encodeSafetensors({ w: tensorOf("U8", [1]) }, { b: "2", a: "1", "10": "x", "9": "y" });
    expect(headerText(out)).toMatch(/^\{"__metadata__":\{"10":"x","9":"y","a":"1","b":"2"\},"w":/);
    expect(headerText(encodeSafetensors({ w: tensorOf("U8", [1]) }, {}))).not.toContain("__metadata__");
  });

  it("sorts by dtype alignment (widest first) then name, so every tensor is aligned", () => {
    const tensors: Record<string, TensorPart> = {};
    PART_DTYPES.forEach((d, i) => {
      tensors[`t_${d}_b`] = tensorOf(d, [3], i);
      tensors[`t_${d}_a`] = tensorOf(d, [1, 5], i + 50);
    });
    const out = encodeSafetensors(tensors);
    const header = parseHeader(out);
    const names = [...header.tensors.keys()];
    expect(names.slice(0, 6)).toEqual(["t_U64_a", "t_U64_b", "t_I64_a", "t_I64_b", "t_F64_a", "t_F64_b"]);
    expect(names.slice(-4)).toEqual(["t_U8_a", "t_U8_b", "t_BOOL_a", "t_BOOL_b"]);
    expect(header.dataStart % 8).toBe(0);
    for (const info of header.tensors.values()) {
      expect(info.dataOffsets[0] % DTYPE_BYTES[info.dtype]).toBe(0);
    }
    // Every view is zero-copy on an aligned buffer.
    const back = readSafetensors(out);
    for (const [name, t] of back.tensors) {
      expect(t.data.buffer).toBe(out.buffer);
      expect(t.dtype).toBe(tensors[name]!.dtype);
      expect(t.shape).toEqual(tensors[name]!.shape);
      expect(new Uint8Array(t.data.buffer, t.data.byteOffset, t.data.byteLength)).toEqual(
        new Uint8Array(tensors[name]!.data.buffer),
      );
    }
  });

  it("orders names by code point (UTF-8 byte order) and escapes them as JSON", () => {
    const u = (s: string) => ({ dtype: "U8" as const, shape: [1], data: new Uint8Array([s.length]) });
    const names = ["b", "a\u{1F600}", "a\uFFFF", 'q"uote', "new\nline", "é"];
    const out = encodeSafetensors(Object.fromEntries(names.map((n) => [n, u(n)])));
    expect([...readSafetensors(out).tensors.keys()]).toEqual(
      ["b", "new\nline", 'q"uote', "é", "a\uFFFF", "a\u{1F600}"].sort((x, y) =>
        Buffer.compare(Buffer.from(x), Buffer.from(y)),
      ),
    );
    expect(headerText(out)).toContain('"new\\nline"');
  });

  it("is deterministic: insertion order of the record does not matter", () => {
    const a = encodeSafetensors({ x: tensorOf("F32", [2]), y: tensorOf("I8", [3]) }, { p: "1", q: "2" });
    const b = encodeSafetensors(
      new Map([
        ["y", tensorOf("I8", [3])],
        ["x", tensorOf("F32", [2])],
      ]),
      { q: "2", p: "1" },
    );
    expect(b).toEqual(a);
  });

  it("round-trips every dtype, including zero-size and scalar tensors", () => {
    const tensors: Record<string, TensorPart> = {};
    for (const d of PART_DTYPES) tensors[d] = tensorOf(d, [2, 3], 9);
    tensors["empty"] = { dtype: "F32", shape: [0, 4], data: new Float32Array(0) };
    tensors["scalar"] = { dtype: "F64", shape: [], data: new Float64Array([Math.PI]) };
    const back = readSafetensors(encodeSafetensors(tensors, { note: "ünïcode ✓" }));
    expect(back.metadata["note"]).toBe("ünïcode ✓");
    expect(back.tensors.size).toBe(PART_DTYPES.length + 2);
    for (const [name, t] of Object.entries(tensors)) {
      const r = back.tensors.get(name)!;
      expect(r.dtype).toBe(t.dtype);
      expect(r.shape).toEqual(t.shape);
      expect(r.data).toEqual(t.data);
      expect(r.data.constructor).toBe(t.data.constructor);
    }
  });

  it("rejects bad tensors and metadata as bad arguments, naming them", () => {
    const ok = tensorOf("F32", [2]);
    expect(() => encodeSafetensors({ w: { ...ok, data: new Float32Array(3) } })).toThrow(
      /tensors\["w"\]\.data has 3 elements but F32 shape \[2\] needs 2/,
    );
    expect(() => encodeSafetensors({ w: { ...ok, data: new Float32Array(3) } })).toThrow(RangeError);
    expect(() => encodeSafetensors({ w: { ...ok, data: new Uint32Array(2) } })).toThrow(TypeError);
    expect(() => encodeSafetensors({ w: { ...ok, data: new Uint32Array(2) } })).toThrow(
      /must be a Float32Array for dtype F32/,
    );
    expect(() => encodeSafetensors({ w: { ...ok, dtype: "F128" as PartDtype } })).toThrow(RangeError);
    expect(() => encodeSafetensors({ w: { ...ok, shape: [-2] } })).toThrow(/tensors\["w"\]\.shape\[0\]/);
    expect(() => encodeSafetensors({ w: null as unknown as TensorPart })).toThrow(TypeError);
    expect(() => encodeSafetensors({ __metadata__: ok })).toThrow(/reserved/);
    expect(() => encodeSafetensors({ "\uD800": ok })).toThrow(/lone surrogate/);
    expect(() => encodeSafetensors({ w: ok }, { k: 1 as unknown as string })).toThrow(
      /metadata\["k"\] must be a string/,
    );
    expect(() => encodeSafetensors([] as unknown as Record<string, TensorPart>)).toThrow(TypeError);
  });
});

describe("read views and copies", () => {
  it("views aligned tensors and copies misaligned ones", () => {
    // An I32 at data offset 1: a valid file (no gaps) whose I32 cannot be viewed in place.
    const h = `{"a":${entry("U8", [1], 0, 1)},"b":${entry("I32", [2], 1, 9)}}`;
    const padded = `${h}${" ".repeat((8 - (h.length % 8)) % 8)}`;
    const data = new Uint8Array([7, 1, 0, 0, 0, 0xff, 0xff, 0xff, 0xff]);
    const bytes = fileOf(padded, data);
    const file = readSafetensors(bytes);
    const a = file.tensors.get("a")!;
    const b = file.tensors.get("b")!;
    expect(a.data.buffer).toBe(bytes.buffer);
    expect(b.data.buffer).not.toBe(bytes.buffer);
    expect([...(b.data as Int32Array)]).toEqual([1, -1]);
  });

  it("views a Uint8Array that starts inside a larger buffer", () => {
    const inner = encodeSafetensors({ w: tensorOf("F64", [4]) });
    const outer = new Uint8Array(inner.length + 8);
    outer.set(inner, 8);
    const t = readSafetensors(outer.subarray(8)).tensors.get("w")!;
    expect(t.data.buffer).toBe(outer.buffer);
    expect(t.data).toEqual(tensorOf("F64", [4]).data);
    const odd = new Uint8Array(inner.length + 3);
    odd.set(inner, 3);
    const c = readSafetensors(odd.subarray(3)).tensors.get("w")!;
    expect(c.data.buffer).not.toBe(odd.buffer);
    expect(c.data).toEqual(tensorOf("F64", [4]).data);
  });
});

describe("like: byte-identical rewriting", () => {
  const original = fileOf(
    `{"__metadata__":{"z":"1","a":"2"},"b":${entry("I32", [1], 1, 5)},"a":${entry("U8", [1], 0, 1)}}  `,
    new Uint8Array([9, 1, 2, 3, 4]),
  );

  it("keeps the original header bytes and order when nothing but values changed", () => {
    const file = readSafetensors(original);
    expect(encodeSafetensors(file.tensors, file.metadata, { like: file.header })).toEqual(original);
    const changed = new Map(file.tensors);
    changed.set("b", { dtype: "I32", shape: [1], data: new Int32Array([-1]) });
    const out = encodeSafetensors(changed, file.metadata, { like: file.header });
    expect(out.subarray(0, file.header.dataStart)).toEqual(original.subarray(0, file.header.dataStart));
    expect([...readSafetensors(out).tensors.get("b")!.data]).toEqual([-1]);
  });

  it("rewrites the header, keeping the known order, when tensors or metadata change", () => {
    const file = readSafetensors(original);
    const more = new Map(file.tensors);
    more.set("c", { dtype: "F64", shape: [1], data: new Float64Array([1]) });
    const out = readSafetensors(encodeSafetensors(more, file.metadata, { like: file.header }));
    expect([...out.tensors.keys()]).toEqual(["a", "b", "c"]);
    const meta = readSafetensors(encodeSafetensors(file.tensors, { z: "1" }, { like: file.header }));
    expect({ ...meta.metadata }).toEqual({ z: "1" });
    expect([...meta.tensors.keys()]).toEqual(["a", "b"]);
  });
});
