// @ts-check
import tseslint from 'typescript-eslint';

export default tseslint.config(
  { ignores: ['dist/**', 'node_modules/**', 'coverage/**', '**/*.js', '**/*.mjs', 'test/consumers/**'] },
  ...tseslint.configs.recommended,
  {
    files: ['**/*.ts'],
    languageOptions: {
      parserOptions: { projectService: true, tsconfigRootDir: import.meta.dirname },
    },
    rules: {
      '@typescript-eslint/no-floating-promises': 'error',
      '@typescript-eslint/no-misused-promises': 'error',
      '@typescript-eslint/no-explicit-any': 'error',
      '@typescript-eslint/no-unused-vars': ['error', { argsIgnorePattern: '^_', varsIgnorePattern: '^_' }],
    },
  },
  // The rooms of src/ import one way: core (framework-free) <- nest <- testing <- cli.
  ...[
    ['src/core/**/*.ts', ['nest', 'testing', 'cli'], 'the engine is framework-free'],
    ['src/nest/**/*.ts', ['testing', 'cli'], 'the Nest module builds on core only'],
    ['src/testing/**/*.ts', ['cli'], 'the testing kit builds on core and nest'],
  ].map(([files, rooms, why]) => ({
    files: [files],
    ignores: ['**/*.spec.ts'],
    rules: {
      'no-restricted-imports': ['error', { patterns: rooms.map((room) => ({ group: [`../${room}`, `../${room}/*`, `../../${room}/*`], message: `${why}: no imports from src/${room}` })) }],
    },
  })),
);
