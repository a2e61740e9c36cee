/**
 * Figures for the command and the experiments: image grids (PNG, through pngjs), a confusion
 * matrix heat map, multi-panel line charts and a 2-D scatter plot (SVG, written by hand: the
 * shapes are simple and SVG keeps the numbers readable at any size).
 */
import { PNG } from 'pngjs';
import { lineChartSvg, Series, ChartOptions, niceTicks, formatTick, textWidth } from '../plot';
import { writeFileAtomic } from '../data/read';

function escapeXml(s: string): string {
  return s.replace(/[<>&"']/g, (c) => ({ '<': '&lt;', '>': '&gt;', '&': '&amp;', '"': '&quot;', "'": '&apos;' })[c] as string);
}

/**
 * Writes `content` to `file` with `writeFileAtomic`, creating the folder; returns the path. A
 * full disk leaves the old figure or none, not half a one. Errors read `cannot write <file>: <what
 * went wrong>` (the system's code, `ENOSPC`, as `code`), and never hang on a folder that cannot
 * be made (see ensureDir).
 * @param file The file to write; its folder is created when missing.
 * @param content The figure: SVG text or PNG bytes.
 * @returns `file`.
 */
export function writeFigure(file: string, content: string | Buffer): string {
  writeFileAtomic(file, typeof content === 'string' ? Buffer.from(content) : content, { mkdir: true });
  return file;
}

/** Options of {@link imageGridPng}. */
export interface ImageGridOptions {
  /** Height and width of one image (e.g. [16, 16] for USPS, [28, 28] for MNIST). */
  imageShape: readonly [number, number] | readonly number[];
  /** Images per row (default: all in one row, at most 10). */
  cols?: number;
  /** Pixels per image pixel (default 4). */
  scale?: number;
  /** Background pixels between images (default 2). */
  gap?: number;
  /**
   * `'grey'`: values in [0, 1] drawn black→white, clipped (default).
   * `'each'`: each image stretched to its own [min, max], grey.
   * `'diverging'`: each image scaled by its own max |v|, blue (negative) → white (0) → red (positive); for weights.
   */
  mode?: 'grey' | 'each' | 'diverging';
}

/**
 * Draws images side by side in a grid as a PNG.
 *
 * @example
 * // A Linear(784, 10)'s weights, one 28×28 image per output:
 * writeFigure('weights.png', imageGridPng(columnsOf(w.data, 784, 10), { imageShape: [28, 28], mode: 'diverging' }));
 * @param images One array of height·width values per image, row-major.
 * @param options The images' shape, the grid's columns, the scale and the colour mode.
 * @returns The PNG file's bytes.
 */
export function imageGridPng(images: readonly ArrayLike<number>[], options: ImageGridOptions): Buffer {
  const [h, w] = options.imageShape;
  const n = images.length;
  if (n === 0) throw new RangeError('imageGridPng: no images');
  images.forEach((im, i) => {
    if (im.length !== h * w) throw new RangeError(`imageGridPng: image ${i} has ${im.length} values, expected ${h}×${w} = ${h * w}`);
  });
  const cols = Math.max(1, Math.min(n, options.cols ?? Math.min(n, 10)));
  const rows = Math.ceil(n / cols);
  const scale = options.scale ?? 4;
  const gap = options.gap ?? 2;
  const mode = options.mode ?? 'grey';
  const width = cols * w * scale + (cols + 1) * gap;
  const height = rows * h * scale + (rows + 1) * gap;
  const png = new PNG({ width, height });
  png.data.fill(255);
  images.forEach((im, k) => {
    let lo = 0;
    let hi = 1;
    let absMax = 1;
    if (mode === 'each') {
      lo = Infinity;
      hi = -Infinity;
      for (let i = 0; i < im.length; i++) {
        lo = Math.min(lo, im[i]);
        hi = Math.max(hi, im[i]);
      }
      if (hi - lo < 1e-12) hi = lo + 1;
    } else if (mode === 'diverging') {
      absMax = 0;
      for (let i = 0; i < im.length; i++) absMax = Math.max(absMax, Math.abs(im[i]));
      if (absMax < 1e-12) absMax = 1;
    }
    const ox = gap + (k % cols) * (w * scale + gap);
    const oy = gap + Math.floor(k / cols) * (h * scale + gap);
    for (let y = 0; y < h; y++) {
      for (let x = 0; x < w; x++) {
        const v = im[y * w + x];
        let r: number;
        let g: number;
        let b: number;
        if (mode === 'diverging') {
          const t = Math.max(-1, Math.min(1, v / absMax));
          // white at 0, towards red (+) or blue (−)
          if (t >= 0) [r, g, b] = [255, 255 * (1 - t), 255 * (1 - t)];
          else [r, g, b] = [255 * (1 + t), 255 * (1 + t), 255];
        } else {
          const t = Math.max(0, Math.min(1, (v - lo) / (hi - lo)));
          r = g = b = 255 * t;
        }
        for (let dy = 0; dy < scale; dy++) {
          for (let dx = 0; dx < scale; dx++) {
            const idx = ((oy + y * scale + dy) * width + ox + x * scale + dx) * 4;
            png.data[idx] = Math.round(r);
            png.data[idx + 1] = Math.round(g);
            png.data[idx + 2] = Math.round(b);
            png.data[idx + 3] = 255;
          }
        }
      }
    }
  });
  return PNG.sync.write(png);
}

/**
 * The columns of a (rows, cols) row-major matrix as separate arrays: the images a Linear(784, 10) weight holds.
 * @param data The matrix's values, row-major.
 * @param rows The matrix's rows (the length of each column returned).
 * @param cols The matrix's columns (the number of arrays returned).
 */
export function columnsOf(data: ArrayLike<number>, rows: number, cols: number): Float32Array[] {
  if (data.length !== rows * cols) throw new RangeError(`columnsOf: ${data.length} values do not make a ${rows}×${cols} matrix`);
  return Array.from({ length: cols }, (_, c) => {
    const out = new Float32Array(rows);
    for (let r = 0; r < rows; r++) out[r] = data[r * cols + c];
    return out;
  });
}

/**
 * The rows `indices` of a (n, d) row-major matrix as separate arrays (d values each).
 * @param data The matrix's values, row-major.
 * @param d The matrix's columns (the length of each row returned).
 * @param indices The rows to take, in the order returned.
 */
export function rowsOf(data: ArrayLike<number>, d: number, indices: readonly number[]): Float32Array[] {
  return indices.map((i) => Float32Array.from({ length: d }, (_, j) => data[i * d + j]));
}

/** Options of {@link confusionMatrixSvg}. */
export interface ConfusionOptions {
  title?: string;
  /** Row/column labels (default 0..k−1). */
  classNames?: readonly string[];
  /** Pixel size of one cell (default 40). */
  cell?: number;
}

/**
 * A confusion matrix `m[actual][predicted]` as an SVG heat map, each cell coloured by its share
 * of the row (white → dark blue) with the count written in it; the diagonal is outlined.
 *
 * @example
 * writeFigure('confusion.svg', confusionMatrixSvg(evaluate(net, loss, x, y).confusion!, { title: 'USPS test' }));
 * @param m The counts, `m[actual][predicted]` (as `evaluate` returns them in `confusion`).
 * @param options Title, class names and cell size.
 * @returns The SVG document.
 */
export function confusionMatrixSvg(m: readonly (readonly number[])[], options: ConfusionOptions = {}): string {
  const k = m.length;
  const names = options.classNames ?? Array.from({ length: k }, (_, i) => String(i));
  if (names.length !== k)
    throw new RangeError(
      `confusionMatrixSvg: classNames holds ${names.length} names for a matrix of ${k} classes; give one per class, or none for 0..${k - 1}`,
    );
  const cell = options.cell ?? 40;
  const labelW = Math.max(40, textWidth(names.reduce((a, s) => (s.length > a.length ? s : a), '')) + 24);
  const total = m.reduce((a, r) => a + r.reduce((x, y) => x + y, 0), 0);
  const correct = m.reduce((a, r, i) => a + (r[i] ?? 0), 0);
  const title = `${options.title ?? 'Confusion matrix'} (accuracy ${total ? ((100 * correct) / total).toFixed(2) : '0'} %)`;
  // Wide enough for the title: a long title widens the figure instead of running off its edges.
  const width = Math.max(labelW + k * cell + 20, textWidth(title, 14) + 20);
  const left = labelW + Math.floor((width - (labelW + k * cell + 20)) / 2);
  const top = 50;
  const height = top + k * cell + labelW + 10;
  const parts: string[] = [];
  parts.push(
    `<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${height}" font-family="DejaVu Sans, Arial, sans-serif" font-size="11">`,
  );
  parts.push(`<rect width="${width}" height="${height}" fill="white"/>`);
  parts.push(`<text class="title" x="${width / 2}" y="18" text-anchor="middle" font-size="14">${escapeXml(title)}</text>`);
  parts.push(`<text x="${left + (k * cell) / 2}" y="38" text-anchor="middle">predicted</text>`);
  parts.push(`<text transform="translate(${left - labelW + 12} ${top + (k * cell) / 2}) rotate(-90)" text-anchor="middle">actual</text>`);
  for (let i = 0; i < k; i++) {
    const rowSum = m[i].reduce((a, b) => a + b, 0);
    parts.push(
      `<text x="${left - 4}" y="${top + i * cell + cell / 2}" text-anchor="end" dominant-baseline="middle">${escapeXml(names[i])}</text>`,
    );
    for (let j = 0; j < k; j++) {
      const v = m[i][j];
      const share = rowSum ? v / rowSum : 0;
      // sqrt so that the few off-diagonal errors are visible next to a full diagonal
      const t = Math.sqrt(share);
      const c = (a: number, b: number): number => Math.round(a + (b - a) * t);
      const fill = `rgb(${c(255, 8)},${c(255, 48)},${c(255, 107)})`;
      const x = left + j * cell;
      const y = top + i * cell;
      parts.push(`<rect x="${x}" y="${y}" width="${cell}" height="${cell}" fill="${fill}" stroke="${i === j ? '#222' : '#ddd'}"/>`);
      if (v !== 0) {
        parts.push(
          `<text x="${x + cell / 2}" y="${y + cell / 2}" text-anchor="middle" dominant-baseline="middle" fill="${t > 0.6 ? 'white' : 'black'}">${v}</text>`,
        );
      }
    }
  }
  for (let j = 0; j < k; j++) {
    const x = left + j * cell + cell / 2;
    const y = top + k * cell + 6;
    parts.push(
      `<text transform="translate(${x} ${y}) rotate(-60)" text-anchor="end" dominant-baseline="middle">${escapeXml(names[j])}</text>`,
    );
  }
  parts.push('</svg>');
  return parts.join('\n');
}

/** One panel of {@link panelsSvg}: a line chart. */
export interface Panel {
  series: readonly Series[];
  options?: ChartOptions;
}

/**
 * Several line charts in a grid (`cols` per row) as one SVG document.
 *
 * @example
 * panelsSvg([{ series: losses, options: { title: 'Loss' } }, { series: accs, options: { title: 'Accuracy' } }], 2);
 * @param panels The charts, filled row by row.
 * @param cols Panels per row (default 2).
 * @param width Width of one panel in pixels (default 640).
 * @param height Height of one panel in pixels (default 360).
 * @returns The SVG document.
 */
export function panelsSvg(panels: readonly Panel[], cols = 2, width = 640, height = 360): string {
  const c = Math.max(1, Math.min(cols, panels.length));
  const rows = Math.ceil(panels.length / c);
  const inner = panels.map((p, i) => {
    // Ten colours rather than the line chart's six, so up to ten curves stay distinguishable.
    const series = p.series.map((s, k) => ({ color: CLASS_COLORS[k % CLASS_COLORS.length], ...s }));
    const svg = lineChartSvg(series, { width, height, ...p.options });
    return svg.replace('<svg ', `<svg x="${(i % c) * width}" y="${Math.floor(i / c) * height}" `);
  });
  return `<svg xmlns="http://www.w3.org/2000/svg" width="${c * width}" height="${rows * height}">\n<rect width="100%" height="100%" fill="white"/>\n${inner.join('\n')}\n</svg>`;
}

/**
 * One series for several runs of the same thing (seeds): the mean at each epoch, with a band of
 * ± one (sample) standard deviation, over the runs that reached that epoch. Reads better than ten
 * tangled lines.
 * @param name The series' name in the legend.
 * @param runs One array of values per run, indexed by epoch − 1 (undefined where a run has no value).
 * @param color The line's and the band's colour (default: the chart's next colour).
 */
export function meanBandSeries(name: string, runs: readonly (readonly (number | undefined)[])[], color?: string): Series {
  const n = Math.max(0, ...runs.map((r) => r.length));
  const values: (number | undefined)[] = [];
  const lower: (number | undefined)[] = [];
  const upper: (number | undefined)[] = [];
  for (let i = 0; i < n; i++) {
    const at = runs.map((r) => r[i]).filter((v): v is number => v !== undefined && Number.isFinite(v));
    if (at.length === 0) {
      values.push(undefined);
      lower.push(undefined);
      upper.push(undefined);
      continue;
    }
    const { mean, std } = meanStd(at);
    values.push(mean);
    lower.push(mean - std);
    upper.push(mean + std);
  }
  return { name, values, lower, upper, color };
}

/** Ten well-separated colours for class-coloured plots. */
export const CLASS_COLORS = ['#1f77b4', '#ff7f0e', '#2ca02c', '#d62728', '#9467bd', '#8c564b', '#e377c2', '#7f7f7f', '#bcbd22', '#17becf'];

/** Options of {@link scatterSvg}. */
export interface ScatterOptions {
  title?: string;
  classNames?: readonly string[];
  width?: number;
  height?: number;
  xLabel?: string;
  yLabel?: string;
}

/**
 * A 2-D scatter plot, points coloured by class, with a legend.
 *
 * Args: `xy` (n, 2) row-major; `labels` one class per point.
 * @param xy The points' coordinates, (n, 2) row-major.
 * @param labels The class of each point (its colour).
 * @param options Title, size, class names and axis labels.
 * @returns The SVG document.
 */
export function scatterSvg(xy: ArrayLike<number>, labels: ArrayLike<number>, options: ScatterOptions = {}): string {
  const height = options.height ?? 560;
  const n = labels.length;
  let [x0, x1, y0, y1] = [Infinity, -Infinity, Infinity, -Infinity];
  for (let i = 0; i < n; i++) {
    x0 = Math.min(x0, xy[2 * i]);
    x1 = Math.max(x1, xy[2 * i]);
    y0 = Math.min(y0, xy[2 * i + 1]);
    y1 = Math.max(y1, xy[2 * i + 1]);
  }
  if (!(x1 > x0)) [x0, x1] = [x0 - 1, x0 + 1];
  if (!(y1 > y0)) [y0, y1] = [y0 - 1, y0 + 1];
  // Round ticks, the axes ending on them.
  const xTicks = niceTicks(x0, x1, 6);
  const yTicks = niceTicks(y0, y1, 6);
  [x0, x1] = [xTicks[0], xTicks[xTicks.length - 1]];
  [y0, y1] = [yTicks[0], yTicks[yTicks.length - 1]];
  const xStep = xTicks.length > 1 ? xTicks[1] - xTicks[0] : 1;
  const yStep = yTicks.length > 1 ? yTicks[1] - yTicks[0] : 1;
  const names = Array.from({ length: Math.max(0, ...Array.from(labels)) + 1 }, (_, c) => options.classNames?.[c] ?? String(c));
  const legendW = Math.max(...names.map((s) => textWidth(s))) + 36;
  const yTickW = Math.max(...yTicks.map((v) => textWidth(formatTick(v, yStep))));
  const title = options.title ?? '';
  const width = Math.max(options.width ?? 640, textWidth(title, 14) + 20);
  const margin = { left: 14 + yTickW + (options.yLabel ? 20 : 0), right: legendW + 10, top: 30, bottom: 24 + (options.xLabel ? 18 : 0) };
  const pw = width - margin.left - margin.right;
  const ph = height - margin.top - margin.bottom;
  const px = (v: number): string => (margin.left + ((v - x0) / (x1 - x0)) * pw).toFixed(1);
  const py = (v: number): string => (margin.top + ph - ((v - y0) / (y1 - y0)) * ph).toFixed(1);
  const parts: string[] = [];
  parts.push(
    `<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${height}" font-family="DejaVu Sans, Arial, sans-serif" font-size="11">`,
  );
  parts.push(`<rect width="${width}" height="${height}" fill="white"/>`);
  if (title) parts.push(`<text class="title" x="${width / 2}" y="18" text-anchor="middle" font-size="14">${escapeXml(title)}</text>`);
  for (const v of xTicks) {
    parts.push(`<line x1="${px(v)}" x2="${px(v)}" y1="${margin.top}" y2="${margin.top + ph}" stroke="#eee"/>`);
    parts.push(`<text class="xtick" x="${px(v)}" y="${margin.top + ph + 15}" text-anchor="middle">${formatTick(v, xStep)}</text>`);
  }
  for (const v of yTicks) {
    parts.push(`<line x1="${margin.left}" x2="${margin.left + pw}" y1="${py(v)}" y2="${py(v)}" stroke="#eee"/>`);
    parts.push(
      `<text class="ytick" x="${margin.left - 6}" y="${py(v)}" text-anchor="end" dominant-baseline="middle">${formatTick(v, yStep)}</text>`,
    );
  }
  parts.push(`<rect x="${margin.left}" y="${margin.top}" width="${pw}" height="${ph}" fill="none" stroke="#888"/>`);
  if (options.xLabel)
    parts.push(
      `<text class="xlabel" x="${margin.left + pw / 2}" y="${height - 6}" text-anchor="middle">${escapeXml(options.xLabel)}</text>`,
    );
  if (options.yLabel)
    parts.push(
      `<text class="ylabel" transform="translate(14 ${margin.top + ph / 2}) rotate(-90)" text-anchor="middle">${escapeXml(options.yLabel)}</text>`,
    );
  for (let i = 0; i < n; i++) {
    parts.push(
      `<circle cx="${px(xy[2 * i])}" cy="${py(xy[2 * i + 1])}" r="2" fill="${CLASS_COLORS[labels[i] % CLASS_COLORS.length]}" fill-opacity="0.6"/>`,
    );
  }
  names.forEach((name, c) => {
    const y = margin.top + 10 + c * 16;
    parts.push(`<circle cx="${width - margin.right + 16}" cy="${y}" r="5" fill="${CLASS_COLORS[c % CLASS_COLORS.length]}"/>`);
    parts.push(`<text class="legend" x="${width - margin.right + 26}" y="${y}" dominant-baseline="middle">${escapeXml(name)}</text>`);
  });
  parts.push('</svg>');
  return parts.join('\n');
}

/**
 * A markdown table: header row, then rows (cells already formatted).
 * @param header The column names.
 * @param rows The rows, one cell per column.
 */
export function markdownTable(header: readonly string[], rows: readonly (readonly (string | number)[])[]): string {
  const line = (cells: readonly (string | number)[]): string => `| ${cells.map(String).join(' | ')} |`;
  return [line(header), line(header.map(() => '---')), ...rows.map(line)].join('\n');
}

/**
 * The same table as aligned plain text, for the terminal.
 * @param header The column names.
 * @param rows The rows, one cell per column.
 */
export function textTable(header: readonly string[], rows: readonly (readonly (string | number)[])[]): string {
  const all = [header, ...rows].map((r) => r.map(String));
  const widths = header.map((_, j) => Math.max(...all.map((r) => (r[j] ?? '').length)));
  return all.map((r) => r.map((c, j) => c.padEnd(widths[j])).join('  ')).join('\n');
}

/**
 * Mean and (sample) standard deviation.
 * @param values The samples; an empty list gives NaN for both.
 */
export function meanStd(values: readonly number[]): { mean: number; std: number } {
  const n = values.length;
  if (n === 0) return { mean: NaN, std: NaN };
  const mean = values.reduce((a, b) => a + b, 0) / n;
  const v = n > 1 ? values.reduce((a, b) => a + (b - mean) ** 2, 0) / (n - 1) : 0;
  return { mean, std: Math.sqrt(v) };
}
