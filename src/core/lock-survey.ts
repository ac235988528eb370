import { S3Client, type S3ClientConfig } from '@aws-sdk/client-s3';
import { hostname } from 'node:os';
import { epochOfKey } from './epoch-key';
import { S3LockInvalidOptionsError } from './errors';
import { checkLockName, encodeLockName, lockKeyPrefix } from './lock-name';
import { withSafeDefaults } from './lock-manager';
import { resolveManagerOptions, type ResolvedManagerOptions } from './lock-options';
import type { LockProtocol } from './lock-protocol';
import { recordFromMetadata, type LockRecordKind } from './lock-record';
import type { S3LockState } from './lock-types';
import { generationFolder, generationFromMetadata, generationKey } from './log-generation';
import { isDeclaredProtocol, readDeclaration, type DeclaredProtocol, type ProtocolDeclaration } from './protocol-declaration';
import { buildProtocol } from './protocol-selection';
import { S3Gateway } from './s3-gateway';
import { ServerClock, systemMonotonicClock } from './server-clock';

/** One record of a lock's log, as `inspect` shows it (newest first). */
export interface SurveyRecord {
  readonly kind: LockRecordKind;
  readonly fencingToken: number;
  /** Server time of the write. */
  readonly writtenAt: Date;
  readonly host: string | undefined;
  readonly pid: number | undefined;
  readonly managerId: string | undefined;
  readonly leaseId: string;
  readonly ttlMs: number;
  /** True for a force release's record. */
  readonly forced: boolean;
}

/** What a survey is made from. */
export interface LockSurveyOptions {
  readonly client: S3Client | S3ClientConfig;
  readonly bucket: string;
  /** Key prefix, empty or ending in `/`; default `locks/`. */
  readonly prefix?: string;
  /** Per-request time limit; default 10 s. */
  readonly requestTimeoutMs?: number;
  /**
   * The protocol to read with when the prefix has no declaration (it was deleted or lost while
   * lock records remain). A declared prefix is always read with its declared protocol.
   */
  readonly protocol?: DeclaredProtocol;
}

/**
 * Read-only views of a bucket's locks, for operators: names under the prefix, each lock's state,
 * and its recent records. It never probes the store and never writes: the protocol comes from the
 * prefix's declaration (`<prefix>.protocol`), and a prefix nobody declared holds no locks.
 */
export class LockSurvey {
  readonly options: ResolvedManagerOptions;
  readonly gateway: S3Gateway;
  readonly client: S3Client;
  private readonly ownsClient: boolean;
  private declared: Promise<ProtocolDeclaration | undefined> | undefined;
  private readonly given: DeclaredProtocol | undefined;
  private readers = new Map<DeclaredProtocol, LockProtocol>();

  constructor(options: LockSurveyOptions) {
    this.options = resolveManagerOptions({ client: options.client, bucket: options.bucket, prefix: options.prefix, requestTimeoutMs: options.requestTimeoutMs ?? 10_000 }, hostname());
    this.given = options.protocol;
    const client = options.client as S3Client;
    this.ownsClient = typeof client.send !== 'function';
    this.client = this.ownsClient ? new S3Client(withSafeDefaults(options.client as S3ClientConfig)) : client;
    const clock = new ServerClock(systemMonotonicClock, { toleranceMs: this.options.serverClockToleranceMs });
    this.gateway = new S3Gateway(this.client, this.options.bucket, clock, systemMonotonicClock, this.options.requestTimeoutMs, this.options.prefix);
  }

  /**
   * The prefix's declaration, or undefined when there is none. A declaration once read is kept
   * (it is never deleted by the library); a missing one is read again next time (a watch started
   * before the first manager sees it come).
   */
  declaration(): Promise<ProtocolDeclaration | undefined> {
    if (this.declared) return this.declared;
    const read = readDeclaration(this.gateway, this.options.prefix, 'get').then(
      (d) => {
        if (d === undefined && this.declared === read) this.declared = undefined;
        return d;
      },
      (error: unknown) => {
        if (this.declared === read) this.declared = undefined;
        throw error;
      },
    );
    this.declared = read;
    return read;
  }

  /**
   * The protocol to read with: the declared one; without a declaration the `protocol` option, or
   * undefined when the prefix holds no lock folder (nothing was ever locked there). An undeclared
   * prefix that holds lock folders is refused with {@link S3LockInvalidOptionsError}: reading it
   * with a guessed protocol could show a held lock as free.
   */
  async protocol(): Promise<DeclaredProtocol | undefined> {
    const d = await this.declaration();
    const where = `s3://${this.options.bucket}/${this.options.prefix}`;
    if (d !== undefined) {
      if (!isDeclaredProtocol(d.protocol)) {
        throw new S3LockInvalidOptionsError('prefix', `the declaration ${where}.protocol names no protocol (${JSON.stringify(d.protocol)}); it was not written by this library`);
      }
      return d.protocol;
    }
    if (this.given !== undefined) return this.given;
    const first = await this.names().next();
    const name = first.done ? undefined : first.value[0];
    if (name === undefined) return undefined;
    throw new S3LockInvalidOptionsError(
      'protocol',
      `${where} holds lock folders (the first: "${name}") but no protocol declaration (${this.options.prefix}.protocol was deleted or lost; the next manager to use the prefix declares it again): give the protocol to read them with (--protocol create-only or versioned)`,
    );
  }

  /**
   * Every lock name under the prefix, in key order, one ListObjectsV2 page (up to 1,000 names)
   * at a time. Folders of other managers' nested prefixes are listed too (they look like names).
   */
  async *names(): AsyncGenerator<string[]> {
    let continuationToken: string | undefined;
    const prefix = this.options.prefix;
    do {
      const page = await this.gateway.list(prefix, 1000, undefined, 'list lock names', { delimiter: '/', continuationToken });
      const names: string[] = [];
      for (const p of page.commonPrefixes) {
        const segment = p.slice(prefix.length, -1);
        if (segment === '' || segment.startsWith('.')) continue;
        const name = decodeLockName(segment);
        if (name !== undefined) names.push(name);
      }
      yield names;
      continuationToken = page.truncated ? page.nextContinuationToken : undefined;
    } while (continuationToken !== undefined);
  }

  /** The state of `name` as a manager's `inspect()` reads it, or undefined on an undeclared prefix. */
  async state(name: string): Promise<S3LockState | undefined> {
    checkLockName(name);
    const reader = await this.reader();
    return reader?.inspect(name);
  }

  /** Up to `limit` of `name`'s newest records still in the store, newest first. */
  async history(name: string, limit: number): Promise<SurveyRecord[]> {
    checkLockName(name);
    const protocol = await this.protocol();
    if (protocol === undefined) return [];
    const lockPrefix = lockKeyPrefix(this.options.prefix, name);
    const heads: Array<{ key: string; versionId?: string }> = [];
    if (protocol === 'create-only') {
      const g = await this.gateway.get(generationKey(lockPrefix), name, 'inspect');
      if (!g.found) return [];
      const generation = generationFromMetadata(name, generationKey(lockPrefix), g.metadata);
      const folder = generationFolder(lockPrefix, generation.id);
      const page = await this.gateway.list(folder, limit, name, 'inspect', { delimiter: '/' });
      for (const k of page.keys) if (epochOfKey(folder, k.key) !== undefined) heads.push({ key: k.key });
    } else {
      const key = lockPrefix + 'lock';
      const page = await this.gateway.listVersions(key, name, 'inspect', {}, limit);
      for (const v of page.versions) if (v.key === key) heads.push({ key, versionId: v.versionId });
    }
    const records = await Promise.all(
      heads.slice(0, limit).map(async ({ key, versionId }) => {
        const h = await this.gateway.head(key, name, 'inspect', versionId);
        if (!h.found) return undefined;
        const r = recordFromMetadata(name, key, h.metadata);
        const record: SurveyRecord = {
          kind: r.kind,
          fencingToken: r.fencingToken,
          writtenAt: new Date(h.lastModifiedMs),
          host: r.host || undefined,
          pid: r.pid >= 0 ? r.pid : undefined,
          managerId: r.managerId,
          leaseId: r.leaseId,
          ttlMs: r.ttlMs,
          forced: r.forced === true,
        };
        return record;
      }),
    );
    return records.filter((r): r is SurveyRecord => r !== undefined);
  }

  /** The store's clock now, as far as the answers so far tell (lower bound), or undefined. */
  serverNow(): Date | undefined {
    const ms = this.gateway.serverClock.nowLowerBound();
    return ms === undefined ? undefined : new Date(ms);
  }

  /** Destroys the client if the survey built it. */
  close(): void {
    if (this.ownsClient) this.client.destroy();
  }

  private async reader(): Promise<LockProtocol | undefined> {
    const protocol = await this.protocol();
    if (protocol === undefined) return undefined;
    let reader = this.readers.get(protocol);
    if (!reader) {
      reader = buildProtocol({ gateway: this.gateway, options: this.options, mono: systemMonotonicClock, pid: process.pid }, protocol);
      this.readers.set(protocol, reader);
    }
    return reader;
  }
}

/**
 * The lock name a key segment encodes (see `encodeLockName`), or undefined if it is not one: a
 * folder the library did not name (it does not encode back to itself, or the name is not valid).
 */
export function decodeLockName(segment: string): string | undefined {
  let name: string;
  try {
    name = decodeURIComponent(segment);
    checkLockName(name);
  } catch {
    return undefined;
  }
  return encodeLockName(name) === segment ? name : undefined;
}
