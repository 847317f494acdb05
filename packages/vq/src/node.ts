/// <reference types="node" />
import { MessageChannel, type MessagePort, Worker } from "node:worker_threads";
import { assertInteger } from "@lowbit/bits";
import { assignRange } from "./_assign.js";
import type { KmeansAssigner } from "./kmeans.js";

/**
 * A pool of worker threads for the k-means assignment step (Node only). Pass it as `assigner` to
 * `kmeans`, or as the `pool` option of the vq / pq / rvq / aq quantizers. Each thread assigns a
 * contiguous slice of the points with the same function the single-threaded path uses, so results
 * are byte-identical to the single-threaded ones for any thread count. The call is synchronous: the
 * calling thread blocks (Atomics.wait) until every worker has finished its slice.
 */
export interface KmeansPool extends KmeansAssigner {
  readonly threads: number;
  /** Stops the workers. The pool cannot be used afterwards. */
  close(): Promise<void>;
}

interface Buffers {
  data: SharedArrayBuffer;
  centroids: SharedArrayBuffer;
  cnorm: SharedArrayBuffer;
  labels: SharedArrayBuffer;
  dists: SharedArrayBuffer;
}

const WORKER_SOURCE = (assignSource: string): string => `
const { workerData, receiveMessageOnPort } = require("node:worker_threads");
const assign = (${assignSource});
const ctrl = new Int32Array(workerData.ctrl);
const port = workerData.port;
const id = workerData.id;
const T = workerData.threads;
let b = workerData.buffers;
let gen = 0;
for (;;) {
  Atomics.wait(ctrl, 0, gen);
  gen = Atomics.load(ctrl, 0);
  if (Atomics.load(ctrl, 1) === 1) break;
  for (let m = receiveMessageOnPort(port); m; m = receiveMessageOnPort(port)) b = m.message;
  const n = ctrl[3], d = ctrl[4], k = ctrl[5];
  const start = Math.floor((n * id) / T), end = Math.floor((n * (id + 1)) / T);
  assign(new Float32Array(b.data), d, new Float32Array(b.centroids), new Float64Array(b.cnorm), k, start, end,
    new Int32Array(b.labels), new Float64Array(b.dists));
  Atomics.add(ctrl, 2, 1);
  Atomics.notify(ctrl, 2);
}
port.close();
`;

function allocate(points: number, floats: number, k: number, d: number): Buffers {
  return {
    data: new SharedArrayBuffer(floats * 4),
    centroids: new SharedArrayBuffer(k * d * 4),
    cnorm: new SharedArrayBuffer(k * 8),
    labels: new SharedArrayBuffer(points * 4),
    dists: new SharedArrayBuffer(points * 8),
  };
}

/** Starts `threads` workers (1..256) for the k-means assignment step. */
export function createKmeansPool(threads: number): KmeansPool {
  assertInteger(threads, "threads", 1, 256);
  const ctrlBuf = new SharedArrayBuffer(8 * 4);
  const ctrl = new Int32Array(ctrlBuf);
  let buffers = allocate(1, 1, 1, 1);
  const ports: MessagePort[] = [];
  const workers: Worker[] = [];
  const source = WORKER_SOURCE(assignRange.toString());
  for (let id = 0; id < threads; id++) {
    const { port1, port2 } = new MessageChannel();
    const w = new Worker(source, {
      eval: true,
      workerData: { ctrl: ctrlBuf, port: port2, id, threads, buffers },
      transferList: [port2],
    });
    w.unref();
    port1.unref();
    ports.push(port1);
    workers.push(w);
  }
  let closed = false;
  return {
    threads,
    assign(data, n, d, centroids, cnorm, k, labels, dists) {
      if (closed) throw new Error("the k-means pool is closed");
      if (
        buffers.data.byteLength < n * d * 4 ||
        buffers.centroids.byteLength < k * d * 4 ||
        buffers.labels.byteLength < n * 4
      ) {
        buffers = allocate(Math.max(n, 1), Math.max(n * d, 1), Math.max(k, 1), d);
        for (const p of ports) p.postMessage(buffers);
      }
      new Float32Array(buffers.data, 0, n * d).set(data.subarray(0, n * d));
      new Float32Array(buffers.centroids, 0, k * d).set(centroids.subarray(0, k * d));
      new Float64Array(buffers.cnorm, 0, k).set(cnorm.subarray(0, k));
      ctrl[3] = n;
      ctrl[4] = d;
      ctrl[5] = k;
      Atomics.store(ctrl, 2, 0);
      Atomics.add(ctrl, 0, 1);
      Atomics.notify(ctrl, 0);
      for (let c = Atomics.load(ctrl, 2); c < threads; c = Atomics.load(ctrl, 2)) Atomics.wait(ctrl, 2, c);
      labels.set(new Int32Array(buffers.labels, 0, n));
      dists.set(new Float64Array(buffers.dists, 0, n));
    },
    async close() {
      if (closed) return;
      closed = true;
      Atomics.store(ctrl, 1, 1);
      Atomics.add(ctrl, 0, 1);
      Atomics.notify(ctrl, 0);
      await Promise.all(workers.map((w) => w.terminate()));
      for (const p of ports) p.close();
    },
  };
}
