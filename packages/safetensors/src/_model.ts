import {
  CorruptDataError,
  describe,
  type QuantizedTensor,
  type QuantSpec,
  shapeSize,
  type TensorPart,
  UnsupportedError,
} from "@lowbit/bits";
import { quote } from "./_dtype.js";
import { assertNoDuplicateKeys } from "./_json.js";
import { compareNames } from "./_layout.js";
import type { SafetensorsHeader } from "./header.js";

/** The `__metadata__` key that holds the lowbit JSON. */
export const LOWBIT_METADATA_KEY = "lowbit";
/** Version of the lowbit JSON this library writes; readers refuse newer versions. */
export const LOWBIT_FORMAT_VERSION = 1;

/** A plain float32 tensor: stored as F32. */
export interface FloatTensor {
  readonly shape: readonly number[];
  readonly data: Float32Array;
}

/** What a model holds under one name: a stored tensor, a quantized tensor or plain float32 values. */
export type ModelEntry = TensorPart | QuantizedTensor | FloatTensor;

export type ModelEntries = Readonly<Record<string, ModelEntry>> | ReadonlyMap<string, ModelEntry>;

/** The lowbit JSON entry of one quantized tensor. */
export interface QuantizedInfo {
  readonly format: string;
  /** Shape of the float tensor it represents. */
  readonly shape: readonly number[];
  /** The resolved spec (format and every option). */
  readonly spec: QuantSpec;
  /** Part names; part `p` of tensor `W` is stored as the tensor `W.p`. */
  readonly parts: readonly string[];
}

/** How a file's tensors group into a model. */
export interface ModelLayout {
  /** User metadata: `__metadata__` without the lowbit key. */
  readonly metadata: Readonly<Record<string, string>>;
  /** Model names in file order: a quantized tensor sits where its first part is. */
  readonly names: readonly string[];
  /** Quantized tensors by name. */
  readonly quantized: ReadonlyMap<string, QuantizedInfo>;
}

/** Name of the stored tensor holding part `part` of `name`. */
export function partTensorName(name: string, part: string): string {
  return `${name}.${part}`;
}

function isQuantized(e: object): e is QuantizedTensor {
  return "parts" in e && "spec" in e;
}

/**
 * JSON text of a value with object keys sorted, so equal specs give equal bytes. Only what JSON holds
 * exactly is accepted: finite numbers, strings, booleans, null, arrays and plain objects.
 */
function canonicalJson(v: unknown, path: string, depth = 0): string {
  if (depth > 32) throw new RangeError(`${path} is nested too deeply (a cycle?)`);
  if (v === null) return "null";
  switch (typeof v) {
    case "string":
    case "boolean":
      return JSON.stringify(v);
    case "number":
      if (!Number.isFinite(v)) throw new RangeError(`${path} must be a finite number to be stored, got ${v}`);
      return JSON.stringify(v);
    case "object": {
      if (Array.isArray(v))
        return `[${v.map((x, i) => canonicalJson(x, `${path}[${i}]`, depth + 1)).join(",")}]`;
      const proto = Object.getPrototypeOf(v);
      if (proto !== Object.prototype && proto !== null) {
        throw new TypeError(`${path} must be a JSON value, got ${describe(v)}`);
      }
      const keys = Object.keys(v).sort(compareNames);
      const body = keys.map(
        (k) =>
          `${JSON.stringify(k)}:${canonicalJson((v as Record<string, unknown>)[k], `${path}.${k}`, depth + 1)}`,
      );
      return `{${body.join(",")}}`;
    }
    default:
      throw new TypeError(`${path} must be a JSON value, got ${typeof v}`);
  }
}

/**
 * Flattens a model into plain tensors: quantized tensor `W` becomes its parts `W.<part>`, float32
 * values become F32 tensors, and `__metadata__["lowbit"]` records the quantized tensors (see README).
 */
export function flattenModel(
  entries: ModelEntries,
  metadata?: Readonly<Record<string, string>>,
): { tensors: Map<string, TensorPart>; metadata: Record<string, string> } {
  const list: [string, ModelEntry][] =
    entries instanceof Map
      ? [...(entries as ReadonlyMap<string, ModelEntry>).entries()]
      : typeof entries === "object" && entries !== null && !Array.isArray(entries)
        ? Object.keys(entries).map((k) => [k, (entries as Readonly<Record<string, ModelEntry>>)[k]!])
        : (() => {
            throw new TypeError(`entries must be a Record or Map of name → tensor, got ${describe(entries)}`);
          })();
  if (metadata !== undefined && (typeof metadata !== "object" || metadata === null)) {
    throw new TypeError(`metadata must be a Record of string → string, got ${describe(metadata)}`);
  }
  if (metadata !== undefined && Object.hasOwn(metadata, LOWBIT_METADATA_KEY)) {
    throw new RangeError(
      `metadata key ${quote(LOWBIT_METADATA_KEY)} is reserved for the quantized-tensor map`,
    );
  }
  const tensors = new Map<string, TensorPart>();
  const owner = new Map<string, string>();
  const add = (stored: string, part: TensorPart, who: string) => {
    const prev = owner.get(stored);
    if (prev !== undefined)
      throw new RangeError(`tensor name ${quote(stored)} is used twice: by ${prev} and by ${who}`);
    owner.set(stored, who);
    tensors.set(stored, part);
  };
  const quantized: [string, string][] = [];
  for (const [name, entry] of list) {
    if (typeof entry !== "object" || entry === null) {
      throw new TypeError(`entries[${quote(name)}] must be a tensor, got ${describe(entry)}`);
    }
    const what = `entries[${quote(name)}]`;
    if (isQuantized(entry)) {
      const spec = entry.spec as unknown;
      if (typeof spec !== "object" || spec === null || typeof (spec as QuantSpec).format !== "string") {
        throw new TypeError(`${what}.spec must be an object with a string format, got ${describe(spec)}`);
      }
      const shape = [...entry.shape];
      shapeSize(shape, `${what}.shape`);
      const parts = entry.parts as unknown;
      if (typeof parts !== "object" || parts === null || Object.keys(parts).length === 0) {
        throw new TypeError(
          `${what}.parts must be an object of one or more named tensors, got ${describe(parts)}`,
        );
      }
      const partNames = Object.keys(parts);
      for (const p of partNames) {
        if (p === "") throw new RangeError(`${what}.parts has an empty part name`);
        add(
          partTensorName(name, p),
          (parts as Record<string, TensorPart>)[p]!,
          `part ${quote(p)} of ${what}`,
        );
      }
      const format = (spec as QuantSpec).format;
      quantized.push([
        name,
        `${JSON.stringify(name)}:{"format":${JSON.stringify(format)},"shape":[${shape.join(",")}],` +
          `"spec":${canonicalJson(spec, `${what}.spec`)},"parts":${JSON.stringify(partNames)}}`,
      ]);
    } else if ("dtype" in entry) {
      add(name, entry, what);
    } else if ((entry as FloatTensor).data instanceof Float32Array) {
      const { shape, data } = entry as FloatTensor;
      add(name, { dtype: "F32", shape, data }, what);
    } else {
      throw new TypeError(
        `${what} must be a TensorPart {dtype, shape, data}, a QuantizedTensor {spec, shape, parts} or {shape, data: Float32Array}, got ${describe(entry)}`,
      );
    }
  }
  // Names sorted so the same model always gives the same bytes.
  quantized.sort((a, b) => compareNames(a[0], b[0]));
  const lowbit = `{"version":${LOWBIT_FORMAT_VERSION},"tensors":{${quantized.map(([, j]) => j).join(",")}}}`;
  return { tensors, metadata: { ...metadata, [LOWBIT_METADATA_KEY]: lowbit } };
}

const isCount = (v: unknown): v is number => typeof v === "number" && Number.isSafeInteger(v) && v >= 0;

function isObject(v: unknown): v is Record<string, unknown> {
  return typeof v === "object" && v !== null && !Array.isArray(v);
}

function parseQuantizedInfo(name: string, v: unknown): QuantizedInfo {
  const bad = (what: string) =>
    new CorruptDataError(`lowbit metadata: quantized tensor ${quote(name)}: ${what}`);
  if (!isObject(v)) throw bad("entry must be an object {format, shape, spec, parts}");
  const { format, shape, spec, parts } = v;
  if (typeof format !== "string" || format === "") throw bad("format must be a non-empty string");
  if (!Array.isArray(shape) || !shape.every(isCount))
    throw bad("shape must be an array of non-negative integers");
  try {
    shapeSize(shape);
  } catch {
    throw bad(`shape [${shape.join(", ")}] has too many elements`);
  }
  if (!isObject(spec)) throw bad("spec must be an object");
  if (spec["format"] !== format)
    throw bad(`spec.format ${JSON.stringify(spec["format"])} is not ${quote(format)}`);
  if (!Array.isArray(parts) || parts.length === 0) throw bad("parts must be a non-empty array of part names");
  const seen = new Set<string>();
  for (const p of parts) {
    if (typeof p !== "string" || p === "") throw bad("every part name must be a non-empty string");
    if (seen.has(p)) throw bad(`part ${quote(p)} is listed twice`);
    seen.add(p);
  }
  return Object.freeze({
    format,
    shape: Object.freeze([...(shape as number[])]),
    spec: Object.freeze(spec as QuantSpec),
    parts: Object.freeze([...(parts as string[])]),
  });
}

/**
 * Groups a validated header into a model: parses and checks `__metadata__["lowbit"]` (well-formed JSON
 * of a known version, every listed part present as a tensor, no tensor claimed twice, no name both
 * plain and quantized). A file without the key is a model of plain tensors.
 */
export function modelLayout(header: SafetensorsHeader): ModelLayout {
  const metadata: Record<string, string> = Object.create(null);
  for (const k of Object.keys(header.metadata))
    if (k !== LOWBIT_METADATA_KEY) metadata[k] = header.metadata[k]!;
  const quantized = new Map<string, QuantizedInfo>();
  const partOf = new Map<string, string>();
  const text = header.metadata[LOWBIT_METADATA_KEY];
  if (text !== undefined) {
    let json: unknown;
    try {
      json = JSON.parse(text);
    } catch (e) {
      throw new CorruptDataError(`lowbit metadata is not valid JSON: ${(e as Error).message}`, { cause: e });
    }
    assertNoDuplicateKeys(text, "lowbit metadata");
    if (!isObject(json))
      throw new CorruptDataError("lowbit metadata must be a JSON object {version, tensors}");
    const version = json["version"];
    if (!isCount(version) || version === 0) {
      throw new CorruptDataError(
        `lowbit metadata version must be a positive integer, got ${JSON.stringify(version)}`,
      );
    }
    if (version > LOWBIT_FORMAT_VERSION) {
      throw new UnsupportedError(
        `lowbit metadata version ${version} is newer than this reader (version ${LOWBIT_FORMAT_VERSION})`,
      );
    }
    const entries = json["tensors"];
    if (!isObject(entries)) throw new CorruptDataError("lowbit metadata: tensors must be an object");
    for (const name of Object.keys(entries)) {
      const info = parseQuantizedInfo(name, entries[name]);
      if (header.tensors.has(name)) {
        throw new CorruptDataError(
          `lowbit metadata: ${quote(name)} is both a quantized tensor and a stored tensor`,
        );
      }
      for (const p of info.parts) {
        const stored = partTensorName(name, p);
        if (!header.tensors.has(stored)) {
          throw new CorruptDataError(
            `lowbit metadata: quantized tensor ${quote(name)}: part ${quote(p)} (tensor ${quote(stored)}) is missing`,
          );
        }
        const prev = partOf.get(stored);
        if (prev !== undefined) {
          throw new CorruptDataError(
            `lowbit metadata: tensor ${quote(stored)} is a part of both ${quote(prev)} and ${quote(name)}`,
          );
        }
        partOf.set(stored, name);
      }
      quantized.set(name, info);
    }
  }
  const names: string[] = [];
  const placed = new Set<string>();
  for (const stored of header.tensors.keys()) {
    const q = partOf.get(stored);
    if (q === undefined) names.push(stored);
    else if (!placed.has(q)) {
      placed.add(q);
      names.push(q);
    }
  }
  return Object.freeze({ metadata: Object.freeze(metadata), names: Object.freeze(names), quantized });
}

/** The QuantizedTensor of `info` from its parts. */
export function assembleQuantized(
  info: QuantizedInfo,
  parts: ReadonlyMap<string, TensorPart>,
): QuantizedTensor {
  const record: Record<string, TensorPart> = Object.create(null);
  for (const p of info.parts) record[p] = parts.get(p)!;
  return Object.freeze({ spec: info.spec, shape: info.shape, parts: Object.freeze(record) });
}
