import {
  type CodeArray,
  createCodec,
  type FloatCodec,
  type SubByteFloatCodec,
  withPacking,
} from "./codec.js";
import { type MinifloatFormat, type ResolvedFormat, resolveFormat } from "./format.js";
import { buildDecodeTable, codeValue, createScalarEncoder } from "./scalar.js";

/** A codec built from a format description, with the format itself attached. */
export type MinifloatCodec<C extends CodeArray = CodeArray> = FloatCodec<C> & {
  readonly format: ResolvedFormat;
};

export type SubByteMinifloatCodec = SubByteFloatCodec & { readonly format: ResolvedFormat };

/**
 * Creates a bit-exact codec for any ExMy format of up to 16 bits with ml_dtypes semantics:
 * round-to-nearest-even into the subnormal range, overflow per `format.special`, NaN rules of
 * ml_dtypes. Formats of fewer than 8 bits get the native pack/unpack methods.
 */
export function createMinifloat(format: MinifloatFormat): MinifloatCodec {
  const f = resolveFormat(format);
  const minNormal = f.zero ? 2 ** f.emin : 2 ** -f.bias;
  const codec = createCodec({
    name: f.name,
    bits: f.bits,
    signed: f.signed,
    hasInf: f.special === "ieee",
    hasNaN: f.special !== "finite",
    hasNegativeZero: f.signed && f.special !== "fnuz",
    minNormal,
    maxFinite: codeValue(f, f.maxMag),
    minSubnormal: codeValue(f, f.zero ? 1 : 0),
    defaultRounding: "nearest-even",
    encodeScalar: createScalarEncoder(f),
    decodeTable: () => buildDecodeTable(f),
    truncatedFloat32: f.signed && f.exponentBits === 8 && f.bias === 127 && f.special === "ieee" && f.zero,
    wide: {
      mantissaBits: f.mantissaBits,
      bias: f.bias,
      maxMag: f.maxMag,
      minNormalBits: Math.max(f.emin + 127, 1) << 23,
      zeroNeg: f.zeroNeg,
    },
  });
  const withFormat = f.bits < 8 ? withPacking(codec as FloatCodec<Uint8Array>) : codec;
  return Object.freeze({ ...withFormat, format: f });
}

/** `createMinifloat` for a format of fewer than 8 bits, typed with its pack/unpack methods. */
export function createSubByteMinifloat(format: MinifloatFormat): SubByteMinifloatCodec {
  const c = createMinifloat(format);
  if (c.bits >= 8) throw new RangeError(`format ${format.name} has ${c.bits} bits; expected fewer than 8`);
  return c as unknown as SubByteMinifloatCodec;
}
