/** The machine-wide monotonic clock in ms (CLOCK_MONOTONIC: comparable across processes). */
export function monoMs(): number {
  return Number(process.hrtime.bigint()) / 1e6;
}

export function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, Math.max(0, ms)));
}

/** Runs `fn` up to `count` times while `budgetMs` lasts; returns how many times it ran. */
export async function repeatBounded(count: number, budgetMs: number, fn: (i: number) => Promise<void>): Promise<number> {
  const end = monoMs() + budgetMs;
  let i = 0;
  while (i < count && monoMs() < end) await fn(i++);
  return i;
}

/** Rejects after `ms` with a message naming `what`. */
export async function withDeadline<T>(promise: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const deadline = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`${what}: no result within ${ms} ms`)), ms);
  });
  try {
    return await Promise.race([promise, deadline]);
  } finally {
    clearTimeout(timer);
  }
}
