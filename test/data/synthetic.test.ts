import { Dataset, checkerboard, checkerboardLabel, classCounts, gaussianBlobs, xor } from '../../lib/data';

/** Best accuracy of any line w·x + b > 0 over a fine sweep of directions and offsets. */
function bestLinearAccuracy(ds: Dataset): number {
  const n = ds.labels.length;
  let best = 0;
  for (let a = 0; a < 180; a++) {
    const wx = Math.cos((a * Math.PI) / 180);
    const wy = Math.sin((a * Math.PI) / 180);
    const proj = Array.from({ length: n }, (_, i) => ({ p: wx * ds.x.data[2 * i] + wy * ds.x.data[2 * i + 1], l: ds.labels[i] }));
    proj.sort((u, v) => u.p - v.p);
    // Threshold between consecutive sorted points: count label-1 above and label-0 below (either orientation).
    let ones = proj.reduce((s, q) => s + q.l, 0);
    let zerosBelow = 0;
    for (let k = 0; k <= n; k++) {
      const acc = (zerosBelow + ones) / n;
      best = Math.max(best, acc, 1 - acc);
      if (k < n) {
        if (proj[k].l === 0) zerosBelow++;
        else ones--;
      }
    }
  }
  return best;
}

describe('synthetic data', () => {
  test('gaussianBlobs: shape, balance, separable by x + y = 0', () => {
    const ds = gaussianBlobs({ n: 301, noise: 0.8, seed: 4 });
    expect(ds.x.shape).toEqual([301, 2]);
    expect(classCounts(ds.labels, 2)).toEqual([150, 151]);
    for (let i = 0; i < 301; i++) {
      const s = ds.x.data[2 * i] + ds.x.data[2 * i + 1];
      expect(s > 0 ? 1 : 0).toBe(ds.labels[i]);
    }
    expect(bestLinearAccuracy(ds)).toBe(1);
  });

  test('xor: four blobs, label = opposite signs, not linearly separable', () => {
    const ds = xor({ n: 400, noise: 0.3, seed: 2 });
    expect(ds.x.shape).toEqual([400, 2]);
    expect(classCounts(ds.labels, 2)).toEqual([200, 200]);
    const quadrants = [0, 0, 0, 0];
    for (let i = 0; i < 400; i++) {
      const x = ds.x.data[2 * i];
      const y = ds.x.data[2 * i + 1];
      expect(x * y < 0 ? 1 : 0).toBe(ds.labels[i]);
      quadrants[(x > 0 ? 0 : 1) + (y > 0 ? 0 : 2)]++;
    }
    expect(quadrants).toEqual([100, 100, 100, 100]);
    // Any line gets at most about 3 of the 4 blobs right.
    expect(bestLinearAccuracy(ds)).toBeLessThan(0.8);
  });

  test('checkerboard: label rule, range, rough balance, noise blurs the borders only', () => {
    const ds = checkerboard({ n: 4000, seed: 3 });
    expect(ds.x.shape).toEqual([4000, 2]);
    for (let i = 0; i < 4000; i++) {
      const x = ds.x.data[2 * i];
      const y = ds.x.data[2 * i + 1];
      expect(Math.abs(x)).toBeLessThanOrEqual(4);
      expect(Math.abs(y)).toBeLessThanOrEqual(4);
      expect(checkerboardLabel(x, y)).toBe(ds.labels[i]);
    }
    const [zeros, ones] = classCounts(ds.labels, 2);
    expect(Math.abs(zeros - ones)).toBeLessThan(200);
    expect(bestLinearAccuracy(checkerboard({ n: 500, seed: 3 }))).toBeLessThan(0.65);
    const noisy = checkerboard({ n: 4000, seed: 3, noise: 0.1 });
    let agree = 0;
    for (let i = 0; i < 4000; i++) agree += checkerboardLabel(noisy.x.data[2 * i], noisy.x.data[2 * i + 1]) === noisy.labels[i] ? 1 : 0;
    expect(agree / 4000).toBeGreaterThan(0.8);
    expect(agree / 4000).toBeLessThan(1);
  });

  test('checkerboardLabel handles negative coordinates', () => {
    expect([checkerboardLabel(0.5, 0.5), checkerboardLabel(-0.5, 0.5), checkerboardLabel(-0.5, -0.5), checkerboardLabel(1.5, 0.5)]).toEqual(
      [0, 1, 0, 1],
    );
  });

  test.each([
    ['gaussianBlobs', gaussianBlobs],
    ['xor', xor],
    ['checkerboard', checkerboard],
  ] as const)('%s is reproducible with a seed and differs across seeds', (_, gen) => {
    const a = gen({ n: 50, seed: 7 });
    const b = gen({ n: 50, seed: 7 });
    const c = gen({ n: 50, seed: 8 });
    expect(Array.from(a.x.data)).toEqual(Array.from(b.x.data));
    expect(Array.from(a.labels)).toEqual(Array.from(b.labels));
    expect(Array.from(a.x.data)).not.toEqual(Array.from(c.x.data));
  });

  test('classes are interleaved, not in blocks', () => {
    const ds = gaussianBlobs({ n: 100, seed: 1 });
    const firstHalf = classCounts(ds.labels.subarray(0, 50), 2);
    expect(firstHalf[0]).toBeGreaterThan(10);
    expect(firstHalf[1]).toBeGreaterThan(10);
  });

  test('argument checks', () => {
    expect(() => gaussianBlobs({ n: 0 })).toThrow('gaussianBlobs: n must be a positive integer, got 0');
    expect(() => xor({ noise: -1 })).toThrow('xor: noise must be a finite number ≥ 0, got -1');
  });

  test('every option is checked: no non-finite points, no misleading noise message, no silent seed 0', () => {
    const center = 'gaussianBlobs: center must be a finite number > 0 and at most 1e30, got';
    expect(() => gaussianBlobs({ center: 1e39 })).toThrow(`${center} 1e+39`);
    expect(() => gaussianBlobs({ center: NaN })).toThrow(`${center} NaN`);
    expect(() => gaussianBlobs({ center: -1 })).toThrow(`${center} -1`);
    expect(() => xor({ center: '2' as never })).toThrow('xor: center must be a finite number > 0 and at most 1e30, got string 2');
    expect(() => checkerboard({ extent: Infinity })).toThrow(
      'checkerboard: extent must be a finite number > 0 and at most 1e30, got Infinity',
    );
    expect(() => checkerboard({ cell: Infinity })).toThrow('checkerboard: cell must be a finite number > 0 and at most 1e30, got Infinity');
    expect(() => checkerboard({ cell: 1e-300 })).toThrow('checkerboard: extent / cell must be at most 2^20 squares, got 4 / 1e-300');
    expect(() => xor({ noise: 1e39 })).toThrow('xor: noise must be a finite number ≥ 0 and at most 1e30, got 1e+39');
    expect(() => xor({ seed: NaN })).toThrow('xor: seed must be an integer, got NaN');
    expect(() => xor({ seed: 'abc' as never })).toThrow('xor: seed must be an integer, got string abc');
    expect(() => xor({ seed: 1.5 })).toThrow('xor: seed must be an integer, got 1.5');
    expect(() => xor(null as never)).toThrow('xor: options must be an object, got null');
    expect(() => xor({ centre: 2 } as never)).toThrow("xor: unknown option 'centre' (did you mean 'center'?)");
    const big = gaussianBlobs({ n: 20, center: 1e30, seed: 1 });
    expect(Array.from(big.x.data).every(Number.isFinite)).toBe(true);
    const wide = checkerboard({ n: 50, extent: 1e30, cell: 1e25, seed: 1 });
    expect(Array.from(wide.x.data).every(Number.isFinite)).toBe(true);
  });
});
