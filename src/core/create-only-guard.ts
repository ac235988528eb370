import { S3LockUnsupportedStoreError } from './errors';

/**
 * Keeps the create-only protocol honest after its probe. A store may stop honouring
 * `If-None-Match: *` while managers run: Ceph RGW ignores it as soon as versioning is enabled on
 * the bucket. Such a switch shows in our own writes at no cost: a bucket whose probe writes carried
 * no version id starts returning one. The first write that shows it (and every write racing it)
 * waits for one new probe; if the probe fails, that write is not trusted (its lease is never
 * granted), and the manager refuses everything from then on.
 */
export class CreateOnlyGuard {
  private refusal: S3LockUnsupportedStoreError | undefined;
  private reprobe: Promise<void> | undefined;

  /**
   * @param versionedAtProbe whether the probe's writes carried version ids (a versioned bucket)
   * @param probeAgain runs the create-only probe again; throws {@link S3LockUnsupportedStoreError} if it fails
   * @param refused told once, when the store is refused
   */
  constructor(
    private versionedAtProbe: boolean,
    private readonly probeAgain: () => Promise<void>,
    private readonly refused: (error: S3LockUnsupportedStoreError) => void,
  ) {}

  /** Throws the refusal once the store was refused; call before every write. */
  assertTrusted(): void {
    if (this.refusal) throw this.refusal;
  }

  /**
   * Called with the version id of a write the protocol is about to count as its own. Resolves when
   * the write can be trusted; throws {@link S3LockUnsupportedStoreError} when the store no longer
   * honours create-only writes (or a store error if the new probe could not run).
   */
  async confirm(versionId: string | undefined): Promise<void> {
    this.assertTrusted();
    if (this.versionedAtProbe || versionId === undefined || versionId === 'null') return;
    this.reprobe ??= this.probeAgain()
      .then(
        () => {
          this.versionedAtProbe = true; // still honoured (AWS semantics): nothing to watch any more
        },
        (error: unknown) => {
          if (error instanceof S3LockUnsupportedStoreError && !this.refusal) {
            this.refusal = error;
            this.refused(error);
          }
          throw error;
        },
      )
      .finally(() => {
        this.reprobe = undefined;
      });
    await this.reprobe;
  }
}
