/**
 * Style transfer (lib/style.ts) on both backends: the gradient with respect to the pixels that the
 * modules' backwardDelta carries down against finite differences, the optimisation lowering its
 * loss, the trained features, resizeImage, and the refusals.
 */
import { setBackend } from '../lib/backend';
import { Rng } from '../lib/random';
import { Tensor, wrap } from '../lib/tensor';
import { AvgPool2D, Conv2D, Dropout, ReLU, Sequential, Sigmoid, TanH } from '../lib/nn';
import { randomStyleFeatures, styleDistance, styleLossAndGradient, styleTransfer, StyleFeatures, trainStyleFeatures } from '../lib/style';
import { resizeImage } from '../lib/data/image';
import { availableBackends } from './backends';
import { StyleOverflowError } from '../lib';

function randomImage(h: number, w: number, seed: number): Tensor {
  const rng = new Rng(seed);
  const d = new Float32Array(h * w * 3);
  for (let i = 0; i < d.length; i++) d[i] = rng.uniform();
  return wrap([h, w, 3], d);
}

/** Diagonal stripes in two colours: a texture whose Gram matrices differ from noise's. */
function stripes(h: number, w: number): Tensor {
  const d = new Float32Array(h * w * 3);
  for (let y = 0; y < h; y++) {
    for (let x = 0; x < w; x++) {
      const on = (x + y) % 6 < 3;
      d.set(on ? [0.9, 0.3, 0.1] : [0.1, 0.2, 0.8], (y * w + x) * 3);
    }
  }
  return wrap([h, w, 3], d);
}

/** A smooth feature network (tanh, sigmoid): finite differences see no kinks. */
function smoothFeatures(): StyleFeatures {
  const net = new Sequential(
    new Conv2D(3, 3, 4, 1, { padding: 1 }),
    new TanH(),
    new AvgPool2D(2, 2),
    new Conv2D([3, 2], 4, 5, 1, { padding: 1 }),
    new Sigmoid(),
  );
  // Weights from a fixed stream, so both backends see the same network.
  const rng = new Rng(7);
  for (const p of net.parameters()) for (let i = 0; i < p.value.data.length; i++) p.value.data[i] = 0.5 * rng.normal();
  return { net, styleLayers: [1, 4], contentLayers: [1, 4] };
}

describe.each(availableBackends())('style transfer on the %s backend', (name) => {
  beforeAll(() => setBackend(name));

  test('the gradient with respect to the pixels matches central finite differences', () => {
    const features = smoothFeatures();
    const image = randomImage(6, 7, 1);
    const content = randomImage(6, 7, 2);
    const style = randomImage(8, 6, 3);
    const { loss, gradient } = styleLossAndGradient(features, image, content, style, 0.7, 3);
    expect(loss.content).toBeGreaterThan(0);
    expect(loss.style).toBeGreaterThan(0);
    const eps = 1e-2;
    const at = (v: Float32Array): number => styleLossAndGradient(features, wrap(image.shape, v), content, style, 0.7, 3).loss.total;
    let worst = 0;
    let scale = 0;
    for (let i = 0; i < image.data.length; i += 5) {
      const plus = image.data.slice();
      const minus = image.data.slice();
      plus[i] += eps;
      minus[i] -= eps;
      const numeric = (at(plus) - at(minus)) / (2 * eps);
      worst = Math.max(worst, Math.abs(numeric - gradient.data[i]));
      scale = Math.max(scale, Math.abs(numeric));
    }
    expect(scale).toBeGreaterThan(1e-3);
    expect(worst / scale).toBeLessThan(2e-2);
  });

  test('a few steps lower the combined loss on a 16×16 image, pixels staying in [0, 1]', () => {
    const content = randomImage(16, 16, 4);
    const style = stripes(16, 16);
    const features = randomStyleFeatures({ seed: 3, channels: 8 });
    const steps: number[] = [];
    const result = styleTransfer(content, style, { features, steps: 20, lr: 0.05, onStep: (s) => steps.push(s) });
    expect(steps).toEqual(Array.from({ length: 20 }, (_, i) => i + 1));
    expect(result.history).toHaveLength(21);
    expect(result.history[0]).toBeGreaterThan(0);
    expect(result.loss.total).toBeLessThan(0.5 * result.history[0]);
    expect(result.image.shape).toEqual([16, 16, 3]);
    expect(Math.min(...result.image.data)).toBeGreaterThanOrEqual(0);
    expect(Math.max(...result.image.data)).toBeLessThanOrEqual(1);
    // Closer to the stripes in a feature space the optimisation never saw.
    const judge = randomStyleFeatures({ seed: 99, channels: 8 });
    expect(styleDistance(judge, result.image, style)).toBeLessThan(styleDistance(judge, content, style));
  });

  test('the style loss of an image against itself is 0, and the defaults start from the content', () => {
    const image = stripes(16, 16);
    const features = randomStyleFeatures({ channels: 4 });
    expect(styleDistance(features, image, image)).toBeCloseTo(0, 6);
    const r = styleTransfer(image, image, { features, steps: 0 });
    expect(r.loss.total).toBeCloseTo(0, 6);
    expect(Array.from(r.image.data)).toEqual(Array.from(image.data));
  });

  test('the feature network runs in evaluation mode (Dropout off), its modes put back', () => {
    const dropout = new Dropout(0.5);
    const net = new Sequential(new Conv2D(3, 3, 6, 1, { padding: 1 }), new ReLU(), dropout, new AvgPool2D(2, 2));
    const features: StyleFeatures = { net, styleLayers: [2, 3], contentLayers: [3] };
    const image = stripes(8, 8);
    // In training mode the same image would meet two different dropout masks and a non-zero distance.
    expect(styleDistance(features, image, image)).toBeCloseTo(0, 6);
    expect(styleTransfer(image, image, { features, steps: 0 }).loss.total).toBeCloseTo(0, 6);
    expect(net.training).toBe(true);
    expect(dropout.training).toBe(true);
    net.eval();
    styleDistance(features, image, randomImage(8, 8, 1));
    expect(dropout.training).toBe(false);
  });

  test('trainStyleFeatures trains the random features of its seed', () => {
    const images = [stripes(24, 24), randomImage(24, 24, 5)];
    const random = randomStyleFeatures({ seed: 2, channels: 4 });
    const losses: number[] = [];
    const trained = trainStyleFeatures(images, {
      seed: 2,
      channels: 4,
      steps: 3,
      batchSize: 4,
      patch: 16,
      onStep: (_, l) => losses.push(l),
    });
    expect(losses).toHaveLength(3);
    expect(losses.every((l) => Number.isFinite(l) && l > 0)).toBe(true);
    expect(trained.styleLayers).toEqual(random.styleLayers);
    const w0 = (random.net.modules[0] as Conv2D).weight.data;
    const w1 = (trained.net.modules[0] as Conv2D).weight.data;
    expect(w1.length).toBe(w0.length);
    expect(Array.from(w1)).not.toEqual(Array.from(w0));
    const r = styleTransfer(images[1], images[0], { features: trained, steps: 2 });
    expect(r.image.shape).toEqual([24, 24, 3]);
  });
});

describe('resizeImage', () => {
  test('shrinking averages the pixels covered; the longest side gets the size asked', () => {
    const d = new Float32Array([0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15]);
    const r = resizeImage(wrap([4, 4, 1], d), 2);
    expect(r.shape).toEqual([2, 2, 1]);
    expect(Array.from(r.data)).toEqual([2.5, 4.5, 10.5, 12.5]);
    expect(resizeImage(randomImage(30, 45, 1), 12).shape).toEqual([8, 12, 3]);
    expect(resizeImage(randomImage(30, 45, 1), [5, 7]).shape).toEqual([5, 7, 3]);
  });

  test('a constant image stays constant at any size, larger or smaller', () => {
    const img = wrap([5, 3, 3], new Float32Array(45).fill(0.25));
    for (const size of [1, 2, 7, 13] as const) {
      const r = resizeImage(img, size);
      for (const v of r.data) expect(v).toBeCloseTo(0.25, 6);
    }
  });

  test("enlarging interpolates between pixel centres, as PyTorch's bilinear with align_corners=False", () => {
    // Output pixel o samples the input at (o + 0.5)·(in / out) − 0.5, clamped to the edge pixels.
    expect(Array.from(resizeImage(wrap([1, 2, 1], new Float32Array([0, 1])), [1, 4]).data)).toEqual([0, 0.25, 0.75, 1]);
    expect(Array.from(resizeImage(wrap([3, 1, 1], new Float32Array([0, 1, 2])), [6, 1]).data)).toEqual([0, 0.25, 0.75, 1.25, 1.75, 2]);
  });

  test('refuses a size that is not a positive integer, naming it', () => {
    expect(() => resizeImage(randomImage(4, 4, 1), 0)).toThrow(/resizeImage: size must be an integer in \[1, 65535\].*got number 0/);
    expect(() => resizeImage(wrap([4, 4], new Float32Array(16)), 2)).toThrow(/resizeImage: image must be a tensor \(height, width, chan\)/);
  });
});

describe('refusals name the argument', () => {
  test('styleTransfer', () => {
    const img = randomImage(16, 16, 1);
    expect(() => styleTransfer(wrap([16, 16], new Float32Array(256)), img)).toThrow(
      /styleTransfer: content must have shape \(height, width, 3\), got \(16, 16\)/,
    );
    expect(() => styleTransfer(img, img, { steps: -1 })).toThrow(/styleTransfer: steps must be an integer/);
    expect(() => styleTransfer(img, img, { styleWeight: NaN })).toThrow(/styleWeight must be a finite number >= 0/);
    expect(() => styleTransfer(img, img, { stepz: 3 } as never)).toThrow(/stepz/);
    // Beyond float32: the style term's factor itself, then a gradient whose squares Adam would overflow.
    expect(() => styleTransfer(img, img, { styleWeight: 1e300, steps: 2 })).toThrow(
      /styleTransfer: contentWeight 1 and styleWeight 1e\+300 make the gradient of the loss overflow float32 at step 1/,
    );
    // A user's code tells it apart, from the package's entry point, with the weights it had.
    let caught: unknown;
    try {
      styleTransfer(img, img, { styleWeight: 1e300, steps: 2 });
    } catch (e) {
      caught = e;
    }
    expect(caught).toBeInstanceOf(StyleOverflowError);
    expect(caught).toMatchObject({ contentWeight: 1, styleWeight: 1e300 });
    expect(() => styleTransfer(img, randomImage(16, 16, 2), { contentWeight: 0, styleWeight: 1e25, steps: 2 })).toThrow(
      /contentWeight 0 and styleWeight 1e\+25 make the gradient of the loss overflow float32 at step 1/,
    );
    // A content image whose features are all but zero: said, whatever the weights.
    const faint = wrap([16, 16, 3], new Float32Array(16 * 16 * 3).fill(1e-25));
    const plain: StyleFeatures = { net: new Sequential(new Conv2D(3, 3, 4, 1, { bias: false })), styleLayers: [0], contentLayers: [0] };
    expect(() => styleTransfer(faint, img, { features: plain, steps: 1 })).toThrow(
      /at step 1 \(the content image's features at layer \d+ are almost zero, squared norm .*; leave that layer out\)/,
    );
    // Here Σg² passes the largest float but no g² does: Adam takes it, so it runs.
    const large = styleTransfer(img, randomImage(16, 16, 2), { contentWeight: 0, styleWeight: 1e21, steps: 2 });
    expect(large.image.data.every(Number.isFinite)).toBe(true);
    const { gradient } = styleLossAndGradient(randomStyleFeatures(), img, img, randomImage(16, 16, 2), 0, 1e21);
    expect(gradient.data.reduce((a, v) => a + v * v, 0)).toBeGreaterThan(3.4e38);
    expect(() => styleTransfer(img, img, { features: { net: new Sequential(), styleLayers: [3], contentLayers: [] } })).toThrow(
      /features.styleLayers must be module indices/,
    );
    // Three 2×2 poolings leave nothing of a 4×4 image for the last one.
    expect(() => styleTransfer(randomImage(4, 4, 1), img)).toThrow(
      /styleTransfer: content \(4×4\) does not fit the feature network: AvgPool2D/,
    );
  });

  test('trainStyleFeatures', () => {
    expect(() => trainStyleFeatures([randomImage(8, 8, 1)], { patch: 16 })).toThrow(/images\[0\] is 8×8, smaller than the 16×16 patches/);
    expect(() => trainStyleFeatures([])).toThrow(/non-empty array/);
  });
});
