/**
 * What the commands make of a model's two ends. Its input: rows of values as they are (batch,
 * features), as sequences (batch, length, chan) or as images (batch, height, width, chan), found
 * from the model's own shapes. Its output: the loss its last layer implies. The commands that
 * feed a model data (train, sweep runs, predict, evaluate, export) all ask here, so a model that
 * one of them takes, the others take the same way.
 */
import { Module, Sequential, leaves } from '../nn/module';
import { BatchNorm2D } from '../nn/batchnorm';
import { Flatten, Reshape } from '../nn/pool';
import { GlobalAvgPool2D } from '../nn/conv2d';
import { BCELoss, CELogSoftmaxLoss, CrossEntropyLoss, Loss, MSELoss } from '../losses';
// The shapes alone: net.outputShape would size (allocate) a lazily sized Linear, before the
// description's bounds on it are checked.
import { followShapes } from './presets';
import { InputError } from './command';
import { firstLine, plural } from '../messages';
import { reshape } from '../tensor';
import { Dataset, extrasOf, makeDataset } from '../data/dataset';

/** The height and width of rows that are images (channels-last), when the inputs say so. */
export interface ImageSize {
  height: number;
  width: number;
  /** The images' channels (1 when not given). */
  chan?: number;
}

/** The last module that is not a Sequential. */
export function lastLeaf(net: Module): Module | undefined {
  let m: Module | undefined = net;
  while (m instanceof Sequential) m = m.modules[m.modules.length - 1];
  return m;
}

/**
 * The channels the model's input has: `chanIn` of its first convolution, or a BatchNorm2D's
 * channels, past the layers that keep the channels as they are (activations, Dropout, pooling,
 * upsampling); 1 when a layer that does not say comes first (a Linear, a Flatten).
 */
export function inputChannels(net: Module): number {
  for (const m of leaves(net)) {
    if ('chanIn' in m && typeof m.chanIn === 'number') return m.chanIn;
    if (m instanceof BatchNorm2D) return m.channels;
    if (!keepsChannels(m)) return 1;
  }
  return 1;
}

/** Whether a module leaves its input's channels where they are (parameterless and shape-keeping, or pooling and upsampling). */
function keepsChannels(m: Module): boolean {
  return m.parameters().length === 0 && !(m instanceof Flatten || m instanceof Reshape || m instanceof GlobalAvgPool2D);
}

/** Whether the model takes samples of `sampleShape` (without the batch). */
function takes(net: Module, sampleShape: readonly number[]): boolean {
  try {
    followShapes(net, [1, ...sampleShape]);
    return true;
  } catch {
    return false;
  }
}

/**
 * The sample shapes `features` values can have for a model whose first layer takes `chan`
 * channels, most likely first: a flat row, a sequence (length, chan), an image (height, width,
 * chan) of the inputs' size or else a square one.
 */
function sampleShapes(features: number, chan: number, image?: ImageSize): number[][] {
  const shapes = [[features]];
  if (features % chan !== 0) return shapes;
  const pixels = features / chan;
  shapes.push([pixels, chan]);
  if (image && image.height * image.width === pixels) shapes.push([image.height, image.width, chan]);
  else if (Number.isInteger(Math.sqrt(pixels))) shapes.push([Math.sqrt(pixels), Math.sqrt(pixels), chan]);
  return shapes;
}

/** The most values a sample may have in the search for the shapes a model takes. */
const SEARCHED_SAMPLE_SIZE = 2 ** 16;

/**
 * The sample shapes (without the batch) the model takes, fewest values first, searched up to
 * SEARCHED_SAMPLE_SIZE values: the first, and others of up to twice its values (a pooling that
 * floors takes a few sizes), at most `max`. Each size is tried as {@link sampleShapes} orders it:
 * a flat row, a sequence, a square image. `predict` and `evaluate` say these of a row the model
 * refuses; `export` takes the first as the input shape a model's Linear fixes.
 */
export function acceptedSampleShapes(net: Module, max: number): number[][] {
  return searchSampleShapes(net, max).found;
}

/** {@link acceptedSampleShapes}, with the most values a sample could have in the search. */
function searchSampleShapes(net: Module, max: number): { found: number[][]; limit: number } {
  const chan = inputChannels(net);
  const found: number[][] = [];
  let limit = SEARCHED_SAMPLE_SIZE;
  for (let pixels = 1; pixels * chan <= limit && found.length < max; pixels++) {
    const shape = sampleShapes(pixels * chan, chan).find((s) => takes(net, s));
    if (shape === undefined) continue;
    if (found.length === 0) limit = 2 * pixels * chan;
    found.push(shape);
  }
  return { found, limit };
}

/** How many accepted shapes a refusal looks at: enough for every size a pooling's floor lets through. */
const DESCRIBED_SAMPLE_SHAPES = 1000;

/**
 * The sample sizes a model takes, for a refusal: runs of consecutive sizes said as ranges
 * ("28×28 to 31×31", "16×16 or 17×17"), the last run followed past the search's end to where the
 * model refuses, or said as "12×12 or larger" (`larger` says it of a shape) when it takes every
 * size up to the most values a sample may have (a fully convolutional model). Sizes of one kind
 * (squares, sequences or flat rows) are stepped by their side, length or value count; `text`
 * writes one size.
 */
function acceptedSizesText(net: Module, text: (shape: readonly number[]) => string, larger: (shape: readonly number[]) => string): string {
  const { found, limit } = searchSampleShapes(net, DESCRIBED_SAMPLE_SHAPES);
  const chan = inputChannels(net);
  // The step of a kind (its shape's length): a square's side, a sequence's length, a row's values.
  const kind = (shape: readonly number[]): number => shape.length;
  const key = (shape: readonly number[]): number => shape[0];
  const shapeOf = (k: number, size: number): number[] => (k === 3 ? [size, size, chan] : k === 2 ? [size, chan] : [size]);
  const values = (shape: readonly number[]): number => shape.reduce((a, b) => a * b, 1);
  const runs: [number[], number[]][] = [];
  if (found.every((shape) => kind(shape) === kind(found[0]))) {
    for (let i = 0; i < found.length;) {
      let j = i;
      while (j + 1 < found.length && key(found[j + 1]) === key(found[j]) + 1) j++;
      runs.push([found[i], found[j]]);
      i = j + 1;
    }
  }
  if (runs.length === 0) return listed(found.map(text));
  // The search stops at twice the smallest size's values: a run that reaches that end is followed
  // on, a size at a time, to where the model refuses (LeNet's 28 to 31; a net pooled to 1×1 takes
  // k to 2k − 1) or to the most values a sample may have (every size from its smallest on).
  const [first, end] = runs[runs.length - 1];
  if (values(shapeOf(kind(end), key(end) + 1)) > limit) {
    let size = key(end);
    while (values(shapeOf(kind(end), size + 1)) <= SEARCHED_SAMPLE_SIZE && takes(net, shapeOf(kind(end), size + 1))) size++;
    const open = values(shapeOf(kind(end), size + 1)) > SEARCHED_SAMPLE_SIZE;
    runs[runs.length - 1] = [first, shapeOf(kind(end), size)];
    if (open) {
      const items = runs.slice(0, -1).flatMap(rangeItems);
      return listed([...items, `${text(first)} ${larger(first)}`]);
    }
  }
  return listed(runs.flatMap(rangeItems));

  /** A run of consecutive sizes: one, two ("16×16 or 17×17" in the list), or a range. */
  function rangeItems([a, b]: [number[], number[]]): string[] {
    if (key(b) - key(a) >= 2) return [`${text(a)} to ${text(b)}`];
    return key(a) === key(b) ? [text(a)] : [text(a), text(b)];
  }
}

/** Items as a refusal says them: "a", "a or b", "a, b or c", and past three "a, b, c or other sizes". */
function listed(items: string[]): string {
  const shown = items.slice(0, 3);
  if (items.length > 3) return `${shown.join(', ')} or other sizes`;
  return shown.length > 1 ? `${shown.slice(0, -1).join(', ')} or ${shown[shown.length - 1]}` : shown.join('');
}

/**
 * A sample size as a refused row is told it: `256 (16×16)`, `257`. The square is said for a model
 * that takes images, or to inputs that are images (a 16×16 PNG is what an MLP of 256 inputs
 * takes); to rows of numbers, a Linear(4) takes 4 values, not a 2×2 image.
 */
function sizeText(shape: readonly number[], chan: number, imageInput: boolean): string {
  const values = shape.reduce((a, b) => a * b, 1);
  const side = Math.sqrt(values / chan);
  const square = Number.isInteger(side) && (shape.length === 3 || imageInput);
  return `${values}${square ? ` (${side}×${side}${chan > 1 ? `×${chan}` : ''})` : ''}`;
}

/**
 * The channels of the model's samples: the last axis of the sample shape its file stores (an
 * image's or a sequence's), else {@link inputChannels}.
 */
export function sampleChannels(net: Module, saved?: readonly number[]): number {
  return saved !== undefined && saved.length >= 2 ? saved[saved.length - 1] : inputChannels(net);
}

/**
 * The shape of `n` rows of `features` values as the model takes them. Rows that are not images
 * take the sample shape the model's file stores (`saved`, see `save`'s inputShape) when they have
 * its number of values: an 8×32 image written out as a row is not a 16×16 one. Otherwise, and for
 * images, which say their own size: (n, features), (n, length, chan) for a model that opens with a
 * 1-D convolution or pooling, or (n, height, width, chan) for a 2-D one (the inputs' image size,
 * or a square). Throws an InputError saying how many values a row the model takes.
 */
export function modelInputShape(
  net: Module,
  n: number,
  features: number,
  what: string,
  image?: ImageSize,
  saved?: readonly number[],
): number[] {
  const chan = sampleChannels(net, saved);
  const savedValues = saved?.reduce((a, b) => a * b, 1);
  if (saved !== undefined && image === undefined && savedValues === features) return [n, ...saved];
  let reason = '';
  for (const shape of sampleShapes(features, chan, image)) {
    try {
      followShapes(net, [1, ...shape]);
      return [n, ...shape];
    } catch (e) {
      reason ||= firstLine(e);
    }
  }
  const dataChan = image?.chan ?? 1;
  const imageText = image ? `${image.height}×${image.width}${dataChan > 1 ? `×${dataChan}` : ''}` : '';
  // Images of other channels than the model's first layer takes: said as that, not as a count of values.
  if (image && dataChan !== chan)
    throw new InputError(`${what} has images of ${plural(dataChan, 'channel')} (${imageText}), but the model's first layer takes ${chan}`);
  const accepted = acceptedSampleShapes(net, 1);
  // A model that takes images, given an image: the sizes compared as images (an 8×32 image is not
  // a 16×16 one, though both are 256 values).
  if (image && accepted.length > 0 && accepted.every((shape) => shape.length === 3))
    throw new InputError(
      `${what} has ${imageText} images, but the model takes ${acceptedSizesText(
        net,
        (s) => `${s[0]}×${s[1]}`,
        () => 'or larger',
      )}`,
    );
  const given = image ? ` (${imageText})` : '';
  if (saved !== undefined)
    throw new InputError(
      `${what} has ${features} values per row${given}, but the model was saved for samples of shape [${saved.join(', ')}] (${savedValues} values)`,
    );
  if (accepted.length > 0) {
    // Counts of values: only square ones where the model takes squares (144 (12×12), not 145).
    const sizes = acceptedSizesText(
      net,
      (shape) => sizeText(shape, chan, image !== undefined),
      (shape) => (shape.length === 3 ? 'or a larger square number of' : 'or more'),
    );
    throw new InputError(`${what} has ${features} values per row${given}, but the model takes ${sizes} values per row`);
  }
  throw new InputError(`${what} has ${features} values per row${given}, which the model does not take: ${reason}`);
}

/**
 * The shape (without the batch) in which the model takes the samples of a dataset whose x has
 * shape `xShape`: (n, features) or images (n, height, width, chan), whose size is then kept. An
 * MLP takes each image as one flat row, a Conv1D model as a sequence of pixels, a Conv2D model as
 * the image. Throws an InputError naming `what` and the row sizes the model takes.
 */
export function datasetSampleShape(net: Module, xShape: readonly number[], what: string): number[] {
  const features = xShape.slice(1).reduce((a, b) => a * b, 1);
  const image = xShape.length === 4 ? { height: xShape[1], width: xShape[2], chan: xShape[3] } : undefined;
  return modelInputShape(net, 1, features, what, image).slice(1);
}

/** The dataset with each sample viewed in `sampleShape` (no copy). */
export function viewSamples(ds: Dataset, sampleShape: readonly number[]): Dataset {
  return makeDataset(ds.name, reshape(ds.x, [ds.labels.length, ...sampleShape]), ds.labels, ds.numClasses, extrasOf(ds));
}

/** Whether a layer type (`config().type`) is a logistic sigmoid, whose outputs are probabilities. */
export function isSigmoidType(type: string | undefined): boolean {
  return type === 'Sigmoid' || type === 'StableSigmoid';
}

/**
 * How a model of one output reads as a binary classifier (predict, evaluate), as PyTorch's BCELoss
 * and BCEWithLogitsLoss read it: P(class 1) after a sigmoid (`probability`), else a logit
 * (`logit`); class 1 above 0.5. A softmax over one output says nothing (its probability is 1 for
 * every input): an InputError naming `command`.
 */
export function binaryOutput(net: Module, command: string): 'probability' | 'logit' {
  const last = lastLeaf(net)?.config().type;
  if (last === 'Softmax' || last === 'LogSoftmax')
    throw new InputError(`${command}: the model ends in ${last} over one output, which says nothing: its probability is 1 for every input`);
  return isSigmoidType(last) ? 'probability' : 'logit';
}

/** The loss a classifier's last layer implies, as the commands train and evaluate it. */
export interface HeadLoss {
  loss: Loss;
  /** Whether the targets are one-hot rows (else class indices). */
  oneHot: boolean;
  /** The loss's class name: `CrossEntropyLoss`. */
  className: string;
  /** What it measures, in a few words: `cross-entropy`, `MSE, one-hot`. */
  measure: string;
}

/**
 * The loss of a classifier by its last layer (nested Sequentials opened): cross-entropy of the
 * log-probabilities after LogSoftmax, BCE on one-hot targets after a sigmoid, MSE on one-hot
 * targets after Softmax (the course's choice for that head), and otherwise cross-entropy of the
 * log-softmax of the scores. `reduction` as the losses take it (the commands train with `'sum'`).
 */
export function headLoss(net: Module, reduction: 'sum' | 'mean' = 'mean'): HeadLoss {
  const last = lastLeaf(net)?.config().type;
  const options = { reduction };
  if (last === 'LogSoftmax')
    return { loss: new CrossEntropyLoss(options), oneHot: false, className: 'CrossEntropyLoss', measure: 'cross-entropy' };
  if (isSigmoidType(last)) return { loss: new BCELoss(options), oneHot: true, className: 'BCELoss', measure: 'BCE, one-hot' };
  if (last === 'Softmax') return { loss: new MSELoss(options), oneHot: true, className: 'MSELoss', measure: 'MSE, one-hot' };
  return { loss: new CELogSoftmaxLoss(options), oneHot: false, className: 'CELogSoftmaxLoss', measure: 'cross-entropy of the log-softmax' };
}
