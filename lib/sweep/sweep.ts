/**
 * `sweep()`: runs every training of a spec, side by side on a worker-thread pool or through a
 * BullMQ queue, writes each run's record atomically under `out/<run-id>/`, and the summary.
 */
import { firstLine, percent } from '../messages';
import * as fs from 'fs';
import * as path from 'path';
import { BackendName } from '../backend';
import { describe } from '../tensor';
import { ensureDir } from '../data/paths';
import { lockFolder, readDataFile, removeDeadWritersTemps, removeOwnTemps, writeFileAtomic, writeFilesAtomic } from '../data/read';
import { buildModel, checkModelForInput } from '../cli/presets';
import { datasetSampleShape } from '../cli/model-io';
import { SpecError, SweepRun, SweepSpec, expandSpec, specHash, validateSpec } from './spec';
import { SharedData, dataKey, loadSharedData, removeCheckpoint, runModel, runModelLabel } from './training';
import { TrainingPool, defaultConcurrency, oversubscribed } from './pool';
import { RunOutcome } from './pool-worker';
import { RunRecord, SummaryRow, checkOutcome, curvesSvg, finalScoresSvg, summarize, summaryCsv, summaryMarkdown } from './summary';
import { checkKnownOptions } from '../options';
import { loadQueue } from './queue-load';

/** Options of {@link sweep}. */
export interface SweepOptions {
  /** Folder of the results: `sweep.json`, one folder per run, `summary.md`, `summary.csv`, figures. */
  out: string;
  /** Continue the sweep already in `out`: finished runs are kept, the others (re)run, interrupted ones from their checkpoint. */
  resume?: boolean;
  /** Trainings at once on this machine (default: its cores). Ignored with `queue`. */
  workers?: number;
  /**
   * A Redis URL (`redis://host:port`): enqueue the runs as BullMQ jobs for `neurone worker`s instead
   * of running them here. Needs the packages bullmq and ioredis beside neurone (optional peer
   * dependencies: `npm install bullmq ioredis`).
   */
  queue?: string;
  /** The BullMQ queue's name (default `neurone`). */
  queueName?: string;
  /**
   * With `queue`: how long, in milliseconds, none of the sweep's jobs may be running while runs
   * remain before `log` gets one line saying so (no worker started, one on another queue name,
   * or the workers gone) with the command that starts a worker (default 30000). The sweep goes
   * on waiting; a new stretch of idleness, after a job ran, is reported again.
   */
  idleWarningMs?: number;
  /** Backend of the workers (default: native when it loads). */
  backend?: BackendName;
  /** Folder of the USPS / MNIST / Fashion-MNIST files (default: the packaged USPS, the download cache). */
  dataDir?: string;
  /** Save each trained model as `out/<run-id>/model.safetensors` (local runs; queue workers use their `--models` folder). */
  saveModels?: boolean;
  /**
   * Gets one line per finished run, and with `queue` what the sweep has to say about Redis and
   * the workers (default: none, and those on stderr).
   * @param line One line of text, without its newline.
   */
  log?: (line: string) => void;
  /**
   * Gets the sweep's status about twice a second.
   * @param status The runs done, failed, running and skipped, the samples per second and the time left.
   */
  onStatus?: (status: SweepStatus) => void;
  /**
   * Stops the sweep when aborted (`neurone sweep` aborts on Ctrl-C): the trainings stop where
   * they are, their half-written files are removed, and the promise rejects with an error named
   * `AbortError`. The finished runs' records stay in `out`; `resume` runs the others, an
   * interrupted one from its last checkpoint. Through a queue, the runs stay queued.
   */
  signal?: AbortSignal;
}

/** Where a sweep stands. */
export interface SweepStatus {
  total: number;
  /** Runs finished before this call (`resume`). */
  skipped: number;
  done: number;
  failed: number;
  running: number;
  /** Training samples per second, summed over the workers, since the sweep started. */
  samplesPerSecond: number;
  /** Seconds left, estimated from the runs finished so far (undefined before the first). */
  etaSeconds?: number;
  elapsedSeconds: number;
}

/** What {@link sweep} returns. */
export interface SweepResult {
  /** Every run's record, in the spec's order. */
  runs: RunRecord[];
  summary: SummaryRow[];
  /** The summary and figure files written. */
  files: { markdown: string; csv: string; curves: string; scores: string };
  status: SweepStatus;
}

/** Something that runs one training: the local pool, or the queue. @internal */
export interface RunExecutor {
  run(
    run: SweepRun,
    data: SharedData | undefined,
    files: { checkpoint?: string; model?: string },
  ): Promise<{ outcome: RunOutcome; worker: string }>;
  /** Training samples processed so far. */
  samples(): number;
  /** Runs started and not finished, when known. */
  running?(): number;
  close(): Promise<void>;
  /** The number of trainings it runs at once (for the status's estimate). */
  readonly concurrency: number;
}

const RESULT_FILE = 'result.json';
const SPEC_FILE = 'sweep.json';

function writeJson(file: string, value: unknown): void {
  writeFileAtomic(file, Buffer.from(`${JSON.stringify(value, null, 2)}\n`));
}

/** The most a sweep's own JSON file (a run's record, the spec) may hold: a long history is ~100 bytes an epoch. */
const MAX_JSON_BYTES = 64 * 2 ** 20;

/**
 * Parses the JSON in `file`, a regular file of at most MAX_JSON_BYTES: a pipe or a device put
 * in its place (a FIFO would block the read for ever, /dev/zero fill memory) is refused
 * before anything is read. Throws with the reason.
 */
function readJsonFile(file: string): unknown {
  return JSON.parse(readDataFile(file, MAX_JSON_BYTES, 'a sweep file').toString('utf8'));
}

/**
 * A finished run's record in `out`, or undefined when there is none, or when it cannot be read
 * or is not a record of this run (the run then runs again; `log` says why when the file exists).
 */
function readRecord(file: string, run: SweepRun, log?: (line: string) => void): RunRecord | undefined {
  if (!fs.existsSync(file)) return undefined;
  let problem: string;
  try {
    const value = readJsonFile(file) as Record<string, unknown> | null;
    const outcome = checkOutcome(value);
    // What the spec decides (id, configuration, axes) comes from the spec, not the file: an edited
    // record could otherwise move its run to another row of the summary, or break the summary.
    // A record of the same id trained with other settings (another spec's run seed=0) is not this run's.
    const sameConfig = JSON.stringify(value?.config) === JSON.stringify(run.config);
    if (typeof outcome !== 'string' && value?.id === run.id && sameConfig) {
      const worker = typeof value.worker === 'string' ? value.worker : 'unknown';
      return { id: run.id, configKey: run.configKey, axes: run.axes, config: run.config, worker, ...outcome };
    }
    problem =
      typeof outcome === 'string'
        ? outcome
        : value?.id !== run.id
          ? `it records run ${JSON.stringify(value?.id)}`
          : 'it was trained with another configuration';
  } catch (e) {
    problem = firstLine(e);
  }
  log?.(`--resume: ${file} is not a result of run ${run.id} (${problem}); running it again`);
  return undefined;
}

/**
 * Removes what stands at a run's record path before the run runs (again): it is not a finished
 * run's record (a failed run's, or something readRecord refused), and the writer refuses to
 * replace a FIFO or a device in its place. A folder is left alone (it may hold someone's files); writing the record then fails,
 * and the run is recorded as failed with that reason.
 */
function removeStaleRecord(file: string): void {
  try {
    if (!fs.lstatSync(file).isDirectory()) fs.rmSync(file, { force: true });
  } catch {
    // Nothing there, or it cannot go: writing the record says why, if it matters.
  }
}

/** Checks that each model of the sweep fits its data (builds it once per pair), before anything runs. */
function preflight(runs: readonly SweepRun[], data: Map<string, SharedData>): void {
  const seen = new Set<string>();
  for (const r of runs) {
    const c = r.config;
    const d = data.get(dataKey(c));
    // As training.ts refuses them, but before any run starts.
    for (const [key, size, part] of [
      ['trainSize', c.trainSize, d?.train],
      ['testSize', c.testSize, d?.test],
    ] as const)
      if (part && size !== undefined && size > part.xShape[0])
        throw new SpecError(
          `run ${r.id}: "${key}" ${size} is more than the ${part.xShape[0]} ${key === 'trainSize' ? 'training' : 'test'} examples of ${c.dataset}`,
        );
    // The validation split as training.ts makes it: of trainSize examples when fewer than the
    // set holds, rounding n · valFraction as trainTestSplit does.
    const n = d ? Math.min(d.train.xShape[0], c.trainSize ?? Infinity) : 0;
    const nVal = Math.round(n * c.valFraction);
    if (d && (nVal === 0 || nVal === n))
      throw new SpecError(
        `run ${r.id}: valFraction ${c.valFraction} of the ${n} training examples of ${c.dataset} leaves the ${nVal === 0 ? 'validation' : 'training'} part empty`,
      );
    // At the largest batch fit makes: the training part's size when the batch size is larger.
    const batch = Math.min(c.batchSize, n - nVal);
    const key = `${dataKey(c)}|${batch}|${JSON.stringify(c.model ?? null)}`;
    if (seen.has(key)) continue;
    seen.add(key);
    if (!d) continue;
    const inputSize = d.train.xShape.slice(1).reduce((a, b) => a * b, 1);
    const numClasses = d.train.numClasses;
    try {
      const { description } = runModel(c, inputSize, numClasses);
      // From the shapes alone: no lazily sized layer allocates, and the step's activations are bounded.
      const net = buildModel(description);
      const shape = checkModelForInput(net, [1, ...datasetSampleShape(net, d.train.xShape, c.dataset)], batch);
      if (shape.length !== 2 || shape[1] !== numClasses)
        throw new Error(`outputs (batch, ${shape.slice(1).join(', ')}) but ${c.dataset} has ${numClasses} classes`);
    } catch (e) {
      throw new SpecError(`run ${r.id}: ${runModelLabel(c)} does not fit ${c.dataset}: ${firstLine(e)}`);
    }
  }
}

/** The error an aborted sweep rejects with, named as the platform names its aborts. */
function abortError(): Error {
  const e = new Error('sweep: aborted');
  e.name = 'AbortError';
  return e;
}

/** What differs between the runs a stored sweep listed and this spec's, in a few words. */
function sweepDifference(storedRuns: unknown, runs: readonly SweepRun[]): string {
  if (!Array.isArray(storedRuns) || !storedRuns.every((r) => typeof r === 'string')) return 'its record of runs is unreadable';
  const before = new Set(storedRuns as string[]);
  const now = new Set(runs.map((r) => r.id));
  const added = [...now].filter((id) => !before.has(id));
  const gone = [...before].filter((id) => !now.has(id));
  const some = (ids: string[]): string => `${ids.length} (${ids.slice(0, 2).join('; ')}${ids.length > 2 ? '; …' : ''})`;
  if (added.length === 0 && gone.length === 0) return 'the same runs with other settings (a value of "base" or a model changed)';
  return [added.length ? `this spec adds runs ${some(added)}` : '', gone.length ? `it lacks runs ${some(gone)}` : '']
    .filter(Boolean)
    .join(' and ');
}

/**
 * Checks and writes `out/sweep.json`, in a folder this process has locked (two sweeps started
 * at once must not both write it); with `resume`, returns the records of the runs already done.
 */
function prepareOut(
  out: string,
  spec: SweepSpec,
  hash: string,
  runs: readonly SweepRun[],
  resume: boolean,
  log?: (line: string) => void,
): Map<string, RunRecord> {
  const specFile = path.join(out, SPEC_FILE);
  if (fs.existsSync(specFile)) {
    let stored: { hash?: unknown; runs?: unknown } | null = {};
    try {
      stored = readJsonFile(specFile) as { hash?: unknown; runs?: unknown } | null;
    } catch {
      // unreadable: treated as another sweep
    }
    const storedHash = typeof stored?.hash === 'string' ? stored.hash : undefined;
    if (!resume)
      throw new SpecError(
        `--out (out) ${out} already holds a sweep (${SPEC_FILE}); pass --resume (resume: true) to continue it, or choose another folder`,
      );
    if (storedHash !== hash)
      throw new SpecError(
        `--resume (resume: true): ${out} holds a different sweep (spec hash ${storedHash ?? 'unreadable'}, this spec ${hash}): ` +
          `${sweepDifference(stored?.runs, runs)}; give this spec another --out (out)`,
      );
  }
  try {
    writeJson(specFile, { hash, spec, runs: runs.map((r) => r.id) });
  } catch (e) {
    throw new SpecError(`--out (out): cannot write to ${out}: ${firstLine(e)}`);
  }

  const records = new Map<string, RunRecord>();
  if (resume) {
    for (const r of runs) {
      const rec = readRecord(path.join(out, r.id, RESULT_FILE), r, log);
      if (rec && rec.status === 'done') records.set(r.id, rec);
    }
  }
  return records;
}

function describeOutcome(r: RunRecord): string {
  if (r.status === 'failed' || !r.metrics) return `FAILED: ${r.error}`;
  const m = r.metrics;
  return `test ${percent(m.testAccuracy)}, validation ${percent(m.validationAccuracy)}, ${m.epochs} epoch${m.epochs === 1 ? '' : 's'}${m.resumed ? ' (resumed)' : ''}${m.checkpointDiscarded !== undefined ? ` (started over: ${m.checkpointDiscarded})` : ''}, ${m.seconds.toFixed(1)} s`;
}

/** The options sweep() knows (a name outside them is refused, as every options object of the API). */
const SWEEP_OPTIONS: readonly (keyof SweepOptions)[] = [
  'out',
  'resume',
  'workers',
  'queue',
  'queueName',
  'idleWarningMs',
  'backend',
  'dataDir',
  'saveModels',
  'log',
  'onStatus',
  'signal',
];

/**
 * Runs a sweep: every combination of the spec's axes for each of its seeds, `workers` trainings
 * at once on worker threads (each single-threaded), the dataset loaded once and shared; or, with
 * `queue`, as BullMQ jobs taken by `neurone worker` processes. Each run's record is written
 * atomically to `out/<run-id>/result.json` when it finishes; a run that throws, or whose folder
 * or record cannot be written, is recorded as failed with the reason and the sweep goes on. At the end, `summary.md`, `summary.csv`, `curves.svg` and
 * `scores.svg` hold mean ± std per configuration over the seeds.
 *
 * Throws {@link SpecError} for a spec that cannot run (before anything runs).
 *
 * @example
 * const result = await sweep(
 *   { name: 'lr', base: { dataset: 'xor', epochs: 50 }, axes: { lr: [0.01, 0.1] }, seeds: 3 },
 *   { out: 'runs/lr' },
 * );
 * console.log(result.summary.map((r) => `${r.configKey}: ${r.testAccuracy.mean}`));
 * @param specInput The spec (parsed JSON is fine): base configuration, axes, seeds; checked before anything runs.
 * @param options The output folder, resuming, the worker threads or a queue, the backend, the data folder, saving models, log and status callbacks.
 * @returns Each run's metrics and the summary over seeds, once every run has finished.
 */
export async function sweep(specInput: SweepSpec | unknown, options: SweepOptions): Promise<SweepResult> {
  const spec = validateSpec(specInput);
  const hash = specHash(spec);
  const runs = expandSpec(spec);
  if (options === null || typeof options !== 'object')
    throw new SpecError(`sweep: options must be an object with at least { out }, got ${options === null ? 'null' : typeof options}`);
  try {
    checkKnownOptions('sweep', options, SWEEP_OPTIONS);
  } catch (e) {
    throw new SpecError((e as Error).message); // a misspelt { wokers: 2 } ran on every core
  }
  const out = options.out;
  if (typeof out !== 'string' || out === '') throw new SpecError(`sweep: out must be a folder name, got ${JSON.stringify(out)}`);
  if (options.backend !== undefined && options.backend !== 'native' && options.backend !== 'js')
    throw new SpecError(`sweep: backend must be 'native' or 'js', got ${JSON.stringify(options.backend)}`);
  if (options.workers !== undefined && !(Number.isInteger(options.workers) && options.workers >= 1 && options.workers <= 1024))
    throw new SpecError(`sweep: workers must be an integer in [1, 1024], got ${String(options.workers)}`);
  if (options.signal !== undefined && !(options.signal instanceof AbortSignal))
    throw new SpecError(`sweep: signal must be an AbortSignal, got ${typeof options.signal}`);
  if (options.signal?.aborted) throw abortError();
  if (
    options.idleWarningMs !== undefined &&
    !(typeof options.idleWarningMs === 'number' && options.idleWarningMs > 0 && Number.isFinite(options.idleWarningMs))
  )
    throw new SpecError(`sweep: idleWarningMs must be a number of milliseconds > 0, got ${String(options.idleWarningMs)}`);
  if (options.queue !== undefined && (typeof options.queue !== 'string' || options.queue === ''))
    throw new SpecError(`sweep: queue must be a Redis URL like redis://host:6379, got ${describe(options.queue)}`);
  // The queue's own options, given without a queue, would run the sweep here without a word.
  for (const name of ['queueName', 'idleWarningMs'] as const)
    if (options[name] !== undefined && options.queue === undefined)
      throw new SpecError(`sweep: ${name} applies to a sweep through a queue; give queue too (a Redis URL), or drop ${name}`);
  // Redis is checked before anything is written: an unreachable queue leaves no half-made folder.
  let queueExecutor: RunExecutor | undefined;
  if (options.queue) {
    const { QueueExecutor, checkQueuedRunIds } = await loadQueue('sweep: queue');
    checkQueuedRunIds(runs);
    queueExecutor = await QueueExecutor.connect(options.queue, {
      queueName: options.queueName,
      sweepHash: hash,
      backend: options.backend,
      log: options.log,
      idleWarningMs: options.idleWarningMs,
    });
  }
  // The data, and whether each model fits it, before the folder is written: a spec refused here
  // leaves nothing behind that would make its corrected version "a different sweep". Through the
  // queue, the workers load the data where they run.
  const data = new Map<string, SharedData>();
  if (!queueExecutor) {
    for (const r of runs) {
      const key = dataKey(r.config);
      if (data.has(key)) continue;
      try {
        data.set(key, loadSharedData(r.config.dataset, r.config.dataSeed, options.dataDir));
      } catch (e) {
        throw new SpecError((e as Error).message);
      }
    }
    preflight(runs, data);
  }
  let records: Map<string, RunRecord>;
  let unlock: () => void;
  try {
    try {
      ensureDir(out); // not mkdirSync recursive: it can spin forever (see ensureDir)
    } catch (e) {
      throw new SpecError(`--out (out): cannot write to ${out}: ${firstLine(e)}`);
    }
    unlock = lockFolder(out, 'sweep', (message) => new SpecError(message));
    try {
      records = prepareOut(out, spec, hash, runs, Boolean(options.resume), options.log);
    } catch (e) {
      unlock();
      throw e;
    }
  } catch (e) {
    await queueExecutor?.close();
    throw e;
  }
  try {
    return await runSweep();
  } finally {
    unlock();
  }

  // The sweep itself, once `out` is this process's alone.
  async function runSweep(): Promise<SweepResult> {
    // What a killed sweep was writing (a checkpoint, a record) is left beside its target; under the
    // lock nothing else writes here, so a file of a gone process is stranded, however recent.
    if (options.resume) for (const dir of [out, ...runs.map((r) => path.join(out, r.id))]) removeDeadWritersTemps(dir);
    const todo = runs.filter((r) => !records.has(r.id));
    const skipped = records.size;
    const executor: RunExecutor =
      queueExecutor ?? new LocalExecutor(Math.max(1, Math.min(options.workers ?? defaultConcurrency(), todo.length || 1)), options.backend);
    const crowded = queueExecutor ? undefined : oversubscribed(executor.concurrency, 'sweep');
    if (crowded) options.log?.(crowded);

    const t0 = performance.now();
    let done = 0;
    let failed = 0;
    let started = 0;
    const status = (): SweepStatus => {
      const elapsed = (performance.now() - t0) / 1000;
      const finished = done + failed;
      const remaining = todo.length - finished;
      return {
        total: runs.length,
        skipped,
        done: done + skipped,
        failed,
        running: executor.running ? executor.running() : Math.min(executor.concurrency, started - finished),
        samplesPerSecond: elapsed > 0 ? executor.samples() / elapsed : 0,
        etaSeconds: finished > 0 ? (elapsed / finished) * remaining : undefined,
        elapsedSeconds: elapsed,
      };
    };
    const timer = options.onStatus ? setInterval(() => options.onStatus?.(status()), 500) : undefined;
    // An abort stops waiting at once; closing the executor then stops the trainings, whose
    // outcomes (failed, as their threads die) are not recorded.
    let aborted = false;
    let onAbort = (): void => undefined;
    const abortion = new Promise<never>((_, reject) => {
      onAbort = (): void => {
        aborted = true;
        reject(abortError());
      };
    });
    options.signal?.addEventListener('abort', onAbort, { once: true });
    // Aborted while Redis was reached or the data loaded: the listener above would never fire.
    if (options.signal?.aborted) onAbort();
    try {
      const all = Promise.all(
        todo.map(async (r) => {
          if (aborted) return;
          const dir = path.join(out, r.id);
          const checkpoint = path.join(dir, 'checkpoint.ckpt');
          const base = { id: r.id, configKey: r.configKey, axes: r.axes, config: r.config };
          const finish = (rec: RunRecord): void => {
            records.set(r.id, rec);
            if (rec.status === 'done') done++;
            else failed++;
            options.log?.(`[${done + failed + skipped}/${runs.length}] ${r.id}: ${describeOutcome(rec)}`);
          };
          started++;
          try {
            ensureDir(dir);
            // Only --resume continues from a checkpoint found in the folder; a fresh sweep starts over.
            if (!options.resume && !removeCheckpoint(checkpoint)) throw new Error(`cannot remove the earlier checkpoint ${checkpoint}`);
          } catch (e) {
            // This run's folder is unusable; the others' are not: it fails, the sweep goes on.
            finish({ ...base, status: 'failed', error: `its folder cannot be used: ${firstLine(e)}`, worker: 'none' });
            return;
          }
          removeStaleRecord(path.join(dir, RESULT_FILE));
          const { outcome, worker } = await executor.run(r, data.get(dataKey(r.config)), {
            checkpoint,
            model: options.saveModels ? path.join(dir, 'model.safetensors') : undefined,
          });
          // A run counts once: its record is written once, when its first outcome arrives. A run
          // stopped by an abort has no outcome of its own.
          if (records.has(r.id) || aborted) return;
          let rec: RunRecord = {
            ...base,
            status: outcome.status,
            ...(outcome.status === 'done' ? { metrics: outcome.metrics } : { error: outcome.error }),
            worker,
          };
          try {
            writeJson(path.join(dir, RESULT_FILE), rec);
          } catch (e) {
            // Without its record on disk the run is not finished as far as --resume can tell: it is
            // counted as failed, with the reason, and its checkpoint stays for --resume.
            const why = `its record could not be written: ${firstLine(e)}`;
            rec = {
              ...base,
              status: 'failed',
              error: rec.status === 'done' ? `the run finished but ${why}` : `${rec.error}; ${why}`,
              worker,
            };
            finish(rec);
            return;
          }
          // A leftover checkpoint is only disk space: the record says the run is done.
          if (outcome.status === 'done') removeCheckpoint(checkpoint);
          finish(rec);
        }),
      );
      await Promise.race([all, abortion]);
    } finally {
      if (timer) clearInterval(timer);
      options.signal?.removeEventListener('abort', onAbort);
      await executor.close();
      // The stopped threads' checkpoints and models cut short: no thread writes here any more.
      if (aborted) for (const r of todo) removeOwnTemps(path.join(out, r.id));
    }
    const ordered = runs.map((r) => records.get(r.id)).filter((r): r is RunRecord => r !== undefined);
    const summary = summarize(ordered);
    const files = {
      markdown: path.join(out, 'summary.md'),
      csv: path.join(out, 'summary.csv'),
      curves: path.join(out, 'curves.svg'),
      scores: path.join(out, 'scores.svg'),
    };
    // The four as one: a full disk leaves the previous summary whole, not half of each sweep's.
    writeFilesAtomic([
      { file: files.markdown, data: Buffer.from(`# Sweep ${spec.name}: mean ± std over seeds\n\n${summaryMarkdown(summary)}\n`) },
      { file: files.csv, data: Buffer.from(summaryCsv(summary)) },
      { file: files.curves, data: Buffer.from(curvesSvg(ordered, `${spec.name}: validation accuracy, mean ± std over seeds`)) },
      { file: files.scores, data: Buffer.from(finalScoresSvg(summary, `${spec.name}: test accuracy, mean ± std over seeds`)) },
    ]);
    const final = status();
    options.onStatus?.(final);
    return { runs: ordered, summary, files, status: final };
  }
}

/** Runs trainings on this machine's worker-thread pool. */
class LocalExecutor implements RunExecutor {
  private readonly pool: TrainingPool;

  constructor(
    readonly concurrency: number,
    backend?: BackendName,
  ) {
    this.pool = new TrainingPool(concurrency, backend);
  }

  async run(
    run: SweepRun,
    data: SharedData | undefined,
    files: { checkpoint?: string; model?: string },
  ): Promise<{ outcome: RunOutcome; worker: string }> {
    if (!data) throw new Error(`internal: no data for run ${run.id}`);
    return { outcome: await this.pool.run(run.id, run.config, data, files), worker: 'local' };
  }

  samples(): number {
    return this.pool.samples();
  }

  close(): Promise<void> {
    return this.pool.close();
  }
}
