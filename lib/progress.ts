/**
 * The progress bar of `fit`'s Logger and of the `neurone` command: one line that fits the
 * terminal's width, and a terminal given back as it was found (cursor shown, lines wrapped) when
 * the bar stops, when the process exits, and on Ctrl-C (SIGINT) or SIGTERM while it draws.
 * @internal
 * @packageDocumentation
 */
import * as fs from 'fs';
import { SingleBar } from 'cli-progress';
import { deliverSignal } from './signals';

/** Show the cursor and wrap lines again: what a bar that hid the cursor and stopped wrapping must undo. */
export const RESTORE_TERMINAL = '\x1b[?25h\x1b[?7h';

/** Width assumed when the stream is a terminal that does not say its width (as `tput cols` does). */
export const FALLBACK_COLUMNS = 80;

/** What the line shows besides the bar; every field is optional, the loss and the ETA are kept longest. */
export interface ProgressLayoutInput {
  /** Terminal width in characters. */
  columns: number;
  /** Largest epoch number, for the `epoch 12/50` field's width. */
  totalEpochs?: number;
  /** Largest count (batches or samples), for the `120/1563 batches` field's width. */
  total: number;
  /** `batches` or `samples`. */
  unit: string;
  /** Show `1234 samples/s`. */
  rate: boolean;
  /** What the numbered part of the run is called (default `epoch`: `epoch 12/50`). */
  stage?: string;
}

/** A cli-progress format string and bar width that fit `columns - 1` characters. */
export interface ProgressLayout {
  format: string;
  barsize: number;
  /** The longest line this layout can draw. */
  width: number;
}

/** Widest loss text {@link formatLoss} writes (`-1.234e+10`). */
const LOSS_WIDTH = 10;
/** Widest ETA cli-progress writes (`99h59m`). */
const ETA_WIDTH = 6;
const MIN_BAR = 10;
const MAX_BAR = 30;

/**
 * Chooses what the progress line shows for a terminal `columns` wide. Pieces go in this order
 * when the width runs short: the rate, the unit's name, then the bar shrinks to 10, then the
 * counter, the bar itself, the epoch and the ETA; the loss stays (80 columns show all but the rate).
 * The line is at most `columns - 1` wide: writing the last column makes some terminals wrap.
 * @internal
 * @param input The terminal's width, the counts the fields must hold, the unit and whether to show the rate.
 */
export function progressLayout(input: ProgressLayoutInput): ProgressLayout {
  const room = Math.max(20, Math.floor(input.columns)) - 1;
  const digits = String(Math.max(1, Math.floor(input.total))).length;
  const epochDigits = String(Math.max(1, Math.floor(input.totalEpochs ?? 999))).length;
  const stage = input.stage ?? 'epoch';
  const epoch = {
    text: `${stage} {epoch}`,
    width: stage.length + 1 + (input.totalEpochs === undefined ? epochDigits : 2 * epochDigits + 1),
  };
  const loss = { text: 'loss {loss}', width: 5 + LOSS_WIDTH };
  const eta = { text: 'ETA {eta_formatted}', width: 4 + ETA_WIDTH };
  const counterWithUnit = { text: `{value}/{total} ${input.unit}`, width: 2 * digits + 2 + input.unit.length };
  const counter = { text: '{value}/{total}', width: 2 * digits + 1 };
  const rate = { text: `{rate} ${input.unit}/s`, width: 7 + 1 + input.unit.length + 2 };
  const sep = 2;
  type Piece = { text: string; width: number };
  const candidates: { pieces: Piece[]; bar: boolean }[] = [
    { pieces: [counterWithUnit, rate], bar: true },
    { pieces: [counterWithUnit], bar: true },
    { pieces: [counter], bar: true },
    { pieces: [], bar: true },
    { pieces: [], bar: false },
  ];
  for (const c of candidates) {
    const middle = c.pieces;
    const fixed = [epoch, ...middle, loss, eta].reduce((a, p) => a + p.width, 0) + sep * (middle.length + 2);
    const barRoom = c.bar ? room - fixed - sep - 2 : 0; // "[" + bar + "]" and its separator
    if (c.bar && barRoom < MIN_BAR) continue;
    if (!c.bar && fixed > room) continue;
    const barsize = c.bar ? Math.min(MAX_BAR, barRoom) : 0;
    const parts = [epoch.text, ...(c.bar ? ['[{bar}]'] : []), ...middle.map((p) => p.text), loss.text, eta.text];
    return { format: parts.join('  '), barsize: Math.max(1, barsize), width: fixed + (c.bar ? barsize + 2 + sep : 0) };
  }
  // Narrower than `epoch 1/1  loss …  ETA …`: the loss and the ETA, then the loss alone.
  if (loss.width + sep + eta.width <= room) return { format: `${loss.text}  ${eta.text}`, barsize: 1, width: loss.width + sep + eta.width };
  return { format: loss.text, barsize: 1, width: loss.width };
}

/**
 * A loss as every line of neurone's output writes it: 4 significant digits (`0.4123`,
 * `0.06273`, `12.35`), exponent notation below 1e-4 and from 1e6.
 * @param v The loss (or any value written as losses are).
 */
export function formatLoss(v: number): string {
  if (!Number.isFinite(v)) return String(v);
  const a = Math.abs(v);
  if (a !== 0 && (a < 1e-4 || a >= 1e6)) return v.toExponential(3);
  return v.toPrecision(4);
}

/**
 * Whether a stream can take a line redrawn in place (carriage returns, cursor and line-wrap
 * escapes): a terminal, and not one that says it is dumb (TERM=dumb: an editor's shell buffer,
 * some CI consoles), which shows every escape as text. Elsewhere progress is a line per step.
 * @param stream The output stream.
 */
export function drawsInPlace(stream: { isTTY?: boolean }): boolean {
  return stream.isTTY === true && process.env.TERM !== 'dumb';
}

/**
 * The width to lay the bar out for: the stream's columns, or 80 for a terminal that does not say.
 * @param stream The output stream (its `columns`, set when it is a terminal).
 */
export function terminalColumns(stream: { columns?: number; isTTY?: boolean }): number {
  const c = stream.columns;
  return typeof c === 'number' && Number.isFinite(c) && c > 0 ? c : FALLBACK_COLUMNS;
}

/** Bars drawing now; the process handlers are installed while there is one. */
const drawing = new Set<TerminalProgress>();
let restoreFd: number | null = null;

function restoreTerminal(): void {
  if (drawing.size === 0) return;
  drawing.clear();
  uninstallHandlers();
  if (restoreFd === null) return;
  try {
    fs.writeSync(restoreFd, `${RESTORE_TERMINAL}\n`); // synchronous: the process may be about to exit
  } catch {
    // the terminal is gone: nothing to restore
  }
}

/**
 * On SIGINT/SIGTERM while a bar draws: restore the terminal, then let the signal do what it would
 * have done without us. When nobody else listens, that is the default action (the process dies of
 * the signal, and the shell reports 130 / 143); a program with its own handler keeps control.
 */
function onSignal(signal: NodeJS.Signals): void {
  restoreTerminal();
  uninstallHandlers(); // also when the last bar stopped after the signal arrived (see stop)
  if (process.listenerCount(signal) === 0) deliverSignal(signal);
}

let installed = false;
function installHandlers(): void {
  if (installed) return;
  installed = true;
  process.on('SIGINT', onSignal);
  process.on('SIGTERM', onSignal);
  process.on('exit', restoreTerminal);
}
function uninstallWhenIdle(): void {
  if (drawing.size === 0) uninstallHandlers();
}
function uninstallHandlers(): void {
  if (!installed) return;
  installed = false;
  process.removeListener('SIGINT', onSignal);
  process.removeListener('SIGTERM', onSignal);
  process.removeListener('exit', restoreTerminal);
}

/** Options of {@link TerminalProgress}. */
export interface TerminalProgressOptions {
  /** Where the bar draws (default `process.stdout`); nothing is drawn unless it is a terminal. */
  stream?: NodeJS.WriteStream;
  /** `batches` (default) or `samples`. */
  unit?: string;
  /** Show the rate in units per second. */
  rate?: boolean;
  /** What the numbered part of the run is called (default `epoch`). */
  stage?: string;
}

/**
 * One epoch's progress line. `start` lays it out for the terminal's width at that moment, so a
 * resized window is fitted from the next epoch on.
 * @internal
 */
export class TerminalProgress {
  private bar: SingleBar | null = null;
  private readonly stream: NodeJS.WriteStream;
  private readonly unit: string;
  private readonly rate: boolean;
  private readonly stage: string | undefined;
  private epochStart = 0;

  /**
   * @param options The stream, the unit and the rate.
   */
  constructor(options: TerminalProgressOptions = {}) {
    this.stream = options.stream ?? process.stdout;
    this.unit = options.unit ?? 'batches';
    this.rate = options.rate ?? false;
    this.stage = options.stage;
  }

  /** True while the bar is on screen. */
  get active(): boolean {
    return this.bar !== null;
  }

  /**
   * Draws the bar at `value` of `total` for epoch `epoch` (of `totalEpochs`).
   * @param total The count at the end of the epoch (batches or samples).
   * @param value The count done so far.
   * @param epoch The epoch running, from 1.
   * @param totalEpochs The number of epochs of the run.
   */
  start(total: number, value: number, epoch: number, totalEpochs?: number): void {
    this.stop();
    // A pipe, a file or a dumb terminal gets no bar, and no escape sequences on exit or Ctrl-C either.
    if (!drawsInPlace(this.stream)) return;
    const layout = progressLayout({
      columns: terminalColumns(this.stream),
      total,
      totalEpochs,
      unit: this.unit,
      rate: this.rate,
      stage: this.stage,
    });
    this.bar = new SingleBar({
      format: layout.format,
      barsize: layout.barsize,
      stream: this.stream,
      clearOnComplete: true,
      hideCursor: true,
      linewrap: false,
      etaBuffer: 50,
    });
    // The handlers first: no moment with the cursor hidden and no way to give it back.
    drawing.add(this);
    const fd = (this.stream as { fd?: number }).fd;
    restoreFd = typeof fd === 'number' ? fd : 1;
    installHandlers();
    this.epochStart = performance.now();
    this.bar.start(total, value, { epoch: totalEpochs === undefined ? String(epoch) : `${epoch}/${totalEpochs}`, loss: '-', rate: '-' });
  }

  /**
   * Moves the bar to `value` with the running mean loss `loss`.
   * @param value The count done so far.
   * @param loss The running mean loss, written by {@link formatLoss}.
   */
  update(value: number, loss: number): void {
    if (!this.bar) return;
    const secs = (performance.now() - this.epochStart) / 1000;
    this.bar.update(value, { loss: formatLoss(loss), rate: secs > 0 ? String(Math.round(value / secs)) : '-' });
  }

  /** Clears the bar and gives the terminal back. */
  stop(): void {
    if (!this.bar) return;
    this.bar.stop();
    this.bar = null;
    drawing.delete(this);
    // The handlers stay until the event loop has run once more. A signal that reached the process
    // while the bar drew is handed to JavaScript only then, and removing the last listener
    // before would drop it: a Ctrl-C typed as an epoch ends was lost, and training went on.
    if (drawing.size === 0) setImmediate(uninstallWhenIdle);
  }
}
