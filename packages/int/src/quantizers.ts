import type { Quantizer } from "@lowbit/bits";
import { ggufQuantizers } from "./gguf.js";
import { createIntQuantizer } from "./int.js";

const BITS = [2, 3, 4, 5, 6, 7, 8] as const;

/**
 * Every quantizer of this package, for the registry of `@lowbit/formats`: `int2`…`int8`,
 * `uint2`…`uint8`, `gguf_q4_0`, `gguf_q4_1`, `gguf_q8_0`, `gguf_mxfp4`.
 */
export const intQuantizers: readonly Quantizer[] = Object.freeze([
  ...BITS.map((b) => createIntQuantizer(b, true)),
  ...BITS.map((b) => createIntQuantizer(b, false)),
  ...ggufQuantizers,
]);
