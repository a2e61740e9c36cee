/**
 * Hostile and damaged saves: files that try to exhaust memory from a few bytes, files that are
 * not files, limits that save and load must agree on, parameters shared between modules,
 * checkpoints with bad metadata, and saves that are killed or fail.
 *
 * Run: npx jest test/hostile-saves.test.ts
 */
import { spawnSync } from 'child_process';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { Tensor, zeros } from '../lib/tensor';
import { Rng, seed } from '../lib/random';
import * as init from '../lib/init';
import { Module, Sequential, Linear, Conv1D, ReLU, MaxPool1D, Flatten, Upsample1D, BatchNorm1D } from '../lib/nn';
import { leaves } from '../lib/nn/module';
import { CELogSoftmaxLoss } from '../lib/losses';
import { Adam, SGD, Optimizer } from '../lib/optim';
import { writeFileAtomic } from '../lib/data/read';
import { writeFigure } from '../lib/report/figures';
import { fit } from '../lib/train';
import { CheckpointError } from '../lib/checkpoint';
import { LIMITS, save, load, loadWeights, loadWithSampleShape, readSafetensors, writeSafetensors, StoredTensor } from '../lib/serialize';
import { TS_REGISTER } from './ts-child';
import { openFailsFor } from './full-disk';

const root = path.resolve(__dirname, '..');
let dir: string;
beforeAll(() => {
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'neurone-hostile-'));
});
afterAll(() => fs.rmSync(dir, { recursive: true, force: true }));
afterEach(() => jest.restoreAllMocks());

/** A safetensors file by hand: header JSON (no padding needed) then `data`. */
function rawFile(name: string, header: Record<string, unknown>, data: Uint8Array = new Uint8Array(0)): string {
  const json = Buffer.from(JSON.stringify(header));
  const len = Buffer.alloc(8);
  len.writeBigUInt64LE(BigInt(json.length));
  const f = path.join(dir, name);
  fs.writeFileSync(f, Buffer.concat([len, json, data]));
  return f;
}

const isRaw = (a: unknown): a is { raw: string } => typeof (a as { raw?: unknown })?.raw === 'string';

/** A model file whose architecture is `arch` and whose tensors are `tensors` (F32, zeros). */
function modelFile(
  name: string,
  arch: unknown | { raw: string },
  tensors: Record<string, number[]> = {},
  extraMeta: Record<string, string> = {},
): string {
  const header: Record<string, unknown> = {
    __metadata__: { 'neurone.format': '1', 'neurone.architecture': isRaw(arch) ? arch.raw : JSON.stringify(arch), ...extraMeta },
  };
  let offset = 0;
  for (const [t, shape] of Object.entries(tensors)) {
    const bytes = 4 * shape.reduce((a, b) => a * b, 1);
    header[t] = { dtype: 'F32', shape, data_offsets: [offset, offset + bytes] };
    offset += bytes;
  }
  return rawFile(name, header, new Uint8Array(offset));
}

const linear = (i: number, o: number): unknown => ({ type: 'Linear', args: [i, o], options: { bias: true, init: 'heNormal' } });

/** The temporary files a save may leave next to `file`. */
function temps(file: string): string[] {
  return fs.readdirSync(path.dirname(file)).filter((n) => n.startsWith(`.${path.basename(file)}.`) && n.endsWith('.tmp'));
}

function bits(data: Float32Array): string {
  return Buffer.from(data.buffer, data.byteOffset, data.byteLength).toString('hex');
}

describe('resource exhaustion from small inputs', () => {
  test('a 200-byte file declaring Linear(20000, 20000) is refused before any weight is allocated', () => {
    const initSpy = jest.spyOn(init, 'initialize');
    const f = modelFile('huge-linear.safetensors', { type: 'Sequential', args: [], modules: [linear(20000, 20000)] });
    expect(fs.statSync(f).size).toBeLessThan(300);
    expect(() => load(f)).toThrow(/parameter 0\.weight of Linear\(20000, 20000\) at position 0 is missing from the file/);
    // Nothing was built: building initialises the weights.
    expect(initSpy).not.toHaveBeenCalled();
  });

  test('shapes that claim data the file does not hold are refused from the header, before reading', () => {
    const initSpy = jest.spyOn(init, 'initialize');
    const header = {
      __metadata__: { 'neurone.format': '1', 'neurone.architecture': JSON.stringify(linear(20000, 20000)) },
      weight: { dtype: 'F32', shape: [20000, 20000], data_offsets: [0, 1_600_000_000] },
      bias: { dtype: 'F32', shape: [20000], data_offsets: [1_600_000_000, 1_600_080_000] },
    };
    const f = rawFile('claims.safetensors', header);
    expect(() => load(f)).toThrow(/truncated: the tensors need 1600080000 bytes of data, the file has 0/);
    expect(initSpy).not.toHaveBeenCalled();
  });

  test('Linear(65536, 65536) is over the parameter limit', () => {
    const f = modelFile('over-limit.safetensors', linear(65536, 65536));
    expect(() => load(f)).toThrow(new RegExp(`over ${LIMITS.maxParameters} values \\(the limit\\)`));
  });

  test('architecture arguments far outside sane ranges are refused, by load and by the constructors', () => {
    const conv = { type: 'Conv1D', args: [3, 1, 2, 1], options: { bias: false, init: 'xavierNormal', padding: 4e8 } };
    const f = modelFile('padding.safetensors', { type: 'Sequential', args: [], modules: [conv] }, { '0.weight': [3, 1, 2] });
    expect(() => load(f)).toThrow(/architecture at 0: Conv1D: padding must be an integer in \[0, 2\], got 400000000/);
    const up = modelFile('upsample.safetensors', { type: 'Upsample1D', args: [1e6] });
    expect(() => load(up)).toThrow(/architecture at root: Upsample1D: scale must be an integer in \[1, 4096\], got 1000000/);
    const wide = modelFile('wide.safetensors', { type: 'MaxPool1D', args: [2 ** 30, 1] });
    expect(() => load(wide)).toThrow(/MaxPool1D: kSize must be an integer in \[1, 16777216\]/);

    // The constructors refuse the same values with the same message, so no network that
    // constructs is refused by save.
    expect(() => new Conv1D(3, 1, 2, 1, { padding: 4e8 })).toThrow(/^Conv1D: padding must be an integer in \[0, 2\], got 400000000$/);
    expect(() => new Upsample1D(1e6)).toThrow(/^Upsample1D: scale must be an integer in \[1, 4096\], got 1000000$/);
    expect(() => new MaxPool1D(2 ** 30, 1)).toThrow(/^MaxPool1D: kSize must be an integer in \[1, 16777216\], got 1073741824$/);
  });

  test('extra or unknown architecture arguments are refused, not ignored', () => {
    const cases: [unknown, RegExp][] = [
      [{ type: 'ReLU', args: [1] }, /architecture at root: ReLU takes no args, got 1/],
      [
        { type: 'Linear', args: [2, 3, 4], options: { bias: true, init: 'heNormal' } },
        /Linear takes 2 args \(inputSize, outputSize\) and "options": \{ bias, init \}, got 3/,
      ],
      [
        { type: 'MaxPool1D', args: [2, 2, 7] },
        /MaxPool1D takes 1 to 2 args \(kSize, stride\) and "options": \{ padding, ceilMode \}, got 3/,
      ],
      [{ type: 'ReLU', args: [], options: { slope: 1 } }, /ReLU takes no options/],
      [{ type: 'Sequential', args: [5], modules: [] }, /Sequential takes no args or options/],
      [{ type: 'ReLU', args: [], extra: true }, /ReLU has an unknown field 'extra'/],
      [{ type: 'Flatten', args: [], modules: [] }, /Flatten holds no modules/],
    ];
    cases.forEach(([arch, message], i) => {
      const f = modelFile(
        `extra-${i}.safetensors`,
        arch,
        arch && (arch as { type: string }).type === 'Linear' ? { weight: [2, 3], bias: [3] } : {},
      );
      expect(() => load(f)).toThrow(message);
    });
  });

  test('nesting: save refuses what load cannot take, before writing; the limit itself round-trips', () => {
    const nested = (depth: number): Module => {
      let m: Module = new Linear(2, 2);
      for (let i = 0; i < depth; i++) m = new Sequential(m);
      return m;
    };
    const ok = path.join(dir, 'deep-ok.safetensors');
    save(nested(LIMITS.maxNesting), ok);
    expect(load(ok).parameters()).toHaveLength(2);

    const tooDeep = path.join(dir, 'deep.safetensors');
    expect(() => save(nested(LIMITS.maxNesting + 1), tooDeep)).toThrow(/nested more than 64 levels deep/);
    expect(fs.existsSync(tooDeep)).toBe(false);

    // Written as text: JSON.stringify itself would overflow the stack at this depth.
    const raw = '{"type":"Sequential","args":[],"modules":['.repeat(10_000) + '{"type":"ReLU","args":[]}' + ']}'.repeat(10_000);
    const f = modelFile('deep-arch.safetensors', { raw });
    expect(() => load(f)).toThrow(/nested more than 64 levels deep \(the limit\)/);

    // A Sequential inside itself would recurse forever in config().
    const loop = new Sequential(new Linear(2, 2));
    (loop.modules as Module[]).push(loop);
    expect(() => save(loop, path.join(dir, 'loop.safetensors'))).toThrow(/the module at 1 contains itself/);
    // The walk of a network's layers (lazy sizing, input channels, export's input shape) ends on
    // it too, and meets a module used at two places twice, as a forward pass does.
    expect(loop.unsizedLayer()).toBeUndefined();
    const shared = new Linear(4, 4);
    expect([...leaves(loop)].map((m) => m.toString())).toEqual(['Linear(2, 2)']);
    const twice = new Sequential(new ReLU(), shared, new Sequential(new Flatten(), shared));
    expect([...leaves(twice)].map((m) => m.toString())).toEqual(['ReLU()', 'Linear(4, 4)', 'Flatten()', 'Linear(4, 4)']);
  });
});

describe('files that are not model files, and the size limit', () => {
  test('a device is refused without reading it', () => {
    if (!fs.existsSync('/dev/zero')) return;
    expect(() => load('/dev/zero')).toThrow(/^load: \/dev\/zero: a character device, not a regular file/);
  });

  test('a FIFO is refused without waiting for a writer; a directory is refused', () => {
    expect(() => load(dir)).toThrow(/a directory, not a regular file|EISDIR/);
    const fifo = path.join(dir, 'fifo');
    if (process.platform === 'win32' || spawnSync('mkfifo', [fifo]).status !== 0) return;
    expect(() => load(fifo)).toThrow(/a FIFO, not a regular file/);
  });

  test('a file over the size limit is refused from its size (a sparse file: nothing read)', () => {
    const f = path.join(dir, 'huge.safetensors');
    fs.writeFileSync(f, '');
    fs.truncateSync(f, LIMITS.maxFileBytes + 1);
    expect(() => load(f)).toThrow(/16\.0 GiB, over the 16\.0 GiB limit on model files/);
    fs.rmSync(f);
  });

  test('reading in pieces (as files over 2 GiB are) gives the same tensors', () => {
    seed(3);
    const net = new Sequential(new Linear(7, 5), new ReLU(), new Linear(5, 3));
    const f = path.join(dir, 'pieces.safetensors');
    save(net, f);
    const whole = readSafetensors(f);
    const pieces = readSafetensors(f, 'load', 7);
    expect([...pieces.tensors.keys()]).toEqual([...whole.tensors.keys()]);
    for (const [name, t] of whole.tensors) expect(bits(pieces.tensors.get(name)?.data as Float32Array)).toBe(bits(t.data as Float32Array));
    net.parameters().forEach((p) => expect(bits(whole.tensors.get(p.name)?.data as Float32Array)).toBe(bits(p.value.data)));
  });

  test('save refuses, before writing anything, a file over the size limit or a header over the header limit', () => {
    const target = path.join(dir, 'too-big.safetensors');
    // The size is checked from the shapes before the data is looked at: no 16 GiB array needed.
    const huge: StoredTensor & { name: string } = { name: 'w', dtype: 'F32', shape: [2 ** 32], data: new Float32Array(1) };
    expect(() => writeSafetensors(target, [huge], {})).toThrow(
      /^save: .*too-big\.safetensors: the file would take 16\.0 GiB, over the 16\.0 GiB limit load accepts/,
    );
    expect(() => save(new Linear(2, 2), target, { metadata: { notes: 'x'.repeat(LIMITS.maxHeaderBytes) } })).toThrow(
      /the header would take \d+ bytes, over the 100000000-byte limit load accepts/,
    );
    expect(fs.existsSync(target)).toBe(false);
    expect(temps(target)).toEqual([]);
  });
});

describe('shared parameters survive save and load', () => {
  test('a tensor shared by two layers is stored once and shared again after load', () => {
    seed(5);
    const l1 = new Linear(4, 4);
    const l2 = new Linear(4, 4);
    (l2 as unknown as { weight: Tensor }).weight = l1.weight;
    const net = new Sequential(l1, new ReLU(), l2);
    const f = path.join(dir, 'tied.safetensors');
    save(net, f);
    const stored = readSafetensors(f);
    expect([...stored.tensors.keys()]).toEqual(['0.weight', '0.bias', '2.bias']);
    expect(JSON.parse(stored.metadata['neurone.ties'])).toEqual({
      modules: {},
      parameters: { '2.weight': { to: '0.weight', grad: false } },
    });

    const back = load(f) as Sequential;
    const [a, , b] = back.modules as Linear[];
    expect(b.weight).toBe(a.weight);
    expect(b.bias).not.toBe(a.bias);
    expect(bits(a.weight.data)).toBe(bits(l1.weight.data));
    expect(bits(b.bias?.data as Float32Array)).toBe(bits(l2.bias?.data as Float32Array));
    // Saved again, it is the same file.
    const again = path.join(dir, 'tied-again.safetensors');
    save(back, again);
    expect(fs.readFileSync(again).equals(fs.readFileSync(f))).toBe(true);

    // Into a network that does not share, each position gets the stored tensor.
    const untied = new Sequential(new Linear(4, 4), new ReLU(), new Linear(4, 4));
    loadWeights(untied, f);
    expect(bits((untied.modules[2] as Linear).weight.data)).toBe(bits(l1.weight.data));
    // From a file that stores them apart into a network that shares them: refused.
    const apart = path.join(dir, 'apart.safetensors');
    save(untied, apart);
    expect(() => loadWeights(back, apart)).toThrow(/tensor '2.weight' is stored on its own, but the network shares 2.weight with 0.weight/);
  });

  test('the same layer at two positions is one layer again after load', () => {
    seed(6);
    const shared = new Linear(3, 3);
    const net = new Sequential(shared, new ReLU(), shared, new Linear(3, 2));
    const f = path.join(dir, 'same-layer.safetensors');
    save(net, f);
    expect([...readSafetensors(f).tensors.keys()]).toEqual(['0.weight', '0.bias', '3.weight', '3.bias']);
    const back = load(f) as Sequential;
    expect(back.modules[2]).toBe(back.modules[0]);
    expect((back.modules[2] as Linear).weight).toBe((back.modules[0] as Linear).weight);
    const x = zeros([2, 3]);
    x.data.set([1, -2, 3, 0.5, 0.25, -1]);
    expect(bits(back.forward(x).data)).toBe(bits(net.forward(x).data));
  });

  test('ties in the metadata that the architecture cannot have are refused', () => {
    const arch = { type: 'Sequential', args: [], modules: [linear(2, 2), linear(3, 3)] };
    const f = modelFile(
      'bad-ties.safetensors',
      arch,
      { '0.weight': [2, 2], '0.bias': [2], '1.bias': [3] },
      { 'neurone.ties': JSON.stringify({ parameters: { '1.weight': { to: '0.weight', grad: false } } }) },
    );
    expect(() => load(f)).toThrow(/neurone.ties ties 1.weight \(3, 3\) to 0.weight \(2, 2\): the shapes differ/);
    const g = modelFile('bad-ties-json.safetensors', arch, {}, { 'neurone.ties': '[1]' });
    expect(() => load(g)).toThrow(/corrupt metadata: neurone.ties must be an object/);
  });

  test('a stored sample shape that is not a list of positive integers is refused where it is read', () => {
    const arch = { type: 'Sequential', args: [], modules: [linear(2, 2)] };
    for (const stored of ['[4, 0]', '"x"', '[1,2,3,4,5,6,7,8,9]', '{'])
      expect(() =>
        loadWithSampleShape(
          modelFile('bad-shape.safetensors', arch, { '0.weight': [2, 2], '0.bias': [2] }, { 'neurone.inputShape': stored }),
        ),
      ).toThrow(/^load: .*bad-shape\.safetensors: corrupt metadata: neurone.inputShape is .*, expected a list of positive integers$/);
  });
});

describe('saves that fail or are killed', () => {
  test("a command's signal cleanups: a signal still ends the process as the command ends, or after a held write", () => {
    const read = JSON.stringify(path.join(root, 'lib', 'data', 'read.ts'));
    const child = (code: string): ReturnType<typeof spawnSync> =>
      spawnSync(
        process.execPath,
        ['-e', `${TS_REGISTER} const fs = require('fs'); const { onFatalSignal, writeFileAtomic } = require(${read}); ${code}`],
        { encoding: 'utf8', timeout: 30000 },
      );
    const file = JSON.stringify(path.join(dir, 'signalled.bin'));
    const cleaned = path.join(dir, 'cleaned');
    // A signal that reaches JavaScript only after the command unregistered its last cleanup (the
    // event loop had not polled since): before, the listener was gone and the run exited 0.
    const late = child(
      `const done = onFatalSignal(() => {}); process.kill(process.pid, 'SIGTERM'); writeFileAtomic(${file}, Buffer.from('x')); done();`,
    );
    expect([late.status, late.signal]).toEqual([null, 'SIGTERM']);
    // A signal held by a write and released after a listener that re-raises it only when alone
    // (the progress bar's) came: the cleanups run and the process dies of it.
    const held = child(
      `onFatalSignal(() => fs.writeFileSync(${JSON.stringify(cleaned)}, '')); process.kill(process.pid, 'SIGINT'); writeFileAtomic(${file}, Buffer.from('x'));` +
        ` setImmediate(() => process.on('SIGINT', function bar(s) { process.removeListener('SIGINT', bar); if (process.listenerCount(s) === 0) process.kill(process.pid, s); }));`,
    );
    expect([held.status, held.signal]).toEqual([null, 'SIGINT']);
    expect(fs.existsSync(cleaned)).toBe(true);
    expect(fs.readFileSync(path.join(dir, 'signalled.bin'), 'utf8')).toBe('x');
  });

  test('a disk that fills up mid-write leaves the old file, not a truncated one (results, figures, images)', () => {
    const target = path.join(dir, 'result.bin');
    fs.writeFileSync(target, 'old');
    // The module object itself (the namespace import's properties cannot be redefined): the
    // writers read fs.writeSync from it at each call.
    // eslint-disable-next-line @typescript-eslint/no-require-imports
    const nodeFs: typeof fs = require('fs');
    const real = nodeFs.writeSync;
    // A nearly full disk: the first write takes 4 KiB of what it is given, the next one fails.
    let calls = 0;
    const spy = jest.spyOn(nodeFs, 'writeSync').mockImplementation(((fd: number, buffer: Uint8Array, offset?: number, length?: number) => {
      calls++;
      if (calls > 1) throw Object.assign(new Error('ENOSPC: no space left on device, write'), { code: 'ENOSPC' });
      return real(fd, buffer, offset ?? 0, Math.min(length ?? buffer.length, 4096));
    }) as typeof fs.writeSync);
    const leftovers = () => fs.readdirSync(dir).filter((f) => f.endsWith('.tmp'));
    try {
      // The error names the target (not the hidden temporary file), how far the write got, and
      // keeps the system's code.
      let err: (Error & { code?: string }) | undefined;
      try {
        writeFileAtomic(target, [new Uint8Array(60000).fill(1), new Uint8Array(40000).fill(1)], { who: 'results' });
      } catch (e) {
        err = e as Error & { code?: string };
      }
      expect(err?.message).toMatch(
        /^results: cannot write .*result\.bin: writing failed after 4096 of 100000 bytes \(ENOSPC: no space left on device\); the previous file, if any, is unchanged$/,
      );
      expect(err?.message).not.toMatch(/\.tmp/);
      expect(err?.code).toBe('ENOSPC');
      expect(fs.readFileSync(target, 'utf8')).toBe('old');
      calls = 0;
      const figure = path.join(dir, 'curves.svg');
      expect(() => writeFigure(figure, '<svg>' + ' '.repeat(100000) + '</svg>')).toThrow(
        /^cannot write .*curves\.svg: writing failed after 4096 of 100011 bytes \(ENOSPC: no space left on device\)/,
      );
      expect(fs.existsSync(figure)).toBe(false);
      expect(leftovers()).toEqual([]);
    } finally {
      spy.mockRestore();
    }
    // Short writes that go on succeeding still write the whole file.
    const chunky = jest
      .spyOn(nodeFs, 'writeSync')
      .mockImplementation(((fd: number, buffer: Uint8Array, offset?: number, length?: number) =>
        real(fd, buffer, offset ?? 0, Math.min(length ?? buffer.length, 1000))) as typeof fs.writeSync);
    try {
      writeFileAtomic(target, new Uint8Array(100000).fill(7));
    } finally {
      chunky.mockRestore();
    }
    expect(fs.readFileSync(target).equals(Buffer.alloc(100000, 7))).toBe(true);
  });

  test('temporary files of dead processes, unchanged for a minute, are removed at the next save of the same target; others stay', () => {
    const f = path.join(dir, 'stale.safetensors');
    const dead = spawnSync(process.execPath, ['-e', '']).pid as number;
    const stale = path.join(dir, `.stale.safetensors.${dead}.abcd1234.tmp`);
    const live = path.join(dir, `.stale.safetensors.${process.ppid}.abcd1234.tmp`);
    const other = path.join(dir, `.other.safetensors.${dead}.abcd1234.tmp`);
    // A pid this machine does not know, writing now: another container's or machine's writer.
    const elsewhere = path.join(dir, `.stale.safetensors.${dead}.efgh5678.tmp`);
    for (const t of [stale, live, other, elsewhere]) fs.writeFileSync(t, 'partial');
    const old = (Date.now() - 120_000) / 1000;
    for (const t of [stale, live, other]) fs.utimesSync(t, old, old);
    save(new Linear(2, 2), f);
    expect(fs.existsSync(stale)).toBe(false);
    expect(fs.existsSync(live)).toBe(true);
    expect(fs.existsSync(other)).toBe(true);
    expect(fs.existsSync(elsewhere)).toBe(true);
    for (const t of [live, other, elsewhere]) fs.rmSync(t);
  });

  test('a name of 250 bytes saves: its temporary file takes a shortened name', () => {
    const name = `${'m'.repeat(238)}.safetensors`;
    expect(Buffer.byteLength(name)).toBe(250);
    const f = path.join(dir, name);
    save(new Linear(2, 2), f);
    expect(load(f).config()).toEqual(new Linear(2, 2).config());
    expect(fs.readdirSync(dir).filter((n) => n.endsWith('.tmp'))).toEqual([]);
  });

  test('a temporary file removed by another writer before the rename is named as such', () => {
    const target = path.join(dir, 'raced.safetensors');
    // eslint-disable-next-line @typescript-eslint/no-require-imports
    const nodeFs: typeof fs = require('fs');
    const realRename = nodeFs.renameSync;
    const raced = jest.spyOn(nodeFs, 'renameSync').mockImplementation(((from: fs.PathLike, to: fs.PathLike) => {
      fs.rmSync(from); // another container's writer took it for stranded
      return realRename(from, to);
    }) as typeof fs.renameSync);
    try {
      expect(() => save(new Linear(2, 2), target)).toThrow(
        /^save: cannot write .*raced\.safetensors: its temporary file \.raced\.safetensors\.\d+\.[a-z0-9]+\.tmp was removed by another process before it could replace it; the previous file, if any, is unchanged$/,
      );
    } finally {
      raced.mockRestore();
    }
  });

  test('overwrite: false leaves a file already there, or one created while the model is written, and says EEXIST', () => {
    const target = path.join(dir, 'kept.safetensors');
    fs.writeFileSync(target, 'the other run');
    const refused = (f: () => void): NodeJS.ErrnoException => {
      try {
        f();
      } catch (e) {
        return e as NodeJS.ErrnoException;
      }
      throw new Error('expected the save to be refused');
    };
    const early = refused(() => save(new Linear(2, 2), target, { overwrite: false }));
    expect(early.message).toBe(`save: cannot write ${target}: a file is already there; not replaced (nothing written)`);
    expect(early.code).toBe('EEXIST');
    fs.rmSync(target);
    // The file appears between the check and the commit: a rename would replace it; the link cannot.
    // eslint-disable-next-line @typescript-eslint/no-require-imports
    const nodeFs: typeof fs = require('fs');
    const realLink = nodeFs.linkSync;
    const racing = jest.spyOn(nodeFs, 'linkSync').mockImplementation(((from: fs.PathLike, to: fs.PathLike) => {
      fs.writeFileSync(to, 'the other run');
      return realLink(from, to);
    }) as typeof fs.linkSync);
    const late = refused(() => save(new Linear(2, 2), target, { overwrite: false }));
    racing.mockRestore();
    expect(late.message).toBe(`save: cannot write ${target}: a file is already there; not replaced (nothing written)`);
    expect(late.code).toBe('EEXIST');
    expect(fs.readFileSync(target, 'utf8')).toBe('the other run');
    expect(temps(target)).toEqual([]);
    // Nothing there: saved, and no second name of the file is left behind.
    fs.rmSync(target);
    save(new Linear(2, 3), target, { overwrite: false });
    expect(load(target).config()).toEqual(new Linear(2, 3).config());
    expect(fs.statSync(target).nlink).toBe(1);
    expect(temps(target)).toEqual([]);
    // Over NFS a link() retried after a lost reply answers EEXIST for the link it made itself: saved.
    fs.rmSync(target);
    const retried = jest.spyOn(nodeFs, 'linkSync').mockImplementation(((from: fs.PathLike, to: fs.PathLike) => {
      realLink(from, to);
      throw Object.assign(new Error('EEXIST: file already exists, link'), { code: 'EEXIST' });
    }) as typeof fs.linkSync);
    save(new Linear(2, 5), target, { overwrite: false });
    retried.mockRestore();
    expect(load(target).config()).toEqual(new Linear(2, 5).config());
    expect(fs.statSync(target).nlink).toBe(1);
    expect(temps(target)).toEqual([]);
    // A file system without hard links: a check and a rename instead.
    fs.rmSync(target);
    const noLinks = jest.spyOn(nodeFs, 'linkSync').mockImplementation(() => {
      throw Object.assign(new Error('EPERM: operation not permitted, link'), { code: 'EPERM' });
    });
    save(new Linear(2, 4), target, { overwrite: false });
    expect(load(target).config()).toEqual(new Linear(2, 4).config());
    expect(refused(() => save(new Linear(2, 2), target, { overwrite: false })).code).toBe('EEXIST');
    noLinks.mockRestore();
    expect(load(target).config()).toEqual(new Linear(2, 4).config());
    expect(() => save(new Linear(2, 2), target, { overwrite: 'no' as unknown as boolean })).toThrow(
      'save: options.overwrite must be a boolean, got string no',
    );
  });

  test("root saving over another user's file gives it back to them", () => {
    if (process.getuid?.() !== 0) return; // only root can make a file of another user
    const f = path.join(dir, 'theirs.safetensors');
    save(new Linear(2, 2), f);
    fs.chownSync(f, 65534, 65534);
    fs.chmodSync(f, 0o600);
    save(new Linear(2, 3), f);
    const st = fs.statSync(f);
    expect([st.uid, st.gid, st.mode & 0o777]).toEqual([65534, 65534, 0o600]);
  });

  test('a read-only file is not replaced (as > would refuse), unless the writer is root', () => {
    if (process.platform === 'win32') return;
    const f = path.join(dir, 'locked.safetensors');
    save(new Linear(2, 2), f);
    fs.chmodSync(f, 0o444);
    const before = fs.readFileSync(f);
    if (process.getuid?.() === 0) {
      save(new Linear(2, 3), f); // root writes any file, as it would with >
      expect(load(f).config()).toEqual(new Linear(2, 3).config());
    } else {
      expect(() => save(new Linear(2, 3), f)).toThrow(
        `save: cannot write ${f}: it is read-only (mode 0444); make it writable or remove it first; nothing written`,
      );
      expect(fs.readFileSync(f).equals(before)).toBe(true);
    }
    fs.chmodSync(f, 0o644);
  });

  test('saving over a file keeps its permissions', () => {
    if (process.platform === 'win32') return;
    const f = path.join(dir, 'private.safetensors');
    save(new Linear(2, 2), f);
    fs.chmodSync(f, 0o600);
    save(new Linear(2, 2), f);
    expect(fs.statSync(f).mode & 0o777).toBe(0o600);
  });

  test('what the target names decides: a link is replaced (never written through), a folder, FIFO or device refused', () => {
    if (process.platform === 'win32') return;
    const kinds = path.join(dir, 'kinds');
    fs.mkdirSync(kinds);
    // A link to a regular file: the link becomes the new file; the file it pointed to is left alone.
    const elsewhere = path.join(dir, 'elsewhere.txt');
    fs.writeFileSync(elsewhere, 'keep me');
    fs.chmodSync(elsewhere, 0o600);
    const link = path.join(kinds, 'link.json');
    fs.symlinkSync(elsewhere, link);
    writeFileAtomic(link, Buffer.from('new'));
    expect(fs.lstatSync(link).isFile()).toBe(true);
    // With the mode of the file it pointed to: a private model stays private.
    expect(fs.statSync(link).mode & 0o777).toBe(0o600);
    expect(fs.readFileSync(link, 'utf8')).toBe('new');
    expect(fs.readFileSync(elsewhere, 'utf8')).toBe('keep me');
    // A link to a device (/dev/full would fail every write with ENOSPC): replaced likewise, so
    // no write ever reaches the device; a full disk is tested above, not through /dev/full.
    if (fs.existsSync('/dev/full')) {
      const toDevice = path.join(kinds, 'training.svg');
      fs.symlinkSync('/dev/full', toDevice);
      writeFigure(toDevice, '<svg/>');
      expect(fs.lstatSync(toDevice).isFile()).toBe(true);
      expect(fs.readFileSync(toDevice, 'utf8')).toBe('<svg/>');
    }
    // A dangling link: replaced too.
    const dangling = path.join(kinds, 'dangling.csv');
    fs.symlinkSync(path.join(dir, 'no-such-file'), dangling);
    writeFileAtomic(dangling, Buffer.from('a,b\n'));
    expect(fs.readFileSync(dangling, 'utf8')).toBe('a,b\n');
    // Not files: refused, left as they are, nothing stranded.
    const folder = path.join(kinds, 'folder.json');
    fs.mkdirSync(folder);
    expect(() => writeFileAtomic(folder, Buffer.from('x'), { who: 'sweep' })).toThrow(
      /^sweep: cannot write .*folder\.json: expected a regular file \(or none\), found a directory; not replacing it$/,
    );
    expect(fs.statSync(folder).isDirectory()).toBe(true);
    const fifo = path.join(kinds, 'pipe.json');
    if (spawnSync('mkfifo', [fifo]).status === 0) {
      expect(() => writeFileAtomic(fifo, Buffer.from('x'))).toThrow(
        /^cannot write .*pipe\.json: expected a regular file \(or none\), found a FIFO/,
      );
      expect(fs.lstatSync(fifo).isFIFO()).toBe(true);
    }
    if (fs.existsSync('/dev/null')) {
      expect(() => writeFileAtomic('/dev/null', Buffer.from('x'))).toThrow(
        /^cannot write \/dev\/null: expected a regular file \(or none\), found a character device; not replacing it$/,
      );
    }
    expect(fs.readdirSync(kinds).filter((f) => f.endsWith('.tmp'))).toEqual([]);
  });

  test('a tensor edited by hand (shape, data length) is refused by save before anything is written', () => {
    const f = path.join(dir, 'edited.safetensors');
    fs.writeFileSync(f, 'previous');
    type Editable = { shape: readonly number[]; data: Float32Array };
    const cases: [string, (t: Editable) => void, string][] = [
      ['shape', (t) => (t.shape = [2, 4]), 'got (2, 4) holding 8 values'],
      ['data', (t) => (t.data = new Float32Array(3)), 'got (4, 2) holding 3 values'],
      ['both', (t) => ((t.shape = [3, 3]), (t.data = new Float32Array(9))), 'got (3, 3) holding 9 values'],
      ['garbage', (t) => (t.shape = [2.5, 4]), 'got (2.5, 4) holding 8 values'],
    ];
    for (const layout of ['neurone', 'torch'] as const) {
      for (const [, edit, got] of cases) {
        const net = new Sequential(new Linear(4, 2), new ReLU(), new Linear(2, 3));
        edit(net.parameters()[0].value as Editable);
        expect(() => save(net, f, { layout })).toThrow(
          `save: ${f}: parameter 0.weight of Linear(4, 2) at position 0 must have shape (4, 2) (8 values), ${got}`,
        );
      }
    }
    // A buffer likewise (BatchNorm's running variance, stored as the parameters are).
    const bn = new BatchNorm1D(3);
    const running = bn.buffers()[1];
    (running.value as Editable).data = new Float32Array(2);
    expect(() => save(new Sequential(new Linear(2, 3), bn), f)).toThrow(
      `save: ${f}: buffer 1.${running.name} of BatchNorm1D(3) at position 1 must have shape (3) (3 values), got (3) holding 2 values`,
    );
    expect(fs.readFileSync(f, 'utf8')).toBe('previous');
    expect(temps(f)).toEqual([]);
  });

  test('a checksum that does not match writes nothing; one that matches writes the file', () => {
    const f = path.join(dir, 'checked.bin');
    fs.writeFileSync(f, 'old');
    const abc = 'ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad';
    expect(() => writeFileAtomic(f, [Buffer.from('ab'), Buffer.from('d')], { sha256: abc, who: 'download' })).toThrow(
      new RegExp(
        `^download: cannot write .*checked\\.bin: checksum mismatch: expected sha256 ${abc}, got 3 bytes with sha256 [0-9a-f]{64}; nothing written$`,
      ),
    );
    expect(fs.readFileSync(f, 'utf8')).toBe('old');
    writeFileAtomic(f, [Buffer.from('ab'), Buffer.from('c')], { sha256: abc.toUpperCase() });
    expect(fs.readFileSync(f, 'utf8')).toBe('abc');
  });

  test('errors name the target, not the hidden temporary file', () => {
    const f = path.join(dir, 'no-such-dir', 'model.safetensors');
    let message = '';
    try {
      save(new Linear(2, 2), f);
    } catch (e) {
      message = (e as Error).message;
    }
    expect(message).toMatch(
      new RegExp(
        `^save: cannot write ${f.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}: cannot create a file in .*\\(ENOENT: no such file or directory\\)`,
      ),
    );
    expect(message).not.toMatch(/\.tmp/);
    expect(() => save(new Linear(2, 2), dir)).toThrow(
      /^save: cannot write .*: expected a regular file \(or none\), found a directory; not replacing it$/,
    );
  });

  // Where the save runs matters: from an I/O callback (the poll phase), the event loop reads the
  // signal only on its next turn, after the immediates of this one.
  test.each([
    ['at start-up', 'go()'],
    ['in an I/O callback', 'fs.readFile(__filename, () => go())'],
    ['after an await in an I/O callback', 'fs.readFile(__filename, async () => { await Promise.resolve(); go(); })'],
  ])('SIGTERM in the middle of a save %s: the save completes, then the process ends by the signal; no temporary file', (_, call) => {
    if (process.platform === 'win32') return;
    const f = path.join(dir, 'signalled.safetensors');
    const code = `${TS_REGISTER} process.chdir(${JSON.stringify(root)});
      const fs = require('fs');
      const { Linear } = require('./lib/nn');
      const { save } = require('./lib/serialize');
      const { seed } = require('./lib/random');
      const fsync = fs.fsyncSync;
      let sent = false;
      // The signal arrives while the temporary file is open and written, before the rename.
      fs.fsyncSync = (fd) => { if (!sent) { sent = true; process.kill(process.pid, 'SIGTERM'); } return fsync(fd); };
      const go = () => { seed(1); save(new Linear(30, 20), ${JSON.stringify(f)}); };
      ${call};
      setTimeout(() => console.error('the signal was lost'), 500);`;
    const r = spawnSync(process.execPath, ['-e', code], { encoding: 'utf8' });
    expect(r.stderr).toBe('');
    expect(r.signal).toBe('SIGTERM');
    expect(temps(f)).toEqual([]);
    seed(1);
    const expected = new Linear(30, 20);
    expect(bits((load(f) as Linear).weight.data)).toBe(bits(expected.weight.data));
  });
});

describe('checkpoints', () => {
  const loss = new CELogSoftmaxLoss();
  const net = (): Sequential => new Sequential(new Conv1D(3, 1, 4), new ReLU(), new MaxPool1D(2), new Flatten(), new Linear(28, 3));
  function data(): { x: Tensor; y: Tensor } {
    const rng = new Rng(9);
    const x = zeros([24, 16, 1]);
    const y = zeros([24]);
    for (let i = 0; i < 24; i++) {
      y.data[i] = i % 3;
      for (let j = 0; j < 16; j++) x.data[i * 16 + j] = Math.sin((j + 1) * (1 + (i % 3))) + 0.3 * rng.normal();
    }
    return { x, y };
  }
  let ckpt: string;
  beforeAll(async () => {
    seed(2);
    ckpt = path.join(dir, 'run.ckpt');
    await fit(net(), loss, new Adam({ lr: 0.01 }), data(), {
      epochs: 3,
      batchSize: 8,
      verbose: 0,
      checkpoint: { path: ckpt },
      earlyStopping: { patience: 5, monitor: 'trainLoss', restoreBest: true },
    });
  });

  /** A copy of the checkpoint with its tensors or its neurone.checkpoint metadata edited. */
  function edited(name: string, edit: (tensors: Map<string, StoredTensor>, meta: Record<string, unknown>) => void): string {
    const { tensors, metadata } = readSafetensors(ckpt);
    const meta = JSON.parse(metadata['neurone.checkpoint']);
    edit(tensors, meta);
    const f = path.join(dir, name);
    writeSafetensors(
      f,
      [...tensors].map(([n, t]) => ({ name: n, ...t })),
      { ...metadata, 'neurone.checkpoint': JSON.stringify(meta) },
    );
    return f;
  }

  /** A network and Adam with state of their own, the bits of both, and a resume that must be refused. */
  async function expectRefusedAndUnchanged(file: string, message: RegExp, optimizer: Optimizer = new Adam({ lr: 0.05 })): Promise<void> {
    seed(4);
    const n = net();
    await fit(n, loss, optimizer, data(), { epochs: 1, batchSize: 8, verbose: 0 });
    const params = n.parameters();
    const before = params.map((p) => bits(p.value.data));
    const stateOf = (): string => JSON.stringify(optimizer.state?.(params), (_k, v) => (v instanceof Float32Array ? bits(v) : v));
    const optBefore = stateOf();
    const refused = fit(n, loss, optimizer, data(), { epochs: 5, batchSize: 8, verbose: 0, resumeFrom: file });
    await expect(refused).rejects.toThrow(message);
    // One class for every refusal, naming the file: a caller can start over instead.
    await expect(refused).rejects.toBeInstanceOf(CheckpointError);
    await expect(refused).rejects.toMatchObject({ file, name: 'CheckpointError' });
    expect(params.map((p) => bits(p.value.data))).toEqual(before);
    expect(stateOf()).toBe(optBefore);
  }

  test('fit.order must be a permutation', async () => {
    const zerosOrder = edited('order-zeros.ckpt', (t) => {
      (t.get('fit.order') as StoredTensor).data.fill(0);
    });
    await expectRefusedAndUnchanged(
      zerosOrder,
      /order-zeros\.ckpt: fit\.order is not a permutation of 0\.\.23: entry 1 is 0, already listed/,
    );
    const outside = edited('order-outside.ckpt', (t) => {
      (t.get('fit.order') as StoredTensor).data[5] = 99;
    });
    await expectRefusedAndUnchanged(outside, /entry 5 is 99/);
  });

  test('a refused resume leaves the weights and the optimiser state bitwise unchanged', async () => {
    // Refused by the optimiser itself, after the weights used to be copied in.
    const noSteps = edited('no-steps.ckpt', (_t, m) => {
      delete (m.optimizer as { steps: Record<string, number> }).steps['4.bias'];
    });
    await expectRefusedAndUnchanged(
      noSteps,
      /Adam\.loadState: step count of 4\.bias must be an integer in \[1, 2147483646\], got undefined/,
    );
    const shortBuffer = edited('short-buffer.ckpt', (t) => {
      t.set('optimizer.4.bias.m', { dtype: 'F32', shape: [2], data: new Float32Array(2) });
    });
    await expectRefusedAndUnchanged(shortBuffer, /Adam\.loadState: buffer '4\.bias\.m' has 2 values, parameter 4\.bias has 3/);
    const badSteps = edited('bad-steps.ckpt', (_t, m) => {
      (m.optimizer as { steps: Record<string, number> }).steps['4.bias'] = 0;
    });
    await expectRefusedAndUnchanged(
      badSteps,
      /neurone\.checkpoint\.optimizer\.steps\['4\.bias'\] must be a positive integer, got number 0/,
    );
    await expectRefusedAndUnchanged(ckpt, /SGD\.loadState: expected a SGD state, got a Adam state/, new SGD({ lr: 0.1, momentum: 0.9 }));
  });

  test('NaN in the best weights (fit.best.*) is refused, as in the weights: restoreBest would put it back', async () => {
    // Before, a checkpoint whose best weights held NaN (its best loss unbeaten) resumed, trained,
    // restored NaN weights at the end without a word, and save wrote a file load refuses.
    const nanBest = edited('nan-best.ckpt', (t) => {
      const name = [...t.keys()].find((n) => n.startsWith('fit.best.')) as string;
      (t.get(name) as StoredTensor).data[1] = NaN;
    });
    expect(readSafetensors(nanBest).tensors.has('fit.best.0.weight')).toBe(true);
    await expectRefusedAndUnchanged(
      nanBest,
      /nan-best\.ckpt: fit\.best\.0\.weight holds NaN at index 1; the best epoch's weights are finite$/,
    );
  });

  test('malformed metadata names the file and the field', async () => {
    const cases: [string, (m: Record<string, unknown>) => void, RegExp][] = [
      [
        'waited-string',
        (m) => {
          m.waited = 'abc';
        },
        /neurone\.checkpoint\.waited must be 0 \(epochs since bestEpoch 3\), got string 'abc'|neurone\.checkpoint\.waited must be 0/,
      ],
      [
        'waited-negative',
        (m) => {
          m.waited = -1e9;
        },
        /neurone\.checkpoint\.waited must be/,
      ],
      [
        'best-string',
        (m) => {
          m.best = 'x';
        },
        /neurone\.checkpoint\.best must be a finite number or null/,
      ],
      [
        'best-epoch',
        (m) => {
          m.bestEpoch = 99;
        },
        /neurone\.checkpoint\.bestEpoch must be an integer in \[1, 3\] or null, got number 99/,
      ],
      [
        'history-object',
        (m) => {
          m.history = {};
        },
        /neurone\.checkpoint\.history must be an array of epoch records/,
      ],
      [
        'history-short',
        (m) => {
          (m.history as unknown[]).pop();
        },
        /neurone\.checkpoint\.history must be 3 epoch records/,
      ],
      [
        'history-record',
        (m) => {
          (m.history as Record<string, unknown>[])[1].trainLoss = 'low';
        },
        /neurone\.checkpoint\.history\[1\]\.trainLoss must be a number/,
      ],
      [
        'history-epoch',
        (m) => {
          (m.history as Record<string, unknown>[])[0].epoch = '1';
        },
        /neurone\.checkpoint\.history\[0\]\.epoch must be 1/,
      ],
      [
        'lr',
        (m) => {
          (m.optimizer as Record<string, unknown>).lr = -1;
        },
        /neurone\.checkpoint\.optimizer\.lr must be a finite number >= 0/,
      ],
      [
        'epoch',
        (m) => {
          m.epoch = 1.5;
        },
        /neurone\.checkpoint\.epoch must be a positive integer, got number 1\.5/,
      ],
    ];
    for (const [name, edit, message] of cases) {
      const f = edited(`${name}.ckpt`, (_t, m) => edit(m));
      await expectRefusedAndUnchanged(f, new RegExp(`^fit: resumeFrom: ${f.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}: corrupt metadata: `));
      await expectRefusedAndUnchanged(f, message);
    }
  });

  test('the unedited checkpoint resumes', async () => {
    seed(4);
    const h = await fit(net(), loss, new Adam({ lr: 0.01 }), data(), {
      epochs: 4,
      batchSize: 8,
      verbose: 0,
      resumeFrom: ckpt,
      earlyStopping: { patience: 5, monitor: 'trainLoss' },
    });
    expect(h.epochs.map((e) => e.epoch)).toEqual([1, 2, 3, 4]);
  });

  test('a checkpoint the system will not let fit read is no CheckpointError: the error keeps its code', async () => {
    // A caller that starts over on a CheckpointError (a sweep's --resume) must not throw away a
    // good checkpoint because the process ran out of file descriptors for a moment.
    const fault = openFailsFor(ckpt);
    try {
      const refused = fit(net(), loss, new Adam({ lr: 0.01 }), data(), { epochs: 4, batchSize: 8, verbose: 0, resumeFrom: ckpt });
      await expect(refused).rejects.toThrow(/^fit: resumeFrom: .*: cannot read the file \(EMFILE: too many open files\)$/);
      await expect(refused).rejects.toMatchObject({ code: 'EMFILE' });
      await expect(refused).rejects.not.toBeInstanceOf(CheckpointError);
    } finally {
      fault.restore();
    }
  });
});
