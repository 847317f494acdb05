export { packCodes, packedCodesLength, unpackCodes } from "./codes.js";
export type { KmeansAssigner, KmeansOptions, KmeansResult } from "./kmeans.js";
export { kmeans } from "./kmeans.js";
export { matvec } from "./matvec.js";
export { aq, decodeVq, pq, rvq, vq, vqQuantizers } from "./quantizers.js";
