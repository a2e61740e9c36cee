/**
 * How the tests run TypeScript in a child process or a worker thread: tsx's CommonJS hook, which
 * transpiles each file with esbuild and caches the result on disk. A child then starts in well
 * under a second, where ts-node took over 5 s on a slow 2-core machine, and the command's tests
 * start dozens of children.
 *
 * One limit: the hook leaves a dynamic `import('./module')` to Node's own ESM loader, which
 * cannot resolve a path without its extension, where tsc (and ts-node) turn it into require().
 * The few code paths that load a module lazily that way (the queue, behind `--queue`) run through
 * tsNodeFile.
 */
const TS_HOOK = require.resolve('tsx/cjs');

/** node's arguments that run the TypeScript file `file`: spawn(process.execPath, [...tsFile(f), ...args]). */
export function tsFile(file: string): string[] {
  return ['--require', TS_HOOK, file];
}

/** A statement that lets require() load .ts files, for eval'd code (`node -e`, a Worker with eval). */
export const TS_REGISTER = `require(${JSON.stringify(TS_HOOK)});`;

/** node's arguments that run `file` through ts-node, for code that loads modules with import(). */
export function tsNodeFile(file: string): string[] {
  return [require.resolve('ts-node/dist/bin.js'), '--transpile-only', file];
}
