import { Controller, Param, Post } from '@nestjs/common';
import { currentS3Lock, WithS3Lock } from 'nestjs-s3-lock';
import { ReportsService, type Report } from './reports.service';

@Controller('reports')
export class ReportsController {
  constructor(private readonly reports: ReportsService) {}

  // One report run per id at a time, across every instance: a second request gets 423 Locked
  // (with Retry-After) while the first runs.
  @Post(':id')
  @WithS3Lock((id: string) => `report:${id}`)
  async build(@Param('id') id: string): Promise<Report> {
    const { fencingToken, signal } = currentS3Lock()!;
    return this.reports.build(id, { fencingToken, signal });
  }

  @Post('index/rebuild')
  async rebuildIndex(): Promise<string> {
    return this.reports.rebuildIndex();
  }
}
