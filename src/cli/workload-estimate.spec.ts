import { monthlyRequests, parseWorkload, MINUTES_PER_MONTH } from './workload-estimate';

describe('workload estimate', () => {
  it('parses "<n> locks/min, <m> instances"', () => {
    expect(parseWorkload('120 locks/min, 3 instances', 10, 30)).toEqual({ locksPerMinute: 120, instances: 3, holdSeconds: 10, ttlSeconds: 30 });
    expect(parseWorkload('0.5 lock per minute 1 instance', 0, 30).locksPerMinute).toBe(0.5);
  });

  it('refuses what it cannot read, naming the expected form', () => {
    expect(() => parseWorkload('lots', 1, 30)).toThrow(/120 locks\/min, 3 instances/);
    expect(() => parseWorkload('10 locks/min, 0 instances', 1, 30)).toThrow(/instances must be a positive integer/);
  });

  it('counts the documented requests per acquisition, renewals every TTL/3 and one look per other instance', () => {
    // 1 lock/min, 3 instances, held 25 s with TTL 30 s: 2 renewals (at 10 s and 20 s)
    const w = { locksPerMinute: 1, instances: 3, holdSeconds: 25, ttlSeconds: 30 };
    const c = monthlyRequests(w, 'create-only');
    expect(c).toEqual({ PUT: 4 * MINUTES_PER_MONTH, GET: 6 * MINUTES_PER_MONTH, HEAD: 3 * MINUTES_PER_MONTH, LIST: 3 * MINUTES_PER_MONTH, DELETE: 0 });
    const v = monthlyRequests(w, 'versioned');
    expect(v).toEqual({ PUT: 4 * MINUTES_PER_MONTH, GET: 0, HEAD: 3 * MINUTES_PER_MONTH, LIST: 7 * MINUTES_PER_MONTH, DELETE: 4 * MINUTES_PER_MONTH });
  });
});
