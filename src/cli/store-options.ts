import type { S3ClientConfig } from '@aws-sdk/client-s3';
import { Command, Option } from 'commander';
import { LockSurvey } from '../core/lock-survey';

/** The flags every store command takes, as commander parses them. */
export interface StoreFlags {
  readonly bucket: string;
  readonly prefix: string;
  readonly endpoint?: string;
  readonly region?: string;
  readonly forcePathStyle?: boolean;
  readonly json?: boolean;
  /** Read an undeclared prefix with this protocol. */
  readonly protocol?: 'create-only' | 'versioned';
}

/** The default key prefix, as the engine's. */
export const DEFAULT_PREFIX = 'locks/';

/**
 * Adds the common flags: `--bucket` (or `S3_LOCK_BUCKET`), `--prefix` (default `locks/`, or
 * `S3_LOCK_PREFIX`), `--endpoint`, `--region`, `--force-path-style`, `--json`. Credentials are the
 * AWS SDK's default chain (`AWS_ACCESS_KEY_ID`..., `AWS_PROFILE`, roles).
 */
export function withStoreFlags(command: Command): Command {
  return command
    .addOption(new Option('--bucket <bucket>', 'the bucket that holds the locks').env('S3_LOCK_BUCKET').makeOptionMandatory())
    .addOption(new Option('--prefix <prefix>', 'key prefix of the locks (empty or ending in "/")').env('S3_LOCK_PREFIX').default(DEFAULT_PREFIX))
    .addOption(new Option('--endpoint <url>', 'S3 endpoint (unset: Amazon S3, or the SDK\'s AWS_ENDPOINT_URL_S3)'))
    .addOption(new Option('--region <region>', 'region (unset: the SDK\'s chain, AWS_REGION..., else us-east-1)'))
    .addOption(new Option('--force-path-style', 'path-style requests (MinIO, Ceph RGW, moto, the in-memory store)'))
    .addOption(new Option('--json', 'print one JSON document on stdout'))
    .addOption(new Option('--protocol <protocol>', "read a prefix whose declaration was deleted or lost with this protocol (a declared prefix is read with its own)").choices(['create-only', 'versioned']));
}

/** A read-only survey of the flags' bucket and prefix. */
export function surveyOf(flags: StoreFlags): LockSurvey {
  return new LockSurvey({ client: clientConfig(flags), bucket: flags.bucket, prefix: flags.prefix, ...(flags.protocol ? { protocol: flags.protocol } : {}) });
}

/** The S3 client configuration the flags describe. */
export function clientConfig(flags: StoreFlags): S3ClientConfig {
  return {
    ...(flags.endpoint === undefined ? {} : { endpoint: flags.endpoint }),
    region: flags.region ?? process.env.AWS_REGION ?? process.env.AWS_DEFAULT_REGION ?? 'us-east-1',
    ...(flags.forcePathStyle ? { forcePathStyle: true } : {}),
    maxAttempts: 2,
  };
}
