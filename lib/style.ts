/**
 * Neural style transfer (Gatys, Ecker & Bethge, CVPR 2016): an image is optimised so that its
 * features in a convolutional network match a content image's, and the Gram matrices of its
 * features (which channels fire together, wherever they fire) match a style image's. The gradient
 * reaches the pixels through the modules' own `backwardDelta`, from the deepest layer read down
 * to the input; Adam moves the pixels, which are kept in [0, 1].
 *
 * Pretrained VGG weights are not part of neurone, so the features come from networks it makes
 * itself: {@link randomStyleFeatures} (random filters at several scales, which carry texture
 * statistics: Ustyuzhaninov et al., ICLR 2017) or {@link trainStyleFeatures} (the same layers
 * trained on the images at hand). Any `Sequential` of 2-D layers can serve.
 */
import { FLOAT32_MAX, Tensor, describe, formatShape, wrap, zeros } from './tensor';
import { MAX_SEED, Rng } from './random';
import { backend } from './backend';
import { initialize } from './init';
import { Module, Parameter, Sequential } from './nn/module';
import { keepModes } from './nn/mode';
import { AvgPool2D, Conv2D, GlobalAvgPool2D } from './nn/conv2d';
import { ReLU } from './nn/activations';
import { Linear } from './nn/linear';
import { CELogSoftmaxLoss } from './losses';
import { Adam } from './optim';
import { checkKnownOptions } from './options';

/**
 * A feature network for style transfer and the places it is read at. The image enters `net` as
 * `(1, height, width, 3)` with values in [0, 1]; a layer index `i` means the output of
 * `net.modules[i]`.
 */
export interface StyleFeatures {
  /** The network; only its modules up to the deepest layer read are run. */
  net: Sequential;
  /** Module indices whose outputs' Gram matrices are matched to the style image's. */
  styleLayers: readonly number[];
  /** Module indices whose outputs are matched to the content image's. */
  contentLayers: readonly number[];
}

/** Options of {@link randomStyleFeatures} and {@link trainStyleFeatures}. */
export interface StyleFeatureOptions {
  /** Seed of the weights (default 0). */
  seed?: number;
  /** Channels of the first convolution; the deeper ones have twice as many (default 32). */
  channels?: number;
}

/** Options of {@link trainStyleFeatures}. */
export interface TrainStyleFeatureOptions extends StyleFeatureOptions {
  /** Training steps (default 500). */
  steps?: number;
  /** Patches per step (default 16). */
  batchSize?: number;
  /** Side of the square patches cut from the images (default 32; at most the smallest image side). */
  patch?: number;
  /** Adam's learning rate (default 2e-3). */
  lr?: number;
  /**
   * Called after every step.
   * @param step The step, from 1.
   * @param loss The step's mean cross-entropy.
   */
  onStep?: (step: number, loss: number) => void;
}

/** Options of {@link styleTransfer}. */
export interface StyleTransferOptions {
  /** The feature network (default `randomStyleFeatures()`). */
  features?: StyleFeatures;
  /** Optimisation steps (default 300). */
  steps?: number;
  /** Adam's learning rate on pixels in [0, 1] (default 0.02). */
  lr?: number;
  /** Weight of the content loss (default 1). */
  contentWeight?: number;
  /** Weight of the style loss (default 10). */
  styleWeight?: number;
  /** The starting image: the content image (default) or uniform noise. */
  init?: 'content' | 'noise';
  /** Seed of the noise for `init: 'noise'` (default 0). */
  seed?: number;
  /**
   * Called after every step.
   * @param step The step, from 1.
   * @param loss The losses before that step's update.
   */
  onStep?: (step: number, loss: StyleLoss) => void;
}

/** The losses of one image, each normalised by its target's size (see {@link styleTransfer}). */
export interface StyleLoss {
  /** contentWeight · content + styleWeight · style. */
  total: number;
  /** Mean over the content layers of ‖F − P‖² / ‖P‖². */
  content: number;
  /** Mean over the style layers of ‖G − A‖² / ‖A‖². */
  style: number;
}

/** What {@link styleTransfer} returns. */
export interface StyleTransferResult {
  /** The result, `(height, width, 3)` in [0, 1] (the content image's size). */
  image: Tensor;
  /** The losses of the returned image. */
  loss: StyleLoss;
  /** The total loss before each step, then of the returned image (steps + 1 values). */
  history: number[];
}

const FEATURE_OPTIONS = ['seed', 'channels'];
const TRAIN_OPTIONS = [...FEATURE_OPTIONS, 'steps', 'batchSize', 'patch', 'lr', 'onStep'];
const TRANSFER_OPTIONS = ['features', 'steps', 'lr', 'contentWeight', 'styleWeight', 'init', 'seed', 'onStep'];

function checkObject(who: string, options: unknown, known: readonly string[]): Record<string, unknown> {
  if (options === undefined) return {};
  if (options === null || typeof options !== 'object' || Array.isArray(options)) {
    throw new TypeError(`${who}: options must be an object, got ${describe(options)}`);
  }
  checkKnownOptions(who, options, known);
  return options as Record<string, unknown>;
}

function checkInt(who: string, name: string, v: unknown, fallback: number, min: number, max = 2 ** 31 - 1): number {
  if (v === undefined) return fallback;
  if (typeof v !== 'number' || !Number.isInteger(v) || v < min || v > max) {
    throw new RangeError(`${who}: ${name} must be an integer in [${min}, ${max}], got ${describe(v)}`);
  }
  return v;
}

function checkNumber(who: string, name: string, v: unknown, fallback: number, positive: boolean): number {
  if (v === undefined) return fallback;
  if (typeof v !== 'number' || !Number.isFinite(v) || v < 0 || (positive && v === 0)) {
    throw new RangeError(`${who}: ${name} must be a finite number ${positive ? '> 0' : '>= 0'}, got ${describe(v)}`);
  }
  return v;
}

/** Checks an RGB image `(height, width, 3)` with finite values; returns its height and width. */
function checkImage(who: string, name: string, image: unknown): [number, number] {
  const t = image as Tensor;
  if (t === null || typeof t !== 'object' || !Array.isArray(t.shape) || !(t.data instanceof Float32Array)) {
    throw new TypeError(`${who}: ${name} must be an image tensor (height, width, 3), got ${describe(image)}`);
  }
  const [h, w, c] = t.shape;
  if (t.shape.length !== 3 || c !== 3 || !(h >= 1) || !(w >= 1) || t.data.length !== h * w * 3) {
    throw new RangeError(`${who}: ${name} must have shape (height, width, 3), got ${formatShape(t.shape)}`);
  }
  for (let i = 0; i < t.data.length; i++) {
    if (!Number.isFinite(t.data[i])) throw new RangeError(`${who}: ${name} holds ${t.data[i]} at index ${i}; expected finite values`);
  }
  return [h, w];
}

function checkFeatures(who: string, features: unknown): StyleFeatures {
  const f = features as StyleFeatures;
  if (f === null || typeof f !== 'object' || !(f.net instanceof Sequential)) {
    throw new TypeError(`${who}: features must be { net: Sequential, styleLayers, contentLayers }, got ${describe(features)}`);
  }
  const n = f.net.modules.length;
  for (const key of ['styleLayers', 'contentLayers'] as const) {
    const layers = f[key];
    if (!Array.isArray(layers) || !layers.every((i) => Number.isInteger(i) && i >= 0 && i < n)) {
      throw new RangeError(`${who}: features.${key} must be module indices in [0, ${n - 1}], got ${describe(layers)}`);
    }
  }
  if (f.styleLayers.length === 0 && f.contentLayers.length === 0) {
    throw new RangeError(`${who}: features name no layer (styleLayers and contentLayers are both empty)`);
  }
  return f;
}

/**
 * The feature layers both kinds of features share: four convolutions, each followed by ReLU and
 * separated by 2×2 average pooling (Gatys et al. found average pooling better than max for
 * synthesis), 3×3 kernels then 5×5 deeper: receptive fields of 3, 8, 26 and 62 pixels. Style is
 * read after every ReLU, content after the third.
 */
function featureLayers(channels: number): { modules: Module[]; styleLayers: number[]; contentLayers: number[] } {
  const c = channels;
  const modules: Module[] = [
    new Conv2D(3, 3, c, 1, { padding: 1 }),
    new ReLU(),
    new AvgPool2D(2, 2),
    new Conv2D(3, c, 2 * c, 1, { padding: 1 }),
    new ReLU(),
    new AvgPool2D(2, 2),
    new Conv2D(5, 2 * c, 2 * c, 1, { padding: 2 }),
    new ReLU(),
    new AvgPool2D(2, 2),
    new Conv2D(5, 2 * c, 2 * c, 1, { padding: 2 }),
    new ReLU(),
  ];
  return { modules, styleLayers: [1, 4, 7, 10], contentLayers: [7] };
}

/** He-normal weights from `rng` and zero biases for every convolution of `modules`. */
function randomize(modules: readonly Module[], rng: Rng): void {
  for (const m of modules) {
    if (!(m instanceof Conv2D)) continue;
    const area = m.kHeight * m.kWidth;
    initialize(m.weight, 'heNormal', area * m.chanIn, area * m.chanOut, rng);
    m.bias?.data.fill(0);
  }
}

/**
 * Random features at four scales: convolutions with He-normal random weights (3×3 then 5×5, 32,
 * 64, 64, 64 channels by default) between ReLUs and 2×2 average poolings. The first convolution
 * sees the image centred on 0.5 (folded into its bias), so its filters respond to edges and
 * colours rather than to the mean brightness.
 *
 * @example
 * const features = randomStyleFeatures({ seed: 1 });
 * const { image } = styleTransfer(content, style, { features });
 * @param options seed (default 0), channels (default 32).
 * @returns The network and the layers style transfer reads.
 */
export function randomStyleFeatures(options?: StyleFeatureOptions): StyleFeatures {
  const who = 'randomStyleFeatures';
  const opts = checkObject(who, options, FEATURE_OPTIONS);
  const seed = checkInt(who, 'seed', opts.seed, 0, 0, MAX_SEED);
  const channels = checkInt(who, 'channels', opts.channels, 32, 1, 1024);
  const { modules, styleLayers, contentLayers } = featureLayers(channels);
  randomize(modules, new Rng(seed));
  const first = modules[0] as Conv2D;
  // conv(x − 0.5) = conv(x) − 0.5 · Σ_window w: the centring as a bias.
  const bias = first.bias as Tensor;
  const w = first.weight.data;
  for (let o = 0; o < first.chanOut; o++) {
    let s = 0;
    for (let i = o; i < w.length; i += first.chanOut) s += w[i];
    bias.data[o] = -0.5 * s;
  }
  return { net: new Sequential(...modules), styleLayers, contentLayers };
}

/** A random `size`×`size` patch of `image`, rotated by `quarter` quarter turns, written at `out[offset…]`. */
function rotatedPatch(image: Tensor, size: number, rng: Rng, quarter: number, out: Float32Array, offset: number): void {
  const [h, w] = image.shape;
  const top = rng.int(h - size + 1);
  const left = rng.int(w - size + 1);
  const d = image.data;
  for (let y = 0; y < size; y++) {
    for (let x = 0; x < size; x++) {
      // Output (y, x) reads the source pixel a counter-clockwise rotation would put there.
      let sy = y;
      let sx = x;
      if (quarter === 1) [sy, sx] = [x, size - 1 - y];
      else if (quarter === 2) [sy, sx] = [size - 1 - y, size - 1 - x];
      else if (quarter === 3) [sy, sx] = [size - 1 - x, y];
      const src = ((top + sy) * w + left + sx) * 3;
      const dst = offset + (y * size + x) * 3;
      out[dst] = d[src];
      out[dst + 1] = d[src + 1];
      out[dst + 2] = d[src + 2];
    }
  }
}

/**
 * The layers of {@link randomStyleFeatures} trained on `images`, self-supervised: random patches
 * are turned by 0, 90, 180 or 270 degrees and the network (with a global average pooling and a
 * linear layer on top, dropped afterwards) learns to tell which (Gidaris et al., ICLR 2018). To
 * tell the turn it must find edges, their orientations and the objects' usual layout, which is
 * what the Gram matrices then compare. No labels and no pretrained weights are needed: the
 * images to be combined can serve.
 *
 * @example
 * const features = trainStyleFeatures([content, style], { steps: 500 });
 * @param images RGB images `(height, width, 3)` in [0, 1], each at least `patch` pixels on each side.
 * @param options seed, channels, steps, batchSize, patch, lr, onStep.
 * @returns The trained network (without its head) and the layers style transfer reads.
 */
export function trainStyleFeatures(images: readonly Tensor[], options?: TrainStyleFeatureOptions): StyleFeatures {
  return runSteps(trainStyleFeatureSteps(images, options));
}

/**
 * {@link trainStyleFeatures} one step at a time: the generator pauses after each step's `onStep`
 * and returns the features. A caller that must stay responsive (the `style` command, whose
 * Ctrl-C needs the event loop to turn) drives it with {@link driveSteps}. @internal
 */
export function* trainStyleFeatureSteps(images: readonly Tensor[], options?: TrainStyleFeatureOptions): Generator<void, StyleFeatures> {
  const who = 'trainStyleFeatures';
  const opts = checkObject(who, options, TRAIN_OPTIONS);
  const seed = checkInt(who, 'seed', opts.seed, 0, 0, MAX_SEED);
  const channels = checkInt(who, 'channels', opts.channels, 32, 1, 1024);
  const steps = checkInt(who, 'steps', opts.steps, 500, 1);
  const batchSize = checkInt(who, 'batchSize', opts.batchSize, 16, 1, 4096);
  const patch = checkInt(who, 'patch', opts.patch, 32, 8, 4096);
  const lr = checkNumber(who, 'lr', opts.lr, 2e-3, true);
  const onStep = opts.onStep as TrainStyleFeatureOptions['onStep'];
  if (onStep !== undefined && typeof onStep !== 'function')
    throw new TypeError(`${who}: onStep must be a function, got ${describe(onStep)}`);
  if (!Array.isArray(images) || images.length === 0) {
    throw new TypeError(`${who}: images must be a non-empty array of (height, width, 3) tensors, got ${describe(images)}`);
  }
  images.forEach((image, i) => {
    const [h, w] = checkImage(who, `images[${i}]`, image);
    if (h < patch || w < patch) {
      throw new RangeError(`${who}: images[${i}] is ${h}×${w}, smaller than the ${patch}×${patch} patches (option patch)`);
    }
  });
  // Training starts from the random features of the same seed: trained and random differ only by the training.
  const start = randomStyleFeatures({ seed, channels });
  const rng = new Rng(seed);
  const head = new Linear(2 * channels, 4);
  initialize(head.weight, 'xavierNormal', 2 * channels, 4, rng);
  head.bias?.data.fill(0);
  const net = new Sequential(start.net, new GlobalAvgPool2D(), head);
  const loss = new CELogSoftmaxLoss();
  const optimizer = new Adam({ lr });
  const x = zeros([batchSize, patch, patch, 3]);
  const labels = zeros([batchSize, 4]);
  const sampleSize = patch * patch * 3;
  for (let step = 1; step <= steps; step++) {
    labels.data.fill(0);
    for (let b = 0; b < batchSize; b++) {
      const quarter = rng.int(4);
      rotatedPatch(images[rng.int(images.length)], patch, rng, quarter, x.data, b * sampleSize);
      labels.data[b * 4 + quarter] = 1;
    }
    const logits = net.forward(x);
    const { sum, gradient } = loss.lossAndGradient(labels, logits);
    net.zeroGrad();
    net.backward(gradient);
    optimizer.step(net.parameters());
    onStep?.(step, sum / batchSize);
    yield;
  }
  // Out of the training network: its modules' errors name positions in its own Sequential again.
  start.net.setPosition(null);
  return start;
}

/**
 * The image's features at the layers `features` reads, the input kept for the backward pass:
 * `inputs[i]` is the input of module i, `inputs[i + 1]` its output.
 */
function forwardFeatures(features: StyleFeatures, image: Tensor, last: number): Tensor[] {
  const inputs: Tensor[] = [image];
  let x = image;
  for (let i = 0; i <= last; i++) {
    const m = features.net.modules[i];
    const y = m.forward(x);
    // A module at several places reuses its buffers: keep this place's output apart.
    x = m.isShared() ? { shape: y.shape, data: y.data.slice() } : y;
    inputs.push(x);
  }
  return inputs;
}

/** Gram matrix Fᵀ·F / positions of a channels-last feature map, `(chan, chan)`. */
function gram(f: Tensor): Float32Array {
  const chan = f.shape[f.shape.length - 1];
  const positions = f.data.length / chan;
  const g = new Float32Array(chan * chan);
  backend().sgemm(true, false, chan, chan, positions, 1 / positions, f.data, 0, chan, f.data, 0, chan, 0, g, 0, chan);
  return g;
}

function squaredNorm(a: Float32Array): number {
  let s = 0;
  for (let i = 0; i < a.length; i++) s += a[i] * a[i];
  return s;
}

/** What the losses compare with: the content image's features and the style image's Gram matrices, with their squared norms. */
interface StyleTargets {
  content: Map<number, { value: Float32Array; norm: number }>;
  style: Map<number, { value: Float32Array; norm: number }>;
}

function deepest(features: StyleFeatures): number {
  return Math.max(...features.styleLayers, ...features.contentLayers);
}

/**
 * Runs `f` with the feature network in evaluation mode (Dropout off, BatchNorm on its running
 * estimates: the features of an image must not depend on the pass), then puts every module's
 * mode back as it was, as `predict` does.
 */
function inEvalMode<T>(net: Module, f: () => T): T {
  const restore = keepModes(net);
  net.eval();
  try {
    return f();
  } finally {
    restore();
  }
}

function asBatch(image: Tensor): Tensor {
  return wrap([1, ...image.shape], image.data);
}

function contentTargets(features: StyleFeatures, content: Tensor): StyleTargets['content'] {
  const out: StyleTargets['content'] = new Map();
  if (features.contentLayers.length === 0) return out;
  const inputs = forwardFeatures(features, asBatch(content), Math.max(...features.contentLayers));
  for (const i of features.contentLayers) {
    const value = inputs[i + 1].data.slice();
    out.set(i, { value, norm: squaredNorm(value) || 1 });
  }
  return out;
}

function styleTargets(features: StyleFeatures, style: Tensor): StyleTargets['style'] {
  const out: StyleTargets['style'] = new Map();
  if (features.styleLayers.length === 0) return out;
  const inputs = forwardFeatures(features, asBatch(style), Math.max(...features.styleLayers));
  for (const i of features.styleLayers) {
    const value = gram(inputs[i + 1]);
    out.set(i, { value, norm: squaredNorm(value) || 1 });
  }
  return out;
}

/**
 * What {@link styleTransfer} throws for weights so large that the weighted loss's gradient leaves
 * float32: Infinity or NaN in the gradient, or squares Adam would overflow, which would leave the
 * pixels where they are. Catch it to retry with smaller weights.
 * @example
 * try {
 *   styleTransfer(content, style, { contentWeight: 1e30 });
 * } catch (e) {
 *   if (e instanceof StyleOverflowError) console.log(e.contentWeight, e.styleWeight, e.detail);
 * }
 */
export class StyleOverflowError extends RangeError {
  /**
   * @param contentWeight The content weight of the run.
   * @param styleWeight The style weight of the run.
   * @param step The step at which the gradient overflowed, when a step had begun.
   * @param detail Why a term's factor is so large besides the weights, when that is the case.
   */
  constructor(
    readonly contentWeight: number,
    readonly styleWeight: number,
    step?: number,
    /** Why a term's factor is so large besides the weights, when that is the case. */
    readonly detail?: string,
  ) {
    super(
      `styleTransfer: contentWeight ${contentWeight} and styleWeight ${styleWeight} make the gradient of the loss overflow float32` +
        `${step === undefined ? '' : ` at step ${step}`}${detail ? ` (${detail})` : ''}; ` +
        "use smaller weights (Adam's steps depend on their ratio, hardly on their scale)",
    );
    this.name = 'StyleOverflowError';
  }
}

/**
 * A target whose features are almost zero makes its term's factor (divided by its squared norm)
 * large whatever the weights: said, for the error, when its norm is under 1e-20.
 */
function targetDetail(kind: 'content' | 'style', layer: number, norm: number): string | undefined {
  return norm < 1e-20
    ? `the ${kind} image's features at layer ${layer} are almost zero, squared norm ${norm}; leave that layer out`
    : undefined;
}

/**
 * Whether every g² is a float (Adam squares the gradient in float32) and g holds no NaN or
 * infinity. One native pass in the usual case: Σg² (summed in double) under the largest float
 * settles it, and is NaN or infinite with a NaN or infinity in g; only a sum over it needs the
 * largest |g| itself.
 */
function squaresAreFloats(g: Float32Array): boolean {
  const sum = backend().sumOfSquares(g, g.length);
  if (sum < FLOAT32_MAX) return true;
  if (!Number.isFinite(sum)) return false;
  let largest = 0;
  for (let i = 0; i < g.length; i++) largest = Math.max(largest, Math.abs(g[i]));
  return largest * largest < FLOAT32_MAX;
}

/**
 * The losses of `x` (a batch of one image) and, in `grad` when given, their gradient with respect
 * to its pixels, through every module's backwardDelta down to the input. Throws
 * StyleOverflowError where a weight's factor is not a float32.
 */
function lossAndGradient(
  features: StyleFeatures,
  targets: StyleTargets,
  x: Tensor,
  contentWeight: number,
  styleWeight: number,
  grad: Float32Array | null,
): StyleLoss {
  const last = deepest(features);
  const inputs = forwardFeatures(features, x, last);
  const nContent = targets.content.size;
  const nStyle = targets.style.size;
  let content = 0;
  let style = 0;
  let delta: Tensor | null = null;
  for (let i = last; i >= 0; i--) {
    const f = inputs[i + 1];
    const c = targets.content.get(i);
    const s = targets.style.get(i);
    if (grad && !delta && (c || s)) delta = zeros(f.shape);
    if (c) {
      // ‖F − P‖² / ‖P‖²; its gradient 2 (F − P) / ‖P‖², weighted as in the total.
      let sum = 0;
      const k = (2 * contentWeight) / (nContent * c.norm);
      if (delta && !(k <= FLOAT32_MAX))
        throw new StyleOverflowError(contentWeight, styleWeight, undefined, targetDetail('content', i, c.norm));
      for (let j = 0; j < f.data.length; j++) {
        const diff = f.data[j] - c.value[j];
        sum += diff * diff;
        if (delta) delta.data[j] += k * diff;
      }
      content += sum / c.norm / nContent;
    }
    if (s) {
      // ‖G − A‖² / ‖A‖² with G = FᵀF / M; ∂/∂F = 4 F (G − A) / (M ‖A‖²) (G − A is symmetric).
      const chan = f.shape[f.shape.length - 1];
      const positions = f.data.length / chan;
      const diff = gram(f);
      for (let j = 0; j < diff.length; j++) diff[j] -= s.value[j];
      style += squaredNorm(diff) / s.norm / nStyle;
      if (delta) {
        const k = (4 * styleWeight) / (nStyle * positions * s.norm);
        if (!(k <= FLOAT32_MAX)) throw new StyleOverflowError(contentWeight, styleWeight, undefined, targetDetail('style', i, s.norm));
        backend().sgemm(false, false, positions, chan, chan, k, f.data, 0, chan, diff, 0, chan, 1, delta.data, 0, chan);
      }
    }
    if (delta) {
      const m = features.net.modules[i];
      const d = m.backwardDelta(inputs[i], delta);
      delta = i > 0 ? d : null;
      if (i === 0) grad?.set(d.data);
    }
  }
  return { total: contentWeight * content + styleWeight * style, content, style };
}

/**
 * The style loss of `image` against `style` in `features`: the mean over its style layers of
 * ‖G − A‖² / ‖A‖², G and A the Gram matrices of the two images' features. 0 for identical
 * statistics; 1 for an image whose features are all zero. A feature network not used to make
 * the image gives a judge independent of the optimisation.
 *
 * @example
 * const judge = randomStyleFeatures({ seed: 999, channels: 48 });
 * styleDistance(judge, result, style);   // lower: closer to the style's textures
 * @param features The network and the layers read (its styleLayers).
 * @param image The image judged, `(height, width, 3)`.
 * @param style The style image, `(height, width, 3)` (its size may differ).
 * @returns The normalised Gram distance.
 */
export function styleDistance(features: StyleFeatures, image: Tensor, style: Tensor): number {
  const who = 'styleDistance';
  const f = checkFeatures(who, features);
  checkImage(who, 'image', image);
  checkImage(who, 'style', style);
  if (f.styleLayers.length === 0) throw new RangeError(`${who}: features.styleLayers is empty`);
  const onlyStyle: StyleFeatures = { net: f.net, styleLayers: f.styleLayers, contentLayers: [] };
  return inEvalMode(f.net, () => {
    const targets: StyleTargets = { content: new Map(), style: styleTargets(onlyStyle, style) };
    return lossAndGradient(onlyStyle, targets, asBatch(image), 0, 1, null).style;
  });
}

/**
 * The losses of `image` and their gradient with respect to its pixels (for tests and for
 * optimisers other than the built-in Adam). @internal
 * @param features The network and its layers.
 * @param image The image, `(height, width, 3)`.
 * @param content The content image, same size.
 * @param style The style image.
 * @param contentWeight Weight of the content loss.
 * @param styleWeight Weight of the style loss.
 */
export function styleLossAndGradient(
  features: StyleFeatures,
  image: Tensor,
  content: Tensor,
  style: Tensor,
  contentWeight = 1,
  styleWeight = 10,
): { loss: StyleLoss; gradient: Tensor } {
  return inEvalMode(features.net, () => {
    const targets: StyleTargets = { content: contentTargets(features, content), style: styleTargets(features, style) };
    const gradient = zeros(image.shape);
    const loss = lossAndGradient(features, targets, asBatch(image), contentWeight, styleWeight, gradient.data);
    return { loss, gradient };
  });
}

/**
 * Style transfer (Gatys et al. 2016): an image with the content image's layout and the style
 * image's textures and colours.
 *
 * The loss is `contentWeight · content + styleWeight · style`, where content is the mean over the
 * content layers of ‖F − P‖² / ‖P‖² (F, P: the image's and the content image's features) and
 * style the mean over the style layers of ‖G − A‖² / ‖A‖² (G, A: Gram matrices FᵀF / positions
 * of the image's and the style image's features). Each term is divided by its target's norm, so
 * every layer counts alike whatever the scale of its activations (random and trained networks
 * differ there by orders of magnitude) and the default weights carry over between networks.
 * The other side of that choice: a layer the style image hardly excites (‖A‖ near 0, as a trained
 * network's layer on a nearly black image) weighs out of all proportion; leave it out of
 * `styleLayers`. Random features, whose filters have zero mean, always respond.
 * Starting from the content image (or noise), Adam moves the pixels along the gradient, which
 * reaches them through each module's `backwardDelta`; after each step they are clamped to [0, 1].
 * The feature network runs in evaluation mode (Dropout off, BatchNorm on its running estimates),
 * each module's mode put back afterwards.
 * The image returned is the last one (the loss of each step is in `history`). Weights so large
 * that the gradient leaves float32 stop it with a RangeError naming them and the step, before
 * Adam moves the pixels.
 *
 * Cost: one forward and one backward pass of the feature network per step, at the content
 * image's size; the style image is read once. The memory is that of one forward pass kept for
 * backward (about 2 × (height × width × 32) × 4 bytes for the default random features).
 *
 * @example
 * import { styleTransfer, randomStyleFeatures } from 'neurone';
 * import { readImage, writeImage, resizeImage } from 'neurone/data';
 * const content = resizeImage(readImage('cat.png'), 128);
 * const style = resizeImage(readImage('brick.png'), 128);
 * const { image } = styleTransfer(content, style, { features: randomStyleFeatures({ seed: 1 }), steps: 300 });
 * writeImage('cat-brick.png', image);
 * @param content The content image, `(height, width, 3)` in [0, 1]; the result has its size.
 * @param style The style image, `(height, width, 3)` in [0, 1]; any size.
 * @param options features, steps, lr, contentWeight, styleWeight, init, seed, onStep.
 * @returns The image, its losses and the loss history.
 * @throws {@link StyleOverflowError} when the weights make the loss's gradient overflow float32.
 */
export function styleTransfer(content: Tensor, style: Tensor, options?: StyleTransferOptions): StyleTransferResult {
  return runSteps(styleTransferSteps(content, style, options));
}

/** {@link styleTransfer} one step at a time, as {@link trainStyleFeatureSteps}. @internal */
export function* styleTransferSteps(content: Tensor, style: Tensor, options?: StyleTransferOptions): Generator<void, StyleTransferResult> {
  const who = 'styleTransfer';
  const opts = checkObject(who, options, TRANSFER_OPTIONS);
  const [h, w] = checkImage(who, 'content', content);
  checkImage(who, 'style', style);
  const features = checkFeatures(who, opts.features ?? randomStyleFeatures());
  const steps = checkInt(who, 'steps', opts.steps, 300, 0);
  const lr = checkNumber(who, 'lr', opts.lr, 0.02, true);
  const contentWeight = checkNumber(who, 'contentWeight', opts.contentWeight, 1, false);
  const styleWeight = checkNumber(who, 'styleWeight', opts.styleWeight, 10, false);
  const init = opts.init ?? 'content';
  if (init !== 'content' && init !== 'noise') throw new RangeError(`${who}: init must be 'content' or 'noise', got ${describe(init)}`);
  const seed = checkInt(who, 'seed', opts.seed, 0, 0, MAX_SEED);
  const onStep = opts.onStep as StyleTransferOptions['onStep'];
  if (onStep !== undefined && typeof onStep !== 'function')
    throw new TypeError(`${who}: onStep must be a function, got ${describe(onStep)}`);
  // Both images must pass through the network (its convolutions refuse images too small).
  for (const [name, image] of [
    ['content', content],
    ['style', style],
  ] as const) {
    try {
      features.net.outputShape([1, ...image.shape]);
    } catch (e) {
      throw new RangeError(
        `${who}: ${name} (${image.shape[0]}×${image.shape[1]}) does not fit the feature network: ${(e as Error).message}`,
      );
    }
  }

  // Evaluation mode for the run (a generator abandoned midway is closed: its finally restores).
  const restore = keepModes(features.net);
  features.net.eval();
  try {
    const targets: StyleTargets = { content: contentTargets(features, content), style: styleTargets(features, style) };
    const x = zeros([1, h, w, 3]);
    if (init === 'content') x.data.set(content.data);
    else {
      const rng = new Rng(seed);
      for (let i = 0; i < x.data.length; i++) x.data[i] = rng.uniform();
    }
    const pixels: Parameter = { name: 'image', value: x, grad: zeros(x.shape), module: features.net };
    const optimizer = new Adam({ lr });
    const history: number[] = [];
    for (let step = 1; step <= steps; step++) {
      const g = pixels.grad.data;
      let loss: StyleLoss;
      try {
        loss = lossAndGradient(features, targets, x, contentWeight, styleWeight, g);
      } catch (e) {
        throw e instanceof StyleOverflowError ? new StyleOverflowError(contentWeight, styleWeight, step, e.detail) : e;
      }
      if (!squaresAreFloats(g)) throw new StyleOverflowError(contentWeight, styleWeight, step);
      history.push(loss.total);
      optimizer.step([pixels]);
      for (let i = 0; i < x.data.length; i++) x.data[i] = Math.min(1, Math.max(0, x.data[i]));
      onStep?.(step, loss);
      yield;
    }
    const loss = lossAndGradient(features, targets, x, contentWeight, styleWeight, null);
    history.push(loss.total);
    return { image: wrap([h, w, 3], x.data), loss, history };
  } finally {
    restore();
  }
}

/** Runs a generator of steps to its end; its value. */
function runSteps<T>(steps: Generator<void, T>): T {
  for (;;) {
    const r = steps.next();
    if (r.done) return r.value;
  }
}

/**
 * Runs a generator of steps to its end, letting the event loop turn every `everyMs` or so (a
 * signal's handler, a progress bar's redraw): the steps run as they would synchronously, only
 * interleaved with other work. @internal
 */
export async function driveSteps<T>(steps: Generator<void, T>, everyMs = 50): Promise<T> {
  let turned = performance.now();
  for (;;) {
    const r = steps.next();
    if (r.done) return r.value;
    if (performance.now() - turned >= everyMs) {
      await new Promise((resolve) => setImmediate(resolve));
      turned = performance.now();
    }
  }
}
