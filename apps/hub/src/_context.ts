import type { IncomingMessage, ServerResponse } from "node:http";
import type { Identity, UrlSigner } from "./_auth.js";
import type { Metrics } from "./_metrics.js";
import type { BlobsApi, HubLogEntry, MetaStore } from "./types.js";

/** What every route handler gets. */
export interface HubContext {
  readonly meta: MetaStore;
  readonly blobs: BlobsApi;
  readonly metrics: Metrics;
  readonly signer: UrlSigner;
  readonly envToken: string | undefined;
  readonly maxUploadBytes: number;
  readonly maxBodyBytes: number;
  readonly log: (entry: Omit<HubLogEntry, "time">) => void;
}

/** One request being answered. */
export interface Call {
  readonly req: IncomingMessage;
  readonly res: ServerResponse;
  readonly url: URL;
  /** Raw (still percent-encoded) path segments. */
  readonly segments: readonly string[];
  readonly who: Identity;
  /** Aborted when the client goes away. */
  readonly signal: AbortSignal;
  /** A short route label for metrics and logs. */
  route: string;
}
