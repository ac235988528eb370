// One process, two ways in: this ES module imports nestjs-s3-lock while cjs-library.cjs
// require()s it. Run by scripts/test-compat.sh with node against the packed package (unpacked into
// node_modules beside these files). Passes when both sides see one package: the same exports, one
// @nestjs/common, and one lock context (a lock taken through the import side is currentS3Lock()
// on the require() side, and the other way round). Exits non-zero on the first difference.
import assert from 'node:assert/strict';
import { createRequire } from 'node:module';
import 'reflect-metadata';
import * as nestCommon from '@nestjs/common';
import { NestFactory } from '@nestjs/core';
import * as esm from 'nestjs-s3-lock';
import * as esmTesting from 'nestjs-s3-lock/testing';

const require = createRequire(import.meta.url);
const lib = require('./cjs-library.cjs');
const checks = [];
const check = (name, fn) => checks.push([name, fn]);

/** The names an ES module import of a CommonJS module adds by itself (`__esModule` is not enumerable on module.exports). */
const IMPORT_ONLY = new Set(['default', 'module.exports', '__esModule']);

function sameExports(namespace, cjsExports, what) {
  const importNames = Object.keys(namespace).filter((n) => !IMPORT_ONLY.has(n)).sort();
  const requireNames = Object.keys(cjsExports).filter((n) => n !== '__esModule').sort();
  assert.deepEqual(importNames, requireNames, `${what}: import and require() see different export names`);
  for (const name of requireNames) assert.equal(namespace[name], cjsExports[name], `${what}: '${name}' differs between import and require()`);
  assert.equal(namespace.default, cjsExports, `${what}: the default import is not module.exports`);
  assert.ok(requireNames.length > 0, `${what}: no exports`);
  return requireNames.length;
}

check('the same exports from import and require()', () => {
  const a = sameExports(esm, lib.package, 'nestjs-s3-lock');
  const b = sameExports(esmTesting, lib.testing, 'nestjs-s3-lock/testing');
  return `${a} + ${b} names, identical values`;
});

check('one @nestjs/common for the application and the package', () => {
  assert.equal(lib.nestCommon.Injectable, nestCommon.Injectable, 'require() and import load two copies of @nestjs/common');
  return `@nestjs/common ${require('@nestjs/common/package.json').version}`;
});

check('one lock context: a lock taken through either side is current on both', async () => {
  const store = new esmTesting.InMemoryS3({ buckets: ['one-copy'] });
  const client = esmTesting.createInMemoryS3Client(store);
  class AppModule {}
  nestCommon.Module({
    imports: [esm.S3LockModule.forRoot({ client, bucket: 'one-copy', logger: false })],
    providers: [lib.ReportJob],
  })(AppModule);
  const app = await NestFactory.createApplicationContext(AppModule, { logger: false });
  try {
    // the module's tokens: the service registered through the import side is found by the
    // require() side's class
    const service = app.get(lib.S3LockService);
    assert.equal(service, app.get(esm.S3LockService));
    // import side takes the lock, require() side sees it
    await service.using('imported', async (context) => {
      const seen = lib.lockSeenByRequire();
      assert.ok(seen, 'currentS3Lock() on the require() side sees no lock inside using() of the import side');
      assert.equal(seen, context);
      assert.equal(seen.name, 'imported');
      assert.equal(lib.lockSeenByRequire('imported'), context);
    });
    assert.equal(lib.lockSeenByRequire(), undefined, 'a lock is still current after using() returned');
    // require() side's decorator takes the lock, import side sees it
    const job = app.get(lib.ReportJob);
    const inside = await job.run();
    assert.ok(inside, '@WithS3Lock() applied through require() held no lock in its method');
    assert.equal(inside.name, 'report-job');
    assert.equal(esm.getS3LockMetadata(job.run)?.name, 'report-job', 'the import side finds no @WithS3Lock() metadata set through require()');
    return `locks 'imported' and 'report-job' (fencing token ${inside.fencingToken})`;
  } finally {
    await app.close();
  }
});

let failed = 0;
for (const [name, fn] of checks) {
  try {
    const detail = await fn();
    console.log(`  ok   ${name}: ${detail}`);
  } catch (error) {
    failed += 1;
    console.log(`  FAIL ${name}\n       ${error?.stack ?? error}`);
  }
}
console.log(`one-copy (node ${process.version}): ${checks.length - failed} passed, ${failed} failed`);
process.exitCode = failed === 0 ? 0 : 1;
