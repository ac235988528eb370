import { SERVER_CLOCK_SAMPLES, SERVER_CLOCK_STEP_MS, SERVER_CLOCK_STEP_SAMPLES, ServerClock, type ServerClockDisagreement } from './server-clock';

const BASE = Date.parse('Fri, 27 Nov 2026 10:00:00 GMT');
const date = (offsetMs: number): string => new Date(BASE + offsetMs).toUTCString();

/** A clock on a fake monotonic time, and a helper answering "a response dated D, sent 20 ms before now". */
function setup(toleranceMs = 500): {
  clock: ServerClock;
  reports: ServerClockDisagreement[];
  advance(ms: number): void;
  respond(dateOffsetMs: number, roundTripMs?: number): void;
  now(): number;
} {
  let mono = 1_000;
  const reports: ServerClockDisagreement[] = [];
  const clock = new ServerClock({ now: () => mono }, { toleranceMs, onDisagreement: (d) => reports.push(d) });
  return {
    clock,
    reports,
    advance: (ms) => {
      mono += ms;
    },
    respond: (dateOffsetMs, roundTripMs = 20) => clock.observe(date(dateOffsetMs), mono, mono - roundTripMs),
    now: () => mono,
  };
}

describe('ServerClock', () => {
  it('is a lower bound of the server clock, learnt from Date headers, independent of the local wall clock', () => {
    const { clock, advance, respond } = setup();
    expect(clock.nowLowerBound()).toBeUndefined();
    respond(0);
    // One response alone does not count: nothing to judge it against yet; nor do two (two answers
    // of one skewed node would vouch for each other).
    expect(clock.nowLowerBound()).toBeUndefined();
    expect(clock.known).toBe(false);
    advance(100);
    respond(0);
    expect(clock.known).toBe(false);
    advance(100);
    respond(0);
    // All say 10:00:00 (floored); the later ones, received 100 and 200 ms later, prove less: the first counts.
    expect(clock.known).toBe(true);
    expect(clock.nowLowerBound()).toBe(BASE + 200);
    advance(2_500);
    expect(clock.nowLowerBound()).toBe(BASE + 2_700);
    expect(clock.monotonicAt(BASE + 3_700)).toBe(1_000 + 200 + 2_500 + 1_000);
    expect(clock.monotonicAt(BASE)).toBe(1_000 + 200 + 2_500);
    clock.observe('garbage');
    expect(clock.nowLowerBound()).toBe(BASE + 2_700);
  });

  it('moves forward with responses that agree, and never backwards', () => {
    const { clock, advance, respond } = setup();
    respond(0);
    advance(100);
    respond(0);
    advance(1_000);
    respond(1_000); // 10:00:01, consistent with the others
    // The first response (dated 10:00:00, received 1 100 ms ago) still proves the most.
    expect(clock.nowLowerBound()).toBe(BASE + 1_100);
    advance(500);
    respond(2_000); // 10:00:02, received now: proves more, with two others within the tolerance
    expect(clock.nowLowerBound()).toBe(BASE + 2_000);
    // An older date (a node behind) never moves the bound back.
    respond(-3_000);
    expect(clock.nowLowerBound()).toBe(BASE + 2_000);
  });

  it('rejects and reports one response dated 5 s ahead: the bound stays where the others put it', () => {
    const { clock, reports, advance, respond } = setup();
    respond(0);
    advance(150);
    respond(0);
    advance(150);
    respond(0);
    const before = clock.nowLowerBound()!;
    respond(5_000);
    expect(clock.nowLowerBound()).toBe(before);
    expect(reports).toEqual([{ date: date(5_000), aheadMs: expect.any(Number) }]);
    expect(reports[0]!.aheadMs).toBeGreaterThan(3_500);
    // Sound responses keep counting afterwards.
    advance(1_000);
    respond(1_000);
    expect(clock.nowLowerBound()).toBe(before + 1_000);
  });

  it('rejects every response of a skewed node behind a load balancer (one in three answers)', () => {
    const { clock, reports, advance, respond, now } = setup();
    const start = now();
    for (let i = 0; i < 60; i++) {
      advance(110);
      const serverMs = now() - start; // the sound nodes' clock, offset BASE
      const floored = Math.floor(serverMs / 1_000) * 1_000;
      respond(i % 3 === 2 ? floored + 5_000 : floored);
      // Never ahead of the sound servers' clock (floored dates, so at most their clock).
      expect(clock.nowLowerBound()! <= BASE + serverMs + 500 || clock.nowLowerBound() === undefined).toBe(true);
    }
    expect(reports).toHaveLength(20);
    expect(clock.nowLowerBound()!).toBeLessThanOrEqual(BASE + (now() - start));
    expect(clock.nowLowerBound()!).toBeGreaterThan(BASE + (now() - start) - 1_200);
  });

  it('a first response dated ahead never counts once sound ones arrive', () => {
    const { clock, advance, respond } = setup();
    respond(5_000);
    advance(100);
    respond(0);
    advance(100);
    respond(0);
    expect(clock.nowLowerBound()).toBe(BASE + 100);
    advance(100);
    respond(5_000); // rejected now: the sound responses bound the clock from above
    expect(clock.nowLowerBound()).toBe(BASE + 200);
  });

  it('the first two answers both from a node 5 s ahead do not vouch for each other: the bound follows the sound answers', () => {
    const { clock, advance, respond } = setup();
    respond(5_000);
    advance(50);
    respond(5_000);
    expect(clock.known).toBe(false);
    advance(50);
    respond(0);
    advance(50);
    respond(0);
    // never ahead of the sound servers (BASE at the first answer, 150 ms ago)
    expect(clock.nowLowerBound()!).toBeLessThanOrEqual(BASE + 150);
    advance(100);
    respond(5_000); // later answers of the skewed node are rejected
    expect(clock.nowLowerBound()!).toBeLessThanOrEqual(BASE + 250);
  });

  it('one response cannot move the bound more than the tolerance past what another response proves', () => {
    let mono = 0;
    const clock = new ServerClock({ now: () => mono }, { toleranceMs: 500 });
    // Send times unknown: no upper bounds, so only the support rule applies.
    clock.observe(date(0), mono);
    clock.observe(date(0), mono);
    clock.observe(date(0), mono);
    mono += 10;
    clock.observe(date(3_000), mono); // consistent with nothing to contradict it, but unsupported
    expect(clock.nowLowerBound()).toBe(BASE + 10);
    mono = 400;
    clock.observe(date(3_000), mono); // proves BASE + 2 600 at mono 0: one supporter, not two
    expect(clock.nowLowerBound()).toBe(BASE + 400);
    mono = 450;
    clock.observe(date(3_000), mono); // a second supporter: the first 10:00:03 answer counts
    expect(clock.nowLowerBound()).toBe(BASE + 2_990 + 450);
  });

  it('follows a step of the store clock once every response for a while agrees on it', () => {
    const { clock, advance, respond, now } = setup();
    respond(0);
    advance(50);
    respond(0);
    advance(50);
    respond(0);
    const start = now();
    const before = clock.nowLowerBound()!;
    const step = 2 * 3_600_000;
    const interval = Math.ceil(SERVER_CLOCK_STEP_MS / (SERVER_CLOCK_STEP_SAMPLES - 1)) + 1;
    for (let i = 0; i < SERVER_CLOCK_STEP_SAMPLES - 1; i++) {
      advance(interval);
      respond(step + Math.floor((now() - start + 100) / 1_000) * 1_000);
      expect(clock.nowLowerBound()).toBe(before + (now() - start)); // not yet
    }
    advance(interval);
    respond(step + Math.floor((now() - start + 100) / 1_000) * 1_000);
    expect(clock.nowLowerBound()!).toBeGreaterThan(before + step - 2_000);
    expect(clock.nowLowerBound()!).toBeLessThanOrEqual(BASE + step + (now() - start) + 100);
  });

  it('a busy process follows a step too: many more responses than needed within the step window', () => {
    const { clock, advance, respond, now } = setup();
    respond(0);
    advance(50);
    respond(0);
    advance(50);
    respond(0);
    const start = now();
    const before = clock.nowLowerBound()!;
    const step = 2 * 3_600_000;
    // 20 responses a second: any SERVER_CLOCK_STEP_SAMPLES of them span well under the window
    let followed = false;
    for (let i = 0; i < 20 * (SERVER_CLOCK_STEP_MS / 1_000 + 2) && !followed; i++) {
      advance(50);
      respond(step + Math.floor((now() - start + 100) / 1_000) * 1_000);
      followed = clock.nowLowerBound()! > before + step - 2_000;
      if (!followed) expect(clock.nowLowerBound()).toBe(before + (now() - start));
    }
    expect(followed).toBe(true);
    expect(now() - start).toBeGreaterThanOrEqual(SERVER_CLOCK_STEP_MS);
  });

  it(`keeps the last ${SERVER_CLOCK_SAMPLES} sound responses`, () => {
    const { clock, respond, advance } = setup();
    for (let i = 0; i < SERVER_CLOCK_SAMPLES * 3; i++) {
      respond(Math.floor(i / 10) * 1_000);
      advance(100);
    }
    expect(clock.nowLowerBound()).toBeGreaterThan(BASE);
  });
});
