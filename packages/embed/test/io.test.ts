import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { parseNpy, readInt32Matrix, readVectors } from "../src/index.js";

const dir = mkdtempSync(join(tmpdir(), "lowbit-embed-io-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));
let fileNo = 0;
function file(bytes: Uint8Array | ArrayBufferView, ext = ".npy"): string {
  const path = join(dir, `f${fileNo++}${ext}`);
  writeFileSync(path, new Uint8Array(bytes.buffer, bytes.byteOffset, bytes.byteLength));
  return path;
}

const latin1 = (s: string) => Uint8Array.from(s, (c) => c.charCodeAt(0));

/**
 * An NPY file built byte by byte as the format describes: magic "\x93NUMPY", version, header length
 * (uint16 for 1.0, uint32 for 2.0/3.0), the dict text padded with spaces and ended by "\n" so the
 * data starts at a multiple of 64, then the data.
 */
function npy(dict: string, data: Uint8Array, version: 1 | 2 | 3 = 1, pad = true): Uint8Array {
  const pre = version === 1 ? 10 : 12;
  let header = dict;
  if (pad) {
    const total = pre + header.length + 1;
    header += " ".repeat((64 - (total % 64)) % 64);
  }
  header += "\n";
  const out = new Uint8Array(pre + header.length + data.length);
  out.set([0x93, 0x4e, 0x55, 0x4d, 0x50, 0x59, version, 0]);
  const view = new DataView(out.buffer);
  if (version === 1) view.setUint16(8, header.length, true);
  else view.setUint32(8, header.length, true);
  out.set(latin1(header), pre);
  out.set(data, pre + header.length);
  return out;
}

const bytesOf = (a: ArrayBufferView) => new Uint8Array(a.buffer, a.byteOffset, a.byteLength);
const f32dict = (shape: string, descr = "<f4") =>
  `{'descr': '${descr}', 'fortran_order': False, 'shape': ${shape}, }`;

// 3 × 4 float32, values with exact float16 and float64 forms.
const M = Float32Array.from({ length: 12 }, (_, i) => (i - 5) * 0.25);

describe("parseNpy", () => {
  it("parses a v1.0 float32 matrix: shape, dtype, data offset at a multiple of 64", () => {
    const a = parseNpy(npy(f32dict("(3, 4)"), bytesOf(M)));
    expect(a).toMatchObject({ dtype: "float32", shape: [3, 4], version: "1.0", dataOffset: 128 });
    expect(new Float32Array(a.data.slice().buffer)).toEqual(M);
  });

  it("reads v2.0 and v3.0 headers, 1-D and trailing-comma shapes, double quotes", () => {
    expect(parseNpy(npy(f32dict("(12,)"), bytesOf(M), 2)).shape).toEqual([12]);
    expect(
      parseNpy(npy(`{"descr": "<f4", "fortran_order": False, "shape": (2, 6)}`, bytesOf(M), 3)).shape,
    ).toEqual([2, 6]);
    expect(parseNpy(npy(f32dict("(0, 4)"), new Uint8Array(0))).shape).toEqual([0, 4]);
  });

  it("rejects bad magic, truncation, trailing bytes, malformed headers as CorruptDataError", () => {
    const good = npy(f32dict("(3, 4)"), bytesOf(M));
    const bad = good.slice();
    bad[1] = 0x41;
    const corrupt = { name: "CorruptDataError", code: "ERR_CORRUPT" };
    expect(() => parseNpy(bad)).toThrow(expect.objectContaining(corrupt));
    expect(() => parseNpy(good.subarray(0, good.length - 1))).toThrow(
      /truncated: shape \(3, 4\) of float32 needs 48 bytes/,
    );
    expect(() => parseNpy(good.subarray(0, 30))).toThrow(/truncated inside its header/);
    expect(() => parseNpy(good.subarray(0, 7))).toThrow(/truncated inside its preamble/);
    const extra = new Uint8Array(good.length + 4);
    extra.set(good);
    expect(() => parseNpy(extra)).toThrow(/4 bytes after the data/);
    for (const dict of [
      "{'descr': '<f4', 'fortran_order': False}", // no shape
      "{'descr': '<f4', 'fortran_order': 0, 'shape': (3, 4)}", // not a boolean
      "{'descr': '<f4', 'fortran_order': False, 'shape': (3, -4)}",
      "{'descr': '<f4', 'fortran_order': False, 'shape': (3, 4), 'x': 'y'}",
      "{'descr': '<f4', 'fortran_order': False, 'shape': [3, 4]}",
      "{'descr': '<f4', 'fortran_order': False, 'shape': (3, 4)} junk",
      "{'descr': '<f4', 'descr': '<f4', 'fortran_order': False, 'shape': (3, 4)}",
      "{'descr': __import__('os'), 'fortran_order': False, 'shape': (3, 4)}",
      "{'descr': '<f4', 'fortran_order': False, 'shape': (3, 4)",
    ]) {
      expect(() => parseNpy(npy(dict, bytesOf(M))), dict).toThrow(expect.objectContaining(corrupt));
    }
  });

  it("rejects valid but unsupported arrays with ERR_UNSUPPORTED and says why", () => {
    const unsupported = { code: "ERR_UNSUPPORTED" };
    expect(() => parseNpy(npy(f32dict("(3, 4)", ">f4"), bytesOf(M)))).toThrow(/">f4" is not supported/);
    expect(() => parseNpy(npy(f32dict("(12,)", "|u1"), new Uint8Array(12)))).toThrow(
      expect.objectContaining(unsupported),
    );
    expect(() =>
      parseNpy(npy("{'descr': '<f4', 'fortran_order': True, 'shape': (3, 4), }", bytesOf(M))),
    ).toThrow(/Fortran/);
    // A 1-D array flagged Fortran order is the same bytes as C order.
    expect(
      parseNpy(npy("{'descr': '<f4', 'fortran_order': True, 'shape': (12,), }", bytesOf(M))).shape,
    ).toEqual([12]);
    const v4 = npy(f32dict("(3, 4)"), bytesOf(M));
    v4[6] = 4;
    expect(() => parseNpy(v4)).toThrow(/version 4.0 is not supported/);
  });

  it("limits the header size before reading it (ERR_LIMIT)", () => {
    const big = npy(f32dict("(3, 4)") + " ".repeat(5000), bytesOf(M), 2);
    expect(() => parseNpy(big, { maxHeaderBytes: 1024 })).toThrow(
      expect.objectContaining({ code: "ERR_LIMIT" }),
    );
    expect(parseNpy(big).shape).toEqual([3, 4]);
    // An announced 4 GiB header in a tiny file: the limit fires, nothing is allocated.
    const liar = npy(f32dict("(3, 4)"), bytesOf(M), 2);
    new DataView(liar.buffer).setUint32(8, 0xffffffff, true);
    expect(() => parseNpy(liar)).toThrow(/header is 4294967295 bytes; the limit is 65536/);
  });

  it("checks its arguments", () => {
    expect(() => parseNpy([1, 2, 3] as unknown as Uint8Array)).toThrow(TypeError);
    expect(() => parseNpy(new Uint8Array(0), { maxHeaderBytes: -1 })).toThrow(RangeError);
  });
});

describe("readVectors", () => {
  it("reads raw float32 with dim, and a row slice with one positioned read", async () => {
    const path = file(M, ".f32");
    const all = await readVectors(path, { dim: 4 });
    expect(all).toMatchObject({ count: 3, dim: 4, format: "raw-float32", dtype: "float32" });
    expect(all.vectors).toEqual(M);
    const slice = await readVectors(path, { dim: 4, offset: 1, count: 1 });
    expect(slice.vectors).toEqual(M.subarray(4, 8));
    await expect(readVectors(path, { dim: 4, offset: 2, count: 2 })).rejects.toThrow(
      /rows \[2, 4\) requested, but .* has 3 rows/,
    );
  });

  it("needs dim for raw files and a whole number of rows", async () => {
    const path = file(M, ".f32");
    await expect(readVectors(path)).rejects.toThrow(
      /raw float32 file \(no NPY header\): give its row length/,
    );
    await expect(readVectors(path, { dim: 5 })).rejects.toThrow(
      expect.objectContaining({
        code: "ERR_CORRUPT",
        message: expect.stringMatching(/48 bytes is not a whole number of rows of 5/),
      }),
    );
    await expect(readVectors(path, { dim: 0 })).rejects.toThrow(RangeError);
  });

  it("reads .npy float32, float16 and float64 as float32; checks dim against the file", async () => {
    const f32 = await readVectors(file(npy(f32dict("(3, 4)"), bytesOf(M))));
    expect(f32).toMatchObject({ count: 3, dim: 4, format: "npy", dtype: "float32" });
    expect(f32.vectors).toEqual(M);
    // float16 bits of (i − 5) / 4: exact in float16.
    const h = Uint16Array.from(M, (v) => {
      if (v === 0) return 0;
      const sign = v < 0 ? 0x8000 : 0;
      const a = Math.abs(v);
      const e = Math.floor(Math.log2(a));
      return sign | ((e + 15) << 10) | Math.round((a / 2 ** e - 1) * 1024);
    });
    const f16 = await readVectors(file(npy(f32dict("(3, 4)", "<f2"), bytesOf(h))), { dim: 4 });
    expect(f16.dtype).toBe("float16");
    expect(f16.vectors).toEqual(M);
    const wide = Float64Array.from(M, (v) => v * (1 + 2 ** -40)); // rounds back to the float32 value
    const f64 = await readVectors(file(npy(f32dict("(3, 4)", "<f8"), bytesOf(wide))));
    expect(f64.vectors).toEqual(M);
    await expect(readVectors(file(npy(f32dict("(3, 4)"), bytesOf(M))), { dim: 3 })).rejects.toThrow(
      /options.dim is 3, but .* holds rows of 4 values/,
    );
    // A 1-D array is one row; an offset slice of an .npy file reads the right rows.
    expect((await readVectors(file(npy(f32dict("(12,)"), bytesOf(M))))).dim).toBe(12);
    const last = await readVectors(file(npy(f32dict("(3, 4)"), bytesOf(M))), { offset: 2 });
    expect(last.vectors).toEqual(M.subarray(8));
  });

  it("recognises NPY by its magic whatever the name; rejects truncated and unsupported files", async () => {
    expect((await readVectors(file(npy(f32dict("(3, 4)"), bytesOf(M)), ".f32"))).format).toBe("npy");
    const good = npy(f32dict("(3, 4)"), bytesOf(M));
    await expect(readVectors(file(good.subarray(0, good.length - 3)))).rejects.toThrow(
      expect.objectContaining({ code: "ERR_CORRUPT", message: expect.stringMatching(/is truncated/) }),
    );
    await expect(readVectors(file(npy(f32dict("(2, 2, 3)"), bytesOf(M))))).rejects.toThrow(/not a matrix/);
    await expect(readVectors(file(npy(f32dict("(3, 4)", "<i4"), bytesOf(M))))).rejects.toThrow(
      /not a float type/,
    );
    await expect(readVectors(file(npy(f32dict("(3, 4)"), bytesOf(M))), { maxBytes: 47 })).rejects.toThrow(
      expect.objectContaining({ code: "ERR_LIMIT" }),
    );
    await expect(readVectors(join(dir, "missing.f32"), { dim: 4 })).rejects.toThrow(
      expect.objectContaining({ code: "ENOENT" }),
    );
  });
});

describe("readInt32Matrix", () => {
  const ids = Int32Array.from({ length: 6 }, (_, i) => 100 - i);
  it("reads raw int32 with cols", async () => {
    const m = await readInt32Matrix(file(ids, ".i32"), 3);
    expect(m).toMatchObject({ rows: 2, cols: 3 });
    expect(m.data).toEqual(ids);
    await expect(readInt32Matrix(file(ids, ".i32"), 4)).rejects.toThrow(
      /not a whole number of rows of 4 int32/,
    );
    await expect(readInt32Matrix(file(ids, ".i32"))).rejects.toThrow(/give its row length/);
    // Without cols, a known row count (one row per query) gives the row length.
    expect(await readInt32Matrix(file(ids, ".i32"), undefined, { rows: 3 })).toMatchObject({
      rows: 3,
      cols: 2,
    });
    await expect(readInt32Matrix(file(ids, ".i32"), undefined, { rows: 4 })).rejects.toThrow(
      expect.objectContaining({
        code: "ERR_CORRUPT",
        message: expect.stringMatching(/24 bytes is not 4 equal rows/),
      }),
    );
    await expect(readInt32Matrix(file(ids, ".i32"), 3, { rows: 3 })).rejects.toThrow(
      /options.rows is 3, but .* holds 2 rows/,
    );
  });

  it("reads int32 and int64 .npy; an int64 beyond int32 is corrupt", async () => {
    const m = await readInt32Matrix(file(npy(f32dict("(2, 3)", "<i4"), bytesOf(ids))));
    expect(m).toMatchObject({ rows: 2, cols: 3 });
    expect(m.data).toEqual(ids);
    const wide = BigInt64Array.from(ids, (v) => BigInt(v));
    expect((await readInt32Matrix(file(npy(f32dict("(2, 3)", "<i8"), bytesOf(wide))), 3)).data).toEqual(ids);
    wide[4] = 2n ** 40n;
    await expect(readInt32Matrix(file(npy(f32dict("(2, 3)", "<i8"), bytesOf(wide))))).rejects.toThrow(
      /int64 value 1099511627776 at element 4 does not fit in int32/,
    );
    await expect(readInt32Matrix(file(npy(f32dict("(2, 3)", "<i4"), bytesOf(ids))), 2)).rejects.toThrow(
      RangeError,
    );
  });
});
