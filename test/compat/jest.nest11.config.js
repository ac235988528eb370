/**
 * The NestJS suites against Nest 11: the same specs as jest.config.js, with every @nestjs package
 * mapped to the Nest 11 install in NEST11_NODE_MODULES (scripts/test-compat.sh installs
 * test/compat/nest11 there). reflect-metadata and rxjs, Nest's peers, come from the repository,
 * so that the tests and Nest share one copy of each.
 *
 * Projects: nest11-unit (src/nest specs), nest11-memory and nest11-rgw (test/nest e2e specs on the
 * in-memory store and on RGW). Not run here: test/nest/cron-logs.e2e-spec.ts (a fixed 20 s window),
 * test/nest/shutdown-signal.e2e-spec.ts and
 * test/sample, whose applications run in child processes outside jest (they load the
 * repository's Nest).
 */
const { existsSync } = require('node:fs');
const { join, resolve } = require('node:path');
const { esmOnlyPackages, esmTransformOptions } = require('../nest/support/esm-only-packages');

const ROOT = resolve(__dirname, '../..');
const NEST11 = process.env.NEST11_NODE_MODULES;
if (!NEST11 || !existsSync(join(NEST11, '@nestjs/core/package.json'))) {
  throw new Error(`NEST11_NODE_MODULES must name the node_modules folder of test/compat/nest11 (got '${NEST11 ?? ''}'): run scripts/test-compat.sh`);
}

const NEST_PACKAGES = ['common', 'core', 'testing', 'platform-express', 'microservices', 'schedule', 'terminus'].join('|');
const moduleNameMapper = {
  [`^@nestjs/(${NEST_PACKAGES})$`]: `${NEST11}/@nestjs/$1`,
  [`^@nestjs/(${NEST_PACKAGES})/(.*)$`]: `${NEST11}/@nestjs/$1/$2`,
  '^rxjs$': `${ROOT}/node_modules/rxjs`,
  '^rxjs/(.*)$': `${ROOT}/node_modules/rxjs/$1`,
  '^reflect-metadata$': `${ROOT}/node_modules/reflect-metadata`,
};

// ESM-only packages: the repository's (less the Nest 12 ones, mapped away) and Nest 11's (none today)
const esmOnly = [...esmOnlyPackages(`${ROOT}/node_modules`).filter((p) => !p.startsWith('@nestjs/')), ...esmOnlyPackages(NEST11)];

const base = {
  rootDir: ROOT,
  testEnvironment: 'node',
  ...esmTransformOptions(ROOT, esmOnly),
  moduleNameMapper,
  moduleFileExtensions: ['ts', 'js', 'json'],
  // cron-logs waits a fixed 20 s window on RGW: it runs on Nest 12 against every store
  testPathIgnorePatterns: ['/node_modules/', '<rootDir>/dist/', '<rootDir>/test/nest/shutdown-signal\\.e2e-spec\\.ts$', '<rootDir>/test/nest/cron-logs\\.e2e-spec\\.ts$'],
  setupFiles: ['<rootDir>/test/support/quiet-sdk.ts', '<rootDir>/test/compat/nest11-guard.ts'],
};

/** @param {'memory' | 'rgw'} name @param {string} color */
function store(name, color) {
  return {
    ...base,
    displayName: { name: `nest11-${name}`, color },
    testMatch: ['<rootDir>/test/nest/**/*.e2e-spec.ts'],
    setupFiles: [...base.setupFiles, `<rootDir>/test/support/target-${name}.ts`],
  };
}

/** @type {import('jest').Config} */
module.exports = {
  testTimeout: 120_000,
  maxWorkers: 2,
  projects: [
    { ...base, displayName: { name: 'nest11-unit', color: 'white' }, testMatch: ['<rootDir>/src/nest/**/*.spec.ts'] },
    store('memory', 'cyan'),
    store('rgw', 'magenta'),
  ],
};
