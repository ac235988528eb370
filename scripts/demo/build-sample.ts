/**
 * Transpiles sample/ and src/ to JavaScript once, for the three instances: what
 * `node -r ts-node/register/transpile-only` does in each process (TypeScript's transpileModule
 * with the project's tsconfig, no type check), done once instead of three times over. On a busy
 * two-core machine that is most of the instances' start-up time.
 *
 * The output goes under node_modules/.cache (so `require` finds the packages in node_modules),
 * one directory per demo run; inline source maps point at the .ts files (`--enable-source-maps`).
 */
import { mkdirSync, readdirSync, readFileSync, rmdirSync, rmSync, writeFileSync } from 'node:fs';
import { dirname, join, relative } from 'node:path';
import * as ts from 'typescript';

const SOURCES = ['sample', 'src'];

/** Transpiles into a fresh directory; returns it and the entry point (sample/main.js in it). */
export function buildSample(root: string): { dir: string; main: string } {
  const dir = join(root, 'node_modules', '.cache', 'nestjs-s3-lock-demo', `run-${process.pid}`);
  rmSync(dir, { recursive: true, force: true });
  const parsed = ts.getParsedCommandLineOfConfigFile(join(root, 'tsconfig.json'), undefined, {
    ...ts.sys,
    onUnRecoverableConfigFileDiagnostic: (d) => {
      throw new Error(`tsconfig.json: ${ts.flattenDiagnosticMessageText(d.messageText, '\n')}`);
    },
  });
  if (!parsed) throw new Error('tsconfig.json could not be read');
  const options: ts.CompilerOptions = { ...parsed.options, declaration: false, sourceMap: false, inlineSourceMap: true, inlineSources: false, noEmit: false };
  for (const source of SOURCES) {
    for (const file of typeScriptFiles(join(root, source))) {
      const out = ts.transpileModule(readFileSync(file, 'utf8'), {
        fileName: file,
        compilerOptions: { ...options, sourceRoot: dirname(file) },
        reportDiagnostics: false,
      });
      const target = join(dir, relative(root, file)).replace(/\.ts$/, '.js');
      mkdirSync(dirname(target), { recursive: true });
      writeFileSync(target, out.outputText);
    }
  }
  return { dir, main: join(dir, 'sample', 'main.js') };
}

/** Removes a directory made by {@link buildSample}. */
export function removeBuild(dir: string): void {
  rmSync(dir, { recursive: true, force: true });
  try {
    rmdirSync(dirname(dir)); // when no other demo run uses it
  } catch {
    // not empty, or gone
  }
}

function typeScriptFiles(dir: string): string[] {
  const files: string[] = [];
  for (const entry of readdirSync(dir, { withFileTypes: true })) {
    const path = join(dir, entry.name);
    if (entry.isDirectory()) files.push(...typeScriptFiles(path));
    else if (entry.name.endsWith('.ts') && !entry.name.endsWith('.d.ts') && !/\.(spec|e2e-spec)\.ts$/.test(entry.name)) files.push(path);
  }
  return files;
}
