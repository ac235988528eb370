import { realStore } from './support/cli-stores';
import { commandCases } from './support/command-cases';

describe('nestjs-s3-lock CLI on moto', () => {
  commandCases(async () => realStore('moto'));
});
