import { type LowbitError, LowbitErrorCode } from "@lowbit/bits";
import { expect } from "vitest";

/** A file from a header text (not padded) and a data buffer (or its length, filled with 0..255). */
export function fileOf(header: string, data: Uint8Array | number = 0): Uint8Array {
  const json = new TextEncoder().encode(header);
  const body = typeof data === "number" ? Uint8Array.from({ length: data }, (_, i) => i & 0xff) : data;
  const out = new Uint8Array(8 + json.length + body.length);
  new DataView(out.buffer).setBigUint64(0, BigInt(json.length), true);
  out.set(json, 8);
  out.set(body, 8 + json.length);
  return out;
}

/** A file with raw header bytes (for non-UTF-8 headers). */
export function fileOfBytes(header: Uint8Array, data = 0): Uint8Array {
  const out = new Uint8Array(8 + header.length + data);
  new DataView(out.buffer).setBigUint64(0, BigInt(header.length), true);
  out.set(header, 8);
  return out;
}

/** An entry of the header JSON. */
export function entry(dtype: string, shape: number[], begin: number, end: number): string {
  return JSON.stringify({ dtype, shape, data_offsets: [begin, end] });
}

type Code = (typeof LowbitErrorCode)[keyof typeof LowbitErrorCode];

/** Runs `fn` and checks the error's class name, code and message. */
export function expectLowbitError(fn: () => unknown, name: string, code: Code, message: RegExp): void {
  let caught: unknown;
  try {
    fn();
  } catch (e) {
    caught = e;
  }
  expect(caught, "expected an error").toBeInstanceOf(Error);
  const e = caught as LowbitError;
  expect(e.name).toBe(name);
  expect(e.code).toBe(code);
  expect(e.message).toMatch(message);
}

/** The async form of expectLowbitError. */
export async function expectLowbitRejection(
  p: Promise<unknown>,
  name: string,
  code: Code,
  message: RegExp,
): Promise<void> {
  let caught: unknown;
  try {
    await p;
  } catch (e) {
    caught = e;
  }
  expect(caught, "expected a rejection").toBeInstanceOf(Error);
  const e = caught as LowbitError;
  expect(e.name).toBe(name);
  expect(e.code).toBe(code);
  expect(e.message).toMatch(message);
}

export const CORRUPT = LowbitErrorCode.CORRUPT;
export const LIMIT = LowbitErrorCode.LIMIT;
export const UNSUPPORTED = LowbitErrorCode.UNSUPPORTED;
export const NOT_FOUND = LowbitErrorCode.NOT_FOUND;

/** Index of the first differing byte, the shorter length if one is a prefix, or -1 when equal. */
export function firstDifference(a: ArrayBufferView, b: ArrayBufferView): number {
  const x = new Uint8Array(a.buffer, a.byteOffset, a.byteLength);
  const y = new Uint8Array(b.buffer, b.byteOffset, b.byteLength);
  const n = Math.min(x.length, y.length);
  for (let i = 0; i < n; i++) if (x[i] !== y[i]) return i;
  return x.length === y.length ? -1 : n;
}
