/**
 * `POST /reports/:id` builds report `id` under the lock `report:<id>`, on whichever instance the
 * request reached. While one instance builds it, the same request on any instance answers
 * 423 Locked (the default `onLocked` of routes is 'throw'; the body names the lock, and its holder
 * because the sample sets `http.exposeHolder`; a Retry-After header is set). Different ids lock different names and run in parallel.
 */
import { Controller, HttpCode, HttpStatus, Inject, Param, Post } from '@nestjs/common';
import { currentS3Lock, WithS3Lock } from '../src';
import { SAMPLE_CONFIG, sleep, type SampleConfig } from './config';
import { EventLog } from './event-log';

export interface ReportResult {
  readonly report: string;
  readonly instance: string;
  readonly lock: string;
  readonly fencingToken: number;
  readonly tookMs: number;
}

@Controller('reports')
export class ReportsController {
  constructor(
    @Inject(SAMPLE_CONFIG) private readonly config: SampleConfig,
    private readonly log: EventLog,
  ) {}

  @Post(':id')
  @HttpCode(HttpStatus.OK)
  @WithS3Lock((id: string) => `report:${id}`, { telemetryName: 'report:{id}' })
  async build(@Param('id') id: string): Promise<ReportResult> {
    const lock = currentS3Lock()!;
    const started = Date.now();
    const end = this.log.runStart('report', lock, { report: id });
    try {
      // the work: stops at once if the lease is lost (the signal aborts), so no stale result is saved
      await sleep(this.config.reportWorkMs, lock.signal);
    } finally {
      end({ aborted: lock.signal.aborted });
    }
    return { report: id, instance: this.config.instance, lock: lock.name, fencingToken: lock.fencingToken, tookMs: Date.now() - started };
  }
}
