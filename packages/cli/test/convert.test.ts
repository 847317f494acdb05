import { existsSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { CorruptDataError } from "@lowbit/bits";
import { getCodec, type SubByteFloatCodec } from "@lowbit/formats";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type ConvertProgress, convertFile, formatNumber, formatsTable, main } from "../src/index.js";
import { bits32, listDir, readBytes, readFloat32, sampleFloats, tempDir, writeBytes } from "./_helpers.js";

// In-process tests of the library API behind the command: chunk boundaries, progress, abort.
let dir = "";
let cleanup = () => {};
beforeAll(() => {
  ({ dir, cleanup } = tempDir());
});
afterAll(() => cleanup());

const at = (name: string) => join(dir, name);

describe("convertFile", () => {
  it("gives the same bytes for every chunk size, sub-byte formats included", async () => {
    const x = sampleFloats(203, 3);
    writeBytes(at("x.f32"), x);
    for (const to of ["float6_e2m3fn", "float4_e2m1fn", "float8_e5m2", "bfloat16", "hifloat8"]) {
      const codec = getCodec(to);
      const codes = codec.encode(x);
      const expected =
        codec.bits < 8
          ? (codec as SubByteFloatCodec).pack(codes as Uint8Array)
          : new Uint8Array(codes.buffer, 0, codes.byteLength);
      for (const chunkElements of [8, 16, 200, 1 << 20]) {
        const r = await convertFile({ input: at("x.f32"), output: at("x.out"), to, chunkElements });
        expect(readBytes(at("x.out")), `${to} chunk ${chunkElements}`).toEqual(expected);
        expect(r).toMatchObject({
          from: "float32",
          to,
          elements: 203,
          bytesIn: 812,
          bytesOut: expected.length,
        });
      }
      // And back through the codec, chunked: the decoded values.
      await convertFile({
        input: at("x.out"),
        output: at("x.back"),
        from: to,
        to: "float32",
        count: 203,
        chunkElements: 24,
      });
      expect(bits32(readFloat32(at("x.back")))).toEqual(bits32(codec.decode(codes)));
    }
  });

  it("reports progress after every chunk, ending at the total", async () => {
    writeBytes(at("p.f32"), sampleFloats(100));
    const seen: ConvertProgress[] = [];
    await convertFile({
      input: at("p.f32"),
      output: at("p.fp4"),
      to: "float4_e2m1fn",
      chunkElements: 32,
      onProgress: (p) => seen.push(p),
    });
    expect(seen.map((p) => p.elements)).toEqual([32, 64, 96, 100]);
    expect(seen.map((p) => p.bytesOut)).toEqual([16, 32, 48, 50]);
    expect(seen.at(-1)).toEqual({ elements: 100, totalElements: 100, bytesIn: 400, bytesOut: 50 });
  });

  it("stochastic chunks do not reuse one random stream", async () => {
    // With a per-call reseed, every 8-element chunk of identical input would get identical codes.
    writeBytes(at("s.f32"), new Float32Array(64).fill(1.0625));
    await convertFile({
      input: at("s.f32"),
      output: at("s.e4m3"),
      to: "float8_e4m3fn",
      rounding: "stochastic",
      seed: 1,
      chunkElements: 8,
    });
    const out = readBytes(at("s.e4m3"));
    const chunks = new Set(Array.from({ length: 8 }, (_, k) => out.subarray(8 * k, 8 * k + 8).join(",")));
    expect(chunks.size).toBeGreaterThan(1);
  });

  it("abort mid-way removes the temporary file and keeps the old output", async () => {
    writeBytes(at("a.f32"), sampleFloats(64));
    writeFileSync(at("a.out"), "old");
    const before = listDir(dir);
    const controller = new AbortController();
    const run = convertFile({
      input: at("a.f32"),
      output: at("a.out"),
      to: "float8_e4m3fn",
      chunkElements: 8,
      signal: controller.signal,
      onProgress: (p) => {
        if (p.elements === 16) controller.abort();
      },
    });
    await expect(run).rejects.toMatchObject({ name: "AbortError" });
    expect(readFileSync(at("a.out"), "utf8")).toBe("old");
    expect(listDir(dir)).toEqual(before);
  });

  it("rejects unpacked sub-byte input with a byte that is not a code", async () => {
    writeFileSync(at("u.fp4"), new Uint8Array([1, 2, 0x1f, 3]));
    const run = convertFile({
      input: at("u.fp4"),
      output: at("u.f32"),
      from: "float4_e2m1fn",
      to: "float32",
      packedInput: false,
    });
    await expect(run).rejects.toThrow(CorruptDataError);
    await expect(run).rejects.toThrow("input element 2 is 0x1f, not a 4-bit float4_e2m1fn code");
    expect(existsSync(at("u.f32"))).toBe(false);
  });

  it("validates its options with TypeError and RangeError", async () => {
    const base = { input: at("p.f32"), output: at("v.out") };
    await expect(convertFile({ ...base, to: "float8" })).rejects.toThrow(
      /^options.to: unknown codec "float8"; known:/,
    );
    await expect(convertFile({ ...base, to: "float16", chunkElements: 12 })).rejects.toThrow(RangeError);
    await expect(convertFile({ ...base, to: "float32", saturate: true })).rejects.toThrow(
      /only when encoding/,
    );
    await expect(convertFile({ ...base, to: 7 as unknown as string })).rejects.toThrow(TypeError);
    expect(existsSync(at("v.out"))).toBe(false);
  });

  it("converts an empty file to an empty file", async () => {
    writeFileSync(at("empty.f32"), new Uint8Array(0));
    const r = await convertFile({ input: at("empty.f32"), output: at("empty.fp4"), to: "float4_e2m1fn" });
    expect(r.elements).toBe(0);
    expect(readBytes(at("empty.fp4")).length).toBe(0);
  });
});

describe("main in-process", () => {
  const sink = (isTTY: boolean) => {
    const out = {
      text: "",
      isTTY,
      columns: 100,
      write(t: string) {
        out.text += t;
        return true;
      },
    };
    return out;
  };

  it("draws a progress bar on a TTY stderr and erases it at the end", async () => {
    writeBytes(at("m.f32"), sampleFloats(50));
    const stdout = sink(false);
    const stderr = sink(true);
    const code = await main(["convert", "--to", "float16", at("m.f32"), at("m.f16")], { stdout, stderr });
    expect(code).toBe(0);
    expect(stderr.text).toContain("100% 50/50");
    expect(stderr.text.startsWith("\r[")).toBe(true);
    expect(stderr.text.endsWith("\r\x1b[K")).toBe(true);
    expect(stdout.text).toMatch(/^float32 -> float16: 50 elements, 200 bytes in, 100 bytes out/);
  });

  it("--quiet prints nothing, even on a TTY", async () => {
    const stdout = sink(false);
    const stderr = sink(true);
    const code = await main(["convert", "-q", "--to", "float16", at("m.f32"), at("m2.f16")], {
      stdout,
      stderr,
    });
    expect(code).toBe(0);
    expect(stdout.text + stderr.text).toBe("");
  });

  it("an aborted signal exits 130", async () => {
    const stderr = sink(false);
    const signal = AbortSignal.abort();
    const code = await main(["convert", "--to", "float16", at("m.f32"), at("m3.f16")], { stderr, signal });
    expect(code).toBe(130);
    expect(stderr.text).toBe("lowbit: interrupted\n");
    expect(existsSync(at("m3.f16"))).toBe(false);
  });
});

describe("formatsTable", () => {
  it("formats numbers compactly and exactly enough to read", () => {
    expect([448, 57344, 0.015625, 2 ** -9, 2 ** -14, 3.3895313892515355e38].map(formatNumber)).toEqual([
      "448",
      "57344",
      "0.015625",
      "1.9531e-3",
      "6.1035e-5",
      "3.3895e+38",
    ]);
    expect(formatsTable().split("\n")[1]).toMatch(
      /^float16\s+16\s+65504\s+6\.1035e-5\s+5\.9605e-8\s+yes\s+yes\s+yes/,
    );
  });
});
