import {
  assertFloat32Array,
  assertInteger,
  assertOptions,
  CorruptDataError,
  createRng,
  describe,
  UnsupportedError,
} from "@lowbit/bits";
import { BinaryTerminal } from "./_codec-binary.js";
import {
  type Arrays,
  assertFiniteRows,
  NOT_FITTED,
  type Params,
  rowCount,
  stateReader,
  subsampleRows,
  type TerminalStage,
  type TransformStage,
} from "./_codec-common.js";
import { FloatTerminal } from "./_codec-float.js";
import { IntTerminal } from "./_codec-int.js";
import { PqTerminal } from "./_codec-pq.js";
import { type ParsedSpec, parseSpec, SPEC_FORMS, type StageSpec } from "./_codec-spec.js";
import { PcaTransform, TruncTransform } from "./_codec-transform.js";
import type { CodecState, EmbeddingCodec, FitOptions, QueryScorer, ScoreSpace } from "./types.js";

export { hammingDistances } from "./_codec-binary.js";

/** Rows pushed through the transforms at once by encode/decode (bounds scratch memory). */
const CHUNK_ROWS = 4096;
const MAX_DIM = 1 << 20;

function makeTerminal(s: StageSpec): TerminalStage {
  switch (s.kind) {
    case "float":
      return new FloatTerminal(s.name);
    case "int":
      return new IntTerminal(s.name);
    case "binary":
      return new BinaryTerminal(s.center);
    case "pq":
      return new PqTerminal(s.m);
    default:
      throw new Error(`internal: ${s.kind} is not a terminal`);
  }
}

function makeTransform(s: StageSpec): TransformStage {
  if (s.kind === "pca") return new PcaTransform(s.mode, s.value);
  if (s.kind === "trunc") return new TruncTransform(s.k);
  throw new Error(`internal: ${s.kind} is not a transform`);
}

class Codec implements EmbeddingCodec {
  readonly spec: string;
  private readonly transforms: TransformStage[];
  private readonly terminal: TerminalStage;
  private inputDim = 0;

  constructor(parsed: ParsedSpec) {
    this.spec = parsed.spec;
    this.transforms = parsed.transforms.map(makeTransform);
    this.terminal = makeTerminal(parsed.terminal);
  }

  get dim(): number {
    return this.inputDim;
  }

  get fitted(): boolean {
    return this.inputDim > 0;
  }

  get bytesPerVector(): number {
    return this.fitted ? this.terminal.bytesPerVector : 0;
  }

  get paramBytes(): number {
    if (!this.fitted) return 0;
    let b = this.terminal.paramBytes;
    for (const t of this.transforms) b += t.paramBytes;
    return b;
  }

  private requireFitted(): void {
    if (!this.fitted) throw new RangeError(NOT_FITTED);
  }

  fit(sample: Float32Array, dim: number, options?: FitOptions): void {
    assertFloat32Array(sample, "sample");
    assertInteger(dim, "dim", 1, MAX_DIM);
    assertOptions(options, "options");
    const opts: FitOptions = options ?? {};
    if (opts.seed !== undefined) assertInteger(opts.seed, "options.seed", -(2 ** 31), 2 ** 32 - 1);
    const n = rowCount(sample, dim, "sample");
    if (n === 0) throw new RangeError(`sample must hold at least one row of dim = ${dim}, got 0 values`);
    assertFiniteRows(sample, dim, "sample");
    this.inputDim = 0; // unfitted until every stage succeeds
    // Rows each stage looks at: stage i + 1 gets stage i's output for need[i + 1] rows, so a transform
    // only projects the rows later stages use (none before a float16 terminal, ≤ 65 536 before pq).
    // Stages after the first see their input dim only once fitted, so they are assumed to need all rows.
    const stages = this.transforms.length;
    const need = new Array<number>(stages + 1);
    need[stages] = Math.min(n, this.terminal.sampleRows(n));
    for (let i = stages - 1; i >= 0; i--) {
      const own = i === 0 ? this.transforms[0]!.sampleRows(n, dim) : n;
      need[i] = Math.max(need[i + 1]!, Math.min(n, own));
    }
    let rows = need[0]!;
    let data = sample;
    if (rows < n) {
      const rng = createRng((opts.seed ?? 0) ^ 0x1b873593);
      data = subsampleRows(sample, n, dim, rows, () => rng.nextFloat()).data;
    }
    let d = dim;
    for (let i = 0; i < stages; i++) {
      const t = this.transforms[i]!;
      t.fit(data, rows, d, opts);
      // Later stages need a prefix of these rows (the subsample is already random).
      const next = need[i + 1]!;
      const out = new Float32Array(next * t.outDim);
      if (next > 0) t.forward(data, next, out);
      data = out;
      rows = next;
      d = t.outDim;
    }
    this.terminal.fit(data, rows, d, opts);
    this.inputDim = dim;
  }

  encode(vectors: Float32Array, out?: Uint8Array): Uint8Array {
    this.requireFitted();
    assertFloat32Array(vectors, "vectors");
    const n = rowCount(vectors, this.inputDim, "vectors");
    assertFiniteRows(vectors, this.inputDim, "vectors");
    const bpv = this.terminal.bytesPerVector;
    const need = n * bpv;
    let dst: Uint8Array;
    if (out === undefined) dst = new Uint8Array(need);
    else {
      if (!(out instanceof Uint8Array)) throw new TypeError(`out must be a Uint8Array, got ${describe(out)}`);
      if (out.length < need) {
        throw new RangeError(
          `out must hold n × bytesPerVector = ${n} × ${bpv} = ${need} bytes, got ${out.length}`,
        );
      }
      dst = out.length === need ? out : out.subarray(0, need);
    }
    if (this.transforms.length === 0) {
      this.terminal.encode(vectors, n, dst);
      return dst;
    }
    for (let r = 0; r < n; r += CHUNK_ROWS) {
      const rows = Math.min(CHUNK_ROWS, n - r);
      const x = this.forward(vectors.subarray(r * this.inputDim, (r + rows) * this.inputDim), rows);
      this.terminal.encode(x, rows, dst.subarray(r * bpv, (r + rows) * bpv));
    }
    return dst;
  }

  /** Pushes rows through every transform. */
  private forward(x: Float32Array, rows: number): Float32Array {
    let cur = x;
    for (const t of this.transforms) {
      const next = new Float32Array(rows * t.outDim);
      t.forward(cur, rows, next);
      cur = next;
    }
    return cur;
  }

  decode(codes: Uint8Array, out?: Float32Array): Float32Array {
    this.requireFitted();
    if (!(codes instanceof Uint8Array))
      throw new TypeError(`codes must be a Uint8Array, got ${describe(codes)}`);
    const bpv = this.terminal.bytesPerVector;
    if (codes.length % bpv !== 0) {
      throw new RangeError(`codes length ${codes.length} is not a multiple of bytesPerVector = ${bpv}`);
    }
    const n = codes.length / bpv;
    const need = n * this.inputDim;
    let dst: Float32Array;
    if (out === undefined) dst = new Float32Array(need);
    else {
      assertFloat32Array(out, "out");
      if (out.length < need) {
        throw new RangeError(
          `out must hold n × dim = ${n} × ${this.inputDim} = ${need} values, got ${out.length}`,
        );
      }
      dst = out.length === need ? out : out.subarray(0, need);
    }
    if (this.transforms.length === 0) {
      this.terminal.decode(codes, n, dst);
      return dst;
    }
    for (let r = 0; r < n; r += CHUNK_ROWS) {
      const rows = Math.min(CHUNK_ROWS, n - r);
      let cur: Float32Array = new Float32Array(rows * this.terminal.dim);
      this.terminal.decode(codes.subarray(r * bpv, (r + rows) * bpv), rows, cur);
      for (let s = this.transforms.length - 1; s >= 0; s--) {
        const t = this.transforms[s]!;
        const target =
          s === 0
            ? dst.subarray(r * this.inputDim, (r + rows) * this.inputDim)
            : new Float32Array(rows * t.inDim);
        t.backward(cur, rows, target);
        cur = target;
      }
    }
    return dst;
  }

  prepare(query: Float32Array, space: ScoreSpace): QueryScorer {
    this.requireFitted();
    assertFloat32Array(query, "query");
    if (query.length !== this.inputDim) {
      throw new RangeError(`query must have dim = ${this.inputDim} values, got ${query.length}`);
    }
    if (space !== "dot" && space !== "l2")
      throw new RangeError(`space must be "dot" | "l2", got ${describe(space)}`);
    assertFiniteRows(query, this.inputDim, "query");
    if (this.transforms.length === 0) return this.terminal.prepare(query, space, 0);
    const q = this.forward(query, 1);
    // Transforms have orthonormal rows and decode is x̂ = Pᵀŷ, so ‖q − x̂‖² = ‖Pq − ŷ‖² + (‖q‖² − ‖Pq‖²):
    // the part of q outside the kept subspace is a constant per query.
    let extra = 0;
    if (space === "l2") {
      let a = 0;
      for (let i = 0; i < query.length; i++) a += query[i]! * query[i]!;
      let b = 0;
      for (let i = 0; i < q.length; i++) b += q[i]! * q[i]!;
      extra = -Math.max(0, a - b);
    }
    return this.terminal.prepare(q, space, extra);
  }

  state(): CodecState {
    this.requireFitted();
    const params: Params = { version: 1 };
    const arrays: Arrays = {};
    for (const [i, t] of this.transforms.entries()) t.save(params, arrays, `s${i}.`);
    this.terminal.save(params, arrays, `s${this.transforms.length}.`);
    return { spec: this.spec, dim: this.inputDim, params, arrays };
  }

  /** Rebuilds the fitted stages from a state (see restoreCodec). */
  load(state: CodecState): void {
    const { params, arrays } = state;
    const version = params["version"];
    if (typeof version === "number" && Number.isInteger(version) && version > 1) {
      throw new UnsupportedError(`codec state version ${version} is newer than this library reads (1)`);
    }
    if (version !== 1) throw new CorruptDataError(`codec state version must be 1, got ${describe(version)}`);
    let d = state.dim;
    this.transforms.forEach((t, i) => {
      t.load(d, stateReader(params, arrays, `s${i}.`));
      d = t.outDim;
    });
    this.terminal.load(d, stateReader(params, arrays, `s${this.transforms.length}.`));
    this.inputDim = state.dim;
  }
}

/**
 * An unfitted embedding codec from a spec: zero or more transforms (`pca:<k>`, `pca:<f>`,
 * `pca:var<f>`, `trunc:<k>`) then one terminal (`float32` (default), `float16`, `bfloat16`,
 * `float8`, `float8_e5m2`, `int8`, `int4`, `binary`, `binary:center`, `pq:<M>`), joined by "+".
 * A bad spec throws a RangeError naming the bad part and listing the valid forms.
 */
export function createCodec(spec: string): EmbeddingCodec {
  return new Codec(parseSpec(spec));
}

/**
 * A fitted codec from `codec.state()`: the same codes and scores as the codec that produced it. A state
 * that does not fit its spec (missing or wrong-length arrays, bad params, unknown spec) throws
 * CorruptDataError; a newer state version throws UnsupportedError.
 */
export function restoreCodec(state: CodecState): EmbeddingCodec {
  if (typeof state !== "object" || state === null) {
    throw new TypeError(`state must be a CodecState, got ${describe(state)}`);
  }
  // A state is data (usually read back from disk): anything inconsistent in it is corrupt data.
  try {
    assertInteger(state.dim, "state.dim", 1, MAX_DIM);
    if (typeof state.params !== "object" || state.params === null) {
      throw new TypeError(`state.params must be an object, got ${describe(state.params)}`);
    }
    if (typeof state.arrays !== "object" || state.arrays === null) {
      throw new TypeError(`state.arrays must be an object, got ${describe(state.arrays)}`);
    }
    const codec = new Codec(parseSpec(state.spec));
    codec.load(state);
    return codec;
  } catch (e) {
    if (e instanceof RangeError || e instanceof TypeError) {
      throw new CorruptDataError(`codec state: ${e.message}`, { cause: e });
    }
    throw e;
  }
}

/** One example spec of a codec family with its layout. */
export interface CodecSpecHelp {
  readonly spec: string;
  readonly kind: "terminal" | "transform";
  /** Code bytes per vector as a formula of the (transformed) dim. */
  readonly bytes: string;
  readonly description: string;
}

const HELP: readonly CodecSpecHelp[] = [
  { spec: "float32", kind: "terminal", bytes: "4·dim", description: "exact float32, little-endian" },
  {
    spec: "float16",
    kind: "terminal",
    bytes: "2·dim",
    description: "IEEE binary16, round to nearest even, saturating",
  },
  {
    spec: "bfloat16",
    kind: "terminal",
    bytes: "2·dim",
    description: "bfloat16 (high half of float32), round to nearest even",
  },
  {
    spec: "float8",
    kind: "terminal",
    bytes: "dim",
    description: "float8 e4m3fn with one fitted scale (sample maxabs → 448); alias float8_e4m3",
  },
  {
    spec: "float8_e5m2",
    kind: "terminal",
    bytes: "dim",
    description: "float8 e5m2 with one fitted scale (sample maxabs → 57344)",
  },
  {
    spec: "int8",
    kind: "terminal",
    bytes: "dim",
    description: "uniform 8-bit, fitted [min, max] per dimension",
  },
  {
    spec: "int4",
    kind: "terminal",
    bytes: "⌈dim/2⌉",
    description: "uniform 4-bit, fitted [min, max] per dimension, 2 per byte LSB-first",
  },
  {
    spec: "binary",
    kind: "terminal",
    bytes: "⌈dim/8⌉",
    description: "sign bits (x > 0), LSB-first; decode to fitted per-dimension means of each side",
  },
  {
    spec: "binary:center",
    kind: "terminal",
    bytes: "⌈dim/8⌉",
    description: "bits of x − mean > 0 with the fitted per-dimension mean",
  },
  {
    spec: "pq:16",
    kind: "terminal",
    bytes: "M",
    description: "product quantization: M sub-spaces × 256 centroids (k-means), 1 byte each",
  },
  {
    spec: "pca:64",
    kind: "transform",
    bytes: "k dims",
    description: "PCA (uncentered) keeping k dimensions",
  },
  {
    spec: "pca:0.5",
    kind: "transform",
    bytes: "round(f·dim) dims",
    description: "PCA keeping a fraction of the dimensions",
  },
  {
    spec: "pca:var0.9",
    kind: "transform",
    bytes: "fewest dims explaining f of the variance",
    description: "PCA by explained second moment",
  },
  {
    spec: "trunc:256",
    kind: "transform",
    bytes: "k dims",
    description: "Matryoshka truncation to the first k dimensions",
  },
  {
    spec: "pca:0.5+float8",
    kind: "transform",
    bytes: "round(dim/2)",
    description: "composition: transforms first, then one terminal",
  },
];

/** Example specs with their code sizes and a one-line description each; `forms` is the grammar. */
export function listCodecSpecs(): { readonly forms: string; readonly examples: readonly CodecSpecHelp[] } {
  return { forms: SPEC_FORMS, examples: HELP };
}
