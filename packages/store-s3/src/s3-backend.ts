/// <reference types="node" />
import {
  DeleteObjectCommand,
  GetObjectCommand,
  type GetObjectCommandOutput,
  HeadObjectCommand,
  ListObjectsV2Command,
  type ListObjectsV2CommandOutput,
  PutObjectCommand,
  S3Client,
  type S3ClientConfig,
} from "@aws-sdk/client-s3";
import { assertInteger, assertOptions, assertUint8Array, describe, NotFoundError } from "@lowbit/bits";
import type { Backend, BackendEntry } from "@lowbit/store";
import { assertKey, assertPrefix, assertRange, isValidKey } from "./_keys.js";

export interface S3BackendOptions {
  readonly bucket: string;
  /** Key prefix inside the bucket, e.g. "models/prod" ("/" is appended when missing). Default "". */
  readonly prefix?: string;
  /** A client you configured yourself (you own it: `close()` leaves it open). Excludes the options below. */
  readonly client?: S3Client;
  /** The service URL for S3-compatible stores (MinIO, R2, Ceph RGW, …); omit for AWS. */
  readonly endpoint?: string;
  /** Default: the SDK's (AWS_REGION, ~/.aws/config) for AWS, "us-east-1" for a custom endpoint. */
  readonly region?: string;
  /** Default: the SDK's credential chain (environment, ~/.aws, instance roles). */
  readonly credentials?: { readonly accessKeyId: string; readonly secretAccessKey: string };
  /** Path-style URLs (endpoint/bucket/key). Default: true for a custom endpoint, false for AWS. */
  readonly forcePathStyle?: boolean;
  /** Keys per ListObjectsV2 request, 1–1000 (default 1000, S3's maximum). */
  readonly listPageSize?: number;
}

/** A Backend over one bucket and prefix. */
export interface S3Backend extends Backend {
  readonly bucket: string;
  /** "" or a prefix ending in "/". */
  readonly prefix: string;
  /** The client in use: yours if you passed one, else the one the backend created. */
  readonly client: S3Client;
  /** Destroys the client if the backend created it (a passed client stays open). Idempotent. */
  close(): void;
}

const PREFIX_SEGMENT_RE = /^[A-Za-z0-9][A-Za-z0-9._-]*$/;

/** "" stays ""; anything else gets a trailing "/" and must be "/"-separated segments. */
function normalizePrefix(prefix: unknown): string {
  if (typeof prefix !== "string") {
    throw new TypeError(`options.prefix must be a string, got ${describe(prefix)}`);
  }
  if (prefix === "") return "";
  const trimmed = prefix.endsWith("/") ? prefix.slice(0, -1) : prefix;
  if (!trimmed.split("/").every((s) => PREFIX_SEGMENT_RE.test(s))) {
    throw new RangeError(
      `options.prefix must be "/"-separated segments matching ${PREFIX_SEGMENT_RE}, got ${describe(prefix)}`,
    );
  }
  return `${trimmed}/`;
}

function isAwsEndpoint(endpoint: string): boolean {
  let host: string;
  try {
    host = new URL(endpoint).hostname;
  } catch {
    throw new RangeError(`options.endpoint must be a URL, got ${describe(endpoint)}`);
  }
  return host.endsWith(".amazonaws.com") || host.endsWith(".amazonaws.com.cn");
}

interface AwsErrorShape {
  name?: string;
  Code?: string;
  message?: string;
  $metadata?: { httpStatusCode?: number };
}

function awsError(err: unknown): AwsErrorShape {
  return typeof err === "object" && err !== null ? (err as AwsErrorShape) : {};
}

/** NoSuchKey (GET), NotFound (HEAD, which has no body to name the error) or a bare 404. */
function isMissing(err: unknown): boolean {
  const e = awsError(err);
  const name = e.name ?? e.Code;
  if (name === "NoSuchBucket") return false;
  return name === "NoSuchKey" || name === "NotFound" || e.$metadata?.httpStatusCode === 404;
}

function isInvalidRange(err: unknown): boolean {
  const e = awsError(err);
  return (e.name ?? e.Code) === "InvalidRange" || e.$metadata?.httpStatusCode === 416;
}

/** Lets the socket go when a response body will not be read. */
function discard(body: unknown): void {
  (body as { destroy?: () => void } | undefined)?.destroy?.();
}

/**
 * A Backend storing each key as one object `<prefix><key>` in an S3 bucket (AWS S3 or an
 * S3-compatible store). A PUT is atomic (readers see the old or the new object, never a partial
 * one); reads after a completed PUT see it (S3's strong read-after-write consistency).
 *
 * ```ts
 * const backend = s3Backend({ bucket: "models", prefix: "lowbit", endpoint: "http://127.0.0.1:9000",
 *   credentials: { accessKeyId, secretAccessKey } });
 * ```
 */
export function s3Backend(options: S3BackendOptions): S3Backend {
  assertOptions(options, "options");
  if (options === undefined) throw new TypeError("options must be an options object, got undefined");
  const { bucket } = options;
  if (typeof bucket !== "string") {
    throw new TypeError(`options.bucket must be a string, got ${describe(bucket)}`);
  }
  if (bucket.length === 0 || bucket.includes("/")) {
    throw new RangeError(`options.bucket must be a bucket name, got ${describe(bucket)}`);
  }
  const prefix = normalizePrefix(options.prefix ?? "");

  const listPageSize = options.listPageSize ?? 1000;
  assertInteger(listPageSize, "options.listPageSize", 1, 1000);

  let client: S3Client;
  let owned: boolean;
  if (options.client !== undefined) {
    if (!(options.client instanceof S3Client)) {
      throw new TypeError(`options.client must be an S3Client, got ${describe(options.client)}`);
    }
    for (const k of ["endpoint", "region", "credentials", "forcePathStyle"] as const) {
      if (options[k] !== undefined) {
        throw new TypeError(
          `options.${k} configures a client the backend creates; it cannot go with options.client`,
        );
      }
    }
    client = options.client;
    owned = false;
  } else {
    client = new S3Client(clientConfig(options));
    owned = true;
  }

  const description = `s3://${bucket}/${prefix}`;
  const objectKey = (key: string): string => prefix + key;

  const failed = (op: string, key: string, err: unknown): Error => {
    const message = awsError(err).message ?? String(err);
    return new Error(`${description}: ${op} ${JSON.stringify(key)} failed: ${message}`, { cause: err });
  };
  /** `size` undefined: the server said 416 without telling the size. */
  const outside = (key: string, start: number, end: number, size: number | undefined, cause?: unknown) =>
    new RangeError(
      `range [${start}, ${end}) is outside ${JSON.stringify(key)}` +
        (size === undefined ? " (416 Range Not Satisfiable)" : ` of ${size} bytes`),
      cause === undefined ? undefined : { cause },
    );
  const notFound = (key: string, err: unknown): NotFoundError =>
    new NotFoundError(`no object ${JSON.stringify(key)} in ${description}`, { cause: err });

  const head = async (key: string): Promise<BackendEntry | undefined> => {
    try {
      const out = await client.send(new HeadObjectCommand({ Bucket: bucket, Key: objectKey(key) }));
      return { key, size: out.ContentLength ?? 0, mtimeMs: out.LastModified?.getTime() ?? 0 };
    } catch (err) {
      if (isMissing(err)) return undefined;
      throw failed("HEAD", key, err);
    }
  };

  async function* listEntries(listPrefix: string): AsyncGenerator<BackendEntry> {
    let token: string | undefined;
    do {
      let out: ListObjectsV2CommandOutput;
      try {
        out = await client.send(
          new ListObjectsV2Command({
            Bucket: bucket,
            Prefix: prefix + listPrefix,
            MaxKeys: listPageSize,
            ...(token === undefined ? {} : { ContinuationToken: token }),
          }),
        );
      } catch (err) {
        throw failed("LIST", listPrefix, err);
      }
      for (const o of out.Contents ?? []) {
        if (o.Key === undefined || !o.Key.startsWith(prefix)) continue;
        const key = o.Key.slice(prefix.length);
        // Objects someone else put under the prefix ("a/", "README") are not store keys.
        if (!isValidKey(key)) continue;
        yield { key, size: o.Size ?? 0, mtimeMs: o.LastModified?.getTime() ?? 0 };
      }
      token = out.IsTruncated ? out.NextContinuationToken : undefined;
    } while (token !== undefined);
  }

  let closed = false;

  return {
    description,
    bucket,
    prefix,
    client,

    async put(key: string, data: Uint8Array): Promise<void> {
      assertKey(key);
      assertUint8Array(data, "data");
      try {
        await client.send(
          new PutObjectCommand({
            Bucket: bucket,
            Key: objectKey(key),
            Body: data,
            ContentLength: data.byteLength,
            ContentType: "application/octet-stream",
          }),
        );
      } catch (err) {
        throw failed("PUT", key, err);
      }
    },

    async get(key: string): Promise<Uint8Array> {
      assertKey(key);
      let out: GetObjectCommandOutput;
      try {
        out = await client.send(new GetObjectCommand({ Bucket: bucket, Key: objectKey(key) }));
      } catch (err) {
        if (isMissing(err)) throw notFound(key, err);
        throw failed("GET", key, err);
      }
      let bytes: Uint8Array;
      try {
        bytes = out.Body === undefined ? new Uint8Array(0) : await out.Body.transformToByteArray();
      } catch (err) {
        throw failed("GET", key, err);
      }
      // A connection cut mid-body must not pass for a short object.
      if (out.ContentLength !== undefined && bytes.length !== out.ContentLength) {
        throw new Error(
          `${description}: GET ${JSON.stringify(key)} returned ${bytes.length} of ${out.ContentLength} bytes`,
        );
      }
      return bytes;
    },

    async getRange(key: string, start: number, end: number): Promise<Uint8Array> {
      assertKey(key);
      assertRange(start, end);
      if (start === end) {
        // "bytes=a-(a-1)" is not a valid range header; a HEAD still checks existence and bounds.
        const entry = await head(key);
        if (entry === undefined) throw notFound(key, undefined);
        if (end > entry.size) throw outside(key, start, end, entry.size);
        return new Uint8Array(0);
      }
      let out: GetObjectCommandOutput;
      try {
        out = await client.send(
          new GetObjectCommand({ Bucket: bucket, Key: objectKey(key), Range: `bytes=${start}-${end - 1}` }),
        );
      } catch (err) {
        if (isMissing(err)) throw notFound(key, err);
        if (isInvalidRange(err)) throw outside(key, start, end, undefined, err);
        throw failed("GET", key, err);
      }
      // S3 answers a range running past the end with the bytes that exist; the total tells.
      const m = /^bytes (\d+)-(\d+)\/(\d+)$/.exec(out.ContentRange ?? "");
      if (m !== null && end > Number(m[3])) {
        discard(out.Body);
        throw outside(key, start, end, Number(m[3]));
      }
      let bytes: Uint8Array;
      try {
        bytes = out.Body === undefined ? new Uint8Array(0) : await out.Body.transformToByteArray();
      } catch (err) {
        throw failed("GET", key, err);
      }
      if (m === null) {
        // A server that ignores Range sends the whole object (200).
        if (end > bytes.length) throw outside(key, start, end, bytes.length);
        return bytes.slice(start, end);
      }
      const first = Number(m[1]);
      const last = Number(m[2]);
      if (first === start && last === end - 1 && bytes.length === end - start) return bytes;
      // Some S3-compatible servers answer with a wider range than asked (s3rver for "bytes=0-0"); the
      // requested bytes are inside it.
      if (first <= start && last >= end - 1 && bytes.length === last - first + 1) {
        return bytes.slice(start - first, end - first);
      }
      throw new Error(
        `${description}: GET ${JSON.stringify(key)} range [${start}, ${end}) returned ${bytes.length} bytes ` +
          `(Content-Range ${out.ContentRange})`,
      );
    },

    async stat(key: string): Promise<BackendEntry | undefined> {
      assertKey(key);
      return head(key);
    },

    async delete(key: string): Promise<void> {
      assertKey(key);
      try {
        // S3 answers 204 for an absent key too.
        await client.send(new DeleteObjectCommand({ Bucket: bucket, Key: objectKey(key) }));
      } catch (err) {
        if (isMissing(err)) return;
        throw failed("DELETE", key, err);
      }
    },

    list(listPrefix: string): AsyncIterable<BackendEntry> {
      assertPrefix(listPrefix);
      return listEntries(listPrefix);
    },

    close(): void {
      if (closed) return;
      closed = true;
      if (owned) client.destroy();
    },
  };
}

/** The client for a custom endpoint gets the settings S3-compatible stores need. */
function clientConfig(options: S3BackendOptions): S3ClientConfig {
  const config: S3ClientConfig = {};
  const { endpoint, region, credentials, forcePathStyle } = options;
  let custom = false;
  if (endpoint !== undefined) {
    if (typeof endpoint !== "string") {
      throw new TypeError(`options.endpoint must be a string, got ${describe(endpoint)}`);
    }
    custom = !isAwsEndpoint(endpoint);
    config.endpoint = endpoint;
  }
  if (region !== undefined) {
    if (typeof region !== "string") {
      throw new TypeError(`options.region must be a string, got ${describe(region)}`);
    }
    config.region = region;
  } else if (custom) {
    config.region = "us-east-1";
  }
  if (credentials !== undefined) {
    const { accessKeyId, secretAccessKey } = credentials;
    if (typeof accessKeyId !== "string" || typeof secretAccessKey !== "string") {
      throw new TypeError("options.credentials must be { accessKeyId: string, secretAccessKey: string }");
    }
    config.credentials = { accessKeyId, secretAccessKey };
  }
  if (forcePathStyle !== undefined) {
    if (typeof forcePathStyle !== "boolean") {
      throw new TypeError(`options.forcePathStyle must be a boolean, got ${describe(forcePathStyle)}`);
    }
    config.forcePathStyle = forcePathStyle;
  } else if (custom) {
    config.forcePathStyle = true;
  }
  if (custom) {
    // Since @aws-sdk/client-s3 3.729 the client adds CRC32 checksums to every PUT and validates
    // them on GET by default, which many S3-compatible stores reject or do not return.
    config.requestChecksumCalculation = "WHEN_REQUIRED";
    config.responseChecksumValidation = "WHEN_REQUIRED";
  }
  return config;
}
