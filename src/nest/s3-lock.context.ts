import { AsyncLocalStorage } from 'node:async_hooks';
import type { S3LockContext, S3MultiLockContext } from '../core/lock-types';

/**
 * What a frame holds: `'lock'` for lock names (a lock, several names at once, or an election's
 * term), `'semaphore'` for one permit of a semaphore. A lock and a semaphore of the same name are
 * different things in the store, so a held frame is reused only by a request of the same kind.
 */
export type LockFrameKind = 'lock' | 'semaphore';

/** One hold of the current async flow (one name, or several taken together), innermost first. */
export interface LockFrame {
  /** The S3LockService (one per application) whose manager holds the lock. */
  readonly owner: object;
  readonly kind: LockFrameKind;
  /** The names held: one, or those of a multi-name hold in their canonical order. */
  readonly names: readonly string[];
  /** What {@link currentS3Lock} gives without a name (for a multi-name hold: see {@link multiHoldContext}). */
  readonly context: S3LockContext;
  /** The context of a multi-name hold. */
  readonly multi: S3MultiLockContext | undefined;
  readonly parent: LockFrame | undefined;
}

/** A frame to push, without its owner and parent. */
export type LockHold = Pick<LockFrame, 'kind' | 'names' | 'context' | 'multi'>;

/** The hold of one lock (or of an election's term). */
export function singleHold(context: S3LockContext, kind: LockFrameKind = 'lock'): LockHold {
  return { kind, names: [context.name], context, multi: undefined };
}

/** The hold of several names taken together. */
export function multiHold(multi: S3MultiLockContext): LockHold {
  return { kind: 'lock', names: multi.names, context: multiHoldContext(multi), multi };
}

/**
 * The single-lock view of a multi-name hold: `name` and `fencingToken` are the first name's (in
 * canonical order); `signal`, `isHeld`, `check()` and `extend()` cover every name.
 */
export function multiHoldContext(multi: S3MultiLockContext): S3LockContext {
  const first = multi.leases[multi.names[0]!]!;
  return {
    name: first.name,
    signal: multi.signal,
    fencingToken: first.fencingToken,
    get isHeld() {
      return multi.isHeld;
    },
    check: () => multi.check(),
    extend: () => multi.extend(),
  };
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

/**
 * The innermost frame of `owner` (any owner when omitted) holding `name` (any name when omitted),
 * of `kind` (any kind when omitted).
 */
export function findFrame(owner: object | undefined, name: string | undefined, kind?: LockFrameKind): LockFrame | undefined {
  for (let f = storage.getStore()?.top; f; f = f.parent) {
    if ((owner === undefined || f.owner === owner) && (kind === undefined || f.kind === kind) && (name === undefined || f.names.includes(name))) return f;
  }
  return undefined;
}

/** The innermost multi-name frame of `owner` (any owner when omitted). */
export function findMultiFrame(owner: object | undefined): LockFrame | undefined {
  for (let f = storage.getStore()?.top; f; f = f.parent) {
    if ((owner === undefined || f.owner === owner) && f.multi !== undefined) return f;
  }
  return undefined;
}

/** The context a frame gives for `name`: that name's own lease in a multi-name hold, else the frame's context. */
export function contextIn(frame: LockFrame, name: string | undefined): S3LockContext {
  return (name === undefined ? undefined : frame.multi?.leases[name]) ?? frame.context;
}

/** Runs `fn` with one lock's `context` pushed on the current flow's locks (and no handler scope). */
export function runWithLock<T>(owner: object, context: S3LockContext, fn: () => T): T {
  return runWithHold(owner, singleHold(context), fn);
}

/** Runs `fn` with `hold` pushed on the current flow's locks (and no handler scope). */
export function runWithHold<T>(owner: object, hold: LockHold, fn: () => T): T {
  const top: LockFrame = { owner, ...hold, parent: storage.getStore()?.top };
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
 * `tryUsing()`, or in a `@WhileLeader()` method's term: the innermost hold of this async flow, or
 * the one holding `name`. `undefined` outside a lock.
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
 *
 * - Under a semaphore (`@WithS3Lock(name, { permits })`): `name` is the semaphore's name, and
 *   `fencingToken` the token of the permit held (tokens increase per permit, not across permits).
 * - Under several names (`@WithS3Lock([a, b])`): without `name`, a context whose `name` and
 *   `fencingToken` are the first name's in canonical order (sorted), and whose `signal` (aborts when
 *   any lease is lost), `isHeld`, `check()` and `extend()` cover every name; with `name`, that
 *   name's own lease. {@link currentS3MultiLock} gives every name's token.
 * - In a `@WhileLeader()` method: the term's context (its `signal` aborts when the term ends).
 */
export function currentS3Lock(name?: string): S3LockContext | undefined {
  const frame = findFrame(undefined, name);
  return frame && contextIn(frame, name);
}

/**
 * The context of the innermost multi-name hold of this async flow (`@WithS3Lock([a, b])`, or a
 * name function returning an array): `names` (canonical order), `fencingTokens` and `leases` per
 * name, a `signal` that aborts when any lease is lost, `isHeld`, `check()`, `extend()`.
 * `undefined` outside one (under a single lock, use {@link currentS3Lock}).
 *
 * ```ts
 * @WithS3Lock((from: string, to: string) => [`account:${from}`, `account:${to}`])
 * async transfer(from: string, to: string, amount: number) {
 *   const { fencingTokens, signal } = currentS3MultiLock()!;
 *   await this.ledger.move(from, to, amount, { fencingTokens, signal });
 * }
 * ```
 */
export function currentS3MultiLock(): S3MultiLockContext | undefined {
  return findMultiFrame(undefined)?.multi;
}
