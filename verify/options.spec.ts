import { parseOptions } from './options';

describe('parseOptions', () => {
  const now = new Date('2025-01-02T03:04:05Z');

  it('has the documented defaults and reads VERIFY_SECONDS', () => {
    const o = parseOptions([], { VERIFY_SECONDS: '90' }, now);
    expect(o).toMatchObject({ seconds: 90, workers: 4, loops: 2, names: 3, store: 'memory', protocols: ['create-only', 'versioned'], ttlMs: 3_000, faults: true, keepBucket: false });
    expect(o.out).toBe('verify-out/20250102-030405-memory');
    expect(o.schedules).toEqual(['late-grant', 'force-release', 'record-loss', 'foreign-keys', 'skewed-date']);
    expect(o.foreignNames).toBe(1_100);
  });

  it('selects fault schedules by --schedules or VERIFY_SCHEDULES', () => {
    expect(parseOptions(['--schedules', 'skewed-date,late-grant'], {}, now).schedules).toEqual(['late-grant', 'skewed-date']);
    expect(parseOptions(['--schedules=none'], {}, now).schedules).toEqual([]);
    expect(parseOptions([], { VERIFY_SCHEDULES: 'record-loss' }, now).schedules).toEqual(['record-loss']);
    expect(() => parseOptions(['--schedules', 'late-grant,meteor'], {}, now)).toThrow(/unknown schedule "meteor"/);
  });

  it('parses every option, in both --flag value and --flag=value forms', () => {
    const o = parseOptions(
      ['--seconds', '10', '--workers=2', '--loops', '1', '--names', '5', '--store', 'http://h:9000', '--protocol', 'versioned', '--ttl', '4000', '--faults', 'off', '--svg', 'a.svg', '--out', 'o', '--seed', '7', '--keep-bucket', '--acquire-slack', '9000', '--schedules', 'force-release', '--foreign-names', '1001'],
      { VERIFY_SECONDS: '90' },
      now,
    );
    expect(o).toEqual({ seconds: 10, workers: 2, loops: 1, names: 5, store: 'http://h:9000', protocols: ['versioned'], ttlMs: 4_000, svg: 'a.svg', faults: false, out: 'o', seed: 7, keepBucket: true, acquireSlackMs: 9_000, schedules: ['force-release'], foreignNames: 1_001 });
  });

  it.each([
    [['--protocol', 'cas']],
    [['--ttl', '1000']],
    [['--faults', 'maybe']],
    [['--seconds']],
    [['--bogus']],
  ])('rejects %j', (argv) => {
    expect(() => parseOptions(argv, {}, now)).toThrow();
  });
});
