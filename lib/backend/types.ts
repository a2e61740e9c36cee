import { Activation } from './ops';

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
 * Index arrays (labels, argmax) are copied when the call starts and only the copy is checked
 * and used: one in a SharedArrayBuffer that a Worker writes during the call gives either the
 * result of the values copied or the RangeError about them, never a value used unchecked.
 *
 * Each kernel's arguments (kinds, lengths, which are written) are declared once in the op
 * table, lib/backend/ops.ts, from which both backends' argument checks are generated.
 */
export interface Backend {
  readonly name: 'js' | 'native';

  /**
   * C = alpha · op(A) · op(B) + beta · C, with op(A) of shape (m, k) and op(B) of shape (k, n).
   * A is stored as (m, k) with row stride `lda`, or as (k, m) when `transA`; likewise B.
   * When beta is 0, C is not read (NaN in C does not propagate).
   */
  sgemm(
    transA: boolean,
    transB: boolean,
    m: number,
    n: number,
    k: number,
    alpha: number,
    a: Float32Array,
    offsetA: number,
    lda: number,
    b: Float32Array,
    offsetB: number,
    ldb: number,
    beta: number,
    c: Float32Array,
    offsetC: number,
    ldc: number,
  ): void;

  /**
   * y = conv1d(x, w) (+ bias): x (batch, length, chanIn), w (kSize, chanIn, chanOut),
   * bias (chanOut) or null, y (batch, outLength, chanOut), overwritten.
   */
  conv1dForward(
    x: Float32Array,
    w: Float32Array,
    bias: Float32Array | null,
    y: Float32Array,
    batch: number,
    length: number,
    chanIn: number,
    chanOut: number,
    kSize: number,
    stride: number,
  ): void;

  /**
   * y = max pooling (windows of poolSize positions moved by poolStride) of conv1d(x, w) (+ bias),
   * without keeping the convolution: y (batch, pooledLength, chanOut), overwritten; the values of
   * conv1dForward then maxPool1dForward. argmax, when not null, receives what maxPool1dForward
   * records on the convolution's output (flat indices into (batch, outLength, chanOut)), for
   * conv1dMaxPoolBackwardWeight; inference passes null.
   */
  conv1dMaxPoolForward(
    x: Float32Array,
    w: Float32Array,
    bias: Float32Array | null,
    y: Float32Array,
    argmax: Int32Array | null,
    batch: number,
    length: number,
    chanIn: number,
    chanOut: number,
    kSize: number,
    stride: number,
    poolSize: number,
    poolStride: number,
  ): void;

  /**
   * dw += ∂L/∂w of the convolution under a max pooling, given dy = ∂L/∂(pooled output) and the
   * argmax conv1dMaxPoolForward recorded: conv1dBackwardWeight(x, maxPool1dBackward(dy, argmax)),
   * without keeping the convolution's gradient. An argmax entry outside its window is refused
   * (RangeError) and dw is then left as it was.
   */
  conv1dMaxPoolBackwardWeight(
    x: Float32Array,
    dy: Float32Array,
    argmax: Int32Array,
    dw: Float32Array,
    batch: number,
    length: number,
    chanIn: number,
    chanOut: number,
    kSize: number,
    stride: number,
    poolSize: number,
    poolStride: number,
  ): void;

  /** dx = ∂L/∂x given dy = ∂L/∂y; dx (batch, length, chanIn) is overwritten (positions no window covers get 0). */
  conv1dBackwardInput(
    dy: Float32Array,
    w: Float32Array,
    dx: Float32Array,
    batch: number,
    length: number,
    chanIn: number,
    chanOut: number,
    kSize: number,
    stride: number,
  ): void;

  /** dw += ∂L/∂w, summed over the batch; dw (kSize, chanIn, chanOut). */
  conv1dBackwardWeight(
    x: Float32Array,
    dy: Float32Array,
    dw: Float32Array,
    batch: number,
    length: number,
    chanIn: number,
    chanOut: number,
    kSize: number,
    stride: number,
  ): void;

  /**
   * y = max over each window; argmax receives, for each output, the index into x of the winner
   * (the first one on ties), which the backward pass routes the gradient to.
   */
  maxPool1dForward(
    x: Float32Array,
    y: Float32Array,
    argmax: Int32Array,
    batch: number,
    length: number,
    chan: number,
    kSize: number,
    stride: number,
  ): void;

  /** dx (batch, length, chan) = 0, then dx[argmax[i]] += dy[i]: overlapping windows accumulate. */
  maxPool1dBackward(
    dy: Float32Array,
    argmax: Int32Array,
    dx: Float32Array,
    batch: number,
    length: number,
    chan: number,
    kSize: number,
    stride: number,
  ): void;

  /** y = mean over each window. */
  avgPool1dForward(x: Float32Array, y: Float32Array, batch: number, length: number, chan: number, kSize: number, stride: number): void;

  /** dx = 0, then each dy spread evenly (dy / kSize) over its window; overlapping windows accumulate. */
  avgPool1dBackward(dy: Float32Array, dx: Float32Array, batch: number, length: number, chan: number, kSize: number, stride: number): void;

  /**
   * y = f(x) elementwise over n values; alpha is LeakyReLU's slope. y may be exactly x (in place).
   * ReLU and LeakyReLU keep NaN (as PyTorch does): f(NaN) = NaN, and ReLU(−0) = +0.
   */
  activationForward(activation: Activation, alpha: number, x: Float32Array, y: Float32Array, n: number): void;

  /**
   * dx = dy · f'(x), given y = f(x) as well (tanh and sigmoid derive from y). dx may be exactly
   * x, y or dy (each element is read before its own output is written, on both backends).
   * ReLU and LeakyReLU: where x is NaN the slope is undefined and dx is NaN (not dy as PyTorch's
   * threshold_backward gives, nor 0), so a bad input shows in the gradient.
   */
  activationBackward(
    activation: Activation,
    alpha: number,
    x: Float32Array,
    y: Float32Array,
    dy: Float32Array,
    dx: Float32Array,
    n: number,
  ): void;

  /** y[r, c] += v[c] for a (rows, cols) y. */
  addRowVector(y: Float32Array, v: Float32Array, rows: number, cols: number): void;

  /** out[c] += Σ_r x[r, c] for a (rows, cols) x (the bias gradient). */
  sumRows(x: Float32Array, rows: number, cols: number, out: Float32Array): void;

  /** Softmax (or, with `log`, log-softmax) of each row of a (rows, cols) x; y may be exactly x (in place). */
  softmaxForward(x: Float32Array, y: Float32Array, rows: number, cols: number, log: boolean): void;

  /**
   * dx from dy through the softmax (log-softmax) whose output was y: the full Jacobian-vector
   * product. dx may be exactly y or dy (each row's reduction is taken before dx is written).
   */
  softmaxBackward(y: Float32Array, dy: Float32Array, dx: Float32Array, rows: number, cols: number, log: boolean): void;

  /**
   * Per-row cross-entropy from raw logits: loss[r] = logsumexp(x[r]) − x[r, labels[r]];
   * grad (when not null) = softmax(x[r]) − onehot(labels[r]), per sample (no 1/batch). grad must
   * not share memory with logits (refused): computing the gradient in place of the logits would
   * change the loss on one backend and not the other.
   */
  crossEntropyLogits(
    logits: Float32Array,
    labels: Int32Array,
    loss: Float32Array,
    grad: Float32Array | null,
    rows: number,
    cols: number,
  ): void;

  /** SGD: g' = g + wd·w; v = momentum·v + g' (with velocity); w −= lr·(v or g'). */
  sgdStep(
    w: Float32Array,
    g: Float32Array,
    velocity: Float32Array | null,
    n: number,
    lr: number,
    momentum: number,
    weightDecay: number,
  ): void;

  /** Adam with bias correction for `step` (1-based) and L2 weight decay. */
  adamStep(
    w: Float32Array,
    g: Float32Array,
    m: Float32Array,
    v: Float32Array,
    n: number,
    lr: number,
    beta1: number,
    beta2: number,
    eps: number,
    weightDecay: number,
    step: number,
  ): void;

  /**
   * Binary cross-entropy per row: loss[r] = −Σ_c y log p + (1 − y) log(1 − p), logs clamped at −100;
   * grad (when not null) = −y / max(p, 1e−12) + (1 − y) / max(1 − p, 1e−12).
   */
  binaryCrossEntropy(p: Float32Array, y: Float32Array, loss: Float32Array, grad: Float32Array | null, rows: number, cols: number): void;

  /** Index of the first NaN or ±Infinity among the first n values of x, or −1 when all are finite. */
  nonFiniteIndex(x: Float32Array, n: number): number;

  /** Number of threads the kernels may use (1 for the js backend). */
  getThreads(): number;
  /** Sets the number of kernel threads (no-op for the js backend). */
  setThreads(n: number): void;
}

// Activation codes are declared with the kernels, in the op table.
export { Activation };

/** Output length of a window of `kSize` moved by `stride` over `length` positions. */
export function windowCount(length: number, kSize: number, stride: number): number {
  return length < kSize ? 0 : Math.floor((length - kSize) / stride) + 1;
}
