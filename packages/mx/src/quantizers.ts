import type { Quantizer } from "@lowbit/bits";
import { mxfp4, mxfp6_e2m3, mxfp6_e3m2, mxfp8_e4m3, mxfp8_e5m2, mxint8 } from "./mx.js";
import { nvfp4 } from "./nvfp4.js";

/** Every quantizer of this package, for the registry in @lowbit/formats. */
export const mxQuantizers: readonly Quantizer[] = Object.freeze([
  mxfp8_e4m3,
  mxfp8_e5m2,
  mxfp6_e3m2,
  mxfp6_e2m3,
  mxfp4,
  mxint8,
  nvfp4,
]);
