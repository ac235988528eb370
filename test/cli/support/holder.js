// A process that holds locks through the installed package, as an application would:
//   node holder.js '<json options>'
// options: { pkg, endpoint, region, accessKeyId, secretAccessKey, bucket, prefix, protocol, ttlMs, names, waiters }
// `waiters`: names this process then waits for with a second lock instance each (a release of the
// first hands the lock over inside the process, as `@WithS3Lock` callers queued in one app do).
// Prints `HELD <name> <fencing token>` per lock, `LOST <name> <reason>` when a lease's signal
// aborts, and `RELEASED <name>` after the stdin line `release <name>`. Exits on stdin end.
'use strict';
const options = JSON.parse(process.argv[2]);
const { S3LockManager } = require(options.pkg);
const manager = new S3LockManager({
  client: {
    endpoint: options.endpoint,
    forcePathStyle: true,
    region: options.region || 'us-east-1',
    credentials: { accessKeyId: options.accessKeyId, secretAccessKey: options.secretAccessKey },
  },
  bucket: options.bucket,
  prefix: options.prefix,
  protocol: options.protocol,
  ttlMs: options.ttlMs,
});
const held = new Map();
(async () => {
  for (const name of options.names) {
    const lock = manager.lock(name);
    await lock.acquire({ waitMs: 30000 });
    lock.signal.addEventListener('abort', () => process.stdout.write(`LOST ${name} ${lock.signal.reason && lock.signal.reason.reason}\n`));
    held.set(name, lock);
    process.stdout.write(`HELD ${name} ${lock.fencingToken}\n`);
  }
  for (const name of options.waiters || []) {
    const lock = manager.lock(name);
    lock.acquire({ waitMs: 60000 }).then(
      () => {
        lock.signal.addEventListener('abort', () => process.stdout.write(`LOST ${name} ${lock.signal.reason && lock.signal.reason.reason}\n`));
        process.stdout.write(`HELD ${name} ${lock.fencingToken}\n`);
      },
      (error) => process.stdout.write(`ERROR ${error && error.message}\n`),
    );
  }
  process.stdout.write('READY\n');
})().catch((error) => {
  process.stdout.write(`ERROR ${error && error.message}\n`);
  process.exitCode = 1;
});
let buffer = '';
process.stdin.on('data', (chunk) => {
  buffer += chunk;
  let i;
  while ((i = buffer.indexOf('\n')) >= 0) {
    const [verb, ...rest] = buffer.slice(0, i).trim().split(' ');
    buffer = buffer.slice(i + 1);
    const name = rest.join(' ');
    if (verb === 'release' && held.has(name)) {
      held.get(name).release().then(
        () => process.stdout.write(`RELEASED ${name}\n`),
        (error) => process.stdout.write(`ERROR ${error && error.message}\n`),
      );
    }
  }
});
process.stdin.on('end', () => {
  manager.close().finally(() => process.exit(0));
});
