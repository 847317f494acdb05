import type { PartDtype, QuantSpec } from "@lowbit/bits";
import { openInput, type StoredTensor, storedTensor } from "./_model.js";
import { type Column, formatBits, formatShape, formatSize, renderTable } from "./_text.js";

/** One stored part of a quantized tensor. */
export interface InspectPart {
  /** Part name (`qdata`, `scales`, …). */
  readonly part: string;
  /** The safetensors tensor that holds it: `<tensor>.<part>`. */
  readonly tensor: string;
  readonly dtype: PartDtype;
  readonly shape: readonly number[];
  readonly bytes: number;
}

/** A model tensor as `lowbit inspect` lists it. */
export interface InspectTensor extends StoredTensor {
  /** Quantized tensors only: the resolved spec (format and every option). */
  readonly spec?: QuantSpec;
  /** Quantized tensors only: the stored parts. */
  readonly parts?: readonly InspectPart[];
}

/** Tensors of one dtype or format, or of the whole file (`type: "total"`). */
export interface InspectGroup {
  readonly type: string;
  readonly tensors: number;
  readonly elements: number;
  readonly bytes: number;
  /** bytes · 8 / elements. */
  readonly bitsPerWeight: number;
}

export interface InspectReport {
  readonly path: string;
  /** Size of the file: 8 + header + data. */
  readonly fileBytes: number;
  /** The JSON header, padding included, without the 8-byte length. */
  readonly headerBytes: number;
  /** `__metadata__` without the lowbit key. */
  readonly metadata: Readonly<Record<string, string>>;
  /** Model tensors in file order; a quantized tensor is one entry (its parts listed inside). */
  readonly tensors: readonly InspectTensor[];
  /** Totals per dtype (plain tensors) or format (quantized tensors), in order of first appearance. */
  readonly byType: readonly InspectGroup[];
  readonly total: InspectGroup;
}

function group(type: string, list: readonly StoredTensor[]): InspectGroup {
  let elements = 0;
  let bytes = 0;
  for (const t of list) {
    elements += t.elements;
    bytes += t.bytes;
  }
  return {
    type,
    tensors: list.length,
    elements,
    bytes,
    bitsPerWeight: elements === 0 ? 0 : (bytes * 8) / elements,
  };
}

/**
 * Describes a safetensors file from its header alone (no tensor data is read): every tensor's dtype,
 * shape and size, lowbit quantized tensors with their format, spec, parts and bits per weight, and
 * totals. A malformed header or lowbit metadata throws the reader's LowbitError, naming the file.
 */
export async function inspectFile(path: string): Promise<InspectReport> {
  const reader = await openInput(path);
  try {
    const tensors: InspectTensor[] = [];
    const byType = new Map<string, StoredTensor[]>();
    for (const name of reader.names()) {
      const stored = storedTensor(reader, name);
      const info = reader.info(name);
      if (info.kind === "quantized") {
        const parts = info.parts.map((part): InspectPart => {
          const tensor = `${name}.${part}`;
          const p = reader.file.info(tensor);
          return { part, tensor, dtype: p.dtype, shape: p.shape, bytes: p.dataOffsets[1] - p.dataOffsets[0] };
        });
        tensors.push({ ...stored, spec: info.spec, parts });
      } else {
        tensors.push(stored);
      }
      const list = byType.get(stored.type);
      if (list === undefined) byType.set(stored.type, [stored]);
      else list.push(stored);
    }
    const header = reader.file.header;
    return {
      path,
      fileBytes: header.dataStart + header.dataLength,
      headerBytes: header.headerLength,
      metadata: { ...reader.metadata },
      tensors,
      byType: [...byType].map(([type, list]) => group(type, list)),
      total: group("total", tensors),
    };
  } finally {
    await reader.close();
  }
}

/** Options of a spec as `k=v` pairs (strings bare, other values as JSON), without the format. */
export function formatSpec(spec: QuantSpec | undefined): string {
  if (spec === undefined) return "";
  return Object.keys(spec)
    .filter((k) => k !== "format")
    .map((k) => {
      const v = spec[k];
      return `${k}=${typeof v === "string" ? v : JSON.stringify(v)}`;
    })
    .join(" ");
}

/** Control characters and long values would wreck the layout: escape, and cut at 200 characters. */
function metadataValue(v: string): string {
  const escaped = JSON.stringify(v).slice(1, -1);
  return escaped.length > 200 ? `${escaped.slice(0, 199)}…` : escaped;
}

const TENSOR_COLUMNS: readonly Column<InspectTensor>[] = [
  { title: "name", cell: (t) => t.name },
  { title: "type", cell: (t) => t.type },
  { title: "shape", cell: (t) => formatShape(t.shape) },
  { title: "elements", right: true, cell: (t) => String(t.elements) },
  { title: "bytes", right: true, cell: (t) => String(t.bytes) },
  { title: "bits", right: true, cell: (t) => formatBits(t.bitsPerWeight) },
  { title: "spec", cell: (t) => formatSpec(t.spec) },
];

const GROUP_COLUMNS: readonly Column<InspectGroup>[] = [
  { title: "type", cell: (g) => g.type },
  { title: "tensors", right: true, cell: (g) => String(g.tensors) },
  { title: "elements", right: true, cell: (g) => String(g.elements) },
  { title: "bytes", right: true, cell: (g) => String(g.bytes) },
  { title: "bits/element", right: true, cell: (g) => g.bitsPerWeight.toFixed(2) },
];

/** The report as `lowbit inspect` prints it: a heading, one line per tensor, totals per type. */
export function inspectText(r: InspectReport): string {
  const lines: string[] = [];
  const quantized = r.tensors.filter((t) => t.quantized).length;
  lines.push(
    `${r.path}: ${r.tensors.length} tensors${quantized > 0 ? ` (${quantized} quantized)` : ""}, ` +
      `${r.fileBytes} bytes (${formatSize(r.fileBytes)}), header ${r.headerBytes} bytes`,
  );
  const keys = Object.keys(r.metadata).sort();
  if (keys.length > 0) {
    lines.push("metadata:");
    for (const k of keys) lines.push(`  ${metadataValue(k)}: ${metadataValue(r.metadata[k]!)}`);
  }
  lines.push("", ...renderTable(TENSOR_COLUMNS, r.tensors), "");
  lines.push(...renderTable(GROUP_COLUMNS, [...r.byType, r.total]));
  return `${lines.join("\n")}\n`;
}
