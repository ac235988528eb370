import { S3LockProtocolMismatchError, S3LockStoreError } from './errors';
import { mismatch, readDeclaration, writeDeclaration, type DeclaredProtocol, type ProtocolDeclaration } from './protocol-declaration';
import type { S3Gateway } from './s3-gateway';
import type { MonotonicClock } from './server-clock';

/** Rounds of read / create before giving up on a declaration that cannot be settled. */
const MAX_ROUNDS = 3;

/** What a running protocol needs to check its prefix's declaration again. */
export interface DeclarationCheckOptions {
  readonly prefix: string;
  /** The protocol this manager runs (what it declares when the declaration is missing). */
  readonly protocol: DeclaredProtocol;
  /** The protocol the manager was configured for (named in the refusal). */
  readonly configured: string;
  readonly host: string;
  readonly pid: number;
}

/**
 * Checks a running manager's prefix declaration again where a loss of records can show (the
 * declaration `<prefix>.protocol` goes with them): one HEAD, and when it is missing, a create of
 * this manager's own protocol with `If-None-Match: *`. A declaration naming another protocol
 * refuses the manager for good ({@link S3LockProtocolMismatchError}, also told to `refused`).
 * See docs/protocol.md, "The declaration is lost with the records".
 */
export class DeclarationCheck {
  private refusal: S3LockProtocolMismatchError | undefined;
  /** Monotonic send time of the latest check that passed. */
  private passedSince = Number.NEGATIVE_INFINITY;
  private inFlight: { readonly startedAt: number; readonly done: Promise<void> } | undefined;

  constructor(
    private readonly gateway: S3Gateway,
    private readonly options: DeclarationCheckOptions,
    private readonly mono: MonotonicClock,
    private readonly refused: (error: S3LockProtocolMismatchError) => void,
    private readonly failed: (name: string, operation: string, error: unknown) => void,
  ) {}

  /** Throws the refusal once the manager was refused. */
  assertAgreed(): void {
    if (this.refusal) throw this.refusal;
  }

  /**
   * Resolves once a check sent at or after `since` (monotonic ms) passed: at once when one did
   * already, or by joining one in flight that was sent late enough, otherwise by sending one.
   * Throws the refusal, or the store error of a check that could not be made.
   */
  async passedAfter(since: number, name: string, operation: string): Promise<void> {
    this.assertAgreed();
    if (this.passedSince >= since) return;
    if (this.inFlight && this.inFlight.startedAt >= since) return this.inFlight.done;
    const startedAt = this.mono.now();
    const done = this.check(name, operation).then(() => {
      this.passedSince = Math.max(this.passedSince, startedAt);
    });
    const entry = { startedAt, done };
    this.inFlight = entry;
    void done
      .finally(() => {
        if (this.inFlight === entry) this.inFlight = undefined;
      })
      .catch(() => undefined);
    return done;
  }

  /** After a loss was detected: a check now, in the background; an error is told to `failed`. */
  inBackground(name: string, operation: string): void {
    if (this.refusal) return;
    this.passedAfter(this.mono.now(), name, operation).catch((error: unknown) => {
      if (!(error instanceof S3LockProtocolMismatchError)) this.failed(name, operation, error);
    });
  }

  private async check(name: string, operation: string): Promise<void> {
    const { prefix, protocol, host, pid } = this.options;
    for (let round = 0; round < MAX_ROUNDS; round++) {
      const found = await readDeclaration(this.gateway, prefix);
      if (found) return this.judge(found);
      const outcome = await writeDeclaration(this.gateway, prefix, protocol, host, pid);
      if (outcome.kind === 'created') return;
      // 412: another manager declared first; unknown: read it back. Either way, read again.
    }
    throw new S3LockStoreError(name, operation, undefined, new Error(`the declaration of prefix "${prefix}" could not be settled in ${MAX_ROUNDS} rounds`), this.gateway.context());
  }

  private judge(declaration: ProtocolDeclaration): void {
    if (declaration.protocol === this.options.protocol) return;
    if (!this.refusal) {
      this.refusal = mismatch(this.gateway, this.options.prefix, this.options.configured, declaration);
      this.refused(this.refusal);
    }
    throw this.refusal;
  }
}
