import { CreateBucketCommand, DeleteObjectCommand, ListBucketsCommand, PutObjectCommand } from '@aws-sdk/client-s3';
import { installedPackage, runBin, runJson } from './support/cli-process';
import { freshBucket, memoryStore, startHolder } from './support/cli-stores';

// The command cases run on RGW and moto (rgw.cli-spec.ts, moto.cli-spec.ts); here what only the
// in-memory store can show, and memory-s3 itself.
describe('nestjs-s3-lock CLI on its own memory-s3 server', () => {

  it('doctor refuses a store that ignores If-None-Match (exit 1, with the reason)', async () => {
    const store = await memoryStore(['--ignore-if-none-match']);
    try {
      const bucket = await freshBucket(store, false);
      const { code, json } = await runJson<{ auto: string | null; reason: string; probes: Record<string, { ok: boolean; detail?: string }> }>(['doctor', '--bucket', bucket, ...store.flags], store.env);
      expect(json.auto).toBeNull();
      expect(json.probes['create-only']).toMatchObject({ ok: false, detail: expect.stringMatching(/If-None-Match/) });
      expect(json.reason).toMatch(/no protocol is safe here: create-only: .*If-None-Match.*; versioned: .*versioning/);
      expect(code).toBe(1);
      const human = await runBin(['doctor', '--bucket', bucket, ...store.flags], store.env);
      expect(human.code).toBe(1);
      expect(human.stdout).toMatch(/NOT USABLE: no protocol is safe here/);
    } finally {
      await store.close();
    }
  });

  it('ls pages through more names than one listing holds (1,100 taken and released, 2 held)', async () => {
    const store = await memoryStore();
    try {
      const bucket = await freshBucket(store, false);
      const names = Array.from({ length: 1100 }, (_, i) => `job-${String(i).padStart(4, '0')}`);
      const { S3LockManager } = (await import(installedPackage())) as typeof import('../../src');
      const manager = new S3LockManager({ client: store.client, bucket });
      for (let i = 0; i < names.length; i += 50) await Promise.all(names.slice(i, i + 50).map((n) => manager.using(n, () => undefined)));
      await manager.close();
      const holder = await startHolder(store, { bucket, protocol: 'create-only', names: ['job-0007', 'job-1099'] });
      try {
        const all = await runJson<Array<{ name: string; held: boolean }>>(['ls', '--bucket', bucket, ...store.flags], store.env);
        expect(all.code).toBe(0);
        expect(all.json.map((r) => r.name)).toEqual(names);
        const held = await runJson<Array<{ name: string }>>(['ls', '--held', '--bucket', bucket, ...store.flags], store.env);
        expect(held.json.map((r) => r.name)).toEqual(['job-0007', 'job-1099']);
      } finally {
        await holder.stop();
      }
    } finally {
      await store.close();
    }
  });

  it('an undeclared prefix that holds lock folders is refused unless --protocol is given; a corrupt lock is one unreadable row; foreign folders are skipped', async () => {
    const store = await memoryStore();
    try {
      const bucket = await freshBucket(store, false);
      const holder = await startHolder(store, { bucket, protocol: 'create-only', names: ['job'] });
      try {
        await store.client.send(new DeleteObjectCommand({ Bucket: bucket, Key: 'locks/.protocol' }));
        const refused = await runJson<{ error: { name: string; message: string } }>(['ls', '--bucket', bucket, ...store.flags], store.env);
        expect(refused.code).toBe(2);
        expect(refused.json.error.message).toMatch(/holds lock folders \(the first: "job"\) but no protocol declaration.*--protocol/);
        const given = await runJson<Array<{ name: string; state: string }>>(['ls', '--bucket', bucket, '--protocol', 'create-only', ...store.flags], store.env);
        expect(given.code).toBe(0);
        expect(given.json).toMatchObject([{ name: 'job', state: 'held' }]);
      } finally {
        await holder.stop();
      }
      // a corrupt generation record, and a folder no lock name encodes to
      await store.client.send(new PutObjectCommand({ Bucket: bucket, Key: 'locks/broken/generation', Body: 'x', Metadata: { 'lock-format': '9' } }));
      await store.client.send(new PutObjectCommand({ Bucket: bucket, Key: 'locks/%41/readme.txt', Body: 'x' }));
      const listed = await runJson<Array<{ name: string; state: string; error?: string }>>(['ls', '--bucket', bucket, '--protocol', 'create-only', ...store.flags], store.env);
      expect(listed.code).toBe(2);
      expect(listed.json.map((r) => `${r.name} ${r.state}`)).toEqual(['broken unreadable', 'job free']);
      expect(listed.json[0]!.error).toMatch(/broken/);
      expect(listed.stderr).toMatch(/"broken" could not be read/);
    } finally {
      await store.close();
    }
  });

  it('--json answers a usage error with a JSON error document too (exit 2)', async () => {
    const r = await runJson<{ error: { name: string; message: string } }>(['ls'], {});
    expect(r.code).toBe(2);
    expect(r.json.error).toMatchObject({ name: 'UsageError', message: expect.stringMatching(/--bucket/) });
  });

  it.each(['SIGINT', 'SIGTERM'] as const)('memory-s3 prints its endpoint and credentials, serves S3, and stops on %s with exit 0', async (signal) => {
    const store = await memoryStore(['--bucket', 'made-at-start']);
    try {
      expect(store.endpoint).toMatch(/^http:\/\/127\.0\.0\.1:\d+$/);
      expect(store.server.lines).toEqual(expect.arrayContaining(['AWS_ACCESS_KEY_ID=memory', 'AWS_SECRET_ACCESS_KEY=memory', 'AWS_REGION=us-east-1']));
      await store.client.send(new CreateBucketCommand({ Bucket: 'made-later' }));
      expect((await store.client.send(new ListBucketsCommand({}))).Buckets?.map((b) => b.Name).sort()).toEqual(['made-at-start', 'made-later']);
    } finally {
      store.client.destroy();
    }
    store.server.child.kill(signal);
    expect(await store.server.exited).toBe(0);
  });
});
