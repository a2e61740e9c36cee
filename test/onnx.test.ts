/**
 * ONNX export, checked by a real runtime: every registered module type, the command's presets
 * and networks that cross between layouts are exported, run in ONNX Runtime (onnxruntime-web's
 * WebAssembly build, in a child process: test/onnx-runner.mjs) and compared with neurone's
 * `predict` on each backend: max |onnx − neurone| ≤ 1e-5 · max |neurone|.
 */
import { spawnSync } from 'child_process';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { Module, Sequential, Linear, Conv1D, ConvTranspose1D, Upsample1D, MaxPool1D, AvgPool1D, Flatten, AvgPool2D } from '../lib/nn';
import { ReLU, LeakyReLU, Softmax, TanH, LogSoftmax, Dropout, BatchNorm1D, BatchNorm2D, Conv2D } from '../lib/nn';
import { MaxPool2D, GlobalAvgPool2D, Upsample2D, Reshape } from '../lib/nn';
import { buildModule, registerModule } from '../lib/serialize';
import { moduleTypes } from '../lib/nn/registry';
import { PRESETS, buildModel, presetDescription } from '../lib/cli/presets';
import { Rng, seed } from '../lib/random';
import { Tensor, randn } from '../lib/tensor';
import { predict } from '../lib/train';
import { setBackend } from '../lib/backend';
import { toONNX, ONNX_OPSET, checkONNXSize } from '../lib/export/onnx';
import { modelProto } from '../lib/export/proto';
import { availableBackends } from './backends';

const runner = path.join(__dirname, 'onnx-runner.mjs');

interface Case {
  label: string;
  net: Module;
  /** One sample's shape. */
  sample: number[];
  batch: number;
  /** Exported with the sample's size free. */
  dynamicSize?: boolean;
}

let tmp: string;
beforeAll(() => {
  tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'neurone-onnx-'));
});
afterAll(() => fs.rmSync(tmp, { recursive: true, force: true }));

/** Exports every case, runs them all in one ONNX Runtime process, returns each output. */
function runInOnnxRuntime(cases: Case[], inputs: Tensor[]): Tensor[] {
  const jobs = cases.map((c, i) => {
    const model = path.join(tmp, `m${i}.onnx`);
    const input = path.join(tmp, `x${i}.f32`);
    fs.writeFileSync(model, toONNX(c.net, { inputShape: c.sample, dynamicSize: c.dynamicSize }));
    fs.writeFileSync(input, Buffer.from(inputs[i].data.buffer, inputs[i].data.byteOffset, inputs[i].data.byteLength));
    return { model, input, dims: [...inputs[i].shape] };
  });
  const manifest = path.join(tmp, `jobs-${Date.now()}.json`);
  fs.writeFileSync(manifest, JSON.stringify(jobs));
  const r = spawnSync(process.execPath, [runner, manifest], { encoding: 'utf8', timeout: 120000 });
  if (r.status !== 0) throw new Error(`onnx-runner failed (${r.status}): ${r.stderr}`);
  const shapes = JSON.parse(r.stdout) as number[][];
  return jobs.map((j, i) => {
    const bytes = fs.readFileSync(`${j.input}.out`);
    const data = new Float32Array(bytes.buffer.slice(bytes.byteOffset, bytes.byteOffset + bytes.byteLength));
    return { shape: shapes[i], data };
  });
}

/** max |a − b| / max |b|: the error relative to the output's scale. */
function relativeError(a: Tensor, b: Tensor): number {
  let diff = 0;
  let scale = 0;
  for (let i = 0; i < b.data.length; i++) {
    diff = Math.max(diff, Math.abs(a.data[i] - b.data[i]));
    scale = Math.max(scale, Math.abs(b.data[i]));
  }
  return scale === 0 ? diff : diff / scale;
}

function checkAgainstRuntime(cases: Case[]): void {
  const rng = new Rng(7);
  const inputs = cases.map((c) => randn([c.batch, ...c.sample], rng));
  const onnx = runInOnnxRuntime(cases, inputs);
  for (const backend of availableBackends()) {
    setBackend(backend);
    cases.forEach((c, i) => {
      const expected = predict(c.net, inputs[i]);
      const got = onnx[i];
      const where = `${c.label} on ${backend}`;
      expect([where, got.shape]).toEqual([where, [...expected.shape]]);
      const err = relativeError(got, expected);
      if (!(err <= 1e-5)) throw new Error(`${where}: ONNX Runtime differs from predict by ${err} (relative)`);
    });
  }
}

/** Draws from a fixed sequence so the examples are the same on every run. */
function picker(seedValue: number): (lo: number, hi: number) => number {
  const rng = new Rng(seedValue);
  return (lo, hi) => lo + Math.floor(rng.uniform() * (hi - lo + 1));
}

describe('toONNX runs in ONNX Runtime with predict’s values', () => {
  test('every registered module type, several examples each (options on and off)', () => {
    seed(1);
    const cases: Case[] = [];
    const types = moduleTypes().filter((t) => t.example);
    expect(types.length).toBeGreaterThanOrEqual(16);
    for (const t of types) {
      for (let k = 0; k < 4; k++) {
        const e = t.example!(picker(100 * cases.length + k));
        const net = buildModule({ type: t.type, args: e.args, ...(e.options ? { options: e.options } : {}) });
        cases.push({ label: `${net.toString()} ${JSON.stringify(e.options ?? {})}`, net, sample: e.input.slice(1), batch: e.input[0] });
      }
    }
    checkAgainstRuntime(cases);
  });

  test('the presets, on USPS-sized input', () => {
    seed(2);
    const cases = PRESETS.map((p) => {
      const net = buildModel(presetDescription(p.name, { inputSize: 256, numClasses: 10 }));
      return {
        label: `preset ${p.name}`,
        net,
        sample: p.takes === 'sequence' ? [256, 1] : p.takes === 'image' ? [16, 16, 1] : [256],
        batch: 3,
      };
    });
    expect(cases.length).toBe(PRESETS.length);
    checkAgainstRuntime(cases);
  });

  test('networks that move between layouts, nest, and share a module', () => {
    seed(3);
    const conv = new Conv1D(3, 4, 4, 1, { padding: 1, bias: true });
    const cases: Case[] = [
      {
        label: 'conv, upsample channels-first, transpose conv, pool, flatten, head',
        net: new Sequential(
          new Conv1D(3, 2, 4, 2, { padding: 1, bias: true }),
          new LeakyReLU(0.2),
          new Upsample1D(2),
          new ConvTranspose1D(3, 4, 3, 2, { padding: 1, outputPadding: 1, bias: true }),
          new AvgPool1D(2, 1),
          new TanH(),
          new Flatten(),
          new Linear(3 * 31, 5),
          new Softmax(),
        ),
        sample: [16, 2],
        batch: 2,
      },
      {
        label: 'upsample channels-last, then softmax over channels after a pool',
        net: new Sequential(new Upsample1D(3), new MaxPool1D(2, 2), new Softmax()),
        sample: [7, 3],
        batch: 2,
      },
      {
        label: 'a module at two places and a nested Sequential',
        net: new Sequential(conv, new ReLU(), conv, new Sequential(new MaxPool1D(2), new Flatten(), new Linear(20, 3)), new LogSoftmax()),
        sample: [10, 4],
        batch: 3,
      },
      { label: 'an empty Sequential', net: new Sequential(), sample: [4], batch: 2 },
      {
        label: "a Linear over each position of a convolution's output (channels-first before it), then flattened",
        net: new Sequential(new Conv1D(3, 2, 4), new ReLU(), new Linear(4, 3), new Flatten(), new Linear(24, 2)),
        sample: [10, 2],
        batch: 2,
      },
      {
        label: 'a Linear without bias over each pixel of an image, the output an image',
        net: new Sequential(new Conv2D(3, 1, 5, 1, { padding: 1 }), new TanH(), new Linear(5, 2, { bias: false })),
        sample: [4, 3, 1],
        batch: 3,
      },
      {
        label: "padding 'same' on even kernels: one zero more at the end of each axis than at its start",
        net: new Sequential(
          new Conv1D(4, 2, 3, 1, { padding: 'same', bias: true }),
          new Reshape([6, 1, 3]),
          new Conv2D([4, 2], 3, 2, 1, { padding: 'same' }),
          new Flatten(),
        ),
        sample: [6, 2],
        batch: 2,
      },
      {
        label: 'poolings with padding (a mean counts its zeros: count_include_pad)',
        net: new Sequential(
          new MaxPool1D(3, 2, { padding: 1 }),
          new AvgPool1D(3, 1, { padding: 1 }),
          new Reshape([4, 2, 2]),
          new MaxPool2D(3, 2, { padding: 1 }),
          new AvgPool2D([3, 2], 1, { padding: [1, 1], countIncludePad: false }),
        ),
        sample: [16, 2],
        batch: 2,
      },
      {
        label: 'ceilMode: overhanging last windows, a mean over what they cover (its padding counted)',
        net: new Sequential(
          new AvgPool1D(2, 2, { ceilMode: true }),
          new MaxPool1D(2, 2, { padding: 1, ceilMode: true }),
          new Reshape([3, 1, 2]),
          new AvgPool2D(3, 2, { padding: 1, ceilMode: true, countIncludePad: false }),
          new MaxPool2D([2, 1], 2, { ceilMode: true }),
        ),
        sample: [7, 2],
        batch: 2,
      },
      {
        label: 'ceilMode on images whose last windows start in the padding (dropped, as PyTorch)',
        // 5 rows, window 2, stride 2, padding 1: ⌈5 / 2⌉ + 1 = 4 windows, the 4th starting in the
        // padding after the image and dropped (ONNX's ceil_mode would keep it); then a mean whose
        // last window covers one row and one column.
        net: new Sequential(new MaxPool2D(2, 2, { padding: 1, ceilMode: true }), new AvgPool2D(2, 2, { ceilMode: true })),
        sample: [5, 5, 3],
        batch: 2,
      },
    ];
    checkAgainstRuntime(cases);
  });

  test('Dropout and BatchNorm in their evaluation form, the running estimates and affine map away from their initial values', () => {
    seed(4);
    const rng = new Rng(5);
    /** Moves the running estimates with a few training-mode batches and draws γ and β. */
    const trained = (net: Module, sample: number[]): Module => {
      for (let i = 0; i < 3; i++) net.forward(randn([4, ...sample], rng));
      for (const p of net.parameters()) for (let i = 0; i < p.value.data.length; i++) p.value.data[i] = rng.uniform() * 2 - 0.5;
      return net;
    };
    const cases: Case[] = [
      {
        label: 'BatchNorm1D on (batch, features), Dropout',
        net: trained(new Sequential(new Linear(3, 4), new BatchNorm1D(4), new Dropout(0.5), new TanH()), [3]),
        sample: [3],
        batch: 3,
      },
      {
        label: 'BatchNorm1D after a Conv1D (channels-first), no affine map',
        net: trained(
          new Sequential(new Conv1D(3, 2, 3), new BatchNorm1D(3, { affine: false, eps: 1e-3 }), new ReLU(), new Flatten()),
          [9, 2],
        ),
        sample: [9, 2],
        batch: 2,
      },
      {
        label: 'BatchNorm1D on channels-last (batch, length, features)',
        net: trained(new Sequential(new BatchNorm1D(2), new Flatten()), [5, 2]),
        sample: [5, 2],
        batch: 2,
      },
      {
        label: 'BatchNorm2D on (batch, height, width, chan)',
        net: trained(new Sequential(new BatchNorm2D(3, { momentum: 0.5 }), new Flatten()), [4, 3, 3]),
        sample: [4, 3, 3],
        batch: 2,
      },
      { label: 'a lone Dropout', net: new Dropout(0.25), sample: [4], batch: 2 },
    ];
    checkAgainstRuntime(cases);
  });
});

describe('the exported graph', () => {
  const decode = (
    bytes: Uint8Array,
  ): { graph: { node: { opType: string }[]; initializer: { name: string }[] }; opsetImport: { version: unknown }[] } =>
    modelProto().toObject(modelProto().decode(bytes), { longs: Number }) as never;

  test('a run of channels-first layers costs one transpose in and one out', () => {
    const net = new Sequential(new Conv1D(3, 1, 4), new ReLU(), new MaxPool1D(2), new Conv1D(3, 4, 2), new Flatten(), new Linear(18, 2));
    const m = decode(toONNX(net, { inputShape: [24, 1] }));
    expect(m.opsetImport[0].version).toBe(ONNX_OPSET);
    expect(m.graph.node.map((n) => n.opType)).toEqual(['Transpose', 'Conv', 'Relu', 'MaxPool', 'Conv', 'Transpose', 'Flatten', 'Gemm']);
  });

  test('a Linear over positions is MatMul and Add on channels-last values; over rows, Gemm', () => {
    const net = new Sequential(new Conv1D(3, 1, 4), new ReLU(), new Linear(4, 3), new Flatten(), new Linear(18, 2));
    const m = decode(toONNX(net, { inputShape: [8, 1] }));
    expect(m.graph.node.map((n) => n.opType)).toEqual(['Transpose', 'Conv', 'Relu', 'Transpose', 'MatMul', 'Add', 'Flatten', 'Gemm']);
  });

  test('BatchNorm after a convolution joins its channels-first run; Dropout adds no node', () => {
    const net = new Sequential(new Conv1D(3, 1, 4), new BatchNorm1D(4), new Dropout(0.5), new ReLU(), new Flatten(), new Linear(24, 2));
    const m = decode(toONNX(net, { inputShape: [8, 1] }));
    expect(m.graph.node.map((n) => n.opType)).toEqual(['Transpose', 'Conv', 'BatchNormalization', 'Relu', 'Transpose', 'Flatten', 'Gemm']);
  });

  // A runtime ignores momentum at inference, so only the graph can show it: ONNX's is the weight of
  // the running estimate (PyTorch's exporter writes 1 - momentum too), epsilon as given.
  test("BatchNormalization carries the module's epsilon and momentum in ONNX's convention", () => {
    const net = new Sequential(new Linear(3, 4), new BatchNorm1D(4, { eps: 1e-3, momentum: 0.25 }));
    const m = modelProto().toObject(modelProto().decode(toONNX(net, { inputShape: [3] }))) as {
      graph: { node: { opType: string; attribute: { name: string; f: number }[] }[] };
    };
    const bn = m.graph.node.filter((n) => n.opType === 'BatchNormalization');
    expect(bn).toHaveLength(1);
    const attribute = Object.fromEntries(bn[0].attribute.map((a) => [a.name, a.f]));
    expect(attribute.epsilon).toBeCloseTo(1e-3, 9);
    expect(attribute.momentum).toBeCloseTo(0.75, 7);
  });

  test('a weight shared by two places is stored once', () => {
    const lin = new Linear(3, 3);
    const m = decode(toONNX(new Sequential(lin, new TanH(), lin), { inputShape: [3] }));
    expect(m.graph.initializer).toHaveLength(2);
  });
});

describe('toONNX refuses what it cannot export', () => {
  class Scale extends Module {
    config(): { type: string; args: unknown[] } {
      return { type: 'ScaleForOnnxTest', args: [] };
    }
    outputShape(s: readonly number[]): number[] {
      return [...s];
    }
    forward(x: Tensor): Tensor {
      return x;
    }
    backwardDelta(_x: Tensor, d: Tensor): Tensor {
      return d;
    }
  }
  registerModule('ScaleForOnnxTest', () => new Scale());

  test('a module type of the user’s own, named with its place', () => {
    const net = new Sequential(new Linear(2, 2), new Scale());
    expect(() => toONNX(net, { inputShape: [2] })).toThrow(
      /^toONNX: ScaleForOnnxTest\(\) at position 1 \(type ScaleForOnnxTest\) has no ONNX export/,
    );
  });

  test('a subclass of a built-in module (its passes may differ)', () => {
    class MyReLU extends ReLU {}
    expect(() => toONNX(new Sequential(new MyReLU()), { inputShape: [2] })).toThrow(/has no ONNX export/);
  });

  test('a Linear not sized yet (no weights drawn) is refused; once built it exports', () => {
    const net = new Sequential(new Linear(null as unknown as number, 3), new ReLU());
    expect(() => toONNX(net, { inputShape: [4] })).toThrow(/^toONNX: Linear\(null, 3\) at position 0: its input size is not known yet/);
    net.build([4]);
    const graph = modelProto().toObject(modelProto().decode(toONNX(net, { inputShape: [4] }))) as { graph: { node: { opType: string }[] } };
    expect(graph.graph.node.map((n) => n.opType)).toEqual(['Gemm', 'Relu']);
  });

  test('weights over the 2 GiB one protobuf holds', () => {
    expect(() => checkONNXSize(2 ** 31)).toThrow(/^toONNX: the weights take 2147483648 bytes, over the 2147483647 one ONNX file holds/);
    expect(() => checkONNXSize(1000, 100000)).not.toThrow();
    expect(() => checkONNXSize(40000, 100000)).toThrow(/the weights take 40000 bytes, over the 100000/);
  });

  test('dynamicSize: one export runs on other sizes in ONNX Runtime, as predict does; the axes are named', () => {
    seed(31);
    const gap = new Sequential(
      new Conv2D(3, 2, 4, 1, { padding: 1 }),
      new ReLU(),
      new MaxPool2D(2),
      new GlobalAvgPool2D(),
      new Linear(4, 3),
    );
    const fcn = new Sequential(new Conv2D(3, 1, 2, 2), new TanH(), new Upsample2D(2));
    const seq = new Sequential(new Conv1D(3, 1, 2), new MaxPool1D(2));
    const cases: Case[] = [
      { label: 'GlobalAvgPool2D classifier at 8×8, run at 8×8', net: gap, sample: [8, 8, 2], batch: 2, dynamicSize: true },
      { label: 'the same, run at 13×20', net: gap, sample: [8, 8, 2], batch: 2, dynamicSize: true },
      { label: 'a fully convolutional net, run at 11×7', net: fcn, sample: [5, 5, 1], batch: 1, dynamicSize: true },
      { label: 'a 1-D net, run at length 30', net: seq, sample: [10, 1], batch: 3, dynamicSize: true },
    ];
    const runAt = [
      [8, 8, 2],
      [13, 20, 2],
      [11, 7, 1],
      [30, 1],
    ];
    const rng = new Rng(32);
    const inputs = cases.map((c, i) => randn([c.batch, ...runAt[i]], rng));
    const outputs = runInOnnxRuntime(cases, inputs);
    cases.forEach((c, i) => {
      const expected = predict(c.net, inputs[i]);
      expect([c.label, outputs[i].shape]).toEqual([c.label, expected.shape]);
      expect(relativeError(outputs[i], expected)).toBeLessThan(1e-5);
    });
    const dims = (bytes: Uint8Array, which: 'input' | 'output'): unknown[] => {
      const graph = (
        modelProto().toObject(modelProto().decode(bytes), { longs: Number }) as {
          graph: Record<string, { type: { tensorType: { shape: { dim: object[] } } } }[]>;
        }
      ).graph;
      return graph[which][0].type.tensorType.shape.dim;
    };
    const gapBytes = toONNX(gap, { inputShape: [8, 8, 2], dynamicSize: true });
    expect(dims(gapBytes, 'input')).toEqual([{ dimParam: 'batch' }, { dimParam: 'height' }, { dimParam: 'width' }, { dimValue: 2 }]);
    expect(dims(gapBytes, 'output')).toEqual([{ dimParam: 'batch' }, { dimValue: 3 }]);
    const fcnBytes = toONNX(fcn, { inputShape: [5, 5, 1], dynamicSize: true });
    expect(dims(fcnBytes, 'output')).toEqual([
      { dimParam: 'batch' },
      { dimParam: 'output_dim1' },
      { dimParam: 'output_dim2' },
      { dimValue: 2 },
    ]);
    expect(dims(toONNX(seq, { inputShape: [10, 1], dynamicSize: true }), 'input')).toEqual([
      { dimParam: 'batch' },
      { dimParam: 'length' },
      { dimValue: 1 },
    ]);
    // A stride longer than its kernel: the output of 1×1 and 2×2 alike, of 3×3 not; exported from
    // the smallest size, the output's axes are free all the same.
    const strided = toONNX(new Sequential(new Conv2D(1, 1, 2, 2), new ReLU()), { inputShape: [1, 1, 1], dynamicSize: true });
    expect(dims(strided, 'output')).toEqual([
      { dimParam: 'batch' },
      { dimParam: 'output_dim1' },
      { dimParam: 'output_dim2' },
      { dimValue: 2 },
    ]);
    // A stride longer than every size near the one given (300: one position up to 300×300).
    const sparse = toONNX(new Sequential(new Conv2D(1, 1, 2), new MaxPool2D(1, 300)), { inputShape: [3, 3, 1], dynamicSize: true });
    // Two such strides one after the other: one position up to 10^8.
    const sparser = new Sequential(new Conv2D(1, 1, 2), new MaxPool2D(1, 10000), new MaxPool2D(1, 10000));
    expect(dims(toONNX(sparser, { inputShape: [3, 3, 1], dynamicSize: true }), 'output')).toEqual(dims(sparse, 'output'));
    expect(dims(sparse, 'output')).toEqual([
      { dimParam: 'batch' },
      { dimParam: 'output_dim1' },
      { dimParam: 'output_dim2' },
      { dimValue: 2 },
    ]);
    // Without the option the sizes are fixed, as before.
    expect(dims(toONNX(gap, { inputShape: [8, 8, 2] }), 'input')).toEqual([
      { dimParam: 'batch' },
      { dimValue: 8 },
      { dimValue: 8 },
      { dimValue: 2 },
    ]);
  });

  test('dynamicSize is refused where the layers fix the size, or there is none; misspelt options are refused', () => {
    const lenet = new Sequential(new Conv2D(3, 1, 2), new Flatten(), new Linear(2 * 6 * 6, 3));
    expect(() => toONNX(lenet, { inputShape: [8, 8, 1], dynamicSize: true })).toThrow(
      /^toONNX: dynamicSize: the network takes no other size than \[8, 8, 1\] \(at \[16, 16, 1\]: Linear\(72, 3\) at position 2/,
    );
    expect(() => toONNX(new Linear(4, 2), { inputShape: [4], dynamicSize: true })).toThrow(/inputShape \[4\] has none/);
    const ceiling = new Sequential(new Conv2D(3, 1, 2), new MaxPool2D(2, 2, { ceilMode: true }));
    expect(() => toONNX(ceiling, { inputShape: [9, 9, 1], dynamicSize: true })).toThrow(
      'toONNX: dynamicSize: MaxPool2D(2, 2, { ceilMode: true }) at position 1 counts its windows with the ceiling (ceilMode), which the graph writes for one size; export with a fixed inputShape',
    );
    expect(() => toONNX(new Linear(4, 2), { inputShape: [4], dynamicSize: 'yes' as never })).toThrow(/dynamicSize must be true or false/);
    expect(() => toONNX(new Linear(4, 2), { inputShape: [4], dynamic_axes: {} } as never)).toThrow(
      /^toONNX: unknown option 'dynamic_axes'/,
    );
  });

  test('an input shape the network does not take, or no input shape', () => {
    expect(() => toONNX(new Linear(4, 2), { inputShape: [3] })).toThrow(
      /^toONNX: inputShape \[3\] does not fit the network: Linear\(4, 2\): expected input/,
    );
    // The batch given first, as a PyTorch dummy input has it: the shape without it is named.
    expect(() => toONNX(new Sequential(new Conv2D(3, 1, 2)), { inputShape: [1, 8, 8, 1] })).toThrow(
      /^toONNX: inputShape \[1, 8, 8, 1\] does not fit the network: .*\(inputShape is one sample's shape, without the batch: \[8, 8, 1\]\?\)$/,
    );
    expect(() => toONNX(new Linear(4, 2), { inputShape: [3] })).not.toThrow(/without the batch/);
    expect(() => toONNX(new Linear(4, 2), { inputShape: [0] })).toThrow(/inputShape must be the shape of one sample/);
    expect(() => toONNX(new Linear(4, 2), {} as never)).toThrow(/inputShape must be the shape of one sample.*got undefined/);
    expect(() => toONNX({} as never, { inputShape: [4] })).toThrow(/^toONNX: net must be a Module/);
  });
});

describe('toONNX on networks built to break it', () => {
  /** `inner` inside `depth` Sequentials, built from the outside in (each add then sets one position, not the whole subtree's). */
  const nested = (depth: number, ...inner: Module[]): Sequential => {
    const root = new Sequential();
    let at = root;
    for (let i = 1; i < depth; i++) {
      const next = new Sequential();
      at.add(next);
      at = next;
    }
    for (const m of inner) at.add(m);
    return root;
  };

  test('Sequentials nested 10,000 deep export as the flat network they hold, and run in ONNX Runtime', () => {
    seed(6);
    const lin = new Linear(3, 2);
    const deep = nested(10_000, lin, new TanH());
    const bytes = toONNX(deep, { inputShape: [3] });
    const m = modelProto().toObject(modelProto().decode(bytes), { longs: Number }) as { graph: { node: { opType: string }[] } };
    expect(m.graph.node.map((n) => n.opType)).toEqual(['Gemm', 'Tanh']);
    const x = randn([4, 3], new Rng(8));
    const [got] = runInOnnxRuntime([{ label: 'deep', net: deep, sample: [3], batch: 4 }], [x]);
    const flat = new Sequential(lin, new TanH());
    expect(relativeError(got, predict(flat, x))).toBeLessThanOrEqual(1e-5);
  });

  test('a Sequential that contains itself, directly or through another, is refused naming both places', () => {
    const direct = new Sequential(new Linear(2, 2));
    (direct.modules as Module[]).push(direct);
    expect(() => toONNX(direct, { inputShape: [2] })).toThrow(
      /^toONNX: the Sequential at the root contains itself \(again at position 1\): a network cannot hold itself$/,
    );
    const inner = new Sequential(new ReLU());
    const outer = new Sequential(new Linear(2, 2), new Sequential(new TanH(), inner));
    (inner.modules as Module[]).push(outer);
    expect(() => toONNX(outer, { inputShape: [2] })).toThrow(
      /^toONNX: the Sequential at the root contains itself \(again at position 1\.1\.1\)/,
    );
    // Deeper in: the cycle is named where it starts.
    const loop = new Sequential(new ReLU());
    (loop.modules as Module[]).push(loop);
    const around = new Sequential(new TanH());
    (around.modules as Module[]).push(loop); // Sequential's own add would give the loop's places positions, forever
    expect(() => toONNX(around, { inputShape: [2] })).toThrow(/the Sequential at position 1 contains itself \(again at position 1\.1\)/);
  });

  test('a Sequential shared inside a shared Sequential, 40 levels over (2^40 places), is refused at once', () => {
    let net = new Sequential(new ReLU());
    for (let i = 0; i < 40; i++) {
      // Pushed, as Sequential's own add would give every place a position first.
      const twice = new Sequential();
      (twice.modules as Module[]).push(net, net);
      net = twice;
    }
    expect(() => toONNX(net, { inputShape: [2] })).toThrow(/^toONNX: the network unrolls to over 1048576 modules \(the limit\)/);
  });
});

describe('toONNX checks each tensor against the module that holds it', () => {
  /** Replaces a tensor's shape or data, as code that edits a trained network by hand might. */
  const edit = (t: Tensor, change: { shape?: number[]; data?: ArrayLike<number> }): void => void Object.assign(t, change);

  test('a shape edited by hand, the data left as it was', () => {
    const lin = new Linear(3, 2);
    edit(lin.weight, { shape: [3, 3] });
    expect(() => toONNX(new Sequential(new TanH(), lin), { inputShape: [3] })).toThrow(
      /^toONNX: parameter 1\.weight of Linear\(3, 2\) at position 1 must have shape \(3, 2\) \(6 values\), got \(3, 3\) holding 6 values$/,
    );
  });

  test('shape and data replaced together, agreeing with each other but not with the module', () => {
    const lin = new Linear(3, 2);
    edit(lin.weight, { shape: [4, 2], data: new Float32Array(8) });
    expect(() => toONNX(lin, { inputShape: [3] })).toThrow(
      /^toONNX: parameter weight of Linear\(3, 2\) must have shape \(3, 2\) \(6 values\), got \(4, 2\) holding 8 values$/,
    );
  });

  test('data of another length or type than the shape says, in a convolution and a BatchNorm buffer', () => {
    const conv = new Conv2D(3, 2, 4);
    edit(conv.weight, { data: new Float32Array(10) });
    expect(() => toONNX(new Sequential(conv), { inputShape: [5, 5, 2] })).toThrow(
      /parameter 0\.weight of Conv2D\(3, 2, 4, 1\) at position 0 must have shape \(3, 3, 2, 4\) \(72 values\), got \(3, 3, 2, 4\) holding 10 values/,
    );
    const bn = new BatchNorm1D(3);
    edit(bn.runningVar, { data: new Float64Array(3) });
    expect(() => toONNX(new Sequential(new Linear(2, 3), bn), { inputShape: [2] })).toThrow(
      /^toONNX: buffer 1\.runningVar of BatchNorm1D\(3\) at position 1 must have shape \(3\) \(3 values\), got \(3\) holding Float64Array\(3\), not a Float32Array$/,
    );
  });
});

describe('toONNX names a subclass of a built-in module by its own class', () => {
  // Its config (and so its label) says the base type, which the exporter does export: the error
  // must not read "Conv2D(...) has no ONNX export".
  class MyConv extends Conv2D {}
  class MyConvAgain extends MyConv {}

  test('a subclass of Conv2D, directly or through another subclass', () => {
    const net = new Sequential(new ReLU(), new MyConv(3, 1, 2));
    expect(() => toONNX(net, { inputShape: [4, 4, 1] })).toThrow(
      /^toONNX: MyConv at position 1, a subclass of Conv2D, has no ONNX export: the exporter writes what Conv2D itself computes, and a subclass may compute something else; build the network from Conv2D to export it$/,
    );
    expect(() => toONNX(new MyConvAgain(3, 1, 2), { inputShape: [4, 4, 1] })).toThrow(
      /^toONNX: MyConvAgain, a subclass of Conv2D, has no ONNX export/,
    );
  });

  test('an unnamed subclass of an activation', () => {
    const net = new Sequential(new Linear(2, 2), new (class extends ReLU {})());
    expect(() => toONNX(net, { inputShape: [2] })).toThrow(
      /^toONNX: an unnamed class at position 1, a subclass of ReLU, has no ONNX export/,
    );
  });

  test('a subclass of Sequential, even one that holds itself, is refused before any of its methods runs', () => {
    class Block extends Sequential {}
    const block = new Block(new ReLU());
    (block.modules as Module[]).push(block);
    const net = new Sequential(new TanH());
    (net.modules as Module[]).push(block); // Sequential's own add would set positions inside the loop, forever
    expect(() => toONNX(net, { inputShape: [2] })).toThrow(/^toONNX: Block at position 1, a subclass of Sequential, has no ONNX export/);
  });
});

describe('toONNX refuses what would make a file ONNX Runtime rejects, or would crash it', () => {
  test('something other than a Module pushed into a Sequential, or a Sequential never constructed', () => {
    const net = new Sequential(new ReLU());
    (net.modules as unknown[]).push({});
    expect(() => toONNX(net, { inputShape: [2] })).toThrow(/^toONNX: the module at position 1 is not a Module, got object$/);
    const nested = new Sequential(new Sequential(new ReLU()));
    ((nested.modules[0] as Sequential).modules as unknown[]).push(null);
    expect(() => toONNX(nested, { inputShape: [2] })).toThrow(/^toONNX: the module at position 0\.1 is not a Module, got null$/);
    const hollow = Object.create(Sequential.prototype) as Sequential;
    expect(() => toONNX(hollow, { inputShape: [2] })).toThrow(
      /^toONNX: the Sequential at the root has no list of modules \(it was never constructed\)$/,
    );
  });

  test('a layer without weights whose sizes were edited after construction (ONNX Runtime refuses a stride of 0)', () => {
    const pool = new MaxPool1D(2);
    Object.assign(pool, { stride: 0 });
    expect(() => toONNX(new Sequential(new ReLU(), pool), { inputShape: [4, 1] })).toThrow(
      /^toONNX: MaxPool1D\(2, 0\) at position 1: MaxPool1D: stride must be an integer in \[1, \d+\], got 0$/,
    );
    const pool2 = new AvgPool2D(2);
    Object.assign(pool2, { strideHeight: 0.5 });
    expect(() => toONNX(pool2, { inputShape: [4, 4, 1] })).toThrow(
      /^toONNX: AvgPool2D\(2, \[0\.5, 2\]\): AvgPool2D: stride\[0\] must be an integer in \[1, \d+\], got 0\.5$/,
    );
    const up = new Upsample1D(2);
    Object.assign(up, { scale: 1.5 });
    expect(() => toONNX(up, { inputShape: [4, 1] })).toThrow(/^toONNX: Upsample1D\(1\.5\): Upsample1D: scale must be an integer/);
  });

  test('an input shape with a hole ([4, , 1]) is not a shape', () => {
    // eslint-disable-next-line no-sparse-arrays
    expect(() => toONNX(new ReLU(), { inputShape: [4, , 1] as number[] })).toThrow(
      /^toONNX: inputShape must be the shape of one sample .*, got Array\(3\)$/,
    );
  });
});
