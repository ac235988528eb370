/**
 * Smoke contract of the store targets themselves (runs in the memory, rgw and moto projects).
 *
 * Proves each target is a real, honest S3 endpoint for the one primitive every store here honours
 * (create-only PUT, If-None-Match: *), and pins the known quirks of RGW 16 and moto 5 (see the
 * project's S3 behaviour notes, s3-behaviour.md) so that a different server version is noticed:
 * if one of the quirk tests fails, the server changed: re-measure and update the notes (and
 * whatever relies on them) before changing the expectation here.
 */
import {
  DeleteObjectCommand,
  GetObjectCommand,
  HeadObjectCommand,
  PutObjectCommand,
  type S3Client,
} from '@aws-sdk/client-s3';
import { storeTarget, storeTargetName, type StoreTarget, type StoreTargetName } from './support/store-target';

const NAME: StoreTargetName = storeTargetName();

/** What each target does with the conditions a lock might use. 'ignored' = the write/delete succeeds anyway. */
const EXPECTED: Record<
  StoreTargetName,
  {
    versionedIfNoneMatch: 'honoured' | 'ignored';
    /** PUT If-Match with the ETag exactly as returned (quoted). */
    ifMatchCurrentQuoted: 'honoured' | 'always-412';
    ifMatchStale: 'honoured' | 'ignored';
    /** PUT If-Match with the quotes stripped from the current ETag (only measured on RGW). */
    ifMatchCurrentUnquoted?: 'honoured';
    /** DELETE If-Match with a wrong ETag (not asserted for memory). */
    deleteIfMatchWrong?: 'honoured' | 'ignored';
  }
> = {
  // AWS-documented behaviour: the in-memory store must be the honest reference
  memory: { versionedIfNoneMatch: 'honoured', ifMatchCurrentQuoted: 'honoured', ifMatchStale: 'honoured' },
  // Ceph RGW 16.2.15 (Debian 12)
  rgw: {
    versionedIfNoneMatch: 'ignored',
    ifMatchCurrentQuoted: 'always-412',
    ifMatchStale: 'honoured',
    ifMatchCurrentUnquoted: 'honoured',
    deleteIfMatchWrong: 'ignored',
  },
  // moto 5.1 (Debian 13)
  moto: {
    versionedIfNoneMatch: 'honoured',
    ifMatchCurrentQuoted: 'honoured',
    ifMatchStale: 'ignored',
    deleteIfMatchWrong: 'ignored',
  },
};
const expected = EXPECTED[NAME];
const BOGUS_ETAG = '"0123456789abcdef0123456789abcdef"';

/** HTTP status of an SDK call: 200 on success, the error's status otherwise (rethrows errors without one). */
async function statusOf(call: Promise<unknown>): Promise<number> {
  try {
    await call;
    return 200;
  } catch (error) {
    const status = (error as { $metadata?: { httpStatusCode?: number } }).$metadata?.httpStatusCode;
    if (status === undefined) throw error;
    return status;
  }
}

/** Fails with a message that says which server behaviour changed. */
function expectBehaviour(what: string, actual: number, wanted: number[]): void {
  if (!wanted.includes(actual)) {
    throw new Error(
      `${NAME}: ${what}: expected HTTP ${wanted.join(' or ')}, got ${actual}. ` +
        (NAME === 'memory'
          ? 'The in-memory store must behave as AWS documents.'
          : 'The server behaves differently from the measured version: re-measure and update s3-behaviour.md.'),
    );
  }
}

/** Records the raw response headers of the last successful call made with `client`. */
function captureHeaders(client: S3Client): { last: Record<string, string> | undefined } {
  const box: { last: Record<string, string> | undefined } = { last: undefined };
  client.middlewareStack.add(
    (next) => async (args) => {
      const out = await next(args);
      box.last = (out.response as { headers?: Record<string, string> } | undefined)?.headers;
      return out;
    },
    { step: 'deserialize', name: 's3LockSmokeCaptureHeaders' },
  );
  return box;
}

const put = (s3: S3Client, Bucket: string, Key: string, Body: string, cond: { IfNoneMatch?: string; IfMatch?: string } = {}) =>
  s3.send(new PutObjectCommand({ Bucket, Key, Body, ...cond }));

async function body(s3: S3Client, Bucket: string, Key: string): Promise<string> {
  const out = await s3.send(new GetObjectCommand({ Bucket, Key }));
  return (await out.Body?.transformToString()) ?? '';
}

describe(`store target '${NAME}' (smoke)`, () => {
  let target: StoreTarget;
  let s3: S3Client;
  let plain: string;

  beforeAll(async () => {
    target = await storeTarget();
    s3 = target.createClient();
    plain = await target.createBucket();
  });
  afterAll(async () => {
    await target?.close();
  });

  it('is the target selected by S3_LOCK_TARGET', () => {
    expect(target.name).toBe(process.env.S3_LOCK_TARGET ?? 'memory');
    expect(target.endpoint).toMatch(/^https?:\/\/[^/]+$/);
    expect(target.memory !== undefined).toBe(NAME === 'memory');
  });

  it('a second create-only PUT on a plain bucket gets 412 and does not overwrite', async () => {
    const key = `create-only-${Date.now()}`;
    await put(s3, plain, key, 'first', { IfNoneMatch: '*' });
    expectBehaviour('second PUT If-None-Match: * (plain bucket)', await statusOf(put(s3, plain, key, 'second', { IfNoneMatch: '*' })), [412]);
    expect(await body(s3, plain, key)).toBe('first');
  });

  it('exactly one of 10 concurrent create-only PUTs wins', async () => {
    const key = `race-${Date.now()}`;
    const results = await Promise.all(
      Array.from({ length: 10 }, (_, i) => statusOf(put(s3, plain, key, `writer-${i}`, { IfNoneMatch: '*' })).then((status) => ({ i, status }))),
    );
    const winners = results.filter((r) => r.status === 200);
    expect(winners).toHaveLength(1);
    for (const r of results) if (r.status !== 200) expectBehaviour('losing concurrent create-only PUT', r.status, [412, 409]);
    expect(await body(s3, plain, key)).toBe(`writer-${winners[0]!.i}`);
  });

  it('answers with a Date header (server clock)', async () => {
    const client = target.createClient();
    const headers = captureHeaders(client);
    const key = `date-${Date.now()}`;
    await put(client, plain, key, 'x');
    await client.send(new HeadObjectCommand({ Bucket: plain, Key: key }));
    const date = headers.last?.date ?? headers.last?.Date;
    expect(date).toBeDefined();
    const ms = Date.parse(date!);
    expect(Number.isNaN(ms)).toBe(false);
    if (NAME !== 'memory') expect(Math.abs(ms - Date.now())).toBeLessThan(5 * 60_000); // same machine
  });

  it(`versioned bucket, second create-only PUT: ${expected.versionedIfNoneMatch}`, async () => {
    const versioned = await target.createBucket({ versioned: true });
    const key = `versioned-${Date.now()}`;
    await put(s3, versioned, key, 'first', { IfNoneMatch: '*' });
    const status = await statusOf(put(s3, versioned, key, 'second', { IfNoneMatch: '*' }));
    if (expected.versionedIfNoneMatch === 'honoured') {
      expectBehaviour('second PUT If-None-Match: * (versioned bucket)', status, [412]);
      expect(await body(s3, versioned, key)).toBe('first');
    } else {
      expectBehaviour('second PUT If-None-Match: * on a versioned bucket (known to be ignored)', status, [200]);
      expect(await body(s3, versioned, key)).toBe('second');
    }
  });

  it(`PUT If-Match, current quoted ETag: ${expected.ifMatchCurrentQuoted}; stale ETag: ${expected.ifMatchStale}`, async () => {
    const key = `if-match-${Date.now()}`;
    const v1 = await put(s3, plain, key, 'v1');
    const v2 = await put(s3, plain, key, 'v2');
    expect(v1.ETag).toMatch(/^".+"$/);
    expect(v2.ETag).not.toBe(v1.ETag);

    const stale = await statusOf(put(s3, plain, key, 'stale-writer', { IfMatch: v1.ETag! }));
    if (expected.ifMatchStale === 'honoured') {
      expectBehaviour('PUT If-Match with a stale ETag', stale, [412]);
    } else {
      expectBehaviour('PUT If-Match with a stale ETag (known to be ignored)', stale, [200]);
    }

    const head = await s3.send(new HeadObjectCommand({ Bucket: plain, Key: key }));
    const current = await statusOf(put(s3, plain, key, 'current-writer', { IfMatch: head.ETag! }));
    if (expected.ifMatchCurrentQuoted === 'honoured') {
      expectBehaviour('PUT If-Match with the current (quoted) ETag', current, [200]);
    } else {
      expectBehaviour('PUT If-Match with the current quoted ETag (known to always fail)', current, [412]);
    }
  });

  if (expected.ifMatchCurrentUnquoted === 'honoured') {
    it('PUT If-Match with the quotes stripped: honoured', async () => {
      const key = `if-match-unquoted-${Date.now()}`;
      const v1 = await put(s3, plain, key, 'v1');
      await put(s3, plain, key, 'v2');
      const stale = await statusOf(put(s3, plain, key, 'stale-writer', { IfMatch: v1.ETag!.replace(/"/g, '') }));
      expectBehaviour('PUT If-Match with a stale unquoted ETag', stale, [412]);
      const head = await s3.send(new HeadObjectCommand({ Bucket: plain, Key: key }));
      const current = await statusOf(put(s3, plain, key, 'current-writer', { IfMatch: head.ETag!.replace(/"/g, '') }));
      expectBehaviour('PUT If-Match with the current unquoted ETag', current, [200]);
      expect(await body(s3, plain, key)).toBe('current-writer');
    });
  }

  if (expected.deleteIfMatchWrong !== undefined) {
    it(`DELETE If-Match with a wrong ETag: ${expected.deleteIfMatchWrong}`, async () => {
      const key = `delete-if-match-${Date.now()}`;
      await put(s3, plain, key, 'x');
      const status = await statusOf(s3.send(new DeleteObjectCommand({ Bucket: plain, Key: key, IfMatch: BOGUS_ETAG })));
      const after = await statusOf(s3.send(new HeadObjectCommand({ Bucket: plain, Key: key })));
      if (expected.deleteIfMatchWrong === 'honoured') {
        expectBehaviour('DELETE If-Match with a wrong ETag', status, [412]);
        expect(after).toBe(200);
      } else {
        expectBehaviour('DELETE If-Match with a wrong ETag (known to be ignored)', status, [200]);
        expectBehaviour('HEAD after the ignored conditional DELETE (object gone)', after, [404]);
      }
    });
  }
});
