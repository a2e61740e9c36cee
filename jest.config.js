const os = require('os');

/** @type {import('jest').Config} */
module.exports = {
  // Jest's default is one worker per core but one, which on a 2-core machine runs the suites one at
  // a time; many of them spend their time waiting on child processes (the command, packing and its
  // compiles, the queue's workers and redis-server), so three workers finish sooner there (the
  // whole suite on a 2-core AMD Zen 4: 347 s against 424 with two). Machines of four cores and
  // more keep the default.
  maxWorkers: Math.max(3, (os.availableParallelism ? os.availableParallelism() : os.cpus().length) - 1),
  testEnvironment: 'node',
  roots: ['<rootDir>/test'],
  testMatch: ['**/*.test.ts'],
  // tsconfig.json sets isolatedModules, so ts-jest transpiles file by file (fast on small
  // machines); type checking is done once by `tsc --noEmit` (npm run typecheck).
  // (test/local-globals-transform.js: ts-jest's output, with the built-ins that loops read bound
  // to module constants: a read of a global inside jest's vm context is about a hundred times slower.)
  transform: { '^.+\\.ts$': '<rootDir>/test/local-globals-transform.js' },
  testTimeout: 120000,
};
