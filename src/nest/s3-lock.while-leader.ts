import { S3LockInvalidOptionsError } from '../core/errors';
import type { S3LockContext } from '../core/lock-types';
import { checkTtlOption } from './s3-lock-module-options';
import { S3_WHILE_LEADER_METADATA } from './s3-lock.constants';
import { checkMethodLockName } from './s3-lock.decorator';
import { leaderArgumentMessage, leaderNotAMethodMessage } from './s3-lock.messages';

/** Options of {@link WhileLeader}. */
export interface WhileLeaderOptions {
  /**
   * TTL of the term's lease, in ms (at least 2000): the lease renews itself about every
   * `ttlMs / 3` while this instance leads, and another instance takes over a leader that died
   * (without shutting down) this long after its last renewal.
   * @default the module's `defaults.ttlMs`, else its `ttlMs` (30000)
   */
  ttlMs?: number;
  /**
   * `false`: the method does not campaign (for a feature flag or an environment).
   * @default true
   */
  enabled?: boolean;
  /**
   * The election lock's `s3lock.name` in OpenTelemetry metrics and spans (see
   * `WithS3LockOptions.telemetryName`).
   * @default the static name; for a name function, the method's `Class.method`
   */
  telemetryName?: string;
}

/**
 * The election's name, or a function returning it, called once with `this` = the provider
 * instance when the application initializes (for a name from the instance's configuration).
 */
export type S3LeaderName = string | (() => string);

/** `@WhileLeader()` metadata stored on the method (read it with {@link getWhileLeaderMetadata}). */
export interface S3LeaderMethodMetadata {
  readonly name: S3LeaderName;
  readonly options: Readonly<WhileLeaderOptions>;
  /** `Class.method`, for messages. */
  readonly where: string;
}

/**
 * The method decorator's type: the method takes the term's context (or nothing) and may return
 * anything; a Promise keeps it running for as long as it likes, which the term does not wait for.
 */
export type S3LeaderMethodDecorator = <M extends (context: S3LockContext) => unknown>(
  target: object,
  propertyKey: string | symbol,
  descriptor: TypedPropertyDescriptor<M>,
) => TypedPropertyDescriptor<M>;

/**
 * Runs the method on exactly one instance of the application at a time: the leader of the
 * election `name`. At application bootstrap (after the store probe passed) the module starts a
 * campaign for each such method of a singleton provider or controller (`S3LockService.elect()`);
 * each time this instance becomes leader it calls the method with the term's context:
 *
 * ```ts
 * @Injectable()
 * export class QueueConsumer {
 *   @WhileLeader('queue-consumer')
 *   async consume({ signal, fencingToken }: S3LockContext): Promise<void> {
 *     while (!signal.aborted) await this.queue.take({ signal, fencingToken });
 *   }
 * }
 * ```
 *
 * - The context's `signal` aborts when the term ends: the lease was lost (`S3LockLostError`),
 *   or the instance resigned (reason `'resigned'`: the application is shutting down). The method
 *   should stop its work then; the term does not wait for the returned Promise.
 * - If the method throws or rejects, this instance resigns (reason `'failed'`, logged at `warn`)
 *   and campaigns again after a pause (the module's `maxPollIntervalMs`).
 * - Inside the method, `currentS3Lock()` and `S3LockService.current()` give the term's context.
 * - At shutdown (`beforeApplicationShutdown`) every campaign resigns (`election.stop()`) before the
 *   manager closes: another instance leads at its next poll instead of after a TTL.
 * - `S3LockHealthIndicator` lists the election with whether this instance leads.
 *
 * The decorator does not change the method: called directly, it runs as written. Request-scoped
 * and transient providers do not campaign (logged at `warn`). A static name is validated when
 * the class is defined; a name function's result when the application initializes; an invalid one
 * throws `S3LockInvalidOptionsError` naming `Class.method`.
 *
 * @param name the election's name (its lock's name), or a function returning it (see
 * {@link S3LeaderName})
 * @param options see {@link WhileLeaderOptions} (default `{}`)
 */
export function WhileLeader(name: S3LeaderName, options: WhileLeaderOptions = {}): S3LeaderMethodDecorator {
  return <M extends (context: S3LockContext) => unknown>(target: object, propertyKey: string | symbol, descriptor: TypedPropertyDescriptor<M>): TypedPropertyDescriptor<M> => {
    const className = typeof target === 'function' ? target.name : target.constructor.name;
    const where = `${className}.${String(propertyKey)}`;
    const method = descriptor.value as unknown;
    if (typeof method !== 'function' || typeof target === 'function') throw new TypeError(leaderNotAMethodMessage(where));
    checkLeaderArguments(where, name, options);
    const metadata: S3LeaderMethodMetadata = Object.freeze({ name, options: Object.freeze({ ...options }), where });
    Reflect.defineMetadata(S3_WHILE_LEADER_METADATA, metadata, method);
    return descriptor;
  };
}

/** The `@WhileLeader()` metadata of a method, or `undefined`. */
export function getWhileLeaderMetadata(method: unknown): S3LeaderMethodMetadata | undefined {
  if (typeof method !== 'function') return undefined;
  return Reflect.getMetadata(S3_WHILE_LEADER_METADATA, method) as S3LeaderMethodMetadata | undefined;
}

/**
 * The election's name of a `@WhileLeader()` method on `instance` (a name function is called with
 * `this` = the instance), checked; throws `S3LockInvalidOptionsError` naming `Class.method`.
 */
export function leaderName(metadata: S3LeaderMethodMetadata, instance: object): string {
  const name: unknown = typeof metadata.name === 'function' ? metadata.name.call(instance) : metadata.name;
  return atLeader(metadata.where, () => checkMethodLockName(name));
}

function checkLeaderArguments(where: string, name: unknown, options: WhileLeaderOptions): void {
  if (typeof name === 'string') atLeader(where, () => checkMethodLockName(name));
  else if (typeof name !== 'function') throw new S3LockInvalidOptionsError('name', leaderArgumentMessage(where, `the election's name must be a non-empty string or a function returning one, got ${typeof name}`));
  const label = typeof name === 'string' ? name : undefined;
  if (options === null || typeof options !== 'object') {
    throw new S3LockInvalidOptionsError('options', leaderArgumentMessage(where, `the options must be an object, got ${String(options)}`), label);
  }
  atLeader(where, () => {
    if (options.ttlMs !== undefined) checkTtlOption('ttlMs', options.ttlMs, label);
    if (options.telemetryName !== undefined && typeof options.telemetryName !== 'string') {
      throw new S3LockInvalidOptionsError('telemetryName', `must be a string, got ${typeof options.telemetryName}`, label);
    }
    if (options.enabled !== undefined && typeof options.enabled !== 'boolean') {
      throw new S3LockInvalidOptionsError('enabled', `must be a boolean, got ${String(options.enabled)}`, label);
    }
  });
}

/** Runs a check, rethrowing its `S3LockInvalidOptionsError` with a message that names `@WhileLeader() on Class.method`. */
function atLeader<T>(where: string, check: () => T): T {
  try {
    return check();
  } catch (error) {
    if (!(error instanceof S3LockInvalidOptionsError)) throw error;
    throw new S3LockInvalidOptionsError(error.option, leaderArgumentMessage(where, error.rule), error.lockName);
  }
}
