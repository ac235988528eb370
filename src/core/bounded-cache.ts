import type { MonotonicClock } from './server-clock';

/** A sweep timer never fires sooner than this after it was armed (expiry is coarse; wake-ups are few). */
const MIN_SWEEP_DELAY_MS = 1_000;

/**
 * A per-name cache of the engine: at most `maxEntries` entries, each dropped once it is older than
 * `maxAgeMs` on the manager's monotonic clock (its age counts from its last `set` or `touch`).
 * Only for state whose loss costs requests, never safety: a dropped entry is read again from the
 * store. Expired entries are swept as new ones arrive and by one unref'd timer while any are
 * kept, so an idle manager keeps nothing and no timer.
 */
export class BoundedCache<K, V> {
  /** Insertion order is age order: `set` and `touch` move an entry to the end. */
  private readonly entries = new Map<K, { value: V; at: number }>();
  private timer: NodeJS.Timeout | undefined;

  constructor(
    private readonly maxEntries: number,
    private readonly maxAgeMs: number,
    private readonly mono: MonotonicClock,
  ) {}

  /** The entry's value, unless it has expired (an expired entry is dropped). */
  get(key: K): V | undefined {
    const entry = this.entries.get(key);
    if (!entry) return undefined;
    if (this.mono.now() - entry.at > this.maxAgeMs) {
      this.entries.delete(key);
      return undefined;
    }
    return entry.value;
  }

  /** Like `get`, and restarts the entry's age. */
  touch(key: K): V | undefined {
    const value = this.get(key);
    if (value !== undefined) this.set(key, value);
    return value;
  }

  set(key: K, value: V): void {
    this.entries.delete(key);
    this.entries.set(key, { value, at: this.mono.now() });
    while (this.entries.size > this.maxEntries) this.entries.delete(this.entries.keys().next().value!);
    this.sweep();
  }

  delete(key: K): void {
    this.entries.delete(key);
  }

  /** Entries kept now (after dropping the expired ones). */
  get size(): number {
    this.sweep();
    return this.entries.size;
  }

  /** Drops expired entries (oldest first) and arms the timer for the next one to expire. */
  sweep(): void {
    const now = this.mono.now();
    for (const [key, entry] of this.entries) {
      if (now - entry.at <= this.maxAgeMs) break;
      this.entries.delete(key);
    }
    this.arm(now);
  }

  private arm(now: number): void {
    if (this.timer || this.entries.size === 0) return;
    const oldest = this.entries.values().next().value!;
    const delay = Math.max(MIN_SWEEP_DELAY_MS, oldest.at + this.maxAgeMs - now + 1);
    this.timer = setTimeout(() => {
      this.timer = undefined;
      this.sweep();
    }, delay);
    this.timer.unref?.();
  }
}
