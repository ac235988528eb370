/**
 * How urgent a store operation is, when it must wait for a request slot:
 * - `renewal`: a held lease's renewal, ordered by the lease's local deadline (closest first);
 * - `release`: a release or hand-off (it ends a lease, so it lowers the load), in arrival order,
 *   ahead of every renewal whose deadline is still to come;
 * - `background`: everything else (attempts to acquire, polls of waiters, reads), in arrival order,
 *   after all of the above.
 */
export type SlotPriority = { readonly kind: 'renewal'; readonly deadline: number } | { readonly kind: 'release' } | { readonly kind: 'background' };

export const BACKGROUND: SlotPriority = { kind: 'background' };
export const RELEASE: SlotPriority = { kind: 'release' };

interface Waiting {
  /** 0 for renewals and releases (ordered by `key`), 1 for the rest (ordered by arrival). */
  rank: 0 | 1;
  key: number;
  /** When it started waiting. */
  readonly at: number;
  readonly seq: number;
  readonly start: () => void;
}

/**
 * A manager's budget of store operations in flight. At most `limit` operations (a renewal, an
 * attempt, a release: one to three requests each) run at once; the rest wait here in priority
 * order instead of in the HTTP client's socket queue, where every request would wait behind every
 * other one. Past a store's capacity this keeps the leases closest to their deadline renewing and
 * delays new acquisitions first, so that overload degrades lease by lease instead of all at once.
 *
 * A waiting operation has not been sent: its time in this queue is never counted as store time
 * (a renewal's new deadline is measured from when it was sent).
 */
export class RequestSlots {
  private running = 0;
  private seq = 0;
  private closing = false;
  private readonly heap: Waiting[] = [];

  constructor(
    readonly limit: number,
    private readonly now: () => number,
  ) {}

  /** Operations running now. */
  get inFlight(): number {
    return this.running;
  }

  /** Operations waiting for a slot. */
  get queued(): number {
    return this.heap.length;
  }

  /**
   * The manager is closing: from now on everything runs in arrival order with the releases, ahead
   * of renewals still to come, so that `close()`, which waits for attempts and polls in flight,
   * cannot wait behind renewals for ever.
   */
  close(): void {
    this.closing = true;
    for (const w of this.heap) {
      if (w.rank === 1) {
        w.rank = 0;
        w.key = w.at;
      }
    }
    this.heap.sort((a, b) => (before(a, b) ? -1 : 1)); // a sorted array is a heap
  }

  /** Runs `task` once a slot is free, in the order of `priority`. */
  async run<T>(priority: SlotPriority, task: () => Promise<T>): Promise<T> {
    if (this.running < this.limit && this.heap.length === 0) {
      this.running++;
    } else {
      // the slot is handed over by the operation that frees it (`running` stays counted)
      await new Promise<void>((start) => this.push(this.entry(priority, start)));
    }
    try {
      return await task();
    } finally {
      const next = this.pop();
      if (next) next.start();
      else this.running--;
    }
  }

  private entry(priority: SlotPriority, start: () => void): Waiting {
    const seq = this.seq++;
    const at = this.now();
    switch (priority.kind) {
      case 'renewal':
        return { rank: 0, key: priority.deadline, at, seq, start };
      case 'release':
        return { rank: 0, key: at, at, seq, start };
      case 'background':
        return this.closing ? { rank: 0, key: at, at, seq, start } : { rank: 1, key: seq, at, seq, start };
    }
  }

  private push(entry: Waiting): void {
    const heap = this.heap;
    heap.push(entry);
    let i = heap.length - 1;
    while (i > 0) {
      const parent = (i - 1) >> 1;
      if (!before(heap[i]!, heap[parent]!)) break;
      [heap[i], heap[parent]] = [heap[parent]!, heap[i]!];
      i = parent;
    }
  }

  private pop(): Waiting | undefined {
    const heap = this.heap;
    const top = heap[0];
    const last = heap.pop();
    if (top === undefined || last === undefined || heap.length === 0) return top;
    heap[0] = last;
    let i = 0;
    for (;;) {
      const l = 2 * i + 1;
      const r = l + 1;
      let m = i;
      if (l < heap.length && before(heap[l]!, heap[m]!)) m = l;
      if (r < heap.length && before(heap[r]!, heap[m]!)) m = r;
      if (m === i) return top;
      [heap[i], heap[m]] = [heap[m]!, heap[i]!];
      i = m;
    }
  }
}

function before(a: Waiting, b: Waiting): boolean {
  if (a.rank !== b.rank) return a.rank < b.rank;
  if (a.key !== b.key) return a.key < b.key;
  return a.seq < b.seq;
}
