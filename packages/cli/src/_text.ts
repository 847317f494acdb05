/** Small text helpers shared by the model commands: tables, numbers, error context. */

/** A tensor name in messages: JSON-quoted, long names shortened in the middle to 80 characters. */
export function quote(name: string): string {
  const s = name.length > 80 ? `${name.slice(0, 38)}…${name.slice(-38)}` : name;
  return JSON.stringify(s);
}

export function formatShape(shape: readonly number[]): string {
  return `[${shape.join(", ")}]`;
}

/**
 * Prefixes `where` to an error's message in place, so its class, `code` and `cause` stay as they were
 * (the CLI's exit code and a caller's `instanceof` both depend on them). Returns the error.
 */
export function withContext(e: unknown, where: string): unknown {
  if (e instanceof Error && !(e.name === "AbortError") && !e.message.startsWith(where)) {
    try {
      e.message = `${where}: ${e.message}`;
    } catch {
      // a frozen error keeps its own message
    }
  }
  return e;
}

/** Bits per element: whole numbers as they are (16), others to two decimals (8.13). */
export function formatBits(v: number): string {
  return Number.isInteger(v) ? String(v) : v.toFixed(2);
}

/** Small or large magnitudes in 3 significant digits (1.23e-4); 0, inf and nan spelled out. */
export function formatSci(v: number): string {
  if (v === 0) return "0";
  if (Number.isNaN(v)) return "nan";
  if (!Number.isFinite(v)) return v > 0 ? "inf" : "-inf";
  return v.toExponential(2);
}

/** Decibels to two decimals; inf for an exact match. */
export function formatDb(v: number): string {
  if (Number.isNaN(v)) return "nan";
  if (!Number.isFinite(v)) return v > 0 ? "inf" : "-inf";
  return v.toFixed(2);
}

/** JSON has no Infinity or NaN: those become the strings "Infinity", "-Infinity", "NaN". */
export function jsonNumber(v: number): number | string {
  return Number.isFinite(v) ? v : String(v);
}

/** Sizes for people: 6990470 → "6.99 MB" (decimal units, as file managers show them). */
export function formatSize(bytes: number): string {
  const units = ["bytes", "kB", "MB", "GB", "TB"];
  let v = bytes;
  let u = 0;
  while (v >= 1000 && u < units.length - 1) {
    v /= 1000;
    u++;
  }
  return u === 0 ? `${bytes} bytes` : `${v.toFixed(2)} ${units[u]}`;
}

export interface Column<R> {
  readonly title: string;
  /** Right-aligned (numbers). */
  readonly right?: boolean;
  readonly cell: (row: R) => string;
}

/** An aligned plain-text table: a title line, then one line per row; trailing spaces trimmed. */
export function renderTable<R>(columns: readonly Column<R>[], rows: readonly R[]): string[] {
  const cells = [columns.map((c) => c.title), ...rows.map((r) => columns.map((c) => c.cell(r)))];
  const widths = columns.map((_, i) => Math.max(...cells.map((line) => line[i]!.length)));
  return cells.map((line) =>
    line
      .map((text, i) => (columns[i]!.right === true ? text.padStart(widths[i]!) : text.padEnd(widths[i]!)))
      .join("  ")
      .trimEnd(),
  );
}
