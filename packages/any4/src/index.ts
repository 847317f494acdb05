export { any2, any3, any4, any4Quantizers } from "./anyq.js";
export type { Kmeans1dOptions, Kmeans1dResult } from "./kmeans1d.js";
export { DEFAULT_ITERATIONS, kmeans1d } from "./kmeans1d.js";
export { encodeWithLut, encodeWithLutInto } from "./lut.js";
