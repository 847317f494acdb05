import {
  assertShapeMatches,
  CorruptDataError,
  type PartDtype,
  packedLength,
  type QuantizedTensor,
  type Quantizer,
  shapeSize,
  type TensorPart,
} from "@lowbit/bits";
import type { FloatCodec, SubByteFloatCodec } from "@lowbit/minifloat";
import { listCodecs } from "./registry.js";

/**
 * Every element codec as a tensor quantizer. 8-bit and narrower formats are scaled by default: one
 * float32 scale per channel (`scaling: "channel"`, along `axis`, default 0) or per tensor, chosen so the
 * largest magnitude maps to the format's max finite: scale = amax / maxFinite (float32), codes =
 * encode(x / scale) with saturation, value = decode(code) · scale. 16-bit formats default to no scale.
 * HiFloat8 is the exception: its precision tapers away from 1, so amax maps to 8 (the top of the
 * 3-mantissa-bit bands), not to its max finite 32768 — 31.3 vs 19.6 dB SQNR on normal data.
 */

type Scaling = "none" | "tensor" | "channel";

const CODE_DTYPE: Readonly<Record<string, PartDtype>> = {
  float16: "F16",
  bfloat16: "BF16",
  float8_e4m3fn: "F8_E4M3",
  float8_e5m2: "F8_E5M2",
  float8_e8m0fnu: "F8_E8M0",
};

/** The value amax is mapped to: max finite, except where precision tapers. */
const SCALE_TARGET: Readonly<Record<string, number>> = { hifloat8: 8 };

const OPTION_NAMES = new Set(["scaling", "axis", "saturate"]);

function resolveOptions(codec: FloatCodec, spec: Readonly<Record<string, unknown>> | undefined) {
  const scaledDefault: Scaling = codec.bits <= 8 && codec.signed ? "channel" : "none";
  const o = { scaling: scaledDefault as Scaling, axis: 0, saturate: true };
  for (const k of Object.keys(spec ?? {})) {
    if (k === "format") continue;
    if (!OPTION_NAMES.has(k)) {
      throw new RangeError(
        `unknown option ${JSON.stringify(k)} for ${codec.name}; known: scaling, axis, saturate`,
      );
    }
  }
  const s = spec ?? {};
  if (s["scaling"] !== undefined) {
    if (s["scaling"] !== "none" && s["scaling"] !== "tensor" && s["scaling"] !== "channel") {
      throw new RangeError(
        `scaling must be "none" | "tensor" | "channel", got ${JSON.stringify(s["scaling"])}`,
      );
    }
    o.scaling = s["scaling"];
  }
  if (s["axis"] !== undefined) {
    if (typeof s["axis"] !== "number" || !Number.isInteger(s["axis"]))
      throw new TypeError("axis must be an integer");
    o.axis = s["axis"];
  }
  if (s["saturate"] !== undefined) {
    if (typeof s["saturate"] !== "boolean") throw new TypeError("saturate must be a boolean");
    o.saturate = s["saturate"];
  }
  if (o.scaling !== "none" && !codec.signed) {
    throw new RangeError(
      `${codec.name} is unsigned and cannot hold scaled signed values; use scaling "none"`,
    );
  }
  return o;
}

/** Channel index of each element for a per-channel axis: returns [channels, inner] with c = ⌊i / inner⌋ mod channels. */
function channelLayout(shape: readonly number[], axis: number): [number, number] {
  if (shape.length === 0) return [1, 1];
  const a = axis < 0 ? shape.length + axis : axis;
  if (a < 0 || a >= shape.length)
    throw new RangeError(`axis ${axis} is out of range for shape [${shape.join(", ")}]`);
  let inner = 1;
  for (let i = a + 1; i < shape.length; i++) inner *= shape[i]!;
  return [shape[a]!, inner];
}

/** values[i] = table[code[i]] · scale of i's channel; a plain loop so V8 keeps it monomorphic. */
function decodeScaled(
  codes: Uint8Array,
  table: Float32Array,
  scales: Float32Array,
  channels: number,
  inner: number,
  values: Float32Array,
): void {
  const n = values.length;
  for (let start = 0, run = 0; start < n; start += inner, run++) {
    const k = scales[run % channels]!;
    const end = start + inner;
    for (let i = start; i < end; i++) values[i] = table[codes[i]!]! * k;
  }
}

/**
 * 4-bit codes straight from the packed bytes (element 2j low nibble, 2j+1 high) when every channel run
 * has an even length: one byte load gives two values, and no unpacked copy is made.
 */
function decodeNibblesScaled(
  packed: Uint8Array,
  table: Float32Array,
  scales: Float32Array,
  channels: number,
  inner: number,
  values: Float32Array,
): void {
  const n = values.length;
  for (let start = 0, run = 0; start < n; start += inner, run++) {
    const k = scales[run % channels]!;
    const end = start + inner;
    for (let i = start, j = start >>> 1; i < end; i += 2, j++) {
      const b = packed[j]!;
      values[i] = table[b & 15]! * k;
      values[i + 1] = table[b >>> 4]! * k;
    }
  }
}

/** Calls fn(channel, start, end) for each contiguous run of elements that share a channel. */
function forEachChannelRun(
  n: number,
  channels: number,
  inner: number,
  fn: (c: number, start: number, end: number) => void,
): void {
  for (let start = 0, run = 0; start < n; start += inner, run++) fn(run % channels, start, start + inner);
}

function makeQuantizer(codec: FloatCodec, summary: string): Quantizer {
  const sub = codec.bits < 8 ? (codec as SubByteFloatCodec) : null;
  const codeDtype: PartDtype = CODE_DTYPE[codec.name] ?? "U8";
  const target = SCALE_TARGET[codec.name] ?? codec.maxFinite;
  // The value of every code, for the fused decode-and-scale loop (scaled formats have ≤ 8 bits).
  let values8: Float32Array | null = null;
  const valueTable = (): Float32Array => {
    values8 ??= codec.decode(Uint8Array.from({ length: 1 << codec.bits }, (_, i) => i) as never);
    return values8;
  };

  const quantize = (
    src: Float32Array,
    shape: readonly number[],
    spec?: Readonly<Record<string, unknown>>,
  ) => {
    const o = resolveOptions(codec, spec);
    const n = assertShapeMatches(src, shape);
    const [channels, inner] = o.scaling === "channel" ? channelLayout(shape, o.axis) : [1, n];
    const scales = new Float32Array(o.scaling === "none" ? 0 : channels);
    let scaled = src;
    if (o.scaling !== "none") {
      const amax = new Float32Array(channels);
      forEachChannelRun(n, channels, inner, (c, start, end) => {
        let m = amax[c]!;
        for (let i = start; i < end; i++) {
          const a = Math.abs(src[i]!);
          if (a > m && a !== Number.POSITIVE_INFINITY) m = a;
        }
        amax[c] = m;
      });
      const inv = new Float32Array(channels);
      for (let c = 0; c < channels; c++) {
        scales[c] = Math.fround(amax[c]! / target);
        inv[c] = scales[c] === 0 ? 0 : Math.fround(1 / scales[c]!);
      }
      const out = new Float32Array(n);
      forEachChannelRun(n, channels, inner, (c, start, end) => {
        const k = inv[c]!;
        for (let i = start; i < end; i++) out[i] = src[i]! * k; // a Float32Array store rounds like fround
      });
      scaled = out;
    }
    const codes = codec.encode(scaled, { saturate: o.saturate });
    const parts: Record<string, TensorPart> = {
      qdata: sub
        ? { dtype: "U8", shape: [packedLength(n, codec.bits)], data: sub.pack(codes as Uint8Array) }
        : { dtype: codeDtype, shape: [...shape], data: codes },
    };
    if (o.scaling !== "none") parts["scales"] = { dtype: "F32", shape: [scales.length], data: scales };
    const qt: QuantizedTensor = { spec: { format: codec.name, ...o }, shape: [...shape], parts };
    return qt;
  };

  const dequantize = (qt: QuantizedTensor, dst?: Float32Array): Float32Array => {
    if (qt.spec.format !== codec.name) {
      throw new CorruptDataError(`tensor format is ${String(qt.spec.format)}, not ${codec.name}`);
    }
    const o = resolveOptions(codec, qt.spec);
    const n = shapeSize(qt.shape);
    const out = dst ?? new Float32Array(n);
    if (out.length < n) throw new RangeError(`dst is too short: need ${n} values, got ${out.length}`);
    const q = qt.parts["qdata"];
    if (q === undefined) throw new CorruptDataError(`${codec.name} tensor has no qdata part`);
    // Sub-byte codes stay packed until a path needs them one per byte.
    let codes: Uint8Array | Uint16Array | null = null;
    if (sub) {
      if (!(q.data instanceof Uint8Array) || q.data.length < packedLength(n, codec.bits)) {
        throw new CorruptDataError(`${codec.name} qdata must be ${packedLength(n, codec.bits)} packed bytes`);
      }
    } else {
      const want = codec.bits > 8 ? Uint16Array : Uint8Array;
      if (!(q.data instanceof want) || q.data.length !== n) {
        throw new CorruptDataError(`${codec.name} qdata must be ${n} codes in a ${want.name}`);
      }
      codes = q.data;
    }
    const values = out.length === n ? out : out.subarray(0, n);
    const unpacked = (): Uint8Array | Uint16Array => codes ?? sub!.unpack(q.data as Uint8Array, n);
    if (o.scaling === "none") {
      codec.decodeInto(unpacked() as never, values);
      return out;
    }
    const [channels, inner] = o.scaling === "channel" ? channelLayout(qt.shape, o.axis) : [1, n];
    const s = qt.parts["scales"];
    if (s === undefined || !(s.data instanceof Float32Array) || s.data.length !== channels) {
      throw new CorruptDataError(`${codec.name} scales must be ${channels} float32 values`);
    }
    const scales = s.data;
    // Scaled codes of ≤ 8 bits: one pass through the codec's value table times the channel scale.
    if (sub !== null && codec.bits === 4 && inner % 2 === 0) {
      decodeNibblesScaled(q.data as Uint8Array, valueTable(), scales, channels, inner, values);
    } else {
      decodeScaled(unpacked() as Uint8Array, valueTable(), scales, channels, inner, values);
    }
    return out;
  };

  const defaults = (() => {
    const { scaling, axis, saturate } = resolveOptions(codec, undefined);
    return Object.freeze({ scaling, axis, saturate });
  })();
  return Object.freeze({ name: codec.name, summary, defaults, quantize, dequantize });
}

/** Tensor quantizers for every element codec of the registry. */
export const elementQuantizers: readonly Quantizer[] = listCodecs().map((e) =>
  makeQuantizer(e.codec, e.summary),
);
