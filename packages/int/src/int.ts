import {
  assertFloat32Array,
  assertShapeMatches,
  CorruptDataError,
  describe,
  type PartDtype,
  packedLength,
  packInto,
  type QuantizedTensor,
  type Quantizer,
  randomSeed,
  shapeSize,
  type TensorPart,
  type WorkContext,
} from "@lowbit/bits";
import { bfloat16Value, float16Table, halfBits } from "./_half.js";
import {
  computeScales,
  decodeLevels,
  encodeLevels,
  type IntLayout,
  intLayout,
  intParams,
} from "./_int-kernels.js";
import {
  assertKnownOptions,
  type Options,
  optBoolean,
  optChoice,
  optInteger,
  optIntegerOrNull,
} from "./_options.js";

/** Rounding of x / scale to an integer level. */
export type IntRounding = "nearest-even" | "stochastic";

/** dtype of the stored scales. */
export type IntScaleDtype = "F32" | "F16" | "BF16";

/** Options of the `int2`…`int8` and `uint2`…`uint8` quantizers (every one optional). */
export interface IntOptions {
  /**
   * Group size along the last axis: each run of `group` consecutive elements of a row has its own
   * scale (it must divide the last dimension). `0` (default): no groups — one scale per channel along
   * `axis`, or per tensor when `axis` is null.
   */
  readonly group?: number;
  /** Channel axis when `group` is 0 (default 0; negative counts from the end); `null`: one scale per tensor. */
  readonly axis?: number | null;
  /** Default: true for signed `intB` (zero point 0), false for unsigned `uintB` (a zero point per group). */
  readonly symmetric?: boolean;
  /** Symmetric only: use code −2^(b−1) too, with scale = amax / ((2^b − 1) / 2) (torchao, onnxruntime). */
  readonly fullRange?: boolean;
  /** Default "nearest-even". */
  readonly rounding?: IntRounding;
  /** Seed of stochastic rounding (xoshiro128**); default a random seed, recorded in the resolved spec. */
  readonly seed?: number | null;
  /** Search 81 shrink factors of the range per group and keep the one with least squared error. */
  readonly clip?: boolean;
  /** Default "F32". F16/BF16 scales are rounded before the codes are computed, so decode is exact. */
  readonly scaleDtype?: IntScaleDtype;
}

/** `quantizeInt` options: the code width and signedness pick the format (`int4`, `uint8`, …). */
export interface QuantizeIntOptions extends IntOptions {
  /** 2..8. */
  readonly bits: number;
  /** Signed codes (`intB`, default) or unsigned codes (`uintB`). */
  readonly signed?: boolean;
}

const OPTION_KEYS = [
  "group",
  "axis",
  "symmetric",
  "fullRange",
  "rounding",
  "seed",
  "clip",
  "scaleDtype",
] as const;
const ROUNDINGS: readonly IntRounding[] = ["nearest-even", "stochastic"];
const SCALE_DTYPES: readonly IntScaleDtype[] = ["F32", "F16", "BF16"];

interface Resolved {
  readonly group: number;
  readonly axis: number | null;
  readonly symmetric: boolean;
  readonly fullRange: boolean;
  readonly rounding: IntRounding;
  readonly seed: number | null;
  readonly clip: boolean;
  readonly scaleDtype: IntScaleDtype;
}

function resolve(format: string, signed: boolean, spec: unknown, forDecode: boolean): Resolved {
  const o: Options = assertKnownOptions(spec, format, OPTION_KEYS);
  const group = optInteger(o, "group", 0, 0, Number.MAX_SAFE_INTEGER);
  let axis = optIntegerOrNull(o, "axis", 0, -1024, 1023);
  if (group > 0) {
    if (o["axis"] !== undefined && o["axis"] !== null) {
      throw new RangeError(
        `option axis applies only when group is 0 (groups run along the last axis); got group ${group} and axis ${describe(o["axis"])}`,
      );
    }
    axis = null;
  }
  const symmetric = optBoolean(o, "symmetric", signed);
  const fullRange = optBoolean(o, "fullRange", false);
  if (fullRange && !symmetric) {
    throw new RangeError(
      `option fullRange applies only to symmetric quantization (${format} with symmetric: false)`,
    );
  }
  const rounding = optChoice(o, "rounding", ROUNDINGS, "nearest-even");
  let seed = optIntegerOrNull(o, "seed", null, 0, 0xffffffff);
  if (seed === null && rounding === "stochastic" && !forDecode) seed = randomSeed();
  const clip = optBoolean(o, "clip", false);
  const scaleDtype = optChoice(o, "scaleDtype", SCALE_DTYPES, "F32");
  return { group, axis, symmetric, fullRange, rounding, seed, clip, scaleDtype };
}

function formatOf(bits: number, signed: boolean): string {
  return `${signed ? "int" : "uint"}${bits}`;
}

function scalePart(scales: Float32Array, dtype: IntScaleDtype, grid: readonly number[]): TensorPart {
  if (dtype === "F32") return { dtype, shape: [...grid], data: scales };
  return { dtype, shape: [...grid], data: halfBits(scales, dtype) };
}

function quantizeWith(
  bits: number,
  signed: boolean,
  src: Float32Array,
  shape: readonly number[],
  spec: unknown,
  ctx: WorkContext | undefined,
): QuantizedTensor {
  const format = formatOf(bits, signed);
  assertFloat32Array(src, "src");
  const n = assertShapeMatches(src, shape);
  const r = resolve(format, signed, spec, false);
  const layout = intLayout(shape, n, r.group, r.axis);
  const p = intParams(bits, signed, r.symmetric, r.fullRange, r.scaleDtype);
  const sc = computeScales(src, n, layout, p, r.clip, ctx);
  const codes = encodeLevels(src, n, layout, p, sc, r.rounding === "stochastic" ? r.seed : null, ctx);
  const qdata = new Uint8Array(packedLength(n, bits));
  packInto(codes, bits, qdata);
  const parts: Record<string, TensorPart> = {
    qdata: { dtype: "U8", shape: [qdata.length], data: qdata },
    scales: scalePart(sc.scales, r.scaleDtype, layout.grid),
  };
  if (!r.symmetric) {
    // Stored in the codes' own domain: U8 0..2^b−1 for unsigned codes, I8 −2^(b−1)..2^(b−1)−1 for signed.
    const half = 2 ** (bits - 1);
    const zeros = signed ? new Int8Array(layout.count) : new Uint8Array(layout.count);
    for (let c = 0; c < layout.count; c++) zeros[c] = signed ? sc.zeros[c]! - half : sc.zeros[c]!;
    parts["zeros"] = { dtype: signed ? "I8" : "U8", shape: [...layout.grid], data: zeros };
  }
  return { spec: { format, ...r }, shape: [...shape], parts };
}

// ---------------------------------------------------------------------------------------------
// Decoding, with every part checked: the tensor may come from an untrusted file.

function corrupt(format: string, what: string): CorruptDataError {
  return new CorruptDataError(`${format} tensor: ${what}`);
}

function sameShape(a: unknown, b: readonly number[]): boolean {
  return Array.isArray(a) && a.length === b.length && a.every((d, i) => d === b[i]);
}

const ARRAY_OF: Readonly<Partial<Record<PartDtype, new (n: number) => unknown>>> = {
  F32: Float32Array,
  F16: Uint16Array,
  BF16: Uint16Array,
  U8: Uint8Array,
  I8: Int8Array,
};

function checkPart(
  format: string,
  parts: Readonly<Record<string, TensorPart>>,
  name: string,
  dtype: PartDtype,
  length: number,
  shape: readonly number[],
): TensorPart {
  const part = parts[name];
  if (part === undefined || part === null || typeof part !== "object")
    throw corrupt(format, `missing part "${name}"`);
  const ctor = ARRAY_OF[dtype]!;
  if (part.dtype !== dtype || !(part.data instanceof ctor)) {
    throw corrupt(
      format,
      `part "${name}" must be ${dtype} (${ctor.name}), got ${String(part.dtype)} ${describe(part.data)}`,
    );
  }
  if (part.data.length !== length) {
    throw corrupt(format, `part "${name}" must hold ${length} elements, got ${part.data.length}`);
  }
  if (!sameShape(part.shape, shape)) {
    throw corrupt(
      format,
      `part "${name}" must have shape [${shape.join(", ")}], got ${JSON.stringify(part.shape)}`,
    );
  }
  return part;
}

function dequantizeWith(
  bits: number,
  signed: boolean,
  qt: QuantizedTensor,
  dst?: Float32Array,
): Float32Array {
  const format = formatOf(bits, signed);
  if (qt === null || typeof qt !== "object" || typeof qt.spec !== "object" || qt.spec === null) {
    throw new CorruptDataError(`${format} tensor must be an object with spec, shape and parts`);
  }
  if (qt.spec.format !== format) {
    throw corrupt(format, `spec.format is ${describe(qt.spec.format)}, not ${JSON.stringify(format)}`);
  }
  let n: number;
  let r: Resolved;
  let layout: IntLayout;
  try {
    n = shapeSize(qt.shape, "shape");
    r = resolve(format, signed, qt.spec, true);
    layout = intLayout(qt.shape, n, r.group, r.axis);
  } catch (e) {
    throw corrupt(format, (e as Error).message);
  }
  if (dst !== undefined) {
    assertFloat32Array(dst, "dst");
    if (dst.length < n) throw new RangeError(`dst is too short: need ${n} values, got ${dst.length}`);
  }
  const parts = qt.parts;
  if (parts === null || typeof parts !== "object") throw corrupt(format, "parts must be an object");
  const expected = r.symmetric ? ["qdata", "scales"] : ["qdata", "scales", "zeros"];
  for (const k of Object.keys(parts)) {
    if (!expected.includes(k))
      throw corrupt(format, `unexpected part "${k}" (expected ${expected.join(", ")})`);
  }
  const nbytes = packedLength(n, bits);
  const qdata = checkPart(format, parts, "qdata", "U8", nbytes, [nbytes]).data as Uint8Array;
  const tailBits = (n * bits) & 7;
  if (tailBits !== 0 && qdata[nbytes - 1]! >>> tailBits !== 0) {
    throw corrupt(format, "qdata has non-zero padding bits in its last byte");
  }
  const count = layout.count;
  const scales = readScales(
    format,
    checkPart(format, parts, "scales", r.scaleDtype, count, layout.grid),
    count,
  );
  const zeros = new Float64Array(count);
  const half = 2 ** (bits - 1);
  if (r.symmetric) {
    if (!signed) zeros.fill(half);
  } else {
    const z = checkPart(format, parts, "zeros", signed ? "I8" : "U8", count, layout.grid).data;
    const lo = signed ? -half : 0;
    const hi = signed ? half - 1 : 2 * half - 1;
    for (let c = 0; c < count; c++) {
      const v = z[c] as number;
      if (v < lo || v > hi) throw corrupt(format, `zeros[${c}] = ${v} is outside [${lo}, ${hi}]`);
      zeros[c] = v;
    }
  }
  const out = dst ?? new Float32Array(n);
  decodeLevels(qdata, n, layout, bits, signed, scales, zeros, out);
  return out;
}

function readScales(format: string, part: TensorPart, count: number): Float64Array {
  const out = new Float64Array(count);
  const data = part.data;
  const f16 = part.dtype === "F16" ? float16Table() : null;
  for (let c = 0; c < count; c++) {
    const raw = data[c] as number;
    const s = part.dtype === "F32" ? raw : f16 !== null ? f16[raw]! : bfloat16Value(raw);
    if (!(s >= 0) || s === Number.POSITIVE_INFINITY) {
      throw corrupt(format, `scales[${c}] = ${s} is not a finite non-negative number`);
    }
    out[c] = s;
  }
  return out;
}

// ---------------------------------------------------------------------------------------------
// Public API.

const DESCRIPTIONS: Readonly<Record<string, string>> = {
  true: "signed two's-complement codes, symmetric (zero point 0)",
  false: "unsigned codes with a per-group zero point (asymmetric)",
};

/** The quantizer registered as `int<bits>` (signed) or `uint<bits>` (unsigned). */
export function createIntQuantizer(bits: number, signed: boolean): Quantizer {
  if (typeof bits !== "number" || !Number.isInteger(bits) || bits < 2 || bits > 8) {
    throw new RangeError(`bits must be an integer in [2, 8], got ${describe(bits)}`);
  }
  if (typeof signed !== "boolean") throw new TypeError(`signed must be a boolean, got ${describe(signed)}`);
  return Object.freeze({
    name: formatOf(bits, signed),
    summary: `INT${bits}: ${DESCRIPTIONS[String(signed)]}; per channel, tensor or group`,
    defaults: Object.freeze({ ...resolve(formatOf(bits, signed), signed, undefined, true) }),
    quantize: (
      src: Float32Array,
      shape: readonly number[],
      spec?: Readonly<Record<string, unknown>>,
      ctx?: WorkContext,
    ) => quantizeWith(bits, signed, src, shape, spec, ctx),
    dequantize: (qt: QuantizedTensor, dst?: Float32Array) => dequantizeWith(bits, signed, qt, dst),
  });
}

/**
 * Quantizes a row-major float32 tensor to `bits`-bit integer codes with float scales (SPEC §3 INT-b).
 * Returns the tensor of format `int<bits>` or `uint<bits>` with parts `qdata` (U8, codes packed LSB
 * first), `scales` (F32/F16/BF16, one per group) and, when asymmetric, `zeros` (U8 or I8).
 */
export function quantizeInt(
  src: Float32Array,
  shape: readonly number[],
  opts: QuantizeIntOptions,
  ctx?: WorkContext,
): QuantizedTensor {
  if (opts === null || typeof opts !== "object") {
    throw new TypeError(`opts must be an object with bits, got ${describe(opts)}`);
  }
  const { bits, signed = true, ...rest } = opts;
  if (typeof bits !== "number") throw new TypeError(`opts.bits must be an integer, got ${describe(bits)}`);
  if (!Number.isInteger(bits) || bits < 2 || bits > 8) {
    throw new RangeError(`opts.bits must be an integer in [2, 8], got ${describe(bits)}`);
  }
  if (typeof signed !== "boolean")
    throw new TypeError(`opts.signed must be a boolean, got ${describe(signed)}`);
  return quantizeWith(bits, signed, src, shape, rest, ctx);
}

/** Restores the float32 tensor of an `int<b>`/`uint<b>` tensor (into `dst` when given). */
export function dequantizeInt(qt: QuantizedTensor, dst?: Float32Array): Float32Array {
  const format = qt?.spec?.format;
  const m = typeof format === "string" ? /^(u?)int([2-8])$/.exec(format) : null;
  if (m === null) throw new CorruptDataError(`not an INT tensor: format ${describe(format)}`);
  return dequantizeWith(Number(m[2]), m[1] === "", qt, dst);
}
