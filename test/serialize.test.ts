/**
 * save / load (safetensors + architecture), atomic writes, and fit checkpoints.
 *
 * The format is checked twice: against the safetensors specification byte by byte, and, when
 * Python's `safetensors` package is importable here, by reading our file with it.
 */
import { spawn, spawnSync } from 'child_process';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { Tensor, zeros } from '../lib/tensor';
import { Rng, globalRng, seed } from '../lib/random';
import { setBackend } from '../lib/backend';
import { Module, ModuleConfig, Sequential, Linear, Conv1D, MaxPool1D, Flatten, ReLU } from '../lib/nn';
import { CELogSoftmaxLoss } from '../lib/losses';
import { Adam, SGD, Optimizer } from '../lib/optim';
import { fit, predict, FitOptions } from '../lib/train';
import { Logger } from '../lib/logger';
import { save, load, loadWeights, buildModule, registerModule, writeSafetensors, readSafetensors } from '../lib/serialize';
import { ModuleType, moduleTypes } from '../lib/nn/registry';
import { argumentCount } from '../lib/nn/schema';
import { availableBackends } from './backends';
import { TS_REGISTER } from './ts-child';

const root = path.resolve(__dirname, '..');
let dir: string;
beforeAll(() => {
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'neurone-serialize-'));
});
afterAll(() => fs.rmSync(dir, { recursive: true, force: true }));

/** A picker of integers in [lo, hi] for the registry's example generators. */
function picker(rng: Rng): (lo: number, hi: number) => number {
  return (lo, hi) => lo + rng.int(hi - lo + 1);
}

/** A module of `type` built from its registry example. */
function exampleModule(type: ModuleType, pick: (lo: number, hi: number) => number): Module {
  const e = (type.example as NonNullable<ModuleType['example']>)(pick);
  return type.create({ type: type.type, args: e.args, options: e.options }, () => new Sequential());
}

/** Every built-in module type of the registry, twice, the second round nested (not meant to run forward). */
function zoo(): Sequential {
  const pick = picker(new Rng(5));
  const examples = moduleTypes().filter((t) => t.builtIn && t.example);
  return new Sequential(
    ...examples.map((t) => exampleModule(t, pick)),
    new Sequential(...examples.map((t) => exampleModule(t, pick)), new Linear(8, 5, { bias: false, init: 'xavierUniform' })),
  );
}

/** A small CNN that runs: (batch, 32, 1) → (batch, 3). */
function cnn(): Sequential {
  return new Sequential(new Conv1D(3, 1, 4), new ReLU(), new MaxPool1D(2), new Flatten(), new Linear(60, 3));
}

function toyData(n: number, length: number, rng: Rng): { x: Tensor; y: Tensor } {
  const x = zeros([n, length, 1]);
  const y = zeros([n]);
  for (let i = 0; i < n; i++) {
    y.data[i] = i % 3;
    for (let j = 0; j < length; j++) x.data[i * length + j] = Math.sin((j + 1) * (1 + (i % 3))) + 0.3 * rng.normal();
  }
  return { x, y };
}

function weightsOf(net: Module): Float32Array[] {
  return net.parameters().map((p) => p.value.data.slice());
}

function expectSameWeights(a: Module, b: Module): void {
  const pa = a.parameters();
  const pb = b.parameters();
  expect(pb.map((p) => p.name)).toEqual(pa.map((p) => p.name));
  pa.forEach((p, i) => {
    expect(pb[i].value.shape).toEqual(p.value.shape);
    // Bitwise: compare the bytes, so -0 / NaN payloads count too.
    expect(Buffer.from(pb[i].value.data.buffer).equals(Buffer.from(p.value.data.buffer))).toBe(true);
  });
}

function tsChild(code: string): string {
  return `${TS_REGISTER} process.chdir(${JSON.stringify(root)}); ${code}`;
}

describe('save / load', () => {
  test('round-trips every built-in module type: same architecture, bitwise weights', () => {
    seed(1);
    const net = zoo();
    const file = path.join(dir, 'zoo.safetensors');
    save(net, file);
    const again = load(file);
    expect(again).toBeInstanceOf(Sequential);
    expect(again.config()).toEqual(net.config());
    expect(again.toString()).toBe(net.toString());
    expectSameWeights(net, again);
  });

  describe.each(
    moduleTypes()
      .filter((t) => t.builtIn && t.schema)
      .map((t) => [t.type, t] as const),
  )('registered type %s', (_, type) => {
    const schema = type.schema as NonNullable<ModuleType['schema']>;

    test('every example that constructs saves and loads: same architecture, bitwise weights', () => {
      const pick = picker(new Rng(type.type.length));
      for (let i = 0; i < 5; i++) {
        const net = new Sequential(exampleModule(type, pick));
        const file = path.join(dir, `registry-${type.type}-${i}.safetensors`);
        save(net, file);
        const again = load(file);
        expect(again.config()).toEqual(net.config());
        expectSameWeights(net, again);
      }
    });

    // The architecture comparison above reads config() on both sides, so an option that config()
    // forgot would be forgotten on both: what the loaded module computes is compared instead.
    test('a loaded example computes what the saved one does: outputs, buffers after a training forward, gradients', () => {
      const pick = picker(new Rng(type.type.length + 7));
      for (let i = 0; i < 5; i++) {
        const e = (type.example as NonNullable<ModuleType['example']>)(pick);
        const net = new Sequential(type.create({ type: type.type, args: e.args, options: e.options }, () => new Sequential()));
        const file = path.join(dir, `computes-${type.type}-${i}.safetensors`);
        save(net, file);
        const again = load(file) as Sequential;
        const rng = new Rng(i);
        const x = zeros(e.input);
        for (let j = 0; j < x.data.length; j++) x.data[j] = rng.normal();
        const passes = [net, again].map((m) => {
          seed(11); // Dropout's mask from the same place of the stream
          const y = m.forward(x);
          const delta = zeros(y.shape);
          for (let j = 0; j < delta.data.length; j++) delta.data[j] = Math.sin(j + 1);
          m.zeroGrad();
          m.backward(delta);
          return {
            y: Array.from(y.data),
            buffers: m.buffers().map((b) => Array.from(b.value.data)),
            grads: m.parameters().map((p) => Array.from(p.grad.data)),
          };
        });
        expect({ type: type.type, options: e.options, ...passes[1] }).toEqual({ type: type.type, options: e.options, ...passes[0] });
      }
    });

    test('an integer argument over its limit: the constructor refuses it as load does', () => {
      const e = (type.example as NonNullable<ModuleType['example']>)(picker(new Rng(1)));
      const [, count] = argumentCount(schema);
      const args = [...e.args];
      while (args.length < count) args.push(undefined);
      const specs = [
        ...schema.args.map((s, i) => ({ s, at: i })),
        ...(schema.options ?? []).filter((o) => typeof o !== 'string').map((s) => ({ s, at: -1 })),
      ];
      let tried = 0;
      for (const { s, at } of specs) {
        if (typeof s === 'string' || s.kind === 'float32' || s.kind === 'shape') continue;
        const over = 2 ** 30;
        const a = at >= 0 ? args.map((v, i) => (i === at ? over : v)) : args;
        const o = at >= 0 ? e.options : { ...e.options, [s.name]: over };
        const message = new RegExp(`^${type.type}: ${s.name} must be an integer in \\[\\d+, \\d+\\], got ${over}$`);
        expect(() => type.create({ type: type.type, args: a, options: o }, () => new Sequential())).toThrow(message);
        const stored = at >= 0 ? a.slice(0, Math.max(e.args.length, at + 1)) : e.args;
        const file = path.join(dir, `over-${type.type}-${s.name}.safetensors`);
        writeSafetensors(file, [], {
          'neurone.format': '1',
          'neurone.architecture': JSON.stringify({ type: type.type, args: stored, options: o }),
        });
        expect(() => load(file)).toThrow(new RegExp(`architecture at root: ${message.source.slice(1)}`));
        tried++;
      }
      expect(tried).toBe(
        schema.args.filter((s) => s.kind !== 'float32' && s.kind !== 'shape').length +
          (schema.options ?? []).filter((o) => typeof o !== 'string' && o.kind !== 'float32').length,
      );
    });
  });

  test('loading does not move the global random stream', () => {
    seed(3);
    const file = path.join(dir, 'rng.safetensors');
    save(cnn(), file);
    seed(4);
    const expected = new Rng(0);
    expected.setState(globalRng().getState());
    load(file);
    expect(globalRng().uniform()).toBe(expected.uniform());
  });

  test('the file follows the safetensors layout: u64 LE header length, padded JSON header, F32 LE data tiling the rest', () => {
    seed(5);
    const net = cnn();
    const file = path.join(dir, 'layout.safetensors');
    save(net, file, { metadata: { note: 'hello' } });
    const buf = fs.readFileSync(file);
    const n = Number(buf.readBigUInt64LE(0));
    expect((8 + n) % 8).toBe(0);
    const header = JSON.parse(buf.subarray(8, 8 + n).toString('utf8'));
    const meta = header.__metadata__;
    expect(meta.note).toBe('hello');
    expect(meta['neurone.format']).toBe('1');
    expect(JSON.parse(meta['neurone.architecture'])).toEqual(net.config());
    for (const v of Object.values(meta)) expect(typeof v).toBe('string');
    const params = net.parameters();
    expect(
      Object.keys(header)
        .filter((k) => k !== '__metadata__')
        .sort(),
    ).toEqual(params.map((p) => p.name).sort());
    let end = 0;
    for (const p of params) {
      const e = header[p.name];
      expect(e.dtype).toBe('F32');
      expect(e.shape).toEqual([...p.value.shape]);
      const [b, f] = e.data_offsets;
      expect(f - b).toBe(4 * p.value.data.length);
      const raw = buf.subarray(8 + n + b, 8 + n + f);
      for (let i = 0; i < p.value.data.length; i++) expect(raw.readFloatLE(4 * i)).toBe(p.value.data[i]);
      end = Math.max(end, f);
    }
    expect(8 + n + end).toBe(buf.length);
  });

  const python = spawnSync('python3', ['-c', 'import safetensors.numpy'], { encoding: 'utf8' });
  const pythonTest = python.status === 0 ? test : test.skip;
  pythonTest("Python's safetensors reads our file: same names, shapes, dtype, bytes and metadata", () => {
    seed(6);
    const net = cnn();
    const file = path.join(dir, 'python.safetensors');
    save(net, file);
    const script = [
      'import json, sys',
      'from safetensors import safe_open',
      'from safetensors.numpy import load_file',
      't = load_file(sys.argv[1])',
      "with safe_open(sys.argv[1], framework='numpy') as f: meta = f.metadata()",
      "print(json.dumps({'meta': meta, 'tensors': {k: [str(v.dtype), list(v.shape), v.tobytes().hex()] for k, v in t.items()}}))",
    ].join('\n');
    const r = spawnSync('python3', ['-c', script, file], { encoding: 'utf8' });
    expect(r.stderr).toBe('');
    const out = JSON.parse(r.stdout);
    expect(JSON.parse(out.meta['neurone.architecture'])).toEqual(net.config());
    for (const p of net.parameters()) {
      const [dtype, shape, hex] = out.tensors[p.name];
      expect(dtype).toBe('float32');
      expect(shape).toEqual([...p.value.shape]);
      expect(hex).toBe(Buffer.from(p.value.data.buffer, p.value.data.byteOffset, p.value.data.byteLength).toString('hex'));
    }
    expect(Object.keys(out.tensors)).toHaveLength(net.parameters().length);
  });

  describe('a corrupt or truncated file gives an error naming the file and the problem', () => {
    let good: Buffer;
    let headerLength: number;
    const bad = (name: string, bytes: Buffer): string => {
      const f = path.join(dir, name);
      fs.writeFileSync(f, bytes);
      return f;
    };
    // eslint-disable-next-line @typescript-eslint/no-explicit-any -- a parsed header, edited field by field
    const withHeader = (edit: (h: Record<string, any>) => void): Buffer => {
      const h = JSON.parse(good.subarray(8, 8 + headerLength).toString('utf8'));
      edit(h);
      const json = Buffer.from(JSON.stringify(h));
      const len = Buffer.alloc(8);
      len.writeBigUInt64LE(BigInt(json.length));
      return Buffer.concat([len, json, good.subarray(8 + headerLength)]);
    };
    beforeAll(() => {
      seed(7);
      const f = path.join(dir, 'good.safetensors');
      save(new Sequential(new Linear(4, 3), new ReLU(), new Linear(3, 2)), f);
      good = fs.readFileSync(f);
      headerLength = Number(good.readBigUInt64LE(0));
    });

    const cases: [string, () => Buffer, RegExp][] = [
      ['empty', () => Buffer.alloc(0), /truncated or not a safetensors file: 0 bytes/],
      ['cut in the length', () => good.subarray(0, 5), /truncated or not a safetensors file: 5 bytes/],
      ['cut in the header', () => good.subarray(0, 40), /truncated or not a safetensors file: the header needs \d+ bytes, the file has 32/],
      ['cut in the data', () => good.subarray(0, good.length - 6), /truncated: the tensors need 92 bytes of data, the file has 86/],
      ['trailing bytes', () => Buffer.concat([good, Buffer.alloc(4)]), /4 bytes after the last tensor/],
      [
        'huge header length',
        () => {
          const b = Buffer.from(good);
          b.writeBigUInt64LE(1n << 40n);
          return b;
        },
        /header length \d+ is implausible/,
      ],
      [
        'not JSON',
        () => {
          const b = Buffer.from(good);
          b[8] = 0x78;
          return b;
        },
        /corrupt header: not valid JSON/,
      ],
      [
        'F16 dtype',
        () =>
          withHeader((h) => {
            h['0.weight'].dtype = 'F16';
          }),
        /tensor '0.weight' has dtype "F16"/,
      ],
      [
        'offsets not matching the shape',
        () =>
          withHeader((h) => {
            h['0.bias'].shape = [4];
          }),
        /tensor '0.bias' of shape \(4\) needs 16 bytes/,
      ],
      [
        'overlapping tensors',
        () =>
          withHeader((h) => {
            h['0.bias'].data_offsets = [0, 12];
          }),
        /starts at byte 0 of the data, expected \d+ \(gap or overlap\)/,
      ],
      [
        "shape not the architecture's",
        () =>
          withHeader((h) => {
            h['0.weight'].shape = [3, 4];
          }),
        /tensor '0.weight' has shape \(3, 4\), Linear\(4, 3\) at position 0 expects \(4, 3\)/,
      ],
      [
        'an unknown tensor',
        () =>
          withHeader((h) => {
            h['9.weight'] = h['2.bias'];
            delete h['2.bias'];
          }),
        /tensor '9.weight' matches no parameter/,
      ],
      [
        'no architecture',
        () =>
          withHeader((h) => {
            delete h.__metadata__['neurone.architecture'];
          }),
        /no neurone.architecture in the metadata/,
      ],
      [
        'an unknown module type',
        () =>
          withHeader((h) => {
            h.__metadata__['neurone.architecture'] = h.__metadata__['neurone.architecture'].replace('ReLU', 'Gelu');
          }),
        /architecture at 1: unknown module type 'Gelu' \(did you mean 'GELU'\?\)/,
      ],
      [
        'a newer format',
        () =>
          withHeader((h) => {
            h.__metadata__['neurone.format'] = '2';
          }),
        /format version "2", this neurone reads version 1/,
      ],
    ];
    test.each(cases)('%s', (name, make, message) => {
      const f = bad(`${name.replace(/\W+/g, '_')}.safetensors`, make());
      expect(() => load(f)).toThrow(new RegExp(`^load: ${f.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}: `));
      expect(() => load(f)).toThrow(message);
    });

    test('a missing parameter is named', () => {
      // Same data, but the header no longer lists 2.bias: bytes after 2.weight become trailing garbage,
      // so drop them too.
      const h = JSON.parse(good.subarray(8, 8 + headerLength).toString('utf8'));
      const [b, e] = h['2.bias'].data_offsets;
      delete h['2.bias'];
      const json = Buffer.from(JSON.stringify(h));
      const len = Buffer.alloc(8);
      len.writeBigUInt64LE(BigInt(json.length));
      const data = good.subarray(8 + headerLength);
      const f = bad('missing.safetensors', Buffer.concat([len, json, data.subarray(0, b), data.subarray(e)]));
      expect(() => load(f)).toThrow(/parameter 2.bias of Linear\(3, 2\) at position 2 is missing from the file/);
    });

    test('loadWeights into a network of another shape fails and leaves it untouched', () => {
      const f = bad('good-copy.safetensors', good);
      const other = new Sequential(new Linear(4, 5), new ReLU(), new Linear(5, 2));
      const before = weightsOf(other);
      expect(() => loadWeights(other, f)).toThrow(/tensor '0.weight' has shape \(4, 3\), Linear\(4, 5\) at position 0 expects \(4, 5\)/);
      expect(weightsOf(other)).toEqual(before);
      const same = new Sequential(new Linear(4, 3), new ReLU(), new Linear(3, 2));
      loadWeights(same, f);
      expectSameWeights(load(f), same);
      // A lazily sized layer has no weights yet: said, with how to size it (before: "tensor
      // '0.weight' matches no parameter"); once built, the weights load.
      const lazy = new Sequential(new Linear(null, 3), new ReLU(), new Linear(3, 2));
      const unsized =
        'Linear(null, 3) at position 0 takes its input size from its first input, not known yet, so it has no weights to load into; call net.build(inputShape) first';
      expect(() => loadWeights(lazy, f)).toThrow(
        `loadWeights: ${f}: ${unsized}, or load(file) without \`into\`, which builds the network the file describes`,
      );
      // load's `into` too; a file of weights alone is not told to load whole.
      expect(() => load(f, { into: lazy })).toThrow(`load: ${f}: ${unsized}, or load(file) without \`into\``);
      const weightsOnly = bad('weights-only.safetensors', Buffer.alloc(0));
      writeSafetensors(
        weightsOnly,
        [...readSafetensors(f).tensors].map(([name, t]) => ({ name, ...t })),
        {},
      );
      expect(() => loadWeights(lazy, weightsOnly)).toThrow(
        new RegExp(`^loadWeights: .*weights-only\\.safetensors: ${unsized.replace(/[()]/g, '\\$&')}$`),
      );
      lazy.build([4]);
      loadWeights(lazy, f);
      expectSameWeights(load(f), lazy);
    });
  });

  test("an unknown type spelt as PyTorch spells one of neurone's gets the name to use", () => {
    expect(() => buildModule({ type: 'Tanh', args: [] })).toThrow(/unknown module type 'Tanh' \(did you mean 'TanH'\?\) \(known: /);
    expect(() => buildModule({ type: 'Softplus', args: [] })).toThrow(/unknown module type 'Softplus' \(did you mean 'SoftPlus'\?\)/);
    expect(() => buildModule({ type: 'Transformer', args: [] })).toThrow(/unknown module type 'Transformer' \(known: /);
  });

  test('custom module types load once registered', () => {
    class Scale extends Module {
      constructor(readonly k: number) {
        super();
      }
      config(): ModuleConfig {
        return { type: 'Scale', args: [this.k] };
      }
      outputShape(s: readonly number[]): number[] {
        return [...s];
      }
      forward(x: Tensor): Tensor {
        return { shape: x.shape, data: x.data.map((v) => v * this.k) };
      }
      backwardDelta(_x: Tensor, d: Tensor): Tensor {
        return { shape: d.shape, data: d.data.map((v) => v * this.k) };
      }
    }
    const net = new Sequential(new Linear(2, 2), new Scale(3));
    const file = path.join(dir, 'custom.safetensors');
    save(net, file);
    expect(() => load(file)).toThrow(/unknown module type 'Scale'.*registerModule\('Scale', factory\)/);
    registerModule('Scale', (c) => new Scale(c.args[0] as number));
    expect(load(file).toString()).toBe('Sequential(Linear(2, 2), Scale(3))');
    expect(() => registerModule('Linear', () => new Linear(1, 1))).toThrow(/'Linear' is a built-in module type/);
    expect(buildModule(net.config()).config()).toEqual(net.config());
  });

  describe.each(availableBackends())('a saved model reloads in a new process (%s backend)', (name) => {
    beforeAll(() => setBackend(name));

    test('and predicts bitwise identically', async () => {
      seed(8);
      const net = cnn();
      const data = toyData(48, 32, new Rng(1));
      await fit(net, new CELogSoftmaxLoss(), new SGD({ lr: 0.01, momentum: 0.9 }), data, { epochs: 2, batchSize: 16, verbose: 0 });
      const file = path.join(dir, `cnn-${name}.safetensors`);
      const xFile = path.join(dir, `x-${name}.bin`);
      save(net, file);
      fs.writeFileSync(xFile, data.x.data);
      const expected = predict(net, data.x);
      const code = tsChild(`
        const fs = require('fs');
        const { load } = require('./lib/serialize');
        const { predict } = require('./lib/train');
        const { getBackend } = require('./lib/backend');
        const raw = fs.readFileSync(${JSON.stringify(xFile)});
        const x = { shape: [48, 32, 1], data: new Float32Array(raw.buffer.slice(raw.byteOffset, raw.byteOffset + raw.length)) };
        const y = predict(load(${JSON.stringify(file)}), x);
        process.stdout.write(getBackend() + ' ' + Buffer.from(y.data.buffer).toString('hex'));`);
      const r = spawnSync(process.execPath, ['-e', code], { env: { ...process.env, NEURONE_BACKEND: name }, encoding: 'utf8' });
      expect(r.stderr).toBe('');
      const [backendUsed, hex] = r.stdout.split(' ');
      expect(backendUsed).toBe(name);
      expect(hex).toBe(Buffer.from(expected.data.buffer).toString('hex'));
    });
  });

  test('a process killed in the middle of a save leaves the previous file intact and loadable', async () => {
    seed(9);
    const old = new Sequential(new Linear(256, 256), new ReLU(), new Linear(256, 10));
    const file = path.join(dir, 'atomic.safetensors');
    save(old, file);
    const before = fs.readFileSync(file);
    // The child saves a different network over the same path. Its fs.writeSync is wrapped so that,
    // once the header is in the temporary file, it reports and stalls: the parent kills it right
    // there, with the new file half written.
    const code = tsChild(`
      const fs = require('fs');
      const { save } = require('./lib/serialize');
      const { Sequential, Linear, ReLU } = require('./lib/nn');
      const { seed } = require('./lib/random');
      seed(10);
      const net = new Sequential(new Linear(256, 256), new ReLU(), new Linear(256, 10));
      const write = fs.writeSync;
      let calls = 0;
      fs.writeSync = function (fd, ...rest) {
        const n = write.call(fs, fd, ...rest);
        if (fd > 2 && ++calls === 2) {
          write.call(fs, 1, 'HALFWAY\\n');
          Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, 60000);
        }
        return n;
      };
      save(net, ${JSON.stringify(file)});
      write.call(fs, 1, 'DONE\\n');`);
    const child = spawn(process.execPath, ['-e', code], { stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    let err = '';
    child.stderr.on('data', (d) => {
      err += d;
    });
    const exited = new Promise<NodeJS.Signals | null>((resolve) => child.on('exit', (_code, signal) => resolve(signal)));
    await new Promise<void>((resolve, reject) => {
      child.stdout.on('data', (d) => {
        out += d;
        if (out.includes('HALFWAY')) resolve();
      });
      child.on('exit', () => reject(new Error(`child exited before reaching the middle of the save: ${out} ${err}`)));
    });
    const temps = fs.readdirSync(dir).filter((f) => f.startsWith('.atomic.safetensors.') && f.endsWith('.tmp'));
    expect(temps).toHaveLength(1);
    const partial = fs.statSync(path.join(dir, temps[0])).size;
    expect(partial).toBeGreaterThan(8);
    expect(partial).toBeLessThan(before.length);
    child.kill('SIGKILL');
    expect(await exited).toBe('SIGKILL');
    expect(out).not.toContain('DONE');
    expect(fs.readFileSync(file).equals(before)).toBe(true);
    expectSameWeights(old, load(file));
    // The half-written temporary file is what the crash left; it is not a valid model.
    expect(() => load(path.join(dir, temps[0]))).toThrow(/truncated/);
  });
});

describe('fit checkpoints', () => {
  const data = toyData(40, 32, new Rng(2));
  const loss = new CELogSoftmaxLoss();

  async function run(
    makeOpt: () => Optimizer,
    fitOptions: FitOptions,
    before?: () => void,
  ): Promise<{ net: Sequential; history: Awaited<ReturnType<typeof fit>> }> {
    seed(11);
    const net = cnn();
    const opt = makeOpt();
    before?.();
    const history = await fit(net, loss, opt, data, { batchSize: 8, verbose: 0, ...fitOptions });
    return { net, history };
  }

  const optimisers: [string, () => Optimizer][] = [
    ['Adam', () => new Adam({ lr: 3e-3 })],
    ['SGD with momentum', () => new SGD({ lr: 5e-3, momentum: 0.9, weightDecay: 1e-4 })],
  ];
  test.each(optimisers)('4 epochs straight = 2 epochs, checkpoint, resume in a fresh state for 2 more (%s)', async (_name, makeOpt) => {
    const straight = await run(makeOpt, { epochs: 4 });
    const ckpt = path.join(dir, `run-${_name.replace(/\W+/g, '_')}.ckpt`);
    await run(makeOpt, { epochs: 2, checkpoint: { path: ckpt, every: 1 } });
    // Everything that could leak from the first half is different: a new net with other weights,
    // a new optimiser, another seed. The checkpoint must bring it all back.
    const resumed = await run(makeOpt, { epochs: 4, resumeFrom: ckpt }, () => seed(999));
    expectSameWeights(straight.net, resumed.net);
    expect(resumed.history.epochs.map((e) => e.epoch)).toEqual([1, 2, 3, 4]);
    expect(resumed.history.epochs.map((e) => e.trainLoss)).toEqual(straight.history.epochs.map((e) => e.trainLoss));
    // A checkpoint is also a model file.
    expect(load(ckpt).config()).toEqual(straight.net.config());
  });

  test('with early stopping and restoreBest, resuming keeps the counters and best weights', async () => {
    const opts: FitOptions = { epochs: 8, earlyStopping: { patience: 2, monitor: 'trainAccuracy', restoreBest: true } };
    const mk = (): Optimizer => new SGD({ lr: 0.05 });
    const straight = await run(mk, opts);
    const ckpt = path.join(dir, 'early.ckpt');
    await run(mk, { ...opts, epochs: 3, checkpoint: { path: ckpt } });
    const resumed = await run(mk, { ...opts, resumeFrom: ckpt }, () => seed(5));
    expectSameWeights(straight.net, resumed.net);
    expect(resumed.history.stoppedEarly).toBe(straight.history.stoppedEarly);
    expect(resumed.history.bestEpoch).toBe(straight.history.bestEpoch);
    // From every epoch of the run, some of them in a wait (epochs without improvement counted):
    // the run resumed there stops where the straight one stopped, with its weights.
    const waits: number[] = [];
    for (let k = 1; k < straight.history.epochs.length; k++) {
      const at = path.join(dir, `early-${k}.ckpt`);
      await run(mk, { ...opts, epochs: k, checkpoint: { path: at } });
      waits.push((JSON.parse(readSafetensors(at).metadata['neurone.checkpoint']) as { waited: number }).waited);
      const again = await run(mk, { ...opts, resumeFrom: at }, () => seed(5));
      expect({ k, epochs: again.history.epochs.length, bestEpoch: again.history.bestEpoch }).toEqual({
        k,
        epochs: straight.history.epochs.length,
        bestEpoch: straight.history.bestEpoch,
      });
      expectSameWeights(straight.net, again.net);
    }
    expect(waits.some((w) => w > 0)).toBe(true);
  });

  test('early stopping writes the epoch it stopped at, whatever `every`; resuming it trains nothing more', async () => {
    const opts: FitOptions = { epochs: 30, earlyStopping: { patience: 2, monitor: 'trainAccuracy', restoreBest: true } };
    const mk = (): Optimizer => new SGD({ lr: 0.05 });
    const ckpt = path.join(dir, 'stopped.ckpt');
    const straight = await run(mk, { ...opts, checkpoint: { path: ckpt, every: 100 } });
    expect(straight.history.stoppedEarly).toBe(true);
    const last = straight.history.epochs.length;
    expect(last).toBeLessThan(30);
    const meta = JSON.parse(readSafetensors(ckpt).metadata['neurone.checkpoint']);
    expect([meta.epoch, meta.stoppedEarly]).toEqual([last, true]);
    const lines: string[] = [];
    const logger = new Logger({ verbose: 1, write: (l: string) => lines.push(l) });
    const resumed = await run(mk, { ...opts, logger, resumeFrom: ckpt }, () => seed(5));
    expect(resumed.history.epochs.map((e) => e.trainLoss)).toEqual(straight.history.epochs.map((e) => e.trainLoss));
    expect([resumed.history.stoppedEarly, resumed.history.bestEpoch]).toEqual([true, straight.history.bestEpoch]);
    expectSameWeights(straight.net, resumed.net); // the best epoch's weights, restored from the checkpoint
    expect(lines.join('\n')).toContain(`early stopping ended after epoch ${last}: nothing to train`);
  });

  test('a NaN loss is never the best value: early stopping ends the run, and its checkpoint resumes', async () => {
    const ckpt = path.join(dir, 'nan.ckpt');
    const opts: FitOptions = {
      epochs: 6,
      allowNonFinite: true,
      earlyStopping: { patience: 2, monitor: 'trainLoss' },
      checkpoint: { path: ckpt },
    };
    const mk = (): Optimizer => new SGD({ lr: 1e38 });
    const diverged = await run(mk, opts);
    expect(diverged.history.epochs.every((e) => Number.isNaN(e.trainLoss))).toBe(true);
    expect(diverged.history.bestEpoch).toBeUndefined();
    expect(diverged.history.bestValue).toBeUndefined();
    expect(diverged.history.epochs).toHaveLength(2);
    const resumed = await run(mk, { ...opts, resumeFrom: ckpt });
    expect([resumed.history.stoppedEarly, resumed.history.epochs.length]).toEqual([true, 2]);
  });

  test('every N epochs: the file holds the last multiple of N, and resuming checks the network and data', async () => {
    const ckpt = path.join(dir, 'every.ckpt');
    const seen: number[] = [];
    const spy = (): void => {
      seen.push(JSON.parse(readSafetensors(ckpt).metadata['neurone.checkpoint']).epoch);
    };
    await run(() => new Adam(), {
      epochs: 5,
      checkpoint: { path: ckpt, every: 2 },
      onEpochEnd: () => {
        if (fs.existsSync(ckpt)) spy();
      },
    });
    // onEpochEnd runs before the epoch's checkpoint is written: it sees the previous one.
    expect(seen).toEqual([2, 2, 4]);
    expect(JSON.parse(readSafetensors(ckpt).metadata['neurone.checkpoint']).epoch).toBe(5);

    const other = new Sequential(new Conv1D(3, 1, 5), new ReLU(), new MaxPool1D(2), new Flatten(), new Linear(75, 3));
    await expect(fit(other, loss, new Adam(), data, { epochs: 6, verbose: 0, resumeFrom: ckpt })).rejects.toThrow(
      /fit: resumeFrom: .*every.ckpt: the checkpoint is for the network/,
    );
    const fewer = { x: { shape: [20, 32, 1], data: data.x.data.slice(0, 640) }, y: { shape: [20], data: data.y.data.slice(0, 20) } };
    await expect(fit(cnn(), loss, new Adam(), fewer, { epochs: 6, verbose: 0, resumeFrom: ckpt })).rejects.toThrow(
      /written for 40 training samples, this dataset has 20/,
    );
    await expect(fit(cnn(), loss, new SGD({ lr: 1 }), data, { epochs: 6, verbose: 0, resumeFrom: ckpt })).rejects.toThrow(
      /SGD.loadState: expected a SGD state, got a Adam state/,
    );
    const model = path.join(dir, 'plain-model.safetensors');
    save(cnn(), model);
    await expect(fit(cnn(), loss, new Adam(), data, { epochs: 6, verbose: 0, resumeFrom: model })).rejects.toThrow(
      /a model file, not a training checkpoint/,
    );
  });
});

describe('state export', () => {
  test('Rng.getState / setState continue the same stream', () => {
    const a = new Rng(42);
    for (let i = 0; i < 7; i++) a.normal();
    const s = a.getState();
    const b = new Rng(1);
    b.setState(JSON.parse(JSON.stringify(s)));
    for (let i = 0; i < 100; i++) expect(b.normal()).toBe(a.normal());
    expect(() => b.setState({ s: [0, 0, 0, 0], spareNormal: null })).toThrow(/cannot all be zero/);
  });

  test('an optimiser restored from state() takes the same steps', () => {
    for (const make of [() => new Adam({ lr: 0.01 }), () => new SGD({ lr: 0.01, momentum: 0.5 })]) {
      seed(12);
      const a = new Linear(3, 2);
      const b = new Linear(3, 2);
      b.weight.data.set(a.weight.data);
      (b.bias as Tensor).data.set((a.bias as Tensor).data);
      const optA = make();
      const grads = (m: Linear, k: number): void =>
        m.parameters().forEach((p) =>
          p.grad.data.forEach((_, i) => {
            p.grad.data[i] = Math.sin(i + k);
          }),
        );
      for (let k = 0; k < 3; k++) {
        grads(a, k);
        optA.step(a.parameters());
      }
      b.weight.data.set(a.weight.data);
      (b.bias as Tensor).data.set((a.bias as Tensor).data);
      const optB = make();
      (optB.loadState as NonNullable<Optimizer['loadState']>)(
        b.parameters(),
        (optA.state as NonNullable<Optimizer['state']>)(a.parameters()),
      );
      for (let k = 3; k < 6; k++) {
        grads(a, k);
        grads(b, k);
        optA.step(a.parameters());
        optB.step(b.parameters());
      }
      expectSameWeights(a, b);
    }
  });

  test('writeSafetensors rejects a tensor whose data does not match its shape', () => {
    expect(() =>
      writeSafetensors(path.join(dir, 'x.safetensors'), [{ name: 'a', dtype: 'F32', shape: [2, 2], data: new Float32Array(3) }], {}),
    ).toThrow(/tensor a has shape \(2, 2\) but 3 values/);
  });

  test('a metadata key "__proto__" is read back as a key, with its value', () => {
    // Before, assigning it set the metadata object's prototype (to nothing, a string) and lost it.
    const file = path.join(dir, 'proto-key.safetensors');
    const metadata = JSON.parse('{"__proto__": "kept", "other": "too"}') as Record<string, string>;
    writeSafetensors(file, [{ name: 'a', dtype: 'F32', shape: [1], data: new Float32Array(1) }], metadata);
    const read = readSafetensors(file).metadata;
    expect(Object.keys(read).sort()).toEqual(['__proto__', 'other']);
    expect(Object.getOwnPropertyDescriptor(read, '__proto__')?.value).toBe('kept');
    expect(Object.getPrototypeOf(read)).toBe(Object.prototype);
  });
});
