import { ServerClock } from './server-clock';

describe('ServerClock', () => {
  it('is a lower bound of the server clock, learnt from Date headers, independent of the local wall clock', () => {
    let mono = 1_000;
    const clock = new ServerClock({ now: () => mono });
    expect(clock.nowLowerBound()).toBeUndefined();
    clock.observe('Fri, 27 Nov 2026 10:00:00 GMT', mono);
    const base = Date.parse('Fri, 27 Nov 2026 10:00:00 GMT');
    expect(clock.nowLowerBound()).toBe(base);
    mono += 2_500;
    expect(clock.nowLowerBound()).toBe(base + 2_500);
    // An older date never moves the bound back; a newer one moves it forward.
    clock.observe('Fri, 27 Nov 2026 09:00:00 GMT', mono);
    expect(clock.nowLowerBound()).toBe(base + 2_500);
    clock.observe('Fri, 27 Nov 2026 10:00:05 GMT', mono);
    expect(clock.nowLowerBound()).toBe(base + 5_000);
    expect(clock.monotonicAt(base + 6_000)).toBe(mono + 1_000);
    expect(clock.monotonicAt(base)).toBe(mono);
    clock.observe('garbage', mono);
    expect(clock.nowLowerBound()).toBe(base + 5_000);
  });
});
