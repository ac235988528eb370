import { KeepAlive, MAX_TIMER_MS, unrefTimeout } from './async-tools';

describe('unrefTimeout', () => {
  beforeEach(() => jest.useFakeTimers());
  afterEach(() => jest.useRealTimers());

  it('waits out a delay longer than setTimeout honours instead of firing at once', () => {
    const fn = jest.fn();
    unrefTimeout(fn, 2 ** 32);
    jest.advanceTimersByTime(1);
    expect(fn).not.toHaveBeenCalled();
    jest.advanceTimersByTime(MAX_TIMER_MS);
    expect(fn).not.toHaveBeenCalled();
    jest.advanceTimersByTime(2 ** 32 - MAX_TIMER_MS - 1);
    expect(fn).toHaveBeenCalledTimes(1);
  });

  it('fires once after a short delay, and not at all once cancelled', () => {
    const fired = jest.fn();
    const cancelled = jest.fn();
    unrefTimeout(fired, 100);
    const cancel = unrefTimeout(cancelled, 100);
    cancel();
    jest.advanceTimersByTime(100);
    expect(fired).toHaveBeenCalledTimes(1);
    expect(cancelled).not.toHaveBeenCalled();
  });
});

describe('KeepAlive', () => {
  it('holds one ref\'d handle until let go', () => {
    const keepAlive = new KeepAlive();
    const before = process.getActiveResourcesInfo().filter((r) => r === 'Timeout').length;
    keepAlive.hold();
    keepAlive.hold();
    expect(process.getActiveResourcesInfo().filter((r) => r === 'Timeout').length).toBe(before + 1);
    keepAlive.let();
    expect(process.getActiveResourcesInfo().filter((r) => r === 'Timeout').length).toBe(before);
  });
});
