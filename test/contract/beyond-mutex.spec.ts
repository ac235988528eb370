/**
 * Semaphores, multi-name using() and leader election, on every store and both protocols, in one
 * process (several managers, each a holder with its own id). The same properties across processes
 * are in beyond-mutex-processes.spec.ts.
 */
import type { S3Client } from '@aws-sdk/client-s3';
import {
  S3LockInvalidOptionsError,
  S3LockManager,
  S3LockPermitsMismatchError,
  S3LockTimeoutError,
  type S3LeadershipEndReason,
  type S3LockManagerOptions,
} from '../../src';
import { PROTOCOL_CASES } from '../support/protocol-cases';
import { storeTarget, type StoreTarget } from '../support/store-target';

const TTL = 3_000;

let target: StoreTarget;
beforeAll(async () => {
  target = await storeTarget();
});
afterAll(() => target?.close());

describe.each(PROTOCOL_CASES)('beyond one mutex ($protocol)', ({ protocol, versioned }) => {
  let bucket: string;
  let client: S3Client;
  const managers: S3LockManager[] = [];
  let prefixes = 0;
  /** Managers on a prefix of their own per test (each test's names start from nothing). */
  const group = (n: number, extra: Partial<S3LockManagerOptions> = {}): S3LockManager[] => {
    const prefix = `bm-${++prefixes}/`;
    return Array.from({ length: n }, () => {
      const m = new S3LockManager({ client, bucket, protocol, prefix, ttlMs: TTL, waitMs: 10_000, ...extra });
      managers.push(m);
      return m;
    });
  };

  beforeAll(async () => {
    bucket = await target.createBucket({ versioned });
    client = target.createClient();
  });
  afterAll(async () => {
    await Promise.all(managers.map((m) => m.close()));
  });

  describe('semaphore', () => {
    it('lets `permits` holders in at once and no more, each with a permit of its own', async () => {
      const [a, b, c] = group(3);
      const sa = a!.semaphore('reports', { permits: 2 });
      const sb = b!.semaphore('reports', { permits: 2 });
      const sc = c!.semaphore('reports', { permits: 2 });
      expect(await sa.tryAcquire()).toBe(true);
      expect(await sb.tryAcquire()).toBe(true);
      expect(await sc.tryAcquire()).toBe(false);
      expect(sc.isHeld).toBe(false);
      expect(sc.permit).toBeUndefined();
      expect(new Set([sa.permit, sb.permit])).toEqual(new Set([0, 1]));
      expect(typeof sa.fencingToken).toBe('number');
      expect(sa.signal.aborted).toBe(false);
      await expect(sc.acquire({ waitMs: 600 })).rejects.toBeInstanceOf(S3LockTimeoutError);
      // a release lets a waiter in, on the permit that was given back
      const freed = sa.permit;
      const waiting = sc.acquire({ waitMs: 10_000 });
      await sa.release();
      await waiting;
      expect(sc.permit).toBe(freed);
      expect(sa.isHeld).toBe(false);
      await sb.release();
      await sc.release();
    });

    it('gives each permit strictly increasing fencing tokens of its own', async () => {
      const [a] = group(1);
      const tokens: Record<number, number[]> = {};
      const s = a!.semaphore('tokens', { permits: 2 });
      for (let i = 0; i < 6; i++) {
        await s.acquire();
        (tokens[s.permit!] ??= []).push(s.fencingToken!);
        await s.release();
      }
      for (const list of Object.values(tokens)) {
        for (let i = 1; i < list.length; i++) expect(list[i]!).toBeGreaterThan(list[i - 1]!);
      }
      expect(Object.values(tokens).flat()).toHaveLength(6);
    });

    it('is reentrant on the permit it holds', async () => {
      const [a] = group(1);
      const s = a!.semaphore('reentrant', { permits: 1 });
      await s.acquire();
      const permit = s.permit;
      expect(await s.tryAcquire()).toBe(true);
      expect(s.holdCount).toBe(2);
      expect(s.permit).toBe(permit);
      await s.release();
      expect(s.isHeld).toBe(true);
      await s.release();
      expect(s.isHeld).toBe(false);
    });

    it('refuses, from the store, a holder that disagrees on permits', async () => {
      const [a, b] = group(2);
      await a!.semaphore('agreed', { permits: 2 }).tryAcquire();
      const other = b!.semaphore('agreed', { permits: 3 });
      const error = await other.tryAcquire().then(
        () => undefined,
        (e: unknown) => e,
      );
      expect(error).toBeInstanceOf(S3LockPermitsMismatchError);
      expect(error).toMatchObject({ lockName: 'agreed', bucket, configuredPermits: 3, declaredPermits: 2 });
      expect((error as Error).message).toContain(bucket);
      // a wait fails at once too: waiting cannot cure it
      const started = Date.now();
      await expect(other.acquire({ waitMs: 5_000 })).rejects.toBeInstanceOf(S3LockPermitsMismatchError);
      expect(Date.now() - started).toBeLessThan(4_000);
    });

    it('refuses bad permits and the names kept for permits', () => {
      const [a] = group(1);
      for (const permits of [0, -1, 1.5, 1001, Number.NaN, '2' as unknown as number]) {
        expect(() => a!.semaphore('bad', { permits })).toThrow(S3LockInvalidOptionsError);
      }
      expect(() => a!.lock('reports#permit-0')).toThrow(S3LockInvalidOptionsError);
      expect(() => a!.lock('reports#permit-x')).not.toThrow();
    });

    it("takes over a dead holder's permit once its lease expires", async () => {
      const [b] = group(1);
      // a holder whose client is cut off after it acquired: it can neither renew nor release
      const deadClient = target.createClient();
      let crashed = false;
      deadClient.middlewareStack.add(
        (next) => async (args) => {
          if (crashed) throw new Error('simulated crash');
          return next(args);
        },
        { step: 'initialize', name: 'simulatedCrash' },
      );
      const dead = new S3LockManager({ client: deadClient, bucket, protocol, prefix: b!.options.prefix, ttlMs: TTL });
      managers.push(dead);
      const held = dead.semaphore('takeover', { permits: 1 });
      await held.acquire();
      const token = held.fencingToken!;
      crashed = true;
      const started = Date.now();
      const waiter = b!.semaphore('takeover', { permits: 1 });
      await waiter.acquire({ waitMs: TTL + 6_000 });
      expect(Date.now() - started).toBeGreaterThanOrEqual(TTL - 1_000);
      expect(waiter.permit).toBe(0);
      expect(waiter.fencingToken!).toBeGreaterThan(token);
      await waiter.release();
    });
  });

  describe('using() several names', () => {
    it('acquires all names or none, and gives each token', async () => {
      const [a, b] = group(2);
      let seen: Record<string, number> = {};
      await a!.using(['order:1', 'wallet:7'], (ctx) => {
        expect(ctx.names).toEqual(['order:1', 'wallet:7']);
        expect(ctx.isHeld).toBe(true);
        seen = { ...ctx.fencingTokens };
      });
      expect(Object.keys(seen).sort()).toEqual(['order:1', 'wallet:7']);
      // one name held elsewhere: nothing is taken
      const wallet = b!.lock('wallet:7');
      await wallet.acquire();
      await expect(a!.using(['wallet:7', 'order:1'], () => 'ran', { waitMs: 0 })).rejects.toBeInstanceOf(S3LockTimeoutError);
      expect((await a!.inspect('order:1')).held).toBe(false);
      await wallet.release();
    });

    it('never deadlocks callers that ask in opposite orders, and never overlaps', async () => {
      const [a, b] = group(2);
      const inside = new Map<string, number>();
      let overlaps = 0;
      const work = (m: S3LockManager, names: string[]) =>
        m.using(
          names,
          async () => {
            for (const n of names) {
              inside.set(n, (inside.get(n) ?? 0) + 1);
              if (inside.get(n)! > 1) overlaps++;
            }
            await new Promise((r) => setTimeout(r, 20));
            for (const n of names) inside.set(n, inside.get(n)! - 1);
          },
          { waitMs: 30_000 },
        );
      const runs: Promise<void>[] = [];
      for (let i = 0; i < 4; i++) {
        runs.push(work(a!, ['x', 'y']));
        runs.push(work(b!, ['y', 'x']));
      }
      await Promise.all(runs);
      expect(overlaps).toBe(0);
    });

    it('holds nothing while it waits for a name held elsewhere', async () => {
      const [a, b] = group(2);
      const blocker = b!.lock('second');
      await blocker.acquire();
      const waiting = a!.using(['first', 'second'], () => 'done', { waitMs: 20_000 });
      await new Promise((r) => setTimeout(r, 1_500));
      // while it waits for "second", "first" is free
      const probe = b!.lock('first');
      expect(await probe.tryAcquire()).toBe(true);
      await probe.release();
      await blocker.release();
      await expect(waiting).resolves.toBe('done');
    });

    it('aborts its signal when any lease is lost', async () => {
      const [a, b] = group(2);
      const reason = await a!.using(['keep', 'lose'], async (ctx) => {
        await b!.forceRelease('lose');
        if (!ctx.signal.aborted) await new Promise((r) => ctx.signal.addEventListener('abort', r, { once: true }));
        expect(ctx.isHeld).toBe(false);
        expect(() => ctx.check()).toThrow();
        return (ctx.signal.reason as { lockName?: string }).lockName;
      });
      expect(reason).toBe('lose');
      expect((await b!.inspect('keep')).held).toBe(false);
    }, 20_000);
  });

  describe('election', () => {
    it('elects one leader, hands over at once on stop(), and gives each term a larger token', async () => {
      const ms = group(3);
      const terms: Array<{ who: number; token: number }> = [];
      const revoked: S3LeadershipEndReason[] = [];
      let leaders = 0;
      let most = 0;
      const elections = ms.map((m, who) =>
        m.elect('leader', {
          onElected: (ctx) => {
            leaders++;
            most = Math.max(most, leaders);
            terms.push({ who, token: ctx.fencingToken });
            ctx.signal.addEventListener('abort', () => leaders--, { once: true });
          },
          onRevoked: (reason) => revoked.push(reason),
        }),
      );
      const waitFor = async (cond: () => boolean, ms2: number): Promise<void> => {
        const end = Date.now() + ms2;
        while (!cond()) {
          if (Date.now() > end) throw new Error('timed out');
          await new Promise((r) => setTimeout(r, 20));
        }
      };
      await waitFor(() => terms.length === 1, 10_000);
      const first = terms[0]!;
      expect(elections[first.who]!.isLeader).toBe(true);
      expect(elections.filter((e) => e.isLeader)).toHaveLength(1);
      const info = await elections[(first.who + 1) % 3]!.leader();
      expect(info).toMatchObject({ fencingToken: first.token, pid: process.pid });
      const stoppedAt = Date.now();
      await elections[first.who]!.stop();
      expect(revoked).toEqual(['resigned']);
      await waitFor(() => terms.length === 2, 10_000);
      expect(Date.now() - stoppedAt).toBeLessThan(2_000);
      expect(terms[1]!.who).not.toBe(first.who);
      expect(terms[1]!.token).toBeGreaterThan(first.token);
      expect(most).toBe(1);
      await Promise.all(elections.map((e) => e.stop()));
      expect(elections.some((e) => e.isLeader)).toBe(false);
    }, 30_000);
  });
});
