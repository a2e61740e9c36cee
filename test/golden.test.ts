/**
 * Golden test against the course's reference outputs (`verif_projet_prof`, see
 * ../shared/data/verif/SOURCE.md): every array of the file, reproduced with our modules and
 * the recovered weights (Linear and Conv1D without bias), on every available backend.
 *
 * The reference is float64 NumPy; we compute in float32, so values are compared with a
 * relative tolerance of 1e-5 (float32 has 24 bits ≈ 6e-8 relative per operation; the
 * longest chain here, conv → pool → linear → MSE → back, is a few dozen operations deep)
 * plus an absolute 1e-5 × the array's largest magnitude for entries that cancel to near 0.
 */
import * as fs from 'fs';
import * as path from 'path';
import { Tensor, fromArray, reshape } from '../lib/tensor';
import { setBackend } from '../lib/backend';
import { availableBackends } from './backends';
import { Linear, Conv1D, MaxPool1D, Flatten, TanH, Sigmoid, ReLU, Softmax } from '../lib/nn';
import { MSELoss, BCELoss, CELogSoftmaxLoss } from '../lib/losses';

// The repository's parent holds shared/ (in CI too: the clone gets shared/ copied beside it).
const FIXTURE = path.resolve(__dirname, '..', '..', 'shared', 'data', 'verif', 'verif_projet_prof.json');

type Nested = number | Nested[];
interface Fixture {
  inputs: { datax: number[][]; datay: number[]; dataymulti: number[] };
  recovered_weights: { linear_W_10x1_no_bias: number[][]; conv1d_W_k3_cin1_cout5: number[][][] };
  expected: Record<string, { shape: number[]; data: Nested }>;
}

function load(): Fixture {
  if (!fs.existsSync(FIXTURE)) {
    throw new Error(`golden fixture missing: ${FIXTURE} (the shared/ folder must sit next to the repository)`);
  }
  return JSON.parse(fs.readFileSync(FIXTURE, 'utf8')) as Fixture;
}

const fixture = load();
const backends = availableBackends();

function flat(v: Nested): number[] {
  return Array.isArray(v) ? v.flatMap(flat) : [v];
}

/** Names compared so far, to prove at the end that no array of the file was skipped. */
const checked = new Set<string>();

function expectMatches(name: string, got: Tensor): void {
  checked.add(name);
  const ref = fixture.expected[name];
  expect({ name, shape: [...got.shape] }).toEqual({ name, shape: ref.shape });
  const want = flat(ref.data);
  const scale = Math.max(...want.map(Math.abs));
  for (let i = 0; i < want.length; i++) {
    const err = Math.abs(got.data[i] - want[i]);
    const tol = 1e-5 * Math.abs(want[i]) + 1e-5 * scale;
    if (!(err <= tol)) throw new Error(`${name}[${i}]: got ${got.data[i]}, reference ${want[i]} (tolerance ${tol.toExponential(2)})`);
  }
}

describe.each(backends)('course reference outputs (%s backend)', (backendName) => {
  beforeAll(() => setBackend(backendName));

  const x = fromArray(fixture.inputs.datax); // (20, 10)
  const y = fromArray(fixture.inputs.datay, [20, 1]); // labels in {−1, 1}
  const yMulti = fromArray(fixture.inputs.dataymulti); // class indices, (20,)

  function linear(): Linear {
    const lin = new Linear(10, 1, { bias: false });
    lin.weight.data.set(flat(fixture.recovered_weights.linear_W_10x1_no_bias));
    lin.zeroGrad();
    return lin;
  }

  test('fixture lists the 27 arrays SOURCE.md names', () => {
    expect(Object.keys(fixture.expected).sort()).toEqual([
      'delta_bce',
      'delta_ce',
      'delta_conv',
      'delta_flat',
      'delta_lin',
      'delta_linconv',
      'delta_mse',
      'delta_mseconv',
      'delta_pool',
      'delta_relu',
      'delta_sig',
      'delta_tanh',
      'grad_conv',
      'grad_lin',
      'res_bce',
      'res_ce',
      'res_conv',
      'res_flat',
      'res_lin',
      'res_linconv',
      'res_mse',
      'res_mseconv',
      'res_pool',
      'res_relu',
      'res_sig',
      'res_tanh',
      'soft_lin',
    ]);
  });

  test('Linear → MSE, forward and backward; TanH, Sigmoid, ReLU on that delta', () => {
    const lin = linear();
    const mse = new MSELoss({ reduction: 'sum' }); // the course's summed gradients
    const resLin = lin.forward(x);
    expectMatches('res_lin', resLin);
    expectMatches('res_mse', mse.forward(y, resLin));
    const deltaMse = mse.backward(y, resLin);
    expectMatches('delta_mse', deltaMse);
    lin.backwardUpdateGradient(x, deltaMse);
    expectMatches('grad_lin', lin.weightGrad); // a sum over the batch, not a mean
    expectMatches('delta_lin', lin.backwardDelta(x, deltaMse));

    for (const [act, res, delta] of [
      [new TanH(), 'res_tanh', 'delta_tanh'],
      [new Sigmoid(), 'res_sig', 'delta_sig'],
      [new ReLU(), 'res_relu', 'delta_relu'],
    ] as const) {
      expectMatches(res, act.forward(resLin));
      expectMatches(delta, act.backwardDelta(resLin, deltaMse));
    }
  });

  test('CE with log-softmax on datax as logits', () => {
    const ce = new CELogSoftmaxLoss({ reduction: 'sum' }); // the course's summed gradients
    expectMatches('res_ce', ce.forward(yMulti, x));
    expectMatches('delta_ce', ce.backward(yMulti, x));
  });

  test('Softmax over one column, then BCE: loose checks only', () => {
    const softLin = new Softmax().forward(linear().forward(x));
    expectMatches('soft_lin', softLin); // all ones
    // The course fed this degenerate ŷ = 1 into its BCE with log clipped at 1e-10 (so −23.03
    // and 1e10 wherever the clip bites); ours clips the log at −100 as PyTorch does, and takes
    // targets in {0, 1}. Same structure, different clip values: check the structure.
    const target = fromArray(
      fixture.inputs.datay.map((v) => (v + 1) / 2),
      [20, 1],
    );
    const bce = new BCELoss({ reduction: 'sum' }); // the course's summed gradients
    const res = bce.forward(target, softLin);
    const delta = bce.backward(target, softLin);
    const refRes = flat(fixture.expected.res_bce.data);
    const refDelta = flat(fixture.expected.delta_bce.data);
    checked.add('res_bce');
    checked.add('delta_bce');
    for (let i = 0; i < 20; i++) {
      const clipped = Math.abs(refRes[i]) > 1; // the course hit its clip: ŷ = 1 with a −1 label
      expect(Number.isFinite(res.data[i]) && Number.isFinite(delta.data[i])).toBe(true);
      if (clipped) {
        expect(res.data[i]).toBeCloseTo(100, 4); // −log clipped at −100
        expect(refDelta[i]).toBeGreaterThan(1e9);
        expect(delta.data[i]).toBeGreaterThan(1e11); // 1 / max(1 − ŷ, 1e-12)
      } else {
        expect(Math.abs(refRes[i])).toBeLessThan(1e-9);
        expect(res.data[i]).toBeCloseTo(0, 6);
        // Both give −y/ŷ = −1 here (the course: −0.9999999999).
        expect(delta.data[i]).toBeCloseTo(refDelta[i], 6);
      }
    }
  });

  test('Conv1D(3, 1, 5, stride 2) → MaxPool1D(2, 2) → Flatten → Linear → MSE, full backward', () => {
    const conv = new Conv1D(3, 1, 5, 2);
    conv.weight.data.set(flat(fixture.recovered_weights.conv1d_W_k3_cin1_cout5));
    conv.zeroGrad();
    const pool = new MaxPool1D(2, 2);
    const flatten = new Flatten();
    const lin = linear();
    const mse = new MSELoss({ reduction: 'sum' }); // the course's summed gradients

    const x3 = reshape(x, [20, 10, 1]);
    const resConv = conv.forward(x3);
    expectMatches('res_conv', resConv);
    const resPool = pool.forward(resConv);
    expectMatches('res_pool', resPool);
    const resFlat = flatten.forward(resPool);
    expectMatches('res_flat', resFlat);
    const resLin = lin.forward(resFlat);
    expectMatches('res_linconv', resLin);
    expectMatches('res_mseconv', mse.forward(y, resLin));
    const deltaMse = mse.backward(y, resLin);
    expectMatches('delta_mseconv', deltaMse);
    const deltaLin = lin.backwardDelta(resFlat, deltaMse);
    expectMatches('delta_linconv', deltaLin);
    const deltaFlat = flatten.backwardDelta(resPool, deltaLin);
    expectMatches('delta_flat', deltaFlat);
    const deltaPool = pool.backwardDelta(resConv, deltaFlat);
    expectMatches('delta_pool', deltaPool);
    expectMatches('delta_conv', conv.backwardDelta(x3, deltaPool));
    conv.backwardUpdateGradient(x3, deltaPool);
    expectMatches('grad_conv', conv.weightGrad); // summed over the batch
  });
});

test('every array of the fixture was compared', () => {
  expect([...checked].sort()).toEqual(Object.keys(fixture.expected).sort());
});
