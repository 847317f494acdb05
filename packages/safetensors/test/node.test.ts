import { mkdtemp, readdir, readFile, rm, truncate, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { QuantizedTensor, TensorPart } from "@lowbit/bits";
import { dequantize, quantize } from "@lowbit/formats";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { encodeModel, encodeSafetensors, readSafetensors, toFloat32 } from "../src/index.js";
import { openModel, openSafetensors, writeModel, writeSafetensors } from "../src/node.js";
import {
  CORRUPT,
  entry,
  expectLowbitRejection,
  fileOf,
  firstDifference,
  LIMIT,
  NOT_FOUND,
} from "./_helpers.js";

let dir = "";
beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), "lowbit-safetensors-"));
});
afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

const tensors: Record<string, TensorPart> = {
  a: { dtype: "F32", shape: [2, 3], data: new Float32Array([1, 2, 3, 4, 5, 6]) },
  b: { dtype: "BF16", shape: [2], data: new Uint16Array([0x3f80, 0xc000]) },
  c: { dtype: "I64", shape: [1], data: new BigInt64Array([-5n]) },
  d: { dtype: "U8", shape: [3], data: new Uint8Array([1, 2, 3]) },
};

describe("openSafetensors", () => {
  it("reads single tensors equal to the in-memory reader", async () => {
    const path = join(dir, "t.safetensors");
    const bytes = encodeSafetensors(tensors, { k: "v" });
    await writeFile(path, bytes);
    const mem = readSafetensors(bytes);
    await using file = await openSafetensors(path);
    expect(file.names()).toEqual([...mem.tensors.keys()]);
    expect(file.metadata).toEqual(mem.metadata);
    expect(file.info("a")).toEqual(mem.header.tensors.get("a"));
    for (const name of file.names()) expect(await file.read(name)).toEqual(mem.tensors.get(name));
    expect([...(await file.readFloat32("b"))]).toEqual([1, -2]);
    await expectLowbitRejection(file.read("nope"), "NotFoundError", NOT_FOUND, /no tensor named "nope"/);
  });

  it("validates the header and closes the file on error", async () => {
    const bad = join(dir, "bad.safetensors");
    await writeFile(bad, fileOf(`{"a":${entry("U8", [4], 0, 4)}}`, 6));
    await expectLowbitRejection(openSafetensors(bad), "CorruptDataError", CORRUPT, /2 trailing bytes/);
    const huge = new Uint8Array(16);
    new DataView(huge.buffer).setBigUint64(0, 1n << 60n, true);
    await writeFile(bad, huge);
    await expectLowbitRejection(openSafetensors(bad), "LimitExceededError", LIMIT, /exceeds maxHeaderBytes/);
    await writeFile(bad, new Uint8Array(3));
    await expectLowbitRejection(openSafetensors(bad), "CorruptDataError", CORRUPT, /3 bytes/);
    const ok = join(dir, "limits.safetensors");
    await writeFile(ok, encodeSafetensors(tensors));
    await expectLowbitRejection(
      openSafetensors(ok, { maxTensors: 3 }),
      "LimitExceededError",
      LIMIT,
      /maxTensors/,
    );
  });

  it("reports a file truncated after it was opened", async () => {
    const path = join(dir, "shrink.safetensors");
    await writeFile(path, encodeSafetensors(tensors));
    const file = await openSafetensors(path);
    await truncate(path, file.header.dataStart + 4);
    await expectLowbitRejection(file.read(file.names()[0]!), "CorruptDataError", CORRUPT, /truncated/);
    await file.close();
    await file.close();
    await expect(file.read("a")).rejects.toThrow(/closed/);
  });
});

describe("writeSafetensors", () => {
  it("writes what encodeSafetensors gives, and nothing else in the folder", async () => {
    const sub = await mkdtemp(join(dir, "w-"));
    const path = join(sub, "out.safetensors");
    const progress: [number, number][] = [];
    await writeSafetensors(path, tensors, { k: "v" }, { onProgress: (d, t) => progress.push([d, t]) });
    const want = encodeSafetensors(tensors, { k: "v" });
    expect(new Uint8Array(await readFile(path))).toEqual(want);
    expect(await readdir(sub)).toEqual(["out.safetensors"]);
    expect(progress.at(-1)).toEqual([want.length, want.length]);
  });

  it("streams tensors larger than the gather buffer", async () => {
    const big: Record<string, TensorPart> = {
      big: { dtype: "F32", shape: [3_000_000], data: new Float32Array(3_000_000).map((_, i) => i) },
      small: { dtype: "U8", shape: [5], data: new Uint8Array(5).fill(7) },
    };
    const path = join(dir, "big.safetensors");
    await writeSafetensors(path, big);
    expect(firstDifference(await readFile(path), encodeSafetensors(big))).toBe(-1);
  });

  it("leaves an existing file untouched when a tensor is bad", async () => {
    const sub = await mkdtemp(join(dir, "keep-"));
    const path = join(sub, "model.safetensors");
    await writeFile(path, "original");
    const bad = { ...tensors, a: { dtype: "F32", shape: [2, 3], data: new Float32Array(5) } as TensorPart };
    await expect(writeSafetensors(path, bad)).rejects.toThrow(
      /has 5 elements but F32 shape \[2, 3\] needs 6/,
    );
    expect(await readFile(path, "utf8")).toBe("original");
    expect(await readdir(sub)).toEqual(["model.safetensors"]);
  });

  it("removes the temporary file and keeps the old one when aborted mid-write", async () => {
    const sub = await mkdtemp(join(dir, "abort-"));
    const path = join(sub, "model.safetensors");
    await writeFile(path, "original");
    const controller = new AbortController();
    const big = { x: { dtype: "F32", shape: [4_000_000], data: new Float32Array(4_000_000) } as TensorPart };
    let calls = 0;
    const written = writeSafetensors(path, big, undefined, {
      signal: controller.signal,
      onProgress: () => {
        calls++;
        controller.abort(new Error("stop"));
      },
    });
    await expect(written).rejects.toThrow("stop");
    expect(calls).toBeGreaterThan(0);
    expect(await readFile(path, "utf8")).toBe("original");
    expect(await readdir(sub)).toEqual(["model.safetensors"]);
  });

  it("keeps the header bytes of a file it read (like)", async () => {
    const original = fileOf(
      `{"b":${entry("I32", [1], 1, 5)},"a":${entry("U8", [1], 0, 1)}}   `,
      new Uint8Array([1, 2, 3, 4, 5]),
    );
    const path = join(dir, "like.safetensors");
    const file = readSafetensors(original);
    await writeSafetensors(path, file.tensors, file.metadata, { like: file.header });
    expect(new Uint8Array(await readFile(path))).toEqual(original);
  });
});

describe("writeModel / openModel", () => {
  const w = new Float32Array(64).map((_, i) => Math.sin(i));
  const qt = quantize(w, [8, 8], { format: "float8_e4m3fn" });
  const bias: TensorPart = { dtype: "F16", shape: [2], data: new Uint16Array([0x3c00, 0x4000]) };

  it("round-trips through a file, reading each tensor alone", async () => {
    const path = join(dir, "model.safetensors");
    await writeModel(path, { w: qt, bias }, { arch: "toy" });
    expect(new Uint8Array(await readFile(path))).toEqual(encodeModel({ w: qt, bias }, { arch: "toy" }));
    await using model = await openModel(path);
    expect({ ...model.metadata }).toEqual({ arch: "toy" });
    expect(model.names().sort()).toEqual(["bias", "w"]);
    expect(model.info("w")).toMatchObject({ kind: "quantized", format: "float8_e4m3fn", shape: [8, 8] });
    expect(model.info("bias")).toMatchObject({ kind: "tensor", dtype: "F16", shape: [2] });
    const back = (await model.read("w")) as QuantizedTensor;
    for (const [p, part] of Object.entries(qt.parts)) expect(back.parts[p]).toEqual(part);
    expect(await model.readFloat32("w")).toEqual(dequantize(qt));
    expect(await model.readFloat32("bias")).toEqual(toFloat32(bias));
    const all = await model.readModelFloat32();
    expect(all.get("w")).toEqual({ shape: [8, 8], data: dequantize(qt) });
    const m = await model.readModel();
    expect(m.tensors.get("bias")).toEqual(bias);
    expect(() => model.info("w.qdata")).toThrow(/no model tensor/);
  });
});
