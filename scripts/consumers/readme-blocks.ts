/**
 * The README's doc test, run by scripts/test-consumers.sh in the installed copy of a consumer app
 * (so the blocks compile against the packed package and the app's own dependencies):
 *
 * - every ```ts block of README.md is extracted;
 * - a block whose first line is a path comment (`// src/app.module.ts`) is a file of the NestJS
 *   example: it must equal that file of the app, byte for byte (--cjs: after the two changes a
 *   CommonJS app needs, extensionless relative imports and `void bootstrap()`), so the consumer
 *   apps run exactly what the README shows;
 * - any other block is a fragment, written to readme/block-<n>.ts; a fragment must compile on its
 *   own (with its own imports and declarations). A block whose first line is
 *   `// doc-test: not compiled` is left out (for deliberately incomplete snippets; keep them rare).
 * - with --tsconfig, writes tsconfig.readme.json there: the app's tsconfig (strict) over the
 *   fragments, for the app's tsc.
 *
 * Usage: node -r ts-node/register/transpile-only scripts/consumers/readme-blocks.ts --readme README.md --app DIR [--cjs] [--tsconfig]
 * Exit 1 (with the differences) when a file block differs from the app.
 */
import { mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { parseArgs } from 'node:util';

const { values } = parseArgs({
  options: { readme: { type: 'string' }, app: { type: 'string' }, cjs: { type: 'boolean', default: false }, tsconfig: { type: 'boolean', default: false } },
});
if (!values.readme || !values.app) throw new Error('readme-blocks: --readme FILE and --app DIR are required');
const app = values.app;

const PATH_COMMENT = /^\/\/ ((?:src|test)\/[\w./-]+\.ts)\s*$/;
const NOT_COMPILED = /^\/\/ doc-test: not compiled\b/;

const blocks = [...readFileSync(values.readme, 'utf8').matchAll(/^```ts\n([\s\S]*?)^```$/gm)].map((m) => m[1]!);
const asCjs = (text: string): string => text.replace(/from '(\.{1,2}\/[^']*)\.js'/g, "from '$1'").replace(/^await bootstrap\(\);$/m, 'void bootstrap();');

let files = 0;
let problems = 0;
const fragments: string[] = [];
rmSync(join(app, 'readme'), { recursive: true, force: true });
mkdirSync(join(app, 'readme'), { recursive: true });
blocks.forEach((block, i) => {
  const [first = '', ...rest] = block.split('\n');
  if (NOT_COMPILED.test(first)) return;
  const path = PATH_COMMENT.exec(first)?.[1];
  if (path) {
    files += 1;
    const expected = values.cjs ? asCjs(rest.join('\n')) : rest.join('\n');
    let actual: string;
    try {
      actual = readFileSync(join(app, path), 'utf8');
    } catch {
      problems += 1;
      process.stdout.write(`README block ${i + 1} (${path}): the app has no such file\n`);
      return;
    }
    if (actual !== expected) {
      problems += 1;
      const a = actual.split('\n');
      const e = expected.split('\n');
      const line = e.findIndex((l, n) => l !== a[n]);
      process.stdout.write(`README block ${i + 1} (${path}) differs from the app's file at line ${line + 1}:\n  README: ${e[line] ?? '(end)'}\n  app:    ${a[line] ?? '(end)'}\n`);
    }
    return;
  }
  const name = `readme/block-${String(i + 1).padStart(2, '0')}.ts`;
  writeFileSync(join(app, name), block);
  fragments.push(name);
});

if (values.tsconfig) {
  writeFileSync(
    join(app, 'tsconfig.readme.json'),
    `${JSON.stringify({ extends: './tsconfig.json', compilerOptions: { noEmit: true, strict: true, incremental: false }, include: ['readme/**/*.ts', 'src/**/*.ts', 'test/**/*.ts'] }, null, 2)}\n`,
  );
}
process.stdout.write(`README: ${blocks.length} ts blocks, ${files} files of the example compared with ${app}, ${fragments.length} fragments written to readme/\n`);
process.exitCode = problems === 0 ? 0 : 1;
