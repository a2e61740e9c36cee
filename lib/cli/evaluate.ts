/**
 * `neurone evaluate --model m.safetensors --dataset NAME [--split test]`: accuracy, loss and
 * confusion matrix of a saved model on a dataset, with the figure and a JSON record in --out.
 */
import * as path from 'path';
import { evaluate, predict } from '../train';
import * as data from '../data';
import { ensureDir } from '../data/paths';
import { writeFilesAtomic } from '../data/read';
import { confusionMatrixSvg } from '../report/figures';
import { FlagSpec, InputError, asInput, checkOutputFolder, flagValue, helpText, intFlag, parseArgs, runCommand } from './command';
import { commandBatchSize, loadModel } from './predict';
import { binaryOutput, datasetSampleShape, headLoss } from './model-io';
import { BCELoss } from '../losses';
import { confusionMatrix } from '../metrics';
import { DATASETS, DatasetName, loadSplit } from './datasets';
import { percent } from '../messages';

const FLAGS: readonly FlagSpec[] = [
  { name: '--model', arg: 'FILE', help: 'the model (a .safetensors file saved by neurone)' },
  { name: '--dataset', arg: 'NAME', choices: DATASETS, help: `${DATASETS.join('|')}` },
  { name: '--split', arg: 'NAME', choices: ['test', 'train'], help: 'test (default) or train' },
  { name: '--data-dir', arg: 'DIR', help: 'folder of the MNIST / Fashion-MNIST IDX files or of USPS_train/test.txt[.gz]' },
  {
    name: '--seed',
    arg: 'N',
    help: 'xor, blobs, checkerboard: the --seed the model was trained with (their test set derives from it; default 0)',
  },
  { name: '--out', arg: 'DIR', help: 'write confusion.svg and evaluation.json there' },
  { name: '--help', help: 'show this help' },
];

export function evaluateUsage(): string {
  return helpText('neurone evaluate --model FILE --dataset NAME [options]', FLAGS, [
    "The loss is the one `neurone train` uses for the model's last layer: cross-entropy of the log-softmax of",
    'logits; after LogSoftmax, cross-entropy; after Sigmoid, BCE on one-hot targets; after Softmax, MSE on them.',
    'A model of one output on two classes is a binary classifier (as predict reads it): BCE of its output after',
    'Sigmoid, else of its logit (as BCEWithLogitsLoss), class 1 above 0.5.',
    '',
    'Examples:',
    '  neurone evaluate --model digits.safetensors --dataset usps',
    '  neurone evaluate --model fashion.safetensors --dataset fashion --split train --out eval/',
  ]);
}

/** What evaluate prints and records. */
interface Scores {
  accuracy: number;
  loss: number;
  confusion: number[][];
}

/**
 * A one-output model's scores on 0/1 labels from its logits `z`, as BCEWithLogitsLoss takes them:
 * the mean of max(z, 0) − z·y + log(1 + e^−|z|), in double (a sigmoid rounded to 1 in float32,
 * then BCE, would cost a label-0 sample the clamped 100 instead of its logit), class 1 above 0.
 */
function logitScores(z: Float32Array, labels: Int32Array): Scores {
  const predicted = Int32Array.from(labels, (_, i) => (z[i] > 0 ? 1 : 0));
  let loss = 0;
  let hits = 0;
  for (let i = 0; i < labels.length; i++) {
    const v = z[i];
    loss += Math.max(v, 0) - v * labels[i] + Math.log1p(Math.exp(-Math.abs(v)));
    if (predicted[i] === labels[i]) hits++;
  }
  return { accuracy: hits / labels.length, loss: loss / labels.length, confusion: confusionMatrix(predicted, labels, 2) };
}

/** The `evaluate` command; returns the exit code. */
export function evaluateCommand(argv: readonly string[], write: (text: string) => void = (t) => process.stdout.write(t)): Promise<number> {
  return runCommand(() => {
    const args = parseArgs('evaluate', argv, FLAGS);
    if (args.flags.has('--help')) {
      write(`${evaluateUsage()}\n`);
      return 0;
    }
    if (args.positional.length > 0)
      throw new InputError(`evaluate: unexpected argument '${args.positional[0]}' (see neurone evaluate --help)`);
    const datasetName = flagValue(args, '--dataset') as DatasetName | undefined;
    if (datasetName === undefined) throw new InputError(`evaluate: --dataset NAME is required (${DATASETS.join(', ')})`);
    const split = (flagValue(args, '--split') ?? 'test') as 'train' | 'test';
    const seed = intFlag(args, 'evaluate', '--seed', 0, 0);
    const out = flagValue(args, '--out');
    const files = out === undefined ? undefined : { confusion: path.join(out, 'confusion.svg'), record: path.join(out, 'evaluation.json') };
    // Checked before the model and data are read: finding out at the end threw the evaluation away.
    if (files !== undefined && out !== undefined) checkOutputFolder('evaluate', '--out', out, Object.values(files));
    const net = loadModel('evaluate', flagValue(args, '--model'));
    const ds = asInput(`evaluate: cannot load ${datasetName} (${split}): `, () =>
      loadSplit(datasetName, split, seed, flagValue(args, '--data-dir')),
    );
    const n = ds.labels.length;
    const shape = [n, ...datasetSampleShape(net, ds.x.shape, `evaluate: ${datasetName}`)];
    const outShape = net.outputShape([1, ...shape.slice(1)]);
    // One output on two classes is a binary classifier, as predict reads it (see binaryOutput).
    const binary = outShape.length === 2 && outShape[1] === 1 && ds.numClasses === 2;
    if (!binary && (outShape.length !== 2 || outShape[1] !== ds.numClasses)) {
      throw new InputError(
        `evaluate: the model outputs (batch, ${outShape.slice(1).join(', ')}) but ${datasetName} has ${ds.numClasses} classes`,
      );
    }
    const batchSize = commandBatchSize(net, [1, ...shape.slice(1)], 'evaluate');
    const x = { shape, data: ds.x.data };
    let result: Scores;
    let lossName: string;
    if (binary && binaryOutput(net, 'evaluate') === 'logit') {
      result = logitScores(predict(net, x, { batchSize }).data, ds.labels);
      lossName = 'BCE of its logit';
    } else {
      const head = binary ? { loss: new BCELoss(), oneHot: false, measure: 'BCE' } : headLoss(net);
      const y = binary
        ? { shape: [n, 1], data: Float32Array.from(ds.labels) }
        : head.oneHot
          ? data.oneHot(ds.labels, ds.numClasses)
          : { shape: [n], data: Float32Array.from(ds.labels) };
      const e = evaluate(net, head.loss, x, y, { batchSize });
      result = { accuracy: e.accuracy ?? NaN, loss: e.loss, confusion: e.confusion ?? [] };
      lossName = head.measure;
    }
    const confusion = result.confusion;
    write(`${datasetName} ${split}: ${n.toLocaleString('en-US')} examples\n`);
    write(`  accuracy  ${percent(result.accuracy)}\n`);
    write(`  loss      ${result.loss.toPrecision(5)} (${lossName})\n`);
    write('  confusion (rows: actual, columns: predicted)\n');
    const cell = Math.max(4, ...confusion.flat().map((v) => String(v).length + 1));
    write(`  ${''.padStart(4)}${confusion.map((_, c) => String(c).padStart(cell)).join('')}\n`);
    confusion.forEach((row, r) => write(`  ${String(r).padStart(4)}${row.map((v) => String(v).padStart(cell)).join('')}\n`));
    if (files && out !== undefined) {
      asInput(`evaluate: --out ${out}: `, () => ensureDir(out));
      const title = `${path.basename(flagValue(args, '--model') ?? '')} on ${datasetName} ${split}`;
      const record = {
        model: flagValue(args, '--model'),
        dataset: datasetName,
        split,
        examples: n,
        accuracy: result.accuracy,
        loss: result.loss,
        lossName,
        confusion,
      };
      // Both written before either is put in place: a failure leaves the figure and the record of one evaluation.
      writeFilesAtomic(
        [
          { file: files.confusion, data: Buffer.from(confusionMatrixSvg(confusion, { title, classNames: ds.classNames }), 'utf8') },
          { file: files.record, data: Buffer.from(`${JSON.stringify(record, null, 2)}\n`, 'utf8') },
        ],
        { who: 'evaluate' },
      );
      write(`  figure    ${files.confusion}\n  record    ${files.record}\n`);
    }
    return 0;
  });
}
