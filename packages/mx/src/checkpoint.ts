import {
  CorruptDataError,
  describe,
  NotFoundError,
  type PartDtype,
  type QuantizedTensor,
  shapeSize,
  type TensorPart,
} from "@lowbit/bits";
import { readPart, storedLayout, storedSpec } from "./_common.js";
import { MX_BLOCK_SIZE } from "./mx.js";
import { NVFP4_BLOCK_SIZE } from "./nvfp4.js";

/**
 * The tensor names and layouts other projects store MXFP4 and NVFP4 weights under, converted to and
 * from lowbit's parts. The bytes are the same in both directions (low nibble = even element), so the
 * conversions share the data arrays instead of copying them.
 */

function assertName(name: unknown, what: string): asserts name is string {
  if (typeof name !== "string") throw new TypeError(`${what} must be a string, got ${describe(name)}`);
}

function assertTensorMap(tensors: unknown): asserts tensors is Readonly<Record<string, TensorPart>> {
  if (tensors === null || typeof tensors !== "object" || Array.isArray(tensors)) {
    throw new TypeError(`tensors must be a record of tensor parts, got ${describe(tensors)}`);
  }
}

function findTensor(
  tensors: Readonly<Record<string, TensorPart>>,
  key: string,
  dtypes: readonly PartDtype[],
): TensorPart {
  const t = Object.hasOwn(tensors, key) ? tensors[key] : undefined;
  if (t === undefined) throw new NotFoundError(`no tensor ${JSON.stringify(key)}`);
  if (t === null || typeof t !== "object" || !dtypes.includes(t.dtype)) {
    throw new CorruptDataError(
      `tensor ${key} must have dtype ${dtypes.join(" or ")}, got ${describe(t?.dtype)}`,
    );
  }
  const want = dtypes[0] === "F32" ? Float32Array : Uint8Array;
  if (!(t.data instanceof want)) {
    throw new CorruptDataError(`tensor ${key} must hold a ${want.name}, got ${describe(t.data)}`);
  }
  let n: number;
  try {
    n = shapeSize(t.shape, `${key} shape`);
  } catch (e) {
    throw new CorruptDataError(`tensor ${key} has a bad shape: ${(e as Error).message}`, { cause: e });
  }
  if (t.data.length !== n) {
    throw new CorruptDataError(
      `tensor ${key} has shape [${t.shape.join(", ")}] but ${t.data.length} elements`,
    );
  }
  return t;
}

/** `shape` if given (checked against `n` elements and the block size), else `natural`. */
function logicalShape(
  shape: readonly number[] | undefined,
  natural: readonly number[],
  block: number,
  what: string,
): number[] {
  if (shape === undefined) return [...natural];
  const n = shapeSize(shape);
  const want = natural.reduce((a, b) => a * b, 1);
  if (n !== want) {
    throw new RangeError(
      `shape [${shape.join(", ")}] has ${n} elements but the ${what} tensors hold ${want}`,
    );
  }
  if (shape.length === 0 || shape[shape.length - 1]! % block !== 0) {
    throw new RangeError(`shape [${shape.join(", ")}] needs a last axis that is a multiple of ${block}`);
  }
  return [...shape];
}

/**
 * gpt-oss / transformers MXFP4 layout of an `mxfp4` tensor of shape [..., K]: `{name}_blocks` uint8
 * [..., K/32, 16] (32 elements per row of 16 bytes, low nibble = even element) and `{name}_scales`
 * uint8 [..., K/32] (E8M0 bytes). The data arrays are shared with `qt`.
 */
export function toGptOssMxfp4(name: string, qt: QuantizedTensor): Record<string, TensorPart> {
  assertName(name, "name");
  if (qt?.spec?.format !== "mxfp4") {
    throw new RangeError(`qt must be an mxfp4 tensor, got format ${describe(qt?.spec?.format)}`);
  }
  storedSpec("mxfp4", qt, (s) => s);
  const L = storedLayout("mxfp4", qt, MX_BLOCK_SIZE);
  const g = L.lastDim / MX_BLOCK_SIZE;
  const qdata = readPart<Uint8Array>("mxfp4", qt, "qdata", "U8", [...L.lead, L.lastDim / 2]);
  const scales = readPart<Uint8Array>("mxfp4", qt, "scales", "F8_E8M0", [...L.lead, g]);
  return {
    [`${name}_blocks`]: { dtype: "U8", shape: [...L.lead, g, 16], data: qdata },
    [`${name}_scales`]: { dtype: "U8", shape: [...L.lead, g], data: scales },
  };
}

/**
 * Reads `{name}_blocks` ([..., G, 16] uint8) and `{name}_scales` ([..., G] uint8 or F8_E8M0) into an
 * `mxfp4` tensor of shape [..., G·32], or of `shape` when given (same element count, last axis a
 * multiple of 32). A missing tensor throws NotFoundError, a malformed one CorruptDataError.
 */
export function fromGptOssMxfp4(
  name: string,
  tensors: Readonly<Record<string, TensorPart>>,
  shape?: readonly number[],
): QuantizedTensor {
  assertName(name, "name");
  assertTensorMap(tensors);
  const blocks = findTensor(tensors, `${name}_blocks`, ["U8"]);
  const scales = findTensor(tensors, `${name}_scales`, ["U8", "F8_E8M0"]);
  const bs = blocks.shape;
  if (bs.length < 2 || bs[bs.length - 1] !== 16) {
    throw new CorruptDataError(`tensor ${name}_blocks must have shape [..., G, 16], got [${bs.join(", ")}]`);
  }
  const lead = bs.slice(0, -2);
  const g = bs[bs.length - 2]!;
  const ss = scales.shape;
  if (ss.length !== bs.length - 1 || !ss.every((d, i) => d === bs[i])) {
    throw new CorruptDataError(
      `tensor ${name}_scales must have shape [${bs.slice(0, -1).join(", ")}], got [${ss.join(", ")}]`,
    );
  }
  const out = logicalShape(shape, [...lead, g * MX_BLOCK_SIZE], MX_BLOCK_SIZE, "gpt-oss");
  const outLead = out.slice(0, -1);
  const last = out[out.length - 1]!;
  return {
    spec: { format: "mxfp4", scaleMode: "floor", rounding: "even" },
    shape: out,
    parts: {
      qdata: { dtype: "U8", shape: [...outLead, last / 2], data: blocks.data },
      scales: { dtype: "F8_E8M0", shape: [...outLead, last / MX_BLOCK_SIZE], data: scales.data },
    },
  };
}

function modelOptKey(prefix: string, key: string): string {
  return prefix === "" ? key : `${prefix}.${key}`;
}

/**
 * NVIDIA ModelOpt NVFP4 checkpoint names of an `nvfp4` tensor of shape [..., K] under `prefix` (the
 * module path, e.g. "model.layers.0.mlp.down_proj"): `weight` uint8 [..., K/2] (low nibble = even
 * element), `weight_scale` F8_E4M3 [..., K/16], `weight_scale_2` float32 [] (the per-tensor scale).
 * The data arrays are shared with `qt`.
 */
export function toModelOptNvfp4(prefix: string, qt: QuantizedTensor): Record<string, TensorPart> {
  assertName(prefix, "prefix");
  if (qt?.spec?.format !== "nvfp4") {
    throw new RangeError(`qt must be an nvfp4 tensor, got format ${describe(qt?.spec?.format)}`);
  }
  storedSpec("nvfp4", qt, (s) => s);
  const L = storedLayout("nvfp4", qt, NVFP4_BLOCK_SIZE);
  const qdata = readPart<Uint8Array>("nvfp4", qt, "qdata", "U8", [...L.lead, L.lastDim / 2]);
  const scales = readPart<Uint8Array>("nvfp4", qt, "scales", "F8_E4M3", [
    ...L.lead,
    L.lastDim / NVFP4_BLOCK_SIZE,
  ]);
  const global = readPart<Float32Array>("nvfp4", qt, "globalScale", "F32", [1]);
  return {
    [modelOptKey(prefix, "weight")]: { dtype: "U8", shape: [...L.lead, L.lastDim / 2], data: qdata },
    [modelOptKey(prefix, "weight_scale")]: {
      dtype: "F8_E4M3",
      shape: [...L.lead, L.lastDim / NVFP4_BLOCK_SIZE],
      data: scales,
    },
    [modelOptKey(prefix, "weight_scale_2")]: { dtype: "F32", shape: [], data: global },
  };
}

/**
 * Reads ModelOpt's `weight` ([..., K/2] uint8), `weight_scale` ([..., K/16] F8_E4M3 or uint8) and
 * `weight_scale_2` (float32, shape [] or [1]) under `prefix` into an `nvfp4` tensor of shape [..., K],
 * or of `shape` when given (same element count, last axis a multiple of 16).
 */
export function fromModelOptNvfp4(
  prefix: string,
  tensors: Readonly<Record<string, TensorPart>>,
  shape?: readonly number[],
): QuantizedTensor {
  assertName(prefix, "prefix");
  assertTensorMap(tensors);
  const wKey = modelOptKey(prefix, "weight");
  const sKey = modelOptKey(prefix, "weight_scale");
  const s2Key = modelOptKey(prefix, "weight_scale_2");
  const weight = findTensor(tensors, wKey, ["U8"]);
  const scale = findTensor(tensors, sKey, ["F8_E4M3", "U8"]);
  const scale2 = findTensor(tensors, s2Key, ["F32"]);
  if (scale2.data.length !== 1 || scale2.shape.length > 1) {
    throw new CorruptDataError(
      `tensor ${s2Key} must be a float32 scalar, got shape [${scale2.shape.join(", ")}]`,
    );
  }
  const ws = weight.shape;
  if (ws.length === 0) throw new CorruptDataError(`tensor ${wKey} must have at least one axis`);
  const k = ws[ws.length - 1]! * 2;
  const ss = scale.shape;
  if (
    k % NVFP4_BLOCK_SIZE !== 0 ||
    ss.length !== ws.length ||
    !ss.every((d, i) => (i < ws.length - 1 ? d === ws[i] : d === k / NVFP4_BLOCK_SIZE))
  ) {
    throw new CorruptDataError(
      `tensor ${sKey} must have shape [${[...ws.slice(0, -1), k / NVFP4_BLOCK_SIZE].join(", ")}] for weight [${ws.join(", ")}], got [${ss.join(", ")}]`,
    );
  }
  const out = logicalShape(shape, [...ws.slice(0, -1), k], NVFP4_BLOCK_SIZE, "ModelOpt");
  const outLead = out.slice(0, -1);
  const last = out[out.length - 1]!;
  return {
    spec: { format: "nvfp4", variant: "torchao" },
    shape: out,
    parts: {
      qdata: { dtype: "U8", shape: [...outLead, last / 2], data: weight.data },
      scales: { dtype: "F8_E4M3", shape: [...outLead, last / NVFP4_BLOCK_SIZE], data: scale.data },
      globalScale: { dtype: "F32", shape: [1], data: scale2.data },
    },
  };
}
