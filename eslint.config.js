import js from '@eslint/js';
import tseslint from 'typescript-eslint';

export default tseslint.config(
  { ignores: ['node_modules/', '.stryker-tmp/', 'reports/', 'dist/', 'types/', 'src/web/static/vendor/', 'docs/'] },
  js.configs.recommended,
  ...tseslint.configs.recommended,
  {
    files: ['**/*.ts'],
    rules: {
      '@typescript-eslint/no-explicit-any': 'error',
      '@typescript-eslint/no-unused-vars': ['error', { argsIgnorePattern: '^_', varsIgnorePattern: '^_' }],
      'no-restricted-syntax': ['error', { selector: 'ExportDefaultDeclaration', message: 'No default exports.' }],
    },
  },
  {
    files: ['src/core/**/*.ts', 'src/platform/**/*.ts', 'src/common/**/*.ts'],
    ignores: ['**/*.test.ts'],
    rules: {
      'no-restricted-imports': ['error', { patterns: [{ group: ['node:*'], message: 'core, platform and common run anywhere: no Node imports.' }] }],
    },
  },
  {
    // no function over 60 lines (blank lines and comments aside; tables of data or handlers are
    // how long dispatch stays short); tests and the shared contract suites are exempt
    files: ['src/**/*.ts', 'src/web/client/**/*.js'],
    ignores: ['**/*.test.ts', 'src/allocators/allocator-contract.ts', 'src/secure/secure-contract.ts'],
    rules: { 'max-lines-per-function': ['error', { max: 60, skipBlankLines: true, skipComments: true }] },
  },
  {
    files: ['src/web/client/**/*.js'],
    languageOptions: { globals: { location: 'readonly', WebSocket: 'readonly', fetch: 'readonly', document: 'readonly', setTimeout: 'readonly', setInterval: 'readonly', clearInterval: 'readonly', sessionStorage: 'readonly', history: 'readonly', URL: 'readonly', URLSearchParams: 'readonly', ResizeObserver: 'readonly' } },
  },
  {
    files: ['**/*.cjs'],
    languageOptions: { sourceType: 'commonjs', globals: { module: 'writable', require: 'readonly' } },
  },
  {
    files: ['**/*.js', '**/*.mjs'],
    languageOptions: { globals: { process: 'readonly', console: 'readonly' } },
  },
);
