// The 2-D layers' arguments and shape errors, as a PyTorch or TensorFlow.js user meets them: what
// is refused, and that the message names the layer, its position and expected vs received.
// (Their values and gradients are checked by the registry-driven suites: gradients, serialize,
// onnx, torch, fuzz.)
import {
  AvgPool1D,
  AvgPool2D,
  Conv1D,
  Conv2D,
  ConvTranspose2D,
  ConvTranspose1D,
  BatchNorm2D,
  Flatten,
  GlobalAvgPool2D,
  Linear,
  MaxPool1D,
  MaxPool2D,
  ReLU,
  Reshape,
  Sequential,
  Upsample1D,
  Upsample2D,
} from '../../lib/nn';
import { fromArray, randn, zeros } from '../../lib/tensor';
import { buildModel } from '../../lib/cli/presets';
import { load, save } from '../../lib/serialize';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';

describe('2-D layers: shapes', () => {
  test('Conv2D output size with padding, strides and rectangular kernels, as PyTorch computes it', () => {
    // floor((h + 2p − k) / s) + 1 per axis.
    expect(new Conv2D(5, 1, 6).outputShape([2, 28, 28, 1])).toEqual([2, 24, 24, 6]);
    expect(new Conv2D(3, 8, 4, 2, { padding: 1 }).outputShape([1, 7, 8, 8])).toEqual([1, 4, 4, 4]);
    expect(new Conv2D([3, 1], 2, 2, [2, 1], { padding: [1, 0] }).outputShape([1, 9, 5, 2])).toEqual([1, 5, 5, 2]);
    expect(new ConvTranspose2D(4, 16, 8, 2, { padding: 1 }).outputShape([3, 7, 7, 16])).toEqual([3, 14, 14, 8]);
    expect(new ConvTranspose2D(3, 1, 1, [2, 3], { outputPadding: [1, 2] }).outputShape([1, 4, 4, 1])).toEqual([1, 10, 14, 1]);
    expect(new MaxPool2D(2).outputShape([1, 5, 7, 3])).toEqual([1, 2, 3, 3]);
    expect(new AvgPool2D([3, 2], 1).outputShape([1, 5, 7, 3])).toEqual([1, 3, 6, 3]);
    expect(new GlobalAvgPool2D().outputShape([4, 3, 5, 9])).toEqual([4, 9]);
    expect(new Upsample2D([2, 3]).outputShape([1, 4, 5, 2])).toEqual([1, 8, 15, 2]);
    expect(new Reshape([7, 7, -1]).outputShape([2, 7 * 7 * 16])).toEqual([2, 7, 7, 16]);
    expect(new Flatten().outputShape([2, 4, 4, 16])).toEqual([2, 256]);
  });

  test('a LeNet forward and backward run end to end with the documented shapes', () => {
    const net = new Sequential(
      new Conv2D(5, 1, 6),
      new ReLU(),
      new MaxPool2D(2),
      new Conv2D(5, 6, 16),
      new ReLU(),
      new MaxPool2D(2),
      new Flatten(),
      new Linear(256, 10),
    );
    const x = randn([3, 28, 28, 1]);
    const y = net.forward(x);
    expect(y.shape).toEqual([3, 10]);
    net.backwardUpdateGradient(x, randn([3, 10]));
    const dx = net.backwardDelta(x, randn([3, 10]));
    expect(dx.shape).toEqual([3, 28, 28, 1]);
    expect(Array.from(dx.data).every(Number.isFinite)).toBe(true);
  });
});

describe('labels show the options that change what a layer computes', () => {
  test('padding, output padding, a bias or affine off its default, eps and momentum; not the defaults nor init', () => {
    expect(String(new Conv2D(3, 1, 8, 1, { padding: 'same', bias: false }))).toBe('Conv2D(3, 1, 8, 1, { padding: 1, bias: false })');
    expect(String(new Conv2D([3, 5], 1, 2, 1, { padding: [1, 2] }))).toBe('Conv2D([3, 5], 1, 2, 1, { padding: [1, 2] })');
    expect(String(new Conv2D(3, 1, 8, 1, { init: 'heNormal' }))).toBe('Conv2D(3, 1, 8, 1)');
    expect(String(new Conv1D(3, 1, 2, 1, { bias: true }))).toBe('Conv1D(3, 1, 2, 1, { bias: true })');
    expect(String(new Conv1D(3, 1, 2, 1, { bias: false }))).toBe('Conv1D(3, 1, 2, 1)');
    expect(String(new ConvTranspose2D(4, 8, 4, 2, { padding: 1, outputPadding: 1 }))).toBe(
      'ConvTranspose2D(4, 8, 4, 2, { padding: 1, outputPadding: 1 })',
    );
    expect(String(new ConvTranspose1D(3, 1, 2, 2))).toBe('ConvTranspose1D(3, 1, 2, 2)');
    expect(String(new BatchNorm2D(3, { eps: 1e-3, momentum: 0.1, affine: false }))).toBe('BatchNorm2D(3, { eps: 0.001, affine: false })');
    expect(String(new Linear(2, 3, { bias: false }))).toBe('Linear(2, 3, { bias: false })');
    // Errors name the layer by the same label.
    expect(() => new Sequential(new Conv2D(3, 2, 4, 1, { padding: 1 })).forward(zeros([1, 5, 5, 1]))).toThrow(
      /^Conv2D\(3, 2, 4, 1, \{ padding: 1 \}\) at position 0: /,
    );
  });
});

describe('2-D layers: refusals name the layer, its position, expected and received', () => {
  test('a kernel larger than the padded image, before any kernel runs', () => {
    const net = new Sequential(new Conv2D(3, 1, 2), new Conv2D(5, 2, 2));
    expect(() => net.forward(randn([1, 6, 6, 1]))).toThrow(
      /^Conv2D\(5, 2, 2, 1\) at position 1: expected input \(batch, height >= 5, width >= 5, 2\), got \(1, 4, 4, 2\)$/,
    );
    expect(() => new MaxPool2D([2, 4]).forward(randn([1, 3, 3, 1]))).toThrow(
      /^MaxPool2D\(\[2, 4\], \[2, 4\]\): expected input \(batch, height >= 2, width >= 4, chan >= 1\), got \(1, 3, 3, 1\)$/,
    );
  });

  test("an input without channels, and a layer too large to allocate, in the layer's name", () => {
    const empty = zeros([2, 4, 4, 0]);
    for (const m of [new MaxPool2D(2), new AvgPool2D(2), new GlobalAvgPool2D(), new Upsample2D(2)]) {
      expect(() => m.forward(empty)).toThrow(
        new RegExp(`^${m.label().replace(/[()[\]]/g, '\\$&')}: expected input \\(batch, .*chan >= 1\\), got \\(2, 4, 4, 0\\)$`),
      );
    }
    expect(() => new Upsample1D(2).forward(zeros([2, 4, 0]))).toThrow(
      /^Upsample1D\(2\): expected input \(batch, length, chan >= 1\), got \(2, 4, 0\)$/,
    );
    expect(() => new MaxPool1D(2).forward(zeros([2, 4, 0]))).toThrow(
      /^MaxPool1D\(2, 2\): expected input \(batch, length >= 2, chan >= 1\), got \(2, 4, 0\)$/,
    );
    expect(() => new Conv2D(3, 2 ** 24, 2 ** 24)).toThrow(
      /^Conv2D: its weight of shape \[3, 3, 16777216, 16777216\] would hold 2533274790395904 values, more than the 2\^32 a tensor holds$/,
    );
    expect(() => new Linear(2 ** 24, 2 ** 24)).toThrow(/^Linear: its weight of shape \[16777216, 16777216\] would hold/);
  });

  test('a channel count that does not match, with the channels-first and channel-less hints', () => {
    expect(() => new Conv2D(3, 3, 8).forward(randn([2, 3, 32, 32]))).toThrow(
      /expected input \(batch, height, width, 3\), got \(2, 3, 32, 32\) \(images are channels-last .*the input looks channels-first .* transpose it to \(2, 32, 32, 3\)\)/,
    );
    expect(() => new Conv2D(3, 1, 8).forward(randn([2, 28, 28]))).toThrow(/needs a channel axis: reshape it to \(2, 28, 28, 1\)/);
    expect(() => new Conv2D(3, 1, 8).forward(randn([2, 784]))).toThrow(/needs Reshape\(\[height, width, chan\]\) first/);
  });

  test('a Linear given an image says to add a Flatten', () => {
    const net = new Sequential(new Conv2D(3, 1, 4, 1, { padding: 1 }), new Linear(28 * 28 * 4, 10));
    expect(() => net.forward(randn([2, 28, 28, 1]))).toThrow(
      /^Linear\(3136, 10\) at position 1: expected input \(batch, 3136\), got \(2, 28, 28, 4\) \(add a Flatten\(\) before it: 28 × 28 × 4 = 3136 values per sample\)$/,
    );
  });

  test('a Reshape whose sizes do not fit says how many values it needs', () => {
    expect(() => new Sequential(new Linear(4, 100), new Reshape([7, 7, 16])).forward(randn([2, 4]))).toThrow(
      /^Reshape\(\[7, 7, 16\]\) at position 1: expected input with 784 values per sample to fill \[7, 7, 16\], got \(2, 100\): 100 per sample$/,
    );
    expect(() => new Reshape([3, -1]).forward(randn([2, 10]))).toThrow(/a multiple of 3 values per sample/);
  });

  test("padding 'same' and 'valid', as PyTorch's: the numbers they stand for, and what 'same' refuses", () => {
    // 'same' at stride 1 keeps the size: (k − 1) / 2 zeros on each side of each axis.
    const same = new Conv2D([5, 3], 4, 8, 1, { padding: 'same' });
    expect([same.padHeight, same.padWidth]).toEqual([2, 1]);
    expect(same.outputShape([2, 9, 11, 4])).toEqual([2, 9, 11, 8]);
    // The model saves the numbers: a reloaded layer needs no mode.
    expect(same.config().options).toMatchObject({ padding: [2, 1] });
    expect(new Conv2D(3, 1, 1, [1, 1], { padding: 'same' }).config().options).toMatchObject({ padding: 1 });
    expect(new Conv2D(3, 2, 2, 2, { padding: 'valid' }).outputShape([1, 9, 9, 2])).toEqual([1, 4, 4, 2]);
    const line = new Conv1D(7, 1, 3, 1, { padding: 'same' });
    expect(line.padding).toBe(3);
    expect(line.outputShape([2, 50, 1])).toEqual([2, 50, 3]);
    expect(new Conv1D(4, 1, 1, 2, { padding: 'valid' }).padding).toBe(0);
    // What 'same' cannot be: a strided convolution (PyTorch refuses it too), and any other word.
    expect(() => new Conv2D(3, 1, 1, [1, 2], { padding: 'same' })).toThrow(
      /^Conv2D: padding 'same' needs stride 1 \(as in PyTorch\), got stride width 2$/,
    );
    expect(() => new Conv2D(3, 1, 1, 1, { padding: 'full' as never })).toThrow(
      /^Conv2D: padding must be an integer, \[height, width\], 'same' or 'valid', got "full"$/,
    );
    expect(() => new Conv1D(3, 1, 1, 1, { padding: 'SAME' as never })).toThrow(
      /^Conv1D: padding must be an integer, 'same' or 'valid', got "SAME"$/,
    );
  });

  test("padding 'same' on an even kernel: one zero more after the input than before, as PyTorch and TensorFlow", () => {
    const conv = new Conv2D([4, 3], 2, 3, 1, { padding: 'same' });
    expect([conv.padHeight, conv.padHeightEnd, conv.padWidth, conv.padWidthEnd]).toEqual([1, 2, 1, 1]);
    expect(conv.outputShape([2, 5, 6, 2])).toEqual([2, 5, 6, 3]);
    // No number stands for it, so the model saves the word (and the label shows it).
    expect(conv.config().options).toMatchObject({ padding: 'same' });
    expect(String(conv)).toBe("Conv2D([4, 3], 2, 3, 1, { padding: 'same' })");
    const line = new Conv1D(2, 1, 2, 1, { padding: 'same' });
    expect([line.padding, line.paddingEnd]).toEqual([0, 1]);
    expect(line.outputShape([3, 7, 1])).toEqual([3, 7, 2]);
    expect(line.config().options).toMatchObject({ padding: 'same' });

    // Its values and gradients are those of the unpadded convolution of the image with its
    // zeros written out: 1 row above and 2 below, 1 column on each side.
    const x = randn([2, 5, 6, 2]);
    const padded = zeros([2, 8, 8, 2]);
    for (let b = 0; b < 2; b++)
      for (let i = 0; i < 5; i++)
        for (let j = 0; j < 6; j++)
          for (let c = 0; c < 2; c++) padded.data[((b * 8 + i + 1) * 8 + j + 1) * 2 + c] = x.data[((b * 5 + i) * 6 + j) * 2 + c];
    const plain = new Conv2D([4, 3], 2, 3);
    plain.weight.data.set(conv.weight.data);
    plain.bias!.data.set(conv.bias!.data);
    const y = conv.forward(x);
    const expected = plain.forward(padded);
    expect(y.shape).toEqual(expected.shape);
    expect(Array.from(y.data)).toEqual(Array.from(expected.data));
    const dy = randn(y.shape);
    conv.backwardUpdateGradient(x, dy);
    plain.backwardUpdateGradient(padded, dy);
    expect(Array.from(conv.weightGrad.data)).toEqual(Array.from(plain.weightGrad.data));
    expect(Array.from(conv.biasGrad!.data)).toEqual(Array.from(plain.biasGrad!.data));
    const dx = conv.backwardDelta(x, dy);
    const dPadded = plain.backwardDelta(padded, dy);
    expect(dx.shape).toEqual(x.shape);
    for (let b = 0; b < 2; b++)
      for (let i = 0; i < 5; i++)
        for (let j = 0; j < 6; j++)
          for (let c = 0; c < 2; c++) {
            expect(dx.data[((b * 5 + i) * 6 + j) * 2 + c]).toBe(dPadded.data[((b * 8 + i + 1) * 8 + j + 1) * 2 + c]);
          }

    // Saved as 'same', loaded back to the same padding and values.
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'neurone-same-'));
    try {
      save(new Sequential(conv), path.join(dir, 'm.safetensors'));
      const back = load(path.join(dir, 'm.safetensors')) as Sequential;
      const conv2 = back.modules[0] as Conv2D;
      expect([conv2.padHeight, conv2.padHeightEnd, conv2.padWidth, conv2.padWidthEnd]).toEqual([1, 2, 1, 1]);
      expect(Array.from(conv2.forward(x).data)).toEqual(Array.from(conv.forward(x).data));
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });

  test("a pooling's padding: −∞ around a maximum, zeros counted in a mean (PyTorch's defaults)", () => {
    const x = fromArray([1, 2, 3, 4, 5, 6, 7, 8, 9], [1, 3, 3, 1]);
    const max = new MaxPool2D(3, 2, { padding: 1 });
    expect(max.outputShape([1, 3, 3, 1])).toEqual([1, 2, 2, 1]);
    expect(Array.from(max.forward(x).data)).toEqual([5, 6, 8, 9]);
    // Each window's gradient goes to its winner, none to the padding.
    expect(Array.from(max.backwardDelta(x, fromArray([1, 2, 3, 4], [1, 2, 2, 1])).data)).toEqual([0, 0, 0, 0, 1, 2, 0, 3, 4]);
    const mean = new AvgPool2D(3, 2, { padding: 1 });
    expect(Array.from(mean.forward(x).data)).toEqual([12 / 9, 16 / 9, 24 / 9, 28 / 9].map(Math.fround));
    // All negative: a −∞ padding keeps the maximum an input's value where zeros would not.
    const s = fromArray([-1, -2, -3, -4], [1, 4, 1]);
    expect(Array.from(new MaxPool1D(2, 2, { padding: 1 }).forward(s).data)).toEqual([-1, -2, -4]);
    expect(String(max)).toBe('MaxPool2D(3, 2, { padding: 1 })');
    expect(max.config()).toEqual({ type: 'MaxPool2D', args: [3, 2], options: { padding: 1 } });
    // Without padding the config is as before: files written earlier load and compare equal.
    expect(new MaxPool2D(2).config()).toEqual({ type: 'MaxPool2D', args: [2, 2] });
  });

  test("ceilMode, PyTorch's ceil_mode: a last window past the image kept where it starts inside, its mean over what it covers", () => {
    // 5 values, windows of 2 moved by 2: [0, 2), [2, 4) and, with the ceiling, [4, 6) over the last value alone.
    const s = fromArray([1, 2, 3, 4, 5], [1, 5, 1]);
    expect(new MaxPool1D(2, 2).outputShape([1, 5, 1])).toEqual([1, 2, 1]);
    expect(Array.from(new MaxPool1D(2, 2, { ceilMode: true }).forward(s).data)).toEqual([2, 4, 5]);
    const mean = new AvgPool1D(2, 2, { ceilMode: true });
    expect(Array.from(mean.forward(s).data)).toEqual([1.5, 3.5, 5]);
    // The last window's gradient goes to the one value it covers, whole.
    expect(Array.from(mean.backwardDelta(s, fromArray([2, 4, 6], [1, 3, 1])).data)).toEqual([1, 1, 2, 2, 6]);
    // A window that would start in the padding after the input is not counted (PyTorch's rule):
    // 4 values, window 2, stride 2, padding 1 give ⌈4 / 2⌉ + 1 = 3 windows, not 4.
    expect(new MaxPool1D(2, 2, { padding: 1, ceilMode: true }).outputShape([1, 4, 1])).toEqual([1, 3, 1]);
    // In 2-D, per axis; a padded mean still counts its padding, not the overhang.
    const image = fromArray([1, 2, 3, 4, 5, 6, 7, 8, 9], [1, 3, 3, 1]);
    const avg = new AvgPool2D(2, 2, { ceilMode: true });
    expect(Array.from(avg.forward(image).data)).toEqual([3, 4.5, 7.5, 9]);
    expect(String(avg)).toBe('AvgPool2D(2, 2, { ceilMode: true })');
    expect(avg.config()).toEqual({ type: 'AvgPool2D', args: [2, 2], options: { ceilMode: true } });
    expect(() => new MaxPool2D(2, 2, { ceilMode: 1 } as never)).toThrow('MaxPool2D: option ceilMode must be a boolean, got number 1');
  });

  test("countIncludePad false, PyTorch's count_include_pad=False: a mean over the input positions a window covers", () => {
    const s = fromArray([2, 4, 6], [1, 3, 1]);
    // Windows of 3 over [0, 2, 4, 6, 0]: [0, 2, 4] and [4, 6, 0].
    const counted = new AvgPool1D(3, 2, { padding: 1 }).forward(s).data;
    expect(counted[0]).toBe(2);
    expect(counted[1]).toBeCloseTo(10 / 3, 6);
    const mean = new AvgPool1D(3, 2, { padding: 1, countIncludePad: false });
    expect(Array.from(mean.forward(s).data)).toEqual([3, 5]);
    expect(Array.from(mean.backwardDelta(s, fromArray([2, 4], [1, 2, 1])).data)).toEqual([1, 1 + 2, 2]);
    expect(String(mean)).toBe('AvgPool1D(3, 2, { padding: 1, countIncludePad: false })');
    expect(mean.config()).toEqual({ type: 'AvgPool1D', args: [3, 2], options: { padding: 1, countIncludePad: false } });
    // In 2-D the count is per axis: a corner window of 3×3 with padding 1 covers 2×2 pixels.
    const image = fromArray([1, 2, 3, 4, 5, 6, 7, 8, 9], [1, 3, 3, 1]);
    expect(Array.from(new AvgPool2D(3, 2, { padding: 1, countIncludePad: false }).forward(image).data)).toEqual([3, 4, 6, 7]);
    // Max pooling has nothing to count.
    expect(() => new MaxPool2D(2, 2, { countIncludePad: false } as never)).toThrow(/^MaxPool2D: unknown option 'countIncludePad'/);
  });

  test('padding in a model description: the words as the constructor takes them', () => {
    const net = buildModel([
      { type: 'Conv2D', args: [4, 1, 2], options: { padding: 'same' } },
      { type: 'Conv1D', args: [3, 2, 2], options: { padding: 'valid' } },
    ]);
    expect(String(net)).toBe("Sequential(Conv2D(4, 1, 2, 1, { padding: 'same' }), Conv1D(3, 2, 2, 1))");
    expect(() => buildModel([{ type: 'Conv2D', args: [3, 1, 2, 2], options: { padding: 'same' } }])).toThrow(
      "layer 0: Conv2D: padding 'same' needs stride 1 (as in PyTorch), got stride height 2",
    );
  });

  test('bad arguments: pairs, ranges, shapes, and PyTorch options these layers do not have', () => {
    expect(() => new Conv2D([3, 3, 3] as unknown as number, 1, 1)).toThrow(/^Conv2D: kSize must be an integer or \[height, width\], got /);
    expect(() => new Conv2D([3, 0], 1, 1)).toThrow(/^Conv2D: kSize\[1\] must be an integer in \[1, \d+\], got 0$/);
    expect(() => new Conv2D(3, 1, 1, 0)).toThrow(/^Conv2D: stride must be an integer in \[1, \d+\], got 0$/);
    expect(() => new Conv2D([3, 2], 1, 1, 1, { padding: [2, 2] })).toThrow(/^Conv2D: padding\[1\] must be an integer in \[0, 1\], got 2$/);
    expect(() => new Conv2D(3, 1, 1, 1, { padding: -1 })).toThrow(/^Conv2D: padding must be an integer in \[0, 2\], got -1$/);
    expect(() => new Conv2D(3, 1, 1, 1, { dilation: 2 } as never)).toThrow(/dilation/);
    expect(() => new ConvTranspose2D(3, 1, 1, 2, { outputPadding: 2 })).toThrow(
      /^ConvTranspose2D: outputPadding must be an integer in \[0, 1\], got 2$/,
    );
    expect(() => new Upsample2D(0)).toThrow(/^Upsample2D: scale must be an integer in \[1, 4096\], got 0$/);
    expect(() => new Reshape([7, 0])).toThrow(/^Reshape: shape\[1\] must be an integer in \[1, \d+\], got 0$/);
    expect(() => new Reshape([-1, -1])).toThrow(/^Reshape: shape\[1\] must be an integer in \[1, \d+\], got -1$/);
    expect(() => new Reshape(7 as unknown as number[])).toThrow(/^Reshape: shape must be a list of 1 to 8 integers/);
    // Plain JavaScript can pass what the types forbid: PyTorch's positional padding and its
    // ceil_mode are refused, not ignored.
    const MaxPool = MaxPool2D as unknown as new (...a: unknown[]) => MaxPool2D;
    expect(() => new MaxPool(3, 2, 1)).toThrow(
      "MaxPool2D: padding goes in the options, as a convolution's: new MaxPool2D(kSize, stride, { padding: 1 }), got 1 as the third argument",
    );
    expect(() => new MaxPool(2, 2, {}, true)).toThrow(
      /^MaxPool2D takes \(kSize, stride, \{ padding, ceilMode \}\); dilation and returnIndices are not supported, got 1 more/,
    );
    const AvgPool = AvgPool1D as unknown as new (...a: unknown[]) => AvgPool1D;
    expect(() => new AvgPool(2, 2, 0, false)).toThrow(/^AvgPool1D: padding goes in the options/);
    // At most half the window, as PyTorch: every window then holds a pixel of the input.
    expect(() => new MaxPool2D([3, 2], 1, { padding: [1, 2] })).toThrow(/^MaxPool2D: padding\[1\] must be an integer in \[0, 1\], got 2$/);
    expect(() => new MaxPool1D(2, 1, { padding: 2 })).toThrow(/^MaxPool1D: padding must be an integer in \[0, 1\], got 2$/);
    const Upsample = Upsample2D as unknown as new (...a: unknown[]) => Upsample2D;
    expect(() => new Upsample(2, { mode: 'bilinear' })).toThrow(/^Upsample2D takes \(scale\) and upsamples by nearest neighbour only/);
  });
});
