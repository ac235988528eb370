import { S3LockCorruptRecordError } from './errors';
import { MAX_EPOCH, epochKey, epochOfKey } from './epoch-key';
import { BASE_EPOCHS_PER_SECOND, generationBase, generationFolder, generationFromMetadata, generationKey, generationOfFolder, generationToMetadata } from './log-generation';

const ID = '0b7a2f3e-3c1d-4e5f-8a9b-0c1d2e3f4a5b';

describe('log generation', () => {
  it('base: server seconds x 10^4, at least the newest epoch known', () => {
    const now = Date.UTC(2026, 11, 2, 1, 0, 0, 999);
    expect(generationBase(now, 0)).toBe(Math.floor(now / 1000) * BASE_EPOCHS_PER_SECOND);
    expect(generationBase(now, 0) % BASE_EPOCHS_PER_SECOND).toBe(0);
    const huge = generationBase(now, 0) + 123;
    expect(generationBase(now, huge)).toBe(huge);
  });

  it('a base a second later is above every epoch of a log that averaged under 10^4 epochs/s', () => {
    const t0 = Date.UTC(2026, 0, 1);
    const b0 = generationBase(t0, 0);
    const lastEpochAfterOneSecond = b0 + BASE_EPOCHS_PER_SECOND - 1;
    expect(generationBase(t0 + 1000, 0)).toBeGreaterThan(lastEpochAfterOneSecond);
  });

  it('bases of today fit the 15-digit keys and 2^53 with room to spare', () => {
    const base = generationBase(Date.UTC(2026, 11, 2), 0);
    expect(base).toBeLessThan(Number.MAX_SAFE_INTEGER);
    expect(base).toBeLessThan(MAX_EPOCH / 10);
    expect(epochOfKey('p/x/', epochKey('p/x/', base + 1))).toBe(base + 1);
    expect(() => generationBase(1e12 * 1000, 0)).toThrow(RangeError);
  });

  it('the generation key is never a record key', () => {
    expect(generationKey('p/x/')).toBe('p/x/generation');
    expect(epochOfKey('p/x/', generationKey('p/x/'))).toBeUndefined();
  });

  it('round-trips through metadata and refuses anything else', () => {
    const g = { id: ID, base: 17_000_000_000_000 };
    expect(generationFromMetadata('x', 'k', generationToMetadata(g))).toEqual(g);
    expect(() => generationFromMetadata('x', 'k', {})).toThrow(S3LockCorruptRecordError);
    expect(() => generationFromMetadata('x', 'k', { ...generationToMetadata(g), 'lock-base': '-1' })).toThrow(S3LockCorruptRecordError);
    // the id names a folder of keys: anything but a uuid is refused
    for (const id of ['abc', 'probe', '../x', `${ID}/x`, `${ID}0`]) {
      expect(() => generationFromMetadata('x', 'k', { ...generationToMetadata(g), 'lock-generation': id })).toThrow(S3LockCorruptRecordError);
    }
  });

  it("each generation's records live in a folder of their own, which no encoded name can be", () => {
    expect(generationFolder('p/x/', ID)).toBe(`p/x/.${ID}/`);
    expect(epochOfKey(generationFolder('p/x/', ID), epochKey(generationFolder('p/x/', ID), 7))).toBe(7);
    expect(generationOfFolder('p/x/', `p/x/.${ID}/`)).toBe(ID);
    // another manager's reserved keys and names below the folder are not generation folders
    for (const folder of ['p/x/.probe/', 'p/x/.protocol/', `p/x/${ID}/`, 'p/x/0042/', `p/y/.${ID}/`]) expect(generationOfFolder('p/x/', folder)).toBeUndefined();
  });

  it('a generation made by a force release keeps its mark; others carry none', () => {
    const forced = { id: ID, base: 17_000_000_000_005, forced: true };
    expect(generationToMetadata(forced)['lock-cause']).toBe('force-release');
    expect(generationFromMetadata('x', 'k', generationToMetadata(forced))).toEqual(forced);
    expect(generationToMetadata({ id: ID, base: 1 })['lock-cause']).toBeUndefined();
    expect(generationFromMetadata('x', 'k', { ...generationToMetadata({ id: ID, base: 1 }), 'lock-cause': 'other' }).forced).toBeUndefined();
  });
});
