/**
 * Sequential.backward follows the last forward pass (the network keeps only what that pass needs).
 * A PyTorch user's two forwards before two backwards, or a validation forward between a batch's
 * forward and backward, used to give wrong parameter gradients with no error (same shapes) or a
 * bare shape mismatch: a built-in loss's gradient now carries the output it was taken at, and a
 * gradient of an earlier output is refused, before any gradient moves.
 */
import { Sequential, Linear, ReLU, LogSoftmax, Sigmoid, Dropout } from '../../lib/nn';
import { Tensor, clone, fromArray, randn } from '../../lib/tensor';
import { seed } from '../../lib/random';
import { BCELoss, CELogSoftmaxLoss, CrossEntropyLoss, HingeLoss, Loss, MSELoss } from '../../lib/losses';

const EARLIER = /backward got the loss gradient at an output \(\d+, \d+\) of an earlier forward pass, not at the last forward's output/;

function mlp(): Sequential {
  return new Sequential(new Linear(4, 8), new ReLU(), new Linear(8, 3));
}

const gradients = (net: Sequential): Float32Array[] => net.parameters().map((p) => p.grad.data.slice());

/** The parameter gradients of one forward and backward of `x` alone, from zero. */
function gradientOf(net: Sequential, loss: Loss, x: Tensor, y: Tensor): Float32Array[] {
  net.zeroGrad();
  net.backward(loss.backward(y, net.forward(x)));
  return gradients(net);
}

describe('Sequential.backward and the last forward pass', () => {
  test("two forwards, then the first output's loss gradient: refused, no gradient moved", () => {
    seed(1);
    const net = mlp();
    const loss = new MSELoss();
    const [x1, x2, t1] = [randn([5, 4]), randn([5, 4]), randn([5, 3])];
    net.zeroGrad();
    const o1 = net.forward(x1);
    net.forward(x2);
    const before = gradients(net);
    expect(() => net.backward(loss.backward(t1, o1))).toThrow(
      new RegExp(EARLIER.source + String.raw` \(5, 3\) \(same shape, other values\): .*call backward before the next forward`),
    );
    expect(gradients(net)).toEqual(before);
  });

  test('a validation forward of another batch size between forward and backward: the message says so, not a bare shape mismatch', () => {
    seed(2);
    const net = mlp();
    const loss = new CELogSoftmaxLoss();
    const x = randn([7, 4]);
    const labels = fromArray([0, 2, 1, 1, 0, 2, 2]);
    const out = net.forward(x);
    net.forward(randn([5, 4])); // e.g. a look at a validation batch
    expect(() => net.backward(loss.backward(labels, out))).toThrow(
      /at an output \(7, 3\) of an earlier forward pass, not at the last forward's output \(5, 3\):/,
    );
  });

  const lossCases: [string, () => Sequential, Loss, Tensor][] = [
    [
      'MSELoss',
      mlp,
      new MSELoss(),
      fromArray(
        [...Array(18)].map((_, i) => (i % 5) / 5),
        [6, 3],
      ),
    ],
    [
      'BCELoss',
      () => new Sequential(new Linear(4, 3), new Sigmoid()),
      new BCELoss(),
      fromArray(
        [...Array(18)].map((_, i) => i % 2),
        [6, 3],
      ),
    ],
    ['CELogSoftmaxLoss', mlp, new CELogSoftmaxLoss(), fromArray([0, 1, 2, 0, 1, 2])],
    ['CrossEntropyLoss', () => new Sequential(new Linear(4, 3), new LogSoftmax()), new CrossEntropyLoss(), fromArray([0, 1, 2, 0, 1, 2])],
    [
      'HingeLoss',
      mlp,
      new HingeLoss({ reduction: 'sum' }),
      fromArray(
        [...Array(18)].map((_, i) => (i % 3 ? 1 : -1)),
        [6, 3],
      ),
    ],
  ];
  test.each(lossCases)("%s marks its gradient (backward and lossAndGradient): an earlier output's is refused", (_, make, loss, y) => {
    seed(3);
    const net = make();
    const o1 = net.forward(randn([6, 4]));
    net.forward(randn([6, 4]));
    expect(() => net.backward(loss.backward(y, o1))).toThrow(EARLIER);
    expect(() => net.backward(loss.lossAndGradient(y, o1).gradient)).toThrow(EARLIER);
  });

  test('the right order (forward, backward, forward, backward) sums both batches; an output copied or recomputed with the same values is accepted', () => {
    seed(4);
    const net = mlp();
    const loss = new MSELoss();
    const [x1, x2, t1, t2] = [randn([5, 4]), randn([5, 4]), randn([5, 3]), randn([5, 3])];
    const g1 = gradientOf(net, loss, x1, t1);
    const g2 = gradientOf(net, loss, x2, t2);
    net.zeroGrad();
    net.backward(loss.backward(t1, net.forward(x1)));
    net.backward(loss.backward(t2, net.forward(x2)));
    gradients(net).forEach((g, i) => g.forEach((v, j) => expect(v).toBeCloseTo(g1[i][j] + g2[i][j], 5)));

    // The loss taken at a clone of the output, or at an earlier output of the same batch (the
    // network is deterministic): the last pass is that batch's, and the gradient is x1's.
    net.zeroGrad();
    const copy = clone(net.forward(x1));
    net.backward(loss.backward(t1, copy));
    expect(gradients(net)).toEqual(g1);
    net.zeroGrad();
    const first = net.forward(x1);
    net.forward(x1);
    net.backward(loss.backward(t1, first));
    expect(gradients(net)).toEqual(g1);
  });

  test('a loss gradient at something other than an output of this network (a residual over a baseline, the sum of two networks) is the chain rule, not refused', () => {
    // The review of the first version of this check: it refused any gradient not at the last
    // output, so these loops, one forward per network, threw.
    seed(7);
    const x = randn([5, 4]);
    const y = randn([5, 3]);
    const sum = (a: Tensor, b: Tensor): Tensor => ({ shape: a.shape, data: a.data.map((v, i) => v + b.data[i]) });
    const net = mlp();
    const yhat = sum(randn([5, 3]), net.forward(x));
    net.zeroGrad();
    net.backward(new MSELoss().backward(y, yhat));
    const wide = mlp();
    const deep = mlp();
    const logits = sum(wide.forward(x), deep.forward(x));
    const g = new CELogSoftmaxLoss().backward(fromArray([0, 1, 2, 0, 1]), logits);
    wide.backward(g);
    deep.backward(g);
    expect(wide.parameters().some((p) => p.grad.data.some((v) => v !== 0))).toBe(true);
  });

  test("the module contract's backward calls replay a pass: a gradient at the output before them is refused", () => {
    seed(8);
    const net = mlp();
    const loss = new MSELoss();
    const [x1, x2, t] = [randn([5, 4]), randn([5, 4]), randn([5, 3])];
    const o1 = net.forward(x1);
    net.backwardDelta(x2, randn([5, 3])); // runs x2's pass again inside the network
    expect(() => net.backward(loss.backward(t, o1))).toThrow(EARLIER);
  });

  test('a dropout mask drawn again: the same batch forwarded twice in training mode is two passes', () => {
    seed(5);
    const net = new Sequential(new Linear(4, 16), new Dropout(0.5), new Linear(16, 3));
    const x = randn([8, 4]);
    const t = randn([8, 3]);
    const first = net.forward(x);
    net.forward(x);
    expect(() => net.backward(new MSELoss().backward(t, first))).toThrow(EARLIER);
  });

  test('a delta made by hand (not a loss gradient) is backpropagated through the last pass, as before', () => {
    seed(6);
    const net = mlp();
    net.forward(randn([5, 4]));
    const x2 = randn([5, 4]);
    const out = net.forward(x2);
    const delta = randn(out.shape);
    net.zeroGrad();
    net.backward(delta);
    const got = gradients(net);
    net.zeroGrad();
    net.forward(x2);
    net.backward(delta);
    expect(got).toEqual(gradients(net));
  });
});
