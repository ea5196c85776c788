import js from '@eslint/js';
import globals from 'globals';
import tseslint from 'typescript-eslint';

export default tseslint.config(
  {
    ignores: [
      'dist/**',
      'node_modules/**',
      'data/**',
      'coverage/**',
      'ui/dist/**',
      'ui/node_modules/**',
      'test-output/**',
    ],
  },
  js.configs.recommended,
  ...tseslint.configs.recommended,
  {
    rules: {
      '@typescript-eslint/no-unused-vars': [
        'error',
        { argsIgnorePattern: '^_', varsIgnorePattern: '^_' },
      ],
      '@typescript-eslint/no-require-imports': 'off',
    },
  },
  // Plain Node scripts and tool configuration run outside TypeScript, with Node's globals.
  {
    files: ['scripts/**/*.mjs', '*.cjs'],
    languageOptions: { globals: globals.node },
  },
  // One direction for module dependencies: the domain, the sagas and the drivers never reach
  // up into the HTTP API or the composition root (src/app.module.ts), and the HTTP server is
  // handed its root module instead of importing it. The patterns match relative specifiers
  // ('../api/...', '../../app.module') from any depth below src/.
  {
    files: [
      'src/sagas/**/*.ts',
      'src/commands/**/*.ts',
      'src/drivers/**/*.ts',
      'src/events/**/*.ts',
      'src/projections/**/*.ts',
      'src/event-store/**/*.ts',
    ],
    rules: {
      'no-restricted-imports': [
        'error',
        {
          patterns: [
            {
              regex: '^(\\.\\./)+api(/|$)',
              message: 'Only the API layer depends on the domain, not the other way round.',
            },
            {
              regex: '^(\\.\\./)+app\\.module(\\.[cm]?[jt]s)?$',
              message: 'app.module is the composition root: nothing it wires may import it.',
            },
          ],
        },
      ],
    },
  },
  {
    files: ['src/domain/**/*.ts'],
    rules: {
      'no-restricted-imports': [
        'error',
        {
          patterns: [
            {
              regex: '^(?!\\./|\\.\\./events(/|$))',
              message:
                'src/domain/ holds pure decisions and folds: it imports only src/events/ and itself (no I/O, no framework).',
            },
          ],
        },
      ],
    },
  },
  {
    files: ['src/http-server.ts'],
    rules: {
      'no-restricted-imports': [
        'error',
        {
          patterns: [
            {
              regex: '^\\./app\\.module(\\.[cm]?[jt]s)?$',
              message: 'The HTTP server is handed its root module (see serve in src/cli/main.ts).',
            },
          ],
        },
      ],
    },
  },
);
