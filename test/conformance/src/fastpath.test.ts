import { type FloatCodec, listCodecs } from "@lowbit/formats";
import { describe, expect, it } from "vitest";

/**
 * The bulk encoders (a 65 536-entry table for ≤ 8-bit formats, integer rounding for 16-bit ones) must
 * agree with the scalar reference encoder (`encodeValue`) on every float32 bit pattern. The default run
 * probes every high half with the low halves where rounding can change (0, 1, around 0x1000 and the
 * midpoint 0x8000, 0xFFFF); LOWBIT_SLOW=1 (`npm run test:slow`) checks all 2^32 patterns.
 */
const slow = process.env["LOWBIT_SLOW"] === "1";
const LOWS = [0x0000, 0x0001, 0x0fff, 0x1000, 0x1001, 0x7fff, 0x8000, 0x8001, 0xefff, 0xffff];

/** The first input where the bulk and scalar paths differ, or null. NaN codes count as equal. */
function firstMismatch(codec: FloatCodec, x32: Uint32Array, saturate: boolean): string | null {
  const src = new Float32Array(x32.buffer, x32.byteOffset, x32.length);
  const bulk: ArrayLike<number> = codec.encode(src, { saturate });
  for (let i = 0; i < src.length; i++) {
    const want = codec.encodeValue(src[i]!, { saturate });
    if (bulk[i] === want) continue;
    if (Number.isNaN(codec.decodeValue(bulk[i]!)) && Number.isNaN(codec.decodeValue(want))) continue;
    return `input 0x${x32[i]!.toString(16)}: bulk 0x${bulk[i]!.toString(16)}, scalar 0x${want.toString(16)}`;
  }
  return null;
}

describe.each(listCodecs().map((e) => [e.name, e.codec] as const))("%s fast path", (_name, codec) => {
  it.each([false, true])("agrees with the scalar encoder on every high half (saturate %s)", (saturate) => {
    const x32 = new Uint32Array(65536 * LOWS.length);
    let k = 0;
    for (let hi = 0; hi < 65536; hi++) for (const lo of LOWS) x32[k++] = ((hi << 16) | lo) >>> 0;
    expect(firstMismatch(codec, x32, saturate)).toBeNull();
  });

  it.runIf(slow)(
    "agrees with the scalar encoder on all 2^32 float32 bit patterns",
    () => {
      const chunk = 1 << 24;
      const x32 = new Uint32Array(chunk);
      for (let base = 0; base < 2 ** 32; base += chunk) {
        for (let i = 0; i < chunk; i++) x32[i] = base + i;
        expect(firstMismatch(codec, x32, false)).toBeNull();
      }
    },
    3_600_000,
  );
});
