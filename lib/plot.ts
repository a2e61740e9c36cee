/**
 * Minimal charts for training curves: an SVG line chart (written to a file at the end of
 * training) and a few-lines terminal chart (redrawn during training). No dependencies.
 */

/** One curve: y values at x = 1, 2, 3... (epochs). Non-finite values are skipped. */
export interface Series {
  name: string;
  values: readonly (number | undefined)[];
  color?: string;
}

const PALETTE = ['#1f77b4', '#d62728', '#2ca02c', '#ff7f0e', '#9467bd', '#8c564b'];

function escapeXml(s: string): string {
  return s.replace(/[<>&"']/g, (c) => ({ '<': '&lt;', '>': '&gt;', '&': '&amp;', '"': '&quot;', "'": '&apos;' })[c] as string);
}

/** Range of the finite values of all series, widened when flat so the scale is never degenerate. */
function range(series: readonly Series[]): [number, number] {
  let lo = Infinity;
  let hi = -Infinity;
  for (const s of series) {
    for (const v of s.values) {
      if (v !== undefined && Number.isFinite(v)) {
        lo = Math.min(lo, v);
        hi = Math.max(hi, v);
      }
    }
  }
  if (lo === Infinity) return [0, 1];
  if (hi - lo < 1e-12) return [lo - 0.5, hi + 0.5];
  return [lo, hi];
}

function formatTick(v: number): string {
  const a = Math.abs(v);
  if (a !== 0 && (a < 1e-3 || a >= 1e5)) return v.toExponential(1);
  return Number(v.toPrecision(3)).toString();
}

/** Options of {@link lineChartSvg}. */
export interface ChartOptions {
  title?: string;
  xLabel?: string;
  yLabel?: string;
  width?: number;
  height?: number;
}

/**
 * An SVG line chart of several series sharing the x axis (1..n) and the y axis.
 *
 * @example
 * fs.writeFileSync('loss.svg', lineChartSvg([{ name: 'train', values: [1, 0.5, 0.3] }], { title: 'Loss' }));
 */
export function lineChartSvg(series: readonly Series[], options: ChartOptions = {}): string {
  const width = options.width ?? 640;
  const height = options.height ?? 360;
  const margin = { left: 60, right: 120, top: 30, bottom: 40 };
  const plotW = width - margin.left - margin.right;
  const plotH = height - margin.top - margin.bottom;
  const n = Math.max(1, ...series.map((s) => s.values.length));
  const [lo, hi] = range(series);
  const px = (i: number): number => margin.left + (n === 1 ? plotW / 2 : (i / (n - 1)) * plotW);
  const py = (v: number): number => margin.top + plotH - ((v - lo) / (hi - lo)) * plotH;
  const parts: string[] = [];
  parts.push(`<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${height}" font-family="sans-serif" font-size="11">`);
  parts.push(`<rect width="${width}" height="${height}" fill="white"/>`);
  if (options.title) parts.push(`<text x="${width / 2}" y="18" text-anchor="middle" font-size="14">${escapeXml(options.title)}</text>`);
  // Axes and five horizontal grid lines with their values.
  parts.push(`<rect x="${margin.left}" y="${margin.top}" width="${plotW}" height="${plotH}" fill="none" stroke="#888"/>`);
  for (let k = 0; k <= 4; k++) {
    const v = lo + ((hi - lo) * k) / 4;
    const y = py(v).toFixed(1);
    parts.push(`<line x1="${margin.left}" x2="${margin.left + plotW}" y1="${y}" y2="${y}" stroke="#eee"/>`);
    parts.push(`<text x="${margin.left - 6}" y="${y}" text-anchor="end" dominant-baseline="middle">${formatTick(v)}</text>`);
  }
  const xTicks = Math.min(n, 10);
  for (let k = 0; k < xTicks; k++) {
    const i = xTicks === 1 ? 0 : Math.round((k * (n - 1)) / (xTicks - 1));
    parts.push(`<text x="${px(i).toFixed(1)}" y="${margin.top + plotH + 16}" text-anchor="middle">${i + 1}</text>`);
  }
  if (options.xLabel)
    parts.push(`<text x="${margin.left + plotW / 2}" y="${height - 6}" text-anchor="middle">${escapeXml(options.xLabel)}</text>`);
  if (options.yLabel) {
    parts.push(
      `<text transform="translate(14 ${margin.top + plotH / 2}) rotate(-90)" text-anchor="middle">${escapeXml(options.yLabel)}</text>`,
    );
  }
  series.forEach((s, si) => {
    const color = s.color ?? PALETTE[si % PALETTE.length];
    // Break the line at missing or non-finite values instead of drawing through them.
    let d = '';
    let pen = false;
    s.values.forEach((v, i) => {
      if (v === undefined || !Number.isFinite(v)) {
        pen = false;
        return;
      }
      d += `${pen ? 'L' : 'M'}${px(i).toFixed(1)},${py(v).toFixed(1)}`;
      pen = true;
    });
    if (d) parts.push(`<path d="${d}" fill="none" stroke="${color}" stroke-width="2"/>`);
    const ly = margin.top + 10 + si * 16;
    parts.push(
      `<line x1="${width - margin.right + 10}" x2="${width - margin.right + 28}" y1="${ly}" y2="${ly}" stroke="${color}" stroke-width="2"/>`,
    );
    parts.push(`<text x="${width - margin.right + 32}" y="${ly}" dominant-baseline="middle">${escapeXml(s.name)}</text>`);
  });
  parts.push('</svg>');
  return parts.join('\n');
}

/**
 * A terminal chart: `height` rows of text, one column per value (the last `width` values),
 * each series drawn with its own character. Returns the lines, top first, with the y range.
 *
 * @example
 * console.log(asciiChart([{ name: 'loss', values: [3, 2, 1.5, 1.2] }]).join('\n'));
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
