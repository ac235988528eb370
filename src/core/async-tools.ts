/** Resolves after `ms`, or early (without rejecting) when `signal` aborts. */
export function sleep(ms: number, signal?: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    if (signal?.aborted) return resolve();
    const timer = setTimeout(done, Math.max(0, ms));
    function done(): void {
      clearTimeout(timer);
      signal?.removeEventListener('abort', done);
      resolve();
    }
    signal?.addEventListener('abort', done, { once: true });
  });
}

/** `ms` with +/- `fraction` random jitter. */
export function jitter(ms: number, fraction = 0.25): number {
  return Math.max(1, Math.round(ms * (1 - fraction + Math.random() * 2 * fraction)));
}

/** Runs tasks one at a time, in call order. A failed task does not block the next. */
export class SerialQueue {
  private tail: Promise<unknown> = Promise.resolve();

  run<T>(task: () => Promise<T>): Promise<T> {
    const result = this.tail.then(task, task);
    this.tail = result.catch(() => undefined);
    return result;
  }
}

/** A promise that can be resolved from outside, for one-shot notifications. */
export class Notifier {
  private waiters: Array<() => void> = [];

  wait(ms: number): Promise<void> {
    return new Promise((resolve) => {
      const timer = setTimeout(fire, Math.max(0, ms));
      // A poller's sleep must not keep the process alive on its own.
      timer.unref?.();
      const waiters = this.waiters;
      function fire(): void {
        clearTimeout(timer);
        const i = waiters.indexOf(fire);
        if (i >= 0) waiters.splice(i, 1);
        resolve();
      }
      waiters.push(fire);
    });
  }

  notify(): void {
    const waiters = this.waiters.splice(0);
    for (const w of waiters) w();
  }
}
