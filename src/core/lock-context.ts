import { S3LockLostError } from './errors';
import type { S3Lock, S3LockContext } from './lock-types';

/**
 * The context of one lease of `lock`, for `using()` callbacks and code under `@WithS3Lock()`.
 * `isHeld` and `check()` read the lease's local deadline at the moment they are called, so after
 * an event-loop stall past the deadline they turn false / throw synchronously, before the signal's
 * timer has had a chance to run. They stay tied to this lease: a later lease of the same instance
 * does not make them true again. `lock` must hold its lease when this is called.
 */
export function lockContext(lock: S3Lock): S3LockContext {
  const { name } = lock;
  const signal = lock.signal;
  const fencingToken = lock.fencingToken!;
  const held = (): boolean => !signal.aborted && lock.signal === signal && lock.isHeld;
  return {
    name,
    signal,
    fencingToken,
    get isHeld() {
      return held();
    },
    check() {
      if (held()) return;
      throw signal.aborted && signal.reason instanceof S3LockLostError ? signal.reason : new S3LockLostError(name, 'deadline-passed', fencingToken);
    },
    extend: () => lock.extend(),
  };
}
