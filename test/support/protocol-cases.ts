import type { S3LockProtocolName } from '../../src';

/** The protocols every contract suite runs with, and the bucket each needs. */
export interface ProtocolCase {
  readonly protocol: Exclude<S3LockProtocolName, 'auto'>;
  readonly versioned: boolean;
}

export const PROTOCOL_CASES: readonly ProtocolCase[] = [
  { protocol: 'create-only', versioned: false },
  { protocol: 'versioned', versioned: true },
];
