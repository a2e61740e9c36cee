/**
 * The progress bar fits the terminal and gives it back: the layout for every width, the line
 * drawn in a real pseudo-terminal 80 columns wide (`script` from util-linux gives the command a
 * terminal), and the cursor and line wrapping restored when Ctrl-C interrupts the library's
 * Logger (not only the command).
 */
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { progressLayout, formatLoss, terminalColumns, drawsInPlace, FALLBACK_COLUMNS, TerminalProgress } from '../lib/progress';
import { statusLine } from '../lib/cli/sweep';
import { downloadBar } from '../lib/cli/data';
import { PassThrough } from 'stream';
import { EPOCH_LINE_WIDTH, Logger, formatEpoch } from '../lib/logger';
import { tsFile } from './ts-child';
import { hasScript, inTerminal } from './terminal';

const root = path.join(__dirname, '..');
/** A safety net against a hang (the test then fails on a null exit code), not a timing threshold. */
const HANG_GUARD_MS = 90000;

/** The line cli-progress would draw for `format` with the widest values each field can hold. */
function widestLine(format: string, barsize: number, total: number, totalEpochs: number): string {
  return format
    .replace('{epoch}', `${totalEpochs}/${totalEpochs}`)
    .replace('{bar}', '='.repeat(barsize))
    .replace('{value}', String(total))
    .replace('{total}', String(total))
    .replace('{rate}', '1234567')
    .replace('{loss}', formatLoss(-1.23456e10))
    .replace('{eta_formatted}', '99h59m');
}

describe('progressLayout', () => {
  test.each([200, 120, 100, 80, 72, 60, 50, 40, 30])('at %i columns the widest line fits in one less', (columns) => {
    for (const [unit, rate, total] of [
      ['samples', true, 60000],
      ['batches', false, 1875],
    ] as const) {
      const layout = progressLayout({ columns, total, totalEpochs: 100, unit, rate });
      const line = widestLine(layout.format, layout.barsize, total, 100);
      expect(line.length).toBeLessThanOrEqual(columns - 1);
      expect(line.length).toBe(layout.width);
      // The loss and the time left are what a user watches: kept at every width here.
      expect(layout.format).toContain('{loss}');
      if (columns >= 30) expect(layout.format).toContain('{eta_formatted}');
    }
  });

  test('80 columns keep the epoch, a bar, the counter, the loss and the ETA', () => {
    const layout = progressLayout({ columns: 80, total: 60000, totalEpochs: 50, unit: 'samples', rate: true });
    for (const field of ['{epoch}', '{bar}', '{value}/{total}', '{loss}', '{eta_formatted}']) expect(layout.format).toContain(field);
    expect(layout.barsize).toBeGreaterThanOrEqual(10);
  });

  test("a run numbered by another name than epochs (style's stages) says it, within the width", () => {
    for (const columns of [80, 40]) {
      const layout = progressLayout({ columns, total: 100000, totalEpochs: 2, unit: 'steps', rate: false, stage: 'stage' });
      expect(layout.format).toMatch(/^stage \{epoch\}/);
      expect(widestLine(layout.format, layout.barsize, 100000, 2).length).toBeLessThanOrEqual(columns - 1);
    }
  });

  test('a wide terminal gets the rate and a bar no wider than 30', () => {
    const layout = progressLayout({ columns: 200, total: 60000, totalEpochs: 50, unit: 'samples', rate: true });
    expect(layout.format).toContain('{rate} samples/s');
    expect(layout.barsize).toBe(30);
  });

  test('a stream that does not say its width is laid out for 80 columns', () => {
    expect(terminalColumns({ isTTY: true })).toBe(FALLBACK_COLUMNS);
    expect(terminalColumns({ columns: 0 })).toBe(FALLBACK_COLUMNS);
    expect(terminalColumns({ columns: 132, isTTY: true })).toBe(132);
  });
});

describe('not a terminal', () => {
  test('a bar asked for on a pipe writes nothing and installs no handler', () => {
    const written: string[] = [];
    const stream = { isTTY: false, columns: undefined, write: (s: string) => written.push(s) } as unknown as NodeJS.WriteStream;
    const before = process.listenerCount('SIGINT');
    const bar = new TerminalProgress({ stream });
    bar.start(100, 0, 1, 3);
    expect(bar.active).toBe(false);
    expect(process.listenerCount('SIGINT')).toBe(before);
    bar.update(50, 0.5);
    bar.stop();
    expect(written).toEqual([]);
  });
});

describe('a dumb terminal (TERM=dumb)', () => {
  test('gets no bar and no escape sequences, as a pipe does', () => {
    // Before, only isTTY was asked: an editor's shell buffer showed ESC 7, ESC[?25l and ESC[?7l as text.
    const written: string[] = [];
    const stream = { isTTY: true, columns: 80, write: (s: string) => written.push(s) } as unknown as NodeJS.WriteStream;
    const saved = process.env.TERM;
    process.env.TERM = 'dumb';
    try {
      expect(drawsInPlace(stream)).toBe(false);
      const bar = new TerminalProgress({ stream });
      bar.start(100, 0, 1, 3);
      expect(bar.active).toBe(false);
      bar.update(50, 0.5);
      bar.stop();
      expect(written).toEqual([]);
      process.env.TERM = 'xterm-256color';
      expect(drawsInPlace(stream)).toBe(true);
      expect(drawsInPlace({ isTTY: false })).toBe(false);
    } finally {
      if (saved === undefined) delete process.env.TERM;
      else process.env.TERM = saved;
    }
  });
});

describe("a sweep's status line, redrawn in place", () => {
  const status = {
    total: 480,
    skipped: 0,
    done: 123,
    running: 16,
    failed: 2,
    samplesPerSecond: 1234567,
    elapsedSeconds: 3720,
    etaSeconds: 11100,
  };
  test('is whole where it fits, and fits in one column less than the terminal where it does not', () => {
    // Before, it was 93 characters whatever the width: each redraw of a wrapped line left a row behind.
    const full = statusLine(status);
    expect(full).toBe('sweep: 123/480 done, 16 running, 2 failed | 1,234,567 samples/s | 62m00s elapsed, ETA 185m00s');
    expect(statusLine(status, 200)).toBe(full);
    for (const columns of [100, 94, 93, 80, 60, 50, 40, 20, 2, 1]) {
      const line = statusLine(status, columns);
      expect(line.length).toBeLessThanOrEqual(Math.max(1, columns - 1));
      expect(full.startsWith(line.slice(0, Math.min(line.length, 'sweep: 123/480'.length)))).toBe(true);
    }
    expect(statusLine(status, 80)).toBe('sweep: 123/480 done, 16 running, 2 failed | 1,234,567 samples/s | ETA 185m00s');
    expect(statusLine(status, 60)).toBe('sweep: 123/480 done, 16 running, 2 failed | ETA 185m00s');
    expect(statusLine(status, 40)).toBe('sweep: 123/480 done, 16 running, 2 fail');
  });
});

describe('losses are written at one precision everywhere', () => {
  test('formatLoss: 4 significant digits, exponent only for the very small and very large', () => {
    expect(formatLoss(0.0627308922063644)).toBe('0.06273');
    expect(formatLoss(0.41234)).toBe('0.4123');
    expect(formatLoss(346.50551)).toBe('346.5');
    expect(formatLoss(0)).toBe('0.000');
    expect(formatLoss(1.5e-5)).toBe('1.500e-5');
    expect(formatLoss(NaN)).toBe('NaN');
  });
  test("the epoch line's losses are formatLoss's", () => {
    const line = formatEpoch({ epoch: 3, trainLoss: 0.0627308922063644, valLoss: 0.41234, seconds: 1.5 }, 10);
    expect(line).toBe('epoch  3/10  loss 0.06273  val_loss 0.4123  1.50s');
  });
  test("the epoch line writes fit's lr and metrics as losses are written, within 79 columns", () => {
    const record = {
      epoch: 3,
      trainLoss: 0.0627308922063644,
      trainAccuracy: 0.98,
      valLoss: 0.41234,
      valAccuracy: 0.9,
      lr: 0.00015,
      trainMetrics: { top5: 0.999375, f1: 0.9811111, mse: 1.5e-5 },
      valMetrics: { top5: 0.9925, f1: 0.8977777, mse: 0.0123456 },
      seconds: 1.5,
    };
    const lines = formatEpoch(record, 10).split('\n');
    expect(lines).toEqual([
      'epoch  3/10  loss 0.06273  acc 98.00%  val_loss 0.4123  val_acc 90.00%  1.50s',
      '             lr 0.0001500  top5 0.9994  val_top5 0.9925',
      '             f1 0.9811  val_f1 0.8978  mse 1.500e-5  val_mse 0.01235',
    ]);
    for (const l of lines) expect(l.length).toBeLessThanOrEqual(EPOCH_LINE_WIDTH);
    // Without validation the rate and a metric fit beside the loss, on one line.
    expect(formatEpoch({ epoch: 12, trainLoss: 0.5, lr: 0.1, trainMetrics: { mae: 0.25 }, seconds: 12.25 }, 100)).toBe(
      'epoch  12/100  loss 0.5000  lr 0.1000  mae 0.2500  12.25s',
    );
    // The widest first line (3-digit epochs, exponent losses, 100 % accuracies) still fits, the rest below.
    const wide = formatEpoch(
      { epoch: 100, trainLoss: -1.23456e10, trainAccuracy: 1, valLoss: 1.23456e10, valAccuracy: 1, lr: 1e-5, seconds: 1234.5 },
      100,
    ).split('\n');
    for (const l of wide) expect(l.length).toBeLessThanOrEqual(EPOCH_LINE_WIDTH);
    expect(wide.join(' ')).toMatch(
      /^epoch 100\/100 {2}loss -1\.235e\+10 {2}acc 100\.00% {2}val_loss 1\.235e\+10 {2}1234\.50s +val_acc 100\.00% {2}lr 1\.000e-5$/,
    );
  });
  test('the Logger prints every line formatEpoch writes, each through `write`', () => {
    const lines: string[] = [];
    const logger = new Logger({ verbose: 1, write: (l) => lines.push(l) });
    logger.epoch({ epoch: 1, trainLoss: 0.5, valLoss: 0.25, trainAccuracy: 0.5, valAccuracy: 0.75, lr: 0.01, seconds: 1 }, 5);
    expect(lines).toEqual(['epoch 1/5  loss 0.5000  acc 50.00%  val_loss 0.2500  val_acc 75.00%  1.00s', '           lr 0.01000']);
    logger.epoch({ epoch: 2, trainLoss: 0.5, valLoss: 0.25, lr: 0.01, valMetrics: { f1: 0.5 }, seconds: 1 }, 5);
    expect(lines.slice(2)).toEqual(['epoch 2/5  loss 0.5000  val_loss 0.2500  lr 0.01000  val_f1 0.5000  1.00s']);
  });
});

/** The bar's lines as drawn: cli-progress writes each at column 1 (`ESC[1G`) and clears the rest (`ESC[0K`). */
function drawnLines(out: string): string[] {
  // eslint-disable-next-line no-control-regex -- escape sequences are what the test reads
  return [...out.matchAll(/\x1b\[1G(.*?)\x1b\[0K/g)].map((m) => m[1]);
}

const ptyTest = hasScript ? test : test.skip;

describe("data download's bar", () => {
  test('changes no terminal mode: a signal that ends the download leaves nothing to restore', () => {
    // cli-progress turned line wrapping off (ESC[?7l) until stop(), which Ctrl-C never reached:
    // the shell's long lines were cut at the edge afterwards.
    let out = '';
    const stream = Object.assign(new PassThrough(), { isTTY: true, columns: 100 });
    stream.on('data', (d: Buffer) => (out += d.toString()));
    const bar = downloadBar('train-images-idx3-ubyte.gz', stream as unknown as NodeJS.WriteStream);
    try {
      bar.start(26421880, 5652480);
      // No stop() before the checks: as when a signal ends the process.
      expect(out).toMatch(/train-images-idx3-ubyte\.gz \[.*\] 21% 5652480\/26421880 bytes/);
      expect(out).not.toContain('\x1b[?'); // no private mode set (wrapping, cursor), so none to reset
    } finally {
      bar.stop();
    }
  });
});

describe('in an 80-column terminal', () => {
  let tmp: string;
  beforeAll(() => {
    tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'neurone-progress-'));
  });
  afterAll(() => fs.rmSync(tmp, { recursive: true, force: true }));

  ptyTest('the command draws lines of at most 79 characters that show the loss and the ETA', async () => {
    const main = path.join(root, 'lib', 'cli', 'main.ts');
    const args = [...tsFile(main), 'train', '--dataset', 'checkerboard', '--epochs', '2', '--out', path.join(tmp, 'cli')];
    const { out, code } = await inTerminal(args, { guardMs: HANG_GUARD_MS });
    expect(code).toBe(0);
    const lines = drawnLines(out);
    expect(lines.length).toBeGreaterThan(0);
    for (const line of lines) {
      expect(line.length).toBeLessThanOrEqual(79);
      expect(line).toMatch(/loss (-|\d)/);
      expect(line).toMatch(/ETA \S+$/);
    }
  });

  ptyTest("the library Logger's bar fits too, and finishes with the terminal restored", async () => {
    const { out, code } = await inTerminal(tsFile(path.join(__dirname, 'progress-child.ts')), { guardMs: HANG_GUARD_MS });
    expect(code).toBe(0);
    const lines = drawnLines(out);
    expect(lines.length).toBeGreaterThan(0);
    for (const line of lines) expect(line.length).toBeLessThanOrEqual(79);
    expect(lines[lines.length - 1]).toMatch(/^epoch 2\/2 .* loss \d\.\d+ {2}ETA /);
    expect(out).toContain('finished');
    expect(out.lastIndexOf('\x1b[?25h')).toBeGreaterThan(out.lastIndexOf('\x1b[?25l'));
  });

  ptyTest("Ctrl-C during the library Logger's bar shows the cursor, wraps lines again and ends the process", async () => {
    const { out, code, sent } = await inTerminal([...tsFile(path.join(__dirname, 'progress-child.ts')), 'long'], {
      interrupt: true,
      guardMs: HANG_GUARD_MS,
    });
    expect(sent).toBe(true);
    expect(out).not.toContain('finished');
    expect(out.lastIndexOf('\x1b[?25h')).toBeGreaterThan(out.lastIndexOf('\x1b[?25l'));
    expect(out.lastIndexOf('\x1b[?7h')).toBeGreaterThan(out.lastIndexOf('\x1b[?7l'));
    expect(code).toBe(130); // died of SIGINT (script -e reports 128 + 2), as without a handler
  });

  ptyTest('fit that throws with the bar on screen clears it: the cursor comes back and the process ends by itself', async () => {
    // Before, the bar's redraw timer outlived the throw: a script that caught the error never exited.
    const { out, code } = await inTerminal([...tsFile(path.join(__dirname, 'progress-child.ts')), 'throws'], {
      guardMs: HANG_GUARD_MS,
    });
    expect(out).toContain('caught: stopped by the callback');
    expect(out).toContain('\x1b[?25l');
    expect(out.lastIndexOf('\x1b[?25h')).toBeGreaterThan(out.lastIndexOf('\x1b[?25l'));
    expect(code).toBe(0);
  });

  ptyTest('a Ctrl-C that arrives as the bar stops still ends the process', async () => {
    const { out, code } = await inTerminal([...tsFile(path.join(__dirname, 'progress-child.ts')), 'signal-at-stop'], {
      guardMs: HANG_GUARD_MS,
    });
    expect(out).not.toContain('survived');
    expect(out.lastIndexOf('\x1b[?25h')).toBeGreaterThan(out.lastIndexOf('\x1b[?25l'));
    expect(code).toBe(130);
  });
});
