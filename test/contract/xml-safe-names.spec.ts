/**
 * Keys with characters XML 1.0 does not allow (U+FFFE, U+FFFF), on this store: it accepts them and
 * puts them raw into its ListObjectsV2 XML, which is then not well-formed XML (the SDK's parser is
 * lenient; a strict one is not, and AWS documents such keys as needing EncodingType=url). The lock
 * library lists without EncodingType=url, so it refuses such lock names (and prefixes) before
 * sending anything.
 */
import { ListObjectsV2Command, PutObjectCommand, type S3Client } from '@aws-sdk/client-s3';
import { Readable } from 'node:stream';
import { S3LockInvalidOptionsError, S3LockManager } from '../../src';
import { storeTarget, type StoreTarget } from '../support/store-target';

let target: StoreTarget;
let bucket: string;
beforeAll(async () => {
  target = await storeTarget();
  bucket = await target.createBucket();
});
afterAll(() => target?.close());

type Handler = { handle(request: unknown, options?: unknown): Promise<{ response: { body?: unknown } }> };

/** A client that keeps every response body it receives as text. */
function recordingClient(): { client: S3Client; bodies: string[] } {
  const inner = target.createClient().config.requestHandler as unknown as Handler;
  const bodies: string[] = [];
  const requestHandler: Handler = {
    async handle(request, options) {
      const out = await inner.handle(request, options);
      const body = out.response.body;
      if (body instanceof Readable) {
        const chunks: Buffer[] = [];
        for await (const chunk of body) chunks.push(Buffer.from(chunk as Uint8Array));
        const buffer = Buffer.concat(chunks);
        bodies.push(buffer.toString('utf8'));
        out.response.body = Readable.from([buffer]);
      }
      return out;
    },
  };
  return { client: target.createClient({ requestHandler: requestHandler as never }), bodies };
}

describe.each([
  ['U+FFFF', '\uffff'],
  ['U+FFFE', '\ufffe'],
])('a key with %s', (code, character) => {
  it('is stored and listed raw by this store, in XML that XML 1.0 does not allow', async () => {
    const { client, bodies } = recordingClient();
    const prefix = `xml-${code}/`;
    const key = `${prefix}a${character}b/000000000000001`;
    await client.send(new PutObjectCommand({ Bucket: bucket, Key: key, Body: 'x' }));
    bodies.length = 0;
    const listed = await client.send(new ListObjectsV2Command({ Bucket: bucket, Prefix: prefix }));
    expect(listed.Contents?.map((c) => c.Key)).toEqual([key]);
    expect(bodies).toHaveLength(1);
    // The character travels as itself (a character reference to it is not allowed in XML 1.0 either).
    expect(bodies[0]).toContain(character);

    // EncodingType=url is the only XML-safe way to list it: the key comes back percent-encoded.
    const encoded = await client.send(new ListObjectsV2Command({ Bucket: bucket, Prefix: prefix, EncodingType: 'url' }));
    const raw = encoded.Contents?.[0]?.Key ?? '';
    expect(raw).not.toContain(character);
    expect(decodeURIComponent(raw)).toBe(key);
  });

  it('can never come from a lock name: the name is refused before any request, naming the rule', async () => {
    const { client, bodies } = recordingClient();
    const manager = new S3LockManager({ client, bucket });
    const name = `job${character}1`;
    const attempts: Array<() => unknown> = [() => manager.lock(name), () => manager.using(name, () => 1), () => manager.inspect(name)];
    for (const attempt of attempts) {
      const error = await Promise.resolve()
        .then(attempt)
        .then(
          () => undefined,
          (e: unknown) => e,
        );
      expect(error).toBeInstanceOf(S3LockInvalidOptionsError);
      expect(error).toMatchObject({ option: 'name', lockName: JSON.stringify(name) });
      expect((error as Error).message).toContain(`must not contain ${code}`);
      expect((error as Error).message).toContain('XML 1.0');
    }
    expect(() => new S3LockManager({ client, bucket, prefix: `locks${character}/` })).toThrow(S3LockInvalidOptionsError);
    expect(bodies).toEqual([]);
    await manager.close();
  });
});
