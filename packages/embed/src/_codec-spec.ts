import { describe } from "@lowbit/bits";

/** One parsed stage of a codec spec. */
export type StageSpec =
  | { readonly kind: "float"; readonly name: "float32" | "float16" | "bfloat16" | "float8" | "float8_e5m2" }
  | { readonly kind: "int"; readonly name: "int8" | "int4" }
  | { readonly kind: "binary"; readonly center: boolean }
  | { readonly kind: "pq"; readonly m: number }
  | { readonly kind: "pca"; readonly mode: "k" | "fraction" | "variance"; readonly value: number }
  | { readonly kind: "trunc"; readonly k: number };

export interface ParsedSpec {
  readonly transforms: readonly StageSpec[];
  readonly terminal: StageSpec;
  /** Canonical form: stages joined by "+", the terminal always explicit. */
  readonly spec: string;
}

/** The spec forms, for error messages and listCodecSpecs(). */
export const SPEC_FORMS =
  "terminals float32 | float16 | bfloat16 | float8 (= float8_e4m3) | float8_e5m2 | int8 | int4 | binary | " +
  "binary:center | pq:<M>; transforms pca:<k> | pca:<f> (0<f<1) | pca:var<f> (0<f≤1) | trunc:<k>; " +
  'zero or more transforms then at most one terminal (default float32), joined by "+", e.g. "pca:0.5+float8"';

const FLOATS = ["float32", "float16", "bfloat16", "float8", "float8_e5m2"] as const;
const INT_RE = /^[1-9][0-9]{0,8}$/;
const NUM_RE = /^(?:0|[1-9][0-9]*)?(?:\.[0-9]+)?(?:e-?[0-9]+)?$/;

export function isTerminal(s: StageSpec): boolean {
  return s.kind !== "pca" && s.kind !== "trunc";
}

export function stageName(s: StageSpec): string {
  switch (s.kind) {
    case "float":
    case "int":
      return s.name;
    case "binary":
      return s.center ? "binary:center" : "binary";
    case "pq":
      return `pq:${s.m}`;
    case "trunc":
      return `trunc:${s.k}`;
    case "pca":
      return s.mode === "variance" ? `pca:var${s.value}` : `pca:${s.value}`;
  }
}

function bad(spec: string, part: string, why: string): RangeError {
  return new RangeError(
    `codec spec ${JSON.stringify(spec)}: ${why} ${JSON.stringify(part)}; valid forms: ${SPEC_FORMS}`,
  );
}

function parseStage(spec: string, part: string): StageSpec {
  if ((FLOATS as readonly string[]).includes(part))
    return { kind: "float", name: part as (typeof FLOATS)[number] };
  if (part === "float8_e4m3" || part === "float8_e4m3fn") return { kind: "float", name: "float8" };
  if (part === "int8" || part === "int4") return { kind: "int", name: part };
  if (part === "binary") return { kind: "binary", center: false };
  if (part === "binary:center") return { kind: "binary", center: true };
  const colon = part.indexOf(":");
  const head = colon < 0 ? part : part.slice(0, colon);
  const arg = colon < 0 ? "" : part.slice(colon + 1);
  if (head === "pq" || head === "trunc") {
    if (!INT_RE.test(arg)) throw bad(spec, part, `${head} needs a positive integer in stage`);
    const v = Number(arg);
    return head === "pq" ? { kind: "pq", m: v } : { kind: "trunc", k: v };
  }
  if (head === "pca") {
    if (INT_RE.test(arg)) return { kind: "pca", mode: "k", value: Number(arg) };
    const variance = arg.startsWith("var");
    const num = variance ? arg.slice(3) : arg;
    const v = NUM_RE.test(num) && num !== "" ? Number(num) : Number.NaN;
    if (variance) {
      if (!(v > 0 && v <= 1)) throw bad(spec, part, "pca:var<f> needs 0 < f ≤ 1 in stage");
      return { kind: "pca", mode: "variance", value: v };
    }
    if (!(v > 0 && v < 1)) {
      throw bad(spec, part, "pca needs a positive integer count or a fraction 0 < f < 1 in stage");
    }
    return { kind: "pca", mode: "fraction", value: v };
  }
  throw bad(spec, part, "unknown stage");
}

/** Parses a codec spec; throws RangeError naming the bad part and listing the valid forms. */
export function parseSpec(spec: unknown): ParsedSpec {
  if (typeof spec !== "string") throw new TypeError(`codec spec must be a string, got ${describe(spec)}`);
  const parts = spec.split("+").map((p) => p.trim());
  if (spec.trim() === "") throw bad(spec, spec, "empty spec");
  const stages = parts.map((p) => {
    if (p === "") throw bad(spec, p, "empty stage");
    return parseStage(spec, p);
  });
  const transforms: StageSpec[] = [];
  let terminal: StageSpec | null = null;
  for (let i = 0; i < stages.length; i++) {
    const s = stages[i]!;
    if (!isTerminal(s)) {
      if (terminal !== null) throw bad(spec, parts[i]!, "transform after the terminal codec:");
      transforms.push(s);
    } else {
      if (terminal !== null) throw bad(spec, parts[i]!, "a second terminal codec:");
      terminal = s;
    }
  }
  terminal ??= { kind: "float", name: "float32" };
  const canonical = [...transforms, terminal].map(stageName).join("+");
  return { transforms, terminal, spec: canonical };
}
