/**
 * Sweep specifications: a base training configuration, the axes to vary and the seeds, checked
 * strictly before anything runs, and expanded into the list of runs.
 *
 * ```json
 * {
 *   "name": "usps-lr",
 *   "base": { "dataset": "usps", "model": "seed-cnn", "epochs": 20 },
 *   "axes": { "lr": [1e-4, 5e-4, 1e-3], "optimizer": ["sgd", "adam"] },
 *   "seeds": 10
 * }
 * ```
 *
 * Axes form a grid (every combination); `seeds` is a count (seeds 0..n-1) or a list.
 */
import { MAX_SEED } from '../random';
import * as crypto from 'crypto';
import { describe } from '../tensor';
import { ModelError, buildModel, findPreset, PRESETS } from '../cli/presets';
import { Sequential } from '../nn/module';
import { unknownKeyMessage } from '../cli/command';
import { DATASETS } from '../cli/datasets';

/** Datasets a sweep can name, those of `neurone train`; each worker loads them itself (the real ones from `dataDir`). */
export const SWEEP_DATASETS = DATASETS;
/** A dataset a sweep can name. */
export type SweepDataset = (typeof SWEEP_DATASETS)[number];

/** One training: everything `neurone train` takes that changes the result, plus its seed. */
export interface RunConfig {
  /** Data to train on (default usps). */
  dataset: SweepDataset;
  /** A preset name (`neurone presets`) or a model description `{ "name"?: ..., "layers": [...] }` (default: as `neurone train`). */
  model?: string | { name?: string; layers: unknown[] };
  /** sgd or adam (default sgd). */
  optimizer: 'sgd' | 'adam';
  /** Learning rate; gradients are summed over the batch (default 5e-4 for sgd, 1e-3 for adam). */
  lr?: number;
  /** SGD momentum in [0, 1) (default 0.9); absent from Adam's runs, which have none. */
  momentum?: number;
  /** L2 penalty added to the summed gradient (default 1e-2 for sgd, 0 for adam). */
  weightDecay?: number;
  /** `plateau` divides the learning rate by ~3 when the validation loss stalls 2 epochs; `none` (default plateau). */
  schedule: 'plateau' | 'none';
  /** Maximum epochs (default 20). */
  epochs: number;
  /** Samples per step (default 32). */
  batchSize: number;
  /** Early-stopping patience in epochs on the validation loss; 0 turns early stopping off (default 5). */
  patience: number;
  /** Share of the training set held out for validation, stratified (default 0.15). */
  valFraction: number;
  /** Train on a random subset of this many examples (before the validation split). */
  trainSize?: number;
  /** Evaluate on the first this many test examples only (tiny sweeps, tests). */
  testSize?: number;
  /** Seed of the synthetic datasets, the same for every run so that all runs see the same data (default 0). */
  dataSeed: number;
  /** Seed of initialisation, split and shuffling. */
  seed: number;
}

/** A sweep as written in its JSON file. */
export interface SweepSpec {
  /** A name for the sweep (letters, digits, `-`, `_`, `.`). */
  name?: string;
  /** What the sweep is for, where its numbers are reported (free text, kept in `sweep.json`). */
  description?: string;
  /** What every run shares; keys as in {@link RunConfig} (without `seed`). */
  base?: Partial<Omit<RunConfig, 'seed'>>;
  /** The values to vary: a key of {@link RunConfig} (not `seed`) → a non-empty list; every combination is run. */
  axes?: Partial<Record<Exclude<keyof RunConfig, 'seed'>, unknown[]>>;
  /** Seeds per configuration: a count n (seeds 0..n-1) or an explicit list (default 1). */
  seeds?: number | number[];
}

/** One run of a sweep: its id, the configuration it belongs to, and its full settings. */
export interface SweepRun {
  /** Unique in the sweep and safe as a folder name: `lr=0.001,batchSize=16,seed=3`. */
  id: string;
  /** The configuration (the axis values, without the seed): runs differing only in seed share it. */
  configKey: string;
  /** The axis values of this run (without the seed). */
  axes: Record<string, unknown>;
  config: RunConfig;
}

/** A spec that cannot be run: the message is one line naming the key and what was expected. */
export class SpecError extends Error {
  /**
   * @param message One line naming the key at fault and what was expected.
   */
  constructor(message: string) {
    super(message);
    this.name = 'SpecError';
  }
}

/** The settings of a run that its spec leaves out (lr and weight decay: the optimiser's, see training.ts). */
export const RUN_DEFAULTS: Omit<RunConfig, 'seed'> = {
  dataset: 'usps',
  optimizer: 'sgd',
  momentum: 0.9,
  schedule: 'plateau',
  epochs: 20,
  batchSize: 32,
  patience: 5,
  valFraction: 0.15,
  dataSeed: 0,
};

/** Most runs one sweep expands to: far beyond any grid worth running, low enough to catch a runaway product. */
export const MAX_RUNS = 100000;

type Check = (v: unknown, where: string) => void;

const expect = (where: string, what: string, v: unknown): never => {
  throw new SpecError(`${where}: expected ${what}, got ${describe(v)}`);
};
const int =
  (min: number, max = Number.MAX_SAFE_INTEGER): Check =>
  (v, where) => {
    if (typeof v !== 'number' || !Number.isInteger(v) || v < min || v > max)
      expect(where, `an integer in [${min}, ${max === Number.MAX_SAFE_INTEGER ? '∞' : max}]`, v);
  };
const real =
  (what: string, ok: (x: number) => boolean): Check =>
  (v, where) => {
    // Values reach the kernels as float32: the check applies to the float32 value too.
    if (typeof v !== 'number' || !Number.isFinite(v) || !Number.isFinite(Math.fround(v)) || !ok(v) || !ok(Math.fround(v)))
      expect(where, what, v);
  };
const oneOf =
  (choices: readonly string[]): Check =>
  (v, where) => {
    if (typeof v !== 'string' || !choices.includes(v)) expect(where, `one of ${choices.map((c) => `"${c}"`).join(', ')}`, v);
  };

/** A model description's optional name: it labels the model in run ids and tables, so it must be a safe folder name. */
const MODEL_NAME = /^[A-Za-z0-9._+()-]{1,64}$/;

/** Checks a model value (a preset name, or a description, built); returns the parameter values a description declares. */
const checkModel = (v: unknown, where: string): number => {
  if (typeof v === 'string') {
    if (!findPreset(v)) throw new SpecError(`${where}: unknown model preset "${v}" (presets: ${PRESETS.map((p) => p.name).join(', ')})`);
    return 0;
  }
  if (v === null || typeof v !== 'object' || Array.isArray(v)) expect(where, 'a preset name or a model description { "layers": [...] }', v);
  const name = (v as { name?: unknown }).name;
  if (name !== undefined && (typeof name !== 'string' || !MODEL_NAME.test(name)))
    expect(
      where.endsWith('"') ? `${where.slice(0, -1)}.name"` : `${where}.name`,
      'a model name of 1-64 letters, digits and . _ - + ( )',
      name,
    );
  let model: Sequential;
  try {
    model = buildModel(v);
  } catch (e) {
    if (e instanceof ModelError) throw new SpecError(`${where}: ${e.message}`);
    throw e;
  }
  // Not parameterCount(), which refuses a lazily sized layer (its weights come with the data).
  return model.parameters().reduce((n, p) => n + p.value.data.length, 0);
};

/**
 * The most parameter values the model descriptions of one spec may declare together (2^26, four
 * models at the largest a description may hold, about 2 s to check): checking a description
 * builds it, weights drawn, so a spec of a few kilobytes listing a hundred large models cost
 * minutes before any refusal.
 */
export const MAX_SPEC_DESCRIBED_PARAMETERS = 2 ** 26;

/** The checks of every key a run configuration may hold. */
const KEYS: Record<Exclude<keyof RunConfig, 'seed'>, Check> = {
  dataset: oneOf(SWEEP_DATASETS),
  model: (v, where) => void checkModel(v, where),
  optimizer: oneOf(['sgd', 'adam']),
  lr: real('a number > 0', (x) => x > 0),
  momentum: real('a number in [0, 1)', (x) => x >= 0 && x < 1),
  weightDecay: real('a number >= 0', (x) => x >= 0),
  schedule: oneOf(['plateau', 'none']),
  epochs: int(1, 100000),
  batchSize: int(1, 2 ** 24),
  patience: int(0, 100000),
  valFraction: real('a number in (0, 1)', (x) => x > 0 && x < 1),
  trainSize: int(2),
  testSize: int(1),
  dataSeed: int(0, MAX_SEED),
};

const TOP_KEYS = ['name', 'description', 'base', 'axes', 'seeds'];

function plainObject(v: unknown, where: string): Record<string, unknown> {
  if (v === null || typeof v !== 'object' || Array.isArray(v)) expect(where, 'an object', v);
  return v as Record<string, unknown>;
}

/**
 * Throws for a key nobody reads; a misspelt one (`"epoch"`) gets the closest known key
 * (`did you mean epochs?`).
 */
function unknownKey(where: string, key: string, known: readonly string[]): never {
  throw new SpecError(`${where}: ${unknownKeyMessage(key, known)}`);
}

/**
 * Checks a parsed sweep spec and returns it typed; throws {@link SpecError} with one line naming
 * the first key at fault (unknown key, empty axis, wrong type or range, unknown preset).
 * @param input The spec as parsed from JSON.
 * @param where The name errors give the spec (default `sweep spec`; the command gives the file).
 * @param describedParameters The parameter values its model descriptions may declare together
 * (default `MAX_SPEC_DESCRIBED_PARAMETERS`, 2^26; the tests pass a smaller bound).
 */
export function validateSpec(input: unknown, where = 'sweep spec', describedParameters = MAX_SPEC_DESCRIBED_PARAMETERS): SweepSpec {
  const top = plainObject(input, where);
  for (const k of Object.keys(top)) if (!TOP_KEYS.includes(k)) unknownKey(where, k, TOP_KEYS);
  const name = top.name ?? 'sweep';
  if (typeof name !== 'string' || !/^[A-Za-z0-9._-]{1,64}$/.test(name))
    return expect(`${where}: "name"`, 'a string of 1-64 letters, digits, ".", "-" or "_"', name);
  if (top.description !== undefined && (typeof top.description !== 'string' || top.description.length > 4000))
    expect(`${where}: "description"`, 'a string of at most 4000 characters', top.description);
  const known = Object.keys(KEYS);
  const base = plainObject(top.base ?? {}, `${where}: "base"`);
  for (const k of Object.keys(base)) {
    if (k === 'seed' || k === 'seeds') throw new SpecError(`${where}: "base.${k}": seeds are given by the top-level "seeds" key`);
    if (!Object.prototype.hasOwnProperty.call(KEYS, k)) unknownKey(`${where}: "base"`, k, known);
  }
  const axes = plainObject(top.axes ?? {}, `${where}: "axes"`);
  // The run count first, from the lists' lengths alone: a spec that makes too many runs is refused
  // before any value is checked (a model description's check builds it).
  let runs = 1;
  for (const [k, values] of Object.entries(axes)) {
    if (k === 'seed' || k === 'seeds') throw new SpecError(`${where}: "axes.${k}": seeds are given by the top-level "seeds" key`);
    if (!Object.prototype.hasOwnProperty.call(KEYS, k)) unknownKey(`${where}: "axes"`, k, known);
    if (!Array.isArray(values) || values.length === 0) return expect(`${where}: "axes.${k}"`, 'a non-empty list of values', values);
    runs *= values.length;
  }
  const seeds = top.seeds ?? 1;
  let seedList: number[];
  if (typeof seeds === 'number') {
    int(1, 100000)(seeds, `${where}: "seeds"`);
    seedList = Array.from({ length: seeds }, (_, i) => i);
  } else if (Array.isArray(seeds) && seeds.length > 0) {
    if (seeds.length > MAX_RUNS)
      throw new SpecError(`${where}: "seeds": ${seeds.length} seeds make over ${MAX_RUNS} runs (at most ${MAX_RUNS})`);
    seeds.forEach((s, i) => int(0, MAX_SEED)(s, `${where}: "seeds[${i}]"`));
    if (new Set(seeds).size !== seeds.length) throw new SpecError(`${where}: "seeds": a seed appears twice`);
    seedList = seeds as number[];
  } else {
    return expect(`${where}: "seeds"`, 'a count >= 1 or a non-empty list of seeds', seeds);
  }
  runs *= seedList.length;
  if (runs > MAX_RUNS) throw new SpecError(`${where}: the axes and seeds make ${runs} runs (at most ${MAX_RUNS})`);
  // Then each value; the model descriptions within one budget of parameters.
  let described = 0;
  const check = (k: string, v: unknown, at: string): void => {
    if (k !== 'model') return KEYS[k as keyof typeof KEYS](v, at);
    described += checkModel(v, at);
    if (described > describedParameters)
      throw new SpecError(
        `${at}: the spec's model descriptions declare over ${describedParameters.toLocaleString('en-US')} parameter values together, ` +
          'the most one spec may hold; split the sweep',
      );
  };
  for (const [k, v] of Object.entries(base)) check(k, v, `${where}: "base.${k}"`);
  for (const [k, values] of Object.entries(axes) as [string, unknown[]][]) {
    // Labels name the runs' folders: two that differ only in case would be one folder on macOS
    // and Windows, where two workers would then write each other's records.
    const seen = new Map<string, string>();
    values.forEach((v, i) => {
      check(k, v, `${where}: "axes.${k}[${i}]"`);
      const label = valueLabel(v);
      const earlier = seen.get(label.toLowerCase());
      if (earlier === label) throw new SpecError(`${where}: "axes.${k}[${i}]": value ${label} appears twice`);
      if (earlier !== undefined)
        throw new SpecError(
          `${where}: "axes.${k}[${i}]": value ${label} differs from ${earlier} only in case; the runs' folders would be one on macOS and Windows`,
        );
      seen.set(label.toLowerCase(), label);
    });
  }
  // As `neurone train --optimizer adam --momentum` is refused: Adam has no momentum to set.
  const optimizers = (axes.optimizer ?? [base.optimizer ?? RUN_DEFAULTS.optimizer]) as string[];
  if (axes.momentum !== undefined && optimizers.some((o) => o !== 'sgd'))
    throw new SpecError(`${where}: "axes.momentum" applies to sgd only, and some runs use ${optimizers.find((o) => o !== 'sgd')}`);
  if (base.momentum !== undefined && !optimizers.includes('sgd'))
    throw new SpecError(`${where}: "base.momentum" applies to sgd only, and every run uses ${optimizers[0]}`);
  return {
    name,
    ...(top.description !== undefined ? { description: top.description as string } : {}),
    base: base as SweepSpec['base'],
    axes: axes as SweepSpec['axes'],
    seeds: seeds as number | number[],
  };
}

/** A short, stable text for an axis value: numbers and strings as they are, model descriptions by their name or a hash. */
export function valueLabel(v: unknown): string {
  if (typeof v === 'string' || typeof v === 'number') return String(v);
  const name = (v as { name?: unknown }).name;
  if (typeof name === 'string') return name;
  return `model-${crypto.createHash('sha256').update(JSON.stringify(v)).digest('hex').slice(0, 8)}`;
}

/** The seeds of a spec, as a list. */
export function seedsOf(spec: SweepSpec): number[] {
  const seeds = spec.seeds ?? 1;
  return typeof seeds === 'number' ? Array.from({ length: seeds }, (_, i) => i) : seeds;
}

/** The longest run id, in UTF-8 bytes: it names the run's folder (`out/<id>/`), and a file name holds at most 255 bytes. */
export const MAX_RUN_ID_BYTES = 255;

/**
 * Refuses a run id longer than `max` bytes, naming the run (cut short) and `why` that bound.
 * @internal
 */
export function checkRunIdLength(id: string, max: number, why: string): void {
  const bytes = Buffer.byteLength(id);
  if (bytes <= max) return;
  const chars = Array.from(id); // by code points: a cut must not split a surrogate pair
  throw new SpecError(
    `run ${JSON.stringify(chars.length > 80 ? `${chars.slice(0, 80).join('')}…` : id)}: its id is ${bytes} bytes, over ${max}: ` +
      `${why}; give model descriptions a short "name", or shorten the axis values`,
  );
}

/**
 * Every run of a spec, configuration by configuration (the axes' grid in the order written, the
 * last axis varying fastest), each configuration's seeds in order.
 * @param spec A spec checked by {@link validateSpec}.
 */
export function expandSpec(spec: SweepSpec): SweepRun[] {
  const axes = Object.entries(spec.axes ?? {}) as [keyof RunConfig, unknown[]][];
  let combos: Record<string, unknown>[] = [{}];
  for (const [key, values] of axes) combos = combos.flatMap((c) => values.map((v) => ({ ...c, [key]: v })));
  const runs: SweepRun[] = [];
  for (const combo of combos) {
    const configKey = Object.entries(combo)
      .map(([k, v]) => `${k}=${valueLabel(v)}`)
      .join(',');
    for (const seed of seedsOf(spec)) {
      const config = { ...RUN_DEFAULTS, ...spec.base, ...combo, seed } as RunConfig;
      if (config.optimizer !== 'sgd') delete config.momentum;
      const id = configKey ? `${configKey},seed=${seed}` : `seed=${seed}`;
      checkRunIdLength(id, MAX_RUN_ID_BYTES, "it names the run's folder, and a file name holds at most 255 bytes");
      runs.push({ id, configKey: configKey || 'base', axes: combo, config });
    }
  }
  return runs;
}

/** A short hash of the spec's runs: two specs with the same runs share it (the queue's job ids and --resume use it). */
export function specHash(spec: SweepSpec): string {
  const runs = expandSpec(spec).map((r) => [r.id, r.config]);
  return crypto.createHash('sha256').update(JSON.stringify(runs)).digest('hex').slice(0, 12);
}

/** Checks one run's configuration as it arrives in a worker (from a queue, from another machine). */
export function validateRunConfig(input: unknown, where = 'run'): RunConfig {
  const c = plainObject(input, where);
  for (const [k, v] of Object.entries(c)) {
    if (k === 'seed') {
      int(0, MAX_SEED)(v, `${where}: "seed"`);
      continue;
    }
    if (!Object.prototype.hasOwnProperty.call(KEYS, k)) unknownKey(where, k, [...Object.keys(KEYS), 'seed']);
    if (v !== undefined) KEYS[k as keyof typeof KEYS](v, `${where}: "${k}"`);
  }
  for (const k of ['dataset', 'optimizer', 'schedule', 'epochs', 'batchSize', 'patience', 'valFraction', 'dataSeed', 'seed'])
    if (c[k] === undefined) throw new SpecError(`${where}: "${k}" is missing`);
  if (c.optimizer === 'sgd' && c.momentum === undefined) throw new SpecError(`${where}: "momentum" is missing`);
  if (c.optimizer !== 'sgd' && c.momentum !== undefined)
    throw new SpecError(`${where}: "momentum" applies to sgd only, and this run uses ${String(c.optimizer)}`);
  return c as unknown as RunConfig;
}
