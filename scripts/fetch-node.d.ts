// Types of scripts/fetch-node.js for the TypeScript that uses it (test/pack.test.ts).

/** The registry packages of the Nodes the tests run, by role. */
export const NODES: { readonly arm64: { pkg: string; version: string }; readonly floor: { pkg: string; version: string } };
/** The path of `bin/node` from the registry package `pkg@version`, fetched and unpacked once. */
export function fetchNode(pkg: string, version: string): string;
