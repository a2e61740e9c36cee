/**
 * Charts for training curves: an SVG line chart (written to a file at the end of training, and
 * the report's figures) and a few-lines terminal chart (redrawn during training). No dependencies:
 * the shapes are simple, and the tick choice (1-2-5 steps, powers of ten on a log axis) is the
 * part that matters.
 */
import * as crypto from 'crypto';

/** One curve: y values at x = 1, 2, 3... (epochs) or at the chart's `x`. Non-finite values are skipped. */
export interface Series {
  name: string;
  values: readonly (number | undefined)[];
  color?: string;
  /** Lower edge of a band drawn behind the line (e.g. mean − std over seeds), with `upper`. */
  lower?: readonly (number | undefined)[];
  /** Upper edge of the band. */
  upper?: readonly (number | undefined)[];
  /** Draw the line dashed. */
  dashed?: boolean;
}

/** A vertical mark at `x` (an epoch) with a short label: the best epoch, a learning-rate drop. */
export interface Marker {
  x: number;
  label: string;
  color?: string;
}

/**
 * Where a chart's clip-path id goes while the chart is drawn: the id is then a hash of the drawing,
 * distinct for the distinct panels of one document and the same for the same chart in any run
 * (a count over the process made a redrawn figure differ from the saved one).
 */
const CLIP_ID = '\u0000clip\u0000';

const PALETTE = ['#1f77b4', '#d62728', '#2ca02c', '#ff7f0e', '#9467bd', '#8c564b'];

/** Font sizes and the average advance of a sans-serif glyph, as a share of the size (DejaVu Sans ≈ 0.55–0.6). */
const FONT = 11;
const TITLE_FONT = 14;
/** Rows of marker labels above a chart, at most. */
const MARKER_ROWS = 3;
const GLYPH = 0.62;

/**
 * Estimated width in pixels of `text` at `size` (an upper bound for sans-serif fonts).
 * @internal
 * @param text The text.
 * @param size The font size in pixels.
 */
export function textWidth(text: string, size = FONT): number {
  return Math.ceil(text.length * size * GLYPH);
}

function escapeXml(s: string): string {
  return s.replace(/[<>&"']/g, (c) => ({ '<': '&lt;', '>': '&gt;', '&': '&amp;', '"': '&quot;', "'": '&apos;' })[c] as string);
}

/** Range of the finite values of all series (bands included), widened when flat so the scale is never degenerate. */
function range(series: readonly Series[], positiveOnly = false): [number, number] {
  let lo = Infinity;
  let hi = -Infinity;
  for (const s of series) {
    for (const arr of [s.values, s.lower, s.upper]) {
      for (const v of arr ?? []) {
        if (v !== undefined && Number.isFinite(v) && (!positiveOnly || v > 0)) {
          lo = Math.min(lo, v);
          hi = Math.max(hi, v);
        }
      }
    }
  }
  if (lo === Infinity) return positiveOnly ? [0.1, 1] : [0, 1];
  if (hi - lo < 1e-12 * Math.max(1, Math.abs(hi))) {
    if (positiveOnly) return [lo / 2, hi * 2];
    const d = Math.abs(lo) > 0 ? Math.abs(lo) * 0.1 : 0.5;
    return [lo - d, hi + d];
  }
  return [lo, hi];
}

/**
 * The step between ticks: 1, 2 or 5 times a power of ten, giving about `count` intervals over `span`.
 * @internal
 * @param span The width of the range.
 * @param count About how many intervals.
 */
export function niceStep(span: number, count = 5): number {
  const raw = span / Math.max(1, count);
  const p = 10 ** Math.floor(Math.log10(raw));
  const m = raw / p;
  return (m <= 1 ? 1 : m <= 2 ? 2 : m <= 5 ? 5 : 10) * p;
}

/** Rounds away the float noise of `k · step` (0.30000000000000004 → 0.3). */
function clean(v: number, step: number): number {
  const decimals = Math.max(0, -Math.floor(Math.log10(step)) + 1);
  return Number(v.toFixed(Math.min(20, decimals)));
}

/**
 * Round ticks covering [lo, hi]: multiples of a 1-2-5 step, the first at or below `lo`, the last
 * at or above `hi` (so the axis ends on labelled values).
 * @param lo The smallest value to cover.
 * @param hi The largest value to cover.
 * @param count About how many intervals (default 5).
 */
export function niceTicks(lo: number, hi: number, count = 5): number[] {
  if (!(hi > lo)) return [lo];
  const step = niceStep(hi - lo, count);
  const first = Math.floor(lo / step + 1e-9);
  const last = Math.ceil(hi / step - 1e-9);
  const ticks: number[] = [];
  for (let k = first; k <= last; k++) ticks.push(clean(k * step, step));
  return ticks;
}

/**
 * Ticks of a log axis: the powers of ten over [lo, hi], with 2 and 5 between them when the range is under two decades.
 * @param lo The smallest value to cover (positive).
 * @param hi The largest value to cover.
 */
export function logTicks(lo: number, hi: number): number[] {
  const a = Math.floor(Math.log10(lo) + 1e-9);
  const b = Math.ceil(Math.log10(hi) - 1e-9);
  const ticks: number[] = [];
  for (let e = a; e <= Math.max(b, a + 1); e++) {
    for (const m of b - a <= 2 ? [1, 2, 5] : [1]) {
      const v = Number((m * 10 ** e).toPrecision(12));
      if (v >= 10 ** a && v <= 10 ** Math.max(b, a + 1)) ticks.push(v);
    }
  }
  return ticks;
}

/**
 * Integer ticks over epochs 1..n: multiples of a 1-2-5 step, evenly spaced.
 * @param n The last epoch.
 * @param count About how many ticks at most (default 8).
 */
export function epochTicks(n: number, count = 8): number[] {
  if (n <= 1) return [1];
  const step = Math.max(1, niceStep(n - 1, count));
  const ticks: number[] = [];
  for (let v = step === 1 ? 1 : step; v <= n + 1e-9; v += step) ticks.push(Math.round(v));
  return ticks;
}

/**
 * A tick's text: as many decimals as the step needs, exponent notation for the very small or large.
 * @internal
 * @param v The tick's value.
 * @param step The step between ticks, which decides the decimals.
 */
export function formatTick(v: number, step?: number): string {
  const a = Math.abs(v);
  if (a !== 0 && (a < 1e-3 || a >= 1e5)) return v.toExponential(0).replace('e+', 'e');
  if (step !== undefined && step > 0) {
    const decimals = Math.max(0, -Math.floor(Math.log10(step) + 1e-9));
    return v.toFixed(Math.min(10, decimals));
  }
  return Number(v.toPrecision(3)).toString();
}

/** Options of {@link lineChartSvg}. */
export interface ChartOptions {
  title?: string;
  xLabel?: string;
  yLabel?: string;
  width?: number;
  height?: number;
  /** x of each value (default 1, 2, 3…, epochs). */
  x?: readonly number[];
  /** `'log'` for values spanning decades (losses over learning rates): ticks at powers of ten. */
  yScale?: 'linear' | 'log';
  /** The values are fractions: the axis is labelled in percent. */
  percent?: boolean;
  /** Force the y range (it is still widened to round ticks). */
  yDomain?: readonly [number, number];
  /** Vertical marks (best epoch, learning-rate drops), labelled above the frame. */
  markers?: readonly Marker[];
  /** The legend's least width in pixels: charts meant to be stacked pass the same value, so their plots line up. */
  legendWidth?: number;
}

/** Title lines that fit `width`: split at the space nearest the middle while too wide. */
function titleLines(title: string, width: number): string[] {
  if (textWidth(title, TITLE_FONT) <= width - 20) return [title];
  const mid = Math.floor(title.length / 2);
  let cut = -1;
  for (let d = 0; d < mid; d++) {
    if (title[mid - d] === ' ') {
      cut = mid - d;
      break;
    }
    if (title[mid + d] === ' ') {
      cut = mid + d;
      break;
    }
  }
  return cut < 0 ? [title] : [title.slice(0, cut), title.slice(cut + 1)];
}

/**
 * An SVG line chart of several series sharing the x axis and the y axis: round ticks on both
 * axes, both axes labelled, a legend and title sized to their text, optional bands (mean ± std),
 * vertical markers and a log y axis.
 *
 * @example
 * fs.writeFileSync('loss.svg', lineChartSvg([{ name: 'train', values: [1, 0.5, 0.3] }], { title: 'Loss', yLabel: 'loss', xLabel: 'epoch' }));
 * @param series The curves, drawn in order with the chart's colours unless they name one.
 * @param options Size, title, axis labels, markers, log scale, percent and legend width.
 * @returns The SVG document.
 */
export function lineChartSvg(series: readonly Series[], options: ChartOptions = {}): string {
  const width = options.width ?? 640;
  const height = options.height ?? 360;
  const log = options.yScale === 'log';
  const n = Math.max(1, ...series.map((s) => s.values.length));
  const xs = options.x ?? Array.from({ length: n }, (_, i) => i + 1);
  // y: round ticks covering the data (and the forced domain).
  let [lo, hi] = range(series, log);
  if (options.yDomain) [lo, hi] = [Math.min(lo, options.yDomain[0]), Math.max(hi, options.yDomain[1])];
  const yTicks = log ? logTicks(lo, hi) : niceTicks(lo, hi, Math.max(3, Math.round(height / 70)));
  const y0 = yTicks[0];
  const y1 = yTicks[yTicks.length - 1];
  const yStep = yTicks.length > 1 ? yTicks[1] - yTicks[0] : 1;
  const yText = (v: number): string => (options.percent ? formatTick(100 * v, 100 * yStep) : log ? formatTick(v) : formatTick(v, yStep));
  // x: epochs get integer ticks; given x values get round ones.
  const xMin = Math.min(...xs);
  const xMax = Math.max(...xs);
  const xTicks = options.x ? niceTicks(xMin, xMax, Math.max(3, Math.round(width / 90))) : epochTicks(n);
  const [x0, x1] = options.x ? [xTicks[0], xTicks[xTicks.length - 1]] : [1, Math.max(2, n)];
  const xStep = xTicks.length > 1 ? xTicks[1] - xTicks[0] : 1;

  // Margins from the text they hold.
  const title = options.title ? titleLines(options.title, width) : [];
  const yTickW = Math.max(...yTicks.map((v) => textWidth(yText(v))));
  const legendW = Math.max(options.legendWidth ?? 0, Math.max(0, ...series.map((s) => textWidth(s.name))) + 34);
  const legendRight = series.length > 0 && legendW <= width * 0.32;
  const margin = {
    left: 12 + yTickW + (options.yLabel ? FONT + 10 : 0),
    right: legendRight ? legendW + 10 : 16,
    top: 14 + title.length * (TITLE_FONT + 4),
    bottom: 22 + (options.xLabel ? FONT + 8 : 0),
  };
  // A legend too wide for the side goes below the plot, as many entries per row as fit.
  const perRow = legendRight ? 1 : Math.max(1, Math.floor((width - 20) / legendW));
  const legendRows = legendRight || series.length === 0 ? 0 : Math.ceil(series.length / perRow);
  margin.bottom += legendRows * 16 + (legendRows ? 6 : 0);
  const plotW = width - margin.left - margin.right;
  // Points at given x values (drawn as dots) keep clear of the frame.
  const xInset = options.x ? 6 : 0;
  const px = (x: number): number => margin.left + xInset + ((x - x0) / (x1 - x0)) * (plotW - 2 * xInset);
  // Marker labels sit in rows above the frame, clear of the curves: each in the first row where
  // it does not touch its left neighbour; one that fits no row keeps its line and loses its label.
  const markerRows: number[] = [];
  const placed: { marker: Marker; row: number; from: number; to: number; right: boolean }[] = [];
  for (const m of [...(options.markers ?? [])].filter((m) => m.x >= x0 && m.x <= x1).sort((a, b) => a.x - b.x)) {
    const w = textWidth(m.label, FONT - 1);
    const right = px(m.x) + 4 + w <= margin.left + plotW;
    const from = right ? px(m.x) + 4 : px(m.x) - 4 - w;
    let row = markerRows.findIndex((end) => end + 6 <= from);
    if (row < 0 && markerRows.length < MARKER_ROWS) row = markerRows.push(-Infinity) - 1;
    if (row >= 0) {
      markerRows[row] = from + w;
      placed.push({ marker: m, row, from, to: from + w, right });
    } else placed.push({ marker: m, row: -1, from, to: from, right });
  }
  margin.top += markerRows.length * 12;
  const plotH = height - margin.top - margin.bottom;

  // The y range sits a few pixels inside the frame, so that a curve at the top or bottom tick
  // (accuracy 100 %, a diverged run's loss) is drawn, not hidden under the frame's edge.
  const inset = 6;
  const spanH = plotH - 2 * inset;
  const py = log
    ? (v: number): number => margin.top + inset + spanH - ((Math.log10(v) - Math.log10(y0)) / (Math.log10(y1) - Math.log10(y0))) * spanH
    : (v: number): number => margin.top + inset + spanH - ((v - y0) / (y1 - y0)) * spanH;
  const usable = (v: number | undefined): v is number => v !== undefined && Number.isFinite(v) && (!log || v > 0);
  const f = (v: number): string => v.toFixed(1);

  const parts: string[] = [];
  const clipId = CLIP_ID;
  parts.push(
    `<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${height}" font-family="DejaVu Sans, Arial, sans-serif" font-size="${FONT}">`,
  );
  parts.push(`<rect width="${width}" height="${height}" fill="white"/>`);
  parts.push(
    `<defs><clipPath id="${clipId}"><rect x="${margin.left}" y="${margin.top}" width="${plotW}" height="${plotH}"/></clipPath></defs>`,
  );
  title.forEach((line, i) => {
    parts.push(
      `<text x="${width / 2}" y="${16 + i * (TITLE_FONT + 4)}" text-anchor="middle" font-size="${TITLE_FONT}">${escapeXml(line)}</text>`,
    );
  });
  // Grid lines and tick labels.
  for (const v of yTicks) {
    const y = f(py(v));
    parts.push(`<line x1="${margin.left}" x2="${margin.left + plotW}" y1="${y}" y2="${y}" stroke="#e6e6e6"/>`);
    parts.push(
      `<text class="ytick" x="${margin.left - 6}" y="${y}" text-anchor="end" dominant-baseline="middle">${escapeXml(yText(v))}</text>`,
    );
  }
  for (const v of xTicks) {
    const x = f(px(v));
    parts.push(`<line x1="${x}" x2="${x}" y1="${margin.top}" y2="${margin.top + plotH}" stroke="#f0f0f0"/>`);
    parts.push(
      `<text class="xtick" x="${x}" y="${margin.top + plotH + 15}" text-anchor="middle">${escapeXml(options.x ? formatTick(v, xStep) : String(v))}</text>`,
    );
  }
  parts.push(`<rect x="${margin.left}" y="${margin.top}" width="${plotW}" height="${plotH}" fill="none" stroke="#888"/>`);
  if (options.xLabel) {
    parts.push(
      `<text class="xlabel" x="${margin.left + plotW / 2}" y="${margin.top + plotH + 32}" text-anchor="middle">${escapeXml(options.xLabel)}</text>`,
    );
  }
  if (options.yLabel) {
    const yLabel = options.percent && !options.yLabel.includes('%') ? `${options.yLabel} (%)` : options.yLabel;
    parts.push(
      `<text class="ylabel" transform="translate(${FONT + 2} ${margin.top + plotH / 2}) rotate(-90)" text-anchor="middle">${escapeXml(yLabel)}</text>`,
    );
  }
  // Markers under the curves, their labels in the rows chosen above.
  for (const { marker: m, row, from, to, right } of placed) {
    const x = f(px(m.x));
    const color = m.color ?? '#555';
    parts.push(`<line x1="${x}" x2="${x}" y1="${margin.top}" y2="${margin.top + plotH}" stroke="${color}" stroke-dasharray="4 3"/>`);
    if (row < 0) continue;
    parts.push(
      `<text class="marker" x="${f(right ? from : to)}" y="${margin.top - 4 - row * 12}" text-anchor="${right ? 'start' : 'end'}" font-size="${FONT - 1}" fill="${color}">${escapeXml(m.label)}</text>`,
    );
  }
  const colorOf = (s: Series, si: number): string => s.color ?? PALETTE[si % PALETTE.length];
  parts.push(`<g clip-path="url(#${clipId})">`);
  series.forEach((s, si) => {
    if (!s.lower || !s.upper) return;
    const top: string[] = [];
    const bottom: string[] = [];
    for (let i = 0; i < xs.length; i++) {
      const a = s.lower[i];
      const b = s.upper[i];
      if (!usable(a) || !usable(b)) continue;
      top.push(`${f(px(xs[i]))},${f(py(b))}`);
      bottom.push(`${f(px(xs[i]))},${f(py(a))}`);
    }
    if (top.length > 1)
      parts.push(
        `<polygon points="${[...top, ...bottom.reverse()].join(' ')}" fill="${colorOf(s, si)}" fill-opacity="0.18" stroke="none"/>`,
      );
  });
  series.forEach((s, si) => {
    const color = colorOf(s, si);
    // Break the line at missing or non-finite values instead of drawing through them.
    let d = '';
    let pen = false;
    let points = 0;
    s.values.forEach((v, i) => {
      if (!usable(v) || i >= xs.length) {
        pen = false;
        return;
      }
      d += `${pen ? 'L' : 'M'}${f(px(xs[i]))},${f(py(v))}`;
      pen = true;
      points++;
    });
    const dash = s.dashed ? ' stroke-dasharray="6 4"' : '';
    if (d) parts.push(`<path d="${d}" fill="none" stroke="${color}" stroke-width="2"${dash}/>`);
    // Few points: each one drawn, so a short series is not mistaken for a straight line.
    if (points > 0 && xs.length <= 12) {
      s.values.forEach((v, i) => {
        if (usable(v) && i < xs.length) parts.push(`<circle cx="${f(px(xs[i]))}" cy="${f(py(v))}" r="3" fill="${color}"/>`);
      });
    }
  });
  parts.push('</g>');
  series.forEach((s, si) => {
    const color = colorOf(s, si);
    const lx = legendRight ? width - margin.right + 10 : 10 + (si % perRow) * legendW;
    const ly = legendRight ? margin.top + 8 + si * 16 : height - legendRows * 16 + Math.floor(si / perRow) * 16 - 2;
    const dash = s.dashed ? ' stroke-dasharray="6 4"' : '';
    parts.push(`<line x1="${lx}" x2="${lx + 18}" y1="${ly}" y2="${ly}" stroke="${color}" stroke-width="2"${dash}/>`);
    if (s.lower && s.upper) parts.push(`<rect x="${lx}" y="${ly - 5}" width="18" height="10" fill="${color}" fill-opacity="0.18"/>`);
    parts.push(`<text class="legend" x="${lx + 22}" y="${ly}" dominant-baseline="middle">${escapeXml(s.name)}</text>`);
  });
  parts.push('</svg>');
  const drawn = parts.join('\n');
  const id = `plot-area-${crypto.createHash('sha256').update(drawn).digest('hex').slice(0, 12)}`;
  return drawn.split(CLIP_ID).join(id);
}

/**
 * A terminal chart: `height` rows of text, one column per value (the last `width` values),
 * each series drawn with its own character. Returns the lines, top first, with the y range.
 *
 * @example
 * console.log(asciiChart([{ name: 'loss', values: [3, 2, 1.5, 1.2] }]).join('\n'));
 * @param series The curves, one character each.
 * @param height Rows of the plot (default 6).
 * @param width Columns of the plot: the last `width` values are drawn (default 60).
 */
export function asciiChart(series: readonly Series[], height = 6, width = 60): string[] {
  const marks = ['*', 'o', '+', 'x'];
  const clipped = series.map((s) => ({ ...s, values: s.values.slice(-width) }));
  const [lo, hi] = range(clipped);
  const cols = Math.max(0, ...clipped.map((s) => s.values.length));
  const grid = Array.from({ length: height }, () => new Array<string>(cols).fill(' '));
  clipped.forEach((s, si) => {
    s.values.forEach((v, i) => {
      if (v === undefined || !Number.isFinite(v)) return;
      const row = height - 1 - Math.round(((v - lo) / (hi - lo)) * (height - 1));
      grid[row][i] = marks[si % marks.length];
    });
  });
  const lines = grid.map((r, i) => {
    const label = i === 0 ? formatTick(hi) : i === height - 1 ? formatTick(lo) : '';
    return `${label.padStart(9)} |${r.join('')}`;
  });
  lines.push(`${''.padStart(9)}  ${clipped.map((s, si) => `${marks[si % marks.length]} ${s.name}`).join('   ')}`);
  return lines;
}
