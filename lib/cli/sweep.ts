/**
 * The `neurone sweep` command: argument parsing and display around `sweep()` (lib/sweep/). It
 * returns its exit code: 0 done, 1 some runs failed (or a failure after the checks), 2 bad
 * arguments or spec (one line on stderr, before anything runs).
 */
import { decodeText, readDataFile } from '../data/read';
import { RUN_DEFAULTS, SpecError } from '../sweep/spec';
import { ADAM_DEFAULTS, QUICK } from './recipes';
import { sweep, SweepStatus } from '../sweep/sweep';
import { summaryMarkdown } from '../sweep/summary';
import { firstLine } from '../messages';
import { decimalInteger, didYouMean } from './command';
import { drawsInPlace, terminalColumns } from '../progress';

/** Most bytes of a sweep spec file: a spec is a few lines (a model description inline, a few KB). */
const MAX_SPEC_BYTES = 2 ** 20;

/** One option of a command. @internal */
export interface OptionDef {
  arg?: string;
  help: string;
  int?: { min: number; max: number };
  choices?: readonly string[];
}

/** Parses `--name value` / `--name=value` / flags against `defs`; throws SpecError naming the option at fault. */
export function parseOptions(
  command: string,
  argv: readonly string[],
  defs: Record<string, OptionDef>,
): { options: Record<string, string | number | boolean>; positional: string[] } {
  const options: Record<string, string | number | boolean> = {};
  const positional: string[] = [];
  for (let i = 0; i < argv.length; i++) {
    let arg = argv[i];
    let value: string | undefined;
    if (!arg.startsWith('--') || arg === '--') {
      if (arg.startsWith('-') && arg !== '-') throw new SpecError(`unknown option '${arg}' (see neurone ${command} --help)`);
      positional.push(arg);
      continue;
    }
    const eq = arg.indexOf('=');
    if (eq > 0) {
      value = arg.slice(eq + 1);
      arg = arg.slice(0, eq);
    }
    const def = defs[arg];
    if (!def) throw new SpecError(`unknown option '${arg}'${didYouMean(arg, Object.keys(defs))} (see neurone ${command} --help)`);
    const key = arg.slice(2);
    if (key in options) throw new SpecError(`option ${arg} given twice`);
    if (!def.arg) {
      if (value !== undefined) throw new SpecError(`option ${arg} takes no value`);
      options[key] = true;
      continue;
    }
    if (value === undefined) {
      value = argv[++i];
      if (value === undefined || value.startsWith('--')) throw new SpecError(`option ${arg} needs a value (${def.arg})`);
    }
    if (value === '') throw new SpecError(`option ${arg} needs a non-empty value (${def.arg})`);
    if (def.int) {
      const v = decimalInteger(value);
      if (v === undefined || v < def.int.min || v > def.int.max)
        throw new SpecError(`bad value for ${arg}: '${value}' (expected an integer in [${def.int.min}, ${def.int.max}])`);
      options[key] = v;
    } else if (def.choices && !def.choices.includes(value)) {
      throw new SpecError(`bad value for ${arg}: '${value}' (expected one of ${def.choices.join(', ')})`);
    } else options[key] = value;
  }
  return { options, positional };
}

/** A command's help: its usage line, its options, and notes. @internal */
export function helpText(usageLine: string, defs: Record<string, OptionDef>, extra: string[]): string {
  return [
    usageLine,
    '',
    ...Object.entries(defs).map(([name, d]) => `${`  ${name}${d.arg ? ` ${d.arg}` : ''}`.padEnd(28)}${d.help}`),
    '',
    ...extra,
  ].join('\n');
}

const SWEEP_OPTIONS: Record<string, OptionDef> = {
  '--out': { arg: 'DIR', help: 'folder of the results (required): one folder per run, summary.md/.csv, curves.svg, scores.svg' },
  '--resume': { help: 'continue the sweep in --out: finished runs are kept, interrupted ones continue from their checkpoint' },
  '--workers': { arg: 'N', int: { min: 1, max: 1024 }, help: 'trainings at once on this machine (default: its cores)' },
  '--queue': {
    arg: 'URL',
    help: 'enqueue the runs on BullMQ at redis://host:port for `neurone worker`s, and collect the results (needs npm install bullmq ioredis)',
  },
  '--queue-name': { arg: 'NAME', help: "the BullMQ queue (default 'neurone')" },
  '--backend': { arg: 'NAME', choices: ['js', 'native'], help: 'js|native (default: native when it loads)' },
  '--data-dir': { arg: 'DIR', help: 'folder of the MNIST / Fashion-MNIST / USPS files (local runs)' },
  '--save-models': { help: 'save each trained model as <out>/<run-id>/model.safetensors (local runs)' },
  '--quiet': { help: 'no status line nor per-run lines; only the summary' },
  '--help': { help: 'show this help' },
};

/** Help of `neurone sweep`. */
export function sweepUsage(): string {
  return helpText('Usage: neurone sweep SPEC.json --out DIR [options]', SWEEP_OPTIONS, [
    'A spec: { "name": "lr", "base": { "dataset": "usps", "epochs": 20 }, "axes": { "lr": [1e-4, 1e-3] }, "seeds": 5 }',
    'Keys of base and axes: dataset, model, optimizer, lr, momentum, weightDecay, schedule, epochs, batchSize,',
    'patience (0: no early stopping), valFraction, trainSize, testSize, dataSeed. Every combination of the axes runs',
    'once per seed; the summary gives mean ± std over the seeds and names the best configuration on validation.',
    `Defaults: ${RUN_DEFAULTS.dataset}, ${RUN_DEFAULTS.epochs} epochs, batch ${RUN_DEFAULTS.batchSize}; as \`neurone train --recipe quick\` otherwise: SGD lr ${QUICK.lr},`,
    `momentum ${RUN_DEFAULTS.momentum}, weight decay ${QUICK.weightDecay} (Adam: lr ${ADAM_DEFAULTS.lr}, weight decay ${ADAM_DEFAULTS.weightDecay}), the ${RUN_DEFAULTS.schedule} schedule,`,
    `early stopping patience ${RUN_DEFAULTS.patience}. Gradients are summed over the batch, as in \`neurone train\`: PyTorch's SGD lr is this lr × the batch size.`,
    'Examples in sweeps/.',
  ]);
}

function duration(s: number | undefined): string {
  if (s === undefined || !Number.isFinite(s)) return '-';
  const m = Math.floor(s / 60);
  return m > 0 ? `${m}m${String(Math.round(s % 60)).padStart(2, '0')}s` : `${Math.round(s)}s`;
}

/**
 * The status line of a sweep, at most `columns - 1` characters (a line redrawn in place must not
 * wrap: a carriage return goes back to the start of its last row only, and each redraw left a
 * row behind). What does not fit goes, the elapsed time first, then the rate, then the ETA; the
 * counts are cut as a last resort.
 */
export function statusLine(s: SweepStatus, columns = Infinity): string {
  const counts = `sweep: ${s.done}/${s.total} done, ${s.running} running, ${s.failed} failed`;
  const rate = `${Math.round(s.samplesPerSecond).toLocaleString('en-US')} samples/s`;
  const eta = `ETA ${duration(s.etaSeconds)}`;
  const elapsed = `${duration(s.elapsedSeconds)} elapsed`;
  const room = Math.max(1, columns - 1);
  const candidates = [`${counts} | ${rate} | ${elapsed}, ${eta}`, `${counts} | ${rate} | ${eta}`, `${counts} | ${eta}`, counts];
  return candidates.find((l) => l.length <= room) ?? counts.slice(0, room);
}

function readSpec(file: string): unknown {
  let text: string;
  try {
    text = decodeText(readDataFile(file, MAX_SPEC_BYTES, 'a JSON sweep spec'));
  } catch (e) {
    throw new SpecError(`cannot read sweep spec ${file}: ${firstLine(e)}`);
  }
  try {
    return JSON.parse(text);
  } catch (e) {
    throw new SpecError(`sweep spec ${file} is not valid JSON: ${firstLine(e)}`);
  }
}

/** One line on stderr for an error; 2 for what the user gave, 1 otherwise. @internal */
export function fail(e: unknown): number {
  process.stderr.write(`neurone: ${firstLine(e).replace(/^(neurone:\s*)+/, '')}\n`);
  return e instanceof SpecError ? 2 : 1;
}

/** `neurone sweep SPEC --out DIR ...`; returns the exit code. */
export async function sweepCommand(
  argv: readonly string[],
  write: (text: string) => void = (t) => process.stdout.write(t),
): Promise<number> {
  let interrupted: ((signal: NodeJS.Signals) => void) | undefined;
  let interruptedLine: (() => string) | undefined;
  // 130 after Ctrl-C, 143 after SIGTERM (what `timeout`, docker stop and batch schedulers send).
  let interruptCode = 130;
  try {
    const { options: o, positional } = parseOptions('sweep', argv, SWEEP_OPTIONS);
    if (o.help) {
      write(`${sweepUsage()}\n`);
      return 0;
    }
    if (positional.length !== 1)
      throw new SpecError(
        `expected one spec file, got ${positional.length === 0 ? 'none' : positional.join(' ')} (see neurone sweep --help)`,
      );
    if (o.out === undefined) throw new SpecError('--out DIR is required (the folder of the results)');
    if (o['queue-name'] !== undefined && o.queue === undefined)
      throw new SpecError('--queue-name applies to a sweep through a queue; give --queue redis://host:port too, or drop it');
    // Through the queue the workers train, where their own flags decide these.
    if (o.queue !== undefined) {
      const local = {
        '--workers': 'start more `neurone worker`s, or give them --concurrency',
        '--data-dir': 'give the workers --data-dir',
        '--save-models': 'start the workers with --models DIR',
      };
      for (const [flag, instead] of Object.entries(local))
        if (o[flag.slice(2)] !== undefined)
          throw new SpecError(`${flag} applies to local runs; with --queue the workers train: ${instead}`);
    }
    const spec = readSpec(positional[0]);
    const tty = drawsInPlace(process.stdout) && !o.quiet;
    let statusShown = false;
    const line = (l: string): void => {
      write(`${statusShown ? '\r\x1b[K' : ''}${l}\n`);
      statusShown = false;
    };
    // Ctrl-C or SIGTERM stops the trainings where they are (the sweep removes their half-written
    // files), then says how to go on: the runs' records and checkpoints are on disk; through the
    // queue, the runs stay queued. A stop that hangs (a queue that does not close) ends in 10 s
    // anyway; a second signal, of either kind, kills at once (the handlers are gone).
    const stop = new AbortController();
    interruptedLine = (): string =>
      `${statusShown ? '\n' : ''}neurone: sweep interrupted; the finished runs are kept in ${String(o.out)}: ` +
      `continue with the same command and --resume${o.queue !== undefined ? ' (the queued runs stay on the queue)' : ''}\n`;
    interrupted = (signal): void => {
      process.removeListener('SIGINT', interrupted as () => void);
      process.removeListener('SIGTERM', interrupted as () => void);
      interruptCode = signal === 'SIGTERM' ? 143 : 130;
      stop.abort();
      setTimeout(() => {
        process.stderr.write(interruptedLine?.() ?? '');
        process.exit(interruptCode);
      }, 10000).unref();
    };
    process.once('SIGINT', interrupted);
    process.once('SIGTERM', interrupted);
    const result = await sweep(spec, {
      out: String(o.out),
      resume: Boolean(o.resume),
      workers: o.workers as number | undefined,
      queue: o.queue as string | undefined,
      queueName: o['queue-name'] as string | undefined,
      backend: o.backend as 'js' | 'native' | undefined,
      dataDir: o['data-dir'] as string | undefined,
      saveModels: Boolean(o['save-models']),
      signal: stop.signal,
      log: o.quiet ? undefined : line,
      onStatus: tty
        ? (s) => {
            write(`\r\x1b[K${statusLine(s, terminalColumns(process.stdout))}`);
            statusShown = true;
          }
        : undefined,
    });
    if (statusShown) write('\n');
    write(`${statusLine(result.status)}\n\n${summaryMarkdown(result.summary)}\n\n`);
    write(`summary: ${result.files.markdown}, ${result.files.csv}; figures: ${result.files.curves}, ${result.files.scores}\n`);
    return result.status.failed > 0 ? 1 : 0;
  } catch (e) {
    if (e instanceof Error && e.name === 'AbortError' && interruptedLine) {
      process.stderr.write(interruptedLine());
      return interruptCode;
    }
    return fail(e);
  } finally {
    if (interrupted) {
      process.removeListener('SIGINT', interrupted);
      process.removeListener('SIGTERM', interrupted);
    }
  }
}
