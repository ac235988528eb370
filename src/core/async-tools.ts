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

/** The longest delay `setTimeout` honours; a longer one fires at once (with a warning). */
export const MAX_TIMER_MS = 2_147_483_647;

/**
 * Calls `fn` after `ms` (any length: chained past {@link MAX_TIMER_MS}), on an unref'd timer that
 * does not keep the process alive by itself. Returns the function that cancels it.
 */
export function unrefTimeout(fn: () => void, ms: number): () => void {
  let timer: NodeJS.Timeout | undefined;
  const until = performance.now() + ms;
  const arm = (left: number): void => {
    timer = setTimeout(() => {
      const rest = until - performance.now();
      if (left > MAX_TIMER_MS && rest > 0) arm(rest);
      else fn();
    }, Math.min(Math.max(0, left), MAX_TIMER_MS));
    timer.unref?.();
  };
  arm(ms);
  return () => clearTimeout(timer);
}

/**
 * A ref'd handle held while there is work that must keep the process alive (as a pending socket
 * would): `hold()` when it starts, `let()` when it ends.
 */
export class KeepAlive {
  private handle: NodeJS.Timeout | undefined;

  hold(): void {
    this.handle ??= setInterval(() => undefined, MAX_TIMER_MS);
  }

  let(): void {
    if (this.handle) clearInterval(this.handle);
    this.handle = undefined;
  }
}
