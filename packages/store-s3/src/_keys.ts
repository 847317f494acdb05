import { describe } from "@lowbit/bits";

/**
 * The store's key rule, the same as the filesystem backend's, so a store can move between backends:
 * "/"-separated segments of [a-z0-9._-] starting with [a-z0-9], at most 255 chars each, 512 in all.
 */
const SEGMENT_RE = /^[a-z0-9][a-z0-9._-]*$/;
const MAX_KEY_LENGTH = 512;
const MAX_SEGMENT_LENGTH = 255;

export function isValidKey(key: string): boolean {
  return (
    key.length > 0 &&
    key.length <= MAX_KEY_LENGTH &&
    key.split("/").every((s) => s.length <= MAX_SEGMENT_LENGTH && SEGMENT_RE.test(s))
  );
}

export function assertKey(key: unknown, name = "key"): asserts key is string {
  if (typeof key !== "string") throw new TypeError(`${name} must be a string, got ${describe(key)}`);
  if (isValidKey(key)) return;
  throw new RangeError(
    `${name} must be 1–${MAX_KEY_LENGTH} chars of "/"-separated segments matching ${SEGMENT_RE} ` +
      `(at most ${MAX_SEGMENT_LENGTH} chars each), got ${JSON.stringify(key)}`,
  );
}

/** "" or a key, optionally ending in "/". */
export function assertPrefix(prefix: unknown): asserts prefix is string {
  if (typeof prefix !== "string") throw new TypeError(`prefix must be a string, got ${describe(prefix)}`);
  if (prefix === "" || isValidKey(prefix.endsWith("/") ? prefix.slice(0, -1) : prefix)) return;
  throw new RangeError(`prefix must be "" or a key optionally ending in "/", got ${JSON.stringify(prefix)}`);
}

/** Throws unless 0 ≤ start ≤ end are safe integers (the upper bound is the value's size, checked later). */
export function assertRange(start: unknown, end: unknown): void {
  if (typeof start !== "number") throw new TypeError(`start must be an integer, got ${describe(start)}`);
  if (typeof end !== "number") throw new TypeError(`end must be an integer, got ${describe(end)}`);
  if (!Number.isSafeInteger(start) || !Number.isSafeInteger(end) || start < 0 || end < start) {
    throw new RangeError(`range must be integers with 0 ≤ start ≤ end, got [${start}, ${end})`);
  }
}
