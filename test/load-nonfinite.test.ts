/**
 * Weights holding NaN or ±Infinity: `load` and `loadWeights` refuse them (naming the parameter,
 * its module, the index and the value) unless `allowNonFinite`, in neurone's layout and in
 * PyTorch's; the commands that load a model say so in one line and exit 2.
 *
 * Run: npx jest test/load-nonfinite.test.ts
 */
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { Sequential, Linear, ReLU, BatchNorm1D } from '../lib/nn';
import { seed } from '../lib/random';
import { save, load, loadWeights } from '../lib/serialize';
import { predictCommand } from '../lib/cli/predict';
import { evaluateCommand } from '../lib/cli/evaluate';
import { exportCommand } from '../lib/cli/export';
import { runInProcess } from './in-process';

let dir: string;
beforeAll(() => {
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'neurone-nonfinite-'));
});
afterAll(() => fs.rmSync(dir, { recursive: true, force: true }));

function net(): Sequential {
  seed(3);
  return new Sequential(new Linear(2, 4), new ReLU(), new Linear(4, 2));
}

/** `net()` saved with `value` at `index` of its second Linear's weight (`2.weight`). */
function damaged(name: string, value: number, index = 5, layout: 'neurone' | 'torch' = 'neurone'): string {
  const n = net();
  (n.modules[2] as Linear).weight.data[index] = value;
  const f = path.join(dir, name);
  save(n, f, { layout });
  return f;
}

describe('load refuses weights that are not finite', () => {
  test.each([
    ['NaN', NaN],
    ['Infinity', Infinity],
    ['-Infinity', -Infinity],
  ])('%s: refused, naming the parameter, its module, the index and the value', (text, value) => {
    const f = damaged(`${text}.safetensors`, value);
    expect(() => load(f)).toThrow(
      `load: ${f}: 2.weight of Linear(4, 2) at position 2 holds ${text} at index 5; expected finite weights (a damaged file or a diverged training; in code, pass { allowNonFinite: true } to load to read it anyway)`,
    );
  });

  test('the first bad value is named; allowNonFinite loads the file as it is', () => {
    const f = damaged('two.safetensors', NaN, 7);
    const n = net();
    (n.modules[0] as Linear).bias?.data.set([Infinity], 3);
    (n.modules[2] as Linear).weight.data[7] = NaN;
    save(n, f);
    expect(() => load(f)).toThrow(/: 0\.bias of Linear\(2, 4\) at position 0 holds Infinity at index 3;/);
    const back = load(f, { allowNonFinite: true }) as Sequential;
    expect(Number.isNaN((back.modules[2] as Linear).weight.data[7])).toBe(true);
    expect((back.modules[0] as Linear).bias?.data[3]).toBe(Infinity);
    expect(() => load(f, { allowNonFinite: 1 as unknown as boolean })).toThrow(/^load: allowNonFinite must be a boolean, got number 1/);
  });

  test('into a network, and loadWeights: refused before anything is copied', () => {
    const f = damaged('into.safetensors', NaN);
    const target = net();
    (target.modules[2] as Linear).weight.data.fill(0.25);
    const before = Float32Array.from((target.modules[0] as Linear).weight.data);
    expect(() => load(f, { into: target })).toThrow(/2\.weight of Linear\(4, 2\) at position 2 holds NaN at index 5/);
    expect(() => loadWeights(target, f)).toThrow(
      /^loadWeights: .*into\.safetensors: 2\.weight of Linear\(4, 2\) at position 2 holds NaN at index 5; .*to loadWeights to read it anyway\)$/,
    );
    expect((target.modules[0] as Linear).weight.data).toEqual(before);
    expect((target.modules[2] as Linear).weight.data.every((v) => v === 0.25)).toBe(true);
    loadWeights(target, f, { allowNonFinite: true });
    expect(Number.isNaN((target.modules[2] as Linear).weight.data[5])).toBe(true);
  });

  test("PyTorch's layout: the tensor is named as the file names it", () => {
    // neurone's (4, 2) weight at index 5 is row 2, column 1: (out, in) = (1, 2) in PyTorch's (2, 4), index 6.
    const f = damaged('torch.safetensors', -Infinity, 5, 'torch');
    expect(() => load(f)).toThrow(
      /^load: .*torch\.safetensors: tensor '2\.weight' of Linear\(4, 2\) at position 2 \(PyTorch's layout\) holds -Infinity at index 6;/,
    );
    expect(() => loadWeights(net(), f)).toThrow(/tensor '2\.weight' .* holds -Infinity at index 6/);
    expect((load(f, { allowNonFinite: true }) as Sequential).modules[2]).toBeInstanceOf(Linear);
  });

  test('buffers too: a BatchNorm running variance of NaN', () => {
    seed(4);
    const n = new Sequential(new Linear(3, 3), new BatchNorm1D(3));
    const bn = n.modules[1] as BatchNorm1D;
    const buffer = bn.buffers()[1];
    buffer.value.data[2] = NaN;
    const f = path.join(dir, 'bn.safetensors');
    save(n, f);
    expect(() => load(f)).toThrow(new RegExp(`1\\.${buffer.name} of BatchNorm1D\\(3\\) at position 1 holds NaN at index 2`));
  });
});

describe('the commands that load a model: one line, exit 2', () => {
  const run = runInProcess;

  test.each([
    ['predict', predictCommand, (f: string, x: string) => ['--model', f, x]],
    ['evaluate', evaluateCommand, (f: string) => ['--model', f, '--dataset', 'xor']],
    ['export', exportCommand, (f: string, _x: string, out: string) => [f, '--onnx', out]],
  ])('%s', async (name, command, args) => {
    const f = damaged(`${name}.safetensors`, NaN);
    const x = path.join(dir, 'row.json');
    fs.writeFileSync(x, '[0.5, -1]');
    const out = path.join(dir, `${name}.onnx`);
    const r = await run(command, args(f, x, out));
    expect(r.code).toBe(2);
    expect(r.stdout).toBe('');
    expect(r.stderr).toBe(
      `neurone: ${name}: load: ${f}: 2.weight of Linear(4, 2) at position 2 holds NaN at index 5; expected finite weights (a damaged file or a diverged training; in code, pass { allowNonFinite: true } to load to read it anyway)\n`,
    );
    expect(fs.existsSync(out)).toBe(false);
  });
});
