/**
 * The charts' standards: round ticks (1-2-5 steps, powers of ten on a log axis, evenly spaced
 * integer epochs), both axes labelled, the legend and the title inside the canvas, curves at the
 * top tick drawn inside the frame, bands for several seeds. Checked on generated charts: the
 * defects of the earlier charts (ticks at the data's min and max such as 0.0117 and 0.41,
 * accuracy as a fraction, no y label, a title and legend cut at the edge) fail here.
 */
import { lineChartSvg, niceTicks, logTicks, epochTicks, niceStep, textWidth, Series } from '../lib/plot';
import { confusionMatrixSvg, meanBandSeries, panelsSvg, scatterSvg } from '../lib/report/figures';
import { Logger } from '../lib/logger';

/** The texts of class `cls` in an SVG, with their x, y and anchor. */
function texts(svg: string, cls?: string): { x: number; y: number; anchor: string; size: number; text: string }[] {
  const out = [];
  for (const m of svg.matchAll(/<text ([^>]*)>([^<]*)<\/text>/g)) {
    const attrs = m[1];
    if (cls !== undefined && !attrs.includes(`class="${cls}"`)) continue;
    const x = Number(/\bx="([-\d.]+)"/.exec(attrs)?.[1] ?? NaN);
    const y = Number(/\by="([-\d.]+)"/.exec(attrs)?.[1] ?? NaN);
    const anchor = /text-anchor="(\w+)"/.exec(attrs)?.[1] ?? 'start';
    const size = Number(/font-size="(\d+)"/.exec(attrs)?.[1] ?? 11);
    out.push({ x, y, anchor, size, text: m[2] });
  }
  return out;
}

/** Every positioned text of a single chart lies within [0, width] horizontally, by its estimated width. */
function expectTextsInside(svg: string, width: number): void {
  for (const t of texts(svg)) {
    if (Number.isNaN(t.x)) continue; // rotated labels are placed by transform
    const w = textWidth(t.text, t.size);
    const [from, to] = t.anchor === 'middle' ? [t.x - w / 2, t.x + w / 2] : t.anchor === 'end' ? [t.x - w, t.x] : [t.x, t.x + w];
    expect({ text: t.text, from: Math.max(0, from), to: Math.min(width, to) }).toEqual({ text: t.text, from, to });
  }
}

/** True when every tick is an integer multiple of one 1-2-5 step. */
function isRound(ticks: number[]): boolean {
  const step = ticks[1] - ticks[0];
  const mantissa = Number((step / 10 ** Math.floor(Math.log10(step))).toPrecision(6));
  return [1, 2, 5].includes(mantissa) && ticks.every((t) => Math.abs(t / step - Math.round(t / step)) < 1e-6);
}

const lossCurve = [0.41, 0.31, 0.211, 0.16, 0.111, 0.08, 0.05, 0.03, 0.0117];

describe('tick choice', () => {
  test('niceTicks: round steps covering the data, never the data min and max themselves', () => {
    const ticks = niceTicks(0.0117, 0.41);
    expect(isRound(ticks)).toBe(true);
    expect(ticks[0]).toBeLessThanOrEqual(0.0117);
    expect(ticks[ticks.length - 1]).toBeGreaterThanOrEqual(0.41);
    expect(ticks).toEqual([0, 0.1, 0.2, 0.3, 0.4, 0.5]);
    expect(niceTicks(0.873, 0.999)).toEqual([0.85, 0.9, 0.95, 1]);
    expect(niceStep(7, 5)).toBe(2);
  });
  test('logTicks: powers of ten, with 2 and 5 over a short range', () => {
    expect(logTicks(0.829, 99.9)).toEqual([0.1, 1, 10, 100]);
    expect(logTicks(0.3, 4)).toEqual([0.1, 0.2, 0.5, 1, 2, 5, 10]);
  });
  test('epochTicks: evenly spaced integers', () => {
    for (const n of [2, 5, 9, 15, 17, 23, 50, 137]) {
      const t = epochTicks(n);
      const gaps = new Set(t.slice(1).map((v, i) => v - t[i]));
      expect(gaps.size).toBeLessThanOrEqual(1);
      expect(t.every((v) => Number.isInteger(v) && v >= 1 && v <= n)).toBe(true);
      expect(t.length).toBeGreaterThanOrEqual(n > 2 ? 2 : 1);
    }
  });
});

describe('line chart', () => {
  const series: Series[] = [
    { name: 'train loss', values: lossCurve },
    { name: 'val loss', values: lossCurve.map((v) => v * 1.2) },
  ];
  const svg = lineChartSvg(series, { title: 'Loss per sample', xLabel: 'epoch', yLabel: 'loss per sample' });

  test('y ticks are round numbers, not the data extremes', () => {
    const labels = texts(svg, 'ytick').map((t) => t.text);
    expect(labels).not.toContain('0.0117');
    expect(labels).not.toContain('0.41');
    expect(isRound(labels.map(Number))).toBe(true);
    // One decimal format for all of them.
    expect(new Set(labels.map((l) => (l.split('.')[1] ?? '').length)).size).toBe(1);
  });
  test('both axes are labelled', () => {
    expect(texts(svg, 'xlabel').map((t) => t.text)).toEqual(['epoch']);
    expect(texts(svg, 'ylabel').map((t) => t.text)).toEqual(['loss per sample']);
  });
  test('x ticks are evenly spaced on the page', () => {
    const xs = texts(svg, 'xtick').map((t) => t.x);
    const gaps = xs.slice(1).map((x, i) => x - xs[i]);
    for (const g of gaps) expect(g).toBeCloseTo(gaps[0], 0);
  });
  test('title and legend stay inside the canvas, even long ones', () => {
    expectTextsInside(svg, 640);
    const long = lineChartSvg(
      [
        { name: 'denoising autoencoder trained at noise σ 0.3, 784→256→64', values: [1, 2, 3] },
        { name: 'plain autoencoder', values: [2, 1, 0.5] },
      ],
      {
        title: 'Reconstruction error against the clean image for every noise level, linear and denoising autoencoders',
        xLabel: 'noise σ',
        yLabel: 'MSE per pixel',
        x: [0, 0.1, 0.3],
      },
    );
    expectTextsInside(long, 640);
    expect(texts(long, 'legend')).toHaveLength(2);
  });
  test('accuracy as a fraction is shown in percent, with the unit in the label', () => {
    const acc = lineChartSvg([{ name: 'val', values: [0.873, 0.95, 0.999] }], { yLabel: 'accuracy', percent: true });
    const labels = texts(acc, 'ytick').map((t) => Number(t.text));
    expect(Math.max(...labels)).toBeGreaterThanOrEqual(99.9);
    expect(Math.max(...labels)).toBeLessThanOrEqual(100);
    expect(texts(acc, 'ylabel')[0].text).toBe('accuracy (%)');
  });
  test('a log axis puts values spanning decades on powers of ten, and the top value inside the frame', () => {
    const lr = lineChartSvg(
      [
        { name: 'lr 1', values: [100, 100, 100] },
        { name: 'lr 0.001', values: [1.32, 1.03, 0.829] },
      ],
      { yScale: 'log', yLabel: 'BCE' },
    );
    expect(texts(lr, 'ytick').map((t) => t.text)).toEqual(['0.1', '1', '10', '100']);
    const frameTop = Number(/<rect x="[\d.]+" y="([\d.]+)" width="[\d.]+" height="[\d.]+" fill="none"/.exec(lr)?.[1]);
    const firstPath = /<path d="M[\d.]+,([\d.]+)/.exec(lr)?.[1];
    expect(Number(firstPath)).toBeGreaterThan(frameTop + 2);
  });
  test('marker labels close together do not overlap; each keeps its line', () => {
    const markers = [12, 20, 26, 27, 29, 31].map((x) => ({ x, label: `lr → ${(1e-3 / x).toExponential(1)}` }));
    const crowded = lineChartSvg([{ name: 'loss', values: Array.from({ length: 32 }, (_, i) => 1 / (i + 1)) }], { markers });
    expect(crowded.match(/stroke-dasharray="4 3"/g)).toHaveLength(markers.length);
    const labels = texts(crowded, 'marker').map((t) => {
      const w = textWidth(t.text, t.size);
      return { y: t.y, from: t.anchor === 'end' ? t.x - w : t.x, to: t.anchor === 'end' ? t.x : t.x + w };
    });
    expect(labels.length).toBeGreaterThanOrEqual(3);
    for (const a of labels) {
      for (const b of labels) {
        if (a !== b && a.y === b.y) expect(a.to <= b.from || b.to <= a.from).toBe(true);
      }
    }
    expectTextsInside(crowded, 640);
  });
  test('markers are drawn with their labels', () => {
    const marked = lineChartSvg(series, { markers: [{ x: 5, label: 'lr → 1.5e-4' }] });
    expect(texts(marked, 'marker').map((t) => t.text)).toEqual(['lr → 1.5e-4']);
  });
});

describe('several seeds: a mean with a band', () => {
  test('meanBandSeries: mean and ± sample std per epoch over the runs that reached it', () => {
    const s = meanBandSeries('val', [
      [1, 2, 3],
      [3, 4],
    ]);
    expect(s.values).toEqual([2, 3, 3]);
    expect(s.lower?.[0]).toBeCloseTo(2 - Math.SQRT2);
    expect(s.upper?.[1]).toBeCloseTo(3 + Math.SQRT2);
    expect(s.lower?.[2]).toBe(3);
    const svg = panelsSvg([{ series: [s], options: { yLabel: 'accuracy' } }], 1);
    expect(svg).toMatch(/<polygon points="[^"]+" fill="#[0-9a-f]+" fill-opacity="0.18"/);
  });
});

describe('the Logger and the other figures', () => {
  test("Logger.svg: labelled axes, accuracy in percent, the best epoch and annotate()'s marks", () => {
    const logger = new Logger({ verbose: 0 });
    const valLoss = [0.5, 0.3, 0.2, 0.25, 0.27];
    valLoss.forEach((v, i) =>
      logger.epoch({
        epoch: i + 1,
        trainLoss: v * 1.1,
        valLoss: v,
        trainAccuracy: 0.8 + i * 0.03,
        valAccuracy: 0.79 + i * 0.03,
        seconds: 1,
      }),
    );
    logger.annotate(4, 'lr → 1.5e-4');
    const svg = logger.svg();
    expect(texts(svg, 'ylabel').map((t) => t.text)).toEqual(['loss per sample', 'accuracy (%)']);
    const accTicks = texts(svg.split('<svg y="360"')[1], 'ytick').map((t) => Number(t.text));
    expect(Math.max(...accTicks)).toBeGreaterThan(1); // percent, not fractions
    const marks = texts(svg, 'marker').map((t) => t.text);
    expect(marks).toContain('best val loss: epoch 3');
    expect(marks).toContain('lr → 1.5e-4');
  });
  test('confusion matrix: a long title widens the figure instead of being cut', () => {
    const title = 'Linear→Sigmoid, xavierUniform init, Fashion-MNIST test';
    const svg = confusionMatrixSvg(
      [
        [5, 1],
        [2, 7],
      ],
      { title },
    );
    const width = Number(/width="(\d+)"/.exec(svg)?.[1]);
    const shown = texts(svg, 'title')[0];
    expect(shown.text).toContain(title);
    expect(width).toBeGreaterThanOrEqual(textWidth(shown.text, 14));
    expectTextsInside(svg, width);
  });
  test('confusion matrix: class names one per class, or none; another count is refused by name (an empty list drew undefined)', () => {
    const m = [
      [5, 1],
      [2, 7],
    ];
    expect(confusionMatrixSvg(m, { classNames: ['cat', 'dog'] })).toContain('>dog</text>');
    for (const classNames of [[], ['cat'], ['a', 'b', 'c']])
      expect(() => confusionMatrixSvg(m, { classNames })).toThrow(
        new RangeError(
          `confusionMatrixSvg: classNames holds ${classNames.length} names for a matrix of 2 classes; give one per class, or none for 0..1`,
        ),
      );
  });
  test('a chart drawn again is the same document; the panels of one figure clip to distinct ids', () => {
    const loss: Series[] = [{ name: 'loss', values: [1, 0.5, 0.25] }];
    const accuracy: Series[] = [{ name: 'accuracy', values: [0.5, 0.75, 0.9] }];
    expect(lineChartSvg(loss, { title: 'a' })).toBe(lineChartSvg(loss, { title: 'a' }));
    const figure = panelsSvg([
      { series: loss, options: { title: 'loss' } },
      { series: accuracy, options: { title: 'accuracy' } },
    ]);
    const ids = [...figure.matchAll(/<clipPath id="([^"]+)"/g)].map((m) => m[1]);
    expect(ids).toHaveLength(2);
    expect(new Set(ids).size).toBe(2);
    for (const id of ids) expect(figure).toContain(`clip-path="url(#${id})"`);
  });
  test('scatter: round ticks and labelled axes', () => {
    const svg = scatterSvg([-44.7, -20.6, 11.3, 45.5, 0, 0], [0, 1, 2], { xLabel: 'z₁', yLabel: 'z₂', title: 'codes' });
    const xs = texts(svg, 'xtick').map((t) => Number(t.text));
    expect(isRound(xs)).toBe(true);
    expect(xs).not.toContain(-44.7);
    expect(texts(svg, 'ylabel')).toHaveLength(1);
  });
});
