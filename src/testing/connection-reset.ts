/**
 * The error a simulated connection reset raises. It looks exactly like what the SDK's own
 * NodeHttpHandler raises on `socket hang up`: `name: 'TimeoutError'`, `code: 'ECONNRESET'`, both of
 * which the SDK's retry strategy classifies as transient (so it retries).
 */
export class SimulatedConnectionReset extends Error {
  /** Node's error code for a reset connection. */
  readonly code = 'ECONNRESET';

  constructor(message = 'socket hang up (simulated by the in-memory S3 store)') {
    super(message);
    this.name = 'TimeoutError';
  }
}
