import {
  assertFloat32Array,
  assertShapeMatches,
  CorruptDataError,
  describe,
  type PartDtype,
  type QuantizedTensor,
  shapeSize,
  type TensorPart,
  throwIfAborted,
  type WorkContext,
} from "@lowbit/bits";

/** Helpers shared by the MX and NVFP4 quantizers: options, shapes, part checks, float32 bit views. */

const F32 = new Float32Array(1);
const U32 = new Uint32Array(F32.buffer);

/** The float32 bit pattern of a number (rounded to float32 first). */
export function bitsOf(x: number): number {
  F32[0] = x;
  return U32[0]!;
}

/** The float32 whose bit pattern is `bits` (NaN payloads are not kept by JS numbers). */
export function fromBits(bits: number): number {
  U32[0] = bits >>> 0;
  return F32[0]!;
}

export function isNaNBits(bits: number): boolean {
  return (bits & 0x7fffffff) > 0x7f800000;
}

/**
 * Resolves `spec` against `defaults`: a `format` key must name this quantizer, every other key must be
 * a known option (RangeError naming it), and each value is checked by its validator (TypeError for a
 * wrong type, RangeError for a wrong value).
 */
export function resolveSpec<T extends Record<string, unknown>>(
  name: string,
  spec: Readonly<Record<string, unknown>> | undefined,
  defaults: T,
  validators: { readonly [K in keyof T]: (value: unknown, key: string) => void },
): T {
  if (spec !== undefined && (typeof spec !== "object" || spec === null || Array.isArray(spec))) {
    throw new TypeError(`spec must be an options object, got ${describe(spec)}`);
  }
  const out: Record<string, unknown> = { ...defaults };
  for (const key of Object.keys(spec ?? {})) {
    const value = (spec as Record<string, unknown>)[key];
    if (key === "format") {
      if (value !== name) {
        throw new RangeError(`spec.format must be ${JSON.stringify(name)}, got ${describe(value)}`);
      }
      continue;
    }
    if (!Object.hasOwn(defaults, key)) {
      const known = Object.keys(defaults).join(", ");
      throw new RangeError(`unknown option ${JSON.stringify(key)} for ${name}; known options: ${known}`);
    }
    if (value === undefined) continue;
    validators[key as keyof T](value, key);
    out[key] = value;
  }
  return out as T;
}

/** Validator for a string option with fixed choices. */
export function oneOf(choices: readonly string[]): (value: unknown, key: string) => void {
  return (value, key) => {
    const list = choices.map((c) => JSON.stringify(c)).join(" | ");
    if (typeof value !== "string") throw new TypeError(`${key} must be ${list}, got ${describe(value)}`);
    if (!choices.includes(value)) throw new RangeError(`${key} must be ${list}, got ${describe(value)}`);
  };
}

export function isBoolean(value: unknown, key: string): void {
  if (typeof value !== "boolean") throw new TypeError(`${key} must be a boolean, got ${describe(value)}`);
}

/** A row-major tensor cut into blocks along its last axis. */
export interface BlockLayout {
  /** Number of elements. */
  readonly n: number;
  /** Size of the last axis. */
  readonly lastDim: number;
  /** Leading axes (shape without the last axis). */
  readonly lead: readonly number[];
  /** Number of blocks (n / blockSize). */
  readonly blocks: number;
}

/**
 * Checks `src` and `shape` for a block quantizer. The last axis must be a multiple of `blockSize`
 * (blocks never cross rows, as in torchao); a scalar or a ragged last axis is a RangeError.
 */
export function blockLayout(
  name: string,
  src: unknown,
  shape: readonly number[],
  blockSize: number,
): BlockLayout {
  assertFloat32Array(src, "src");
  const n = assertShapeMatches(src, shape);
  if (shape.length === 0) {
    throw new RangeError(
      `${name} needs a tensor with at least one axis (blocks run along the last one), got a scalar`,
    );
  }
  const lastDim = shape[shape.length - 1]!;
  if (lastDim % blockSize !== 0) {
    throw new RangeError(
      `${name} needs the last axis to be a multiple of ${blockSize}, got shape [${shape.join(", ")}]`,
    );
  }
  return { n, lastDim, lead: shape.slice(0, -1), blocks: n / blockSize };
}

/** The checked layout of a quantized tensor's shape (CorruptDataError: it came from a file). */
export function storedLayout(name: string, qt: QuantizedTensor, blockSize: number): BlockLayout {
  let n: number;
  try {
    n = shapeSize(qt.shape, "qt.shape");
  } catch (e) {
    throw new CorruptDataError(`${name} tensor has a bad shape: ${(e as Error).message}`, { cause: e });
  }
  if (qt.shape.length === 0 || qt.shape[qt.shape.length - 1]! % blockSize !== 0) {
    throw new CorruptDataError(
      `${name} tensor shape [${qt.shape.join(", ")}] needs a last axis that is a multiple of ${blockSize}`,
    );
  }
  const lastDim = qt.shape[qt.shape.length - 1]!;
  return { n, lastDim, lead: qt.shape.slice(0, -1), blocks: n / blockSize };
}

const ARRAY_OF: Partial<Record<PartDtype, new (n: number) => ArrayLike<number>>> = {
  U8: Uint8Array,
  F8_E4M3: Uint8Array,
  F8_E5M2: Uint8Array,
  F8_E8M0: Uint8Array,
  F32: Float32Array,
};

/**
 * Returns `qt.parts[key]` after checking it is present with the given dtype, data array type and
 * shape; anything else is CorruptDataError.
 */
export function readPart<A extends Uint8Array | Float32Array>(
  name: string,
  qt: QuantizedTensor,
  key: string,
  dtype: PartDtype,
  shape: readonly number[],
): A {
  const part: TensorPart | undefined = qt.parts?.[key];
  if (part === undefined || part === null || typeof part !== "object") {
    throw new CorruptDataError(`${name} tensor has no ${key} part`);
  }
  if (part.dtype !== dtype) {
    throw new CorruptDataError(`${name} part ${key} must have dtype ${dtype}, got ${String(part.dtype)}`);
  }
  const ctor = ARRAY_OF[dtype]!;
  if (!(part.data instanceof (ctor as unknown as typeof Uint8Array))) {
    throw new CorruptDataError(`${name} part ${key} must hold a ${ctor.name}, got ${describe(part.data)}`);
  }
  const same =
    Array.isArray(part.shape) &&
    part.shape.length === shape.length &&
    part.shape.every((d, i) => d === shape[i]);
  if (!same) {
    throw new CorruptDataError(
      `${name} part ${key} must have shape [${shape.join(", ")}], got [${Array.isArray(part.shape) ? part.shape.join(", ") : String(part.shape)}]`,
    );
  }
  const want = shape.reduce((a, b) => a * b, 1);
  if (part.data.length !== want) {
    throw new CorruptDataError(`${name} part ${key} must hold ${want} elements, got ${part.data.length}`);
  }
  return part.data as A;
}

/** The destination of a dequantize: `dst` (checked) or a new array. */
export function outputArray(dst: unknown, n: number): Float32Array {
  if (dst === undefined) return new Float32Array(n);
  assertFloat32Array(dst, "dst");
  if (dst.length < n) throw new RangeError(`dst is too short: need ${n} values, got ${dst.length}`);
  return dst;
}

/** Calls onProgress and checks the abort signal between chunks of work. */
export function step(ctx: WorkContext | undefined, done: number, total: number): void {
  if (ctx === undefined) return;
  throwIfAborted(ctx.signal);
  ctx.onProgress?.(done, total);
}

/** The spec of a stored tensor, re-validated: an invalid option in a file is corrupt data. */
export function storedSpec<T>(
  name: string,
  qt: QuantizedTensor,
  resolve: (spec: Record<string, unknown>) => T,
): T {
  if (qt === null || typeof qt !== "object")
    throw new TypeError(`qt must be a QuantizedTensor, got ${describe(qt)}`);
  const spec = qt.spec as Record<string, unknown> | undefined;
  if (spec === undefined || spec === null || typeof spec !== "object") {
    throw new CorruptDataError(`${name} tensor has no spec`);
  }
  if (spec["format"] !== name) {
    throw new CorruptDataError(`tensor format is ${describe(spec["format"])}, not ${JSON.stringify(name)}`);
  }
  try {
    return resolve(spec);
  } catch (e) {
    throw new CorruptDataError(`${name} tensor has an invalid spec: ${(e as Error).message}`, { cause: e });
  }
}
