import { describe } from "@lowbit/bits";

/**
 * Option parsing shared by the quantizers: unknown keys are a RangeError naming the key, a wrong type
 * a TypeError naming the option. `format`, when present, must name the quantizer.
 */

export type Options = Readonly<Record<string, unknown>>;

export function assertKnownOptions(spec: unknown, format: string, known: readonly string[]): Options {
  if (spec === undefined || spec === null) return {};
  if (typeof spec !== "object" || Array.isArray(spec)) {
    throw new TypeError(`${format} options must be an object, got ${describe(spec)}`);
  }
  const o = spec as Options;
  for (const k of Object.keys(o)) {
    if (k === "format") {
      if (o[k] !== format) {
        throw new RangeError(`options.format must be ${JSON.stringify(format)}, got ${describe(o[k])}`);
      }
      continue;
    }
    if (!known.includes(k)) {
      const list = known.length === 0 ? "none" : known.join(", ");
      throw new RangeError(`unknown option ${JSON.stringify(k)} for ${format}; known options: ${list}`);
    }
  }
  return o;
}

export function optBoolean(o: Options, key: string, fallback: boolean): boolean {
  const v = o[key];
  if (v === undefined) return fallback;
  if (typeof v !== "boolean") throw new TypeError(`option ${key} must be a boolean, got ${describe(v)}`);
  return v;
}

export function optInteger(o: Options, key: string, fallback: number, min: number, max: number): number {
  const v = o[key];
  if (v === undefined) return fallback;
  if (typeof v !== "number") throw new TypeError(`option ${key} must be an integer, got ${describe(v)}`);
  if (!Number.isInteger(v) || v < min || v > max) {
    throw new RangeError(`option ${key} must be an integer in [${min}, ${max}], got ${describe(v)}`);
  }
  return v;
}

/** An integer or null (null and undefined both mean "none"; undefined takes `fallback`). */
export function optIntegerOrNull(
  o: Options,
  key: string,
  fallback: number | null,
  min: number,
  max: number,
): number | null {
  if (o[key] === null) return null;
  return o[key] === undefined ? fallback : optInteger(o, key, 0, min, max);
}

export function optChoice<T extends string>(o: Options, key: string, choices: readonly T[], fallback: T): T {
  const v = o[key];
  if (v === undefined) return fallback;
  const list = choices.map((c) => JSON.stringify(c)).join(" | ");
  if (typeof v !== "string") throw new TypeError(`option ${key} must be ${list}, got ${describe(v)}`);
  if (!(choices as readonly string[]).includes(v)) {
    throw new RangeError(`option ${key} must be ${list}, got ${describe(v)}`);
  }
  return v as T;
}
