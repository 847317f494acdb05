import { CorruptDataError } from "@lowbit/bits";
import { quote } from "./_dtype.js";

const QUOTE = 0x22;
const BACKSLASH = 0x5c;
const OPEN_OBJECT = 0x7b;
const CLOSE_OBJECT = 0x7d;
const OPEN_ARRAY = 0x5b;
const CLOSE_ARRAY = 0x5d;
const COMMA = 0x2c;

interface Frame {
  /** Keys seen so far; null for an array. */
  readonly keys: Set<string> | null;
  /** The key under which this object sits in its parent ("" at the top). */
  readonly at: string;
  expectKey: boolean;
}

/** Index of the quote that closes the string opening at `start`. */
function stringEnd(text: string, start: number): number {
  let from = start + 1;
  for (;;) {
    const q = text.indexOf('"', from);
    if (q < 0) return text.length; // unreachable for text that JSON.parse accepted
    let k = q - 1;
    while (text.charCodeAt(k) === BACKSLASH) k--;
    if ((q - 1 - k) % 2 === 0) return q;
    from = q + 1;
  }
}

/**
 * Throws CorruptDataError at the first key that appears twice in one object. JSON.parse keeps the last
 * of duplicate keys silently; a header whose meaning depends on which copy a reader keeps is rejected.
 * `text` must already have been accepted by JSON.parse.
 */
export function assertNoDuplicateKeys(text: string, what: string): void {
  const stack: Frame[] = [];
  let lastKey = "";
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (c === QUOTE) {
      const end = stringEnd(text, i);
      const top = stack[stack.length - 1];
      if (top?.keys != null && top.expectKey) {
        const raw = text.slice(i + 1, end);
        const key = raw.includes("\\") ? (JSON.parse(text.slice(i, end + 1)) as string) : raw;
        if (top.keys.has(key)) {
          const where = stack.length === 1 ? "at the top level" : `inside ${quote(top.at)}`;
          throw new CorruptDataError(`${what}: duplicate key ${quote(key)} ${where}`);
        }
        top.keys.add(key);
        top.expectKey = false;
        lastKey = key;
      }
      i = end;
    } else if (c === OPEN_OBJECT) {
      stack.push({ keys: new Set(), at: lastKey, expectKey: true });
    } else if (c === OPEN_ARRAY) {
      stack.push({ keys: null, at: lastKey, expectKey: false });
    } else if (c === CLOSE_OBJECT || c === CLOSE_ARRAY) {
      stack.pop();
    } else if (c === COMMA) {
      const top = stack[stack.length - 1];
      if (top?.keys != null) top.expectKey = true;
    }
  }
}
