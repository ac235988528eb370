/** Message factories of the NestJS module, in one place. */

export const noServiceMessage = (where: string): string =>
  `@WithS3Lock() on ${where} has no S3LockService to run with: import S3LockModule.forRoot() / forRootAsync() ` +
  `(or S3LockTestingModule.forRoot() in tests) in the application, and call the method after the application started (app.init() / app.listen()).`;

export const notAMethodMessage = (where: string): string => `@WithS3Lock() can only decorate methods; ${where} is not a method.`;

export const invalidNameMessage = (where: string, name: unknown): string =>
  `@WithS3Lock() on ${where}: the lock name must be a non-empty string or a function returning one (or an array of such names), got ${typeof name === 'string' ? JSON.stringify(name) : typeof name}.`;

export const skippedMessage = (where: string, name: string, holder: string): string => `Skipped ${where}: lock "${name}" is held by ${holder}`;

export const skippedClosedMessage = (where: string, name: string): string =>
  `Skipped ${where}: the lock manager is closed (application shutting down), lock "${name}" not taken`;

export const unavailableMessage = (where: string | undefined, error: Error): string =>
  `${where === undefined ? 'A handler' : where} answered 503 because a lock failed: ${error.message}${causeChain(error)}`;

/** ` (cause: ...)` for each cause below the error, so that a log line shows the store's own words. */
function causeChain(error: Error): string {
  let text = '';
  let cause: unknown = error.cause;
  for (let depth = 0; cause instanceof Error && depth < 3 && !error.message.includes(cause.message); depth++, cause = cause.cause) {
    text += ` (cause: ${cause.name}: ${cause.message})`;
  }
  return text;
}

export const lostMessage = (name: string, fencingToken: number, reason: string, error: Error): string => {
  const cause = error.cause instanceof Error ? error.cause.message : undefined;
  return cause === undefined
    ? `"${name}": lease lost (fencing token ${fencingToken}, ${reason}): ${error.message}`
    : `"${name}": ${cause}; so the lease was lost (fencing token ${fencingToken}, ${reason})`;
};

export const renewalSlowMessage = (name: string, tookMs: number, remainingMs: number, quiet: number): string =>
  `"${name}": a renewal took ${tookMs} ms and landed ${remainingMs} ms before the lease's deadline: the store (or this process) is not keeping up, ` +
  `and leases will be lost if it gets slower (fewer locks per process, a longer ttlMs, or more store capacity help)` +
  `${quiet === 0 ? '' : `; ${quiet} more slow renewal(s) in the last 10 s`}`;

export const startupMessage = (bucket: string, prefix: string, probe: string): string => `Lock store: bucket "${bucket}", prefix "${prefix}", ${probe}`;

export const startupFailedMessage = (error: Error): string =>
  `The lock store check at start-up failed (set probeOnStartup: false to start without the store): ${error.message}`;

export const noShutdownHooksMessage =
  'Shutdown hooks are off, so on SIGTERM held locks are not released and other instances wait up to a TTL: ' +
  'call app.enableShutdownHooks() before app.listen() (or set warnWithoutShutdownHooks: false).';

export const nonStaticProviderMessage = (className: string): string =>
  `${className} is request-scoped or transient: its @WithS3Lock() methods use the most recently started S3LockModule.`;

export const storeReadyMessage = (protocol: string, bucket: string, prefix: string, when: string): string =>
  `Lock store ready: bucket "${bucket}", prefix "${prefix}", protocol ${protocol} (probe passed ${when})`;

export const shutdownTimeoutMessage = (timeoutMs: number, held: number): string =>
  `Locks not released within shutdownTimeoutMs (${timeoutMs} ms); ${held} lock(s) still held will expire after their TTL`;

export const releaseFailedMessage = (name: string, error: Error): string =>
  `"${name}": release failed (${error.message}); the lease will expire after its TTL`;

export const duplicateLockModuleMessage = (count: number): string =>
  `S3LockModule.forRoot() / forRootAsync() is imported ${count} times in this application (with different options); ` +
  `import it once, in the root module (it is global unless isGlobal: false), and share that import.`;

export const testingBesideRealModuleMessage =
  'S3LockTestingModule.forRoot() is imported beside the application\'s S3LockModule.forRoot() / forRootAsync(): ' +
  'to run a test on the in-memory store, replace the module instead: ' +
  'Test.createTestingModule({ imports: [AppModule] }).overrideModule(S3LockModule).useModule(S3LockTestingModule.forRoot()).';

export const duplicateTestingModuleMessage = (count: number): string =>
  `S3LockTestingModule.forRoot() is imported ${count} times in this application; import it once (it is global unless isGlobal: false).`;

export const lockModuleWithoutOptionsMessage =
  'S3LockModule is imported without options: import S3LockModule.forRoot({ ... }) or S3LockModule.forRootAsync({ ... }).';

export const decoratorArgumentMessage = (where: string, rule: string): string => `@WithS3Lock() on ${where}: ${rule}`;

export const electedMessage = (where: string, name: string, fencingToken: number): string =>
  `"${name}": this instance leads (fencing token ${fencingToken}); running ${where}`;

export const leadershipEndedMessage = (where: string, name: string, reason: string): string => `"${name}": leadership of ${where} ended (${reason})`;

export const electionCallbackFailedMessage = (name: string, callback: string, error: Error): string =>
  callback === 'onElected'
    ? `"${name}": the leader's work (onElected) failed, so this instance resigned and campaigns again: ${error.stack ?? error.message}`
    : `"${name}": the election's ${callback} threw: ${error.stack ?? error.message}`;

export const leaderNotAMethodMessage = (where: string): string => `@WhileLeader() can only decorate instance methods of providers; ${where} is not one.`;

export const leaderArgumentMessage = (where: string, rule: string): string => `@WhileLeader() on ${where}: ${rule}`;

export const nonStaticLeaderMessage = (className: string): string =>
  `${className} is request-scoped or transient: its @WhileLeader() methods do not campaign (use a singleton provider).`;
