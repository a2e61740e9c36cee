#!/usr/bin/env node
/**
 * The `neurone` command.
 *
 *   neurone train [options]     train a network (default: the headline CNN on the embedded USPS digits)
 *   neurone presets             list the model presets
 *   neurone sweep | worker | style | predict | evaluate | export | data   (see usage())
 *   neurone --help | --version
 *
 * Errors in the arguments, the files or the data print one line on stderr and exit with code 2;
 * every place the run writes (--out, --save) is checked before training. A failure during or after
 * training (the loss became NaN, the model or a figure could not be written) exits with code 1;
 * the model is saved before the figures, so a full disk while writing them keeps it. Ctrl-C exits
 * 130 (SIGTERM 143) with the terminal's cursor shown again; a closed stdout (`| head`) exits 141
 * quietly. Never a stack trace.
 */
import * as crypto from 'crypto';
import * as fs from 'fs';
import * as path from 'path';
import { FLOAT32_MAX, Tensor } from '../tensor';
import { MAX_SEED, seed as seedGlobal } from '../random';
import { setBackend, setThreads, getBackend, getThreads, kernelPath, BackendName } from '../backend';
import { MAX_THREADS } from '../backend/types';
import { SGD, Adam, Optimizer } from '../optim';
import { fit, evaluate, NonFiniteError } from '../train';
import { Logger, EpochRecord } from '../logger';
import { TerminalProgress, drawsInPlace, formatLoss } from '../progress';
import * as data from '../data';
import { Dataset } from '../data';
import { Recipe, RECIPES, ADAM_DEFAULTS, PLATEAU, PlanError, ReplayedRates, plateauScheduler, trainSubset, trainingPlan } from './recipes';
import { WeightAverage, updateBatchNorm } from '../averaging';
import {
  PRESETS,
  ModelDescription,
  ModelError,
  buildModel,
  checkModelForInput,
  followShapes,
  defaultPreset,
  findPreset,
  presetDescription,
  readModelFile,
} from './presets';
import { confusionMatrixSvg, writeFigure } from '../report/figures';
import { ensureDir, missingFolders, removeEmptyFolders, removeEmptyFoldersOnExit } from '../data/paths';
import { lockFolder, onFatalSignal, removeDeadWritersTemps } from '../data/read';
import { save } from '../serialize';
import { CheckpointError } from '../checkpoint';
import { RESUME_FOLDER, ResumeFolder, Stage } from './train-resume';
import { sweepCommand } from './sweep';
import { workerCommand } from './worker';
import { styleCommand } from './style';
import { MODEL_COMMANDS, MODEL_COMMAND_HELP, didYouMean, unknownCommand, version } from './commands';
import { decimalNumber, isDecimalInteger, probeWritable, realPath } from './command';
import { datasetSampleShape, headLoss, viewSamples } from './model-io';
import { firstLine, percent, plural } from '../messages';
import { DATASETS, DatasetName, loadTrainTest } from './datasets';

/** An error in what the user asked for: one line on stderr, exit code 2. */
export class UsageError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'UsageError';
  }
}

/**
 * SGD's defaults come from the recipe (lib/cli/recipes.ts), measured on USPS with the headline CNN
 * (reports/README.md, item 4); learning rate and weight decay apply to gradients summed over the
 * batch (docs/COURSE.md).
 */
const ADAM_LR = ADAM_DEFAULTS.lr;
const ADAM_WEIGHT_DECAY = ADAM_DEFAULTS.weightDecay;
/** The schedule (lib/cli/recipes.ts): lr × PLATEAU_FACTOR when the validation loss has not improved for PLATEAU_EPOCHS epochs. */
const PLATEAU_EPOCHS = PLATEAU.patience;
const PLATEAU_FACTOR = PLATEAU.factor;

/** Everything `train` accepts, parsed and checked. */
export interface TrainOptions {
  dataset: DatasetName;
  model?: string;
  /** Defaults of the training flags below (lib/cli/recipes.ts); default: headline on usps, quick elsewhere. */
  recipe?: Recipe['name'];
  epochs?: number;
  batchSize: number;
  lr?: number;
  optimizer: 'adam' | 'sgd';
  momentum: number;
  weightDecay?: number;
  schedule?: 'plateau' | 'none';
  /** Average the weights of the last N epochs (0: none). */
  swa?: number;
  /** Train a fresh network on all the training data for the same epochs before testing. */
  retrain?: boolean;
  seed: number;
  backend?: BackendName;
  threads?: number;
  out: string;
  /** Replace the files an earlier run left in --out. */
  force: boolean;
  /** Continue the run stopped in --out after its last finished epoch. */
  resume?: boolean;
  save?: string;
  /** Early stopping's patience; 0 trains every epoch and keeps the last weights. */
  patience?: number;
  valFraction: number;
  trainSize?: number;
  dataDir?: string;
  quiet: boolean;
}

type Kind = 'int' | 'number' | 'string' | 'flag';
interface Flag {
  key: keyof TrainOptions | 'help';
  kind: Kind;
  arg?: string;
  help: string;
  choices?: readonly string[];
  /** Inclusive lower bound (or exclusive when `gt`), upper bound exclusive when `lt`, inclusive when `max`. */
  min?: number;
  gt?: number;
  lt?: number;
  max?: number;
}

const FLAGS: Record<string, Flag> = {
  '--dataset': {
    key: 'dataset',
    kind: 'string',
    arg: 'NAME',
    choices: DATASETS,
    help: `data to train on: ${DATASETS.join('|')} (default usps)`,
  },
  '--model': {
    key: 'model',
    kind: 'string',
    arg: 'PRESET|FILE',
    help: 'a preset (see `neurone presets`) or a JSON model file (default seed-cnn for the image sets, small-mlp for xor and blobs, mlp for checkerboard)',
  },
  '--recipe': {
    key: 'recipe',
    kind: 'string',
    arg: 'NAME',
    choices: Object.keys(RECIPES),
    help: 'defaults of the training flags below: headline (default on usps) or quick (default elsewhere); see Recipes',
  },
  '--epochs': { key: 'epochs', kind: 'int', arg: 'N', min: 1, help: 'number of epochs, the most with early stopping (default 50)' },
  '--batch-size': { key: 'batchSize', kind: 'int', arg: 'N', min: 1, help: 'samples per step (default 32)' },
  '--lr': {
    key: 'lr',
    kind: 'number',
    arg: 'X',
    gt: 0,
    help: `learning rate (default ${ADAM_LR} for adam, the recipe's for sgd: ${RECIPES.headline.lr} headline, ${RECIPES.quick.lr} quick; gradients are summed over the batch)`,
  },
  '--optimizer': { key: 'optimizer', kind: 'string', arg: 'NAME', choices: ['sgd', 'adam'], help: 'sgd|adam (default sgd)' },
  '--momentum': { key: 'momentum', kind: 'number', arg: 'X', min: 0, lt: 1, help: 'SGD momentum in [0, 1) (default 0.9)' },
  '--weight-decay': {
    key: 'weightDecay',
    kind: 'number',
    arg: 'X',
    min: 0,
    help: `L2 penalty added to the summed gradient (default ${ADAM_WEIGHT_DECAY} for adam, the recipe's for sgd: ${RECIPES.headline.weightDecay} headline, ${RECIPES.quick.weightDecay} quick)`,
  },
  '--schedule': {
    key: 'schedule',
    kind: 'string',
    arg: 'NAME',
    choices: ['plateau', 'none'],
    help: `plateau: lr × ${PLATEAU_FACTOR} when the validation loss stalls ${PLATEAU_EPOCHS} epochs (quick's); none (headline's)`,
  },
  '--seed': {
    key: 'seed',
    kind: 'int',
    arg: 'N',
    min: 0,
    max: MAX_SEED,
    help: `seed of initialisation, split and shuffling, 0 to 2^32-1 (default 0)`,
  },
  '--backend': {
    key: 'backend',
    kind: 'string',
    arg: 'NAME',
    choices: ['js', 'native'],
    help: 'js|native (default: native when it loads)',
  },
  '--threads': {
    key: 'threads',
    kind: 'int',
    arg: 'N',
    min: 1,
    max: MAX_THREADS,
    help: `threads of the native kernels, at most ${MAX_THREADS} (default: the cores this process may use)`,
  },
  '--swa': {
    key: 'swa',
    kind: 'int',
    arg: 'N',
    min: 0,
    help: `average the weights of the last N epochs, at most --epochs (default ${RECIPES.headline.swa} headline, 0 quick)`,
  },
  '--retrain': {
    key: 'retrain',
    kind: 'flag',
    help: 'then train a fresh network on all the training data for the same epochs and test that one (headline does)',
  },
  '--out': { key: 'out', kind: 'string', arg: 'DIR', help: 'folder for the plots and metrics (default ./neurone-out)' },
  '--force': {
    key: 'force',
    kind: 'flag',
    help: 'replace the files an earlier run left in --out, and an existing --save file; start over where a run was stopped',
  },
  '--save': { key: 'save', kind: 'string', arg: 'FILE', help: 'save the trained model there' },
  '--resume': {
    key: 'resume',
    kind: 'flag',
    help: 'continue the run stopped in --out (Ctrl-C, a kill, a crash) after its last finished epoch: give its flags again',
  },
  '--patience': {
    key: 'patience',
    kind: 'int',
    arg: 'N',
    min: 1,
    help: 'early stopping: epochs without a better validation loss (default 5 quick, none headline)',
  },
  '--val-fraction': {
    key: 'valFraction',
    kind: 'number',
    arg: 'X',
    gt: 0,
    lt: 1,
    help: 'share of the training set held out for validation, stratified (default 0.15)',
  },
  '--train-size': {
    key: 'trainSize',
    kind: 'int',
    arg: 'N',
    min: 2,
    help: 'use a random subset of N training examples, at most the set holds (before the validation split)',
  },
  '--data-dir': {
    key: 'dataDir',
    kind: 'string',
    arg: 'DIR',
    help: 'folder of the MNIST / Fashion-MNIST IDX files or of USPS_train/test.txt[.gz]',
  },
  '--quiet': { key: 'quiet', kind: 'flag', help: 'no progress bar nor per-epoch lines; only the results' },
  '--help': { key: 'help', kind: 'flag', help: 'show this help' },
};
const ALIASES: Record<string, string> = { '-h': '--help', '-q': '--quiet' };

/** The help text. */
export function usage(): string {
  const lines = [
    'Usage: neurone <command> [options]',
    '',
    'Commands:',
    "  train      train a network; with no options, the README's headline: its CNN and recipe on the embedded USPS digits",
    '  presets    list the model presets',
    '  sweep      run many trainings side by side from a JSON spec (neurone sweep --help)',
    '  worker     take the runs of `neurone sweep --queue` from Redis and train them (neurone worker --help)',
    ...MODEL_COMMAND_HELP,
    '  style      an image with the content of one PNG and the style of another (neurone style --help)',
    '  --version  print the version',
    '',
    'Options of train:',
  ];
  for (const [name, f] of Object.entries(FLAGS)) {
    const left = `  ${name}${f.arg ? ` ${f.arg}` : ''}`;
    lines.push(`${left.padEnd(28)}${f.help}`);
  }
  lines.push(
    '',
    'A JSON model file holds { "layers": [{ "type": "Linear", "args": [256, 10] }, { "type": "ReLU" }, ...] },',
    "each layer as its module's toJSON() writes it. The images reach it as its first layers take them: one",
    'flat row each for a Linear, a sequence of pixels for a Conv1D, the image (n, height, width, 1) for a Conv2D.',
    '',
    'Recipes (the flags above override them):',
    ...Object.values(RECIPES).map((r) => `  ${r.name.padEnd(10)} ${r.summary}; ${r.result}`),
    '',
    'Examples:',
    "  neurone train                   # the README's headline recipe (95.02 % over 10 seeds)",
    '  neurone train --recipe quick    # early stopping, about a sixth of the time (about 94 %)',
    '  neurone train --dataset mnist --model lenet --epochs 5   # a 2-D CNN on the images',
    '  neurone train --dataset fashion --model mlp --epochs 10 --out runs/fashion',
    '  neurone train --dataset xor --epochs 200 --optimizer adam --lr 0.01',
    '',
    'Exit status (every command):',
    '  0    success',
    '  1    a failure during the work: the loss became NaN, a file could not be written, a sweep with failed runs',
    '  2    bad input (an argument, a file, the data), said in one line before anything is written',
    '  130  stopped by Ctrl-C (143 by SIGTERM); a train after an epoch, or a sweep, then says how to go on with --resume',
    '  141  standard output closed early (`| head`), quietly',
  );
  return lines.join('\n');
}

/** Parses `train`'s arguments; throws UsageError for anything wrong. Returns null for --help. */
export function parseTrainArgs(argv: readonly string[]): TrainOptions | null {
  const opts: TrainOptions = {
    dataset: 'usps',
    batchSize: 32,
    optimizer: 'sgd',
    momentum: 0.9,
    seed: 0,
    out: './neurone-out',
    force: false,
    valFraction: 0.15,
    quiet: false,
  };
  const seen = new Set<string>();
  let help = false;
  for (let i = 0; i < argv.length; i++) {
    let arg = argv[i];
    let value: string | undefined;
    const eq = arg.indexOf('=');
    if (arg.startsWith('--') && eq > 0) {
      value = arg.slice(eq + 1);
      arg = arg.slice(0, eq);
    }
    arg = ALIASES[arg] ?? arg;
    const flag = FLAGS[arg];
    if (!flag) {
      if (!arg.startsWith('-')) throw new UsageError(`unexpected argument '${arg}' (options start with --; see neurone --help)`);
      throw new UsageError(`unknown option '${arg}'${didYouMean(arg, Object.keys(FLAGS))} (see neurone --help)`);
    }
    if (seen.has(arg)) throw new UsageError(`option ${arg} given twice`);
    seen.add(arg);
    if (flag.kind === 'flag') {
      if (value !== undefined) throw new UsageError(`option ${arg} takes no value`);
      if (flag.key === 'help') help = true;
      else (opts as unknown as Record<string, unknown>)[flag.key] = true;
      continue;
    }
    if (value === undefined) {
      value = argv[++i];
      if (value === undefined || (value.startsWith('--') && value.length > 2)) {
        throw new UsageError(`option ${arg} needs a value (${flag.arg})`);
      }
    }
    (opts as unknown as Record<string, unknown>)[flag.key] = parseValue(arg, flag, value);
  }
  if (help) return null;
  if (seen.has('--momentum') && opts.optimizer !== 'sgd') throw new UsageError('--momentum applies to --optimizer sgd only');
  try {
    trainingPlan(opts);
  } catch (e) {
    if (e instanceof PlanError) throw new UsageError(e.message);
    throw e;
  }
  return opts;
}

function parseValue(name: string, flag: Flag, value: string): string | number {
  if (flag.kind === 'string') {
    if (value === '') throw new UsageError(`option ${name} needs a non-empty value (${flag.arg})`);
    if (flag.choices && !flag.choices.includes(value)) {
      throw new UsageError(
        `bad value for ${name}: '${value}' (expected one of ${flag.choices.join(', ')})${didYouMean(value, flag.choices)}`,
      );
    }
    return value;
  }
  const v = Number(value);
  if (value.trim() === '' || !Number.isFinite(v)) throw new UsageError(`bad value for ${name}: '${value}' is not a number`);
  // What Number() takes beyond decimal notation (0x10, 0b11) is refused as every command refuses it.
  if (flag.kind === 'number' && decimalNumber(value.trim()) === undefined)
    throw new UsageError(`bad value for ${name}: '${value}' is not a number in decimal notation`);
  if (flag.kind === 'int') {
    if (!isDecimalInteger(value.trim())) throw new UsageError(`bad value for ${name}: '${value}' is not an integer in decimal digits`);
    // Beyond 2^53 doubles skip integers: '9007199254740993' would silently become ...992.
    if (!Number.isSafeInteger(v)) throw new UsageError(`bad value for ${name}: ${value} (must be at most ${Number.MAX_SAFE_INTEGER})`);
  }
  // Real-valued options reach the kernels as float32: a value the checks below accept must keep its
  // meaning there. 1e39 becomes Infinity, 1e-46 becomes 0 and 0.9999999999 becomes 1, so the
  // bounds are checked on the float32 value too (and the float32 overflow is named as such).
  const f = flag.kind === 'number' ? Math.fround(v) : v;
  if (!Number.isFinite(f)) {
    throw new UsageError(
      `bad value for ${name}: ${value} (beyond the float32 range, whose largest finite value is ${FLOAT32_MAX.toPrecision(8)})`,
    );
  }
  const f32 = f !== v ? ` (${f} as float32)` : '';
  if (flag.min !== undefined && !(v >= flag.min && f >= flag.min))
    throw new UsageError(`bad value for ${name}: ${value}${f32} (must be >= ${flag.min})`);
  if (flag.gt !== undefined && !(v > flag.gt && f > flag.gt))
    throw new UsageError(`bad value for ${name}: ${value}${f32} (must be > ${flag.gt})`);
  if (flag.lt !== undefined && !(v < flag.lt && f < flag.lt))
    throw new UsageError(`bad value for ${name}: ${value}${f32} (must be < ${flag.lt})`);
  if (flag.max !== undefined && !(v <= flag.max)) throw new UsageError(`bad value for ${name}: ${value} (must be <= ${flag.max})`);
  return v;
}

/** Train and test sets of a named dataset; synthetic sets use `seed` and `seed + 1`. */
function loadDataset(name: DatasetName, seedValue: number, dir?: string): { train: Dataset; test: Dataset } {
  try {
    return loadTrainTest(name, seedValue, dir);
  } catch (e) {
    throw new UsageError(`cannot load ${name}: ${firstLine(e)}`);
  }
}

function targets(ds: Dataset, oneHot: boolean): Tensor {
  return oneHot ? data.oneHot(ds.labels, ds.numClasses) : { shape: [ds.labels.length], data: Float32Array.from(ds.labels) };
}

/**
 * The command's line for a training that diverged: fit's account of where it stopped, with the
 * advice fit gives in code (`{ allowNonFinite: true }`, the loss's reduction) replaced by the flag
 * that helps. The command sums each batch's gradient, as the course did: with SGD, a rate brought
 * from PyTorch (which averages) is `batchSize` times too large here.
 */
export function divergedLine(e: NonFiniteError, lr: number, adam: boolean, batchSize: number): string {
  const where = firstLine(e)
    .replace(/^fit: /, '')
    .replace(/\s*\((?:[^()]|\([^()]*\))*allowNonFinite(?:[^()]|\([^()]*\))*\)\s*$/, '');
  const rate = (v: number): string => String(Number(v.toPrecision(3)));
  const summed =
    !adam && batchSize > 1
      ? `: the command sums each batch's gradient, as the course did, so --lr ${rate(lr)} at --batch-size ${batchSize} steps as far as PyTorch's lr ${rate(lr * batchSize)} on the batch mean`
      : '';
  return `training diverged: ${where}. Lower --lr (${rate(lr)}${summed}), e.g. --lr ${rate(lr / 10)}`;
}

/** Builds the model named by --model (preset or file) for this data; UsageError when it cannot. */
function resolveModel(
  opts: TrainOptions,
  input: { inputSize: number; numClasses: number },
): { name: string; description: ModelDescription } {
  const name = opts.model ?? defaultPreset(opts.dataset);
  try {
    if (findPreset(name)) return { name, description: presetDescription(name, input) };
    if (name.endsWith('.json') || name.includes('/') || name.includes(path.sep) || fs.existsSync(name)) {
      return { name: path.basename(name), description: readModelFile(name) };
    }
    return { name, description: presetDescription(name, input) }; // throws "unknown model preset"
  } catch (e) {
    if (e instanceof ModelError) throw new UsageError(e.message);
    throw e;
  }
}

/**
 * The `train` command. Returns the exit code. A run that fails before writing anything (bad
 * arguments, a divergence) leaves no `--out` folder behind that it made itself.
 */
export async function train(opts: TrainOptions, out: (line: string) => void = (l) => process.stdout.write(`${l}\n`)): Promise<number> {
  const made = missingFolders(opts.out);
  const exitCleanup = removeEmptyFoldersOnExit(made);
  // Ctrl-C or SIGTERM (timeout, docker stop) kills without running either: the lock and the
  // folders go first, then the signal ends the process as it would have.
  const signalCleanup = onFatalSignal(() => removeEmptyFolders(made));
  let code: number | undefined;
  try {
    code = await trainRun(opts, out);
    return code;
  } finally {
    signalCleanup();
    exitCleanup();
    if (code !== 0) removeEmptyFolders(made);
  }
}

async function trainRun(opts: TrainOptions, out: (line: string) => void): Promise<number> {
  const t0 = performance.now();
  try {
    if (opts.backend) setBackend(opts.backend);
    if (opts.threads) setThreads(opts.threads);
    // Chooses the backend now (NEURONE_BACKEND included), so a bad setting is an error before any
    // work rather than a failure in the first kernel call.
    getBackend();
  } catch (e) {
    throw new UsageError(firstLine((e as Error).message));
  }
  // The js kernels run on the calling thread alone; accepting --threads 4 there would promise four.
  if (opts.threads !== undefined && opts.threads > 1 && getBackend() === 'js') {
    throw new UsageError(`--threads ${opts.threads}: the js backend runs on one thread; drop --threads or use --backend native`);
  }
  // Every place the run will write is checked before the data is loaded and the network trained:
  // finding out at the end that --save is a folder would throw the training away.
  const outFiles = {
    curves: path.join(opts.out, 'training.svg'),
    confusion: path.join(opts.out, 'confusion.svg'),
    metrics: path.join(opts.out, 'metrics.json'),
  };
  try {
    ensureDir(opts.out);
    probeWritable(opts.out);
  } catch (e) {
    throw new UsageError(`--out: cannot write to ${opts.out}: ${firstLine((e as Error).message)}`);
  }
  // Held until the run ends: a second run given the same --out would otherwise pass the check
  // below (nothing there yet) and replace this run's files when it ends, or mix them with its own.
  const unlock = lockFolder(opts.out, 'train run', (message) => new UsageError(message));
  const signalUnlock = onFatalSignal(unlock);
  try {
    return await trainLocked(opts, out, t0, outFiles);
  } finally {
    signalUnlock();
    unlock();
  }
}

async function trainLocked(
  opts: TrainOptions,
  out: (line: string) => void,
  t0: number,
  outFiles: { curves: string; confusion: string; metrics: string },
): Promise<number> {
  const resume = new ResumeFolder(opts.out);
  let engineNote: string | undefined;
  let enginesSoFar: string | undefined;
  if (opts.resume) {
    if (!resume.exists())
      throw new UsageError(`--resume: ${opts.out} holds no stopped run to continue (no ${path.join(resume.dir, 'run.json')})`);
    let started: { flags: Record<string, unknown>; engine: string };
    try {
      started = resume.run();
    } catch (e) {
      throw resumeRefused(e);
    }
    const changed = changedFlag(started.flags, resultFlags(opts));
    if (changed) {
      throw new UsageError(
        `--resume: the run in ${opts.out} was started with ${changed.then}, not ${changed.now}; give its flags again, or start over with --force, without --resume`,
      );
    }
    if (started.engine !== engineName()) {
      engineNote =
        `neurone: note: the run started on ${started.engine} and goes on on ${engineName()}, which sums in another order ` +
        '(every layer on another kernel path or backend, a convolution on another thread count): the result may differ in its last bits from a run never stopped';
      // Stopped again and resumed where it started, the run has still been on both.
      enginesSoFar = `${started.engine}, then ${engineName()}`;
    }
  } else if (resume.exists() && !opts.force) {
    throw new UsageError(
      `--out: ${opts.out} holds a stopped run (${resume.dir}): continue it with the same flags and --resume, or start over with --force`,
    );
  }
  // A resumed run replaces what the run it continues would have replaced.
  const earlier = opts.resume ? [] : Object.values(outFiles).filter((f) => fs.existsSync(f));
  if (earlier.length > 0 && !opts.force) {
    throw new UsageError(
      `--out: ${opts.out} already holds ${earlier.map((f) => path.basename(f)).join(', ')} from an earlier run; ` +
        'pass --force to replace them, or another --out folder',
    );
  }
  if (earlier.length > 0 && !opts.quiet)
    out(`neurone: replacing ${earlier.map((f) => path.basename(f)).join(', ')} in ${opts.out} (--force)`);
  // Under the lock no other train run writes here: what a killed one was writing is removed now,
  // not a minute later. In --out only the files a run writes (other programs may share the
  // folder); its resume folder is the run's alone.
  const savedHere = opts.save !== undefined && realPath(path.dirname(path.resolve(opts.save))) === realPath(opts.out);
  removeDeadWritersTemps(
    opts.out,
    [...Object.values(outFiles), ...(savedHere ? [opts.save as string] : [])].map((f) => path.basename(f)),
  );
  if (fs.existsSync(resume.dir)) removeDeadWritersTemps(resume.dir);
  if (opts.save !== undefined) {
    // The model file read, when --model names one: saving over it would replace the input.
    const modelFile = opts.model !== undefined && !findPreset(opts.model) && fs.existsSync(opts.model) ? [opts.model] : [];
    checkSaveTarget(opts.save, Object.values(outFiles), modelFile, opts.dataDir, opts.force === true);
    // By real paths (a link to --out, `..name` files): the resume folder is removed at the end.
    const inResume = path.relative(
      path.join(realPath(opts.out), RESUME_FOLDER),
      path.join(realPath(path.dirname(path.resolve(opts.save))), path.basename(opts.save)),
    );
    if (inResume === '' || (inResume !== '..' && !inResume.startsWith(`..${path.sep}`) && !path.isAbsolute(inResume)))
      throw new UsageError(`--save: ${opts.save} is in ${resume.dir}, which the run removes when it ends`);
  }

  const loaded = loadDataset(opts.dataset, opts.seed, opts.dataDir);
  const test = loaded.test;
  let fullTrain: data.Dataset;
  try {
    fullTrain = trainSubset(loaded.train, opts.trainSize, opts.seed, '--train-size', opts.dataset);
  } catch (e) {
    throw new UsageError(firstLine(e));
  }
  const inputSize = data.numFeatures(fullTrain);
  const { name: modelName, description } = resolveModel(opts, { inputSize, numClasses: fullTrain.numClasses });
  seedGlobal(opts.seed);
  const net = buildModel(description);
  let inShape: number[];
  try {
    // As a flat row, a sequence or an image, whichever the model takes (from its shapes alone).
    inShape = [1, ...datasetSampleShape(net, fullTrain.x.shape, opts.dataset)];
  } catch (e) {
    throw new UsageError(`model ${modelName} does not fit: ${firstLine((e as Error).message)}`);
  }
  let outShape: number[];
  try {
    // The shapes first, with nothing allocated: a lazily sized layer too large, or a step's activations past the bound, stop here.
    checkModelForInput(net, inShape, Math.min(opts.batchSize, fullTrain.labels.length));
    outShape = net.outputShape(inShape);
  } catch (e) {
    throw new UsageError(
      `model ${modelName} does not fit ${opts.dataset} (input (batch, ${inShape.slice(1).join(', ')})): ${firstLine((e as Error).message)}`,
    );
  }
  if (outShape.length !== 2 || outShape[1] !== fullTrain.numClasses) {
    throw new UsageError(
      `model ${modelName} outputs (batch, ${outShape.slice(1).join(', ')}) but ${opts.dataset} has ${fullTrain.numClasses} classes`,
    );
  }
  if (opts.save !== undefined) checkSaveSpace(opts.save, net, inShape);

  let split: data.SplitResult;
  try {
    split = data.trainTestSplit(fullTrain, { testFraction: opts.valFraction, seed: opts.seed, stratify: true });
  } catch (e) {
    throw new UsageError(`--val-fraction: ${firstLine((e as Error).message)}`);
  }
  const view = (ds: Dataset): Dataset => viewSamples(ds, inShape.slice(1));
  const trainSet = view(split.train);
  const valSet = view(split.test);
  const testSet = view(test);
  // The command's learning rates and weight decays are the course's, for gradients summed over the
  // batch (reports/README.md measured them so): the losses say so, whatever the library's default.
  const head = headLoss(net, 'sum');
  const { loss, oneHot } = head;
  const lossName = `${head.className} (${oneHot ? 'one-hot, ' : ''}summed over the batch)`;
  const plan = trainingPlan(opts);
  const { recipe, epochs, patience, retrain, lr, weightDecay } = plan;
  const scheduleName = plan.schedule;
  const swaEpochs = plan.swa;
  const adam = opts.optimizer === 'adam';
  const makeOptimizer = (): Optimizer => (adam ? new Adam({ lr, weightDecay }) : new SGD({ lr, momentum: opts.momentum, weightDecay }));
  const params = net.parameters().reduce((a, p) => a + p.value.data.length, 0);
  // The recipe's measured result is quoted only for what it was measured on.
  const measured = opts.dataset === 'usps' && modelName === 'seed-cnn' && opts.batchSize === 32;
  const recipeText = (): string => {
    const note = plan.changed.length > 0 ? `, changed by ${plan.changed.join(', ')}` : measured ? `: ${recipe.result}` : '';
    return `recipe ${recipe.name}${note}`;
  };

  if (!opts.quiet) {
    out(
      `neurone: ${modelName} on ${opts.dataset}: ${trainSet.labels.length} train / ${valSet.labels.length} validation (stratified ${opts.valFraction}) / ${testSet.labels.length} test`,
    );
    out(`  ${recipeText()}`);
    if (recipe.name !== 'headline' && opts.dataset === 'usps')
      out("  the README's headline (95.02 % over 10 seeds): neurone train --recipe headline");
    out(`  model ${net.toString()}, ${plural(params, 'parameter')}, input (batch, ${inShape.slice(1).join(', ')})`);
    out(
      `  ${lossName}, ${adam ? `Adam lr ${lr}` : `SGD lr ${lr} momentum ${opts.momentum}`}${weightDecay ? ` weight decay ${weightDecay}` : ''}` +
        `${scheduleName === 'plateau' ? ` (lr × ${PLATEAU_FACTOR} after ${plural(PLATEAU_EPOCHS, 'epoch')} without progress)` : ''}, batch ${opts.batchSize}, ` +
        (patience > 0
          ? `up to ${plural(epochs, 'epoch')}, early stopping patience ${patience} on validation loss`
          : `${plural(epochs, 'epoch')}, no early stopping`) +
        (swaEpochs > 0 ? `, weights averaged over the last ${plural(swaEpochs, 'epoch')}` : '') +
        (retrain ? ', then retrained on all the training data' : '') +
        `, ${getBackend()} backend (${plural(getThreads(), 'thread')}), seed ${opts.seed}`,
    );
  }

  const tty = drawsInPlace(process.stdout) && !opts.quiet;
  const bar = tty ? new TerminalProgress({ unit: 'samples', rate: true }) : null;

  /**
   * One training run of `model` on `trainDs`: with `valDs`, the schedule and early stopping watch
   * it; with `lrs`, epoch e runs at lrs[e - 1] (a retraining replays the first run's rates). Each
   * epoch leaves fit's checkpoint (and the weight average) in the resume folder; with --resume,
   * the stage goes on from its checkpoint there. Returns fit's history, the rate of each epoch,
   * the logger that drew the curves and the optimiser's settings.
   */
  const stage = async (index: Stage, model: typeof net, trainDs: Dataset, valDs: Dataset | null, stageEpochs: number, lrs?: number[]) => {
    const optimizer = makeOptimizer();
    // Fit sets each epoch's rate: the plateau schedule watching the validation loss, or the first run's rates replayed.
    const scheduler = lrs
      ? new ReplayedRates(optimizer, lrs)
      : valDs && scheduleName === 'plateau'
        ? plateauScheduler(optimizer)
        : undefined;
    const logger = new Logger({ verbose: opts.quiet ? 0 : 1, write: out });
    const average = swaEpochs > 0 ? new WeightAverage(model.parameters()) : null;
    const averageFrom = stageEpochs - swaEpochs + 1;
    const checkpoint = resume.checkpoint(index);
    let resumedAfter: number | undefined;
    if (opts.resume) {
      try {
        resumedAfter = resume.checkpointEpoch(index);
        if (average && resumedAfter !== undefined && resumedAfter >= averageFrom) resume.readAverage(index, resumedAfter, average);
      } catch (e) {
        throw resumeRefused(e);
      }
    }
    const n = trainDs.labels.length;
    let lossSum = 0;
    let seen = 0;
    const onEpochEnd = (r: EpochRecord): void => {
      if (average && r.epoch >= averageFrom) {
        average.update();
        resume.writeAverage(index, r.epoch, average);
      }
    };
    try {
      const history = await fit(
        model,
        loss,
        optimizer,
        { x: trainDs.x, y: targets(trainDs, oneHot) },
        {
          batchSize: opts.batchSize,
          epochs: stageEpochs,
          validation: valDs ? { x: valDs.x, y: targets(valDs, oneHot) } : undefined,
          earlyStopping: valDs && patience > 0 ? { patience, monitor: 'valLoss', restoreBest: true } : undefined,
          scheduler,
          logger,
          onEpochEnd,
          checkpoint: { path: checkpoint },
          resumeFrom: resumedAfter !== undefined ? checkpoint : undefined,
          onBatchEnd: bar
            ? (info) => {
                const done = Math.min(n, info.batch * opts.batchSize);
                if (info.batch === 1) {
                  lossSum = 0;
                  seen = 0;
                  bar.start(n, 0, info.epoch, stageEpochs);
                }
                const size = done - seen;
                lossSum += info.loss * size;
                seen = done;
                bar.update(done, lossSum / done);
                if (info.batch === info.batches) bar.stop();
              }
            : undefined,
        },
      );
      if (average && average.count > 0) {
        average.apply();
        // Batch norm's running estimates were measured with the last weights: measured again for the average.
        updateBatchNorm(model, trainDs.x);
      }
      // The epoch's rate, as fit set it before the epoch (before the plateau schedule lowers it for the next).
      const rates = history.epochs.map((r) => r.lr as number);
      return { history, lrs: rates, logger, optimizer: optimizer.toJSON() };
    } catch (e) {
      if (e instanceof CheckpointError) throw resumeRefused(e);
      // A state that could not be written: the epoch before's is whole (atomic writes), and the
      // run can go on from there.
      if (e instanceof Error && /cannot write /.test(e.message) && e.message.includes(resume.dir) && resume.trained())
        e.message += `; once it can be written, the same command with --resume continues after the last epoch kept`;
      throw e;
    } finally {
      bar?.stop();
    }
  };

  const evalWith = (model: typeof net, ds: Dataset) => evaluate(model, loss, ds.x, targets(ds, oneHot));
  let first: Awaited<ReturnType<typeof stage>>;
  let final = net;
  let finalTrainSet = trainSet;
  let retrainedEpochs: number | undefined;
  let valEval: ReturnType<typeof evalWith>;
  if (!opts.resume) resume.start(resultFlags(opts), engineName());
  if (enginesSoFar) resume.setEngine(enginesSoFar);
  if (engineNote) process.stderr.write(`${engineNote}\n`);
  // Ctrl-C, a kill or an exit (stdout gone) after an epoch: the state stays for --resume, which a
  // signal's line says. Before the first, there is nothing to continue: the folder goes, and with
  // it an --out the run made.
  /** Removes the state when no epoch has finished; says whether it did. */
  const abandoned = (): boolean => {
    if (resume.trained()) return false;
    resume.remove();
    return true;
  };
  const stopNote = onFatalSignal(() => {
    if (abandoned()) return;
    bar?.stop(); // the line must not land on the bar's, whose line wrapping is off
    process.stderr.write(`neurone: stopped; the same command with --resume continues after the last finished epoch (${resume.dir})\n`);
  });
  const onExit = (): void => void abandoned();
  process.prependListener('exit', onExit);
  try {
    // A stage that had finished resumes from its last checkpoint, with nothing left to train.
    first = await stage(1, net, trainSet, valSet, epochs);
    valEval = evalWith(net, valSet);
    if (retrain) {
      // A fresh network on all the training data (the validation split included) for the epochs
      // the first run chose, at the rates it used: what the headline measured on USPS_test.
      retrainedEpochs = first.history.bestEpoch ?? first.history.epochs.length;
      finalTrainSet = view(fullTrain);
      if (!opts.quiet) {
        out(
          `retraining a fresh network on all ${finalTrainSet.labels.length} training examples for ${plural(retrainedEpochs, 'epoch')} (validation split included)`,
        );
      }
      // Another stream than the first training's, for any --seed up to MAX_SEED.
      seedGlobal((opts.seed + 10000) % (MAX_SEED + 1));
      final = buildModel(description);
      await stage(2, final, finalTrainSet, null, retrainedEpochs, first.lrs.slice(0, retrainedEpochs));
    }
  } catch (e) {
    if (e instanceof NonFiniteError) {
      // A resume would diverge the same way.
      resume.remove();
      process.stderr.write(`neurone: ${divergedLine(e, lr, adam, opts.batchSize)}\n`);
      return 1;
    }
    throw e;
  } finally {
    stopNote();
    process.removeListener('exit', onExit);
    // A run that failed before its first epoch ended leaves nothing to continue.
    abandoned();
  }
  const history = first.history;
  const optimizer = first.optimizer;
  const logger = first.logger;
  const trainEval = evalWith(final, finalTrainSet);
  const testEval = evalWith(final, testSet);
  const seconds = (performance.now() - t0) / 1000;
  const epochsRun = history.epochs.length;

  // The model first: it is what the run cost, and a full disk while writing the figures must not
  // take it with them. A save that fails here (the target was checked before training) is a
  // failure of the run, exit code 1.
  let savedTo = opts.save;
  let raced: string | undefined;
  if (opts.save !== undefined) {
    // Checked before training too; a file there now was saved meanwhile, by another run (whose
    // --out lock is not this one's): not replaced without --force, as it would not have been
    // then, even when it appears while this model is being written (the save's overwrite: false).
    // This run's model goes beside it, and the run ends with exit code 1 saying where.
    const saveTo = (target: string): void =>
      save(final, target, { inputShape: finalTrainSet.x.shape.slice(1), overwrite: opts.force === true }); // the sample shape, for export
    let target = opts.save;
    try {
      try {
        saveTo(target);
      } catch (e) {
        if ((e as NodeJS.ErrnoException).code !== 'EEXIST') throw e;
        target = besideFile(opts.save);
        savedTo = target;
        raced = `--save: ${opts.save} was created while this run trained (by another run?); not replaced: this run's model is in ${savedTo}`;
        saveTo(target);
      }
    } catch (e) {
      const msg = firstLine((e as Error).message);
      process.stderr.write(
        `neurone: cannot save the model${msg.includes(target) ? '' : ` to ${target}`}: ${msg}; ` +
          `the same command with --resume saves it without training again (${resume.dir})\n`,
      );
      return 1;
    }
  }
  // Trained and saved: nothing left to continue.
  resume.remove();

  const { curves, confusion, metrics: metricsFile } = outFiles;
  const metrics = {
    dataset: opts.dataset,
    model: modelName,
    description,
    optimizer,
    batchSize: opts.batchSize,
    seed: opts.seed,
    backend: getBackend(),
    recipe: recipe.name,
    epochs: epochsRun,
    bestEpoch: history.bestEpoch,
    stoppedEarly: history.stoppedEarly,
    averagedEpochs: swaEpochs,
    retrainedEpochs,
    trainAccuracy: trainEval.accuracy,
    validationAccuracy: valEval.accuracy,
    testAccuracy: testEval.accuracy,
    testConfusion: testEval.confusion,
    seconds,
    history: history.epochs as EpochRecord[],
  };
  // Each output is tried even when one fails (the metrics matter more than a picture); failures
  // are reported after the summary and make the exit code 1.
  const failed: string[] = [];
  const written = new Set<string>();
  const tryWrite = (file: string, content: () => string): void => {
    try {
      writeFigure(file, content());
      written.add(file);
    } catch (e) {
      failed.push(firstLine((e as Error).message));
    }
  };
  tryWrite(curves, () => logger.svg());
  tryWrite(confusion, () =>
    confusionMatrixSvg(testEval.confusion ?? [], { title: `${modelName} on ${opts.dataset} test`, classNames: test.classNames }),
  );
  tryWrite(metricsFile, () => `${JSON.stringify(metrics, null, 2)}\n`);

  const kept =
    swaEpochs > 0
      ? `weights averaged over epochs ${epochsRun - swaEpochs + 1}–${epochsRun}`
      : `weights of epoch ${history.bestEpoch ?? epochsRun} kept`;
  out(`done: ${plural(epochsRun, 'epoch')}${history.stoppedEarly ? ' (early stopping)' : ''}, ${kept}`);
  if (retrainedEpochs !== undefined) out(`  then a fresh network trained on all the training data for ${plural(retrainedEpochs, 'epoch')}`);
  const trainWhat = retrainedEpochs !== undefined ? 'all training data' : 'training split';
  out(`  train accuracy       ${percent(trainEval.accuracy)}  (loss ${formatLoss(trainEval.loss)}, ${trainWhat})`);
  out(
    `  validation accuracy  ${percent(valEval.accuracy)}  (loss ${formatLoss(valEval.loss)}${retrainedEpochs !== undefined ? ', first network' : ''})`,
  );
  out(
    `  test accuracy        ${percent(testEval.accuracy)}  (loss ${formatLoss(testEval.loss)}, ${plural(testSet.labels.length, 'example')} never used in training)`,
  );
  out(`  ${recipeText()}`);
  if (recipe.name !== 'headline' && opts.dataset === 'usps')
    out("  the README's headline (95.02 % over 10 seeds): neurone train --recipe headline");
  out(`  wall time            ${seconds.toFixed(1)} s`);
  if (written.has(curves)) out(`  curves               ${curves}`);
  if (written.has(confusion)) out(`  confusion matrix     ${confusion}`);
  if (written.has(metricsFile)) out(`  metrics              ${metricsFile}`);
  if (savedTo !== undefined) out(`  model                ${savedTo}`);
  for (const f of failed) {
    process.stderr.write(`neurone: ${f}${savedTo ? ` (the model is saved in ${savedTo})` : ''}\n`);
  }
  if (raced) process.stderr.write(`neurone: ${raced}\n`);
  return failed.length > 0 || raced ? 1 : 0;
}

/**
 * A name beside `file` that nothing holds: `model.<pid>-<random>.safetensors` (containers share
 * small pids, so the pid alone could name another run's).
 */
function besideFile(file: string): string {
  const ext = path.extname(file);
  const stem = file.slice(0, file.length - ext.length);
  for (;;) {
    const name = `${stem}.${process.pid}-${crypto.randomBytes(3).toString('hex')}${ext}`;
    if (!fs.existsSync(name)) return name;
  }
}

/** A stopped run's state that cannot be continued: the reason, and the way out. */
function resumeRefused(reason: unknown): UsageError {
  return new UsageError(`--resume: ${firstLine(reason)}; start over with --force, without --resume`);
}

/** Flags that do not change what a run computes: a resumed run may give others. */
const NOT_RESULT_FLAGS: ReadonlySet<string> = new Set<keyof TrainOptions>([
  'backend',
  'threads',
  'out',
  'force',
  'save',
  'quiet',
  'resume',
  'dataDir',
]);

/**
 * The settings of a run that decide its result: its flags, with the recipe's values where none
 * was given (`--patience 5` is the quick recipe's patience; the recipe's name itself is not
 * compared) and a model file by its full path.
 */
function resultFlags(opts: TrainOptions): Record<string, unknown> {
  const plan = trainingPlan(opts);
  const model = opts.model === undefined || findPreset(opts.model) ? opts.model : path.resolve(opts.model);
  const { epochs, lr, weightDecay, schedule, patience, swa, retrain } = plan;
  const settings: Record<string, unknown> = { ...opts, model, epochs, lr, weightDecay, schedule, patience, swa, retrain };
  if (opts.optimizer !== 'sgd') delete settings.momentum;
  return Object.fromEntries(
    Object.entries(settings).filter(([key, value]) => !NOT_RESULT_FLAGS.has(key) && key !== 'recipe' && value !== undefined),
  );
}

/** What the kernels run on, as a note names it: `native avx512, 2 threads`, `js`. */
function engineName(): string {
  if (getBackend() === 'js') return 'js';
  return `native ${kernelPath()}, ${plural(getThreads(), 'thread')}`;
}

/** The first flag given differently in `now` than in `then`, each as written on a command line. */
function changedFlag(then: Record<string, unknown>, now: Record<string, unknown>): { then: string; now: string } | undefined {
  for (const key of new Set([...Object.keys(then), ...Object.keys(now)])) {
    if (JSON.stringify(then[key]) === JSON.stringify(now[key])) continue;
    const name = Object.keys(FLAGS).find((f) => FLAGS[f].key === key) ?? key;
    const written = (value: unknown): string =>
      value === undefined || value === false ? `no ${name}` : FLAGS[name]?.kind === 'flag' ? name : `${name} ${String(value)}`;
    return { then: written(then[key]), now: written(now[key]) };
  }
  return undefined;
}

/** Extensions of other frameworks' model files, which --save would fill with safetensors. */
const OTHER_MODEL_FORMATS: Record<string, string> = {
  '.onnx': 'an ONNX',
  '.pt': 'a PyTorch',
  '.pth': 'a PyTorch',
  '.pb': 'a TensorFlow',
  '.h5': 'a Keras',
  '.keras': 'a Keras',
  '.tflite': 'a TensorFlow Lite',
};

/**
 * Checks `--save FILE` before training: its folder exists and takes new files, and FILE is not a
 * folder, nor a device or pipe (saving replaces the file), nor one of the files the run writes in
 * --out, nor a file that exists (unless `force`: as --out's files), nor named for another
 * framework's format (--save writes safetensors whatever the name).
 */
function checkSaveTarget(
  file: string,
  outFiles: readonly string[],
  inputs: readonly string[],
  dataDir: string | undefined,
  force: boolean,
): void {
  // path.resolve drops a trailing slash or `/.`: `--save new/` would write a file named `new`.
  const last = file.split(process.platform === 'win32' ? /[\\/]/ : '/').pop();
  if (last === '' || last === '.' || last === '..')
    throw new UsageError(`--save: ${file} names a folder; expected a file name (e.g. ${path.join(file, 'model.safetensors')})`);
  const target = path.resolve(file);
  const ext = path.extname(file).toLowerCase();
  const other = OTHER_MODEL_FORMATS[ext];
  if (other !== undefined)
    throw new UsageError(
      `--save: ${file} names ${other} file, but --save writes neurone's safetensors (name it .safetensors); ` +
        `${ext === '.onnx' ? '`neurone export MODEL --onnx FILE`' : '`neurone export MODEL --torch FILE`'} converts a saved model`,
    );
  const dir = path.dirname(target);
  let dirStat: fs.Stats;
  try {
    dirStat = fs.statSync(dir);
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    throw new UsageError(`--save: folder ${dir} ${code === 'ENOENT' ? 'does not exist' : `cannot be read (${code})`}`);
  }
  if (!dirStat.isDirectory()) throw new UsageError(`--save: ${dir} is not a folder`);
  let st: fs.Stats | undefined;
  try {
    st = fs.statSync(target);
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    if (code !== 'ENOENT') throw new UsageError(`--save: cannot inspect ${file} (${code})`);
  }
  if (st?.isDirectory())
    throw new UsageError(`--save: ${file} is a folder; expected a file name, e.g. ${path.join(file, 'model.safetensors')}`);
  if (st && !st.isFile()) throw new UsageError(`--save: ${file} exists and is not a regular file (a device, pipe or socket)`);
  if (outFiles.some((f) => path.resolve(f) === target)) throw new UsageError(`--save: ${file} is one of the files the run writes in --out`);
  // Through links too: the file a link names is what a save would have replaced before.
  const input = inputs.find((f) => realPath(f) === realPath(target));
  if (input !== undefined) throw new UsageError(`--save: ${file} is the --model file ${input}; saving would overwrite the input`);
  if (dataDir !== undefined) {
    const from = path.relative(realPath(dataDir), realPath(target));
    if (!from.startsWith('..') && !path.isAbsolute(from))
      throw new UsageError(`--save: ${file} is inside --data-dir ${dataDir}, the data the run reads; save it elsewhere`);
  }
  if (st && !force) throw new UsageError(`--save: ${file} already exists; pass --force to replace it, or another file name`);
  try {
    probeWritable(dir);
  } catch (e) {
    throw new UsageError(`--save: ${firstLine((e as Error).message)}`);
  }
}

/**
 * Refuses, before training, a --save whose file system has not the room for the model: the
 * folder's writability was probed with an empty file, which a full disk still takes, and a
 * save that fails after the training loses it. The model's size is its values (4 bytes each),
 * those of the lazily sized layers for `sampleShape` included (not drawn yet), and a header,
 * counted with room to spare.
 */
function checkSaveSpace(file: string, net: ReturnType<typeof buildModel>, sampleShape: readonly number[]): void {
  if (typeof fs.statfsSync !== 'function') return; // Node before 18.15: the save itself says ENOSPC
  const sized = [...net.parameters(), ...net.buffers()].reduce((n, p) => n + p.value.data.length, 0);
  const values = sized + followShapes(net, sampleShape).lazyParameters;
  const needed = 4 * values + 2 ** 20;
  let free: number;
  try {
    const s = fs.statfsSync(path.dirname(path.resolve(file)));
    free = s.bavail * s.bsize;
  } catch {
    return; // a file system that does not say: the save will
  }
  if (free < needed)
    throw new UsageError(
      `--save: the file system of ${path.dirname(path.resolve(file))} has ${formatBytes(free)} free, and the model takes about ${formatBytes(needed)}; free some space or save elsewhere`,
    );
}

function formatBytes(n: number): string {
  return n >= 2 ** 20 ? `${(n / 2 ** 20).toFixed(1)} MiB` : `${Math.ceil(n / 1024)} KiB`;
}

/**
 * What the command does on its way out, installed only when run as a program (not when imported):
 * - (the progress bar, lib/progress.ts, gives the terminal back on exit and on SIGINT / SIGTERM
 *   while it draws, then lets the signal end the process: the shell reports 130 / 143);
 * - EPIPE on stdout or stderr (`neurone train | head -1`): the reader is gone, so exit at once and
 *   quietly with 141 (128 + SIGPIPE, what a shell reports for a writer the pipe closed on); other
 *   errors on stdout get one line on stderr and exit 1, never a stack trace.
 */
function installProcessGuards(): void {
  const onStreamError =
    (which: 'stdout' | 'stderr') =>
    (e: NodeJS.ErrnoException): void => {
      if (e.code !== 'EPIPE' && which === 'stdout') {
        try {
          fs.writeSync(2, `neurone: cannot write to standard output (${e.code ?? e.message})\n`);
        } catch {
          // stderr is gone too
        }
        process.exit(1);
      }
      process.exit(e.code === 'EPIPE' ? 141 : 1);
    };
  process.stdout.on('error', onStreamError('stdout'));
  process.stderr.on('error', onStreamError('stderr'));
}

/**
 * Refuses to run in a folder that was removed (the shell still stands in it): every relative path
 * would fail later with the system's "ENOENT: uv_cwd" and exit 1.
 */
function checkWorkingFolder(): void {
  try {
    process.cwd();
  } catch (e) {
    throw new UsageError(
      `the current folder no longer exists (${(e as NodeJS.ErrnoException).code ?? firstLine(e)}); cd to another folder and run the command again`,
    );
  }
}

/** Runs the command line `argv` (without node and the script); returns the exit code. */
export async function main(argv: readonly string[]): Promise<number> {
  try {
    const [command, ...rest] = argv;
    if (command === undefined || command === '--help' || command === '-h' || command === 'help') {
      process.stdout.write(`${usage()}\n`);
      return 0;
    }
    if (command === 'presets') {
      for (const p of PRESETS) process.stdout.write(`${p.name.padEnd(16)}${p.summary}\n`);
      return 0;
    }
    if (command === '--version' || command === '-V' || command === '-v' || command === 'version') {
      process.stdout.write(`neurone ${version()}\n`);
      return 0;
    }
    // A command's --help needs no folder.
    if (!rest.includes('--help') && !rest.includes('-h')) checkWorkingFolder();
    if (command === 'sweep') return await sweepCommand(rest);
    if (command === 'worker') return await workerCommand(rest);
    if (command === 'style') return await styleCommand(rest);
    const modelCommand = Object.prototype.hasOwnProperty.call(MODEL_COMMANDS, command) ? MODEL_COMMANDS[command] : undefined;
    if (modelCommand) return await modelCommand(rest);
    if (command.startsWith('-')) {
      // The top level takes --help and --version; a training option goes after `train`.
      const trainFlag = Object.prototype.hasOwnProperty.call(FLAGS, ALIASES[command.split('=')[0]] ?? command.split('=')[0]);
      throw new UsageError(
        trainFlag
          ? `${command} is an option of train: neurone train ${argv.join(' ')}`
          : `unknown option '${command}'${didYouMean(command, ['--help', '--version'])} (see neurone --help)`,
      );
    }
    if (command !== 'train') {
      throw new UsageError(unknownCommand(command, ['train', 'presets', 'sweep', 'worker', 'style', ...Object.keys(MODEL_COMMANDS)]));
    }
    const opts = parseTrainArgs(rest);
    if (!opts) {
      process.stdout.write(`${usage()}\n`);
      return 0;
    }
    return await train(opts);
  } catch (e) {
    const msg = e instanceof Error ? e.message : String(e);
    // Library errors may already name the program ("neurone: NEURONE_BACKEND must be…"): one prefix.
    process.stderr.write(`neurone: ${msg.replace(/^(neurone:\s*)+/, '')}\n`);
    return e instanceof UsageError ? 2 : 1;
  }
}

if (require.main === module) {
  installProcessGuards();
  main(process.argv.slice(2)).then((code) => {
    process.exitCode = code;
  });
}
