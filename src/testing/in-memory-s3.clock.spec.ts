import { HeadObjectCommand, ListObjectsV2Command, PutObjectCommand, type S3Client } from '@aws-sdk/client-s3';
import { createInMemoryS3Client, InMemoryS3 } from './index';

process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED = 'true';

const Bucket = 'clock';
const T0 = Date.UTC(2024, 4, 6, 7, 8, 9, 789); // 2024-05-06T07:08:09.789Z
const HOUR = 3_600_000;

/** Captures the raw `date` header of every response the client receives. */
function recordDateHeaders(s3: S3Client): string[] {
  const dates: string[] = [];
  s3.middlewareStack.add(
    (next) => async (args) => {
      const out = await next(args);
      const response = out.response as { headers?: Record<string, string> };
      if (response.headers?.date !== undefined) dates.push(response.headers.date);
      return out;
    },
    { step: 'deserialize', name: 'recordDateHeaders' },
  );
  return dates;
}

describe('InMemoryS3 clock', () => {
  let store: InMemoryS3;
  let s3: S3Client;
  let now: jest.SpyInstance<number, []>;

  beforeEach(() => {
    now = jest.spyOn(Date, 'now').mockReturnValue(T0);
    store = new InMemoryS3({ buckets: [Bucket] });
    s3 = createInMemoryS3Client(store);
  });

  afterEach(() => {
    s3.destroy();
    now.mockRestore();
  });

  it('sends an RFC 7231 Date header floored to the second on every response', async () => {
    const dates = recordDateHeaders(s3);
    await s3.send(new PutObjectCommand({ Bucket, Key: 'k', Body: 'x' }));
    await expect(s3.send(new HeadObjectCommand({ Bucket, Key: 'missing' }))).rejects.toMatchObject({
      $metadata: { httpStatusCode: 404 },
    });
    expect(dates).toEqual(['Mon, 06 May 2024 07:08:09 GMT', 'Mon, 06 May 2024 07:08:09 GMT']);
  });

  it('floors Last-Modified to the second in headers and keeps milliseconds in listings', async () => {
    await s3.send(new PutObjectCommand({ Bucket, Key: 'k', Body: 'x' }));
    const head = await s3.send(new HeadObjectCommand({ Bucket, Key: 'k' }));
    expect(head.LastModified?.toISOString()).toBe('2024-05-06T07:08:09.000Z');
    const listed = await s3.send(new ListObjectsV2Command({ Bucket }));
    expect(listed.Contents?.[0]?.LastModified?.toISOString()).toBe('2024-05-06T07:08:09.789Z');
  });

  it('applies the clock offset to Date, Last-Modified and listings', async () => {
    const skewed = new InMemoryS3({ buckets: [Bucket], clockOffsetMs: -HOUR });
    expect(skewed.now()).toBe(T0 - HOUR);
    expect(skewed.clockOffsetMs).toBe(-HOUR);
    const response = await skewed.handle({ method: 'GET', path: '/', query: {}, headers: {}, body: new Uint8Array(0) });
    expect(response.headers.date).toBe('Mon, 06 May 2024 06:08:09 GMT');

    store.setClockOffset(2 * HOUR + 250);
    await s3.send(new PutObjectCommand({ Bucket, Key: 'later', Body: 'x' }));
    const head = await s3.send(new HeadObjectCommand({ Bucket, Key: 'later' }));
    expect(head.LastModified?.toISOString()).toBe('2024-05-06T09:08:10.000Z');
    const listed = await s3.send(new ListObjectsV2Command({ Bucket }));
    expect(listed.Contents?.[0]?.LastModified?.toISOString()).toBe('2024-05-06T09:08:10.039Z');
    expect(store.requests.at(-1)?.atMs).toBe(T0 + 2 * HOUR + 250);
  });

  it('follows the real clock between requests', async () => {
    await s3.send(new PutObjectCommand({ Bucket, Key: 'a', Body: 'x' }));
    now.mockReturnValue(T0 + 1500);
    await s3.send(new PutObjectCommand({ Bucket, Key: 'b', Body: 'x' }));
    const a = await s3.send(new HeadObjectCommand({ Bucket, Key: 'a' }));
    const b = await s3.send(new HeadObjectCommand({ Bucket, Key: 'b' }));
    expect(b.LastModified!.getTime() - a.LastModified!.getTime()).toBe(2000);
  });
});
