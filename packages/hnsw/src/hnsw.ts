/// <reference types="node" />
import { open } from "node:fs/promises";
import type { AnnIndex, AnnIndexFactory, AnnResult, ScoreSpace } from "@lowbit/embed";
import type { HierarchicalNSW } from "hnswlib-node";
import hnswlib from "hnswlib-node";

/** Build and search options of hnswIndex. */
export interface HnswOptions {
  /** Graph degree: links per node on the upper layers (2·M on the bottom layer). Default 16. */
  readonly M?: number;
  /** Candidate list size while inserting. Default 200. */
  readonly efConstruction?: number;
  /** Candidate list size while searching (at least k is used). Default 64. */
  readonly ef?: number;
  /** Seed of hnswlib's level generator. Default 100. */
  readonly seed?: number;
}

const DEFAULTS = { M: 16, efConstruction: 200, ef: 64, seed: 100 } as const;
const KEYS = new Set(["M", "efConstruction", "ef", "seed"]);
const MAX_LABEL = 2 ** 31 - 1;
const MIN_CAPACITY = 16;

/** hnswlib's file header: 6 size_t, int, uint, 3 size_t, double, size_t (little-endian, 64-bit). */
const HEADER_BYTES = 96;
/** Bit of byte 2 of an element's level-0 link count that marks it deleted (hnswlib DELETE_MARK). */
const DELETE_MARK = 0x01;
/** Elements read per chunk when scanning a saved index for labels and delete marks. */
const SCAN_ELEMENTS = 4096;

/** Approximate sizes of hnswlib's per-element bookkeeping (64-bit Linux, libstdc++). */
const MUTEX_BYTES = 40;
const HASH_ENTRY_BYTES = 40;
/** label_op_locks_: 65,536 mutexes per index. */
const FIXED_BYTES = 65536 * MUTEX_BYTES;

function describe(value: unknown): string {
  if (value === null) return "null";
  if (typeof value === "number") return Number.isNaN(value) ? "NaN" : String(value);
  if (typeof value === "string") return JSON.stringify(value);
  if (ArrayBuffer.isView(value)) return `${value.constructor.name}(${(value as Float32Array).length})`;
  return typeof value;
}

function assertInt(value: unknown, name: string, min: number, max: number): number {
  if (typeof value !== "number") throw new TypeError(`${name} must be an integer, got ${describe(value)}`);
  if (!Number.isInteger(value) || value < min || value > max) {
    throw new RangeError(`${name} must be an integer in [${min}, ${max}], got ${describe(value)}`);
  }
  return value;
}

function assertVector(v: unknown, dim: number, name: string): asserts v is Float32Array {
  if (!(v instanceof Float32Array)) throw new TypeError(`${name} must be a Float32Array, got ${describe(v)}`);
  if (v.length !== dim) throw new RangeError(`${name} must have dim = ${dim} values, got ${v.length}`);
  for (let i = 0; i < dim; i++) {
    const x = v[i]!;
    if (x - x !== 0) throw new RangeError(`${name} must be finite: index ${i} is ${describe(x)}`);
  }
}

function spaceName(space: ScoreSpace): "ip" | "l2" {
  if (space === "dot") return "ip";
  if (space === "l2") return "l2";
  throw new RangeError(`space must be "dot" | "l2", got ${describe(space)}`);
}

/** What a saved hnswlib file says about its elements. */
interface SavedIndex {
  readonly maxElements: number;
  readonly dim: number;
  readonly M: number;
  readonly maxM0: number;
  /** Label → state (1 live, 2 deleted), for labels present. */
  readonly states: Uint8Array;
  readonly live: number;
  readonly count: number;
}

/**
 * Reads the header and the level-0 block of an hnswlib index file (format of hnswlib 0.7/0.8, as
 * vendored by hnswlib-node 3.0.0) to learn each element's label and delete mark, which hnswlib-node does
 * not expose. Also checks the stored dimension: hnswlib itself would read a file of another dimension
 * as garbage.
 */
async function scanSavedIndex(path: string, dim: number): Promise<SavedIndex> {
  const fh = await open(path, "r");
  try {
    const { size } = await fh.stat();
    if (size < HEADER_BYTES) throw new Error(`${path} has ${size} bytes, less than an hnswlib header`);
    const head = new Uint8Array(HEADER_BYTES);
    await fh.read(head, 0, HEADER_BYTES, 0);
    const dv = new DataView(head.buffer);
    const u64 = (o: number): number => {
      const v = dv.getBigUint64(o, true);
      if (v > BigInt(Number.MAX_SAFE_INTEGER))
        throw new Error(`${path}: header field at byte ${o} is out of range`);
      return Number(v);
    };
    const offsetLevel0 = u64(0);
    const maxElements = u64(8);
    const count = u64(16);
    const perElement = u64(24);
    const labelOffset = u64(32);
    const offsetData = u64(40);
    const maxM0 = u64(64);
    const M = u64(72);
    const storedDim = (labelOffset - offsetData) / 4;
    if (
      offsetLevel0 !== 0 ||
      count > maxElements ||
      offsetData !== maxM0 * 4 + 4 ||
      labelOffset + 8 !== perElement ||
      storedDim !== dim ||
      HEADER_BYTES + count * perElement > size
    ) {
      throw new Error(
        `${path} is not an hnswlib index of dim ${dim} (stored dim ${storedDim}, ${count} elements of ${perElement} bytes, file ${size} bytes)`,
      );
    }
    const states = new Uint8Array(0);
    let labelStates = states;
    let live = 0;
    const chunk = new Uint8Array(Math.min(count, SCAN_ELEMENTS) * perElement);
    const cv = new DataView(chunk.buffer);
    for (let e0 = 0; e0 < count; e0 += SCAN_ELEMENTS) {
      const n = Math.min(SCAN_ELEMENTS, count - e0);
      const len = n * perElement;
      let got = 0;
      while (got < len) {
        const { bytesRead } = await fh.read(chunk, got, len - got, HEADER_BYTES + e0 * perElement + got);
        if (bytesRead === 0) throw new Error(`${path} ended inside the element block`);
        got += bytesRead;
      }
      for (let i = 0; i < n; i++) {
        const base = i * perElement;
        const label64 = cv.getBigUint64(base + labelOffset, true);
        if (label64 > BigInt(MAX_LABEL))
          throw new Error(`${path}: element ${e0 + i} has label ${label64} ≥ 2^31`);
        const label = Number(label64);
        if (label >= labelStates.length) {
          const grown = new Uint8Array(Math.max(label + 1, labelStates.length * 2, 1024));
          grown.set(labelStates);
          labelStates = grown;
        }
        if (labelStates[label] !== 0) throw new Error(`${path}: label ${label} appears twice`);
        const deleted = (chunk[base + 2]! & DELETE_MARK) !== 0;
        labelStates[label] = deleted ? 2 : 1;
        if (!deleted) live++;
      }
    }
    return { maxElements, dim, M, maxM0, states: labelStates, live, count };
  } finally {
    await fh.close();
  }
}

/** hnswlib's HierarchicalNSW behind the AnnIndex interface of @lowbit/embed. */
class HnswIndex implements AnnIndex {
  readonly dim: number;
  private readonly space: ScoreSpace;
  private readonly index: HierarchicalNSW;
  private readonly ef: number;
  private readonly M: number;
  /** Per label: 0 never added, 1 live, 2 removed (still a graph node: hnswlib only marks deletions). */
  private states: Uint8Array;
  private live: number;

  constructor(
    index: HierarchicalNSW,
    dim: number,
    space: ScoreSpace,
    ef: number,
    M: number,
    states: Uint8Array,
    live: number,
  ) {
    this.index = index;
    this.dim = dim;
    this.space = space;
    this.ef = ef;
    this.M = M;
    this.states = states;
    this.live = live;
  }

  get size(): number {
    return this.live;
  }

  add(label: number, vector: Float32Array): void {
    assertInt(label, "label", 0, MAX_LABEL - 1);
    assertVector(vector, this.dim, "vector");
    const state = label < this.states.length ? this.states[label]! : 0;
    if (state === 0) {
      // hnswlib counts removed elements against capacity too: grow by doubling.
      const cap = this.index.getMaxElements();
      if (this.index.getCurrentCount() >= cap) this.index.resizeIndex(Math.max(MIN_CAPACITY, cap * 2));
    }
    // hnswlib's addPoint of an existing label updates its vector (and revives a removed one) in place.
    this.index.addPoint(Array.from(vector), label);
    if (label >= this.states.length) {
      const grown = new Uint8Array(Math.max(label + 1, this.states.length * 2, 1024));
      grown.set(this.states);
      this.states = grown;
    }
    if (state !== 1) this.live++;
    this.states[label] = 1;
  }

  remove(label: number): void {
    if (typeof label !== "number" || !Number.isInteger(label) || label < 0 || label >= this.states.length)
      return;
    if (this.states[label] !== 1) return;
    this.index.markDelete(label);
    this.states[label] = 2;
    this.live--;
  }

  search(
    query: Float32Array,
    k: number,
    options?: { ef?: number; filter?: (label: number) => boolean },
  ): AnnResult {
    assertVector(query, this.dim, "query");
    assertInt(k, "k", 1, MAX_LABEL);
    const ef = options?.ef ?? this.ef;
    assertInt(ef, "options.ef", 1, MAX_LABEL);
    const filter = options?.filter;
    if (filter !== undefined && typeof filter !== "function") {
      throw new TypeError(`options.filter must be a function, got ${describe(filter)}`);
    }
    const n = Math.min(k, this.live);
    if (n === 0) return { labels: new Int32Array(0), scores: new Float32Array(0) };
    this.index.setEf(ef);
    const res =
      filter === undefined
        ? this.index.searchKnn(Array.from(query), n)
        : this.index.searchKnn(Array.from(query), n, (label) => filter(label) === true);
    // hnswlib returns distances ascending: ip = 1 − ⟨q, x⟩, l2 = ‖q − x‖².
    const m = res.neighbors.length;
    const labels = new Int32Array(m);
    const scores = new Float32Array(m);
    const ip = this.space === "dot";
    for (let i = 0; i < m; i++) {
      labels[i] = res.neighbors[i]!;
      const d = res.distances[i]!;
      scores[i] = ip ? 1 - d : -d;
    }
    return { labels, scores };
  }

  async save(path: string): Promise<void> {
    if (typeof path !== "string" || path.length === 0)
      throw new TypeError(`path must be a file path, got ${describe(path)}`);
    await this.index.writeIndex(path);
  }

  /**
   * hnswlib's allocations: per slot of capacity (maxElements) the level-0 record
   * (2·M links × 4 + 4 link count + dim × 4 vector + 8 label), an 8-byte upper-links pointer, a 4-byte
   * level, a mutex (40) and 2 bytes of the visited list; per element a label hash entry (≈ 40) and on
   * average (M·4 + 4) / (M − 1) bytes of upper-layer links; plus 65,536 label mutexes.
   */
  memoryBytes(): number {
    const cap = this.index.getMaxElements();
    const count = this.index.getCurrentCount();
    const M = this.M;
    const level0 = 2 * M * 4 + 4 + this.dim * 4 + 8;
    const perSlot = level0 + 8 + 4 + MUTEX_BYTES + 2;
    const perElement = HASH_ENTRY_BYTES + (M * 4 + 4) / Math.max(1, M - 1);
    return FIXED_BYTES + cap * perSlot + count * perElement;
  }
}

/**
 * An AnnIndexFactory over hnswlib-node's HierarchicalNSW: "dot" space → hnswlib "ip", "l2" → "l2".
 * Removal marks the element deleted (it stays a graph node until the index is rebuilt); adding an
 * existing or removed label replaces its vector in place.
 */
export function hnswIndex(options?: HnswOptions): AnnIndexFactory {
  if (options !== undefined && (typeof options !== "object" || options === null || Array.isArray(options))) {
    throw new TypeError(`options must be an options object, got ${describe(options)}`);
  }
  for (const key of Object.keys(options ?? {})) {
    if (!KEYS.has(key))
      throw new RangeError(`options.${key} is not an option; expected one of ${[...KEYS].join(", ")}`);
  }
  const M = assertInt(options?.M ?? DEFAULTS.M, "options.M", 2, 65535);
  const efConstruction = assertInt(
    options?.efConstruction ?? DEFAULTS.efConstruction,
    "options.efConstruction",
    1,
    1 << 20,
  );
  const ef = assertInt(options?.ef ?? DEFAULTS.ef, "options.ef", 1, 1 << 20);
  const seed = assertInt(options?.seed ?? DEFAULTS.seed, "options.seed", 0, 2 ** 32 - 1);
  return {
    kind: "hnsw",
    options: Object.freeze({ M, efConstruction, ef, seed }),
    create(dim: number, space: ScoreSpace, capacity: number): AnnIndex {
      assertInt(dim, "dim", 1, 1 << 20);
      assertInt(capacity, "capacity", 0, MAX_LABEL);
      const index = new hnswlib.HierarchicalNSW(spaceName(space), dim);
      index.initIndex({
        maxElements: Math.max(MIN_CAPACITY, capacity),
        m: M,
        efConstruction,
        randomSeed: seed,
      });
      index.setEf(ef);
      return new HnswIndex(index, dim, space, ef, M, new Uint8Array(0), 0);
    },
    async load(path: string, dim: number, space: ScoreSpace): Promise<AnnIndex> {
      if (typeof path !== "string" || path.length === 0) {
        throw new TypeError(`path must be a file path, got ${describe(path)}`);
      }
      assertInt(dim, "dim", 1, 1 << 20);
      const saved = await scanSavedIndex(path, dim);
      const index = new hnswlib.HierarchicalNSW(spaceName(space), dim);
      await index.readIndex(path);
      if (index.getCurrentCount() !== saved.count) {
        throw new Error(
          `${path}: hnswlib read ${index.getCurrentCount()} elements, the file scan found ${saved.count}`,
        );
      }
      index.setEf(ef);
      return new HnswIndex(index, dim, space, ef, saved.M, saved.states, saved.live);
    },
  };
}
