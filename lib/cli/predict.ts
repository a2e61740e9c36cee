/**
 * `neurone predict --model m.safetensors <input>...`: classes and probabilities of a saved model
 * for PNG images, IDX files, CSV or JSON rows.
 */
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { FLOAT32_MAX, Tensor } from '../tensor';
import { Module } from '../nn/module';
import { loadWithSampleShape } from '../serialize';
import { sigmoid } from '../backend/js';
import { predict } from '../train';
import { readIdx } from '../data/idx';
import { checkPng, decodePng } from '../data/png';
import {
  MAX_IDX_HEADER_BYTES,
  MAX_PNG_FILE_BYTES,
  decodeText,
  gunzipHead,
  isGzip,
  readDataFile,
  readMaybeGzip,
  writeFileAtomic,
} from '../data/read';
import {
  FlagSpec,
  InputError,
  asInput,
  checkOutputFile,
  flagValue,
  helpText,
  intFlag,
  keepRunningWithoutStdout,
  parseArgs,
  runCommand,
} from './command';
import { followShapes } from './presets';
import { ImageSize, binaryOutput, isSigmoidType, lastLeaf, modelInputShape, sampleChannels } from './model-io';

/**
 * The largest CSV or JSON input read: text takes several times its size while it is parsed, and
 * 64 MiB holds MNIST's 10,000 test images as text.
 */
const MAX_TEXT_INPUT_BYTES = 64 * 2 ** 20;

const FLAGS: readonly FlagSpec[] = [
  { name: '--model', arg: 'FILE', help: 'the model (a .safetensors file saved by neurone: save() or train --save)' },
  {
    name: '--out',
    arg: 'FILE',
    help: 'write the results there too: .json (one object per row) or .csv (all rows, even if stdout closes: | head)',
  },
  { name: '--top', arg: 'K', help: 'classes listed per row, most probable first (default 3)' },
  { name: '--invert', help: 'PNG: dark ink on a light page (MNIST and USPS are light on dark)' },
  { name: '--help', help: 'show this help' },
];

export function predictUsage(): string {
  return helpText('neurone predict --model FILE [options] INPUT...', FLAGS, [
    'Inputs (one kind or several, rows taken in order):',
    '  *.png                   one image per file, grey levels scaled to [0, 1] (the size the model takes: 16×16 USPS, 28×28 MNIST;',
    '                          red, green and blue for a model whose first convolution takes 3 channels)',
    '  IDX (*-ubyte, *.idx, .gz) the images of an IDX file (bytes scaled to [0, 1], as the MNIST loaders do)',
    '  *.csv[.gz]              one row of numbers per line (a first line with words is a header)',
    '  *.json[.gz]             an array of rows (arrays of numbers), or one row',
    '  -                       standard input, any of the above (told by its first bytes)',
    'CSV and JSON rows take the sample shape the model file stores (train --save stores it) when they have its size.',
    '',
    'The probabilities are the softmax of the outputs (the outputs themselves after Softmax, their exp after',
    "LogSoftmax, each output after Sigmoid). A model with one output is a binary classifier, as PyTorch's are:",
    'the output is P(class 1) after Sigmoid, else a logit (as BCEWithLogitsLoss reads it); class 1 above 0.5.',
    '',
    'Examples:',
    '  neurone predict --model digits.safetensors seven.png three.png',
    '  neurone train --dataset mnist --model mlp --save mnist-mlp.safetensors',
    '  neurone predict --model mnist-mlp.safetensors --out predictions.csv t10k-images-idx3-ubyte.gz',
    '  jq -c .rows request.json | neurone predict --model mnist-mlp.safetensors -',
  ]);
}

/** Rows read from the inputs, each named `file` or `file:row`. */
export interface InputRows {
  names: string[];
  rows: Float32Array[];
  /** The images' size, when every row is an image of that size (PNGs, an IDX file of images). */
  image?: ImageSize;
  /** Grey PNGs read without `invert` whose mean level is above LIGHT_PAGE_MEAN: dark ink on a light page, most likely. */
  lightPages: string[];
}

/**
 * A mean level above which a grey image looks like dark ink on a light page: MNIST's images
 * average 0.13 and USPS's 0.27 (light strokes on black); a digit drawn in black on white, 0.8
 * or more.
 */
const LIGHT_PAGE_MEAN = 0.6;

/**
 * One PNG as a row in [0, 1]: grey levels, or red, green, blue interleaved (channels-last) for a
 * model that takes 3 channels.
 */
function readPng(file: string, invert: boolean, channels: 1 | 3): { row: Float32Array; image: ImageSize } {
  const buf = readDataFile(file, MAX_PNG_FILE_BYTES, 'a PNG image');
  const png = decodePng(buf, file, checkPng(buf, file, 'an image'));
  const pixels = png.width * png.height;
  const row = new Float32Array(pixels * channels);
  // Transparent pixels count as the page: black, or white when inverted.
  const page = invert ? 255 : 0;
  const onPage = (v: number, alpha: number): number => {
    const level = (v * alpha + page * (255 - alpha)) / 255;
    return (invert ? 255 - level : level) / 255;
  };
  for (let i = 0; i < pixels; i++) {
    const a = png.data[4 * i + 3];
    if (channels === 1) row[i] = onPage((png.data[4 * i] + png.data[4 * i + 1] + png.data[4 * i + 2]) / 3, a);
    else for (let c = 0; c < 3; c++) row[3 * i + c] = onPage(png.data[4 * i + c], a);
  }
  return { row, image: { height: png.height, width: png.width, chan: channels } };
}

/**
 * The most input values predict takes over all its files (2^26, 256 MiB as float32; MNIST's
 * 60,000 training images are 47 million): the rows and the batch made of them are both held,
 * and an IDX file within its own limit (1 GiB of bytes) would be 4 GiB as floats.
 */
export const MAX_PREDICT_VALUES = 2 ** 26;

/**
 * The most input rows predict takes over all its files (262,144; MNIST's training set is 60,000):
 * each row is a sample with its own array and name, a hundred bytes or more however few values it
 * holds, so that a file of millions of one-value rows would exhaust memory within the value bound.
 */
export const MAX_PREDICT_ROWS = 2 ** 18;

function tooManyRows(rows: number): string {
  return `${rows.toLocaleString('en-US')} rows, more than the ${MAX_PREDICT_ROWS.toLocaleString('en-US')} predict takes in one run; split the input`;
}

/** How many times `byte` occurs in `buf`: the rows of a text file counted before it is parsed. */
function countByte(buf: Buffer, byte: number): number {
  let count = 0;
  for (let i = buf.indexOf(byte); i >= 0; i = buf.indexOf(byte, i + 1)) count++;
  return count;
}

function readIdxRows(file: string): { rows: Float32Array[]; image?: ImageSize } {
  // From the header, before the payload is read or inflated.
  const idx = readIdx(file, ({ dims }) => {
    if (dims.length < 2) throw new Error(`${file}: an IDX file of ${dims.length} dimension (labels?), expected examples × features`);
    const rows = dims[0];
    const values = dims.slice(1).reduce((a, b) => a * b, 1);
    if (values === 0) throw new Error(`${file}: samples of 0 values (dimensions ${dims.join(' × ')})`);
    if (rows > MAX_PREDICT_ROWS) throw new Error(`${file}: ${tooManyRows(rows)}`);
    if (rows * values > MAX_PREDICT_VALUES) throw new Error(`${file}: ${tooManyValues(rows * values)}`);
  });
  const n = idx.dims[0];
  const size = idx.dims.slice(1).reduce((a, b) => a * b, 1);
  const scale = idx.type === 'ubyte' ? 1 / 255 : 1;
  const rows = Array.from({ length: n }, (_, r) =>
    Float32Array.from(idx.data.subarray(r * size, (r + 1) * size) as ArrayLike<number>, (v, j) => {
      const x = v * scale;
      // Float and double files may hold NaN, or a value past float32: the CSV and JSON readers refuse them too.
      if (!isFloat32Number(x)) throw new Error(`${file}: sample ${r} value ${j} is ${v}, expected a finite float32 number`);
      return x;
    }),
  );
  return { rows, image: idx.dims.length === 3 ? { height: idx.dims[1], width: idx.dims[2] } : undefined };
}

/** Whether `v` is a number a model reads as itself: finite, and within float32's range (1e39 would be ±Infinity). */
function isFloat32Number(v: unknown): v is number {
  return typeof v === 'number' && Number.isFinite(v) && Math.abs(v) <= FLOAT32_MAX;
}

function parseNumber(text: string, where: string): number {
  const v = Number(text.trim());
  if (text.trim() === '' || !isFloat32Number(v)) throw new Error(`${where}: '${text.trim()}' is not a finite float32 number`);
  return v;
}

function readCsvRows(file: string): Float32Array[] {
  const bytes = readMaybeGzip(file, MAX_TEXT_INPUT_BYTES, 'a CSV file');
  // A header and MAX_PREDICT_ROWS rows at most, counted before a string is made of any line.
  const lineCount = countByte(bytes, 0x0a);
  if (lineCount > MAX_PREDICT_ROWS + 1) throw new Error(`${file}: ${tooManyRows(lineCount)}`);
  const lines = decodeText(bytes)
    .split(/\r?\n/)
    .map((l, i) => ({ l, i }))
    .filter(({ l }) => l.trim() !== '');
  if (lines.length === 0) throw new Error(`${file}: no rows`);
  // Semicolons or tabs and no comma: a spreadsheet's export in another convention, which would
  // otherwise read as one header cell and no rows.
  const other = lines[0].l.includes(',') ? undefined : [';', '\t'].find((sep) => lines[0].l.includes(sep));
  if (other !== undefined)
    throw new Error(`${file}: the values are separated by ${other === ';' ? 'semicolons' : 'tabs'}; predict reads commas`);
  // A first line with a word in it is a header. NaN, Inf and an empty field are not words: such
  // a row is data, and its bad value is named below rather than the row taken for a header.
  const word = (c: string): boolean => c !== '' && !Number.isFinite(Number(c)) && !/^[+-]?(nan|inf(inity)?)$/i.test(c);
  const start = lines[0].l.split(',').some((c) => word(c.trim())) ? 1 : 0;
  const rows = lines
    .slice(start)
    .map(({ l, i }) => Float32Array.from(l.split(','), (c, j) => parseNumber(c, `${file} line ${i + 1} column ${j + 1}`)));
  if (rows.length === 0) throw new Error(`${file}: a header and no rows`);
  return rows;
}

function readJsonRows(file: string): Float32Array[] {
  let parsed: unknown;
  const bytes = readMaybeGzip(file, MAX_TEXT_INPUT_BYTES, 'a JSON file');
  // Every row is an array: their count bounds the rows before the parser makes any.
  const arrays = countByte(bytes, 0x5b);
  if (arrays > MAX_PREDICT_ROWS + 1) throw new Error(`${file}: ${tooManyRows(arrays - 1)}`);
  try {
    parsed = JSON.parse(decodeText(bytes));
  } catch (e) {
    if ((e as Error).message.startsWith(file)) throw e;
    throw new Error(`${file}: not valid JSON (${(e as Error).message})`);
  }
  if (Array.isArray(parsed) && parsed.length === 0) throw new Error(`${file}: no rows (an empty array)`);
  const rows = Array.isArray(parsed) && parsed.every((r) => typeof r === 'number') ? [parsed] : parsed;
  if (!Array.isArray(rows) || rows.length === 0 || !rows.every(Array.isArray)) {
    throw new Error(
      `${file}: expected an array of rows (arrays of numbers) or one row, got ${Array.isArray(rows) ? 'an array of something else' : typeof rows}`,
    );
  }
  const empty = (rows as unknown[][]).findIndex((r) => r.length === 0);
  if (empty >= 0) throw new Error(`${file}: row ${empty} is empty`);
  return (rows as unknown[][]).map((r, i) =>
    Float32Array.from(r, (v, j) => {
      if (!isFloat32Number(v)) throw new Error(`${file}: row ${i} value ${j} is ${JSON.stringify(v)}, expected a finite float32 number`);
      return v;
    }),
  );
}

/** The most bytes standard input may hold: a float IDX of the most values predict takes. */
const MAX_STDIN_BYTES = MAX_IDX_HEADER_BYTES + 4 * MAX_PREDICT_VALUES;

/**
 * The kind of input bytes read from standard input, from their first bytes (a gzip's content's):
 * the PNG signature, an IDX header (two zero bytes, a type code, 1 to 4 dimensions), a JSON array;
 * anything else is taken as CSV, whose reader then says what it finds wrong.
 */
function sniffedName(bytes: Buffer): string {
  const gz = isGzip(bytes);
  const head = gz ? gunzipHead(bytes, 64, 'standard input') : bytes.subarray(0, 64);
  if (head.subarray(0, 8).equals(Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]))) return gz ? 'stdin.png.gz' : 'stdin.png';
  const idx =
    head.length >= 4 &&
    head[0] === 0 &&
    head[1] === 0 &&
    [0x08, 0x09, 0x0b, 0x0c, 0x0d, 0x0e].includes(head[2]) &&
    head[3] >= 1 &&
    head[3] <= 4;
  const kind = idx ? 'idx' : /^\s*\[/.test(decodeText(head)) ? 'json' : 'csv';
  return `stdin.${kind}${gz ? '.gz' : ''}`;
}

/** Reads standard input whole, refusing it past `limit` bytes before holding more. */
async function readStdin(limit: number): Promise<Buffer> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of process.stdin) {
    size += (chunk as Buffer).length;
    if (size > limit)
      throw new InputError(`predict: -: standard input holds more than ${limit.toLocaleString('en-US')} bytes, more than predict takes`);
    chunks.push(chunk as Buffer);
  }
  return Buffer.concat(chunks);
}

/** The kind of an input file, from its name: IDX, CSV and JSON may be gzipped (a .gz after it), a PNG not. */
function inputKind(file: string): 'png' | 'idx' | 'csv' | 'json' | undefined {
  const lower = path.basename(file).toLowerCase();
  const name = lower.replace(/\.gz$/, '');
  if (name.endsWith('.png')) return name === lower ? 'png' : undefined;
  if (name.endsWith('.csv')) return 'csv';
  if (name.endsWith('.json')) return 'json';
  if (name.endsWith('.idx') || name.endsWith('-ubyte') || /\.idx\d-ubyte$/.test(name)) return 'idx';
  return undefined;
}

function tooManyValues(values: number): string {
  return `${values.toLocaleString('en-US')} input values, more than the ${MAX_PREDICT_VALUES.toLocaleString('en-US')} predict takes in one run; split the input`;
}

/**
 * Reads every input file into rows; throws naming the file. PNGs are read as grey levels, or as
 * red, green and blue for a model that takes 3 channels (`channels`).
 */
export function readInputs(files: readonly string[], invert: boolean, channels: 1 | 3 = 1): InputRows {
  const names: string[] = [];
  const rows: Float32Array[] = [];
  // The images' size while every input so far is an image of one size; null once one is not.
  let image: ImageSize | undefined | null;
  const sameImage = (size: ImageSize | undefined): void => {
    if (image === null) return;
    image = size !== undefined && (image === undefined || (image.height === size.height && image.width === size.width)) ? size : null;
  };
  let total = 0;
  const lightPages: string[] = [];
  for (const file of files) {
    const kind = inputKind(file);
    if (!kind)
      throw new InputError(
        `predict: ${file}: unknown kind of input (expected .png, an IDX file (*-ubyte, *.idx), .csv or .json, the last three also as .gz)`,
      );
    const got = asInput('predict: ', () => {
      if (kind === 'png') {
        const png = readPng(file, invert, channels);
        sameImage(png.image);
        if (!invert && channels === 1 && png.row.reduce((a, b) => a + b, 0) / png.row.length > LIGHT_PAGE_MEAN) lightPages.push(file);
        return [png.row];
      }
      if (kind === 'idx') {
        const idx = readIdxRows(file);
        sameImage(idx.image);
        return idx.rows;
      }
      sameImage(undefined);
      return kind === 'csv' ? readCsvRows(file) : readJsonRows(file);
    });
    got.forEach((r, i) => {
      names.push(got.length === 1 && kind === 'png' ? file : `${file}:${i}`);
      rows.push(r);
      total += r.length;
    });
    if (total > MAX_PREDICT_VALUES) throw new InputError(`predict: ${files.join(', ')}: ${tooManyValues(total)}`);
    if (rows.length > MAX_PREDICT_ROWS) throw new InputError(`predict: ${files.join(', ')}: ${tooManyRows(rows.length)}`);
  }
  const width = rows[0]?.length;
  const odd = rows.findIndex((r) => r.length !== width);
  if (odd >= 0)
    throw new InputError(
      `predict: ${names[odd]} has ${rows[odd].length} values, ${names[0]} has ${width}: every row must have the same size`,
    );
  return { names, rows, image: image ?? undefined, lightPages };
}

/** The most values the largest activation of one batch may hold in a command: 1 GiB of float32. */
export const MAX_BATCH_ACTIVATION = 2 ** 28;

/**
 * The batch size a command runs `net` with on samples of `sampleShape` ((1, …)): 256, or fewer
 * where a layer's output per sample is large, so that no activation of a batch passes
 * MAX_BATCH_ACTIVATION values. A model that passes it with one sample is refused, naming the
 * layer: a few hundred bytes of model file (an Upsample2D(4096)) must not claim 16 GiB.
 */
export function commandBatchSize(net: Module, sampleShape: readonly number[], what: string): number {
  const input = { values: sampleShape.slice(1).reduce((a, b) => a * b, 1), label: 'the input', shape: sampleShape };
  const layer = followShapes(net, sampleShape).largest;
  const largest = layer.values > input.values ? layer : input;
  if (largest.values > MAX_BATCH_ACTIVATION) {
    throw new InputError(
      `${what}: ${largest.label} outputs (batch, ${largest.shape.slice(1).join(', ')}), ${largest.values.toLocaleString('en-US')} values a sample; ` +
        `a command runs at most ${MAX_BATCH_ACTIVATION.toLocaleString('en-US')} (1 GiB) in one activation`,
    );
  }
  return Math.max(1, Math.min(256, Math.floor(MAX_BATCH_ACTIVATION / largest.values)));
}

/**
 * Probabilities from the model's outputs (n, k), by its last layer: see predictUsage. One output
 * (n, 1) is a binary classifier's: two classes, P(1) the output after a sigmoid, else its logistic.
 */
export function probabilities(net: Module, y: Tensor): { probs: Float32Array; classes: number } {
  if (y.shape.length !== 2)
    throw new InputError(
      `predict: the model outputs (batch, ${y.shape.slice(1).join(', ')}), not one score per class: predict takes classifiers (an image-to-image model: call predict() in code)`,
    );
  const [n, k] = y.shape;
  const last = lastLeaf(net)?.config().type;
  const endsInSigmoid = isSigmoidType(last);
  if (k === 1) {
    const logit = binaryOutput(net, 'predict') === 'logit';
    const probs = new Float32Array(2 * n);
    for (let r = 0; r < n; r++) {
      const p1 = logit ? sigmoid(y.data[r]) : y.data[r];
      probs[2 * r] = 1 - p1;
      probs[2 * r + 1] = p1;
    }
    return { probs, classes: 2 };
  }
  const probs = new Float32Array(y.data.length);
  for (let r = 0; r < n; r++) {
    const row = y.data.subarray(r * k, (r + 1) * k);
    const out = probs.subarray(r * k, (r + 1) * k);
    if (last === 'Softmax' || endsInSigmoid) out.set(row);
    else if (last === 'LogSoftmax') for (let j = 0; j < k; j++) out[j] = Math.exp(row[j]);
    else {
      let max = -Infinity;
      for (const v of row) max = Math.max(max, v);
      let sum = 0;
      for (let j = 0; j < k; j++) sum += out[j] = Math.exp(row[j] - max);
      for (let j = 0; j < k; j++) out[j] /= sum;
    }
  }
  return { probs, classes: k };
}

/**
 * Runs `read` on the inputs with `-` (standard input) put in a private temporary file named for
 * what its bytes are, so that the readers and their bounds are the files'; the file's path reads
 * as `-` in the rows' names and in errors, and the file is gone afterwards.
 */
async function withStdin(inputs: readonly string[], read: (files: readonly string[]) => InputRows): Promise<InputRows> {
  const dashes = inputs.filter((f) => f === '-').length;
  if (dashes === 0) return read(inputs);
  if (dashes > 1) throw new InputError('predict: - (standard input) is given more than once');
  const bytes = await readStdin(MAX_STDIN_BYTES);
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'neurone-stdin-'));
  try {
    const file = path.join(dir, sniffedName(bytes));
    fs.writeFileSync(file, bytes, { mode: 0o600 });
    const named = (text: string): string => text.split(file).join('-');
    try {
      const got = read(inputs.map((f) => (f === '-' ? file : f)));
      return { ...got, names: got.names.map(named), lightPages: got.lightPages.map(named) };
    } catch (e) {
      if (e instanceof Error) e.message = named(e.message);
      throw e;
    }
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
}

/** Loads a model for a command, the load error kept whole as bad input. */
export function loadModel(command: string, file: string | undefined): Module {
  return loadModelAndShape(command, file, false).net;
}

/** {@link loadModel}, with the sample shape the file stores (train --save stores its data's), from one read. */
export function loadModelAndShape(
  command: string,
  file: string | undefined,
  wantShape = true,
): { net: Module; sampleShape: readonly number[] | undefined } {
  if (file === undefined) throw new InputError(`${command}: --model FILE is required (a model saved by neurone)`);
  return asInput(`${command}: `, () => loadWithSampleShape(file, wantShape));
}

interface Row {
  input: string;
  class: number;
  probabilities: number[];
}

/** A row's line: its input's name padded to `width`, the class and the `top` most probable classes. */
function formatRow(r: Row, top: number, width: number): string {
  const order = r.probabilities.map((p, c) => [c, p] as const).sort((a, b) => b[1] - a[1] || a[0] - b[0]);
  const listed = order
    .slice(0, top)
    .map(([c, p]) => `${c} ${p.toFixed(4)}`)
    .join(', ');
  return `${r.input.padEnd(width)}  class ${r.class}  (${listed})`;
}

/** A text field of a CSV file (RFC 4180): quoted, a quote inside doubled. */
function csvField(text: string): string {
  return `"${text.replace(/"/g, '""')}"`;
}

/** The `predict` command; returns the exit code. */
export function predictCommand(argv: readonly string[], write: (text: string) => void = (t) => process.stdout.write(t)): Promise<number> {
  let restoreStdout = (): void => {};
  return runCommand(async () => {
    const args = parseArgs('predict', argv, FLAGS);
    if (args.flags.has('--help')) {
      write(`${predictUsage()}\n`);
      return 0;
    }
    const top = intFlag(args, 'predict', '--top', 3);
    const out = flagValue(args, '--out');
    if (args.positional.length === 0)
      throw new InputError('predict: no input given (PNG images, an IDX file, CSV or JSON rows; see neurone predict --help)');
    if (out !== undefined) {
      const ext = path.extname(out).toLowerCase();
      if (ext !== '.json' && ext !== '.csv') throw new InputError(`predict: --out ${out}: expected a .json or .csv file name`);
      checkOutputFile('predict', '--out', out, [...args.positional, flagValue(args, '--model') ?? '']);
      // `--out FILE | head`: the file gets every row all the same.
      restoreStdout = keepRunningWithoutStdout();
    }
    const modelFile = flagValue(args, '--model');
    const { net, sampleShape: saved } = loadModelAndShape('predict', modelFile);
    const inputs = await withStdin(args.positional, (files) =>
      readInputs(files, args.flags.has('--invert'), sampleChannels(net, saved) === 3 ? 3 : 1),
    );
    if (inputs.rows.length === 0) throw new InputError(`predict: ${args.positional.join(', ')}: no examples to predict`);
    const features = inputs.rows[0].length;
    const shape = modelInputShape(net, inputs.rows.length, features, `predict: ${inputs.names[0]}`, inputs.image, saved);
    const batchSize = commandBatchSize(net, [1, ...shape.slice(1)], 'predict');
    const width = inputs.names.reduce((w, name) => Math.max(w, name.length), 0); // not a spread: 125,000 rows overflowed the stack
    // Batch after batch, each printed as soon as it is computed: a reader that wants the first
    // lines (`| head`) gets them without waiting for the rest, and one that has gone (EPIPE)
    // ends the run at the next batch, when the event loop turns (with --out, only the printing).
    const rows: Row[] = [];
    let classes = 0;
    for (let start = 0; start < inputs.rows.length; start += batchSize) {
      const count = Math.min(batchSize, inputs.rows.length - start);
      const x = new Float32Array(count * features);
      for (let i = 0; i < count; i++) x.set(inputs.rows[start + i], i * features);
      const y = probabilities(net, predict(net, { shape: [count, ...shape.slice(1)], data: x }, { batchSize }));
      classes = y.classes;
      const lines: string[] = [];
      for (let i = 0; i < count; i++) {
        const p = Array.from(y.probs.subarray(i * classes, (i + 1) * classes), (v) => Number(v.toPrecision(6)));
        let best = 0;
        for (let c = 1; c < classes; c++) if (p[c] > p[best]) best = c;
        const row = { input: inputs.names[start + i], class: best, probabilities: p };
        if (out !== undefined) rows.push(row);
        lines.push(formatRow(row, Math.min(top, classes), width));
      }
      write(`${lines.join('\n')}\n`);
      await new Promise<void>((resolve) => setImmediate(resolve));
    }
    // Said after the answers, on stderr: a drawing in a paint program is dark on light, the
    // digit sets light on dark, and the model then answers confidently and wrongly.
    if (inputs.lightPages.length > 0) {
      const some =
        inputs.lightPages.slice(0, 3).join(', ') + (inputs.lightPages.length > 3 ? ` and ${inputs.lightPages.length - 3} more` : '');
      process.stderr.write(
        `neurone: note: ${some} ${inputs.lightPages.length === 1 ? 'looks' : 'look'} like dark ink on a light page; ` +
          'MNIST and USPS digits are light on dark: if the model learnt from them, predict again with --invert\n',
      );
    }
    if (out !== undefined) {
      const text = out.toLowerCase().endsWith('.csv')
        ? [
            ['input', 'class', ...Array.from({ length: classes }, (_, c) => `p${c}`)].join(','),
            ...rows.map((r) => [csvField(r.input), r.class, ...r.probabilities].join(',')),
          ].join('\n') + '\n'
        : `${JSON.stringify(rows, null, 1)}\n`;
      writeFileAtomic(out, Buffer.from(text, 'utf8'), { who: 'predict' });
      // On stderr: stdout holds the answers alone, one line per input, for a pipe to read.
      process.stderr.write(`neurone: predictions written to ${out}\n`);
    }
    return 0;
  }).finally(() => restoreStdout());
}
