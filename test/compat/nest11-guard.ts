/**
 * Setup file of the Nest 11 run (test/compat/jest.nest11.config.js): fails every test file when
 * the @nestjs packages the tests load are not Nest 11, so that a broken mapping cannot pass as a
 * Nest 11 run on Nest 12. (Nest 12's @nestjs/testing and microservices do not export their
 * package.json; the three checked here are mapped by the same patterns.)
 */
const loaded = ['common', 'core', 'platform-express'].map((name) => {
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  const { version } = require(`@nestjs/${name}/package.json`) as { version: string };
  return `@nestjs/${name}@${version}`;
});
const wrong = loaded.filter((entry) => !/@11\./.test(entry));
if (wrong.length > 0) throw new Error(`the Nest 11 run loaded ${wrong.join(', ')}: the moduleNameMapper of test/compat/jest.nest11.config.js does not reach the Nest 11 install`);
