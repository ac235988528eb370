import type { ExecutionContext } from '@nestjs/common';
import type { S3LockClientException } from './s3-lock.client-errors';
import { S3LockInvalidNameException } from './s3-lock.exception';

/** Exceptions that Nest's RPC and WebSocket exception filters pass on to the client. */
const TRANSPORT_EXCEPTIONS: Record<string, { module: string; name: string }> = {
  rpc: { module: '@nestjs/microservices', name: 'RpcException' },
  ws: { module: '@nestjs/websockets', name: 'WsException' },
};

/**
 * Delivers a client answer on the handler's transport: on HTTP, sets `Retry-After` (423, 503) and
 * returns the exception; for microservice and WebSocket handlers returns an `RpcException` /
 * `WsException` carrying the same body, because Nest's RPC and WebSocket filters answer anything
 * but their own exception type with "Internal server error". The package is loaded from the
 * application, which has it whenever it serves that transport.
 */
export function forClient(error: S3LockClientException, context: ExecutionContext): unknown {
  const type = context.getType<string>();
  if (type === 'http') {
    if (!(error instanceof S3LockInvalidNameException)) setRetryAfter(context, error.retryAfterSeconds);
    return error;
  }
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
    // a header that cannot be set is no reason to hide the answer
  }
}
