// `npm run lint`: ESLint's and typescript-eslint's recommended rules over the TypeScript sources, then `prettier --check`.
import eslint from '@eslint/js';
import tseslint from 'typescript-eslint';

export default tseslint.config(
  { ignores: ['dist/', 'node_modules/', 'results/', 'bin/', 'bench/*.py'] },
  eslint.configs.recommended,
  ...tseslint.configs.recommended,
  {
    files: ['**/*.ts'],
    rules: {
      // Strict TypeScript, no `any` in the core (project brief).
      '@typescript-eslint/no-explicit-any': 'error',
      // tsc already reports unused locals and parameters (tsconfig noUnused*); `_` marks a deliberately unused one.
      '@typescript-eslint/no-unused-vars': ['error', { argsIgnorePattern: '^_', varsIgnorePattern: '^_' }],
    },
  },
  {
    // The optional native TensorFlow packages are looked up with require() at run time, never imported statically.
    files: ['src/backend.ts'],
    rules: { '@typescript-eslint/no-require-imports': 'off' },
  },
  {
    // Tests match terminal output, escape sequences included.
    files: ['test/**/*.ts'],
    rules: { 'no-control-regex': 'off' },
  },
);
