import { existsSync, readdirSync, readFileSync } from "node:fs";
import { mkdtemp, readFile, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { QuantizedTensor, TensorPart } from "@lowbit/bits";
import { dequantize, quantize } from "@lowbit/formats";
import {
  encodeSafetensors,
  parseHeader,
  readModel,
  readModelFloat32,
  readSafetensors,
  toFloat32,
} from "@lowbit/safetensors";
import { openModel, openSafetensors, writeModel, writeSafetensors } from "@lowbit/safetensors/node";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { sharedDir } from "./shared.js";

/**
 * Real safetensors files from `<shared>/datasets/models` (see its README): every one must survive
 * read → write byte for byte, and the file-handle reader must agree with the in-memory one. A missing
 * folder fails the suite; it never skips.
 */
function modelsDir(): string {
  const dir = join(sharedDir(), "datasets", "models");
  if (!existsSync(dir)) {
    throw new Error(
      `safetensors conformance: ${dir} does not exist; point LOWBIT_SHARED at the shared folder`,
    );
  }
  return dir;
}

const dir = modelsDir();
const files = readdirSync(dir)
  .filter((f) => f.endsWith(".safetensors"))
  .sort();

/** Index of the first differing byte, or -1 when equal (toEqual on megabytes is far too slow). */
function firstDifference(a: ArrayBufferView, b: ArrayBufferView): number {
  const x = new Uint8Array(a.buffer, a.byteOffset, a.byteLength);
  const y = new Uint8Array(b.buffer, b.byteOffset, b.byteLength);
  const n = Math.min(x.length, y.length);
  for (let i = 0; i < n; i++) if (x[i] !== y[i]) return i;
  return x.length === y.length ? -1 : n;
}

function sameTensor(a: TensorPart, b: TensorPart): boolean {
  return (
    a.dtype === b.dtype &&
    a.shape.length === b.shape.length &&
    a.shape.every((d, i) => d === b.shape[i]) &&
    a.data.constructor === b.data.constructor &&
    firstDifference(a.data, b.data) === -1
  );
}

let tmp = "";
beforeAll(async () => {
  tmp = await mkdtemp(join(tmpdir(), "lowbit-st-conformance-"));
});
afterAll(async () => {
  await rm(tmp, { recursive: true, force: true });
});

it("finds the dataset files", () => {
  // 7 files as of the datasets README; more are welcome, fewer means the folder is incomplete.
  expect(files.length).toBeGreaterThanOrEqual(7);
});

describe.each(files)("%s", (name) => {
  const path = join(dir, name);
  const bytes = new Uint8Array(readFileSync(path));
  const file = readSafetensors(bytes);

  it("reads every tensor and covers the whole file", () => {
    expect(file.tensors.size).toBeGreaterThan(0);
    let total = 0;
    for (const t of file.tensors.values()) total += t.data.byteLength;
    expect(file.header.dataStart + total).toBe(bytes.length);
  });

  it("round trip read → encode is byte-identical", () => {
    const again = encodeSafetensors(file.tensors, file.metadata, { like: file.header });
    expect(again.length).toBe(bytes.length);
    expect(firstDifference(again, bytes)).toBe(-1);
  });

  it("round trip read → writeSafetensors is byte-identical", async () => {
    const out = join(tmp, name);
    await writeSafetensors(out, file.tensors, file.metadata, { like: file.header });
    expect(firstDifference(await readFile(out), bytes)).toBe(-1);
  });

  it("the default layout holds the same tensors, each aligned", () => {
    const fresh = encodeSafetensors(file.tensors, file.metadata);
    const back = readSafetensors(fresh);
    expect({ ...back.metadata }).toEqual({ ...file.metadata });
    expect([...back.tensors.keys()].sort()).toEqual([...file.tensors.keys()].sort());
    for (const [n, t] of back.tensors) {
      expect(sameTensor(t, file.tensors.get(n)!), n).toBe(true);
      expect(t.data.buffer, `${n} is a view`).toBe(fresh.buffer);
    }
  });

  it("file-handle reads of single tensors equal the in-memory reads", async () => {
    await using handle = await openSafetensors(path);
    expect(handle.names()).toEqual([...file.tensors.keys()]);
    expect({ ...handle.metadata }).toEqual({ ...file.metadata });
    for (const n of handle.names()) {
      const t = await handle.read(n);
      expect(sameTensor(t, file.tensors.get(n)!), n).toBe(true);
      const f = await handle.readFloat32(n);
      expect(firstDifference(f, toFloat32(file.tensors.get(n)!)), n).toBe(-1);
    }
  });
});

describe("quantized model round trip (faceres.f16 → float8_e4m3fn)", () => {
  const source = readSafetensors(new Uint8Array(readFileSync(join(dir, "faceres.f16.safetensors"))));
  const entries = new Map<string, QuantizedTensor | TensorPart>();
  let quantizedCount = 0;
  for (const [n, t] of source.tensors) {
    if (t.dtype === "F16" || t.dtype === "F32" || t.dtype === "BF16") {
      entries.set(n, quantize(toFloat32(t), t.shape, { format: "float8_e4m3fn" }));
      quantizedCount++;
    } else {
      entries.set(n, t);
    }
  }

  it("quantizes every float tensor of the file", () => {
    expect(quantizedCount).toBe(127);
    expect(entries.size).toBe(128);
  });

  it("writeModel → readModel gives identical parts; readModelFloat32 equals dequantize", async () => {
    const out = join(tmp, "faceres.f8.safetensors");
    await writeModel(out, entries, { ...source.metadata });
    const bytes = new Uint8Array(await readFile(out));
    // An ordinary safetensors file: parts are plain tensors.
    expect(parseHeader(bytes).tensors.size).toBe(quantizedCount * 2 + (entries.size - quantizedCount));
    const model = readModel(bytes);
    expect({ ...model.metadata }).toEqual({ ...source.metadata });
    expect(model.quantized.size).toBe(quantizedCount);
    const floats = readModelFloat32(bytes);
    for (const [n, e] of entries) {
      if ("parts" in e) {
        const back = model.quantized.get(n)!;
        expect(back.shape).toEqual(e.shape);
        expect({ ...back.spec }).toEqual({ ...e.spec });
        for (const [p, part] of Object.entries(e.parts))
          expect(sameTensor(back.parts[p]!, part), `${n}.${p}`).toBe(true);
        expect(firstDifference(floats.get(n)!.data, dequantize(e)), n).toBe(-1);
      } else {
        expect(sameTensor(model.tensors.get(n)!, e), n).toBe(true);
      }
    }
    // The file-handle variant agrees.
    await using handle = await openModel(out);
    for (const n of ["feats/kernel", "age_pred/bias"]) {
      expect(firstDifference(await handle.readFloat32(n), floats.get(n)!.data), n).toBe(-1);
    }
  });
});
