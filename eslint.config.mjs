// Lint: typescript-eslint's recommended rules, and the architecture's two process rules
// (ARCHITECTURE.md): only src/cli touches `process`; only src/system starts processes
// (exec.ts for the delivery, with node:child_process; as-user.ts for vdeliver-admin, with execa).
import js from '@eslint/js';
import tseslint from 'typescript-eslint';

export default tseslint.config(
  { ignores: ['dist/', 'node_modules/', 'coverage/'] },
  js.configs.recommended,
  ...tseslint.configs.recommended,
  {
    languageOptions: {
      globals: {
        performance: 'readonly',
        process: 'readonly',
        Buffer: 'readonly',
        __dirname: 'readonly',
        require: 'readonly',
        module: 'writable',
        console: 'readonly',
        setTimeout: 'readonly',
        clearTimeout: 'readonly',
        setInterval: 'readonly',
        clearInterval: 'readonly',
        setImmediate: 'readonly',
        SharedArrayBuffer: 'readonly',
        Atomics: 'readonly',
        URL: 'readonly',
      },
    },
    rules: {
      '@typescript-eslint/no-unused-vars': ['error', { argsIgnorePattern: '^_', varsIgnorePattern: '^_' }],
      '@typescript-eslint/no-require-imports': 'off',
    },
  },
  {
    files: ['src/**/*.ts'],
    // exec.ts and spawn-to-exit.ts signal the process groups they started (process.kill), which is
    // part of starting them; spawn-to-exit.ts also takes Node's spawnSync binding from process.
    ignores: ['src/cli/**', 'src/system/exec.ts', 'src/system/spawn-to-exit.ts'],
    rules: {
      'no-restricted-globals': ['error', { name: 'process', message: 'Only src/cli touches the process: take the value as a parameter.' }],
    },
  },
  {
    files: ['src/**/*.ts'],
    ignores: ['src/system/exec.ts', 'src/system/spawn-to-exit.ts', 'src/system/as-user.ts'],
    rules: {
      'no-restricted-imports': [
        'error',
        {
          paths: [
            { name: 'node:child_process', message: 'Only src/system/exec.ts and spawn-to-exit.ts start processes.' },
            { name: 'execa', message: "Only src/system/as-user.ts uses execa, for vdeliver-admin's children (it stays off the delivery path)." },
            { name: 'mailparser', message: 'mailparser belongs to src/admin only.' },
          ],
        },
      ],
    },
  },
  {
    // vdeliver-admin's own children: execa, and nothing else that starts processes.
    files: ['src/system/as-user.ts'],
    rules: {
      'no-restricted-imports': [
        'error',
        { paths: [{ name: 'node:child_process', message: 'as-user.ts starts its children with execa; the delivery side uses src/system/exec.ts.' }] },
      ],
    },
  },
  {
    files: ['test/**/*.ts', 'test/**/*.js', 'test/**/*.cjs', 'test/**/*.mjs', 'bench/**', 'scripts/**', 'examples/**', '*.js', '*.mjs'],
    rules: { '@typescript-eslint/no-unused-expressions': 'off' },
  },
);
