/**
 * The module contract and `Sequential`.
 *
 * A module is state (parameters and their gradients) plus three explicit passes,
 * as in the course's NumPy library: `forward`, `backwardUpdateGradient` (adds
 * ∂L/∂params into the gradients) and `backwardDelta` (returns ∂L/∂input). There is
 * no autograd: the caller (usually `Sequential`) keeps each module's input and
 * hands it back for the backward pass. Inputs are read-only: a module writes only
 * into its own buffers (the training loop may pass a view into the dataset).
 */
import { Tensor, checkShape, formatShape, describe, sizeOf, zeros } from '../tensor';

/** A trainable tensor and its gradient, as listed by {@link Module.parameters}. */
export interface Parameter {
  /** Dotted path inside the network: `weight`, or `0.weight` inside a Sequential. */
  name: string;
  value: Tensor;
  /** Same shape as `value`; `backwardUpdateGradient` adds into it, `zeroGrad` clears it. */
  grad: Tensor;
  /** The module that owns the parameter (for error messages). */
  module: Module;
}

/**
 * How to rebuild a module: its constructor name, positional arguments and options.
 * `JSON.stringify(net)` gives this for every module (a later release rebuilds networks from it).
 */
export interface ModuleConfig {
  type: string;
  args: unknown[];
  options?: Record<string, unknown>;
  /** Children of containers (Sequential). */
  modules?: ModuleConfig[];
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
  /** Position inside the enclosing Sequential(s), e.g. `3` or `1.2`; null when standalone. */
  private position: string | null = null;
  /**
   * Set by Sequential on its children: outputs and deltas are then written into buffers the
   * module keeps and reuses while the batch shape stays the same, so steady-state training
   * allocates nothing. Such a tensor is valid until the module's next call of the same kind.
   */
  private reuse = false;
  /** Per slot, the buffers of the sizes seen recently (no string keys built per call: no garbage). */
  private readonly buffers = new Map<string, Float32Array[]>();
  /**
   * How many places in Sequentials hold this instance. Above one, the module's reused buffers
   * are overwritten by its other uses before this use's backward pass reads them, so the
   * Sequentials copy what it returns (see {@link Sequential.forwardView}).
   */
  private uses = 0;

  /** Called by Sequential when it adds this module at one more place. @internal */
  addUse(): void {
    this.uses++;
  }

  /** Whether this instance sits at more than one place (in one Sequential or several). @internal */
  isShared(): boolean {
    return this.uses > 1;
  }

  /** Whether results live in the module's own reused buffers (inside a Sequential). */
  protected reusesBuffers(): boolean {
    return this.reuse;
  }

  /** Called by Sequential: whether results may live in reused buffers (see {@link Module.buffer}). @internal */
  setBufferReuse(reuse: boolean): void {
    this.reuse = reuse;
    if (!reuse) this.buffers.clear();
  }

  /**
   * A tensor of `shape` for a result: fresh zeros, or (inside a Sequential) the module's own
   * buffer for `slot`, kept across calls with its old contents, so every kernel writing into
   * it must overwrite all of it. A few sizes per slot are kept (training batch, last partial
   * batch, evaluation batch).
   */
  protected buffer(slot: string, shape: readonly number[]): Tensor {
    if (!this.reuse) return zeros(shape);
    const n = sizeOf(shape);
    let list = this.buffers.get(slot);
    if (!list) {
      list = [];
      this.buffers.set(slot, list);
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

  /** `Linear(784, 10)`: the type and its positional arguments. */
  toString(): string {
    const c = this.config();
    return `${c.type}(${c.args.map((a) => String(a)).join(', ')})`;
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
   */
  abstract outputShape(inputShape: readonly number[]): number[];

  /** Computes the output for `input`. */
  abstract forward(input: Tensor): Tensor;

  /**
   * The output for `input` when no backward pass will follow (inference: `predict`, `evaluate`).
   * Same values as {@link forward}, but a module may skip what only backward needs, and a
   * `Sequential` fuses neighbours that have a joint kernel (Conv1D followed by MaxPool1D).
   * Nothing is kept for a backward pass.
   */
  infer(input: Tensor): Tensor {
    return this.forward(input);
  }

  /**
   * {@link infer} through this module and `next` (the module after it in a Sequential) in one
   * pass, or null when this module has no joint kernel with `next`. @internal
   */
  inferWith(next: Module, input: Tensor): Tensor | null {
    void next;
    void input;
    return null;
  }

  /**
   * Training's counterpart of {@link Module.inferWith}, for a pair whose input needs no gradient:
   * the output of this module and `next` in one pass, or null without a joint kernel. What the
   * backward pass needs is kept for {@link Module.backwardUpdateGradientWith}. @internal
   */
  forwardWith(next: Module, input: Tensor): Tensor | null {
    void next;
    void input;
    return null;
  }

  /**
   * The parameter gradients of this module and `next` given ∂L/∂(output of `next`), after
   * {@link Module.forwardWith} returned a tensor for the same input. @internal
   */
  backwardUpdateGradientWith(next: Module, input: Tensor, delta: Tensor): void {
    void next;
    void input;
    void delta;
    throw new Error(`${this.label()}: has no joint backward pass`);
  }

  /** Adds ∂L/∂params (given `delta` = ∂L/∂output) into the gradients. No-op without parameters. */
  backwardUpdateGradient(input: Tensor, delta: Tensor): void {
    this.checkBackward(input, delta);
  }

  /** Returns ∂L/∂input given `delta` = ∂L/∂output. */
  abstract backwardDelta(input: Tensor, delta: Tensor): Tensor;

  /** The trainable tensors with their gradients (empty for modules without parameters). */
  parameters(): Parameter[] {
    return [];
  }

  /** Plain gradient step: value -= lr · grad, for every parameter. */
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

  /** Checks that `input` is a tensor this module accepts; returns the output shape. */
  protected checkInput(input: Tensor): number[] {
    if (input === null || typeof input !== 'object' || !(input.data instanceof Float32Array) || !Array.isArray(input.shape)) {
      throw new TypeError(`${this.label()}: expected input to be a Tensor, got ${describe(input)}`);
    }
    this.checkLength(input, 'input');
    return this.outputShape(input.shape);
  }

  /** Checks input and delta for a backward pass: delta must have the shape forward(input) has. */
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
    const n = sizeOf(t.shape, () => `${this.label()}: ${what} shape`);
    if (t.data.length !== n) {
      throw new RangeError(`${this.label()}: ${what} of shape ${formatShape(t.shape)} needs ${n} values, its data holds ${t.data.length}`);
    }
  }

  /** Error for an unexpected input shape, in the house format. */
  protected shapeError(expected: readonly (number | string)[], got: readonly number[], what = 'input'): RangeError {
    return new RangeError(`${this.label()}: expected ${what} ${formatShape(expected)}, got ${formatShape(got)}`);
  }
}

/** Checks that `options` is a plain object (or undefined) with only the known keys. */
export function checkOptions(who: string, options: unknown, known: readonly string[]): Record<string, unknown> {
  if (options === undefined) return {};
  if (options === null || typeof options !== 'object' || Array.isArray(options)) {
    throw new TypeError(`${who}: options must be an object, got ${describe(options)}`);
  }
  for (const key of Object.keys(options)) {
    if (!known.includes(key)) throw new TypeError(`${who}: unknown option '${key}' (known: ${known.join(', ')})`);
  }
  return options as Record<string, unknown>;
}

/**
 * Modules applied one after the other (the course's `Sequentiel`).
 *
 * `forward` keeps the input of every module; `backward(delta)` then runs
 * `backwardUpdateGradient` and `backwardDelta` through the modules in reverse and
 * returns ∂L/∂input. Parameter names are prefixed with the module's position:
 * `0.weight`, `0.bias`, `2.weight`...
 *
 * Shape: whatever the first module accepts → whatever the last one returns.
 *
 * @example
 * const net = new Sequential(new Linear(2, 4), new TanH(), new Linear(4, 1), new Sigmoid());
 * const yhat = net.forward(x);               // (batch, 1)
 * net.zeroGrad();
 * net.backward(loss.backward(y, yhat));      // gradients summed over the batch
 * net.updateParameters(0.1);
 */
export class Sequential extends Module {
  readonly modules: Module[] = [];
  /** inputs[i] is the input of modules[i] in the last forward pass; inputs[n] is the output. */
  private inputs: Tensor[] = [];
  /** The last backward pass: its (input, delta) and the delta reaching the first module, so the two Module backward methods share one pass. */
  private pending: { input: Tensor; delta: Tensor; toFirst: Tensor; jointHead: boolean } | null = null;
  /** Whether the last pass was infer (for the error a backward call then gets). */
  private inferred = false;

  constructor(...modules: Module[]) {
    super();
    for (const m of modules) this.add(m);
  }

  /** Appends a module; returns `this` so calls chain. */
  add(module: Module): this {
    if (!(module instanceof Module)) {
      throw new TypeError(`Sequential: expected a Module at position ${this.modules.length}, got ${describe(module)}`);
    }
    this.modules.push(module);
    module.addUse();
    module.setPosition(this.childPosition(this.modules.length - 1));
    module.setBufferReuse(true);
    this.inputs = [];
    return this;
  }

  config(): ModuleConfig {
    return { type: 'Sequential', args: [], modules: this.modules.map((m) => m.config()) };
  }

  toString(): string {
    return `Sequential(${this.modules.map((m) => m.toString()).join(', ')})`;
  }

  /** @internal */
  setPosition(position: string | null): void {
    super.setPosition(position);
    this.modules.forEach((m, i) => m.setPosition(this.childPosition(i)));
  }

  private childPosition(i: number): string {
    const own = this.getPosition();
    return own === null ? String(i) : `${own}.${i}`;
  }

  outputShape(inputShape: readonly number[]): number[] {
    let shape = [...inputShape];
    for (const m of this.modules) shape = m.outputShape(shape);
    return shape;
  }

  forward(input: Tensor): Tensor {
    const x = this.forwardView(input);
    // The children write into buffers they reuse; what leaves the Sequential is the caller's to keep.
    return this.modules.length === 0 ? x : { shape: x.shape, data: x.data.slice() };
  }

  /**
   * Like {@link Sequential.forward}, but returns the last module's own output buffer instead of a
   * copy: valid until the next forward pass. Training loops use it so that a batch allocates
   * nothing (a large copy per batch would keep the garbage collector busy).
   *
   * With `inputGradient` false the caller declares it will not ask for ∂L/∂input (a training
   * step): the first two modules may then run as one kernel (Conv1D then MaxPool1D) whose
   * intermediate output is never stored. Asking for ∂L/∂input anyway still works: it is then
   * recomputed.
   * @internal
   */
  forwardView(input: Tensor, inputGradient = true): Tensor {
    this.beginPass(input, false);
    const inputs = [input];
    let x = input;
    let first = 0;
    const fusable = !inputGradient && this.modules.length >= 2 && !this.modules[0].isShared() && !this.modules[1].isShared();
    const head = fusable ? this.modules[0].forwardWith(this.modules[1], input) : null;
    if (head) {
      // The pair's intermediate output is not stored; materializeHead computes it if asked.
      inputs.push(Sequential.notStored, head);
      x = head;
      first = 2;
    }
    for (let i = first; i < this.modules.length; i++) {
      x = ownCopy(this.modules[i], this.modules[i].forward(x));
      inputs.push(x);
    }
    this.inputs = inputs;
    return x;
  }

  /** Stands in inputs[1] for the output of a first pair run by forwardWith. */
  private static readonly notStored: Tensor = Object.freeze({ shape: Object.freeze([0]), data: new Float32Array(0) });

  /** Whether the last forward ran the first two modules with forwardWith (their intermediate output not stored). */
  private get jointHead(): boolean {
    return this.inputs[1] === Sequential.notStored;
  }

  /** Computes the first module's output that a joint forward pass did not store, for the paths that need it. */
  private materializeHead(): void {
    if (this.jointHead) this.inputs[1] = this.modules[0].forward(this.inputs[0]);
  }

  /**
   * Forgets the last pass and checks the input. The inputs of a forward pass are kept only once
   * every module succeeded: after a throw, a backward call must not find a half-filled list (it
   * would read past its end) but the error saying forward is missing.
   */
  private beginPass(input: Tensor, inferred: boolean): void {
    this.inputs = [];
    this.pending = null;
    this.inferred = inferred;
    // Checked here too: with no modules nothing else would, and backward reads input.shape.
    if (input === null || typeof input !== 'object' || !(input.data instanceof Float32Array) || !Array.isArray(input.shape)) {
      throw new TypeError(`${this.label()}: expected input to be a Tensor, got ${describe(input)}`);
    }
  }

  /** Like {@link Sequential.forwardView}, for {@link Module.infer}: returns a buffer of the last module, valid until the next pass. @internal */
  inferView(input: Tensor): Tensor {
    this.beginPass(input, true);
    let x = input;
    const n = this.modules.length;
    for (let i = 0; i < n; i++) {
      const m = this.modules[i];
      const joint = i + 1 < n && !m.isShared() && !this.modules[i + 1].isShared() ? m.inferWith(this.modules[i + 1], x) : null;
      if (joint) {
        x = joint;
        i++;
      } else {
        x = ownCopy(m, inferView(m, x));
      }
    }
    return x;
  }

  infer(input: Tensor): Tensor {
    const x = this.inferView(input);
    return this.modules.length === 0 ? x : { shape: x.shape, data: x.data.slice() };
  }

  /**
   * Backpropagates `delta` = ∂L/∂output of the last `forward`: accumulates every parameter
   * gradient and returns ∂L/∂input.
   */
  backward(delta: Tensor): Tensor {
    this.accumulate(delta);
    return this.firstDelta();
  }

  /**
   * Runs backwardUpdateGradient and backwardDelta from the last module down to the first,
   * but stops before the first module's backwardDelta: a training step does not need
   * ∂L/∂input, and for a first Conv1D it is a whole extra convolution.
   */
  private accumulate(delta: Tensor): void {
    const n = this.modules.length;
    if (this.inputs.length !== n + 1) {
      throw new Error(this.inferred
        ? `${this.label()}: backward called after infer (predict/evaluate), which keeps nothing for it; call forward first`
        : `${this.label()}: backward called before forward`);
    }
    checkShape(delta, this.inputs[n].shape, () => this.label(), 'delta');
    let d = delta;
    const jointHead = this.jointHead;
    for (let i = n - 1; i >= (jointHead ? 2 : 0); i--) {
      this.modules[i].backwardUpdateGradient(this.inputs[i], d);
      if (i > 0) d = ownCopy(this.modules[i], this.modules[i].backwardDelta(this.inputs[i], d));
    }
    if (jointHead) this.modules[0].backwardUpdateGradientWith(this.modules[1], this.inputs[0], d);
    this.pending = { input: this.inputs[0], delta, toFirst: d, jointHead };
  }

  /** ∂L/∂input from the pass `accumulate` just made. */
  private firstDelta(): Tensor {
    const p = this.pending as { input: Tensor; toFirst: Tensor; jointHead: boolean };
    let d = p.toFirst;
    if (p.jointHead) {
      // toFirst is ∂L/∂(output of the pair): through the second module first, on the stored output.
      this.materializeHead();
      d = this.modules[1].backwardDelta(this.inputs[1], d);
    }
    if (this.modules.length > 0) d = this.modules[0].backwardDelta(p.input, d);
    return { shape: d.shape, data: d.data.slice() };
  }

  /**
   * Module contract: re-runs forward if `input` is not the last input, then accumulates every
   * parameter gradient (without computing ∂L/∂input; backwardDelta finishes that if asked).
   */
  backwardUpdateGradient(input: Tensor, delta: Tensor): void {
    if (this.inputs.length === 0 || this.inputs[0] !== input) this.forward(input);
    this.accumulate(delta);
  }

  /**
   * Module contract: ∂L/∂input. Finishes the pass `backwardUpdateGradient` made for the same
   * (input, delta); otherwise computes the deltas without touching the gradients.
   */
  backwardDelta(input: Tensor, delta: Tensor): Tensor {
    const p = this.pending;
    if (p && p.input === input && p.delta === delta) return this.firstDelta();
    if (this.inputs.length === 0 || this.inputs[0] !== input) this.forward(input);
    this.materializeHead();
    checkShape(delta, this.inputs[this.modules.length].shape, () => this.label(), 'delta');
    let d = delta;
    for (let i = this.modules.length - 1; i >= 0; i--) d = ownCopy(this.modules[i], this.modules[i].backwardDelta(this.inputs[i], d));
    return { shape: d.shape, data: d.data.slice() };
  }

  /** @internal */
  deferZeroGrad(): void {
    for (const m of this.modules) m.deferZeroGrad();
  }

  /**
   * Every parameter once, under the name of its first place: a module used at several places
   * (tied weights) has one weight and one gradient, which every use adds into, and an optimiser
   * must step it once per update, not once per use.
   */
  parameters(): Parameter[] {
    const out: Parameter[] = [];
    const seen = new Set<Tensor>();
    this.modules.forEach((m, i) => {
      for (const p of m.parameters()) {
        if (seen.has(p.value)) continue;
        seen.add(p.value);
        out.push({ ...p, name: `${i}.${p.name}` });
      }
    });
    return out;
  }
}

/**
 * `t` itself, or a copy when `m` is used at several places: its results live in its own reused
 * buffers, which its next use overwrites while this use's result is still needed (as the input
 * kept for the next module's backward pass, or as a delta on its way down). Only shared modules
 * pay for the copy.
 */
function ownCopy(m: Module, t: Tensor): Tensor {
  return m.isShared() ? { shape: t.shape, data: t.data.slice() } : t;
}

/**
 * A forward pass whose result the caller reads only before the next pass (training and
 * evaluation loops): a Sequential then hands out its last module's buffer instead of a copy.
 * `inputGradient` false: the caller will not ask for ∂L/∂x (see {@link Sequential.forwardView}).
 */
export function forwardView(net: Module, x: Tensor, inputGradient = true): Tensor {
  return net instanceof Sequential ? net.forwardView(x, inputGradient) : net.forward(x);
}

/** {@link forwardView} for inference: {@link Module.infer}, through a Sequential's own buffers. */
export function inferView(net: Module, x: Tensor): Tensor {
  return net instanceof Sequential ? net.inferView(x) : net.infer(x);
}
