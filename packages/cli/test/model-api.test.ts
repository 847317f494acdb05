import { copyFileSync, existsSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import type { TensorPart } from "@lowbit/bits";
import { encodeSafetensors, readModel, readSafetensors } from "@lowbit/safetensors";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import {
  checkQuantizeOptions,
  compareFiles,
  compareJson,
  compareText,
  dequantizeFile,
  type FileProgress,
  main,
  quantizeFile,
} from "../src/index.js";
import { listDir, sharedModel, tempDir } from "./_helpers.js";

// In-process tests of the model commands' library API: progress, abort, edge cases of the metrics.
let dir = "";
let cleanup = () => {};
const MODEL = "faceres.safetensors";
const at = (name: string) => join(dir, name);
beforeAll(() => {
  ({ dir, cleanup } = tempDir());
  copyFileSync(sharedModel("faceres.f16.safetensors"), at(MODEL));
});
afterAll(() => cleanup());

const sink = (isTTY: boolean) => {
  const out = {
    text: "",
    isTTY,
    columns: 120,
    write(t: string) {
      out.text += t;
      return true;
    },
  };
  return out;
};

const f32 = (shape: number[], values: number[]): TensorPart => ({
  dtype: "F32",
  shape,
  data: new Float32Array(values),
});

describe("quantizeFile", () => {
  it("reports progress per tensor, then per bytes written", async () => {
    const seen: FileProgress[] = [];
    const r = await quantizeFile({
      input: at(MODEL),
      output: at("p.safetensors"),
      format: "float8_e4m3fn",
      onProgress: (p) => seen.push(p),
    });
    const tensors = seen.filter((p) => p.stage === "tensors");
    expect(tensors.map((p) => p.done)).toEqual(Array.from({ length: 128 }, (_, i) => i + 1));
    expect(tensors[0]).toMatchObject({ stage: "tensors", done: 1, total: 128, tensor: "age_pred/kernel" });
    // The size-weighted fraction only grows and ends at 1.
    const fractions = tensors.map((p) => p.fraction!);
    expect(fractions.every((f, i) => i === 0 || f >= fractions[i - 1]!)).toBe(true);
    expect(fractions.at(-1)).toBe(1);
    const writes = seen.filter((p) => p.stage === "write");
    expect(writes.length).toBeGreaterThan(0);
    expect(writes.at(-1)).toEqual({ stage: "write", done: r.bytesOut, total: r.bytesOut });
    expect(seen.findIndex((p) => p.stage === "write")).toBe(128); // writing starts after the last tensor
    expect(r.quantized.tensors).toBe(26);
    expect(r.tensors.find((t) => t.name === "feats/kernel")).toMatchObject({
      action: "quantized",
      type: "F16",
      bytes: 262144 + 4096,
    });
    expect(r.tensors.find((t) => t.name === "feats/bias")!.action).toBe("small");
    expect(r.tensors.find((t) => t.name.startsWith("global_pooling"))!.action).toBe("not-float");
  });

  it("reports progress inside a tensor (vq formats) and stops cleanly on an abort mid-tensor", async () => {
    const rng = (i: number) =>
      Math.sin(i * 12.9898) * 43758.5453 - Math.floor(Math.sin(i * 12.9898) * 43758.5453);
    const w = Array.from({ length: 64 * 128 }, (_, i) => rng(i) - 0.5);
    writeFileSync(
      at("small.safetensors"),
      encodeSafetensors(
        new Map([
          ["a/kernel", f32([64, 128], w)],
          ["a/bias", f32([64], w.slice(0, 64))],
        ]),
      ),
    );
    const spec = { codebooks: 2, bits: 4, rounds: 2, iterations: 4 };
    const seen: FileProgress[] = [];
    await quantizeFile({
      input: at("small.safetensors"),
      output: at("small.aq.safetensors"),
      format: "aq",
      options: spec,
      onProgress: (p) => seen.push(p),
    });
    const inner = seen.filter((p) => p.tensorDone !== undefined);
    // "a/bias" (too small to quantize) comes first, so one tensor is done while "a/kernel" runs.
    // aq 2 codebooks, 2 rounds: 2 k-means stages + 2 rounds + the final code pass = 5 steps.
    expect(inner.map((p) => p.tensorDone)).toEqual([1, 2, 3, 4, 5]);
    expect(inner.every((p) => p.tensorTotal === 5 && p.tensor === "a/kernel" && p.done === 1)).toBe(true);
    const fractions = seen.filter((p) => p.stage === "tensors").map((p) => p.fraction!);
    expect(fractions.every((f, i) => i === 0 || f >= fractions[i - 1]!)).toBe(true);
    expect(fractions[0]).toBeGreaterThan(0);
    expect(fractions.at(-1)).toBe(1);

    const before = listDir(dir);
    const controller = new AbortController();
    const run = quantizeFile({
      input: at("small.safetensors"),
      output: at("small.aborted.safetensors"),
      format: "aq",
      options: spec,
      signal: controller.signal,
      onProgress: (p) => {
        if (p.tensorDone === 2) controller.abort();
      },
    });
    await expect(run).rejects.toMatchObject({ name: "AbortError" });
    expect(listDir(dir)).toEqual(before);
  });

  it("an abort between tensors rejects, leaves the output untouched and no temporary file", async () => {
    writeFileSync(at("abort.out"), "old");
    const before = listDir(dir);
    const controller = new AbortController();
    const run = quantizeFile({
      input: at(MODEL),
      output: at("abort.out"),
      format: "float8_e4m3fn",
      signal: controller.signal,
      onProgress: (p) => {
        if (p.done === 10) controller.abort();
      },
    });
    await expect(run).rejects.toMatchObject({ name: "AbortError" });
    expect(readFileSync(at("abort.out"), "utf8")).toBe("old");
    expect(listDir(dir)).toEqual(before);
  });

  it("quantizes in place when input and output are the same file, and keeps quantized tensors on a rerun", async () => {
    copyFileSync(at(MODEL), at("inplace.safetensors"));
    const first = await quantizeFile({
      input: at("inplace.safetensors"),
      output: at("inplace.safetensors"),
      format: "float8_e5m2",
    });
    expect(first.bytesIn).toBe(6990470);
    expect(first.ratio).toBeCloseTo(first.bytesOut / 6990470, 12);
    const model = readModel(new Uint8Array(readFileSync(at("inplace.safetensors"))));
    expect(model.quantized.size).toBe(26);
    const second = await quantizeFile({
      input: at("inplace.safetensors"),
      output: at("inplace2.safetensors"),
      format: "float4_e2m1fn",
      minElements: 0,
    });
    // The float8_e5m2 tensors stay as they are; only the small 2-D and 4-D tensors are new.
    expect(second.tensors.filter((t) => t.action === "kept-quantized")).toHaveLength(26);
    const again = readModel(new Uint8Array(readFileSync(at("inplace2.safetensors"))));
    expect(again.quantized.get("feats/kernel")!.spec.format).toBe("float8_e5m2");
    expect(again.quantized.get("conv1/convolution/merged_input")!.spec.format).toBe("float4_e2m1fn");
  });

  it("checkQuantizeOptions refuses unknown formats and options before any file is read", () => {
    expect(() => checkQuantizeOptions("nope")).toThrow(/^unknown format "nope"; known: /);
    expect(() => checkQuantizeOptions("float16", { group: 32 })).toThrow(RangeError);
    expect(() => checkQuantizeOptions("float16", { saturate: 1 })).toThrow(TypeError);
    expect(() => checkQuantizeOptions("float16", { format: "float16" })).toThrow(/cannot be set/);
    expect(checkQuantizeOptions("float16", { saturate: false }).name).toBe("float16");
  });
});

describe("main in-process", () => {
  it("draws a bar over tensors and then bytes on a TTY, and erases it", async () => {
    const stdout = sink(false);
    const stderr = sink(true);
    const code = await main(["quantize", "--format", "float8_e4m3fn", at(MODEL), at("tty.safetensors")], {
      stdout,
      stderr,
    });
    expect(code).toBe(0);
    expect(stderr.text).toContain("quantize float8_e4m3fn 100% 128/128 tensors");
    expect(stderr.text).toMatch(/writing 100% (\d+)\/\1 bytes/);
    expect(stderr.text.startsWith("\r[")).toBe(true);
    expect(stderr.text.endsWith("\r\x1b[K")).toBe(true);
    expect(stdout.text).toMatch(/^float8_e4m3fn: quantized 26 of 128 tensors/);
  });

  it("a warning erases the bar first", async () => {
    const stderr = sink(true);
    const code = await main(
      [
        "quantize",
        "--format",
        "float8_e4m3fn",
        "--option",
        "axis=3",
        "--on-error",
        "skip",
        "-q",
        at(MODEL),
        at("warn.safetensors"),
      ],
      { stdout: sink(false), stderr },
    );
    expect(code).toBe(0);
    // -q: no bar, but the warnings still print.
    expect(stderr.text.split("\n").filter((l) => l.startsWith("lowbit: warning: "))).toHaveLength(2);
    const tty = sink(true);
    await main(
      [
        "quantize",
        "--format",
        "float8_e4m3fn",
        "--option",
        "axis=3",
        "--on-error",
        "skip",
        at(MODEL),
        at("warn.safetensors"),
      ],
      { stdout: sink(false), stderr: tty },
    );
    expect(tty.text).toContain("\r\x1b[Klowbit: warning: ");
  });

  it("an aborted signal exits 130 and writes nothing", async () => {
    const stderr = sink(false);
    const code = await main(["quantize", "--format", "float16", at(MODEL), at("never.safetensors")], {
      stderr,
      signal: AbortSignal.abort(),
    });
    expect(code).toBe(130);
    expect(stderr.text).toBe("lowbit: interrupted\n");
    expect(existsSync(at("never.safetensors"))).toBe(false);
  });
});

describe("dequantizeFile", () => {
  it("copies a file without quantized tensors, dropping nothing", async () => {
    const stdout = sink(false);
    const code = await main(["dequantize", at(MODEL), at("copy.safetensors")], {
      stdout,
      stderr: sink(false),
    });
    expect(code).toBe(0);
    expect(stdout.text).toMatch(/^no quantized tensors: copied 128 tensors; 6990470 -> \d+ bytes; /);
    const a = readSafetensors(new Uint8Array(readFileSync(at(MODEL))));
    const b = readSafetensors(new Uint8Array(readFileSync(at("copy.safetensors"))));
    expect(b.metadata).toEqual(a.metadata);
    expect([...b.tensors.keys()].sort()).toEqual([...a.tensors.keys()].sort());
    const r = await dequantizeFile({ input: at(MODEL), output: at("copy2.safetensors"), dtype: "bf16" });
    expect(r).toMatchObject({ dequantized: 0, tensors: 128, formats: [], dtype: "bf16" });
  });

  it("validates its options", async () => {
    await expect(dequantizeFile({ input: at(MODEL), output: at("x"), dtype: "f8" as "f16" })).rejects.toThrow(
      /^options.dtype must be "f32" \| "f16" \| "bf16"/,
    );
    await expect(dequantizeFile({ input: "", output: at("x") })).rejects.toThrow(TypeError);
  });
});

describe("compareFiles", () => {
  it("handles all-zero references, NaN, empty tensors and integer tensors", async () => {
    writeFileSync(
      at("ca.safetensors"),
      encodeSafetensors({
        zero: f32([2, 2], [0, 0, 0, 0]),
        same: f32([2], [0, 0]),
        nan: f32([2], [1, Number.NaN]),
        empty: f32([0, 3], []),
        ints: { dtype: "I32", shape: [2], data: new Int32Array([1, 2]) },
        good: f32([2], [2, 4]),
      }),
    );
    writeFileSync(
      at("cb.safetensors"),
      encodeSafetensors({
        zero: f32([2, 2], [0, 0, 0, 1]),
        same: f32([2], [0, 0]),
        nan: f32([2], [1, 1]),
        empty: f32([0, 3], []),
        ints: { dtype: "I32", shape: [2], data: new Int32Array([1, 3]) },
        good: f32([2], [2, 4]),
      }),
    );
    const r = await compareFiles(at("ca.safetensors"), at("cb.safetensors"));
    const row = (name: string) => r.rows.find((x) => x.name === name)!;
    expect(row("zero")).toMatchObject({
      relativeMse: Number.POSITIVE_INFINITY,
      sqnrDb: Number.NEGATIVE_INFINITY,
      maxAbsError: 1,
    });
    expect(row("same")).toMatchObject({ relativeMse: 0, sqnrDb: Number.POSITIVE_INFINITY, maxAbsError: 0 });
    expect(row("nan").relativeMse).toBeNaN();
    expect(row("nan").maxAbsError).toBeNaN();
    expect(row("empty")).toMatchObject({ elements: 0, relativeMse: 0 });
    expect(row("ints")).toMatchObject({
      a: { type: "I32", bitsPerWeight: 32 },
      relativeMse: 1 / 5,
      maxAbsError: 1,
    });
    expect(r.total.elements).toBe(4 + 2 + 2 + 0 + 2 + 2);
    expect(r.total.relativeMse).toBeNaN(); // NaN anywhere poisons the total, visibly
    const json = compareJson(r) as { tensors: { name: string; sqnrDb: unknown; relativeMse: unknown }[] };
    expect(json.tensors.find((x) => x.name === "zero")).toMatchObject({
      relativeMse: "Infinity",
      sqnrDb: "-Infinity",
    });
    expect(json.tensors.find((x) => x.name === "nan")!.sqnrDb).toBe("NaN");
    const text = compareText(r);
    expect(text).toMatch(/\nzero +\[2, 2\] +4 +F32 +32 +F32 +32 +inf +-inf +1\.00e\+0\n/);
    expect(text).toMatch(/\nsame +\[2\] +2 .* 0 +inf +0\n/);
  });

  it("the total weights each tensor's relative MSE by its element count", async () => {
    writeFileSync(
      at("wa.safetensors"),
      encodeSafetensors({ big: f32([4], [1, 1, 1, 1]), small: f32([1], [1]) }),
    );
    writeFileSync(
      at("wb.safetensors"),
      encodeSafetensors({ big: f32([4], [1, 1, 1, 0]), small: f32([1], [0]) }),
    );
    const r = await compareFiles(at("wa.safetensors"), at("wb.safetensors"));
    // big: 1/4, small: 1; weighted (4·0.25 + 1·1) / 5 = 0.4.
    expect(r.total.relativeMse).toBeCloseTo(0.4, 15);
    expect(r.total.sqnrDb).toBeCloseTo(-10 * Math.log10(0.4), 12);
    expect(r.total).toMatchObject({
      tensors: 2,
      elements: 5,
      aBitsPerWeight: 32,
      bBitsPerWeight: 32,
      maxAbsError: 1,
    });
  });
});
