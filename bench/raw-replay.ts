/**
 * The baseline of the latency comparison: the same S3 requests a lock cycle makes, sent directly
 * with the SDK. A recorded cycle becomes a plan (requests that overlapped in time run together,
 * the others one after another). Replays use their own key space: a key the cycle created with
 * If-None-Match gets a fresh key in every replay (the engine writes a new epoch key each cycle),
 * every other key keeps one key per replayer (as the engine reuses its key), and version ids are
 * mapped to the versions the replays created: a version the cycle wrote itself to the one the same
 * PUT of this replay wrote, a version an earlier cycle wrote (a versioned release deletes the
 * previous cycle's release record) to the one the same PUT of the previous replay wrote. For
 * create-only that is two PutObject If-None-Match on fresh keys; for versioned, the same
 * PUT/LIST/HEAD/DELETE sequence on a key of its own.
 */
import * as S3 from '@aws-sdk/client-s3';
import type { RecordedRequest } from './request-counter';

export interface ReplayStep {
  readonly command: string;
  readonly input: Record<string, unknown>;
  /** For a PutObject: its position among the cycle's PUTs. */
  readonly putIndex: number | undefined;
}

/** Where a version id of the recorded cycle came from: the n-th PUT of this cycle or of the one before. */
interface VersionRef {
  readonly cycle: 'this' | 'previous';
  readonly putIndex: number;
}

export interface ReplayPlan {
  /** Batches run one after another; the steps of one batch run concurrently. */
  readonly batches: readonly (readonly ReplayStep[])[];
  /** Keys the cycle created with If-None-Match: fresh ones in every replay. */
  readonly createdKeys: ReadonlySet<string>;
  readonly versions: ReadonlyMap<string, VersionRef>;
}

const KEY_FIELDS = ['Key', 'Prefix', 'StartAfter', 'KeyMarker'] as const;
const VERSION_FIELDS = ['VersionId', 'VersionIdMarker'] as const;

type CommandClass = new (input: object) => Parameters<S3.S3Client['send']>[0];

/**
 * Builds a plan from the requests of one recorded cycle and of the cycle right before it (both
 * recorded with `capture` on; the earlier one only tells where older version ids came from).
 */
export function planFrom(requests: readonly RecordedRequest[], previous: readonly RecordedRequest[] = []): ReplayPlan {
  const sorted = byStart(requests);
  const versions = new Map<string, VersionRef>();
  const puts = (list: RecordedRequest[]): RecordedRequest[] => list.filter((r) => r.command === 'PutObject');
  puts(byStart(previous)).forEach((r, putIndex) => r.versionId && versions.set(r.versionId, { cycle: 'previous', putIndex }));
  puts(sorted).forEach((r, putIndex) => r.versionId && versions.set(r.versionId, { cycle: 'this', putIndex }));
  const batches: ReplayStep[][] = [];
  let batchEnd = -Infinity;
  let putIndex = 0;
  for (const r of sorted) {
    if (!r.input) throw new Error(`request ${r.command} was recorded without its input (turn capture on)`);
    const step: ReplayStep = { command: r.command, input: r.input, putIndex: r.command === 'PutObject' ? putIndex++ : undefined };
    if (r.startMs < batchEnd) batches[batches.length - 1]!.push(step);
    else batches.push([step]);
    batchEnd = Math.max(batchEnd, r.endMs);
  }
  const createdKeys = new Set(
    sorted.filter((r) => r.command === 'PutObject' && r.input!.IfNoneMatch !== undefined).map((r) => r.input!.Key as string),
  );
  return { batches, createdKeys, versions };
}

function byStart(requests: readonly RecordedRequest[]): RecordedRequest[] {
  return [...requests].sort((a, b) => a.startMs - b.startMs);
}

export function describePlan(plan: ReplayPlan): string {
  return plan.batches.map((batch) => batch.map((s) => s.command).join(' ‖ ')).join(' → ');
}

export class RawReplayer {
  private runs = 0;
  /** Version ids the previous replay's PUTs got, by position. */
  private previousPuts: (string | undefined)[] = [];

  constructor(
    private readonly client: S3.S3Client,
    private readonly runId: string,
  ) {}

  /** Sends the plan's requests once on fresh keys; error answers (404, 412) count as round trips too. */
  async run(plan: ReplayPlan): Promise<void> {
    const fresh = `raw/${this.runId}/${++this.runs}/`;
    const mapKey = (key: string): string => (plan.createdKeys.has(key) ? fresh : `raw/${this.runId}/`) + key;
    const puts: (string | undefined)[] = [];
    const mapVersion = (id: string): string => {
      const ref = plan.versions.get(id);
      return (ref && (ref.cycle === 'this' ? puts : this.previousPuts)[ref.putIndex]) ?? id;
    };
    for (const batch of plan.batches) {
      await Promise.all(
        batch.map(async (step) => {
          const input = mapInput(step.input, mapKey, mapVersion);
          const Command = (S3 as unknown as Record<string, CommandClass>)[`${step.command}Command`];
          if (!Command) throw new Error(`no SDK command for ${step.command}`);
          try {
            const out = (await this.client.send(new Command(input))) as { VersionId?: string };
            if (step.putIndex !== undefined) puts[step.putIndex] = out.VersionId;
          } catch (error) {
            if ((error as { $metadata?: { httpStatusCode?: number } }).$metadata?.httpStatusCode === undefined) throw error;
          }
        }),
      );
    }
    this.previousPuts = puts;
  }
}

function mapInput(input: Record<string, unknown>, mapKey: (key: string) => string, mapVersion: (id: string) => string): Record<string, unknown> {
  const out: Record<string, unknown> = { ...input };
  for (const f of KEY_FIELDS) if (typeof out[f] === 'string') out[f] = mapKey(out[f] as string);
  for (const f of VERSION_FIELDS) if (typeof out[f] === 'string') out[f] = mapVersion(out[f] as string);
  const del = out.Delete as { Objects?: Array<{ Key?: string; VersionId?: string }> } | undefined;
  if (del?.Objects) {
    out.Delete = {
      ...del,
      Objects: del.Objects.map((o) => ({ ...o, Key: mapKey(o.Key ?? ''), VersionId: o.VersionId && mapVersion(o.VersionId) })),
    };
  }
  return out;
}
