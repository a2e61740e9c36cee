/**
 * The `neurone worker` command: takes the runs a `neurone sweep --queue` enqueued and trains them
 * on this machine's worker-thread pool (lib/sweep/queue.ts), until SIGINT/SIGTERM. Exit code 2
 * for bad arguments or an unreachable Redis at start (one line on stderr, within seconds).
 */
import { SpecError } from '../sweep/spec';
import { loadQueue } from '../sweep/queue-load';
import { OptionDef, fail, helpText, parseOptions } from './sweep';

/** How long a worker told to stop waits for its connections to close. */
const CLOSE_TIMEOUT_MS = 5000;

const WORKER_OPTIONS: Record<string, OptionDef> = {
  '--queue': { arg: 'URL', help: 'the Redis of the queue, redis://host:port (required)' },
  '--concurrency': { arg: 'N', int: { min: 1, max: 1024 }, help: 'trainings at once (default: the cores)' },
  '--queue-name': { arg: 'NAME', help: "the BullMQ queue (default 'neurone')" },
  '--models': {
    arg: 'DIR',
    help: 'save each trained model as DIR/<sweep id>/<run-id>.safetensors (the sweep id: a hash of its spec, as in the job ids)',
  },
  '--checkpoints': {
    arg: 'DIR',
    help: 'checkpoints as DIR/<sweep>/<run-id>.ckpt (a folder shared by the workers lets a retried run continue)',
  },
  '--data-dir': { arg: 'DIR', help: 'folder of the MNIST / Fashion-MNIST / USPS files on this machine' },
  '--backend': { arg: 'NAME', choices: ['js', 'native'], help: 'js|native (default: native when it loads)' },
  '--lock-ms': {
    arg: 'MS',
    int: { min: 200, max: 3600000 },
    help: "a job's lock: a killed worker's job goes to another after about this long (default 30000)",
  },
  '--help': { help: 'show this help' },
};

/** Help of `neurone worker`. */
export function workerUsage(): string {
  return helpText('Usage: neurone worker --queue redis://host:port [options]', WORKER_OPTIONS, [
    'Takes the runs that `neurone sweep SPEC --queue URL` enqueues and trains them, until Ctrl-C.',
    'Needs the packages bullmq and ioredis beside neurone (npm install bullmq ioredis).',
  ]);
}

/** `neurone worker --queue URL ...`: runs until SIGINT/SIGTERM; returns the exit code. */
export async function workerCommand(argv: readonly string[]): Promise<number> {
  try {
    const { options: o, positional } = parseOptions('worker', argv, WORKER_OPTIONS);
    if (o.help) {
      process.stdout.write(`${workerUsage()}\n`);
      return 0;
    }
    if (positional.length) throw new SpecError(`unexpected argument '${positional[0]}' (see neurone worker --help)`);
    if (o.queue === undefined) throw new SpecError('--queue URL is required (redis://host:port)');
    const { startQueueWorker } = await loadQueue('neurone worker');
    const worker = await startQueueWorker({
      url: String(o.queue),
      concurrency: o.concurrency as number | undefined,
      queueName: o['queue-name'] as string | undefined,
      models: o.models as string | undefined,
      checkpoints: o.checkpoints as string | undefined,
      dataDir: o['data-dir'] as string | undefined,
      backend: o.backend as 'js' | 'native' | undefined,
      lockMs: o['lock-ms'] as number | undefined,
    });
    const signal = await new Promise<NodeJS.Signals>((resolve) => {
      process.once('SIGINT', () => resolve('SIGINT'));
      process.once('SIGTERM', () => resolve('SIGTERM'));
    });
    // A clean close puts the running jobs back on the queue but needs Redis for it; with Redis
    // gone it would wait for ever, so it gets a few seconds (the jobs are then left to the
    // stalled-job check), and a second signal ends the process at once.
    const code = signal === 'SIGINT' ? 130 : 143;
    process.once('SIGINT', () => process.exit(code));
    process.once('SIGTERM', () => process.exit(code));
    await Promise.race([worker.close(), new Promise((resolve) => setTimeout(resolve, CLOSE_TIMEOUT_MS).unref())]);
    process.exit(code);
  } catch (e) {
    return fail(e);
  }
}
