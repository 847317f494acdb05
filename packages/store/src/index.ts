export type { FsBackendOptions } from "./backend-fs.js";
export { fsBackend } from "./backend-fs.js";
export type { StoreOptions } from "./store.js";
export { Store } from "./store.js";
export type {
  Backend,
  BackendEntry,
  Compressor,
  GcReport,
  IngestFile,
  IngestOptions,
  IngestPhase,
  IngestProgress,
  IngestResult,
  Manifest,
  ManifestFile,
  ManifestPart,
  ModelStats,
  ModelSummary,
  PartCodec,
  RestoreOptions,
  RestoreProgress,
  RestoreResult,
  StoreApi,
  StoredFile,
  StoreStats,
  VerifyProblem,
  VerifyReport,
} from "./types.js";
