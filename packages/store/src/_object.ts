import { createHash } from "node:crypto";
import { CorruptDataError, IntegrityError, LimitExceededError } from "@lowbit/bits";
import { decodeBitDelta } from "./_bitdelta.js";
import {
  decodeDelta,
  decodeRans,
  decodeXor,
  decodeZstd,
  elementWidth,
  encodeDelta,
  encodeRans,
  encodeXor,
  encodeZstd,
  FLOAT_FORMATS,
  type FloatFormat,
} from "./_codecs.js";
import type { Compressor, PartCodec } from "./types.js";

/**
 * A stored object: "LBSO" | u32 LE header length | header JSON | payload. The object's key is the
 * sha256 of its logical bytes (what decoding yields), so identical content is stored once whatever
 * its encoding, and every read is checked against the key.
 */
export interface ObjectHeader {
  readonly v: 1;
  readonly codec: PartCodec;
  readonly length: number;
  readonly sha256: string;
  /** Sizes of the payload's blocks (one per byte plane). */
  readonly sizes: readonly number[];
  readonly dtype?: string;
  /** For xor/delta/bitdelta: the base object and, when it differs, the base's dtype (widened first). */
  readonly base?: string;
  readonly baseDtype?: string;
  /** Length of the delta chain below this object (0 without a base). */
  readonly depth: number;
  /** bitdelta: rows and the relative error of the reconstruction. */
  readonly rows?: number;
  readonly relativeError?: number;
}

const MAGIC = [0x4c, 0x42, 0x53, 0x4f]; // "LBSO"
export const MAX_HEADER = 64 * 1024;
/** Longest delta chain; a deeper base is not used as a base. */
export const MAX_DEPTH = 4;

export function sha256Hex(data: Uint8Array): string {
  return createHash("sha256").update(data).digest("hex");
}

export function objectKey(id: string): string {
  return `objects/${id.slice(0, 2)}/${id.slice(2)}`;
}

export function serializeObject(header: ObjectHeader, payload: Uint8Array): Uint8Array {
  const json = new TextEncoder().encode(JSON.stringify(header));
  const out = new Uint8Array(8 + json.length + payload.length);
  out.set(MAGIC, 0);
  new DataView(out.buffer).setUint32(4, json.length, true);
  out.set(json, 8);
  out.set(payload, 8 + json.length);
  return out;
}

const CODECS: readonly PartCodec[] = ["raw", "zstd", "xor", "delta", "bitdelta", "rans"];

/** Parses the header (and returns the payload view); every field is checked. */
export function parseObject(
  bytes: Uint8Array,
  id: string,
  maxLength: number,
): { header: ObjectHeader; payload: Uint8Array } {
  const bad = (why: string) => new CorruptDataError(`object ${id}: ${why}`);
  if (bytes.length < 8 || MAGIC.some((m, i) => bytes[i] !== m))
    throw bad("not a lowbit store object (bad magic)");
  const hlen = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength).getUint32(4, true);
  if (hlen > MAX_HEADER) throw bad(`header of ${hlen} bytes exceeds ${MAX_HEADER}`);
  if (8 + hlen > bytes.length) throw bad("truncated header");
  let h: ObjectHeader;
  try {
    h = JSON.parse(
      new TextDecoder("utf-8", { fatal: true }).decode(bytes.subarray(8, 8 + hlen)),
    ) as ObjectHeader;
  } catch (e) {
    throw new CorruptDataError(`object ${id}: header is not JSON`, { cause: e });
  }
  if (typeof h !== "object" || h === null || h.v !== 1) throw bad("unsupported header version");
  if (!CODECS.includes(h.codec)) throw bad(`unknown codec ${JSON.stringify(h.codec)}`);
  if (!Number.isSafeInteger(h.length) || h.length < 0) throw bad("bad length");
  if (h.length > maxLength)
    throw new LimitExceededError(`object ${id}: ${h.length} bytes exceeds the limit of ${maxLength}`);
  if (h.sha256 !== id) throw bad(`header names ${String(h.sha256)}`);
  if (!Array.isArray(h.sizes) || h.sizes.length > 8 || h.sizes.some((s) => !Number.isSafeInteger(s) || s < 0))
    throw bad("bad block sizes");
  const payload = bytes.subarray(8 + hlen);
  const total = h.sizes.reduce((a, b) => a + b, 0);
  if (total !== payload.length)
    throw bad(`payload holds ${payload.length} bytes, blocks say ${total} (truncated?)`);
  if (h.base !== undefined && !/^[0-9a-f]{64}$/.test(h.base)) throw bad("bad base id");
  if (!Number.isInteger(h.depth) || h.depth < 0 || h.depth > MAX_DEPTH) throw bad("bad depth");
  if ((h.codec === "xor" || h.codec === "delta" || h.codec === "bitdelta") && h.base === undefined)
    throw bad(`${h.codec} without a base`);
  return { header: h, payload };
}

/** The header alone is enough for gc (base references) and stats. */
export function headerLength(prefix: Uint8Array): number {
  if (prefix.length < 8 || MAGIC.some((m, i) => prefix[i] !== m)) return -1;
  return new DataView(prefix.buffer, prefix.byteOffset, prefix.byteLength).getUint32(4, true);
}

/** Widens a base tensor to the fine-tune's dtype (f16/bf16 → f32 is exact). */
export function widen(base: Uint8Array, from: string, to: string): Uint8Array | null {
  if (from === to) return base;
  if (to !== "F32" || (from !== "F16" && from !== "BF16")) return null;
  const n = base.length / 2;
  const src =
    base.byteOffset % 2 === 0
      ? new Uint16Array(base.buffer, base.byteOffset, n)
      : new Uint16Array(base.slice().buffer);
  const out = new Uint32Array(n);
  if (from === "BF16") {
    for (let i = 0; i < n; i++) out[i] = src[i]! << 16;
  } else {
    for (let i = 0; i < n; i++) out[i] = f16BitsToF32Bits(src[i]!);
  }
  return new Uint8Array(out.buffer);
}

function f16BitsToF32Bits(h: number): number {
  const sign = (h & 0x8000) << 16;
  const exp = (h >>> 10) & 31;
  let man = h & 0x3ff;
  if (exp === 31) return (sign | 0x7f800000 | (man << 13)) >>> 0;
  if (exp !== 0) return (sign | ((exp + 112) << 23) | (man << 13)) >>> 0;
  if (man === 0) return sign >>> 0;
  // Subnormal: normalise.
  let e = 113;
  while ((man & 0x400) === 0) {
    man <<= 1;
    e--;
  }
  return (sign | (e << 23) | ((man & 0x3ff) << 13)) >>> 0;
}

export interface EncodeInput {
  readonly data: Uint8Array;
  readonly id: string;
  readonly dtype?: string | undefined;
  readonly base?:
    | { readonly id: string; readonly data: Uint8Array; readonly dtype: string; readonly depth: number }
    | undefined;
}

/** Parts at least this large with a float base go straight to "delta" (xor and zstd lose there). */
const DELTA_ONLY_BYTES = 64 * 1024;
/** "rans" (no base) gains ~1 % over zstd planes, worth its slower decode only on large tensors. */
const RANS_MIN_BYTES = 1024 * 1024;

/**
 * Picks the encoding: the smallest of the candidates that can win. Large float tensors with a base
 * try only "delta" (on real fine-tunes it beats xor by 10 % and zstd by 20 %); small ones try
 * zstd and xor, whose stored tables are smaller; "raw" is the fallback when nothing is smaller.
 */
export function encodeObject(
  input: EncodeInput,
  c: Compressor,
  level: number,
): { header: ObjectHeader; payload: Uint8Array } {
  const { data, id } = input;
  const w = elementWidth(input.dtype);
  const fmt: FloatFormat | undefined = input.dtype === undefined ? undefined : FLOAT_FORMATS[input.dtype];
  const dtype = input.dtype === undefined ? {} : { dtype: input.dtype };
  let best: { header: ObjectHeader; payload: Uint8Array } = {
    header: { v: 1, codec: "raw", length: data.length, sha256: id, sizes: [data.length], depth: 0, ...dtype },
    payload: data,
  };
  const consider = (
    codec: PartCodec,
    r: { payload: Uint8Array; sizes: number[] },
    extra: Partial<ObjectHeader> = {},
  ) => {
    if (r.payload.length < best.payload.length) {
      best = {
        header: {
          v: 1,
          codec,
          length: data.length,
          sha256: id,
          sizes: r.sizes,
          depth: 0,
          ...dtype,
          ...extra,
        },
        payload: r.payload,
      };
    }
  };
  if (data.length === 0) return best;
  const b = input.base;
  const wide =
    b !== undefined && b.depth < MAX_DEPTH && input.dtype !== undefined
      ? widen(b.data, b.dtype, input.dtype)
      : null;
  if (b !== undefined && wide !== null && wide.length === data.length) {
    const extra: Partial<ObjectHeader> = {
      base: b.id,
      depth: b.depth + 1,
      ...(b.dtype !== input.dtype ? { baseDtype: b.dtype } : {}),
    };
    if (fmt !== undefined && data.length >= DELTA_ONLY_BYTES) {
      consider("delta", encodeDelta(data, wide, fmt), extra);
      return best;
    }
    consider("xor", encodeXor(data, wide, w, c, level), extra);
  }
  consider("zstd", encodeZstd(data, w, c, level));
  if (fmt !== undefined && fmt.dtype === "F16" && data.length >= RANS_MIN_BYTES)
    consider("rans", encodeRans(data, fmt));
  return best;
}

/** Decodes a parsed object; `base` is the decoded base object when the header names one. */
export function decodeObject(
  header: ObjectHeader,
  payload: Uint8Array,
  base: Uint8Array | undefined,
  c: Compressor,
  id: string,
): Uint8Array {
  let out: Uint8Array;
  const needBase = (): Uint8Array => {
    if (base === undefined) throw new CorruptDataError(`object ${id}: base ${header.base} not supplied`);
    const wide =
      header.baseDtype !== undefined && header.dtype !== undefined
        ? widen(base, header.baseDtype, header.dtype)
        : base;
    if (wide === null || wide.length !== header.length)
      throw new CorruptDataError(`object ${id}: base ${header.base} does not fit`);
    return wide;
  };
  const fmt = header.dtype === undefined ? undefined : FLOAT_FORMATS[header.dtype];
  switch (header.codec) {
    case "raw":
      out = payload;
      break;
    case "zstd":
      out = decodeZstd(payload, header.sizes, header.length, c);
      break;
    case "xor":
      out = decodeXor(payload, header.sizes, needBase(), c);
      break;
    case "delta":
      if (fmt === undefined) throw new CorruptDataError(`object ${id}: delta needs a float dtype`);
      out = decodeDelta(payload, header.sizes, needBase(), fmt);
      break;
    case "rans":
      out = decodeRans(payload, header.sizes, header.length);
      break;
    case "bitdelta":
      out = decodeBitDelta(payload, header, needBase());
      break;
  }
  if (out.length !== header.length)
    throw new CorruptDataError(`object ${id}: decodes to ${out.length} bytes, header says ${header.length}`);
  const got = sha256Hex(out);
  if (got !== id) throw new IntegrityError(`object ${id}: content hashes to ${got}`);
  return out;
}
