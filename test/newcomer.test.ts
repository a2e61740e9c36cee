/**
 * The traps of issue 20 ("a newcomer's first hour"), each as the newcomer met it: the habit
 * from PyTorch or TensorFlow.js, and what neurone now does with it. On every backend that loads.
 */
import { setBackend } from '../lib/backend';
import { seed } from '../lib/random';
import { Sequential, Linear, ReLU, LogSoftmax, Softmax, Conv1D, Conv2D, ConvTranspose2D, MaxPool1D, MaxPool2D, Flatten } from '../lib/nn';
import { CELogSoftmaxLoss, CrossEntropyLoss, MSELoss } from '../lib/losses';
import { SGD, Adam, AdamW } from '../lib/optim';
import { fit, evaluate, predict } from '../lib/train';
import { fromArray } from '../lib/tensor';
import { loadUSPS, toSequence } from '../lib/data';
import { Logger } from '../lib/logger';
import { availableBackends } from './backends';

describe.each(availableBackends())('%s backend', (name) => {
  beforeAll(() => setBackend(name));

  test("PyTorch's SGD({ lr: 0.1 }) at batch 64 trains with the default mean reduction", async () => {
    // With gradients summed over the batch (the course's convention, once the only one), this
    // ran without an error to chance level: measured 13 % on the USPS test set after 2 epochs
    // (10.3 % on MNIST), against 89 % with the mean.
    const train = loadUSPS({ flatten: true });
    const test = loadUSPS({ split: 'test', flatten: true });
    const lines: string[] = [];
    const accuracyWith = async (loss: CELogSoftmaxLoss): Promise<number> => {
      seed(0);
      lines.length = 0;
      const net = new Sequential(new Linear(256, 64), new ReLU(), new Linear(64, 10));
      const logger = new Logger({ verbose: 1, write: (l) => lines.push(l) });
      await fit(net, loss, new SGD({ lr: 0.1 }), train, { epochs: 2, batchSize: 64, logger });
      return evaluate(net, loss, test).accuracy as number;
    };
    expect(new CELogSoftmaxLoss().reduction).toBe('mean');
    expect(await accuracyWith(new CELogSoftmaxLoss())).toBeGreaterThan(0.85);
    expect(lines.some((l) => /warning/.test(l))).toBe(false);
    // The summed convention is still there, and still needs lr / batch; fit now says so when it diverges.
    expect(await accuracyWith(new CELogSoftmaxLoss({ reduction: 'sum' }))).toBeLessThan(0.5);
    expect(lines.join('\n')).toMatch(
      /warning: the training loss rose from 2\.\d+ \(first batch\) to 12\.\d+ \(epoch 1's mean\): the learning rate 0\.1 looks too large; CELogSoftmaxLoss\(\{ reduction: 'sum' \}\) sums the gradient over the batch of 64/,
    );
  });

  test('a Softmax at the end (the TF.js habit) is refused by both cross-entropies, each naming the fix', async () => {
    seed(1);
    const train = loadUSPS({ flatten: true });
    const softmaxNet = (): Sequential => new Sequential(new Linear(256, 32), new ReLU(), new Linear(32, 10), new Softmax());
    const options = { epochs: 1, batchSize: 64, verbose: 0 as const };
    // With logits' loss the softmax would be applied twice, without a word: refused at the first step.
    let batches = 0;
    await expect(
      fit(softmaxNet(), new CELogSoftmaxLoss(), new SGD({ lr: 0.1 }), train, { ...options, onBatchEnd: () => batches++ }),
    ).rejects.toThrow(
      /^CELogSoftmaxLoss\(\): every row of yhat is probabilities .*applied twice\. Remove the final Softmax \(predict still returns probabilities\), or end the network with LogSoftmax and use CrossEntropyLoss\.$/,
    );
    expect(batches).toBe(0);
    await expect(fit(softmaxNet(), new CrossEntropyLoss(), new SGD({ lr: 0.1 }), train, options)).rejects.toThrow(
      /not log-probabilities.*Its rows are probabilities, as a Softmax at the end of the network gives: replace that Softmax with LogSoftmax/,
    );
    // The loss called by hand refuses a batch of them too; logits pass.
    const rows = Array.from({ length: 4 }, (_, r) => Array.from({ length: 256 }, (_, i) => Math.sin(i * (r + 1))));
    const probabilities = predict(softmaxNet(), fromArray(rows));
    expect(() => new CELogSoftmaxLoss().backward(fromArray([3, 1, 4, 1]), probabilities)).toThrow(/every row of yhat is probabilities/);
    expect(() => new CELogSoftmaxLoss().forward(fromArray([1]), fromArray([[0.5, -0.25, 0.75]]))).not.toThrow();
    // Fewer than four rows may be logits that look like probabilities by chance (a batch of one,
    // two classes: about once in 50,000 draws), and are taken, as PyTorch takes them.
    for (let call = 0; call < 10; call++)
      expect(() => new CELogSoftmaxLoss().lossAndGradient(fromArray([[0, 1]]), fromArray([[0.25, 0.75]]))).not.toThrow();
  });

  test("CrossEntropyLoss on logits (PyTorch's meaning of the name) stops at once, naming CELogSoftmaxLoss and NLLLoss", async () => {
    seed(1);
    const train = loadUSPS({ flatten: true });
    const net = new Sequential(new Linear(256, 32), new ReLU(), new Linear(32, 10));
    const run = fit(net, new CrossEntropyLoss(), new SGD({ lr: 0.1 }), train, { epochs: 1, batchSize: 64, verbose: 0 });
    await expect(run).rejects.toThrow(/not log-probabilities.*NLLLoss.*CELogSoftmaxLoss/);
    // With LogSoftmax at the end it is the right loss and trains.
    const withLogSoftmax = new Sequential(new Linear(256, 32), new ReLU(), new Linear(32, 10), new LogSoftmax());
    const h = await fit(withLogSoftmax, new CrossEntropyLoss(), new SGD({ lr: 0.1 }), train, { epochs: 1, batchSize: 64, verbose: 0 });
    expect(h.epochs[0].trainAccuracy).toBeGreaterThan(0.7);
  });

  test('evaluate takes the { x, labels } that fit takes; validationSplit holds out the last samples', async () => {
    seed(2);
    const train = loadUSPS({ flatten: true });
    const net = new Sequential(new Linear(256, 32), new ReLU(), new Linear(32, 10));
    const loss = new CELogSoftmaxLoss();
    const h = await fit(net, loss, new Adam(), train, { epochs: 2, batchSize: 64, verbose: 0, validationSplit: 0.2 });
    const held = train.labels.length - Math.floor(train.labels.length * 0.8); // Keras's count
    const last = {
      x: { shape: [held, 256], data: train.x.data.subarray((train.labels.length - held) * 256) },
      labels: train.labels.subarray(train.labels.length - held),
    };
    // The reported validation figures are those of the last 20 % of the samples.
    const v = evaluate(net, loss, last);
    expect(h.epochs[1].valAccuracy).toBeCloseTo(v.accuracy as number, 10);
    expect(h.epochs[1].valLoss).toBeCloseTo(v.loss, 5);
    expect(v.accuracy).toBeGreaterThan(0.8);
    // The two-tensor form gives the same.
    const y = fromArray(Array.from(last.labels));
    expect(evaluate(net, loss, last.x, y).accuracy).toBe(v.accuracy);
    await expect(fit(net, loss, new Adam(), train, { validationSplit: 1.5, verbose: 0 })).rejects.toThrow(
      'fit: validationSplit must be a number in (0, 1), got number 1.5',
    );
    await expect(fit(net, loss, new Adam(), train, { validationSplit: 0.1, validation: last, verbose: 0 })).rejects.toThrow(
      'fit: give validation or validationSplit, not both',
    );
  });

  test('unknown option names are refused with the valid ones, instead of training with the defaults', async () => {
    const net = new Sequential(new Linear(2, 1));
    const data = { x: fromArray([[0, 1]]), y: fromArray([[1]]) };
    expect(() => new Adam({ learningRate: 0.1 } as object)).toThrow(
      "Adam: unknown option 'learningRate' (did you mean 'lr'?); valid options: lr, betas, eps, weightDecay",
    );
    expect(() => new SGD({ lr: 0.1, momentun: 0.9 } as never)).toThrow(/SGD: unknown option 'momentun' \(did you mean 'momentum'\?\)/);
    expect(() => new AdamW({ weight_decay: 0.1 } as object)).toThrow(
      /AdamW: unknown option 'weight_decay' \(did you mean 'weightDecay'\?\)/,
    );
    await expect(fit(net, new CELogSoftmaxLoss(), new Adam(), data, { batch_size: 64 } as object)).rejects.toThrow(
      /fit: unknown option 'batch_size' \(did you mean 'batchSize'\?\); valid options: batchSize, epochs,/,
    );
    await expect(
      fit(net, new CELogSoftmaxLoss(), new Adam(), data, { earlyStopping: { patience: 2, monitr: 'valLoss' } } as object),
    ).rejects.toThrow(/fit: earlyStopping: unknown option 'monitr' \(did you mean 'monitor'\?\)/);
    expect(() => evaluate(net, new CELogSoftmaxLoss(), data, { batch: 8 } as object)).toThrow(/evaluate: unknown option 'batch'/);
    expect(() => evaluate(net, new CELogSoftmaxLoss(), null as never)).toThrow(
      'evaluate: data must be { x, y }, { x, labels } or two tensors x, y; got null',
    );
    expect(() => predict(net, data.x, { batch_size: 8 } as object)).toThrow(
      /predict: unknown option 'batch_size' \(did you mean 'batchSize'\?\)/,
    );
    expect(() => new Linear(2, 1, { bias: false, initializer: 'zeros' } as object)).toThrow(
      "Linear: unknown option 'initializer' (did you mean 'init'?); valid options: bias, init",
    );
  });

  test("fit and predict shape errors show the caller's data shape, not a batch's", async () => {
    const net = new Sequential(new Linear(784, 10));
    const train = loadUSPS({ flatten: true });
    await expect(fit(net, new CELogSoftmaxLoss(), new Adam(), train, { verbose: 0 })).rejects.toThrow(
      'fit: data.x of shape (7291, 256) does not fit the network: Linear(784, 10) at position 0: expected input (batch, 784), got (7291, 256)',
    );
    expect(() => predict(net, train.x)).toThrow('predict: x of shape (7291, 256) does not fit the network');
  });

  test('a PyTorch-ordered Conv1D gets the argument order, the layout and the fix in its shape error', async () => {
    const train = toSequence(loadUSPS()); // (7291, 256, 1)
    const net = new Sequential(new Conv1D(1, 32, 3), new ReLU(), new Flatten(), new Linear(254 * 32, 10));
    await expect(fit(net, new CELogSoftmaxLoss(), new Adam(), train, { verbose: 0 })).rejects.toThrow(
      "fit: data.x of shape (7291, 256, 1) does not fit the network: Conv1D(1, 32, 3, 1) at position 0: expected input (batch, length, 32), got (7291, 256, 1) (Conv1D's arguments are (kSize, chanIn, chanOut), here kSize 1, chanIn 32, chanOut 3, and its input is channels-last (batch, length, chan); if you meant PyTorch's Conv1d(in_channels 1, out_channels 32, kernel_size 3), write new Conv1D(3, 1, 32))",
    );
    // Channels-first input, and input without a channel axis.
    const conv = new Conv1D(3, 2, 8);
    expect(() => conv.outputShape([4, 2, 100])).toThrow(/looks channels-first \(batch, chan, length\): transpose it to \(4, 100, 2\)/);
    expect(() => new Conv1D(3, 1, 8).outputShape([4, 100])).toThrow(/needs a channel axis: reshape it to \(4, 100, 1\)/);
  });

  test("PyTorch's keyword habits and unbatched samples get the fix in their errors (the review of 2026-12-07)", () => {
    // Conv2d(1, 16, 3, padding=1) written with the options where stride goes: before, "stride must
    // be an integer or [height, width], got object".
    expect(() => new Conv2D(3, 1, 16, { padding: 1 } as never)).toThrow(
      'Conv2D: got an options object in place of stride (argument 4); the options come after the 4 positional arguments: new Conv2D(kSize, chanIn, chanOut, stride, { padding, bias, init })',
    );
    expect(() => new Linear(4, { bias: false } as never)).toThrow(/^Linear: got an options object in place of outputSize \(argument 2\)/);
    // One sample, as PyTorch's layers take it: the batch axis to add.
    expect(() => new Linear(784, 10).forward(fromArray(new Array(784).fill(0)))).toThrow(
      'Linear(784, 10): expected input (batch, 784), got (784) (one sample without its batch axis: reshape it to (1, 784))',
    );
    expect(() => new Linear(784, 10).forward(fromArray([new Array(783).fill(0)]))).toThrow(/got \(1, 783\)$/);
    // One parenthesis of hints; none for a pooling, whose named sizes any input one axis short
    // would match ((32, 28, 28) there is 32 images without a channel axis more likely than one).
    expect(() => new Conv2D(3, 1, 4).outputShape([28, 28, 1])).toThrow(
      /got \(28, 28, 1\) \(one sample without its batch axis: reshape it to \(1, 28, 28, 1\); images are channels-last [^()]*\(batch, height, width, chan\), here chan 1\)$/,
    );
    expect(() => new MaxPool2D(2).outputShape([32, 28, 28])).toThrow(/got \(32, 28, 28\)$/);
    // A tensor is not an options object.
    expect(() => new Linear(fromArray([[1, 2]]) as never, 10)).toThrow(/^Linear: inputSize must be a number, got Tensor\(1, 2\)$/);
    // Keras's list of layers, or PyTorch's nn.Sequential(*layers) without the star.
    expect(() => new Sequential([new Linear(4, 2), new ReLU()] as never)).toThrow(
      'Sequential: expected a Module at position 0, got Array(2); the modules go one by one: new Sequential(...modules)',
    );
  });

  test('class labels where a target per output is wanted: the message says how to give them', async () => {
    const train = loadUSPS({ flatten: true });
    const net = new Sequential(new Linear(256, 10));
    await expect(fit(net, new MSELoss(), new Adam(), train, { verbose: 0 })).rejects.toThrow(
      'MSELoss(): expected y (32, 10) (the shape of yhat), got (32) (class labels? MSELoss takes a target per output: one-hot encode them with oneHot(labels, 10), or train a classifier with CELogSoftmaxLoss on logits)',
    );
    await expect(fit(net, new MSELoss(), new Adam(), { x: train.x, y: train.labels } as never, { verbose: 0 })).rejects.toThrow(
      'fit: data.y must be a Tensor { shape, data: Float32Array }, got Int32Array(7291); class labels go in as { x, labels } (an Int32Array), as the loaders give them',
    );
  });

  test('a PyTorch-ordered Conv2D or ConvTranspose2D gets the same: its arguments, the layout and the fix', () => {
    expect(() => new Sequential(new Conv2D(1, 6, 5)).outputShape([4, 28, 28, 1])).toThrow(
      "Conv2D(1, 6, 5, 1) at position 0: expected input (batch, height, width, 6), got (4, 28, 28, 1) (Conv2D's arguments are (kSize, chanIn, chanOut), here kSize 1, chanIn 6, chanOut 5, and its input is channels-last (batch, height, width, chan); if you meant PyTorch's Conv2d(in_channels 1, out_channels 6, kernel_size 5), write new Conv2D(5, 1, 6))",
    );
    expect(() => new ConvTranspose2D(6, 3, 2).outputShape([4, 7, 7, 6])).toThrow(
      /if you meant PyTorch's ConvTranspose2d\(in_channels 6, out_channels 3, kernel_size 2\), write new ConvTranspose2D\(2, 6, 3\)\)$/,
    );
    // A 1×1 convolution given the wrong channels is not taken for PyTorch's order: the kernel is not the input's channel count.
    expect(() => new Conv2D(1, 6, 5).outputShape([4, 28, 28, 3])).toThrow(/here chan 6\)$/);
  });

  test('summary() lists layers, output shapes and parameter counts; parameterCount() the total', () => {
    const net = new Sequential(
      new Conv1D(3, 1, 32),
      new MaxPool1D(2, 2),
      new Flatten(),
      new Linear(4064, 100),
      new ReLU(),
      new Linear(100, 10),
    );
    expect(net.parameterCount()).toBe(3 * 32 + 4064 * 100 + 100 + 100 * 10 + 10);
    expect(new Linear(784, 10).parameterCount()).toBe(7850);
    const table = net.summary([256, 1]);
    expect(table.split('\n')).toEqual([
      'Sequential: 6 layers',
      '─'.repeat(52),
      '#  Layer                Output shape      Parameters',
      '─'.repeat(52),
      '   input                (batch, 256, 1)',
      '0  Conv1D(3, 1, 32, 1)  (batch, 254, 32)          96',
      '1  MaxPool1D(2, 2)      (batch, 127, 32)           0',
      '2  Flatten()            (batch, 4064)              0',
      '3  Linear(4064, 100)    (batch, 100)         406,500',
      '4  ReLU()               (batch, 100)               0',
      '5  Linear(100, 10)      (batch, 10)            1,010',
      '─'.repeat(52),
      'Parameters: 407,606 in 5 tensors (1,630,424 bytes as float32)',
    ]);
    // The flattened size a newcomer had to work out by hand is read from the conv part alone.
    expect(new Sequential(new Conv1D(3, 1, 32), new MaxPool1D(2, 2), new Flatten()).summary([256, 1])).toMatch(
      /Flatten\(\) +\(batch, 4064\)/,
    );
    // A first Linear gives the input shape; without one, shapes are '?' and the table says what to pass.
    expect(new Sequential(new Linear(784, 128), new ReLU()).summary()).toMatch(/ReLU\(\) +\(batch, 128\)/);
    expect(net.summary()).toMatch(/Output shapes: pass the input shape without the batch/);
    expect(() => net.summary([256, 2])).toThrow(/Conv1D\(3, 1, 32, 1\) at position 0: expected input \(batch, length, 1\)/);
    expect(() => net.summary([0.5] as number[])).toThrow(/summary's inputShape must be an array of positive integers/);
  });

  test('Linear(null, out) takes its input size from the data: build, fit and summary size it', async () => {
    const make = (): Sequential =>
      new Sequential(new Conv1D(3, 1, 8), new MaxPool1D(2, 2), new Flatten(), new Linear(null, 16), new ReLU(), new Linear(16, 10));
    const net = make();
    const lazy = net.modules[3] as Linear;
    expect(String(lazy)).toBe('Linear(null, 16)');
    // Counted once it is sized, as PyTorch counts a lazy module's parameters: a partial sum would pass for the whole.
    expect(() => net.parameterCount()).toThrow(
      'parameterCount: Linear(null, 16) at position 3 takes its input size from its first input, not known yet; call net.build(inputShape) or run a forward pass first',
    );
    expect(net.summary()).toMatch(
      /Linear\(null, 16\) +\? +\?\n[\s\S]*Parameters: 194 so far, and those of Linear\(null, 16\), sized by its first input/,
    );
    expect(() => net.config()).toThrow(/Linear\(null, 16\) at position 3: its input size is not known yet; call net.build\(inputShape\)/);
    expect(net.build([256, 1])).toBe(net);
    expect(lazy.inputSize).toBe(127 * 8);
    expect(String(lazy)).toBe('Linear(1016, 16)');
    expect(net.parameterCount()).toBe(3 * 8 + 1016 * 16 + 16 + 16 * 10 + 10);
    expect(net.config().modules?.[3]).toEqual({ type: 'Linear', args: [1016, 16], options: { bias: true, init: 'heNormal' } });
    // Sized once: another length is refused like any Linear's.
    expect(() => net.build([200, 1])).toThrow(/Linear\(1016, 16\) at position 3: expected input \(batch, 1016\), got \(1, 792\)/);
    // fit sizes it before taking the parameters, so the optimiser trains it.
    seed(7);
    const fresh = make();
    const train = toSequence(loadUSPS());
    const h = await fit(fresh, new CELogSoftmaxLoss(), new Adam({ lr: 3e-3 }), train, { epochs: 1, batchSize: 64, verbose: 0 });
    expect((fresh.modules[3] as Linear).inputSize).toBe(1016);
    expect(h.epochs[0].trainAccuracy).toBeGreaterThan(0.6); // measured 0.76 (chance 0.16)
    // The same seed draws the same initial weights for it; training moved them.
    seed(7);
    const initial = (make().build([256, 1]).modules[3] as Linear).weight.data;
    const trained = (fresh.modules[3] as Linear).weight.data;
    expect(trained.length).toBe(initial.length);
    expect(trained.some((w, i) => Math.abs(w - initial[i]) > 1e-3)).toBe(true);
    // Over positions it takes the last axis, as PyTorch's LazyLinear; without a batch axis it refuses.
    expect((new Sequential(new Linear(null, 4)).build([3, 2]).modules[0] as Linear).inputSize).toBe(2);
    expect(() => new Linear(null, 4).forward(fromArray([1, 2, 3]))).toThrow(
      /^Linear\(null, 4\): expected input \(batch, features\), got \(3\)$/,
    );
  });
});
