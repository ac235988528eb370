/**
 * `GET /health`: the lock bucket's health from {@link S3LockHealthIndicator} (served without
 * `@nestjs/terminus` here; with it, pass `() => this.locks.isHealthy('locks')` to `health.check`).
 */
import { Controller, Get, HttpException, HttpStatus } from '@nestjs/common';
import { S3LockHealthIndicator, type S3LockHealthIndicatorResult } from '../src';

@Controller('health')
export class HealthController {
  constructor(private readonly locks: S3LockHealthIndicator) {}

  @Get()
  async check(): Promise<S3LockHealthIndicatorResult<'locks'>> {
    const result = await this.locks.isHealthy('locks');
    if (result.locks.status !== 'up') throw new HttpException(result, HttpStatus.SERVICE_UNAVAILABLE);
    return result;
  }
}
