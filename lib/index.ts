/**
 * neurone: neural-network training for Node.js.
 *
 * Everything public is exported from here.
 * @packageDocumentation
 */
export type { Tensor } from './tensor';
export {
  tensor, zeros, zerosLike, full, fromArray, randn, rand, reshape, clone, sliceRows, sameShape, argmaxRows,
} from './tensor';
export { Rng, seed } from './random';
export type { Backend } from './backend/types';
export type { BackendName } from './backend';
export { getBackend, setBackend, nativeAvailable, setThreads, getThreads } from './backend';
