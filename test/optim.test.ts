/** Optimisers: exact single steps against hand computation, and the course's Optim. */
import { fromArray, Tensor, zeros } from '../lib/tensor';
import { seed } from '../lib/random';
import { Linear, Sequential, TanH, Parameter } from '../lib/nn';
import { MSELoss } from '../lib/losses';
import { SGD, Adam, AdamW, Optim } from '../lib/optim';

function param(values: number[], grads: number[]): Parameter {
  const value = fromArray(values);
  const grad = fromArray(grads);
  return { name: 'p', value, grad, module: new Linear(1, 1) };
}

test('SGD: plain step, weight decay, momentum (PyTorch formulation)', () => {
  const p = param([1, -2], [0.5, 1]);
  new SGD({ lr: 0.1 }).step([p]);
  expect(Array.from(p.value.data)).toEqual([0.95, -2.1].map(Math.fround));

  const q = param([1, -2], [0.5, 1]);
  new SGD({ lr: 0.1, weightDecay: 0.5 }).step([q]); // g = grad + 0.5 w = [1, 0]
  expect(Array.from(q.value.data)).toEqual([0.9, -2].map(Math.fround));

  const r = param([0], [1]);
  const opt = new SGD({ lr: 1, momentum: 0.9 });
  opt.step([r]); // v = 1, w = −1
  opt.step([r]); // v = 0.9 + 1 = 1.9, w = −2.9
  expect(r.value.data[0]).toBeCloseTo(-2.9, 6);
});

test('Adam: the first step moves each weight by lr·sign(g); later steps follow the formula', () => {
  const p = param([1, 1, 1], [0.001, -5, 0]);
  const opt = new Adam({ lr: 0.01 });
  opt.step([p]);
  // m̂ = g, v̂ = g², so the step is lr·g/(|g| + eps) ≈ lr·sign(g).
  expect(p.value.data[0]).toBeCloseTo(0.99, 5);
  expect(p.value.data[1]).toBeCloseTo(1.01, 5);
  expect(p.value.data[2]).toBe(1);
  // Second step with the same gradient, by the textbook formula in float64.
  const g = 0.001;
  const m = 0.9 * (0.1 * g) + 0.1 * g;
  const v = 0.999 * (0.001 * g * g) + 0.001 * g * g;
  const step = (0.01 * (m / (1 - 0.81))) / (Math.sqrt(v / (1 - 0.999 ** 2)) + 1e-8);
  const before = p.value.data[0];
  opt.step([p]);
  expect(p.value.data[0]).toBeCloseTo(before - step, 6);
});

test('optimiser options are validated', () => {
  expect(() => new SGD({ lr: -1 })).toThrow(RangeError);
  // Held to float32, as the kernels take them, at construction rather than mid-step.
  expect(() => new SGD({ lr: 1e39 })).toThrow('SGD: lr must be a finite float32 number >= 0, got 1e+39');
  expect(() => new AdamW({ weightDecay: 1e39 })).toThrow('AdamW: weightDecay must be in [0, 3.4028234663852886e+38], got 1e+39');
  expect(() => new Adam({ eps: 1e39 })).toThrow(RangeError);
  expect(() => new SGD({ lr: 0.1, weightDecay: 1e39 })).toThrow(RangeError);
  expect(() => new SGD({ lr: 0.1, momentum: 1 })).toThrow(RangeError);
  expect(() => new Adam({ betas: [0.9, 1] })).toThrow(RangeError);
  expect(() => new SGD(undefined as never)).toThrow(TypeError);
  // PyTorch's rule for Nesterov: a momentum, and no dampening.
  expect(() => new SGD({ lr: 0.1, nesterov: true })).toThrow(
    'SGD: nesterov needs a momentum above 0 and no dampening, got momentum 0 and dampening 0',
  );
  expect(() => new SGD({ lr: 0.1, momentum: 0.9, dampening: 0.1, nesterov: true })).toThrow(/got momentum 0\.9 and dampening 0\.1/);
  expect(() => new SGD({ lr: 0.1, momentum: 0.9, dampening: 1.5 })).toThrow('SGD: dampening must be in [0, 1], got 1.5');
  expect(() => new SGD({ lr: 0.1, momentum: 0.9, nesterov: 1 as unknown as boolean })).toThrow(
    'SGD: nesterov must be true or false, got number 1',
  );
  expect(new SGD({ lr: 0.1, momentum: 0.9, nesterov: true }).toJSON().options).toEqual({
    lr: 0.1,
    momentum: 0.9,
    weightDecay: 0,
    dampening: 0,
    nesterov: true,
  });
});

test('a learning rate set after construction (a scheduler, a user) is checked by step: the weights never see it', () => {
  const layer = new Linear(3, 2);
  const params = layer.parameters();
  for (const p of params) p.grad.data.fill(0.5);
  for (const opt of [new SGD({ lr: 0.1, momentum: 0.9 }), new Adam(), new AdamW()]) {
    const who = opt instanceof AdamW ? 'AdamW' : opt instanceof Adam ? 'Adam' : 'SGD';
    const before = params.map((p) => p.value.data.slice());
    const refused: [unknown, Error][] = [
      [NaN, new RangeError(`${who}.step: lr must be a finite float32 number >= 0, got NaN`)],
      [-0.01, new RangeError(`${who}.step: lr must be a finite float32 number >= 0, got -0.01`)],
      [Infinity, new RangeError(`${who}.step: lr must be a finite float32 number >= 0, got Infinity`)],
      // Past float32: the kernel would refuse it, after AdamW's decay had shrunk the weights and
      // Adam had counted the step (the weights went from -0.85 to 8.5e36).
      [1e39, new RangeError(`${who}.step: lr must be a finite float32 number >= 0, got 1e+39`)],
      ['0.1', new TypeError(`${who}.step: lr must be a number, got string 0.1`)],
    ];
    for (const [rate, error] of refused) {
      opt.lr = rate as number;
      expect(() => opt.step(params)).toThrow(error);
      expect(params.map((p) => p.value.data)).toEqual(before);
    }
    // Nor the optimiser's state: the first good step is still a first step (Adam moves by lr).
    opt.lr = 1e-3;
    opt.step(params);
    if (who === 'Adam') params.forEach((p, i) => p.value.data.forEach((v, j) => expect(before[i][j] - v).toBeCloseTo(1e-3, 6)));
    expect(params.every((p, i) => p.value.data.every((v, j) => Number.isFinite(v) && v !== before[i][j]))).toBe(true);
  }
});

test("PyTorch's constructor, new SGD(net.parameters(), { lr }), says the optimisers take only their options", () => {
  const net = new Sequential(new Linear(2, 3), new TanH(), new Linear(3, 1));
  const tail = 'and get the parameters at each step, opt.step(net.parameters()), which fit does';
  // Untyped JavaScript, as a PyTorch user writes it.
  const make = (Kind: unknown, ...args: unknown[]): unknown => new (Kind as new (...a: unknown[]) => unknown)(...args);
  for (const [Kind, name, example] of [
    [SGD, 'SGD', 'new SGD({ lr: 0.1 })'],
    [Adam, 'Adam', 'new Adam({ lr: 0.001 })'],
    [AdamW, 'AdamW', 'new AdamW({ lr: 0.001 })'],
  ] as const) {
    const refusal = `${name}: the first argument is an array (PyTorch's ${name}(params, ...)?); neurone's optimisers take only their options, ${example}, ${tail}`;
    expect(() => make(Kind, net.parameters(), { lr: 0.1 })).toThrow(new TypeError(refusal));
    expect(() => make(Kind, net.parameters())).toThrow(new TypeError(refusal));
    expect(() => make(Kind, net, { lr: 0.1 })).toThrow(
      new TypeError(`${name}: the first argument is a network; neurone's optimisers take only their options, ${example}, ${tail}`),
    );
    // The options alone still build it, and a misspelt option is still named as one.
    expect((make(Kind, { lr: 0.1 }) as SGD).lr).toBe(0.1);
    expect(() => make(Kind, { lr: 0.1, learning_rate: 0.1 })).toThrow(/unknown option 'learning_rate'/);
  }
});

test('Optim.step: one forward/backward/update, returns the mean loss, and learns a linear map', () => {
  seed(3);
  const net = new Sequential(new Linear(3, 1));
  const x = fromArray([
    [1, 0, 0],
    [0, 1, 0],
    [0, 0, 1],
    [1, 1, 1],
  ]);
  const y = fromArray([[1], [-2], [3], [2]]);
  const optim = new Optim(net, new MSELoss({ reduction: 'sum' }), 0.05); // the course's convention;
  const first = optim.step(x, y);
  let last = first;
  for (let i = 0; i < 300; i++) last = optim.step(x, y);
  expect(last).toBeLessThan(1e-6 * Math.max(1, first));
  const w = Array.from((net.modules[0] as Linear).weight.data);
  const b = (net.modules[0] as Linear).bias as Tensor;
  expect(w[0] + b.data[0]).toBeCloseTo(1, 3);
  expect(w[1] + b.data[0]).toBeCloseTo(-2, 3);

  // With an optimiser object instead of a learning rate.
  seed(3);
  const net2 = new Sequential(new Linear(3, 4), new TanH(), new Linear(4, 1));
  const viaAdam = new Optim(net2, new MSELoss(), new Adam({ lr: 0.02 }));
  const start = viaAdam.step(x, y);
  for (let i = 0; i < 300; i++) viaAdam.step(x, y);
  expect(viaAdam.step(x, y)).toBeLessThan(0.05 * start);
});

test('an optimiser keeps separate state per parameter', () => {
  const a = param([0], [1]);
  const b: Parameter = { ...param([0], [1]), value: zeros([1]) };
  const opt = new SGD({ lr: 1, momentum: 0.5 });
  opt.step([a, b]);
  opt.step([a]);
  expect(a.value.data[0]).toBeCloseTo(-2.5, 6);
  expect(b.value.data[0]).toBeCloseTo(-1, 6);
});

test('loadState refuses, changing nothing, what the update could not use; a step never stops halfway', () => {
  const param = (name: string, v: number[]): Parameter => ({
    name,
    value: fromArray(v),
    grad: fromArray(v.map(() => 1)),
    module: new Linear(1, 1),
  });
  const a = param('a', [1, 2]);
  const b = param('b', [3]);
  const adam = new Adam({ lr: 0.1 });
  adam.step([a, b]);
  const good = adam.state([a, b]);
  const tampered = (edit: (s: typeof good) => void): typeof good => {
    const s = adam.state([a, b]);
    edit(s);
    return s;
  };
  const refusals: [string, typeof good, RegExp][] = [
    ['a NaN first moment', tampered((s) => (s.buffers['a.m'][1] = NaN)), /buffer 'a\.m' holds NaN at index 1; expected finite values/],
    ['a negative second moment', tampered((s) => (s.buffers['b.v'][0] = -1)), /buffer 'b\.v' holds -1 at index 0; a second moment is >= 0/],
    [
      'a step count past the kernels',
      tampered((s) => (s.steps.b = 2 ** 31)),
      /step count of b must be an integer in \[1, 2147483646\], got number 2147483648/,
    ],
    ['no buffers', { ...good, buffers: null as never }, /state\.buffers must be an object of Float32Arrays, got null/],
  ];
  for (const [, state, pattern] of refusals) {
    expect(() => adam.loadState([a, b], state)).toThrow(pattern);
    expect(adam.state([a, b])).toEqual(good);
  }
  expect(() => adam.loadState(null as never, good)).toThrow(/Adam\.loadState: params must be an array of parameters/);
  // A gradient of the wrong length is refused before any parameter moves.
  const before = [a.value.data.slice(), b.value.data.slice()];
  const short = { ...b, grad: fromArray([1, 1]) };
  expect(() => adam.step([a, short])).toThrow(/Adam\.step: params\[1\] \(b\) has 1 values and a gradient of 2; expected the same length/);
  expect([a.value.data, b.value.data]).toEqual(before);
  expect(adam.state([a, b])).toEqual(good);
  // The last step the kernels count, then a refusal before any parameter or count changes.
  adam.loadState(
    [a, b],
    tampered((s) => (s.steps.b = 2 ** 31 - 2)),
  );
  adam.step([a, b]);
  const last = adam.state([a, b]);
  const values = [a.value.data.slice(), b.value.data.slice()];
  expect(() => adam.step([a, b])).toThrow('Adam.step: b has taken 2147483647 steps, the most the update counts');
  expect(adam.state([a, b])).toEqual(last);
  expect([a.value.data, b.value.data]).toEqual(values);
});
