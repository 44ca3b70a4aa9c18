import js from '@eslint/js';
import tseslint from 'typescript-eslint';

export default tseslint.config(
  { ignores: ['dist/', 'node_modules/', '.lab/'] },
  js.configs.recommended,
  ...tseslint.configs.recommended,
  {
    languageOptions: { globals: { process: 'readonly', console: 'readonly', Buffer: 'readonly' } },
    rules: {
      '@typescript-eslint/no-unused-vars': [
        'error',
        { argsIgnorePattern: '^_', varsIgnorePattern: '^_' },
      ],
    },
  },
  {
    // DESIGN.md: core/ is pure — no sockets, files, processes, clock or environment.
    files: ['src/core/**/*.ts'],
    ignores: ['src/core/**/*.test.ts'],
    rules: {
      'no-restricted-imports': [
        'error',
        {
          patterns: [
            {
              group: [
                'node:net',
                'node:dgram',
                'node:tls',
                'node:fs',
                'node:fs/*',
                'node:child_process',
                'node:process',
                'node:os',
              ],
              message: 'core/ is pure: do the I/O in io/ and pass the result in.',
            },
            {
              group: ['../../io/*', '../../cli/*', '../../publish/*', '../../store/*'],
              message: 'core/ imports nothing outside core/.',
            },
          ],
        },
      ],
      'no-restricted-globals': [
        'error',
        { name: 'process', message: 'core/ reads no environment.' },
      ],
      'no-restricted-properties': [
        'error',
        {
          object: 'Date',
          property: 'now',
          message: 'core/ has no clock: take the time as an argument.',
        },
      ],
    },
  },
);
