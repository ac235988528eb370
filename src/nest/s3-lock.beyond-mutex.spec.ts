import { Injectable, type INestApplication } from '@nestjs/common';
import { Test } from '@nestjs/testing';
import { setTimeout as sleep } from 'node:timers/promises';
import { S3LockInvalidOptionsError, S3LockLostError } from '../core/errors';
import type { S3LockContext, S3MultiLockContext } from '../core/lock-types';
import { InMemoryS3 } from '../testing/in-memory-s3';
import { S3LockTestingModule, type S3LockTestingModuleOptions } from '../testing/s3-lock-testing.module';
import { currentS3Lock, currentS3MultiLock } from './s3-lock.context';
import { WithS3Lock } from './s3-lock.decorator';
import { S3LockedException } from './s3-lock.exception';
import { S3LockHealthIndicator } from './s3-lock.health';
import { S3LockService } from './s3-lock.service';
import { WhileLeader } from './s3-lock.while-leader';

const TTL = 3_000;

/** A promise and the function that resolves it. */
function gate(): { opened: Promise<void>; open: () => void } {
  let open!: () => void;
  const opened = new Promise<void>((resolve) => (open = resolve));
  return { opened, open };
}

@Injectable()
class Limited {
  readonly contexts: S3LockContext[] = [];
  release = gate();

  @WithS3Lock('unit:sem', { permits: 2, onLocked: 'throw' })
  async run(): Promise<string> {
    this.contexts.push(currentS3Lock()!);
    await this.release.opened;
    return 'ran';
  }

  @WithS3Lock('unit:sem', { permits: 2, onLocked: 'skip' })
  async skipping(): Promise<string> {
    return 'ran';
  }

  /** The lock of the same name as the semaphore: another thing in the store. */
  @WithS3Lock('unit:sem', { onLocked: 'throw' })
  async sameNameLock(service: S3LockService): Promise<{ lock: S3LockContext; lockHeld: boolean }> {
    return { lock: currentS3Lock()!, lockHeld: (await service.inspect('unit:sem')).held };
  }

  @WithS3Lock('unit:sem', { permits: 2, onLocked: 'throw' })
  async semaphoreThenLock(service: S3LockService): Promise<{ semaphore: S3LockContext; lock: S3LockContext; lockHeld: boolean }> {
    const semaphore = currentS3Lock()!;
    return { semaphore, ...(await this.sameNameLock(service)) };
  }
}

interface MultiSeen {
  multi: S3MultiLockContext | undefined;
  viaService: S3MultiLockContext | undefined;
  plain: S3LockContext | undefined;
  named: S3LockContext | undefined;
  held: Record<string, boolean>;
}

@Injectable()
class Multi {
  readonly journal: { what: string; start: number; end: number }[] = [];

  constructor(private readonly locks: S3LockService) {}

  @WithS3Lock(['unit:b', 'unit:a', 'unit:b'], { onLocked: 'throw' })
  async both(): Promise<MultiSeen> {
    const held: Record<string, boolean> = {};
    for (const name of ['unit:a', 'unit:b']) held[name] = (await this.locks.inspect(name)).held;
    return { multi: currentS3MultiLock(), viaService: this.locks.currentMulti(), plain: currentS3Lock(), named: currentS3Lock('unit:b'), held };
  }

  @WithS3Lock((from: string, to: string) => [`account:${from}`, `account:${to}`], { onLocked: 'wait', waitMs: 5_000 })
  async transfer(from: string, to: string): Promise<readonly string[]> {
    const start = Date.now();
    await sleep(150);
    this.journal.push({ what: `${from}->${to}`, start, end: Date.now() });
    return currentS3MultiLock()!.names;
  }

  @WithS3Lock((names: string[]) => names)
  async dynamic(_names: string[]): Promise<string> {
    return 'ran';
  }

  @WithS3Lock((names: string[]) => names, { permits: 2 })
  async dynamicSemaphore(_names: string[]): Promise<string> {
    return 'ran';
  }

  /** Holds both names, then calls a method locking one of them: it runs under the held one. */
  @WithS3Lock(['unit:outer-a', 'unit:outer-b'], { onLocked: 'throw' })
  async outer(): Promise<{ outer: S3MultiLockContext; inner: S3LockContext }> {
    const outer = currentS3MultiLock()!;
    return { outer, inner: await this.inner() };
  }

  @WithS3Lock('unit:outer-a', { onLocked: 'throw' })
  async inner(): Promise<S3LockContext> {
    return currentS3Lock()!;
  }

  /** Holds one name, then calls a method locking it and another one: only the other one is taken. */
  @WithS3Lock('unit:outer-a', { onLocked: 'throw' })
  async partial(): Promise<{ held: S3LockContext; multi: S3MultiLockContext }> {
    return { held: currentS3Lock()!, multi: await this.pair() };
  }

  @WithS3Lock(['unit:outer-a', 'unit:outer-b'], { onLocked: 'throw' })
  async pair(): Promise<S3MultiLockContext> {
    return currentS3MultiLock()!;
  }
}

@Injectable()
class Leader {
  readonly terms: { context: S3LockContext; seen: S3LockContext | undefined; ended?: unknown }[] = [];

  @WhileLeader('unit:leader')
  async lead(context: S3LockContext): Promise<void> {
    const term: (typeof this.terms)[number] = { context, seen: currentS3Lock() };
    this.terms.push(term);
    await new Promise<void>((resolve) => context.signal.addEventListener('abort', () => resolve(), { once: true }));
    term.ended = context.signal.reason;
  }

  @WhileLeader('unit:disabled', { enabled: false })
  async disabled(): Promise<void> {
    throw new Error('never called');
  }
}

@Injectable()
class Failing {
  calls = 0;

  @WhileLeader('unit:failing')
  async lead(context: S3LockContext): Promise<void> {
    this.calls++;
    if (this.calls < 3) throw new Error(`boom ${this.calls}`);
    await new Promise<void>((resolve) => context.signal.addEventListener('abort', () => resolve(), { once: true }));
  }
}

describe('semaphores, several names and leader election in the Nest module', () => {
  const apps: INestApplication[] = [];

  afterEach(async () => {
    await Promise.allSettled(apps.splice(0).map((app) => app.close()));
  });

  async function start(providers: (new (...args: never[]) => unknown)[], options: S3LockTestingModuleOptions = {}) {
    const moduleRef = await Test.createTestingModule({ imports: [S3LockTestingModule.forRoot({ ttlMs: TTL, ...options })], providers }).compile();
    const app = moduleRef.createNestApplication({ logger: false });
    apps.push(app);
    await app.init();
    return { app, service: app.get(S3LockService), store: app.get(InMemoryS3) };
  }

  describe('@WithS3Lock(name, { permits })', () => {
    it('two calls run at once, each holding its own permit; a third is refused while both run', async () => {
      const { app, service } = await start([Limited]);
      const limited = app.get(Limited);
      const first = limited.run();
      const second = limited.run();
      await sleep(100);
      expect(limited.contexts).toHaveLength(2);
      expect(limited.contexts.map((c) => c.name)).toEqual(['unit:sem', 'unit:sem']);
      expect(limited.contexts.every((c) => c.isHeld && c.fencingToken > 0)).toBe(true);
      // both permits are taken in the store
      expect((await service.inspect('unit:sem#permit-0')).held).toBe(true);
      expect((await service.inspect('unit:sem#permit-1')).held).toBe(true);
      const third = await limited.run().catch((e: unknown) => e);
      expect(third).toBeInstanceOf(S3LockedException);
      expect((third as S3LockedException).lockName).toBe('unit:sem');
      await expect(limited.skipping()).resolves.toBeUndefined();
      limited.release.open();
      await expect(Promise.all([first, second])).resolves.toEqual(['ran', 'ran']);
      expect((await service.inspect('unit:sem#permit-0')).held).toBe(false);
      expect((await service.inspect('unit:sem#permit-1')).held).toBe(false);
      await expect(limited.skipping()).resolves.toBe('ran');
    });

    it('a semaphore and a lock of the same name are independent: a nested lock of that name is taken, not reused', async () => {
      const { app, service } = await start([Limited]);
      const seen = await app.get(Limited).semaphoreThenLock(service);
      expect(seen.semaphore.name).toBe('unit:sem');
      expect(seen.lock).not.toBe(seen.semaphore); // its own lease, not the semaphore's permit
      expect(seen.lock.name).toBe('unit:sem');
      expect(seen.lockHeld).toBe(true); // the lock "unit:sem" itself was acquired inside
      expect((await service.inspect('unit:sem')).held).toBe(false);
    });

    it('S3LockService.semaphore() returns the engine semaphore', async () => {
      const { service } = await start([]);
      const one = service.semaphore('unit:direct', { permits: 1 });
      const two = service.semaphore('unit:direct', { permits: 1 });
      expect(one.permits).toBe(1);
      await expect(one.tryAcquire()).resolves.toBe(true);
      expect(one.permit).toBe(0);
      await expect(two.tryAcquire()).resolves.toBe(false);
      await one.release();
      await expect(two.tryAcquire()).resolves.toBe(true);
      await two.release();
    });
  });

  describe('@WithS3Lock([a, b])', () => {
    it('holds every name while the method runs and releases them all; the contexts', async () => {
      const { app, service } = await start([Multi]);
      const seen = await app.get(Multi).both();
      expect(seen.held).toEqual({ 'unit:a': true, 'unit:b': true });
      expect(seen.multi!.names).toEqual(['unit:a', 'unit:b']); // canonical: sorted, no duplicates
      expect(seen.viaService).toBe(seen.multi);
      expect(Object.keys(seen.multi!.fencingTokens).sort()).toEqual(['unit:a', 'unit:b']);
      // without a name: the first name's token, and the signal of every lease
      expect(seen.plain!.name).toBe('unit:a');
      expect(seen.plain!.fencingToken).toBe(seen.multi!.fencingTokens['unit:a']);
      expect(seen.plain!.signal).toBe(seen.multi!.signal);
      expect(seen.named).toBe(seen.multi!.leases['unit:b']);
      expect(seen.plain!.isHeld).toBe(false); // read after the method returned: released
      expect((await service.inspect('unit:a')).held).toBe(false);
      expect((await service.inspect('unit:b')).held).toBe(false);
      expect(currentS3MultiLock()).toBeUndefined();
    });

    it("'throw' when one name is held elsewhere names that lock and leaves the other free", async () => {
      const { app, service } = await start([Multi]);
      const other = gate();
      const holding = service.using('unit:b', () => other.opened);
      await sleep(50);
      const error = await app.get(Multi).both().catch((e: unknown) => e);
      expect(error).toBeInstanceOf(S3LockedException);
      expect((error as S3LockedException).lockName).toBe('unit:b');
      expect((await service.inspect('unit:a')).held).toBe(false);
      other.open();
      await holding;
      await expect(app.get(Multi).both()).resolves.toMatchObject({ held: { 'unit:a': true, 'unit:b': true } });
    });

    it("a name function returning an array: opposite orders with 'wait' neither deadlock nor overlap", async () => {
      const { app, service } = await start([Multi]);
      const multi = app.get(Multi);
      const results = await Promise.all([multi.transfer('1', '2'), multi.transfer('2', '1'), multi.transfer('1', '2')]);
      expect(results).toEqual([
        ['account:1', 'account:2'],
        ['account:1', 'account:2'],
        ['account:1', 'account:2'],
      ]);
      const runs = [...multi.journal].sort((x, y) => x.start - y.start);
      expect(runs).toHaveLength(3);
      for (let i = 1; i < runs.length; i++) expect(runs[i]!.start).toBeGreaterThanOrEqual(runs[i - 1]!.end);
      expect((await service.inspect('account:1')).held).toBe(false);
      expect((await service.inspect('account:2')).held).toBe(false);
    });

    it('a name function returning an empty array, a bad name, or an array with permits is refused per call', async () => {
      const { app } = await start([Multi]);
      const multi = app.get(Multi);
      await expect(multi.dynamic([])).rejects.toMatchObject({ option: 'name', message: expect.stringContaining('@WithS3Lock() on Multi.dynamic: an array of lock names must not be empty') });
      await expect(multi.dynamic(['ok', ''])).rejects.toThrow(S3LockInvalidOptionsError);
      await expect(multi.dynamicSemaphore(['a', 'b'])).rejects.toMatchObject({ option: 'permits' });
      await expect(multi.dynamic(['x', 'y'])).resolves.toBe('ran');
    });

    it('nested: a name the flow holds is reused, and only the names it does not hold are taken', async () => {
      const { app } = await start([Multi]);
      const multi = app.get(Multi);
      const { outer, inner } = await multi.outer();
      expect(inner).toBe(outer.leases['unit:outer-a']); // the held name's own lease, no second acquisition
      const { held, multi: taken } = await multi.partial();
      expect(taken.names).toEqual(['unit:outer-b']);
      expect(held.name).toBe('unit:outer-a');
    });
  });

  describe('leader election', () => {
    it('S3LockService.elect(): onElected gets the term; the health lists it; stop() resigns and unlists it', async () => {
      const { app, service } = await start([]);
      const terms: S3LockContext[] = [];
      const election = service.elect('unit:elect', { onElected: (context) => void terms.push(context) });
      const health = app.get(S3LockHealthIndicator);
      await waitFor(() => election.isLeader);
      expect(terms).toHaveLength(1);
      expect(service.elections).toEqual([election]);
      expect((await health.isHealthy())['s3-lock'].elections).toEqual([{ name: 'unit:elect', leader: true, fencingToken: terms[0]!.fencingToken }]);
      await election.stop();
      expect(terms[0]!.signal.aborted).toBe(true);
      expect(terms[0]!.signal.reason).toBe('resigned');
      expect(service.elections).toEqual([]);
      expect((await health.isHealthy())['s3-lock'].elections).toBeUndefined();
      expect((await service.inspect('unit:elect')).held).toBe(false);
    });

    it('@WhileLeader(): the method runs with the term at bootstrap; app.close() resigns before the manager closes', async () => {
      const store = new InMemoryS3();
      const { app } = await start([Leader], { store });
      const observer = await start([], { store });
      const leader = app.get(Leader);
      await waitFor(() => leader.terms.length === 1);
      const [term] = leader.terms;
      expect(term!.context.name).toBe('unit:leader');
      expect(term!.seen).toBe(term!.context); // currentS3Lock() inside the method
      expect(app.get(S3LockService).elections.map((e) => e.name)).toEqual(['unit:leader']); // enabled: false does not campaign
      const details = (await app.get(S3LockHealthIndicator).isHealthy('locks')).locks;
      expect(details.elections).toEqual([{ name: 'unit:leader', leader: true, fencingToken: term!.context.fencingToken }]);
      expect((await observer.service.inspect('unit:leader')).held).toBe(true);
      await app.close();
      expect(term!.ended).toBe('resigned'); // resigned, not closed by the manager
      expect((await observer.service.inspect('unit:leader')).held).toBe(false); // released, not left to expire
    });

    it('@WhileLeader(): a method that fails resigns, and this instance campaigns and leads again', async () => {
      const lines: string[] = [];
      const logger = { debug: (m: string) => lines.push(`debug ${m}`), log: () => undefined, warn: (m: string) => lines.push(`warn ${m}`), error: (m: string) => lines.push(`error ${m}`) };
      const { app } = await start([Failing], { maxPollIntervalMs: 50, logger });
      const failing = app.get(Failing);
      await waitFor(() => failing.calls >= 3);
      await waitFor(() => app.get(S3LockService).elections[0]!.isLeader);
      expect(lines).toContainEqual(expect.stringMatching(/^warn "unit:failing": the leader's work \(onElected\) failed, so this instance resigned and campaigns again: Error: boom 1/));
      expect(lines).toContainEqual(expect.stringMatching(/^debug "unit:failing": leadership of Failing\.lead ended \(failed\)/));
      expect(lines).toContainEqual(expect.stringMatching(/^debug "unit:failing": this instance leads \(fencing token \d+\); running Failing\.lead/));
    });

    it('@WhileLeader(): no campaign when the start-up probe fails', async () => {
      const store = new InMemoryS3();
      store.setBehaviour({ ignoreIfNoneMatch: true });
      const moduleRef = await Test.createTestingModule({ imports: [S3LockTestingModule.forRoot({ ttlMs: TTL, store })], providers: [Leader] }).compile();
      const app = moduleRef.createNestApplication({ logger: false });
      apps.push(app);
      await expect(app.init()).rejects.toThrow(/If-None-Match/);
      await sleep(200);
      expect(app.get(Leader).terms).toEqual([]);
      expect(app.get(S3LockService).elections).toEqual([]);
    });

    it('elect() after the shutdown began is refused', async () => {
      const { app, service } = await start([]);
      await app.close();
      expect(() => service.elect('unit:late', { onElected: () => undefined })).toThrow(/closed/);
    });

    it('a leader term lost to a force release aborts its signal with S3LockLostError and a new term starts', async () => {
      const { app, service } = await start([Leader], { maxPollIntervalMs: 50 });
      const leader = app.get(Leader);
      await waitFor(() => leader.terms.length === 1);
      await service.manager.forceRelease('unit:leader');
      // the renewal (every TTL/3) finds the lease taken over
      await waitFor(() => leader.terms.length === 2, TTL * 2);
      expect(leader.terms[0]!.ended).toBeInstanceOf(S3LockLostError);
      expect(leader.terms[1]!.context.fencingToken).toBeGreaterThan(leader.terms[0]!.context.fencingToken);
    });
  });
});

async function waitFor(predicate: () => boolean, timeoutMs = 5_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!predicate()) {
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms`);
    await sleep(20);
  }
}
