/** A counting semaphore whose waiters give up when their request is aborted. */
export class Slots {
  private free: number;
  private readonly queue: (() => void)[] = [];

  constructor(n: number) {
    this.free = n;
  }

  get waiting(): number {
    return this.queue.length;
  }

  async acquire(signal: AbortSignal): Promise<() => void> {
    if (this.free > 0) this.free--;
    else {
      await new Promise<void>((resolve, reject) => {
        const wake = () => {
          signal.removeEventListener("abort", abort);
          resolve();
        };
        const abort = () => {
          const i = this.queue.indexOf(wake);
          if (i >= 0) this.queue.splice(i, 1);
          reject(Object.assign(new Error("request aborted"), { name: "AbortError" }));
        };
        if (signal.aborted) return abort();
        signal.addEventListener("abort", abort, { once: true });
        this.queue.push(wake);
      });
    }
    let released = false;
    return () => {
      if (released) return;
      released = true;
      const next = this.queue.shift();
      // A slot passes straight to the next waiter; only with no waiter is it freed.
      if (next !== undefined) next();
      else this.free++;
    };
  }
}
