/** @type {import('jest').Config} */
module.exports = {
  testEnvironment: 'node',
  roots: ['<rootDir>/test'],
  testMatch: ['**/*.test.ts'],
  // tsconfig.json sets isolatedModules, so ts-jest transpiles file by file (fast on small
  // machines); type checking is done once by `tsc --noEmit` (npm run typecheck).
  transform: { '^.+\\.ts$': 'ts-jest' },
  testTimeout: 120000,
};
