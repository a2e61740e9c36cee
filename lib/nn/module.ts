/**
 * `Sequential`, the container that runs modules one after the other and keeps, per place, what
 * each backward pass needs. The module contract itself is in lib/nn/base.ts, re-exported here.
 */
import { Tensor, checkShape, describe, formatShape, gradientTakenAt, isTensor, sameShape, sameValues } from '../tensor';
import { Module, ModuleBuffer, ModuleConfig, Parameter, SavedForBackward, parameterRecord, replayForward } from './base';
import { Fusion, fusionAt } from './fusion';

export { Module, checkOptions } from './base';
export type { ModuleBuffer, ModuleConfig, Parameter } from './base';

/**
 * What a Sequential's forward pass keeps for its backward pass. A Sequential called directly
 * keeps one of its own; one nested in another keeps one per place, in that place's record.
 */
class SequentialPass {
  /** inputs[i] is the input of modules[i]; inputs[n] the output; null inside a fused group (never stored). */
  readonly inputs: (Tensor | null)[] = [];
  /** saved[i]: the record of position i, reused from pass to pass. */
  readonly saved: SavedForBackward[] = [];
  /** fused[i]: the fusion that ran modules i, i + 1, … as one in this pass, or null. */
  readonly fused: (Fusion | null)[] = [];
  /** groupStart[i]: the first module of the fused group that holds module i, or i. */
  readonly groupStart: number[] = [];
  /** 'none' before a forward pass completed, 'infer' after infer (which keeps nothing), else 'forward'. */
  state: 'none' | 'infer' | 'forward' = 'none';
}

/** Whether `net` is `target` or holds it at any depth (a walk without recursion, each Sequential once). */
function holds(net: Module, target: Module): boolean {
  const seen = new Set<Module>();
  const stack = [net];
  while (stack.length > 0) {
    const m = stack.pop()!;
    if (m === target) return true;
    if (!(m instanceof Sequential) || seen.has(m)) continue;
    seen.add(m);
    for (const child of m.modules) stack.push(child);
  }
  return false;
}

/** The note for an earlier output of the last one's shape: its values differ. */
function sameShapeNote(at: Tensor, last: Tensor): string {
  return sameShape(at.shape, last.shape) ? ' (same shape, other values)' : '';
}

/**
 * Modules applied one after the other (the course's `Sequentiel`).
 *
 * `forward` keeps the input of every module; `backward(delta)` then runs
 * `backwardUpdateGradient` and `backwardDelta` through the modules in reverse and
 * returns ∂L/∂input. Parameter names are prefixed with the module's position:
 * `0.weight`, `0.bias`, `2.weight`...
 *
 * What a module's backward pass needs from its forward pass (a pooling's winners, tanh's output)
 * is kept per position, so one module may sit at several places. The first module's input is
 * the caller's, who may rewrite it in place before calling backward: what derives from it is
 * then recomputed, so the gradient is that of the values backward sees.
 *
 * Shape: whatever the first module accepts → whatever the last one returns.
 *
 * @example
 * const net = new Sequential(new Linear(2, 4), new TanH(), new Linear(4, 1), new Sigmoid());
 * const loss = new BCELoss();                // reduction 'mean', the default
 * const yhat = net.forward(x);               // (batch, 1)
 * net.zeroGrad();
 * net.backward(loss.backward(y, yhat));      // gradients of the batch's mean loss ({ reduction: 'sum' }: of the sum)
 * net.updateParameters(0.1);
 */
export class Sequential extends Module {
  /** The modules in the order they run; read-only, {@link Sequential.add} appends (checking each). */
  readonly modules: readonly Module[] = [];
  /** The pass of the last forward called on this Sequential itself (not through an enclosing one). */
  private readonly ownPass = new SequentialPass();
  /** What that pass output (forward's copy, forwardView's or a replay's buffer), which backward's delta must be taken at. */
  private lastOutput: Tensor | null = null;
  /** What parameters() last returned, reused while the network holds the same tensors. */
  private parameterRecords: Parameter[] = [];
  /** The outputs of this network's passes before the last one: a loss gradient at one of them is refused by backward. */
  private readonly earlierOutputs = new WeakSet<Tensor>();

  /**
   * Builds the container from its modules.
   * @param modules The modules, in the order they run.
   */
  constructor(...modules: Module[]) {
    super();
    for (const m of modules) this.add(m);
  }

  /**
   * Appends a module; returns `this` so calls chain.
   * @param module The module to run after the current last one.
   */
  add(module: Module): this {
    if (!(module instanceof Module)) {
      // A module's class where an instance goes: `new Sequential(new Linear(2, 2), ReLU)`.
      const cls = typeof module === 'function' && (module as { prototype?: unknown }).prototype instanceof Module;
      // An array of modules (Keras's `tf.sequential({ layers: [...] })`, PyTorch's `nn.Sequential(*layers)`): spread it.
      const spread = Array.isArray(module) && (module as unknown[]).length > 0 && (module as unknown[]).every((m) => m instanceof Module);
      const fix = cls
        ? `; write new ${(module as () => Module).name}(${(module as () => Module).length === 0 ? '' : '…'}) to add one`
        : spread
          ? `; the modules go one by one: new Sequential(...modules)`
          : '';
      throw new TypeError(`Sequential: expected a Module at position ${this.modules.length}, got ${describe(module)}${fix}`);
    }
    if (holds(module, this)) {
      throw new RangeError(
        `Sequential: the module at position ${this.modules.length} ${module === this ? 'is' : 'holds'} this Sequential itself; a network cannot contain itself`,
      );
    }
    (this.modules as Module[]).push(module); // the one place the list grows, after the checks above
    module.addUse();
    module.setPosition(this.childPosition(this.modules.length - 1));
    module.setBufferReuse(true);
    this.ownPass.state = 'none';
    return this;
  }

  config(): ModuleConfig {
    return { type: 'Sequential', args: [], modules: this.modules.map((m) => m.config()) };
  }

  /** @internal */
  description(): ModuleConfig {
    return { type: 'Sequential', args: [], modules: this.modules.map((m) => m.description()) };
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
    const x = this.forwardPass(this.ownPass, input, false, false);
    // The children write into buffers they reuse; what leaves the Sequential is the caller's to keep.
    return this.passed(this.modules.length === 0 ? x : { shape: x.shape, data: x.data.slice() });
  }

  /**
   * Like {@link Sequential.forward}, but returns the last module's own output buffer instead of a
   * copy: valid until the next forward pass. Training loops use it so that a batch allocates
   * nothing (a large copy per batch would keep the garbage collector busy).
   *
   * With `inputGradient` false the caller declares a training step: it holds `input` unchanged
   * until the backward pass ({@link accumulateGradients}) and will not ask for ∂L/∂input. The
   * first module may then keep what derives from the input, and the first few may run as one
   * fused kernel (lib/nn/fusion.ts). Asking for ∂L/∂input anyway still works.
   * @internal
   */
  forwardView(input: Tensor, inputGradient = true): Tensor {
    return this.passed(this.forwardPass(this.ownPass, input, !inputGradient, !inputGradient));
  }

  /** The forward pass at a place of an enclosing Sequential, kept in that place's record. @internal */
  forwardAt(input: Tensor, saved: SavedForBackward): Tensor {
    return this.forwardPass(this.passAt(saved), input, saved.inputHeld, false);
  }

  /** The pass kept in the record of a place of an enclosing Sequential. */
  private passAt(saved: SavedForBackward): SequentialPass {
    if (saved.pass instanceof SequentialPass) return saved.pass;
    const pass = new SequentialPass();
    saved.pass = pass;
    return pass;
  }

  /**
   * The forward pass, kept in `pass`. `inputHeld`: the input stays as it is until backward (see
   * {@link SavedForBackward.inputHeld}). Neighbours in the fusion table run as one wherever their
   * input is held; `fuseHead`: also the table's head-only fusions, which pay where their input
   * needs no gradient (the first modules of a training step).
   */
  private forwardPass(pass: SequentialPass, input: Tensor, inputHeld: boolean, fuseHead: boolean): Tensor {
    this.beginPass(pass, input);
    const n = this.modules.length;
    pass.inputs.push(input);
    let x = input;
    for (let i = 0; i < n; i++) {
      const m = this.modules[i];
      const saved = pass.saved[i];
      saved.clear(i > 0 || inputHeld);
      pass.fused[i] = null;
      pass.groupStart[i] = i;
      const fusion = saved.inputHeld ? fusionAt(this.modules, i, i === 0 && fuseHead) : null;
      if (fusion) {
        // The group's intermediate outputs are never stored: its backward needs only what it saved.
        x = fusion.forward(this.modules, i, x, saved);
        pass.fused[i] = fusion;
        for (let j = i + 1; j < i + fusion.size; j++) {
          pass.fused[j] = null;
          pass.groupStart[j] = i;
          pass.saved[j].clear(true);
          pass.inputs.push(null);
        }
        pass.inputs.push(x);
        i += fusion.size - 1;
        continue;
      }
      x = ownCopy(m, m.forwardAt(x, saved));
      saved.output = x;
      pass.inputs.push(x);
    }
    pass.state = 'forward';
    return x;
  }

  /**
   * Forgets what `pass` kept and checks the input. What a forward pass keeps is valid only once
   * every module succeeded: after a throw, a backward call must not find a half-filled pass (it
   * would read past its end) but the error saying forward is missing.
   */
  private beginPass(pass: SequentialPass, input: Tensor): void {
    pass.state = 'none';
    pass.inputs.length = 0;
    const n = this.modules.length;
    while (pass.saved.length < n) pass.saved.push(new SavedForBackward());
    pass.saved.length = n;
    pass.fused.length = n;
    pass.groupStart.length = n;
    // Checked here too: with no modules nothing else would, and backward reads input.shape.
    if (!isTensor(input)) {
      throw new TypeError(`${this.label()}: expected input to be a Tensor, got ${describe(input)}`);
    }
  }

  /** Like {@link Sequential.forwardView}, for {@link Module.infer}: returns a buffer of the last module, valid until the next pass. @internal */
  inferView(input: Tensor): Tensor {
    const pass = this.ownPass;
    this.beginPass(pass, input);
    let x = input;
    const n = this.modules.length;
    for (let i = 0; i < n; i++) {
      const m = this.modules[i];
      const fusion = fusionAt(this.modules, i, true);
      if (fusion) {
        x = fusion.infer(this.modules, i, x, pass.saved[i]);
        i += fusion.size - 1;
      } else {
        x = ownCopy(m, inferView(m, x));
      }
    }
    pass.state = 'infer';
    return x;
  }

  infer(input: Tensor): Tensor {
    const x = this.inferView(input);
    return this.modules.length === 0 ? x : { shape: x.shape, data: x.data.slice() };
  }

  /**
   * Backpropagates `delta` = ∂L/∂output of the last `forward`: accumulates every parameter
   * gradient and returns ∂L/∂input. The network keeps what the last forward pass needs for its
   * backward pass, no more (Lua Torch's way; PyTorch keeps a graph for every output): run
   * `backward` before the next `forward`. A loss gradient taken at the output of an earlier
   * forward pass (`loss.backward(y, firstOutput)` after a second `forward`) is refused, unless
   * that output holds the same values as the last one.
   * @param delta ∂L/∂output of the last forward pass.
   */
  backward(delta: Tensor): Tensor {
    this.checkDeltaFollowsLastForward(delta);
    const d = this.backwardPass(this.ownPass, delta, true, true) as Tensor;
    return { shape: d.shape, data: d.data.slice() };
  }

  /**
   * Refuses a built-in loss's gradient taken at an output this Sequential returned before its
   * last pass: the inputs and masks backward uses are the last pass's, so its parameter
   * gradients would be of a mixture of the two passes, with no error (same shapes) or a bare
   * shape mismatch. A gradient taken at anything else (the output plus a baseline, the sum of
   * two networks' outputs) is the caller's chain rule, not checked.
   */
  private checkDeltaFollowsLastForward(delta: Tensor): void {
    const at = isTensor(delta) ? gradientTakenAt.get(delta) : undefined;
    const last = this.lastOutput;
    if (at === undefined || last === null || this.ownPass.state !== 'forward' || at === last || !this.earlierOutputs.has(at)) return;
    if (sameValues(at, last)) return;
    throw new Error(
      `${this.label()}: backward got the loss gradient at an output ${formatShape(at.shape)} of an earlier forward pass, ` +
        `not at the last forward's output ${formatShape(last.shape)}${sameShapeNote(at, last)}: the network keeps only what its last ` +
        `forward pass needs for backward; call backward before the next forward, or run forward again on that batch`,
    );
  }

  /**
   * The backward half of a training step after {@link Sequential.forwardView}: accumulates every
   * parameter gradient for `delta` = ∂L/∂output, and stops before the first module's
   * backwardDelta (∂L/∂input is not needed; for a first Conv1D it is a whole extra convolution).
   * @internal
   */
  accumulateGradients(delta: Tensor): void {
    this.backwardPass(this.ownPass, delta, true, false);
  }

  /**
   * Module contract, called directly: adds the parameter gradients at `input`. The forward pass
   * is run again on `input`, since nothing says an earlier pass saw the same values, as a replay
   * of the last one: BatchNorm's running estimates do not move again and Dropout keeps the mask
   * of the output the caller has. After `forward`, {@link Sequential.backward} backpropagates
   * that pass without repeating it.
   * @param input The input the gradients are taken at, `(batch, …)`.
   * @param delta ∂L/∂output, the shape of the output.
   */
  backwardUpdateGradient(input: Tensor, delta: Tensor): void {
    this.replayInto(input);
    this.backwardPass(this.ownPass, delta, true, false);
  }

  /**
   * Module contract, called directly: ∂L/∂input at `input`, gradients untouched (forward replayed, as in backwardUpdateGradient).
   * @param input The input the gradient is taken at, `(batch, …)`.
   * @param delta ∂L/∂output, the shape of the output.
   * @returns ∂L/∂input, the shape of `input`.
   */
  backwardDelta(input: Tensor, delta: Tensor): Tensor {
    this.replayInto(input);
    const d = this.backwardPass(this.ownPass, delta, false, true) as Tensor;
    return { shape: d.shape, data: d.data.slice() };
  }

  /** The forward pass of the module contract's backward calls, replayed into this Sequential's own pass, which it then is. */
  private replayInto(input: Tensor): void {
    this.passed(replayForward(() => this.forwardPass(this.ownPass, input, false, false)));
  }

  /** Records `output` as the last pass's, the one before it among the earlier ones; returns it. */
  private passed(output: Tensor): Tensor {
    if (this.lastOutput) this.earlierOutputs.add(this.lastOutput);
    this.lastOutput = output;
    return output;
  }

  /** The backward pass at a place of an enclosing Sequential, through the pass its forwardAt kept. @internal */
  backwardAt(input: Tensor, delta: Tensor, saved: SavedForBackward, parameterGradients: boolean, inputGradient: boolean): Tensor | null {
    void input; // the pass kept it: the same tensor, which the enclosing Sequential holds
    return this.backwardPass(this.passAt(saved), delta, parameterGradients, inputGradient);
  }

  /**
   * Runs the modules' backward passes from the last down to the first, each with the record its
   * forward filled: parameter gradients when `parameterGradients`, and ∂L/∂input (returned) when
   * `inputGradient`; the first module's backwardDelta runs only then.
   */
  private backwardPass(pass: SequentialPass, delta: Tensor, parameterGradients: boolean, inputGradient: boolean): Tensor | null {
    const n = this.modules.length;
    if (pass.state !== 'forward') {
      throw new Error(
        pass.state === 'infer'
          ? `${this.label()}: backward called after infer (predict/evaluate), which keeps nothing for it; call forward first`
          : `${this.label()}: backward called before forward`,
      );
    }
    checkShape(delta, (pass.inputs[n] as Tensor).shape, () => this.label(), 'delta');
    let d = delta;
    for (let i = n - 1; i >= 0; i--) {
      const first = pass.groupStart[i];
      const fusion = pass.fused[first];
      const input = pass.inputs[first] as Tensor;
      const wantDelta = first > 0 || inputGradient;
      const result = fusion
        ? fusion.backward(this.modules, first, input, d, pass.saved[first], parameterGradients, wantDelta)
        : this.modules[i].backwardAt(input, d, pass.saved[i], parameterGradients, wantDelta);
      if (result) d = ownCopy(this.modules[first], result);
      i = first;
    }
    return inputGradient ? d : null;
  }

  /** @internal */
  deferZeroGrad(): void {
    for (const m of this.modules) m.deferZeroGrad();
  }

  /** Every buffer once, under the name of its first place (as {@link Sequential.parameters}). */
  buffers(): ModuleBuffer[] {
    const out: ModuleBuffer[] = [];
    const seen = new Set<Tensor>();
    this.modules.forEach((m, i) => {
      for (const b of m.buffers()) {
        if (seen.has(b.value)) continue;
        seen.add(b.value);
        out.push({ ...b, name: `${i}.${b.name}` });
      }
    });
    return out;
  }

  /**
   * Sets the mode of this Sequential and of every module in it (see {@link Module.train}).
   * @param mode True for training mode, false for evaluation mode.
   * @returns this Sequential, so calls chain.
   */
  train(mode = true): this {
    super.train(mode);
    for (const m of this.modules) m.train(mode);
    return this;
  }

  /** @internal */
  unsizedLayer(): Module | undefined {
    for (const m of leaves(this)) {
      const u = m.unsizedLayer();
      if (u) return u;
    }
    return undefined;
  }

  /**
   * Every parameter once, under the name of its first place: a module used at several places
   * (tied weights) has one weight and one gradient, which every use adds into, and an optimiser
   * must step it once per update, not once per use.
   */
  parameters(): Parameter[] {
    const found: Parameter[] = [];
    const names: string[] = [];
    const seen = new Set<Tensor>();
    this.modules.forEach((m, i) => {
      for (const p of m.parameters()) {
        if (seen.has(p.value)) continue;
        seen.add(p.value);
        found.push(p);
        names.push(`${i}.${p.name}`);
      }
    });
    // The records of the last call while they still say the same (a hand-written loop asks every
    // step, and building a record's guarded accessors costs 20 times the walk); new ones otherwise.
    const kept = this.parameterRecords;
    const same =
      kept.length === found.length &&
      found.every(
        (p, k) => kept[k].name === names[k] && kept[k].value === p.value && kept[k].grad === p.grad && kept[k].module === p.module,
      );
    if (!same) this.parameterRecords = found.map((p, k) => parameterRecord(p, names[k]));
    return this.parameterRecords.slice();
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
 * `inputGradient` false: a training step, which holds `x` until {@link accumulateGradients} and
 * will not ask for ∂L/∂x (see {@link Sequential.forwardView}).
 */
export function forwardView(net: Module, x: Tensor, inputGradient = true): Tensor {
  return net instanceof Sequential ? net.forwardView(x, inputGradient) : net.forward(x);
}

/**
 * The backward half of a training step after `forwardView(net, x, false)`: adds every parameter
 * gradient for `delta` = ∂L/∂output. A Sequential backpropagates the pass forwardView kept;
 * another module is handed (x, delta).
 */
export function accumulateGradients(net: Module, x: Tensor, delta: Tensor): void {
  if (net instanceof Sequential) net.accumulateGradients(delta);
  else net.backwardUpdateGradient(x, delta);
}

/** {@link forwardView} for inference: {@link Module.infer}, through a Sequential's own buffers. */
export function inferView(net: Module, x: Tensor): Tensor {
  return net instanceof Sequential ? net.inferView(x) : net.infer(x);
}

/**
 * The modules of `net` that are not Sequentials, in the order a forward pass meets them, nested
 * Sequentials opened: a module used at two places is met twice. Walked without recursion (a
 * network nested 100,000 deep is walked too); a Sequential inside itself is not opened again, so
 * a network that contains itself, which load and the exporters refuse naming the place, does not
 * loop here. @internal
 */
export function* leaves(net: Module): Generator<Module> {
  const open = new Set<Module>(); // the Sequentials on the way down to the current place
  const stack: { owner?: Module; modules: readonly Module[]; next: number }[] = [{ modules: [net], next: 0 }];
  while (stack.length > 0) {
    const top = stack[stack.length - 1];
    if (top.next === top.modules.length) {
      stack.pop();
      if (top.owner) open.delete(top.owner);
      continue;
    }
    const m = top.modules[top.next++];
    if (!(m instanceof Sequential)) yield m;
    else if (!open.has(m)) {
      open.add(m);
      stack.push({ owner: m, modules: m.modules, next: 0 });
    }
  }
}

/**
 * The modules of `net`: itself and, through nested Sequentials, every module in it, each once
 * (walked without recursion: a network nested 100,000 deep is walked too). @internal
 */
export function modulesOf(net: Module): Module[] {
  const seen = new Set<Module>();
  const stack = [net];
  while (stack.length > 0) {
    const m = stack.pop() as Module;
    if (seen.has(m)) continue;
    seen.add(m);
    if (m instanceof Sequential) for (const c of m.modules) stack.push(c); // not a spread: 200,000 arguments overflow the stack
  }
  return [...seen];
}
