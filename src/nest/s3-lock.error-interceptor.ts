import { Inject, Injectable, type CallHandler, type ExecutionContext, type NestInterceptor } from '@nestjs/common';
import { catchError, throwError, type Observable } from 'rxjs';
import type { ResolvedModuleOptions } from './s3-lock-module-options';
import { clientExceptionFor, describeHandler, isClientException } from './s3-lock.client-errors';
import { S3_LOCK_SETTINGS } from './s3-lock.constants';
import { forClient } from './s3-lock.transport';

/**
 * Registered globally by the module (`APP_INTERCEPTOR`): an error of the lock thrown in any route,
 * RPC or WebSocket handler (an `S3LockService.using()` that timed out, a store failure, a lock name
 * built from the request that breaks a rule) answers the client as a decorated method's would:
 * 423 with `Retry-After`, 503 with a generic body and `Retry-After` (details logged), or 400 naming
 * the rule. `http.mapErrors: false` leaves the errors to the application's own filters.
 */
@Injectable()
export class S3LockErrorInterceptor implements NestInterceptor {
  constructor(@Inject(S3_LOCK_SETTINGS) private readonly settings: ResolvedModuleOptions) {}

  intercept(context: ExecutionContext, next: CallHandler): Observable<unknown> {
    return next.handle().pipe(
      catchError((error: unknown) => {
        const answer = isClientException(error) ? error : clientExceptionFor(error, this.settings, describeHandler(context));
        return throwError(() => (answer === undefined ? error : forClient(answer, context)));
      }),
    );
  }
}
