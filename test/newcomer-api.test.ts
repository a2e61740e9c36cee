/**
 * The traps a PyTorch user met following the README, as the errors now name them: a module's
 * class where an instance goes, images given to Conv1D. (The losses' argument order, the
 * optimisers' constructor and fit without await are in their own modules' tests.)
 */
import { Sequential, Linear, ReLU, Conv1D, ConvTranspose1D, Flatten } from '../lib/nn';
import { CELogSoftmaxLoss } from '../lib/losses';
import { SGD } from '../lib/optim';
import { fit, evaluate } from '../lib/train';
import { save, load, loadWeights } from '../lib/serialize';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { pathToFileURL } from 'url';
import { zeros } from '../lib/tensor';
import { seed } from '../lib/random';
import { toSequence } from '../lib/data';

test('a class given to Sequential is named, with the new that makes an instance, not printed as its source', () => {
  expect(() => new Sequential(new Linear(2, 2), ReLU as never)).toThrow(
    new TypeError('Sequential: expected a Module at position 1, got the class ReLU; write new ReLU() to add one'),
  );
  expect(() => new Sequential(Linear as never)).toThrow(
    new TypeError('Sequential: expected a Module at position 0, got the class Linear; write new Linear(…) to add one'),
  );
  expect(() => new Sequential().add(ReLU as never)).toThrow(/got the class ReLU; write new ReLU\(\) to add one$/);
  // A function that is not a module's class is named as a function, with no advice.
  expect(() => new Sequential((() => new ReLU()) as never)).toThrow(
    new TypeError('Sequential: expected a Module at position 0, got a function'),
  );
  class NotAModule {}
  expect(() => new Sequential(NotAModule as never)).toThrow(
    new TypeError('Sequential: expected a Module at position 0, got the class NotAModule'),
  );
  // With the instance it builds.
  expect(new Sequential(new Linear(2, 2), new ReLU()).modules).toHaveLength(2);
});

test("Conv1D given images (n, 16, 16, 1), as USPS's reader returns them, names Conv2D and toSequence", async () => {
  seed(0);
  const images = { x: zeros([6, 16, 16, 1]), labels: Int32Array.from([0, 1, 2, 0, 1, 2]) };
  const net = new Sequential(new Conv1D(3, 1, 4), new Flatten(), new Linear(254 * 4, 3));
  const hint =
    'a 4-D input looks like images (batch, h, w, chan): those go to Conv2D, or flatten them to sequences (batch, h·w, chan) with toSequence from neurone/data, here (6, 256, 1)';
  const run = fit(net, new CELogSoftmaxLoss(), new SGD({ lr: 0.1 }), images, { epochs: 1, verbose: 0 });
  await expect(run).rejects.toThrow(
    new RangeError(
      'fit: data.x of shape (6, 16, 16, 1) does not fit the network: Conv1D(3, 1, 4, 1) at position 0: expected input (batch, length, 1), got (6, 16, 16, 1) ' +
        "(Conv1D's arguments are (kSize, chanIn, chanOut), here kSize 3, chanIn 1, chanOut 4, and its input is channels-last (batch, length, chan); " +
        `${hint})`,
    ),
  );
  expect(() => new Conv1D(3, 1, 4).forward(zeros([2, 4, 4, 1]))).toThrow(
    /those go to Conv2D, .* toSequence from neurone\/data, here \(2, 16, 1\)\)$/,
  );
  expect(() => new ConvTranspose1D(3, 1, 4).outputShape([2, 4, 4, 1])).toThrow(/those go to ConvTranspose2D, /);
  // What the hint suggests trains.
  const h = await fit(
    net,
    new CELogSoftmaxLoss(),
    new SGD({ lr: 0.1 }),
    { x: toSequence(images.x), labels: images.labels },
    {
      epochs: 1,
      verbose: 0,
    },
  );
  expect(h.epochs).toHaveLength(1);
  // The convolutions' option errors describe the value the same bounded way.
  expect(() => new Conv1D(3, 1, 4, 1, { bias: ReLU as never })).toThrow(
    new TypeError('Conv1D: option bias must be a boolean, got the class ReLU'),
  );
  expect(() => new ConvTranspose1D(3, 1, 4, 1, { bias: 'y'.repeat(100) as never })).toThrow(
    new TypeError(`ConvTranspose1D: option bias must be a boolean, got string ${'y'.repeat(40)}… (100 characters)`),
  );
  // A 3-D input is not taken for images.
  expect(() => new Conv1D(3, 2, 4).outputShape([2, 16, 1])).not.toThrow(/images/);
  expect(() => new Conv1D(3, 2, 4).outputShape([2, 16, 1])).toThrow(RangeError);
});

test('labels of the wrong array type are named by call and argument, with the conversion for float labels', async () => {
  const net = new Sequential(new Linear(4, 3));
  const x = zeros([2, 4]);
  const floats = Float32Array.from([0, 2]);
  await expect(fit(net, new CELogSoftmaxLoss(), new SGD({ lr: 0.1 }), { x, labels: floats as never }, { verbose: 0 })).rejects.toThrow(
    new TypeError('fit: data.labels must be an Int32Array of class indices, got Float32Array(2) (Int32Array.from(labels) converts it)'),
  );
  const good = { x, labels: Int32Array.from([0, 2]) };
  await expect(
    fit(net, new CELogSoftmaxLoss(), new SGD({ lr: 0.1 }), good, { verbose: 0, validation: { x, labels: [0, 2] as never } }),
  ).rejects.toThrow(new TypeError('fit: validation.labels must be an Int32Array of class indices, got Array(2)'));
  expect(() => evaluate(net, new CELogSoftmaxLoss(), { x, labels: floats as never })).toThrow(
    /^evaluate: data\.labels must be an Int32Array of class indices, got Float32Array\(2\)/,
  );
});

test("a parameter's value or grad cannot be replaced by assignment (the module keeps its own): writing into it works", () => {
  const net = new Sequential(new Linear(2, 1), new Sequential(new ReLU(), new Linear(1, 1)));
  const [w, , inner] = net.parameters();
  const replace = (): void => {
    (w as { value: unknown }).value = zeros([2, 1]);
  };
  expect(replace).toThrow(
    'parameter 0.weight of Linear(2, 1): its value cannot be replaced, the module keeps its own tensor; write the new values into it instead: value.data.set(values)',
  );
  expect(() => ((inner as { grad: unknown }).grad = zeros([1, 1]))).toThrow(
    /^parameter 1\.1\.weight of Linear\(1, 1\): its grad cannot be replaced/,
  );
  // The record reads the module's own tensors, and writing into them is what changes the network.
  const first = net.modules[0] as Linear;
  expect(w.value).toBe(first.weight);
  w.value.data.set([5, 5]);
  expect(Array.from(first.weight.data)).toEqual([5, 5]);
  // A copy made with a spread is a plain object of the same tensors, as before.
  expect({ ...w }.value).toBe(first.weight);
});

test("TF.js habits get the neurone spelling: Dense(units), metrics: ['accuracy'], a file:// path", async () => {
  expect(() => new (Linear as unknown as new (n: number) => Linear)(10)).toThrow(
    "Linear: outputSize is missing (got one size, 10); Linear takes (inputSize, outputSize), and new Linear(null, 10) takes its input size from the data (PyTorch's LazyLinear, Keras's Dense(10))",
  );
  const net = new Sequential(new Linear(2, 2));
  const data = { x: zeros([4, 2]), y: zeros([4]) };
  await expect(
    fit(net, new CELogSoftmaxLoss(), new SGD({ lr: 0.1 }), data, { verbose: 0, metrics: ['accuracy' as never] }),
  ).rejects.toThrow(
    /^fit: unknown metric "accuracy"; .* \(the loss, and the accuracy with a classification loss, are reported without asking: leave "accuracy" out\)$/,
  );
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'neurone-url-'));
  try {
    const url = pathToFileURL(path.join(dir, 'model.safetensors')).href;
    expect(() => save(net, url)).toThrow(
      `save: path must be a file path, got the URL ${JSON.stringify(url)} (TF.js's URL schemes are not read here): write ${JSON.stringify(path.join(dir, 'model.safetensors'))}`,
    );
    expect(() => load('indexeddb://my-model')).toThrow(
      /^load: path must be a file path, got the URL "indexeddb:\/\/my-model" .*: give a file path$/,
    );
    expect(() => loadWeights(net, url)).toThrow(/^loadWeights: path must be a file path/);
    // Nothing was written, in the URL's folder or in a folder named "file:" here.
    expect(fs.readdirSync(dir)).toEqual([]);
    expect(fs.existsSync('file:')).toBe(false);
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
});
