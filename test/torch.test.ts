/**
 * PyTorch's layout of the weights (`save(net, path, { layout: 'torch' })`, `load(path, { layout:
 * 'torch', into })`): the conversions on their own, then for real with PyTorch through
 * /usr/bin/python3 (test/torch-roundtrip.py): neurone's file into the equivalent `nn.Sequential`
 * with a strict `load_state_dict`, and PyTorch's freshly initialised weights into neurone, each
 * side's predictions compared within 1e-5 of the output's scale.
 *
 * Where /usr/bin/python3 cannot import torch the PyTorch tests do not run and say NOT APPLICABLE;
 * with NEURONE_REQUIRE_TORCH=1 (CI, which installs python3-torch) that is a failure instead.
 */
import { spawnSync } from 'child_process';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { Module, Parameter, Sequential, Linear, Conv1D, ConvTranspose1D, Upsample1D, MaxPool1D, AvgPool1D, Flatten } from '../lib/nn';
import { ReLU, LeakyReLU, Softmax, TanH, LogSoftmax, SoftPlus, StableSigmoid, Identity, Sigmoid, SiLU, ELU, GELU } from '../lib/nn';
import { Dropout, BatchNorm1D, BatchNorm2D } from '../lib/nn';
import { Conv2D, ConvTranspose2D, MaxPool2D, AvgPool2D, GlobalAvgPool2D, Upsample2D, Reshape } from '../lib/nn';
import {
  save,
  load,
  loadWeights,
  buildModule,
  readSafetensors,
  registerModule,
  writeSafetensors,
  loadWithSampleShape,
} from '../lib/serialize';
import { buildModel, presetDescription } from '../lib/cli/presets';
import { Rng, seed } from '../lib/random';
import { Tensor, fromArray, randn, toArray, zeros } from '../lib/tensor';
import { CELogSoftmaxLoss, CrossEntropyLoss } from '../lib/losses';
import { predict } from '../lib/train';
import { SGD } from '../lib/optim';
import { setBackend } from '../lib/backend';
import { torchEntries } from '../lib/export/torch';
import { availableBackends } from './backends';

const PYTHON = '/usr/bin/python3';
const script = path.join(__dirname, 'torch-roundtrip.py');

function torchMissing(): string | null {
  if (!fs.existsSync(PYTHON)) return `${PYTHON} does not exist`;
  const r = spawnSync(PYTHON, ['-c', 'import torch, numpy'], { encoding: 'utf8', timeout: 60000 });
  return r.status === 0 ? null : `${PYTHON} cannot import torch and numpy (${(r.stderr || '').trim().split('\n').pop()})`;
}
const missing = torchMissing();

let tmp: string;
beforeAll(() => {
  tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'neurone-torch-'));
});
afterAll(() => fs.rmSync(tmp, { recursive: true, force: true }));

interface Case {
  label: string;
  net: () => Module;
  sample: number[];
  /** Whether PyTorch's own weights can come back (not for a module PyTorch holds twice). */
  fromTorch: boolean;
}

const CASES: Case[] = [
  {
    label: 'preset seed-cnn (a Linear after a Flatten of 32 channels)',
    net: () => buildModel(presetDescription('seed-cnn', { inputSize: 32, numClasses: 10 })),
    sample: [32, 1],
    fromTorch: true,
  },
  {
    label: 'preset cnn2',
    net: () => buildModel(presetDescription('cnn2', { inputSize: 40, numClasses: 4 })),
    sample: [40, 1],
    fromTorch: true,
  },
  { label: 'preset mlp', net: () => buildModel(presetDescription('mlp', { inputSize: 20, numClasses: 3 })), sample: [20], fromTorch: true },
  {
    label: 'every layer with parameters, biases on, strides and paddings',
    net: () =>
      new Sequential(
        new Conv1D(3, 2, 4, 2, { padding: 1, bias: true }),
        new LeakyReLU(0.2),
        new Upsample1D(2),
        new ConvTranspose1D(3, 4, 3, 2, { padding: 1, outputPadding: 1, bias: true }),
        new AvgPool1D(2, 1),
        new TanH(),
        new Flatten(),
        new Linear(3 * 31, 5),
        new Softmax(),
      ),
    sample: [16, 2],
    fromTorch: true,
  },
  {
    label: 'the 2-D layers: a Linear after a Flatten of image channels, rectangular kernels, strides, paddings',
    net: () =>
      new Sequential(
        new Conv2D([3, 2], 2, 4, [2, 1], { padding: [1, 0] }),
        new ReLU(),
        new MaxPool2D(2, 1),
        new ConvTranspose2D(3, 4, 3, 2, { padding: 1, outputPadding: [1, 0], bias: false }),
        new Upsample2D([1, 2]),
        new AvgPool2D([2, 3], [2, 1]),
        new Conv2D(1, 3, 5),
        new Flatten(),
        new Linear(4 * 8 * 5, 4),
      ),
    sample: [9, 5, 2],
    fromTorch: true,
  },
  {
    label: "padding 'same' on even kernels (PyTorch puts the odd zero at the end of the axis, as neurone)",
    net: () =>
      new Sequential(
        new Conv2D([4, 2], 2, 3, 1, { padding: 'same' }),
        new TanH(),
        new Conv2D(2, 3, 2, 1, { padding: 'same', bias: false }),
        new Flatten(),
        new Linear(5 * 6 * 2, 3),
      ),
    sample: [5, 6, 2],
    fromTorch: true,
  },
  {
    label: "poolings with padding: −∞ around a maximum, zeros counted in a mean (PyTorch's defaults)",
    net: () =>
      new Sequential(
        new Conv2D(3, 2, 4, 1, { padding: 1 }),
        new ReLU(),
        new MaxPool2D(3, 2, { padding: 1 }),
        new AvgPool2D([3, 2], 1, { padding: [1, 0], countIncludePad: false }),
        new Flatten(),
        new Linear(4 * 4 * 2, 3),
      ),
    sample: [7, 5, 2],
    fromTorch: true,
  },
  {
    label: "ceilMode (PyTorch's ceil_mode): overhanging last windows, a mean over what they cover",
    net: () =>
      new Sequential(
        new Conv2D(3, 2, 3, 1, { padding: 1 }),
        new MaxPool2D(2, 2, { ceilMode: true }),
        new AvgPool2D(3, 2, { padding: 1, ceilMode: true }),
        new AvgPool2D([2, 1], [2, 1], { padding: [1, 0], ceilMode: true, countIncludePad: false }),
        new Flatten(),
        new Linear(2 * 3 * 3, 2),
      ),
    sample: [7, 9, 2],
    fromTorch: true,
  },
  {
    label: '1-D poolings with padding',
    net: () =>
      new Sequential(
        new Conv1D(3, 2, 3, 1, { bias: true }),
        new MaxPool1D(2, 2, { padding: 1 }),
        new AvgPool1D(3, 1, { padding: 1, countIncludePad: false }),
        new AvgPool1D(2, 2, { ceilMode: true }),
        new MaxPool1D(2, 2, { padding: 1, ceilMode: true }),
        new Flatten(),
        new Linear(2 * 3, 2),
      ),
    sample: [10, 2],
    fromTorch: true,
  },
  {
    label: "padding 'same' on even 1-D kernels",
    net: () =>
      new Sequential(
        new Conv1D(4, 2, 3, 1, { padding: 'same', bias: true }),
        new TanH(),
        new Conv1D(2, 3, 2, 1, { padding: 'same' }),
        new Flatten(),
        new Linear(7 * 2, 3),
      ),
    sample: [7, 2],
    fromTorch: true,
  },
  {
    label: 'an image from a flat input (Reshape), GlobalAvgPool2D head',
    net: () =>
      new Sequential(new Reshape([6, 6, 1]), new Conv2D(3, 1, 4, 1, { padding: 1 }), new TanH(), new GlobalAvgPool2D(), new Linear(4, 2)),
    sample: [36],
    fromTorch: true,
  },
  {
    label: 'the other activations, Linear without bias',
    net: () =>
      new Sequential(
        new Linear(6, 5),
        new SoftPlus(),
        new Linear(5, 4, { bias: false }),
        new StableSigmoid(),
        new Identity(),
        new Linear(4, 5),
        new SiLU(),
        new Linear(5, 5),
        new ELU(0.7),
        new Linear(5, 5),
        new GELU(),
        new Linear(5, 3),
        new Sigmoid(),
      ),
    sample: [6],
    fromTorch: true,
  },
  {
    label: 'a module at two places and a nested Sequential',
    net: () => {
      const conv = new Conv1D(3, 4, 4, 1, { padding: 1, bias: true });
      return new Sequential(conv, new ReLU(), conv, new Sequential(new MaxPool1D(2), new Flatten(), new Linear(20, 3)), new LogSoftmax());
    },
    sample: [10, 4],
    fromTorch: false,
  },
  {
    label: 'BatchNorm1D after a convolution and on features, Dropout, BatchNorm2D, running estimates moved',
    net: () => {
      const rng = new Rng(12);
      const conv = new Sequential(
        new Conv1D(3, 2, 3, 1, { bias: true }),
        new BatchNorm1D(3, { momentum: 0.3 }),
        new Dropout(0.5),
        new ReLU(),
      );
      const net = new Sequential(conv, new Flatten(), new Linear(18, 4), new BatchNorm1D(4, { affine: false }), new TanH());
      // Training-mode passes move the running estimates away from 0 and 1.
      for (let i = 0; i < 3; i++) net.forward(randn([4, 8, 2], rng));
      return net;
    },
    sample: [8, 2],
    fromTorch: true,
  },
  {
    label: 'BatchNorm2D on (batch, height, width, chan), then a Linear over its flattened channels',
    net: () => {
      const net = new Sequential(new BatchNorm2D(3, { eps: 1e-3 }), new Flatten(), new Linear(3 * 4 * 2, 2));
      for (let i = 0; i < 2; i++) net.forward(randn([3, 4, 2, 3], new Rng(13 + i)));
      return net;
    },
    sample: [4, 2, 3],
    fromTorch: true,
  },
  {
    label: 'a Flatten of a 3-channel image with no layer before it to say the channels (inputShape does)',
    net: () => new Sequential(new Flatten(), new Linear(4 * 4 * 3, 5)),
    sample: [4, 4, 3],
    fromTorch: true,
  },
  {
    label: 'pooling alone before the Flatten of a 3-channel image',
    net: () => new Sequential(new MaxPool2D(2), new Flatten(), new Linear(2 * 2 * 3, 3)),
    sample: [4, 4, 3],
    fromTorch: true,
  },
  {
    label: 'a BatchNorm1D between the Flatten of channels and the Linear, running estimates moved',
    net: () => {
      const net = new Sequential(new Conv2D(3, 2, 4), new ReLU(), new Flatten(), new BatchNorm1D(3 * 3 * 4), new Linear(3 * 3 * 4, 3));
      for (let i = 0; i < 2; i++) net.forward(randn([4, 5, 5, 2], new Rng(21 + i)));
      return net;
    },
    sample: [5, 5, 2],
    fromTorch: true,
  },
  {
    label: "Reshape([-1]) flattening a convolution's channels, and a Flatten then Reshape([-1])",
    net: () =>
      new Sequential(
        new Conv2D(3, 2, 4),
        new ReLU(),
        new Reshape([-1]),
        new Linear(4 * 4 * 4, 6),
        new Reshape([6, 1]),
        new Conv1D(1, 1, 2, 1, { bias: true }),
        new Flatten(),
        new Reshape([-1]),
        new Linear(12, 3),
      ),
    sample: [6, 6, 2],
    fromTorch: true,
  },
  {
    label: 'a decoder: Linear, BatchNorm1D on its features, Reshape to an image; a Flatten of one channel, Reshape back',
    net: () => {
      const net = new Sequential(
        new Linear(4, 16),
        new BatchNorm1D(16),
        new ReLU(),
        new Reshape([4, 4, 1]),
        new Conv2D(3, 1, 1, 1, { padding: 1 }),
        new Flatten(),
        new Reshape([4, 4, 1]),
        new Conv2D(3, 1, 2),
        new Flatten(),
        new Linear(8, 3),
      );
      for (let i = 0; i < 2; i++) net.forward(randn([5, 4], new Rng(41 + i)));
      return net;
    },
    sample: [4],
    fromTorch: true,
  },
];

/** max |a − b| / max |b|. */
function relativeError(a: Float32Array, b: Float32Array): number {
  let diff = 0;
  let scale = 0;
  for (let i = 0; i < b.length; i++) {
    diff = Math.max(diff, Math.abs(a[i] - b[i]));
    scale = Math.max(scale, Math.abs(b[i]));
  }
  return scale === 0 ? diff : diff / scale;
}

const f32 = (t: Float32Array): Buffer => Buffer.from(t.buffer, t.byteOffset, t.byteLength);
function readF32(file: string): Float32Array {
  const b = fs.readFileSync(file);
  return new Float32Array(b.buffer.slice(b.byteOffset, b.byteOffset + b.byteLength));
}

describe("layout 'torch' without PyTorch", () => {
  test('names and shapes are those of the equivalent state_dict; the file loads back to the same predictions', () => {
    seed(4);
    const net = CASES[3].net();
    const file = path.join(tmp, 'layers.safetensors');
    save(net, file, { layout: 'torch' });
    const { tensors, metadata } = readSafetensors(file);
    expect(metadata['neurone.layout']).toBe('torch');
    expect(Object.fromEntries([...tensors].map(([k, t]) => [k, t.shape]))).toEqual({
      '0.weight': [4, 2, 3],
      '0.bias': [4],
      '3.weight': [4, 3, 3],
      '3.bias': [3],
      '7.weight': [5, 93],
      '7.bias': [5],
    });
    const x = randn([3, 16, 2], new Rng(1));
    const again = load(file);
    expect(Array.from(predict(again, x).data)).toEqual(Array.from(predict(net, x).data));
    const into = buildModule(net.config());
    loadWeights(into, file);
    expect(Array.from(predict(into, x).data)).toEqual(Array.from(predict(net, x).data));
  });

  test('the Linear after a Flatten of channels takes its columns in PyTorch’s channel-major order', () => {
    const lin = new Linear(6, 1, { bias: false });
    lin.weight.data.set([0, 1, 2, 3, 4, 5]); // neurone rows l·C + c for L = 3, C = 2
    const net = new Sequential(new Conv1D(1, 2, 2), new Flatten(), lin);
    const file = path.join(tmp, 'flatten.safetensors');
    save(net, file, { layout: 'torch' });
    // PyTorch column c·L + l: channel 0 at l = 0, 1, 2 then channel 1.
    expect(Array.from(readSafetensors(file).tensors.get('2.weight')!.data)).toEqual([0, 2, 4, 1, 3, 5]);
  });

  test("BatchNorm: weight, bias, running_mean, running_var and an int64 num_batches_tracked, as PyTorch's state_dict", () => {
    const bn = new BatchNorm2D(2);
    const net = new Sequential(bn, new Dropout(0.2));
    for (let i = 0; i < 3; i++) net.forward(randn([2, 3, 3, 2], new Rng(i)));
    bn.numBatchesTracked = 2 ** 33 + 5;
    const file = path.join(tmp, 'bn.safetensors');
    save(net, file, { layout: 'torch' });
    const { tensors } = readSafetensors(file);
    expect([...tensors].map(([k, t]) => [k, t.dtype, t.shape])).toEqual([
      ['0.weight', 'F32', [2]],
      ['0.bias', 'F32', [2]],
      ['0.running_mean', 'F32', [2]],
      ['0.running_var', 'F32', [2]],
      ['0.num_batches_tracked', 'I64', []],
    ]);
    // The int64's little-endian bytes: low word, high word.
    expect(Array.from(tensors.get('0.num_batches_tracked')!.data)).toEqual([5, 2]);
    const again = load(file) as Sequential;
    const loaded = again.modules[0] as BatchNorm2D;
    expect(Array.from(loaded.runningVar.data)).toEqual(Array.from(bn.runningVar.data));
    expect(Array.from(loaded.runningMean.data)).toEqual(Array.from(bn.runningMean.data));
    expect(loaded.numBatchesTracked).toBe(2 ** 33 + 5);
    const x = randn([2, 3, 3, 2], new Rng(7));
    expect(Array.from(predict(again, x).data)).toEqual(Array.from(predict(net, x).data));
  });

  test('a module at two places is stored under both names, and shared again on load', () => {
    const lin = new Linear(3, 3);
    const net = new Sequential(lin, new TanH(), lin);
    const file = path.join(tmp, 'tied.safetensors');
    save(net, file, { layout: 'torch' });
    expect([...readSafetensors(file).tensors.keys()]).toEqual(['0.weight', '0.bias', '2.weight', '2.bias']);
    const again = load(file) as Sequential;
    expect(again.modules[0]).toBe(again.modules[2]);
  });

  test('refusals name the tensor, the module or the option', () => {
    const net = new Sequential(new Linear(3, 2));
    const file = path.join(tmp, 'small.safetensors');
    save(net, file, { layout: 'torch' });
    expect(() => load(file, { layout: 'neurone' })).toThrow(/the file is in PyTorch's layout/);
    expect(() => load(file, { into: new Sequential(new Linear(2, 3)) })).toThrow(
      /tensor '0.weight' has shape \(2, 3\), Linear\(2, 3\) at position 0 expects \(3, 2\) in PyTorch's layout/,
    );
    expect(() => load(file, { into: new Sequential(new TanH(), new Linear(3, 2)) })).toThrow(
      /tensor '0.weight' matches no parameter .* in PyTorch's layout \(expected: 1.weight, 1.bias\)/,
    );
    expect(() => load(file, { layout: 'pytorch' as never })).toThrow(/^load: layout must be 'neurone' or 'torch', got string pytorch/);
    expect(() => save(net, file, { layout: 'tf' as never })).toThrow(/^save: layout must be 'neurone' or 'torch'/);
    expect(() => load(file, { into: {} as never })).toThrow(/^load: into must be a Module/);
    expect(() => load(file, { into: new Sequential(new Linear(null as unknown as number, 2)) })).toThrow(
      /^load: .*small\.safetensors: Linear\(null, 2\) at position 0 takes its input size from its first input, not known yet, so it has no weights to load into; call net\.build\(inputShape\) first/,
    );
    // A neurone-layout file read as PyTorch's: its metadata says so (a square weight would load transposed).
    const plain = path.join(tmp, 'plain.safetensors');
    save(net, plain);
    const neurones = /plain\.safetensors: the file is in neurone's layout \(saved without layout 'torch'\), not PyTorch's/;
    expect(() => load(plain, { layout: 'torch', into: new Sequential(new Linear(3, 2)) })).toThrow(neurones);
    expect(() => load(plain, { layout: 'torch' })).toThrow(neurones);
    expect(() => loadWeights(new Sequential(new Linear(3, 2)), plain, { layout: 'torch' })).toThrow(neurones);
  });

  test("a Linear over each position of a convolution's output is refused: nn.Linear would read a position axis", () => {
    const file = path.join(tmp, 'per-position.safetensors');
    const refused =
      /^save: .*per-position\.safetensors: Linear\(4, 3\) at position 2 reads each position of a value with channels \(no Flatten before it\), and nn\.Linear on PyTorch's channels-first layout would read a position axis instead/;
    const net = new Sequential(new Conv1D(3, 1, 4), new ReLU(), new Linear(4, 3));
    expect(() => save(net, file, { layout: 'torch' })).toThrow(refused);
    // Given a sample shape of positions, a Linear first is refused too; rows and a Flatten are not.
    expect(() => save(new Sequential(new Linear(4, 3)), file, { layout: 'torch', inputShape: [5, 4] })).toThrow(
      /Linear\(4, 3\) at position 0 reads each position/,
    );
    expect(fs.existsSync(file)).toBe(false);
    save(new Sequential(new Linear(4, 3)), file, { layout: 'torch', inputShape: [4] });
    save(new Sequential(new Conv1D(3, 1, 4), new Flatten(), new Linear(8, 3)), file, { layout: 'torch' });
  });

  test('a Flatten of channels no layer says is refused without inputShape, naming how to give it', () => {
    const flatFirst = new Sequential(new Flatten(), new Linear(48, 5));
    const file = path.join(tmp, 'flat-first.safetensors');
    const refused =
      /^save: .*flat-first\.safetensors: Flatten\(\) at position 0 flattens an input whose channels no layer before it says, and Linear\(48, 5\) at position 1 reads it: .*; pass inputShape/;
    expect(() => save(flatFirst, file, { layout: 'torch' })).toThrow(refused);
    expect(fs.existsSync(file)).toBe(false);
    // Pooling says no channels either; a BatchNorm1D reading the Flatten is refused as the Linear.
    expect(() => save(new Sequential(new MaxPool2D(2), new Flatten(), new Linear(12, 3)), file, { layout: 'torch' })).toThrow(
      /Flatten\(\) at position 1 flattens an input whose channels/,
    );
    expect(() => save(new Sequential(new Flatten(), new BatchNorm1D(48)), file, { layout: 'torch' })).toThrow(
      /and BatchNorm1D\(48\) at position 1 reads it/,
    );
    // Rows and one-channel images need no reordering; three channels do.
    const columns = (inputShape: number[]): Float32Array => {
      save(flatFirst, file, { layout: 'torch', inputShape });
      return readSafetensors(file).tensors.get('1.weight')?.data as Float32Array;
    };
    const w = flatFirst.modules[1].parameters()[0].value;
    w.data.forEach((_, i) => (w.data[i] = i));
    const plain = torchEntries(new Sequential(flatFirst.modules[1]), 't')[0].toTorch();
    expect(Array.from(columns([48]))).toEqual(Array.from(plain));
    expect(Array.from(columns([4, 12, 1]))).toEqual(Array.from(plain));
    const rgb = columns([4, 4, 3]);
    expect(Array.from(rgb)).not.toEqual(Array.from(plain));
    // PyTorch's column c·16 + p (channel c, pixel p) is neurone's row p·3 + c.
    expect(rgb[1 * 16 + 5]).toBe(w.data[(5 * 3 + 1) * 5]);
    // The file keeps the shape it was saved for: it loads back by itself, and a contradicting
    // shape is refused.
    const back = load(file);
    const x = randn([2, 4, 4, 3], new Rng(6));
    expect(Array.from(predict(back, x).data)).toEqual(Array.from(predict(flatFirst, x).data));
    expect(() => load(file, { inputShape: [48] })).toThrow(/was saved for inputShape \[4, 4, 3\], not \[48\]/);
    // The same rule on the way in, for a file saved without a shape.
    save(new Sequential(new Linear(48, 5)), file, { layout: 'torch' });
    expect(() => load(file, { into: new Sequential(new Flatten(), new Linear(48, 5)) })).toThrow(/pass inputShape/);
    expect(() => save(flatFirst, file, { layout: 'torch', inputShape: [4, 4, 2] })).toThrow(
      /^save: .*: inputShape \[4, 4, 2\] does not fit the network: Linear\(48, 5\)/,
    );
    // The exporters' one check of a sample shape: toONNX's message, a sparse array's hole refused.
    for (const inputShape of [[0, 48], Object.assign(new Array<number>(3), { 0: 4, 2: 3 })])
      expect(() => save(flatFirst, file, { layout: 'torch', inputShape })).toThrow(
        /^save: .*: inputShape must be the shape of one sample \(positive integers, without the batch\), got /,
      );
    // neurone's layout keeps a sample shape too (for `neurone export`), checked the same way.
    save(flatFirst, file, { inputShape: [4, 4, 3] });
    expect(loadWithSampleShape(file).sampleShape).toEqual([4, 4, 3]);
    expect(Array.from(predict(load(file), x).data)).toEqual(Array.from(predict(flatFirst, x).data));
    expect(() => load(file, { inputShape: [4, 4, 3] })).toThrow(/inputShape applies to files in layout 'torch' only/);
    expect(() => save(flatFirst, file, { inputShape: [4, 4, 2] })).toThrow(
      /^save: .*: inputShape \[4, 4, 2\] does not fit the network: Linear\(48, 5\)/,
    );
    expect(() => save(flatFirst, file, { inputShape: [0, 48] })).toThrow(/^save: .*: inputShape must be the shape of one sample/);
    // A batch given with the sample (PyTorch's dummy input): the same hint as toONNX's, both layouts.
    for (const layout of ['neurone', 'torch'] as const)
      expect(() => save(flatFirst, file, { layout, inputShape: [2, 4, 4, 3] })).toThrow(
        /^save: .*: inputShape \[2, 4, 4, 3\] does not fit the network: .*\(inputShape is one sample's shape, without the batch: \[4, 4, 3\]\?\)$/,
      );
    save(flatFirst, file);
    expect(loadWithSampleShape(file).sampleShape).toBeUndefined();
  });

  test('an output flattened from several channels, or a Reshape of a value with channels, has no counterpart', () => {
    const file = path.join(tmp, 'never.safetensors');
    expect(() => save(new Sequential(new Conv2D(3, 2, 3), new Flatten()), file, { layout: 'torch' })).toThrow(
      /the network's output is Flatten\(\) at position 1's flattening of 3 channels, which nn\.Flatten orders channel-first/,
    );
    expect(() => save(new Sequential(new Conv2D(3, 2, 3), new Flatten(), new Softmax()), file, { layout: 'torch' })).toThrow(
      /output is Flatten\(\) at position 1's flattening of 3 channels/,
    );
    expect(() => save(new Sequential(new Flatten()), file, { layout: 'torch' })).toThrow(
      /its order in PyTorch depends on them; pass inputShape/,
    );
    expect(() =>
      save(new Sequential(new Conv2D(3, 2, 4), new Flatten(), new BatchNorm1D(10), new Linear(10, 2)), file, { layout: 'torch' }),
    ).toThrow(/BatchNorm1D\(10\) at position 2 reads a Flatten of 4 channels, but 10 features is not a multiple of it/);
    expect(() => save(new Sequential(new Flatten()), file, { layout: 'torch', inputShape: [4, 4, 1] })).not.toThrow();
    expect(() => save(new Sequential(new Conv2D(3, 2, 3), new Reshape([-1, 1])), file, { layout: 'torch' })).toThrow(
      /Reshape\(\[-1, 1\]\) at position 1 \(Reshape to \[-1, 1\]\) reshapes a value with channels: .*put a Flatten before it/,
    );
  });

  test('misspelt options are refused, and a file neurone did not write must say its layout', () => {
    const net = new Sequential(new Linear(8, 8), new ReLU(), new Linear(8, 8));
    const file = path.join(tmp, 'square.safetensors');
    expect(() => save(net, file, { layot: 'torch' } as never)).toThrow(/^save: unknown option 'layot' \(did you mean 'layout'\?\)/);
    save(net, file, { layout: 'torch' });
    expect(() => load(file, { into: net, layot: 'torch' } as never)).toThrow(/^load: unknown option 'layot'/);
    expect(() => loadWeights(net, file, { layot: 'torch' } as never)).toThrow(/^loadWeights: unknown option 'layot'/);
    // What PyTorch writes: its state_dict, no neurone metadata. The square weights have the same
    // names and shapes in both layouts, so only the caller can say which this is.
    const { tensors } = readSafetensors(file);
    const torchFile = path.join(tmp, 'from-torch.safetensors');
    writeSafetensors(
      torchFile,
      [...tensors.entries()].map(([name, t]) => ({ ...t, name })),
      {},
    );
    const said =
      /was not written by neurone \(no neurone\.format in its metadata\); say its layout: \{ layout: 'torch' \} for a PyTorch state_dict/;
    expect(() => load(torchFile, { into: new Sequential(new Linear(8, 8), new ReLU(), new Linear(8, 8)) })).toThrow(said);
    expect(() => loadWeights(new Sequential(new Linear(8, 8), new ReLU(), new Linear(8, 8)), torchFile)).toThrow(said);
    expect(() => load(torchFile)).toThrow(said);
    const again = new Sequential(new Linear(8, 8), new ReLU(), new Linear(8, 8));
    loadWeights(again, torchFile, { layout: 'torch' });
    const x = randn([3, 8], new Rng(4));
    expect(Array.from(predict(again, x).data)).toEqual(Array.from(predict(net, x).data));
    // A file in neurone's layout without the metadata loads when it says so.
    const neuroneFile = path.join(tmp, 'bare.safetensors');
    writeSafetensors(
      neuroneFile,
      net.parameters().map((p) => ({ name: p.name, dtype: 'F32' as const, shape: [...p.value.shape], data: p.value.data })),
      {},
    );
    const bare = new Sequential(new Linear(8, 8), new ReLU(), new Linear(8, 8));
    loadWeights(bare, neuroneFile, { layout: 'neurone' });
    expect(Array.from(predict(bare, x).data)).toEqual(Array.from(predict(net, x).data));
  });

  test('a model file of another format says which', () => {
    const cases: [string, Buffer, RegExp][] = [
      [
        'model.pt',
        Buffer.from('PK\x03\x04\x00\x00\x08\x08rest', 'latin1'),
        /it begins as a zip archive \(torch\.save's \.pt\/\.pth format\)/,
      ],
      ['old.pt', Buffer.from('\x80\x02\x8a\x0alzxrest..', 'latin1'), /it begins as a Python pickle/],
      ['model.h5', Buffer.from('\x89HDF\r\n\x1a\nrest', 'latin1'), /it begins as an HDF5 file/],
      ['model.onnx', Buffer.from('\x08\x08\x12\x07pytorch', 'latin1'), /it begins as a protobuf message \(an ONNX model\?\)/],
    ];
    for (const [name, bytes, pattern] of cases) {
      const file = path.join(tmp, name);
      fs.writeFileSync(file, Buffer.concat([bytes, Buffer.alloc(64, 0x41)]));
      expect(() => load(file)).toThrow(pattern);
    }
  });

  test('a module type of the user’s own has no PyTorch counterpart', () => {
    class Twice extends Module {
      config(): { type: string; args: unknown[] } {
        return { type: 'TwiceForTorchTest', args: [] };
      }
      outputShape(s: readonly number[]): number[] {
        return [...s];
      }
      forward(x: Tensor): Tensor {
        return { shape: x.shape, data: x.data.map((v) => 2 * v) };
      }
      backwardDelta(_x: Tensor, d: Tensor): Tensor {
        return d;
      }
    }
    registerModule('TwiceForTorchTest', () => new Twice());
    expect(() => save(new Sequential(new Linear(2, 2), new Twice()), path.join(tmp, 'own.safetensors'), { layout: 'torch' })).toThrow(
      /layout 'torch' knows neurone's built-in modules; TwiceForTorchTest\(\) at position 1 \(type TwiceForTorchTest\) has no PyTorch counterpart/,
    );
    expect(fs.existsSync(path.join(tmp, 'own.safetensors'))).toBe(false);
  });
});

describe("layout 'torch' on networks built to break it", () => {
  test('Sequentials nested 10,000 deep: the names of the equivalent state_dict, found without recursion', () => {
    const root = new Sequential();
    let at = root;
    for (let i = 1; i < 10_000; i++) {
      const next = new Sequential();
      at.add(next);
      at = next;
    }
    at.add(new Linear(2, 3));
    const prefix = Array(10_000).fill('0').join('.');
    expect(torchEntries(root, 'test').map((e) => [e.name, e.shape])).toEqual([
      [`${prefix}.weight`, [3, 2]],
      [`${prefix}.bias`, [3]],
    ]);
  });

  test('a weight whose shape was edited by hand is refused by name before anything is written', () => {
    const lin = new Linear(3, 2);
    Object.assign(lin.weight, { shape: [2, 3] });
    const net = new Sequential(new ReLU(), lin);
    expect(() => torchEntries(net, 'export')).toThrow(
      /^export: parameter 1\.weight of Linear\(3, 2\) at position 1 must have shape \(3, 2\) \(6 values\), got \(2, 3\) holding 6 values$/,
    );
    const file = path.join(tmp, 'edited.safetensors');
    expect(() => save(net, file, { layout: 'torch' })).toThrow(
      /parameter 1\.weight of Linear\(3, 2\) at position 1 must have shape \(3, 2\)/,
    );
    expect(fs.existsSync(file)).toBe(false);
  });

  test('something other than a Module pushed into a Sequential is refused by its place', () => {
    const net = new Sequential(new Linear(2, 2));
    (net.modules as unknown[]).push(undefined);
    expect(() => torchEntries(net, 'export')).toThrow(/^export: the module at position 1 is not a Module, got undefined$/);
  });

  test('loading into a Sequential that contains itself is refused naming both places', () => {
    const file = path.join(tmp, 'into-cycle.safetensors');
    save(new Sequential(new Linear(2, 2)), file, { layout: 'torch' });
    const inner = new Sequential(new ReLU());
    const into = new Sequential(new Linear(2, 2), inner);
    (inner.modules as Module[]).push(into);
    expect(() => load(file, { layout: 'torch', into })).toThrow(
      /^load: .*into-cycle\.safetensors: the Sequential at the root contains itself \(again at position 1\.1\): a network cannot hold itself$/,
    );
  });
});

/** Runs test/torch-roundtrip.py on `jobs`; returns the output shapes. */
function python(jobs: object[]): number[][] {
  const manifest = path.join(tmp, `jobs-${Date.now()}-${Math.random()}.json`);
  fs.writeFileSync(manifest, JSON.stringify(jobs));
  const r = spawnSync(PYTHON, [script, manifest], { encoding: 'utf8', timeout: 300000 });
  if (r.status !== 0) throw new Error(`torch-roundtrip.py failed (${r.status}): ${r.stderr}`);
  return JSON.parse(r.stdout) as number[][];
}

function compare(label: string, got: Float32Array, shape: number[], expected: Tensor): void {
  expect([label, shape]).toEqual([label, [...expected.shape]]);
  const err = relativeError(got, expected.data);
  if (!(err <= 1e-5)) throw new Error(`${label}: PyTorch and neurone differ by ${err} (relative)`);
}

if (missing !== null) {
  test(`PyTorch round trip: NOT APPLICABLE, ${missing}`, () => {
    if (process.env.NEURONE_REQUIRE_TORCH === '1')
      throw new Error(`NEURONE_REQUIRE_TORCH=1 but ${missing} (apt-get install python3-torch)`);
    console.warn(`PyTorch round trip: NOT APPLICABLE (${missing}); install python3-torch to run it`);
  });
} else {
  describe('with PyTorch (/usr/bin/python3)', () => {
    test('SGD with momentum, dampening, Nesterov and weight decay takes the steps of torch.optim.SGD', () => {
      const rng = new Rng(3);
      const n = 7;
      const steps = 5;
      const w0 = Array.from(randn([n], rng).data);
      const grads = Array.from({ length: steps }, () => Array.from(randn([n], rng).data));
      const cases = [
        { momentum: 0.9, dampening: 0, nesterov: false, weightDecay: 0 },
        { momentum: 0.9, dampening: 0.3, nesterov: false, weightDecay: 0.01 },
        { momentum: 0.8, dampening: 0, nesterov: true, weightDecay: 0.05 },
        { momentum: 0.5, dampening: 1, nesterov: false, weightDecay: 0 },
      ];
      const py = [
        'import json, sys, torch',
        'job = json.load(sys.stdin)',
        'out = []',
        'for c in job["cases"]:',
        '    w = torch.nn.Parameter(torch.tensor(job["w0"], dtype=torch.float32))',
        '    opt = torch.optim.SGD([w], lr=0.1, momentum=c["momentum"], dampening=c["dampening"], nesterov=c["nesterov"], weight_decay=c["weightDecay"])',
        '    trail = []',
        '    for g in job["grads"]:',
        '        w.grad = torch.tensor(g, dtype=torch.float32)',
        '        opt.step()',
        '        trail.append(w.detach().tolist())',
        '    out.append(trail)',
        'print(json.dumps(out))',
      ].join('\n');
      const r = spawnSync(PYTHON, ['-c', py], { input: JSON.stringify({ w0, grads, cases }), encoding: 'utf8', timeout: 120000 });
      expect(r.stderr).toBe('');
      const torchTrails = JSON.parse(r.stdout) as number[][][];
      cases.forEach((c, k) => {
        const p = { name: 'w', value: fromArray(w0), grad: zeros([n]), module: new Linear(1, 1) } as Parameter;
        const opt = new SGD({ lr: 0.1, ...c });
        grads.forEach((g, t) => {
          p.grad.data.set(g);
          opt.step([p]);
          const err = relativeError(p.value.data, Float32Array.from(torchTrails[k][t]));
          if (!(err <= 1e-6)) throw new Error(`SGD ${JSON.stringify(c)} step ${t + 1}: PyTorch and neurone differ by ${err} (relative)`);
        });
      });
    });

    test("class weights: both cross-entropies give torch's loss and gradient, class indices and soft targets, both reductions", () => {
      const rng = new Rng(4);
      const [batch, classes] = [6, 4];
      const logits = randn([batch, classes], rng);
      const labels = [0, 3, 3, 1, 2, 3];
      const soft = Array.from({ length: batch }, (_, b) => {
        const row = Array.from({ length: classes }, (_, c) => Math.abs(Math.sin(b * 7 + c)) + 0.1);
        const t = row.reduce((p, v) => p + v, 0);
        return row.map((v) => v / t);
      });
      const weight = [0.5, 2, 1, 3.25];
      const py = [
        'import json, sys, torch',
        'job = json.load(sys.stdin)',
        'out = []',
        'for reduction in ["mean", "sum"]:',
        '    for target in [torch.tensor(job["labels"]), torch.tensor(job["soft"], dtype=torch.float32)]:',
        '        for fromLogits in [True, False]:',
        '            z = torch.tensor(job["logits" if fromLogits else "logp"], dtype=torch.float32, requires_grad=True)',
        '            w = torch.tensor(job["weight"], dtype=torch.float32)',
        '            if fromLogits: loss = torch.nn.CrossEntropyLoss(weight=w, reduction=reduction)(z, target)',
        '            elif target.dim() == 1: loss = torch.nn.NLLLoss(weight=w, reduction=reduction)(z, target)',
        '            else:',
        '                per = -(w * target * z).sum(1)',
        '                loss = per.mean() if reduction == "mean" else per.sum()',
        '            loss.backward()',
        '            out.append([loss.item(), z.grad.flatten().tolist()])',
        'print(json.dumps(out))',
      ].join('\n');
      const logp = new LogSoftmax().forward(logits);
      const r = spawnSync(PYTHON, ['-c', py], {
        input: JSON.stringify({ logits: toArray(logits), logp: toArray(logp), labels, soft, weight }),
        encoding: 'utf8',
        timeout: 120000,
      });
      expect(r.stderr).toBe('');
      const want = JSON.parse(r.stdout) as [number, number[]][];
      let k = 0;
      for (const reduction of ['mean', 'sum'] as const) {
        for (const y of [fromArray(labels), fromArray(soft)]) {
          for (const loss of [new CELogSoftmaxLoss({ reduction, weight }), new CrossEntropyLoss({ reduction, weight })]) {
            // NLL (neurone's CrossEntropyLoss) takes log-probabilities, given to both libraries.
            const yhat = loss instanceof CrossEntropyLoss ? logp : logits;
            const [wantValue, wantGrad] = want[k++];
            const label = `${loss} on ${y.shape.length === 1 ? 'class indices' : 'soft targets'}`;
            expect([label, loss.value(y, yhat)]).toEqual([label, expect.closeTo(wantValue, 5)]);
            for (const g of [loss.backward(y, yhat), loss.lossAndGradient(y, yhat).gradient]) {
              const err = relativeError(g.data, Float32Array.from(wantGrad));
              if (!(err <= 1e-5)) throw new Error(`${label}: gradients differ from PyTorch by ${err} (relative)`);
            }
          }
        }
      }
      expect(k).toBe(8);
    });

    test('neurone → PyTorch: strict load_state_dict of the saved file, same predictions', () => {
      seed(5);
      const rng = new Rng(9);
      const nets = CASES.map((c) => c.net());
      const jobs = CASES.map((c, i) => {
        const weights = path.join(tmp, `n2t-${i}.safetensors`);
        save(nets[i], weights, { layout: 'torch', inputShape: c.sample });
        const x = randn([3, ...c.sample], rng);
        const input = path.join(tmp, `n2t-${i}.in`);
        fs.writeFileSync(input, f32(x.data));
        return { mode: 'load', arch: nets[i].config(), weights, input, dims: [...x.shape], output: `${input}.out`, x };
      });
      const shapes = python(jobs.map(({ x: _x, ...job }) => job));
      for (const backend of availableBackends()) {
        setBackend(backend);
        jobs.forEach((j, i) => compare(`${CASES[i].label} on ${backend}`, readF32(j.output), shapes[i], predict(nets[i], j.x)));
      }
    });

    test('a training step with BatchNorm: outputs, gradients, running estimates and count as PyTorch computes them', () => {
      const rng = new Rng(14);
      const steps = [
        {
          label: 'BatchNorm2D on images',
          net: (): Module => new Sequential(new BatchNorm2D(3, { momentum: 0.2 })),
          sample: [3, 2, 3],
        },
        {
          // No biases before the BatchNorms: the batch mean absorbs them (their gradient is 0 up to rounding).
          label: 'Conv1D, BatchNorm1D, TanH, Flatten, Linear, BatchNorm1D without affine map',
          net: (): Module =>
            new Sequential(
              new Conv1D(2, 2, 3),
              new BatchNorm1D(3, { eps: 1e-3 }),
              new TanH(),
              new Flatten(),
              new Linear(15, 4, { bias: false }),
              new BatchNorm1D(4, { affine: false, momentum: 0.5 }),
            ),
          sample: [6, 2],
        },
      ];
      const jobs = steps.map((c, i) => {
        seed(20 + i);
        const net = c.net();
        // γ and β away from 1 and 0, so a swapped or missing term shows.
        for (const p of net.parameters())
          if (p.value.shape.length === 1) for (let k = 0; k < p.value.data.length; k++) p.value.data[k] = rng.uniform() * 2 - 0.5;
        const weights = path.join(tmp, `step-${i}.safetensors`);
        save(net, weights, { layout: 'torch' });
        const xs = [randn([5, ...c.sample], rng), randn([5, ...c.sample], rng)];
        const inputs = xs.map((x, k) => {
          const file = path.join(tmp, `step-${i}-${k}.in`);
          fs.writeFileSync(file, f32(x.data));
          return file;
        });
        const outputDims = net.outputShape([5, ...c.sample]);
        const dy = randn(outputDims, rng);
        const delta = path.join(tmp, `step-${i}.delta`);
        fs.writeFileSync(delta, f32(dy.data));
        const out = (name: string): string => path.join(tmp, `step-${i}.${name}`);
        const job = { mode: 'train', arch: net.config(), weights, inputs, dims: [...xs[0].shape], delta, outputDims };
        return {
          job: {
            ...job,
            output: out('y'),
            inputGradient: out('dx'),
            gradients: out('grads'),
            state: out('state'),
            evalOutput: out('eval'),
          },
          weights,
          xs,
          dy,
        };
      });
      python(jobs.map((j) => j.job));
      for (const backend of availableBackends()) {
        setBackend(backend);
        jobs.forEach(({ job, weights, xs, dy }, i) => {
          const where = `${steps[i].label} on ${backend}`;
          const net = load(weights, { layout: 'torch' }) as Sequential;
          net.forward(xs[0]);
          const y = net.forward(xs[1]);
          net.zeroGrad();
          const dx = net.backward(dy);
          compare(`${where}: output`, readF32(job.output), [...y.shape], y);
          compare(`${where}: input gradient`, readF32(job.inputGradient), [...dx.shape], dx);
          const torchGrads = readSafetensors(job.gradients).tensors;
          for (const p of net.parameters()) {
            if (p.value.shape.length !== 1) continue; // biases, γ, β: the same layout on both sides
            const g = torchGrads.get(p.name);
            expect([where, p.name, g !== undefined]).toEqual([where, p.name, true]);
            compare(`${where}: ${p.name} gradient`, g!.data as Float32Array, [...p.grad.shape], p.grad);
          }
          // The state after the step, PyTorch's, loaded into a copy: running estimates and counts agree.
          const after = load(job.state, { layout: 'torch', into: load(weights, { layout: 'torch' }) });
          const mine = net.buffers();
          after.buffers().forEach((b, k) => compare(`${where}: ${b.name}`, b.value.data, [...b.value.shape], mine[k].value));
          const counts = (m: Module): number[] =>
            (m as Sequential).modules
              .filter((c) => c instanceof BatchNorm1D || c instanceof BatchNorm2D)
              .map((c) => (c as BatchNorm1D).numBatchesTracked);
          expect([where, counts(after)]).toEqual([where, counts(net)]);
          net.eval();
          const ye = predict(net, xs[0]);
          compare(`${where}: evaluation output`, readF32(job.evalOutput), [...ye.shape], ye);
        });
      }
    });

    test('PyTorch → neurone: its initial weights loaded with { layout: torch, into }, same predictions', () => {
      const rng = new Rng(10);
      const cases = CASES.filter((c) => c.fromTorch);
      const jobs = cases.map((c, i) => {
        const arch = c.net().config();
        const x = randn([2, ...c.sample], rng);
        const input = path.join(tmp, `t2n-${i}.in`);
        fs.writeFileSync(input, f32(x.data));
        const weights = path.join(tmp, `t2n-${i}.safetensors`);
        return { mode: 'save', arch, weights, input, dims: [...x.shape], output: `${input}.out`, seed: 100 + i, x };
      });
      const shapes = python(jobs.map(({ x: _x, ...job }) => job));
      for (const backend of availableBackends()) {
        setBackend(backend);
        jobs.forEach((j, i) => {
          const net = load(j.weights, { layout: 'torch', into: buildModule(j.arch), inputShape: cases[i].sample });
          compare(`${cases[i].label} on ${backend}`, readF32(j.output), shapes[i], predict(net, j.x));
        });
      }
    });
  });
}
