import { bfloat16, float16 } from "@lowbit/fp16";

/**
 * float16 / bfloat16 helpers shared by the INT scales and the GGUF block headers. Conversions go
 * through the `@lowbit/fp16` codecs (numpy / ml_dtypes rounding: nearest-even, overflow → ±Inf, NaN →
 * quiet NaN with its sign).
 */

let f16Values: Float32Array | null = null;

/** float32 value of every float16 bit pattern (built once, 256 KiB). */
export function float16Table(): Float32Array {
  if (f16Values === null) {
    const codes = new Uint16Array(65536);
    for (let i = 0; i < 65536; i++) codes[i] = i;
    f16Values = float16.decode(codes);
  }
  return f16Values;
}

const one = new Float32Array(1);
const oneU32 = new Uint32Array(one.buffer);

/** float32 value of a bfloat16 bit pattern: the high half of a float32. */
export function bfloat16Value(bits: number): number {
  oneU32[0] = (bits & 0xffff) << 16;
  return one[0]!;
}

/** Batch float32 → float16 bits (the codec's bulk path). */
export function encodeFloat16Into(src: Float32Array, dst: Uint16Array): void {
  float16.encodeInto(src, dst);
}

/**
 * Rounds float32 values to float16 or bfloat16 (bulk codec path) and writes the rounded values to
 * `dst` as float32. Returns the index of the first value that became ±Inf from a finite input, or −1.
 */
export function roundHalfInto(src: Float32Array, dtype: "F16" | "BF16", dst: Float32Array): number {
  const bits = new Uint16Array(src.length);
  let overflow = -1;
  if (dtype === "F16") {
    float16.encodeInto(src, bits);
    const t = float16Table();
    for (let i = 0; i < src.length; i++) {
      const v = t[bits[i]!]!;
      if (
        overflow < 0 &&
        (v === Number.POSITIVE_INFINITY || v === Number.NEGATIVE_INFINITY) &&
        Number.isFinite(src[i]!)
      ) {
        overflow = i;
      }
      dst[i] = v;
    }
  } else {
    bfloat16.encodeInto(src, bits);
    const d32 = new Uint32Array(dst.buffer, dst.byteOffset, dst.length);
    for (let i = 0; i < src.length; i++) {
      d32[i] = bits[i]! << 16;
      if (overflow < 0 && !Number.isFinite(dst[i]!) && Number.isFinite(src[i]!)) overflow = i;
    }
  }
  return overflow;
}

/** float16 or bfloat16 bits of float32 values (bulk). */
export function halfBits(src: Float32Array, dtype: "F16" | "BF16"): Uint16Array {
  const bits = new Uint16Array(src.length);
  (dtype === "F16" ? float16 : bfloat16).encodeInto(src, bits);
  return bits;
}
