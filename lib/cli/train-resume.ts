/**
 * What `neurone train` keeps in `<out>/resume/` while it trains, so that `--resume` continues a
 * run stopped by Ctrl-C, a kill or a crash after its last finished epoch, to the result a run
 * never stopped gives (the same bits, on the same backend and kernel path):
 *
 *   run.json                          the flags that decide the result (a --resume with others is refused)
 *   stage1.checkpoint.safetensors     fit's checkpoint of the training, written after every epoch
 *   stage1.average-<E>.safetensors    the weight average after epoch E (--swa; the last two kept)
 *   stage2.*                          the same for the retraining (--retrain)
 *
 * A stage that had finished resumes from its last checkpoint with nothing left to train: fit
 * gives its history back, and the average is the one kept after its last epoch.
 *
 * The folder goes when the run ends (trained, or diverged: a resume would diverge again), and
 * stays when the run is stopped, crashes or cannot save its model.
 */
import * as fs from 'fs';
import * as path from 'path';
import { WeightAverage } from '../averaging';
import { readSafetensors, readSafetensorsMetadata, writeSafetensors } from '../serialize';
import { ensureDir } from '../data/paths';
import { readDataFile, writeFileAtomic } from '../data/read';

/** The folder in --out. */
export const RESUME_FOLDER = 'resume';

/** The stages of a run: the training, then (--retrain) a fresh network on all the data. */
export type Stage = 1 | 2;

const RUN_FILE = 'run.json';
const RUN_FORMAT = 1;
/** The most bytes a run file may have: its flags, as JSON (a few hundred bytes). */
const RUN_FILE_BYTES = 2 ** 20;
const COUNT_KEY = 'train.averaged';

/** A run's resume folder. */
export class ResumeFolder {
  readonly dir: string;

  /** @param out The run's --out folder. */
  constructor(out: string) {
    this.dir = path.join(out, RESUME_FOLDER);
  }

  /** Whether a stopped run left its state there (a folder without run.json is the start of one, killed: nothing). */
  exists(): boolean {
    return fs.existsSync(path.join(this.dir, RUN_FILE));
  }

  /**
   * Starts the folder of a new run (an earlier one's state removed), with the flags that decide
   * its result and what it runs on (backend, kernel path, threads), which may change the last
   * bits of a CNN's result.
   */
  start(flags: Record<string, unknown>, engine: string): void {
    this.remove();
    ensureDir(this.dir);
    this.writeRun(flags, engine);
  }

  /** Records that the run went on on another engine (kept flags; the note of a later resume compares with it). */
  setEngine(engine: string): void {
    this.writeRun(this.run().flags, engine);
  }

  private writeRun(flags: Record<string, unknown>, engine: string): void {
    writeFileAtomic(path.join(this.dir, RUN_FILE), Buffer.from(`${JSON.stringify({ format: RUN_FORMAT, flags, engine }, null, 1)}\n`));
  }

  /** The flags and engine the stopped run was started with; throws naming the file when they cannot be read. */
  run(): { flags: Record<string, unknown>; engine: string } {
    const file = path.join(this.dir, RUN_FILE);
    let parsed: unknown;
    try {
      // As a data file: a FIFO or a link to /dev/zero in its place must not block or fill memory.
      parsed = JSON.parse(readDataFile(file, RUN_FILE_BYTES, 'a run file').toString('utf8'));
    } catch (e) {
      const reason = (e as Error).message.split('\n')[0];
      // The reader's own "<file>: cannot read (no such file)" said once, as "cannot be read (no such file)".
      const own = reason.startsWith(`${file}: `) ? reason.slice(file.length + 2) : reason;
      throw new Error(`${file} cannot be read (${own.replace(/^cannot read \((.*)\)$/, '$1')})`);
    }
    const run = parsed as { format?: unknown; flags?: unknown; engine?: unknown };
    if (
      run?.format !== RUN_FORMAT ||
      run.flags === null ||
      typeof run.flags !== 'object' ||
      Array.isArray(run.flags) ||
      typeof run.engine !== 'string'
    )
      throw new Error(`${file} is not the run file of this version of neurone`);
    return { flags: run.flags as Record<string, unknown>, engine: run.engine };
  }

  /** Whether an epoch has finished since the run started: a checkpoint is there. */
  trained(): boolean {
    return ([1, 2] as const).some((stage) => fs.existsSync(this.checkpoint(stage)));
  }

  /** fit's checkpoint of a stage. */
  checkpoint(stage: Stage): string {
    return path.join(this.dir, `stage${stage}.checkpoint.safetensors`);
  }

  /** The epoch a stage's checkpoint was written after, or undefined when there is none. */
  checkpointEpoch(stage: Stage): number | undefined {
    const file = this.checkpoint(stage);
    if (!fs.existsSync(file)) return undefined;
    // The header alone: fit reads the whole checkpoint when it resumes from it.
    const meta = readSafetensorsMetadata(file, 'train --resume')['neurone.checkpoint'];
    let epoch: unknown;
    try {
      epoch = meta === undefined ? undefined : (JSON.parse(meta) as { epoch?: unknown }).epoch;
    } catch {
      epoch = undefined;
    }
    if (typeof epoch !== 'number' || !Number.isSafeInteger(epoch) || epoch < 1) throw new Error(`${file} is not a checkpoint of fit`);
    return epoch;
  }

  private averageFile(stage: Stage, epoch: number): string {
    return path.join(this.dir, `stage${stage}.average-${epoch}.safetensors`);
  }

  /**
   * Keeps the weight average as it is after `epoch` (fit writes that epoch's checkpoint after
   * this, so the one of the epoch before stays until the next), and removes older ones.
   */
  writeAverage(stage: Stage, epoch: number, average: WeightAverage): void {
    const { count, means } = average.state();
    // Float64 means kept to the bit: their bytes as I32 words, which the file format carries.
    writeSafetensors(
      this.averageFile(stage, epoch),
      means.map((m, i) => ({
        name: String(i),
        dtype: 'I32' as const,
        shape: [2 * m.length],
        data: new Int32Array(m.buffer, m.byteOffset, 2 * m.length),
      })),
      { [COUNT_KEY]: String(count) },
      { who: 'train' },
    );
    fs.rmSync(this.averageFile(stage, epoch - 2), { force: true });
  }

  /** Puts back the weight average kept after `epoch`; throws naming the file when it is missing or does not fit. */
  readAverage(stage: Stage, epoch: number, average: WeightAverage): void {
    const file = this.averageFile(stage, epoch);
    if (!fs.existsSync(file)) throw new Error(`${file} is missing (the weight average after epoch ${epoch})`);
    const { tensors, metadata } = readSafetensors(file, 'train --resume');
    const count = Number(metadata[COUNT_KEY]);
    const means: Float64Array[] = [];
    for (let i = 0; i < tensors.size; i++) {
      const t = tensors.get(String(i));
      if (!t || t.dtype !== 'I32' || t.data.length % 2 !== 0) throw new Error(`${file} is not a weight average of this run`);
      const words = t.data as Int32Array;
      means.push(new Float64Array(words.buffer.slice(words.byteOffset, words.byteOffset + words.byteLength)));
    }
    try {
      average.setState({ count, means });
    } catch (e) {
      throw new Error(`${file} is not a weight average of this run (${(e as Error).message})`);
    }
  }

  /** Removes the folder (the run ended); on Windows, retried while another program holds a file there. */
  remove(): void {
    fs.rmSync(this.dir, { recursive: true, force: true, maxRetries: process.platform === 'win32' ? 5 : 0 });
  }
}
