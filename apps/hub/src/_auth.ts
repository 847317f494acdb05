import { createHash, createHmac, randomBytes, timingSafeEqual } from "node:crypto";
import type { IncomingMessage } from "node:http";
import { HttpError } from "./_http.js";
import type { MetaStore, Repo, TokenRole } from "./types.js";

/** Who is asking: a token's name and role, or nobody. */
export interface Identity {
  readonly name: string;
  readonly role: TokenRole | "anonymous";
}

export const ANONYMOUS: Identity = { name: "anonymous", role: "anonymous" };

function sameSecret(a: string, b: string): boolean {
  // Compare digests so the lengths match and the time does not depend on the secret.
  const da = createHash("sha256").update(a).digest();
  const db = createHash("sha256").update(b).digest();
  return timingSafeEqual(da, db);
}

/**
 * Reads `Authorization: Bearer <token>`. No header → anonymous; a token that is neither the
 * environment's write token nor a stored one → 401 (an invalid token is an error, never anonymous).
 */
export async function identify(
  req: IncomingMessage,
  meta: MetaStore,
  envToken: string | undefined,
): Promise<Identity> {
  const header = req.headers.authorization;
  if (header === undefined || header === "") return ANONYMOUS;
  const m = /^Bearer\s+(\S{1,512})$/i.exec(header);
  if (m === null) throw new HttpError(401, 'Authorization must be "Bearer <token>"');
  const token = m[1]!;
  if (envToken !== undefined && envToken !== "" && sameSecret(token, envToken)) {
    return { name: "env", role: "write" };
  }
  const info = await meta.checkToken(token);
  if (info === undefined) throw new HttpError(401, "invalid or revoked token");
  return { name: info.name, role: info.role };
}

/** Write access: anonymous → 401, a read token → 403. */
export function requireWrite(who: Identity): void {
  if (who.role === "anonymous") {
    throw new HttpError(401, "a write token is required (Authorization: Bearer <token>)", {
      headers: { "WWW-Authenticate": 'Bearer realm="lowbit-hub"' },
    });
  }
  if (who.role !== "write") throw new HttpError(403, `token "${who.name}" is read-only`);
}

/**
 * Read access to a repo: a missing repo is 404 RepoNotFound; a private one needs a token (401
 * without one, with RepoNotFound as the Hub does so that clients raise the same error type).
 */
export function requireRead(who: Identity, repo: Repo | undefined, id: string): Repo {
  if (repo === undefined) throw new HttpError(404, `repository ${id} not found`, { hfCode: "RepoNotFound" });
  if (repo.private && who.role === "anonymous") {
    throw new HttpError(401, `repository ${id} is private: a read token is required`, {
      hfCode: "RepoNotFound",
      headers: { "WWW-Authenticate": 'Bearer realm="lowbit-hub"' },
    });
  }
  return repo;
}

/**
 * Signed, expiring upload URLs for LFS objects: the batch answer hands one out to a writer, and the
 * PUT needs no Authorization header (clients differ in whether they forward one).
 */
export class UrlSigner {
  private readonly key: Buffer;

  /** `secret`: shared by every instance that must accept the others' URLs; default random. */
  constructor(secret?: string) {
    this.key =
      secret === undefined || secret === "" ? randomBytes(32) : createHash("sha256").update(secret).digest();
  }

  sign(parts: readonly (string | number)[], ttlSeconds: number): { exp: number; sig: string } {
    const exp = Math.floor(Date.now() / 1000) + ttlSeconds;
    return { exp, sig: this.mac([...parts, exp]) };
  }

  verify(parts: readonly (string | number)[], exp: string | null, sig: string | null): void {
    if (exp === null || sig === null || !/^\d{1,12}$/.test(exp)) {
      throw new HttpError(403, "upload URL is not signed; ask the LFS batch endpoint for one");
    }
    if (Number(exp) < Date.now() / 1000) throw new HttpError(403, "upload URL expired; ask again");
    const want = Buffer.from(this.mac([...parts, Number(exp)]), "utf8");
    const got = Buffer.from(sig, "utf8");
    if (want.length !== got.length || !timingSafeEqual(want, got)) {
      throw new HttpError(403, "upload URL signature does not match");
    }
  }

  private mac(parts: readonly (string | number)[]): string {
    return createHmac("sha256", this.key).update(parts.join("\n")).digest("base64url");
  }
}
