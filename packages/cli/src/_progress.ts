import type { ConvertProgress } from "./convert.js";

export interface TerminalSink {
  write(text: string): unknown;
  readonly columns?: number;
}

export interface ProgressBar {
  update(p: ConvertProgress): void;
  /** Erases the bar so the next line starts clean. */
  done(): void;
}

/** Redraws at most every 100 ms: a terminal write per chunk would cost more than the chunk. */
const REDRAW_MS = 100;

/** A one-line bar redrawn in place with `\r`; only for a TTY. */
export function progressBar(sink: TerminalSink, label: string, now: () => number = Date.now): ProgressBar {
  const started = now();
  let last = Number.NEGATIVE_INFINITY;
  let drawn = false;
  return {
    update(p) {
      const t = now();
      const finished = p.elements === p.totalElements;
      if (!finished && t - last < REDRAW_MS) return;
      last = t;
      const fraction = p.totalElements === 0 ? 1 : p.elements / p.totalElements;
      const seconds = Math.max((t - started) / 1000, 1e-3);
      const rate = `${(p.elements / seconds / 1e6).toFixed(1)} M/s`;
      const text = `${label} ${(fraction * 100).toFixed(0).padStart(3)}% ${p.elements}/${p.totalElements} ${rate}`;
      const width = Math.max(10, Math.min(40, (sink.columns ?? 80) - text.length - 4));
      const filled = Math.round(fraction * width);
      sink.write(`\r[${"#".repeat(filled)}${"-".repeat(width - filled)}] ${text}\x1b[K`);
      drawn = true;
    },
    done() {
      if (drawn) sink.write("\r\x1b[K");
    },
  };
}
