/**
 * The `train` command's options: the flags, their help lines, their parsing and checks, and
 * which of them decide what a run computes (what `--resume` compares). The run itself is in
 * train.ts.
 */
import * as path from 'path';
import { FLOAT32_MAX } from '../tensor';
import { MAX_SEED } from '../random';
import { BackendName } from '../backend';
import { MAX_THREADS } from '../backend/types';
import { Recipe, RECIPES, ADAM_DEFAULTS, PLATEAU, PlanError, trainingPlan } from './recipes';
import { findPreset } from './presets';
import { didYouMean } from './commands';
import { decimalNumber, isDecimalInteger } from './command';
import { DATASETS, DatasetName } from './datasets';
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
/** A flag of `neurone train`: the option it sets, its kind and bounds, its help line. @internal */
export interface Flag {
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

/** The flags of `neurone train`, by name. @internal */
export const FLAGS: Record<string, Flag> = {
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

/** train's options for the help text, one line each. */
export function trainOptionLines(): string[] {
  return Object.entries(FLAGS).map(([name, f]) => `${`  ${name}${f.arg ? ` ${f.arg}` : ''}`.padEnd(28)}${f.help}`);
}

/** Whether `arg` (`--epochs`, `--epochs=3`, `-q`) is one of train's options. */
export function isTrainOption(arg: string): boolean {
  const name = arg.split('=')[0];
  return Object.prototype.hasOwnProperty.call(FLAGS, ALIASES[name] ?? name);
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
export function resultFlags(opts: TrainOptions): Record<string, unknown> {
  const plan = trainingPlan(opts);
  const model = opts.model === undefined || findPreset(opts.model) ? opts.model : path.resolve(opts.model);
  const { epochs, lr, weightDecay, schedule, patience, swa, retrain } = plan;
  const settings: Record<string, unknown> = { ...opts, model, epochs, lr, weightDecay, schedule, patience, swa, retrain };
  if (opts.optimizer !== 'sgd') delete settings.momentum;
  return Object.fromEntries(
    Object.entries(settings).filter(([key, value]) => !NOT_RESULT_FLAGS.has(key) && key !== 'recipe' && value !== undefined),
  );
}

/** The first flag given differently in `now` than in `then`, each as written on a command line. */
export function changedFlag(then: Record<string, unknown>, now: Record<string, unknown>): { then: string; now: string } | undefined {
  for (const key of new Set([...Object.keys(then), ...Object.keys(now)])) {
    if (JSON.stringify(then[key]) === JSON.stringify(now[key])) continue;
    const name = Object.keys(FLAGS).find((f) => FLAGS[f].key === key) ?? key;
    const written = (value: unknown): string =>
      value === undefined || value === false ? `no ${name}` : FLAGS[name]?.kind === 'flag' ? name : `${name} ${String(value)}`;
    return { then: written(then[key]), now: written(now[key]) };
  }
  return undefined;
}
