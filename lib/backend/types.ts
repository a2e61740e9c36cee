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
 */
export interface Backend {
  readonly name: 'js' | 'native';

  /**
   * C = alpha · op(A) · op(B) + beta · C, with op(A) of shape (m, k) and op(B) of shape (k, n).
   * A is stored as (m, k) with row stride `lda`, or as (k, m) when `transA`; likewise B.
   * When beta is 0, C is not read (NaN in C does not propagate).
   */
  sgemm(
    transA: boolean, transB: boolean, m: number, n: number, k: number, alpha: number,
    a: Float32Array, offsetA: number, lda: number,
    b: Float32Array, offsetB: number, ldb: number,
    beta: number, c: Float32Array, offsetC: number, ldc: number,
  ): void;

  /**
   * y = conv1d(x, w) (+ bias): x (batch, length, chanIn), w (kSize, chanIn, chanOut),
   * bias (chanOut) or null, y (batch, outLength, chanOut), overwritten.
   */
  conv1dForward(
    x: Float32Array, w: Float32Array, bias: Float32Array | null, y: Float32Array,
    batch: number, length: number, chanIn: number, chanOut: number, kSize: number, stride: number,
  ): void;

  /** dx = ∂L/∂x given dy = ∂L/∂y; dx (batch, length, chanIn) is overwritten (positions no window covers get 0). */
  conv1dBackwardInput(
    dy: Float32Array, w: Float32Array, dx: Float32Array,
    batch: number, length: number, chanIn: number, chanOut: number, kSize: number, stride: number,
  ): void;

  /** dw += ∂L/∂w, summed over the batch; dw (kSize, chanIn, chanOut). */
  conv1dBackwardWeight(
    x: Float32Array, dy: Float32Array, dw: Float32Array,
    batch: number, length: number, chanIn: number, chanOut: number, kSize: number, stride: number,
  ): void;

  /**
   * y = max over each window; argmax receives, for each output, the index into x of the winner
   * (the first one on ties), which the backward pass routes the gradient to.
   */
  maxPool1dForward(
    x: Float32Array, y: Float32Array, argmax: Int32Array,
    batch: number, length: number, chan: number, kSize: number, stride: number,
  ): void;

  /** dx (batch, length, chan) = 0, then dx[argmax[i]] += dy[i]: overlapping windows accumulate. */
  maxPool1dBackward(
    dy: Float32Array, argmax: Int32Array, dx: Float32Array,
    batch: number, length: number, chan: number, kSize: number, stride: number,
  ): void;

  /** y = mean over each window. */
  avgPool1dForward(
    x: Float32Array, y: Float32Array,
    batch: number, length: number, chan: number, kSize: number, stride: number,
  ): void;

  /** dx = 0, then each dy spread evenly (dy / kSize) over its window; overlapping windows accumulate. */
  avgPool1dBackward(
    dy: Float32Array, dx: Float32Array,
    batch: number, length: number, chan: number, kSize: number, stride: number,
  ): void;

  /** Number of threads the kernels may use (1 for the js backend). */
  getThreads(): number;
  /** Sets the number of kernel threads (no-op for the js backend). */
  setThreads(n: number): void;
}

/** Output length of a window of `kSize` moved by `stride` over `length` positions. */
export function windowCount(length: number, kSize: number, stride: number): number {
  return length < kSize ? 0 : Math.floor((length - kSize) / stride) + 1;
}
