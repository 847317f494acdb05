import {
  assertFloat32Array,
  assertShapeMatches,
  assertUint8Array,
  CorruptDataError,
  describe,
  type QuantizedTensor,
  type Quantizer,
  shapeSize,
  throwIfAborted,
  type WorkContext,
} from "@lowbit/bits";
import {
  decodeMxfp4,
  decodeQ4_0,
  decodeQ4_1,
  decodeQ8_0,
  encodeMxfp4,
  encodeQ4_0,
  encodeQ4_1,
  encodeQ8_0,
  QK,
} from "./_gguf-kernels.js";
import { assertKnownOptions, optChoice } from "./_options.js";

/**
 * GGUF block formats, byte-exact with llama.cpp's gguf-py (`gguf-py/gguf/quants.py`): the block
 * stream is the GGUF tensor data exactly as llama.cpp lays it out (little endian, 32 elements a block).
 */

/** Q4_0 rounding: gguf-py's current float32 `x·id + 8.5`, or its float64 version from before PR #15111. */
export type GgufQ4_0Variant = "current" | "pre15111";

export interface GgufEncodeOptions {
  /** Q4_0 only (default "current"). */
  readonly variant?: GgufQ4_0Variant;
}

export interface GgufBlockCodec {
  /** Registered name: `gguf_q4_0`, `gguf_q4_1`, `gguf_q8_0`, `gguf_mxfp4`. */
  readonly name: string;
  /** The ggml type name (`Q4_0`, …). */
  readonly ggmlType: string;
  /** Elements per block (32). */
  readonly blockSize: number;
  /** Bytes per block: Q4_0 18, Q4_1 20, Q8_0 34, MXFP4 17. */
  readonly blockBytes: number;
  /** Bytes for `count` elements (a multiple of 32). */
  encodedLength(count: number): number;
  /** Quantizes `src` (length a multiple of 32) into a new block stream. */
  encode(src: Float32Array, opts?: GgufEncodeOptions): Uint8Array;
  /** Writes the block stream into `dst`; returns the bytes written. */
  encodeInto(src: Float32Array, dst: Uint8Array, opts?: GgufEncodeOptions): number;
  /** Decodes a whole block stream (its length a multiple of `blockBytes`). */
  decode(blocks: Uint8Array): Float32Array;
  /** Decodes `dst.length` elements (a multiple of 32) from the start of `blocks`; returns dst.length. */
  decodeInto(blocks: Uint8Array, dst: Float32Array): number;
}

interface Kernel {
  name: string;
  ggmlType: string;
  blockBytes: number;
  summary: string;
  hasVariant: boolean;
  encode(x: Float32Array, out: Uint8Array, nb: number, pre15111: boolean): void;
  decode(blocks: Uint8Array, out: Float32Array, nb: number): void;
}

const VARIANTS: readonly GgufQ4_0Variant[] = ["current", "pre15111"];

function resolveVariant(k: Kernel, opts: unknown): GgufQ4_0Variant | null {
  const o = assertKnownOptions(opts, k.name, k.hasVariant ? ["variant"] : []);
  return k.hasVariant ? optChoice(o, "variant", VARIANTS, "current") : null;
}

function assertBlockCount(count: number, what: string): number {
  if (count % QK !== 0) throw new RangeError(`${what} must be a multiple of ${QK} elements, got ${count}`);
  return count / QK;
}

function makeCodec(k: Kernel): GgufBlockCodec {
  const encodeInto = (src: Float32Array, dst: Uint8Array, opts?: GgufEncodeOptions): number => {
    assertFloat32Array(src, "src");
    assertUint8Array(dst, "dst");
    const variant = resolveVariant(k, opts);
    const nb = assertBlockCount(src.length, "src");
    const bytes = nb * k.blockBytes;
    if (dst.length < bytes) throw new RangeError(`dst is too short: need ${bytes} bytes, got ${dst.length}`);
    k.encode(src, dst, nb, variant === "pre15111");
    return bytes;
  };
  const decodeInto = (blocks: Uint8Array, dst: Float32Array): number => {
    assertUint8Array(blocks, "blocks");
    assertFloat32Array(dst, "dst");
    const nb = assertBlockCount(dst.length, "dst");
    if (blocks.length < nb * k.blockBytes) {
      throw new RangeError(
        `blocks is too short: ${dst.length} elements need ${nb * k.blockBytes} bytes, got ${blocks.length}`,
      );
    }
    k.decode(blocks, dst, nb);
    return dst.length;
  };
  return Object.freeze({
    name: k.name,
    ggmlType: k.ggmlType,
    blockSize: QK,
    blockBytes: k.blockBytes,
    encodedLength(count: number) {
      if (typeof count !== "number" || !Number.isSafeInteger(count) || count < 0) {
        throw new RangeError(`count must be a non-negative integer, got ${describe(count)}`);
      }
      return assertBlockCount(count, "count") * k.blockBytes;
    },
    encode(src: Float32Array, opts?: GgufEncodeOptions) {
      assertFloat32Array(src, "src");
      const out = new Uint8Array(assertBlockCount(src.length, "src") * k.blockBytes);
      encodeInto(src, out, opts);
      return out;
    },
    encodeInto,
    decode(blocks: Uint8Array) {
      assertUint8Array(blocks, "blocks");
      if (blocks.length % k.blockBytes !== 0) {
        throw new RangeError(
          `blocks must be a multiple of ${k.blockBytes} bytes (one ${k.ggmlType} block), got ${blocks.length}`,
        );
      }
      const out = new Float32Array((blocks.length / k.blockBytes) * QK);
      decodeInto(blocks, out);
      return out;
    },
    decodeInto,
  });
}

/** Byte shape of the `blocks` part: the tensor shape with its last dimension in bytes (as gguf-py). */
function byteShape(shape: readonly number[], k: Kernel): number[] {
  const rank = shape.length;
  const last = rank === 0 ? undefined : shape[rank - 1]!;
  if (last === undefined || last % QK !== 0) {
    throw new RangeError(
      `${k.name} needs the last dimension to be a multiple of ${QK}, got shape [${shape.join(", ")}]`,
    );
  }
  return [...shape.slice(0, -1), (last / QK) * k.blockBytes];
}

/** Blocks per step between progress reports and abort checks. */
const STEP_BLOCKS = 1 << 15;

function makeQuantizer(k: Kernel, codec: GgufBlockCodec): Quantizer {
  const quantize = (
    src: Float32Array,
    shape: readonly number[],
    spec?: Readonly<Record<string, unknown>>,
    ctx?: WorkContext,
  ): QuantizedTensor => {
    assertFloat32Array(src, "src");
    const n = assertShapeMatches(src, shape);
    const variant = resolveVariant(k, spec);
    const bshape = byteShape(shape, k);
    const nb = n / QK;
    const out = new Uint8Array(nb * k.blockBytes);
    const step = Math.max(STEP_BLOCKS, Math.ceil(nb / 200));
    for (let b0 = 0; b0 < nb; b0 += step) {
      throwIfAborted(ctx?.signal);
      ctx?.onProgress?.(b0, nb);
      const b1 = Math.min(nb, b0 + step);
      k.encode(
        src.subarray(b0 * QK, b1 * QK),
        out.subarray(b0 * k.blockBytes),
        b1 - b0,
        variant === "pre15111",
      );
    }
    ctx?.onProgress?.(nb, nb);
    return {
      spec: variant === null ? { format: k.name } : { format: k.name, variant },
      shape: [...shape],
      parts: { blocks: { dtype: "U8", shape: bshape, data: out } },
    };
  };

  const dequantize = (qt: QuantizedTensor, dst?: Float32Array): Float32Array => {
    const fail = (what: string) => new CorruptDataError(`${k.name} tensor: ${what}`);
    if (qt === null || typeof qt !== "object" || qt.spec === null || typeof qt.spec !== "object") {
      throw fail("must be an object with spec, shape and parts");
    }
    if (qt.spec.format !== k.name) throw fail(`spec.format is ${describe(qt.spec.format)}, not "${k.name}"`);
    let n: number;
    let bshape: number[];
    try {
      n = shapeSize(qt.shape, "shape");
      resolveVariant(k, qt.spec);
      bshape = byteShape(qt.shape, k);
    } catch (e) {
      throw fail((e as Error).message);
    }
    if (dst !== undefined) {
      assertFloat32Array(dst, "dst");
      if (dst.length < n) throw new RangeError(`dst is too short: need ${n} values, got ${dst.length}`);
    }
    const parts = qt.parts;
    if (parts === null || typeof parts !== "object") throw fail("parts must be an object");
    for (const key of Object.keys(parts)) {
      if (key !== "blocks") throw fail(`unexpected part "${key}" (expected blocks)`);
    }
    const p = parts["blocks"];
    if (p === undefined || p === null || typeof p !== "object") throw fail('missing part "blocks"');
    const bytes = (n / QK) * k.blockBytes;
    if (p.dtype !== "U8" || !(p.data instanceof Uint8Array)) {
      throw fail(`part "blocks" must be U8 (Uint8Array), got ${String(p.dtype)} ${describe(p.data)}`);
    }
    if (p.data.length !== bytes) throw fail(`part "blocks" must hold ${bytes} bytes, got ${p.data.length}`);
    const ps = p.shape;
    if (!Array.isArray(ps) || ps.length !== bshape.length || ps.some((d, i) => d !== bshape[i])) {
      throw fail(`part "blocks" must have shape [${bshape.join(", ")}], got ${JSON.stringify(ps)}`);
    }
    const out = dst ?? new Float32Array(n);
    codec.decodeInto(p.data, n === out.length ? out : out.subarray(0, n));
    return out;
  };

  return Object.freeze({
    name: k.name,
    summary: k.summary,
    defaults: Object.freeze(k.hasVariant ? { variant: "current" } : {}),
    quantize,
    dequantize,
  });
}

const KERNELS: readonly Kernel[] = [
  {
    name: "gguf_q4_0",
    ggmlType: "Q4_0",
    blockBytes: 18,
    summary: "GGUF Q4_0: 32-blocks, fp16 d = max/−8, 4-bit codes (llama.cpp gguf-py)",
    hasVariant: true,
    encode: (x, out, nb, pre) =>
      encodeQ4_0(x, new Uint32Array(x.buffer, x.byteOffset, x.length), out, nb, pre),
    decode: decodeQ4_0,
  },
  {
    name: "gguf_q4_1",
    ggmlType: "Q4_1",
    blockBytes: 20,
    summary: "GGUF Q4_1: 32-blocks, fp16 d and min, 4-bit codes (llama.cpp gguf-py)",
    hasVariant: false,
    encode: (x, out, nb) => encodeQ4_1(x, out, nb),
    decode: decodeQ4_1,
  },
  {
    name: "gguf_q8_0",
    ggmlType: "Q8_0",
    blockBytes: 34,
    summary: "GGUF Q8_0: 32-blocks, fp16 d = amax/127, int8 codes (llama.cpp gguf-py)",
    hasVariant: false,
    encode: (x, out, nb) => encodeQ8_0(x, new Uint32Array(x.buffer, x.byteOffset, x.length), out, nb),
    decode: decodeQ8_0,
  },
  {
    name: "gguf_mxfp4",
    ggmlType: "MXFP4",
    blockBytes: 17,
    summary: "GGUF MXFP4: 32-blocks, E8M0 scale, E2M1 codes (llama.cpp gguf-py)",
    hasVariant: false,
    encode: (x, out, nb) => encodeMxfp4(x, new Uint32Array(x.buffer, x.byteOffset, x.length), out, nb),
    decode: decodeMxfp4,
  },
];

const CODECS = KERNELS.map(makeCodec);

/** GGUF Q4_0: fp16 d + 16 bytes of split-halves nibbles (18 bytes per 32 elements). */
export const ggufQ4_0: GgufBlockCodec = CODECS[0]!;
/** GGUF Q4_1: fp16 d, fp16 m + 16 bytes of split-halves nibbles (20 bytes per 32 elements). */
export const ggufQ4_1: GgufBlockCodec = CODECS[1]!;
/** GGUF Q8_0: fp16 d + 32 int8 (34 bytes per 32 elements). */
export const ggufQ8_0: GgufBlockCodec = CODECS[2]!;
/** GGUF MXFP4: E8M0 e + 16 bytes of split-halves nibbles (17 bytes per 32 elements). */
export const ggufMxfp4: GgufBlockCodec = CODECS[3]!;

/** The four GGUF block quantizers (`gguf_q4_0`, `gguf_q4_1`, `gguf_q8_0`, `gguf_mxfp4`). */
export const ggufQuantizers: readonly Quantizer[] = KERNELS.map((k, i) => makeQuantizer(k, CODECS[i]!));
