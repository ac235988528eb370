/**
 * Jest transformer for the ESM-only packages the tests load (every Nest 12 package, and the
 * ESM-only packages they depend on; esm-only-packages.js finds them): rewrites the few ESM-only
 * expressions they use and compiles to CommonJS, so that they share jest's module registry (one
 * @nestjs/common, one Reflect) with the tests. `import()` becomes jest's `require()`, and so does
 * `createRequire(import.meta.url)`: a package Nest loads lazily (platform-express, microservices)
 * comes from the same registry too. Works the same on every Node version (no
 * --experimental-vm-modules). Wired in jest.config.js through `transform` and
 * `transformIgnorePatterns`.
 */
const { createHash } = require('node:crypto');
const ts = require('typescript');

const VERSION = '2';

function rewriteEsmOnly(source) {
  return source
    .replace(/^\s*const\s+require\s*=\s*createRequire\(import\.meta\.url\);?\s*$/gm, '')
    .replace(/\bcreateRequire\(import\.meta\.url\)/g, 'require')
    .replace(/import\.meta\.dirname/g, '__dirname')
    .replace(/import\.meta\.filename/g, '__filename')
    .replace(/import\.meta\.url/g, "require('node:url').pathToFileURL(__filename).href")
    .replace(/import\.meta\.resolve\(/g, 'require.resolve(');
}

module.exports = {
  process(sourceText, sourcePath) {
    const out = ts.transpileModule(rewriteEsmOnly(sourceText), {
      fileName: sourcePath,
      compilerOptions: {
        module: ts.ModuleKind.CommonJS,
        target: ts.ScriptTarget.ES2022,
        allowJs: true,
        esModuleInterop: true,
        sourceMap: false,
        inlineSourceMap: false,
      },
    });
    return { code: out.outputText };
  },
  getCacheKey(sourceText, sourcePath) {
    return createHash('sha1').update(VERSION).update(ts.version).update(sourcePath).update('\0').update(sourceText).digest('hex');
  },
};
