import { S3LockInvalidOptionsError, S3LockLostError, S3LockTimeoutError } from './errors';
import { lockContext } from './lock-context';
import type { S3Lock, S3LockContext, S3MultiLockContext } from './lock-types';
import type { MonotonicClock } from './server-clock';

/** The names of a multi-name `using()`: each checked by the caller, sorted, without duplicates (the canonical order). */
export function canonicalNames(names: readonly string[]): string[] {
  if (!Array.isArray(names) || names.length === 0) throw new S3LockInvalidOptionsError('name', 'a multi-name using() needs at least one name');
  return [...new Set(names)].sort();
}

/**
 * Takes every lock of `locks` (in the canonical order they come in), or none:
 * - each attempt takes the locks one after another without waiting; if one is held elsewhere,
 *   everything taken is released before anything is waited for;
 * - then it waits for that one lock alone (holding nothing else), and from it tries the others
 *   again, until `waitMs` has passed.
 *
 * So it never holds one name while it waits for another: two callers that want the same names in
 * any order cannot deadlock (and the canonical order makes it rare that they even collide).
 * Rejects with the {@link S3LockTimeoutError} of the name it could not get.
 */
export async function acquireAll(
  locks: readonly S3Lock[],
  options: { readonly waitMs: number; readonly signal?: AbortSignal | undefined },
  mono: MonotonicClock,
  releaseQuietly: (lock: S3Lock) => Promise<void>,
): Promise<void> {
  const started = mono.now();
  let first: S3Lock | undefined; // the lock to wait for first, once one was found held
  for (;;) {
    options.signal?.throwIfAborted();
    const taken: S3Lock[] = [];
    let blocked: { lock: S3Lock; error: unknown } | undefined;
    try {
      if (first) {
        const remaining = Math.max(0, options.waitMs - (mono.now() - started));
        await first.acquire({ waitMs: remaining, signal: options.signal });
        taken.push(first);
      }
      for (const lock of locks) {
        if (lock === first) continue;
        try {
          await lock.acquire({ waitMs: 0 });
          taken.push(lock);
        } catch (error) {
          if (!(error instanceof S3LockTimeoutError)) throw error;
          blocked = { lock, error };
          break;
        }
      }
    } catch (error) {
      await Promise.all(taken.map(releaseQuietly));
      throw error;
    }
    if (!blocked) return;
    await Promise.all(taken.map(releaseQuietly));
    if (mono.now() - started >= options.waitMs) {
      const e = blocked.error as S3LockTimeoutError;
      throw new S3LockTimeoutError(e.lockName!, Math.round(mono.now() - started), e.holder);
    }
    first = blocked.lock;
  }
}

/** The context of leases held together on `locks` (each must hold its lease). */
export function multiLockContext(locks: readonly S3Lock[]): S3MultiLockContext & { dispose(): void } {
  const leases: Record<string, S3LockContext> = {};
  const fencingTokens: Record<string, number> = {};
  for (const lock of locks) {
    const ctx = lockContext(lock);
    leases[lock.name] = ctx;
    fencingTokens[lock.name] = ctx.fencingToken;
  }
  const contexts = Object.values(leases);
  const controller = new AbortController();
  const unsubscribe: Array<() => void> = [];
  for (const ctx of contexts) {
    const onAbort = (): void => controller.abort(ctx.signal.reason);
    if (ctx.signal.aborted) onAbort();
    else {
      ctx.signal.addEventListener('abort', onAbort, { once: true });
      unsubscribe.push(() => ctx.signal.removeEventListener('abort', onAbort));
    }
  }
  return {
    names: locks.map((l) => l.name),
    signal: controller.signal,
    fencingTokens,
    leases,
    get isHeld() {
      return contexts.every((c) => c.isHeld);
    },
    check() {
      for (const c of contexts) c.check();
      if (controller.signal.aborted) {
        const reason: unknown = controller.signal.reason;
        throw reason instanceof S3LockLostError ? reason : new S3LockLostError(locks[0]!.name, 'deadline-passed', fencingTokens[locks[0]!.name]!);
      }
    },
    extend: async () => {
      await Promise.all(contexts.map((c) => c.extend()));
    },
    dispose: () => {
      for (const u of unsubscribe) u();
    },
  };
}
