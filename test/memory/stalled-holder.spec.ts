/**
 * A holder whose event loop stalls past its deadline must be able to tell, synchronously, right
 * after the stall and before the lease's signal timer has run, that it no longer holds: the lock
 * context of `using()`, of `@WithS3Lock()` and of `currentS3Lock()` gives `isHeld` and `check()`
 * read from the deadline itself. The fencing token stays readable.
 */
import { Injectable } from '@nestjs/common';
import { Test } from '@nestjs/testing';
import { performance } from 'node:perf_hooks';
import { currentS3Lock, S3LockLostError, WithS3Lock, type S3LockContext } from '../../src';
import { S3LockTestingModule } from '../../src/testing';
import { MemoryWorld } from './support';

const TTL = 2_000;

/** Blocks the event loop for `ms` (no timer, no I/O can run meanwhile). */
function stall(ms: number): void {
  const until = performance.now() + ms;
  while (performance.now() < until) {
    // busy
  }
}

interface Seen {
  before: { isHeld: boolean; checked: boolean };
  after: { isHeld: boolean; check: unknown; aborted: boolean; token: number };
}

/** Reads the context before and right after a stall past the TTL, in the same tick. */
function observeAcrossStall(ctx: S3LockContext): Seen {
  const before = { isHeld: ctx.isHeld, checked: (ctx.check(), true) };
  stall(TTL + 300);
  let check: unknown;
  try {
    ctx.check();
  } catch (error) {
    check = error;
  }
  return { before, after: { isHeld: ctx.isHeld, check, aborted: ctx.signal.aborted, token: ctx.fencingToken } };
}

function expectStalled(seen: Seen, token: number): void {
  expect(seen.before).toEqual({ isHeld: true, checked: true });
  // The signal has not aborted yet (its timer could not run): isHeld and check() did not wait for it.
  expect(seen.after.aborted).toBe(false);
  expect(seen.after.isHeld).toBe(false);
  expect(seen.after.check).toBeInstanceOf(S3LockLostError);
  expect(seen.after.check).toMatchObject({ reason: 'deadline-passed', fencingToken: token });
  expect(seen.after.token).toBe(token);
}

describe('a holder stalled past its deadline', () => {
  let world: MemoryWorld;
  beforeEach(async () => {
    world = await MemoryWorld.create();
  });
  afterEach(() => world.close());

  it.each(['create-only', 'versioned'] as const)('using() (%s): isHeld false and check() throws right after the stall, before the signal fires', async (protocol) => {
    if (protocol === 'versioned') {
      await world.close();
      world = await MemoryWorld.create({ versioned: true });
    }
    const { manager } = world.manager({ protocol, ttlMs: TTL });
    let token = 0;
    const seen = await manager.using('stalled', (ctx) => {
      token = ctx.fencingToken;
      return observeAcrossStall(ctx);
    });
    expectStalled(seen, token);
  });

  it('a lost signal is what check() throws once it has aborted', async () => {
    const { manager } = world.manager({ ttlMs: TTL });
    await manager.using('stalled-then-signal', async (ctx) => {
      stall(TTL + 300);
      await new Promise((resolve) => ctx.signal.addEventListener('abort', resolve, { once: true }));
      expect(ctx.isHeld).toBe(false);
      expect(() => ctx.check()).toThrow(ctx.signal.reason as Error);
    });
  });

  it('@WithS3Lock() and currentS3Lock(): the same', async () => {
    @Injectable()
    class Job {
      @WithS3Lock('decorated-stall', { ttlMs: TTL })
      async run(): Promise<{ seen: Seen; token: number }> {
        const ctx = currentS3Lock()!;
        return { seen: observeAcrossStall(ctx), token: ctx.fencingToken };
      }
    }
    const moduleRef = await Test.createTestingModule({ imports: [S3LockTestingModule.forRoot({ ttlMs: TTL })], providers: [Job] }).compile();
    const app = moduleRef.createNestApplication({ logger: false });
    await app.init();
    try {
      const { seen, token } = await app.get(Job).run();
      expectStalled(seen, token);
    } finally {
      await app.close();
    }
  });
});
