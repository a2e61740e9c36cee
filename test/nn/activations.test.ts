/** Known values of every activation, numerical safety at extreme inputs, and module plumbing (errors, config). */
import { fromArray, Tensor } from '../../lib/tensor';
import { setBackend } from '../../lib/backend';
import { availableBackends } from '../backends';
import {
  Sequential,
  Linear,
  Conv1D,
  ConvTranspose1D,
  MaxPool1D,
  AvgPool1D,
  Flatten,
  Upsample1D,
  TanH,
  Sigmoid,
  StableSigmoid,
  Softmax,
  LogSoftmax,
  ReLU,
  LeakyReLU,
  SoftPlus,
  SiLU,
  GELU,
  ELU,
  Identity,
} from '../../lib/nn';

const backends = availableBackends();

function values(t: Tensor): number[] {
  return Array.from(t.data);
}

function expectClose(got: number[], want: number[], digits = 5): void {
  expect(got.length).toBe(want.length);
  got.forEach((g, i) => expect(g).toBeCloseTo(want[i], digits));
}

describe('activations: known values', () => {
  const x = fromArray([[-2, -0.5, 0, 0.5, 2]]);

  test('TanH and its derivative 1 − tanh²', () => {
    const t = new TanH();
    expectClose(values(t.forward(x)), [-0.9640276, -0.4621172, 0, 0.4621172, 0.9640276]);
    expectClose(values(t.backwardDelta(x, fromArray([[1, 1, 1, 1, 1]]))), [0.0706508, 0.7864477, 1, 0.7864477, 0.0706508]);
  });

  test('Sigmoid and StableSigmoid agree on ordinary inputs', () => {
    const want = [0.1192029, 0.3775407, 0.5, 0.6224593, 0.8807971];
    expectClose(values(new Sigmoid().forward(x)), want);
    expectClose(values(new StableSigmoid().forward(x)), want);
    expectClose(
      values(new StableSigmoid().backwardDelta(x, fromArray([[2, 2, 2, 2, 2]]))),
      want.map((s) => 2 * s * (1 - s)),
    );
  });

  test('StableSigmoid at ±1e4 is exactly 0 and 1, with a zero (finite) derivative', () => {
    const big = fromArray([[-1e4, 1e4, -88, 88]]);
    const s = new StableSigmoid();
    const y = values(s.forward(big));
    expect(y[0]).toBe(0);
    expect(y[1]).toBe(1);
    expect(y[2]).toBeGreaterThan(0); // e^−88 ≈ 6e-39 is a float32 subnormal, not flushed to NaN
    const d = values(s.backwardDelta(big, fromArray([[1, 1, 1, 1]])));
    expect(d.every(Number.isFinite)).toBe(true);
    expect(d[0]).toBe(0);
    expect(d[1]).toBe(0);
  });

  test('ReLU, LeakyReLU, SoftPlus, Identity', () => {
    expectClose(values(new ReLU().forward(x)), [0, 0, 0, 0.5, 2]);
    expectClose(values(new ReLU().backwardDelta(x, fromArray([[3, 3, 3, 3, 3]]))), [0, 0, 0, 3, 3]);
    expectClose(values(new LeakyReLU().forward(x)), [-0.02, -0.005, 0, 0.5, 2]);
    expectClose(values(new LeakyReLU(0.2).backwardDelta(x, fromArray([[1, 1, 1, 1, 1]]))), [0.2, 0.2, 0.2, 1, 1]);
    expectClose(values(new SoftPlus().forward(x)), [0.126928, 0.474077, 0.693147, 0.974077, 2.126928]);
    expectClose(values(new SoftPlus().forward(fromArray([[-1e4, 1e4]]))), [0, 1e4]);
    expectClose(values(new Identity().forward(x)), values(x));
  });

  test("SiLU, ELU and GELU: PyTorch's values and slopes, finite at ±1e4, NaN carried", () => {
    const sig = (v: number): number => 1 / (1 + Math.exp(-v));
    const xs = [-2, -0.5, 0, 0.5, 2];
    expectClose(
      values(new SiLU().forward(x)),
      xs.map((v) => v * sig(v)),
    );
    expectClose(
      values(new SiLU().backwardDelta(x, fromArray([[2, 2, 2, 2, 2]]))),
      xs.map((v) => 2 * sig(v) * (1 + v * (1 - sig(v)))),
    );
    expectClose(values(new ELU().forward(x)), [Math.expm1(-2), Math.expm1(-0.5), 0, 0.5, 2]);
    expectClose(values(new ELU(0.5).backwardDelta(x, fromArray([[1, 1, 1, 1, 1]]))), [0.5 * Math.exp(-2), 0.5 * Math.exp(-0.5), 0.5, 1, 1]);
    const big = fromArray([[-1e4, 1e4, NaN]]);
    const silu = values(new SiLU().forward(big));
    expect([Object.is(silu[0], -0) ? 0 : silu[0], silu[1], silu[2]]).toEqual([0, 1e4, NaN]);
    expect(values(new ELU(0.7).forward(big)).map((v) => Math.fround(v))).toEqual([Math.fround(-0.7), 1e4, NaN]);
    expect(values(new ELU(0.7).backwardDelta(big, fromArray([[1, 1, 1]])))).toEqual([0, 1, NaN]);
    expect(String(new ELU(0.7))).toBe('ELU(0.7)');
    // GELU, erf form: Φ(−2) = 0.0227501319, Φ(−0.5) = 0.3085375387, Φ(0.5) = 0.6914624613, Φ(2) = 0.9772498681.
    const cdf = [0.0227501319, 0.3085375387, 0.5, 0.6914624613, 0.9772498681];
    const pdf = xs.map((v) => Math.exp(-0.5 * v * v) / Math.sqrt(2 * Math.PI));
    expectClose(
      values(new GELU().forward(x)),
      xs.map((v, i) => v * cdf[i]),
    );
    expectClose(
      values(new GELU().backwardDelta(x, fromArray([[1, 1, 1, 1, 1]]))),
      xs.map((v, i) => cdf[i] + v * pdf[i]),
    );
    const gelu = values(new GELU().forward(big));
    expect([Math.abs(gelu[0]), gelu[1], gelu[2]]).toEqual([0, 1e4, NaN]);
    expect(() => new ELU(NaN)).toThrow(/^ELU: alpha must be/);
  });

  test('Softmax: known values, rows sum to 1, large logits', () => {
    expectClose(
      values(
        new Softmax().forward(
          fromArray([
            [0, Math.log(3)],
            [1, 1],
          ]),
        ),
      ),
      [0.25, 0.75, 0.5, 0.5],
    );
    const big = values(
      new Softmax().forward(
        fromArray([
          [1e4, 1e4 - 1, -1e4],
          [-1e4, -1e4, -1e4],
        ]),
      ),
    );
    expect(big.every(Number.isFinite)).toBe(true);
    expectClose(big, [0.7310586, 0.2689414, 0, 1 / 3, 1 / 3, 1 / 3]);
  });

  test('Softmax backward is the full JVP y ⊙ (δ − ⟨δ, y⟩), not the diagonal', () => {
    // y = [0.25, 0.75], δ = [1, 0]: ⟨δ, y⟩ = 0.25, so dx = [0.25·0.75, 0.75·(−0.25)].
    const dx = values(new Softmax().backwardDelta(fromArray([[0, Math.log(3)]]), fromArray([[1, 0]])));
    expectClose(dx, [0.1875, -0.1875]);
  });

  test('LogSoftmax: known values, large logits, backward δ − softmax·Σδ', () => {
    expectClose(
      values(
        new LogSoftmax().forward(
          fromArray([
            [0, 0],
            [0, Math.log(3)],
          ]),
        ),
      ),
      [-Math.LN2, -Math.LN2, Math.log(0.25), Math.log(0.75)],
    );
    const big = values(new LogSoftmax().forward(fromArray([[1e4, -1e4]])));
    expect(big).toEqual([0, -2e4]);
    const dx = values(new LogSoftmax().backwardDelta(fromArray([[0, Math.log(3)]]), fromArray([[1, 1]])));
    expectClose(dx, [1 - 0.25 * 2, 1 - 0.75 * 2]);
  });
});

describe.each(backends)("TanH and Sigmoid backward reuse forward's output only for the same input (%s backend)", (name) => {
  beforeAll(() => setBackend(name));
  test.each([
    ['TanH', () => new TanH()],
    ['Sigmoid', () => new Sigmoid()],
  ] as const)('%s', (_, make) => {
    const act = make();
    new Sequential(act); // inside a Sequential the module keeps its output buffer
    const x1 = fromArray([[-2, -0.5, 0.25, 3]]);
    const x2 = fromArray([[1, 1, 1, 1]]);
    const d = fromArray([[1, -2, 3, 0.5]]);
    const want = values(make().backwardDelta(x1, d));
    act.forward(x1);
    expectClose(values(act.backwardDelta(x1, d)), want, 6);
    act.forward(x2); // the kept output is now f(x2): asking about x1 must recompute
    expectClose(values(act.backwardDelta(x1, d)), want, 6);
  });
});

describe.each(backends)('module plumbing (%s backend)', (name) => {
  beforeAll(() => setBackend(name));

  test('shape errors name the module, its position, the expected and the received shape', () => {
    const net = new Sequential(new Linear(784, 256), new TanH(), new Linear(256, 10), new Linear(784, 10));
    expect(() => net.forward(fromArray(new Float32Array(32 * 784), [32, 784]))).toThrow(
      'Linear(784, 10) at position 3: expected input (batch, 784), got (32, 10)',
    );
    expect(() => new Linear(3, 2).forward(fromArray([[1, 2]]))).toThrow('Linear(3, 2): expected input (batch, 3), got (1, 2)');
    expect(() => new Conv1D(3, 2, 4).forward(fromArray([1, 2, 3, 4], [1, 4, 1]))).toThrow(
      'Conv1D(3, 2, 4, 1): expected input (batch, length, 2), got (1, 4, 1)',
    );
    expect(() => new MaxPool1D(5).forward(fromArray([1, 2, 3], [1, 3, 1]))).toThrow(
      'MaxPool1D(5, 5): expected input (batch, length >= 5, chan >= 1), got (1, 3, 1)',
    );
    const lin = new Linear(3, 2);
    expect(() => lin.backwardDelta(fromArray([[1, 2, 3]]), fromArray([[1, 2, 3]]))).toThrow(
      'Linear(3, 2): expected delta (1, 2), got (1, 3)',
    );
    expect(() => new Flatten().forward(fromArray([1, 2]))).toThrow(RangeError);
    expect(() => new Linear(3, 2).forward([1, 2, 3] as unknown as Tensor)).toThrow(TypeError);
  });

  test('nested Sequential positions read 1.0, 1.1', () => {
    const inner = new Sequential(new Linear(4, 3), new Linear(5, 2));
    const net = new Sequential(new Linear(2, 4), inner);
    expect(() => net.forward(fromArray([[1, 2]]))).toThrow('Linear(5, 2) at position 1.1: expected input (batch, 5), got (1, 3)');
  });

  test('constructors validate their arguments', () => {
    expect(() => new Linear(0, 3)).toThrow(RangeError);
    expect(() => new Linear(2.5, 3)).toThrow('Linear: inputSize must be an integer in [1, 16777216], got 2.5');
    expect(() => new Linear('3' as unknown as number, 3)).toThrow(TypeError);
    expect(() => new Linear(3, 3, { init: 'glorot' as never })).toThrow(/unknown init "glorot"/);
    expect(() => new Linear(3, 3, { biass: true } as never)).toThrow(/unknown option 'biass'/);
    expect(() => new Conv1D(3, 1, 4, 0)).toThrow(RangeError);
    expect(() => new Conv1D(3, 1, 4, 1, { padding: -1 })).toThrow(RangeError);
    expect(() => new ConvTranspose1D(3, 1, 1, 2, { outputPadding: 2 })).toThrow(
      'ConvTranspose1D: outputPadding must be an integer in [0, 1], got 2',
    );
    expect(() => new MaxPool1D(NaN)).toThrow(RangeError);
    expect(() => new AvgPool1D(2, -1)).toThrow(RangeError);
    expect(() => new Upsample1D(0)).toThrow(RangeError);
    expect(() => new LeakyReLU(Infinity)).toThrow(RangeError); // a number, out of the float32 range
    expect(() => new Sequential(new Linear(2, 2), {} as never)).toThrow(TypeError);
  });

  test('Upsample1D repeats each position and sums the copies of its gradient', () => {
    const up = new Upsample1D(3);
    const x = fromArray([1, 2, 3, 4], [1, 2, 2]); // 2 positions of 2 channels
    expect(Array.from(up.forward(x).data)).toEqual([1, 2, 1, 2, 1, 2, 3, 4, 3, 4, 3, 4]);
    const delta = fromArray([1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12], [1, 6, 2]);
    expect(Array.from(up.backwardDelta(x, delta).data)).toEqual([1 + 3 + 5, 2 + 4 + 6, 7 + 9 + 11, 8 + 10 + 12]);
  });

  test('config and parameters describe the network', () => {
    const net = new Sequential(new Conv1D(3, 1, 8, 1, { padding: 1 }), new ReLU(), new Flatten(), new Linear(80, 10, { bias: false }));
    expect(JSON.parse(JSON.stringify(net))).toEqual({
      type: 'Sequential',
      args: [],
      modules: [
        { type: 'Conv1D', args: [3, 1, 8, 1], options: { bias: false, init: 'xavierNormal', padding: 1 } },
        { type: 'ReLU', args: [] },
        { type: 'Flatten', args: [] },
        { type: 'Linear', args: [80, 10], options: { bias: false, init: 'heNormal' } },
      ],
    });
    expect(net.parameters().map((p) => [p.name, [...p.value.shape]])).toEqual([
      ['0.weight', [3, 1, 8]],
      ['3.weight', [80, 10]],
    ]);
    expect(net.outputShape([5, 10, 1])).toEqual([5, 10]);
  });

  test('Sequential.backward equals the modules run by hand, and the Module methods agree', () => {
    const a = new Linear(3, 4);
    const b = new Linear(4, 2);
    const net = new Sequential(a, new TanH(), b);
    const x = fromArray([
      [0.1, -0.2, 0.3],
      [0.5, 0.4, -0.6],
    ]);
    const d = fromArray([
      [1, -1],
      [0.5, 2],
    ]);
    net.forward(x);
    net.zeroGrad();
    const dx = values(net.backward(d));
    const gA = values(a.weightGrad);
    net.zeroGrad();
    net.backwardUpdateGradient(x, d);
    expectClose(values(a.weightGrad), gA, 6);
    expectClose(values(net.backwardDelta(x, d)), dx, 6);
    // by hand
    const h = a.forward(x);
    const t = new TanH();
    const dh = t.backwardDelta(h, b.backwardDelta(t.forward(h), d));
    expectClose(values(a.backwardDelta(x, dh)), dx, 5);
  });

  test('deferZeroGrad then a backward pass gives the gradients of zeroGrad, also with a layer used twice', () => {
    const shared = new Linear(3, 3);
    const conv = new Conv1D(2, 1, 2);
    const mlp = (): Sequential => new Sequential(new Linear(3, 3), new TanH(), shared, new TanH(), shared);
    const x = fromArray([
      [0.1, -0.2, 0.3],
      [0.5, 0.4, -0.6],
    ]);
    const d = fromArray([
      [1, -1, 0.5],
      [0.5, 2, -0.25],
    ]);
    const net = mlp();
    const grads = (): number[][] => net.parameters().map((p) => values(p.grad));
    // Stale gradients from an earlier step must not leak into the deferred one.
    net.forward(x);
    net.backwardUpdateGradient(x, d);
    net.zeroGrad();
    net.backwardUpdateGradient(x, d);
    const eager = grads();
    net.backwardUpdateGradient(x, d);
    net.deferZeroGrad();
    net.backwardUpdateGradient(x, d);
    grads().forEach((g, i) => expectClose(g, eager[i], 6));
    // A Linear subclass with its own backwardUpdateGradient cannot honour the deferral: cleared at once.
    class Custom extends Linear {
      backwardUpdateGradient(input: Tensor, delta: Tensor): void {
        this.weightGrad.data[0] += input.data[0] * delta.data[0];
      }
    }
    const custom = new Custom(3, 3);
    custom.weightGrad.data.fill(5);
    custom.deferZeroGrad();
    expect(values(custom.weightGrad).every((v) => v === 0)).toBe(true);
    // A layer without an override (Conv1D) clears at once.
    conv.backwardUpdateGradient(
      fromArray([[[1], [2], [3]]]),
      fromArray([
        [
          [1, 1],
          [1, 1],
        ],
      ]),
    );
    conv.deferZeroGrad();
    expect(values(conv.weightGrad).every((v) => v === 0)).toBe(true);
  });

  // A module used at two places, with a layer between that hands its input through unchanged
  // (Flatten of a 2-D input): the second use's input is then the first use's own output buffer,
  // which the second use overwrites, so Sequential gives each place a copy (ownCopy), in forward,
  // infer and backward alike. Compared with two separate copies of the layer.
  test('a layer used twice around a pass-through layer: forward, infer and backward equal two separate copies', () => {
    const shared = new Linear(4, 4);
    const copy = (): Linear => {
      const l = new Linear(4, 4);
      l.weight.data.set(shared.weight.data);
      (l.bias as Tensor).data.set((shared.bias as Tensor).data);
      return l;
    };
    const reused = new Sequential(shared, new Flatten(), shared);
    const separate = new Sequential(copy(), new Flatten(), copy());
    const x = fromArray([
      [0.5, -1, 2, 0.25],
      [1, 1.5, -0.5, 3],
    ]);
    const d = fromArray([
      [1, 2, 3, 4],
      [-1, -2, 0.5, 1],
    ]);
    expect(values(reused.infer(x))).toEqual(values(separate.infer(x)));
    expect(values(reused.forward(x))).toEqual(values(separate.forward(x)));
    expect(values(reused.backward(d))).toEqual(values(separate.backward(d)));
  });

  test('updateParameters is w −= lr·grad; a module follows setBackend', () => {
    const lin = new Linear(2, 1, { init: 'ones' });
    lin.zeroGrad();
    lin.backwardUpdateGradient(fromArray([[1, 2]]), fromArray([[1]]));
    lin.updateParameters(0.5);
    expect(values(lin.weight)).toEqual([0.5, 0]);
    expect(values(lin.bias as Tensor)).toEqual([0.5]);
    setBackend('js');
    const viaJs = values(lin.forward(fromArray([[1, 1]])));
    setBackend(name);
    expect(values(lin.forward(fromArray([[1, 1]])))).toEqual(viaJs);
  });
});
