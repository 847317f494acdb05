import { describe, type PartDtype, type TensorPart } from "@lowbit/bits";
import { DTYPE_RANK, quote } from "./_dtype.js";
import { bytesOfTensor } from "./_tensor.js";
import { assertLittleEndian, DEFAULT_LIMITS, type SafetensorsHeader } from "./header.js";

/** Tensors to write: a record or a Map (as `readSafetensors` returns) of name → tensor. */
export type TensorsInput = Readonly<Record<string, TensorPart>> | ReadonlyMap<string, TensorPart>;

export interface EncodeOptions {
  /**
   * The header of a file that was read. When the tensors (names, dtypes, shapes) and the metadata
   * are the same as in it, its header bytes and tensor order are kept verbatim, so read → encode
   * reproduces the file byte for byte (only the tensor values may differ). Otherwise the tensors it
   * names keep its order, new ones follow in the default order, and the header is written afresh.
   */
  readonly like?: SafetensorsHeader;
}

/** A planned file: the first 8 + N bytes, then each tensor's bytes in order. */
export interface Layout {
  readonly head: Uint8Array;
  readonly chunks: readonly Uint8Array[];
  readonly dataLength: number;
}

interface Item {
  readonly name: string;
  readonly dtype: PartDtype;
  readonly shape: readonly number[];
  readonly bytes: Uint8Array;
}

const LONE_SURROGATE = /[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/;

function assertText(s: unknown, what: string): asserts s is string {
  if (typeof s !== "string") throw new TypeError(`${what} must be a string, got ${describe(s)}`);
  if (LONE_SURROGATE.test(s)) throw new RangeError(`${what} is not well-formed Unicode (a lone surrogate)`);
}

/** Code-point order, which is the byte order of UTF-8 (the reference sorts Rust strings by bytes). */
export function compareNames(a: string, b: string): number {
  const n = Math.min(a.length, b.length);
  for (let i = 0; i < n; i++) {
    const x = a.codePointAt(i)!;
    const y = b.codePointAt(i)!;
    if (x !== y) return x - y;
    if (x > 0xffff) i++;
  }
  return a.length - b.length;
}

function entriesOf(tensors: TensorsInput): [string, TensorPart][] {
  if (tensors instanceof Map) return [...(tensors as ReadonlyMap<string, TensorPart>).entries()];
  if (typeof tensors !== "object" || tensors === null || Array.isArray(tensors)) {
    throw new TypeError(`tensors must be a Record or Map of name → tensor, got ${describe(tensors)}`);
  }
  return Object.keys(tensors).map((k) => [k, (tensors as Readonly<Record<string, TensorPart>>)[k]!]);
}

/** Validated metadata as [key, value] pairs in code-point order of the keys. */
function metadataEntries(metadata: unknown): [string, string][] {
  if (metadata === undefined) return [];
  if (typeof metadata !== "object" || metadata === null || Array.isArray(metadata)) {
    throw new TypeError(`metadata must be a Record of string → string, got ${describe(metadata)}`);
  }
  const out: [string, string][] = [];
  for (const key of Object.keys(metadata)) {
    assertText(key, "a metadata key");
    const v = (metadata as Record<string, unknown>)[key];
    assertText(v, `metadata[${quote(key)}]`);
    out.push([key, v]);
  }
  return out.sort((a, b) => compareNames(a[0], b[0]));
}

function sameShape(a: readonly number[], b: readonly number[]): boolean {
  return a.length === b.length && a.every((d, i) => d === b[i]);
}

/** True when `items` and `meta` describe exactly the tensors and metadata of `like`. */
function matches(like: SafetensorsHeader, items: Map<string, Item>, meta: [string, string][]): boolean {
  if (like.tensors.size !== items.size) return false;
  for (const [name, info] of like.tensors) {
    const item = items.get(name);
    if (item === undefined || item.dtype !== info.dtype || !sameShape(item.shape, info.shape)) return false;
  }
  const likeKeys = Object.keys(like.metadata);
  if (likeKeys.length !== meta.length) return false;
  return meta.every(([k, v]) => Object.hasOwn(like.metadata, k) && like.metadata[k] === v);
}

const encoder = new TextEncoder();

function headerJson(order: readonly Item[], meta: [string, string][]): string {
  const parts: string[] = [];
  if (meta.length > 0) {
    parts.push(
      `"__metadata__":{${meta.map(([k, v]) => `${JSON.stringify(k)}:${JSON.stringify(v)}`).join(",")}}`,
    );
  }
  let offset = 0;
  for (const t of order) {
    const end = offset + t.bytes.length;
    parts.push(
      `${JSON.stringify(t.name)}:{"dtype":"${t.dtype}","shape":[${t.shape.join(",")}],"data_offsets":[${offset},${end}]}`,
    );
    offset = end;
  }
  return `{${parts.join(",")}}`;
}

/** The 8-byte length and the header; a new header is padded to a multiple of 8 and kept readable. */
function headWith(json: Uint8Array, fresh: boolean): Uint8Array {
  const n = fresh ? Math.ceil(json.length / 8) * 8 : json.length;
  if (fresh && n > DEFAULT_LIMITS.maxHeaderBytes) {
    throw new RangeError(
      `the header would be ${n} bytes, more than the ${DEFAULT_LIMITS.maxHeaderBytes} safetensors readers accept`,
    );
  }
  const head = new Uint8Array(8 + n).fill(0x20, 8 + json.length);
  new DataView(head.buffer).setBigUint64(0, BigInt(n), true);
  head.set(json, 8);
  return head;
}

/**
 * Plans a file. Default layout, as the reference writer: tensors sorted by dtype alignment (widest
 * first) then name, so each starts at a multiple of its element size; compact JSON with `__metadata__`
 * first (keys sorted) and each entry as {dtype, shape, data_offsets}; spaces pad the header to a
 * multiple of 8.
 */
export function planLayout(
  tensors: TensorsInput,
  metadata: unknown,
  options: EncodeOptions | undefined,
): Layout {
  assertLittleEndian();
  if (options !== undefined && (typeof options !== "object" || options === null)) {
    throw new TypeError(`options must be an object, got ${describe(options)}`);
  }
  const items = new Map<string, Item>();
  for (const [name, part] of entriesOf(tensors)) {
    assertText(name, "a tensor name");
    if (name === "__metadata__") throw new RangeError('"__metadata__" is reserved and cannot name a tensor');
    items.set(name, { name, ...bytesOfTensor(part, `tensors[${quote(name)}]`) });
  }
  const meta = metadataEntries(metadata);
  const like = options?.like;
  if (like !== undefined) {
    if (
      typeof like !== "object" ||
      like === null ||
      !(like.tensors instanceof Map) ||
      !(like.raw instanceof Uint8Array)
    ) {
      throw new TypeError(
        `options.like must be a header from parseHeader/readSafetensors, got ${describe(like)}`,
      );
    }
    if (matches(like, items, meta)) {
      const order = [...like.tensors.keys()].map((name) => items.get(name)!);
      return {
        head: headWith(like.raw, false),
        chunks: order.map((t) => t.bytes),
        dataLength: like.dataLength,
      };
    }
  }
  const likeOrder = new Map<string, number>();
  for (const name of like?.tensors.keys() ?? []) likeOrder.set(name, likeOrder.size);
  const order = [...items.values()].sort((a, b) => {
    const ka = likeOrder.get(a.name);
    const kb = likeOrder.get(b.name);
    if (ka !== undefined || kb !== undefined) return ka === undefined ? 1 : kb === undefined ? -1 : ka - kb;
    return DTYPE_RANK[b.dtype] - DTYPE_RANK[a.dtype] || compareNames(a.name, b.name);
  });
  let dataLength = 0;
  for (const t of order) dataLength += t.bytes.length;
  if (!Number.isSafeInteger(dataLength)) throw new RangeError(`tensors hold too many bytes (${dataLength})`);
  return {
    head: headWith(encoder.encode(headerJson(order, meta)), true),
    chunks: order.map((t) => t.bytes),
    dataLength,
  };
}
