/**
 * Boundary asserts. They check the success path first and build messages only when throwing.
 * TypeError: the argument has the wrong type. RangeError: right type, wrong length or value.
 * Every message names the argument, what was expected and what came instead.
 */

/** A short description of a value for error messages. */
export function describe(value: unknown): string {
  if (value === null) return "null";
  if (value === undefined) return "undefined";
  if (ArrayBuffer.isView(value)) {
    const len = (value as { length?: number }).length;
    return `${value.constructor.name}(${len ?? value.byteLength})`;
  }
  if (Array.isArray(value)) return `Array(${value.length})`;
  if (typeof value === "number") return Number.isNaN(value) ? "NaN" : String(value);
  if (typeof value === "string") return JSON.stringify(value.length > 40 ? `${value.slice(0, 40)}…` : value);
  if (typeof value === "function") return "function";
  if (typeof value === "object") return (value as object).constructor?.name ?? "object";
  return typeof value;
}

export function assertUint8Array(value: unknown, name: string): asserts value is Uint8Array {
  if (value instanceof Uint8Array) return;
  throw new TypeError(`${name} must be a Uint8Array, got ${describe(value)}`);
}

export function assertUint16Array(value: unknown, name: string): asserts value is Uint16Array {
  if (value instanceof Uint16Array) return;
  throw new TypeError(`${name} must be a Uint16Array, got ${describe(value)}`);
}

export function assertFloat32Array(value: unknown, name: string): asserts value is Float32Array {
  if (value instanceof Float32Array) return;
  throw new TypeError(`${name} must be a Float32Array, got ${describe(value)}`);
}

/** Throws RangeError unless `array.length >= min`. */
export function assertMinLength(array: ArrayLike<unknown>, min: number, name: string): void {
  if (array.length >= min) return;
  throw new RangeError(`${name} is too short: need at least ${min} elements, got ${array.length}`);
}

/** Throws unless `value` is an integer in [min, max]. */
export function assertInteger(
  value: unknown,
  name: string,
  min: number,
  max: number,
): asserts value is number {
  if (typeof value === "number" && Number.isInteger(value) && value >= min && value <= max) return;
  if (typeof value !== "number") throw new TypeError(`${name} must be an integer, got ${describe(value)}`);
  throw new RangeError(`${name} must be an integer in [${min}, ${max}], got ${describe(value)}`);
}

export function assertBoolean(value: unknown, name: string): asserts value is boolean {
  if (typeof value === "boolean") return;
  throw new TypeError(`${name} must be a boolean, got ${describe(value)}`);
}

/** Throws unless `value` is one of `choices`. */
export function assertOneOf<T extends string>(
  value: unknown,
  choices: readonly T[],
  name: string,
): asserts value is T {
  if (typeof value === "string" && (choices as readonly string[]).includes(value)) return;
  const list = choices.map((c) => JSON.stringify(c)).join(" | ");
  if (typeof value !== "string") throw new TypeError(`${name} must be ${list}, got ${describe(value)}`);
  throw new RangeError(`${name} must be ${list}, got ${describe(value)}`);
}

/** Throws TypeError unless `value` is a plain options object (or undefined). */
export function assertOptions(value: unknown, name: string): asserts value is object | undefined {
  if (value === undefined || (typeof value === "object" && value !== null && !Array.isArray(value))) return;
  throw new TypeError(`${name} must be an options object, got ${describe(value)}`);
}
