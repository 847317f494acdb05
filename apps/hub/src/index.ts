export type { Identity } from "./_auth.js";
export { Blobs, parseVariantQuery, recipeKey } from "./blobs.js";
export { Meta } from "./meta.js";
export {
  assertBranchName,
  assertRepoId,
  assertRepoPath,
  gitBlobOid,
  lfsGitOid,
  lfsPointer,
} from "./names.js";
export {
  DEFAULT_HOST,
  DEFAULT_MAX_BODY_BYTES,
  DEFAULT_MAX_UPLOAD_BYTES,
  DEFAULT_PORT,
  startHub,
} from "./server.js";
export type {
  BlobInfo,
  BlobStats,
  BlobsApi,
  BlobsStats,
  Commit,
  CommitChanges,
  Hub,
  HubLogEntry,
  HubOptions,
  MetaStore,
  NewCommit,
  Ref,
  Repo,
  TokenInfo,
  TokenRole,
  TreeFile,
  VariantInfo,
  VariantRecipe,
} from "./types.js";
