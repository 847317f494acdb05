export type { S3Backend, S3BackendOptions } from "./s3-backend.js";
export { s3Backend } from "./s3-backend.js";
