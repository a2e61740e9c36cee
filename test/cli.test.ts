/** The `neurone` command, spawned through tsx: argument errors and a tiny successful run. */
import { spawnSync } from 'child_process';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { tsFile } from './ts-child';

const root = path.join(__dirname, '..');

function cli(...args: string[]): { code: number | null; stdout: string; stderr: string } {
  const r = spawnSync(process.execPath, [...tsFile(path.join(root, 'lib', 'cli', 'main.ts')), ...args], {
    cwd: root,
    encoding: 'utf8',
    timeout: 60000,
    env: { ...process.env, NEURONE_BACKEND: '' },
  });
  return { code: r.status, stdout: r.stdout, stderr: r.stderr };
}

/** A failed run: exit code 2, exactly one line on stderr naming the problem, no stack trace. */
function expectUsageError(r: ReturnType<typeof cli>, pattern: RegExp): void {
  expect(r.code).toBe(2);
  const lines = r.stderr.trim().split('\n');
  expect(lines).toHaveLength(1);
  expect(lines[0]).toMatch(/^neurone: /);
  expect(lines[0]).toMatch(pattern);
  expect(r.stderr).not.toMatch(/\n\s+at /);
}

let tmp: string;
beforeAll(() => {
  tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'neurone-cli-'));
});
afterAll(() => fs.rmSync(tmp, { recursive: true, force: true }));

describe('neurone command: help and argument errors', () => {
  test('--help prints the usage with every flag and exits 0', () => {
    const r = cli('train', '--help');
    expect(r.code).toBe(0);
    for (const flag of [
      '--dataset',
      '--model',
      '--epochs',
      '--batch-size',
      '--lr',
      '--optimizer',
      '--seed',
      '--backend',
      '--threads',
      '--out',
      '--save',
      '--patience',
      '--quiet',
    ]) {
      expect(r.stdout).toContain(flag);
    }
    expect(cli('--help').code).toBe(0);
  });

  test('unknown flag', () => expectUsageError(cli('train', '--epoch', '3'), /unknown option '--epoch'/));
  test('unknown command', () => expectUsageError(cli('fly'), /unknown command 'fly'/));
  test('bad number', () => expectUsageError(cli('train', '--epochs', 'ten'), /--epochs: 'ten' is not a number/));
  test('non-integer epochs', () => expectUsageError(cli('train', '--epochs', '2.5'), /--epochs.*not an integer/));
  test('learning rate out of range', () => expectUsageError(cli('train', '--lr', '-1'), /--lr.*must be > 0/));
  test('missing value', () => expectUsageError(cli('train', '--epochs'), /--epochs needs a value/));
  test('unknown dataset', () => expectUsageError(cli('train', '--dataset', 'cifar'), /--dataset: 'cifar'.*usps, mnist, fashion/));
  test('unknown optimiser', () => expectUsageError(cli('train', '--optimizer', 'rmsprop'), /--optimizer: 'rmsprop'/));
  test('unknown preset', () => expectUsageError(cli('train', '--model', 'resnet'), /unknown model preset 'resnet'/));

  test('missing model file', () => {
    expectUsageError(
      cli('train', '--model', path.join(tmp, 'nope.json'), '--out', tmp),
      /cannot read model file .*nope\.json: no such file/,
    );
  });

  test('malformed JSON model', () => {
    const file = path.join(tmp, 'bad.json');
    fs.writeFileSync(file, '{ "layers": [ { "type": "Linear", "args": [256, 10] }, ');
    expectUsageError(cli('train', '--model', file, '--out', tmp), /bad\.json is not valid JSON/);
  });

  test('JSON model with an unknown layer type', () => {
    const file = path.join(tmp, 'unknown-layer.json');
    fs.writeFileSync(file, JSON.stringify({ layers: [{ type: 'Dense', args: [256, 10] }] }));
    expectUsageError(cli('train', '--model', file, '--out', tmp), /layer 0: unknown layer type "Dense"/);
  });

  test('JSON model whose shapes do not fit the data', () => {
    const file = path.join(tmp, 'wrong-size.json');
    fs.writeFileSync(file, JSON.stringify({ layers: [{ type: 'Linear', args: [784, 10] }] }));
    expectUsageError(cli('train', '--model', file, '--dataset', 'xor', '--out', tmp), /does not fit xor.*Linear\(784, 10\)/);
  });
});

describe('neurone command: a tiny run', () => {
  test('xor, 3 epochs, quiet: prints the accuracies and writes the plots', () => {
    const out = path.join(tmp, 'run');
    const r = cli('train', '--dataset', 'xor', '--epochs', '3', '--quiet', '--out', out, '--seed', '1');
    expect(r.stderr).toBe('');
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(/train accuracy\s+\d+\.\d\d %/);
    expect(r.stdout).toMatch(/validation accuracy\s+\d+\.\d\d %/);
    expect(r.stdout).toMatch(/test accuracy\s+\d+\.\d\d %/);
    expect(r.stdout).not.toMatch(/^epoch /m); // quiet: no per-epoch lines
    for (const f of ['training.svg', 'confusion.svg', 'metrics.json']) {
      const file = path.join(out, f);
      expect(r.stdout).toContain(file);
      expect(fs.statSync(file).size).toBeGreaterThan(100);
    }
    expect(fs.readFileSync(path.join(out, 'training.svg'), 'utf8')).toMatch(/^<svg[^>]*>[\s\S]*<path d="M/);
    const metrics = JSON.parse(fs.readFileSync(path.join(out, 'metrics.json'), 'utf8'));
    expect(metrics.history).toHaveLength(3);
    expect(metrics.testAccuracy).toBeGreaterThanOrEqual(0);
  });

  test('--save writes the trained model (or says plainly that saving is not available)', () => {
    const file = path.join(tmp, 'xor-model.neurone');
    const r = cli('train', '--dataset', 'xor', '--epochs', '2', '--quiet', '--out', path.join(tmp, 'run-save'), '--save', file);
    if (fs.existsSync(path.join(root, 'lib', 'serialize.ts'))) {
      expect(r.stderr).toBe('');
      expect(r.code).toBe(0);
      expect(r.stdout).toContain(file);
      expect(fs.statSync(file).size).toBeGreaterThan(100);
    } else {
      expectUsageError(r, /--save is not available yet/);
    }
  });

  test('--save into a folder that does not exist fails before training', () => {
    expectUsageError(
      cli('train', '--dataset', 'xor', '--out', tmp, '--save', path.join(tmp, 'no', 'such', 'dir', 'm.bin')),
      /--save|not available/,
    );
  });

  test('a JSON model file trains and reaches high accuracy on xor (not quiet: one line per epoch)', () => {
    const file = path.join(tmp, 'xor-model.json');
    fs.writeFileSync(
      file,
      JSON.stringify({ layers: [{ type: 'Linear', args: [2, 8] }, { type: 'TanH' }, { type: 'Linear', args: [8, 2] }] }),
    );
    const r = cli(
      'train',
      '--dataset',
      'xor',
      '--model',
      file,
      '--epochs',
      '40',
      '--optimizer',
      'adam',
      '--lr',
      '0.02',
      '--out',
      path.join(tmp, 'run2'),
    );
    expect(r.code).toBe(0);
    expect(r.stdout.match(/^epoch +\d+\/40 /gm)?.length).toBeGreaterThan(5);
    const acc = Number(/test accuracy\s+([\d.]+) %/.exec(r.stdout)?.[1]);
    expect(acc).toBeGreaterThan(95);
  });
});
