/** Test support for nestjs-s3-lock: an in-memory S3 store with AWS's conditional semantics and fault injection. */
export { InMemoryS3, type InMemoryS3Options } from './in-memory-s3';
export { awsBehaviour, type InMemoryS3Behaviour } from './store-behaviour';
export {
  FaultInjector,
  type DelayFault,
  type DropResponseFault,
  type ErrorFault,
  type FaultKind,
  type FaultMatch,
  type FaultRule,
  type FaultTarget,
  type InjectedFault,
  type LatencyOptions,
  type RandomFaultOptions,
  type ResetBeforeFault,
  type S3Fault,
} from './fault-injector';
export { SimulatedConnectionReset } from './connection-reset';
export type { S3RequestLogEntry } from './request-log';
export type { S3HttpRequest, S3HttpResponse, S3Operation } from './s3-request';
export { NULL_VERSION_ID, type ObjectVersion, type VersioningStatus, type BucketState } from './bucket-state';
export {
  InMemoryS3RequestHandler,
  createInMemoryS3Client,
  type InMemoryS3RequestHandlerConfig,
} from './in-memory-s3-handler';
export { startInMemoryS3Server, type InMemoryS3Server, type InMemoryS3ServerOptions } from './in-memory-s3-server';
