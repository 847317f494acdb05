/**
 * The two halves of Python's `json` that bitsandbytes' packed quant state needs: `json.dumps` number
 * formatting (float `repr`, `NaN`, `Infinity`) for writing byte for byte, and a reader that accepts
 * those non-standard literals. `json.dumps` escapes everything outside ASCII, so the bytes are ASCII.
 */

/**
 * Python `repr(float)` as `json.dumps` writes it: shortest round-trip digits (the same digits
 * JavaScript picks), fixed notation for decimal exponents −4 ≤ e < 16 with at least one decimal
 * (`2.0`), otherwise `d.ddde±XX` with at least two exponent digits; `NaN`, `Infinity`, `-Infinity`.
 */
export function pythonFloatRepr(x: number): string {
  if (Number.isNaN(x)) return "NaN";
  if (x === Number.POSITIVE_INFINITY) return "Infinity";
  if (x === Number.NEGATIVE_INFINITY) return "-Infinity";
  if (x === 0) return Object.is(x, -0) ? "-0.0" : "0.0";
  const sign = x < 0 ? "-" : "";
  const [mantissa, exponent] = Math.abs(x).toExponential().split("e") as [string, string];
  const digits = mantissa.replace(".", "");
  const decpt = Number(exponent) + 1; // x = 0.d1d2… × 10^decpt
  if (decpt <= -4 || decpt > 16) {
    const e = decpt - 1;
    const frac = digits.length > 1 ? `.${digits.slice(1)}` : "";
    return `${sign}${digits[0]}${frac}e${e < 0 ? "-" : "+"}${String(Math.abs(e)).padStart(2, "0")}`;
  }
  if (decpt <= 0) return `${sign}0.${"0".repeat(-decpt)}${digits}`;
  if (decpt >= digits.length) return `${sign}${digits}${"0".repeat(decpt - digits.length)}.0`;
  return `${sign}${digits.slice(0, decpt)}.${digits.slice(decpt)}`;
}

/** ASCII text → bytes (throws RangeError on a non-ASCII character, which `json.dumps` never emits). */
export function asciiBytes(text: string): Uint8Array {
  const out = new Uint8Array(text.length);
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (c > 0x7f) throw new RangeError(`non-ASCII character at ${i}`);
    out[i] = c;
  }
  return out;
}

/** Bytes → ASCII text, or null when a byte is outside ASCII. */
export function asciiText(bytes: Uint8Array): string | null {
  let text = "";
  for (let i = 0; i < bytes.length; i += 4096) {
    const chunk = bytes.subarray(i, i + 4096);
    for (const b of chunk) if (b > 0x7f) return null;
    text += String.fromCharCode(...chunk);
  }
  return text;
}

const SENTINEL = "\u0000py:";

/**
 * Parses Python `json.dumps` output: standard JSON plus the bare literals `NaN`, `Infinity` and
 * `-Infinity`. Throws SyntaxError on anything else that JSON.parse rejects.
 */
export function parsePythonJson(text: string): unknown {
  // The sentinel below is a string starting with NUL; refuse input that could spell it itself.
  if (text.includes("\\u0000")) throw new SyntaxError("JSON with an escaped NUL character is not accepted");
  let out = "";
  let i = 0;
  while (i < text.length) {
    const c = text[i]!;
    if (c === '"') {
      // copy the string literal verbatim
      let j = i + 1;
      while (j < text.length && text[j] !== '"') j += text[j] === "\\" ? 2 : 1;
      out += text.slice(i, j + 1);
      i = j + 1;
      continue;
    }
    const literal = ["NaN", "Infinity", "-Infinity"].find((w) => text.startsWith(w, i));
    if (literal !== undefined) {
      out += JSON.stringify(SENTINEL + literal);
      i += literal.length;
      continue;
    }
    out += c;
    i++;
  }
  return JSON.parse(out, (_key, value: unknown) => {
    if (typeof value !== "string" || !value.startsWith(SENTINEL)) return value;
    const word = value.slice(SENTINEL.length);
    return word === "NaN"
      ? Number.NaN
      : word === "Infinity"
        ? Number.POSITIVE_INFINITY
        : Number.NEGATIVE_INFINITY;
  });
}
