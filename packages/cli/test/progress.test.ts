import { describe, expect, it } from "vitest";
import { formatDuration, progressBar } from "../src/_progress.js";

const sink = () => {
  const out = {
    text: "",
    columns: 120,
    write(t: string) {
      out.text += t;
      return true;
    },
  };
  return out;
};

describe("progressBar", () => {
  it("shows an ETA from the elapsed time and the fraction done", () => {
    let t = 0;
    const s = sink();
    const bar = progressBar(s, "quantize aq", { unit: "tensors", rate: false, eta: true, now: () => t });
    bar.update(0, 4, "w", 0);
    expect(s.text).not.toContain("ETA"); // nothing done yet
    t = 30_000;
    bar.update(1, 4, "w", 0.25);
    // 30 s for a quarter: 90 s left.
    expect(s.text).toContain("quantize aq  25% 1/4 tensors ETA 1m30s w");
    t = 60_000;
    bar.update(1, 4, "w (step 3/9)", 0.75);
    expect(s.text).toContain(" 75% 1/4 tensors ETA 20s w (step 3/9)");
    bar.update(4, 4, "w", 1);
    expect(s.text.endsWith("100% 4/4 tensors w\x1b[K")).toBe(true);
  });

  it("falls back to done/total without a fraction, and has no ETA unless asked", () => {
    let t = 0;
    const s = sink();
    const bar = progressBar(s, "writing", { unit: "bytes", now: () => t });
    t = 2000;
    bar.update(50, 100);
    expect(s.text).toContain("writing  50% 50/100 bytes 0.0 M/s");
    expect(s.text).not.toContain("ETA");
  });

  it("formats durations", () => {
    expect(formatDuration(0.4)).toBe("0s");
    expect(formatDuration(45)).toBe("45s");
    expect(formatDuration(185)).toBe("3m05s");
    expect(formatDuration(7620)).toBe("2h07m");
  });
});
