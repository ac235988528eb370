import type { Config } from 'jest';

// Run with `node --experimental-vm-modules` (npm test) on Node >= 24.9: Nest 12, @nestjs/schedule 12
// and @nestjs/config 12 are ESM-only, and jest 30 loads them with require() only in that mode.
const config: Config = {
  moduleFileExtensions: ['js', 'json', 'ts'],
  rootDir: '.',
  testRegex: '.*\\.e2e-spec\\.ts$',
  transform: {
    '^.+\\.(t|j)s$': 'ts-jest',
  },
  testEnvironment: 'node',
};

export default config;
