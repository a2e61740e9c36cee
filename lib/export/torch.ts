/**
 * PyTorch's layout of a network's parameters: the names and shapes `torch.nn.Sequential`'s
 * `state_dict()` has for the equivalent PyTorch model, and the conversions to and from neurone's.
 *
 * The equivalent model has the same modules at the same positions (so the same names: `0.weight`,
 * `3.1.bias`), in PyTorch's channels-first convention: `nn.Conv1d` takes `(batch, chan, length)`
 * where neurone's Conv1D takes `(batch, length, chan)`. The conversions:
 *
 * - Linear weight `(in, out)` ↔ `(out, in)`, transposed.
 * - Conv1D weight `(kSize, chanIn, chanOut)` ↔ `nn.Conv1d`'s `(chanOut, chanIn, kSize)`;
 *   ConvTranspose1D `(kSize, chanOut, chanIn)` ↔ `nn.ConvTranspose1d`'s `(chanIn, chanOut, kSize)`:
 *   the axes reversed in both cases. Conv2D `(kH, kW, chanIn, chanOut)` ↔ `nn.Conv2d`'s
 *   `(chanOut, chanIn, kH, kW)`, ConvTranspose2D `(kH, kW, chanOut, chanIn)` ↔
 *   `nn.ConvTranspose2d`'s `(chanIn, chanOut, kH, kW)`.
 * - A Linear that reads a Flatten of channels (a convolution's output, through pools and
 *   activations): neurone flattens `(length, chan)` or `(height, width, chan)` position-major,
 *   `nn.Flatten` flattens `(chan, length)` or `(chan, height, width)` channel-major, so the
 *   Linear's input columns are permuted as well, and so are the features of a BatchNorm1D between
 *   the two. `Reshape([-1])` flattens as Flatten does.
 * - A Linear over a value with positions (a convolution's output without a Flatten, which neurone
 *   reads position by position on its channels) is refused: nn.Linear would read a position axis.
 * - Any other Reshape is taken when its channel axis is 1, where both orders agree
 *   (`Reshape([28, 28, 1])` is `nn.Unflatten(1, (1, 28, 28))`), and refused otherwise.
 * - Biases as they are; BatchNorm's weight, bias, running_mean and running_var as they are, and
 *   its num_batches_tracked as PyTorch keeps it: an int64 scalar.
 *
 * The channels a Flatten flattens are known from the layers before it (a convolution, a batch
 * norm) or, when none says (a Flatten first, or after pooling alone), from the shape of one
 * input sample, which the caller then gives: `[28, 28, 3]` has 3 channels, `[784]` none. Without
 * it such a Flatten feeding a Linear is refused: guessing one channel would give a (h, w, 3)
 * input's Linear columns in the wrong order without a word. A module at several places is stored
 * under each of its names, as `state_dict()` lists it.
 */
import { Tensor } from '../tensor';
import { Module, Sequential } from '../nn/module';
import { Linear } from '../nn/linear';
import { Conv1D, ConvTranspose1D } from '../nn/conv';
import { Flatten, Reshape } from '../nn/pool';
import { Conv2D, ConvTranspose2D, GlobalAvgPool2D } from '../nn/conv2d';
import { BatchNorm1D, BatchNorm2D } from '../nn/batchnorm';
import { moduleType } from '../nn/registry';
import { kernelAxesLast4, reverseAxes3 } from './onnx';
import { checkModules, checkSampleShapeFits, shapeThrough, unroll } from './network';

/** One parameter at one place, in PyTorch's layout. @internal */
export interface TorchEntry {
  /** The `state_dict()` key. */
  name: string;
  module: Module;
  /** neurone's tensor. */
  value: Tensor;
  /** PyTorch's shape. */
  shape: number[];
  /** The values in PyTorch's layout. */
  toTorch(): Float32Array;
  /** neurone's values from PyTorch's layout (of length and shape already checked). */
  fromTorch(data: Float32Array): Float32Array;
  /**
   * Set for an int64 scalar of the state_dict (BatchNorm's num_batches_tracked): how to read and
   * set the count it holds; `value`, `toTorch` and `fromTorch` then describe an empty tensor.
   */
  count?: { get(): number; set(n: number): void };
}

const join = (pos: string, name: string): string => (pos === '' ? name : `${pos}.${name}`);

/** (in, out) ↔ (out, in), with the input columns permuted from (length, chan) to (chan, length) order when `chan` is set. */
function linearMaps(w: Tensor, chan: number | null): Pick<TorchEntry, 'toTorch' | 'fromTorch'> {
  const [inputs, outputs] = w.shape;
  const length = chan === null ? inputs : inputs / chan;
  const c = chan ?? 1;
  // neurone row l·C + ch holds the input PyTorch has at column ch·L + l.
  const torchColumn = (row: number): number => (row % c) * length + Math.floor(row / c);
  return {
    toTorch: () => {
      const out = new Float32Array(w.data.length);
      for (let r = 0; r < inputs; r++) {
        const col = torchColumn(r);
        for (let o = 0; o < outputs; o++) out[o * inputs + col] = w.data[r * outputs + o];
      }
      return out;
    },
    fromTorch: (data) => {
      const out = new Float32Array(data.length);
      for (let r = 0; r < inputs; r++) {
        const col = torchColumn(r);
        for (let o = 0; o < outputs; o++) out[r * outputs + o] = data[o * inputs + col];
      }
      return out;
    },
  };
}

/** A (b, a, kH, kW) array back to (kH, kW, a, b): the inverse of {@link kernelAxesLast4}. */
function kernelAxesFirst4(data: Float32Array, shape: readonly number[]): Float32Array {
  const [kh, kw, a, b] = shape;
  const out = new Float32Array(data.length);
  for (let y = 0; y < kh; y++)
    for (let x = 0; x < kw; x++)
      for (let p = 0; p < a; p++) for (let q = 0; q < b; q++) out[((y * kw + x) * a + p) * b + q] = data[((q * a + p) * kh + y) * kw + x];
  return out;
}

/** Reverses the axes of a (b, a, k) array into (k, a, b): the inverse of {@link reverseAxes3}. */
function unreverse(data: Float32Array, shape: readonly number[]): Float32Array {
  const [k, a, b] = shape;
  return reverseAxes3({ shape: [b, a, k], data });
}

/** Where the channels of the current value stand: a count, none (features), or not known. */
type Channels = number | null | 'unknown';

/** How the caller says the shape of one sample, in the message refusing a Flatten of unknown channels. */
const SAMPLE_SHAPE_HINT = 'pass inputShape, the shape of one sample without the batch (e.g. [28, 28, 3] for images, [784] for rows)';

/**
 * The parameters of `net` in PyTorch's layout, in `state_dict()` order. Refuses a module type
 * PyTorch has no counterpart for (a type of the user's own), and a Flatten of channels that
 * neither the layers nor `inputShape` (one sample, without the batch) say. `who` prefixes
 * errors; `shapeHint` says how to give the shape where it is missing. @internal
 */
export function torchEntries(net: Module, who: string, inputShape?: readonly number[], shapeHint = SAMPLE_SHAPE_HINT): TorchEntry[] {
  // The walk refuses a Sequential that contains itself; it does not recurse, however deep the nesting.
  const { places } = unroll(net, who, (m): m is Sequential => m instanceof Sequential);
  checkModules(places, who);
  let channels: Channels = 'unknown';
  if (inputShape !== undefined) {
    checkSampleShapeFits(who, inputShape, (shape) => shapeThrough(places, shape));
    channels = inputShape.length >= 2 ? inputShape[inputShape.length - 1] : null;
  }
  /** Whether the value is known to have positions besides its channels (a nn.Unflatten could not take it). */
  let spatial = inputShape !== undefined && inputShape.length >= 2;
  const entries: TorchEntry[] = [];
  /** Channels a Flatten flattened, until the Linear that reads them; null when nothing is pending. */
  let flattened: Channels = null;
  /** The Flatten that set `flattened`, for the message refusing it. */
  let flattenLabel = '';
  const unknownChannels = (reader: Module): Error =>
    new RangeError(
      `${who}: ${flattenLabel} flattens an input whose channels no layer before it says, and ${reader.label()} reads it: ` +
        `neurone flattens channels-last, nn.Flatten channels-first, so its inputs' order in PyTorch depends on them; ${shapeHint}`,
    );
  const visit = (m: Module, pos: string): void => {
    const asIs = (t: Tensor, name: string): TorchEntry => ({
      name: join(pos, name),
      module: m,
      value: t,
      shape: [...t.shape],
      toTorch: () => t.data.slice(),
      fromTorch: (data) => data.slice(),
    });
    if (m instanceof Linear) {
      if (flattened === 'unknown') throw unknownChannels(m);
      // Over a value with positions neurone's Linear reads each position's channels (its last
      // axis); nn.Linear on PyTorch's channels-first value would read the last position axis.
      if (spatial)
        throw new RangeError(
          `${who}: ${m.label()} reads each position of a value with channels (no Flatten before it), and nn.Linear on PyTorch's channels-first layout would read a position axis instead: ` +
            'put a Flatten before it, or export the layers before it and apply the Linear to channels-last values in your own code',
        );
      const chan = flattened;
      if (chan !== null && m.inputSize % chan !== 0) {
        throw new RangeError(`${who}: ${m.label()} reads a Flatten of ${chan} channels, but ${m.inputSize} inputs is not a multiple of it`);
      }
      entries.push({
        name: join(pos, 'weight'),
        module: m,
        value: m.weight,
        shape: [m.outputSize, m.inputSize],
        ...linearMaps(m.weight, chan),
      });
      if (m.bias) entries.push(asIs(m.bias, 'bias'));
      channels = null;
      flattened = null;
      spatial = false;
      return;
    }
    if (m instanceof Conv1D || m instanceof ConvTranspose1D) {
      const w = m.weight;
      entries.push({
        name: join(pos, 'weight'),
        module: m,
        value: w,
        shape: [w.shape[2], w.shape[1], w.shape[0]],
        toTorch: () => reverseAxes3(w),
        fromTorch: (data) => unreverse(data, w.shape),
      });
      if (m.bias) entries.push(asIs(m.bias, 'bias'));
      channels = m.chanOut;
      flattened = null;
      spatial = true;
      return;
    }
    if (m instanceof Conv2D || m instanceof ConvTranspose2D) {
      const w = m.weight;
      const [kh, kw, a, b] = w.shape;
      entries.push({
        name: join(pos, 'weight'),
        module: m,
        value: w,
        shape: [b, a, kh, kw],
        toTorch: () => kernelAxesLast4(w),
        fromTorch: (data) => kernelAxesFirst4(data, w.shape),
      });
      if (m.bias) entries.push(asIs(m.bias, 'bias'));
      channels = m.chanOut;
      flattened = null;
      spatial = true;
      return;
    }
    if (m instanceof Flatten || (m instanceof Reshape && m.shape.length === 1)) {
      // A second flattening (Flatten then Reshape([-1])) keeps the order the first one made; one
      // channel (or none) flattens in the same order either way.
      if (flattened === null && channels !== null && channels !== 1) {
        flattened = channels;
        flattenLabel = m.label();
      }
      channels = null;
      spatial = false;
      return;
    }
    if (m instanceof Reshape) {
      if (m.shape[m.shape.length - 1] !== 1 || flattened !== null) {
        throw new TypeError(
          `${who}: ${m.label()} (Reshape to [${m.shape.join(', ')}]) has no PyTorch counterpart in layout 'torch': neurone fills the shape channels-last, nn.Unflatten channels-first, and the two orders differ unless the channel axis is 1 and the values are in the same order`,
        );
      }
      // nn.Unflatten(1, …) splits a (batch, features) value; a value with channels needs a Flatten first.
      if (spatial) {
        throw new TypeError(
          `${who}: ${m.label()} (Reshape to [${m.shape.join(', ')}]) reshapes a value with channels: its PyTorch counterpart, nn.Unflatten(1, …), takes (batch, features); put a Flatten before it`,
        );
      }
      channels = 1;
      spatial = true;
      return;
    }
    if (m instanceof BatchNorm1D || m instanceof BatchNorm2D) {
      // Features of a Flatten of channels are in neurone's position-major order: a BatchNorm1D of
      // them has its values permuted as the Linear after it has its columns.
      if (flattened === 'unknown') throw unknownChannels(m);
      const chan = flattened;
      if (chan !== null && m.channels % chan !== 0) {
        throw new RangeError(
          `${who}: ${m.label()} reads a Flatten of ${chan} channels, but ${m.channels} features is not a multiple of it`,
        );
      }
      const perFeature = (t: Tensor, name: string): TorchEntry => {
        if (chan === null) return asIs(t, name);
        // The values as a (features, 1) matrix: a Linear's permutation of input columns, one output.
        const column: Tensor = {
          get shape() {
            return [t.data.length, 1];
          },
          get data() {
            return t.data;
          },
        };
        return { ...asIs(t, name), ...linearMaps(column, chan) };
      };
      // state_dict() order: weight, bias, running_mean, running_var, num_batches_tracked (an
      // int64 scalar; load_state_dict fills it in itself when a file leaves it out).
      if (m.weight) entries.push(perFeature(m.weight, 'weight'));
      if (m.bias) entries.push(perFeature(m.bias, 'bias'));
      entries.push(perFeature(m.runningMean, 'running_mean'), perFeature(m.runningVar, 'running_var'));
      const bn = m;
      const none: Tensor = { shape: [], data: new Float32Array(0) };
      entries.push({
        ...asIs(none, 'num_batches_tracked'),
        count: { get: () => bn.numBatchesTracked, set: (n) => (bn.numBatchesTracked = n) },
      });
      // Its channels are the value's: (batch, height, width, chan), (batch, length, chan), or
      // (batch, features), whose Flatten is the identity in both orders.
      if (flattened === null) channels = m.channels;
      if (m instanceof BatchNorm2D) spatial = true;
      return;
    }
    if (m instanceof GlobalAvgPool2D) {
      // (batch, chan): one value a channel, in the same order in both conventions.
      channels = null;
      spatial = false;
      return;
    }
    const type = moduleType(m.config().type);
    if (!type?.builtIn || m.parameters().length > 0) {
      throw new TypeError(
        `${who}: layout 'torch' knows neurone's built-in modules; ${m.label()} (type ${m.config().type}) has no PyTorch counterpart`,
      );
    }
    // Pools, upsampling and the activations keep the channels (Softmax is over them: dim=1 in PyTorch).
  };
  for (const p of places) visit(p.module, p.path);
  // Nothing reorders a flattened output: PyTorch's would list the channels first, neurone's last.
  if (flattened !== null) {
    throw new RangeError(
      flattened === 'unknown'
        ? `${who}: the network's output is ${flattenLabel}'s, of an input whose channels no layer says: its order in PyTorch depends on them; ${shapeHint}`
        : `${who}: the network's output is ${flattenLabel}'s flattening of ${flattened} channels, which nn.Flatten orders channel-first and neurone channel-last: the two models' outputs would differ in order; end it with a Linear, or flatten in your own code`,
    );
  }
  return entries;
}
