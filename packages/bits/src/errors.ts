/**
 * Stable error codes for bad *data* (as opposed to bad arguments, which throw TypeError/RangeError).
 * Codes never change once published; messages may.
 */
export const LowbitErrorCode = {
  CORRUPT: "ERR_CORRUPT",
  LIMIT: "ERR_LIMIT",
  INTEGRITY: "ERR_INTEGRITY",
  NOT_FOUND: "ERR_NOT_FOUND",
  CONFLICT: "ERR_CONFLICT",
  UNSUPPORTED: "ERR_UNSUPPORTED",
  LOCKED: "ERR_LOCKED",
} as const;

export type LowbitErrorCode = (typeof LowbitErrorCode)[keyof typeof LowbitErrorCode];

/** Base class of every data error lowbit throws. Match on `code`, not on the message. */
export class LowbitError extends Error {
  readonly code: LowbitErrorCode;

  constructor(code: LowbitErrorCode, message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = "LowbitError";
    this.code = code;
  }
}

/** The bytes are not what the format says they must be (truncated, malformed, inconsistent). */
export class CorruptDataError extends LowbitError {
  constructor(message: string, options?: { cause?: unknown }) {
    super(LowbitErrorCode.CORRUPT, message, options);
    this.name = "CorruptDataError";
  }
}

/** Untrusted input exceeds a configured `max*` limit. */
export class LimitExceededError extends LowbitError {
  constructor(message: string, options?: { cause?: unknown }) {
    super(LowbitErrorCode.LIMIT, message, options);
    this.name = "LimitExceededError";
  }
}

/** A checksum or content hash does not match. */
export class IntegrityError extends LowbitError {
  constructor(message: string, options?: { cause?: unknown }) {
    super(LowbitErrorCode.INTEGRITY, message, options);
    this.name = "IntegrityError";
  }
}

/** A named thing (codec, tensor, object) does not exist. */
export class NotFoundError extends LowbitError {
  constructor(message: string, options?: { cause?: unknown }) {
    super(LowbitErrorCode.NOT_FOUND, message, options);
    this.name = "NotFoundError";
  }
}

/** The operation conflicts with existing state (already exists, concurrent update). */
export class ConflictError extends LowbitError {
  constructor(message: string, options?: { cause?: unknown }) {
    super(LowbitErrorCode.CONFLICT, message, options);
    this.name = "ConflictError";
  }
}

/** The data is valid but uses a feature this version does not implement. */
export class UnsupportedError extends LowbitError {
  constructor(message: string, options?: { cause?: unknown }) {
    super(LowbitErrorCode.UNSUPPORTED, message, options);
    this.name = "UnsupportedError";
  }
}

/** A resource (a collection directory, a store) is held by another live writer. */
export class LockedError extends LowbitError {
  constructor(message: string, options?: { cause?: unknown }) {
    super(LowbitErrorCode.LOCKED, message, options);
    this.name = "LockedError";
  }
}
