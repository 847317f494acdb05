export interface TerminalSink {
  write(text: string): unknown;
  readonly columns?: number;
}

export interface ProgressBar {
  /**
   * Redraws the bar; `note` (e.g. the current tensor's name) is shown after the counts if it fits.
   * `fraction` (0–1), when given, drives the fill, the percentage and the ETA instead of done/total
   * (e.g. work inside the current tensor, weighted by size).
   */
  update(done: number, total: number, note?: string, fraction?: number): void;
  /** Erases the bar so the next line starts clean; a later `update` draws it again. */
  done(): void;
}

export interface ProgressBarOptions {
  /** Word after the counts ("tensors", "bytes"); none by default. */
  readonly unit?: string;
  /** Show the rate in M units per second (default true). */
  readonly rate?: boolean;
  /** Show the estimated time left (default false), once a second has passed and some work is done. */
  readonly eta?: boolean;
  readonly now?: () => number;
}

/** Redraws at most every 100 ms: a terminal write per chunk would cost more than the chunk. */
const REDRAW_MS = 100;

/** A one-line bar redrawn in place with `\r`; only for a TTY. */
export function progressBar(
  sink: TerminalSink,
  label: string,
  options: ProgressBarOptions = {},
): ProgressBar {
  const now = options.now ?? Date.now;
  const unit = options.unit === undefined ? "" : ` ${options.unit}`;
  const showRate = options.rate ?? true;
  const showEta = options.eta ?? false;
  const started = now();
  let last = Number.NEGATIVE_INFINITY;
  let drawn = false;
  return {
    update(done, total, note, fractionOf) {
      const t = now();
      const finished = done === total;
      if (!finished && t - last < REDRAW_MS) return;
      last = t;
      const fraction =
        fractionOf !== undefined && fractionOf >= 0 && fractionOf <= 1
          ? fractionOf
          : total === 0
            ? 1
            : done / total;
      const seconds = Math.max((t - started) / 1000, 1e-3);
      const rate = showRate ? ` ${(done / seconds / 1e6).toFixed(1)} M/s` : "";
      const eta =
        showEta && fraction > 0 && fraction < 1 && seconds >= 1
          ? ` ETA ${formatDuration((seconds * (1 - fraction)) / fraction)}`
          : "";
      let text = `${label} ${(fraction * 100).toFixed(0).padStart(3)}% ${done}/${total}${unit}${rate}${eta}`;
      const columns = sink.columns ?? 80;
      const width = Math.max(10, Math.min(40, columns - text.length - 4));
      // The note goes last and is cut to the room left, so the line never wraps.
      const room = columns - width - text.length - 5;
      if (note !== undefined && room > 8) {
        text += ` ${note.length > room ? `…${note.slice(note.length - room + 1)}` : note}`;
      }
      const filled = Math.round(fraction * width);
      sink.write(`\r[${"#".repeat(filled)}${"-".repeat(width - filled)}] ${text}\x1b[K`);
      drawn = true;
    },
    done() {
      if (drawn) sink.write("\r\x1b[K");
      drawn = false;
      last = Number.NEGATIVE_INFINITY;
    },
  };
}

/** 45s, 3m05s, 2h07m. */
export function formatDuration(seconds: number): string {
  const s = Math.max(0, Math.round(seconds));
  if (s < 60) return `${s}s`;
  if (s < 3600) return `${Math.floor(s / 60)}m${String(s % 60).padStart(2, "0")}s`;
  return `${Math.floor(s / 3600)}h${String(Math.floor((s % 3600) / 60)).padStart(2, "0")}m`;
}
