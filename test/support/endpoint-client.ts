import { S3Client, type S3ClientConfig } from '@aws-sdk/client-s3';
import { withSafeDefaults } from '../../src/core/lock-manager';

/** An S3-compatible endpoint and its keys (the servers scripts/s3/ starts, or any other). */
export interface EndpointKeys {
  readonly endpoint: string;
  readonly accessKeyId: string;
  readonly secretAccessKey: string;
}

/**
 * The S3 client the tests, workers, the torture test and the bench use for an endpoint:
 * path-style, region us-east-1, and the manager's safe defaults (checksums only when required),
 * with `extra` on top.
 */
export function endpointClient(keys: EndpointKeys, extra: Partial<S3ClientConfig> = {}): S3Client {
  return new S3Client(
    withSafeDefaults({
      endpoint: keys.endpoint,
      region: 'us-east-1',
      forcePathStyle: true,
      credentials: { accessKeyId: keys.accessKeyId, secretAccessKey: keys.secretAccessKey },
      ...extra,
    }),
  );
}
