/** Tests run the TypeScript sources through ts-jest (types are checked by `tsc`) and
 * the built bin/ programs as real child processes. */
module.exports = {
  testEnvironment: 'node',
  roots: ['<rootDir>/test'],
  testMatch: ['**/*.test.ts'],
  transform: {
    '^.+\\.ts$': ['ts-jest', { tsconfig: { isolatedModules: true, module: 'commonjs', moduleResolution: 'node10', esModuleInterop: true } }],
  },
  testTimeout: 60000,
};
