import { describe, expect, it } from "vitest";
import { WorkerPool } from "../src/_pool.js";

// The private pool on its own, with a tiny worker program that can echo, wait, exit and throw.
const SOURCE = `"use strict";
const { parentPort } = require("node:worker_threads");
parentPort.on("message", (m) => {
  if (m.op === "exit") process.exit(3);
  else if (m.op === "throw") setImmediate(() => { throw new Error("boom in worker"); });
  else if (m.op === "wait") setTimeout(() => parentPort.postMessage(m.value), m.ms);
  else if (m.op === "meet") {
    // Count in, then wait (up to 10 s) until m.n jobs are in at the same time; reply with the count seen.
    const count = new Int32Array(m.shared);
    Atomics.add(count, 0, 1);
    Atomics.notify(count, 0);
    const until = Date.now() + 10000;
    let seen;
    while ((seen = Atomics.load(count, 0)) < m.n && Date.now() < until) Atomics.wait(count, 0, seen, 50);
    parentPort.postMessage(seen);
  }
  else parentPort.postMessage(m.value);
});
`;

function pool(size: number): WorkerPool {
  return new WorkerPool({ size, source: SOURCE, name: "test pool" });
}

describe("WorkerPool", () => {
  it("runs jobs on at most `size` workers and keeps FIFO order for a single worker", async () => {
    const p = pool(1);
    const order: number[] = [];
    const jobs = [0, 1, 2, 3].map((i) =>
      p.run({ op: "wait", value: i, ms: 20 - i * 5 }).then((v) => {
        order.push(v as number);
      }),
    );
    expect(p.pending).toBe(4);
    await Promise.all(jobs);
    expect(order).toEqual([0, 1, 2, 3]);
    expect(p.pending).toBe(0);
    await p.close();
  });

  it("runs `size` jobs at the same time", async () => {
    const p = pool(3);
    const shared = new SharedArrayBuffer(4);
    const seen = await Promise.all([0, 1, 2].map(() => p.run({ op: "meet", shared, n: 3 })));
    expect(seen).toEqual([3, 3, 3]);
    await p.close();
  });

  it("a worker that exits or throws rejects its job with an Error and is replaced", async () => {
    const p = pool(1);
    const [exited, next, threw, after] = await Promise.allSettled([
      p.run({ op: "exit" }),
      p.run({ op: "echo", value: "still here" }),
      p.run({ op: "throw" }),
      p.run({ op: "echo", value: 42 }),
    ]);
    expect(exited.status).toBe("rejected");
    expect(String((exited as PromiseRejectedResult).reason)).toMatch(
      /test pool: worker thread died: exited with code 3/,
    );
    expect(next).toEqual({ status: "fulfilled", value: "still here" });
    expect(threw.status).toBe("rejected");
    expect(String((threw as PromiseRejectedResult).reason)).toMatch(/boom in worker/);
    expect(after).toEqual({ status: "fulfilled", value: 42 });
    await p.close();
  });

  it("transfers the listed buffers instead of copying them", async () => {
    const p = pool(1);
    const bytes = new Uint8Array(1024).fill(7);
    const echoed = (await p.run({ op: "echo", value: bytes }, [bytes.buffer])) as Uint8Array;
    expect(bytes.byteLength).toBe(0); // detached: moved to the worker
    expect(echoed).toEqual(new Uint8Array(1024).fill(7));
    await p.close();
  });

  it("close() rejects queued and running jobs, is idempotent, and later runs reject", async () => {
    const p = pool(1);
    const running = p.run({ op: "wait", value: 1, ms: 5000 });
    const queued = p.run({ op: "echo", value: 2 });
    const first = p.close();
    expect(p.close()).toBe(first);
    await Promise.all([
      expect(running).rejects.toThrow(/test pool is closed/),
      expect(queued).rejects.toThrow(/closed/),
    ]);
    await first;
    expect(p.closed).toBe(true);
    await expect(p.run({ op: "echo", value: 3 })).rejects.toThrow(/closed/);
    expect(p.pending).toBe(0);
  });
});
