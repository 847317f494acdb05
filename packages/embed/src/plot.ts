import { assertOptions, describe } from "@lowbit/bits";

/** One measured configuration: its size per vector and its recall. */
export interface RecallPoint {
  /** Shown beside the point, e.g. "int8" or "pq:25". */
  readonly label: string;
  /** Resident bytes per vector (x, log scale); > 0. */
  readonly bytesPerVector: number;
  /** Recall@10 (y), in [0, 1]. */
  readonly recall: number;
  /** Series name: one colour and one legend entry per group; default "". Points of a group are joined. */
  readonly group?: string;
}

export interface RecallPlotOptions {
  /** Default "Recall@10 against bytes per vector". */
  readonly title?: string;
  /** Default 720 × 480. */
  readonly width?: number;
  readonly height?: number;
  /** Axis titles; defaults "bytes per vector (log scale)" and "recall@10". */
  readonly xLabel?: string;
  readonly yLabel?: string;
  /** Lowest recall shown; default: the lowest point rounded down to 0.1 (at most 0.9), or 0. */
  readonly yMin?: number;
  /** Join the points of each group in order of size (default true). */
  readonly lines?: boolean;
}

/** Okabe–Ito: distinguishable with the common colour-vision deficiencies. */
const PALETTE = ["#0072B2", "#D55E00", "#009E73", "#CC79A7", "#E69F00", "#56B4E9", "#000000", "#F0E442"];

const MARGIN = { left: 64, right: 32, top: 48, bottom: 56 } as const;

/** Escapes text for SVG content and attribute values. */
function xml(text: string): string {
  return text
    .replace(/&/g, "&amp;")
    .replace(/</g, "&lt;")
    .replace(/>/g, "&gt;")
    .replace(/"/g, "&quot;")
    .replace(/'/g, "&#39;");
}

/** Coordinates rounded to 0.01 px: stable output, small files. */
function px(v: number): string {
  return String(Math.round(v * 100) / 100);
}

/** Tick label of a byte count: 1, 2, 5, 10, …, 1k, 2k, 10k. */
function bytesLabel(v: number): string {
  if (v >= 1e6) return `${+(v / 1e6).toPrecision(3)}M`;
  if (v >= 1e3) return `${+(v / 1e3).toPrecision(3)}k`;
  return String(+v.toPrecision(3));
}

/** 1-2-5 ticks within [lo, hi] on a log axis. */
function logTicks(lo: number, hi: number): number[] {
  const ticks: number[] = [];
  for (let e = Math.floor(Math.log10(lo)); e <= Math.ceil(Math.log10(hi)); e++) {
    for (const m of [1, 2, 5]) {
      const v = m * 10 ** e;
      if (v >= lo * (1 - 1e-9) && v <= hi * (1 + 1e-9)) ticks.push(v);
    }
  }
  return ticks;
}

function checkPoint(p: unknown, i: number): asserts p is RecallPoint {
  const name = `points[${i}]`;
  if (typeof p !== "object" || p === null)
    throw new TypeError(`${name} must be an object, got ${describe(p)}`);
  const { label, bytesPerVector, recall, group } = p as Record<string, unknown>;
  if (typeof label !== "string")
    throw new TypeError(`${name}.label must be a string, got ${describe(label)}`);
  if (typeof bytesPerVector !== "number" || !(bytesPerVector > 0) || !Number.isFinite(bytesPerVector)) {
    throw new RangeError(
      `${name}.bytesPerVector must be a finite number > 0, got ${describe(bytesPerVector)}`,
    );
  }
  if (typeof recall !== "number" || !(recall >= 0 && recall <= 1)) {
    throw new RangeError(`${name}.recall must be a number in [0, 1], got ${describe(recall)}`);
  }
  if (group !== undefined && typeof group !== "string") {
    throw new TypeError(`${name}.group must be a string, got ${describe(group)}`);
  }
}

/**
 * The recall/size trade-off as a standalone SVG document: x = bytes per vector on a log scale,
 * y = recall@10, one labelled marker per point, one colour and legend entry per group (points of a
 * group joined by a line in order of size). Pure string building: no DOM, no fonts beyond a generic
 * family, deterministic output for the same input.
 */
export function recallPlotSvg(points: readonly RecallPoint[], options: RecallPlotOptions = {}): string {
  if (!Array.isArray(points)) throw new TypeError(`points must be an array, got ${describe(points)}`);
  points.forEach(checkPoint);
  assertOptions(options, "options");
  const width = options.width ?? 720;
  const height = options.height ?? 480;
  for (const [name, v] of [
    ["options.width", width],
    ["options.height", height],
  ] as const) {
    if (typeof v !== "number" || !(v >= 200 && v <= 10_000)) {
      throw new RangeError(`${name} must be a number in [200, 10000], got ${describe(v)}`);
    }
  }
  const title = options.title ?? "Recall@10 against bytes per vector";
  const xLabel = options.xLabel ?? "bytes per vector (log scale)";
  const yLabel = options.yLabel ?? "recall@10";
  const lines = options.lines ?? true;

  // x range: whole 1-2-5 steps around the data; y range: [yMin, 1].
  const xs = points.map((p) => p.bytesPerVector);
  const dataLo = xs.length > 0 ? Math.min(...xs) : 1;
  const dataHi = xs.length > 0 ? Math.max(...xs) : 1000;
  const step = (v: number, up: boolean) => {
    const e = 10 ** Math.floor(Math.log10(v));
    const candidates = [1, 2, 5, 10].map((m) => m * e);
    return up
      ? candidates.find((c) => c >= v * (1 - 1e-9))!
      : [...candidates].reverse().find((c) => c <= v * (1 + 1e-9))!;
  };
  let xLo = step(dataLo, false);
  let xHi = step(dataHi, true);
  if (xHi <= xLo) xHi = xLo * 10;
  if (xHi / xLo < 10) {
    xLo = step(xLo / 1.5, false);
    xHi = step(xHi * 1.5, true);
  }
  const minRecall = points.length > 0 ? Math.min(...points.map((p) => p.recall)) : 0;
  let yMin = options.yMin ?? Math.min(0.9, Math.floor(minRecall * 10) / 10);
  if (typeof yMin !== "number" || !(yMin >= 0 && yMin < 1)) {
    throw new RangeError(`options.yMin must be a number in [0, 1), got ${describe(yMin)}`);
  }
  if (options.yMin === undefined && minRecall - yMin < 0.02 && yMin > 0) yMin = Math.max(0, yMin - 0.1);

  const plotW = width - MARGIN.left - MARGIN.right;
  const plotH = height - MARGIN.top - MARGIN.bottom;
  const xOf = (v: number) =>
    MARGIN.left + ((Math.log10(v) - Math.log10(xLo)) / (Math.log10(xHi) - Math.log10(xLo))) * plotW;
  const yOf = (r: number) => MARGIN.top + (1 - (Math.max(r, yMin) - yMin) / (1 - yMin)) * plotH;

  const out: string[] = [];
  out.push(
    `<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${height}" viewBox="0 0 ${width} ${height}" font-family="sans-serif" font-size="12">`,
    `<title>${xml(title)}</title>`,
    `<rect width="${width}" height="${height}" fill="#ffffff"/>`,
    `<text x="${px(width / 2)}" y="22" text-anchor="middle" font-size="15" font-weight="bold">${xml(title)}</text>`,
  );

  // Grid and ticks.
  const bottom = MARGIN.top + plotH;
  for (const t of logTicks(xLo, xHi)) {
    const x = px(xOf(t));
    out.push(
      `<line x1="${x}" y1="${MARGIN.top}" x2="${x}" y2="${bottom}" stroke="#e5e5e5"/>`,
      `<text x="${x}" y="${bottom + 16}" text-anchor="middle">${bytesLabel(t)}</text>`,
    );
  }
  const yStep = 1 - yMin > 0.5 ? 0.1 : 1 - yMin > 0.2 ? 0.05 : 0.02;
  for (let k = Math.ceil(yMin / yStep - 1e-9); k * yStep <= 1 + 1e-9; k++) {
    const r = k * yStep;
    const y = px(yOf(r));
    out.push(
      `<line x1="${MARGIN.left}" y1="${y}" x2="${MARGIN.left + plotW}" y2="${y}" stroke="#e5e5e5"/>`,
      `<text x="${MARGIN.left - 8}" y="${px(yOf(r) + 4)}" text-anchor="end">${r.toFixed(2)}</text>`,
    );
  }
  // Axes and their titles.
  out.push(
    `<line x1="${MARGIN.left}" y1="${bottom}" x2="${MARGIN.left + plotW}" y2="${bottom}" stroke="#333333"/>`,
    `<line x1="${MARGIN.left}" y1="${MARGIN.top}" x2="${MARGIN.left}" y2="${bottom}" stroke="#333333"/>`,
    `<text x="${px(MARGIN.left + plotW / 2)}" y="${height - 14}" text-anchor="middle">${xml(xLabel)}</text>`,
    `<text transform="translate(16 ${px(MARGIN.top + plotH / 2)}) rotate(-90)" text-anchor="middle">${xml(yLabel)}</text>`,
  );

  // Series, in order of first appearance.
  const groups = new Map<string, RecallPoint[]>();
  for (const p of points) {
    const g = p.group ?? "";
    const list = groups.get(g);
    if (list === undefined) groups.set(g, [p]);
    else list.push(p);
  }
  let gi = 0;
  for (const [group, list] of groups) {
    const color = PALETTE[gi % PALETTE.length]!;
    const sorted = [...list].sort((a, b) => a.bytesPerVector - b.bytesPerVector);
    out.push(`<g class="series" data-group="${xml(group)}" fill="${color}" stroke="${color}">`);
    if (lines && sorted.length > 1) {
      const path = sorted.map((p) => `${px(xOf(p.bytesPerVector))},${px(yOf(p.recall))}`).join(" ");
      out.push(`<polyline points="${path}" fill="none" stroke-width="1.5" stroke-opacity="0.6"/>`);
    }
    sorted.forEach((p, j) => {
      const x = xOf(p.bytesPerVector);
      const y = yOf(p.recall);
      // Alternate labels above and below so neighbours in a series do not overprint each other;
      // a label that would leave the plot area goes to the other side.
      let dy = j % 2 === 0 ? -9 : 17;
      if (y + dy - 12 < MARGIN.top) dy = 17;
      else if (y + dy > bottom - 2) dy = -9;
      out.push(
        `<circle cx="${px(x)}" cy="${px(y)}" r="4"><title>${xml(`${p.label}: ${p.bytesPerVector} B/vector, recall ${p.recall.toFixed(4)}`)}</title></circle>`,
        `<text x="${px(x)}" y="${px(y + dy)}" text-anchor="middle" stroke="none">${xml(p.label)}</text>`,
      );
    });
    out.push("</g>");
    gi++;
  }

  // Legend (only when there is something to tell apart).
  const named = [...groups.keys()].filter((g) => g !== "");
  if (named.length > 0) {
    const lx = MARGIN.left + plotW - 12;
    let ly = bottom - 12 - (groups.size - 1) * 18;
    out.push(`<g class="legend" text-anchor="end">`);
    let k = 0;
    for (const g of groups.keys()) {
      const color = PALETTE[k % PALETTE.length]!;
      out.push(
        `<circle cx="${px(lx)}" cy="${px(ly - 4)}" r="4" fill="${color}"/>`,
        `<text x="${px(lx - 10)}" y="${px(ly)}">${xml(g === "" ? "(no group)" : g)}</text>`,
      );
      ly += 18;
      k++;
    }
    out.push("</g>");
  }
  out.push("</svg>", "");
  return out.join("\n");
}
