import { Injectable, type CallHandler, type ExecutionContext, type NestInterceptor } from '@nestjs/common';
import { catchError, throwError, type Observable } from 'rxjs';
import { S3_LOCK_METADATA } from './s3-lock.constants';
import { runInHandlerScope } from './s3-lock.context';
import { isClientException } from './s3-lock.client-errors';
import { forClient } from './s3-lock.transport';

/**
 * Applied by `@WithS3Lock()` to every decorated method; Nest runs it for controller routes,
 * WebSocket gateway handlers and microservice handlers (never for scheduled jobs or direct calls).
 *
 * Nest resolves a route's arguments (`@Param()`, `@Body()`, pipes) only after the interceptors,
 * so the lock, whose name may depend on those arguments, is taken by the method's wrapper. The
 * interceptor tells the wrapper that it runs as a handler: the wrapper then answers with an
 * Observable that acquires when subscribed, runs the method in the lock's async context, and
 * releases when the method's result settles, or when a returned Observable completes, errors or is
 * unsubscribed (client gone), or a returned stream ends. The wrapper turns the lock's errors into
 * client answers (423 busy, 503 store failure, 400 invalid name); this interceptor delivers them:
 * on HTTP with a `Retry-After` header, for microservice and WebSocket handlers as an
 * `RpcException` / `WsException` carrying the same body.
 */
@Injectable()
export class S3LockInterceptor implements NestInterceptor {
  /** The instance `@WithS3Lock()` applies (it has no dependencies). */
  static readonly instance = new S3LockInterceptor();

  intercept(context: ExecutionContext, next: CallHandler): Observable<unknown> {
    const metadata = Reflect.getMetadata(S3_LOCK_METADATA, context.getHandler()) as object | undefined;
    if (metadata === undefined) return next.handle();
    // next.handle() binds the async context at this call: the handler's wrapper finds the scope.
    return runInHandlerScope(metadata, () => next.handle()).pipe(
      catchError((error: unknown) => throwError(() => (isClientException(error) ? forClient(error, context) : error))),
    );
  }
}
