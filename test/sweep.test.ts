// Sweeps on the local worker-thread pool: the spec's checks (refused before anything runs), runs
// equal to the same training in this thread, failed runs recorded while the sweep goes on,
// --resume (finished runs kept, an interrupted one continued from its checkpoint to the same
// result), the summary's mean ± std, and the command's exit codes.
import { spawn, spawnSync } from 'child_process';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { setThreads } from '../lib/backend';
import { MAX_SPEC_DESCRIBED_PARAMETERS, SpecError, expandSpec, validateRunConfig, validateSpec, SweepSpec } from '../lib/sweep/spec';
import { sweep } from '../lib/sweep/sweep';
import { loadSharedData, removeCheckpoint, runModelLabel, runTraining, RunMetrics } from '../lib/sweep/training';
import {
  RunRecord,
  bestConfiguration,
  checkOutcome,
  curvesSvg,
  finalScoresSvg,
  summarize,
  summaryCsv,
  summaryMarkdown,
} from '../lib/sweep/summary';
import { sweepCommand } from '../lib/cli/sweep';
import { load, loadWithSampleShape } from '../lib/serialize';
import { TrainingPool } from '../lib/sweep/pool';
import { tsFile } from './ts-child';
import { diskFullAt, openFailsFor } from './full-disk';
import { ModelDescription } from '../lib/cli/presets';

const root = path.join(__dirname, '..');
let tmp: string;
beforeAll(() => {
  tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'neurone-sweep-'));
});
afterAll(() => fs.rmSync(tmp, { recursive: true, force: true }));

/** A sweep of tiny trainings (XOR, a 16-unit MLP): 2 batch sizes × 2 seeds. */
const TINY: SweepSpec = {
  name: 'tiny',
  base: { dataset: 'xor', model: 'small-mlp', optimizer: 'adam', lr: 0.01, epochs: 4, schedule: 'none', patience: 0 },
  axes: { batchSize: [16, 64] },
  seeds: 2,
};

/** The metrics without wall times and timestamps (which differ between any two runs). */
function timeless(m: RunMetrics | undefined): unknown {
  if (!m) return m;
  const { seconds: _s, startedAt: _a, finishedAt: _f, history, ...rest } = m;
  return { ...rest, history: history.map(({ seconds: _e, ...r }) => r) };
}

/** A finished run's record as a sweep writes it, with plain metrics. */
function timelessRecord(): RunRecord {
  const metrics: RunMetrics = {
    model: 'm',
    epochs: 2,
    stoppedEarly: false,
    testAccuracy: 0.75,
    trainLoss: 0.5,
    validationLoss: 0.6,
    testLoss: 0.7,
    samples: 8,
    seconds: 0.1,
    startedAt: 0,
    finishedAt: 100,
    resumed: false,
    history: [{ epoch: 1, trainLoss: 0.6, valAccuracy: 0.5, seconds: 0.05 }],
  };
  return {
    id: 'lr=0.1',
    configKey: 'lr=0.1',
    axes: { lr: 0.1 },
    config: {} as RunRecord['config'],
    status: 'done',
    metrics,
    worker: 'local',
  };
}

describe('sweep spec: refused before anything runs, one line naming the key', () => {
  const cases: [string, unknown, RegExp][] = [
    ['unknown top-level key', { ...TINY, extra: {} }, /unknown key "extra" \(expected one of name, description, base, axes, seeds\)/],
    ['unknown base key', { base: { learningRate: 0.1 } }, /"base": unknown key "learningRate"/],
    ['unknown axis', { axes: { depth: [1, 2] } }, /"axes": unknown key "depth"/],
    ['a name every object inherits, as an axis', { axes: { hasOwnProperty: [1, 2] } }, /"axes": unknown key "hasOwnProperty"/],
    ['a name every object inherits, in base', JSON.parse('{"base":{"__proto__":{"x":1}}}'), /"base": unknown key "__proto__"/],
    ['empty axis', { axes: { lr: [] } }, /"axes\.lr": expected a non-empty list of values/],
    ['axis not a list', { axes: { lr: 0.1 } }, /"axes\.lr": expected a non-empty list of values, got number 0\.1/],
    ['wrong type in base', { base: { epochs: '10' } }, /"base\.epochs": expected an integer in \[1, 100000\], got .*10/],
    ['wrong type in an axis', { axes: { lr: [0.1, 'fast'] } }, /"axes\.lr\[1\]": expected a number > 0/],
    ['out of range', { base: { momentum: 1 } }, /"base\.momentum": expected a number in \[0, 1\)/],
    ['momentum for Adam', { base: { optimizer: 'adam', momentum: 0.5 } }, /"base\.momentum" applies to sgd only, and every run uses adam/],
    [
      'a momentum axis beside Adam runs',
      { axes: { optimizer: ['sgd', 'adam'], momentum: [0, 0.9] } },
      /"axes\.momentum" applies to sgd only, and some runs use adam/,
    ],
    ['beyond float32', { axes: { lr: [0.1, 1e39] } }, /"axes\.lr\[1\]": expected a number > 0, got number 1e\+39/],
    [
      'a model too large to build (4 GiB from 50 bytes)',
      { base: { model: { layers: [{ type: 'Linear', args: [16777216, 64] }] } } },
      /"base\.model": layer 0 \(Linear\) brings the model to over 16,777,216 parameter values, the most a model description may hold/,
    ],
    ['unknown preset', { base: { model: 'resnet50' } }, /"base\.model": unknown model preset "resnet50" \(presets: seed-cnn/],
    ['unknown dataset', { axes: { dataset: ['usps', 'cifar'] } }, /"axes\.dataset\[1\]": expected one of "usps"/],
    [
      'bad model description',
      { base: { model: { layers: [{ type: 'Dense', args: [2, 2] }] } } },
      /"base\.model": layer 0: unknown layer type "Dense"/,
    ],
    ['seed in base', { base: { seed: 3 } }, /"base\.seed": seeds are given by the top-level "seeds" key/],
    ['seeds in base', { base: { seeds: 3 } }, /"base\.seeds": seeds are given by the top-level "seeds" key/],
    ['seeds as an axis', { axes: { seeds: [0, 1] } }, /"axes\.seeds": seeds are given by the top-level "seeds" key/],
    ['bad seeds', { seeds: 0 }, /"seeds": expected an integer in \[1, 100000\]/],
    ['repeated seed', { seeds: [1, 1] }, /"seeds": a seed appears twice/],
    ['repeated axis value', { axes: { batchSize: [8, 8] } }, /"axes\.batchSize\[1\]": value 8 appears twice/],
    [
      'model names that differ only in case (one run folder on macOS and Windows)',
      {
        axes: {
          model: [
            { name: 'Net', layers: [{ type: 'Linear', args: [2, 2] }] },
            { name: 'net', layers: [{ type: 'Linear', args: [2, 2] }, { type: 'ReLU' }] },
          ],
        },
      },
      /"axes\.model\[1\]": value net differs from Net only in case; the runs' folders would be one on macOS and Windows/,
    ],
    ['not an object', [1, 2], /sweep spec: expected an object/],
    [
      // Before, the hundred descriptions were built (41 s of CPU) before the run count refused them.
      'too many runs, counted before any model description is built',
      {
        // The first description is bad too: checked first, it would be the error.
        axes: {
          model: [
            { name: 'bad', layers: [{ type: 'Dense', args: [2, 2] }] },
            ...Array.from({ length: 99 }, (_, i) => ({ name: `m${i}`, layers: [{ type: 'Linear', args: [4096, 4095] }] })),
          ],
        },
        seeds: 100000,
      },
      /: the axes and seeds make 10000000 runs \(at most 100000\)$/,
    ],
    [
      'a list of seeds past the run bound',
      { seeds: Array.from({ length: 100001 }, (_, i) => i) },
      /"seeds": 100001 seeds make over 100000 runs/,
    ],
  ];
  test.each(cases)('%s', (_name, spec, message) => {
    let error: unknown;
    try {
      validateSpec(spec);
    } catch (e) {
      error = e;
    }
    expect(error).toBeInstanceOf(SpecError);
    expect((error as Error).message).toMatch(message);
    expect((error as Error).message).not.toContain('\n');
  });

  test("model descriptions past the spec's budget of parameters together: refused at the first over it", () => {
    // With the default budget (2^26) a spec listing a hundred of the largest descriptions was
    // built for minutes before its run count was checked; here a small budget keeps the test quick.
    const spec = {
      axes: { model: Array.from({ length: 5 }, (_, i) => ({ name: `m${i}`, layers: [{ type: 'Linear', args: [10, 10 + i] }] })) },
    };
    expect(() => validateSpec(spec, 'spec.json', 300)).toThrow(
      new SpecError(
        `spec.json: "axes.model[2]": the spec's model descriptions declare over 300 parameter values together, the most one spec may hold; split the sweep`,
      ),
    );
    // 110 + 121 + 132 + 143 + 154 values: within a budget of 660.
    expect(expandSpec(validateSpec(spec, 'spec.json', 660))).toHaveLength(5);
    expect(MAX_SPEC_DESCRIBED_PARAMETERS).toBe(2 ** 26);
  });

  test("a misspelt key names the closest known one (top level, base, axes, a job's config); a far one names none", () => {
    const message = (spec: unknown): string => {
      try {
        validateSpec(spec);
      } catch (e) {
        return (e as Error).message;
      }
      throw new Error('accepted');
    };
    const keys =
      'dataset, model, optimizer, lr, momentum, weightDecay, schedule, epochs, batchSize, patience, valFraction, trainSize, testSize, dataSeed';
    expect(message({ ...TINY, axis: {} })).toBe(
      'sweep spec: unknown key "axis" (did you mean axes?) (expected one of name, description, base, axes, seeds)',
    );
    expect(message({ ...TINY, seed: 3 })).toMatch(/^sweep spec: unknown key "seed" \(did you mean seeds\?\) \(/);
    expect(message({ base: { dataset: 'xor', epoch: 5 } })).toBe(
      `sweep spec: "base": unknown key "epoch" (did you mean epochs?) (expected one of ${keys})`,
    );
    expect(message({ base: { batchsize: 8 } })).toMatch(/^sweep spec: "base": unknown key "batchsize" \(did you mean batchSize\?\) \(/);
    expect(message({ axes: { optimiser: ['sgd', 'adam'] } })).toMatch(
      /^sweep spec: "axes": unknown key "optimiser" \(did you mean optimizer\?\) \(/,
    );
    expect(message({ axes: { weight_decay: [0, 0.01] } })).toMatch(/unknown key "weight_decay" \(did you mean weightDecay\?\) \(/);
    // Nothing close: the list alone, no guess.
    for (const spec of [{ base: { learningRate: 0.1 } }, { axes: { depth: [1, 2] } }, { ...TINY, extra: 1 }])
      expect(message(spec)).not.toContain('did you mean');
    // A huge key gets no guess and is quoted by its start; a control character is escaped, not
    // sent to the terminal.
    const huge = message({ base: { [`epochs${'x'.repeat(500000)}`]: 1 } });
    expect(huge).not.toContain('did you mean');
    expect(huge).toMatch(/^sweep spec: "base": unknown key "epochsx{58}"… \(500006 characters\) \(expected one of /);
    expect(huge.length).toBeLessThan(400);
    expect(message({ base: { 'lr\u001b[2J': 1 } })).toContain('unknown key "lr\\u001b[2J"');
    // A job's configuration, as a queue worker checks it: the same hint, "seed" among the keys.
    expect(() => validateRunConfig({ dataset: 'xor', epochz: 3 }, 'job payload: "config"')).toThrow(
      /^job payload: "config": unknown key "epochz" \(did you mean epochs\?\) \(expected one of .*, dataSeed, seed\)$/,
    );
  });

  test('sweep() refuses a bad spec without creating its output folder', async () => {
    const out = path.join(tmp, 'never');
    await expect(sweep({ axes: { lr: [] } }, { out })).rejects.toThrow(SpecError);
    expect(fs.existsSync(out)).toBe(false);
  });

  test('a lazily sized layer past the bound is refused before any run, the images fed flat, nothing allocated', async () => {
    const out = path.join(tmp, 'lazy-huge');
    const layers = [
      { type: 'Flatten', args: [] },
      { type: 'Linear', args: [null, 100000] },
      { type: 'Linear', args: [null, 10] },
    ];
    await expect(sweep({ base: { dataset: 'usps', model: { layers }, epochs: 1 } }, { out, workers: 1 })).rejects.toThrow(
      /^run seed=0: the model description does not fit usps: Linear\(null, 100000\) at position 1 on 256 features brings the model to 26,700,010 parameter values, over the 16,777,216/,
    );
    expect(fs.existsSync(out)).toBe(false);
  });

  test('a batch size beyond the data is bounded as the batch fit makes (the training part), not as written', async () => {
    const out = path.join(tmp, 'huge-batch');
    const result = await sweep({ base: { dataset: 'xor', model: 'small-mlp', epochs: 1, batchSize: 2 ** 24 } }, { out, workers: 1 });
    expect(result.status).toMatchObject({ done: 1, failed: 0 });
    // A queue worker, which checks the job itself, the same.
    const shared = loadSharedData('xor', 0);
    const metrics = await runTraining(
      { ...expandSpec(validateSpec({ base: { dataset: 'xor', batchSize: 2 ** 24, epochs: 1 } }))[0].config },
      shared,
    );
    expect(metrics.epochs).toBe(1);
  });

  test('a model that does not fit the data is refused before any run', async () => {
    const out = path.join(tmp, 'misfit');
    await expect(sweep({ base: { dataset: 'xor', model: 'seed-cnn' } }, { out, workers: 1 })).rejects.toThrow(
      /run seed=0: model seed-cnn does not fit xor/,
    );
    // The dataset's default preset is said to be one.
    expect(runModelLabel({ dataset: 'usps' })).toBe('model seed-cnn (the default for usps)');
    expect(runModelLabel({ dataset: 'usps', model: { name: 'conv-net', layers: [] } })).toBe('model description "conv-net"');
    // Nothing written: the corrected spec runs in the same folder, without --resume.
    expect(fs.existsSync(out)).toBe(false);
    const fixed = await sweep({ base: { dataset: 'xor', model: 'small-mlp', epochs: 1 } }, { out, workers: 1 });
    expect(fixed.status).toMatchObject({ done: 1, failed: 0 });
  });

  test('a validation fraction that leaves a part empty is refused before any run', async () => {
    const out = path.join(tmp, 'tiny-val');
    await expect(sweep({ base: { dataset: 'xor', model: 'small-mlp', valFraction: 1e-9 } }, { out, workers: 1 })).rejects.toThrow(
      /^run seed=0: valFraction 1e-9 of the \d+ training examples of xor leaves the validation part empty$/,
    );
    // Of the examples a run trains on, when trainSize takes fewer than the set holds.
    await expect(
      sweep({ base: { dataset: 'xor', model: 'small-mlp', trainSize: 2, valFraction: 0.1 } }, { out, workers: 1 }),
    ).rejects.toThrow(/^run seed=0: valFraction 0\.1 of the 2 training examples of xor leaves the validation part empty$/);
    expect(fs.existsSync(out)).toBe(false);
  });

  test('a trainSize or testSize beyond the data set is refused before any run, not taken as "all"', async () => {
    const out = path.join(tmp, 'tiny-size');
    await expect(sweep({ base: { dataset: 'xor', model: 'small-mlp', trainSize: 80000 } }, { out, workers: 1 })).rejects.toThrow(
      /^run seed=0: "trainSize" 80000 is more than the 800 training examples of xor$/,
    );
    await expect(
      sweep({ base: { dataset: 'xor', model: 'small-mlp' }, axes: { testSize: [100, 801] } }, { out, workers: 1 }),
    ).rejects.toThrow(/^run testSize=801,seed=0: "testSize" 801 is more than the 800 test examples of xor$/);
    expect(fs.existsSync(out)).toBe(false);
  });

  test('sweep() options: not an object, an unknown backend: refused before anything is written', async () => {
    const out = path.join(tmp, 'bad-options');
    await expect(sweep(TINY, null as unknown as { out: string })).rejects.toThrow(
      /^sweep: options must be an object with at least \{ out \}, got null$/,
    );
    await expect(sweep(TINY, { out, backend: 'bogus' as 'js' })).rejects.toThrow(/^sweep: backend must be 'native' or 'js', got "bogus"$/);
    // A misspelt option ran the sweep with the default (every core) without a word.
    await expect(sweep(TINY, { out, wokers: 2 } as unknown as { out: string })).rejects.toThrow(
      /^sweep: unknown option 'wokers' \(did you mean 'workers'\?\); valid options: out, resume, workers, /,
    );
    expect(fs.existsSync(out)).toBe(false);
  });

  test('every spec shipped under sweeps/ is valid; named models label their runs', () => {
    const dir = path.join(root, 'sweeps');
    const files = fs.readdirSync(dir).filter((f) => f.endsWith('.json'));
    expect(files.length).toBeGreaterThanOrEqual(9);
    for (const f of files) {
      const spec = validateSpec(JSON.parse(fs.readFileSync(path.join(dir, f), 'utf8')), f);
      expect(spec.name).toBe(path.basename(f, '.json'));
      expect(expandSpec(spec).length).toBeGreaterThan(0);
    }
    const kernels = expandSpec(validateSpec(JSON.parse(fs.readFileSync(path.join(dir, 'item5-usps-kernel-size.json'), 'utf8'))));
    expect(kernels.map((r) => r.id).slice(0, 3)).toEqual(['model=k3,seed=0', 'model=k3,seed=1', 'model=k5,seed=0']);
    expect(() => validateSpec({ axes: { model: [{ name: '../up', layers: [{ type: 'Linear', args: [2, 2] }] }] } })).toThrow(
      /"axes\.model\[0\]\.name": expected a model name of 1-64 letters/,
    );
  });

  test("the README's sweep example is the shipped spec the command test runs", () => {
    const readme = fs.readFileSync(path.join(root, 'README.md'), 'utf8');
    const block = [...readme.matchAll(/```json\n([\s\S]*?)```/g)].map((m) => m[1]).find((b) => b.includes('"tiny-xor"'));
    expect(block).toBeDefined();
    expect(JSON.parse(block as string)).toEqual(JSON.parse(fs.readFileSync(path.join(root, 'sweeps', 'tiny-xor.json'), 'utf8')));
    expect(readme).toContain('npx neurone sweep sweeps/tiny-xor.json --out runs/tiny --workers 2');
  });

  test('a run id too long to name its folder (or, through a queue, its files) is refused before anything runs', async () => {
    const long = { name: 'm'.repeat(64), layers: [{ type: 'Linear', args: [2, 2] }] };
    const axes = {
      model: [long],
      lr: [0.0001234567890123456],
      valFraction: [0.15000000000000002],
      batchSize: [8],
      momentum: [0.5],
      weightDecay: [1.2345678901234566e-7],
    };
    const spec = { base: { dataset: 'xor', epochs: 1 }, axes, seeds: [123456789] };
    // Past a file name's 255 bytes with a few axes more.
    const longer = {
      ...spec,
      axes: { ...axes, trainSize: [100], testSize: [100], dataSeed: [123456789], patience: [0], schedule: ['none'] },
    };
    const out = path.join(tmp, 'long-id');
    await expect(sweep(longer, { out, workers: 1 })).rejects.toThrow(
      /^run "model=m{64},lr=.*…": its id is \d+ bytes, over 255: it names the run's folder, and a file name holds at most 255 bytes; give model descriptions a short "name"/,
    );
    expect(fs.existsSync(out)).toBe(false);
    // Between 180 and 255 bytes: a folder takes it, a queue worker's file names would not.
    const [run] = expandSpec(validateSpec(spec));
    expect(Buffer.byteLength(run.id)).toBeGreaterThan(180);
    await expect(sweep(spec, { out, queue: 'redis://127.0.0.1:1' })).rejects.toThrow(
      /its id is \d+ bytes, over 180: a queue worker names the run's files by it/,
    );
    expect(fs.existsSync(out)).toBe(false);
    const local = await sweep(spec, { out, workers: 1 });
    expect(local.status).toMatchObject({ done: 1, failed: 0 });
  });

  test('expansion: the grid of the axes × the seeds, ids naming each value', () => {
    const runs = expandSpec(validateSpec({ ...TINY, axes: { batchSize: [16, 64], lr: [0.1, 0.01, 0.001] }, seeds: [5, 7] }));
    expect(runs).toHaveLength(12);
    expect(runs[0].id).toBe('batchSize=16,lr=0.1,seed=5');
    expect(runs[11].id).toBe('batchSize=64,lr=0.001,seed=7');
    expect(new Set(runs.map((r) => r.id)).size).toBe(12);
    expect(new Set(runs.map((r) => r.configKey)).size).toBe(6);
    expect(runs[3].config).toMatchObject({ dataset: 'xor', batchSize: 16, lr: 0.01, seed: 7, epochs: 4 });
  });

  test("an Adam run's configuration holds no momentum; an SGD run's holds the default or the spec's", () => {
    const runs = expandSpec(validateSpec({ base: { dataset: 'xor', momentum: 0.5 }, axes: { optimizer: ['sgd', 'adam'] } }));
    expect(runs.map((r) => [r.config.optimizer, r.config.momentum])).toEqual([
      ['sgd', 0.5],
      ['adam', undefined],
    ]);
    expect('momentum' in runs[1].config).toBe(false);
    expect(expandSpec(validateSpec({ base: { dataset: 'xor' } }))[0].config.momentum).toBe(0.9);
    // A job from the queue is held to the same rule.
    const job = { ...runs[1].config };
    expect(validateRunConfig(job)).toEqual(job);
    expect(() => validateRunConfig({ ...job, momentum: 0.9 }, 'job payload: "config"')).toThrow(
      /^job payload: "config": "momentum" applies to sgd only, and this run uses adam$/,
    );
    expect(() => validateRunConfig({ ...runs[0].config, momentum: undefined })).toThrow(/^run: "momentum" is missing$/);
  });
});

describe('sweep on the worker pool', () => {
  test('one sweep at a time in a folder: a second is refused while the first runs; the lock of a gone one is taken over', async () => {
    const out = path.join(tmp, 'locked');
    const lock = path.join(out, '.sweep.lock');
    const spec = { base: { dataset: 'xor' as const, model: 'small-mlp', epochs: 1, trainSize: 100, testSize: 100 } };
    const first = await sweep(spec, { out, workers: 1 });
    expect(first.status).toMatchObject({ done: 1 });
    expect(fs.existsSync(lock)).toBe(false); // released at the end
    // Two sweeps of this process at once: the second is refused while the first runs.
    const slowOut = path.join(tmp, 'locked-slow');
    const slow = { ...TINY, name: 'slow-lock', base: { ...TINY.base, epochs: 300 }, seeds: 2 };
    const stop = new AbortController();
    let second: Promise<unknown> | undefined;
    const running = sweep(slow, {
      out: slowOut,
      workers: 1,
      signal: stop.signal,
      onStatus: () => {
        if (second) return;
        second = sweep({ ...slow, name: 'other' }, { out: slowOut, workers: 1, resume: true });
        void second.then(
          () => stop.abort(),
          () => stop.abort(),
        );
      },
    });
    await expect(running).rejects.toMatchObject({ name: 'AbortError' });
    await expect(second).rejects.toThrow(
      `--out ${slowOut} is in use by another sweep (pid ${process.pid} on ${os.hostname()}); wait for it to end, or, if it is gone, remove ${path.join(slowOut, '.sweep.lock')}`,
    );
    // A sweep of another spec refused the same way leaves the running one's sweep.json alone.
    expect(JSON.parse(fs.readFileSync(path.join(slowOut, 'sweep.json'), 'utf8')).spec.name).toBe('slow-lock');
    expect(fs.existsSync(path.join(slowOut, '.sweep.lock'))).toBe(false);
    // A live process of this machine holds it: refused, and its lock left alone.
    fs.writeFileSync(lock, JSON.stringify({ pid: process.ppid, host: os.hostname() }));
    await expect(sweep(spec, { out, workers: 1, resume: true })).rejects.toThrow(`is in use by another sweep (pid ${process.ppid} on `);
    expect(fs.existsSync(lock)).toBe(true);
    // Gone: a killed process, or this pid with no sweep of this process in the folder (a restarted container reuses pids).
    for (const pid of [spawnSync(process.execPath, ['-e', '']).pid as number, process.pid]) {
      fs.writeFileSync(lock, JSON.stringify({ pid, host: os.hostname() }));
      const resumed = await sweep(spec, { out, workers: 1, resume: true });
      expect(resumed.status).toMatchObject({ done: 1, skipped: 1 });
      expect(fs.existsSync(lock)).toBe(false);
    }
  }, 120000);

  test('an abort stops the trainings: AbortError, finished records kept, half-written files removed; resume finishes', async () => {
    const out = path.join(tmp, 'aborted');
    const spec = { ...TINY, name: 'slow', base: { ...TINY.base, epochs: 300 }, seeds: 3 };
    const stop = new AbortController();
    const lines: string[] = [];
    const cut = (id: string): string => path.join(out, id, `.checkpoint.ckpt.${process.pid}.abc123.tmp`);
    let running: string[] = [];
    const result = sweep(spec, {
      out,
      workers: 2,
      log: (l) => {
        lines.push(l);
        if (lines.length !== 1) return;
        // A write of this process cut short in each run folder not finished, as a stopped thread leaves it.
        running = fs
          .readdirSync(out)
          .filter((d) => fs.statSync(path.join(out, d)).isDirectory() && !fs.existsSync(path.join(out, d, 'result.json')));
        for (const d of running) fs.writeFileSync(cut(d), 'half');
        stop.abort();
      },
      signal: stop.signal,
    });
    await expect(result).rejects.toMatchObject({ name: 'AbortError', message: 'sweep: aborted' });
    expect(running.length).toBeGreaterThan(0);
    for (const d of running) expect(fs.existsSync(cut(d))).toBe(false);
    const records = fs.readdirSync(out).filter((d) => fs.existsSync(path.join(out, d, 'result.json')));
    expect(records.length).toBeGreaterThanOrEqual(1);
    expect(records.length).toBeLessThan(6);
    for (const d of records) expect(JSON.parse(fs.readFileSync(path.join(out, d, 'result.json'), 'utf8')).status).toBe('done');
    expect(fs.existsSync(path.join(out, 'summary.md'))).toBe(false);
    await expect(sweep(spec, { out, signal: AbortSignal.abort() })).rejects.toMatchObject({ name: 'AbortError' });
    const resumed = await sweep(spec, { out, workers: 2, resume: true });
    expect(resumed.status).toMatchObject({ done: 6, failed: 0, skipped: records.length });
  }, 120000);

  test('more workers than cores: one line says the trainings share the cores (none at the default)', async () => {
    const cores = typeof os.availableParallelism === 'function' ? os.availableParallelism() : os.cpus().length;
    const spec = { base: { dataset: 'xor' as const, model: 'small-mlp', epochs: 1, trainSize: 100, testSize: 100 }, seeds: cores + 1 };
    const crowded: string[] = [];
    const result = await sweep(spec, { out: path.join(tmp, 'crowded'), workers: cores + 1, log: (l) => crowded.push(l) });
    expect(result.status).toMatchObject({ done: cores + 1, failed: 0 });
    expect(crowded).toContain(
      `sweep: ${cores + 1} trainings at once on ${cores} cores: they share the cores, each one slower (one a core is the default)`,
    );
    const usual: string[] = [];
    await sweep(spec, { out: path.join(tmp, 'usual'), log: (l) => usual.push(l) });
    expect(usual.filter((l) => l.includes('share the cores'))).toEqual([]);
  });

  test('each run equals the same training in this thread; records, summary and figures are written', async () => {
    const out = path.join(tmp, 'tiny');
    const lines: string[] = [];
    const result = await sweep(TINY, { out, workers: 2, log: (l) => lines.push(l) });
    expect(result.runs.map((r) => [r.id, r.status])).toEqual([
      ['batchSize=16,seed=0', 'done'],
      ['batchSize=16,seed=1', 'done'],
      ['batchSize=64,seed=0', 'done'],
      ['batchSize=64,seed=1', 'done'],
    ]);
    expect(lines).toHaveLength(4);
    expect(lines.every((l) => /^\[\d\/4\] batchSize=\d+,seed=\d: test \d+\.\d\d %/.test(l))).toBe(true);
    // The same configuration trained here, single-threaded, gives the same numbers.
    const data = loadSharedData('xor', 0);
    setThreads(1);
    for (const r of result.runs) {
      const here = await runTraining(r.config, data);
      expect(timeless(r.metrics)).toEqual(timeless(here));
      const onDisk = JSON.parse(fs.readFileSync(path.join(out, r.id, 'result.json'), 'utf8')) as RunRecord;
      expect(timeless(onDisk.metrics)).toEqual(timeless(here));
    }
    // Different seeds are different trainings (the comparison above could not pass by accident).
    expect(result.runs[0].metrics?.testLoss).not.toBe(result.runs[1].metrics?.testLoss);
    // mean ± std over the two seeds of each configuration
    const losses = result.runs.slice(0, 2).map((r) => r.metrics?.testLoss as number);
    const mean = (losses[0] + losses[1]) / 2;
    expect(result.summary[0].configKey).toBe('batchSize=16');
    expect(result.summary[0].runs).toBe(2);
    expect(result.summary[0].testLoss.mean).toBeCloseTo(mean, 12);
    expect(result.summary[0].testLoss.std).toBeCloseTo(Math.abs(losses[0] - losses[1]) / Math.SQRT2, 12);
    const md = fs.readFileSync(result.files.markdown, 'utf8');
    expect(md).toMatch(/\| batchSize \| seeds \| failed \| test % \|/);
    expect(md).toMatch(/\| 16 \| 2 \| 0 \| \d+\.\d\d ± \d+\.\d\d \|/);
    const csv = fs.readFileSync(result.files.csv, 'utf8').trim().split('\n');
    expect(csv).toHaveLength(3);
    expect(csv[0]).toBe(
      'batchSize,seeds,failed,testAccuracyMean,testAccuracyStd,validationAccuracyMean,validationAccuracyStd,trainAccuracyMean,trainAccuracyStd,testLossMean,testLossStd,epochsMean,epochsStd',
    );
    expect(Number(csv[1].split(',')[9])).toBeCloseTo(mean, 12);
    expect(fs.readFileSync(result.files.curves, 'utf8')).toMatch(/^<svg[\s\S]*<polygon[\s\S]*<\/svg>\n$/);
    expect(fs.readFileSync(result.files.scores, 'utf8')).toMatch(/^<svg[\s\S]*batchSize=64[\s\S]*<\/svg>\n$/);
    // No checkpoint is left behind by a finished run, and no temporary file by the atomic writes.
    for (const r of result.runs) expect(fs.readdirSync(path.join(out, r.id))).toEqual(['result.json']);
    expect(result.status).toMatchObject({ total: 4, done: 4, failed: 0, skipped: 0 });
    expect(result.status.samplesPerSecond).toBeGreaterThan(0);
    expect(result.runs[0].metrics?.optimizer).toEqual({ name: 'adam', lr: 0.01, weightDecay: 0 });
  });

  test('a Conv2D model runs on the images themselves; one sized for other images is refused before any run', async () => {
    const model = (flat: number): ModelDescription & { name: string } => ({
      name: 'conv-net',
      layers: [
        { type: 'Conv2D', args: [5, 1, 4] },
        { type: 'ReLU', args: [] },
        { type: 'MaxPool2D', args: [2, 2] },
        { type: 'Flatten', args: [] },
        { type: 'Linear', args: [flat, 10] },
      ],
    });
    const base = { dataset: 'usps' as const, epochs: 1, trainSize: 300, testSize: 100, schedule: 'none' as const, patience: 0 };
    const out = path.join(tmp, 'conv2d');
    await expect(sweep({ base: { ...base, model: model(12 * 12 * 4) } }, { out, workers: 1 })).rejects.toThrow(
      /^run seed=0: model description "conv-net" does not fit usps: usps has 16×16 images, but the model takes 28×28 or 29×29$/,
    );
    expect(fs.existsSync(out)).toBe(false);
    const result = await sweep({ base: { ...base, model: model(6 * 6 * 4) } }, { out, workers: 1, saveModels: true });
    expect(result.status).toMatchObject({ done: 1, failed: 0 });
    // The pool's run is the same training as in this thread, fed (n, 16, 16, 1).
    setThreads(1);
    const data = loadSharedData('usps', 0);
    const hereModel = path.join(tmp, 'conv2d-here.safetensors');
    const here = await runTraining(result.runs[0].config, data, { model: hereModel });
    expect(timeless(result.runs[0].metrics)).toEqual(timeless(here));
    // Its saved model is the trained one, with the images' shape for export.
    const modelFile = path.join(out, result.runs[0].id, 'model.safetensors');
    expect(loadWithSampleShape(modelFile).sampleShape).toEqual([16, 16, 1]);
    const weights = (file: string): number[][] =>
      load(file)
        .parameters()
        .map((p) => Array.from(p.value.data));
    expect(weights(modelFile)).toEqual(weights(hereModel));
    expect(here.testAccuracy).toBeGreaterThan(0.2); // one epoch on 300 images: well above the 10 % of chance
    // The spec named no optimiser settings: the record says which the run used.
    expect(result.runs[0].metrics?.optimizer).toEqual({ name: 'sgd', lr: 5e-4, weightDecay: 1e-2, momentum: 0.9 });
  });

  test('a run that throws is recorded as failed with its error, and the others still run', async () => {
    const out = path.join(tmp, 'diverges');
    // SGD at lr 1e30 sends the weights to infinity: fit throws NonFiniteError.
    const result = await sweep(
      { ...TINY, base: { ...TINY.base, optimizer: 'sgd' }, axes: { lr: [0.01, 1e30] }, seeds: 1 },
      { out, workers: 2 },
    );
    const [ok, bad] = result.runs;
    expect(ok.status).toBe('done');
    expect(bad.status).toBe('failed');
    expect(bad.error).toMatch(/non-finite|NaN|Infinity/i);
    expect(JSON.parse(fs.readFileSync(path.join(out, bad.id, 'result.json'), 'utf8'))).toMatchObject({
      status: 'failed',
      error: bad.error,
    });
    expect(result.summary[1]).toMatchObject({ configKey: 'lr=1e+30', runs: 0, failed: 1 });
    expect(result.status).toMatchObject({ done: 1, failed: 1 });
  });

  test('a run whose record or folder cannot be written is recorded as failed with the reason; the others still run', async () => {
    const spec: SweepSpec = { ...TINY, axes: { batchSize: [16] }, seeds: 4 };
    const out = path.join(tmp, 'record-fails');
    // seed=1's result.json is a folder (holding someone's file): its record cannot be written there.
    const blocked = path.join(out, 'batchSize=16,seed=1', 'result.json');
    fs.mkdirSync(blocked, { recursive: true });
    fs.writeFileSync(path.join(blocked, 'keep.txt'), 'mine');
    // seed=3's folder is a file: the run cannot even start.
    const notFolder = path.join(out, 'batchSize=16,seed=3');
    fs.writeFileSync(notFolder, 'not a folder');
    const lines: string[] = [];
    const result = await sweep(spec, { out, workers: 2, log: (l) => lines.push(l) });
    expect(result.runs.map((r) => [r.id, r.status])).toEqual([
      ['batchSize=16,seed=0', 'done'],
      ['batchSize=16,seed=1', 'failed'],
      ['batchSize=16,seed=2', 'done'],
      ['batchSize=16,seed=3', 'failed'],
    ]);
    expect(result.runs[3].error).toMatch(/^its folder cannot be used: .*batchSize=16,seed=3 exists and is not a folder$/);
    expect(fs.readFileSync(notFolder, 'utf8')).toBe('not a folder');
    const bad = result.runs[1];
    expect(bad.error).toMatch(
      /^the run finished but its record could not be written: cannot write .*result\.json: expected a regular file \(or none\), found a directory; not replacing it$/,
    );
    expect(lines).toContainEqual(
      expect.stringMatching(/ batchSize=16,seed=1: FAILED: the run finished but its record could not be written/),
    );
    expect(result.status).toMatchObject({ total: 4, done: 2, failed: 2 });
    expect(result.summary[0]).toMatchObject({ configKey: 'batchSize=16', runs: 2, failed: 2 });
    expect(fs.readFileSync(result.files.csv, 'utf8').split('\n')[1]).toMatch(/^16,2,2,/);
    // The folder in the way is left as it was; the other runs' records are written.
    expect(fs.readdirSync(blocked)).toEqual(['keep.txt']);
    for (const r of [result.runs[0], result.runs[2]]) {
      expect(JSON.parse(fs.readFileSync(path.join(out, r.id, 'result.json'), 'utf8'))).toMatchObject({ id: r.id, status: 'done' });
    }
    // The run's checkpoint is kept (its record is not on disk): --resume finishes it from there.
    expect(fs.existsSync(path.join(out, bad.id, 'checkpoint.ckpt'))).toBe(true);
  });

  test('--resume keeps finished runs and continues an interrupted one from its checkpoint to the same result', async () => {
    const spec: SweepSpec = {
      name: 'resume',
      base: { dataset: 'xor', model: 'small-mlp', optimizer: 'sgd', lr: 0.02, epochs: 6, patience: 0, schedule: 'plateau' },
      seeds: 2,
    };
    const full = path.join(tmp, 'resume-full');
    const reference = await sweep(spec, { out: full, workers: 2 });
    // Without --resume an existing sweep folder is refused.
    await expect(sweep(spec, { out: full })).rejects.toThrow(/already holds a sweep \(sweep\.json\); pass --resume/);
    // A different spec is refused with --resume.
    await expect(sweep({ ...spec, seeds: 3 }, { out: full, resume: true })).rejects.toThrow(
      /holds a different sweep \(spec hash \w+, this spec \w+\): this spec adds runs 1 \(seed=2\); give this spec another --out \(out\)$/,
    );
    await expect(sweep({ ...spec, seeds: 1 }, { out: full, resume: true })).rejects.toThrow(/: it lacks runs 1 \(seed=1\); give/);
    await expect(sweep({ ...spec, base: { ...spec.base, lr: 0.03 } }, { out: full, resume: true })).rejects.toThrow(
      /: the same runs with other settings \(a value of "base" or a model changed\); give/,
    );

    // A copy where seed 1 was interrupted after epoch 3: its checkpoint is there, its result is not.
    const part = path.join(tmp, 'resume-part');
    fs.cpSync(full, part, { recursive: true });
    const interrupted = reference.runs[1];
    fs.rmSync(path.join(part, interrupted.id, 'result.json'));
    const checkpoint = path.join(part, interrupted.id, 'checkpoint.ckpt');
    setThreads(1);
    await runTraining({ ...interrupted.config, epochs: 3 }, loadSharedData('xor', 0), { checkpoint });
    const keptBefore = fs.readFileSync(path.join(part, reference.runs[0].id, 'result.json'), 'utf8');

    const lines: string[] = [];
    const resumed = await sweep(spec, { out: part, resume: true, workers: 1, log: (l) => lines.push(l) });
    expect(resumed.status).toMatchObject({ total: 2, skipped: 1, done: 2, failed: 0 });
    expect(lines).toEqual([expect.stringMatching(/^\[2\/2\] seed=1: .*6 epochs \(resumed\)/)]);
    expect(fs.readFileSync(path.join(part, reference.runs[0].id, 'result.json'), 'utf8')).toBe(keptBefore);
    expect(resumed.runs[1].metrics?.resumed).toBe(true);
    // The plateau schedule's counters were rebuilt from the first 3 epochs: the same training.
    expect({ ...(timeless(resumed.runs[1].metrics) as object), resumed: false }).toEqual(timeless(interrupted.metrics));
    expect(fs.readFileSync(path.join(part, 'summary.csv'), 'utf8')).toBe(fs.readFileSync(path.join(full, 'summary.csv'), 'utf8'));
  });

  test('--resume starts a run over when its checkpoint cannot be read, to the same result', async () => {
    const spec: SweepSpec = {
      name: 'damaged-checkpoint',
      base: { dataset: 'xor', model: 'small-mlp', optimizer: 'sgd', lr: 0.02, epochs: 4, patience: 0, schedule: 'plateau' },
      seeds: 3,
    };
    const out = path.join(tmp, 'damaged-checkpoint');
    const reference = await sweep(spec, { out, workers: 1 });
    // Runs 1 and 2 interrupted after epoch 2; run 1's checkpoint then cut short (a full disk,
    // a copy stopped half way), run 2's overwritten with something else.
    for (const i of [1, 2]) {
      const r = reference.runs[i];
      fs.rmSync(path.join(out, r.id, 'result.json'));
      await runTraining({ ...r.config, epochs: 2 }, loadSharedData('xor', 0), { checkpoint: path.join(out, r.id, 'checkpoint.ckpt') });
    }
    const cut = path.join(out, reference.runs[1].id, 'checkpoint.ckpt');
    fs.truncateSync(cut, Math.floor(fs.statSync(cut).size / 2));
    fs.writeFileSync(path.join(out, reference.runs[2].id, 'checkpoint.ckpt'), '{"not": "a checkpoint"}');
    for (let attempt = 0; attempt < 2; attempt++) {
      const lines: string[] = [];
      const again = await sweep(spec, { out, workers: 1, resume: true, log: (l) => lines.push(l) });
      if (attempt === 1) {
        // Nothing is left to discard: the first resume finished both runs.
        expect(again.status).toMatchObject({ total: 3, skipped: 3, failed: 0 });
        break;
      }
      expect(again.status).toMatchObject({ total: 3, skipped: 1, done: 3, failed: 0 });
      expect(lines).toEqual([
        expect.stringMatching(/^\[2\/3\] seed=1: .*4 epochs \(started over: fit: resumeFrom: .*checkpoint\.ckpt: .*\), /),
        expect.stringMatching(/^\[3\/3\] seed=2: .*4 epochs \(started over: fit: resumeFrom: .*checkpoint\.ckpt: .*\), /),
      ]);
      for (const i of [1, 2]) {
        const m = again.runs[i].metrics as RunMetrics;
        expect(m.resumed).toBe(false);
        expect(typeof m.checkpointDiscarded).toBe('string');
        // Trained from its seed as if there had been no checkpoint: the uninterrupted run's result.
        expect(timeless({ ...m, checkpointDiscarded: undefined })).toEqual(timeless(reference.runs[i].metrics));
        const record = JSON.parse(fs.readFileSync(path.join(out, again.runs[i].id, 'result.json'), 'utf8'));
        expect(record.metrics.checkpointDiscarded).toBe(m.checkpointDiscarded);
      }
    }
    // A checkpoint the system will not let the run read (out of file descriptors for a moment) is
    // not damaged: the run fails, the checkpoint stays, and the next try continues from it.
    const kept = path.join(out, reference.runs[0].id, 'kept.ckpt');
    await runTraining({ ...reference.runs[0].config, epochs: 2 }, loadSharedData('xor', 0), { checkpoint: kept });
    const keptBytes = fs.readFileSync(kept);
    const fault = openFailsFor(kept);
    try {
      await expect(runTraining(reference.runs[0].config, loadSharedData('xor', 0), { checkpoint: kept })).rejects.toThrow(/EMFILE/);
    } finally {
      fault.restore();
    }
    expect(fs.readFileSync(kept).equals(keptBytes)).toBe(true);
    const continued = await runTraining(reference.runs[0].config, loadSharedData('xor', 0), { checkpoint: kept });
    expect(continued.resumed).toBe(true);
    expect(continued.checkpointDiscarded).toBeUndefined();
    // The validation losses that earlier versions kept beside a checkpoint go with it.
    fs.writeFileSync(kept, 'checkpoint');
    fs.writeFileSync(`${kept}.val-losses.json`, '[1]');
    expect(removeCheckpoint(kept)).toBe(true);
    expect([fs.existsSync(kept), fs.existsSync(`${kept}.val-losses.json`)]).toEqual([false, false]);
    expect(checkOutcome({ status: 'done', metrics: { ...reference.runs[0].metrics, checkpointDiscarded: 5 } })).toBe(
      'metrics.checkpointDiscarded must be a string when present',
    );
    // A record's kernel path is one the kernels have (a queue worker's result crosses a trust boundary).
    for (const kernelPath of ['AVX2', '', 7])
      expect(checkOutcome({ status: 'done', metrics: { ...reference.runs[0].metrics, kernelPath } })).toBe(
        'metrics.kernelPath must be one of scalar, avx2, avx512, neon when present',
      );
    expect(checkOutcome({ status: 'done', metrics: { ...reference.runs[0].metrics, kernelPath: 'avx2' } })).toMatchObject({
      status: 'done',
    });
  }, 60000);

  test('--resume runs again what is not a result of the run: wrong shape, another run or configuration, a pipe, a device', async () => {
    const spec: SweepSpec = {
      name: 'resume-hostile',
      base: { dataset: 'xor', model: 'small-mlp', optimizer: 'sgd', lr: 0.05, epochs: 2, patience: 0, schedule: 'none' },
      seeds: 6,
    };
    const out = path.join(tmp, 'resume-hostile');
    const first = await sweep(spec, { out, workers: 1 });
    const file = (i: number): string => path.join(out, first.runs[i].id, 'result.json');
    const other = fs.readFileSync(file(1), 'utf8');
    fs.writeFileSync(file(0), '{"status":"done"}');
    fs.writeFileSync(file(1), other.replace(/"id": "seed=1"/, '"id": "seed=2"'));
    fs.rmSync(file(2));
    spawnSync('mkfifo', [file(2)]); // a FIFO: reading it would wait for a writer for ever
    fs.rmSync(file(3));
    fs.symlinkSync('/dev/zero', file(3)); // endless zeros
    // A finished record whose row in the summary was edited: kept, but read as the spec says.
    const edited = JSON.parse(fs.readFileSync(file(4), 'utf8'));
    fs.writeFileSync(file(4), JSON.stringify({ ...edited, configKey: 5, axes: null }));
    // One of the same id trained with other settings (another spec's seed=5) is not this run's.
    const otherSettings = JSON.parse(fs.readFileSync(file(5), 'utf8'));
    fs.writeFileSync(file(5), JSON.stringify({ ...otherSettings, config: { ...otherSettings.config, epochs: 50 } }));
    const lines: string[] = [];
    const t0 = Date.now();
    const again = await sweep(spec, { out, resume: true, workers: 1, log: (l) => lines.push(l) });
    expect(Date.now() - t0).toBeLessThan(60000);
    expect(again.status).toMatchObject({ total: 6, skipped: 1, done: 6, failed: 0 });
    const reasons = lines.filter((l) => l.startsWith('--resume:'));
    expect(reasons).toEqual([
      expect.stringMatching(/seed=0.result\.json is not a result of run seed=0 \(a finished run without metrics\); running it again$/),
      expect.stringMatching(/seed=1.result\.json is not a result of run seed=1 \(it records run "seed=2"\)/),
      expect.stringMatching(/seed=2.result\.json is not a result of run seed=2 \(.*found a FIFO\)/),
      expect.stringMatching(/seed=3.result\.json is not a result of run seed=3 \(.*found a character device\)/),
      expect.stringMatching(/seed=5.result\.json is not a result of run seed=5 \(it was trained with another configuration\)/),
    ]);
    // The records written again are the runs' own, equal to the first sweep's but for the times.
    expect(again.runs.map((r) => timeless(r.metrics))).toEqual(first.runs.map((r) => timeless(r.metrics)));
    expect(again.runs[4]).toMatchObject({ configKey: first.runs[4].configKey, axes: first.runs[4].axes, config: first.runs[4].config });
    expect(again.summary.map((row) => [row.configKey, row.runs])).toEqual([[first.runs[0].configKey, 6]]);
  }, 120000);

  test("--resume removes what a killed sweep was writing, however recent; a live process's file stays", async () => {
    const out = path.join(tmp, 'stranded');
    const spec = { base: { dataset: 'xor' as const, model: 'small-mlp', epochs: 1, trainSize: 100, testSize: 100 } };
    const first = await sweep(spec, { out, workers: 1 });
    const dead = spawnSync(process.execPath, ['-e', '']).pid as number;
    const runDir = path.join(out, first.runs[0].id);
    const stranded = [path.join(runDir, `.checkpoint.ckpt.${dead}.k9x2.tmp`), path.join(out, `.summary.md.${dead}.a1b2.tmp`)];
    const live = path.join(runDir, `.result.json.${process.ppid}.c3d4.tmp`);
    for (const f of [...stranded, live]) fs.writeFileSync(f, 'half written');
    await sweep(spec, { out, workers: 1, resume: true });
    expect(stranded.filter((f) => fs.existsSync(f))).toEqual([]);
    expect(fs.existsSync(live)).toBe(true);
  });

  test('the summary files are replaced as one: a disk that fills at the last leaves all four as they were', async () => {
    const out = path.join(tmp, 'summary-full');
    const spec = { base: { dataset: 'xor' as const, model: 'small-mlp', epochs: 1, trainSize: 100, testSize: 100 } };
    const first = await sweep(spec, { out, workers: 1 });
    const names = Object.values(first.files);
    for (const f of names) fs.writeFileSync(f, 'previous');
    const disk = diskFullAt((file) => path.basename(file).startsWith('.scores.svg.'));
    try {
      await expect(sweep(spec, { out, workers: 1, resume: true })).rejects.toThrow(/scores\.svg.*ENOSPC/);
    } finally {
      disk.restore();
    }
    expect(disk.hit()).toBe(true);
    expect(names.map((f) => fs.readFileSync(f, 'utf8'))).toEqual(names.map(() => 'previous'));
    expect(fs.readdirSync(out).filter((f) => f.startsWith('.summary') || f.startsWith('.scores') || f.startsWith('.curves'))).toEqual([]);
    // The next resume writes them.
    await sweep(spec, { out, workers: 1, resume: true });
    expect(fs.readFileSync(first.files.markdown, 'utf8')).toMatch(/^# Sweep/);
  });

  test('an output folder that cannot be made fails at once, and spinning mkdir is not used', async () => {
    if (!fs.existsSync('/proc/self')) return;
    const t0 = Date.now();
    await expect(
      sweep({ name: 'proc', base: { dataset: 'xor', model: 'small-mlp', epochs: 1 }, seeds: 1 }, { out: '/proc/neurone-sweep/x' }),
    ).rejects.toThrow(/--out \(out\): cannot write to \/proc\/neurone-sweep\/x/);
    expect(Date.now() - t0).toBeLessThan(5000);
  });

  test('checkOutcome: what a queue worker or a result file may hand the summary', () => {
    const metrics = (timelessRecord().metrics as RunMetrics) ?? undefined;
    expect(checkOutcome({ status: 'done', metrics })).toEqual({ status: 'done', metrics });
    expect(checkOutcome({ status: 'failed', error: 'boom' })).toEqual({ status: 'failed', error: 'boom' });
    for (const [value, why] of [
      [null, /got null/],
      ['garbage', /got string/],
      [{ status: 'done' }, /without metrics/],
      [{ status: 'done', metrics: { ...metrics, samples: 'many' } }, /metrics\.samples must be a finite number/],
      [{ status: 'done', metrics: { ...metrics, testAccuracy: 3 } }, /metrics\.testAccuracy must be a fraction/],
      [{ status: 'done', metrics: { ...metrics, history: [null] } }, /not an epoch record/],
      [{ status: 'done', metrics: { ...metrics, optimizer: { name: 'rmsprop', lr: 1, weightDecay: 0 } } }, /metrics\.optimizer must be/],
      [{ status: 'done', metrics: { ...metrics, optimizer: { name: 'sgd', lr: null, weightDecay: 0 } } }, /metrics\.optimizer must be/],
      [{ status: 'failed' }, /without an error message/],
      [{ status: 'maybe' }, /status must be 'done' or 'failed'/],
    ] as const)
      expect(checkOutcome(value)).toMatch(why);
  });

  test('curves of seeds that stopped at different epochs: the mean runs to the longest, over the seeds still running', () => {
    const rec = timelessRecord();
    const run = (accuracies: number[]): RunRecord => ({
      ...rec,
      metrics: {
        ...(rec.metrics as RunMetrics),
        history: accuracies.map((valAccuracy, i) => ({ epoch: i + 1, trainLoss: 1, valAccuracy, seconds: 0 })),
      },
    });
    const svg = curvesSvg([run([0.5, 0.6, 0.7]), run([0.7, 0.8, 0.9, 0.95, 0.97])], 'stopped early');
    expect(svg).toContain('epoch (1 to 5)');
    const line = /<polyline points="([^"]+)"/.exec(svg)?.[1].split(' ') ?? [];
    expect(line).toHaveLength(5);
    // Epochs 4 and 5 are the longer run's alone: no spread, so the band closes on the line there.
    const band = /<polygon points="([^"]+)"/.exec(svg)?.[1].split(' ') ?? [];
    expect(band).toHaveLength(10);
    expect([band[3], band[4]]).toEqual([line[3], line[4]]);
    expect([band[6], band[5]]).toEqual([line[3], line[4]]);
    expect(band[0]).not.toEqual(line[0]); // epoch 1: two seeds apart
  });

  test('figures of a very long sweep: no spread of a long array (it overflowed the call stack)', () => {
    const rec = timelessRecord();
    const history = Array.from({ length: 200000 }, (_, i) => ({ epoch: i + 1, trainLoss: 1 / (i + 1), valAccuracy: 0.5, seconds: 0 }));
    const runs = [{ ...rec, metrics: { ...(rec.metrics as RunMetrics), history } }];
    expect(curvesSvg(runs, 'long')).toMatch(/^<svg/);
    expect(finalScoresSvg(summarize(runs), 'long')).toMatch(/^<svg/);
  });

  test('summarize: configurations in order of appearance, failed runs counted apart', () => {
    const m = (acc: number): RunMetrics => ({
      model: 'm',
      epochs: 1,
      stoppedEarly: false,
      testAccuracy: acc,
      trainLoss: 0,
      validationLoss: 0,
      testLoss: 0,
      samples: 1,
      seconds: 0,
      startedAt: 0,
      finishedAt: 0,
      resumed: false,
      history: [],
    });
    const rec = (configKey: string, status: 'done' | 'failed', acc = 0): RunRecord =>
      ({
        id: configKey,
        configKey,
        axes: {},
        config: {},
        status,
        metrics: status === 'done' ? m(acc) : undefined,
        worker: 'local',
      }) as RunRecord;
    const rows = summarize([rec('b', 'done', 0.5), rec('a', 'done', 0.9), rec('b', 'done', 0.7), rec('b', 'failed')]);
    expect(rows.map((r) => [r.configKey, r.runs, r.failed])).toEqual([
      ['b', 2, 1],
      ['a', 1, 0],
    ]);
    expect(rows[0].testAccuracy.mean).toBeCloseTo(0.6, 12);
    expect(rows[0].testAccuracy.std).toBeCloseTo(Math.sqrt(0.02), 12);
    expect(rows[1].testAccuracy.std).toBe(0);
    // The best is chosen on validation, not on test: 'a' has the better test, 'b' the better validation.
    const withValidation = (r: RunRecord, v: number): RunRecord => ({
      ...r,
      metrics: { ...(r.metrics as RunMetrics), validationAccuracy: v },
    });
    const scored = summarize([
      withValidation(rec('b', 'done', 0.5), 0.8),
      withValidation(rec('a', 'done', 0.9), 0.7),
      withValidation(rec('b', 'done', 0.7), 0.9),
    ]);
    expect(bestConfiguration(scored)?.configKey).toBe('b');
    const md = summaryMarkdown(scored);
    expect(md).toMatch(/\n\nBest on validation: b \(validation 85\.00 ± 7\.07 %, test 60\.00 ± 14\.14 %, 2 seeds\)\.$/);
    // One seed: the mean alone, no "± 0.00".
    expect(md).toMatch(/\| a \| 1 \| 0 \| 90\.00 \| 70\.00 \|/);
    // A single configuration has nothing to choose between.
    expect(bestConfiguration(scored.slice(0, 1))).toBeUndefined();
    expect(summaryMarkdown(scored.slice(0, 1))).not.toContain('Best on validation');
    // An axis of the epochs asked for beside the mean of the epochs run: two columns, two names.
    const byEpochs = summarize([{ ...rec('e', 'done', 0.5), axes: { epochs: 5 } }]);
    const header = summaryMarkdown(byEpochs).split('\n')[0];
    expect(header).toMatch(/^\| epochs \| seeds \| .* \| epochs run \|$/);
    expect(summaryMarkdown(scored).split('\n')[0]).toMatch(/\| test loss \| epochs \|$/);
    // CSV: a value with a comma, a quote or a line break (a carriage return too) is one quoted field.
    const texts = ['a,b', 'say "x"', 'two\nlines', 'old\rmac', 'plain'];
    const csv = summaryCsv(summarize(texts.map((t) => ({ ...rec(t, 'done', 0.5), axes: { note: t } }))));
    expect(csv.split('\n').length).toBe(texts.length + 3); // header, five rows, a line break inside a field, the end
    expect(csv).toContain('\n"a,b",1,0,');
    expect(csv).toContain('\n"say ""x""",1,0,');
    expect(csv).toContain('\n"two\nlines",1,0,');
    expect(csv).toContain('\n"old\rmac",1,0,');
    expect(csv).toContain('\nplain,1,0,');
  });

  test('the data is loaded once into shared memory', () => {
    const d = loadSharedData('xor', 0);
    for (const part of [d.train, d.test]) {
      expect(part.x).toBeInstanceOf(SharedArrayBuffer);
      expect(part.labels).toBeInstanceOf(SharedArrayBuffer);
    }
  });

  test("a queue worker's data is loaded on a pool thread: shared memory back, this thread free meanwhile", async () => {
    const pool = new TrainingPool(1);
    try {
      // Renewing a job's lock needs this thread's timers to run while a dataset loads (USPS takes
      // a quarter of a second, MNIST most of one): a load made here would let none of them fire.
      let ticks = 0;
      const timer = setInterval(() => ticks++, 5);
      const loaded = await pool.load('usps', 0);
      clearInterval(timer);
      expect(ticks).toBeGreaterThan(0);
      const here = loadSharedData('usps', 0);
      for (const part of ['train', 'test'] as const) {
        // (Posted from a thread, the buffer is of the main realm, not of jest's sandbox.)
        expect(Object.prototype.toString.call(loaded[part].x)).toBe('[object SharedArrayBuffer]');
        expect(loaded[part].xShape).toEqual(here[part].xShape);
        // (Compared as bytes: jest's element-wise toEqual takes seconds on 1.9 M floats.)
        expect(Buffer.from(loaded[part].x).equals(Buffer.from(here[part].x))).toBe(true);
        expect(Buffer.from(loaded[part].labels).equals(Buffer.from(here[part].labels))).toBe(true);
      }
      await expect(pool.load('mnist', 0, os.tmpdir())).rejects.toThrow(/^cannot load dataset mnist: /);
    } finally {
      await pool.close();
    }
  }, 60000);
});

describe('neurone sweep command', () => {
  const cli = (...args: string[]): { code: number | null; stdout: string; stderr: string } => {
    const r = spawnSync(process.execPath, [...tsFile(path.join(root, 'lib', 'cli', 'main.ts')), 'sweep', ...args], {
      cwd: root,
      encoding: 'utf8',
      timeout: 120000,
    });
    return { code: r.status, stdout: r.stdout, stderr: r.stderr };
  };

  test('without the native addon, one warning line for the sweep, not one per worker thread', () => {
    const file = path.join(tmp, 'tiny-warning.json');
    fs.writeFileSync(file, JSON.stringify({ ...TINY, base: { ...TINY.base, epochs: 1 } }));
    const r = spawnSync(
      process.execPath,
      [...tsFile(path.join(root, 'lib', 'cli', 'main.ts')), 'sweep', file, '--out', path.join(tmp, 'warning-out'), '--workers', '2'],
      { cwd: root, encoding: 'utf8', timeout: 120000, env: { ...process.env, NEURONE_NATIVE_DISABLE: '1', NEURONE_BACKEND: '' } },
    );
    expect(r.status).toBe(0);
    // Before: the warning once per pool thread (twice here, four times with --workers 4).
    expect(r.stderr.match(/native addon unavailable/g)).toHaveLength(1);
  });

  test('a malformed spec file: exit 2, one line naming the key, nothing written', () => {
    const file = path.join(tmp, 'bad.json');
    fs.writeFileSync(file, JSON.stringify({ ...TINY, axes: { batchSize: [] } }));
    const out = path.join(tmp, 'bad-out');
    const r = cli(file, '--out', out);
    expect(r.code).toBe(2);
    expect(r.stderr).toBe(`neurone: sweep spec: "axes.batchSize": expected a non-empty list of values, got Array(0)\n`);
    expect(fs.existsSync(out)).toBe(false);
  });

  test('bad arguments: exit 2 and one line, in process', async () => {
    const errors: string[] = [];
    const spy = jest.spyOn(process.stderr, 'write').mockImplementation((s: string | Uint8Array) => {
      errors.push(String(s));
      return true;
    });
    try {
      const spec = path.join(root, 'sweeps', 'tiny-xor.json');
      expect(await sweepCommand([spec])).toBe(2);
      expect(await sweepCommand([spec, '--out', path.join(tmp, 'x'), '--workers', '0'])).toBe(2);
      expect(await sweepCommand([spec, '--out', path.join(tmp, 'x'), '--workers', '0x2'])).toBe(2);
      expect(await sweepCommand([spec, spec, '--out', path.join(tmp, 'x')])).toBe(2);
      expect(await sweepCommand([spec, '--out', path.join(tmp, 'x'), '--resume', '--resume'])).toBe(2);
      expect(await sweepCommand([spec, '--out', path.join(tmp, 'x'), '--queue', 'http://localhost:6379'])).toBe(2);
      const broken = path.join(tmp, 'broken.json');
      fs.writeFileSync(broken, '{ "name": ');
      expect(await sweepCommand([broken, '--out', path.join(tmp, 'x')])).toBe(2);
    } finally {
      spy.mockRestore();
    }
    expect(errors).toEqual([
      'neurone: --out DIR is required (the folder of the results)\n',
      "neurone: bad value for --workers: '0' (expected an integer in [1, 1024])\n",
      "neurone: bad value for --workers: '0x2' (expected an integer in [1, 1024])\n",
      expect.stringMatching(/^neurone: expected one spec file, got .*tiny-xor\.json .*tiny-xor\.json/),
      'neurone: option --resume given twice\n',
      "neurone: --queue: expected a redis:// or rediss:// URL, got 'http://localhost:6379'\n",
      expect.stringMatching(/^neurone: sweep spec .*broken\.json is not valid JSON: .*\n$/),
    ]);
    expect(fs.existsSync(path.join(tmp, 'x'))).toBe(false);
  });

  test('Ctrl-C (exit 130) or SIGTERM (143): one line saying how to go on; --resume then finishes the sweep', async () => {
    const out = path.join(tmp, 'cli-interrupted');
    const spec = path.join(tmp, 'slow-xor.json');
    fs.writeFileSync(spec, JSON.stringify({ ...TINY, name: 'slow', base: { ...TINY.base, epochs: 400 }, seeds: 3 }));
    // SIGTERM first (`timeout`, docker stop, batch schedulers send it), then Ctrl-C of the resumed sweep.
    for (const [signal, expected, resume] of [
      ['SIGTERM', 143, []],
      ['SIGINT', 130, ['--resume']],
    ] as const) {
      const child = spawn(
        process.execPath,
        [...tsFile(path.join(root, 'lib', 'cli', 'main.ts')), 'sweep', spec, '--out', out, '--workers', '1', ...resume],
        { cwd: root },
      );
      let stdout = '';
      let stderr = '';
      child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
      const code = await new Promise<number | null>((resolve) => {
        child.stdout.on('data', (d: Buffer) => {
          stdout += d.toString();
          // After a run's line: some runs are done, others not.
          if (/^\[\d\/6\] /m.test(stdout)) child.kill(signal);
        });
        child.on('close', (c) => resolve(c));
      });
      expect([signal, code]).toEqual([signal, expected]);
      expect(stderr).toBe(
        `neurone: sweep interrupted; the finished runs are kept in ${out}: continue with the same command and --resume\n`,
      );
    }
    const again = cli(spec, '--out', out, '--workers', '1', '--resume');
    expect(again.code).toBe(0);
    expect(again.stdout).toMatch(/sweep: 6\/6 done, 0 running, 0 failed/);
  }, 240000);

  test('the shipped tiny spec runs end to end: summary printed, exit 0', () => {
    const out = path.join(tmp, 'cli-tiny');
    const r = cli(path.join(root, 'sweeps', 'tiny-xor.json'), '--out', out, '--workers', '2');
    expect(r.stderr).toBe('');
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(/^\[\d\/4\] batchSize=/m);
    expect(r.stdout).toMatch(/sweep: 4\/4 done, 0 running, 0 failed \| [\d,]+ samples\/s/);
    expect(r.stdout).toMatch(/\| batchSize \| seeds \| failed \| test % \|/);
    expect(fs.existsSync(path.join(out, 'summary.csv'))).toBe(true);
  });
});
