// TensorFlow.js twin of the training-throughput benchmark (issue 5), for comparison only.
//
//   npx ts-node --transpile-only scripts/bench-tfjs.ts --backend cpu|wasm \
//       --nets a,b,c32,c256,d,e,infer --threads 1 --epochs 2 --batches 3
//   npx ts-node --transpile-only scripts/bench-tfjs.ts --backend cpu --check [--steps 10]
//
// The nets are built from tfjs-core ops (NWC layout, channels-last like neurone) and trained with
// tf.train.sgd(0.01) via optimizer.minimize (tf.variableGrads). Random data is generated once before
// timing. Throughput is samples/s of a full training step, the median over --epochs timed epochs of
// --batches batches each, after one untimed warm-up epoch; "infer" is forward only of net a at
// batch 256. A net whose kernels or gradients the backend lacks gets samplesPerSec null and the
// error in `note`. The last line on stdout is one JSON object:
//   {"framework":"tfjs-cpu","version":...,"threads":1,"config":...,"results":{"a":{"samplesPerSec":...,"note":""},...}}
import * as tf from '@tensorflow/tfjs-core';
import '@tensorflow/tfjs-backend-cpu';
import * as fs from 'fs';
import * as path from 'path';

const LR = 0.01;

/**
 * tfjs-core's CommonJS bundle (what `require` gets in Node) registers no gradients: the
 * `@tensorflow/tfjs` union package does that with `@tensorflow/tfjs-core/dist/register_all_gradients`,
 * an ES module whose extensionless relative imports Node cannot load. We load it by transpiling
 * tfjs-core's dist/*.js files to CommonJS with TypeScript as they are required. That makes a second
 * copy of tfjs-core's modules, which tfjs supports: the engine and the kernel/gradient registries
 * live on the global object, and Tensor/Variable use Symbol.hasInstance. Costs ~1-2 s at start-up.
 */
function registerTfjsGradients(): number {
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  const Module = require('module');
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  const ts = require('typescript') as typeof import('typescript');
  const dist = path.join(path.dirname(require.resolve('@tensorflow/tfjs-core/package.json')), 'dist') + path.sep;
  const original = Module._extensions['.js'];
  // eslint-disable-next-line @typescript-eslint/no-explicit-any -- Node's module internals have no public type
  Module._extensions['.js'] = function (mod: any, filename: string) {
    if (filename.startsWith(dist) && !/[\\/]tf-core[.\w]*\.js$/.test(filename)) {
      const src = fs.readFileSync(filename, 'utf8');
      const out = ts.transpileModule(src, {
        compilerOptions: { module: ts.ModuleKind.CommonJS, target: ts.ScriptTarget.ES2017 },
        fileName: filename,
      });
      mod._compile(out.outputText, filename);
    } else {
      original(mod, filename);
    }
  };
  try {
    // eslint-disable-next-line @typescript-eslint/no-require-imports -- loaded for its side effect, through the hook above
    require(path.join(dist, 'register_all_gradients.js'));
  } finally {
    Module._extensions['.js'] = original;
  }
  return tf.getGradient('Conv2D') ? 1 : 0;
}

interface Args {
  backend: 'cpu' | 'wasm';
  nets: string[];
  threads: number;
  epochs: number;
  batches: number;
  epochBudget: number;
  check: boolean;
  steps: number;
}

function parseArgs(argv: string[]): Args {
  const a: Args = {
    backend: 'cpu',
    nets: ['a', 'b', 'c32', 'c256', 'd', 'e', 'infer'],
    threads: 1,
    epochs: 2,
    batches: 3,
    epochBudget: 10,
    check: false,
    steps: 10,
  };
  for (let i = 0; i < argv.length; i++) {
    const k = argv[i];
    const v = () => {
      const x = argv[++i];
      if (x === undefined) throw new Error(`${k} needs a value`);
      return x;
    };
    if (k === '--backend') {
      const b = v();
      if (b !== 'cpu' && b !== 'wasm') throw new Error(`--backend must be cpu or wasm, got ${b}`);
      a.backend = b;
    } else if (k === '--nets') a.nets = v().split(',').filter(Boolean);
    else if (k === '--threads') a.threads = Number(v());
    else if (k === '--epochs') a.epochs = Number(v());
    else if (k === '--batches') a.batches = Number(v());
    else if (k === '--epoch-budget') a.epochBudget = Number(v());
    else if (k === '--steps') a.steps = Number(v());
    else if (k === '--check') a.check = true;
    else throw new Error(`unknown argument ${k}`);
  }
  return a;
}

// ---- layers over tfjs-core ops (x is [batch, length, chan] or [batch, features]) ----

/** Uniform(-1/sqrt(fanIn), 1/sqrt(fanIn)), PyTorch's default init. */
function param(shape: number[], fanIn: number): tf.Variable {
  const lim = 1 / Math.sqrt(fanIn);
  return tf.variable(tf.randomUniform(shape, -lim, lim, 'float32'));
}

type Fwd = (x: tf.Tensor) => tf.Tensor;
interface Net {
  forward: Fwd;
  vars: tf.Variable[];
}

class Builder {
  vars: tf.Variable[] = [];
  private fns: Fwd[] = [];
  conv1d(k: number, cin: number, cout: number): this {
    const w = param([k, cin, cout], k * cin); // no bias: neurone's Conv1D default
    this.vars.push(w);
    this.fns.push((x) => tf.conv1d(x as tf.Tensor3D, w as tf.Tensor3D, 1, 'valid'));
    return this;
  }
  maxPool1d(k: number, s: number): this {
    this.fns.push((x) => {
      const [b, l, c] = x.shape;
      const y = tf.maxPool(tf.reshape(x, [b, 1, l, c]) as tf.Tensor4D, [1, k], [1, s], 'valid');
      return tf.reshape(y, [b, y.shape[2], c]);
    });
    return this;
  }
  flatten(): this {
    this.fns.push((x) => tf.reshape(x, [x.shape[0], -1]));
    return this;
  }
  linear(nin: number, nout: number): this {
    const w = param([nin, nout], nin);
    const bias = param([nout], nin);
    this.vars.push(w, bias);
    this.fns.push((x) => tf.add(tf.matMul(x as tf.Tensor2D, w as tf.Tensor2D), bias));
    return this;
  }
  act(f: Fwd): this {
    this.fns.push(f);
    return this;
  }
  build(): Net {
    const fns = this.fns;
    return { forward: (x) => fns.reduce((h, f) => f(h), x), vars: this.vars };
  }
}

const relu: Fwd = (x) => tf.relu(x);
const tanh: Fwd = (x) => tf.tanh(x);
const sigmoid: Fwd = (x) => tf.sigmoid(x);
const logSoftmax: Fwd = (x) => tf.logSoftmax(x);

function seedCnn(length: number): Net {
  const pooled = Math.floor((length - 2) / 2);
  return new Builder()
    .conv1d(3, 1, 32)
    .maxPool1d(2, 2)
    .flatten()
    .linear(32 * pooled, 100)
    .act(relu)
    .linear(100, 10)
    .act(logSoftmax)
    .build();
}

function deepCnn(length: number): Net {
  let n = length;
  for (let i = 0; i < 3; i++) n = Math.floor((n - 2 - 8) / 2) + 1;
  return new Builder()
    .conv1d(3, 1, 64)
    .act(relu)
    .maxPool1d(8, 2)
    .conv1d(3, 64, 64)
    .act(relu)
    .maxPool1d(8, 2)
    .conv1d(3, 64, 64)
    .act(relu)
    .maxPool1d(8, 2)
    .flatten()
    .linear(64 * n, 10)
    .build();
}

const mlp = () => new Builder().linear(784, 256).act(tanh).linear(256, 10).build();
const autoencoder = () =>
  new Builder().linear(784, 256).act(tanh).linear(256, 64).act(tanh).linear(64, 256).act(tanh).linear(256, 784).act(sigmoid).build();

type Loss = (out: tf.Tensor, y: tf.Tensor) => tf.Scalar;
/** Mean negative log-likelihood; `out` is log-probabilities, y one-hot. */
const nll: Loss = (out, y) => tf.neg(tf.mean(tf.sum(tf.mul(out, y), 1))) as tf.Scalar;
/** Cross-entropy from logits. */
const xent: Loss = (out, y) => nll(tf.logSoftmax(out), y);
/** Binary cross-entropy on probabilities, mean over all elements. */
const bce: Loss = (out, y) => {
  const p = tf.clipByValue(out, 1e-7, 1 - 1e-7);
  return tf.neg(tf.mean(tf.add(tf.mul(y, tf.log(p)), tf.mul(tf.sub(1, y), tf.log(tf.sub(1, p)))))) as tf.Scalar;
};

interface Spec {
  make: () => Net;
  shape: number[];
  batch: number;
  loss: Loss | null;
  target: 'class' | 'input' | null;
}
const NETS: Record<string, Spec> = {
  a: { make: () => seedCnn(256), shape: [256, 1], batch: 32, loss: nll, target: 'class' },
  b: { make: () => seedCnn(784), shape: [784, 1], batch: 32, loss: nll, target: 'class' },
  c32: { make: mlp, shape: [784], batch: 32, loss: xent, target: 'class' },
  c256: { make: mlp, shape: [784], batch: 256, loss: xent, target: 'class' },
  d: { make: autoencoder, shape: [784], batch: 32, loss: bce, target: 'input' },
  e: { make: () => deepCnn(256), shape: [256, 1], batch: 32, loss: xent, target: 'class' },
  infer: { make: () => seedCnn(256), shape: [256, 1], batch: 256, loss: null, target: null },
};

function makeData(spec: Spec, count: number): { x: tf.Tensor; y: tf.Tensor | null }[] {
  const data = [];
  for (let i = 0; i < count; i++) {
    const x = tf.randomUniform([spec.batch, ...spec.shape], 0, 1, 'float32');
    let y: tf.Tensor | null = null;
    if (spec.target === 'class')
      y = tf.tidy(() => tf.cast(tf.oneHot(tf.randomUniform([spec.batch], 0, 10, 'int32') as tf.Tensor1D, 10), 'float32'));
    else if (spec.target === 'input') y = tf.clone(x);
    data.push({ x, y });
  }
  return data;
}

function oneLine(e: unknown): string {
  const msg =
    e instanceof Error ? e.message : typeof e === 'object' && e && 'message' in e ? String((e as { message: unknown }).message) : String(e);
  return (msg.split('\n')[0] || String(e)).slice(0, 300);
}

function median(xs: number[]): number {
  const s = [...xs].sort((p, q) => p - q);
  const m = s.length >> 1;
  return s.length % 2 ? s[m] : (s[m - 1] + s[m]) / 2;
}

/**
 * With `epochBudget` > 0 seconds, a net whose first (warm-up) batch shows that `batches` batches
 * would take longer than the budget per epoch runs fewer batches per epoch (at least 1); the note
 * says so. tfjs cpu needs ~10 s per batch of the deep CNN (e).
 */
function benchNet(name: string, epochs: number, batches: number, epochBudget: number): { samplesPerSec: number | null; note: string } {
  const spec = NETS[name];
  const net = spec.make();
  const data = makeData(spec, batches);
  const opt = tf.train.sgd(LR);
  const epoch =
    spec.loss === null
      ? (n: number) => {
          for (let i = 0; i < n; i++) tf.tidy(() => net.forward(data[i].x)).dataSync();
        }
      : (n: number) => {
          let last: tf.Scalar | null = null;
          for (let i = 0; i < n; i++) {
            const { x, y } = data[i];
            const ret = i === n - 1;
            last = opt.minimize(() => spec.loss!(net.forward(x), y!), ret, net.vars);
          }
          last?.dataSync(); // make sure the work is done (cpu/wasm run eagerly anyway)
          last?.dispose();
        };
  try {
    // warm-up epoch; its first batch, timed, sizes the epochs when there is a budget
    const t0 = process.hrtime.bigint();
    epoch(1);
    const first = Number(process.hrtime.bigint() - t0) / 1e9;
    let n = batches;
    let note = '';
    if (epochBudget > 0 && first * batches > epochBudget) {
      n = Math.max(1, Math.min(batches, Math.floor(epochBudget / first)));
      note = `${n} batch${n > 1 ? 'es' : ''}/epoch (epoch budget ${epochBudget} s)`;
    }
    if (n > 1) epoch(n - 1);
    const rates: number[] = [];
    for (let e = 0; e < epochs; e++) {
      const t = process.hrtime.bigint();
      epoch(n);
      const dt = Number(process.hrtime.bigint() - t) / 1e9;
      rates.push((n * spec.batch) / dt);
    }
    return { samplesPerSec: Math.round(median(rates) * 10) / 10, note };
  } catch (e) {
    return { samplesPerSec: null, note: oneLine(e) };
  } finally {
    opt.dispose();
    net.vars.forEach((v) => v.dispose());
    data.forEach(({ x, y }) => {
      x.dispose();
      y?.dispose();
    });
  }
}

function checkNet(name: string, steps: number): string {
  const spec = NETS[name];
  const net = spec.make();
  const [{ x, y }] = makeData(spec, 1);
  try {
    if (spec.loss === null) {
      const s = tf.tidy(() => tf.sum(tf.exp(net.forward(x)), 1));
      const v = s.dataSync();
      s.dispose();
      return `${name}: forward [${spec.batch},10], sum(exp(logp)) in [${Math.min(...v).toFixed(4)}, ${Math.max(...v).toFixed(4)}]`;
    }
    const opt = tf.train.sgd(LR);
    let first = NaN;
    let last = NaN;
    for (let i = 0; i < steps; i++) {
      const l = opt.minimize(() => spec.loss!(net.forward(x), y!), true, net.vars)!;
      last = l.dataSync()[0];
      l.dispose();
      if (i === 0) first = last;
    }
    opt.dispose();
    return `${name}: loss ${first.toFixed(5)} -> ${last.toFixed(5)} after ${steps} steps on one batch (change ${(last - first).toExponential(2)}, ${last < first ? 'ok' : 'NOT DECREASING'})`;
  } catch (e) {
    return `${name}: failed: ${oneLine(e)}`;
  } finally {
    net.vars.forEach((v) => v.dispose());
    x.dispose();
    y?.dispose();
  }
}

async function setup(args: Args): Promise<{ config: string; threads: number; note: string }> {
  if (!registerTfjsGradients()) throw new Error('could not register tfjs gradients');
  if (args.backend === 'cpu') {
    await tf.setBackend('cpu');
    return { config: `tfjs-backend-cpu (plain JS kernels), Node ${process.version}`, threads: 1, note: 'single-threaded JS' };
  }
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  const wasm = require('@tensorflow/tfjs-backend-wasm') as typeof import('@tensorflow/tfjs-backend-wasm');
  const dir = path.dirname(require.resolve('@tensorflow/tfjs-backend-wasm/dist/tfjs-backend-wasm.wasm'));
  wasm.setWasmPaths(dir + path.sep);
  const simd = await tf.env().getAsync('WASM_HAS_SIMD_SUPPORT');
  const mt = await tf.env().getAsync('WASM_HAS_MULTITHREAD_SUPPORT');
  if (mt) wasm.setThreadsCount(args.threads);
  if (!(await tf.setBackend('wasm'))) throw new Error('tfjs wasm backend failed to initialise');
  const threads = mt ? wasm.getThreadsCount() : 1;
  const note = `simd ${simd ? 'on' : 'off'}, threads ${mt ? `on (${threads})` : 'off (tfjs-wasm has no multithreading in Node)'}`;
  return {
    config: `tfjs-backend-wasm ${wasm.version_wasm}, ${simd ? (mt ? 'threaded-simd' : 'simd') : 'plain'} binary, Node ${process.version}`,
    threads,
    note,
  };
}

async function main(): Promise<void> {
  const args = parseArgs(process.argv.slice(2));
  for (const n of args.nets) if (!(n in NETS)) throw new Error(`unknown net ${n}; known: ${Object.keys(NETS).join(',')}`);
  const { config, threads, note } = await setup(args);
  if (args.check) {
    for (const n of args.nets) console.log(checkNet(n, args.steps));
    return;
  }
  const results: Record<string, { samplesPerSec: number | null; note: string }> = {};
  for (const n of args.nets) {
    const r = benchNet(n, args.epochs, args.batches, args.epochBudget);
    if (r.samplesPerSec !== null && note) r.note = r.note ? `${note}; ${r.note}` : note;
    results[n] = r;
    process.stderr.write(`# ${n}: ${JSON.stringify(r)}\n`);
  }
  console.log(
    JSON.stringify({
      framework: `tfjs-${args.backend}`,
      version: tf.version_core,
      threads,
      requestedThreads: args.threads,
      config,
      results,
    }),
  );
}

main().catch((e) => {
  console.error(e);
  process.exit(1);
});
