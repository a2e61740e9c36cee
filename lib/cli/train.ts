/**
 * The `train` command's run: the checks of --out and --save, the data and the model, the
 * training (resumable after each epoch), the model saved, then the figures and the metrics. Its
 * options are parsed in train-args.ts.
 */
import * as crypto from 'crypto';
import * as fs from 'fs';
import * as path from 'path';
import { Tensor } from '../tensor';
import { MAX_SEED, seed as seedGlobal } from '../random';
import { setBackend, setThreads, getBackend, getThreads, kernelPath } from '../backend';
import { SGD, Adam } from '../optim';
import { fit, evaluate, NonFiniteError, History, Evaluation } from '../train';
import { Logger, EpochRecord } from '../logger';
import { TerminalProgress, drawsInPlace, formatLoss } from '../progress';
import * as data from '../data';
import { Dataset } from '../data';
import { PLATEAU, ReplayedRates, plateauScheduler, trainSubset, trainingPlan } from './recipes';
import { WeightAverage, updateBatchNorm } from '../averaging';
import {
  ModelDescription,
  ModelError,
  buildModel,
  checkModelForInput,
  followShapes,
  defaultPreset,
  findPreset,
  presetDescription,
  readModelFile,
} from './presets';
import { confusionMatrixSvg, writeFigure } from '../report/figures';
import { ensureDir, missingFolders, removeEmptyFolders, removeEmptyFoldersOnExit } from '../data/paths';
import { lockFolder, onFatalSignal, removeDeadWritersTemps, sameFile } from '../data/read';
import { save } from '../serialize';
import { CheckpointError } from '../checkpoint';
import { RESUME_FOLDER, ResumeFolder, Stage } from './train-resume';
import { probeWritable, realPath } from './command';
import { datasetSampleShape, headLoss, viewSamples } from './model-io';
import { firstLine, percent, plural } from '../messages';
import { DatasetName, loadTrainTest } from './datasets';
import { TrainOptions, UsageError, changedFlag, resultFlags } from './train-args';

/** The files a run writes in --out. */
interface OutFiles {
  curves: string;
  confusion: string;
  metrics: string;
}

/** Where a resumed run's engine differs from the one it started on: the note, and what run.json then records. */
interface EngineChange {
  note: string;
  enginesSoFar: string;
}

/** Everything the run's phases share once the data and the model are ready. */
interface Prepared {
  modelName: string;
  description: ModelDescription;
  net: ReturnType<typeof buildModel>;
  /** (1, ...sample shape), as the model takes each example. */
  inShape: number[];
  fullTrain: Dataset;
  test: Dataset;
  trainSet: Dataset;
  valSet: Dataset;
  testSet: Dataset;
  /** A dataset's examples in the model's sample shape. */
  view: (ds: Dataset) => Dataset;
  head: ReturnType<typeof headLoss>;
  plan: ReturnType<typeof trainingPlan>;
  adam: boolean;
  /** The recipe as the run follows it: with what the flags changed, or its measured result. */
  recipeText: string;
}

/** One stage's outcome (see runStage). */
interface StageResult {
  history: History;
  /** The rate of each epoch, as fit set it before the epoch. */
  lrs: number[];
  logger: Logger;
  optimizer: ReturnType<SGD['toJSON']>;
  /** The wall time of the epochs trained before --resume, from their records in the checkpoint (0 without). */
  secondsBefore: number;
}

/**
 * The `train` command. Returns the exit code. A run that fails before writing anything (bad
 * arguments, a divergence) leaves no `--out` folder behind that it made itself.
 */
export async function train(opts: TrainOptions, out: (line: string) => void = (l) => process.stdout.write(`${l}\n`)): Promise<number> {
  const made = missingFolders(opts.out);
  const exitCleanup = removeEmptyFoldersOnExit(made);
  // Ctrl-C or SIGTERM (timeout, docker stop) kills without running either: the lock and the
  // folders go first, then the signal ends the process as it would have.
  const signalCleanup = onFatalSignal(() => removeEmptyFolders(made));
  let code: number | undefined;
  try {
    code = await trainRun(opts, out);
    return code;
  } finally {
    signalCleanup();
    exitCleanup();
    if (code !== 0) removeEmptyFolders(made);
  }
}

async function trainRun(opts: TrainOptions, out: (line: string) => void): Promise<number> {
  const t0 = performance.now();
  try {
    if (opts.backend) setBackend(opts.backend);
    if (opts.threads) setThreads(opts.threads);
    // Chooses the backend now (NEURONE_BACKEND included), so a bad setting is an error before any
    // work rather than a failure in the first kernel call.
    getBackend();
  } catch (e) {
    throw new UsageError(firstLine((e as Error).message));
  }
  // The js kernels run on the calling thread alone; accepting --threads 4 there would promise four.
  if (opts.threads !== undefined && opts.threads > 1 && getBackend() === 'js') {
    throw new UsageError(`--threads ${opts.threads}: the js backend runs on one thread; drop --threads or use --backend native`);
  }
  // Every place the run will write is checked before the data is loaded and the network trained:
  // finding out at the end that --save is a folder would throw the training away.
  const outFiles = {
    curves: path.join(opts.out, 'training.svg'),
    confusion: path.join(opts.out, 'confusion.svg'),
    metrics: path.join(opts.out, 'metrics.json'),
  };
  try {
    ensureDir(opts.out);
    probeWritable(opts.out);
  } catch (e) {
    throw new UsageError(`--out: cannot write to ${opts.out}: ${firstLine((e as Error).message)}`);
  }
  // Held until the run ends: a second run given the same --out would otherwise pass the check
  // below (nothing there yet) and replace this run's files when it ends, or mix them with its own.
  const unlock = lockFolder(opts.out, 'train run', (message) => new UsageError(message));
  const signalUnlock = onFatalSignal(unlock);
  try {
    return await trainLocked(opts, out, t0, outFiles);
  } finally {
    signalUnlock();
    unlock();
  }
}

async function trainLocked(opts: TrainOptions, out: (line: string) => void, t0: number, outFiles: OutFiles): Promise<number> {
  const resume = new ResumeFolder(opts.out);
  const engine = checkRunFolder(opts, resume, outFiles, out);
  const run = prepareRun(opts);
  if (!opts.quiet) describeRun(opts, run, out);
  const trained = await trainStages(opts, run, resume, engine, out);
  if (typeof trained === 'number') return trained;
  const { first, final, finalTrainSet, retrainedEpochs, valEval, secondsBefore } = trained;
  const trainEval = evaluateOn(run, final, finalTrainSet);
  const testEval = evaluateOn(run, final, run.testSet);
  const seconds = (performance.now() - t0) / 1000;

  // The model first: it is what the run cost, and a full disk while writing the figures must not
  // take it with them. A save that fails here (the target was checked before training) is a
  // failure of the run, exit code 1.
  const saved = opts.save !== undefined ? saveModel(opts, opts.save, final, finalTrainSet, resume) : undefined;
  if (typeof saved === 'number') return saved;
  // Trained and saved: nothing left to continue.
  resume.remove();

  const history = first.history;
  const epochsRun = history.epochs.length;
  const swaEpochs = run.plan.swa;
  const metrics = {
    dataset: opts.dataset,
    model: run.modelName,
    description: run.description,
    optimizer: first.optimizer,
    batchSize: opts.batchSize,
    seed: opts.seed,
    backend: getBackend(),
    recipe: run.plan.recipe.name,
    epochs: epochsRun,
    bestEpoch: history.bestEpoch,
    stoppedEarly: history.stoppedEarly,
    averagedEpochs: swaEpochs,
    retrainedEpochs,
    trainAccuracy: trainEval.accuracy,
    validationAccuracy: valEval.accuracy,
    testAccuracy: testEval.accuracy,
    testConfusion: testEval.confusion,
    seconds,
    // A resumed run's seconds are its own process's; the epochs trained before the stop took these.
    ...(opts.resume ? { secondsBeforeResume: secondsBefore } : {}),
    history: history.epochs as EpochRecord[],
  };
  // Each output is tried even when one fails (the metrics matter more than a picture); failures
  // are reported after the summary and make the exit code 1.
  const failed: string[] = [];
  const written = new Set<string>();
  const tryWrite = (file: string, content: () => string): void => {
    try {
      writeFigure(file, content());
      written.add(file);
    } catch (e) {
      failed.push(firstLine((e as Error).message));
    }
  };
  const { curves, confusion, metrics: metricsFile } = outFiles;
  tryWrite(curves, () => first.logger.svg());
  tryWrite(confusion, () =>
    confusionMatrixSvg(testEval.confusion ?? [], { title: `${run.modelName} on ${opts.dataset} test`, classNames: run.test.classNames }),
  );
  tryWrite(metricsFile, () => `${JSON.stringify(metrics, null, 2)}\n`);

  const kept =
    swaEpochs > 0
      ? `weights averaged over epochs ${epochsRun - swaEpochs + 1}–${epochsRun}`
      : `weights of epoch ${history.bestEpoch ?? epochsRun} kept`;
  out(`done: ${plural(epochsRun, 'epoch')}${history.stoppedEarly ? ' (early stopping)' : ''}, ${kept}`);
  if (retrainedEpochs !== undefined) out(`  then a fresh network trained on all the training data for ${plural(retrainedEpochs, 'epoch')}`);
  const trainWhat = retrainedEpochs !== undefined ? 'all training data' : 'training split';
  out(`  train accuracy       ${percent(trainEval.accuracy)}  (loss ${formatLoss(trainEval.loss)}, ${trainWhat})`);
  out(
    `  validation accuracy  ${percent(valEval.accuracy)}  (loss ${formatLoss(valEval.loss)}${retrainedEpochs !== undefined ? ', first network' : ''})`,
  );
  out(
    `  test accuracy        ${percent(testEval.accuracy)}  (loss ${formatLoss(testEval.loss)}, ${plural(run.testSet.labels.length, 'example')} never used in training)`,
  );
  out(`  ${run.recipeText}`);
  if (run.plan.recipe.name !== 'headline' && opts.dataset === 'usps')
    out("  the README's headline (95.02 % over 10 seeds): neurone train --recipe headline");
  out(
    `  wall time            ${seconds.toFixed(1)} s${opts.resume ? ` (after --resume; the epochs trained before it took ${secondsBefore.toFixed(1)} s)` : ''}`,
  );
  if (written.has(curves)) out(`  curves               ${curves}`);
  if (written.has(confusion)) out(`  confusion matrix     ${confusion}`);
  if (written.has(metricsFile)) out(`  metrics              ${metricsFile}`);
  const savedTo = saved?.file;
  if (savedTo !== undefined) out(`  model                ${savedTo}`);
  for (const f of failed) {
    process.stderr.write(`neurone: ${f}${savedTo ? ` (the model is saved in ${savedTo})` : ''}\n`);
  }
  if (saved?.raced) process.stderr.write(`neurone: ${saved.raced}\n`);
  return failed.length > 0 || saved?.raced ? 1 : 0;
}

/**
 * What --out holds, checked before anything is loaded: a stopped run to continue (--resume, with
 * the same result flags) or not to replace (without --force), an earlier run's files, the temps
 * of a writer that died; and the --save target. Returns the note for a run resumed on another
 * engine.
 */
function checkRunFolder(
  opts: TrainOptions,
  resume: ResumeFolder,
  outFiles: OutFiles,
  out: (line: string) => void,
): EngineChange | undefined {
  let engine: EngineChange | undefined;
  if (opts.resume) {
    if (!resume.exists())
      throw new UsageError(`--resume: ${opts.out} holds no stopped run to continue (no ${path.join(resume.dir, 'run.json')})`);
    let started: { flags: Record<string, unknown>; engine: string };
    try {
      started = resume.run();
    } catch (e) {
      throw resumeRefused(e);
    }
    const changed = changedFlag(started.flags, resultFlags(opts));
    if (changed) {
      throw new UsageError(
        `--resume: the run in ${opts.out} was started with ${changed.then}, not ${changed.now}; give its flags again, or start over with --force, without --resume`,
      );
    }
    if (started.engine !== engineName()) {
      engine = {
        note:
          `neurone: note: the run started on ${started.engine} and goes on on ${engineName()}, which sums in another order ` +
          '(every layer on another kernel path or backend, a convolution on another thread count): the result may differ in its last bits from a run never stopped',
        // Stopped again and resumed where it started, the run has still been on both.
        enginesSoFar: `${started.engine}, then ${engineName()}`,
      };
    }
  } else if (resume.exists() && !opts.force) {
    throw new UsageError(
      `--out: ${opts.out} holds a stopped run (${resume.dir}): continue it with the same flags and --resume, or start over with --force`,
    );
  }
  // A resumed run replaces what the run it continues would have replaced.
  const earlier = opts.resume ? [] : Object.values(outFiles).filter((f) => fs.existsSync(f));
  if (earlier.length > 0 && !opts.force) {
    throw new UsageError(
      `--out: ${opts.out} already holds ${earlier.map((f) => path.basename(f)).join(', ')} from an earlier run; ` +
        'pass --force to replace them, or another --out folder',
    );
  }
  if (earlier.length > 0 && !opts.quiet)
    out(`neurone: replacing ${earlier.map((f) => path.basename(f)).join(', ')} in ${opts.out} (--force)`);
  // Under the lock no other train run writes here: what a killed one was writing is removed now,
  // not a minute later. In --out only the files a run writes (other programs may share the
  // folder); its resume folder is the run's alone.
  const savedHere = opts.save !== undefined && realPath(path.dirname(path.resolve(opts.save))) === realPath(opts.out);
  removeDeadWritersTemps(
    opts.out,
    [...Object.values(outFiles), ...(savedHere ? [opts.save as string] : [])].map((f) => path.basename(f)),
  );
  if (fs.existsSync(resume.dir)) removeDeadWritersTemps(resume.dir);
  if (opts.save !== undefined) {
    // The model file read, when --model names one: saving over it would replace the input.
    const modelFile = opts.model !== undefined && !findPreset(opts.model) && fs.existsSync(opts.model) ? [opts.model] : [];
    checkSaveTarget(opts.save, Object.values(outFiles), modelFile, opts.dataDir, opts.force === true);
    // By real paths (a link to --out, `..name` files): the resume folder is removed at the end.
    const inResume = path.relative(
      path.join(realPath(opts.out), RESUME_FOLDER),
      path.join(realPath(path.dirname(path.resolve(opts.save))), path.basename(opts.save)),
    );
    if (inResume === '' || (inResume !== '..' && !inResume.startsWith(`..${path.sep}`) && !path.isAbsolute(inResume)))
      throw new UsageError(`--save: ${opts.save} is in ${resume.dir}, which the run removes when it ends`);
  }
  return engine;
}

/**
 * The data and the model, checked against each other before any training: the model takes the
 * examples' shape and outputs one score per class, and --save has the room for it. Then the
 * splits, the loss and the plan the recipe and the flags make.
 */
function prepareRun(opts: TrainOptions): Prepared {
  const loaded = loadDataset(opts.dataset, opts.seed, opts.dataDir);
  let fullTrain: data.Dataset;
  try {
    fullTrain = trainSubset(loaded.train, opts.trainSize, opts.seed, '--train-size', opts.dataset);
  } catch (e) {
    throw new UsageError(firstLine(e));
  }
  const inputSize = data.numFeatures(fullTrain);
  const { name: modelName, description } = resolveModel(opts, { inputSize, numClasses: fullTrain.numClasses });
  seedGlobal(opts.seed);
  const net = buildModel(description);
  let inShape: number[];
  try {
    // As a flat row, a sequence or an image, whichever the model takes (from its shapes alone).
    inShape = [1, ...datasetSampleShape(net, fullTrain.x.shape, opts.dataset)];
  } catch (e) {
    throw new UsageError(`model ${modelName} does not fit: ${firstLine((e as Error).message)}`);
  }
  let outShape: number[];
  try {
    // The shapes first, with nothing allocated: a lazily sized layer too large, or a step's activations past the bound, stop here.
    checkModelForInput(net, inShape, Math.min(opts.batchSize, fullTrain.labels.length));
    outShape = net.outputShape(inShape);
  } catch (e) {
    throw new UsageError(
      `model ${modelName} does not fit ${opts.dataset} (input (batch, ${inShape.slice(1).join(', ')})): ${firstLine((e as Error).message)}`,
    );
  }
  if (outShape.length !== 2 || outShape[1] !== fullTrain.numClasses) {
    throw new UsageError(
      `model ${modelName} outputs (batch, ${outShape.slice(1).join(', ')}) but ${opts.dataset} has ${fullTrain.numClasses} classes`,
    );
  }
  if (opts.save !== undefined) checkSaveSpace(opts.save, net, inShape);

  let split: data.SplitResult;
  try {
    split = data.trainTestSplit(fullTrain, { testFraction: opts.valFraction, seed: opts.seed, stratify: true });
  } catch (e) {
    throw new UsageError(`--val-fraction: ${firstLine((e as Error).message)}`);
  }
  const view = (ds: Dataset): Dataset => viewSamples(ds, inShape.slice(1));
  const plan = trainingPlan(opts);
  // The recipe's measured result is quoted only for what it was measured on.
  const measured = opts.dataset === 'usps' && modelName === 'seed-cnn' && opts.batchSize === 32;
  const note = plan.changed.length > 0 ? `, changed by ${plan.changed.join(', ')}` : measured ? `: ${plan.recipe.result}` : '';
  return {
    modelName,
    description,
    net,
    inShape,
    fullTrain,
    test: loaded.test,
    trainSet: view(split.train),
    valSet: view(split.test),
    testSet: view(loaded.test),
    view,
    // The command's learning rates and weight decays are the course's, for gradients summed over the
    // batch (reports/README.md measured them so): the losses say so, whatever the library's default.
    head: headLoss(net, 'sum'),
    plan,
    adam: opts.optimizer === 'adam',
    recipeText: `recipe ${plan.recipe.name}${note}`,
  };
}

/** The lines that say what the run is about to do. */
function describeRun(opts: TrainOptions, run: Prepared, out: (line: string) => void): void {
  const { net, plan, head, adam } = run;
  const { epochs, patience, retrain, lr, weightDecay } = plan;
  const params = net.parameters().reduce((a, p) => a + p.value.data.length, 0);
  const lossName = `${head.className} (${head.oneHot ? 'one-hot, ' : ''}summed over the batch)`;
  out(
    `neurone: ${run.modelName} on ${opts.dataset}: ${run.trainSet.labels.length} train / ${run.valSet.labels.length} validation (stratified ${opts.valFraction}) / ${run.testSet.labels.length} test`,
  );
  out(`  ${run.recipeText}`);
  if (plan.recipe.name !== 'headline' && opts.dataset === 'usps')
    out("  the README's headline (95.02 % over 10 seeds): neurone train --recipe headline");
  out(`  model ${net.toString()}, ${plural(params, 'parameter')}, input (batch, ${run.inShape.slice(1).join(', ')})`);
  out(
    `  ${lossName}, ${adam ? `Adam lr ${lr}` : `SGD lr ${lr} momentum ${opts.momentum}`}${weightDecay ? ` weight decay ${weightDecay}` : ''}` +
      `${plan.schedule === 'plateau' ? ` (lr × ${PLATEAU.factor} after ${plural(PLATEAU.patience, 'epoch')} without progress)` : ''}, batch ${opts.batchSize}, ` +
      (patience > 0
        ? `up to ${plural(epochs, 'epoch')}, early stopping patience ${patience} on validation loss`
        : `${plural(epochs, 'epoch')}, no early stopping`) +
      (plan.swa > 0 ? `, weights averaged over the last ${plural(plan.swa, 'epoch')}` : '') +
      (retrain ? ', then retrained on all the training data' : '') +
      `, ${getBackend()} backend (${plural(getThreads(), 'thread')}), seed ${opts.seed}`,
  );
}

/**
 * The training: the first network, with validation, then (a recipe that retrains) a fresh one on
 * all the training data. Each epoch leaves its state in the resume folder. Ctrl-C, a kill or an
 * exit (stdout gone) after an epoch keeps that state for --resume, which a signal's line says;
 * before the first, there is nothing to continue: the folder goes, and with it an --out the run
 * made. Returns the exit code of a run that diverged.
 */
async function trainStages(
  opts: TrainOptions,
  run: Prepared,
  resume: ResumeFolder,
  engine: EngineChange | undefined,
  out: (line: string) => void,
): Promise<
  | {
      first: StageResult;
      final: Prepared['net'];
      finalTrainSet: Dataset;
      retrainedEpochs?: number;
      valEval: Evaluation;
      secondsBefore: number;
    }
  | number
> {
  const bar = drawsInPlace(process.stdout) && !opts.quiet ? new TerminalProgress({ unit: 'samples', rate: true }) : null;
  if (!opts.resume) resume.start(resultFlags(opts), engineName());
  if (engine) {
    resume.setEngine(engine.enginesSoFar);
    process.stderr.write(`${engine.note}\n`);
  }
  /** Removes the state when no epoch has finished; says whether it did. */
  const abandoned = (): boolean => {
    if (resume.trained()) return false;
    resume.remove();
    return true;
  };
  const stopNote = onFatalSignal(() => {
    if (abandoned()) return;
    bar?.stop(); // the line must not land on the bar's, whose line wrapping is off
    process.stderr.write(`neurone: stopped; the same command with --resume continues after the last finished epoch (${resume.dir})\n`);
  });
  const onExit = (): void => void abandoned();
  process.prependListener('exit', onExit);
  try {
    // A stage that had finished resumes from its last checkpoint, with nothing left to train.
    const context: StageContext = { opts, run, resume, bar, out };
    const first = await runStage(context, { index: 1, model: run.net, trainDs: run.trainSet, valDs: run.valSet, epochs: run.plan.epochs });
    const valEval = evaluateOn(run, run.net, run.valSet);
    if (!run.plan.retrain) return { first, final: run.net, finalTrainSet: run.trainSet, valEval, secondsBefore: first.secondsBefore };
    // A fresh network on all the training data (the validation split included) for the epochs
    // the first run chose, at the rates it used: what the headline measured on USPS_test.
    const retrainedEpochs = first.history.bestEpoch ?? first.history.epochs.length;
    const finalTrainSet = run.view(run.fullTrain);
    if (!opts.quiet) {
      out(
        `retraining a fresh network on all ${finalTrainSet.labels.length} training examples for ${plural(retrainedEpochs, 'epoch')} (validation split included)`,
      );
    }
    // Another stream than the first training's, for any --seed up to MAX_SEED.
    seedGlobal((opts.seed + 10000) % (MAX_SEED + 1));
    const final = buildModel(run.description);
    const second = await runStage(context, {
      index: 2,
      model: final,
      trainDs: finalTrainSet,
      valDs: null,
      epochs: retrainedEpochs,
      lrs: first.lrs.slice(0, retrainedEpochs),
    });
    return { first, final, finalTrainSet, retrainedEpochs, valEval, secondsBefore: first.secondsBefore + second.secondsBefore };
  } catch (e) {
    if (e instanceof NonFiniteError) {
      // A resume would diverge the same way.
      resume.remove();
      process.stderr.write(`neurone: ${divergedLine(e, run.plan.lr, run.adam, opts.batchSize)}\n`);
      return 1;
    }
    throw e;
  } finally {
    stopNote();
    process.removeListener('exit', onExit);
    // A run that failed before its first epoch ended leaves nothing to continue.
    abandoned();
  }
}

/** What every stage of a run shares: the flags, the prepared run, its resume folder and outputs. */
interface StageContext {
  opts: TrainOptions;
  run: Prepared;
  resume: ResumeFolder;
  bar: TerminalProgress | null;
  out: (line: string) => void;
}

/** One stage: the first network (1) or the retraining (2). */
interface StagePlan {
  index: Stage;
  model: Prepared['net'];
  trainDs: Dataset;
  /** The set the schedule and early stopping watch (none for the retraining). */
  valDs: Dataset | null;
  epochs: number;
  /** The rate of each epoch, replayed (the retraining replays the first network's). */
  lrs?: number[];
}

/**
 * One training stage of `model` on `trainDs`: with `valDs`, the schedule and early stopping watch
 * it; with `lrs`, epoch e runs at lrs[e - 1]. Each epoch leaves fit's checkpoint (and the weight
 * average) in the resume folder; with --resume, the stage goes on from its checkpoint there.
 */
async function runStage(context: StageContext, stage: StagePlan): Promise<StageResult> {
  const { opts, run, resume, bar, out } = context;
  const { index, model, trainDs, valDs, lrs } = stage;
  const stageEpochs = stage.epochs;
  const { lr, weightDecay, patience, swa } = run.plan;
  const { loss, oneHot } = run.head;
  const optimizer: SGD | Adam = run.adam ? new Adam({ lr, weightDecay }) : new SGD({ lr, momentum: opts.momentum, weightDecay });
  // Fit sets each epoch's rate: the plateau schedule watching the validation loss, or the first run's rates replayed.
  const scheduler = lrs
    ? new ReplayedRates(optimizer, lrs)
    : valDs && run.plan.schedule === 'plateau'
      ? plateauScheduler(optimizer)
      : undefined;
  const logger = new Logger({ verbose: opts.quiet ? 0 : 1, write: out });
  const average = swa > 0 ? new WeightAverage(model.parameters()) : null;
  const averageFrom = stageEpochs - swa + 1;
  const checkpoint = resume.checkpoint(index);
  let resumedAfter: number | undefined;
  if (opts.resume) {
    try {
      resumedAfter = resume.checkpointEpoch(index);
      if (average && resumedAfter !== undefined && resumedAfter >= averageFrom) resume.readAverage(index, resumedAfter, average);
    } catch (e) {
      throw resumeRefused(e);
    }
  }
  const n = trainDs.labels.length;
  let lossSum = 0;
  let seen = 0;
  const onEpochEnd = (r: EpochRecord): void => {
    if (average && r.epoch >= averageFrom) {
      average.update();
      resume.writeAverage(index, r.epoch, average);
    }
  };
  try {
    const history = await fit(
      model,
      loss,
      optimizer,
      { x: trainDs.x, y: targets(trainDs, oneHot) },
      {
        batchSize: opts.batchSize,
        epochs: stageEpochs,
        validation: valDs ? { x: valDs.x, y: targets(valDs, oneHot) } : undefined,
        earlyStopping: valDs && patience > 0 ? { patience, monitor: 'valLoss', restoreBest: true } : undefined,
        scheduler,
        logger,
        onEpochEnd,
        checkpoint: { path: checkpoint },
        resumeFrom: resumedAfter !== undefined ? checkpoint : undefined,
        onBatchEnd: bar
          ? (info) => {
              const done = Math.min(n, info.batch * opts.batchSize);
              if (info.batch === 1) {
                lossSum = 0;
                seen = 0;
                bar.start(n, 0, info.epoch, stageEpochs);
              }
              const size = done - seen;
              lossSum += info.loss * size;
              seen = done;
              bar.update(done, lossSum / done);
              if (info.batch === info.batches) bar.stop();
            }
          : undefined,
      },
    );
    if (average && average.count > 0) {
      average.apply();
      // Batch norm's running estimates were measured with the last weights: measured again for the average.
      updateBatchNorm(model, trainDs.x);
    }
    // The epoch's rate, as fit set it before the epoch (before the plateau schedule lowers it for the next).
    const rates = history.epochs.map((r) => r.lr as number);
    const secondsBefore = history.epochs.reduce((t, r) => t + (r.epoch <= (resumedAfter ?? 0) ? r.seconds : 0), 0);
    return { history, lrs: rates, logger, optimizer: optimizer.toJSON(), secondsBefore };
  } catch (e) {
    if (e instanceof CheckpointError) throw resumeRefused(e);
    // A state that could not be written: the epoch before's is whole (atomic writes), and the
    // run can go on from there.
    if (e instanceof Error && /cannot write /.test(e.message) && e.message.includes(resume.dir) && resume.trained())
      e.message += `; once it can be written, the same command with --resume continues after the last epoch kept`;
    throw e;
  } finally {
    bar?.stop();
  }
}

function evaluateOn(run: Prepared, model: Prepared['net'], ds: Dataset): Evaluation {
  return evaluate(model, run.head.loss, ds.x, targets(ds, run.head.oneHot));
}

/**
 * Saves the trained model to `file`, which was checked before training; a file there now was saved
 * meanwhile, by another run (whose --out lock is not this one's): not replaced without --force, as
 * it would not have been then, even when it appears while this model is being written (the
 * save's overwrite: false). This run's model then goes beside it, and the run ends with exit code
 * 1 saying where (`raced`). Returns exit code 1 when the model could not be saved: the resume
 * folder keeps it for `--resume`, which saves without training again.
 */
function saveModel(
  opts: TrainOptions,
  file: string,
  model: Prepared['net'],
  trainedOn: Dataset,
  resume: ResumeFolder,
): { file: string; raced?: string } | number {
  const saveTo = (target: string): void => save(model, target, { inputShape: trainedOn.x.shape.slice(1), overwrite: opts.force === true }); // the sample shape, for export
  let target = file;
  try {
    try {
      saveTo(target);
      return { file: target };
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== 'EEXIST') throw e;
      target = besideFile(file);
      saveTo(target);
      return {
        file: target,
        raced: `--save: ${file} was created while this run trained (by another run?); not replaced: this run's model is in ${target}`,
      };
    }
  } catch (e) {
    const msg = firstLine((e as Error).message);
    process.stderr.write(
      `neurone: cannot save the model${msg.includes(target) ? '' : ` to ${target}`}: ${msg}; ` +
        `the same command with --resume saves it without training again (${resume.dir})\n`,
    );
    return 1;
  }
}

/** Train and test sets of a named dataset; synthetic sets use `seed` and `seed + 1`. */
function loadDataset(name: DatasetName, seedValue: number, dir?: string): { train: Dataset; test: Dataset } {
  try {
    return loadTrainTest(name, seedValue, dir);
  } catch (e) {
    throw new UsageError(`cannot load ${name}: ${firstLine(e)}`);
  }
}

function targets(ds: Dataset, oneHot: boolean): Tensor {
  return oneHot ? data.oneHot(ds.labels, ds.numClasses) : { shape: [ds.labels.length], data: Float32Array.from(ds.labels) };
}

/** Builds the model named by --model (preset or file) for this data; UsageError when it cannot. */
function resolveModel(
  opts: TrainOptions,
  input: { inputSize: number; numClasses: number },
): { name: string; description: ModelDescription } {
  const name = opts.model ?? defaultPreset(opts.dataset);
  try {
    if (findPreset(name)) return { name, description: presetDescription(name, input) };
    if (name.endsWith('.json') || name.includes('/') || name.includes(path.sep) || fs.existsSync(name)) {
      return { name: path.basename(name), description: readModelFile(name) };
    }
    return { name, description: presetDescription(name, input) }; // throws "unknown model preset"
  } catch (e) {
    if (e instanceof ModelError) throw new UsageError(e.message);
    throw e;
  }
}

/**
 * The command's line for a training that diverged: fit's account of where it stopped, with the
 * advice fit gives in code (`{ allowNonFinite: true }`, the loss's reduction) replaced by the flag
 * that helps. The command sums each batch's gradient, as the course did: with SGD, a rate brought
 * from PyTorch (which averages) is `batchSize` times too large here.
 */
export function divergedLine(e: NonFiniteError, lr: number, adam: boolean, batchSize: number): string {
  const where = firstLine(e)
    .replace(/^fit: /, '')
    .replace(/\s*\((?:[^()]|\([^()]*\))*allowNonFinite(?:[^()]|\([^()]*\))*\)\s*$/, '');
  const rate = (v: number): string => String(Number(v.toPrecision(3)));
  const summed =
    !adam && batchSize > 1
      ? `: the command sums each batch's gradient, as the course did, so --lr ${rate(lr)} at --batch-size ${batchSize} steps as far as PyTorch's lr ${rate(lr * batchSize)} on the batch mean`
      : '';
  // With summed gradients, the rate a PyTorch user meant by --lr (lr on the batch mean): a tenth
  // of a rate 32 times too large diverged again. Below a batch of 10 that would cut less than a tenth.
  const next =
    summed && batchSize >= 10 ? `--lr ${rate(lr / batchSize)} (PyTorch's lr ${rate(lr)} on the batch mean)` : `--lr ${rate(lr / 10)}`;
  return `training diverged: ${where}. Lower --lr (${rate(lr)}${summed}), e.g. ${next}`;
}

/**
 * A name beside `file` that nothing holds: `model.<pid>-<random>.safetensors` (containers share
 * small pids, so the pid alone could name another run's).
 */
function besideFile(file: string): string {
  const ext = path.extname(file);
  const stem = file.slice(0, file.length - ext.length);
  for (;;) {
    const name = `${stem}.${process.pid}-${crypto.randomBytes(3).toString('hex')}${ext}`;
    if (!fs.existsSync(name)) return name;
  }
}

/** A stopped run's state that cannot be continued: the reason, and the way out. */
function resumeRefused(reason: unknown): UsageError {
  return new UsageError(`--resume: ${firstLine(reason)}; start over with --force, without --resume`);
}

/** What the kernels run on, as a note names it: `native avx512, 2 threads`, `js`. */
function engineName(): string {
  if (getBackend() === 'js') return 'js';
  return `native ${kernelPath()}, ${plural(getThreads(), 'thread')}`;
}

/** Extensions of other frameworks' model files, which --save would fill with safetensors. */
const OTHER_MODEL_FORMATS: Record<string, string> = {
  '.onnx': 'an ONNX',
  '.pt': 'a PyTorch',
  '.pth': 'a PyTorch',
  '.pb': 'a TensorFlow',
  '.h5': 'a Keras',
  '.keras': 'a Keras',
  '.tflite': 'a TensorFlow Lite',
};

/**
 * Checks `--save FILE` before training: its folder exists and takes new files, and FILE is not a
 * folder, nor a device or pipe (saving replaces the file), nor one of the files the run writes in
 * --out, nor a file that exists (unless `force`: as --out's files), nor named for another
 * framework's format (--save writes safetensors whatever the name).
 */
function checkSaveTarget(
  file: string,
  outFiles: readonly string[],
  inputs: readonly string[],
  dataDir: string | undefined,
  force: boolean,
): void {
  // path.resolve drops a trailing slash or `/.`: `--save new/` would write a file named `new`.
  const last = file.split(process.platform === 'win32' ? /[\\/]/ : '/').pop();
  if (last === '' || last === '.' || last === '..')
    throw new UsageError(`--save: ${file} names a folder; expected a file name (e.g. ${path.join(file, 'model.safetensors')})`);
  const target = path.resolve(file);
  const ext = path.extname(file).toLowerCase();
  const other = OTHER_MODEL_FORMATS[ext];
  if (other !== undefined)
    throw new UsageError(
      `--save: ${file} names ${other} file, but --save writes neurone's safetensors (name it .safetensors); ` +
        `${ext === '.onnx' ? '`neurone export MODEL --onnx FILE`' : '`neurone export MODEL --torch FILE`'} converts a saved model`,
    );
  const dir = path.dirname(target);
  let dirStat: fs.Stats;
  try {
    dirStat = fs.statSync(dir);
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    throw new UsageError(`--save: folder ${dir} ${code === 'ENOENT' ? 'does not exist' : `cannot be read (${code})`}`);
  }
  if (!dirStat.isDirectory()) throw new UsageError(`--save: ${dir} is not a folder`);
  let st: fs.Stats | undefined;
  try {
    st = fs.statSync(target);
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    if (code !== 'ENOENT') throw new UsageError(`--save: cannot inspect ${file} (${code})`);
  }
  if (st?.isDirectory())
    throw new UsageError(`--save: ${file} is a folder; expected a file name, e.g. ${path.join(file, 'model.safetensors')}`);
  if (st && !st.isFile()) throw new UsageError(`--save: ${file} exists and is not a regular file (a device, pipe or socket)`);
  if (outFiles.some((f) => path.resolve(f) === target)) throw new UsageError(`--save: ${file} is one of the files the run writes in --out`);
  // Through links too: the file a link names is what a save would have replaced before.
  const input = inputs.find((f) => realPath(f) === realPath(target) || sameFile(f, target));
  if (input !== undefined) throw new UsageError(`--save: ${file} is the --model file ${input}; saving would overwrite the input`);
  if (dataDir !== undefined) {
    const from = path.relative(realPath(dataDir), realPath(target));
    if (!from.startsWith('..') && !path.isAbsolute(from))
      throw new UsageError(`--save: ${file} is inside --data-dir ${dataDir}, the data the run reads; save it elsewhere`);
  }
  if (st && !force) throw new UsageError(`--save: ${file} already exists; pass --force to replace it, or another file name`);
  try {
    probeWritable(dir);
  } catch (e) {
    throw new UsageError(`--save: ${firstLine((e as Error).message)}`);
  }
}

/**
 * Refuses, before training, a --save whose file system has not the room for the model: the
 * folder's writability was probed with an empty file, which a full disk still takes, and a
 * save that fails after the training loses it. The model's size is its values (4 bytes each),
 * those of the lazily sized layers for `sampleShape` included (not drawn yet), and a header,
 * counted with room to spare.
 */
function checkSaveSpace(file: string, net: ReturnType<typeof buildModel>, sampleShape: readonly number[]): void {
  if (typeof fs.statfsSync !== 'function') return; // Node before 18.15: the save itself says ENOSPC
  const sized = [...net.parameters(), ...net.buffers()].reduce((n, p) => n + p.value.data.length, 0);
  const values = sized + followShapes(net, sampleShape).lazyParameters;
  const needed = 4 * values + 2 ** 20;
  let free: number;
  try {
    const s = fs.statfsSync(path.dirname(path.resolve(file)));
    free = s.bavail * s.bsize;
  } catch {
    return; // a file system that does not say: the save will
  }
  if (free < needed)
    throw new UsageError(
      `--save: the file system of ${path.dirname(path.resolve(file))} has ${formatBytes(free)} free, and the model takes about ${formatBytes(needed)}; free some space or save elsewhere`,
    );
}

function formatBytes(n: number): string {
  return n >= 2 ** 20 ? `${(n / 2 ** 20).toFixed(1)} MiB` : `${Math.ceil(n / 1024)} KiB`;
}
