/**
 * bitsandbytes state-dict compatibility. `Linear4bit` saves its weight as the packed bytes plus the
 * tensors of `QuantState.as_dict(packed=True)`, all under the weight's name:
 *
 *   {name}                                  uint8 [ceil(n/2), 1]  packed codes, element 2i high nibble
 *   {name}.absmax                           float32 [blocks], or uint8 [blocks] when double-quantized
 *   {name}.quant_map                        float32 [16]          the 4-bit code table
 *   {name}.nested_absmax                    float32 [ceil(blocks/256)]              (double quant only)
 *   {name}.nested_quant_map                 float32 [256]         the dynamic map   (double quant only)
 *   {name}.quant_state.bitsandbytes__nf4    uint8 [len]           UTF-8 JSON of the non-tensor fields
 *                                           (`__fp4` for FP4)
 *
 * The JSON is Python's `json.dumps` of {quant_type, blocksize, dtype, shape} plus, when nested,
 * {nested_blocksize, nested_dtype, nested_offset}, in that order; it is written here byte for byte.
 */

import type { QuantizedTensor, TensorPart, TypedArray } from "@lowbit/bits";
import { CorruptDataError, DTYPE_BYTES, describe, UnsupportedError } from "@lowbit/bits";
import { resolveFourBit } from "./_fourbit.js";
import { asciiBytes, asciiText, parsePythonJson, pythonFloatRepr } from "./_pyjson.js";
import {
  assertBlockSize,
  checkPart,
  checkShape,
  readPart,
  SOURCE_DTYPES,
  type SourceDtype,
} from "./_spec.js";
import { BNB_FP4_TABLE, DYNAMIC_MAP, NF4_TABLE } from "./_tables.js";
import type { Bnb4bitSpec } from "./nf4.js";

/** Upper bound on the packed quant-state JSON (a few hundred bytes in practice). */
const MAX_STATE_BYTES = 1 << 16;

const QUANT_STATE_PREFIX = "quant_state.bitsandbytes__";

type QuantType = "nf4" | "fp4";

const tensor = (dtype: TensorPart["dtype"], shape: readonly number[], data: TypedArray): TensorPart => ({
  dtype,
  shape,
  data,
});

function assertName(name: unknown): asserts name is string {
  if (typeof name !== "string") throw new TypeError(`name must be a string, got ${describe(name)}`);
  if (name.length === 0) throw new RangeError("name must not be empty");
}

/**
 * The tensors bitsandbytes' `Linear4bit.state_dict()` holds for a 4-bit weight called `name` (e.g.
 * `model.layers.0.mlp.down_proj.weight`), from an `nf4` or `bnb_fp4` tensor: keys, dtypes, shapes and
 * the packed JSON exactly as bitsandbytes writes them. The arrays are shared with `qt`, not copied.
 */
export function toBitsandbytesState(name: string, qt: QuantizedTensor): Record<string, TensorPart> {
  assertName(name);
  const { spec, n } = resolveFourBit(qt);
  const where = spec.format;
  const blocks = Math.ceil(n / spec.blockSize);
  const qdata = readPart(qt, "qdata", "U8", Uint8Array, Math.ceil(n / 2), where);
  const quantType: QuantType = spec.format === "nf4" ? "nf4" : "fp4";
  const table = quantType === "nf4" ? NF4_TABLE : BNB_FP4_TABLE;

  let json = `{"quant_type": "${quantType}", "blocksize": ${spec.blockSize}, "dtype": "${spec.sourceDtype}", "shape": [${qt.shape.join(", ")}]`;
  const out: Record<string, TensorPart> = { [name]: tensor("U8", [qdata.length, 1], qdata) };
  if (spec.doubleQuant) {
    const codes = readPart(qt, "absmax", "U8", Uint8Array, blocks, where);
    const nested = readPart(
      qt,
      "nestedAbsmax",
      "F32",
      Float32Array,
      Math.ceil(blocks / spec.nestedBlockSize),
      where,
    );
    const offset = readPart(qt, "offset", "F32", Float32Array, 1, where)[0]!;
    out[`${name}.absmax`] = tensor("U8", [blocks], codes);
    out[`${name}.quant_map`] = tensor("F32", [16], table.slice());
    out[`${name}.nested_absmax`] = tensor("F32", [nested.length], nested);
    out[`${name}.nested_quant_map`] = tensor("F32", [256], DYNAMIC_MAP.slice());
    json += `, "nested_blocksize": ${spec.nestedBlockSize}, "nested_dtype": "float32", "nested_offset": ${pythonFloatRepr(offset)}`;
  } else {
    const absmax = readPart(qt, "absmax", "F32", Float32Array, blocks, where);
    out[`${name}.absmax`] = tensor("F32", [blocks], absmax);
    out[`${name}.quant_map`] = tensor("F32", [16], table.slice());
  }
  const bytes = asciiBytes(`${json}}`);
  out[`${name}.${QUANT_STATE_PREFIX}${quantType}`] = tensor("U8", [bytes.length], bytes);
  return out;
}

const corrupt = (name: string, what: string): CorruptDataError =>
  new CorruptDataError(`bitsandbytes state of "${name}": ${what}`);

/** The non-tensor fields of a packed quant state, validated. */
interface StateFields {
  readonly quantType: QuantType;
  readonly blockSize: number;
  readonly sourceDtype: SourceDtype;
  readonly shape: readonly number[];
  readonly n: number;
  readonly nested: { readonly blockSize: number; readonly offset: number } | null;
}

const PLAIN_KEYS = ["quant_type", "blocksize", "dtype", "shape"];
const NESTED_KEYS = ["nested_blocksize", "nested_dtype", "nested_offset"];

function parseStateJson(name: string, key: string, part: TensorPart, nested: boolean): StateFields {
  if (part.dtype !== "U8" || !(part.data instanceof Uint8Array)) {
    throw corrupt(name, `${key} must be a U8 tensor, got ${describe(part.dtype)}`);
  }
  if (part.data.length > MAX_STATE_BYTES) {
    throw corrupt(name, `${key} holds ${part.data.length} bytes, more than the ${MAX_STATE_BYTES} allowed`);
  }
  try {
    checkShape(part.shape, part.data.length, key);
  } catch (e) {
    throw corrupt(name, (e as Error).message);
  }
  const text = asciiText(part.data);
  if (text === null) throw corrupt(name, `${key} is not ASCII JSON`);
  let dict: unknown;
  try {
    dict = parsePythonJson(text);
  } catch (e) {
    throw corrupt(name, `${key} is not valid JSON (${(e as Error).message})`);
  }
  if (typeof dict !== "object" || dict === null || Array.isArray(dict)) {
    throw corrupt(name, `${key} must hold a JSON object`);
  }
  const d = dict as Record<string, unknown>;
  const expected = nested ? [...PLAIN_KEYS, ...NESTED_KEYS] : PLAIN_KEYS;
  for (const k of Object.keys(d)) {
    if (!expected.includes(k)) {
      const why = NESTED_KEYS.includes(k) ? " without a nested_absmax tensor" : "";
      throw corrupt(name, `unexpected field "${k}"${why} in ${key}`);
    }
  }
  for (const k of expected) if (!Object.hasOwn(d, k)) throw corrupt(name, `${key} lacks the field "${k}"`);

  const suffix = key.slice(key.lastIndexOf("__") + 2);
  if (d["quant_type"] !== suffix) {
    throw corrupt(name, `quant_type ${describe(d["quant_type"])} does not match the key ${key}`);
  }
  const blockSize = d["blocksize"];
  try {
    assertBlockSize(blockSize, "blocksize");
  } catch (e) {
    throw corrupt(name, (e as Error).message);
  }
  const sourceDtype = d["dtype"];
  if (!(SOURCE_DTYPES as readonly unknown[]).includes(sourceDtype)) {
    throw corrupt(name, `dtype must be one of ${SOURCE_DTYPES.join(", ")}, got ${describe(sourceDtype)}`);
  }
  const shape = d["shape"];
  if (!Array.isArray(shape) || !shape.every((s) => Number.isSafeInteger(s) && (s as number) >= 0)) {
    throw corrupt(name, `shape must be a list of non-negative integers, got ${JSON.stringify(shape)}`);
  }
  const n = (shape as number[]).reduce((a, b) => a * b, 1);
  if (!Number.isSafeInteger(n)) throw corrupt(name, `shape [${shape.join(", ")}] has too many elements`);

  let nestedFields: StateFields["nested"] = null;
  if (nested) {
    const nestedBlockSize = d["nested_blocksize"];
    try {
      assertBlockSize(nestedBlockSize, "nested_blocksize");
    } catch (e) {
      throw corrupt(name, (e as Error).message);
    }
    if (d["nested_dtype"] !== "float32") {
      throw corrupt(name, `nested_dtype must be "float32", got ${describe(d["nested_dtype"])}`);
    }
    const offset = d["nested_offset"];
    if (typeof offset !== "number")
      throw corrupt(name, `nested_offset must be a number, got ${describe(offset)}`);
    nestedFields = { blockSize: nestedBlockSize, offset: Math.fround(offset) };
  }
  return {
    quantType: suffix as QuantType,
    blockSize,
    sourceDtype: sourceDtype as SourceDtype,
    shape: shape as number[],
    n,
    nested: nestedFields,
  };
}

/** The packed weight as bytes, whatever `quant_storage` dtype it was saved with. */
function weightBytes(name: string, part: TensorPart | undefined, bytes: number): Uint8Array {
  if (typeof part !== "object" || part === null) throw corrupt(name, "the packed weight tensor is missing");
  const data = part.data as unknown;
  const width = (DTYPE_BYTES as Record<string, number | undefined>)[part.dtype as string];
  if (!ArrayBuffer.isView(data) || width === undefined || (data as TypedArray).BYTES_PER_ELEMENT !== width) {
    throw corrupt(name, `the packed weight has dtype ${describe(part.dtype)} and data ${describe(data)}`);
  }
  const array = data as TypedArray;
  if (array.byteLength !== bytes) {
    throw corrupt(name, `the packed weight must hold ${bytes} bytes, got ${array.byteLength}`);
  }
  try {
    checkShape(part.shape, array.length, "the packed weight");
  } catch (e) {
    throw corrupt(name, (e as Error).message);
  }
  return array instanceof Uint8Array
    ? array
    : new Uint8Array(array.buffer, array.byteOffset, array.byteLength);
}

const sameValues = (a: Float32Array, b: Float32Array): boolean => a.every((v, i) => v === b[i]);

/**
 * Reads the tensors of a bitsandbytes 4-bit weight called `name` from a state dict (any record of
 * tensor name → TensorPart, e.g. a whole safetensors file) into an `nf4` or `bnb_fp4` tensor.
 * Missing, mistyped or inconsistent tensors throw CorruptDataError. `quant_map` is checked for type
 * and length only: bitsandbytes' kernels decode with their built-in table, and so does this package.
 * A `nested_quant_map` other than the standard dynamic map throws UnsupportedError.
 */
export function fromBitsandbytesState(
  name: string,
  tensors: Readonly<Record<string, TensorPart>>,
): QuantizedTensor {
  assertName(name);
  if (typeof tensors !== "object" || tensors === null || Array.isArray(tensors)) {
    throw new TypeError(`tensors must be a record of tensor name → TensorPart, got ${describe(tensors)}`);
  }
  const get = (key: string): TensorPart | undefined =>
    Object.hasOwn(tensors, key) ? tensors[key] : undefined;
  const stateKeys = (["nf4", "fp4"] as const)
    .map((t) => `${name}.${QUANT_STATE_PREFIX}${t}`)
    .filter((k) => get(k) !== undefined);
  if (stateKeys.length !== 1) {
    throw corrupt(
      name,
      stateKeys.length === 0
        ? `no ${name}.${QUANT_STATE_PREFIX}nf4 or …fp4 tensor`
        : "both an nf4 and an fp4 quant_state tensor",
    );
  }
  const stateKey = stateKeys[0]!;
  const nested = get(`${name}.nested_absmax`) !== undefined;
  const f = parseStateJson(name, stateKey, get(stateKey)!, nested);
  const blocks = Math.ceil(f.n / f.blockSize);
  const check = <T extends TypedArray>(
    suffix: string,
    dtype: TensorPart["dtype"],
    ctor: { new (length: number): T; readonly name: string },
    length: number,
  ): T => checkPart(get(`${name}.${suffix}`), dtype, ctor, length, `bitsandbytes tensor "${name}.${suffix}"`);

  const qdata = weightBytes(name, get(name), Math.ceil(f.n / 2));
  check("quant_map", "F32", Float32Array, 16);
  const parts: Record<string, TensorPart> = { qdata: tensor("U8", [qdata.length], qdata) };
  if (f.nested !== null) {
    const codes = check("absmax", "U8", Uint8Array, blocks);
    const nestedAbsmax = check("nested_absmax", "F32", Float32Array, Math.ceil(blocks / f.nested.blockSize));
    const map = check("nested_quant_map", "F32", Float32Array, 256);
    if (!sameValues(map, DYNAMIC_MAP)) {
      throw new UnsupportedError(
        `bitsandbytes state of "${name}": nested_quant_map is not the standard signed dynamic map`,
      );
    }
    parts["absmax"] = tensor("U8", [blocks], codes);
    parts["nestedAbsmax"] = tensor("F32", [nestedAbsmax.length], nestedAbsmax);
    parts["offset"] = tensor("F32", [1], Float32Array.of(f.nested.offset));
  } else {
    parts["absmax"] = tensor("F32", [blocks], check("absmax", "F32", Float32Array, blocks));
  }
  const spec: Bnb4bitSpec = {
    format: f.quantType === "nf4" ? "nf4" : "bnb_fp4",
    blockSize: f.blockSize,
    doubleQuant: f.nested !== null,
    nestedBlockSize: f.nested?.blockSize ?? 256,
    sourceDtype: f.sourceDtype,
  };
  return { spec: spec as unknown as QuantizedTensor["spec"], shape: [...f.shape], parts };
}
