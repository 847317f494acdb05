import { existsSync, readdirSync, readFileSync, statSync } from "node:fs";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";

/**
 * Where the reference vectors live. The shared folder is `$LOWBIT_SHARED` when set, otherwise
 * `<repo root>/../shared` (the repo root is the nearest ancestor of this file holding turbo.json).
 * A missing folder is an error, never a skip: a conformance run without its vectors proves nothing.
 */

/** The monorepo root: the nearest ancestor of this file that contains turbo.json. */
export function repoRoot(): string {
  let dir = dirname(fileURLToPath(import.meta.url));
  for (;;) {
    if (existsSync(join(dir, "turbo.json"))) return dir;
    const parent = dirname(dir);
    if (parent === dir) throw new Error(`no turbo.json above ${fileURLToPath(import.meta.url)}`);
    dir = parent;
  }
}

/** The shared folder (holding vectors/), from LOWBIT_SHARED or <repo root>/../shared. */
export function sharedDir(): string {
  const fromEnv = process.env["LOWBIT_SHARED"];
  if (fromEnv !== undefined && fromEnv !== "") return resolve(fromEnv);
  return resolve(repoRoot(), "..", "shared");
}

/** `vectors/<kind>` under the shared folder; throws a clear Error when it is missing. */
export function vectorsDir(kind: "floats" | "blocks"): string {
  const shared = sharedDir();
  const dir = join(shared, "vectors", kind);
  if (!existsSync(dir) || !statSync(dir).isDirectory()) {
    const source = process.env["LOWBIT_SHARED"] ? "LOWBIT_SHARED" : "<repo root>/../shared";
    throw new Error(
      `conformance vectors not found: ${dir} does not exist (shared folder ${shared}, from ${source}). ` +
        "Point LOWBIT_SHARED at the folder that holds vectors/; the conformance suite never skips.",
    );
  }
  return dir;
}

/** The vector files of `vectors/<kind>` (every *.json except MANIFEST.json), sorted; never empty. */
export function listVectorFiles(kind: "floats" | "blocks"): string[] {
  const dir = vectorsDir(kind);
  const files = readdirSync(dir)
    .filter((f) => f.endsWith(".json") && f !== "MANIFEST.json")
    .sort();
  if (files.length === 0) throw new Error(`conformance vectors: ${dir} holds no vector files`);
  return files;
}

/** Parses one JSON file of `vectors/<kind>`. */
export function readVectorsJson(kind: "floats" | "blocks", file: string): unknown {
  const path = join(vectorsDir(kind), file);
  try {
    return JSON.parse(readFileSync(path, "utf8")) as unknown;
  } catch (e) {
    throw new Error(`cannot read conformance vectors ${path}: ${(e as Error).message}`, { cause: e });
  }
}

/** One file of vectors/floats (see vectors/README.md). */
export interface FloatVectors {
  readonly format: string;
  readonly bits: number;
  /** [code, float32 bits] for every code of the format. */
  readonly decode: readonly (readonly [number, number])[];
  readonly encode: {
    readonly input_f32_bits: readonly number[];
    /** The normative column. */
    readonly ml_dtypes: readonly number[];
    readonly torch: readonly number[] | null;
  };
}

export interface FloatManifest {
  readonly ml_dtypes: string;
  readonly formats: Readonly<Record<string, { readonly n_encode: number }>>;
}

const isUint32 = (v: unknown): v is number =>
  Number.isInteger(v) && (v as number) >= 0 && (v as number) <= 0xffffffff;

/** Loads and shape-checks `vectors/floats/<file>`. */
export function loadFloatVectors(file: string): FloatVectors {
  const v = readVectorsJson("floats", file) as Partial<FloatVectors> | null;
  const bad = (what: string) => new Error(`vectors/floats/${file}: ${what}`);
  if (v === null || typeof v !== "object") throw bad("not a JSON object");
  if (typeof v.format !== "string") throw bad("missing string `format`");
  if (!Number.isInteger(v.bits)) throw bad("missing integer `bits`");
  if (!Array.isArray(v.decode)) throw bad("missing `decode` array");
  for (const pair of v.decode) {
    if (!Array.isArray(pair) || pair.length !== 2 || !isUint32(pair[0]) || !isUint32(pair[1])) {
      throw bad(`bad decode entry ${JSON.stringify(pair)}`);
    }
  }
  const enc = v.encode;
  if (enc === undefined || !Array.isArray(enc.input_f32_bits) || !Array.isArray(enc.ml_dtypes)) {
    throw bad("missing `encode.input_f32_bits` / `encode.ml_dtypes`");
  }
  if (enc.input_f32_bits.length !== enc.ml_dtypes.length) {
    throw bad(
      `encode columns differ in length: ${enc.input_f32_bits.length} inputs, ${enc.ml_dtypes.length} codes`,
    );
  }
  if (!enc.input_f32_bits.every(isUint32) || !enc.ml_dtypes.every(isUint32)) {
    throw bad("encode columns must hold unsigned 32-bit integers");
  }
  return v as FloatVectors;
}

/** Loads vectors/floats/MANIFEST.json. */
export function loadFloatManifest(): FloatManifest {
  const m = readVectorsJson("floats", "MANIFEST.json") as Partial<FloatManifest> | null;
  if (m === null || typeof m !== "object" || typeof m.formats !== "object" || m.formats === null) {
    throw new Error("vectors/floats/MANIFEST.json: missing `formats`");
  }
  return m as FloatManifest;
}

/** float32 values from their bit patterns, through a Uint32Array view (never through decimal). */
export function f32FromBits(bits: ArrayLike<number>): Float32Array {
  const u = Uint32Array.from(bits);
  return new Float32Array(u.buffer);
}

/** The bit pattern of every element of a Float32Array. */
export function bitsOfF32(values: Float32Array): Uint32Array {
  return new Uint32Array(values.buffer, values.byteOffset, values.length);
}

const scratchF32 = new Float32Array(1);
const scratchU32 = new Uint32Array(scratchF32.buffer);

/** The float32 bit pattern of a number (rounded to float32 first). */
export function f32Bits(x: number): number {
  scratchF32[0] = x;
  return scratchU32[0]!;
}

/** The float32 whose bit pattern is `bits`. */
export function f32OfBits(bits: number): number {
  scratchU32[0] = bits >>> 0;
  return scratchF32[0]!;
}

/** True when the float32 bit pattern is a NaN. */
export function isNaNBits(bits: number): boolean {
  return (bits & 0x7fffffff) > 0x7f800000;
}

/** `0x…` with at least `digits` hex digits. */
export function hex(n: number, digits = 2): string {
  return `0x${(n >>> 0).toString(16).toUpperCase().padStart(digits, "0")}`;
}
