import { describe, throwIfAborted } from "@lowbit/bits";
import { maxAbsError, relativeMse } from "@lowbit/formats";
import type { ModelReader } from "@lowbit/safetensors/node";
import { openInput, readValues, storedTensor } from "./_model.js";
import {
  type Column,
  formatBits,
  formatDb,
  formatSci,
  formatShape,
  jsonNumber,
  quote,
  renderTable,
} from "./_text.js";
import type { FileProgress } from "./quantize.js";

/** One file's side of a compared tensor. */
export interface CompareSide {
  /** dtype of a plain tensor, format of a quantized one. */
  readonly type: string;
  readonly quantized: boolean;
  /** Stored bits per element: the dtype's width, or all parts of a quantized tensor. */
  readonly bitsPerWeight: number;
}

/** Error of B against A (the reference) for one tensor. */
export interface CompareRow {
  readonly name: string;
  readonly shape: readonly number[];
  readonly elements: number;
  readonly a: CompareSide;
  readonly b: CompareSide;
  /** Σ(a − b)² / Σa²: 0 exact, 1 as bad as all zeros; Infinity when A is all zeros and B is not. */
  readonly relativeMse: number;
  /** −10·log10(relativeMse): Infinity when exact. */
  readonly sqnrDb: number;
  readonly maxAbsError: number;
}

/** Every compared tensor together, each weighted by its element count. */
export interface CompareTotal {
  readonly tensors: number;
  readonly elements: number;
  readonly aBitsPerWeight: number;
  readonly bBitsPerWeight: number;
  /** Element-weighted mean of the tensors' relative MSEs. */
  readonly relativeMse: number;
  /** −10·log10 of that mean. */
  readonly sqnrDb: number;
  /** Largest over all tensors. */
  readonly maxAbsError: number;
}

export interface CompareReport {
  readonly a: string;
  readonly b: string;
  /** Tensors in both files with the same shape, in A's order. */
  readonly rows: readonly CompareRow[];
  readonly total: CompareTotal;
  readonly onlyInA: readonly string[];
  readonly onlyInB: readonly string[];
  /** In both files, but with different shapes: not compared. */
  readonly shapeMismatch: readonly {
    readonly name: string;
    readonly a: readonly number[];
    readonly b: readonly number[];
  }[];
}

export interface CompareOptions {
  readonly onProgress?: (progress: FileProgress) => void;
  readonly signal?: AbortSignal;
}

function side(reader: ModelReader, name: string): CompareSide {
  const s = storedTensor(reader, name);
  return { type: s.type, quantized: s.quantized, bitsPerWeight: s.bitsPerWeight };
}

const sameShape = (x: readonly number[], y: readonly number[]) =>
  x.length === y.length && x.every((d, i) => d === y[i]);

/**
 * Compares two model files tensor by tensor, A as the reference: for each name in both with the same
 * shape, B's relative MSE, SQNR and largest absolute error against A, and both sides' bits per weight.
 * Quantized tensors (in either file) are dequantized first; plain ones converted to float32. Only two
 * tensors are in memory at a time. Names in one file only, and shape mismatches, are listed.
 */
export async function compareFiles(
  a: string,
  b: string,
  options: CompareOptions = {},
): Promise<CompareReport> {
  for (const [v, what] of [
    [a, "a"],
    [b, "b"],
  ] as const) {
    if (typeof v !== "string" || v === "")
      throw new TypeError(`${what} must be a non-empty string, got ${describe(v)}`);
  }
  const { signal, onProgress } = options;
  throwIfAborted(signal);
  const ra = await openInput(a);
  try {
    const rb = await openInput(b);
    try {
      const namesA = ra.names();
      const inB = new Set(rb.names());
      const inA = new Set(namesA);
      const common = namesA.filter((n) => inB.has(n));
      const rows: CompareRow[] = [];
      const shapeMismatch: { name: string; a: readonly number[]; b: readonly number[] }[] = [];
      for (const [index, name] of common.entries()) {
        throwIfAborted(signal);
        const shapeA = ra.info(name).shape;
        const shapeB = rb.info(name).shape;
        if (!sameShape(shapeA, shapeB)) {
          shapeMismatch.push({ name, a: shapeA, b: shapeB });
        } else {
          const x = await readValues(ra, name);
          const y = await readValues(rb, name);
          const rel = relativeMse(x, y);
          rows.push({
            name,
            shape: shapeA,
            elements: x.length,
            a: side(ra, name),
            b: side(rb, name),
            relativeMse: rel,
            sqnrDb: sqnrOf(rel),
            maxAbsError: maxAbsError(x, y),
          });
        }
        onProgress?.({ stage: "tensors", done: index + 1, total: common.length, tensor: name });
      }
      return {
        a,
        b,
        rows,
        total: totalOf(rows),
        onlyInA: namesA.filter((n) => !inB.has(n)),
        onlyInB: rb.names().filter((n) => !inA.has(n)),
        shapeMismatch,
      };
    } finally {
      await rb.close();
    }
  } finally {
    await ra.close();
  }
}

function sqnrOf(rel: number): number {
  return rel === 0 ? Number.POSITIVE_INFINITY : -10 * Math.log10(rel);
}

function totalOf(rows: readonly CompareRow[]): CompareTotal {
  let elements = 0;
  let aBits = 0;
  let bBits = 0;
  let rel = 0;
  let max = 0;
  for (const r of rows) {
    elements += r.elements;
    aBits += r.elements * r.a.bitsPerWeight;
    bBits += r.elements * r.b.bitsPerWeight;
    // An empty tensor weighs nothing (and 0 · Infinity would be NaN).
    if (r.elements > 0) rel += r.elements * r.relativeMse;
    if (r.maxAbsError > max || Number.isNaN(r.maxAbsError)) max = r.maxAbsError;
  }
  const meanRel = elements === 0 ? 0 : rel / elements;
  return {
    tensors: rows.length,
    elements,
    aBitsPerWeight: elements === 0 ? 0 : aBits / elements,
    bBitsPerWeight: elements === 0 ? 0 : bBits / elements,
    relativeMse: meanRel,
    sqnrDb: sqnrOf(meanRel),
    maxAbsError: max,
  };
}

interface Line {
  readonly name: string;
  readonly shape: string;
  readonly elements: number;
  readonly a: string;
  readonly aBits: number;
  readonly b: string;
  readonly bBits: number;
  readonly relativeMse: number;
  readonly sqnrDb: number;
  readonly maxAbsError: number;
}

const COLUMNS: readonly Column<Line>[] = [
  { title: "name", cell: (l) => l.name },
  { title: "shape", cell: (l) => l.shape },
  { title: "elements", right: true, cell: (l) => String(l.elements) },
  { title: "A", cell: (l) => l.a },
  { title: "bits A", right: true, cell: (l) => formatBits(l.aBits) },
  { title: "B", cell: (l) => l.b },
  { title: "bits B", right: true, cell: (l) => formatBits(l.bBits) },
  { title: "rel MSE", right: true, cell: (l) => formatSci(l.relativeMse) },
  { title: "SQNR dB", right: true, cell: (l) => formatDb(l.sqnrDb) },
  { title: "max abs err", right: true, cell: (l) => formatSci(l.maxAbsError) },
];

function nameList(names: readonly string[]): string {
  const shown = names.slice(0, 20).map(quote).join(", ");
  return names.length > 20 ? `${shown}, … (${names.length - 20} more)` : shown;
}

/** The report as `lowbit compare` prints it: one line per tensor, a total line, then what differs. */
export function compareText(r: CompareReport): string {
  const lines = r.rows.map(
    (x): Line => ({
      name: x.name,
      shape: formatShape(x.shape),
      elements: x.elements,
      a: x.a.type,
      aBits: x.a.bitsPerWeight,
      b: x.b.type,
      bBits: x.b.bitsPerWeight,
      relativeMse: x.relativeMse,
      sqnrDb: x.sqnrDb,
      maxAbsError: x.maxAbsError,
    }),
  );
  const t = r.total;
  lines.push({
    name: `total (${t.tensors} tensors, element-weighted)`,
    shape: "",
    elements: t.elements,
    a: "",
    aBits: Number(t.aBitsPerWeight.toFixed(2)),
    b: "",
    bBits: Number(t.bBitsPerWeight.toFixed(2)),
    relativeMse: t.relativeMse,
    sqnrDb: t.sqnrDb,
    maxAbsError: t.maxAbsError,
  });
  const out = [`A: ${r.a}`, `B: ${r.b}`, "", ...renderTable(COLUMNS, lines)];
  if (r.onlyInA.length > 0) out.push(`only in A (${r.onlyInA.length}): ${nameList(r.onlyInA)}`);
  if (r.onlyInB.length > 0) out.push(`only in B (${r.onlyInB.length}): ${nameList(r.onlyInB)}`);
  for (const m of r.shapeMismatch) {
    out.push(
      `not compared, shapes differ: ${quote(m.name)} ${formatShape(m.a)} in A, ${formatShape(m.b)} in B`,
    );
  }
  return `${out.join("\n")}\n`;
}

/** The report as JSON-ready data: non-finite numbers (an exact tensor's SQNR) become strings. */
export function compareJson(r: CompareReport): unknown {
  const metrics = (x: { relativeMse: number; sqnrDb: number; maxAbsError: number }) => ({
    relativeMse: jsonNumber(x.relativeMse),
    sqnrDb: jsonNumber(x.sqnrDb),
    maxAbsError: jsonNumber(x.maxAbsError),
  });
  return {
    a: r.a,
    b: r.b,
    tensors: r.rows.map((x) => ({
      name: x.name,
      shape: x.shape,
      elements: x.elements,
      a: x.a,
      b: x.b,
      ...metrics(x),
    })),
    total: { ...r.total, ...metrics(r.total) },
    onlyInA: r.onlyInA,
    onlyInB: r.onlyInB,
    shapeMismatch: r.shapeMismatch,
  };
}
