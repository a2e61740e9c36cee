/**
 * The op table: every kernel entry point declared once. `npm run gen` (scripts/gen-ops.js)
 * turns it into the Node-API argument parsing of the addon (native/ops_generated.h), the
 * argument checks of the js backend (lib/backend/ops.generated.ts), the kernel methods of the
 * Backend interface with their docs (lib/backend/kernels.generated.ts) and the native
 * Activation enum (native/activations_generated.h); the fuzzer
 * (test/fuzz-child.ts) reads it for argument kinds and outputs; test/gen-ops.test.ts fails
 * when a generated file is stale.
 *
 * A call is checked in one order on both backends, so the first error is the same one:
 * argument count; each argument in turn (type, then range); the derived sizes in the order
 * listed (a product that leaves int64 is refused); `atLeast` and `int32Index`; each array's
 * length; that no output shares memory with another array (`inPlace` pairs may be exactly the
 * same elements); finally input index arrays are copied and only the copy is checked
 * (`classesOf`) and used. None of it is part of the package's API.
 */

/** What a JavaScript argument must be. */
export type ArgKind = 'bool' | 'size' | 'number' | 'f64' | 'f32' | 'i32' | 'activation';

/** One argument of an entry point. */
export interface ArgSpec {
  readonly name: string;
  readonly kind: ArgKind;
  /** size: the smallest allowed value (0 unless given). */
  readonly min?: number;
  /** Arrays: null is accepted and means "absent". */
  readonly nullable?: boolean;
  /** Arrays: the kernel writes it. */
  readonly out?: boolean;
  /** Arrays: the elements the kernel uses, a size argument or a derived size. */
  readonly length?: string;
  /** Arrays: the size argument naming the first element used. */
  readonly offset?: string;
  /** Index arrays: each entry must lie in [0, this size). */
  readonly classesOf?: string;
}

/** A size computed from the arguments, named for use by later sizes and array lengths. */
export type Derived =
  /** The product of sizes; refused when it leaves int64 ("a * b overflows"). */
  | { readonly name: string; readonly product: readonly string[] }
  /** Outputs of a window of k positions moved by stride over length: floor((length - k) / stride) + 1, or 0. */
  | { readonly name: string; readonly window: readonly [length: string, k: string, stride: string] }
  /** length + 2 · pad: a length with zeros added at both ends (sizes are below 2^53, so exact). */
  | { readonly name: string; readonly padded: readonly [length: string, pad: string] }
  /** flag ? ifTrue : ifFalse, for a boolean argument. */
  | { readonly name: string; readonly pick: readonly [flag: string, ifTrue: string, ifFalse: string] }
  /** Elements a (rows, cols) matrix with row stride ld spans from its first element. */
  | { readonly name: string; readonly span: readonly [rows: string, cols: string, ld: string] }
  /** max(1, size). */
  | { readonly name: string; readonly atLeastOne: string }
  /** A fixed count (a generator's state words). */
  | { readonly name: string; readonly constant: number };

/** One entry point. */
export interface OpSpec {
  /** Its doc comment on the Backend interface (plain prose; the generator wraps the lines). */
  readonly doc: string;
  /** What the kernel returns (void unless given). */
  readonly returns?: 'number';
  readonly args: readonly ArgSpec[];
  readonly derived?: readonly Derived[];
  /** [size argument, derived minimum]: "lda must be at least 3, got 2". */
  readonly atLeast?: readonly (readonly [string, string])[];
  /** Derived products that index int32 arrays, so must stay at most 2^31-1. */
  readonly int32Index?: readonly string[];
  /** [output, other] pairs that may be exactly the same elements (in-place use). */
  readonly inPlace?: readonly (readonly [string, string])[];
  /** The native shape struct the kernel takes, filled from the fields named. */
  readonly shape?: {
    readonly type: 'Conv1dShape' | 'Pool1dShape' | 'Conv2dShape' | 'Pool2dShape' | 'Upsample2dShape' | 'BatchNormShape';
    readonly fields: readonly string[];
  };
  /**
   * The native call, when it is the plain one: the C++ function of the op's name, given the shape
   * struct (when there is one) in place of its fields, every other argument in table order
   * (arrays by their data), the kernel path when `path`, and the thread pool unless `pool` is
   * false; run only when the derived size `unless0`, if given, is not 0. The generator writes it
   * as the call struct's `runKernel`, which the binding runs; kernels with more to do after the
   * call (a return value, a check of what they routed) keep a `run` of their own in
   * native/binding.cc.
   */
  readonly kernel?: { readonly unless0?: string; readonly path: boolean; readonly pool?: boolean };
}

/**
 * The native SIMD paths by name, the one list: `npm run gen` writes native/cpu.h's KernelPath enum
 * from it (native/constants_generated.h), in this order, which is the order of preference (a path
 * falls back to those before it). `setKernelPath` and NEURONE_KERNEL take these names.
 */
export const KERNEL_PATHS = ['scalar', 'avx2', 'avx512', 'neon'] as const;

/** A native SIMD path's name. */
export type KernelPathName = (typeof KERNEL_PATHS)[number];

/**
 * The most kernel threads `setThreads` takes, on both backends (and the generated kMaxThreads of
 * the addon): far above any machine's core count, low enough that a typo such as
 * `--threads 100000` is refused instead of asking the kernels for that many threads.
 */
export const MAX_THREADS = 1024;

/**
 * Every argument error either backend throws, once. `{x}` is a placeholder; the generator makes
 * each a function of its placeholders, in order of first appearance, in C++ and in TypeScript.
 */
export const MESSAGES = {
  argCount: '{fn}: expected {count} arguments, got {got}',
  notBoolean: '{fn}: {name} must be a boolean, got {got}',
  notString: '{fn}: {name} must be a string, got {got}',
  notNumber: '{fn}: {name} must be a number, got {got}',
  notFloat32Range: '{fn}: {name} must be within the float32 range (magnitude at most 3.4028235e+38), got {got}',
  notSize: '{fn}: {name} must be an integer in [{min}, 2^31-1], got {got}',
  notFloat32Array: '{fn}: {name} must be a Float32Array, got {got}',
  notInt32Array: '{fn}: {name} must be an Int32Array, got {got}',
  notActivation: '{fn}: {name} must be an activation code in [0, {max}], got {got}',
  tooShort: '{fn}: {name} is too short: expected at least {needed} elements, got {got}',
  belowMinimum: '{fn}: {name} must be at least {min}, got {got}',
  overflows: '{fn}: {what} overflows',
  notInt32Index: '{fn}: {what} must be at most 2^31-1, got {got}',
  notClassIndex: '{fn}: {name}[{i}] must be a class index in [0, {classes}), got {got}',
  overlap:
    '{fn}: {out} must not overlap {other} (they share memory{note}): expected {allowed} byte ranges, got {out} at bytes [{outBegin}, {outEnd}) and {other} at bytes [{otherBegin}, {otherEnd}) of the same memory',
  overlapNoteInPlace: '; only exactly the same elements are allowed',
  overlapAllowedInPlace: 'identical or disjoint',
  overlapAllowed: 'disjoint',
  outsideWindow:
    '{fn}: argmax[{i}] = {got} is outside its window: output {t} of {outLength}, channel {c} of sample {b} takes one of {first}..{last} in steps of {step}',
  outsideWindow2d:
    '{fn}: argmax[{i}] = {got} is outside its window: output pixel ({row}, {col}), channel {c} of sample {b} takes the flat index ((b · height + y) · width + x) · chan + c of a pixel with y in [{rowFirst}, {rowLast}] and x in [{colFirst}, {colLast}], with height {height}, width {width}, chan {chan}',
  routedShort: '{fn}: argmax routed {routed} of {total} gradients',
  noData: '{fn}: a and b must hold data when k > 0',
  tooManyThreads: '{fn}: n must be at most {max}, got {got}',
  badKernelPath: `{fn}: path must be ${KERNEL_PATHS.slice(0, -1)
    .map((p) => `'${p}'`)
    .join(', ')} or '${KERNEL_PATHS[KERNEL_PATHS.length - 1]}', got '{got}'`,
  unsupportedKernelPath: "{fn}: '{got}' is not supported here (supported: {supported})",
} as const;

/**
 * Activation codes, the one list: `npm run gen` writes the native enum from it
 * (native/activations_generated.h, which elementwise.h includes). A new activation is a code
 * here, its loops in native/elementwise.cc and lib/backend/js.ts, and its class in
 * lib/nn/activations.ts.
 */
export const Activation = { Identity: 0, ReLU: 1, LeakyReLU: 2, TanH: 3, Sigmoid: 4, SoftPlus: 5, SiLU: 6, ELU: 7, GELU: 8 } as const;
/** An activation code. */
export type Activation = (typeof Activation)[keyof typeof Activation];

/** The largest activation code: arguments of kind 'activation' lie in [0, ACTIVATION_MAX]. */
export const ACTIVATION_MAX = Math.max(...Object.values(Activation));

const size = (name: string, min = 0): ArgSpec => ({ name, kind: 'size', min });
const num = (name: string): ArgSpec => ({ name, kind: 'number' });
/** A number the kernel reads as a double: a probability compared with the exact draws of lib/random.ts. */
const f64 = (name: string): ArgSpec => ({ name, kind: 'f64' });
const f32In = (name: string, length: string, more: Partial<ArgSpec> = {}): ArgSpec => ({ name, kind: 'f32', length, ...more });
const f32Out = (name: string, length: string, more: Partial<ArgSpec> = {}): ArgSpec => ({ name, kind: 'f32', length, out: true, ...more });

const convShape = [size('batch'), size('length'), size('chanIn', 1), size('chanOut', 1), size('kSize', 1), size('stride', 1)];
const convDerived: Derived[] = [
  { name: 'outLength', window: ['length', 'kSize', 'stride'] },
  { name: 'input', product: ['batch', 'length', 'chanIn'] },
  { name: 'weight', product: ['kSize', 'chanIn', 'chanOut'] },
  { name: 'output', product: ['batch', 'outLength', 'chanOut'] },
];
const conv1dShape = { type: 'Conv1dShape', fields: ['batch', 'length', 'chanIn', 'chanOut', 'kSize', 'stride'] } as const;
const pooledDerived: Derived[] = [
  ...convDerived,
  { name: 'pooledLength', window: ['outLength', 'poolSize', 'poolStride'] },
  { name: 'pooled', product: ['batch', 'pooledLength', 'chanOut'] },
];
const poolShape = [size('batch'), size('length'), size('chan', 1), size('kSize', 1), size('stride', 1)];
const poolDerived: Derived[] = [
  { name: 'outLength', window: ['length', 'kSize', 'stride'] },
  { name: 'input', product: ['batch', 'length', 'chan'] },
  { name: 'output', product: ['batch', 'outLength', 'chan'] },
];
const pool1dShape = { type: 'Pool1dShape', fields: ['batch', 'length', 'chan', 'kSize', 'stride'] } as const;
const matrix: Derived[] = [{ name: 'matrix', product: ['rows', 'cols'] }];

const conv2dShape = [
  size('batch'),
  size('height'),
  size('width'),
  size('chanIn', 1),
  size('chanOut', 1),
  size('kHeight', 1),
  size('kWidth', 1),
  size('strideHeight', 1),
  size('strideWidth', 1),
  size('padHeight'),
  size('padWidth'),
];
const conv2dDerived: Derived[] = [
  { name: 'paddedHeight', padded: ['height', 'padHeight'] },
  { name: 'paddedWidth', padded: ['width', 'padWidth'] },
  { name: 'outHeight', window: ['paddedHeight', 'kHeight', 'strideHeight'] },
  { name: 'outWidth', window: ['paddedWidth', 'kWidth', 'strideWidth'] },
  { name: 'input', product: ['batch', 'height', 'width', 'chanIn'] },
  { name: 'weight', product: ['kHeight', 'kWidth', 'chanIn', 'chanOut'] },
  { name: 'output', product: ['batch', 'outHeight', 'outWidth', 'chanOut'] },
];
const conv2dShapeType = {
  type: 'Conv2dShape',
  fields: ['batch', 'height', 'width', 'chanIn', 'chanOut', 'kHeight', 'kWidth', 'strideHeight', 'strideWidth', 'padHeight', 'padWidth'],
} as const;
const pool2dShape = [
  size('batch'),
  size('height'),
  size('width'),
  size('chan', 1),
  size('kHeight', 1),
  size('kWidth', 1),
  size('strideHeight', 1),
  size('strideWidth', 1),
];
const pool2dDerived: Derived[] = [
  { name: 'outHeight', window: ['height', 'kHeight', 'strideHeight'] },
  { name: 'outWidth', window: ['width', 'kWidth', 'strideWidth'] },
  { name: 'input', product: ['batch', 'height', 'width', 'chan'] },
  { name: 'output', product: ['batch', 'outHeight', 'outWidth', 'chan'] },
];
const pool2dShapeType = {
  type: 'Pool2dShape',
  fields: ['batch', 'height', 'width', 'chan', 'kHeight', 'kWidth', 'strideHeight', 'strideWidth'],
} as const;

const upsample2dShape = [size('batch'), size('height'), size('width'), size('chan', 1), size('scaleHeight', 1), size('scaleWidth', 1)];
const upsample2dDerived: Derived[] = [
  { name: 'outHeight', product: ['height', 'scaleHeight'] },
  { name: 'outWidth', product: ['width', 'scaleWidth'] },
  { name: 'input', product: ['batch', 'height', 'width', 'chan'] },
  { name: 'output', product: ['batch', 'outHeight', 'outWidth', 'chan'] },
];
const upsample2dShapeType = {
  type: 'Upsample2dShape',
  fields: ['batch', 'height', 'width', 'chan', 'scaleHeight', 'scaleWidth'],
} as const;

/** Every kernel entry point of the Backend, in the order of its interface. */
export const OPS = {
  sgemm: {
    doc: 'C = alpha · op(A) · op(B) + beta · C, with op(A) of shape (m, k) and op(B) of shape (k, n). A is stored as (m, k) with row stride `lda`, or as (k, m) when `transA`; likewise B. When beta is 0, C is not read (NaN in C does not propagate).',
    args: [
      { name: 'transA', kind: 'bool' },
      { name: 'transB', kind: 'bool' },
      size('m'),
      size('n'),
      size('k'),
      num('alpha'),
      f32In('a', 'spanA', { offset: 'offsetA' }),
      size('offsetA'),
      size('lda'),
      f32In('b', 'spanB', { offset: 'offsetB' }),
      size('offsetB'),
      size('ldb'),
      num('beta'),
      f32Out('c', 'spanC', { offset: 'offsetC' }),
      size('offsetC'),
      size('ldc'),
    ],
    derived: [
      { name: 'aRows', pick: ['transA', 'k', 'm'] },
      { name: 'aCols', pick: ['transA', 'm', 'k'] },
      { name: 'bRows', pick: ['transB', 'n', 'k'] },
      { name: 'bCols', pick: ['transB', 'k', 'n'] },
      { name: 'minLda', atLeastOne: 'aCols' },
      { name: 'minLdb', atLeastOne: 'bCols' },
      { name: 'minLdc', atLeastOne: 'n' },
      { name: 'spanA', span: ['aRows', 'aCols', 'lda'] },
      { name: 'spanB', span: ['bRows', 'bCols', 'ldb'] },
      { name: 'spanC', span: ['m', 'n', 'ldc'] },
    ],
    atLeast: [
      ['lda', 'minLda'],
      ['ldb', 'minLdb'],
      ['ldc', 'minLdc'],
    ],
  },
  conv1dForward: {
    doc: 'y = conv1d(x, w) (+ bias): x (batch, length, chanIn), w (kSize, chanIn, chanOut), bias (chanOut) or null, y (batch, outLength, chanOut), overwritten.',
    args: [f32In('x', 'input'), f32In('w', 'weight'), f32In('bias', 'chanOut', { nullable: true }), f32Out('y', 'output'), ...convShape],
    derived: convDerived,
    shape: conv1dShape,
    kernel: { unless0: 'output', path: true },
  },
  conv1dMaxPoolForward: {
    doc: "y = max pooling (windows of poolSize positions moved by poolStride) of conv1d(x, w) (+ bias), without keeping the convolution: y (batch, pooledLength, chanOut), overwritten; the values of conv1dForward then maxPool1dForward. argmax, when not null, receives what maxPool1dForward records on the convolution's output (flat indices into (batch, outLength, chanOut)), for conv1dMaxPoolBackwardWeight; inference passes null.",
    args: [
      f32In('x', 'input'),
      f32In('w', 'weight'),
      f32In('bias', 'chanOut', { nullable: true }),
      f32Out('y', 'pooled'),
      { name: 'argmax', kind: 'i32', length: 'pooled', out: true, nullable: true },
      ...convShape,
      size('poolSize', 1),
      size('poolStride', 1),
    ],
    derived: pooledDerived,
    int32Index: ['output'],
    shape: conv1dShape,
  },
  conv1dMaxPoolBackwardWeight: {
    doc: "dw += ∂L/∂w of the convolution under a max pooling, given dy = ∂L/∂(pooled output) and the argmax conv1dMaxPoolForward recorded: conv1dBackwardWeight(x, maxPool1dBackward(dy, argmax)), without keeping the convolution's gradient. An argmax entry outside its window is refused (RangeError) and dw is then left as it was.",
    args: [
      f32In('x', 'input'),
      f32In('dy', 'pooled'),
      { name: 'argmax', kind: 'i32', length: 'pooled' },
      f32Out('dw', 'weight'),
      ...convShape,
      size('poolSize', 1),
      size('poolStride', 1),
    ],
    derived: pooledDerived,
    int32Index: ['output'],
    shape: conv1dShape,
  },
  conv1dBackwardInput: {
    doc: 'dx = ∂L/∂x given dy = ∂L/∂y; dx (batch, length, chanIn) is overwritten (positions no window covers get 0).',
    args: [f32In('dy', 'output'), f32In('w', 'weight'), f32Out('dx', 'input'), ...convShape],
    derived: convDerived,
    shape: conv1dShape,
    kernel: { unless0: 'input', path: true },
  },
  conv1dBackwardWeight: {
    doc: 'dw += ∂L/∂w, summed over the batch; dw (kSize, chanIn, chanOut).',
    args: [f32In('x', 'input'), f32In('dy', 'output'), f32Out('dw', 'weight'), ...convShape],
    derived: convDerived,
    shape: conv1dShape,
    kernel: { unless0: 'output', path: true },
  },
  maxPool1dForward: {
    doc: 'y = max over each window; argmax receives, for each output, the index into x of the winner (the first one on ties), which the backward pass routes the gradient to.',
    args: [f32In('x', 'input'), f32Out('y', 'output'), { name: 'argmax', kind: 'i32', length: 'output', out: true }, ...poolShape],
    derived: poolDerived,
    int32Index: ['input'],
    shape: pool1dShape,
    kernel: { unless0: 'output', path: true },
  },
  maxPool1dBackward: {
    doc: 'dx (batch, length, chan) = 0, then dx[argmax[i]] += dy[i]: overlapping windows accumulate.',
    args: [f32In('dy', 'output'), { name: 'argmax', kind: 'i32', length: 'output' }, f32Out('dx', 'input'), ...poolShape],
    derived: poolDerived,
    int32Index: ['input'],
    shape: pool1dShape,
  },
  avgPool1dForward: {
    doc: 'y = mean over each window.',
    args: [f32In('x', 'input'), f32Out('y', 'output'), ...poolShape],
    derived: poolDerived,
    shape: pool1dShape,
    kernel: { unless0: 'output', path: false },
  },
  avgPool1dBackward: {
    doc: 'dx = 0, then each dy spread evenly (dy / kSize) over its window; overlapping windows accumulate.',
    args: [f32In('dy', 'output'), f32Out('dx', 'input'), ...poolShape],
    derived: poolDerived,
    shape: pool1dShape,
    kernel: { unless0: 'input', path: false },
  },
  conv2dForward: {
    doc: 'y = conv2d(x, w) (+ bias), cross-correlation with zero padding: x (batch, height, width, chanIn), w (kHeight, kWidth, chanIn, chanOut), bias (chanOut) or null, y (batch, outHeight, outWidth, chanOut), overwritten; outHeight = ⌊(height + 2·padHeight − kHeight) / strideHeight⌋ + 1, likewise outWidth.',
    args: [f32In('x', 'input'), f32In('w', 'weight'), f32In('bias', 'chanOut', { nullable: true }), f32Out('y', 'output'), ...conv2dShape],
    derived: conv2dDerived,
    shape: conv2dShapeType,
    kernel: { unless0: 'output', path: true },
  },
  conv2dBackwardInput: {
    doc: 'dx = ∂L/∂x given dy = ∂L/∂y; dx (batch, height, width, chanIn) is overwritten (pixels no window covers get 0).',
    args: [f32In('dy', 'output'), f32In('w', 'weight'), f32Out('dx', 'input'), ...conv2dShape],
    derived: conv2dDerived,
    shape: conv2dShapeType,
    kernel: { unless0: 'input', path: true },
  },
  conv2dBackwardWeight: {
    doc: 'dw += ∂L/∂w, summed over the batch; dw (kHeight, kWidth, chanIn, chanOut).',
    args: [f32In('x', 'input'), f32In('dy', 'output'), f32Out('dw', 'weight'), ...conv2dShape],
    derived: conv2dDerived,
    shape: conv2dShapeType,
    kernel: { unless0: 'output', path: true },
  },
  maxPool2dForward: {
    doc: 'y = max over each (kHeight, kWidth) window of x (batch, height, width, chan); argmax receives, for each output, the flat index into x of the winner (the first in row-major order on ties; NaN wins), which the backward pass routes the gradient to.',
    args: [f32In('x', 'input'), f32Out('y', 'output'), { name: 'argmax', kind: 'i32', length: 'output', out: true }, ...pool2dShape],
    derived: pool2dDerived,
    int32Index: ['input'],
    shape: pool2dShapeType,
    kernel: { unless0: 'output', path: true },
  },
  maxPool2dBackward: {
    doc: 'dx (batch, height, width, chan) = 0, then dx[argmax[i]] += dy[i]: overlapping windows accumulate. An argmax entry outside its window is refused (RangeError) and dx is then all zeros.',
    args: [f32In('dy', 'output'), { name: 'argmax', kind: 'i32', length: 'output' }, f32Out('dx', 'input'), ...pool2dShape],
    derived: pool2dDerived,
    int32Index: ['input'],
    shape: pool2dShapeType,
  },
  avgPool2dForward: {
    doc: 'y = mean over each (kHeight, kWidth) window of x (batch, height, width, chan).',
    args: [f32In('x', 'input'), f32Out('y', 'output'), ...pool2dShape],
    derived: pool2dDerived,
    shape: pool2dShapeType,
    kernel: { unless0: 'output', path: true },
  },
  avgPool2dBackward: {
    doc: 'dx = 0, then each dy spread evenly (dy / (kHeight·kWidth)) over its window; overlapping windows accumulate.',
    args: [f32In('dy', 'output'), f32Out('dx', 'input'), ...pool2dShape],
    derived: pool2dDerived,
    shape: pool2dShapeType,
    kernel: { unless0: 'input', path: true },
  },
  upsample2dForward: {
    doc: 'y (batch, height·scaleHeight, width·scaleWidth, chan) = x (batch, height, width, chan) with each pixel repeated scaleHeight × scaleWidth times (nearest neighbour).',
    args: [f32In('x', 'input'), f32Out('y', 'output'), ...upsample2dShape],
    derived: upsample2dDerived,
    shape: upsample2dShapeType,
    kernel: { unless0: 'output', path: false },
  },
  upsample2dBackward: {
    doc: "dx = the sum of dy over each pixel's scaleHeight × scaleWidth copies, added in float32 in row-major order from zero (the same bits on both backends).",
    args: [f32In('dy', 'output'), f32Out('dx', 'input'), ...upsample2dShape],
    derived: upsample2dDerived,
    shape: upsample2dShapeType,
    kernel: { unless0: 'input', path: false },
  },
  activationForward: {
    doc: "y = f(x) elementwise over n values; alpha is LeakyReLU's slope. y may be exactly x (in place). ReLU and LeakyReLU keep NaN (as PyTorch does): f(NaN) = NaN, and ReLU(−0) = +0.",
    args: [{ name: 'activation', kind: 'activation' }, num('alpha'), f32In('x', 'n'), f32Out('y', 'n'), size('n')],
    inPlace: [['y', 'x']],
  },
  activationBackward: {
    doc: "dx = dy · f'(x), given y = f(x) as well (tanh and sigmoid derive from y). dx may be exactly x, y or dy (each element is read before its own output is written, on both backends). ReLU and LeakyReLU: where x is NaN the slope is undefined and dx is NaN (not dy as PyTorch's threshold_backward gives, nor 0), so a bad input shows in the gradient.",
    args: [
      { name: 'activation', kind: 'activation' },
      num('alpha'),
      f32In('x', 'n'),
      f32In('y', 'n'),
      f32In('dy', 'n'),
      f32Out('dx', 'n'),
      size('n'),
    ],
    inPlace: [
      ['dx', 'x'],
      ['dx', 'y'],
      ['dx', 'dy'],
    ],
  },
  addRowVector: {
    doc: 'y[r, c] += v[c] for a (rows, cols) y.',
    args: [f32Out('y', 'matrix'), f32In('v', 'cols'), size('rows'), size('cols')],
    derived: matrix,
    kernel: { unless0: 'matrix', path: false, pool: false },
  },
  sumRows: {
    doc: 'out[c] += Σ_r x[r, c] for a (rows, cols) x (the bias gradient).',
    args: [f32In('x', 'matrix'), size('rows'), size('cols'), f32Out('out', 'cols')],
    derived: matrix,
    kernel: { unless0: 'matrix', path: true, pool: false },
  },
  softmaxForward: {
    doc: 'Softmax (or, with `log`, log-softmax) of each row of a (rows, cols) x; y may be exactly x (in place).',
    args: [f32In('x', 'matrix'), f32Out('y', 'matrix'), size('rows'), size('cols', 1), { name: 'log', kind: 'bool' }],
    derived: matrix,
    inPlace: [['y', 'x']],
  },
  softmaxBackward: {
    doc: "dx from dy through the softmax (log-softmax) whose output was y: the full Jacobian-vector product. dx may be exactly y or dy (each row's reduction is taken before dx is written).",
    args: [
      f32In('y', 'matrix'),
      f32In('dy', 'matrix'),
      f32Out('dx', 'matrix'),
      size('rows'),
      size('cols', 1),
      { name: 'log', kind: 'bool' },
    ],
    derived: matrix,
    inPlace: [
      ['dx', 'y'],
      ['dx', 'dy'],
    ],
  },
  crossEntropyLogits: {
    doc: 'Per-row cross-entropy from raw logits: loss[r] = logsumexp(x[r]) − x[r, labels[r]]; grad (when not null) = softmax(x[r]) − onehot(labels[r]), per sample (no 1/batch). grad must not share memory with logits (refused): computing the gradient in place of the logits would change the loss on one backend and not the other.',
    // grad over logits would not even be in-place safe: the kernel writes the exponentials to
    // grad before it reads the label's logit for the loss.
    args: [
      f32In('logits', 'matrix'),
      { name: 'labels', kind: 'i32', length: 'rows', classesOf: 'cols' },
      f32Out('loss', 'rows'),
      f32Out('grad', 'matrix', { nullable: true }),
      size('rows'),
      size('cols', 1),
    ],
    derived: matrix,
  },
  sgdStep: {
    doc: "SGD: g' = g + wd·w; with velocity v = momentum·v + (1 − dampening)·g' and w −= lr·(nesterov ? g' + momentum·v : v); without, w −= lr·g'.",
    args: [
      f32Out('w', 'n'),
      f32In('g', 'n'),
      f32Out('velocity', 'n', { nullable: true }),
      size('n'),
      num('lr'),
      num('momentum'),
      num('weightDecay'),
      num('dampening'),
      { name: 'nesterov', kind: 'bool' },
    ],
  },
  adamStep: {
    doc: 'Adam with bias correction for `step` (1-based) and L2 weight decay.',
    args: [
      f32Out('w', 'n'),
      f32In('g', 'n'),
      f32Out('m', 'n'),
      f32Out('v', 'n'),
      size('n'),
      num('lr'),
      num('beta1'),
      num('beta2'),
      num('eps'),
      num('weightDecay'),
      size('step', 1),
    ],
  },
  dropoutForward: {
    doc: "Inverted dropout drawn from xoshiro128** (lib/random.ts's Rng), whose four state words state holds and advances: for each i in order, the next 32-bit output u drops x[i] when u / 2^32 < p (compared in double, as Rng.uniform() < p is), factors[i] = 0 then and keep (rounded to float32) otherwise, and y[i] = x[i] · factors[i].",
    args: [
      f32In('x', 'n'),
      f32Out('factors', 'n'),
      f32Out('y', 'n'),
      { name: 'state', kind: 'i32', length: 'stateWords', out: true },
      size('n'),
      f64('p'),
      num('keep'),
    ],
    derived: [{ name: 'stateWords', constant: 4 }],
    inPlace: [['y', 'x']],
    kernel: { unless0: 'n', path: false, pool: false },
  },
  nonFiniteIndex: {
    returns: 'number',
    doc: 'Index of the first NaN or ±Infinity among the first n values of x, or −1 when all are finite.',
    args: [f32In('x', 'n'), size('n')],
  },
  sumOfSquares: {
    returns: 'number',
    doc: 'Σ x[i]² over the first n values of x, in double: in blocks of 32768 values whose sums are added in order; within a block, value i goes to partial sum i mod 32, then neighbours are added pairwise, s[j] = s[2j] + s[2j + 1], halving to one. A float squared is exact in double, so every path, thread count and the js backend give the same bits; NaN when x holds a NaN, +Infinity when it holds an infinity. 0 for n = 0.',
    args: [f32In('x', 'n'), size('n')],
  },
  binaryCrossEntropy: {
    doc: 'Binary cross-entropy per row: loss[r] = −Σ_c y log p + (1 − y) log(1 − p), logs clamped at −100; grad (when not null) = −y / max(p, 1e−12) + (1 − y) / max(1 − p, 1e−12).',
    args: [
      f32In('p', 'matrix'),
      f32In('y', 'matrix'),
      f32Out('loss', 'rows'),
      f32Out('grad', 'matrix', { nullable: true }),
      size('rows'),
      size('cols'),
    ],
    derived: matrix,
  },
  // Batch normalisation over the channels of a channels-last (rows, chan) tensor: rows is the
  // batch times the positions (lengths, pixels) each channel is normalised over.
  batchNormStatistics: {
    doc: 'Per-channel mean and biased variance (the mean of squared deviations, divided by rows) of a (rows, chan) x, each row a sample or position: mean (chan) and variance (chan) are overwritten; both are 0 when rows is 0. The scalar path and the js backend compute in double, the SIMD paths sum float blocks of 64 rows into doubles from a pivot in the data; the variance always comes from the deviations (two passes), so a large common offset does not cancel it. Threads split the rows with the same results as one thread.',
    args: [f32In('x', 'values'), f32Out('mean', 'chan'), f32Out('variance', 'chan'), size('rows'), size('chan', 1)],
    derived: [{ name: 'values', product: ['rows', 'chan'] }],
    shape: { type: 'BatchNormShape', fields: ['rows', 'chan'] },
    kernel: { path: true },
  },
  batchNormForward: {
    doc: 'y[r, c] = (x[r, c] − mean[c]) / sqrt(variance[c] + eps) · scale[c] + shift[c] for a (rows, chan) x; scale null means 1 and shift null means 0 (no affine map). y is overwritten and may be exactly x (in place).',
    args: [
      f32In('x', 'values'),
      f32In('mean', 'chan'),
      f32In('variance', 'chan'),
      f32In('scale', 'chan', { nullable: true }),
      f32In('shift', 'chan', { nullable: true }),
      num('eps'),
      f32Out('y', 'values'),
      size('rows'),
      size('chan', 1),
    ],
    derived: [{ name: 'values', product: ['rows', 'chan'] }],
    shape: { type: 'BatchNormShape', fields: ['rows', 'chan'] },
    kernel: { path: true },
    inPlace: [['y', 'x']],
  },
  batchNormBackward: {
    doc: 'The gradients of batchNormForward given dy = ∂L/∂y, with x̂ = (x − mean) / sqrt(variance + eps) and s = scale (1 when null). dscale[c] += Σ_r dy·x̂ and dshift[c] += Σ_r dy, when not null. dx, when not null, is overwritten: with `training`, the gradient through the batch statistics (mean and variance being those of x, as batchNormStatistics gives them), s / sqrt(variance + eps) · (dy − mean_r(dy) − x̂ · mean_r(dy · x̂)); without, that of the affine map alone, s · dy / sqrt(variance + eps). dx may be exactly dy (in place).',
    args: [
      f32In('x', 'values'),
      f32In('dy', 'values'),
      f32In('mean', 'chan'),
      f32In('variance', 'chan'),
      f32In('scale', 'chan', { nullable: true }),
      num('eps'),
      { name: 'training', kind: 'bool' },
      f32Out('dx', 'values', { nullable: true }),
      f32Out('dscale', 'chan', { nullable: true }),
      f32Out('dshift', 'chan', { nullable: true }),
      size('rows'),
      size('chan', 1),
    ],
    derived: [{ name: 'values', product: ['rows', 'chan'] }],
    shape: { type: 'BatchNormShape', fields: ['rows', 'chan'] },
    kernel: { path: true },
    inPlace: [['dx', 'dy']],
  },
} satisfies Record<string, OpSpec>;

/** The name of a kernel entry point. */
export type OpName = keyof typeof OPS;

/** The entry points, in table order. */
export const OP_NAMES = Object.keys(OPS) as OpName[];
