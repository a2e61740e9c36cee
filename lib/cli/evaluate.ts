/**
 * `neurone evaluate --model m.safetensors --dataset NAME [--split test]`: accuracy, loss and
 * confusion matrix of a saved model on a dataset, with the figure and a JSON record in --out.
 */
import * as path from 'path';
import { evaluate } from '../train';
import * as data from '../data';
import { ensureDir } from '../data/paths';
import { writeFilesAtomic } from '../data/read';
import { confusionMatrixSvg } from '../report/figures';
import { FlagSpec, InputError, asInput, checkOutputFolder, flagValue, helpText, intFlag, parseArgs, runCommand } from './command';
import { commandBatchSize, loadModel } from './predict';
import { datasetSampleShape, headLoss, lastLeaf } from './model-io';
import { Module, Sequential } from '../nn/module';
import { StableSigmoid } from '../nn/activations';
import { BCELoss, Loss } from '../losses';
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
    'Sigmoid, else of the logistic of its logit, class 1 above 0.5.',
    '',
    'Examples:',
    '  neurone evaluate --model digits.safetensors --dataset usps',
    '  neurone evaluate --model fashion.safetensors --dataset fashion --split train --out eval/',
  ]);
}

/**
 * How a model of one output is evaluated on two classes, as predict reads it (and PyTorch's
 * BCELoss / BCEWithLogitsLoss): its output is P(class 1) after a sigmoid, else a logit, whose
 * logistic is taken here; the loss is BCE on the 0/1 labels, class 1 above 0.5.
 */
function binaryHead(net: Module): { model: Module; loss: Loss; oneHot: false; measure: string } {
  const last = lastLeaf(net)?.config().type;
  if (last === 'Softmax' || last === 'LogSoftmax')
    throw new InputError(`evaluate: the model ends in ${last} over one output, which says nothing: its probability is 1 for every input`);
  const probabilities = last === 'Sigmoid' || last === 'StableSigmoid';
  return {
    model: probabilities ? net : new Sequential(net, new StableSigmoid()),
    loss: new BCELoss(),
    oneHot: false,
    measure: probabilities ? 'BCE' : 'BCE of the logistic of its logit',
  };
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
    // One output on two classes is a binary classifier, as predict reads it (see binaryHead).
    const binary = outShape.length === 2 && outShape[1] === 1 && ds.numClasses === 2;
    if (!binary && (outShape.length !== 2 || outShape[1] !== ds.numClasses)) {
      throw new InputError(
        `evaluate: the model outputs (batch, ${outShape.slice(1).join(', ')}) but ${datasetName} has ${ds.numClasses} classes`,
      );
    }
    const { model, loss, oneHot, measure: lossName } = binary ? binaryHead(net) : { model: net, ...headLoss(net) };
    const y = binary
      ? { shape: [n, 1], data: Float32Array.from(ds.labels) }
      : oneHot
        ? data.oneHot(ds.labels, ds.numClasses)
        : { shape: [n], data: Float32Array.from(ds.labels) };
    const batchSize = commandBatchSize(net, [1, ...shape.slice(1)], 'evaluate');
    const result = evaluate(model, loss, { shape, data: ds.x.data }, y, { batchSize });
    const confusion = result.confusion ?? [];
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
