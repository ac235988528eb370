import { BACKGROUND, RELEASE, RequestSlots, type SlotPriority } from './request-slots';

/** A task that runs until the test lets it finish, recording when it started. */
function gate(order: string[], label: string): { task: () => Promise<string>; finish(): void } {
  let finish!: () => void;
  const done = new Promise<void>((resolve) => (finish = resolve));
  return {
    task: async () => {
      order.push(label);
      await done;
      return label;
    },
    finish: () => finish(),
  };
}

const flush = (): Promise<void> => new Promise((resolve) => setImmediate(resolve));

describe('RequestSlots', () => {
  it('runs at most `limit` operations at once; the rest start as slots free up', async () => {
    const order: string[] = [];
    const slots = new RequestSlots(2, () => 0);
    const gates = ['a', 'b', 'c', 'd'].map((l) => gate(order, l));
    const runs = gates.map((g) => slots.run(BACKGROUND, g.task));
    await flush();
    expect(order).toEqual(['a', 'b']);
    expect([slots.inFlight, slots.queued]).toEqual([2, 2]);
    gates[0]!.finish();
    await flush();
    expect(order).toEqual(['a', 'b', 'c']);
    expect([slots.inFlight, slots.queued]).toEqual([2, 1]);
    for (const g of gates) g.finish();
    await expect(Promise.all(runs)).resolves.toEqual(['a', 'b', 'c', 'd']);
    expect([slots.inFlight, slots.queued]).toEqual([0, 0]);
  });

  it('gives a freed slot to the renewal closest to its deadline, then releases, then everything else in arrival order', async () => {
    const order: string[] = [];
    const now = 1_000;
    const slots = new RequestSlots(1, () => now);
    const blocker = gate(order, 'blocker');
    const first = slots.run(BACKGROUND, blocker.task);
    await flush();
    const queued: Array<[string, SlotPriority]> = [
      ['poll-1', BACKGROUND],
      ['renew-late', { kind: 'renewal', deadline: 5_000 }],
      ['release', RELEASE],
      ['renew-soon', { kind: 'renewal', deadline: 2_000 }],
      ['poll-2', BACKGROUND],
      ['renew-mid', { kind: 'renewal', deadline: 3_000 }],
    ];
    const runs = queued.map(([label, priority]) => slots.run(priority, async () => void order.push(label)));
    blocker.finish();
    await Promise.all([first, ...runs]);
    // the release was queued at t=1000, before every deadline still to come
    expect(order).toEqual(['blocker', 'release', 'renew-soon', 'renew-mid', 'renew-late', 'poll-1', 'poll-2']);
  });

  it('a failing operation frees its slot', async () => {
    const slots = new RequestSlots(1, () => 0);
    await expect(slots.run(BACKGROUND, () => Promise.reject(new Error('store down')))).rejects.toThrow('store down');
    await expect(slots.run(BACKGROUND, () => Promise.resolve(7))).resolves.toBe(7);
    expect([slots.inFlight, slots.queued]).toEqual([0, 0]);
  });

  it('keeps its order over many operations (heap order against a sorted reference)', async () => {
    const order: number[] = [];
    const slots = new RequestSlots(1, () => 0);
    const blocker = gate([], 'blocker');
    const first = slots.run(BACKGROUND, blocker.task);
    await flush();
    const deadlines = Array.from({ length: 500 }, (_, i) => (i * 7919) % 1009);
    const runs = deadlines.map((deadline) => slots.run({ kind: 'renewal', deadline }, async () => void order.push(deadline)));
    blocker.finish();
    await Promise.all([first, ...runs]);
    expect(order).toEqual([...deadlines].sort((a, b) => a - b));
  });

  it('once closing, attempts and polls already waiting run in arrival order with the releases, ahead of later renewals', async () => {
    const order: string[] = [];
    let now = 1_000;
    const slots = new RequestSlots(1, () => now);
    const blocker = gate(order, 'blocker');
    const first = slots.run(BACKGROUND, blocker.task);
    await flush();
    const runs = [slots.run(BACKGROUND, async () => void order.push('poll')), slots.run({ kind: 'renewal', deadline: 3_000 }, async () => void order.push('renew'))];
    now = 1_500;
    slots.close();
    runs.push(slots.run({ kind: 'renewal', deadline: 2_500 }, async () => void order.push('renew-later-queued')));
    blocker.finish();
    await Promise.all([first, ...runs]);
    expect(order).toEqual(['blocker', 'poll', 'renew-later-queued', 'renew']);
  });
});
