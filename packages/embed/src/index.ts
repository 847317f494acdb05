export type { CodecSpecHelp } from "./codec.js";
export { createCodec, hammingDistances, listCodecSpecs, restoreCodec } from "./codec.js";
export type { CollectionOptions, OpenOptions } from "./collection.js";
export { Collection } from "./collection.js";
export type { EvaluateOptions, EvaluationResult, EvaluationTarget } from "./evaluate.js";
export { evaluate, evaluateAsync, ndcgAtK, recallAtK } from "./evaluate.js";
export type {
  Int32Matrix,
  NpyArray,
  NpyDtype,
  ParseNpyOptions,
  ReadInt32MatrixOptions,
  ReadVectorsOptions,
  VectorFile,
} from "./io.js";
export { parseNpy, readInt32Matrix, readVectors } from "./io.js";
export type { RecallPlotOptions, RecallPoint } from "./plot.js";
export { recallPlotSvg } from "./plot.js";
export type {
  AnnIndex,
  AnnIndexFactory,
  AnnResult,
  CodecState,
  CollectionStats,
  EmbeddingCodec,
  FitOptions,
  Metric,
  QueryScorer,
  ScoreSpace,
  SearchHit,
  SearchOptions,
} from "./types.js";
