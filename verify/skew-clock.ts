/**
 * Preloaded into a worker process (`-r`: the torture test's workers and the multi-process tests') to skew its wall clock by VERIFY_SKEW_MS: `Date.now()`
 * and `new Date()` are off by that much, as on a machine whose clock is wrong. Monotonic clocks
 * (performance.now, process.hrtime) are untouched, as on a real machine.
 */
const skewMs = Number(process.env.VERIFY_SKEW_MS ?? 0);
if (skewMs !== 0) {
  const RealDate = Date;
  class SkewedDate extends RealDate {
    constructor(...args: unknown[]) {
      if (args.length === 0) super(RealDate.now() + skewMs);
      else super(...(args as [string]));
    }
    static override now(): number {
      return RealDate.now() + skewMs;
    }
  }
  globalThis.Date = SkewedDate as DateConstructor;
}

export {};
