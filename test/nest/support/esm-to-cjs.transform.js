/**
 * Jest transformer for the ESM-only packages the NestJS tests load (@nestjs/schedule 12,
 * @nestjs/terminus 12): rewrites the few ESM-only expressions they use and compiles to CommonJS,
 * so that they share jest's module registry (one @nestjs/common, one Reflect) with the tests.
 * Wired in jest.config.js through `transform` and `transformIgnorePatterns`.
 */
const { createHash } = require('node:crypto');
const ts = require('typescript');

const VERSION = '1';

function rewriteEsmOnly(source) {
  return source
    .replace(/^\s*import\s*\{\s*createRequire\s*\}\s*from\s*['"](node:)?module['"];?\s*$/gm, '')
    .replace(/^\s*const\s+require\s*=\s*createRequire\(import\.meta\.url\);?\s*$/gm, '')
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
