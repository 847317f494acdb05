/// <reference types="node" />
import { type Transferable, Worker } from "node:worker_threads";

/** How a pool starts its workers. */
export interface PoolOptions {
  /** Most workers alive at once (≥ 1); they start on demand. */
  readonly size: number;
  /** The worker program (`new Worker(source, { eval: true })`): a script, or a module under --input-type=module. */
  readonly source: string;
  readonly workerData?: unknown;
  /** Names the pool in error messages. */
  readonly name: string;
}

interface Job {
  readonly message: unknown;
  readonly transfer: readonly Transferable[];
  readonly resolve: (value: unknown) => void;
  readonly reject: (error: Error) => void;
}

/**
 * A small worker_threads pool: one job per worker at a time, the rest wait in a FIFO queue. A worker
 * holds a reference on the event loop only while it runs a job, so an idle pool never keeps the process
 * alive. A worker that dies rejects its job and is replaced when the next job needs one.
 */
export class WorkerPool {
  readonly #options: PoolOptions;
  readonly #idle: Worker[] = [];
  readonly #busy = new Map<Worker, Job>();
  readonly #queue: Job[] = [];
  #closing: Promise<void> | undefined;

  constructor(options: PoolOptions) {
    this.#options = options;
  }

  /** Jobs queued or running. */
  get pending(): number {
    return this.#queue.length + this.#busy.size;
  }

  get closed(): boolean {
    return this.#closing !== undefined;
  }

  /** Posts `message` (transferring `transfer`) to a worker and resolves with the worker's reply. */
  run(message: unknown, transfer: readonly Transferable[] = []): Promise<unknown> {
    if (this.#closing !== undefined) return Promise.reject(this.#closedError());
    return new Promise<unknown>((resolve, reject) => {
      this.#queue.push({ message, transfer, resolve, reject });
      this.#dispatch();
    });
  }

  /** Rejects queued and running jobs and terminates every worker. Idempotent. */
  close(): Promise<void> {
    if (this.#closing !== undefined) return this.#closing;
    const error = this.#closedError();
    for (const job of this.#queue.splice(0)) job.reject(error);
    for (const job of this.#busy.values()) job.reject(error);
    const workers = [...this.#idle, ...this.#busy.keys()];
    this.#idle.length = 0;
    this.#busy.clear();
    this.#closing = Promise.all(workers.map((w) => w.terminate())).then(() => undefined);
    return this.#closing;
  }

  #closedError(): Error {
    return new Error(`${this.#options.name} is closed: no more asynchronous jobs are accepted`);
  }

  #dispatch(): void {
    while (this.#queue.length > 0) {
      let worker = this.#idle.pop();
      if (worker === undefined) {
        if (this.#busy.size >= this.#options.size) return;
        worker = this.#spawn();
      }
      const job = this.#queue.shift()!;
      this.#busy.set(worker, job);
      worker.ref();
      worker.postMessage(job.message, job.transfer);
    }
  }

  #spawn(): Worker {
    const worker = new Worker(this.#options.source, { eval: true, workerData: this.#options.workerData });
    let gone = false;
    const fail = (error: Error): void => {
      if (gone) return;
      gone = true;
      const idleAt = this.#idle.indexOf(worker);
      if (idleAt >= 0) this.#idle.splice(idleAt, 1);
      const job = this.#busy.get(worker);
      this.#busy.delete(worker);
      if (this.#closing !== undefined) return;
      job?.reject(new Error(`${this.#options.name}: worker thread died: ${error.message}`, { cause: error }));
      this.#dispatch();
    };
    worker.on("message", (reply: unknown) => {
      const job = this.#busy.get(worker);
      if (job === undefined) return;
      this.#busy.delete(worker);
      this.#idle.push(worker);
      job.resolve(reply);
      this.#dispatch();
      // Still idle after handing out the queue: let the process exit while nothing is pending.
      if (!this.#busy.has(worker)) worker.unref();
    });
    worker.on("error", fail);
    worker.on("exit", (code) => fail(new Error(`exited with code ${code}`)));
    return worker;
  }
}
