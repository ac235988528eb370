/** Message factories of the NestJS module, in one place. */

export const noServiceMessage = (where: string): string =>
  `@WithS3Lock() on ${where} has no S3LockService to run with: import S3LockModule.forRoot() / forRootAsync() ` +
  `(or S3LockTestingModule.forRoot() in tests) in the application, and call the method after the application started (app.init() / app.listen()).`;

export const notAMethodMessage = (where: string): string => `@WithS3Lock() can only decorate methods; ${where} is not a method.`;

export const invalidNameMessage = (where: string, name: unknown): string =>
  `@WithS3Lock() on ${where}: the lock name must be a non-empty string or a function returning one, got ${typeof name === 'string' ? JSON.stringify(name) : typeof name}.`;

export const skippedMessage = (where: string, name: string, holder: string | undefined): string =>
  `Skipped ${where}: lock "${name}" is held by ${holder === undefined ? 'another holder' : `instance ${holder}`}`;

export const skippedClosedMessage = (where: string, name: string): string =>
  `Skipped ${where}: the lock manager is closed (application shutting down), lock "${name}" not taken`;

export const nonStaticProviderMessage = (className: string): string =>
  `${className} is request-scoped or transient: its @WithS3Lock() methods use the most recently started S3LockModule.`;

export const storeReadyMessage = (protocol: string, bucket: string, prefix: string): string =>
  `Lock store ready: protocol ${protocol}, bucket "${bucket}", prefix "${prefix}"`;

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
