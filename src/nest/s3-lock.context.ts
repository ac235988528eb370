import { AsyncLocalStorage } from 'node:async_hooks';
import type { S3LockContext } from '../core/lock-types';

/** One lock held by the current async flow, innermost first. */
export interface LockFrame {
  /** The S3LockService (one per application) whose manager holds the lock. */
  readonly owner: object;
  readonly context: S3LockContext;
  readonly parent: LockFrame | undefined;
}

/**
 * Left by the interceptor for the handler it runs: the handler's wrapper takes it (once) and then
 * returns an Observable that holds the lock until it completes, errors or is unsubscribed.
 */
export interface HandlerScope {
  /** The `@WithS3Lock()` metadata of the handler the interceptor runs. */
  readonly metadata: object;
  taken: boolean;
}

interface LockStore {
  readonly top: LockFrame | undefined;
  readonly handlerScope: HandlerScope | undefined;
}

/** One storage per process, even if the library is loaded twice (dual packages, test runners). */
const STORAGE_KEY = Symbol.for('nestjs-s3-lock.async-local-storage');
const storage: AsyncLocalStorage<LockStore> = ((globalThis as Record<symbol, unknown>)[STORAGE_KEY] as AsyncLocalStorage<LockStore> | undefined) ??
  ((globalThis as Record<symbol, unknown>)[STORAGE_KEY] = new AsyncLocalStorage<LockStore>()) as AsyncLocalStorage<LockStore>;

/** The innermost frame of `owner` (any owner when omitted) for `name` (any name when omitted). */
export function findFrame(owner: object | undefined, name: string | undefined): LockFrame | undefined {
  for (let f = storage.getStore()?.top; f; f = f.parent) {
    if ((owner === undefined || f.owner === owner) && (name === undefined || f.context.name === name)) return f;
  }
  return undefined;
}

/** Runs `fn` with `context` pushed on the current flow's locks (and no handler scope). */
export function runWithLock<T>(owner: object, context: S3LockContext, fn: () => T): T {
  const top: LockFrame = { owner, context, parent: storage.getStore()?.top };
  return storage.run({ top, handlerScope: undefined }, fn);
}

/** Runs `fn` (the interceptor's `next.handle()`) with a handler scope for `metadata`. */
export function runInHandlerScope<T>(metadata: object, fn: () => T): T {
  return storage.run({ top: storage.getStore()?.top, handlerScope: { metadata, taken: false } }, fn);
}

/** True, once, when the interceptor left a scope for a handler with this metadata. */
export function takeHandlerScope(metadata: object): boolean {
  const scope = storage.getStore()?.handlerScope;
  if (!scope || scope.taken || scope.metadata !== metadata) return false;
  scope.taken = true;
  return true;
}

/** Runs `fn` outside any handler scope (keeps the held locks). */
export function runOutsideHandlerScope<T>(fn: () => T): T {
  const store = storage.getStore();
  if (!store?.handlerScope) return fn();
  return storage.run({ top: store.top, handlerScope: undefined }, fn);
}

/**
 * The lock context of the code running now under `@WithS3Lock()`, `S3LockService.using()` or
 * `tryUsing()`: the innermost lock of this async flow, or the one named `name`. `undefined`
 * outside a lock.
 *
 * ```ts
 * @WithS3Lock('nightly-report')
 * async report() {
 *   const { signal, fencingToken, check } = currentS3Lock()!;
 *   await this.db.write(rows, { fencingToken, signal });
 *   check(); // throws S3LockLostError once the lease's deadline has passed
 *   await this.mailer.send(summary); // unfenced: send it in the same tick as the check
 * }
 * ```
 */
export function currentS3Lock(name?: string): S3LockContext | undefined {
  return findFrame(undefined, name)?.context;
}
