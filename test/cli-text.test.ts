/**
 * What `neurone train` says and which recipe it runs: the default is the README's headline
 * configuration (checked against the command line reports/README.md gives for 95.02 %, without
 * training it), plurals, an output folder that an earlier run filled, and the recipe named where
 * the accuracy is printed.
 */
import { spawnSync } from 'child_process';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { main } from '../lib/cli/main';
import { divergedLine } from '../lib/cli/train';
import { NonFiniteError } from '../lib/train';
import { FLAGS, changedFlag, parseTrainArgs, resultFlags, UsageError } from '../lib/cli/train-args';
import { plural } from '../lib/messages';
import { HEADLINE, QUICK, trainingPlan } from '../lib/cli/recipes';
import { tsFile } from './ts-child';
import { runInProcess } from './in-process';

const root = path.join(__dirname, '..');

function cli(...args: string[]): { code: number | null; stdout: string; stderr: string } {
  const r = spawnSync(process.execPath, [...tsFile(path.join(root, 'lib', 'cli', 'main.ts')), ...args], {
    cwd: root,
    encoding: 'utf8',
    timeout: 120000,
    env: { ...process.env, NEURONE_BACKEND: '' },
  });
  return { code: r.status, stdout: r.stdout, stderr: r.stderr };
}

let tmp: string;
beforeAll(() => {
  tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'neurone-cli-text-'));
});
afterAll(() => fs.rmSync(tmp, { recursive: true, force: true }));

/** The flags of the headline row of reports/README.md's configuration table, as a map. */
function headlineFlagsFromReport(): Map<string, string | true> {
  const report = fs.readFileSync(path.join(root, 'reports', 'README.md'), 'utf8');
  const row = report.split('\n').find((l) => l.startsWith('| headline:') && l.includes('95.02'));
  if (!row) throw new Error('reports/README.md has no headline row with 95.02 %');
  const command = /\(`([^`]*)`\)/.exec(row)?.[1];
  if (!command) throw new Error('the headline row names no flags');
  const words = command.split(/\s+/);
  const flags = new Map<string, string | true>();
  for (let i = 0; i < words.length; i++) {
    const next = words[i + 1];
    if (next !== undefined && !next.startsWith('--')) flags.set(words[i], words[++i]);
    else flags.set(words[i], true);
  }
  return flags;
}

describe('with no arguments, train runs the headline configuration', () => {
  test('the default plan on USPS is the one reports/README.md measured 95.02 % with', () => {
    const opts = parseTrainArgs([]);
    expect(opts).not.toBeNull();
    const plan = trainingPlan(opts!);
    expect(plan.recipe).toBe(HEADLINE);
    expect(plan.changed).toEqual([]);
    const flags = headlineFlagsFromReport();
    expect(plan.lr).toBe(Number(flags.get('--lr')));
    expect(plan.weightDecay).toBe(Number(flags.get('--weight-decay')));
    expect(plan.epochs).toBe(Number(flags.get('--epochs')));
    expect(plan.swa).toBe(Number(flags.get('--swa')));
    expect(plan.retrain).toBe(flags.get('--retrain') === true);
    expect(flags.get('--keep-last')).toBe(true); // no early stopping...
    expect(plan.patience).toBe(0); // ...here either
    expect(flags.get('--plateau')).toBe('0'); // no plateau schedule...
    expect(plan.schedule).toBe('none');
    expect(opts!.optimizer).toBe('sgd');
    expect(opts!.momentum).toBe(0.9);
    expect(opts!.batchSize).toBe(32);
  });

  test('--recipe quick and other datasets use the quick recipe; flags override either', () => {
    expect(trainingPlan(parseTrainArgs(['--recipe', 'quick'])!).recipe).toBe(QUICK);
    expect(trainingPlan(parseTrainArgs(['--dataset', 'xor'])!).recipe).toBe(QUICK);
    const plan = trainingPlan(parseTrainArgs(['--epochs', '10', '--lr', '0.002'])!);
    expect(plan).toMatchObject({ recipe: HEADLINE, epochs: 10, lr: 0.002, swa: 10, changed: ['--epochs', '--lr'] });
    // Early stopping asked for: the recipe's averaging gives way.
    expect(trainingPlan(parseTrainArgs(['--patience', '3'])!)).toMatchObject({ patience: 3, swa: 0 });
  });

  test('contradicting flags are refused with the reason', () => {
    expect(() => parseTrainArgs(['--epochs', '10', '--swa', '20'])).toThrow(UsageError);
    expect(() => parseTrainArgs(['--epochs', '10', '--swa', '20'])).toThrow(/--swa 20 averages more epochs than are trained \(10/);
    expect(() => parseTrainArgs(['--patience', '3', '--swa', '5'])).toThrow(/early stopping \(--patience 3\).*--swa 0/);
  });
});

describe('text', () => {
  test('--help lists the recipes with what they measured', () => {
    const r = cli('train', '--help');
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(/^ {2}headline +SGD lr 1e-3, .*95\.02 ± 0\.13 %/m);
    expect(r.stdout).toMatch(/^ {2}quick +SGD lr 5e-4, .*93\.98 ± 0\.39 %/m);
  });

  test('plural', () => {
    expect(plural(1, 'epoch')).toBe('1 epoch');
    expect(plural(2, 'epoch')).toBe('2 epochs');
    expect(plural(0, 'thread')).toBe('0 threads');
    expect(plural(8770, 'parameter')).toBe('8,770 parameters');
  });

  test('a one-epoch, one-thread run says "1 epoch" and "(1 thread)", and names its recipe by the accuracy', () => {
    const r = cli('train', '--dataset', 'xor', '--epochs', '1', '--threads', '1', '--out', path.join(tmp, 'one'));
    expect(r.stderr).toBe('');
    expect(r.code).toBe(0);
    expect(r.stdout).not.toMatch(/\b1 epochs\b/);
    expect(r.stdout).not.toMatch(/\b1 threads\b/);
    expect(r.stdout).toMatch(/\(1 thread\)/);
    expect(r.stdout).toMatch(/^done: 1 epoch,/m);
    // The recipes' rates are for gradients summed over the batch (the library's losses default to the mean).
    expect(r.stdout).toMatch(/^ {2}CELogSoftmaxLoss \(summed over the batch\), SGD lr 0.0005 /m);
    // The recipe is named right below the test accuracy.
    expect(r.stdout).toMatch(/test accuracy .*\n {2}recipe quick, changed by --epochs\n/);
    // Losses at one precision: 4 significant digits everywhere.
    for (const m of r.stdout.matchAll(/loss (\d[\d.e+-]*)/g)) expect(m[1].replace(/^0\.0*/, '').replace('.', '')).toHaveLength(4);
  });

  test('USPS with the quick recipe says how to run the headline', () => {
    const r = cli(
      'train',
      '--recipe',
      'quick',
      '--epochs',
      '1',
      '--train-size',
      '300',
      '--threads',
      '1',
      '--quiet',
      '--out',
      path.join(tmp, 'q'),
    );
    expect(r.stderr).toBe('');
    expect(r.code).toBe(0);
    expect(r.stdout).toContain("the README's headline (95.02 % over 10 seeds): neurone train --recipe headline");
  });
});

describe('an output folder an earlier run filled', () => {
  test('is refused with a word on --force; --force replaces and says so', () => {
    const out = path.join(tmp, 'again');
    const args = ['train', '--dataset', 'xor', '--epochs', '1', '--threads', '1', '--out', out];
    expect(cli(...args).code).toBe(0);
    const before = fs.readFileSync(path.join(out, 'metrics.json'), 'utf8');
    const refused = cli(...args);
    expect(refused.code).toBe(2);
    expect(refused.stdout).toBe('');
    expect(refused.stderr.trim()).toBe(
      `neurone: --out: ${out} already holds training.svg, confusion.svg, metrics.json from an earlier run; pass --force to replace them, or another --out folder`,
    );
    expect(fs.readFileSync(path.join(out, 'metrics.json'), 'utf8')).toBe(before); // untouched
    const forced = cli(...args, '--force');
    expect(forced.code).toBe(0);
    expect(forced.stdout).toContain(`neurone: replacing training.svg, confusion.svg, metrics.json in ${out} (--force)`);
  });
});

describe('--save on a file system without the room for the model', () => {
  test('is refused before training, with the free space and the model size', async () => {
    const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'neurone-full-'));
    // eslint-disable-next-line @typescript-eslint/no-require-imports
    const nodeFs: typeof fs = require('fs');
    const real = nodeFs.statfsSync;
    // A file system with 64 KiB left, as a full disk has: an empty probe file still fits there.
    const full = jest
      .spyOn(nodeFs, 'statfsSync')
      .mockImplementation(((p: fs.PathLike) => ({ ...real(p), bavail: 16, bsize: 4096 })) as typeof fs.statfsSync);
    try {
      const save = path.join(tmp, 'm.safetensors');
      const r = await runInProcess((argv) => main(argv), ['train', '--dataset', 'xor', '--epochs', '1', '--quiet', '--save', save]);
      expect(r.code).toBe(2);
      expect(r.stderr).toMatch(
        /^neurone: --save: the file system of .*neurone-full-\w+ has 64 KiB free, and the model takes about 1\.0 MiB; free some space or save elsewhere\n$/,
      );
      expect(r.stdout).toBe('');
      expect(fs.existsSync(save)).toBe(false);
      // A description whose Linear is sized by the data counts it too (4.2 M values on USPS, not drawn yet).
      const model = path.join(tmp, 'lazy.json');
      const layers = [
        { type: 'Conv2D', args: [3, 1, 32, 1], options: { padding: 1 } },
        { type: 'Flatten', args: [] },
        { type: 'Linear', args: [null, 512] },
        { type: 'Linear', args: [512, 10] },
      ];
      fs.writeFileSync(model, JSON.stringify({ layers }));
      full.mockImplementation(((p: fs.PathLike) => ({ ...real(p), bavail: 2560, bsize: 4096 })) as typeof fs.statfsSync); // 10 MiB
      const lazy = await runInProcess(
        (argv) => main(argv),
        ['train', '--dataset', 'usps', '--model', model, '--epochs', '1', '--quiet', '--save', save],
      );
      expect(lazy.stderr).toMatch(/has 10\.0 MiB free, and the model takes about 17\.0 MiB/);
    } finally {
      full.mockRestore();
      fs.rmSync(tmp, { recursive: true, force: true });
    }
  });
});

describe('train --swa on a network with batch norm', () => {
  test('the running estimates are measured again for the averaged weights (updateBatchNorm on the training data)', async () => {
    const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'neurone-swa-bn-'));
    // eslint-disable-next-line @typescript-eslint/no-require-imports
    const averaging: typeof import('../lib/averaging') = require('../lib/averaging');
    const update = jest.spyOn(averaging, 'updateBatchNorm');
    try {
      const model = path.join(tmp, 'bn.json');
      const layers = [
        { type: 'Linear', args: [2, 8] },
        { type: 'BatchNorm1D', args: [8] },
        { type: 'ReLU', args: [] },
        { type: 'Linear', args: [8, 2] },
      ];
      fs.writeFileSync(model, JSON.stringify({ layers }));
      const r = await runInProcess(
        (argv) => main(argv),
        [
          'train',
          '--dataset',
          'xor',
          '--model',
          model,
          '--epochs',
          '3',
          '--swa',
          '2',
          '--recipe',
          'headline', // no early stopping, and a retraining: two trainings, each averaged
          '--quiet',
          '--out',
          path.join(tmp, 'out'),
        ],
      );
      expect([r.code, r.stderr]).toEqual([0, '']);
      expect(update).toHaveBeenCalledTimes(2);
      const [net, x] = update.mock.calls[0];
      expect(net.toString()).toContain('BatchNorm1D(8)');
      expect(x.shape[1]).toBe(2); // the training inputs
    } finally {
      update.mockRestore();
      fs.rmSync(tmp, { recursive: true, force: true });
    }
  });
});

// --resume refuses a command whose flags would change the result (the run would no longer be the
// one it continues). The flags that may differ are listed here, apart from the code's own list, so
// a result flag wrongly added to that list (a --seed that a resume could change) fails this test.
describe('which flags --resume compares', () => {
  const MAY_DIFFER = ['--backend', '--threads', '--out', '--force', '--save', '--quiet', '--resume', '--data-dir', '--help'];
  /** Two command lines that differ in `flag` alone, each valid. */
  const twoSettings = (flag: string): [string[], string[]] => {
    const f = FLAGS[flag];
    if (f.kind === 'flag') return [[], [flag]];
    if (flag === '--model')
      return [
        [flag, 'mlp'],
        [flag, 'seed-cnn'],
      ];
    if (f.choices)
      return [
        [flag, f.choices[0]],
        [flag, f.choices[1]],
      ];
    const low = f.gt !== undefined ? f.gt + 0.25 : (f.min ?? 0);
    const high = f.kind === 'int' ? low + 1 : f.lt !== undefined ? (low + f.lt) / 2 : low + 0.5;
    return [
      [flag, String(low)],
      [flag, String(high)],
    ];
  };
  test.each(Object.keys(FLAGS).filter((f) => !MAY_DIFFER.includes(f)))(
    '%s changes the result: a resume with another value is refused',
    (flag) => {
      // A few flags count only beside others: a momentum with sgd, --retrain where the recipe does
      // not already retrain (quick's), --swa without early stopping (headline's).
      const recipe = flag === '--swa' ? 'headline' : 'quick';
      const base = ['--epochs', '5', '--optimizer', 'sgd', '--recipe', recipe].filter((_, i, all) => all[i - (i % 2)] !== flag);
      const [a, b] = twoSettings(flag).map((args) => parseTrainArgs([...base, ...args]));
      expect(a && b).toBeTruthy();
      const changed = changedFlag(resultFlags(a as NonNullable<typeof a>), resultFlags(b as NonNullable<typeof b>));
      // A recipe is compared by the settings it gives (another recipe shows as its first other value).
      if (flag === '--recipe') expect(changed).toBeDefined();
      else expect(changed?.now.split(' ')[0]).toBe(flag);
    },
  );
  test.each(MAY_DIFFER.filter((f) => f !== '--help' && f !== '--resume'))('%s may differ on a resume', (flag) => {
    const values: Record<string, [string[], string[]]> = {
      '--backend': [
        ['--backend', 'js'],
        ['--backend', 'native'],
      ],
      '--threads': [
        ['--threads', '1'],
        ['--threads', '2'],
      ],
      '--out': [
        ['--out', 'a'],
        ['--out', 'b'],
      ],
      '--force': [[], ['--force']],
      '--save': [
        ['--save', 'a.safetensors'],
        ['--save', 'b.safetensors'],
      ],
      '--quiet': [[], ['--quiet']],
      '--data-dir': [
        ['--data-dir', 'a'],
        ['--data-dir', 'b'],
      ],
    };
    const [a, b] = values[flag].map((args) => parseTrainArgs(args));
    expect(changedFlag(resultFlags(a as NonNullable<typeof a>), resultFlags(b as NonNullable<typeof b>))).toBeUndefined();
  });
});

describe('the line of a diverged training', () => {
  const e = new NonFiniteError(
    'fit: the loss is NaN at epoch 1, batch 3/10; stopped before updating (lower the learning rate, or pass { allowNonFinite: true } to continue)',
    1,
    3,
  );
  test("SGD's summed gradient: the rate PyTorch's lr on the batch mean would be, not a tenth (which diverged again at batch 32)", () => {
    expect(divergedLine(e, 0.1, false, 32)).toBe(
      "training diverged: the loss is NaN at epoch 1, batch 3/10; stopped before updating. Lower --lr (0.1: the command sums each batch's gradient, as the course did, so --lr 0.1 at --batch-size 32 steps as far as PyTorch's lr 3.2 on the batch mean), e.g. --lr 0.00313 (PyTorch's lr 0.1 on the batch mean)",
    );
  });
  test('Adam, or a batch under 10: a tenth of the rate', () => {
    expect(divergedLine(e, 0.1, true, 32)).toMatch(/\. Lower --lr \(0\.1\), e\.g\. --lr 0\.01$/);
    expect(divergedLine(e, 0.1, false, 1)).toMatch(/\. Lower --lr \(0\.1\), e\.g\. --lr 0\.01$/);
    // A batch of 4: lr / 4 would cut less than a tenth.
    expect(divergedLine(e, 0.1, false, 4)).toMatch(/on the batch mean\), e\.g\. --lr 0\.01$/);
  });
});
