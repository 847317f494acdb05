export type { ConvertOptions, ConvertProgress, ConvertResult, Rounding } from "./convert.js";
export { convertFile, DEFAULT_CHUNK_ELEMENTS, ROUNDINGS, writeAtomically } from "./convert.js";
export type { FormatRow } from "./formats.js";
export { formatNumber, formatRows, formatsTable } from "./formats.js";
export type { CliIo } from "./main.js";
export { ExitCode, main, UsageError } from "./main.js";
