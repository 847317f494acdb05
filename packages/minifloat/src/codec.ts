import {
  assertBoolean,
  assertFloat32Array,
  assertInteger,
  assertOneOf,
  assertOptions,
  assertUint8Array,
  assertUint16Array,
  createRng,
  describe,
  type Rng,
  pack as packBits,
  packInto as packBitsInto,
  packedLength,
  randomSeed,
  unpack as unpackBits,
  unpackInto as unpackBitsInto,
} from "@lowbit/bits";
import type { RoundMode } from "./round.js";
import type { ScalarEncoder } from "./scalar.js";

/** Codes: one per element, Uint8Array for formats of up to 8 bits, Uint16Array for 16-bit formats. */
export type CodeArray = Uint8Array | Uint16Array;

/** Values accepted by `encode`: float32 as is; a Float64Array or number[] is first rounded to float32. */
export type FloatInput = Float32Array | Float64Array | readonly number[];

export interface EncodeOptions {
  /** Map finite overflow and ±Inf to ±max finite (OFP8 "saturating" / CUDA SATFINITE). NaN stays NaN. */
  saturate?: boolean;
  /** Default: the format's reference rounding (nearest-even; HiFloat8: nearest, ties away). */
  rounding?: "nearest-even" | "nearest-away" | "stochastic";
  /** Seed of the stochastic-rounding PRNG (xoshiro128**, see @lowbit/bits). Default: a random seed. */
  seed?: number;
}

export interface FloatCodec<C extends CodeArray = CodeArray> {
  /** Name as in ml_dtypes / torch. */
  readonly name: string;
  /** Bits per code. */
  readonly bits: number;
  /** Largest finite value. */
  readonly maxFinite: number;
  /** Smallest positive normal value. */
  readonly minNormal: number;
  /** Smallest positive value (a subnormal where the format has them). */
  readonly minSubnormal: number;
  readonly hasInf: boolean;
  readonly hasNaN: boolean;
  readonly hasNegativeZero: boolean;
  readonly signed: boolean;
  /** Rounding used when `opts.rounding` is not given. */
  readonly defaultRounding: "nearest-even" | "nearest-away";
  /** One code per element. Any float32 bit pattern is accepted (NaN payloads, Inf, subnormals). */
  encode(src: FloatInput, opts?: EncodeOptions): C;
  /** Writes `src.length` codes into `dst`; returns the number written. */
  encodeInto(src: FloatInput, dst: C, opts?: EncodeOptions): number;
  /** Exact values; NaN codes decode to a float32 NaN. */
  decode(codes: C): Float32Array;
  /** Writes `codes.length` values into `dst`; returns the number written. */
  decodeInto(codes: C, dst: Float32Array): number;
  /** One number → its code (the number is first rounded to float32). */
  encodeValue(value: number, opts?: EncodeOptions): number;
  /** One code → its value. */
  decodeValue(code: number): number;
}

/** Formats narrower than a byte also pack codes in the native LSB-first layout (SPEC §2). */
export interface SubByteFloatCodec extends FloatCodec<Uint8Array> {
  pack(codes: Uint8Array): Uint8Array;
  packInto(codes: Uint8Array, dst: Uint8Array): number;
  unpack(bytes: Uint8Array, count: number): Uint8Array;
  unpackInto(bytes: Uint8Array, dst: Uint8Array): number;
  packedLength(count: number): number;
}

/** What a codec is built from: the reference scalar encoder, the decode table and the metadata. */
export interface CodecSpec {
  name: string;
  bits: number;
  signed: boolean;
  hasInf: boolean;
  hasNaN: boolean;
  hasNegativeZero: boolean;
  minNormal: number;
  defaultRounding: "nearest-even" | "nearest-away";
  encodeScalar: ScalarEncoder;
  /** float32 bits of every code (length 2^bits). Called once, lazily for 16-bit formats. */
  decodeTable: () => Uint32Array;
  /** Parameters of the integer fast path for formats wider than 8 bits (see `encodeWide`). */
  wide?: WideParams;
  /** True when the code is the float32's high `bits` bits (bfloat16): decode is one shift. */
  truncatedFloat32?: boolean;
}

export interface WideParams {
  mantissaBits: number;
  bias: number;
  maxMag: number;
  /** float32 bits of the smallest normal of the format: below it the scalar path runs. */
  minNormalBits: number;
  zeroNeg: number;
}

const ROUNDINGS = ["nearest-even", "nearest-away", "stochastic"] as const;

interface Resolved {
  saturate: boolean;
  mode: RoundMode;
  rng: Rng | null;
}

/** Table entry meaning "the scalar encoder decides". */
const SLOW = 0xffffffff;

/**
 * Builds a codec with the fast paths:
 * - up to 8 bits: a 65 536-entry table indexed by the float32's high 16 bits. When the result also
 *   depends on the low 16 bits (an exact tie, or Inf vs NaN) the entry holds both candidates;
 * - 16 bits: integer round-to-nearest-even on the float32 bits for the normal range;
 * - stochastic rounding and rare inputs use the scalar reference encoder.
 */
export function createCodec<C extends CodeArray>(spec: CodecSpec): FloatCodec<C> {
  const { name, bits, encodeScalar } = spec;
  const narrow = bits <= 8;
  let decodeTable: Uint32Array | null = null;
  const getDecodeTable = () => {
    decodeTable ??= spec.decodeTable();
    return decodeTable;
  };
  const tables: [Uint32Array | null, Uint32Array | null] = [null, null];
  const getEncodeTable = (saturate: boolean): Uint32Array => {
    const k = saturate ? 1 : 0;
    tables[k] ??= buildEncodeTable(encodeScalar, saturate, spec.defaultRounding);
    return tables[k]!;
  };

  const values = Float32Array.from(new Float32Array(getDecodeTable().buffer.slice(0)));
  let maxFinite = 0;
  let minSubnormal = Number.POSITIVE_INFINITY;
  for (const v of values) {
    if (Number.isFinite(v) && v > maxFinite) maxFinite = v;
    if (v > 0 && v < minSubnormal) minSubnormal = v;
  }
  if (!narrow) decodeTable = null; // 256 KiB: rebuild on first decode rather than keep it for metadata

  const checkCodes = (codes: unknown, what: string): void => {
    if (narrow) assertUint8Array(codes, what);
    else assertUint16Array(codes, what);
  };

  const resolve = (opts: EncodeOptions | undefined): Resolved => {
    if (opts === undefined) return { saturate: false, mode: spec.defaultRounding, rng: null };
    assertOptions(opts, "opts");
    const saturate = opts.saturate ?? false;
    assertBoolean(saturate, "opts.saturate");
    const mode = opts.rounding ?? spec.defaultRounding;
    assertOneOf(mode, ROUNDINGS, "opts.rounding");
    let rng: Rng | null = null;
    if (mode === "stochastic") {
      const seed = opts.seed ?? randomSeed();
      assertInteger(seed, "opts.seed", 0, 0xffffffff);
      rng = createRng(seed);
    } else if (opts.seed !== undefined) {
      assertInteger(opts.seed, "opts.seed", 0, 0xffffffff);
    }
    return { saturate, mode, rng };
  };

  const toFloat32 = (src: unknown): Float32Array => {
    if (src instanceof Float32Array) return src;
    if (src instanceof Float64Array || Array.isArray(src)) return Float32Array.from(src as ArrayLike<number>);
    throw new TypeError(`src must be a Float32Array, Float64Array or number[], got ${describe(src)}`);
  };

  const encodeInto = (srcIn: FloatInput, dst: C, opts?: EncodeOptions): number => {
    const src = toFloat32(srcIn);
    checkCodes(dst, "dst");
    if (dst.length < src.length) {
      throw new RangeError(`dst is too short: need ${src.length} codes, got ${dst.length}`);
    }
    const r = resolve(opts);
    const x32 = new Uint32Array(src.buffer, src.byteOffset, src.length);
    if (r.mode === "stochastic" || r.mode !== spec.defaultRounding) {
      for (let i = 0; i < x32.length; i++) dst[i] = encodeScalar(x32[i]!, r.saturate, r.mode, r.rng);
    } else if (narrow) {
      encodeTable(x32, dst, getEncodeTable(r.saturate), encodeScalar, r.saturate, r.mode);
    } else if (spec.wide !== undefined && r.mode === "nearest-even") {
      encodeWide(x32, dst, spec.wide, bits, encodeScalar, r.saturate);
    } else {
      for (let i = 0; i < x32.length; i++) dst[i] = encodeScalar(x32[i]!, r.saturate, r.mode, null);
    }
    return src.length;
  };

  const decodeInto = (codes: C, dst: Float32Array): number => {
    checkCodes(codes, "codes");
    assertFloat32Array(dst, "dst");
    const n = codes.length;
    if (dst.length < n) throw new RangeError(`dst is too short: need ${n} values, got ${dst.length}`);
    const out = new Uint32Array(dst.buffer, dst.byteOffset, n);
    if (spec.truncatedFloat32) {
      const s = 32 - bits;
      for (let i = 0; i < n; i++) out[i] = codes[i]! << s;
      return n;
    }
    const table = getDecodeTable();
    if (bits < 8) {
      let acc = 0;
      for (let i = 0; i < n; i++) {
        const c = codes[i]!;
        acc |= c;
        out[i] = table[c]!;
      }
      if (acc >>> bits !== 0) throw invalidCode(codes, bits);
      return n;
    }
    for (let i = 0; i < n; i++) out[i] = table[codes[i]!]!;
    return n;
  };

  const f32 = new Float32Array(1);
  const u32 = new Uint32Array(f32.buffer);

  const codec: FloatCodec<C> = {
    name,
    bits,
    maxFinite,
    minNormal: spec.minNormal,
    minSubnormal,
    hasInf: spec.hasInf,
    hasNaN: spec.hasNaN,
    hasNegativeZero: spec.hasNegativeZero,
    signed: spec.signed,
    defaultRounding: spec.defaultRounding,
    encode(src, opts) {
      const s = toFloat32(src);
      const dst = (narrow ? new Uint8Array(s.length) : new Uint16Array(s.length)) as C;
      encodeInto(s, dst, opts);
      return dst;
    },
    encodeInto,
    decode(codes) {
      checkCodes(codes, "codes");
      const dst = new Float32Array(codes.length);
      decodeInto(codes, dst);
      return dst;
    },
    decodeInto,
    encodeValue(value, opts) {
      if (typeof value !== "number") throw new TypeError(`value must be a number, got ${describe(value)}`);
      const r = resolve(opts);
      f32[0] = value;
      return encodeScalar(u32[0]!, r.saturate, r.mode, r.rng);
    },
    decodeValue(code) {
      assertInteger(code, "code", 0, (1 << bits) - 1);
      if (spec.truncatedFloat32) u32[0] = code << (32 - bits);
      else u32[0] = getDecodeTable()[code]!;
      return f32[0]!;
    },
  };
  return codec;
}

/** Adds the native pack/unpack methods to a codec of fewer than 8 bits. */
export function withPacking(codec: FloatCodec<Uint8Array>): SubByteFloatCodec {
  const b = codec.bits;
  return {
    ...codec,
    pack: (codes) => packBits(codes, b),
    packInto: (codes, dst) => packBitsInto(codes, b, dst),
    unpack: (bytes, count) => unpackBits(bytes, b, count),
    unpackInto: (bytes, dst) => unpackBitsInto(bytes, b, dst),
    packedLength: (count) => packedLength(count, b),
  };
}

function invalidCode(codes: CodeArray, bits: number): RangeError {
  let i = 0;
  while (codes[i]! >>> bits === 0) i++;
  return new RangeError(`codes[${i}] = ${codes[i]} is not a ${bits}-bit code (expected 0..${(1 << bits) - 1})`);
}

function buildEncodeTable(enc: ScalarEncoder, saturate: boolean, mode: RoundMode): Uint32Array {
  const table = new Uint32Array(65536);
  for (let hi = 0; hi < 65536; hi++) {
    const base = (hi << 16) >>> 0;
    const atBase = enc(base, saturate, mode, null);
    const above = enc((base | 1) >>> 0, saturate, mode, null);
    const top = enc((base | 0xffff) >>> 0, saturate, mode, null);
    if (above !== top) table[hi] = SLOW;
    else if (atBase === above) table[hi] = atBase;
    else table[hi] = 0x10000 | (atBase << 8) | above;
  }
  return table;
}

function encodeTable(
  x32: Uint32Array,
  dst: CodeArray,
  table: Uint32Array,
  enc: ScalarEncoder,
  saturate: boolean,
  mode: RoundMode,
): void {
  const n = x32.length;
  for (let i = 0; i < n; i++) {
    const x = x32[i]!;
    let c = table[x >>> 16]!;
    if (c > 0xff) {
      if (c === SLOW) c = enc(x, saturate, mode, null);
      else c = (x & 0xffff) === 0 ? (c >>> 8) & 0xff : c & 0xff;
    }
    dst[i] = c;
  }
}

/**
 * Round-to-nearest-even on the bits: in the normal range the code magnitude is the float32 magnitude
 * shifted right by (23 − M) with the exponent re-biased; a mantissa carry moves into the exponent.
 */
function encodeWide(
  x32: Uint32Array,
  dst: CodeArray,
  w: WideParams,
  bits: number,
  enc: ScalarEncoder,
  saturate: boolean,
): void {
  const sh = 23 - w.mantissaBits;
  const halfMinus1 = (1 << (sh - 1)) - 1;
  const rebias = (127 - w.bias) << w.mantissaBits;
  const lo = w.minNormalBits;
  const maxMag = w.maxMag;
  const signShift = bits - 1;
  const zeroNeg = w.zeroNeg;
  const n = x32.length;
  for (let i = 0; i < n; i++) {
    const x = x32[i]!;
    const a = x & 0x7fffffff;
    let c: number;
    if (a >= lo && a < 0x7f800000) {
      const mag = ((a + halfMinus1 + ((a >>> sh) & 1)) >>> sh) - rebias;
      c = mag <= maxMag ? mag | ((x >>> 31) << signShift) : enc(x, saturate, "nearest-even", null);
    } else if (a === 0) {
      c = x === 0 ? 0 : zeroNeg;
    } else {
      c = enc(x, saturate, "nearest-even", null);
    }
    dst[i] = c;
  }
}
