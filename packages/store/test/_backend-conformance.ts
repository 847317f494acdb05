import { createRng } from "@lowbit/bits";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import type { Backend, BackendEntry } from "../src/types.js";

/**
 * The behaviour every Backend must have, run against each implementation (the filesystem backend
 * here, the S3 backend in packages/store-s3). `make` returns a fresh, empty backend for each test.
 */

export interface BackendFixture {
  readonly backend: Backend;
  readonly cleanup: () => Promise<void>;
}

export function randomBytesSeeded(length: number, seed: number): Uint8Array {
  const rng = createRng(seed);
  const out = new Uint8Array(length);
  const words = new Uint32Array(out.buffer, 0, length >>> 2);
  for (let i = 0; i < words.length; i++) words[i] = rng.nextUint32();
  for (let i = words.length * 4; i < length; i++) out[i] = rng.nextUint32() & 0xff;
  return out;
}

export async function collect(entries: AsyncIterable<BackendEntry>): Promise<BackendEntry[]> {
  const out: BackendEntry[] = [];
  for await (const e of entries) out.push(e);
  return out.sort((a, b) => (a.key < b.key ? -1 : a.key > b.key ? 1 : 0));
}

/** Resolves to the error a call throws (synchronously or as a rejection), or fails the test. */
async function errorOf(fn: () => unknown): Promise<unknown> {
  try {
    await fn();
  } catch (err) {
    return err;
  }
  throw new Error("expected the call to throw");
}

function equalBytes(a: Uint8Array, b: Uint8Array): boolean {
  return a.length === b.length && Buffer.compare(a, b) === 0;
}

export const INVALID_KEYS: readonly string[] = [
  "",
  "../x",
  "/abs",
  "a//b",
  "A-upper",
  "a/../b",
  "a/./b",
  "a/",
  ".tmp-x",
  "a b",
  "a\\b",
  "é",
  "x".repeat(513),
];

/** Conformance tests a backend may list as a known gap (with the reason) instead of passing. */
export type ConformanceGap = "atomic-overwrite" | "concurrent-different-content";

export interface ConformanceOptions {
  /**
   * Gaps of the server under test rather than of the backend (e.g. a fake S3 server that writes in
   * place). Each listed test is reported as skipped with its reason; nothing is skipped silently.
   */
  readonly knownGaps?: Partial<Record<ConformanceGap, string>>;
}

export function backendConformance(
  name: string,
  make: () => Promise<BackendFixture>,
  options: ConformanceOptions = {},
): void {
  const gapIt = (gap: ConformanceGap, title: string, fn: () => Promise<void>): void => {
    const reason = options.knownGaps?.[gap];
    if (reason === undefined) it(title, fn);
    else it.skip(`${title} [known gap: ${reason}]`, fn);
  };

  describe(`Backend conformance: ${name}`, () => {
    let fixture: BackendFixture | undefined;
    let b: Backend;

    beforeEach(async () => {
      fixture = await make();
      b = fixture.backend;
    });

    afterEach(async () => {
      await fixture?.cleanup();
      fixture = undefined;
    });

    it("has a description", () => {
      expect(typeof b.description).toBe("string");
      expect(b.description.length).toBeGreaterThan(0);
    });

    it("round-trips 0 bytes, a few bytes and 1 MiB of random bytes", async () => {
      const values: Array<[string, Uint8Array]> = [
        ["empty", new Uint8Array(0)],
        ["small.json", new TextEncoder().encode('{"a":1}')],
        ["objects/ab/big", randomBytesSeeded(1 << 20, 1)],
      ];
      for (const [key, value] of values) await b.put(key, value);
      for (const [key, value] of values) {
        const got = await b.get(key);
        expect(got).toBeInstanceOf(Uint8Array);
        expect(got.length).toBe(value.length);
        expect(equalBytes(got, value)).toBe(true);
        expect((await b.stat(key))?.size).toBe(value.length);
      }
    });

    it("stores a view's bytes, not its whole buffer", async () => {
      const whole = randomBytesSeeded(1000, 2);
      const view = whole.subarray(100, 300);
      await b.put("view", view);
      expect(equalBytes(await b.get("view"), view)).toBe(true);
    });

    it("an overwrite replaces the value, larger or smaller", async () => {
      const big = randomBytesSeeded(300_000, 9);
      const small = randomBytesSeeded(1000, 10);
      await b.put("objects/ab/k", big);
      await b.put("objects/ab/k", small);
      expect(equalBytes(await b.get("objects/ab/k"), small)).toBe(true);
      expect((await b.stat("objects/ab/k"))?.size).toBe(small.length);
      await b.put("objects/ab/k", big);
      expect(equalBytes(await b.get("objects/ab/k"), big)).toBe(true);
      expect(equalBytes(await b.getRange("objects/ab/k", 999, 1001), big.subarray(999, 1001))).toBe(true);
    });

    gapIt(
      "atomic-overwrite",
      "readers during overwrites see the old or the new value, never a mix",
      async () => {
        const a = randomBytesSeeded(512 * 1024, 3);
        const c = randomBytesSeeded(200 * 1024 + 7, 4);
        await b.put("k", a);
        let writing = true;
        const seen = new Set<string>();
        let bad: Uint8Array | undefined;
        const reader = (async () => {
          while (writing && bad === undefined) {
            const got = await b.get("k");
            if (equalBytes(got, a)) seen.add("a");
            else if (equalBytes(got, c)) seen.add("c");
            else bad = got;
          }
        })();
        try {
          for (let i = 0; i < 6; i++) await b.put("k", i % 2 === 0 ? c : a);
        } finally {
          writing = false;
          await reader;
        }
        expect(bad?.length, "a reader saw bytes that are neither value").toBeUndefined();
        expect(seen.has("a") || seen.has("c")).toBe(true);
        const final = await b.get("k");
        expect(equalBytes(final, a)).toBe(true);
        expect((await b.stat("k"))?.size).toBe(a.length);
        expect((await collect(b.list(""))).map((e) => e.key)).toEqual(["k"]);
      },
    );

    it("getRange returns exactly the bytes [start, end), including empty and whole ranges", async () => {
      const value = randomBytesSeeded(100_003, 5);
      await b.put("objects/r/x", value);
      const n = value.length;
      const ranges: Array<[number, number]> = [
        [0, n],
        [0, 0],
        [n, n],
        [17, 17],
        [0, 1],
        [n - 1, n],
        [1, n - 1],
        [4096, 65_537],
        [99_999, 100_003],
      ];
      for (const [start, end] of ranges) {
        const got = await b.getRange("objects/r/x", start, end);
        expect(got).toBeInstanceOf(Uint8Array);
        expect(got.length, `[${start}, ${end})`).toBe(end - start);
        expect(equalBytes(got, value.subarray(start, end)), `[${start}, ${end})`).toBe(true);
      }
      await b.put("e", new Uint8Array(0));
      expect((await b.getRange("e", 0, 0)).length).toBe(0);
    });

    it("getRange rejects ranges outside the value with a RangeError", async () => {
      await b.put("r", randomBytesSeeded(10, 6));
      await b.put("e", new Uint8Array(0));
      const bad: Array<[string, number, number]> = [
        ["r", 0, 11],
        ["r", 10, 11],
        ["r", 11, 11],
        ["r", 100, 200],
        ["r", 5, 4],
        ["r", -1, 2],
        ["r", 0.5, 2],
        ["r", 0, Number.NaN],
        ["r", 0, Number.POSITIVE_INFINITY],
        ["e", 0, 1],
        ["e", 1, 1],
      ];
      for (const [key, start, end] of bad) {
        const err = await errorOf(() => b.getRange(key, start, end));
        expect(err, `${key} [${start}, ${end})`).toBeInstanceOf(RangeError);
      }
      const typeErr = await errorOf(() => b.getRange("r", "0" as unknown as number, 2));
      expect(typeErr).toBeInstanceOf(TypeError);
    });

    it("a missing key is ERR_NOT_FOUND for get and getRange, undefined for stat", async () => {
      await b.put("objects/aa/present", new Uint8Array([1, 2, 3]));
      for (const key of ["missing", "objects/aa/absent", "objects/zz/absent", "objects/aa/present/below"]) {
        expect(await errorOf(() => b.get(key)), key).toMatchObject({ code: "ERR_NOT_FOUND" });
        expect(await errorOf(() => b.getRange(key, 0, 1)), key).toMatchObject({ code: "ERR_NOT_FOUND" });
        expect(await errorOf(() => b.getRange(key, 0, 0)), key).toMatchObject({ code: "ERR_NOT_FOUND" });
        expect(await b.stat(key), key).toBeUndefined();
      }
      // A "folder" that only exists as the prefix of other keys is not a key either.
      expect(await errorOf(() => b.get("objects/aa"))).toMatchObject({ code: "ERR_NOT_FOUND" });
      expect(await b.stat("objects/aa")).toBeUndefined();
    });

    it("stat reports the key, the size and a recent modification time", async () => {
      const before = Date.now();
      await b.put("manifests/m.json", randomBytesSeeded(1234, 7));
      const s = await b.stat("manifests/m.json");
      expect(s).toBeDefined();
      expect(s!.key).toBe("manifests/m.json");
      expect(s!.size).toBe(1234);
      // S3 keeps whole seconds; allow clock skew between the test and the server too.
      expect(Math.abs(s!.mtimeMs - before)).toBeLessThan(60_000);
    });

    it("delete removes the key, leaves its siblings, and is idempotent", async () => {
      await b.put("objects/ab/one", new Uint8Array([1]));
      await b.put("objects/ab/two", new Uint8Array([2, 2]));
      await b.delete("objects/ab/one");
      expect(await b.stat("objects/ab/one")).toBeUndefined();
      expect(await errorOf(() => b.get("objects/ab/one"))).toMatchObject({ code: "ERR_NOT_FOUND" });
      await b.delete("objects/ab/one");
      await b.delete("never/was");
      expect(Array.from(await b.get("objects/ab/two"))).toEqual([2, 2]);
      expect((await collect(b.list(""))).map((e) => e.key)).toEqual(["objects/ab/two"]);
      // The key can be written again after a delete.
      await b.put("objects/ab/one", new Uint8Array([9]));
      expect(Array.from(await b.get("objects/ab/one"))).toEqual([9]);
    });

    it("list(prefix) returns exactly the keys under the prefix, nested, with their sizes", async () => {
      const written: Record<string, number> = {
        "objects/ab/0001": 1,
        "objects/ab/0002": 0,
        "objects/cd/0003": 3000,
        "objects/cd/ef/0004": 4,
        "manifests/org/model.json": 50,
        "refs/model": 6,
        top: 7,
      };
      for (const [key, size] of Object.entries(written)) await b.put(key, randomBytesSeeded(size, size));
      const sizes = (entries: BackendEntry[]) => Object.fromEntries(entries.map((e) => [e.key, e.size]));
      const pick = (p: string) =>
        Object.fromEntries(Object.entries(written).filter(([k]) => k.startsWith(p)));

      const all = await collect(b.list(""));
      expect(sizes(all)).toEqual(written);
      expect(all.length).toBe(Object.keys(written).length);
      for (const e of all) expect(Number.isFinite(e.mtimeMs) && e.mtimeMs > 0).toBe(true);
      for (const p of ["objects/", "objects/ab/", "objects/cd/", "objects/cd/ef/", "manifests/", "refs/"]) {
        expect(sizes(await collect(b.list(p))), p).toEqual(pick(p));
      }
      expect(await collect(b.list("nothing/"))).toEqual([]);
      expect(await collect(b.list("objects/zz/"))).toEqual([]);
    });

    it("cleanup, where a backend has it, leaves every stored key", async () => {
      await b.put("objects/ab/1", new Uint8Array([1]));
      if (b.cleanup === undefined) return;
      expect(await b.cleanup(0)).toBe(0);
      expect((await collect(b.list(""))).map((e) => e.key)).toEqual(["objects/ab/1"]);
    });

    it("list on an empty backend yields nothing", async () => {
      expect(await collect(b.list(""))).toEqual([]);
      expect(await collect(b.list("objects/"))).toEqual([]);
    });

    it("rejects invalid keys with a RangeError naming the key, before touching storage", async () => {
      for (const key of INVALID_KEYS) {
        const calls: Array<[string, () => unknown]> = [
          ["put", () => b.put(key, new Uint8Array([1]))],
          ["get", () => b.get(key)],
          ["getRange", () => b.getRange(key, 0, 0)],
          ["stat", () => b.stat(key)],
          ["delete", () => b.delete(key)],
        ];
        for (const [op, call] of calls) {
          const err = await errorOf(call);
          expect(err, `${op}(${JSON.stringify(key)})`).toBeInstanceOf(RangeError);
          if (key.length < 40) expect((err as Error).message).toContain(JSON.stringify(key));
        }
      }
      for (const prefix of ["../", "/abs/", "a//", "A/"]) {
        const err = await errorOf(() => collect(b.list(prefix)));
        expect(err, `list(${JSON.stringify(prefix)})`).toBeInstanceOf(RangeError);
      }
      expect(await errorOf(() => b.get(42 as unknown as string))).toBeInstanceOf(TypeError);
      expect(await errorOf(() => b.put("k", [1, 2] as unknown as Uint8Array))).toBeInstanceOf(TypeError);
      // Nothing was written by any of the rejected calls.
      expect(await collect(b.list(""))).toEqual([]);
    });

    it("accepts the longest valid key", async () => {
      const key = `${"a".repeat(200)}/${"b".repeat(200)}/${"c".repeat(110)}`;
      expect(key.length).toBe(512);
      await b.put(key, new Uint8Array([5]));
      expect(Array.from(await b.get(key))).toEqual([5]);
      expect((await collect(b.list(""))).map((e) => e.key)).toEqual([key]);
    });

    it("concurrent puts of one key with identical content end with that content", async () => {
      const value = randomBytesSeeded(256 * 1024, 8);
      await Promise.all(Array.from({ length: 8 }, () => b.put("objects/cc/same", value)));
      expect(equalBytes(await b.get("objects/cc/same"), value)).toBe(true);
      expect((await collect(b.list(""))).map((e) => [e.key, e.size])).toEqual([
        ["objects/cc/same", value.length],
      ]);
    });

    gapIt(
      "concurrent-different-content",
      "concurrent puts of one key with different content end with one complete value",
      async () => {
        const values = Array.from({ length: 8 }, (_, i) => randomBytesSeeded(64 * 1024 + i * 4099, 100 + i));
        await Promise.all(values.map((v) => b.put("objects/cc/race", v)));
        const got = await b.get("objects/cc/race");
        const winner = values.findIndex((v) => equalBytes(v, got));
        expect(winner, `got ${got.length} bytes matching none of the values`).toBeGreaterThanOrEqual(0);
        expect((await b.stat("objects/cc/race"))?.size).toBe(values[winner]!.length);
        expect((await collect(b.list(""))).map((e) => e.key)).toEqual(["objects/cc/race"]);
      },
    );
  });
}
