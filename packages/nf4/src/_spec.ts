/**
 * Options in, parts out: resolving a quantizer's spec (arguments → TypeError/RangeError) and reading
 * the parts of a QuantizedTensor (data → CorruptDataError).
 */

import type { PartDtype, QuantizedTensor, TensorPart, TypedArray } from "@lowbit/bits";
import {
  assertBoolean,
  assertInteger,
  assertOneOf,
  CorruptDataError,
  describe,
  shapeSize,
} from "@lowbit/bits";

export const MIN_BLOCK = 32;
export const MAX_BLOCK = 4096;

/** The dtypes bitsandbytes records as the original tensor's dtype in its quant state. */
export const SOURCE_DTYPES = ["float32", "float16", "bfloat16"] as const;
export type SourceDtype = (typeof SOURCE_DTYPES)[number];

/** Throws unless `value` is a power of two in [MIN_BLOCK, MAX_BLOCK]. */
export function assertBlockSize(value: unknown, name: string): asserts value is number {
  assertInteger(value, name, MIN_BLOCK, MAX_BLOCK);
  if ((value & (value - 1)) !== 0) {
    throw new RangeError(`${name} must be a power of two in [${MIN_BLOCK}, ${MAX_BLOCK}], got ${value}`);
  }
}

export interface OptionRule {
  readonly defaultValue: unknown;
  readonly check: (value: unknown, name: string) => void;
}

export const blockSizeRule = (defaultValue: number): OptionRule => ({ defaultValue, check: assertBlockSize });
export const booleanRule = (defaultValue: boolean): OptionRule => ({ defaultValue, check: assertBoolean });
export const sourceDtypeRule: OptionRule = {
  defaultValue: "float32",
  check: (v, name) => assertOneOf(v, SOURCE_DTYPES, name),
};

/**
 * Resolves `spec` against `rules`: every option filled in, `format` set to `format`. Unknown options
 * and a `format` other than this quantizer's throw RangeError naming them; wrong types TypeError.
 */
export function resolveSpec(
  format: string,
  rules: Readonly<Record<string, OptionRule>>,
  spec: unknown,
  argName = "spec",
): Record<string, unknown> {
  if (spec !== undefined && (typeof spec !== "object" || spec === null || Array.isArray(spec))) {
    throw new TypeError(`${argName} must be an options object, got ${describe(spec)}`);
  }
  const given = (spec ?? {}) as Record<string, unknown>;
  for (const key of Object.keys(given)) {
    if (key === "format") {
      if (given[key] !== format) {
        throw new RangeError(
          `${argName}.format must be ${JSON.stringify(format)}, got ${describe(given[key])}`,
        );
      }
    } else if (!Object.hasOwn(rules, key)) {
      const known = Object.keys(rules).join(", ");
      throw new RangeError(`${argName}.${key} is not an option of ${format} (options: ${known})`);
    }
  }
  const out: Record<string, unknown> = { format };
  for (const [key, rule] of Object.entries(rules)) {
    const value = given[key] === undefined ? rule.defaultValue : given[key];
    rule.check(value, `${argName}.${key}`);
    out[key] = value;
  }
  return out;
}

/** `resolveSpec` for data read back: any problem is a CorruptDataError. */
export function resolveStoredSpec(
  format: string,
  rules: Readonly<Record<string, OptionRule>>,
  spec: unknown,
): Record<string, unknown> {
  try {
    return resolveSpec(format, rules, spec, "qt.spec");
  } catch (e) {
    throw new CorruptDataError(`${format}: ${(e as Error).message}`, { cause: e });
  }
}

/** Validates the envelope of a QuantizedTensor; returns its element count. */
export function readEnvelope(qt: unknown, format: string): number {
  if (typeof qt !== "object" || qt === null) {
    throw new TypeError(`qt must be a QuantizedTensor, got ${describe(qt)}`);
  }
  const { spec, shape, parts } = qt as Partial<QuantizedTensor>;
  if (typeof spec !== "object" || spec === null) throw new CorruptDataError(`${format}: qt.spec is missing`);
  if (spec.format !== format) {
    throw new CorruptDataError(`${format}: qt.spec.format is ${describe(spec.format)}, expected "${format}"`);
  }
  if (typeof parts !== "object" || parts === null)
    throw new CorruptDataError(`${format}: qt.parts is missing`);
  try {
    return shapeSize(shape as readonly number[], "qt.shape");
  } catch (e) {
    throw new CorruptDataError(`${format}: ${(e as Error).message}`, { cause: e });
  }
}

type ArrayCtor<T> = { new (length: number): T; readonly name: string };

/**
 * Reads a part that must exist with this dtype, array type and element count; its shape must hold
 * the same number of elements. Anything else is a CorruptDataError naming the part.
 */
export function readPart<T extends TypedArray>(
  qt: QuantizedTensor,
  key: string,
  dtype: PartDtype,
  ctor: ArrayCtor<T>,
  length: number,
  where: string,
): T {
  const part = Object.hasOwn(qt.parts, key) ? qt.parts[key] : undefined;
  return checkPart(part, dtype, ctor, length, `${where}: part "${key}"`);
}

/** As readPart, for a part found elsewhere (a bitsandbytes state dict). */
export function checkPart<T extends TypedArray>(
  part: TensorPart | undefined,
  dtype: PartDtype,
  ctor: ArrayCtor<T>,
  length: number,
  what: string,
): T {
  if (typeof part !== "object" || part === null) throw new CorruptDataError(`${what} is missing`);
  if (part.dtype !== dtype)
    throw new CorruptDataError(`${what} must be ${dtype}, got ${describe(part.dtype)}`);
  const data = part.data as unknown;
  if (!(data instanceof ctor)) {
    throw new CorruptDataError(`${what} (${dtype}) must hold a ${ctor.name}, got ${describe(data)}`);
  }
  const array = data as T;
  if (array.length !== length) {
    throw new CorruptDataError(`${what} must have ${length} elements, got ${array.length}`);
  }
  checkShape(part.shape, array.length, what);
  return array;
}

/** The shape of a part must be well formed and hold exactly `length` elements. */
export function checkShape(shape: unknown, length: number, what: string): void {
  let size: number;
  try {
    size = shapeSize(shape as readonly number[], `${what} shape`);
  } catch (e) {
    throw new CorruptDataError((e as Error).message, { cause: e });
  }
  if (size !== length) {
    throw new CorruptDataError(
      `${what}: shape [${(shape as number[]).join(", ")}] does not hold ${length} elements`,
    );
  }
}

/** Checks a caller's output buffer (an argument, so TypeError/RangeError). */
export function outputBuffer(dst: unknown, n: number): Float32Array {
  if (dst === undefined) return new Float32Array(n);
  if (!(dst instanceof Float32Array)) throw new TypeError(`dst must be a Float32Array, got ${describe(dst)}`);
  if (dst.length !== n) throw new RangeError(`dst must have ${n} elements, got ${dst.length}`);
  return dst;
}

/** Checks the source of quantize (an argument). */
export function inputArray(src: unknown, shape: readonly number[]): number {
  if (!(src instanceof Float32Array)) throw new TypeError(`src must be a Float32Array, got ${describe(src)}`);
  const n = shapeSize(shape);
  if (src.length !== n) {
    throw new RangeError(`src has ${src.length} elements but shape [${shape.join(", ")}] needs ${n}`);
  }
  return n;
}
