/**
 * Runs the type tests (test/types, e.g. the `@WithS3Lock()` typings): the files there are only
 * compiled, by the repository's tsc, and a `// @ts-expect-error` line that meets no error fails
 * the compilation like any type error does.
 */
import { execFileSync } from 'node:child_process';
import { join } from 'node:path';

const ROOT = join(__dirname, '..');
const TSC = join(ROOT, 'node_modules', '.bin', process.platform === 'win32' ? 'tsc.cmd' : 'tsc');

describe('type tests (test/types)', () => {
  it('compile without errors under test/types/tsconfig.json', () => {
    let output = '';
    let status = 0;
    try {
      execFileSync(TSC, ['-p', join('test', 'types', 'tsconfig.json'), '--noEmit', '--pretty', 'false'], { cwd: ROOT, encoding: 'utf8', stdio: 'pipe' });
    } catch (error) {
      const failed = error as { status?: number | null; stdout?: string; stderr?: string };
      status = failed.status ?? 1;
      output = `${failed.stdout ?? ''}${failed.stderr ?? ''}`;
    }
    expect({ status, output }).toEqual({ status: 0, output: '' });
  });
});
