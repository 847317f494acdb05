import { describe, type TensorPart } from "@lowbit/bits";
import { float8_e4m3fn, float8_e5m2, float8_e8m0fnu } from "@lowbit/fp8";
import { bfloat16, float16 } from "@lowbit/fp16";
import { bytesOfTensor } from "./_tensor.js";

/** Nearest float32 to a 64-bit integer, rounded once (ties to even). */
function bigintToF32(v: bigint): number {
  const neg = v < 0n;
  let m = neg ? -v : v;
  if (m < 0x20000000000000n) return Math.fround(neg ? -Number(m) : Number(m));
  // Keep the top 52 bits and fold the rest into a sticky bit: Number() is then exact and the one
  // rounding to 24 bits (Math.fround) sees every discarded bit.
  const shift = BigInt(m.toString(2).length - 52);
  const sticky = (m & ((1n << shift) - 1n)) !== 0n ? 1n : 0n;
  m = (m >> shift) | sticky;
  const x = Number(m) * 2 ** Number(shift);
  return Math.fround(neg ? -x : x);
}

/**
 * The tensor's values as float32: F32 copied; F16, BF16, F8_E4M3, F8_E5M2, F8_E8M0 decoded exactly
 * with the @lowbit codecs; F64 and 64-bit integers rounded to nearest even; other integers exact
 * below 2^24; BOOL 0 or 1. Writes into `dst` when given (it must hold at least the element count).
 */
export function toFloat32(tensor: TensorPart, dst?: Float32Array): Float32Array {
  const { dtype, bytes } = bytesOfTensor(tensor, "tensor");
  const data = tensor.data;
  const n = data.length;
  if (dst !== undefined && !(dst instanceof Float32Array)) {
    throw new TypeError(`dst must be a Float32Array, got ${describe(dst)}`);
  }
  if (dst !== undefined && dst.length < n) {
    throw new RangeError(`dst is too short: need ${n} values, got ${dst.length}`);
  }
  const out = dst === undefined ? new Float32Array(n) : dst.length === n ? dst : dst.subarray(0, n);
  switch (dtype) {
    case "F16":
      float16.decodeInto(data as Uint16Array, out);
      break;
    case "BF16":
      bfloat16.decodeInto(data as Uint16Array, out);
      break;
    case "F8_E4M3":
      float8_e4m3fn.decodeInto(data as Uint8Array, out);
      break;
    case "F8_E5M2":
      float8_e5m2.decodeInto(data as Uint8Array, out);
      break;
    case "F8_E8M0":
      float8_e8m0fnu.decodeInto(data as Uint8Array, out);
      break;
    case "I64":
    case "U64": {
      const src = data as BigInt64Array | BigUint64Array;
      for (let i = 0; i < n; i++) out[i] = bigintToF32(src[i]!);
      break;
    }
    case "BOOL":
      for (let i = 0; i < n; i++) out[i] = bytes[i] === 0 ? 0 : 1;
      break;
    default:
      // F32, F64 (a Float32Array store rounds to nearest even) and the narrow integers.
      out.set(data as Float32Array);
  }
  return dst ?? out;
}
