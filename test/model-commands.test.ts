/**
 * The commands that use a saved model or fetch data: `neurone predict`, `evaluate`, `export`,
 * `data download`, plus `--version` and "did you mean". Spawned through tsx like
 * test/cli.test.ts; bad input must give exit code 2, one line on stderr, no stack trace and no
 * file written. No test needs the internet: the download's failure paths run against a local
 * HTTPS server (a certificate made with openssl for the run) and an unused port.
 */
import { spawnSync, spawn } from 'child_process';
import * as fs from 'fs';
// The module object itself: `import * as` gives a namespace whose functions cannot be spied on.
import fsModule from 'fs';
import * as https from 'https';
import * as os from 'os';
import * as path from 'path';
import * as zlib from 'zlib';
import { AddressInfo } from 'net';
import { PNG } from 'pngjs';
import {
  Sequential,
  Conv1D,
  Conv2D,
  MaxPool1D,
  MaxPool2D,
  Flatten,
  Linear,
  ReLU,
  LogSoftmax,
  Reshape,
  Upsample2D,
  GlobalAvgPool2D,
  Dropout,
  BatchNorm2D,
  Module,
  Sigmoid,
  BatchNorm1D,
  TanH,
} from '../lib/nn';
import { save, load } from '../lib/serialize';
import { seed } from '../lib/random';
import { getBackend, getThreads } from '../lib/backend';
import { Tensor, randn } from '../lib/tensor';
import * as trainModule from '../lib/train';
import { predict, evaluate, fit } from '../lib/train';
import { SGD } from '../lib/optim';
import { loadSplit } from '../lib/cli/datasets';
import { CELogSoftmaxLoss, MSELoss } from '../lib/losses';
import { loadUSPS } from '../lib/data';
import { encodeIdx } from '../lib/data/idx';
import { ONNXOptions, toONNX } from '../lib/export/onnx';
import { modelProto } from '../lib/export/proto';
import { readSafetensors } from '../lib/serialize';
import { didYouMean, runCommand, asInput, probeWritable } from '../lib/cli/command';
import { commandBatchSize, predictCommand } from '../lib/cli/predict';
import { exportCommand } from '../lib/cli/export';
import { evaluateCommand } from '../lib/cli/evaluate';
import { dataCommand } from '../lib/cli/data';
import { main } from '../lib/cli/main';
import { parseTrainArgs } from '../lib/cli/train-args';
import { train } from '../lib/cli/train';
import type { EpochRecord } from '../lib/logger';
import { lockFolder } from '../lib/data/read';
import { tsFile } from './ts-child';
import { headOne } from './head-one';
import { diskFullAt } from './full-disk';
import { runInProcess } from './in-process';

const root = path.join(__dirname, '..');
const pkg = JSON.parse(fs.readFileSync(path.join(root, 'package.json'), 'utf8')) as { version: string };

interface Run {
  code: number | null;
  stdout: string;
  stderr: string;
}

function cli(args: string[], env: Record<string, string> = {}, input?: Buffer | string): Run {
  const r = spawnSync(process.execPath, [...tsFile(path.join(root, 'lib', 'cli', 'main.ts')), ...args], {
    cwd: root,
    encoding: 'utf8',
    timeout: 90000,
    env: { ...process.env, ...env },
    input,
  });
  return { code: r.status, stdout: r.stdout, stderr: r.stderr };
}

/** The same, without blocking the event loop (a test's own HTTPS server must keep answering). */
function cliAsync(args: string[], env: Record<string, string> = {}): Promise<Run> {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, [...tsFile(path.join(root, 'lib', 'cli', 'main.ts')), ...args], {
      cwd: root,
      env: { ...process.env, ...env },
    });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d) => (stdout += d));
    child.stderr.on('data', (d) => (stderr += d));
    child.on('close', (code) => resolve({ code, stdout, stderr }));
  });
}

/** A command run in this process (see test/in-process.ts). */
const run = runInProcess;

/** Bad input: exit 2, one line on stderr starting `neurone: ` and matching, no stack trace. */
function expectBadInput(r: Run, pattern: RegExp): void {
  expect(r.stderr).toMatch(pattern);
  expect(r.code).toBe(2);
  const lines = r.stderr.trim().split('\n');
  expect(lines).toHaveLength(1);
  expect(lines[0]).toMatch(/^neurone: /);
  expect(r.stderr).not.toMatch(/\n\s+at /);
}

let tmp: string;
let cnnFile: string;
let mlpFile: string;
let cnn: Sequential;
beforeAll(() => {
  tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'neurone-model-cli-'));
  seed(11);
  cnn = new Sequential(new Conv1D(3, 1, 4), new ReLU(), new MaxPool1D(2, 2), new Flatten(), new Linear(127 * 4, 10));
  cnnFile = path.join(tmp, 'cnn.safetensors');
  save(cnn, cnnFile);
  mlpFile = path.join(tmp, 'mlp.safetensors');
  save(new Sequential(new Linear(4, 3), new LogSoftmax()), mlpFile);
});
afterAll(() => fs.rmSync(tmp, { recursive: true, force: true }));

/** A 16×16 PNG of grey levels `v(i)` in 0..255 (opaque). */
function writePng(file: string, v: (i: number) => number, size = 16): Float32Array {
  const png = new PNG({ width: size, height: size });
  const expected = new Float32Array(size * size);
  for (let i = 0; i < size * size; i++) {
    const g = v(i);
    png.data.set([g, g, g, 255], 4 * i);
    expected[i] = g / 255;
  }
  fs.writeFileSync(file, PNG.sync.write(png));
  return expected;
}

function softmaxRows(y: Float32Array, k: number): number[][] {
  const rows: number[][] = [];
  for (let r = 0; r < y.length / k; r++) {
    const row = Array.from(y.subarray(r * k, (r + 1) * k));
    const max = Math.max(...row);
    const e = row.map((v) => Math.exp(v - max));
    const s = e.reduce((a, b) => a + b, 0);
    rows.push(e.map((v) => v / s));
  }
  return rows;
}

describe('top level', () => {
  test('--version prints the package version', () => {
    const r = cli(['--version']);
    expect(r.code).toBe(0);
    expect(r.stdout.trim()).toBe(`neurone ${pkg.version}`);
  });

  test('run in a folder that was removed: one line and exit 2, not the system error', async () => {
    // The shell still stands in the removed folder; every relative path would fail with ENOENT uv_cwd.
    const cwd = jest.spyOn(process, 'cwd').mockImplementation(() => {
      throw Object.assign(new Error('ENOENT: no such file or directory, uv_cwd'), { code: 'ENOENT', syscall: 'uv_cwd' });
    });
    try {
      for (const argv of [
        ['train', '--epochs', '1'],
        ['predict', '--model', 'm.safetensors', 'rows.csv'],
        ['sweep', 'spec.json', '--out', 'o'],
      ])
        expectBadInput(
          await run(main, argv),
          /^neurone: the current folder no longer exists \(ENOENT\); cd to another folder and run the command again$/m,
        );
      // A command's help needs no folder.
      const help = await run(main, ['predict', '--help']);
      expect([help.code, help.stderr]).toEqual([0, '']);
    } finally {
      cwd.mockRestore();
    }
  });

  test('a mistyped command or train flag gets a suggestion', () => {
    expectBadInput(cli(['predcit']), /unknown command 'predcit' \(did you mean predict\?\)/);
    expectBadInput(cli(['train', '--epoch', '3']), /unknown option '--epoch' \(did you mean --epochs\?\)/);
  });

  test("-v and version print the version; a misspelt option, a value or preset gets a suggestion; train's options go after train", async () => {
    for (const argv of [['-v'], ['version']]) {
      const r = cli(argv);
      expect(r.code).toBe(0);
      expect(r.stdout.trim()).toBe(`neurone ${pkg.version}`);
    }
    expectBadInput(await run(main, ['--versoin']), /^neurone: unknown option '--versoin' \(did you mean --version\?\)/);
    // Arguments the version and the preset list have no use for are refused, not ignored.
    expectBadInput(
      await run(main, ['--version', '--foo']),
      /^neurone: --version takes no arguments, got '--foo' \(see neurone --version --help\)$/m,
    );
    expectBadInput(await run(main, ['presets', 'mlp']), /^neurone: presets takes no arguments, got 'mlp' \(see neurone presets --help\)$/m);
    const presetsHelp = cli(['presets', '--help']);
    expect([presetsHelp.code, presetsHelp.stdout.split('\n')[0]]).toEqual([0, 'Usage: neurone presets']);
    expect(presetsHelp.stdout).toMatch(/^lenet\s/m);
    expectBadInput(await run(main, ['presets', '--help', 'extra']), /^neurone: presets takes no arguments, got 'extra'/m);
    // `neurone help CMD` is `neurone CMD --help`.
    const [helpPredict, predictHelp] = [cli(['help', 'predict']), cli(['predict', '--help'])];
    expect([helpPredict.code, helpPredict.stdout]).toEqual([0, predictHelp.stdout]);
    expect(helpPredict.stdout).toMatch(/^Usage: neurone predict /);
    expectBadInput(await run(main, ['help', 'predcit']), /^neurone: unknown command 'predcit' \(did you mean predict\?\)/m);
    expectBadInput(await run(main, ['--frobnicate']), /^neurone: unknown option '--frobnicate' \(see neurone --help\)$/m);
    expectBadInput(await run(main, ['--epochs', '3']), /^neurone: --epochs is an option of train: neurone train --epochs 3$/m);
    expectBadInput(await run(main, ['train', '--dataset', 'mnsit']), /bad value for --dataset: 'mnsit' .*\(did you mean mnist\?\)/);
    expectBadInput(await run(main, ['train', '--model', 'mpl']), /unknown model preset 'mpl' \(did you mean mlp\?\)/);
    // sweep and worker parse their own options: the same suggestions.
    expectBadInput(
      await run(main, ['sweep', 'spec.json', '--worker', '2']),
      /^neurone: unknown option '--worker' \(did you mean --workers\?\) \(see neurone sweep --help\)$/m,
    );
    expectBadInput(
      await run(main, ['worker', '--queu', 'redis://x']),
      /^neurone: unknown option '--queu' \(did you mean --queue\?\) \(see neurone worker --help\)$/m,
    );
  });

  test('a library message that names neurone already gets one prefix (a bad NEURONE_KERNEL)', () => {
    const r = cli(['predict', '--model', mlpFile, path.join(tmp, 'four-for-kernel.csv')], { NEURONE_KERNEL: 'bogus' });
    expect(r.stderr.trim().split('\n')).toHaveLength(1);
    expect(r.stderr).toMatch(/^neurone: predict: NEURONE_KERNEL=bogus /);
    expect(r.code).toBe(2);
  });

  test('didYouMean: typos and prefixes, nothing for an unrelated word', () => {
    expect(didYouMean('--datset', ['--dataset', '--data-dir'])).toBe(' (did you mean --dataset?)');
    expect(didYouMean('evalute', ['predict', 'evaluate'])).toBe(' (did you mean evaluate?)');
    expect(didYouMean('--inp', ['--input-shape', '--onnx'])).toBe(' (did you mean --input-shape?)');
    expect(didYouMean('banana', ['predict', 'evaluate', 'export'])).toBe('');
  });
});

/** A string matched literally inside a RegExp. */
const esc = (s: string): string => s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');

/** train as a command for `run`, each line it prints also given to `onLine`. */
const trainIn = (onLine: (line: string) => void) => (argv: readonly string[], write: (text: string) => void) =>
  train(parseTrainArgs(argv)!, (l) => {
    write(`${l}\n`);
    onLine(l);
  });

describe('neurone train and another run at the same time', () => {
  test('a --out another run holds is refused, naming the process; the folder is free again once released', async () => {
    // Before, both runs passed the start's check (nothing there yet) and the later one replaced the
    // earlier's files when it ended, both exiting 0.
    const out = path.join(tmp, 'held-out');
    fs.mkdirSync(out);
    const argv = ['--dataset', 'xor', '--epochs', '1', '--quiet', '--out', out];
    const release = lockFolder(out, 'train run', (m) => new Error(m));
    try {
      expectBadInput(
        await run(main, ['train', ...argv]),
        new RegExp(
          `^neurone: --out ${esc(out)} is in use by another train run \\(pid ${process.pid} on ${esc(os.hostname())}\\); ` +
            `wait for it to end, or, if it is gone, remove ${esc(path.join(out, '.train.lock'))}$`,
          'm',
        ),
      );
    } finally {
      release();
    }
    const r = await run(
      trainIn(() => undefined),
      argv,
    );
    expect(r.code).toBe(0);
    expect(fs.readdirSync(out).sort()).toEqual(['confusion.svg', 'metrics.json', 'training.svg']);
  });

  test('a --save file another run saved while this one trained is not replaced: the model goes beside it, exit 1', async () => {
    const save = path.join(tmp, 'raced.safetensors');
    const out = path.join(tmp, 'raced-out');
    const argv = ['--dataset', 'xor', '--epochs', '2', '--out', out, '--save', save];
    const other = (line: string): void => {
      if (line.startsWith('epoch ') && !fs.existsSync(save)) fs.writeFileSync(save, 'the other run');
    };
    const r = await run(trainIn(other), argv);
    const [beside] = fs
      .readdirSync(tmp)
      .filter((f) => new RegExp(`^raced\\.${process.pid}-[0-9a-f]{6}\\.safetensors$`).test(f))
      .map((f) => path.join(tmp, f));
    expect(r.code).toBe(1);
    expect(r.stderr).toBe(
      `neurone: --save: ${save} was created while this run trained (by another run?); not replaced: this run's model is in ${beside}\n`,
    );
    expect(fs.readFileSync(save, 'utf8')).toBe('the other run');
    // Nothing of the training is lost: the model beside it, the results in --out.
    expect(load(beside)).toBeInstanceOf(Sequential);
    expect(r.stdout).toContain(`model                ${beside}`);
    expect(fs.readdirSync(out).sort()).toEqual(['confusion.svg', 'metrics.json', 'training.svg']);
    // With --force the file is replaced, as one there at the start would be.
    fs.rmSync(save);
    const forced = await run(trainIn(other), [...argv, '--force']);
    expect(forced.code).toBe(0);
    expect(load(save)).toBeInstanceOf(Sequential);
  });
});

describe('neurone train --resume', () => {
  /** train in process; `stop` throws from the output callback at the line it matches (its nth time), as a crash would. */
  const trainStoppedAt = async (argv: string[], stop?: RegExp, nth = 1): Promise<{ code?: number; lines: string[]; error?: Error }> => {
    const lines: string[] = [];
    let hits = 0;
    try {
      const code = await train(parseTrainArgs(argv)!, (l) => {
        lines.push(l);
        if (stop?.test(l) && ++hits === nth) throw new Error('stopped here');
      });
      return { code, lines };
    } catch (e) {
      return { lines, error: e as Error };
    }
  };
  /** What a run leaves, the wall times aside. */
  const results = (out: string) => {
    const metrics = JSON.parse(fs.readFileSync(path.join(out, 'metrics.json'), 'utf8'));
    delete metrics.seconds;
    delete metrics.secondsBeforeResume;
    for (const r of metrics.history) delete r.seconds;
    return {
      model: fs.readFileSync(path.join(out, 'model.safetensors')).toString('hex'),
      metrics,
      curves: fs.readFileSync(path.join(out, 'training.svg'), 'utf8'),
      files: fs.readdirSync(out).sort(),
    };
  };

  test.each([
    ['in the first network, in the weight average', '--recipe headline --epochs 6 --swa 3', /^epoch +5\//, 1],
    ['in the retraining, in its weight average', '--recipe headline --epochs 6 --swa 3', /^epoch +6\//, 2],
    ['after a plateau lowered the rate, with early stopping', '--recipe quick --epochs 40 --lr 0.05', /^epoch +12\//, 1],
  ])('a run stopped %s ends with --resume as if never stopped: model, metrics and curves', async (_, flags, stop, nth) => {
    const name = `resume-${nth}-${flags.split(' ')[1]}`;
    const argv = (out: string): string[] => [
      '--dataset',
      'xor',
      ...flags.split(' '),
      '--out',
      out,
      '--save',
      path.join(out, 'model.safetensors'),
    ];
    const whole = path.join(tmp, `${name}-whole`);
    expect((await trainStoppedAt(argv(whole))).code).toBe(0);
    const out = path.join(tmp, name);
    const stopped = await trainStoppedAt(argv(out), stop, nth);
    expect(stopped.error?.message).toBe('stopped here');
    expect(fs.readdirSync(out)).toEqual(['resume']);
    const resumed = await trainStoppedAt([...argv(out), '--resume']);
    expect(resumed.code).toBe(0);
    expect(resumed.lines.join('\n')).toMatch(/^resuming after epoch \d+ from .*stage[12]\.checkpoint\.safetensors$/m);
    expect(results(out)).toEqual(results(whole));
    expect(results(out).files).not.toContain('resume'); // gone once the run ended
    // The wall time is this process's; the epochs before the stop are counted apart, from their records.
    const metrics = JSON.parse(fs.readFileSync(path.join(out, 'metrics.json'), 'utf8'));
    expect(metrics.secondsBeforeResume).toBeGreaterThan(0);
    if (nth === 1) {
      const after = Number(/^resuming after epoch (\d+)/m.exec(resumed.lines.join('\n'))![1]);
      const before = metrics.history.filter((r: EpochRecord) => r.epoch <= after).reduce((t: number, r: EpochRecord) => t + r.seconds, 0);
      expect(metrics.secondsBeforeResume).toBeCloseTo(before, 9);
    }
    const took = `the epochs trained before it took ${metrics.secondsBeforeResume.toFixed(1)} s`;
    expect(resumed.lines).toContainEqual(expect.stringMatching(new RegExp(`^  wall time +\\d+\\.\\d s \\(after --resume; ${took}\\)$`)));
    expect(JSON.parse(fs.readFileSync(path.join(whole, 'metrics.json'), 'utf8'))).not.toHaveProperty('secondsBeforeResume');
    // The plateau's drops are marked on the curves, those before the stop too.
    if (flags.includes('quick')) expect(results(out).curves).toMatch(/lr → /);
  });

  test('--resume is refused without a stopped run, or with other flags; a new run there needs --force', async () => {
    const out = path.join(tmp, 'resume-refusals');
    const argv = ['--dataset', 'xor', '--epochs', '4', '--lr', '0.01', '--out', out];
    expectBadInput(
      await run(main, ['train', ...argv, '--resume']),
      new RegExp(
        `^neurone: --resume: ${esc(out)} holds no stopped run to continue \\(no ${esc(path.join(out, 'resume', 'run.json'))}\\)$`,
        'm',
      ),
    );
    // Stopped before its first epoch ended (a crash, a kill during the start): nothing was kept, nothing is refused.
    expect((await trainStoppedAt(argv, /^epoch +1\//)).error?.message).toBe('stopped here');
    expect(fs.existsSync(path.join(out, 'resume'))).toBe(false);
    fs.mkdirSync(path.join(out, 'resume'), { recursive: true });
    expectBadInput(await run(main, ['train', ...argv, '--resume']), /holds no stopped run to continue \(no .*run\.json\)$/m);
    expect(fs.existsSync(path.join(out, 'resume'))).toBe(true);
    const startedThreads = getThreads();
    expect((await trainStoppedAt(argv, /^epoch +2\//)).error?.message).toBe('stopped here');
    expectBadInput(
      await run(main, ['train', ...argv.slice(0, 4), '--lr', '0.02', '--out', out, '--resume']),
      /^neurone: --resume: the run in .* was started with --lr 0.01, not --lr 0.02; give its flags again, or start over with --force, without --resume$/m,
    );
    expectBadInput(
      await run(main, ['train', ...argv, '--patience', '3', '--resume']),
      /^neurone: --resume: the run in .* was started with --patience 5, not --patience 3;/,
    );
    expectBadInput(
      await run(main, ['train', ...argv]),
      new RegExp(
        `^neurone: --out: ${esc(out)} holds a stopped run \\(${esc(path.join(out, 'resume'))}\\): continue it with the same flags and --resume, or start over with --force$`,
        'm',
      ),
    );
    // --save in the folder the run removes at its end is refused before training: by name, by a
    // name starting with `..`, through a link to --out.
    const linked = `${out}-link`;
    fs.symlinkSync(out, linked);
    for (const [outFlag, save] of [
      [out, path.join(out, 'resume', 'model.safetensors')],
      [out, path.join(out, 'resume', '..model.safetensors')],
      [linked, path.join(out, 'resume', 'model.safetensors')],
    ]) {
      expectBadInput(
        await run(main, ['train', ...argv.slice(0, -1), outFlag, '--resume', '--save', save]),
        /^neurone: --save: .*model\.safetensors is in .*resume, which the run removes when it ends$/m,
      );
    }
    // Flags that do not change the result may change, and a flag may give the recipe's own value.
    // A thread count other than the run's is said: a convolution's sums may then differ.
    const resumed = await run(main, ['train', ...argv, '--recipe', 'quick', '--patience', '5', '--resume', '--quiet', '--threads', '1']);
    expect(resumed.code).toBe(0);
    if (startedThreads > 1 && getBackend() === 'native')
      expect(resumed.stderr).toMatch(
        new RegExp(
          `^neurone: note: the run started on native \\w+, ${startedThreads} threads and goes on on native \\w+, 1 thread, which sums in another order `,
          'm',
        ),
      );
    expect(fs.existsSync(path.join(out, 'resume'))).toBe(false);
    // --force starts over: the stopped run's state goes.
    expect((await trainStoppedAt([...argv, '--force'], /^epoch +3\//)).error?.message).toBe('stopped here');
    const again = await trainStoppedAt([...argv, '--force']);
    expect(again.code).toBe(0);
    expect(again.lines.join('\n')).not.toMatch(/resuming/);
    // A damaged state is named, with the way out.
    expect((await trainStoppedAt([...argv, '--force'], /^epoch +3\//)).error?.message).toBe('stopped here');
    fs.writeFileSync(path.join(out, 'resume', 'stage1.checkpoint.safetensors'), 'not a checkpoint');
    expectBadInput(
      await run(main, ['train', ...argv, '--resume', '--quiet']),
      /^neurone: --resume: .*; start over with --force, without --resume$/m,
    );
  });

  (getBackend() === 'native' ? test : test.skip)(
    'a run resumed on another thread count, stopped and resumed on the first, is still said to have run on both',
    async () => {
      const out = path.join(tmp, 'resume-engines');
      const argv = ['--dataset', 'xor', '--epochs', '5', '--out', out, '--quiet'];
      /** A run stopped at the line of `epoch` (its stderr, the engine note, kept out of the log). */
      const stopAtEpoch = async (flags: string[], epoch: number): Promise<void> => {
        const spy = jest.spyOn(process.stderr, 'write').mockImplementation(() => true);
        try {
          expect((await trainStoppedAt([...flags, '--out', out], new RegExp(`^epoch +${epoch}/`))).error?.message).toBe('stopped here');
        } finally {
          spy.mockRestore();
        }
      };
      const base = ['--dataset', 'xor', '--epochs', '5'];
      await stopAtEpoch([...base, '--threads', '2'], 2);
      await stopAtEpoch([...base, '--threads', '1', '--resume'], 4);
      const back = await run(main, ['train', ...argv, '--threads', '2', '--resume']);
      expect(back.code).toBe(0);
      expect(back.stderr).toMatch(
        /^neurone: note: the run started on native \w+, 2 threads, then native \w+, 1 thread and goes on on native \w+, 2 threads, which sums/m,
      );
    },
  );

  test("what a killed run was writing in --out is removed when the next run there starts, however recent; a live process's file stays", async () => {
    const out = path.join(tmp, 'resume-stranded');
    const argv = ['--dataset', 'xor', '--epochs', '3', '--out', out, '--save', path.join(out, 'model.safetensors')];
    expect((await trainStoppedAt(argv, /^epoch +3\//)).error?.message).toBe('stopped here');
    const dead = spawnSync(process.execPath, ['-e', '']).pid as number;
    const stranded = [
      path.join(out, `.model.safetensors.${dead}.k9x2.tmp`),
      path.join(out, 'resume', `.stage1.checkpoint.safetensors.${dead}.a1b2.tmp`),
    ];
    const live = path.join(out, `.metrics.json.${process.ppid}.c3d4.tmp`);
    // Other programs' files in --out, named like temporary files of a pid that is gone, stay.
    const foreign = [path.join(out, `.notes.txt.${dead}.draft.tmp`), path.join(out, `.cache.${dead}.a1.tmp`)];
    for (const f of [...stranded, live, ...foreign]) fs.writeFileSync(f, 'half written');
    expect((await trainStoppedAt([...argv, '--resume'])).code).toBe(0);
    expect(stranded.filter((f) => fs.existsSync(f))).toEqual([]);
    expect([live, ...foreign].filter((f) => fs.existsSync(f))).toEqual([live, ...foreign]);
    for (const f of [live, ...foreign]) fs.rmSync(f);
  });

  test("a disk that fills up at an epoch's checkpoint stops the run, saying --resume continues it after the last epoch kept", async () => {
    const out = path.join(tmp, 'resume-full');
    const argv = ['--dataset', 'xor', '--epochs', '4', '--out', out];
    const whole = path.join(tmp, 'resume-full-whole');
    expect((await trainStoppedAt(['--dataset', 'xor', '--epochs', '4', '--out', whole])).code).toBe(0);
    const nodeFs: typeof fs = require('fs'); // eslint-disable-line @typescript-eslint/no-require-imports
    const realOpen = nodeFs.openSync;
    let checkpoints = 0;
    const full = jest.spyOn(nodeFs, 'openSync').mockImplementation(((file: fs.PathLike, ...rest: unknown[]) => {
      if (String(file).includes('.stage1.checkpoint.safetensors.') && ++checkpoints === 3)
        throw Object.assign(new Error('ENOSPC: no space left on device'), { code: 'ENOSPC' });
      return (realOpen as (...a: unknown[]) => number)(file, ...rest);
    }) as typeof fs.openSync);
    let stopped: Awaited<ReturnType<typeof trainStoppedAt>>;
    try {
      stopped = await trainStoppedAt(argv);
    } finally {
      full.mockRestore();
    }
    expect(stopped.error?.message).toMatch(
      /^fit: checkpoint: cannot write .*stage1\.checkpoint\.safetensors: .*ENOSPC.*; once it can be written, the same command with --resume continues after the last epoch kept$/,
    );
    const resumed = await trainStoppedAt([...argv, '--resume']);
    expect(resumed.code).toBe(0);
    expect(resumed.lines).toContain(`resuming after epoch 2 from ${path.join(out, 'resume', 'stage1.checkpoint.safetensors')}`);
    const metrics = (dir: string) => {
      const m = JSON.parse(fs.readFileSync(path.join(dir, 'metrics.json'), 'utf8'));
      delete m.seconds;
      delete m.secondsBeforeResume;
      for (const r of m.history) delete r.seconds;
      return m;
    };
    expect(metrics(out)).toEqual(metrics(whole));
  });

  test('a model that could not be saved is saved by --resume without training again', async () => {
    const out = path.join(tmp, 'resume-save');
    const save = path.join(out, 'model.safetensors');
    const argv = ['--dataset', 'xor', '--epochs', '3', '--out', out, '--save', save];
    const nodeFs: typeof fs = require('fs'); // eslint-disable-line @typescript-eslint/no-require-imports
    const realOpen = nodeFs.openSync;
    const full = jest.spyOn(nodeFs, 'openSync').mockImplementation(((file: fs.PathLike, ...rest: unknown[]) => {
      if (String(file).includes('.model.safetensors.'))
        throw Object.assign(new Error('ENOSPC: no space left on device'), { code: 'ENOSPC' });
      return (realOpen as (...a: unknown[]) => number)(file, ...rest);
    }) as typeof fs.openSync);
    let failed: Run;
    try {
      failed = await run(
        trainIn(() => undefined),
        argv,
      );
    } finally {
      full.mockRestore();
    }
    expect(failed.code).toBe(1);
    expect(failed.stderr).toMatch(/the same command with --resume saves it without training again/);
    expect(fs.existsSync(path.join(out, 'resume'))).toBe(true);
    const lines: string[] = [];
    const r = await run(
      trainIn((l) => lines.push(l)),
      [...argv, '--resume'],
    );
    expect(r.code).toBe(0);
    expect(lines.filter((l) => /^epoch /.test(l))).toEqual([]);
    expect(load(save)).toBeInstanceOf(Sequential);
    expect(fs.existsSync(path.join(out, 'resume'))).toBe(false);
  });
});

describe('neurone predict', () => {
  test('a small model file whose activations are huge: refused naming the layer, or run in smaller batches', () => {
    const png = path.join(tmp, 'for-upsample.png');
    writePng(png, (i) => i % 256);
    const upsampler = (scale: number) =>
      new Sequential(new Reshape([16, 16, 1]), new Upsample2D(scale), new GlobalAvgPool2D(), new Linear(1, 10));
    // 16·4096 squared: 4.3 billion values a sample, 16 GiB, from a file of a few hundred bytes.
    const huge = path.join(tmp, 'upsample-4096.safetensors');
    save(upsampler(4096), huge);
    expect(fs.statSync(huge).size).toBeLessThan(2000);
    const r = cli(['predict', '--model', huge, png]);
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(
      /^neurone: predict: Upsample2D\(4096\) at position 1 outputs \(batch, 65536, 65536, 1\), 4,294,967,296 values a sample; a command runs at most 268,435,456 \(1 GiB\) in one activation\n$/,
    );
    // 16·128 squared per sample fits; the command runs it 64 samples at a time.
    const large = path.join(tmp, 'upsample-128.safetensors');
    seed(1);
    const net = upsampler(128);
    save(net, large);
    const ok = cli(['predict', '--model', large, png, png]);
    expect(ok.stderr).toBe('');
    expect(ok.code).toBe(0);
    expect(commandBatchSize(net, [1, 256], 'predict')).toBe(64);
  });

  test('JSON and CSV as Windows tools save them (UTF-8 with a byte-order mark, UTF-16) read as plain UTF-8 does', async () => {
    const rows = [
      [0.5, -1, 2, 0.25],
      [1, 0, -0.5, 3],
    ];
    const json = JSON.stringify(rows);
    const csv = `a,b,c,d\r\n${rows.map((r) => r.join(',')).join('\r\n')}\r\n`;
    const encodings: [string, (text: string) => Buffer][] = [
      ['utf-8 with a mark', (t) => Buffer.concat([Buffer.from([0xef, 0xbb, 0xbf]), Buffer.from(t, 'utf8')])],
      ['utf-16le', (t) => Buffer.concat([Buffer.from([0xff, 0xfe]), Buffer.from(t, 'utf16le')])],
      ['utf-16be', (t) => Buffer.concat([Buffer.from([0xfe, 0xff]), Buffer.from(t, 'utf16le').swap16()])],
    ];
    const printed = async (file: string): Promise<string[]> => {
      const lines: string[] = [];
      expect(await predictCommand(['--model', mlpFile, '--top', '1', file], (t) => lines.push(...t.trimEnd().split('\n')))).toBe(0);
      return lines.map((l) => l.replace(/^\S+/, ''));
    };
    const plain = path.join(tmp, 'plain-rows.json');
    fs.writeFileSync(plain, json);
    const expected = await printed(plain);
    expect(expected).toHaveLength(2);
    for (const [name, encode] of encodings) {
      const jsonFile = path.join(tmp, `rows-${name.replace(/\W+/g, '-')}.json`);
      fs.writeFileSync(jsonFile, encode(json));
      expect({ name, lines: await printed(jsonFile) }).toEqual({ name, lines: expected });
      const csvFile = path.join(tmp, `rows-${name.replace(/\W+/g, '-')}.csv`);
      fs.writeFileSync(csvFile, encode(csv));
      expect({ name, lines: await printed(csvFile) }).toEqual({ name, lines: expected });
    }
    // On standard input, a JSON array behind a mark is told from CSV by its first bytes.
    const r = cli(['predict', '--model', mlpFile, '--top', '1', '-'], {}, encodings[0][1](json));
    expect(r.stderr).toBe('');
    expect(
      r.stdout
        .trimEnd()
        .split('\n')
        .map((l) => l.replace(/^\S+/, '')),
    ).toEqual(expected);
  });

  test('rows are printed batch by batch as computed (| head gets its lines early), the same as in one call', async () => {
    // 600 rows of 4 values: batches of 256, 256 and 88.
    seed(3);
    const x = randn([600, 4]);
    const rows = path.join(tmp, 'many-rows.json');
    fs.writeFileSync(rows, JSON.stringify(Array.from({ length: 600 }, (_, i) => Array.from(x.data.subarray(4 * i, 4 * i + 4)))));
    const predicted = jest.spyOn(trainModule, 'predict');
    const chunks: { predictCalls: number; lines: string[] }[] = [];
    try {
      const code = await predictCommand(['--model', mlpFile, '--top', '1', rows], (text) =>
        chunks.push({ predictCalls: predicted.mock.calls.length, lines: text.trimEnd().split('\n') }),
      );
      expect(code).toBe(0);
    } finally {
      predicted.mockRestore();
    }
    expect(chunks.map((c) => [c.predictCalls, c.lines.length])).toEqual([
      [1, 256],
      [2, 256],
      [3, 88],
    ]);
    const whole = predict(load(mlpFile), x).data;
    const printed = chunks.flatMap((c) => c.lines);
    printed.forEach((line, i) => {
      const [, name, cls, p] = /^(\S+)\s+class (\d) {2}\(\d (\d\.\d{4})\)$/.exec(line) ?? [];
      expect(name).toBe(`${rows}:${i}`);
      const scores = Array.from(whole.subarray(3 * i, 3 * i + 3));
      const best = scores.indexOf(Math.max(...scores));
      expect(Number(cls)).toBe(best);
      expect(Math.abs(Number(p) - Math.exp(scores[best]))).toBeLessThan(1e-4);
    });
  });

  test.each([
    ['with --out, the file gets every row and the command ends 0', true],
    ['without --out, the command stops quietly with 141', false],
  ])('a reader that leaves after the first line (predict | head -1): %s', async (_, withOut) => {
    // 20,000 rows print over 600 KB, more than a pipe buffers: the command is still writing when
    // the reader goes.
    const count = 20000;
    const rows = path.join(tmp, `head-rows-${withOut}.csv`);
    fs.writeFileSync(rows, Array.from({ length: count }, (_, i) => `${i % 7},${i % 5},${i % 3},1`).join('\n') + '\n');
    const csv = path.join(tmp, `head-rows-${withOut}-out.csv`);
    const { first, stderr, code } = await headOne(
      [...tsFile(path.join(root, 'lib', 'cli', 'main.ts')), 'predict', '--model', mlpFile, ...(withOut ? ['--out', csv] : []), rows],
      { cwd: root, guardMs: 90000 },
    );
    expect(first).toMatch(new RegExp(`^${esc(rows)}:0 +class \\d`));
    if (!withOut) {
      expect([code, stderr]).toEqual([141, '']);
      return;
    }
    expect([code, stderr]).toEqual([0, `neurone: predictions written to ${csv}\n`]);
    const lines = fs.readFileSync(csv, 'utf8').trimEnd().split('\n');
    expect(lines).toHaveLength(count + 1);
    expect(lines[0]).toBe('input,class,p0,p1,p2');
    expect(lines[count]).toMatch(new RegExp(`^"${esc(rows)}:${count - 1}",\\d,`));
  });

  test('an IDX file of more input values than predict takes: exit 2 before they become floats', () => {
    // 8,193 examples of 8,192 bytes: 67 MB of payload in a 65 kB gzip, 268 MB as float32.
    const big = path.join(tmp, 'big-idx3-ubyte.gz');
    fs.writeFileSync(big, zlib.gzipSync(encodeIdx(new Uint8Array(8193 * 8192), [8193, 8192])));
    const r = cli(['predict', '--model', cnnFile, big]);
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(
      /^neurone: predict: .*big-idx3-ubyte\.gz: 67,117,056 input values, more than the 67,108,864 predict takes in one run; split the input\n$/,
    );
  });

  test('many small rows, or rows of 0 values, are refused before a row is made (a 12-byte IDX file ran out of memory)', () => {
    const zero = path.join(tmp, 'zero-cols.idx');
    fs.writeFileSync(zero, encodeIdx(new Uint8Array(0), [2 ** 28, 0]));
    expect(cli(['predict', '--model', cnnFile, zero]).stderr).toBe(
      `neurone: predict: ${zero}: samples of 0 values (dimensions 268435456 × 0)\n`,
    );
    const tall = path.join(tmp, 'one-col.idx.gz');
    fs.writeFileSync(tall, zlib.gzipSync(encodeIdx(new Uint8Array(2 ** 20), [2 ** 20, 1])));
    expect(cli(['predict', '--model', cnnFile, tall]).stderr).toBe(
      `neurone: predict: ${tall}: 1,048,576 rows, more than the 262,144 predict takes in one run; split the input\n`,
    );
    // The text readers count the rows before parsing them.
    const csv = path.join(tmp, 'ones.csv');
    fs.writeFileSync(csv, '1\n'.repeat(2 ** 20));
    const r = cli(['predict', '--model', cnnFile, csv]);
    expect([r.code, r.stderr]).toEqual([
      2,
      `neurone: predict: ${csv}: 1,048,576 rows, more than the 262,144 predict takes in one run; split the input\n`,
    ]);
    const json = path.join(tmp, 'ones.json');
    fs.writeFileSync(json, `[${'[1],'.repeat(2 ** 20 - 1)}[1]]`);
    expect(cli(['predict', '--model', cnnFile, json]).stderr).toBe(
      `neurone: predict: ${json}: 1,048,576 rows, more than the 262,144 predict takes in one run; split the input\n`,
    );
  });

  test('an IDX file of floats holding NaN or a value past float32 is refused, as CSV and JSON refuse them', () => {
    const header = Buffer.from([0, 0, 0x0d, 2, 0, 0, 0, 1, 0, 0, 1, 0]); // float32, 1 × 256
    const values = Buffer.alloc(4 * 256);
    values.writeFloatBE(NaN, 4 * 7);
    const nan = path.join(tmp, 'nan.idx');
    fs.writeFileSync(nan, Buffer.concat([header, values]));
    const r = cli(['predict', '--model', cnnFile, nan]);
    expect([r.code, r.stderr]).toEqual([2, `neurone: predict: ${nan}: sample 0 value 7 is NaN, expected a finite float32 number\n`]);
  });

  test('--invert reads dark ink on a light page as the digit sets draw it; without it, such an image gets a note', () => {
    const ink = path.join(tmp, 'ink-on-paper.png');
    const light = writePng(ink, (i) => (i % 16 > 5 && i % 16 < 9 ? 20 : 240));
    const chalk = path.join(tmp, 'chalk-on-slate.png');
    writePng(chalk, (i) => 255 - (i % 16 > 5 && i % 16 < 9 ? 20 : 240));
    const plain = cli(['predict', '--model', cnnFile, ink]);
    expect(plain.code).toBe(0);
    expect(plain.stderr).toBe(
      `neurone: note: ${ink} looks like dark ink on a light page; MNIST and USPS digits are light on dark: if the model learnt from them, predict again with --invert\n`,
    );
    const inverted = cli(['predict', '--model', cnnFile, '--invert', ink]);
    const direct = cli(['predict', '--model', cnnFile, chalk]);
    expect([inverted.stderr, direct.stderr]).toEqual(['', '']);
    // The inverted page is the light-on-dark image: same class and probabilities.
    expect(inverted.stdout.replace(ink, 'x')).toBe(direct.stdout.replace(chalk, 'x'));
    expect(plain.stdout.replace(ink, 'x')).not.toBe(direct.stdout.replace(chalk, 'x'));
    expect(light[0]).toBeCloseTo(240 / 255, 6);
  });

  test('an IDX file of 0 examples: exit 2 and one line', () => {
    const empty = path.join(tmp, 'empty-idx3-ubyte');
    fs.writeFileSync(empty, encodeIdx(new Uint8Array(0), [0, 16, 16]));
    const r = cli(['predict', '--model', cnnFile, empty]);
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/^neurone: predict: .*empty-idx3-ubyte: no examples to predict\n$/);
  });

  test('PNG, IDX, CSV and JSON rows: the classes and probabilities of predict, printed and written', () => {
    const a = writePng(path.join(tmp, 'a.png'), (i) => (i * 7) % 256);
    const b = writePng(path.join(tmp, 'b.png'), (i) => (i % 16 < 8 ? 255 : 0));
    const idxRows = new Uint8Array(2 * 256).map((_, i) => (i * 13) % 256);
    fs.writeFileSync(path.join(tmp, 'two-idx3-ubyte'), encodeIdx(idxRows, [2, 16, 16]));
    const csvRow = Array.from({ length: 256 }, (_, i) => (i % 5) / 4);
    fs.writeFileSync(path.join(tmp, 'rows.csv'), `${csvRow.map((_, i) => `px${i}`).join(',')}\n${csvRow.join(',')}\n`);
    fs.writeFileSync(path.join(tmp, 'rows.json'), JSON.stringify([csvRow.map((v) => 1 - v)]));
    const out = path.join(tmp, 'predictions.json');
    const r = cli(
      ['predict', '--model', cnnFile, '--out', out, 'a.png', 'b.png', 'two-idx3-ubyte', 'rows.csv', 'rows.json'].map((s) =>
        s.includes('.') || s.includes('-ubyte') ? (path.isAbsolute(s) ? s : path.join(tmp, s)) : s,
      ),
    );
    expect(r.stderr).toBe(`neurone: predictions written to ${out}\n`);
    expect(r.code).toBe(0);
    const rows = [
      a,
      b,
      ...[0, 1].map((k) => Float32Array.from(idxRows.subarray(k * 256, (k + 1) * 256), (v) => v / 255)),
      Float32Array.from(csvRow),
      Float32Array.from(csvRow, (v) => 1 - v),
    ];
    const x = new Float32Array(rows.length * 256);
    rows.forEach((row, i) => x.set(row, i * 256));
    const expected = softmaxRows(predict(cnn, { shape: [rows.length, 256, 1], data: x }).data, 10);
    const written = JSON.parse(fs.readFileSync(out, 'utf8')) as { input: string; class: number; probabilities: number[] }[];
    expect(written.map((w) => path.basename(w.input))).toEqual([
      'a.png',
      'b.png',
      'two-idx3-ubyte:0',
      'two-idx3-ubyte:1',
      'rows.csv:0',
      'rows.json:0',
    ]);
    written.forEach((w, i) => {
      w.probabilities.forEach((p, c) => expect(Math.abs(p - expected[i][c])).toBeLessThan(1e-5));
      expect(w.class).toBe(expected[i].indexOf(Math.max(...expected[i])));
    });
    const lines = r.stdout.trim().split('\n');
    expect(lines[0]).toMatch(new RegExp(`a\\.png\\s+class ${written[0].class}\\s+\\(${written[0].class} \\d\\.\\d{4}, `));
    // One line per input on stdout (for a pipe); where the file went, on stderr (above).
    expect(lines).toHaveLength(written.length);
  });

  test('- reads standard input as the file its bytes are: PNG, IDX, CSV, JSON, gzipped or not', () => {
    const png = path.join(tmp, 'stdin.png');
    writePng(png, (i) => (i * 11) % 256);
    const idx = path.join(tmp, 'stdin-idx3-ubyte.gz');
    fs.writeFileSync(
      idx,
      zlib.gzipSync(
        encodeIdx(
          new Uint8Array(2 * 256).map((_, i) => (i * 7) % 256),
          [2, 16, 16],
        ),
      ),
    );
    const row = Array.from({ length: 256 }, (_, i) => (i % 7) / 6);
    const csv = path.join(tmp, 'stdin.csv');
    fs.writeFileSync(csv, `${row.join(',')}\n${row.map((v) => 1 - v).join(',')}\n`);
    const json = path.join(tmp, 'stdin.json');
    fs.writeFileSync(json, ` \n${JSON.stringify([row])}`);
    const temps = (): string[] => fs.readdirSync(os.tmpdir()).filter((f) => f.startsWith('neurone-stdin-'));
    const before = temps();
    const answers = (stdout: string): string[] =>
      stdout
        .trim()
        .split('\n')
        .map((l) => l.replace(/^\S+\s+/, ''));
    for (const file of [png, idx, csv, json]) {
      const fromFile = cli(['predict', '--model', cnnFile, file]);
      const piped = cli(['predict', '--model', cnnFile, '-'], {}, fs.readFileSync(file));
      expect([file, piped.code, piped.stderr]).toEqual([file, 0, '']);
      expect(answers(piped.stdout)).toEqual(answers(fromFile.stdout));
      expect(piped.stdout).toMatch(file === png ? /^- {2}class/ : /^-:0 {2}class/);
    }
    // Errors name "-", not the temporary copy; "-" twice and a gzipped PNG are refused.
    const bad = cli(['predict', '--model', cnnFile, '-'], {}, `${row.join(',')}\n1,2\n`);
    expect(bad.code).toBe(2);
    expect(bad.stderr).toMatch(/^neurone: predict: -:1 has 2 values, -:0 has 256/);
    expect(bad.stderr).not.toContain('neurone-stdin-');
    expect(cli(['predict', '--model', cnnFile, '-', '-'], {}, '1').stderr).toBe(
      'neurone: predict: - (standard input) is given more than once\n',
    );
    expect(cli(['predict', '--model', cnnFile, '-'], {}, zlib.gzipSync(fs.readFileSync(png))).stderr).toMatch(
      /^neurone: predict: -: unknown kind of input/,
    );
    expect(temps()).toEqual(before);
  });

  test('gzipped CSV and JSON rows are read as the plain files; a gzip bomb is stopped at the text bound; no .png.gz', async () => {
    // Before: a .csv.gz was taken by its name and parsed as text ("separated by semicolons").
    const csv = '0.5,-1,2,0\n1,1,0,0\n';
    const json = JSON.stringify([[0.25, 0, 0, 1]]);
    fs.writeFileSync(path.join(tmp, 'plain.csv'), csv);
    fs.writeFileSync(path.join(tmp, 'plain.json'), json);
    fs.writeFileSync(path.join(tmp, 'packed.csv.gz'), zlib.gzipSync(csv));
    fs.writeFileSync(path.join(tmp, 'packed.json.gz'), zlib.gzipSync(json));
    const answers = async (files: string[]): Promise<string[]> => {
      const r = await run(predictCommand, ['--model', mlpFile, ...files.map((f) => path.join(tmp, f))]);
      expect(r.stderr).toBe('');
      expect(r.code).toBe(0);
      return r.stdout
        .trim()
        .split('\n')
        .map((l) => l.replace(/^\S+/, ''));
    };
    expect(await answers(['packed.csv.gz', 'packed.json.gz'])).toEqual(await answers(['plain.csv', 'plain.json']));
    // 100 MiB of zeros in 100 KiB: inflated no further than the 64 MiB predict reads of text.
    fs.writeFileSync(path.join(tmp, 'bomb.csv.gz'), zlib.gzipSync(Buffer.alloc(100 * 2 ** 20, 0x30)));
    expectBadInput(
      await run(predictCommand, ['--model', mlpFile, path.join(tmp, 'bomb.csv.gz')]),
      /predict: .*bomb\.csv\.gz: gzip content is longer than the 67108864 bytes allowed for a CSV file$/m,
    );
    fs.writeFileSync(path.join(tmp, 'image.png.gz'), zlib.gzipSync(Buffer.from('not read')));
    expectBadInput(
      await run(predictCommand, ['--model', mlpFile, path.join(tmp, 'image.png.gz')]),
      /image\.png\.gz: unknown kind of input \(expected \.png, an IDX file \(\*-ubyte, \*\.idx\), \.csv or \.json, the last three also as \.gz\)$/m,
    );
  });

  test('several outputs: Sigmoid outputs read as they are, logits through a softmax that large ones do not overflow, ties by class', async () => {
    const rows = path.join(tmp, 'two-zeros.json');
    fs.writeFileSync(rows, JSON.stringify([[0, 0]]));
    const model = (bias: number[], ...after: Module[]): string => {
      const linear = new Linear(2, bias.length);
      linear.weight.data.fill(0);
      linear.bias!.data.set(bias);
      const file = path.join(tmp, `several-${bias.join('_')}-${after.length}.safetensors`);
      save(new Sequential(linear, ...after), file);
      return file;
    };
    const probabilities = async (file: string): Promise<{ class: number; probabilities: number[] }> => {
      const out = path.join(tmp, 'several.json');
      const r = await run(predictCommand, ['--model', file, '--out', out, rows]);
      expect(r.code).toBe(0);
      return JSON.parse(fs.readFileSync(out, 'utf8'))[0];
    };
    // Independent sigmoids (multi-label): each output is its own probability, not renormalised.
    const sigmoid = await probabilities(model([2, 0, -2], new Sigmoid()));
    const logistic = (v: number): number => 1 / (1 + Math.exp(-v));
    expect(sigmoid.class).toBe(0);
    [logistic(2), 0.5, logistic(-2)].forEach((p, c) => expect(sigmoid.probabilities[c]).toBeCloseTo(p, 5));
    // Logits of 100 and 99: exp(100) is past float32's range, the softmax's shift keeps it finite.
    const large = await probabilities(model([100, 99]));
    expect(large.class).toBe(0);
    [logistic(1), logistic(-1)].forEach((p, c) => expect(large.probabilities[c]).toBeCloseTo(p, 5));
    // Equal scores: the lower class first, as argmax picks it.
    const tied = await run(predictCommand, ['--model', model([0, 0, 0]), '--top', '3', rows]);
    expect(tied.stdout).toContain('class 0  (0 0.3333, 1 0.3333, 2 0.3333)');
  });

  test('a CSV header is a first line with any field that is not a number, even beside numeric names', async () => {
    const file = path.join(tmp, 'header-mixed.csv');
    fs.writeFileSync(file, 'name,1,2,3\n0.1,0.2,0.3,0.4\n');
    const r = await run(predictCommand, ['--model', mlpFile, file]);
    expect(r.code).toBe(0);
    expect(r.stdout.trim().split('\n')).toHaveLength(1);
    expect(r.stdout).toMatch(/header-mixed\.csv:0 +class \d/); // the first row of values
  });

  test('a model of one output is a binary classifier: P(class 1) after Sigmoid, else the logistic of its logit', async () => {
    // Before: a softmax over the one output made every row "class 0" with probability 1.
    const rows = [
      [1, 0, 0, 0],
      [0, 0, 0, 1],
      [0.5, 0, 0, 0.5],
    ];
    fs.writeFileSync(path.join(tmp, 'binary-rows.json'), JSON.stringify(rows));
    const linear = new Linear(4, 1);
    linear.weight.data.set([3, 0, 0, -2]);
    linear.bias!.data.set([0.25]);
    const logistic = (v: number): number => 1 / (1 + Math.exp(-v));
    const logits = rows.map((r) => 3 * r[0] - 2 * r[3] + 0.25);
    for (const withSigmoid of [true, false]) {
      const file = path.join(tmp, `binary-${withSigmoid}.safetensors`);
      save(withSigmoid ? new Sequential(linear, new Sigmoid()) : new Sequential(linear), file);
      const out = path.join(tmp, `binary-${withSigmoid}.json`);
      const r = await run(predictCommand, ['--model', file, '--out', out, path.join(tmp, 'binary-rows.json')]);
      expect(r.code).toBe(0);
      const written = JSON.parse(fs.readFileSync(out, 'utf8')) as { class: number; probabilities: number[] }[];
      written.forEach((w, i) => {
        const p1 = logistic(logits[i]);
        expect(w.probabilities).toHaveLength(2);
        expect(Math.abs(w.probabilities[1] - p1)).toBeLessThan(1e-5);
        expect(Math.abs(w.probabilities[0] - (1 - p1))).toBeLessThan(1e-5);
        expect(w.class).toBe(p1 > 0.5 ? 1 : 0);
      });
      expect(written.map((w) => w.class)).toEqual([1, 0, 1]);
    }
    const degenerate = path.join(tmp, 'binary-softmax.safetensors');
    save(new Sequential(new Linear(4, 1), new LogSoftmax()), degenerate);
    expectBadInput(
      await run(predictCommand, ['--model', degenerate, path.join(tmp, 'binary-rows.json')]),
      /predict: the model ends in LogSoftmax over one output, which says nothing/,
    );
  });

  test('rows are read in the sample shape the model file stores: an 8×32 image as a row is not 16×16', async () => {
    // Before, a row of 256 values went to this model as a 16×16 image, which it also takes: other
    // answers, exit 0. Rows of 105 values for a 7×5×3 model, or 18 for a (6, 3) sequence, were refused.
    seed(5);
    const image = new Sequential(
      new Conv2D(3, 1, 4, 1, { padding: 1 }),
      new ReLU(),
      new MaxPool2D([2, 4]),
      new Conv2D([1, 3], 4, 3),
      new GlobalAvgPool2D(),
      new LogSoftmax(),
    );
    const colour = new Sequential(new Conv2D(3, 3, 4), new GlobalAvgPool2D(), new Linear(4, 3), new LogSoftmax());
    const sequence = new Sequential(new BatchNorm1D(3), new Conv1D(2, 3, 4), new Flatten(), new Linear(20, 3), new LogSoftmax());
    sequence.eval();
    const cases: [Module, number[]][] = [
      [image, [8, 32, 1]],
      [colour, [7, 5, 3]],
      [sequence, [6, 3]],
    ];
    for (const [net, shape] of cases) {
      const file = path.join(tmp, `saved-shape-${shape.join('x')}.safetensors`);
      save(net, file, { inputShape: shape });
      const x = randn([2, ...shape]);
      const rows = path.join(tmp, `rows-${shape.join('x')}.json`);
      const values = x.data.length / 2;
      fs.writeFileSync(rows, JSON.stringify([Array.from(x.data.subarray(0, values)), Array.from(x.data.subarray(values))]));
      const r = await run(predictCommand, ['--model', file, '--top', '3', rows]);
      expect(r.stderr).toBe('');
      expect(r.code).toBe(0);
      const expected = predict(net, x).data.map(Math.exp);
      const printed = r.stdout
        .trim()
        .split('\n')
        .map((line) => [...line.matchAll(/(\d) (\d\.\d{4})/g)].map((m) => [Number(m[1]), Number(m[2])] as const));
      expect(printed).toHaveLength(2);
      printed.forEach((row, i) => row.forEach(([c, p]) => expect(Math.abs(p - expected[3 * i + c])).toBeLessThan(1e-4)));
    }
    // The model and its stored shape come from one open of the file: a file replaced between two
    // reads could give one model's weights another's shape.
    const opened = jest.spyOn(fsModule, 'openSync');
    try {
      const file = path.join(tmp, 'saved-shape-8x32x1.safetensors');
      const rows = path.join(tmp, 'rows-8x32x1.json');
      expect((await run(predictCommand, ['--model', file, rows])).code).toBe(0);
      expect(opened.mock.calls.filter(([f]) => f === file)).toHaveLength(1);
      opened.mockClear();
      const onnx = path.join(tmp, 'saved-shape-once.onnx');
      expect((await run(exportCommand, [file, '--onnx', onnx])).code).toBe(0);
      expect(opened.mock.calls.filter(([f]) => f === file)).toHaveLength(1);
    } finally {
      opened.mockRestore();
    }
    // A row of another size: the stored shape is said.
    const odd = path.join(tmp, 'rows-260.json');
    fs.writeFileSync(odd, JSON.stringify([Array.from({ length: 260 }, () => 0.5)]));
    expectBadInput(
      await run(predictCommand, ['--model', path.join(tmp, 'saved-shape-8x32x1.safetensors'), odd]),
      /predict: .*rows-260\.json:0 has 260 values per row, but the model was saved for samples of shape \[8, 32, 1\] \(256 values\)$/m,
    );
  });

  test('images the model cannot take are told as images: their size, or their channels', async () => {
    // Before: "g8x32.png has 256 values per row (8×32), but the model takes 256 (16×16) or 289 (17×17)",
    // and a 3-channel model on USPS "has 256 values per row (16×16×3), but the model takes 27 (3×3×3)".
    seed(3);
    /** predict with `net` on a grey PNG of `width` × `height`: refused with `message`. */
    const refusesImage = async (name: string, net: Sequential, width: number, height: number, message: RegExp): Promise<void> => {
      const model = path.join(tmp, `${name}.safetensors`);
      save(net, model);
      const png = new PNG({ width, height });
      png.data.fill(128);
      const image = path.join(tmp, `${name}-${width}x${height}.png`);
      fs.writeFileSync(image, PNG.sync.write(png));
      expectBadInput(await run(predictCommand, ['--model', model, image]), message);
    };
    const lenet = new Sequential(new Conv2D(5, 1, 4), new MaxPool2D(2, 2), new Flatten(), new Linear(null, 10));
    lenet.build([16, 16, 1]);
    await refusesImage('lenet-16', lenet, 32, 8, /predict: .*lenet-16-32x8\.png has 8×32 images, but the model takes 16×16 or 17×17$/m);
    // LeNet's Flatten → Linear(256) takes 28×28 to 31×31 (each pooling floors): said as that range,
    // where a fourth size found made it "28×28, 29×29, 30×30 or more", as if 40×40 fitted.
    const lenet28 = new Sequential(
      new Conv2D(5, 1, 6),
      new MaxPool2D(2, 2),
      new Conv2D(5, 6, 16),
      new MaxPool2D(2, 2),
      new Flatten(),
      new Linear(256, 10),
    );
    await refusesImage(
      'lenet-28',
      lenet28,
      40,
      40,
      /predict: .*lenet-28-40x40\.png has 40×40 images, but the model takes 28×28 to 31×31$/m,
    );
    // Pooled to 1×1 before its Linear, a model takes sides k to 2k − 1, past the search's first
    // bound (twice the smallest size's values): followed on to where it refuses, not "or larger".
    const pooled = new Sequential(new Conv2D(1, 1, 4), new MaxPool2D(4, 4), new Flatten(), new Linear(4, 2));
    await refusesImage('pooled-to-one', pooled, 9, 9, /predict: .*pooled-to-one-9x9\.png has 9×9 images, but the model takes 4×4 to 7×7$/m);
    // A model that takes every size from its smallest on: the search finds sizes up to its end, and
    // the list says so; the counts are square ones (144, 169, ...), not every count from 144.
    const anySize = new Sequential(new Conv2D(3, 1, 4), new Conv2D([1, 10], 4, 4), new GlobalAvgPool2D(), new Linear(4, 2));
    const anySizeFile = path.join(tmp, 'any-size.safetensors');
    save(anySize, anySizeFile);
    expectBadInput(
      await run(evaluateCommand, ['--model', anySizeFile, '--dataset', 'xor']),
      /evaluate: xor has 2 values per row, but the model takes 144 \(12×12\) or a larger square number of values per row$/m,
    );
    const colour = new Sequential(new Conv2D(3, 3, 4), new GlobalAvgPool2D(), new Linear(4, 10));
    const colourFile = path.join(tmp, 'colour-any-size.safetensors');
    save(colour, colourFile);
    expectBadInput(
      await run(evaluateCommand, ['--model', colourFile, '--dataset', 'usps']),
      /evaluate: usps has images of 1 channel \(16×16\), but the model's first layer takes 3$/m,
    );
  });

  test('--out .csv quotes input names as CSV does: a quote doubled, a backslash kept', async () => {
    // Before, names were written as JSON strings: "d\"q,1.png" split into two columns and
    // back\slash.png came back with two backslashes.
    const names = ['d"q,1.json', 'back\\slash.json'];
    for (const name of names) fs.writeFileSync(path.join(tmp, name), JSON.stringify([[0.1, 0.2, 0.3, 0.4]]));
    const out = path.join(tmp, 'names.csv');
    const r = await run(predictCommand, ['--model', mlpFile, '--out', out, ...names.map((n) => path.join(tmp, n))]);
    expect(r.code).toBe(0);
    const lines = fs.readFileSync(out, 'utf8').trim().split('\n');
    expect(lines[0]).toBe('input,class,p0,p1,p2');
    names.forEach((name, i) => {
      const quoted = `"${path.join(tmp, name).replace(/"/g, '""')}:0"`;
      expect(lines[i + 1].startsWith(`${quoted},`)).toBe(true);
      expect(lines[i + 1].slice(quoted.length + 1).split(',')).toHaveLength(4);
    });
  });

  test('bad input: one line, exit 2, no --out file', async () => {
    const out = path.join(tmp, 'never.csv');
    writePng(path.join(tmp, 'small.png'), () => 9, 8);
    expectBadInput(
      cli(['predict', '--model', cnnFile, '--out', out, path.join(tmp, 'small.png')]),
      /predict: .*small\.png has 64 values per row \(8×8\), but the model takes 256 \(16×16\) or 257 values per row$/m,
    );
    // Rows of numbers are told the row sizes, with no image size made up for them.
    const four = path.join(tmp, 'linear-4.safetensors');
    save(new Sequential(new Linear(4, 3)), four);
    fs.writeFileSync(path.join(tmp, 'rows-3.json'), '[[1, 2, 3]]');
    expectBadInput(
      await run(predictCommand, ['--model', four, path.join(tmp, 'rows-3.json')]),
      /predict: .*rows-3\.json:0 has 3 values per row, but the model takes 4 values per row$/m,
    );
    // A model whose outputs are images, not scores: said, with the predict prefix.
    const imageOut = path.join(tmp, 'conv-out.safetensors');
    save(new Sequential(new Conv2D(3, 1, 2, 1, { padding: 1 })), imageOut);
    fs.writeFileSync(path.join(tmp, 'rows-16.json'), JSON.stringify([Array(16).fill(0.5)]));
    expectBadInput(
      await run(predictCommand, ['--model', imageOut, path.join(tmp, 'rows-16.json')]),
      /^neurone: predict: the model outputs \(batch, 4, 4, 2\), not one score per class: predict takes classifiers/,
    );
    // A model none of whose sizes is searched: the first layer's own words.
    const huge = path.join(tmp, 'huge-linear.safetensors');
    save(new Sequential(new Linear(70000, 2)), huge);
    expectBadInput(
      await run(predictCommand, ['--model', huge, path.join(tmp, 'small.png')]),
      /small\.png has 64 values per row \(8×8\), which the model does not take: Linear\(70000, 2\) at position 0: expected input \(batch, 70000\)/,
    );
    fs.writeFileSync(path.join(tmp, 'bad.csv'), '1,2,3,4\n1,2,x,4\n');
    expectBadInput(
      await run(predictCommand, ['--model', mlpFile, '--out', out, path.join(tmp, 'bad.csv')]),
      /bad\.csv line 2 column 3: 'x' is not a finite float32 number/,
    );
    /** predict with the MLP on a file `name` holding `text`: refused with `message`. */
    const refusesRows = async (name: string, text: string, message: RegExp): Promise<void> => {
      fs.writeFileSync(path.join(tmp, name), text);
      expectBadInput(await run(predictCommand, ['--model', mlpFile, path.join(tmp, name)]), message);
    };
    // A first row holding NaN or an empty field is data with a bad value, not a header.
    await refusesRows('nan-first.csv', '1,2,NaN,4\n', /nan-first\.csv line 1 column 3: 'NaN' is not a finite float32 number/);
    await refusesRows('empty-field.csv', '1,,3,4\n1,2,3,4\n', /empty-field\.csv line 1 column 2: '' is not a finite float32 number/);
    // Past float32: before, read as Infinity (a CSV row's prediction, a JSON row's NaN) with exit 0.
    await refusesRows(
      'past-float32.csv',
      'a,b,c,d\n1e39,0,0,0\n',
      /past-float32\.csv line 2 column 1: '1e39' is not a finite float32 number/,
    );
    await refusesRows(
      'past-float32.json',
      '[[1, 2, 3, 4], [3.5e38, 0, 0, 0]]',
      /past-float32\.json: row 1 value 0 is 3\.5e\+38, expected a finite float32 number/,
    );
    await refusesRows('header-only.csv', 'a,b,c,d\n', /header-only\.csv: a header and no rows/);
    // Before: "a header and no rows" (one semicolon line read as a header cell), and "0 values
    // per row" for an empty JSON array.
    await refusesRows(
      'semicolons.csv',
      '0.1;0.2;0.3;0.4\n',
      /semicolons\.csv: the values are separated by semicolons; predict reads commas$/m,
    );
    await refusesRows('tabs.csv', 'a\tb\tc\td\n1\t2\t3\t4\n', /tabs\.csv: the values are separated by tabs/);
    await refusesRows('empty.json', '[]', /empty\.json: no rows \(an empty array\)$/m);
    await refusesRows('empty-row.json', '[[0.1, 0.2, 0.3, 0.4], []]', /empty-row\.json: row 1 is empty$/m);
    expectBadInput(
      await run(predictCommand, ['--model', mlpFile, '--out', out, path.join(tmp, 'notes.txt')]),
      /notes\.txt: unknown kind of input \(expected \.png/,
    );
    expectBadInput(
      await run(predictCommand, ['--model', path.join(tmp, 'absent.safetensors'), path.join(tmp, 'bad.csv')]),
      /predict: load: .*absent\.safetensors/,
    );
    expectBadInput(await run(predictCommand, [path.join(tmp, 'bad.csv')]), /predict: --model FILE is required/);
    expectBadInput(
      await run(predictCommand, ['--model', mlpFile, '--top', '0', path.join(tmp, 'bad.csv')]),
      /--top must be an integer >= 1, got '0'/,
    );
    expectBadInput(await run(predictCommand, ['--modle', mlpFile]), /unknown option '--modle' \(did you mean --model\?\)/);
    // A small file announcing a 100000×100000 image: refused from its header, never inflated.
    const bomb = Buffer.from(PNG.sync.write(new PNG({ width: 1, height: 1 })));
    bomb.writeUInt32BE(100000, 16);
    bomb.writeUInt32BE(100000, 20);
    fs.writeFileSync(path.join(tmp, 'bomb.png'), bomb);
    expectBadInput(
      await run(predictCommand, ['--model', mlpFile, path.join(tmp, 'bomb.png')]),
      /bomb\.png: 100000×100000 pixels, more than the 16777216 \(MAX_PNG_PIXELS\) an image may have/,
    );
    expect(fs.existsSync(out)).toBe(false);
  });

  test('a 2-D convolutional model takes PNGs as images: grey, or red, green and blue for 3 channels', async () => {
    // The third model opens with layers that keep the channels: its convolution still says 3.
    const leads = [(): Module[] => [], (): Module[] => [], (): Module[] => [new Dropout(0.2), new BatchNorm2D(3), new ReLU()]];
    for (const [variant, chan] of [1, 3, 3].entries()) {
      seed(4 + chan);
      const net = new Sequential(
        ...leads[variant](),
        new Conv2D(3, chan, 4),
        new ReLU(),
        new MaxPool2D(2, 2),
        new Flatten(),
        new Linear(null, 5),
      );
      net.build([6, 10, chan]);
      const file = path.join(tmp, `conv2d-${chan}-${variant}.safetensors`);
      save(net, file);
      // A 10-wide, 6-tall image: not square, so the image's own size is what reaches the model.
      const png = new PNG({ width: 10, height: 6 });
      const x = new Float32Array(60 * chan);
      for (let i = 0; i < 60; i++) {
        const rgb = [(i * 37) % 256, (i * 11) % 256, 255 - ((i * 5) % 256)];
        png.data.set([...rgb, 255], 4 * i);
        if (chan === 3) rgb.forEach((v, c) => (x[3 * i + c] = v / 255));
        else x[i] = (rgb[0] + rgb[1] + rgb[2]) / 3 / 255;
      }
      const image = path.join(tmp, `wide-${chan}-${variant}.png`);
      fs.writeFileSync(image, PNG.sync.write(png));
      const r = await run(predictCommand, ['--model', file, '--top', '5', image]);
      expect(r.stderr).toBe('');
      expect(r.code).toBe(0);
      const expected = softmaxRows(predict(net, { shape: [1, 6, 10, chan], data: x }).data, 5)[0];
      const printed = [...r.stdout.matchAll(/(\d) (\d\.\d{4})/g)].map((m) => [Number(m[1]), Number(m[2])] as const);
      expect(printed).toHaveLength(5);
      for (const [c, p] of printed) expect(Math.abs(p - expected[c])).toBeLessThan(1e-4);
    }
  });

  test('a CSV of 4 columns through a LogSoftmax model: probabilities are exp of its outputs', () => {
    fs.writeFileSync(path.join(tmp, 'four.csv'), '0.5,-1,2,0\n');
    const out = path.join(tmp, 'four.csv.out.csv');
    const r = cli(['predict', '--model', mlpFile, '--out', out, path.join(tmp, 'four.csv')]);
    expect(r.code).toBe(0);
    const y = predict(load(mlpFile), { shape: [1, 4], data: Float32Array.from([0.5, -1, 2, 0]) }).data;
    const [header, row] = fs.readFileSync(out, 'utf8').trim().split('\n');
    expect(header).toBe('input,class,p0,p1,p2');
    const p = row.split(',').slice(2).map(Number);
    p.forEach((v, c) => expect(Math.abs(v - Math.exp(y[c]))).toBeLessThan(1e-5));
  });
});

describe('neurone export', () => {
  test('--onnx writes exactly toONNX of the loaded model; --torch the PyTorch layout', () => {
    const onnx = path.join(tmp, 'cnn.onnx');
    const torch = path.join(tmp, 'cnn-torch.safetensors');
    const r = cli(['export', cnnFile, '--onnx', onnx, '--torch', torch, '--input-shape', '256,1']);
    expect(r.stderr).toBe('');
    expect(r.code).toBe(0);
    expect(Buffer.compare(fs.readFileSync(onnx), Buffer.from(toONNX(load(cnnFile), { inputShape: [256, 1] })))).toBe(0);
    expect(modelProto().decode(fs.readFileSync(onnx))).toBeTruthy();
    expect(readSafetensors(torch).tensors.get('0.weight')!.shape).toEqual([4, 1, 3]);
    // A model opening with Linear says its input size.
    const mlpOnnx = path.join(tmp, 'mlp.onnx');
    expect(cli(['export', mlpFile, '--onnx', mlpOnnx]).code).toBe(0);
    expect(fs.existsSync(mlpOnnx)).toBe(true);
  });

  test.each([
    ['the ONNX file', '.pair.onnx.'],
    ['the weights', '.pair.pt.safetensors.'],
  ])('--onnx and --torch together: a disk that fills at %s leaves both files as they were', async (_what, full) => {
    const onnx = path.join(tmp, 'pair.onnx');
    const torch = path.join(tmp, 'pair.pt.safetensors');
    fs.writeFileSync(onnx, 'old onnx');
    fs.writeFileSync(torch, 'old weights');
    const disk = diskFullAt((file) => file.includes(full));
    let r: Awaited<ReturnType<typeof run>>;
    try {
      r = await run(exportCommand, [cnnFile, '--onnx', onnx, '--torch', torch, '--input-shape', '256,1']);
    } finally {
      disk.restore();
    }
    expect(disk.hit()).toBe(true);
    expect(r.code).not.toBe(0);
    expect(r.stderr).toMatch(/ENOSPC/);
    expect([fs.readFileSync(onnx, 'utf8'), fs.readFileSync(torch, 'utf8')]).toEqual(['old onnx', 'old weights']);
    expect(fs.readdirSync(tmp).filter((f) => f.startsWith('.pair'))).toEqual([]);
  });

  test('a convolutional model whose Linear fixes the length: the shortest length it takes', async () => {
    const onnx = path.join(tmp, 'cnn-implied.onnx');
    const r = await run(exportCommand, [cnnFile, '--onnx', onnx]);
    expect(r.code).toBe(0);
    expect(r.stdout).toContain('input shape (batch, 256, 1): the shortest the model takes');
    expect(Buffer.compare(fs.readFileSync(onnx), Buffer.from(toONNX(load(cnnFile), { inputShape: [256, 1] })))).toBe(0);
    // A 2-D one: the smallest square image (17×17 fits too: the pooling floors).
    seed(9);
    const lenet = new Sequential(new Conv2D(5, 1, 4), new ReLU(), new MaxPool2D(2, 2), new Flatten(), new Linear(null, 10));
    lenet.build([16, 16, 1]);
    const lenetFile = path.join(tmp, 'lenet-implied.safetensors');
    save(lenet, lenetFile);
    const lenetOnnx = path.join(tmp, 'lenet-implied.onnx');
    const r2 = await run(exportCommand, [lenetFile, '--onnx', lenetOnnx]);
    expect(r2.code).toBe(0);
    expect(r2.stdout).toContain('input shape (batch, 16, 16, 1): the shortest the model takes');
    expect(Buffer.compare(fs.readFileSync(lenetOnnx), Buffer.from(toONNX(lenet, { inputShape: [16, 16, 1] })))).toBe(0);
  });

  test('a Linear used before and after a Flatten still says the input size', async () => {
    // leaves() once skipped a module met twice: the Linear after the Flatten went unseen and
    // export asked for --input-shape.
    const shared = new Linear(4, 4);
    const file = path.join(tmp, 'shared-linear.safetensors');
    save(new Sequential(new ReLU(), shared, new Flatten(), shared), file);
    const r = await run(exportCommand, [file, '--onnx', path.join(tmp, 'shared-linear.onnx')]);
    expect(r.stderr).toBe('');
    expect(r.code).toBe(0);
    expect(r.stdout).toContain('input shape (batch, 4)');
  });

  test('a model saved with its sample shape is exported for that shape, not the smallest square', async () => {
    // Built for 20×12 images: its Linear reads 8×4 pooled positions of 2 channels, which no square image gives.
    seed(10);
    const wide = new Sequential(new Conv2D(5, 1, 2), new ReLU(), new MaxPool2D(2, 2), new Flatten(), new Linear(null, 3));
    wide.build([20, 12, 1]);
    const file = path.join(tmp, 'wide.safetensors');
    save(wide, file, { inputShape: [20, 12, 1] });
    const onnx = path.join(tmp, 'wide.onnx');
    const r = await run(exportCommand, [file, '--onnx', onnx]);
    expect(r.code).toBe(0);
    expect(r.stdout).toContain('input shape (batch, 20, 12, 1): the shape it was saved for (--input-shape to choose)');
    expect(Buffer.compare(fs.readFileSync(onnx), Buffer.from(toONNX(wide, { inputShape: [20, 12, 1] })))).toBe(0);
    // A model of any size is exported for all of them, from the saved shape.
    const fcn = new Sequential(new Conv2D(3, 1, 2), new ReLU(), new GlobalAvgPool2D(), new Linear(2, 3));
    save(fcn, file, { inputShape: [20, 12, 1] });
    const r2 = await run(exportCommand, [file, '--onnx', onnx]);
    expect(r2.code).toBe(0);
    expect(r2.stdout).toContain('any size the model takes, from 20×12 (the shape it was saved for)');
    expect(Buffer.compare(fs.readFileSync(onnx), Buffer.from(toONNX(fcn, { inputShape: [20, 12, 1], dynamicSize: true })))).toBe(0);
  });

  test('--input-shape is used whatever the stored shape says, even a corrupt one; without it a corrupt one is refused', async () => {
    const file = path.join(tmp, 'bad-stored-shape.safetensors');
    save(new Sequential(new Linear(4, 3)), file, { inputShape: [4] });
    // The header rewritten with a stored shape that is no shape (offsets are from the data's start).
    const bytes = fs.readFileSync(file);
    const headerLength = Number(bytes.readBigUInt64LE(0));
    const header = JSON.parse(bytes.subarray(8, 8 + headerLength).toString('utf8'));
    header.__metadata__['neurone.inputShape'] = '[4, 0]';
    const text = Buffer.from(JSON.stringify(header));
    const length = Buffer.alloc(8);
    length.writeBigUInt64LE(BigInt(text.length));
    fs.writeFileSync(file, Buffer.concat([length, text, bytes.subarray(8 + headerLength)]));
    const onnx = path.join(tmp, 'bad-stored-shape.onnx');
    const given = await run(exportCommand, [file, '--input-shape', '4', '--onnx', onnx]);
    expect([given.code, given.stderr]).toEqual([0, '']);
    expectBadInput(await run(exportCommand, [file, '--onnx', onnx]), /corrupt metadata: neurone\.inputShape is "\[4, 0\]"/);
  });

  test('a model that takes many sizes is exported for all of them; --input-shape fixes one', async () => {
    const fcn = new Sequential(new Conv2D(3, 1, 2), new ReLU(), new GlobalAvgPool2D(), new Linear(2, 3));
    const file = path.join(tmp, 'gap.safetensors');
    save(fcn, file);
    // Each command's file is byte for byte toONNX with the options it implies.
    const cases: [string[], ONNXOptions][] = [
      [[], { inputShape: [3, 3, 1], dynamicSize: true }],
      [['--input-shape', '28,28,1'], { inputShape: [28, 28, 1] }],
      [['--input-shape', '28,28,1', '--dynamic-size'], { inputShape: [28, 28, 1], dynamicSize: true }],
    ];
    for (const [i, [flags, options]] of cases.entries()) {
      const onnx = path.join(tmp, `gap-${i}.onnx`);
      const r = await run(exportCommand, [file, '--onnx', onnx, ...flags]);
      expect(r.code).toBe(0);
      if (flags.length === 0)
        expect(r.stdout).toContain('input shape (batch, height, width, 1): any size the model takes, from 3×3 (--input-shape to fix one)');
      expect(Buffer.compare(fs.readFileSync(onnx), Buffer.from(toONNX(fcn, options)))).toBe(0);
    }
  });

  test('bad input: one line, exit 2, nothing written', async () => {
    const onnx = path.join(tmp, 'never.onnx');
    const convOnly = path.join(tmp, 'conv-only.safetensors');
    save(new Sequential(new Conv1D(3, 1, 2), new ReLU()), convOnly);
    const activationOnly = path.join(tmp, 'relu-only.safetensors');
    save(new Sequential(new ReLU()), activationOnly);
    expectBadInput(
      await run(exportCommand, [activationOnly, '--onnx', onnx]),
      /export: Sequential\(ReLU.* does not say its input size; give --input-shape/,
    );
    expectBadInput(
      await run(exportCommand, [activationOnly, '--onnx', onnx, '--input-shape', '5', '--dynamic-size']),
      /export: toONNX: dynamicSize frees the length, or height and width, of a sample; inputShape \[5\] has none/,
    );
    expectBadInput(
      await run(exportCommand, [cnnFile, '--onnx', onnx, '--input-shape', '255,2']),
      /export: toONNX: inputShape \[255, 2\] does not fit the network/,
    );
    expectBadInput(
      await run(exportCommand, [cnnFile, '--onnx', onnx, '--input-shape', '256,one']),
      /--input-shape must be positive integers/,
    );
    expectBadInput(await run(exportCommand, [cnnFile]), /export: say what to write: --onnx FILE or --torch FILE/);
    expectBadInput(
      await run(exportCommand, [cnnFile, '--onnx', cnnFile, '--input-shape', '256,1']),
      /--onnx: .*cnn\.safetensors is also an input/,
    );
    // Another name of the same file (a hard link; another case of the name on macOS and Windows).
    const sameModel = path.join(tmp, 'CNN-again.safetensors');
    fs.linkSync(cnnFile, sameModel);
    expectBadInput(
      await run(exportCommand, [cnnFile, '--torch', sameModel, '--input-shape', '256,1']),
      /--torch: .*CNN-again\.safetensors is also an input/,
    );
    fs.rmSync(sameModel);
    expectBadInput(
      await run(exportCommand, [cnnFile, '--onnx', path.join(tmp, 'no', 'such', 'x.onnx'), '--input-shape', '256,1']),
      /--onnx: folder .* does not exist/,
    );
    expect(fs.existsSync(onnx)).toBe(false);
  });

  test('--torch of a model whose Flatten takes a multi-channel input: --input-shape says the channels', async () => {
    const flatFirst = new Sequential(new Flatten(), new Linear(4 * 4 * 3, 5));
    const file = path.join(tmp, 'flat-first.safetensors');
    save(flatFirst, file);
    const torch = path.join(tmp, 'flat-first-torch.safetensors');
    expectBadInput(
      await run(exportCommand, [file, '--torch', torch]),
      /^neurone: export: Flatten\(\) at position 0 flattens an input whose channels no layer before it says, .*; give the shape of one sample with --input-shape \(e\.g\. 28,28,3 for images, 784 for rows\)\n$/,
    );
    expect(fs.existsSync(torch)).toBe(false);
    const r = await run(exportCommand, [file, '--torch', torch, '--input-shape', '4,4,3']);
    expect(r.code).toBe(0);
    // The file holds the columns the API writes for that shape.
    const viaApi = path.join(tmp, 'flat-first-api.safetensors');
    save(flatFirst, viaApi, { layout: 'torch', inputShape: [4, 4, 3] });
    expect(Array.from(readSafetensors(torch).tensors.get('1.weight')!.data)).toEqual(
      Array.from(readSafetensors(viaApi).tensors.get('1.weight')!.data),
    );
    // That file says its sample shape: exported again, it needs no --input-shape. Before, --torch
    // asked for it once more and --onnx exported a flat (batch, 48) input.
    const again = path.join(tmp, 'flat-first-again.safetensors');
    const onnx = path.join(tmp, 'flat-first.onnx');
    const r2 = await run(exportCommand, [torch, '--torch', again, '--onnx', onnx]);
    expect(r2.stderr).toBe('');
    expect(r2.code).toBe(0);
    expect(Array.from(readSafetensors(again).tensors.get('1.weight')!.data)).toEqual(
      Array.from(readSafetensors(viaApi).tensors.get('1.weight')!.data),
    );
    expect(Buffer.compare(fs.readFileSync(onnx), Buffer.from(toONNX(load(torch), { inputShape: [4, 4, 3] })))).toBe(0);
  });
});

describe('neurone evaluate', () => {
  test('usps test: the accuracy and loss evaluate() gives, a confusion figure and record in --out', () => {
    const out = path.join(tmp, 'eval');
    const r = cli(['evaluate', '--model', cnnFile, '--dataset', 'usps', '--out', out]);
    expect(r.stderr).toBe('');
    expect(r.code).toBe(0);
    const test = loadUSPS({ split: 'test' });
    const n = test.labels.length;
    const e = evaluate(
      cnn,
      new CELogSoftmaxLoss(),
      { shape: [n, 256, 1], data: test.x.data },
      { shape: [n], data: Float32Array.from(test.labels) },
    );
    expect(r.stdout).toContain(`usps test: ${n.toLocaleString('en-US')} examples`);
    expect(r.stdout).toContain(`accuracy  ${(100 * e.accuracy!).toFixed(2)} %`);
    const record = JSON.parse(fs.readFileSync(path.join(out, 'evaluation.json'), 'utf8'));
    expect(record.confusion).toEqual(e.confusion);
    expect(Math.abs(record.loss - e.loss)).toBeLessThan(1e-6 * Math.max(1, e.loss));
    expect(fs.readFileSync(path.join(out, 'confusion.svg'), 'utf8')).toMatch(/^<svg/);
  });

  test('a model of one output on two classes is a binary classifier, as predict reads it: after Sigmoid or a logit', async () => {
    // Before: "the model outputs (batch, 1) but xor has 2 classes", exit 2, for a model predict takes.
    const xor = loadSplit('xor', 'test', 0);
    const n = xor.labels.length;
    seed(21);
    const body = (): Module[] => [new Linear(2, 8), new TanH(), new Linear(8, 1)];
    const logit = new Sequential(...body());
    await fit(
      logit,
      new MSELoss(),
      new SGD({ lr: 0.05 }),
      { x: xor.x, y: { shape: [n, 1], data: Float32Array.from(xor.labels) } },
      {
        epochs: 3,
        verbose: 0,
      },
    );
    const withSigmoid = new Sequential(...logit.modules, new Sigmoid());
    const z = predict(logit, xor.x).data;
    // By hand: P(1) the logistic of the logit, class 1 above 0.5, the mean BCE.
    let correct = 0;
    let bce = 0;
    const confusion = [
      [0, 0],
      [0, 0],
    ];
    for (let i = 0; i < n; i++) {
      const p = 1 / (1 + Math.exp(-z[i]));
      const c = p > 0.5 ? 1 : 0;
      confusion[xor.labels[i]][c]++;
      if (c === xor.labels[i]) correct++;
      bce -= xor.labels[i] === 1 ? Math.log(p) : Math.log(1 - p);
    }
    for (const [name, net, measure] of [
      ['binary-logit', logit, 'BCE of its logit'],
      ['binary-sigmoid', withSigmoid, 'BCE'],
    ] as const) {
      const file = path.join(tmp, `${name}.safetensors`);
      save(net, file);
      const out = path.join(tmp, `eval-${name}`);
      const r = await run(evaluateCommand, ['--model', file, '--dataset', 'xor', '--out', out]);
      expect(r.stderr).toBe('');
      expect(r.code).toBe(0);
      expect(r.stdout).toContain(`accuracy  ${((100 * correct) / n).toFixed(2)} %`);
      expect(r.stdout).toContain(`(${measure})`);
      const record = JSON.parse(fs.readFileSync(path.join(out, 'evaluation.json'), 'utf8'));
      expect(record.confusion).toEqual(confusion);
      expect(Math.abs(record.loss - bce / n)).toBeLessThan(1e-5);
    }
    // A confident logit: 20 for every sample. A label-0 sample costs 20 (as BCEWithLogitsLoss),
    // not the 100 a sigmoid rounded to 1 and then BCE's clamp would give (the mean read 50).
    const sure = new Linear(2, 1);
    sure.weight.data.fill(0);
    (sure.bias as Tensor).data.fill(20);
    const sureFile = path.join(tmp, 'binary-sure.safetensors');
    save(new Sequential(sure), sureFile);
    const sureRun = await run(evaluateCommand, ['--model', sureFile, '--dataset', 'xor']);
    expect(sureRun.code).toBe(0);
    const zeros = xor.labels.filter((l) => l === 0).length;
    const sureLoss = Number(/loss\s+(\S+) \(BCE of its logit\)/.exec(sureRun.stdout)?.[1]);
    expect(Math.abs(sureLoss - (20 * zeros) / n)).toBeLessThan(1e-3);
    const file = path.join(tmp, 'binary-softmax.safetensors');
    save(new Sequential(...body(), new LogSoftmax()), file);
    expectBadInput(
      await run(evaluateCommand, ['--model', file, '--dataset', 'xor']),
      /evaluate: the model ends in LogSoftmax over one output, which says nothing/,
    );
  });

  test('a 2-D convolutional model gets the images as (n, 16, 16, 1)', async () => {
    seed(8);
    const net = new Sequential(new Conv2D(5, 1, 4), new ReLU(), new MaxPool2D(2, 2), new Flatten(), new Linear(null, 10), new LogSoftmax());
    net.build([16, 16, 1]);
    const file = path.join(tmp, 'lenet-usps.safetensors');
    save(net, file);
    const r = await run(evaluateCommand, ['--model', file, '--dataset', 'usps']);
    expect(r.stderr).toBe('');
    expect(r.code).toBe(0);
    const test = loadUSPS({ split: 'test' });
    const e = evaluate(net, new CELogSoftmaxLoss(), test.x, { shape: [test.labels.length], data: Float32Array.from(test.labels) });
    expect(r.stdout).toContain(`accuracy  ${(100 * e.accuracy!).toFixed(2)} %`);
  });

  test('bad input: one line, exit 2', async () => {
    expectBadInput(
      await run(evaluateCommand, ['--model', mlpFile, '--dataset', 'usps']),
      /evaluate: usps has 256 values per row \(16×16\), but the model takes 4 \(2×2\) values per row$/m,
    );
    expectBadInput(
      await run(evaluateCommand, ['--model', cnnFile, '--dataset', 'uspss']),
      /bad value for --dataset: 'uspss' .*\(did you mean usps\?\)/,
    );
    expectBadInput(await run(evaluateCommand, ['--model', cnnFile]), /--dataset NAME is required/);
    expectBadInput(
      await run(evaluateCommand, ['--model', cnnFile, '--dataset', 'usps', '--split', 'val']),
      /bad value for --split: 'val' \(expected one of test, train\)/,
    );
  });

  test('--out is checked before the evaluation: one line, exit 2, nothing printed or made', async () => {
    // Before, the evaluation ran and printed in full, then failed with exit 1 at the folder.
    const taken = path.join(tmp, 'eval-taken');
    fs.mkdirSync(path.join(taken, 'confusion.svg'), { recursive: true });
    const notFolder = path.join(tmp, 'eval-file');
    fs.writeFileSync(notFolder, 'x');
    const cases: [string, RegExp][] = [
      ['/proc/neurone-evaluate', /^neurone: evaluate: --out \/proc\/neurone-evaluate: cannot create files in \/proc/],
      [taken, /evaluate: --out: .*confusion\.svg is a folder; expected a file name/],
      [notFolder, /evaluate: --out .*eval-file is not a folder/],
      [path.join(notFolder, 'below'), /evaluate: --out .*below: .*eval-file is not a folder/],
    ];
    for (const [out, message] of cases) {
      const r = await run(evaluateCommand, ['--model', cnnFile, '--dataset', 'usps', '--out', out]);
      expectBadInput(r, message);
      expect(r.stdout).toBe('');
    }
    expect(fs.existsSync('/proc/neurone-evaluate')).toBe(false);
    // A folder that does not exist yet is made, with its parents, when the results are written.
    const deep = path.join(tmp, 'eval-new', 'a', 'b');
    const made = await run(evaluateCommand, ['--model', cnnFile, '--dataset', 'usps', '--out', deep]);
    expect(made.code).toBe(0);
    expect(fs.readdirSync(deep).sort()).toEqual(['confusion.svg', 'evaluation.json']);
  });

  test("a write probe a killed process left is removed by the next probe of that folder; a live one's stays", () => {
    const dir = fs.mkdtempSync(path.join(tmp, 'probes-'));
    const dead = spawnSync(process.execPath, ['-e', '']).pid as number;
    const left = path.join(dir, `.neurone-write-test-${dead}-1700000000000`);
    const live = path.join(dir, `.neurone-write-test-${process.ppid}-1700000000000`);
    const recent = path.join(dir, `.neurone-write-test-${dead}-1700000000001`);
    for (const f of [left, live, recent]) fs.writeFileSync(f, '');
    const old = (Date.now() - 120_000) / 1000;
    for (const f of [left, live]) fs.utimesSync(f, old, old);
    probeWritable(dir);
    expect(fs.readdirSync(dir).sort()).toEqual([path.basename(live), path.basename(recent)].sort());
  });

  test('a dataset that is not there: one line naming the folder and the flag; --data-dir may name the folder above', async () => {
    const empty = path.join(tmp, 'empty');
    const r = await run(evaluateCommand, ['--model', cnnFile, '--dataset', 'usps', '--data-dir', empty]);
    expect(r.code).toBe(2);
    expect(r.stderr).toBe(
      `neurone: evaluate: cannot load usps (test): no USPS test files in ${empty} (--data-dir); --data-dir takes the folder of its files or the one above it\n`,
    );
    const mnist = await run(evaluateCommand, ['--model', cnnFile, '--dataset', 'mnist', '--data-dir', empty]);
    expect(mnist.stderr).toBe(
      `neurone: evaluate: cannot load mnist (test): no MNIST test files in ${empty} (--data-dir); --data-dir takes the folder of its files or the one above it; ` +
        'or run `neurone data download mnist` once (needs internet)\n',
    );
    // A data folder holding usps/, as NEURONE_DATA_DIR may: the command looks inside.
    const above = path.join(tmp, 'data-above');
    fs.mkdirSync(path.join(above, 'usps'), { recursive: true });
    for (const f of ['USPS_test.txt.gz', 'USPS_train.txt.gz'])
      fs.copyFileSync(path.join(root, 'data', 'usps', f), path.join(above, 'usps', f));
    const found = await run(evaluateCommand, ['--model', cnnFile, '--dataset', 'usps', '--data-dir', above]);
    expect(found.stderr).toBe('');
    expect(found.stdout).toMatch(/^usps test: 2,007 examples$/m);
  });

  test('an error of several lines (a loader listing the folders it searched) reaches the user whole', async () => {
    const r = await run(
      async () =>
        runCommand(() =>
          asInput('evaluate: cannot load mnist (test): ', () => {
            throw new Error('loadMNIST: no mnist test files found. Looked in:\n  /a (x)\n  /b (y)\nPass { dir } with the IDX files.');
          }),
        ),
      [],
    );
    expect(r.code).toBe(2);
    expect(r.stderr).toBe(
      'neurone: evaluate: cannot load mnist (test): loadMNIST: no mnist test files found. Looked in:\n  /a (x)\n  /b (y)\nPass { dir } with the IDX files.\n',
    );
  });
});

describe('neurone data download (no internet)', () => {
  test('unknown dataset, subcommand or mirror: one line, exit 2', async () => {
    expectBadInput(cli(['data', 'download', 'mnst']), /unknown dataset 'mnst' \(did you mean mnist\?\) \(known: mnist, fashion\)/);
    expectBadInput(await run(dataCommand, ['downlaod', 'mnist']), /data: unknown subcommand 'downlaod' \(did you mean download\?\)/);
    expectBadInput(
      await run(dataCommand, ['download', 'mnist', '--mirror', 'http://127.0.0.1/']),
      /only https URLs are fetched, got http:/,
    );
    expectBadInput(await run(dataCommand, ['download', 'constructor']), /unknown dataset 'constructor'/);
  });

  test('a mirror that serves wrong bytes: checksum refused, exit 1, nothing left in the cache', async () => {
    const certDir = path.join(tmp, 'tls');
    fs.mkdirSync(certDir);
    const key = path.join(certDir, 'key.pem');
    const cert = path.join(certDir, 'cert.pem');
    const made = spawnSync(
      'openssl',
      [
        'req',
        '-x509',
        '-newkey',
        'rsa:2048',
        '-nodes',
        '-keyout',
        key,
        '-out',
        cert,
        '-days',
        '1',
        '-subj',
        '/CN=127.0.0.1',
        '-addext',
        'subjectAltName=IP:127.0.0.1',
      ],
      { encoding: 'utf8' },
    );
    if (made.status !== 0) throw new Error(`openssl could not make a test certificate: ${made.stderr}`);
    const served: string[] = [];
    const server = https.createServer({ key: fs.readFileSync(key), cert: fs.readFileSync(cert) }, (req, res) => {
      served.push(req.url ?? '');
      res.end('not the MNIST file');
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    const port = (server.address() as AddressInfo).port;
    const cache = path.join(tmp, 'cache');
    try {
      const r = await cliAsync(['data', 'download', 'mnist', '--cache-dir', cache, '--mirror', `https://127.0.0.1:${port}/mnist`], {
        NODE_EXTRA_CA_CERTS: cert,
      });
      expect(r.code).toBe(1);
      expect(r.stderr).toMatch(
        /^neurone: download mnist: could not fetch train-images-idx3-ubyte\.gz:\n {2}https:\/\/127\.0\.0\.1:\d+\/mnist\/train-images-idx3-ubyte\.gz: cannot write .*train-images-idx3-ubyte\.gz: checksum mismatch: expected 9912422 bytes with sha256 440fcabf\w+, got 18 bytes with sha256 \w+; nothing written\n$/,
      );
      expect(served).toEqual(['/mnist/train-images-idx3-ubyte.gz']);
      // Not a terminal: the progress is one line per file, with the bytes that came.
      expect(r.stdout).toContain('  train-images-idx3-ubyte.gz: 18 of 9,912,422 bytes received\n');
      expect(fs.existsSync(path.join(cache, 'mnist'))).toBe(false); // the folder made for it is removed again
    } finally {
      server.close();
    }
  });

  test('a mirror nobody answers at: exit 1 naming the URL, nothing written', async () => {
    const cache = path.join(tmp, 'cache-refused');
    const r = await run(dataCommand, ['download', 'fashion', '--cache-dir', cache, '--mirror', 'https://127.0.0.1:9/']);
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/^neurone: download fashion-mnist: could not fetch train-images-idx3-ubyte\.gz:\n {2}.*ECONNREFUSED|connect/);
    // Nor any folder: the cache folders the command made for it are removed again (before, the
    // empty --cache-dir and its fashion-mnist folder stayed).
    expect(fs.existsSync(cache)).toBe(false);
    // A folder that was there before stays, with what it holds.
    const kept = path.join(tmp, 'cache-kept');
    fs.mkdirSync(kept);
    expect((await run(dataCommand, ['download', 'fashion', '--cache-dir', kept, '--mirror', 'https://127.0.0.1:9/'])).code).toBe(1);
    expect(fs.readdirSync(kept)).toEqual([]);
  });

  test('credentials in a mirror are used, never shown', async () => {
    const cache = path.join(tmp, 'cache-credentials');
    const r = await run(dataCommand, ['download', 'fashion', '--cache-dir', cache, '--mirror', 'https://someone:s3cret@127.0.0.1:9/']);
    expect(r.code).toBe(1);
    expect(r.stderr + r.stdout).not.toMatch(/s3cret|someone/);
    expect(r.stdout).toMatch(/https:\/\/\*\*\*@127\.0\.0\.1:9\/train-images-idx3-ubyte\.gz/);
  });

  test('a cache folder nothing can be written in: exit 2 before anything is fetched', async () => {
    const r = await run(dataCommand, ['download', 'fashion', '--cache-dir', '/dev/null', '--mirror', 'https://127.0.0.1:9/']);
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/^neurone: data download: --cache-dir \/dev\/null: /);
    expect(r.stdout).toBe('');
  });
});
