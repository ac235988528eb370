/**
 * Jest projects:
 *   unit    src/**\/*.spec.ts, no server
 *   memory  the store contract (test/contract, test/**\/*.e2e-spec.ts) against the in-memory S3,
 *           plus the in-memory-only tests (test/memory: fault injection)
 *   rgw     the same contract against Ceph RGW   (needs S3_RGW_ENDPOINT: `npm test` starts it)
 *   moto    the same contract against moto       (needs S3_MOTO_ENDPOINT: `npm test` starts it)
 *   cli     the operator CLI through an installed bin (needs NESTJS_S3_LOCK_BIN and both stores:
 *           scripts/test-cli.sh, which npm test runs after the consumer apps)
 * Each store project's setup file sets process.env.S3_LOCK_TARGET; test/support/store-target.ts
 * reads it. Run one project with `npx jest --selectProjects memory`.
 */
// Nest 12 (every @nestjs package) and some of its dependencies ship ESM only: the tests load them
// through test/nest/support/esm-to-cjs.transform.js, so they share jest's module registry with the
// tests on every Node version. The list is read from the installed packages.
const { esmOnlyPackages, esmTransformOptions } = require('./test/nest/support/esm-only-packages');

const base = {
  rootDir: __dirname,
  testEnvironment: 'node',
  ...esmTransformOptions(__dirname, esmOnlyPackages(`${__dirname}/node_modules`)),
  moduleFileExtensions: ['ts', 'js', 'json'],
  testPathIgnorePatterns: ['/node_modules/', '<rootDir>/dist/', '<rootDir>/test/consumers/'],
  // the consumer apps (test/consumers) are installed, type-checked and tested by scripts/test-consumers.sh
  modulePathIgnorePatterns: ['<rootDir>/test/consumers/'],
  setupFiles: ['<rootDir>/test/support/quiet-sdk.ts'],
};

const contract = ['<rootDir>/test/contract/**/*.spec.ts', '<rootDir>/test/**/*.e2e-spec.ts'];

/** @param {'memory' | 'rgw' | 'moto'} name @param {string} color @param {string[]} extra */
function store(name, color, extra = []) {
  return {
    ...base,
    displayName: { name, color },
    testMatch: [...contract, ...extra],
    setupFiles: [...base.setupFiles, `<rootDir>/test/support/target-${name}.ts`],
  };
}

/** @type {import('jest').Config} */
module.exports = {
  // global options (jest ignores them inside projects)
  testTimeout: 120_000,
  // 2 cores, and the real stores run on the same machine: at most 2 test files at a time.
  // `npm test -- --runInBand` for strictly one at a time.
  maxWorkers: 2,
  // emits the TypeScript as JavaScript once, for the OS processes the tests start
  globalSetup: '<rootDir>/test/support/compile-js.global-setup.js',
  projects: [
    { ...base, displayName: { name: 'unit', color: 'white' }, testMatch: ['<rootDir>/src/**/*.spec.ts', '<rootDir>/verify/**/*.spec.ts'] },
    {
      ...store('memory', 'cyan', ['<rootDir>/test/memory/**/*.spec.ts']),
      // semaphores, multi-name locks and elections across OS processes: on the real stores (the
      // in-process contract, test/contract/beyond-mutex.spec.ts, covers the in-memory store)
      testPathIgnorePatterns: [...base.testPathIgnorePatterns, '<rootDir>/test/contract/beyond-mutex-processes.spec.ts'],
    },
    store('rgw', 'magenta'),
    // a private moto instance restarted under running locks (record loss): moto only
    store('moto', 'yellow', ['<rootDir>/test/restart/**/*.spec.ts']),
    // the operator CLI through an installed bin, on memory-s3, RGW and moto: scripts/test-cli.sh
    { ...base, displayName: { name: 'cli', color: 'green' }, testMatch: ['<rootDir>/test/cli/**/*.cli-spec.ts'] },
  ],
};
