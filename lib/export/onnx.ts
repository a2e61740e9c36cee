/**
 * ONNX export: a network as a standard ONNX model that ONNX Runtime (in browsers, in other
 * languages) or any other ONNX consumer runs without neurone.
 *
 * The graph keeps neurone's interface: its input is channels-last `(batch, length, chan)` or
 * `(batch, height, width, chan)` for a convolutional network (or `(batch, features)`), exactly
 * what `predict` takes, and its output is what `predict` returns. ONNX's Conv, ConvTranspose and
 * pooling work on channels-first tensors `(batch, chan, length)` or `(batch, chan, height,
 * width)`, so the exporter inserts a Transpose where a run of those layers
 * begins and one where it ends, and none between them: Conv → ReLU → MaxPool → Conv is one
 * transpose in and one out. Elementwise activations and Upsample run in whichever layout they
 * are given; Linear, Flatten, Reshape, Softmax and LogSoftmax are given channels-last tensors, since their
 * meaning depends on the order of the last axes (a Linear over (batch, …, in) becomes MatMul and
 * Add, Gemm taking matrices only). Keeping the interface channels-last (rather than
 * asking the caller for channels-first input) means the same arrays feed neurone and the export.
 */
import { Tensor, describe } from '../tensor';
import { Module, Sequential } from '../nn/module';
import { Linear } from '../nn/linear';
import { Conv1D, ConvTranspose1D, Upsample1D } from '../nn/conv';
import { AvgPool1D, Flatten, MaxPool1D, Reshape, WindowPool } from '../nn/pool';
import { firstLine } from '../messages';
import { checkKnownOptions } from '../options';
import { AvgPool2D, Conv2D, ConvTranspose2D, GlobalAvgPool2D, MaxPool2D, Upsample2D } from '../nn/conv2d';
import { ELU, GELU, Identity, LeakyReLU, LogSoftmax, ReLU, SiLU, Sigmoid, SoftPlus, Softmax, StableSigmoid, TanH } from '../nn/activations';
import { Dropout } from '../nn/dropout';
import { ARGUMENT_LIMITS } from '../nn/schema';
import { BatchNorm1D, BatchNorm2D } from '../nn/batchnorm';
import { meanFactors, poolWindows, scaleWindows } from '../nn/borders';
import { ATTRIBUTE, DATA_TYPE, modelProto } from './proto';
import { packageManifest } from '../data/paths';
import { Place, checkModules, checkSampleShape, shapeThrough, throughSampleShape, unroll } from './network';

/**
 * The ONNX operator set the exported models import (the default `ai.onnx` domain). Opset 17
 * has every operator the exporter writes in its current form (Softmax over one axis, Resize with
 * its nearest modes) and is read by ONNX Runtime 1.13 and later.
 */
export const ONNX_OPSET = 17;
/** The ONNX IR version that goes with {@link ONNX_OPSET}. */
export const ONNX_IR_VERSION = 8;

/**
 * The largest model one ONNX protobuf holds: protobuf messages are limited to 2 GiB, and ONNX
 * keeps larger weights in external files, which this exporter does not write. @internal
 */
export const ONNX_MAX_BYTES = 2 ** 31 - 1;

/** Refuses weights that would not fit one ONNX file (see {@link ONNX_MAX_BYTES}). @internal */
export function checkONNXSize(weightBytes: number, limit = ONNX_MAX_BYTES): void {
  // The graph's nodes and names take a few kilobytes beside the weights.
  if (weightBytes + 65536 > limit) {
    throw new RangeError(
      `toONNX: the weights take ${weightBytes} bytes, over the ${limit} one ONNX file holds (external weight files are not written)`,
    );
  }
}

/** Options of {@link toONNX}. */
export interface ONNXOptions {
  /**
   * The shape of one sample, without the batch: `[784]` for a network opening with
   * `Linear(784, …)`, `[256, 1]` for a `Conv1D` over 256 positions of 1 channel. The batch
   * dimension of the graph's input and output is left free (named `batch`).
   */
  inputShape: readonly number[];
  /**
   * Leave the sample's size free too (default false), as `torch.onnx.export`'s `dynamic_axes`
   * would: the input's length, or height and width, are named `length` or `height`, `width`,
   * and the output's axes that follow them `output_dim1`, `output_dim2`…; the channels stay
   * fixed. For a network that takes other sizes than `inputShape` (convolutions, pooling,
   * GlobalAvgPool2D); one whose layers fix the size (a Linear after a Flatten, a Reshape) is
   * refused.
   */
  dynamicSize?: boolean;
  /** The graph's name (default `'neurone'`). */
  name?: string;
}

interface Attribute {
  name: string;
  type: number;
  f?: number;
  i?: number;
  s?: Uint8Array;
  ints?: number[];
}

interface Node {
  name: string;
  opType: string;
  input: string[];
  output: string[];
  attribute: Attribute[];
}

interface Initializer {
  name: string;
  dims: number[];
  dataType: number;
  rawData: Uint8Array;
}

/** A value of the graph: its name, and whether it is channels-first (a 3-D tensor moved to (batch, chan, length)). */
interface Value {
  name: string;
  rank: number;
  channelsFirst: boolean;
}

const ints = (name: string, values: number[]): Attribute => ({ name, type: ATTRIBUTE.INTS, ints: values });
const int = (name: string, value: number): Attribute => ({ name, type: ATTRIBUTE.INT, i: value });
const float = (name: string, value: number): Attribute => ({ name, type: ATTRIBUTE.FLOAT, f: value });
const string = (name: string, value: string): Attribute => ({ name, type: ATTRIBUTE.STRING, s: Buffer.from(value, 'utf8') });

function littleEndianBytes(data: Float32Array | BigInt64Array): Uint8Array {
  const out = new Uint8Array(data.byteLength);
  const view = new DataView(out.buffer);
  for (let i = 0; i < data.length; i++) {
    if (data instanceof Float32Array) view.setFloat32(4 * i, data[i], true);
    else view.setBigInt64(8 * i, data[i], true);
  }
  return out;
}

/** (k, a, b) → (b, a, k): neurone's convolution weights in ONNX's (and PyTorch's) order. @internal */
/** @internal A (kH, kW, a, b) weight as ONNX's (b, a, kH, kW): Conv's (out, in, kH, kW) from Conv2D's, ConvTranspose's (in, out, kH, kW) from ConvTranspose2D's. */
export function kernelAxesLast4(w: Tensor): Float32Array {
  const [kh, kw, a, b] = w.shape;
  const out = new Float32Array(w.data.length);
  for (let y = 0; y < kh; y++)
    for (let x = 0; x < kw; x++)
      for (let p = 0; p < a; p++) for (let q = 0; q < b; q++) out[((q * a + p) * kh + y) * kw + x] = w.data[((y * kw + x) * a + p) * b + q];
  return out;
}

export function reverseAxes3(w: Tensor): Float32Array {
  const [k, a, b] = w.shape;
  const out = new Float32Array(w.data.length);
  for (let j = 0; j < k; j++)
    for (let p = 0; p < a; p++) for (let q = 0; q < b; q++) out[(q * a + p) * k + j] = w.data[(j * a + p) * b + q];
  return out;
}

class GraphBuilder {
  readonly nodes: Node[] = [];
  readonly initializers: Initializer[] = [];
  /** Initializers already written per parameter tensor and form, so a shared weight is stored once. */
  private readonly written = new Map<Tensor, Map<string, string>>();
  private count = 0;

  fresh(base: string): string {
    return `${base}_${this.count++}`;
  }

  node(opType: string, input: string[], attribute: Attribute[] = []): string {
    const output = this.fresh(opType.toLowerCase());
    this.nodes.push({ name: output, opType, input, output: [output], attribute });
    return output;
  }

  /** The initializer holding `tensor` in the form `form` (`as is`, or a transform's name), written once. */
  parameter(tensor: Tensor, label: string, form: string, dims: number[], data: () => Float32Array): string {
    let forms = this.written.get(tensor);
    if (!forms) {
      forms = new Map();
      this.written.set(tensor, forms);
    }
    const known = forms.get(form);
    if (known !== undefined) return known;
    const name = this.fresh(label);
    this.initializers.push({ name, dims, dataType: DATA_TYPE.FLOAT, rawData: littleEndianBytes(data()) });
    forms.set(form, name);
    return name;
  }

  constant(label: string, dims: number[], data: Float32Array | BigInt64Array): string {
    const name = this.fresh(label);
    const dataType = data instanceof Float32Array ? DATA_TYPE.FLOAT : DATA_TYPE.INT64;
    this.initializers.push({ name, dims, dataType, rawData: littleEndianBytes(data) });
    return name;
  }

  /** (batch, …, chan) → (batch, chan, …), for rank 3 (sequences) and 4 (images). */
  channelsFirst(v: Value): Value {
    if (v.channelsFirst) return v;
    const perm = v.rank === 4 ? [0, 3, 1, 2] : [0, 2, 1];
    return { name: this.node('Transpose', [v.name], [ints('perm', perm)]), rank: v.rank, channelsFirst: true };
  }

  /** (batch, chan, …) → (batch, …, chan). */
  channelsLast(v: Value): Value {
    if (!v.channelsFirst) return v;
    const perm = v.rank === 4 ? [0, 2, 3, 1] : [0, 2, 1];
    return { name: this.node('Transpose', [v.name], [ints('perm', perm)]), rank: v.rank, channelsFirst: false };
  }
}

/** The nodes of a module applied to `v`; `label(p)` names its tensor `p` by the module's place. */
/** What a module becomes: `v` is its input, `inputShape` that input's shape (batch 1, neurone's layout). */
type Emitter<M extends Module> = (g: GraphBuilder, m: M, v: Value, label: (p: string) => string, inputShape: readonly number[]) => Value;
// eslint-disable-next-line @typescript-eslint/no-explicit-any
type ModuleClass<M extends Module> = new (...args: any[]) => M;

/**
 * The exporter's one list of module types: each class with the nodes it becomes. Looked up by
 * the module's own class, so a subclass of one of them is not found here (see {@link refuse}).
 */
const EMITTERS = new Map<ModuleClass<Module>, Emitter<Module>>();
function emitter<M extends Module>(C: ModuleClass<M>, f: Emitter<M>): void {
  EMITTERS.set(C, f as Emitter<Module>);
}

// Elementwise activations run in either layout.
for (const [C, op] of [
  [TanH, 'Tanh'],
  [Sigmoid, 'Sigmoid'],
  [StableSigmoid, 'Sigmoid'],
  [ReLU, 'Relu'],
  [SoftPlus, 'Softplus'],
  [Identity, 'Identity'],
] as const) {
  emitter<Module>(C, (g, _m, v) => ({ ...v, name: g.node(op, [v.name]) }));
}
emitter(LeakyReLU, (g, m, v) => ({ ...v, name: g.node('LeakyRelu', [v.name], [float('alpha', m.slope)]) }));
emitter(ELU, (g, m, v) => ({ ...v, name: g.node('Elu', [v.name], [float('alpha', m.alpha)]) }));
// Opset 17 has no SiLU: x · Sigmoid(x).
emitter(SiLU, (g, _m, v) => ({ ...v, name: g.node('Mul', [v.name, g.node('Sigmoid', [v.name])]) }));
// Nor Gelu (opset 20): x · (1 + Erf(x / √2)) / 2, in GELU's exact form.
emitter(GELU, (g, _m, v) => {
  const scalar = (label: string, value: number): string => g.constant(label, [], Float32Array.of(value));
  const erf = g.node('Erf', [g.node('Mul', [v.name, scalar('gelu_inverse_sqrt2', Math.SQRT1_2)])]);
  const cdf = g.node('Mul', [g.node('Add', [erf, scalar('gelu_one', 1)]), scalar('gelu_half', 0.5)]);
  return { ...v, name: g.node('Mul', [v.name, cdf]) };
});
for (const [C, op] of [
  [Softmax, 'Softmax'],
  [LogSoftmax, 'LogSoftmax'],
] as const) {
  emitter<Module>(C, (g, _m, v) => {
    const x = g.channelsLast(v);
    return { ...x, name: g.node(op, [x.name], [int('axis', -1)]) };
  });
}
emitter(Linear, (g, m, v, label) => {
  const w = g.parameter(m.weight, label('weight'), 'as is', [...m.weight.shape], () => m.weight.data);
  const b = m.bias;
  const bias = b ? g.parameter(b, label('bias'), 'as is', [...b.shape], () => b.data) : undefined;
  if (v.rank === 2) return { name: g.node('Gemm', bias ? [v.name, w, bias] : [v.name, w]), rank: 2, channelsFirst: false };
  // (batch, …, in): Gemm takes matrices only; MatMul multiplies the last axis, Add broadcasts the bias.
  const x = g.channelsLast(v);
  const product = g.node('MatMul', [x.name, w]);
  return { name: bias ? g.node('Add', [product, bias]) : product, rank: v.rank, channelsFirst: false };
});
for (const [C, op] of [
  [Conv1D, 'Conv'],
  [ConvTranspose1D, 'ConvTranspose'],
] as const) {
  emitter<Conv1D | ConvTranspose1D>(C, (g, m, v, label) => {
    const x = g.channelsFirst(v);
    const [k, a, b] = m.weight.shape;
    const w = g.parameter(m.weight, label('weight'), 'reversed axes', [b, a, k], () => reverseAxes3(m.weight));
    const inputs = [x.name, w];
    if (m.bias) {
      const bias = m.bias;
      inputs.push(g.parameter(bias, label('bias'), 'as is', [...bias.shape], () => bias.data));
    }
    const attributes = [
      ints('kernel_shape', [m.kSize]),
      ints('strides', [m.stride]),
      ints('pads', [m.padding, m instanceof Conv1D ? m.paddingEnd : m.padding]),
    ];
    if (m instanceof ConvTranspose1D) attributes.push(ints('output_padding', [m.outputPadding]));
    return { name: g.node(op, inputs, attributes), rank: 3, channelsFirst: true };
  });
}
emitter(Upsample1D, (g, m, v, label) => {
  // Nearest neighbour with floor(i / scale): every position repeated `scale` times, in place.
  const scales = v.channelsFirst ? [1, 1, m.scale] : [1, m.scale, 1];
  const s = g.constant(label('scales'), [3], Float32Array.from(scales));
  const attributes = [string('mode', 'nearest'), string('coordinate_transformation_mode', 'asymmetric'), string('nearest_mode', 'floor')];
  return { ...v, name: g.node('Resize', [v.name, '', s], attributes) };
});
for (const [C, op] of [
  [Conv2D, 'Conv'],
  [ConvTranspose2D, 'ConvTranspose'],
] as const) {
  emitter<Conv2D | ConvTranspose2D>(C, (g, m, v, label) => {
    const x = g.channelsFirst(v);
    const [kh, kw, a, b] = m.weight.shape;
    const w = g.parameter(m.weight, label('weight'), 'kernel axes last', [b, a, kh, kw], () => kernelAxesLast4(m.weight));
    const inputs = [x.name, w];
    if (m.bias) {
      const bias = m.bias;
      inputs.push(g.parameter(bias, label('bias'), 'as is', [...bias.shape], () => bias.data));
    }
    const attributes = [
      ints('kernel_shape', [m.kHeight, m.kWidth]),
      ints('strides', [m.strideHeight, m.strideWidth]),
      // ONNX's pads: the starts of the axes, then their ends.
      ints('pads', [m.padHeight, m.padWidth, m.padHeightEnd, m.padWidthEnd]),
    ];
    if (m instanceof ConvTranspose2D) attributes.push(ints('output_padding', [m.outputPadHeight, m.outputPadWidth]));
    return { name: g.node(op, inputs, attributes), rank: 4, channelsFirst: true };
  });
}
for (const [C, op] of [
  [MaxPool1D, 'MaxPool'],
  [AvgPool1D, 'AveragePool'],
  [MaxPool2D, 'MaxPool'],
  [AvgPool2D, 'AveragePool'],
] as const) {
  emitter<MaxPool1D | AvgPool1D | MaxPool2D | AvgPool2D>(C, (g, m, v, label, inputShape) => {
    const x = g.channelsFirst(v);
    const rank = inputShape.length;
    // The spatial axes: a sequence's length, or an image's height and width.
    const axes = rank === 3 ? [m.axes[1]] : m.axes;
    const sizes = inputShape.slice(1, -1);
    const counts = axes.map((a, i) => poolWindows(sizes[i], a, m.ceilMode));
    const attributes = [
      ints(
        'kernel_shape',
        axes.map((a) => a.kSize),
      ),
      ints(
        'strides',
        axes.map((a) => a.stride),
      ),
      // ONNX's pads: the starts of the axes, then their ends. ceilMode is written as more padding
      // after the input, not as ONNX's ceil_mode, which keeps a last window that starts in the
      // padding where PyTorch (and neurone) drop it.
      ints('pads', [...axes.map((a) => a.padding), ...axes.map((a, i) => a.padding + counts[i].overhang)]),
    ];
    if (!(m instanceof AvgPool1D || m instanceof AvgPool2D)) return { name: g.node(op, [x.name], attributes), rank, channelsFirst: true };
    // Without count_include_pad AveragePool divides by the input cells a window covers, as
    // countIncludePad false does; with it, by the window's size, overhang included, where
    // neurone (and PyTorch) leave the overhang out: those means are rescaled.
    attributes.push(int('count_include_pad', m.countIncludePad ? 1 : 0));
    const mean = g.node(op, [x.name], attributes);
    const factors = m.countIncludePad ? axes.map((a, i) => meanFactors(sizes[i], a, counts[i].windows, true)) : [];
    if (factors.every((f) => f === null)) return { name: mean, rank, channelsFirst: true };
    const windows = counts.map((c) => c.windows);
    const grid = new Float32Array(windows.reduce((a, b) => a * b, 1)).fill(1);
    const [rowFactors, colFactors] = factors.length === 2 ? factors : [null, factors[0]];
    scaleWindows(grid, 1, windows.length === 2 ? windows[0] : 1, windows[windows.length - 1], 1, rowFactors, colFactors);
    const scale = g.constant(label('overhang'), [1, 1, ...windows], grid);
    return { name: g.node('Mul', [mean, scale]), rank, channelsFirst: true };
  });
}
emitter(GlobalAvgPool2D, (g, _m, v) => {
  const pooled = g.node('GlobalAveragePool', [g.channelsFirst(v).name]); // (batch, chan, 1, 1)
  return { name: g.node('Flatten', [pooled], [int('axis', 1)]), rank: 2, channelsFirst: false };
});
emitter(Upsample2D, (g, m, v, label) => {
  const scales = v.channelsFirst ? [1, 1, m.scaleHeight, m.scaleWidth] : [1, m.scaleHeight, m.scaleWidth, 1];
  const s = g.constant(label('scales'), [4], Float32Array.from(scales));
  const attributes = [string('mode', 'nearest'), string('coordinate_transformation_mode', 'asymmetric'), string('nearest_mode', 'floor')];
  return { ...v, name: g.node('Resize', [v.name, '', s], attributes) };
});
emitter(Reshape, (g, m, v, label) => {
  const x = g.channelsLast(v);
  // 0 keeps the batch axis as it is; −1 is inferred, as in neurone.
  const target = g.constant(label('shape'), [m.shape.length + 1], BigInt64Array.from([0, ...m.shape].map((d) => BigInt(d))));
  return { name: g.node('Reshape', [x.name, target]), rank: m.shape.length + 1, channelsFirst: false };
});
emitter(Flatten, (g, _m, v) => {
  const x = g.channelsLast(v);
  return { name: g.node('Flatten', [x.name], [int('axis', 1)]), rank: 2, channelsFirst: false };
});
// Dropout and BatchNorm in their evaluation form, which is what an exported model computes (as
// `predict` does). Dropout is the identity (no node).
emitter(Dropout, (_g, _m, v) => v);
/**
 * BatchNorm is ONNX's BatchNormalization over its running estimates, on channels-first input:
 * a (batch, features) value as it is, a rank-3 one in the channels-first layout the
 * convolutions use, and a (batch, height, width, chan) one transposed in and out.
 */
const batchNorm: Emitter<BatchNorm1D | BatchNorm2D> = (g, m, v, label) => {
  const c = m.channels;
  const tensorInput = (t: Tensor, name: string): string => g.parameter(t, label(name), 'as is', [c], () => t.data);
  const scale = m.weight ? tensorInput(m.weight, 'weight') : g.constant(label('weight'), [c], new Float32Array(c).fill(1));
  const shift = m.bias ? tensorInput(m.bias, 'bias') : g.constant(label('bias'), [c], new Float32Array(c));
  const statistics = [tensorInput(m.runningMean, 'running_mean'), tensorInput(m.runningVar, 'running_var')];
  const normalise = (x: string): string =>
    g.node('BatchNormalization', [x, scale, shift, ...statistics], [float('epsilon', m.eps), float('momentum', 1 - m.momentum)]);
  if (v.rank === 2) return { ...v, name: normalise(v.name) };
  // Sequences and images: channels-first, joining the run of convolutions around it.
  const x = g.channelsFirst(v);
  return { ...x, name: normalise(x.name) };
};
emitter(BatchNorm1D, batchNorm);
emitter(BatchNorm2D, batchNorm);

/**
 * The error for a module the exporter has no nodes for. A subclass of a built-in type is named
 * by its own class: its config() (and so its label) says the base type, which the exporter does
 * export, but the subclass may override forward or infer, so what it computes is not known
 * (the library's fast paths turn away subclasses for the same reason: train.ts's constructor
 * checks).
 */
function refuse(m: Module, path: string): Error {
  const at = path === '' ? '' : ` at position ${path}`;
  for (let B = Object.getPrototypeOf(m.constructor); B && B !== Module; B = Object.getPrototypeOf(B)) {
    if (!EMITTERS.has(B) && B !== Sequential) continue;
    const own = m.constructor.name === '' ? 'an unnamed class' : m.constructor.name;
    return new TypeError(
      `toONNX: ${own}${at}, a subclass of ${B.name}, has no ONNX export: the exporter writes what ${B.name} itself computes, ` +
        `and a subclass may compute something else; build the network from ${B.name} to export it`,
    );
  }
  return new TypeError(
    `toONNX: ${m.label()} (type ${m.config().type}) has no ONNX export; the exporter knows Sequential, ` +
      `${[...EMITTERS.keys()].map((C) => C.name).join(', ')}`,
  );
}

/**
 * Exports `net` as an ONNX model (opset {@link ONNX_OPSET}): the bytes of a `.onnx` file.
 *
 * The graph has one input `input` of shape `(batch, ...inputShape)` and one output `output`,
 * both float32 and channels-last like neurone's own tensors, and computes what `predict(net, x)`
 * does (it was checked against ONNX Runtime for every module type, within 1e-5 relative).
 * Weights are stored once even when a module sits at several places. Sequentials add no node,
 * however deep they nest (as torch.onnx flattens a nested model); one that contains itself is
 * refused. A module type without an ONNX form (a type of your own, or a subclass of a built-in
 * one) is refused with its name.
 *
 * @param net The network: any module of neurone's built-in types, Sequentials nested at will.
 * @param options `inputShape`, one sample's shape without the batch; `dynamicSize`, leave its length or height and width free; `name`, the graph's name.
 * @returns The bytes of the `.onnx` file.
 * @example
 * fs.writeFileSync('digits.onnx', toONNX(net, { inputShape: [256, 1] }));
 * // Python: onnxruntime.InferenceSession('digits.onnx').run(None, {'input': x})  # x (n, 256, 1)
 */
export function toONNX(net: Module, options: ONNXOptions): Uint8Array {
  if (!(net instanceof Module)) throw new TypeError(`toONNX: net must be a Module, got ${describe(net)}`);
  if (options === null || typeof options !== 'object') throw new TypeError(`toONNX: options must be an object, got ${describe(options)}`);
  checkKnownOptions('toONNX', options, ['inputShape', 'dynamicSize', 'name']);
  const { inputShape } = options;
  checkSampleShape('toONNX', inputShape);
  const name = options.name ?? 'neurone';
  if (typeof name !== 'string' || name === '') throw new TypeError(`toONNX: name must be a non-empty string, got ${describe(name)}`);
  const dynamicSize = options.dynamicSize ?? false;
  if (typeof dynamicSize !== 'boolean') throw new TypeError(`toONNX: dynamicSize must be true or false, got ${describe(dynamicSize)}`);
  // Sequentials add no node: the graph is their modules one after the other, however deep.
  const { places, outline } = unroll(net, 'toONNX', (m): m is Sequential => m instanceof Sequential && m.constructor === Sequential);
  // Refused before any of its methods run (a Sequential's subclass would recurse as deep as it nests).
  for (const p of places) if (!EMITTERS.has(p.module.constructor as ModuleClass<Module>)) throw refuse(p.module, p.path);
  checkModules(places, 'toONNX');
  const outputShape = throughSampleShape('toONNX', inputShape, (shape) => shapeThrough(places, shape));
  const free = dynamicSize ? freeAxes(places, inputShape, outputShape) : { input: [], output: [] };
  // A ceiling's last windows, and what they overhang, follow the size: the graph is written for one.
  const ceiling = dynamicSize ? places.find((p) => p.module instanceof WindowPool && p.module.ceilMode) : undefined;
  if (ceiling) {
    throw new RangeError(
      `toONNX: dynamicSize: ${ceiling.module.label()} counts its windows with the ceiling (ceilMode), which the graph writes for one size; export with a fixed inputShape`,
    );
  }
  const g = new GraphBuilder();
  let value: Value = { name: 'input', rank: inputShape.length + 1, channelsFirst: false };
  let shape: readonly number[] = [1, ...inputShape];
  for (const { module, path } of places) {
    value = EMITTERS.get(module.constructor as ModuleClass<Module>)!(g, module, value, (p) => (path === '' ? p : `${path}.${p}`), shape);
    shape = module.outputShape(shape);
  }
  const out = g.channelsLast(value);
  const last = g.nodes.find((n) => n.output[0] === out.name);
  if (last) last.output[0] = 'output';
  else g.nodes.push({ name: 'output', opType: 'Identity', input: [out.name], output: ['output'], attribute: [] });
  const valueInfo = (valueName: string, dims: number[], names: readonly (string | undefined)[]): object => ({
    name: valueName,
    type: {
      tensorType: {
        elemType: DATA_TYPE.FLOAT,
        shape: { dim: [{ dimParam: 'batch' }, ...dims.map((d, i) => (names[i] ? { dimParam: names[i] } : { dimValue: d }))] },
      },
    },
  });
  checkONNXSize(g.initializers.reduce((a, t) => a + t.rawData.length, 0));
  const Model = modelProto();
  const message = Model.fromObject({
    irVersion: ONNX_IR_VERSION,
    producerName: 'neurone',
    producerVersion: producerVersion(),
    docString: `neurone ${outline()}`,
    opsetImport: [{ domain: '', version: ONNX_OPSET }],
    graph: {
      name,
      node: g.nodes,
      initializer: g.initializers,
      input: [valueInfo('input', [...inputShape], free.input)],
      output: [valueInfo('output', outputShape.slice(1), free.output)],
    },
  });
  return Model.encode(message).finish();
}

/**
 * The names of the sample axes `dynamicSize` frees (undefined: fixed), input and output, after
 * checking the network takes another size: every axis but the channels doubled. An output axis is
 * free when it changes at one of several larger sizes (a stride longer than its kernel leaves the
 * output of the smallest sizes alike: a 1×1 kernel at stride 2 gives 1 at sizes 1 and 2, 2 at 3),
 * the last of them longer than any stride and than two strides one after the other.
 */
function freeAxes(
  places: readonly Place[],
  inputShape: readonly number[],
  outputShape: readonly number[],
): { input: (string | undefined)[]; output: (string | undefined)[] } {
  const spatial = inputShape.length - 1;
  if (spatial === 0)
    throw new RangeError(`toONNX: dynamicSize frees the length, or height and width, of a sample; inputShape [${inputShape[0]}] has none`);
  const scaled = (factor: number, add = 0): number[] => inputShape.map((d, i) => (i < spatial ? factor * d + add : d));
  const through = (shape: readonly number[]): number[] => shapeThrough(places, [1, ...shape]);
  try {
    through(scaled(2));
  } catch (e) {
    throw new RangeError(
      `toONNX: dynamicSize: the network takes no other size than [${inputShape.join(', ')}] (at [${scaled(2).join(', ')}]: ${firstLine(e)})`,
    );
  }
  const free = outputShape.map(() => false);
  // The last sizes are past the longest stride or kernel a layer may have (ARGUMENT_LIMITS), and
  // past two of them one after the other: a pooling of stride 300 gives one position up to size
  // 300 (shapes only: nothing is allocated; more layers of the largest strides are not covered).
  const beyondOneStride = 2 * ARGUMENT_LIMITS.maxDimension + 5;
  const beyondTwoStrides = 2 * ARGUMENT_LIMITS.maxDimension ** 2 + 5;
  const probes = [scaled(2), scaled(2, 1), scaled(3), scaled(8, 3), scaled(64, 7), scaled(1, beyondOneStride), scaled(1, beyondTwoStrides)];
  for (const shape of probes) {
    let out: number[];
    try {
      out = through(shape);
    } catch {
      continue; // a size this network does not take
    }
    out.forEach((d, i) => (free[i] ||= d !== outputShape[i]));
  }
  const names =
    spatial === 1 ? ['length'] : spatial === 2 ? ['height', 'width'] : inputShape.slice(0, spatial).map((_, i) => `dim${i + 1}`);
  return {
    input: inputShape.map((_, i) => names[i]),
    output: outputShape.slice(1).map((_, i) => (free[i + 1] ? `output_dim${i + 1}` : undefined)),
  };
}

function producerVersion(): string {
  try {
    return packageManifest().version;
  } catch {
    return '';
  }
}
