#!/usr/bin/env node
/**
 * The `nestjs-s3-lock` operator command (package.json `bin`). See `nestjs-s3-lock --help` and the
 * README's "Operating locks".
 */
import { runCli } from './cli-program';

runCli(process.argv.slice(2)).then(
  (code) => {
    process.exitCode = code;
  },
  (error: unknown) => {
    process.stderr.write(`nestjs-s3-lock: ${error instanceof Error ? error.message : String(error)}\n`);
    process.exitCode = 2;
  },
);
