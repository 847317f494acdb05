import { readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { codecNames, getCodec, type SubByteFloatCodec } from "@lowbit/formats";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import {
  assertBuilt,
  bits32,
  listDir,
  lowbit,
  readBytes,
  readFloat32,
  readUint16,
  sampleFloats,
  tempDir,
  writeBytes,
} from "./_helpers.js";

// Every test here runs the built dist/bin.js in a child process, in a fresh temporary directory.
let dir = "";
let cleanup = () => {};
beforeAll(() => {
  assertBuilt();
  ({ dir, cleanup } = tempDir());
});
afterAll(() => cleanup());

const at = (name: string) => join(dir, name);

describe("lowbit formats", () => {
  it("prints an aligned table with all 11 codecs and their limits", () => {
    const r = lowbit(dir, "formats");
    expect(r.code).toBe(0);
    const lines = r.stdout.trimEnd().split("\n");
    expect(lines[0]).toMatch(
      /^name\s+bits\s+max finite\s+min normal\s+min subnormal\s+Inf\s+NaN\s+-0\s+package$/,
    );
    const names = lines.slice(1).map((l) => l.split(/\s+/)[0]);
    expect(names).toEqual(codecNames());
    expect(names).toHaveLength(11);
    // Aligned: the "package" column starts at the same offset on every line.
    const col = lines[0]!.indexOf("package");
    for (const l of lines.slice(1)) expect(l.slice(col)).toMatch(/^@lowbit\/\w+$/);
    expect(lines.find((l) => l.startsWith("float8_e4m3fn "))!.split(/\s+/)).toEqual([
      "float8_e4m3fn",
      "8",
      "448",
      "0.015625",
      "1.9531e-3",
      "no",
      "yes",
      "yes",
      "@lowbit/fp8",
    ]);
    expect(
      lines
        .find((l) => l.startsWith("float4_e2m1fn "))!
        .split(/\s+/)
        .slice(1, 8),
    ).toEqual(["4", "6", "1", "0.5", "no", "no", "yes"]);
  });

  it("--json prints the same data with exact numbers", () => {
    const r = lowbit(dir, "formats", "--json");
    expect(r.code).toBe(0);
    const rows = JSON.parse(r.stdout) as { name: string; bits: number; maxFinite: number; hasInf: boolean }[];
    expect(rows.map((x) => x.name)).toEqual(codecNames());
    for (const row of rows) {
      const c = getCodec(row.name);
      expect(row).toMatchObject({
        bits: c.bits,
        maxFinite: c.maxFinite,
        minNormal: c.minNormal,
        minSubnormal: c.minSubnormal,
        hasInf: c.hasInf,
        hasNaN: c.hasNaN,
        hasNegativeZero: c.hasNegativeZero,
      });
    }
    expect(rows.find((x) => x.name === "bfloat16")!.maxFinite).toBe(3.3895313892515355e38);
  });
});

describe("lowbit convert", () => {
  it("float32 -> float8_e4m3fn writes the library's codes, one byte each", () => {
    const x = sampleFloats(1000);
    writeBytes(at("a.f32"), x);
    const r = lowbit(dir, "convert", "--to", "float8_e4m3fn", "a.f32", "a.e4m3");
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toMatch(
      /^float32 -> float8_e4m3fn: 1000 elements, 4000 bytes in, 1000 bytes out, [\d.]+ s/,
    );
    expect(r.stderr).toBe(""); // not a TTY: no progress bar
    const expected = getCodec("float8_e4m3fn").encode(x);
    expect(readBytes(at("a.e4m3"))).toEqual(expected);
    // Spot-check against the format itself, not only the library: 448 is the max, 464 (the midpoint to the
    // next binade step) ties to even 448, and -500 overflows to NaN because e4m3fn has no Inf.
    expect([...readBytes(at("a.e4m3")).subarray(0, 9)]).toEqual([
      0x00, 0x80, 0x38, 0xb8, 0x30, 0x7e, 0x7e, 0x7e, 0xff,
    ]);
  });

  it("float32 -> float4_e2m1fn packs two codes per byte, low nibble first", () => {
    const x = new Float32Array([0.5, -6, 1, 3, 2.9, -0.25, 100]); // 7 elements -> 4 bytes
    writeBytes(at("b.f32"), x);
    const r = lowbit(dir, "convert", "--to", "float4_e2m1fn", "--quiet", "b.f32", "b.fp4");
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toBe("");
    const fp4 = getCodec("float4_e2m1fn") as SubByteFloatCodec;
    const codes = fp4.encode(x);
    expect([...codes]).toEqual([0x1, 0xf, 0x2, 0x5, 0x5, 0x8, 0x7]);
    const out = readBytes(at("b.fp4"));
    expect(out.length).toBe(Math.ceil(x.length / 2));
    expect([...out]).toEqual([0xf1, 0x52, 0x85, 0x07]);
    expect(out).toEqual(fp4.pack(codes));
  });

  it("float4_e2m1fn -> float32 returns the decoded values (--count for an odd length)", () => {
    const fp4 = getCodec("float4_e2m1fn") as SubByteFloatCodec;
    const x = new Float32Array([0.5, -6, 1, 3, 2.9, -0.25, 100]);
    writeBytes(at("c.f32"), x);
    expect(lowbit(dir, "convert", "--to", "float4_e2m1fn", "c.f32", "c.fp4").code).toBe(0);
    const r = lowbit(
      dir,
      "convert",
      "--from",
      "float4_e2m1fn",
      "--to",
      "float32",
      "--count",
      "7",
      "c.fp4",
      "c2.f32",
    );
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toMatch(/7 elements, 4 bytes in, 28 bytes out/);
    const back = readFloat32(at("c2.f32"));
    expect([...back]).toEqual([0.5, -6, 1, 3, 3, -0, 6]);
    expect(bits32(back)).toEqual(bits32(fp4.decode(fp4.encode(x))));
    // Without --count the padding nibble counts as an eighth element.
    expect(lowbit(dir, "convert", "--from", "float4_e2m1fn", "--to", "float32", "c.fp4", "c3.f32").code).toBe(
      0,
    );
    expect([...readFloat32(at("c3.f32"))]).toEqual([0.5, -6, 1, 3, 3, -0, 6, 0]);
  });

  it("--no-pack writes one byte per code and --unpacked-input reads it back", () => {
    const x = sampleFloats(37, 5);
    writeBytes(at("d.f32"), x);
    const fp6 = getCodec("float6_e3m2fn");
    expect(lowbit(dir, "convert", "--to", "float6_e3m2fn", "--no-pack", "d.f32", "d.fp6").code).toBe(0);
    expect(readBytes(at("d.fp6"))).toEqual(fp6.encode(x));
    const r = lowbit(
      dir,
      "convert",
      "--from",
      "float6_e3m2fn",
      "--unpacked-input",
      "--to",
      "float32",
      "d.fp6",
      "d2.f32",
    );
    expect(r.code, r.stderr).toBe(0);
    expect(bits32(readFloat32(at("d2.f32")))).toEqual(bits32(fp6.decode(fp6.encode(x))));
  });

  it("bfloat16 -> float8_e5m2 equals decode then encode", () => {
    const bf16 = getCodec("bfloat16");
    const e5m2 = getCodec("float8_e5m2");
    const codes = new Uint16Array(65536).map((_, i) => i); // every bfloat16 code, NaNs and Infs included
    writeBytes(at("e.bf16"), codes);
    const r = lowbit(dir, "convert", "--from", "bfloat16", "--to", "float8_e5m2", "e.bf16", "e.e5m2");
    expect(r.code, r.stderr).toBe(0);
    const out = readBytes(at("e.e5m2"));
    expect(out.length).toBe(65536);
    expect(out).toEqual(e5m2.encode(bf16.decode(codes)));
    expect(out[0x3f80]).toBe(0x3c); // 1.0
    expect(out[0x7f80]).toBe(0x7c); // +Inf
  });

  it("float32 -> float16 writes 2 little-endian bytes per code", () => {
    const x = new Float32Array([1, -2, 65504, 1e5, 2 ** -24]);
    writeBytes(at("f.f32"), x);
    expect(lowbit(dir, "convert", "--to", "float16", "f.f32", "f.f16").code).toBe(0);
    expect([...readBytes(at("f.f16"))]).toEqual([0x00, 0x3c, 0x00, 0xc0, 0xff, 0x7b, 0x00, 0x7c, 0x01, 0x00]);
    expect(readUint16(at("f.f16"))).toEqual(getCodec("float16").encode(x));
  });

  it("--saturate maps overflow and Inf to max finite instead of NaN", () => {
    const x = new Float32Array([1000, -1e6, Infinity, -Infinity, Number.NaN, 1]);
    writeBytes(at("g.f32"), x);
    expect(lowbit(dir, "convert", "--to", "float8_e4m3fn", "g.f32", "g.plain").code).toBe(0);
    expect(lowbit(dir, "convert", "--to", "float8_e4m3fn", "--saturate", "g.f32", "g.sat").code).toBe(0);
    expect([...readBytes(at("g.plain"))]).toEqual([0x7f, 0xff, 0x7f, 0xff, 0x7f, 0x38]);
    expect([...readBytes(at("g.sat"))]).toEqual([0x7e, 0xfe, 0x7e, 0xfe, 0x7f, 0x38]);
    expect(readBytes(at("g.sat"))).toEqual(getCodec("float8_e4m3fn").encode(x, { saturate: true }));
  });

  it("stochastic rounding is reproducible from --seed and differs between seeds", () => {
    const x = new Float32Array(4096).fill(1.0625); // halfway-ish between e4m3 neighbours 1 and 1.125
    writeBytes(at("h.f32"), x);
    const run = (seed: string, out: string) =>
      lowbit(
        dir,
        "convert",
        "--to",
        "float8_e4m3fn",
        "--rounding",
        "stochastic",
        "--seed",
        seed,
        "h.f32",
        out,
      );
    expect(run("7", "h1").code).toBe(0);
    expect(run("7", "h2").code).toBe(0);
    expect(run("8", "h3").code).toBe(0);
    const a = readBytes(at("h1"));
    expect(readBytes(at("h2"))).toEqual(a);
    expect(readBytes(at("h3"))).not.toEqual(a);
    const ups = a.filter((c) => c === 0x39).length;
    expect(a.every((c) => c === 0x38 || c === 0x39)).toBe(true);
    expect(ups / a.length).toBeGreaterThan(0.4);
    expect(ups / a.length).toBeLessThan(0.6);
  });

  it("converts in place when IN and OUT are the same file", () => {
    const x = sampleFloats(100, 9);
    writeBytes(at("same.bin"), x);
    const r = lowbit(dir, "convert", "--to", "float8_e5m2", "same.bin", "same.bin");
    expect(r.code, r.stderr).toBe(0);
    expect(readBytes(at("same.bin"))).toEqual(getCodec("float8_e5m2").encode(x));
  });

  it("streams a file larger than one chunk (2^20 + 5 elements)", () => {
    const n = (1 << 20) + 5;
    const x = new Float32Array(n).map((_, i) => (i % 1000) / 7 - 70);
    writeBytes(at("big.f32"), x);
    const r = lowbit(dir, "convert", "--to", "float4_e2m1fn", "big.f32", "big.fp4");
    expect(r.code, r.stderr).toBe(0);
    const fp4 = getCodec("float4_e2m1fn") as SubByteFloatCodec;
    const out = readBytes(at("big.fp4"));
    expect(out.length).toBe(Math.ceil(n / 2));
    expect(out).toEqual(fp4.pack(fp4.encode(x)));
  });
});

describe("errors", () => {
  it("a bad input length exits 1 with a clear message and leaves OUT untouched", () => {
    writeFileSync(at("bad.f32"), new Uint8Array(7));
    writeFileSync(at("keep.out"), "precious");
    const before = listDir(dir);
    const r = lowbit(dir, "convert", "--to", "float8_e4m3fn", "bad.f32", "keep.out");
    expect(r.code).toBe(1);
    expect(r.stderr).toBe(
      "lowbit: input length 7 bytes is not a multiple of 4 bytes (one float32 element)\n",
    );
    expect(readFileSync(at("keep.out"), "utf8")).toBe("precious");
    expect(listDir(dir)).toEqual(before); // no temporary file left
    const r16 = lowbit(dir, "convert", "--from", "bfloat16", "--to", "float32", "bad.f32", "keep.out");
    expect(r16.code).toBe(1);
    expect(r16.stderr).toMatch(/not a multiple of 2 bytes \(one bfloat16 element\)/);
  });

  it("packed input whose size does not match --count exits 1", () => {
    writeFileSync(at("p.fp4"), new Uint8Array(3));
    writeFileSync(at("keep2.out"), "precious");
    const r = lowbit(
      dir,
      "convert",
      "--from",
      "float4_e2m1fn",
      "--to",
      "float32",
      "--count",
      "9",
      "p.fp4",
      "keep2.out",
    );
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(
      /^lowbit: input is 3 bytes, but 9 packed 4-bit float4_e2m1fn elements take 5 bytes\n$/,
    );
    expect(readFileSync(at("keep2.out"), "utf8")).toBe("precious");
  });

  it("an unknown format exits 2 and lists the known names", () => {
    writeBytes(at("ok.f32"), new Float32Array([1, 2]));
    writeFileSync(at("keep3.out"), "precious");
    const r = lowbit(dir, "convert", "--to", "float9_e5m3", "ok.f32", "keep3.out");
    expect(r.code).toBe(2);
    expect(r.stderr).toContain(
      'lowbit: --to: unknown codec "float9_e5m3"; known: float16, bfloat16, float8_e4m3fn',
    );
    for (const name of codecNames()) expect(r.stderr).toContain(name);
    expect(r.stderr).toContain("float32");
    expect(readFileSync(at("keep3.out"), "utf8")).toBe("precious");
    expect(lowbit(dir, "convert", "--from", "int4", "--to", "float16", "ok.f32", "x").stderr).toMatch(
      /^lowbit: --from: unknown codec "int4"/,
    );
  });

  it("missing arguments are usage errors (exit 2)", () => {
    const noOut = lowbit(dir, "convert", "--to", "float16", "ok.f32");
    expect(noOut.code).toBe(2);
    expect(noOut.stderr).toBe(
      "lowbit: expected the files IN and OUT, got 1 argument(s)\nRun 'lowbit convert --help' for usage.\n",
    );
    const noTo = lowbit(dir, "convert", "ok.f32", "x");
    expect(noTo.code).toBe(2);
    expect(noTo.stderr).toMatch(/^lowbit: missing --to <format>\n/);
    const noValue = lowbit(dir, "convert", "ok.f32", "x", "--to");
    expect(noValue.code).toBe(2);
    expect(noValue.stderr).toMatch(/^lowbit: Option '--to <value>' argument missing/);
    const badOption = lowbit(dir, "convert", "--to", "float16", "--fast", "ok.f32", "x");
    expect(badOption.code).toBe(2);
    expect(badOption.stderr).toMatch(/^lowbit: Unknown option '--fast'/);
    const badRounding = lowbit(dir, "convert", "--to", "float16", "--rounding", "up", "ok.f32", "x");
    expect(badRounding.code).toBe(2);
    expect(badRounding.stderr).toMatch(/--rounding must be one of nearest-even, nearest-away, stochastic/);
    const seedAlone = lowbit(dir, "convert", "--to", "float16", "--seed", "1", "ok.f32", "x");
    expect(seedAlone.code).toBe(2);
    expect(lowbit(dir, "convert", "--to", "float32", "--saturate", "ok.f32", "x").code).toBe(2);
    expect(listDir(dir)).not.toContain("x");
  });

  it("a missing input file exits 1 without a stack trace", () => {
    const r = lowbit(dir, "convert", "--to", "float16", "nope.f32", "out.f16");
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/^lowbit: ENOENT: no such file or directory, open '.*nope\.f32'\n$/);
    expect(listDir(dir)).not.toContain("out.f16");
  });

  it("an unknown command exits 2; no arguments print usage and exit 2", () => {
    const r = lowbit(dir, "compress");
    expect(r.code).toBe(2);
    expect(r.stderr).toBe(
      "lowbit: unknown command \"compress\"; commands: formats, convert, inspect, quantize, dequantize, compare, embed, store, hub\nRun 'lowbit --help' for usage.\n",
    );
    const none = lowbit(dir);
    expect(none.code).toBe(2);
    expect(none.stderr).toContain("Usage:");
    expect(none.stdout).toBe("");
  });
});

describe("help and version", () => {
  it("--help lists the commands", () => {
    const r = lowbit(dir, "--help");
    expect(r.code).toBe(0);
    expect(r.stdout).toContain("lowbit formats [--json]");
    expect(r.stdout).toContain("lowbit convert --to <format> [options] IN OUT");
  });

  it("<cmd> --help wins over missing arguments", () => {
    const r = lowbit(dir, "convert", "--help");
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(/^Usage: lowbit convert --to <format>/);
    for (const opt of ["--from", "--saturate", "--rounding", "--seed", "--count", "--no-pack", "--quiet"]) {
      expect(r.stdout).toContain(opt);
    }
    expect(lowbit(dir, "formats", "-h").stdout).toMatch(/^Usage: lowbit formats/);
    expect(lowbit(dir, "help", "convert").stdout).toBe(r.stdout);
  });

  it("--version prints the package version", () => {
    const pkg = JSON.parse(readFileSync(new URL("../package.json", import.meta.url), "utf8")) as {
      version: string;
    };
    const r = lowbit(dir, "--version");
    expect(r.code).toBe(0);
    expect(r.stdout).toBe(`${pkg.version}\n`);
  });
});
