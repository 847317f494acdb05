import { createHash } from "node:crypto";
import { describe } from "@lowbit/bits";

const SEGMENT = /^[A-Za-z0-9_.-]{1,96}$/;
const BRANCH = /^[A-Za-z0-9._/-]{1,200}$/;
const HEX40 = /^[0-9a-f]{40}$/;
const HEX64 = /^[0-9a-f]{64}$/;
// C0 controls, DEL and C1 controls never belong in a file name.
// biome-ignore lint/suspicious/noControlCharactersInRegex: the point is to reject them
const CONTROL = /[\u0000-\u001f\u007f-\u009f]/;

function assertString(value: unknown, what: string): asserts value is string {
  if (typeof value !== "string") throw new TypeError(`${what} must be a string, got ${describe(value)}`);
}

/**
 * A repo id as the Hugging Face Hub accepts it: `name` or `namespace/name`, each 1–96 characters of
 * [A-Za-z0-9_.-], not starting or ending with "." or "-", without "--" or "..".
 */
export function assertRepoId(id: unknown, what = "repo id"): asserts id is string {
  assertString(id, what);
  const parts = id.split("/");
  const ok =
    parts.length <= 2 &&
    parts.every((p) => SEGMENT.test(p) && !/^[.-]|[.-]$/.test(p) && !p.includes("--") && !p.includes(".."));
  if (!ok) {
    throw new RangeError(
      `${what} must be "name" or "namespace/name" (1–96 of A-Z a-z 0-9 _ . -, no leading or trailing . or -, no -- or ..), got ${JSON.stringify(id)}`,
    );
  }
}

/**
 * A file path inside a repo: 1–1024 bytes, "/"-separated non-empty segments, none "." or "..", no
 * backslash and no control characters; never absolute.
 */
export function assertRepoPath(path: unknown, what = "path"): asserts path is string {
  assertString(path, what);
  const bytes = Buffer.byteLength(path, "utf8");
  const bad =
    bytes < 1 ||
    bytes > 1024 ||
    CONTROL.test(path) ||
    path.includes("\\") ||
    path.split("/").some((s) => s === "" || s === "." || s === "..");
  if (bad) {
    throw new RangeError(
      `${what} must be a relative "/"-separated path of 1–1024 bytes without empty, "." or ".." segments, backslashes or control characters, got ${JSON.stringify(path)}`,
    );
  }
}

/** A branch name: 1–200 of [A-Za-z0-9._/-], no "..", no empty segment, and not a 40-hex commit id. */
export function assertBranchName(name: unknown, what = "branch"): asserts name is string {
  assertString(name, what);
  if (!BRANCH.test(name) || name.includes("..") || name.split("/").includes("") || HEX40.test(name)) {
    throw new RangeError(
      `${what} must be 1–200 of A-Z a-z 0-9 . _ - / without ".." or empty segments, and not a commit id, got ${JSON.stringify(name)}`,
    );
  }
}

export function isCommitOid(rev: string): boolean {
  return HEX40.test(rev);
}

export function isSha256(hex: string): boolean {
  return HEX64.test(hex);
}

/** git's object id of a blob: sha1("blob <size>\0" + content). */
export function gitBlobOid(content: Uint8Array): string {
  return createHash("sha1").update(`blob ${content.length}\0`).update(content).digest("hex");
}

/** The git-lfs pointer text that stands for an LFS file in git. */
export function lfsPointer(sha256: string, size: number): string {
  return `version https://git-lfs.github.com/spec/v1\noid sha256:${sha256}\nsize ${size}\n`;
}

/** The `oid` the clients see for an LFS file: the git blob id of its pointer text. */
export function lfsGitOid(sha256: string, size: number): string {
  return gitBlobOid(Buffer.from(lfsPointer(sha256, size), "utf8"));
}
