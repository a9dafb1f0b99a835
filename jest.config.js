/** Tests run the TypeScript sources through ts-jest (types are checked by `tsc`) and
 * the built bin/ programs as real child processes. */
const tsJest = ['ts-jest', { tsconfig: { isolatedModules: true, module: 'commonjs', moduleResolution: 'node10', esModuleInterop: true, allowJs: true } }];

/** execa and its dependencies are ES modules only; jest's CommonJS loader needs them compiled. */
const ESM_ONLY = [
  'execa',
  '@sindresorhus/merge-streams',
  'figures',
  'is-unicode-supported',
  'get-stream',
  '@sec-ant/readable-stream',
  'is-stream',
  'human-signals',
  'is-plain-obj',
  'npm-run-path',
  'path-key',
  'unicorn-magic',
  'pretty-ms',
  'parse-ms',
  'strip-final-newline',
  'yoctocolors',
];

module.exports = {
  testEnvironment: 'node',
  roots: ['<rootDir>/test'],
  testMatch: ['**/*.test.ts'],
  transform: { '^.+\\.ts$': tsJest, '^.+\\.js$': tsJest },
  transformIgnorePatterns: [`/node_modules/(?!(${ESM_ONLY.join('|')})/)`],
  // unicorn-magic's package exports offer only the 'import' condition, which jest's CommonJS resolver does not ask for.
  moduleNameMapper: { '^unicorn-magic$': '<rootDir>/node_modules/unicorn-magic/node.js' },
  testTimeout: 60000,
};
