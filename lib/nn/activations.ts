/**
 * Activations: parameter-free modules applied elementwise (or along the last axis for
 * Softmax and LogSoftmax). Output shape = input shape.
 *
 * The maths runs in the backend's elementwise kernels (native SIMD or the js twin). The
 * derivatives of tanh and sigmoid come from the output y = f(x): inside a Sequential, the output
 * its forward kept for that place while the input is the Sequential's own; otherwise (called
 * directly, or first in a Sequential, whose caller may rewrite the input in place) y is
 * recomputed from the input backward is given. Softmax and LogSoftmax always recompute.
 *
 * Each class declares itself (`declareBuiltIn`) for the module registry, and lib/nn/index.ts
 * exports everything this file exports: a new activation is its class here, its code in the op
 * table's `Activation` and its loop in each backend.
 */
import { Tensor } from '../tensor';
import { backend } from '../backend';
import { Activation as Code } from '../backend/types';
import { Module, ModuleConfig } from './base';
import { ModuleSchema, NO_ARGUMENTS, checkArguments } from './schema';
import { declareBuiltIn } from './builtins';

/** The arguments of {@link LeakyReLU}. */
const LEAKY_RELU_SCHEMA: ModuleSchema = {
  args: [{ name: 'slope', kind: 'float32', default: 0.01 }],
  options: null,
};

const ELU_SCHEMA: ModuleSchema = {
  args: [{ name: 'alpha', kind: 'float32', default: 1 }],
  options: null,
};

/**
 * A test example of an activation without arguments: a small (batch, features) input; `kinks`
 * when the output has kinks (finite differences then spread the inputs apart from them).
 */
const example =
  (kinks = false) =>
  (pick: (lo: number, hi: number) => number) => ({ args: [], input: [pick(1, 3), pick(1, 5)], kinks });

/** Common shape handling: any tensor with at least one dimension, output of the same shape. */
abstract class Activation extends Module {
  outputShape(inputShape: readonly number[]): number[] {
    if (inputShape.length < 1) throw this.shapeError(['batch', '...'], inputShape);
    return [...inputShape];
  }

  config(): ModuleConfig {
    return { type: this.constructor.name, args: [] };
  }
}

/** Elementwise activations: subclasses name their backend activation code (and LeakyReLU its slope). */
abstract class Elementwise extends Activation {
  /** The backend's code for this activation. @internal */
  protected abstract readonly code: Code;
  /** The kernel's parameter (LeakyReLU's slope, ELU's alpha; 0 for the others). @internal */
  protected kernelAlpha = 0;

  forward(input: Tensor): Tensor {
    const shape = this.checkInput(input);
    const y = this.buffer('output', shape);
    backend().activationForward(this.code, this.kernelAlpha, input.data, y.data, y.data.length);
    return y;
  }

  backwardDelta(input: Tensor, delta: Tensor): Tensor {
    const shape = this.checkBackward(input, delta);
    const dx = this.buffer('delta', shape);
    const k = backend();
    const n = dx.data.length;
    let y = input.data;
    if (this.code === Code.TanH || this.code === Code.Sigmoid) {
      const saved = this.savedForBackward();
      if (saved && saved.inputHeld && saved.output) {
        y = saved.output.data;
      } else {
        y = this.buffer('scratch', shape).data;
        k.activationForward(this.code, this.kernelAlpha, input.data, y, n);
      }
    }
    k.activationBackward(this.code, this.kernelAlpha, input.data, y, delta.data, dx.data, n);
    return dx;
  }
}

/**
 * Hyperbolic tangent. y = tanh(x); ∂y/∂x = 1 − y².
 *
 * Shape: any → same.
 * @example
 * new TanH().forward(fromArray([[0, 1]]))  // [[0, 0.7616]]
 */
export class TanH extends Elementwise {
  /** @internal */
  protected readonly code = Code.TanH;
}
declareBuiltIn(TanH, NO_ARGUMENTS, example());

/**
 * Logistic sigmoid y = 1 / (1 + e^(−x)); ∂y/∂x = y (1 − y). Computed as {@link StableSigmoid}
 * is (the course's direct formula overflows e^(−x) for x < −88; the values are the same).
 *
 * Shape: any → same.
 * @example
 * new Sigmoid().forward(fromArray([[0]]))  // [[0.5]]
 */
export class Sigmoid extends Elementwise {
  /** @internal */
  protected readonly code = Code.Sigmoid;
}
declareBuiltIn(Sigmoid, NO_ARGUMENTS, example());

/**
 * Sigmoid evaluated without overflow for any |x| (e^(−|x|) only): finite and exact at ±1e4.
 *
 * Shape: any → same.
 * @example
 * new StableSigmoid().forward(fromArray([[-1e4, 1e4]]))  // [[0, 1]]
 */
export class StableSigmoid extends Elementwise {
  /** @internal */
  protected readonly code = Code.Sigmoid;
}
declareBuiltIn(StableSigmoid, NO_ARGUMENTS, example());

/**
 * Rectified linear unit: y = max(0, x). The derivative at 0 is taken as 0. Where the input is
 * NaN the input gradient is NaN (PyTorch passes the output's gradient through there), so that a
 * NaN reaching the network shows in the gradients, where `fit`'s checks name it.
 *
 * Shape: any → same.
 * @example
 * new ReLU().forward(fromArray([[-1, 2]]))  // [[0, 2]]
 */
export class ReLU extends Elementwise {
  /** @internal */
  protected readonly code = Code.ReLU;
}
declareBuiltIn(ReLU, NO_ARGUMENTS, example(true));

/**
 * Leaky ReLU: y = x for x > 0, slope·x otherwise. A NaN input gives a NaN input gradient, as
 * {@link ReLU}'s.
 *
 * Shape: any → same.
 * @example
 * new LeakyReLU(0.1).forward(fromArray([[-1, 2]]))  // [[-0.1, 2]]
 */
export class LeakyReLU extends Elementwise {
  /** @internal */
  protected readonly code = Code.LeakyReLU;
  /** The factor of negative inputs. */
  readonly slope: number;

  /**
   * Builds the activation.
   * @param slope The slope for negative inputs (default 0.01).
   */
  constructor(slope = 0.01) {
    super();
    // Refused here, where it was given, rather than by the kernels' binding later.
    this.slope = checkArguments('LeakyReLU', LEAKY_RELU_SCHEMA, [slope]).slope;
    this.kernelAlpha = this.slope;
  }

  /** `{ type: 'LeakyReLU', args: [slope] }`. */
  config(): ModuleConfig {
    return { type: 'LeakyReLU', args: [this.slope] };
  }
}
declareBuiltIn(LeakyReLU, LEAKY_RELU_SCHEMA, (pick) => ({ args: [pick(0, 30) / 100], input: [pick(1, 3), pick(1, 5)], kinks: true }));

/**
 * SoftPlus: y = log(1 + eˣ), computed as max(x, 0) + log1p(e^(−|x|)) so it never overflows;
 * ∂y/∂x = σ(x).
 *
 * Shape: any → same.
 * @example
 * new SoftPlus().forward(fromArray([[0]]))  // [[0.6931]]
 */
export class SoftPlus extends Elementwise {
  /** @internal */
  protected readonly code = Code.SoftPlus;
}
declareBuiltIn(SoftPlus, NO_ARGUMENTS, example());

/**
 * SiLU (swish): y = x·σ(x); ∂y/∂x = σ(x)(1 + x(1 − σ(x))), σ taken from e^(−|x|) only, so it
 * never overflows. PyTorch's `nn.SiLU`.
 *
 * Shape: any → same.
 * @example
 * new SiLU().forward(fromArray([[-1, 0, 1]]))  // [[-0.2689, 0, 0.7311]]
 */
export class SiLU extends Elementwise {
  /** @internal */
  protected readonly code = Code.SiLU;
}
declareBuiltIn(SiLU, NO_ARGUMENTS, example());

/**
 * GELU: y = x·Φ(x), Φ the standard normal distribution function (erf form, PyTorch's default
 * `nn.GELU()`); ∂y/∂x = Φ(x) + x·φ(x).
 *
 * Shape: any → same.
 * @example
 * new GELU().forward(fromArray([[-1, 0, 1]]))  // [[-0.1587, 0, 0.8413]]
 */
export class GELU extends Elementwise {
  /** @internal */
  protected readonly code = Code.GELU;
}
declareBuiltIn(GELU, NO_ARGUMENTS, example());

/**
 * ELU: y = x for x > 0, α(eˣ − 1) otherwise; ∂y/∂x = 1 above 0, α·eˣ below (taken from x). A NaN
 * input gives NaN forward and backward. PyTorch's `nn.ELU(alpha)`.
 *
 * Shape: any → same.
 * @example
 * new ELU().forward(fromArray([[-1, 2]]))  // [[-0.6321, 2]]
 */
export class ELU extends Elementwise {
  /** @internal */
  protected readonly code = Code.ELU;
  /** The scale of the negative side: outputs approach −alpha. */
  readonly alpha: number;

  /**
   * Builds the activation.
   * @param alpha The scale of the negative side, whose outputs approach −alpha (default 1).
   */
  constructor(alpha = 1) {
    super();
    this.alpha = checkArguments('ELU', ELU_SCHEMA, [alpha]).alpha;
    this.kernelAlpha = this.alpha;
  }

  /** `{ type: 'ELU', args: [alpha] }`. */
  config(): ModuleConfig {
    return { type: 'ELU', args: [this.alpha] };
  }
}
declareBuiltIn(ELU, ELU_SCHEMA, (pick) => ({ args: [pick(1, 20) / 10], input: [pick(1, 3), pick(1, 5)], kinks: true }));

/**
 * Identity: y = x (a placeholder, e.g. a linear output layer's "activation").
 *
 * Shape: any → same.
 * @example
 * new Identity().forward(x)  // a copy of x
 */
export class Identity extends Elementwise {
  /** @internal */
  protected readonly code = Code.Identity;
}
declareBuiltIn(Identity, NO_ARGUMENTS, example());

/** Softmax and log-softmax over the last axis: forward and the full-JVP backward run in the backend. */
abstract class RowSoftmax extends Activation {
  /** LogSoftmax (true) or Softmax (false). @internal */
  protected abstract readonly log: boolean;

  forward(input: Tensor): Tensor {
    const shape = this.checkInput(input);
    const y = this.buffer('output', shape);
    const n = shape[shape.length - 1];
    backend().softmaxForward(input.data, y.data, n === 0 ? 0 : y.data.length / n, n, this.log);
    return y;
  }

  backwardDelta(input: Tensor, delta: Tensor): Tensor {
    const shape = this.checkBackward(input, delta);
    const n = shape[shape.length - 1];
    const rows = n === 0 ? 0 : input.data.length / n;
    const k = backend();
    // The backward pass needs the output: recompute it rather than trust a cached one.
    const y = this.buffer('scratch', shape);
    k.softmaxForward(input.data, y.data, rows, n, this.log);
    const dx = this.buffer('delta', shape);
    k.softmaxBackward(y.data, delta.data, dx.data, rows, n, this.log);
    return dx;
  }
}

/**
 * Softmax over the last axis: yᵢ = e^(xᵢ) / Σⱼ e^(xⱼ), stable for large logits.
 *
 * Backward is the full Jacobian-vector product, not the diagonal:
 * ∂yᵢ/∂xₖ = yᵢ(1[i=k] − yₖ), so (∂L/∂x)ₖ = Σᵢ δᵢ yᵢ(1[i=k] − yₖ) = yₖ (δₖ − Σᵢ δᵢ yᵢ).
 *
 * Shape: (..., classes) → same.
 * @example
 * new Softmax().forward(fromArray([[0, Math.log(3)]]))  // [[0.25, 0.75]]
 */
export class Softmax extends RowSoftmax {
  /** @internal */
  protected readonly log = false;
}
declareBuiltIn(Softmax, NO_ARGUMENTS, example());

/**
 * Log-softmax over the last axis: yᵢ = xᵢ − log Σⱼ e^(xⱼ) (log-sum-exp with the maximum
 * factored out, so finite for logits of ±1e4). Pair it with {@link CrossEntropyLoss}.
 *
 * Backward, full JVP: ∂yᵢ/∂xₖ = 1[i=k] − softmaxₖ, so (∂L/∂x)ₖ = δₖ − softmaxₖ Σᵢ δᵢ.
 *
 * Shape: (..., classes) → same.
 * @example
 * new LogSoftmax().forward(fromArray([[0, 0]]))  // [[-0.6931, -0.6931]]
 */
export class LogSoftmax extends RowSoftmax {
  /** @internal */
  protected readonly log = true;
}
declareBuiltIn(LogSoftmax, NO_ARGUMENTS, example());
