import {
  assertFloat32Array,
  assertMinLength,
  assertUint8Array,
  assertUint16Array,
  describe,
} from "@lowbit/bits";
import { float16 } from "@lowbit/fp16";
import { createNearestTable, nearestCode, prepareNearest } from "./_nearest.js";

/**
 * The normative any-N encoding step (SPEC §3): each value gets the code of the nearest table entry;
 * when two entries are equally near, the lower index wins (also when the table holds a value twice).
 * `lut` holds float16 bit patterns, 1 to 256 entries in any order; NaN and ±Inf entries are never
 * chosen. Values must not be NaN (±Inf go to the smallest / largest entry). Comparisons are exact.
 */
export function encodeWithLut(values: Float32Array, lut: Uint16Array): Uint8Array {
  assertFloat32Array(values, "values");
  const out = new Uint8Array(values.length);
  encodeWithLutInto(values, lut, out);
  return out;
}

/** `encodeWithLut` into `dst` (at least `values.length` bytes); returns the number of codes written. */
export function encodeWithLutInto(values: Float32Array, lut: Uint16Array, dst: Uint8Array): number {
  assertFloat32Array(values, "values");
  assertUint16Array(lut, "lut");
  assertUint8Array(dst, "dst");
  if (lut.length < 1 || lut.length > 256) {
    throw new RangeError(`lut must hold 1 to 256 float16 entries, got ${describe(lut)}`);
  }
  assertMinLength(dst, values.length, "dst");
  const table = createNearestTable();
  if (!prepareNearest(float16.decode(lut), 0, lut.length, table)) {
    throw new RangeError("lut must hold at least one finite entry, got only NaN/±Inf");
  }
  const n = values.length;
  for (let i = 0; i < n; i++) {
    const v = values[i]!;
    if (Number.isNaN(v)) throw new RangeError(`values[${i}] is NaN; any-N codes need a number`);
    dst[i] = nearestCode(table, v);
  }
  return n;
}
