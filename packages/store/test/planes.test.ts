import { describe, expect, it } from "vitest";
import { mergePlanes, splitPlanes } from "../src/_planes.js";

/** The plain definition: plane p holds byte (w − 1 − p) of every little-endian element. */
function reference(data: Uint8Array, w: number): Uint8Array {
  const n = data.length / w;
  const out = new Uint8Array(data.length);
  for (let p = 0; p < w; p++) for (let i = 0; i < n; i++) out[p * n + i] = data[i * w + (w - 1 - p)]!;
  return out;
}

describe("byte planes", () => {
  it("split and merge match the definition at every width and alignment (word-wide paths included)", () => {
    let seed = 1;
    const byte = () => {
      seed = (Math.imul(seed, 1103515245) + 12345) >>> 0;
      return seed >>> 24;
    };
    for (const w of [1, 2, 4, 8]) {
      for (const offset of [0, 1, 2, 3]) {
        const n = 1000 + offset;
        const buf = new Uint8Array(offset + n * w);
        for (let i = 0; i < buf.length; i++) buf[i] = byte();
        const data = buf.subarray(offset);
        const planes = splitPlanes(data, w);
        expect(planes, `split w=${w} offset=${offset}`).toEqual(reference(data, w));
        const backing = new Uint8Array(offset + data.length);
        const out = backing.subarray(offset);
        mergePlanes(planes, w, out);
        expect(out, `merge w=${w} offset=${offset}`).toEqual(data);
      }
    }
  });
});
