import type { IncomingMessage, ServerResponse } from "node:http";
import { LowbitError } from "@lowbit/bits";

/** The `X-Error-Code` values the Hugging Face clients turn into typed errors. */
export type HfErrorCode = "RepoNotFound" | "RevisionNotFound" | "EntryNotFound" | "GatedRepo";

/**
 * An error that becomes an HTTP response: status, message, and optionally the Hub's `X-Error-Code`
 * and our own stable `code` (a LowbitError code, e.g. ERR_INTEGRITY) in the JSON body.
 */
export class HttpError extends Error {
  readonly status: number;
  readonly hfCode: HfErrorCode | undefined;
  readonly code: string | undefined;
  readonly headers: Readonly<Record<string, string>>;
  /** Extra fields of the JSON body (the Hub's 409 on repo creation carries the repo's `url`). */
  readonly extra: Readonly<Record<string, string>>;

  constructor(
    status: number,
    message: string,
    options: {
      hfCode?: HfErrorCode;
      code?: string;
      headers?: Record<string, string>;
      extra?: Record<string, string>;
    } = {},
  ) {
    super(message);
    this.name = "HttpError";
    this.status = status;
    this.hfCode = options.hfCode;
    this.code = options.code;
    this.headers = options.headers ?? {};
    this.extra = options.extra ?? {};
  }
}

/** The response headers browsers may read (hub.js and transformers.js read these from JS). */
const EXPOSE = [
  "ETag",
  "Content-Range",
  "Content-Length",
  "Accept-Ranges",
  "X-Repo-Commit",
  "X-Linked-Etag",
  "X-Linked-Size",
  "X-Error-Code",
  "X-Error-Message",
  "X-Lowbit-Variant",
  "X-Lowbit-Cache",
  "Link",
].join(", ");

export function setCors(res: ServerResponse): void {
  res.setHeader("Access-Control-Allow-Origin", "*");
  res.setHeader("Access-Control-Expose-Headers", EXPOSE);
}

export function preflight(res: ServerResponse): void {
  res.writeHead(204, {
    "Access-Control-Allow-Origin": "*",
    "Access-Control-Allow-Headers": "Authorization, Range, Accept, Content-Type, If-None-Match, X-Request-Id",
    "Access-Control-Allow-Methods": "GET, HEAD, POST, PUT, DELETE, OPTIONS",
    "Access-Control-Max-Age": "600",
  });
  res.end();
}

export function sendJson(
  res: ServerResponse,
  status: number,
  value: unknown,
  headers: Record<string, string> = {},
): void {
  const body = Buffer.from(JSON.stringify(value), "utf8");
  res.writeHead(status, {
    "Content-Type": "application/json; charset=utf-8",
    "Content-Length": String(body.length),
    ...headers,
  });
  res.end(res.req.method === "HEAD" ? undefined : body);
}

/** Runs a validation: its RangeError or TypeError (a bad argument from the client) becomes a 400. */
export function checked<T>(validate: () => T): T {
  try {
    return validate();
  } catch (e) {
    if (e instanceof RangeError || e instanceof TypeError) throw new HttpError(400, e.message);
    throw e;
  }
}

/** Maps any thrown value to a status and a JSON body `{error, code?}`; headers carry X-Error-*. */
export function toHttpError(e: unknown): HttpError {
  if (e instanceof HttpError) return e;
  if (e instanceof LowbitError) {
    const status: Record<string, number> = {
      ERR_NOT_FOUND: 404,
      ERR_CONFLICT: 409,
      ERR_LIMIT: 413,
      ERR_CORRUPT: 500,
      ERR_INTEGRITY: 500,
      ERR_UNSUPPORTED: 422,
      ERR_LOCKED: 423,
    };
    return new HttpError(status[e.code] ?? 500, e.message, { code: e.code });
  }
  if (e instanceof RangeError || e instanceof TypeError) return new HttpError(400, e.message);
  if (e instanceof Error && e.name === "AbortError") return new HttpError(499, "request aborted");
  return new HttpError(500, "internal error");
}

export function sendError(res: ServerResponse, err: HttpError): void {
  const headers: Record<string, string> = { ...err.headers };
  // Header values must be latin1 without newlines.
  headers["X-Error-Message"] = err.message.replace(/[^\x20-\x7e]/g, "?").slice(0, 500);
  if (err.hfCode !== undefined) headers["X-Error-Code"] = err.hfCode;
  const body: Record<string, string> = { ...err.extra, error: err.message };
  if (err.code !== undefined) body["code"] = err.code;
  if (err.hfCode !== undefined) body["errorCode"] = err.hfCode;
  sendJson(res, err.status, body, headers);
}

/**
 * Reads a whole request body up to `max` bytes: a larger Content-Length is refused before reading
 * (413), a body that grows past it is cut off at once.
 */
export async function readBody(req: IncomingMessage, max: number): Promise<Buffer> {
  const declared = req.headers["content-length"];
  if (declared !== undefined && Number(declared) > max) {
    throw new HttpError(413, `request body of ${declared} bytes exceeds the limit of ${max} bytes`, {
      code: "ERR_LIMIT",
    });
  }
  const chunks: Buffer[] = [];
  let n = 0;
  for await (const chunk of req as AsyncIterable<Buffer>) {
    n += chunk.length;
    if (n > max) {
      throw new HttpError(413, `request body exceeds the limit of ${max} bytes`, { code: "ERR_LIMIT" });
    }
    chunks.push(chunk);
  }
  return Buffer.concat(chunks, n);
}

/** Parses a JSON object body (application/json) or a form (application/x-www-form-urlencoded). */
export async function readObject(req: IncomingMessage, max: number): Promise<Record<string, unknown>> {
  const raw = await readBody(req, max);
  const type = String(req.headers["content-type"] ?? "");
  if (type.startsWith("application/x-www-form-urlencoded")) {
    const out: Record<string, unknown> = {};
    for (const [k, v] of new URLSearchParams(raw.toString("utf8"))) {
      const prev = out[k];
      if (prev === undefined) out[k] = v;
      else out[k] = Array.isArray(prev) ? [...prev, v] : [prev, v];
    }
    return out;
  }
  if (raw.length === 0) return {};
  let value: unknown;
  try {
    value = JSON.parse(raw.toString("utf8"));
  } catch (e) {
    throw new HttpError(400, `request body is not valid JSON: ${(e as Error).message}`);
  }
  if (typeof value !== "object" || value === null || Array.isArray(value)) {
    throw new HttpError(400, "request body must be a JSON object");
  }
  return value as Record<string, unknown>;
}

/** A satisfiable single byte range [start, end) of a resource of `size` bytes. */
export interface ByteRange {
  readonly start: number;
  readonly end: number;
}

/**
 * Parses a `Range` header (RFC 9110 §14.1.2) for a resource of `size` bytes: undefined = serve the
 * whole resource (no header, not a bytes range, or several ranges, which we answer with 200);
 * "unsatisfiable" = answer 416.
 */
export function parseRange(
  header: string | undefined,
  size: number,
): ByteRange | "unsatisfiable" | undefined {
  if (header === undefined) return undefined;
  const m = /^bytes=\s*(\d*)\s*-\s*(\d*)\s*$/.exec(header.trim());
  if (m === null) return undefined;
  const [, a, b] = m as unknown as [string, string, string];
  if (a === "" && b === "") return undefined;
  if (a === "") {
    const n = Number(b);
    if (n === 0 || size === 0) return "unsatisfiable";
    return { start: Math.max(0, size - n), end: size };
  }
  const start = Number(a);
  if (start >= size) return "unsatisfiable";
  const last = b === "" ? size - 1 : Math.min(Number(b), size - 1);
  if (last < start) return undefined; // invalid spec: ignore the header, as RFC 9110 allows
  return { start, end: last + 1 };
}

/** The request's own origin, for absolute URLs (the Link header must be absolute). */
export function originOf(req: IncomingMessage): string {
  const host = req.headers.host ?? "127.0.0.1";
  return `http://${host}`;
}
