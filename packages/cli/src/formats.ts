import { listCodecs } from "@lowbit/formats";

/** One registry entry as `lowbit formats --json` prints it. Numbers are exact (float32 values). */
export interface FormatRow {
  readonly name: string;
  readonly kind: string;
  readonly bits: number;
  readonly maxFinite: number;
  readonly minNormal: number;
  readonly minSubnormal: number;
  readonly hasInf: boolean;
  readonly hasNaN: boolean;
  readonly hasNegativeZero: boolean;
  readonly signed: boolean;
  readonly defaultRounding: string;
  readonly package: string;
  readonly reference: string;
  readonly summary: string;
}

/** Every codec in the registry, in registry order. */
export function formatRows(): FormatRow[] {
  return listCodecs().map(({ codec, ...info }) => ({
    name: info.name,
    kind: info.kind,
    bits: codec.bits,
    maxFinite: codec.maxFinite,
    minNormal: codec.minNormal,
    minSubnormal: codec.minSubnormal,
    hasInf: codec.hasInf,
    hasNaN: codec.hasNaN,
    hasNegativeZero: codec.hasNegativeZero,
    signed: codec.signed,
    defaultRounding: codec.defaultRounding,
    package: info.package,
    reference: info.reference,
    summary: info.summary,
  }));
}

interface Column {
  readonly title: string;
  readonly right: boolean;
  readonly cell: (row: FormatRow) => string;
}

const yesNo = (b: boolean): string => (b ? "yes" : "no");

const COLUMNS: readonly Column[] = [
  { title: "name", right: false, cell: (r) => r.name },
  { title: "bits", right: true, cell: (r) => String(r.bits) },
  { title: "max finite", right: true, cell: (r) => formatNumber(r.maxFinite) },
  { title: "min normal", right: true, cell: (r) => formatNumber(r.minNormal) },
  { title: "min subnormal", right: true, cell: (r) => formatNumber(r.minSubnormal) },
  { title: "Inf", right: false, cell: (r) => yesNo(r.hasInf) },
  { title: "NaN", right: false, cell: (r) => yesNo(r.hasNaN) },
  { title: "-0", right: false, cell: (r) => yesNo(r.hasNegativeZero) },
  { title: "package", right: false, cell: (r) => r.package },
];

/** The registry as an aligned plain-text table, one codec per line, ending in a newline. */
export function formatsTable(rows: readonly FormatRow[] = formatRows()): string {
  const cells = [COLUMNS.map((c) => c.title), ...rows.map((r) => COLUMNS.map((c) => c.cell(r)))];
  const widths = COLUMNS.map((_, i) => Math.max(...cells.map((line) => line[i]!.length)));
  const render = (line: string[]): string =>
    line
      .map((text, i) => (COLUMNS[i]!.right ? text.padStart(widths[i]!) : text.padEnd(widths[i]!)))
      .join("  ")
      .trimEnd();
  return `${cells.map(render).join("\n")}\n`;
}

/** Integers as they are (448, 57344); others to 5 significant digits (0.015625, 6.1035e-5, 3.3895e+38). */
export function formatNumber(v: number): string {
  const a = Math.abs(v);
  if (Number.isInteger(v) && a < 1e7) return String(v);
  if (a >= 0.01 && a < 1e7) return String(Number(v.toPrecision(5)));
  return v.toExponential(4).replace(/\.?0+e/, "e");
}
