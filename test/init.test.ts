/** Initialisation statistics: empirical mean/std (or range) of a large layer against each formula. */
import { zeros } from '../lib/tensor';
import { Rng, seed } from '../lib/random';
import { initialize, INIT_NAMES, InitName } from '../lib/init';
import { Linear, Conv1D } from '../lib/nn';

function stats(d: Float32Array): { mean: number; std: number; min: number; max: number } {
  let s = 0;
  let s2 = 0;
  let min = Infinity;
  let max = -Infinity;
  for (const v of d) {
    s += v;
    s2 += v * v;
    min = Math.min(min, v);
    max = Math.max(max, v);
  }
  const mean = s / d.length;
  return { mean, std: Math.sqrt(s2 / d.length - mean * mean), min, max };
}

// (fanIn, fanOut) = (400, 200): 80,000 samples. The standard error of the mean is σ/√n ≈ σ/283
// and of the std about σ/√(2n) ≈ σ/400, so 5 % of σ (≥ 14 standard errors) cannot fail by chance
// yet catches any wrong formula (the closest alternatives differ by ≥ 20 %).
const FAN_IN = 400;
const FAN_OUT = 200;
const expected: Record<InitName, { mean: number; std: number; low?: number; high?: number }> = {
  normal: { mean: 0, std: 1 },
  uniform: { mean: 0.5, std: Math.sqrt(1 / 12), low: 0, high: 1 },
  ones: { mean: 1, std: 0, low: 1, high: 1 },
  zeros: { mean: 0, std: 0, low: 0, high: 0 },
  xavierNormal: { mean: 0, std: Math.sqrt(2 / (FAN_IN + FAN_OUT)) },
  xavierUniform: { mean: 0, std: Math.sqrt(6 / (FAN_IN + FAN_OUT)) / Math.sqrt(3), low: -Math.sqrt(6 / 600), high: Math.sqrt(6 / 600) },
  heNormal: { mean: 0, std: Math.sqrt(2 / FAN_IN) },
  heUniform: { mean: 0, std: Math.sqrt(6 / FAN_IN) / Math.sqrt(3), low: -Math.sqrt(6 / 400), high: Math.sqrt(6 / 400) },
};

test.each(INIT_NAMES.map((n) => [n]))('%s matches its formula', (name) => {
  seed(123);
  const w = initialize(zeros([FAN_IN, FAN_OUT]), name, FAN_IN, FAN_OUT);
  const s = stats(w.data);
  const e = expected[name];
  const sigma = Math.max(e.std, 1e-12);
  expect(Math.abs(s.mean - e.mean)).toBeLessThanOrEqual(0.05 * sigma + 1e-12);
  expect(Math.abs(s.std - e.std)).toBeLessThanOrEqual(0.05 * sigma + 1e-12);
  if (e.low !== undefined && e.high !== undefined) {
    expect(s.min).toBeGreaterThanOrEqual(Math.fround(e.low));
    expect(s.max).toBeLessThanOrEqual(Math.fround(e.high));
    if (e.high > e.low) expect(s.max - s.min).toBeGreaterThan(0.99 * (e.high - e.low));
  }
});

test('defaults: He normal for Linear (fan in), Xavier normal for Conv1D (chanIn, chanOut)', () => {
  seed(1);
  const lin = new Linear(500, 300);
  expect(Math.abs(stats(lin.weight.data).std - Math.sqrt(2 / 500))).toBeLessThan(0.05 * Math.sqrt(2 / 500));
  const conv = new Conv1D(5, 200, 400);
  // Fans are the channels, not chan·kSize as in PyTorch: σ = √(2 / 600), not √(2 / 3000).
  expect(Math.abs(stats(conv.weight.data).std - Math.sqrt(2 / 600))).toBeLessThan(0.05 * Math.sqrt(2 / 600));
});

test('seed() makes initialisation reproducible', () => {
  seed(42);
  const a = new Linear(20, 10).weight.data.slice();
  seed(42);
  const b = new Linear(20, 10).weight.data.slice();
  seed(43);
  const c = new Linear(20, 10).weight.data.slice();
  expect(b).toEqual(a);
  expect(c).not.toEqual(a);
});

test('seed() takes the integers the generator tells apart: [0, 2^32 - 1], nothing it would fold onto another', () => {
  for (const bad of [-1, 2 ** 32, 1.5, NaN, Infinity]) {
    expect(() => seed(bad)).toThrow(`seed: expected an integer in [0, 4294967295], got ${bad}`);
  }
  expect(() => seed('3' as unknown as number)).toThrow('seed: expected an integer in [0, 4294967295], got string');
  expect(() => seed(2 ** 32 - 1)).not.toThrow();
});

test('an unknown init name is a RangeError listing the known ones', () => {
  expect(() => initialize(zeros([2]), 'kaiming' as InitName, 1, 1)).toThrow(/expected one of normal, uniform/);
});

describe('the random stream', () => {
  test('shuffle draws every permutation equally often (Fisher–Yates: the identity too, which a cyclic variant never gives)', () => {
    const rng = new Rng(3);
    const counts = new Map<string, number>();
    const draws = 6000;
    for (let i = 0; i < draws; i++) {
      const p = rng.shuffle([0, 1, 2]).join('');
      counts.set(p, (counts.get(p) ?? 0) + 1);
    }
    expect([...counts.keys()].sort()).toEqual(['012', '021', '102', '120', '201', '210']);
    // 1,000 expected each, binomial σ ≈ 29: ±100 is past 3σ, and the seed makes the draw fixed.
    for (const [p, n] of counts) expect({ p, near: Math.abs(n - draws / 6) < 100 }).toEqual({ p, near: true });
  });
});
