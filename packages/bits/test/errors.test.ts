import { describe, expect, it } from "vitest";
import {
  assertFloat32Array,
  assertInteger,
  assertMinLength,
  assertOneOf,
  ConflictError,
  CorruptDataError,
  IntegrityError,
  LimitExceededError,
  LowbitError,
  LowbitErrorCode,
  NotFoundError,
  UnsupportedError,
} from "../src/index.js";

describe("LowbitError", () => {
  it.each([
    [CorruptDataError, "ERR_CORRUPT"],
    [LimitExceededError, "ERR_LIMIT"],
    [IntegrityError, "ERR_INTEGRITY"],
    [NotFoundError, "ERR_NOT_FOUND"],
    [ConflictError, "ERR_CONFLICT"],
    [UnsupportedError, "ERR_UNSUPPORTED"],
  ] as const)("%o carries the stable code %s", (Cls, code) => {
    const e = new Cls("bad bytes", { cause: 1 });
    expect(e).toBeInstanceOf(LowbitError);
    expect(e).toBeInstanceOf(Error);
    expect(e.code).toBe(code);
    expect(e.message).toBe("bad bytes");
    expect(e.cause).toBe(1);
    expect(Object.values(LowbitErrorCode)).toContain(code);
  });
});

describe("asserts", () => {
  it("name the argument, the expectation and what came", () => {
    expect(() => assertFloat32Array(new Float64Array(3), "src")).toThrow(
      new TypeError("src must be a Float32Array, got Float64Array(3)"),
    );
    expect(() => assertInteger(9, "bits", 1, 8)).toThrow(
      new RangeError("bits must be an integer in [1, 8], got 9"),
    );
    expect(() => assertInteger("9", "bits", 1, 8)).toThrow(TypeError);
    expect(() => assertOneOf("up", ["a", "b"], "opts.rounding")).toThrow(
      new RangeError('opts.rounding must be "a" | "b", got "up"'),
    );
    expect(() => assertMinLength(new Uint8Array(2), 3, "dst")).toThrow(
      new RangeError("dst is too short: need at least 3 elements, got 2"),
    );
  });

  it("pass silently on good values", () => {
    expect(() => assertInteger(8, "bits", 1, 8)).not.toThrow();
    expect(() => assertOneOf("a", ["a", "b"], "x")).not.toThrow();
  });
});
