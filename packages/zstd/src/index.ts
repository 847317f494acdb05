export type { ZstdCompressor, ZstdCompressorOptions } from "./compressor.js";
export { zstdCompressor, zstdVersion } from "./compressor.js";
export type { CompressStreamOptions, DecompressStreamOptions } from "./streams.js";
export { createCompressStream, createDecompressStream } from "./streams.js";
