import { check, RUN_MS, torture } from '../support/versioned-torture';
import { storeTarget, type StoreTarget } from '../support/store-target';

let target: StoreTarget;
beforeAll(async () => {
  target = await storeTarget();
});
afterAll(() => target?.close());

describe('versioned protocol, randomised contenders on this store', () => {
  it('never two believers, tokens increase', async () => {
    const bucket = await target.createBucket({ versioned: true });
    const ordered = check(await torture(() => target.createClient(), bucket, 2_000), target.name);
    expect(ordered.length).toBeGreaterThan(Math.floor(RUN_MS / 4_000));
  }, RUN_MS + 60_000);
});
