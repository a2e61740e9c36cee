import { Activation } from './ops';
import { BackendKernels } from './kernels.generated';

/**
 * The compute backend: the few kernels every module is built from.
 *
 * Two implementations give the same numbers: `native` (C++ kernels through
 * Node-API) and `js` (plain TypeScript, the readable reference). Buffers are
 * used in place; every kernel writes into an output the caller allocated.
 *
 * Layout conventions, shared by both:
 * - matrices are row-major; `lda` is the distance between rows of the matrix as stored;
 * - Conv1D and pooling work on channels-last tensors `(batch, length, chan)`;
 * - a Conv1D weight is `(kSize, chanIn, chanOut)`;
 * - the output length of a window of `kSize` moved by `stride` is `floor((length - kSize) / stride) + 1`.
 *
 * Memory sharing, the same on both backends: an array a kernel writes must not share memory with
 * any other array argument of the call (over the elements the call uses: for sgemm, the span
 * from an operand's first element to its last). Otherwise the call throws, before writing
 * anything, `RangeError: <kernel>: <output> must not overlap <other> (they share memory)...`,
 * since the kernels read and write in orders that differ between the backends, the native SIMD
 * paths and thread counts. Two inputs may share memory. The exceptions are the in-place uses
 * listed on activationForward, activationBackward, softmaxForward and softmaxBackward: there the
 * output may be exactly the same elements as the input named (the same array, or another view
 * starting at the same byte), never a shifted overlap. The native backend compares addresses,
 * so it also refuses two SharedArrayBuffer objects over the same memory (a structuredClone of
 * one), which the js backend cannot tell apart from separate memory.
 *
 * Index arrays (labels, argmax) in a SharedArrayBuffer are copied when the call starts and only
 * the copy is checked and used: one that a Worker writes during the call gives either the result
 * of the values copied or the RangeError about them, never a value used unchecked. The native
 * backend copies class labels from plain memory too (Node's thread pool writes a caller's typed
 * array during crypto.randomFill or fs.read), and adds through an argmax entry only the value it
 * checked.
 *
 * Each kernel is declared once, in the op table (lib/backend/ops.ts): its arguments (kinds,
 * lengths, which are written) and its doc. `npm run gen` writes from it both backends' argument
 * checks and the kernel methods of this interface (BackendKernels, lib/backend/kernels.generated.ts).
 */
export interface Backend extends BackendKernels {
  readonly name: 'js' | 'native';

  /** Number of threads the kernels may use (1 for the js backend). */
  getThreads(): number;
  /**
   * Sets the number of kernel threads (no-op for the js backend).
   * @param n Threads, at least 1.
   */
  setThreads(n: number): void;
}

// Activation codes are declared with the kernels, in the op table.
export { Activation };

/** Output length of a window of `kSize` moved by `stride` over `length` positions. */
export function windowCount(length: number, kSize: number, stride: number): number {
  return length < kSize ? 0 : Math.floor((length - kSize) / stride) + 1;
}

export { MAX_THREADS } from './ops';
