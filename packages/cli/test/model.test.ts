import { copyFileSync, readFileSync, statSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import type { QuantizedTensor, TensorPart } from "@lowbit/bits";
import { dequantize, getCodec, listQuantizers, quantize, sqnrDb } from "@lowbit/formats";
import {
  encodeSafetensors,
  LOWBIT_METADATA_KEY,
  readModel,
  readSafetensors,
  toFloat32,
} from "@lowbit/safetensors";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { assertBuilt, listDir, lowbit, sharedModel, tempDir } from "./_helpers.js";

// The model commands, run as the built dist/bin.js in a child process on a copy of the shared
// faceres.f16 model (127 F16 tensors, 1 I32) in a fresh temporary directory.
let dir = "";
let cleanup = () => {};
let original: ReturnType<typeof readSafetensors>;
const MODEL = "faceres.safetensors";
const at = (name: string) => join(dir, name);

beforeAll(() => {
  assertBuilt();
  ({ dir, cleanup } = tempDir());
  copyFileSync(sharedModel("faceres.f16.safetensors"), at(MODEL));
  original = readSafetensors(new Uint8Array(readFileSync(at(MODEL))));
  // Made once, used by several tests below.
  for (const format of ["float8_e4m3fn", "float4_e2m1fn"]) {
    const r = lowbit(dir, "quantize", "--format", format, MODEL, `${format}.safetensors`);
    if (r.code !== 0) throw new Error(`quantize ${format} failed: ${r.stderr}`);
  }
});
afterAll(() => cleanup());

const bytesOf = (v: ArrayBufferView | TensorPart): Uint8Array => {
  const d = "dtype" in v ? v.data : v;
  return new Uint8Array(d.buffer, d.byteOffset, d.byteLength);
};
/**
 * First index where two byte arrays differ (the shorter length if one is a prefix), or -1 when equal:
 * vitest's toEqual walks large typed arrays element by element, far too slowly for whole tensors.
 */
function firstDifference(a: ArrayBufferView | TensorPart, b: ArrayBufferView | TensorPart): number {
  const x = bytesOf(a);
  const y = bytesOf(b);
  const n = Math.min(x.length, y.length);
  for (let i = 0; i < n; i++) if (x[i] !== y[i]) return i;
  return x.length === y.length ? -1 : n;
}
const readModelFile = (name: string) => readModel(new Uint8Array(readFileSync(at(name))));
const elements = (shape: readonly number[]) => shape.reduce((a, b) => a * b, 1);
/** The documented default rule: floating, at least 2 dimensions, at least 1024 elements. */
const selected = (t: TensorPart) =>
  ["F64", "F32", "F16", "BF16"].includes(t.dtype) && t.shape.length >= 2 && elements(t.shape) >= 1024;

interface InspectJson {
  fileBytes: number;
  metadata: Record<string, string>;
  tensors: {
    name: string;
    type: string;
    quantized: boolean;
    shape: number[];
    elements: number;
    bytes: number;
    bitsPerWeight: number;
    spec?: Record<string, unknown>;
    parts?: { part: string; tensor: string; dtype: string; shape: number[]; bytes: number }[];
  }[];
  byType: { type: string; tensors: number }[];
  total: { tensors: number; elements: number; bytes: number };
}

const inspectJson = (file: string): InspectJson => {
  const r = lowbit(dir, "inspect", "--json", file);
  expect(r.code, r.stderr).toBe(0);
  return JSON.parse(r.stdout) as InspectJson;
};

describe("lowbit inspect", () => {
  it("lists all 128 tensors with their dtypes, shapes and sizes, and totals", () => {
    const r = lowbit(dir, "inspect", MODEL);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stderr).toBe("");
    const lines = r.stdout.split("\n");
    expect(lines[0]).toBe(`${MODEL}: 128 tensors, 6990470 bytes (6.99 MB), header 11648 bytes`);
    expect(r.stdout).toContain("  license: MIT\n");
    const table = lines.slice(lines.indexOf("") + 1);
    expect(table[0]).toMatch(/^name\s+type\s+shape\s+elements\s+bytes\s+bits\s+spec$/);
    const rows = table.slice(1, table.indexOf(""));
    expect(rows).toHaveLength(128);
    expect(rows.map((l) => l.split(/\s+/)[0])).toEqual([...original.tensors.keys()]);
    for (const l of rows) {
      const [name, dtype] = l.split(/\s+/) as [string, string];
      expect(dtype, name).toBe(original.tensors.get(name)!.dtype);
    }
    expect(rows.find((l) => l.startsWith("feats/kernel "))!.split(/\s{2,}/)).toEqual([
      "feats/kernel",
      "F16",
      "[1024, 256]",
      "262144",
      "524288",
      "16",
    ]);
    expect(rows.find((l) => l.startsWith("global_pooling/"))!.split(/\s{2,}/)).toEqual([
      "global_pooling/Mean/reduction_indices",
      "I32",
      "[2]",
      "2",
      "8",
      "32",
    ]);
    expect(r.stdout).toMatch(
      /\nF16 +127 +3489403 +6978806 +16\.00\nI32 +1 +2 +8 +32\.00\ntotal +128 +3489405 +6978814/,
    );
  });

  it("--json holds the same, matching the file", () => {
    const j = inspectJson(MODEL);
    expect(j.fileBytes).toBe(statSync(at(MODEL)).size);
    expect(j.metadata).toEqual(original.metadata);
    expect(j.tensors).toHaveLength(128);
    for (const t of j.tensors) {
      const o = original.tensors.get(t.name)!;
      expect(t).toMatchObject({ type: o.dtype, quantized: false, shape: o.shape, bytes: o.data.byteLength });
    }
    expect(j.byType.map((g) => [g.type, g.tensors])).toEqual([
      ["F16", 127],
      ["I32", 1],
    ]);
  });
});

describe("lowbit quantize", () => {
  it("float8_e4m3fn: the library's parts for the selected tensors, the rest byte-identical, half the size", () => {
    const inSize = statSync(at(MODEL)).size;
    const outSize = statSync(at("float8_e4m3fn.safetensors")).size;
    expect(outSize / inSize).toBeGreaterThan(0.45);
    expect(outSize / inSize).toBeLessThan(0.55);
    const model = readModelFile("float8_e4m3fn.safetensors");
    expect(model.metadata).toEqual(original.metadata);
    expect(model.names).toHaveLength(128);
    let quantized = 0;
    for (const [name, t] of original.tensors) {
      if (!selected(t)) {
        expect(model.tensors.get(name)!.dtype, name).toBe(t.dtype);
        expect(firstDifference(model.tensors.get(name)!, t), name).toBe(-1);
        continue;
      }
      quantized++;
      const qt = model.quantized.get(name)!;
      const expected = quantize(toFloat32(t), t.shape, { format: "float8_e4m3fn" });
      expect(qt.spec, name).toEqual(expected.spec);
      expect(qt.shape).toEqual(t.shape);
      expect(Object.keys(qt.parts).sort()).toEqual(Object.keys(expected.parts).sort());
      for (const p of Object.keys(expected.parts)) {
        expect(firstDifference(qt.parts[p]!, expected.parts[p]!), `${name}.${p}`).toBe(-1);
      }
    }
    expect(quantized).toBe(26);
  });

  it("prints one summary line: tensors, weights, bits per weight, kept tensors, size ratio", () => {
    const r = lowbit(dir, "quantize", "--format", "float8_e4m3fn", MODEL, "again.safetensors");
    expect(r.code, r.stderr).toBe(0);
    expect(r.stderr).toBe(""); // no TTY: no progress bar
    const size = statSync(at("again.safetensors")).size;
    expect(r.stdout).toMatch(
      new RegExp(
        "^float8_e4m3fn: quantized 26 of 128 tensors \\(3471104 of 3489405 weights\\) at 8\\.01 bits/weight; " +
          `kept 101 small, 1 not float; 6990470 -> ${size} bytes \\(0\\.505x\\), 8\\.05 bits/element overall; [\\d.]+ s\\n$`,
      ),
    );
    expect(
      firstDifference(readFileSync(at("again.safetensors")), readFileSync(at("float8_e4m3fn.safetensors"))),
    ).toBe(-1);
  });

  it("inspect shows the lowbit tensors: format, spec, parts, bits per weight", () => {
    const j = inspectJson("float8_e4m3fn.safetensors");
    expect(j.tensors).toHaveLength(128);
    const q = j.tensors.filter((t) => t.quantized);
    expect(q).toHaveLength(26);
    const feats = j.tensors.find((t) => t.name === "feats/kernel")!;
    // 262144 one-byte codes and 1024 float32 channel scales (axis 0).
    expect(feats).toMatchObject({
      type: "float8_e4m3fn",
      shape: [1024, 256],
      elements: 262144,
      bytes: 262144 + 4096,
      bitsPerWeight: ((262144 + 4096) * 8) / 262144,
      spec: { format: "float8_e4m3fn", scaling: "channel", axis: 0, saturate: true },
    });
    expect(feats.parts).toEqual([
      { part: "qdata", tensor: "feats/kernel.qdata", dtype: "F8_E4M3", shape: [1024, 256], bytes: 262144 },
      { part: "scales", tensor: "feats/kernel.scales", dtype: "F32", shape: [1024], bytes: 4096 },
    ]);
    const text = lowbit(dir, "inspect", "float8_e4m3fn.safetensors").stdout;
    expect(text).toMatch(/^float8_e4m3fn\.safetensors: 128 tensors \(26 quantized\), /);
    expect(text).toMatch(
      /\nfeats\/kernel +float8_e4m3fn +\[1024, 256\] +262144 +266240 +8\.13 +axis=0 saturate=true scaling=channel\n/,
    );
    expect(text).toMatch(/\nfloat8_e4m3fn +26 +3471104 +\d+ +8\.01\n/);
  });

  it("--skip leaves every matching tensor byte-identical", () => {
    const r = lowbit(
      dir,
      "quantize",
      "--format",
      "float8_e4m3fn",
      "--skip",
      "^feats/",
      "--skip",
      "conv_pw_1[0-3]/",
      "-q",
      MODEL,
      "skip.safetensors",
    );
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout + r.stderr).toBe("");
    const model = readModelFile("skip.safetensors");
    const skipped = ["feats/kernel", ...[10, 11, 12, 13].map((i) => `conv_pw_${i}/convolution/merged_input`)];
    for (const name of skipped) {
      expect(model.quantized.has(name), name).toBe(false);
      expect(model.tensors.get(name)!.dtype).toBe("F16");
      expect(firstDifference(model.tensors.get(name)!, original.tensors.get(name)!), name).toBe(-1);
    }
    expect(model.quantized.size).toBe(26 - skipped.length);
    expect(model.quantized.has("conv_pw_1/convolution/merged_input")).toBe(true);
  });

  it("--option passes values through (JSON when it parses), --min-elements changes the size rule", () => {
    const r = lowbit(
      dir,
      "quantize",
      "--format",
      "float8_e5m2",
      "--option",
      "scaling=tensor",
      "--option",
      "saturate=false",
      "--min-elements",
      "0",
      MODEL,
      "opt.safetensors",
    );
    expect(r.code, r.stderr).toBe(0);
    const model = readModelFile("opt.safetensors");
    const want = [...original.tensors].filter(([, t]) => t.dtype === "F16" && t.shape.length >= 2);
    expect(model.quantized.size).toBe(want.length);
    expect(want.length).toBeGreaterThan(26);
    for (const [name, t] of want) {
      const qt = model.quantized.get(name)!;
      expect(qt.spec).toEqual({ format: "float8_e5m2", scaling: "tensor", axis: 0, saturate: false });
      const expected = quantize(toFloat32(t), t.shape, {
        format: "float8_e5m2",
        scaling: "tensor",
        saturate: false,
      });
      expect(firstDifference(qt.parts["qdata"]!, expected.parts["qdata"]!), name).toBe(-1);
    }
  });

  it("--on-error fail (default) names the tensor and writes nothing; skip keeps it with a warning", () => {
    writeFileSync(at("keep.out"), "precious");
    const before = listDir(dir);
    // axis 3 exists only for the 4-D conv kernels: the 2-D dense kernels fail.
    const fail = lowbit(
      dir,
      "quantize",
      "--format",
      "float8_e4m3fn",
      "--option",
      "axis=3",
      MODEL,
      "keep.out",
    );
    expect(fail.code).toBe(1);
    expect(fail.stderr).toBe(
      'lowbit: tensor "age_pred/kernel" [256, 100] F16: axis 3 is out of range for shape [256, 100]\n',
    );
    expect(readFileSync(at("keep.out"), "utf8")).toBe("precious");
    expect(listDir(dir)).toEqual(before);

    const skip = lowbit(
      dir,
      "quantize",
      "--format",
      "float8_e4m3fn",
      "--option",
      "axis=3",
      "--on-error",
      "skip",
      MODEL,
      "onerror.safetensors",
    );
    expect(skip.code, skip.stderr).toBe(0);
    expect(skip.stderr).toBe(
      'lowbit: warning: tensor "age_pred/kernel" [256, 100] F16: axis 3 is out of range for shape [256, 100]; kept as F16\n' +
        'lowbit: warning: tensor "feats/kernel" [1024, 256] F16: axis 3 is out of range for shape [1024, 256]; kept as F16\n',
    );
    expect(skip.stdout).toMatch(/quantized 24 of 128 tensors .*kept 101 small, 1 not float, 2 failed;/);
    const model = readModelFile("onerror.safetensors");
    expect(firstDifference(model.tensors.get("feats/kernel")!, original.tensors.get("feats/kernel")!)).toBe(
      -1,
    );
    expect(model.quantized.get("conv_pw_13/convolution/merged_input")!.spec["axis"]).toBe(3);
  });

  it("an error on every tensor fails even with --on-error skip, with one message", () => {
    const r = lowbit(
      dir,
      "quantize",
      "--format",
      "float8_e4m3fn",
      "--option",
      "scaling=rows",
      "--on-error",
      "skip",
      MODEL,
      "keep.out",
    );
    expect(r.code).toBe(1);
    expect(r.stderr).toBe(
      'lowbit: no tensor could be quantized (26 failed); the first: tensor "age_pred/kernel" [256, 100] F16: ' +
        'scaling must be "none" | "tensor" | "channel", got "rows"\n',
    );
    expect(readFileSync(at("keep.out"), "utf8")).toBe("precious");
  });

  it("shorthand flags pass integer options to quantizers that have them", () => {
    const ok = lowbit(
      dir,
      "quantize",
      "-q",
      "--format",
      "nf4",
      "--block-size",
      "128",
      MODEL,
      "nf4-128.safetensors",
    );
    expect(ok.code).toBe(0);
    const model = readModel(new Uint8Array(readFileSync(at("nf4-128.safetensors"))));
    const specs = [...model.quantized.values()].map((q) => q.spec);
    expect(specs.length).toBeGreaterThan(0);
    for (const spec of specs) expect(spec["blockSize"]).toBe(128);
    const bad = lowbit(dir, "quantize", "--format", "float8_e4m3fn", "--codebooks", "2", MODEL, "keep.out");
    expect(bad.code).toBe(2);
    expect(bad.stderr).toMatch(/^lowbit: --codebooks: float8_e4m3fn has no codebooks option/);
    expect(lowbit(dir, "quantize", "--format", "nf4", "--bits", "x", MODEL, "keep.out").code).toBe(2);
  });

  it("--threads trains vq formats on a worker pool with the same codes as one thread", () => {
    // conv1's kernel, [3, 3, 3, 32]: 864 weights in rows of 32, small enough to train in a moment.
    const only = "conv1/convolution/merged_input";
    const small = ["--format", "aq", "--codebooks", "1", "--bits", "6", "--group", "8"];
    small.push("--min-elements", "512", "--skip", `^(?!${only}$)`);
    const one = lowbit(dir, "quantize", "-q", ...small, MODEL, "aq-1.safetensors");
    const two = lowbit(dir, "quantize", "-q", ...small, "--threads", "2", MODEL, "aq-2.safetensors");
    expect([one.code, two.code], one.stderr + two.stderr).toEqual([0, 0]);
    const a = readFileSync(at("aq-1.safetensors"));
    expect(readFileSync(at("aq-2.safetensors")).equals(a)).toBe(true);
    expect(
      readModelFile("aq-1.safetensors").quantized.get("conv1/convolution/merged_input")?.spec["format"],
    ).toBe("aq");
    const bad = lowbit(dir, "quantize", "--format", "int4", "--threads", "2", MODEL, "keep.out");
    expect(bad.code).toBe(2);
    expect(bad.stderr).toMatch(/^lowbit: --threads: only the vector quantizers/);
  });

  it("usage errors exit 2 before reading the input: unknown format, --group, unknown or mistyped options", () => {
    const run = (...args: string[]) => lowbit(dir, "quantize", ...args, MODEL, "keep.out");
    const unknown = run("--format", "float9_e5m3");
    expect(unknown.code).toBe(2);
    expect(unknown.stderr).toMatch(
      /^lowbit: --format: unknown format "float9_e5m3"; known: float16, bfloat16, /,
    );
    for (const q of listQuantizers()) expect(unknown.stderr).toContain(q.name);
    expect(unknown.stderr).toMatch(/\nRun 'lowbit quantize --help' for usage\.\n$/);

    const group = run("--format", "float8_e4m3fn", "--group", "32");
    expect(group.code).toBe(2);
    expect(group.stderr).toMatch(
      /^lowbit: --group: float8_e4m3fn has no group option \(its options: scaling, axis, saturate\)\n/,
    );
    const option = run("--format", "float8_e4m3fn", "--option", "blockSize=64");
    expect(option.code).toBe(2);
    expect(option.stderr).toMatch(
      /^lowbit: --option: unknown option "blockSize" for float8_e4m3fn; its options: scaling, axis, saturate\n/,
    );
    const typed = run("--format", "float8_e4m3fn", "--option", "saturate=yes");
    expect(typed.code).toBe(2);
    expect(typed.stderr).toMatch(/^lowbit: --option: float8_e4m3fn options: saturate must be a boolean\n/);
    expect(run("--format", "float8_e4m3fn", "--option", "format=float16").code).toBe(2);
    expect(run("--format", "float8_e4m3fn", "--option", "noequals").code).toBe(2);
    expect(run("--format", "float8_e4m3fn", "--option", "axis=1", "--option", "axis=0").code).toBe(2);
    expect(run("--format", "float8_e4m3fn", "--on-error", "ignore").stderr).toMatch(
      /^lowbit: --on-error must be one of fail, skip; got "ignore"/,
    );
    expect(run("--format", "float8_e4m3fn", "--skip", "(").stderr).toMatch(
      /^lowbit: --skip: Invalid regular/,
    );
    expect(run("--format", "float8_e4m3fn", "--min-elements", "-1").code).toBe(2);
    expect(run().stderr).toMatch(/^lowbit: missing --format <name>\n/);
    const one = lowbit(dir, "quantize", "--format", "float16", MODEL);
    expect(one.code).toBe(2);
    expect(one.stderr).toMatch(/^lowbit: expected the files IN and OUT, got 1 argument\(s\)\n/);
    expect(readFileSync(at("keep.out"), "utf8")).toBe("precious");
  });
});

describe("lowbit dequantize", () => {
  it("--dtype f16 restores the quantized tensors as dequantize() rounded to F16, keeps the rest", () => {
    const r = lowbit(
      dir,
      "dequantize",
      "--dtype",
      "f16",
      "float8_e4m3fn.safetensors",
      "restored.safetensors",
    );
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toMatch(
      /^dequantized 26 of 128 tensors \(float8_e4m3fn, 3471104 weights\) to F16; \d+ -> \d+ bytes; [\d.]+ s\n$/,
    );
    const out = readSafetensors(new Uint8Array(readFileSync(at("restored.safetensors"))));
    // A plain safetensors file: the original metadata, no lowbit key, every original name and dtype.
    expect(out.metadata).toEqual(original.metadata);
    expect(Object.hasOwn(out.metadata, LOWBIT_METADATA_KEY)).toBe(false);
    expect([...out.tensors.keys()].sort()).toEqual([...original.tensors.keys()].sort());
    const f16 = getCodec("float16");
    for (const [name, t] of original.tensors) {
      const got = out.tensors.get(name)!;
      expect(got.dtype, name).toBe(t.dtype);
      expect(got.shape, name).toEqual(t.shape);
      if (!selected(t)) {
        expect(firstDifference(got, t), name).toBe(-1);
        continue;
      }
      // The in-memory quantized tensor, dequantized, converted to float16.
      const qt = quantize(toFloat32(t), t.shape, { format: "float8_e4m3fn" });
      expect(firstDifference(got.data, f16.encode(dequantize(qt))), name).toBe(-1);
    }
  });

  it("--dtype f32 (the default) is exact; bf16 rounds; a bad --dtype is a usage error", () => {
    expect(lowbit(dir, "dequantize", "-q", "float4_e2m1fn.safetensors", "r32.safetensors").code).toBe(0);
    expect(
      lowbit(dir, "dequantize", "-q", "--dtype", "bf16", "float4_e2m1fn.safetensors", "rbf.safetensors").code,
    ).toBe(0);
    const q = readModelFile("float4_e2m1fn.safetensors");
    const r32 = readSafetensors(new Uint8Array(readFileSync(at("r32.safetensors"))));
    const rbf = readSafetensors(new Uint8Array(readFileSync(at("rbf.safetensors"))));
    const bf16 = getCodec("bfloat16");
    for (const [name, qt] of q.quantized) {
      const values = dequantize(qt as QuantizedTensor);
      expect(r32.tensors.get(name)).toMatchObject({ dtype: "F32", shape: qt.shape });
      expect(firstDifference(r32.tensors.get(name)!.data, values), name).toBe(-1);
      expect(rbf.tensors.get(name)!.dtype).toBe("BF16");
      expect(firstDifference(rbf.tensors.get(name)!.data, bf16.encode(values)), name).toBe(-1);
    }
    const bad = lowbit(dir, "dequantize", "--dtype", "f8", "float4_e2m1fn.safetensors", "x.safetensors");
    expect(bad.code).toBe(2);
    expect(bad.stderr).toMatch(/^lowbit: --dtype must be one of f32, f16, bf16; got "f8"\n/);
  });
});

interface CompareJson {
  tensors: {
    name: string;
    elements: number;
    a: { type: string; bitsPerWeight: number };
    b: { type: string; quantized: boolean; bitsPerWeight: number };
    relativeMse: number | string;
    sqnrDb: number | string;
    maxAbsError: number | string;
  }[];
  total: { tensors: number; elements: number; sqnrDb: number; relativeMse: number; bBitsPerWeight: number };
  onlyInA: string[];
  onlyInB: string[];
  shapeMismatch: { name: string; a: number[]; b: number[] }[];
}

describe("lowbit compare", () => {
  const compare = (b: string): CompareJson => {
    const r = lowbit(dir, "compare", "--json", MODEL, b);
    expect(r.code, r.stderr).toBe(0);
    return JSON.parse(r.stdout) as CompareJson;
  };

  it("float8_e4m3fn: SQNR above 25 dB, per-tensor metrics equal the library's, exact tensors Infinity", () => {
    const j = compare("float8_e4m3fn.safetensors");
    expect(j.tensors).toHaveLength(128);
    expect(j.onlyInA).toEqual([]);
    expect(j.onlyInB).toEqual([]);
    expect(j.total.tensors).toBe(128);
    expect(j.total.elements).toBe(3489405);
    expect(j.total.sqnrDb).toBeGreaterThan(25);
    expect(j.total.bBitsPerWeight).toBeGreaterThan(8);
    expect(j.total.bBitsPerWeight).toBeLessThan(8.2);
    const model = readModelFile("float8_e4m3fn.safetensors");
    let weighted = 0;
    for (const row of j.tensors) {
      const ref = toFloat32(original.tensors.get(row.name)!);
      const qt = model.quantized.get(row.name);
      if (qt === undefined) {
        expect(row, row.name).toMatchObject({ relativeMse: 0, sqnrDb: "Infinity", maxAbsError: 0 });
        expect(row.b.quantized).toBe(false);
        continue;
      }
      expect(row.b).toMatchObject({ type: "float8_e4m3fn", quantized: true });
      expect(row.a).toMatchObject({ type: "F16", bitsPerWeight: 16 });
      expect(row.sqnrDb, row.name).toBeCloseTo(sqnrDb(ref, dequantize(qt)), 10);
      weighted += row.elements * (row.relativeMse as number);
    }
    expect(j.total.relativeMse).toBeCloseTo(weighted / j.total.elements, 15);
  });

  it("float4_e2m1fn is worse than float8_e4m3fn, at fewer bits", () => {
    const e4m3 = compare("float8_e4m3fn.safetensors");
    const fp4 = compare("float4_e2m1fn.safetensors");
    expect(fp4.total.sqnrDb).toBeLessThan(e4m3.total.sqnrDb - 10);
    expect(fp4.total.bBitsPerWeight).toBeLessThan(4.2);
  });

  it("prints a table with a total line, and lists names in one file only and shape mismatches", () => {
    const f32 = (shape: number[], values: number[]): TensorPart => ({
      dtype: "F32",
      shape,
      data: new Float32Array(values),
    });
    writeFileSync(
      at("a.safetensors"),
      encodeSafetensors({ w: f32([2, 2], [1, -2, 3, -4]), onlyA: f32([1], [0]), v: f32([2], [1, 2]) }),
    );
    writeFileSync(
      at("b.safetensors"),
      encodeSafetensors({ w: f32([2, 2], [1, -2, 3, -3]), onlyB: f32([1], [0]), v: f32([1, 2], [1, 2]) }),
    );
    const r = lowbit(dir, "compare", "a.safetensors", "b.safetensors");
    expect(r.code, r.stderr).toBe(0);
    // relative MSE 1/30; SQNR 10·log10(30).
    expect(r.stdout).toBe(
      [
        "A: a.safetensors",
        "B: b.safetensors",
        "",
        "name                                 shape   elements  A    bits A  B    bits B  rel MSE  SQNR dB  max abs err",
        "w                                    [2, 2]         4  F32      32  F32      32  3.33e-2    14.77      1.00e+0",
        "total (1 tensors, element-weighted)                 4           32           32  3.33e-2    14.77      1.00e+0",
        'only in A (1): "onlyA"',
        'only in B (1): "onlyB"',
        'not compared, shapes differ: "v" [2] in A, [1, 2] in B',
        "",
      ].join("\n"),
    );
  });
});

describe("bad input files", () => {
  it("a truncated file exits 1 with the reader's message, no stack, and OUT untouched", () => {
    const bytes = readFileSync(at(MODEL));
    writeFileSync(at("truncated.safetensors"), bytes.subarray(0, 3_000_000));
    writeFileSync(at("keep2.out"), "precious");
    const before = listDir(dir);
    const message =
      'lowbit: truncated.safetensors: tensor "conv_pw_10/convolution/merged_input": data_offsets ' +
      "[2733274, 3257562] run past the end of the data buffer (2988344 bytes)\n";
    for (const args of [
      ["quantize", "--format", "float8_e4m3fn", "truncated.safetensors", "keep2.out"],
      ["dequantize", "truncated.safetensors", "keep2.out"],
      ["inspect", "truncated.safetensors"],
      ["compare", MODEL, "truncated.safetensors"],
    ]) {
      const r = lowbit(dir, ...args);
      expect(r.code, args[0]).toBe(1);
      expect(r.stderr, args[0]).toBe(message);
    }
    expect(readFileSync(at("keep2.out"), "utf8")).toBe("precious");
    expect(listDir(dir)).toEqual(before);
    // Shorter than its own header.
    writeFileSync(at("stub.safetensors"), bytes.subarray(0, 100));
    expect(lowbit(dir, "inspect", "stub.safetensors").stderr).toBe(
      "lowbit: stub.safetensors: safetensors header length 11648 runs past the end of the file (100 bytes, 92 after the length)\n",
    );
  });

  it("a corrupt quantized part exits 1 naming the file and tensor", () => {
    // Cut the scales of one quantized tensor: the header stays valid, dequantize refuses the part.
    const model = readModelFile("float8_e4m3fn.safetensors");
    const tensors: Record<string, TensorPart> = {};
    const file = readSafetensors(new Uint8Array(readFileSync(at("float8_e4m3fn.safetensors"))));
    for (const [name, t] of file.tensors) tensors[name] = t;
    tensors["feats/kernel.scales"] = { dtype: "F32", shape: [3], data: new Float32Array(3) };
    writeFileSync(at("badpart.safetensors"), encodeSafetensors(tensors, { ...file.metadata }));
    expect(model.quantized.has("feats/kernel")).toBe(true);
    const r = lowbit(dir, "dequantize", "badpart.safetensors", "keep2.out");
    expect(r.code).toBe(1);
    expect(r.stderr).toBe(
      'lowbit: badpart.safetensors: tensor "feats/kernel": float8_e4m3fn scales must be 1024 float32 values\n',
    );
    expect(readFileSync(at("keep2.out"), "utf8")).toBe("precious");
  });

  it("a missing file exits 1 with the system's message", () => {
    const r = lowbit(dir, "inspect", "nope.safetensors");
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/^lowbit: ENOENT: no such file or directory, open 'nope\.safetensors'\n$/);
  });
});

describe("help", () => {
  it("every model command has --help, and the main help lists them", () => {
    const main = lowbit(dir, "--help").stdout;
    for (const [command, usage] of [
      ["inspect", "lowbit inspect [--json] FILE"],
      ["quantize", "lowbit quantize --format <name> [options] IN OUT"],
      ["dequantize", "lowbit dequantize [--dtype f32|f16|bf16] IN OUT"],
      ["compare", "lowbit compare [--json] A B"],
    ] as const) {
      expect(main).toContain(usage);
      const r = lowbit(dir, command, "--help");
      expect(r.code).toBe(0);
      expect(r.stdout.startsWith(`Usage: ${usage}\n`)).toBe(true);
    }
    const q = lowbit(dir, "help", "quantize").stdout;
    for (const opt of [
      "--format",
      "--group",
      "--option",
      "--skip",
      "--min-elements",
      "--on-error",
      "--quiet",
    ]) {
      expect(q).toContain(opt);
    }
  });
});
