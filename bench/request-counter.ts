import type { S3Client } from '@aws-sdk/client-s3';
import { monoMs } from './timing';

/** How a request is billed and reported. */
export type RequestType = 'PUT' | 'HEAD' | 'GET' | 'LIST' | 'DELETE' | 'other';
export const REQUEST_TYPES: readonly RequestType[] = ['PUT', 'HEAD', 'GET', 'LIST', 'DELETE', 'other'];

/** Requests by type, plus their total. */
export type RequestCounts = Record<RequestType, number> & { total: number };

/** One HTTP request (SDK retries count one each), with what is needed to replay it. */
export interface RecordedRequest {
  readonly command: string;
  readonly type: RequestType;
  readonly startMs: number;
  endMs: number;
  /** HTTP status, or 0 when no response came. */
  status: number;
  /** The command's input (only while {@link RequestCounter.capture} is on). */
  readonly input: Record<string, unknown> | undefined;
  /** VersionId in the response, if any. */
  versionId: string | undefined;
}

const TYPE_OF: Record<string, RequestType> = {
  PutObject: 'PUT',
  HeadObject: 'HEAD',
  GetObject: 'GET',
  ListObjects: 'LIST',
  ListObjectsV2: 'LIST',
  ListObjectVersions: 'LIST',
  DeleteObject: 'DELETE',
  DeleteObjects: 'DELETE',
};

let middlewareSeq = 0;

/**
 * Counts every HTTP request an S3 client sends, split by type: a client middleware in the
 * deserialize step, so each SDK retry attempt is counted (and billed) on its own.
 */
export class RequestCounter {
  readonly requests: RecordedRequest[] = [];
  /** Keep command inputs (for replays); off by default to keep long runs small. */
  capture = false;
  private dropped = 0;

  constructor(client: S3Client, private readonly keep = 100_000) {
    client.middlewareStack.add(
      (next, context) => async (args) => {
        const command = String((context as { commandName?: string }).commandName ?? 'Unknown').replace(/Command$/, '');
        const entry: RecordedRequest = {
          command,
          type: TYPE_OF[command] ?? 'other',
          startMs: monoMs(),
          endMs: 0,
          status: 0,
          input: this.capture ? structuredClone(args.input as Record<string, unknown>) : undefined,
          versionId: undefined,
        };
        this.push(entry);
        try {
          const result = await next(args);
          entry.status = (result.response as { statusCode?: number } | undefined)?.statusCode ?? 200;
          entry.versionId = (result.output as { VersionId?: string } | undefined)?.VersionId;
          return result;
        } catch (error) {
          entry.status = (error as { $metadata?: { httpStatusCode?: number } }).$metadata?.httpStatusCode ?? 0;
          throw error;
        } finally {
          entry.endMs = monoMs();
        }
      },
      { step: 'deserialize', priority: 'high', name: `benchRequestCounter${++middlewareSeq}` },
    );
  }

  /** A position to count from. */
  mark(): number {
    return this.dropped + this.requests.length;
  }

  /** Requests sent since `mark`. */
  since(mark: number): RecordedRequest[] {
    return this.requests.slice(Math.max(0, mark - this.dropped));
  }

  countsSince(mark: number): RequestCounts {
    return countByType(this.since(mark));
  }

  /** Counts the requests `fn` caused (including background ones that started meanwhile). */
  async during<T>(fn: () => Promise<T>): Promise<{ result: T; counts: RequestCounts; requests: RecordedRequest[] }> {
    const mark = this.mark();
    const result = await fn();
    const requests = this.since(mark);
    return { result, counts: countByType(requests), requests };
  }

  private push(entry: RecordedRequest): void {
    this.requests.push(entry);
    if (this.requests.length > this.keep) {
      const cut = Math.floor(this.keep / 2);
      this.requests.splice(0, cut);
      this.dropped += cut;
    }
  }
}

export function emptyCounts(): RequestCounts {
  return { PUT: 0, HEAD: 0, GET: 0, LIST: 0, DELETE: 0, other: 0, total: 0 };
}

export function countByType(requests: readonly { type: RequestType }[]): RequestCounts {
  const counts = emptyCounts();
  for (const r of requests) {
    counts[r.type]++;
    counts.total++;
  }
  return counts;
}

export function addCounts(a: RequestCounts, b: RequestCounts): RequestCounts {
  const sum = emptyCounts();
  for (const t of REQUEST_TYPES) sum[t] = a[t] + b[t];
  sum.total = a.total + b.total;
  return sum;
}

/** `4 = LIST + HEAD + 2 PUT` */
export function formatCounts(counts: RequestCounts): string {
  const parts = REQUEST_TYPES.filter((t) => counts[t] > 0).map((t) => (counts[t] === 1 ? t : `${counts[t]} ${t}`));
  return parts.length === 0 ? '0' : `${counts.total} = ${parts.join(' + ')}`;
}

/** `counts` scaled by `factor` (a mean per cycle, a rate per hour), formatted like {@link formatCounts}: `2.05 = 2 PUT + 0.05 DELETE`. */
export function formatScaledCounts(counts: RequestCounts, factor: number, digits = 2): string {
  const show = (x: number): string => {
    const v = x * factor;
    return Number.isInteger(v) ? String(v) : Math.abs(v - Math.round(v)) < 0.5 * 10 ** -digits ? String(Math.round(v)) : v.toFixed(digits);
  };
  const parts = REQUEST_TYPES.filter((t) => counts[t] > 0).map((t) => (show(counts[t]) === '1' ? t : `${show(counts[t])} ${t}`));
  return parts.length === 0 ? '0' : `${show(counts.total)} = ${parts.join(' + ')}`;
}
