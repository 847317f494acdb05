export interface TerminalSink {
  write(text: string): unknown;
  readonly columns?: number;
}

export interface ProgressBar {
  /** Redraws the bar; `note` (e.g. the current tensor's name) is shown after the counts if it fits. */
  update(done: number, total: number, note?: string): void;
  /** Erases the bar so the next line starts clean; a later `update` draws it again. */
  done(): void;
}

export interface ProgressBarOptions {
  /** Word after the counts ("tensors", "bytes"); none by default. */
  readonly unit?: string;
  /** Show the rate in M units per second (default true). */
  readonly rate?: boolean;
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
  const started = now();
  let last = Number.NEGATIVE_INFINITY;
  let drawn = false;
  return {
    update(done, total, note) {
      const t = now();
      const finished = done === total;
      if (!finished && t - last < REDRAW_MS) return;
      last = t;
      const fraction = total === 0 ? 1 : done / total;
      const seconds = Math.max((t - started) / 1000, 1e-3);
      const rate = showRate ? ` ${(done / seconds / 1e6).toFixed(1)} M/s` : "";
      let text = `${label} ${(fraction * 100).toFixed(0).padStart(3)}% ${done}/${total}${unit}${rate}`;
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
