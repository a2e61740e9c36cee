/** The `neurone` command, spawned through tsx: argument errors and a tiny successful run. */
import { spawnSync } from 'child_process';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { tsFile } from './ts-child';
import { load, loadWithSampleShape } from '../lib/serialize';

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
  test('integers in hex or exponent notation, as every command reads them', () => {
    expectUsageError(cli('train', '--epochs', '0x10'), /bad value for --epochs: '0x10' is not an integer in decimal digits/);
    expectUsageError(cli('train', '--threads', '1e3'), /bad value for --threads: '1e3' is not an integer in decimal digits/);
    // Real-valued flags: decimal notation (1e-3 and .5 are), not what else JavaScript's Number() reads.
    expectUsageError(cli('train', '--lr', '0x10'), /bad value for --lr: '0x10' is not a number in decimal notation/);
  });
  test('learning rate out of range', () => expectUsageError(cli('train', '--lr', '-1'), /--lr.*must be > 0/));
  test('missing value', () => expectUsageError(cli('train', '--epochs'), /--epochs needs a value/));
  test('unknown dataset', () => expectUsageError(cli('train', '--dataset', 'cifar'), /--dataset: 'cifar'.*usps, mnist, fashion/));
  test('unknown optimiser', () => expectUsageError(cli('train', '--optimizer', 'rmsprop'), /--optimizer: 'rmsprop'/));
  test('unknown preset', () => expectUsageError(cli('train', '--model', 'resnet'), /unknown model preset 'resnet'/));
  test('a --train-size beyond the data set', () =>
    expectUsageError(
      cli('train', '--dataset', 'xor', '--train-size', '5000'),
      /--train-size 5000 is more than the \d+ training examples of xor$/,
    ));

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
    expectUsageError(
      cli('train', '--model', file, '--dataset', 'xor', '--out', tmp),
      /model wrong-size\.json does not fit: xor has 2 values per row, but the model takes 784 values per row$/,
    );
  });

  test('a JSON Conv2D model trains on the images themselves, and one sized for MNIST is told the sizes it takes', () => {
    const layers = (flat: number): unknown[] => [
      { type: 'Conv2D', args: [5, 1, 4] },
      { type: 'ReLU' },
      { type: 'MaxPool2D', args: [2, 2] },
      { type: 'Flatten' },
      { type: 'Linear', args: [flat, 10] },
    ];
    const mnistSized = path.join(tmp, 'conv2d-28.json');
    fs.writeFileSync(mnistSized, JSON.stringify({ layers: layers(12 * 12 * 4) }));
    expectUsageError(
      cli('train', '--model', mnistSized, '--dataset', 'usps', '--out', tmp),
      /model conv2d-28\.json does not fit: usps has 16×16 images, but the model takes 28×28 or 29×29$/,
    );
    const uspsSized = path.join(tmp, 'conv2d-16.json');
    fs.writeFileSync(uspsSized, JSON.stringify({ layers: layers(6 * 6 * 4) }));
    const out = path.join(tmp, 'conv2d-run');
    const saved = path.join(out, 'm.safetensors');
    const r = cli(
      'train',
      '--model',
      uspsSized,
      '--dataset',
      'usps',
      '--epochs',
      '1',
      '--train-size',
      '400',
      '--out',
      out,
      '--save',
      saved,
    );
    expect(r.stderr).toBe('');
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(/model Sequential\(Conv2D\(5, 1, 4, 1\).*, input \(batch, 16, 16, 1\)$/m);
    const accuracy = Number(/test accuracy +([\d.]+) %/.exec(r.stdout)?.[1]);
    expect(accuracy).toBeGreaterThan(20); // one epoch on 400 images: well above the 10 % of chance
    // The command that reads the saved model takes it the same way.
    const evaluated = cli('evaluate', '--model', saved, '--dataset', 'usps');
    expect(evaluated.code).toBe(0);
    expect(evaluated.stdout).toMatch(/accuracy +[\d.]+ %/);
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

  test('--save writes the trained model with the shape of its samples (for export)', () => {
    const file = path.join(tmp, 'xor-model.neurone');
    const r = cli('train', '--dataset', 'xor', '--epochs', '2', '--quiet', '--out', path.join(tmp, 'run-save'), '--save', file);
    expect(r.stderr).toBe('');
    expect(r.code).toBe(0);
    expect(r.stdout).toContain(file);
    expect(load(file).parameterCount()).toBeGreaterThan(0);
    expect(loadWithSampleShape(file).sampleShape).toEqual([2]);
  });

  test('--save into a folder that does not exist fails before training', () => {
    expectUsageError(
      cli('train', '--dataset', 'xor', '--out', tmp, '--save', path.join(tmp, 'no', 'such', 'dir', 'm.bin')),
      /--save|not available/,
    );
  });

  test('--save DIR/ (a folder that does not exist yet) is refused as a folder, not written as a file named DIR', () => {
    const dir = path.join(tmp, 'save-to-new-folder');
    expectUsageError(
      cli('train', '--dataset', 'xor', '--epochs', '1', '--quiet', '--out', path.join(tmp, 'run-slash'), '--save', `${dir}/`),
      new RegExp(`--save: ${dir}/ names a folder; expected a file name \\(e\\.g\\. ${dir}/model\\.safetensors\\)`),
    );
    expect(fs.existsSync(dir)).toBe(false);
    // `/.` too, which path.resolve drops as well.
    expectUsageError(
      cli('train', '--dataset', 'xor', '--epochs', '1', '--quiet', '--out', path.join(tmp, 'run-slash'), '--save', `${dir}/.`),
      /--save: .*\/\. names a folder; expected a file name/,
    );
    expect(fs.existsSync(dir)).toBe(false);
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
