// ESLint for the TypeScript and JavaScript of lib/, test/ and scripts/ (npm run lint).
// typescript-eslint's recommended rules, without type information (fast on a 2-core machine;
// `tsc --noEmit` does the type checking). Formatting is Prettier's job, not ESLint's.
import js from '@eslint/js';
import tseslint from 'typescript-eslint';

export default tseslint.config(
  { ignores: ['dist/', 'docs/api/', 'build*/', 'prebuilds/', 'coverage/', 'node_modules/'] },
  js.configs.recommended,
  ...tseslint.configs.recommended,
  {
    languageOptions: {
      globals: {
        process: 'readonly',
        console: 'readonly',
        require: 'readonly',
        module: 'writable',
        __dirname: 'readonly',
        Buffer: 'readonly',
        setTimeout: 'readonly',
        clearTimeout: 'readonly',
        setInterval: 'readonly',
        clearInterval: 'readonly',
        setImmediate: 'readonly',
        SharedArrayBuffer: 'readonly',
        Atomics: 'readonly',
        performance: 'readonly',
        structuredClone: 'readonly',
        TextDecoder: 'readonly',
        TextEncoder: 'readonly',
        URL: 'readonly',
        queueMicrotask: 'readonly',
      },
    },
    rules: {
      // Unused arguments named with a leading underscore are deliberate (callbacks, overrides).
      '@typescript-eslint/no-unused-vars': [
        'error',
        { argsIgnorePattern: '^_', varsIgnorePattern: '^_', caughtErrors: 'none', ignoreRestSiblings: true },
      ],
      // A rethrown error here restates its cause in the house format (who, which argument, the
      // errno or reason); attaching the original as `cause` would repeat it in every stack print.
      'preserve-caught-error': 'off',
    },
  },
  {
    // CommonJS scripts (build helpers, the native build) use require by design.
    files: ['**/*.js', '**/*.cjs'],
    rules: { '@typescript-eslint/no-require-imports': 'off' },
  },
);
