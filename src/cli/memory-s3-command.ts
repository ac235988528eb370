import { InMemoryS3 } from '../testing/in-memory-s3';
import { startInMemoryS3Server } from '../testing/in-memory-s3-server';
import type { CliStreams } from './cli-output';

export interface MemoryS3Flags {
  readonly port: string;
  readonly host: string;
  readonly bucket: string[];
  readonly versionedBucket: string[];
  readonly ignoreIfNoneMatch?: boolean;
}

/** The in-memory S3 server's fixed credentials (it accepts any; these are printed for copying). */
export const MEMORY_S3_CREDENTIALS = { accessKeyId: 'memory', secretAccessKey: 'memory' } as const;

/**
 * `memory-s3`: an in-memory S3 server for local development and tests. Prints its endpoint and
 * credentials as `KEY=value` lines, then runs until SIGINT / SIGTERM.
 */
export async function memoryS3Command(flags: MemoryS3Flags, io: CliStreams): Promise<number> {
  const port = Number(flags.port);
  if (!Number.isInteger(port) || port < 0 || port > 65535) throw new RangeError(`--port must be an integer from 0 to 65535, got ${JSON.stringify(flags.port)}`);
  const store = new InMemoryS3({
    buckets: flags.bucket,
    versionedBuckets: flags.versionedBucket,
    ...(flags.ignoreIfNoneMatch ? { behaviour: { ignoreIfNoneMatch: true } } : {}),
  });
  const server = await startInMemoryS3Server({ port, host: flags.host, store });
  io.out(
    [
      `S3_ENDPOINT=${server.endpoint}`,
      `AWS_ACCESS_KEY_ID=${MEMORY_S3_CREDENTIALS.accessKeyId}`,
      `AWS_SECRET_ACCESS_KEY=${MEMORY_S3_CREDENTIALS.secretAccessKey}`,
      'AWS_REGION=us-east-1',
      '',
    ].join('\n'),
  );
  const buckets = [...flags.bucket, ...flags.versionedBucket.map((b) => `${b} (versioned)`)];
  io.err(
    `in-memory S3 on ${server.endpoint} (path-style; data is lost when it stops)` +
      `${buckets.length ? `, buckets: ${buckets.join(', ')}` : ', no buckets yet (CreateBucket works)'}` +
      `${flags.ignoreIfNoneMatch ? '; IGNORES If-None-Match, like a store the probe must refuse' : ''}. Ctrl-C stops it.\n`,
  );
  await new Promise<void>((resolve) => {
    const stop = (): void => resolve();
    process.once('SIGINT', stop);
    process.once('SIGTERM', stop);
  });
  await server.close();
  return 0;
}
