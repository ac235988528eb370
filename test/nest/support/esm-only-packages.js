/**
 * The ESM-only packages installed in a node_modules folder: `"type": "module"` and no `require`
 * condition in `exports` (a package with one gives jest its CommonJS build). Jest loads these
 * through esm-to-cjs.transform.js (see jest.config.js). Found by reading the installed
 * package.json files, so that a new ESM-only dependency of Nest needs no change here.
 */
const { readdirSync, readFileSync } = require('node:fs');
const { join } = require('node:path');

/** @param {string} dir @returns {string[]} */
function entries(dir) {
  try {
    return readdirSync(dir);
  } catch {
    return [];
  }
}

/** @param {string} pkgDir */
function isEsmOnly(pkgDir) {
  let pkg;
  try {
    pkg = JSON.parse(readFileSync(join(pkgDir, 'package.json'), 'utf8'));
  } catch {
    return false;
  }
  return pkg.type === 'module' && !JSON.stringify(pkg.exports ?? null).includes('"require"');
}

/**
 * Names of the ESM-only packages in `nodeModules` and in the node_modules folders nested in its
 * packages (one level down), sorted, without duplicates.
 * @param {string} nodeModules @param {number} [depth]
 * @returns {string[]}
 */
function esmOnlyPackages(nodeModules, depth = 1) {
  const found = new Set();
  for (const name of entries(nodeModules)) {
    if (name.startsWith('.')) continue;
    const names = name.startsWith('@') ? entries(join(nodeModules, name)).map((n) => `${name}/${n}`) : [name];
    for (const pkg of names) {
      const dir = join(nodeModules, pkg);
      if (isEsmOnly(dir)) found.add(pkg);
      if (depth > 0) for (const nested of esmOnlyPackages(join(dir, 'node_modules'), depth - 1)) found.add(nested);
    }
  }
  return [...found].sort();
}

/**
 * jest `transform` and `transformIgnorePatterns` that compile the TypeScript sources with ts-jest
 * and load the ESM-only packages `names` through esm-to-cjs.transform.js.
 * @param {string} rootDir @param {string[]} names
 */
function esmTransformOptions(rootDir, names) {
  const list = names.map((p) => p.replace(/[/.]/g, (c) => `\\${c}`)).join('|');
  return {
    transform: {
      '^.+\\.ts$': ['ts-jest', { tsconfig: `${rootDir}/tsconfig.json` }],
      [`/node_modules/(${list})/.+\\.m?js$`]: `${rootDir}/test/nest/support/esm-to-cjs.transform.js`,
    },
    transformIgnorePatterns: [`/node_modules/(?!(${list})/)`],
  };
}

module.exports = { esmOnlyPackages, esmTransformOptions };
