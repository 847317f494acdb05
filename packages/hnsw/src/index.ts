export type { HnswOptions } from "./hnsw.js";
export { hnswIndex } from "./hnsw.js";
