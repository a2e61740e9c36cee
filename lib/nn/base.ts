/**
 * The module contract: `Module`, the parameters it lists, and the record a Sequential keeps
 * per place for the backward pass.
 *
 * A module is state (parameters and their gradients) plus three explicit passes,
 * as in the course's NumPy library: `forward`, `backwardUpdateGradient` (adds
 * ∂L/∂params into the gradients) and `backwardDelta` (returns ∂L/∂input). There is
 * no autograd: the caller (usually `Sequential`, lib/nn/module.ts) keeps each module's input and
 * hands it back for the backward pass. Inputs are read-only: a module writes only
 * into its own buffers (the training loop may pass a view into the dataset).
 */
import { checkKnownOptions } from '../options';
import { summarize } from './summary';
import { Tensor, checkShape, formatShape, describe, isTensor, sizeOf, zeros, checkDataLength, missingBatchHint } from '../tensor';
import { ModuleSchema, labelOptions } from './schema';

/**
 * What a module's forward pass at one place of a Sequential keeps for the backward pass at the
 * same place. The Sequential owns one record per position, clears it before the module's forward
 * and hands the same record to that module's backward, so what backward reads was written by the
 * forward of the same place: nothing is looked up by tensor identity, and a module used at
 * several places keeps one record per place. A module called directly has no record and
 * recomputes in backward what it needs from the input it is given. @internal
 */
export class SavedForBackward {
  /**
   * Whether the input of this place stays as forward saw it until backward: true when an earlier
   * module of the Sequential produced it, or when a training step declared it will not touch its
   * batch. When false (the first module of a Sequential called by a user, who may rewrite `x` in
   * place), backward recomputes what derives from the input (a pooling's winners, tanh's output)
   * from the input it is then given.
   */
  inputHeld = false;
  /** The module's output at this place as the Sequential keeps it (a copy when the module is shared). */
  output: Tensor | null = null;
  /** Storage for the winners of a max pooling at this place, kept across passes so a step allocates nothing. */
  private winnerStorage = new Int32Array(0);
  /** Whether {@link SavedForBackward.winners} holds the winners of this place's last forward. */
  winnersSaved = false;
  /** Storage for the output of a fused group starting at this place (no module owns it). */
  private fusedStorage = new Float32Array(0);
  /** Storage for the ∂L/∂input of a fused group starting at this place, and for its scratch. */
  private fusedDeltaStorage = new Float32Array(0);
  private fusedScratchStorage = new Float32Array(0);
  /** A nested Sequential's pass at this place (its own per-place records inside). */
  pass: unknown = null;
  /**
   * What a leaf module's training-mode forward drew or measured at this place for the backward
   * pass there (Dropout's mask), owned and typed by that module; kept across passes for reuse.
   */
  moduleState: unknown = null;

  /** Forgets the last pass (keeping the storage), before the forward pass at this place. */
  clear(inputHeld: boolean): void {
    this.inputHeld = inputHeld;
    this.output = null;
    this.winnersSaved = false;
  }

  /** `n` entries of this place's winner storage (its old contents: the kernel overwrites them). */
  winners(n: number): Int32Array {
    if (this.winnerStorage.length !== n) this.winnerStorage = new Int32Array(n);
    return this.winnerStorage;
  }

  /** A tensor of `shape` in this place's storage for a fused group's output, valid until the next pass here. */
  fusedOutput(shape: readonly number[]): Tensor {
    const n = sizeOf(shape);
    if (this.fusedStorage.length !== n) this.fusedStorage = new Float32Array(n);
    return { shape, data: this.fusedStorage };
  }

  /** A tensor of `shape` in this place's storage for a fused group's ∂L/∂input, valid until the next backward pass here. */
  fusedDelta(shape: readonly number[]): Tensor {
    const n = sizeOf(shape);
    if (this.fusedDeltaStorage.length !== n) this.fusedDeltaStorage = new Float32Array(n);
    return { shape, data: this.fusedDeltaStorage };
  }

  /** `n` floats of this place's scratch for a fused group's backward pass (old contents). */
  fusedScratch(n: number): Float32Array {
    if (this.fusedScratchStorage.length !== n) this.fusedScratchStorage = new Float32Array(n);
    return this.fusedScratchStorage;
  }
}

/** How many forward passes being replayed enclose the code now running (see {@link replayForward}). */
let replayDepth = 0;

/**
 * Runs `pass`, a forward pass that repeats the caller's last one on the same batch so that a
 * backward call has its records (Sequential's backwardUpdateGradient and backwardDelta, called
 * directly). The gradients must be those of the forward the caller saw, and a backward call
 * changes no state: in the replay a BatchNorm leaves its running estimates alone and a Dropout
 * applies the mask it drew, as their own backward calls do. @internal
 */
export function replayForward<T>(pass: () => T): T {
  replayDepth++;
  try {
    return pass();
  } finally {
    replayDepth--;
  }
}

/** Whether the forward pass now running repeats the last one ({@link replayForward}). @internal */
export function replayingForward(): boolean {
  return replayDepth > 0;
}

/**
 * A trainable tensor and its gradient, as listed by {@link Module.parameters}. The tensors are the
 * module's own: new values are written into them (`p.value.data.set(values)`, TF.js's
 * `setWeights`); assigning another tensor to `value` would leave the module's untouched, and a
 * Sequential's records refuse it.
 */
export interface Parameter {
  /** Dotted path inside the network: `weight`, or `0.weight` inside a Sequential. */
  readonly name: string;
  /** The module's tensor itself. */
  readonly value: Tensor;
  /** Same shape as `value`; `backwardUpdateGradient` adds into it, `zeroGrad` clears it. */
  readonly grad: Tensor;
  /** The module that owns the parameter (for error messages). */
  readonly module: Module;
}

/**
 * `p` under the name `name`, as a record whose `value` and `grad` refuse to be replaced: an
 * assignment (a port of TF.js's `setWeights` or PyTorch's `p.data = …`) would otherwise be
 * dropped without a word, the module keeping its own tensors. Refused in sloppy-mode code too,
 * by a setter rather than by freezing alone. @internal
 */
export function parameterRecord(p: Parameter, name: string): Parameter {
  const refuse = (field: 'value' | 'grad') => (): never => {
    throw new TypeError(
      `parameter ${name} of ${String(p.module)}: its ${field} cannot be replaced, the module keeps its own tensor; ` +
        `write the new values into it instead: ${field}.data.set(values)`,
    );
  };
  const record = { name, module: p.module } as Parameter;
  Object.defineProperty(record, 'value', { get: () => p.value, set: refuse('value'), enumerable: true });
  Object.defineProperty(record, 'grad', { get: () => p.grad, set: refuse('grad'), enumerable: true });
  return Object.freeze(record);
}

/**
 * A tensor a module updates itself rather than through gradients (BatchNorm's running mean and
 * variance), as listed by {@link Module.buffers}: saved and loaded with the parameters, never
 * handed to an optimiser. PyTorch calls them buffers too.
 */
export interface ModuleBuffer {
  /** Dotted path inside the network: `runningMean`, or `1.runningMean` inside a Sequential. */
  name: string;
  value: Tensor;
  /** The module that owns the buffer (for error messages). */
  module: Module;
}

/**
 * How to rebuild a module: its constructor name, positional arguments and options.
 * `JSON.stringify(net)` gives this for every module; `load` rebuilds a network from it.
 */
export interface ModuleConfig {
  type: string;
  args: unknown[];
  options?: Record<string, unknown>;
  /** Children of containers (Sequential). */
  modules?: ModuleConfig[];
}

/**
 * What a lazily sized layer lacks, for messages: `Linear(null, 3) at position 0 takes its input
 * size from its first input, not known yet`. @internal
 */
export function unsizedText(layer: Module): string {
  return `${layer.label()} takes its input size from its first input, not known yet`;
}

/**
 * Base class of every layer and activation.
 *
 * Subclasses implement `outputShape` (which also validates the input shape), `forward` and
 * `backwardDelta`; layers with parameters also `backwardUpdateGradient` and `parameters`.
 * `updateParameters` and `zeroGrad` work from `parameters()` for all of them.
 *
 * @example
 * const lin = new Linear(3, 2);
 * const y = lin.forward(x);                 // (batch, 2)
 * lin.zeroGrad();
 * lin.backwardUpdateGradient(x, dy);        // lin.parameters()[0].grad += xᵀ·dy
 * const dx = lin.backwardDelta(x, dy);      // (batch, 3)
 * lin.updateParameters(0.01);               // w -= 0.01 · grad
 */
export abstract class Module {
  /**
   * Builds the module. A module without a constructor of its own takes no arguments, and
   * JavaScript would drop any it is given: a PyTorch user's `Flatten(1)` (start_dim there) or
   * `ReLU(true)` (inplace) would quietly mean something else, so they are refused.
   * @param args Nothing: a subclass's constructor calls `super()`.
   */
  constructor(...args: unknown[]) {
    if (args.length > 0)
      throw new TypeError(`${new.target.name} takes no arguments, got ${args.length}: ${args.map((a) => describe(a)).join(', ')}`);
  }

  /** Position inside the enclosing Sequential(s), e.g. `3` or `1.2`; null when standalone. */
  private position: string | null = null;
  /**
   * Set by Sequential on its children: outputs and deltas are then written into buffers the
   * module keeps and reuses while the batch shape stays the same, so steady-state training
   * allocates nothing. Such a tensor is valid until the module's next call of the same kind.
   */
  private reuse = false;
  /** Per slot, the buffers of the sizes seen recently (no string keys built per call: no garbage). */
  private readonly reusedBuffers = new Map<string, Float32Array[]>();
  /**
   * How many places in Sequentials hold this instance. Above one, the module's reused buffers
   * are overwritten by its other uses before this use's backward pass reads them, so the
   * Sequentials copy what it returns (see {@link Sequential.forwardView}).
   */
  private uses = 0;

  /** See {@link Module.training}. */
  private trainingMode = true;

  /**
   * Whether the module is in training mode (the default, as in PyTorch) or evaluation mode. Only
   * mode-dependent layers read it: Dropout drops in training and is the identity in evaluation;
   * BatchNorm normalises with the batch's statistics (and updates its running estimates) in
   * training, with the running estimates in evaluation. Set it with {@link Module.train} and
   * {@link Module.eval}; `fit`, `predict` and `evaluate` set it for their passes and put back
   * what they found.
   */
  get training(): boolean {
    return this.trainingMode;
  }

  /**
   * Puts the module, and every module inside it, in training mode (`mode` true, the default) or
   * evaluation mode (`mode` false), as PyTorch's `module.train(mode)`.
   * @param mode True for training mode, false for evaluation mode.
   * @returns this module, so calls chain.
   * @example
   * net.eval();            // Dropout off, BatchNorm on its running estimates
   * const y = net.forward(x);
   * net.train();           // back to training mode
   */
  train(mode = true): this {
    if (typeof mode !== 'boolean') throw new TypeError(`${this.label()}: train's mode must be a boolean, got ${describe(mode)}`);
    this.trainingMode = mode;
    return this;
  }

  /**
   * Puts the module, and every module inside it, in evaluation mode: `train(false)`, as PyTorch's
   * `module.eval()`.
   * @returns this module, so calls chain.
   */
  eval(): this {
    return this.train(false);
  }

  /** Called by Sequential when it adds this module at one more place. @internal */
  addUse(): void {
    this.uses++;
  }

  /** Whether this instance sits at more than one place (in one Sequential or several). @internal */
  isShared(): boolean {
    return this.uses > 1;
  }

  /**
   * The record of the place a Sequential is running this module at, for the duration of that
   * call (see {@link SavedForBackward}); null when the module is called directly.
   */
  private place: SavedForBackward | null = null;

  /**
   * What this module's forward pass at the current place kept for its backward pass there, or
   * null when the module is called directly (its backward then recomputes what it needs from the
   * input it is given). A module's own forward and backward read it; a subclass that overrides
   * them without calling the built-in ones simply never sees it. @internal
   */
  protected savedForBackward(): SavedForBackward | null {
    return this.place;
  }

  /**
   * What a Sequential calls instead of {@link forward}: `forward(input)` with `saved` as the
   * record of this place, so what the pass keeps for backward goes there and not into the module
   * (a module at several places has one record per place). @internal
   */
  forwardAt(input: Tensor, saved: SavedForBackward): Tensor {
    const outer = this.place;
    this.place = saved;
    try {
      return this.forward(input);
    } finally {
      this.place = outer;
    }
  }

  /**
   * What a Sequential calls for the backward pass at a place whose forward was {@link forwardAt}
   * with the same `saved`: {@link backwardUpdateGradient} when `parameterGradients`, then
   * {@link backwardDelta} when `inputGradient` (returned; null otherwise). @internal
   */
  backwardAt(input: Tensor, delta: Tensor, saved: SavedForBackward, parameterGradients: boolean, inputGradient: boolean): Tensor | null {
    const outer = this.place;
    this.place = saved;
    try {
      return this.backwardHalves(input, delta, parameterGradients, inputGradient);
    } finally {
      this.place = outer;
    }
  }

  /**
   * The backward pass at the current place: {@link backwardUpdateGradient} when
   * `parameterGradients`, then {@link backwardDelta} when `inputGradient`. A module whose two
   * halves share work (batch norm's sums over the batch) overrides it to do that work once.
   * @internal
   */
  protected backwardHalves(input: Tensor, delta: Tensor, parameterGradients: boolean, inputGradient: boolean): Tensor | null {
    if (parameterGradients) this.backwardUpdateGradient(input, delta);
    return inputGradient ? this.backwardDelta(input, delta) : null;
  }

  /** Whether results live in the module's own reused buffers (inside a Sequential). */
  protected reusesBuffers(): boolean {
    return this.reuse;
  }

  /** Called by Sequential: whether results may live in reused buffers (see {@link Module.buffer}). @internal */
  setBufferReuse(reuse: boolean): void {
    this.reuse = reuse;
    if (!reuse) this.reusedBuffers.clear();
  }

  /**
   * A tensor of `shape` for a result: fresh zeros, or (inside a Sequential) the module's own
   * buffer for `slot`, kept across calls with its old contents, so every kernel writing into
   * it must overwrite all of it. A few sizes per slot are kept (training batch, last partial
   * batch, evaluation batch).
   * @param slot The buffer's name within this module ('output', 'inputGradient').
   * @param shape The shape of the tensor returned.
   */
  protected buffer(slot: string, shape: readonly number[]): Tensor {
    if (!this.reuse) return zeros(shape);
    const n = sizeOf(shape);
    let list = this.reusedBuffers.get(slot);
    if (!list) {
      list = [];
      this.reusedBuffers.set(slot, list);
    }
    let data = list.find((b) => b.length === n);
    if (!data) {
      if (list.length >= 4) list.shift();
      data = new Float32Array(n);
      list.push(data);
    }
    return { shape, data };
  }

  /** The constructor arguments and options, for serialisation and error messages. */
  abstract config(): ModuleConfig;

  /** Same as {@link config}, so `JSON.stringify(module)` describes it. */
  toJSON(): ModuleConfig {
    return this.config();
  }

  /**
   * The module as a model description writes it: {@link config}, except that a layer waiting for
   * its first input to be sized keeps that (`Linear(null, n)`), where config, which saving
   * reads, refuses it. @internal
   */
  description(): ModuleConfig {
    return this.config();
  }

  /** `Linear(784, 10)`: the type and its positional arguments. */
  toString(): string {
    const c = this.config();
    // An array argument (a [height, width] pair, Reshape's shape) as it is written in a call.
    const written = (a: unknown): string => (Array.isArray(a) ? `[${a.map(written).join(', ')}]` : String(a));
    // The options that change what the layer computes, where not their defaults (a padding, no bias).
    const schema = (this.constructor as { schema?: ModuleSchema }).schema;
    const options = schema ? labelOptions(schema, c.options) : '';
    return `${c.type}(${[...c.args.map(written), ...(options ? [options] : [])].join(', ')})`;
  }

  /** How errors name this module: `Linear(784, 10) at position 3`. */
  label(): string {
    return this.position === null ? this.toString() : `${this.toString()} at position ${this.position}`;
  }

  /** Called by Sequential when the module is added; containers pass it on to their children. @internal */
  setPosition(position: string | null): void {
    this.position = position;
  }

  /** @internal */
  protected getPosition(): string | null {
    return this.position;
  }

  /**
   * The output shape for an input of shape `inputShape`; throws a RangeError naming this
   * module when the input shape is not acceptable.
   * @param inputShape The input shape, batch first.
   */
  abstract outputShape(inputShape: readonly number[]): number[];

  /**
   * Computes the output for `input`.
   * @param input The batch, shape as the module expects it (first axis the batch).
   */
  abstract forward(input: Tensor): Tensor;

  /**
   * The output for `input` when no backward pass will follow (inference: `predict`, `evaluate`).
   * Same values as {@link forward}, but a module may skip what only backward needs, and a
   * `Sequential` runs neighbours that have a joint kernel (Conv1D followed by MaxPool1D) as one.
   * Nothing is kept for a backward pass. It runs in the module's mode, as forward does: in
   * training mode (a new network's, which fit puts back when it ends) a BatchNorm moves its
   * running estimates and a Dropout draws a mask. `predict` and `evaluate` switch to evaluation
   * mode for their pass; call `net.eval()` first to use infer the same way (PyTorch's
   * `model.eval()`).
   * @param input The batch, shape as the module expects it (first axis the batch).
   */
  infer(input: Tensor): Tensor {
    return this.forward(input);
  }

  /**
   * Adds ∂L/∂params (given `delta` = ∂L/∂output) into the gradients. No-op without parameters.
   * @param input The input of the forward pass.
   * @param delta ∂L/∂output, the shape of this module's output for `input`.
   */
  backwardUpdateGradient(input: Tensor, delta: Tensor): void {
    this.checkBackward(input, delta);
  }

  /**
   * Returns ∂L/∂input given `delta` = ∂L/∂output.
   * @param input The input of the forward pass.
   * @param delta ∂L/∂output, the shape of this module's output for `input`.
   */
  abstract backwardDelta(input: Tensor, delta: Tensor): Tensor;

  /** The trainable tensors with their gradients (empty for modules without parameters). */
  parameters(): Parameter[] {
    return [];
  }

  /**
   * The tensors the module keeps besides its parameters and updates itself (BatchNorm's running
   * estimates): saved and loaded with the weights, not trained. Empty for most modules.
   */
  buffers(): ModuleBuffer[] {
    return [];
  }

  /**
   * The number of trainable values (weights and biases), as `sum(p.numel() for p in
   * model.parameters())` in PyTorch or `model.countParams()` in TensorFlow.js.
   */
  parameterCount(): number {
    // PyTorch refuses to count a lazy module's uninitialised parameters; a partial sum would look like the whole.
    const unsized = this.unsizedLayer();
    if (unsized) throw new RangeError(`parameterCount: ${unsizedText(unsized)}; call net.build(inputShape) or run a forward pass first`);
    return this.parameters().reduce((n, p) => n + p.value.data.length, 0);
  }

  /** The first layer that waits for its first input to be sized (`Linear(null, n)`), or undefined. @internal */
  unsizedLayer(): Module | undefined {
    return undefined;
  }

  /**
   * Sizes the lazily sized layers (`new Linear(null, out)`) for samples of `inputShape`, as
   * Keras's `model.build`, and checks that every layer accepts what it would receive. `fit`,
   * `predict` and `summary(inputShape)` do the same with the data's shape.
   *
   * @param inputShape The shape of one sample, without the batch: `[784]`, `[256, 1]`.
   * @returns this module, so calls chain.
   * @throws RangeError naming the first layer that refuses its input's shape.
   * @example
   * const net = new Sequential(new Conv1D(3, 1, 32), new MaxPool1D(2, 2), new Flatten(), new Linear(null, 10)).build([256, 1]);
   */
  build(inputShape: readonly number[]): this {
    if (!Array.isArray(inputShape) || !inputShape.every((d) => Number.isInteger(d) && d >= 1)) {
      throw new RangeError(
        `${this.label()}: build's inputShape must be an array of positive integers without the batch, got ${describe(inputShape)}`,
      );
    }
    this.outputShape([1, ...inputShape]);
    return this;
  }

  /**
   * A table of the layers (a Sequential's children, or this module), each one's output shape and
   * parameter count, and the total, as Keras's `model.summary()`; print it with `console.log`.
   * Output shapes need the input's: given here, or read from a first Linear layer. Reading the
   * flattened size there spares working out a `Linear(4064, …)` by hand.
   *
   * @param inputShape The shape of one sample, without the batch: `[256, 1]` for sequences of 256
   *   values with one channel. Optional when the first layer is a Linear.
   * @throws RangeError when a layer refuses the shape it would receive, naming it.
   * @example
   * const net = new Sequential(new Conv1D(3, 1, 32), new MaxPool1D(2, 2), new Flatten());
   * console.log(net.summary([256, 1]));   // … Flatten()  (batch, 4064) …
   */
  summary(inputShape?: readonly number[]): string {
    if (inputShape !== undefined && (!Array.isArray(inputShape) || !inputShape.every((d) => Number.isInteger(d) && d >= 1))) {
      throw new RangeError(
        `${this.label()}: summary's inputShape must be an array of positive integers without the batch, got ${describe(inputShape)}`,
      );
    }
    return summarize(this, inputShape);
  }

  /**
   * Plain gradient step: value -= lr · grad, for every parameter.
   * @param lr The learning rate: each weight moves by −lr × its gradient.
   */
  updateParameters(lr: number): void {
    if (typeof lr !== 'number' || !Number.isFinite(lr)) {
      throw new RangeError(`${this.label()}: updateParameters expects a finite learning rate, got ${describe(lr)}`);
    }
    for (const p of this.parameters()) {
      const v = p.value.data;
      const g = p.grad.data;
      for (let i = 0; i < v.length; i++) v[i] -= lr * g[i];
    }
  }

  /** Sets every gradient to zero (gradients accumulate until then). */
  zeroGrad(): void {
    for (const p of this.parameters()) p.grad.data.fill(0);
  }

  /**
   * Same effect as {@link zeroGrad} for a training step that is about to run a full backward
   * pass: a layer may skip the clearing and have its next `backwardUpdateGradient` write the
   * gradient instead of adding to it. For large weights this saves a pass over memory per
   * step (the gradient GEMM writes with beta = 0 instead of reading zeros back). Until that
   * backward pass the gradients hold stale values, so call it only right before one; `fit`
   * and `Optim.step` do. Layers that do not override it clear their gradients at once.
   * @internal
   */
  deferZeroGrad(): void {
    this.zeroGrad();
  }

  /**
   * Checks that `input` is a tensor this module accepts; returns the output shape. Public for the
   * fused kernels (lib/nn/fusion.ts), which must refuse exactly what the module refuses. @internal
   */
  checkInput(input: Tensor): number[] {
    if (!isTensor(input)) {
      throw new TypeError(`${this.label()}: expected input to be a Tensor, got ${describe(input)}`);
    }
    this.checkLength(input, 'input');
    return this.outputShape(input.shape);
  }

  /**
   * Checks input and delta for a backward pass: delta must have the shape forward(input) has.
   * @param input The input of the forward pass.
   * @param delta ∂L/∂output, the shape of this module's output for `input`.
   */
  protected checkBackward(input: Tensor, delta: Tensor): number[] {
    const out = this.checkInput(input);
    checkShape(delta, out, () => this.label(), 'delta');
    this.checkLength(delta, 'delta');
    return out;
  }

  /**
   * A tensor built by hand can claim a shape its data does not fill: the kernels would then be
   * told sizes the arrays do not have (they refuse, but with a kernel's name, not this module's).
   */
  private checkLength(t: Tensor, what: string): void {
    checkDataLength(() => this.label(), what, t);
  }

  /**
   * Error for an unexpected input shape, in the house format.
   * @param expected The expected shape, with names ('batch') for free dimensions.
   * @param got The shape received.
   * @param what What was refused (default 'input').
   * @param hints The module's own advice, said after the missing batch axis's (one sample
   * without it) in one parenthesis.
   */
  protected shapeError(
    expected: readonly (number | string)[],
    got: readonly number[],
    what = 'input',
    hints: readonly string[] = [],
  ): RangeError {
    // The missing batch axis first, then the module's own hints, in one parenthesis.
    const all = [missingBatchHint(expected, got), ...hints].filter((h) => h !== '');
    return new RangeError(
      `${this.label()}: expected ${what} ${formatShape(expected)}, got ${formatShape(got)}${all.length > 0 ? ` (${all.join('; ')})` : ''}`,
    );
  }
}

/** Checks that `options` is a plain object (or undefined) with only the known keys. */
export function checkOptions(who: string, options: unknown, known: readonly string[]): Record<string, unknown> {
  if (options === undefined) return {};
  if (options === null || typeof options !== 'object' || Array.isArray(options)) {
    throw new TypeError(`${who}: options must be an object, got ${describe(options)}`);
  }
  checkKnownOptions(who, options, known);
  return options as Record<string, unknown>;
}
