import { CorruptDataError } from "@lowbit/bits";

/**
 * A static, context-modelled rANS coder for byte symbols. Each symbol is coded with the frequency
 * table of its context (a small integer the decoder can compute before decoding the symbol, e.g. the
 * base weight's exponent). Tables are counted from the data, normalised to 2^12 and stored in front
 * of the stream; the coder is byte-renormalising with a 31-bit state so every step stays in int32.
 *
 * Layout: u32 LE table bytes | tables | u32 LE final state | stream bytes (read forwards).
 * Tables: for each context, a varint count of used symbols (0 = unused), then per used symbol the
 * symbol byte and a varint frequency (≥ 1; the frequencies of a context sum to 4096).
 */

const PROB_BITS = 12;
const PROB_SCALE = 1 << PROB_BITS;
const RANS_L = 1 << 23;

function normalise(counts: Uint32Array, c: number, freqs: Uint16Array): void {
  let total = 0;
  const o = c * 256;
  for (let s = 0; s < 256; s++) total += counts[o + s]!;
  if (total === 0) return;
  let sum = 0;
  for (let s = 0; s < 256; s++) {
    const n = counts[o + s]!;
    if (n === 0) continue;
    const f = Math.max(1, Math.floor((n * PROB_SCALE) / total));
    freqs[o + s] = f;
    sum += f;
  }
  // Fix the total on the largest entry when it can absorb the difference (almost always), else
  // spread it over the largest entries one step at a time; a symbol keeps at least 1.
  let diff = PROB_SCALE - sum;
  let maxS = -1;
  for (let s = 0; s < 256; s++)
    if (freqs[o + s]! > 0 && (maxS < 0 || freqs[o + s]! > freqs[o + maxS]!)) maxS = s;
  if (freqs[o + maxS]! + diff >= 1) {
    freqs[o + maxS] = freqs[o + maxS]! + diff;
    return;
  }
  while (diff !== 0) {
    let best = -1;
    for (let s = 0; s < 256; s++) {
      const f = freqs[o + s]!;
      if (f === 0 || (diff < 0 && f === 1)) continue;
      if (best < 0 || f > freqs[o + best]!) best = s;
    }
    if (best < 0) break;
    const step = diff > 0 ? diff : Math.max(diff, 1 - freqs[o + best]!);
    freqs[o + best] = freqs[o + best]! + step;
    diff -= step;
  }
}

class ByteWriter {
  buf = new Uint8Array(1024);
  n = 0;
  byte(b: number): void {
    if (this.n === this.buf.length) this.grow(1);
    this.buf[this.n++] = b;
  }
  varint(v: number): void {
    while (v >= 0x80) {
      this.byte((v & 0x7f) | 0x80);
      v >>>= 7;
    }
    this.byte(v);
  }
  grow(extra: number): void {
    const next = new Uint8Array(Math.max(this.buf.length * 2, this.n + extra));
    next.set(this.buf.subarray(0, this.n));
    this.buf = next;
  }
}

/** Codes `symbols[i]` under context `contexts[i]` (each < nContexts ≤ 65536). */
export function ransEncode(
  symbols: Uint8Array,
  contexts: Uint8Array | Uint16Array,
  nContexts: number,
): Uint8Array {
  const n = symbols.length;
  const counts = new Uint32Array(nContexts * 256);
  for (let i = 0; i < n; i++) counts[contexts[i]! * 256 + symbols[i]!]!++;
  const freqs = new Uint16Array(nContexts * 256);
  for (let c = 0; c < nContexts; c++) normalise(counts, c, freqs);
  const starts = new Uint16Array(nContexts * 256);
  const w = new ByteWriter();
  for (let c = 0; c < nContexts; c++) {
    const o = c * 256;
    let used = 0;
    for (let s = 0; s < 256; s++) if (freqs[o + s]! > 0) used++;
    w.varint(used);
    let start = 0;
    for (let s = 0; s < 256; s++) {
      const f = freqs[o + s]!;
      if (f === 0) continue;
      starts[o + s] = start;
      start += f;
      w.byte(s);
      w.varint(f);
    }
  }
  const tableBytes = w.n;
  // The stream is produced backwards (rANS is last-in, first-out), into a buffer filled from its end.
  let cap = Math.max(64, n + (n >>> 1) + 16);
  let out = new Uint8Array(cap);
  let pos = cap;
  let x = RANS_L;
  for (let i = n - 1; i >= 0; i--) {
    const k = contexts[i]! * 256 + symbols[i]!;
    const f = freqs[k]!;
    // x ≥ 2^19·f, written as x > 2^19·f − 1 so the bound stays an int32 even for f = 4096.
    const xLimit = (((RANS_L >>> PROB_BITS) << 8) * f - 1) | 0;
    while (x > xLimit) {
      if (pos === 0) {
        const grown = new Uint8Array(cap * 2);
        grown.set(out, cap);
        pos = cap;
        cap *= 2;
        out = grown;
      }
      out[--pos] = x & 0xff;
      x >>= 8;
    }
    // x < 2^31 and f ≥ 1: truncating int32 division is the floor.
    const q = (x / f) | 0;
    x = (q << PROB_BITS) + (x - Math.imul(q, f)) + starts[k]!;
  }
  const streamLen = cap - pos;
  const result = new Uint8Array(4 + tableBytes + 4 + streamLen);
  const dv = new DataView(result.buffer);
  dv.setUint32(0, tableBytes, true);
  result.set(w.buf.subarray(0, tableBytes), 4);
  dv.setUint32(4 + tableBytes, x >>> 0, true);
  result.set(out.subarray(pos), 8 + tableBytes);
  return result;
}

function corrupt(what: string): CorruptDataError {
  return new CorruptDataError(`rANS block: ${what}`);
}

interface Tables {
  /** Per used context 4096 slots: the symbol. */
  readonly symbol: Uint8Array;
  /** Per used context 4096 slots: freq << 12 | (slot − start). */
  readonly entry: Uint32Array;
  /** Context → its first slot, or −1 for a context without a table. */
  readonly slotBase: Int32Array;
  /** Offset of the final state (the stream follows it). */
  readonly stateAt: number;
}

function readTables(bytes: Uint8Array, nContexts: number): Tables {
  if (bytes.length < 8) throw corrupt("shorter than its 8-byte header");
  const dv = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const tableBytes = dv.getUint32(0, true);
  if (8 + tableBytes > bytes.length) throw corrupt("table length exceeds the block");
  let p = 4;
  const end = 4 + tableBytes;
  const varint = (): number => {
    let v = 0;
    let shift = 0;
    for (;;) {
      if (p >= end) throw corrupt("truncated table");
      const b = bytes[p++]!;
      v += (b & 0x7f) * 2 ** shift;
      if (b < 0x80) return v;
      shift += 7;
      if (shift > 28) throw corrupt("varint too long");
    }
  };
  // First pass: which contexts have tables (sizes the arrays), second pass: fill them.
  const slotBase = new Int32Array(nContexts).fill(-1);
  let usedCount = 0;
  for (let c = 0; c < nContexts; c++) {
    const count = varint();
    if (count > 256) throw corrupt(`context ${c} lists ${count} symbols`);
    if (count === 0) continue;
    slotBase[c] = usedCount++ * PROB_SCALE;
    for (let j = 0; j < count; j++) {
      if (p >= end) throw corrupt("truncated table");
      p++;
      varint();
    }
  }
  if (p !== end) throw corrupt("table length does not match its contents");
  const symbol = new Uint8Array(usedCount * PROB_SCALE);
  const entry = new Uint32Array(usedCount * PROB_SCALE);
  p = 4;
  for (let c = 0; c < nContexts; c++) {
    const count = varint();
    if (count === 0) continue;
    let start = 0;
    let last = -1;
    for (let j = 0; j < count; j++) {
      if (p >= end) throw corrupt("truncated table");
      const s = bytes[p++]!;
      if (s <= last) throw corrupt("symbols out of order");
      last = s;
      const f = varint();
      if (f < 1 || start + f > PROB_SCALE) throw corrupt(`context ${c} frequencies exceed ${PROB_SCALE}`);
      const base = slotBase[c]!;
      for (let slot = start; slot < start + f; slot++) {
        symbol[base + slot] = s;
        entry[base + slot] = (f << PROB_BITS) | (slot - start);
      }
      start += f;
    }
    if (start !== PROB_SCALE) throw corrupt(`context ${c} frequencies sum to ${start}, not ${PROB_SCALE}`);
  }
  return { symbol, entry, slotBase, stateAt: end };
}

/** Decodes `out.length` symbols; `contexts[i]` must equal what the encoder was given for symbol i. */
export function ransDecode(
  bytes: Uint8Array,
  contexts: Uint8Array | Uint16Array,
  nContexts: number,
  out: Uint8Array,
): void {
  decode(bytes, contexts, null, nContexts, out);
}

/**
 * Decodes symbols whose context is a function of the previous symbol: context(i) =
 * `next[out[i − 1]]`, and context(0) = 0. The encoder side is plain `ransEncode` with those contexts.
 */
export function ransDecodeChained(
  bytes: Uint8Array,
  next: Uint8Array,
  nContexts: number,
  out: Uint8Array,
): void {
  decode(bytes, null, next, nContexts, out);
}

function decode(
  bytes: Uint8Array,
  contexts: Uint8Array | Uint16Array | null,
  next: Uint8Array | null,
  nContexts: number,
  out: Uint8Array,
): void {
  const n = out.length;
  if (contexts !== null && contexts.length < n)
    throw new RangeError(`contexts has ${contexts.length} entries, need ${n}`);
  const { symbol, entry, slotBase, stateAt } = readTables(bytes, nContexts);
  const dv = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  if (stateAt + 4 > bytes.length) throw corrupt("missing final state");
  const x0 = dv.getUint32(stateAt, true);
  if (x0 < RANS_L || x0 >= 2 ** 31) throw corrupt("bad initial state");
  // Kept an int32 throughout (a double here would slow the whole loop down).
  let x = x0 | 0;
  let q = stateAt + 4;
  const len = bytes.length;
  const mask = PROB_SCALE - 1;
  const bad = (i: number, c: number) => corrupt(`symbol ${i} uses context ${c}, which has no table`);
  if (contexts !== null) {
    for (let i = 0; i < n; i++) {
      const c = contexts[i]!;
      const sb = c < nContexts ? slotBase[c]! : -1;
      if (sb < 0) throw bad(i, c);
      const k = sb + (x & mask);
      out[i] = symbol[k]!;
      const e = entry[k]!;
      x = Math.imul(e >> PROB_BITS, x >> PROB_BITS) + (e & mask);
      while (x < RANS_L) {
        if (q >= len) throw corrupt("stream ends early");
        x = (x << 8) | bytes[q++]!;
      }
    }
  } else if (next !== null) {
    let c = 0;
    for (let i = 0; i < n; i++) {
      const sb = c < nContexts ? slotBase[c]! : -1;
      if (sb < 0) throw bad(i, c);
      const k = sb + (x & mask);
      const sym = symbol[k]!;
      out[i] = sym;
      c = next[sym]!;
      const e = entry[k]!;
      x = Math.imul(e >> PROB_BITS, x >> PROB_BITS) + (e & mask);
      while (x < RANS_L) {
        if (q >= len) throw corrupt("stream ends early");
        x = (x << 8) | bytes[q++]!;
      }
    }
  }
  if (x !== RANS_L || q !== len) throw corrupt("stream does not end where its symbols do");
}
