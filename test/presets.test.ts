/** Model presets and the JSON model-description format. */
import { Linear, LogSoftmax, Module, ReLU, Sequential, Sigmoid, Softmax } from '../lib/nn';
import { seed } from '../lib/random';
import {
  PRESETS,
  buildModel,
  checkModelForInput,
  describeModel,
  presetDescription,
  readModelFile,
  ModelError,
  LAYER_TYPES,
} from '../lib/cli/presets';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { datasetSampleShape, headLoss } from '../lib/cli/model-io';

describe('presets', () => {
  test('seed-cnn is the original headline network on USPS', () => {
    const net = buildModel(presetDescription('seed-cnn', { inputSize: 256, numClasses: 10 }));
    expect(net.toString()).toBe('Sequential(Conv1D(3, 1, 32, 1), MaxPool1D(2, 2), Flatten(), Linear(4064, 100), ReLU(), Linear(100, 10))');
    expect(net.outputShape([5, 256, 1])).toEqual([5, 10]);
  });

  test.each(PRESETS.map((p) => [p.name, p.takes] as const))(
    '%s builds for USPS and MNIST sizes and its JSON round-trips',
    (name, takes) => {
      for (const inputSize of [256, 784]) {
        seed(0);
        const description = presetDescription(name, { inputSize, numClasses: 10 });
        const net = buildModel(description);
        // The commands feed it the dataset's images as the preset says: images, pixel sequences or flat rows.
        const side = Math.sqrt(inputSize);
        const sample = takes === 'image' ? [side, side, 1] : takes === 'sequence' ? [inputSize, 1] : [inputSize];
        expect(datasetSampleShape(net, [2, side, side, 1], 'images')).toEqual(sample);
        expect(net.outputShape([2, ...sample])).toEqual([2, 10]);
        const json = JSON.parse(JSON.stringify(describeModel(net)));
        const again = buildModel(json);
        expect(describeModel(again)).toEqual(json);
        expect(again.toString()).toBe(net.toString());
        // The Sequential's own toJSON() is accepted too.
        expect(buildModel(JSON.parse(JSON.stringify(net))).toString()).toBe(net.toString());
      }
    },
  );

  test('the 2-D presets take square images', () => {
    expect(() => presetDescription('lenet', { inputSize: 2, numClasses: 2 })).toThrow(
      /^preset lenet takes square one-channel images \(16×16 USPS, 28×28 MNIST\); 2 features are not one$/,
    );
    expect(() => presetDescription('lenet', { inputSize: 81, numClasses: 2 })).toThrow(/preset lenet: 81 pixels are too few/);
    expect(() => presetDescription('cnn2d-bn', { inputSize: 9, numClasses: 2 })).toThrow(/preset cnn2d-bn: 9 pixels are too few/);
  });

  test('an unknown preset names the known ones', () => {
    expect(() => presetDescription('vgg16', { inputSize: 2, numClasses: 2 })).toThrow(/unknown model preset 'vgg16' \(presets: seed-cnn, /);
  });

  test('seed-cnn refuses an input too short for it', () => {
    expect(() => presetDescription('seed-cnn', { inputSize: 2, numClasses: 2 })).toThrow(ModelError);
  });
});

describe('buildModel', () => {
  test('a model file with a Linear sized by the data (null) is read, and trains once sized', () => {
    const file = path.join(fs.mkdtempSync(path.join(os.tmpdir(), 'neurone-lazy-')), 'lazy.json');
    const layers = [
      { type: 'Conv2D', args: [3, 1, 4, 1], options: { padding: 1 } },
      { type: 'Flatten', args: [] },
      { type: 'Linear', args: [null, 16] },
      { type: 'Linear', args: [16, 10] },
    ];
    fs.writeFileSync(file, JSON.stringify({ layers }));
    const description = readModelFile(file);
    expect(description.layers[2]).toEqual({ type: 'Linear', args: [null, 16], options: { bias: true, init: 'heNormal' } });
    const net = buildModel(description).build([16, 16, 1]);
    expect(net.parameterCount()).toBe(3 * 3 * 4 + 4 + 1024 * 16 + 16 + 16 * 10 + 10);
    fs.rmSync(path.dirname(file), { recursive: true, force: true });
  });

  test('a model file saved with a byte-order mark (Notepad, PowerShell) or as UTF-16 is read as its UTF-8 twin', () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'neurone-bom-'));
    const text = JSON.stringify({ layers: [{ type: 'Linear', args: [4, 2] }, { type: 'ReLU' }] });
    const plain = path.join(dir, 'plain.json');
    fs.writeFileSync(plain, text);
    for (const [name, bytes] of [
      ['bom', Buffer.concat([Buffer.from([0xef, 0xbb, 0xbf]), Buffer.from(text)])],
      ['utf16le', Buffer.concat([Buffer.from([0xff, 0xfe]), Buffer.from(text, 'utf16le')])],
    ] as const) {
      const file = path.join(dir, `${name}.json`);
      fs.writeFileSync(file, bytes);
      expect(readModelFile(file)).toEqual(readModelFile(plain));
    }
    fs.rmSync(dir, { recursive: true, force: true });
  });

  test('builds every layer type with options, and keeps them', () => {
    const description = {
      layers: [
        { type: 'Conv1D', args: [3, 1, 4, 1], options: { padding: 1, bias: true, init: 'heUniform' } },
        { type: 'LeakyReLU', args: [0.2] },
        { type: 'AvgPool1D', args: [2, 2] },
        { type: 'Upsample1D', args: [2] },
        { type: 'ConvTranspose1D', args: [3, 4, 2, 1], options: { padding: 1 } },
        { type: 'Flatten' },
        { type: 'Linear', args: [32, 3], options: { bias: false, init: 'zeros' } },
        { type: 'LogSoftmax', args: [] },
      ],
    };
    const net = buildModel(description);
    expect(net.outputShape([1, 16, 1])).toEqual([1, 3]);
    const back = describeModel(net);
    expect(back.layers[0]).toEqual({ type: 'Conv1D', args: [3, 1, 4, 1], options: { padding: 1, bias: true, init: 'heUniform' } });
    expect(back.layers[6]).toEqual({ type: 'Linear', args: [32, 3], options: { bias: false, init: 'zeros' } });
    expect(back.layers[1]).toEqual({ type: 'LeakyReLU', args: [0.2] });
    expect(buildModel(back).toString()).toBe(net.toString());
  });

  test("the JSON.stringify form of a network may carry a name, as a sweep's models do", () => {
    const net = buildModel({ name: 'tiny', type: 'Sequential', args: [], modules: [{ type: 'Linear', args: [2, 3] }] });
    expect(net.outputShape([4, 2])).toEqual([4, 3]);
  });

  test('nested Sequential', () => {
    const net = buildModel({
      layers: [
        { type: 'Sequential', modules: [{ type: 'Linear', args: [2, 3] }, { type: 'ReLU' }] },
        { type: 'Linear', args: [3, 1] },
      ],
    });
    expect(net.modules[0]).toBeInstanceOf(Sequential);
    expect(net.outputShape([4, 2])).toEqual([4, 1]);
  });

  test.each([
    [{}, /expected \{ "layers": \[\.\.\.\] \}/],
    [{ layers: [] }, /"layers" is empty/],
    [{ layers: [42] }, /layer 0: expected an object/],
    [{ layers: [{ args: [2, 3] }] }, /layer 0: "type" must be a string/],
    [{ layers: [{ type: 'Dense', args: [2, 3] }] }, /layer 0: unknown layer type "Dense" \(known: /],
    [{ layers: [{ type: 'Relu' }] }, /layer 0: unknown layer type "Relu" \(did you mean ReLU\?\) \(known: /],
    [{ layers: [{ type: 'ReLU' }, { type: 'Linear', args: 3 }] }, /layer 1 \(Linear\): "args" must be an array/],
    [
      { layers: [{ type: 'Linear', args: [2, 3, 4] }] },
      /^layer 0: Linear takes 2 args \(inputSize, outputSize\) and "options": \{ bias, init \}, got 3/,
    ],
    [{ layers: [{ type: 'Linear', args: [2, -3] }] }, /layer 0: Linear: outputSize must be an integer in \[1, 16777216\], got -3/],
    [{ layers: [{ type: 'Linear', args: [2, 3], options: { bias: 'yes' } }] }, /layer 0: Linear: option bias must be a boolean/],
    [{ layers: [{ type: 'Linear', args: [2, 3], options: { init: 'glorot' } }] }, /layer 0: Linear: unknown init "glorot"/],
    // A key the description does not read: before, ignored (the misspelt options trained a bias).
    [
      { layers: [{ type: 'Linear', args: [2, 3], option: { bias: false } }] },
      /layer 0 \(Linear\): unknown key "option" \(did you mean options\?\) \(expected one of type, args, options, modules\)$/,
    ],
    [{ layers: [{ type: 'ReLU' }], extra: 1 }, /model description: unknown key "extra" \(expected one of layers, name\)$/],
    [
      { layers: [{ type: 'Sequential', modules: [{ type: 'ReLU', bogus: true }] }] },
      /layer 0\.0 \(ReLU\): unknown key "bogus" \(expected one of type, args, options, modules\)$/,
    ],
  ])('rejects %j with a message naming the layer', (description, message) => {
    expect(() => buildModel(description)).toThrow(ModelError);
    expect(() => buildModel(description)).toThrow(message);
  });

  test('knows every module the library exports', () => {
    for (const t of [
      'Linear',
      'Conv1D',
      'ConvTranspose1D',
      'Upsample1D',
      'MaxPool1D',
      'AvgPool1D',
      'Flatten',
      'TanH',
      'Sigmoid',
      'StableSigmoid',
      'Softmax',
      'LogSoftmax',
      'ReLU',
      'LeakyReLU',
      'SoftPlus',
      'Identity',
      'Sequential',
    ]) {
      expect(LAYER_TYPES).toContain(t);
    }
  });
});

describe('a described model against its input, before anything is allocated', () => {
  test('a lazily sized layer counts into the parameter budget once sized for the input', () => {
    const lazy = buildModel({
      layers: [{ type: 'Flatten' }, { type: 'Linear', args: [null, 4194304] }, { type: 'Linear', args: [null, 10] }],
    });
    const before = process.memoryUsage().arrayBuffers;
    expect(() => checkModelForInput(lazy, [1, 16, 16, 1], 32)).toThrow(
      /^Linear\(null, 4194304\) at position 1 on 256 features brings the model to 1,119,879,178 parameter values, over the 16,777,216 a model description may hold$/,
    );
    // Nothing was drawn for it (4 GiB of weights and gradients).
    expect(process.memoryUsage().arrayBuffers - before).toBeLessThan(2 ** 20);
    expect((lazy.modules[1] as Linear).lazy).toBe(true);
    // Within the budget: the output shape, the lazy layers still unsized.
    const small = buildModel({
      layers: [{ type: 'Flatten' }, { type: 'Linear', args: [null, 100] }, { type: 'Linear', args: [null, 10] }],
    });
    expect(checkModelForInput(small, [1, 16, 16, 1], 32)).toEqual([1, 10]);
    expect((small.modules[1] as Linear).lazy).toBe(true);
  });

  test("one training step's activations are bounded; the layers' own refusals are ModelErrors", () => {
    const up = buildModel({ layers: [{ type: 'Upsample1D', args: [4096] }, { type: 'Upsample1D', args: [4096] }, { type: 'Flatten' }] });
    expect(() => checkModelForInput(up, [1, 2, 1], 32)).toThrow(
      /^one training step at batch 32 would hold [\d,]+ activation values \(the largest layer: Upsample1D\(4096\) at position 1 outputs \(batch, 33554432, 1\)\), over the 268,435,456 \(1 GiB\) a described model may use; use a smaller batch size or model$/,
    );
    // The same model on a batch of one fits (2 · 33.6 million values a sample).
    expect(checkModelForInput(up, [1, 2, 1], 1)).toEqual([1, 33554432]);
    const net = buildModel({ layers: [{ type: 'Linear', args: [3, 2] }] });
    expect(() => checkModelForInput(net, [1, 4], 8)).toThrow(ModelError);
  });

  test('Sequentials nested deeper than a saved model may be are refused', () => {
    let spec: object = { type: 'Linear', args: [2, 2] };
    for (let i = 0; i < 63; i++) spec = { type: 'Sequential', modules: [spec] };
    expect(buildModel({ layers: [spec] }).modules.length).toBe(1);
    expect(() => buildModel({ layers: [{ type: 'Sequential', modules: [spec] }] })).toThrow(
      /: Sequentials nested more than 64 levels deep, the most a saved model may hold$/,
    );
  });
});

describe('the loss a model head implies (train, sweep runs and evaluate alike)', () => {
  test('by the last layer, nested Sequentials opened', () => {
    const head = (last: Module): string => headLoss(new Sequential(new Linear(2, 3), new Sequential(new Linear(3, 3), last))).className;
    expect(head(new LogSoftmax())).toBe('CrossEntropyLoss');
    expect(head(new Sigmoid())).toBe('BCELoss');
    expect(head(new Softmax())).toBe('MSELoss');
    expect(head(new ReLU())).toBe('CELogSoftmaxLoss');
    const summed = headLoss(new Sequential(new Linear(2, 3), new LogSoftmax()), 'sum');
    expect(summed).toMatchObject({ oneHot: false, measure: 'cross-entropy' });
    expect(summed.loss.reduction).toBe('sum');
    expect(headLoss(new Sequential(new Linear(2, 3), new Sigmoid())).oneHot).toBe(true);
  });
});
