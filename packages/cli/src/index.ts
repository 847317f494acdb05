export type { CompareOptions, CompareReport, CompareRow, CompareSide, CompareTotal } from "./compare.js";
export { compareFiles, compareJson, compareText } from "./compare.js";
export type { ConvertOptions, ConvertProgress, ConvertResult, Rounding } from "./convert.js";
export { convertFile, DEFAULT_CHUNK_ELEMENTS, ROUNDINGS, writeAtomically } from "./convert.js";
export type { DequantizeDtype, DequantizeFileOptions, DequantizeResult } from "./dequantize.js";
export { DEQUANTIZE_DTYPES, dequantizeFile } from "./dequantize.js";
export type { FormatRow } from "./formats.js";
export { formatNumber, formatRows, formatsTable } from "./formats.js";
export type { InspectGroup, InspectPart, InspectReport, InspectTensor } from "./inspect.js";
export { inspectFile, inspectText } from "./inspect.js";
export type { CliIo } from "./main.js";
export { ExitCode, main, UsageError } from "./main.js";
export type {
  FileProgress,
  OnError,
  QuantizedTensorReport,
  QuantizeFileOptions,
  QuantizeResult,
  TensorAction,
} from "./quantize.js";
export {
  checkQuantizeOptions,
  DEFAULT_MIN_ELEMENTS,
  FLOAT_DTYPES,
  ON_ERROR,
  quantizeFile,
  quantizeSummary,
} from "./quantize.js";
