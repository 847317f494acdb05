import { describe, expect, it } from "vitest";
import { DEFAULT_LIMITS, parseHeader, readSafetensors } from "../src/index.js";
import { CORRUPT, entry, expectLowbitError, fileOf, fileOfBytes, LIMIT, UNSUPPORTED } from "./_helpers.js";

const read = (bytes: Uint8Array, limits?: Parameters<typeof readSafetensors>[1]) => () =>
  readSafetensors(bytes, limits);

describe("a valid header", () => {
  it("parses tensors in data order, metadata and sizes", () => {
    const h = `{"b":${entry("F32", [2], 8, 16)},"__metadata__":{"k":"v"},"a":${entry("F64", [1], 0, 8)}}`;
    const bytes = fileOf(h, 16);
    const header = parseHeader(bytes);
    expect([...header.tensors.keys()]).toEqual(["a", "b"]);
    expect(header.tensors.get("b")).toEqual({ dtype: "F32", shape: [2], dataOffsets: [8, 16] });
    expect({ ...header.metadata }).toEqual({ k: "v" });
    expect(header.headerLength).toBe(h.length);
    expect(header.dataStart).toBe(8 + h.length);
    expect(header.dataLength).toBe(16);
    expect(new TextDecoder().decode(header.raw)).toBe(h);
  });

  it("accepts an empty file, null metadata, zero-size tensors and trailing header spaces", () => {
    expect(parseHeader(fileOf("{}      ")).tensors.size).toBe(0);
    const h = `{"__metadata__":null,"z":${entry("F32", [0, 3], 4, 4)},"a":${entry("U8", [4], 0, 4)}}   `;
    const header = parseHeader(fileOf(h, 4));
    expect([...header.tensors.keys()]).toEqual(["a", "z"]);
    expect(Object.keys(header.metadata)).toEqual([]);
  });

  it("reads only a prefix when given the file size", () => {
    const h = `{"a":${entry("U8", [100], 0, 100)}}`;
    const full = fileOf(h, 100);
    const header = parseHeader(full.subarray(0, 8 + h.length), { fileSize: full.length });
    expect(header.dataLength).toBe(100);
    expect(() => parseHeader(full.subarray(0, 20), { fileSize: full.length })).toThrow(RangeError);
  });

  it("maps the FP8 aliases to the canonical dtypes", () => {
    const h = `{"a":${entry("F8_E4M3FN", [2], 0, 2)},"b":${entry("F8_E8M0FNU", [2], 2, 4)}}`;
    const header = parseHeader(fileOf(h, 4));
    expect(header.tensors.get("a")!.dtype).toBe("F8_E4M3");
    expect(header.tensors.get("b")!.dtype).toBe("F8_E8M0");
  });

  it("has the reference reader's 100 MB header limit by default", () => {
    expect(DEFAULT_LIMITS.maxHeaderBytes).toBe(100_000_000);
  });
});

describe("hostile headers", () => {
  it("rejects a file shorter than the length field", () => {
    expectLowbitError(read(new Uint8Array(5)), "CorruptDataError", CORRUPT, /5 bytes.*8-byte header length/);
  });

  it("rejects a header length of 2^60 at once, without allocating", () => {
    const bytes = new Uint8Array(16);
    new DataView(bytes.buffer).setBigUint64(0, 1n << 60n, true);
    expectLowbitError(read(bytes), "LimitExceededError", LIMIT, /1152921504606846976 exceeds maxHeaderBytes/);
    new DataView(bytes.buffer).setBigUint64(0, 0xffffffffffffffffn, true);
    expectLowbitError(read(bytes), "LimitExceededError", LIMIT, /exceeds maxHeaderBytes \(100000000\)/);
  });

  it("rejects a header longer than the file", () => {
    const bytes = fileOf(`{"a":${entry("U8", [1], 0, 1)}}`, 1);
    new DataView(bytes.buffer).setBigUint64(0, 1000n, true);
    expectLowbitError(
      read(bytes),
      "CorruptDataError",
      CORRUPT,
      /header length 1000 runs past the end of the file/,
    );
  });

  it("honours maxHeaderBytes, maxTensors and maxTotalBytes", () => {
    const h = `{"a":${entry("U8", [4], 0, 4)},"b":${entry("U8", [4], 4, 8)}}`;
    const bytes = fileOf(h, 8);
    expectLowbitError(
      read(bytes, { maxHeaderBytes: h.length - 1 }),
      "LimitExceededError",
      LIMIT,
      /maxHeaderBytes/,
    );
    expect(readSafetensors(bytes, { maxHeaderBytes: h.length }).tensors.size).toBe(2);
    expectLowbitError(
      read(bytes, { maxTensors: 1 }),
      "LimitExceededError",
      LIMIT,
      /2 tensors.*maxTensors \(1\)/,
    );
    expect(readSafetensors(bytes, { maxTensors: 2 }).tensors.size).toBe(2);
    expectLowbitError(
      read(bytes, { maxTotalBytes: 7 }),
      "LimitExceededError",
      LIMIT,
      /8 bytes.*maxTotalBytes \(7\)/,
    );
    expect(readSafetensors(bytes, { maxTotalBytes: 8 }).tensors.size).toBe(2);
  });

  it("rejects bad limits as bad arguments", () => {
    const bytes = fileOf("{}");
    expect(() => readSafetensors(bytes, { maxTensors: -1 })).toThrow(RangeError);
    expect(() => readSafetensors(bytes, { maxTensors: 1.5 })).toThrow(/non-negative safe integer/);
    expect(() => readSafetensors(bytes, { maxHeaderBytes: "9" as unknown as number })).toThrow(TypeError);
    expect(() => readSafetensors([1, 2] as unknown as Uint8Array)).toThrow(TypeError);
  });

  it("rejects non-UTF-8 header bytes", () => {
    const bad = new Uint8Array([0x7b, 0x22, 0xff, 0xfe, 0x22, 0x3a, 0x31, 0x7d]); // {"\xff\xfe":1}
    expectLowbitError(read(fileOfBytes(bad)), "CorruptDataError", CORRUPT, /not valid UTF-8/);
    const overlong = new Uint8Array([0x7b, 0x22, 0xc0, 0xaf, 0x22, 0x3a, 0x31, 0x7d]); // overlong "/"
    expectLowbitError(read(fileOfBytes(overlong)), "CorruptDataError", CORRUPT, /not valid UTF-8/);
  });

  it("rejects JSON that is not an object, and broken JSON", () => {
    expectLowbitError(read(fileOf("[1,2,3]")), "CorruptDataError", CORRUPT, /starting with "\{"/);
    expectLowbitError(read(fileOf('"text"')), "CorruptDataError", CORRUPT, /starting with "\{"/);
    expectLowbitError(read(fileOf(" {}")), "CorruptDataError", CORRUPT, /starting with "\{"/);
    expectLowbitError(read(fileOf("\uFEFF{}")), "CorruptDataError", CORRUPT, /starting with "\{"/);
    expectLowbitError(read(fileOf('{"a":')), "CorruptDataError", CORRUPT, /not valid JSON/);
    expectLowbitError(read(fileOf("{}\0\0")), "CorruptDataError", CORRUPT, /not valid JSON/);
    expectLowbitError(read(fileOf("{} {}")), "CorruptDataError", CORRUPT, /not valid JSON/);
  });

  it("rejects duplicate keys at every level", () => {
    const a = entry("U8", [1], 0, 1);
    expectLowbitError(
      read(fileOf(`{"a":${a},"a":${a}}`, 1)),
      "CorruptDataError",
      CORRUPT,
      /duplicate key "a" at the top/,
    );
    expectLowbitError(
      read(fileOf(`{"a":{"dtype":"U8","dtype":"U8","shape":[1],"data_offsets":[0,1]}}`, 1)),
      "CorruptDataError",
      CORRUPT,
      /duplicate key "dtype" inside "a"/,
    );
    expectLowbitError(
      read(fileOf(`{"__metadata__":{"k":"1","k":"2"}}`)),
      "CorruptDataError",
      CORRUPT,
      /duplicate key "k" inside "__metadata__"/,
    );
    // Escapes are decoded before comparing; keys inside strings and arrays are not keys.
    expectLowbitError(
      read(fileOf(`{"a":${a},"\\u0061":${a}}`, 1)),
      "CorruptDataError",
      CORRUPT,
      /duplicate key "a"/,
    );
    const ok = `{"__metadata__":{"x":"\\"a\\":1,\\"a\\":2","y":"\\\\"},"a":${a}}`;
    expect(readSafetensors(fileOf(ok, 1)).metadata["x"]).toBe('"a":1,"a":2');
  });

  it("rejects metadata that is not a string → string map", () => {
    expectLowbitError(
      read(fileOf(`{"__metadata__":{"n":1}}`)),
      "CorruptDataError",
      CORRUPT,
      /__metadata__\["n"\] must be a string, got number/,
    );
    expectLowbitError(
      read(fileOf(`{"__metadata__":{"o":{}}}`)),
      "CorruptDataError",
      CORRUPT,
      /__metadata__\["o"\] must be a string/,
    );
    expectLowbitError(
      read(fileOf(`{"__metadata__":["a"]}`)),
      "CorruptDataError",
      CORRUPT,
      /__metadata__ must be an object/,
    );
    expectLowbitError(
      read(fileOf(`{"__metadata__":"x"}`)),
      "CorruptDataError",
      CORRUPT,
      /__metadata__ must be an object/,
    );
  });

  it("rejects unknown and unsupported dtypes, naming the tensor", () => {
    expectLowbitError(
      read(fileOf(`{"w":${entry("F128", [1], 0, 16)}}`, 16)),
      "CorruptDataError",
      CORRUPT,
      /tensor "w": unknown dtype "F128"/,
    );
    expectLowbitError(
      read(fileOf(`{"w":${entry("f32", [1], 0, 4)}}`, 4)),
      "CorruptDataError",
      CORRUPT,
      /unknown dtype "f32"/,
    );
    expectLowbitError(
      read(fileOf(`{"w":{"dtype":7,"shape":[1],"data_offsets":[0,1]}}`, 1)),
      "CorruptDataError",
      CORRUPT,
      /tensor "w": unknown dtype number/,
    );
    expectLowbitError(
      read(fileOf(`{"w":${entry("F4", [2], 0, 1)}}`, 1)),
      "UnsupportedError",
      UNSUPPORTED,
      /tensor "w": dtype F4 is not supported/,
    );
    expectLowbitError(
      read(fileOf(`{"w":${entry("C64", [1], 0, 8)}}`, 8)),
      "UnsupportedError",
      UNSUPPORTED,
      /C64/,
    );
  });

  it("rejects malformed entries, shapes and offsets", () => {
    expectLowbitError(
      read(fileOf(`{"w":[1,2]}`)),
      "CorruptDataError",
      CORRUPT,
      /tensor "w": entry must be an object/,
    );
    for (const shape of ["[-1]", "[1.5]", '["2"]', "2", "[9007199254740992]", "null"]) {
      expectLowbitError(
        read(fileOf(`{"w":{"dtype":"U8","shape":${shape},"data_offsets":[0,0]}}`)),
        "CorruptDataError",
        CORRUPT,
        /tensor "w": shape must be an array of non-negative integers/,
      );
    }
    for (const off of ["[0]", "[0,1,2]", "[0,-1]", '[0,"1"]', "{}", "[0, 1.5]"]) {
      expectLowbitError(
        read(fileOf(`{"w":{"dtype":"U8","shape":[1],"data_offsets":${off}}}`, 1)),
        "CorruptDataError",
        CORRUPT,
        /tensor "w": data_offsets must be \[begin, end\]/,
      );
    }
    expectLowbitError(
      read(fileOf(`{"w":${entry("U8", [0], 1, 0)}}`, 1)),
      "CorruptDataError",
      CORRUPT,
      /\[1, 0\] end before they begin/,
    );
  });

  it("rejects a shape whose element count overflows", () => {
    const big = 2 ** 40;
    expectLowbitError(
      read(fileOf(`{"w":${entry("U8", [big, big], 0, 1)}}`, 1)),
      "CorruptDataError",
      CORRUPT,
      /tensor "w": shape \[1099511627776, 1099511627776\] has too many elements/,
    );
  });

  it("rejects offsets past the end of the buffer", () => {
    expectLowbitError(
      read(fileOf(`{"w":${entry("U8", [8], 0, 8)}}`, 4)),
      "CorruptDataError",
      CORRUPT,
      /tensor "w": data_offsets \[0, 8\] run past the end of the data buffer \(4 bytes\)/,
    );
    expectLowbitError(
      read(fileOf(`{"w":${entry("U8", [1], 2 ** 53 - 2, 2 ** 53 - 1)}}`, 4)),
      "CorruptDataError",
      CORRUPT,
      /run past the end/,
    );
  });

  it("rejects a size that does not match dtype × shape", () => {
    expectLowbitError(
      read(fileOf(`{"w":${entry("F32", [2, 3], 0, 20)}}`, 20)),
      "CorruptDataError",
      CORRUPT,
      /tensor "w": F32 × shape \[2, 3\] is 24 bytes but data_offsets \[0, 20\] span 20/,
    );
  });

  it("rejects overlapping tensors", () => {
    const h = `{"a":${entry("F32", [4], 0, 16)},"b":${entry("F32", [4], 8, 24)}}`;
    expectLowbitError(
      read(fileOf(h, 24)),
      "CorruptDataError",
      CORRUPT,
      /tensor "b": data_offsets \[8, 24\] overlap tensor "a", which ends at 16/,
    );
    const same = `{"a":${entry("U8", [4], 0, 4)},"b":${entry("U8", [4], 0, 4)}}`;
    expectLowbitError(read(fileOf(same, 4)), "CorruptDataError", CORRUPT, /overlap tensor "a"/);
  });

  it("rejects gaps between tensors and before the first one", () => {
    const h = `{"a":${entry("U8", [4], 0, 4)},"b":${entry("U8", [4], 8, 12)}}`;
    expectLowbitError(
      read(fileOf(h, 12)),
      "CorruptDataError",
      CORRUPT,
      /tensor "b": data buffer bytes \[4, 8\) before it belong to no tensor/,
    );
    const first = `{"a":${entry("U8", [4], 4, 8)}}`;
    expectLowbitError(
      read(fileOf(first, 8)),
      "CorruptDataError",
      CORRUPT,
      /tensor "a": data buffer bytes \[0, 4\)/,
    );
  });

  it("rejects trailing bytes after the last tensor", () => {
    const h = `{"a":${entry("U8", [4], 0, 4)}}`;
    expectLowbitError(
      read(fileOf(h, 6)),
      "CorruptDataError",
      CORRUPT,
      /data buffer is 6 bytes but the tensors cover 4: 2 trailing bytes/,
    );
    expectLowbitError(read(fileOf("{}", 1)), "CorruptDataError", CORRUPT, /1 trailing bytes/);
  });

  it("names long tensor names shortened", () => {
    const name = "x".repeat(500);
    let message = "";
    try {
      readSafetensors(fileOf(`{"${name}":${entry("BAD", [1], 0, 1)}}`, 1));
    } catch (e) {
      message = (e as Error).message;
    }
    expect(message).toMatch(/x{80}…/);
    expect(message.length).toBeLessThan(300);
  });
});
