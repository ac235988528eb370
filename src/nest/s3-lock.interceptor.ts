import { Injectable, type CallHandler, type ExecutionContext, type NestInterceptor } from '@nestjs/common';
import { catchError, throwError, type Observable } from 'rxjs';
import { S3_LOCK_METADATA } from './s3-lock.constants';
import { runInHandlerScope } from './s3-lock.context';
import { S3LockedException } from './s3-lock.exception';

/**
 * Applied by `@WithS3Lock()` to every decorated method; Nest runs it for controller routes,
 * WebSocket gateway handlers and microservice handlers (never for scheduled jobs or direct calls).
 *
 * Nest resolves a route's arguments (`@Param()`, `@Body()`, pipes) only after the interceptors,
 * so the lock, whose name may depend on those arguments, is taken by the method's wrapper. The
 * interceptor tells the wrapper that it runs as a handler: the wrapper then answers with an
 * Observable that acquires when subscribed, runs the method in the lock's async context, and
 * releases when the method's result settles, or when a returned Observable completes, errors or is
 * unsubscribed (client gone), or a returned stream ends. On HTTP, a {@link S3LockedException}
 * also sets the `Retry-After` header; for microservice and WebSocket handlers it is turned into an
 * `RpcException` / `WsException` carrying the same body, so the client learns the lock name.
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
      catchError((error: unknown) => {
        if (error instanceof S3LockedException) {
          if (context.getType() === 'http') setRetryAfter(context, error.retryAfterSeconds);
          else return throwError(() => forTransport(error, context.getType()));
        }
        return throwError(() => error);
      }),
    );
  }
}

/** Exceptions that Nest's RPC and WebSocket exception filters pass on to the client. */
const TRANSPORT_EXCEPTIONS: Record<string, { module: string; name: string }> = {
  rpc: { module: '@nestjs/microservices', name: 'RpcException' },
  ws: { module: '@nestjs/websockets', name: 'WsException' },
};

/**
 * Nest's RPC and WebSocket filters answer anything but their own exception type with "Internal
 * server error": hand them the 423 body (lock name, holder, retry hint) in their own type. The
 * package is loaded from the application, which has it whenever it serves that transport.
 */
function forTransport(error: S3LockedException, type: string): unknown {
  const transport = TRANSPORT_EXCEPTIONS[type];
  if (!transport) return error;
  try {
    // eslint-disable-next-line @typescript-eslint/no-require-imports
    const Exception = (require(transport.module) as Record<string, new (body: object) => Error>)[transport.name];
    return Exception ? new Exception(error.getResponse() as object) : error;
  } catch {
    return error;
  }
}

interface HeaderTarget {
  headersSent?: boolean;
  header?(name: string, value: string): unknown;
  setHeader?(name: string, value: string): unknown;
}

/** Express (`res.header`), Fastify (`reply.header`) or a bare Node response (`setHeader`). */
function setRetryAfter(context: ExecutionContext, seconds: number): void {
  const response = context.switchToHttp().getResponse<HeaderTarget | undefined>();
  if (!response || response.headersSent === true) return;
  try {
    if (typeof response.header === 'function') response.header('Retry-After', String(seconds));
    else if (typeof response.setHeader === 'function') response.setHeader('Retry-After', String(seconds));
  } catch {
    // a header that cannot be set is no reason to hide the 423
  }
}
