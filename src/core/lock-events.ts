import type { S3LockEventName, S3LockEvents } from './lock-types';
import type { S3LockLogger } from './lock-options';

type Listener<E extends S3LockEventName> = (payload: S3LockEvents[E]) => void;

/**
 * A small typed event hub. Listeners run synchronously; a listener that throws is logged and
 * never disturbs the lock. There is no `error` event, so nothing can crash for want of a listener.
 */
export class LockEvents {
  private readonly listeners = new Map<S3LockEventName, Set<(payload: never) => void>>();

  constructor(private readonly logger: S3LockLogger | undefined) {}

  /** Subscribes; returns the function that unsubscribes. */
  on<E extends S3LockEventName>(event: E, listener: Listener<E>): () => void {
    let set = this.listeners.get(event);
    if (!set) this.listeners.set(event, (set = new Set()));
    const registered = set;
    registered.add(listener as (payload: never) => void);
    return () => {
      registered.delete(listener as (payload: never) => void);
    };
  }

  emit<E extends S3LockEventName>(event: E, payload: S3LockEvents[E]): void {
    const set = this.listeners.get(event) as Set<Listener<E>> | undefined;
    if (!set) return;
    for (const listener of [...set]) {
      try {
        listener(payload);
      } catch (error) {
        this.logger?.error(`s3-lock: a "${event}" listener threw: ${error instanceof Error ? error.stack ?? error.message : String(error)}`);
      }
    }
  }
}
