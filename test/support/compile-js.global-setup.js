/**
 * jest globalSetup: emits the repository's TypeScript as JavaScript (tsc --noCheck, incremental)
 * into node_modules/.cache/s3-lock-js once per jest run, so that the OS processes the tests start
 * (test/support/worker-process.ts) load in well under a second instead of compiling every file
 * with ts-node first. Type checking is `npm run typecheck`'s job, not this one's.
 */
const { execFileSync } = require('node:child_process');
const { join } = require('node:path');

const ROOT = join(__dirname, '..', '..');
const OUT = join(ROOT, 'node_modules', '.cache', 's3-lock-js');

module.exports = function compileJs() {
  execFileSync(
    process.execPath,
    [
      require.resolve('typescript/bin/tsc'),
      ...['-p', join(ROOT, 'tsconfig.json'), '--noCheck', '--outDir', OUT, '--declaration', 'false', '--sourceMap', 'false'],
      ...['--incremental', '--tsBuildInfoFile', join(OUT, '.tsbuildinfo')],
    ],
    { cwd: ROOT, stdio: ['ignore', 'inherit', 'inherit'] },
  );
};
module.exports.COMPILED_JS_DIR = OUT;
