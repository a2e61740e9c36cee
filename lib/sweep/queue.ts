/**
 * Sweeps across machines on BullMQ over Redis. `sweep({ queue })` enqueues one job per run (its
 * id names the sweep and the run, so a run is enqueued once however often the sweep is started)
 * and collects the results; `startQueueWorker` takes jobs on any machine and runs them on the
 * same worker-thread pool as a local sweep. A worker killed mid-run loses its job's lock; BullMQ's
 * stalled-job check puts the job back and another worker runs it. A run's record is written once,
 * by the sweep, when its job completes.
 */
import { EventEmitter } from 'events';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import IORedis from 'ioredis';
import { Queue, QueueEvents, Worker, Job, RedisClient, UnrecoverableError, WaitingError } from 'bullmq';
import { BackendName, nativeAvailable } from '../backend';
import { firstLine, percent, withoutCredentials } from '../messages';
import { isSystemError } from '../data/read';
import { SpecError, SweepRun, SWEEP_DATASETS, checkRunIdLength, validateRunConfig } from './spec';
import { SharedData, dataKey, removeCheckpoint } from './training';
import { TrainingPool, defaultConcurrency, oversubscribed } from './pool';
import { RunOutcome } from './pool-worker';
import { checkOutcome } from './summary';
import { ensureDir, isDir } from '../data/paths';
import type { RunExecutor } from './sweep';

/** The payload of one job: what a worker needs to run one training. */
export interface JobPayload {
  /** Format of the payload; a worker refuses others. */
  version: 1;
  /** Hash of the sweep's runs (`specHash`). */
  sweep: string;
  runId: string;
  config: unknown;
  backend?: BackendName;
}

/** What a job returns: the run's outcome and the worker that ran it. */
export interface JobResult {
  outcome: RunOutcome;
  worker: string;
}

/**
 * The longest id of a run sent through the queue, in UTF-8 bytes: a worker names the run's files
 * by it (`<id>.ckpt`, `<id>.safetensors`), and their temporary files add a dot,
 * the pid and a random tag, all within a file name's 255 bytes.
 */
export const MAX_QUEUED_RUN_ID_BYTES = 180;

/** Refuses, before anything is sent, a run whose id is too long for a worker's file names. @internal */
export function checkQueuedRunIds(runs: readonly SweepRun[]): void {
  for (const r of runs)
    checkRunIdLength(r.id, MAX_QUEUED_RUN_ID_BYTES, `a queue worker names the run's files by it (within a file name's 255 bytes)`);
}

/** Default name of the BullMQ queue. */
export const DEFAULT_QUEUE_NAME = 'neurone';
/** How long a first connection to Redis may take before the command gives up. */
const CONNECT_TIMEOUT_MS = 3000;

/**
 * The connection options of a `redis://[user:password@]host:port[/db]` URL; throws SpecError for
 * anything else. Internal, so that the published declarations do not name ioredis's types (a
 * TypeScript project would load all of them to check its own code). @internal
 */
export function redisOptions(url: string): RedisUrlOptions {
  let u: URL;
  try {
    u = new URL(url);
  } catch {
    throw new SpecError(`--queue: expected a Redis URL like redis://host:6379, got '${url}'`);
  }
  if (u.protocol !== 'redis:' && u.protocol !== 'rediss:')
    throw new SpecError(`--queue: expected a redis:// or rediss:// URL, got '${url}'`);
  if (!u.hostname) throw new SpecError(`--queue: no host in '${url}'`);
  const port = u.port === '' ? 6379 : Number(u.port);
  // A plain number: Number() would also read '1e1' as database 10, '0x1' as 1.
  const dbText = u.pathname && u.pathname !== '/' ? u.pathname.slice(1) : '0';
  const db = /^\d{1,9}$/.test(dbText) ? Number(dbText) : NaN;
  if (!Number.isInteger(db))
    throw new SpecError(`--queue: database '${dbText}' in '${withoutCredentials(url)}' is not a non-negative integer`);
  const decoded = (part: string, what: string): string | undefined => {
    if (!part) return undefined;
    try {
      return decodeURIComponent(part);
    } catch {
      throw new SpecError(`--queue: the ${what} in '${withoutCredentials(url)}' holds a bad %-escape (a % not followed by two hex digits)`);
    }
  };
  return {
    host: u.hostname.replace(/^\[|\]$/g, ''),
    port,
    db,
    username: decoded(u.username, 'user name'),
    password: decoded(u.password, 'password'),
    tls: u.protocol === 'rediss:' ? {} : undefined,
  };
}

/**
 * What {@link redisOptions} gives, as neurone's own type: typed as ioredis's RedisOptions, the
 * options did not type-check as BullMQ's connection with ioredis 6 and BullMQ 6.1 or later (their
 * two `retryStrategy` types disagree on null), though only these fields are ever set.
 * @internal
 */
export interface RedisUrlOptions {
  host: string;
  port: number;
  db: number;
  username: string | undefined;
  password: string | undefined;
  tls: Record<string, never> | undefined;
}

/** The queue's name, checked: BullMQ builds its Redis keys with ':' and refuses a name holding one. */
export function checkQueueName(name: string | undefined): string {
  const n = name ?? DEFAULT_QUEUE_NAME;
  if (n === '' || n.includes(':')) throw new SpecError(`--queue-name: expected a name without ':', got ${JSON.stringify(n)}`);
  return n;
}

/**
 * Connects to Redis once and pings it; throws an Error within about CONNECT_TIMEOUT_MS naming the
 * URL when it cannot (connection refused, unknown host, timeout, authentication).
 */
export async function checkRedis(url: string): Promise<void> {
  const options = redisOptions(url);
  const client = new IORedis({
    ...options,
    lazyConnect: true,
    connectTimeout: CONNECT_TIMEOUT_MS,
    maxRetriesPerRequest: 0,
    enableOfflineQueue: false,
    retryStrategy: () => null,
    // ioredis waits this long for the socket to close after disconnect() before destroying it; the
    // check has nothing in flight, and its 2 s default kept a caller's process alive that long.
    disconnectTimeout: 100,
  });
  // The socket's error (ECONNREFUSED, ENOTFOUND...) says more than connect()'s "Connection is closed".
  let socketError: string | undefined;
  client.on('error', (e: Error) => {
    socketError ??= e.message;
  });
  let timer: NodeJS.Timeout | undefined;
  try {
    await Promise.race([
      (async () => {
        await client.connect();
        // ioredis selects the URL's database on connecting, but a refusal (a database past the
        // server's count) is only an 'error' event: connect() resolves and the client stays on 0.
        // Database 0 is not selected (ioredis does not either: some proxies refuse SELECT).
        if (options.db) await client.select(options.db);
        await client.ping();
      })(),
      new Promise((_, reject) => {
        timer = setTimeout(() => reject(new Error(`no answer in ${CONNECT_TIMEOUT_MS / 1000} s`)), CONNECT_TIMEOUT_MS + 500);
      }),
    ]);
  } catch (e) {
    const why = socketError ?? ((e as Error).message || String(e));
    throw new SpecError(`cannot reach Redis at ${withoutCredentials(url)}: ${firstLine(why)}`);
  } finally {
    if (timer) clearTimeout(timer);
    // A connection that failed has ended already; disconnect() would start that timer anyway, with
    // no close event left to clear it.
    if (client.status !== 'end') client.disconnect();
  }
}

/** Whether an error is the connection's (ioredis reconnects on its own), rather than an answer from Redis. */
function isConnectionError(e: Error): boolean {
  if (isSystemError(e)) return true;
  return /Connection is closed|Stream isn't writeable|MaxRetriesPerRequest|ECONN|ETIMEDOUT|ENOTFOUND|EHOSTUNREACH|ENETUNREACH|EPIPE|EAI_AGAIN|^LOADING|^READONLY/.test(
    e?.message ?? '',
  );
}

/**
 * Reports errors once per distinct message. A lost connection is retried (ioredis reconnects on
 * its own, workers carry on); a job that is gone from Redis (flushed, evicted, Redis restarted
 * without persistence) is not a connection problem, and is said so.
 */
function errorReporter(what: string, url: string, log: (line: string) => void): (e: Error) => void {
  let last = '';
  return (e: Error) => {
    const msg = firstLine(e);
    if (msg === last) return;
    last = msg;
    if (isConnectionError(e)) log(`${what}: Redis at ${withoutCredentials(url)}: ${msg} (retrying until it answers)`);
    else if (/^Missing (key|lock) for job|could not renew lock for job/.test(msg))
      log(
        `${what}: ${msg} (the job is no longer in Redis, or no longer this worker's: its result is dropped; a sweep adds a lost job again)`,
      );
    else log(`${what}: Redis at ${withoutCredentials(url)}: ${msg}`);
  };
}

/**
 * How often a sweep checks that each job it waits for still exists in Redis (`pollMs`), and how
 * long none of its jobs may be running, while runs remain, before it says so (`idleWarningMs`,
 * the default of `sweep()`'s option). @internal (tests shorten them)
 */
export const queueTiming = { pollMs: 5000, idleWarningMs: 30000, closeMs: 3000 };

/** A BullMQ object (Queue, QueueEvents, Worker): what {@link closeWithin} needs of it. */
interface Closable {
  /** `force` (a Worker's): not waiting for its loop, which waits on Redis. */
  close(force?: boolean): Promise<void>;
}

/**
 * A BullMQ object's Redis connections, on either major version the peer range allows: BullMQ 6
 * gives them on its Redis backend (`backend.client`, `backend.blockingClient`); BullMQ 5 on the
 * object itself (`client`) and, for a Worker, on its `blockingConnection` (private in BullMQ 5's
 * typings, there at run time). test/sweep-queue-bullmq5.test.ts runs the queue on BullMQ 5.
 */
function connectionsOf(o: Closable): [Promise<RedisClient>, Promise<RedisClient> | undefined] {
  const x = o as unknown as {
    backend?: { client: Promise<RedisClient>; blockingClient?: Promise<RedisClient> };
    client: Promise<RedisClient>;
    blockingConnection?: { client: Promise<RedisClient> };
  };
  if (x.backend && 'client' in x.backend) return [x.backend.client, x.backend.blockingClient];
  return [x.client, x.blockingConnection?.client];
}

/**
 * Closes BullMQ objects, waiting for Redis at most `queueTiming.closeMs`. With Redis gone, close()
 * waits for the commands queued meanwhile (ioredis keeps them until it reconnects): a sweep
 * stopped then, or a worker closed then, never ended. Past the wait their connections are
 * dropped (reconnecting stops) and this returns.
 */
async function closeWithin(objects: readonly Closable[], force = false): Promise<void> {
  let timer: NodeJS.Timeout | undefined;
  const gaveUp = new Promise<'late'>((resolve) => {
    timer = setTimeout(() => resolve('late'), queueTiming.closeMs);
  });
  try {
    // The clients first: a closing object no longer gives its client.
    const clients = await Promise.race([
      Promise.all(objects.flatMap((o) => connectionsOf(o).map((c) => c ?? Promise.resolve(undefined)))),
      gaveUp,
    ]);
    const closed = Promise.all(objects.map((o) => o.close(force)));
    if ((await Promise.race([closed, gaveUp])) !== 'late') return;
    // Not awaited again: a connection dropped while it waited to reconnect never flushes the
    // commands it holds, so close() may never end; nothing is left to keep the process alive.
    closed.catch(() => undefined);
    // Clients never given (a first connection still pending) hold nothing: close() dropped them.
    if (clients !== 'late') for (const c of clients) c?.disconnect();
  } finally {
    clearTimeout(timer);
  }
}

/** A duration for a message: `30 s`, `1.5 s`. */
function seconds(ms: number): string {
  return `${Number((ms / 1000).toFixed(1))} s`;
}

/**
 * The line a sweep prints when none of its jobs has been running for `idleMs` while runs remain:
 * what it sees (no worker taking its jobs, the workers it had gone, or workers busy elsewhere),
 * and the command that starts a worker. The URL is shown without its credentials. @internal
 * @param o The queue, where it is, what the sweep saw, and the queues other workers of this Redis serve.
 */
export function idleMessage(o: {
  url: string;
  queueName: string;
  idleMs: number;
  /** Workers connected to this queue; undefined when Redis does not say (no CLIENT LIST). */
  workers: number | undefined;
  /** Whether a worker has taken one of the sweep's jobs before. */
  taken: boolean;
  /** The sweep's runs not finished. */
  left: number;
  /** Other queues of this Redis with workers connected (`queue 'x'`, `queue 'y' in database 1`). */
  elsewhere?: readonly string[];
}): string {
  const url = withoutCredentials(o.url);
  const queue = `queue '${o.queueName}' at ${url}`;
  const start = `start one with \`neurone worker --queue ${url} --queue-name ${o.queueName}\``;
  const left = `${o.left} run${o.left === 1 ? '' : 's'} left`;
  const time = seconds(o.idleMs);
  if (o.workers !== undefined && o.workers > 0)
    return `sweep: ${o.workers} worker${o.workers === 1 ? ' is' : 's are'} connected to ${queue} but none has taken a job of this sweep in ${time} (${left}; busy with other jobs?); the sweep goes on waiting`;
  const seen = o.elsewhere?.length ? ` (this Redis has workers of ${o.elsewhere.join(', ')})` : '';
  if (o.taken)
    return o.workers === 0
      ? `sweep: no job of this sweep has been running for ${time} and no worker is connected to ${queue} any more (${left})${seen}: ${start}; the sweep goes on waiting`
      : `sweep: no job of this sweep has been running on ${queue} for ${time} (${left}): if its workers are gone, ${start}; the sweep goes on waiting`;
  return o.workers === 0
    ? `sweep: no worker has taken a job from ${queue} in ${time}, and none is connected to it${seen}: ${start}; the sweep goes on waiting`
    : `sweep: no worker has taken a job from ${queue} in ${time}: ${start}; the sweep goes on waiting`;
}

/**
 * The other queues with workers connected to the Redis at `url`, from its client list (BullMQ
 * names a worker's connections `bull:<base64 of the queue>`, or with `:w:<name>` after it), as
 * `queue 'x'` or `queue 'x' in database 1`; at most `max`, and none when Redis does not tell.
 * Best effort: it only adds a hint to a message.
 */
async function queuesWithWorkers(url: string, mine: { name: string; db: number }, max = 5): Promise<string[]> {
  const client = new IORedis({
    ...redisOptions(url),
    lazyConnect: true,
    connectTimeout: CONNECT_TIMEOUT_MS,
    commandTimeout: CONNECT_TIMEOUT_MS,
    maxRetriesPerRequest: 0,
    enableOfflineQueue: false,
    retryStrategy: () => null,
  });
  client.on('error', () => undefined); // the hint is left out
  try {
    await client.connect();
    const found = new Set<string>();
    for (const line of String(await client.client('LIST')).split('\n')) {
      const name = / name=bull:([A-Za-z0-9+/]+=*)(?::w:\S*)?(?: |$)/.exec(line)?.[1];
      if (name === undefined) continue;
      const queue = Buffer.from(name, 'base64').toString('utf8');
      const db = Number(/ db=(\d+)/.exec(line)?.[1] ?? mine.db);
      if (queue === mine.name && db === mine.db) continue;
      found.add(`queue '${queue}'${db === mine.db ? '' : ` in database ${db}`}`);
    }
    return [...found].sort().slice(0, max);
  } catch {
    return [];
  } finally {
    client.disconnect();
  }
}

/** How many times a job is tried when workers fail it (a training that fails is a result, not a failed job). */
const JOB_ATTEMPTS = 3;

/** Whether a job's return value records a failed run. */
function failedResult(value: unknown): boolean {
  return (value as Partial<JobResult> | null)?.outcome?.status === 'failed';
}

/** Enqueues runs and waits for their results: the `queue` side of `sweep()`. @internal */
export class QueueExecutor implements RunExecutor {
  readonly concurrency = Infinity;
  private readonly progress = new Map<string, number>();
  /** This sweep's jobs a worker holds, as the queue's events tell. */
  private readonly active = new Set<string>();
  private readonly mine = new Set<string>();
  /** The jobs whose runs wait for their result. */
  private readonly open = new Set<string>();
  /** Whether a worker has taken one of this sweep's jobs. */
  private taken = false;
  /** Whether one of this sweep's jobs was taken, progressed or ended since the last idle check. */
  private stirred = false;
  /** Workers connected to the queue at the last idle check (undefined: Redis does not say). */
  private workers: number | undefined;
  /** When the current stretch of idle checks began (undefined: the sweep is not idle, or Redis was lost). */
  private idleSince: number | undefined;
  /** Whether this stretch of idleness has been reported. */
  private warned = false;
  private checking = false;
  /** Whether the line saying runs were already done on the queue was printed. */
  private saidReused = false;
  /** Set when close() begins: no job is waited for again. */
  private closing = false;
  /** The waits in progress (nextWake), each ended by calling it: close() ends them all. */
  private readonly wakers = new Set<() => void>();
  private readonly watch: NodeJS.Timeout;

  private constructor(
    private readonly queue: Queue,
    private readonly events: QueueEvents,
    private readonly sweepHash: string,
    private readonly backend: BackendName | undefined,
    private readonly log: (line: string) => void,
    private readonly where: { url: string; name: string; db: number; idleMs: number },
  ) {
    // A job that reports progress is held by a worker too: the events of the first moments after
    // connecting are not seen (QueueEvents starts reading at the stream's end once it is
    // listening), the first job's 'active' among them.
    const held = ({ jobId }: { jobId: string }): void => {
      if (!this.open.has(jobId)) return;
      this.active.add(jobId);
      this.taken = this.stirred = true;
    };
    events.on('progress', ({ jobId, data }) => {
      const samples = (data as { samples?: unknown })?.samples;
      if (this.mine.has(jobId) && typeof samples === 'number') this.progress.set(jobId, samples);
      held({ jobId });
    });
    events.on('active', held);
    // A job put back (its worker died and the stalled-job check saw it), retried later, or ended
    // is no longer held by a worker.
    for (const event of ['waiting', 'delayed', 'stalled', 'completed', 'failed'] as const)
      events.on(event, ({ jobId }: { jobId: string }) => {
        if (!this.mine.has(jobId)) return;
        this.active.delete(jobId);
        // Taken, even where its 'active' was not seen.
        if (event === 'completed' || event === 'failed') this.taken = this.stirred = true;
      });
    // Redis lost: what was seen before says nothing about now; idleness is counted anew.
    const lost = (): void => {
      this.idleSince = undefined;
    };
    queue.on('error', lost);
    events.on('error', lost);
    const tick = Math.max(50, Math.min(2000, where.idleMs / 4));
    // No rejection is left unhandled, a log callback that throws included.
    this.watch = setInterval(() => this.checkIdle().catch(() => undefined), tick);
    this.watch.unref();
  }

  /** Checks that Redis answers, then opens the queue and its event stream. */
  static async connect(
    url: string,
    o: { queueName?: string; sweepHash: string; backend?: BackendName; log?: (line: string) => void; idleWarningMs?: number },
  ): Promise<QueueExecutor> {
    const name = checkQueueName(o.queueName);
    await checkRedis(url);
    const connection = { ...redisOptions(url), maxRetriesPerRequest: null };
    const queue = new Queue(name, { connection });
    const events = new QueueEvents(name, { connection });
    const log = o.log ?? ((l: string) => process.stderr.write(`neurone: ${l}\n`));
    const report = errorReporter('sweep', url, log);
    queue.on('error', report);
    events.on('error', report);
    await events.waitUntilReady();
    const where = { url, name, db: connection.db ?? 0, idleMs: o.idleWarningMs ?? queueTiming.idleWarningMs };
    return new QueueExecutor(queue, events, o.sweepHash, o.backend, log, where);
  }

  /**
   * Workers connected to the queue, from Redis's client list (BullMQ names their connections);
   * those of the same queue name in another database are not this queue's. Undefined where Redis
   * does not say: BullMQ answers a single nameless entry where the CLIENT command is missing.
   */
  private async connectedWorkers(): Promise<number | undefined> {
    try {
      const clients = await this.queue.getWorkers();
      if (clients.some((c) => c.rawname === undefined)) return undefined;
      return clients.filter((c) => c.db === undefined || Number(c.db) === this.where.db).length;
    } catch {
      return undefined;
    }
  }

  /**
   * Every tick while runs remain: the sweep is idle when none of its jobs was taken, progressed or
   * ended since the last tick, and none is held by a worker (or no worker is connected at all, as
   * after every worker was killed mid-job: its job stays active in Redis until a worker's
   * stalled-job check puts it back). Idle that long (`idleMs`), it says so once, with the command
   * that starts a worker; once a job runs again, a new stretch of idleness is reported again.
   */
  private async checkIdle(): Promise<void> {
    if (this.checking) return; // one at a time: while Redis is away, a check waits for it
    if (this.open.size === 0) {
      this.idleSince = undefined;
      this.warned = false;
      return;
    }
    this.checking = true;
    try {
      this.workers = await this.connectedWorkers();
      const busy = this.stirred || (this.active.size > 0 && this.workers !== 0);
      this.stirred = false;
      if (busy || this.open.size === 0) {
        this.idleSince = undefined;
        this.warned = false;
        return;
      }
      const now = Date.now();
      this.idleSince ??= now;
      if (this.warned || now - this.idleSince < this.where.idleMs) return;
      this.warned = true;
      const elsewhere = this.workers === 0 ? await queuesWithWorkers(this.where.url, { name: this.where.name, db: this.where.db }) : [];
      this.log(
        idleMessage({
          url: this.where.url,
          queueName: this.where.name,
          idleMs: this.where.idleMs,
          workers: this.workers,
          taken: this.taken,
          left: this.open.size,
          elsewhere,
        }),
      );
    } finally {
      this.checking = false;
    }
  }

  async run(run: SweepRun): Promise<{ outcome: RunOutcome; worker: string }> {
    const jobId = `${this.sweepHash}.${run.id}`;
    this.mine.add(jobId);
    this.open.add(jobId);
    const payload: JobPayload = { version: 1, sweep: this.sweepHash, runId: run.id, config: run.config, backend: this.backend };
    try {
      // The id makes the job unique: a sweep started again (or resumed) finds its jobs instead of adding copies.
      let job: Job = await this.add(jobId, payload);
      // A run that failed is run again, as a local sweep (and --resume) runs it again; one that
      // completed is not. A job that completed with a failed outcome is a failed run too.
      const state = await job.getState();
      let reused = false;
      if (state === 'failed' || (state === 'completed' && failedResult((await Job.fromId(this.queue, jobId))?.returnvalue))) {
        await job.retry(state, { resetAttemptsMade: true, resetAttemptsStarted: true });
        job = (await Job.fromId(this.queue, jobId)) ?? job;
      } else if (state === 'completed') {
        // Trained by an earlier sweep of the same runs (the id is the runs' hash, not the spec's
        // name or --out): said once, and its samples are not this sweep's throughput.
        reused = true;
        if (!this.saidReused) {
          this.saidReused = true;
          this.log(
            `sweep: runs of this sweep were already done on queue '${this.where.name}' (jobs ${this.sweepHash}.*, by an earlier sweep of the same runs): ` +
              'their results are taken as they are, not trained again; another --queue-name trains them anew',
          );
        }
      }
      // Whatever came back through Redis is checked as input: another program may have answered.
      const result = await this.waitFor(job, payload);
      const r = result as Partial<JobResult> | null;
      const outcome = checkOutcome(r?.outcome);
      if (typeof outcome === 'string' || typeof r?.worker !== 'string') {
        const why = typeof outcome === 'string' ? outcome : 'no worker name';
        return {
          outcome: { status: 'failed', error: `job ${jobId}: the worker's result is not a run's outcome (${why})` },
          worker: 'queue',
        };
      }
      if (outcome.status === 'done' && !reused) this.progress.set(jobId, outcome.metrics.samples);
      return { outcome, worker: r.worker };
    } catch (e) {
      return {
        outcome: { status: 'failed', error: `job ${jobId}: ${firstLine(e)}` },
        worker: 'queue',
      };
    } finally {
      this.active.delete(jobId);
      this.open.delete(jobId);
    }
  }

  /** Adds a run's job (a job with this id already in the queue is left as it is, and returned). */
  private add(jobId: string, payload: JobPayload): Promise<Job> {
    return this.queue.add('run', payload, {
      jobId,
      // A worker that cannot run a job (its data, its backend) fails it: it is tried again, maybe elsewhere.
      attempts: JOB_ATTEMPTS,
      backoff: { type: 'exponential', delay: 2000 },
      removeOnComplete: false,
      removeOnFail: false,
    });
  }

  /**
   * The job's return value once it has completed; throws its failure once it has failed for good.
   * Wakes on the job's events, and every `queueTiming.pollMs` checks that the job still exists: a
   * job gone from Redis (flushed, evicted, Redis restarted without persistence) would never
   * finish, so it is added again, and said so. Not BullMQ's waitUntilFinished: its timer outlives
   * a closed queue, which kept `neurone sweep --queue` alive for seconds after Ctrl-C.
   */
  private async waitFor(job: Job, payload: JobPayload): Promise<unknown> {
    const jobId = job.id as string;
    for (;;) {
      if (this.closing) throw new Error('the sweep stopped waiting for it');
      // Listening before the state is read: an end between the two still wakes the wait.
      const wake = this.nextWake(jobId);
      try {
        const state = await this.queue.getJobState(jobId);
        if (state === 'completed' || state === 'failed') {
          const now = await Job.fromId(this.queue, jobId);
          if (now && state === 'completed') return now.returnvalue as unknown;
          if (now) throw new Error(now.failedReason || 'the job failed');
        } else if (state === 'unknown') {
          this.log(`sweep: job ${jobId} is no longer in Redis (flushed, evicted, or Redis restarted without persistence); adding it again`);
          await this.add(jobId, payload);
        }
        // Waiting, active, delayed, or added again: not finished yet.
        await wake.promise;
      } finally {
        wake.cancel();
      }
    }
  }

  /**
   * A promise that resolves when the events say job `jobId` completed or failed, after
   * `queueTiming.pollMs`, or when close() begins; `cancel` removes its listeners and timer.
   */
  private nextWake(jobId: string): { promise: Promise<void>; cancel: () => void } {
    // Per-job event names (QueueEvents emits them beside 'completed'): one listener per waiting
    // job on 'completed' would pass the emitter's limit of 10 with more jobs than that waiting.
    const events = this.events as unknown as EventEmitter;
    let cancel = (): void => undefined;
    const promise = new Promise<void>((resolve) => {
      const timer = setTimeout(() => cancel(), queueTiming.pollMs);
      cancel = (): void => {
        clearTimeout(timer);
        events.removeListener(`completed:${jobId}`, cancel);
        events.removeListener(`failed:${jobId}`, cancel);
        this.wakers.delete(cancel);
        resolve();
      };
      events.on(`completed:${jobId}`, cancel);
      events.on(`failed:${jobId}`, cancel);
      this.wakers.add(cancel);
    });
    return { promise, cancel: () => cancel() };
  }

  samples(): number {
    let s = 0;
    for (const v of this.progress.values()) s += v;
    return s;
  }

  running(): number {
    // A job whose worker was killed stays active in Redis until another worker comes.
    return this.workers === 0 ? 0 : this.active.size;
  }

  async close(): Promise<void> {
    this.closing = true;
    for (const wake of [...this.wakers]) wake();
    clearInterval(this.watch);
    await closeWithin([this.events, this.queue]);
  }
}

/** Options of {@link startQueueWorker}. */
export interface QueueWorkerOptions {
  /** Redis URL, `redis://host:port`. */
  url: string;
  queueName?: string;
  /** Trainings at once (default: the cores). */
  concurrency?: number;
  /** Save each trained model as `<models>/<sweep>/<run-id>.safetensors`. */
  models?: string;
  /** Write checkpoints as `<checkpoints>/<sweep>/<run-id>.ckpt`: on a folder all workers share, a run retried elsewhere continues there. */
  checkpoints?: string;
  /** Folder of the dataset files on this machine. */
  dataDir?: string;
  /** Backend, unless a job names one. */
  backend?: BackendName;
  /** How long a job's lock lasts without renewal: a killed worker's job is given to another after about this long (default 30 s). */
  lockMs?: number;
  /**
   * Where the worker's lines go (default stdout).
   * @param line One line of text, without its newline.
   */
  log?: (line: string) => void;
}

/** A running queue worker. */
export interface QueueWorker {
  /**
   * Stops taking jobs, stops the trainings and puts their jobs back on the queue for another
   * worker, no attempt used (a worker killed without it leaves its jobs to the stalled-job check).
   */
  close(): Promise<void>;
  /** The datasets it holds loaded now (at most DATA_CACHE_SIZE). @internal */
  cachedDatasets(): number;
}

/**
 * The datasets a worker keeps loaded, the most recently used: a sweep's jobs share a few, while
 * every distinct data seed would otherwise stay in memory for the worker's life.
 */
const DATA_CACHE_SIZE = 4;

/** Checks a job's payload before running it; throws an Error naming the field at fault. */
export function validatePayload(input: unknown): JobPayload & { config: ReturnType<typeof validateRunConfig> } {
  if (input === null || typeof input !== 'object' || Array.isArray(input)) throw new SpecError('job payload: expected an object');
  const p = input as Record<string, unknown>;
  if (p.version !== 1) throw new SpecError(`job payload: "version": expected 1, got ${JSON.stringify(p.version)}`);
  if (typeof p.sweep !== 'string' || !/^[0-9a-f]{12}$/.test(p.sweep))
    throw new SpecError('job payload: "sweep": expected a 12-digit hex hash');
  // A control character (a newline...) would forge lines in the worker's log; a slash, a path.
  if (
    typeof p.runId !== 'string' ||
    p.runId === '' ||
    Buffer.byteLength(p.runId) > MAX_QUEUED_RUN_ID_BYTES ||
    /[/\\\p{Cc}\u2028\u2029]|^\.\.?$/u.test(p.runId)
  )
    throw new SpecError(
      `job payload: "runId": expected a file-name-safe string of at most ${MAX_QUEUED_RUN_ID_BYTES} bytes without control characters`,
    );
  if (p.backend !== undefined && p.backend !== 'js' && p.backend !== 'native')
    throw new SpecError(`job payload: "backend": expected "js" or "native", got ${JSON.stringify(p.backend)}`);
  const config = validateRunConfig(p.config, 'job payload: "config"');
  if (!SWEEP_DATASETS.includes(config.dataset)) throw new SpecError('job payload: "config.dataset" is not a dataset');
  return { ...(p as unknown as JobPayload), config };
}

/**
 * Checks at start that `dir` (a worker's --models or --checkpoints) is a folder this process can
 * write, making it if need be: otherwise every job would train, then fail to write there.
 */
function checkWritableFolder(flag: string, dir: string): void {
  try {
    ensureDir(dir);
    fs.accessSync(dir, fs.constants.W_OK);
  } catch (e) {
    throw new SpecError(`${flag} ${dir}: not a folder this worker can write (${firstLine(e)})`);
  }
}

/**
 * Takes jobs from the queue and runs them on a worker-thread pool of `concurrency` threads, until
 * closed. Throws (within seconds) when Redis cannot be reached at start; later losses of the
 * connection are reported and the worker carries on when Redis answers again.
 * @param o The Redis URL and queue, the trainings at once, where models, checkpoints and data are, the backend.
 */
export async function startQueueWorker(o: QueueWorkerOptions): Promise<QueueWorker> {
  const log = o.log ?? ((l: string) => process.stdout.write(`${l}\n`));
  // Every training would fail here: the worker refuses to start rather than fail each run it takes.
  const queueName = checkQueueName(o.queueName);
  if (o.backend === 'native' && !nativeAvailable())
    throw new SpecError('--backend native: the native backend does not load on this machine');
  if (o.dataDir !== undefined && !isDir(o.dataDir))
    throw new SpecError(`--data-dir ${o.dataDir}: not a folder on this machine (every job reading its data would fail)`);
  for (const [flag, dir] of [
    ['--models', o.models],
    ['--checkpoints', o.checkpoints],
  ] as const)
    if (dir !== undefined) checkWritableFolder(flag, dir);
  await checkRedis(o.url);
  const concurrency = o.concurrency ?? defaultConcurrency();
  const pool = new TrainingPool(concurrency, o.backend);
  const crowded = oversubscribed(concurrency, 'worker');
  if (crowded) log(crowded);
  const data = new Map<string, Promise<SharedData>>();
  const me = `${os.hostname()}:${process.pid}`;
  const lockMs = o.lockMs ?? 30000;
  /** Set by close(): a run its stop interrupts goes back to the queue, not failed nor completed. */
  let closing = false;
  const release = async (job: Job, token: string | undefined, runId: string): Promise<never> => {
    await job.moveToWait(token);
    log(`stopped ${runId}: its job goes back to the queue for another worker`);
    throw new WaitingError();
  };
  const worker = new Worker(
    queueName,
    async (job: Job, token?: string): Promise<JobResult> => {
      let payload: ReturnType<typeof validatePayload>;
      // A payload that is not a run fails for good: retrying it elsewhere would fail the same
      // way. The worker's own output says so too (the reason is otherwise only in Redis).
      const refuse = (why: string): never => {
        log(`refused job ${JSON.stringify(job.id)}: ${why}`);
        throw new UnrecoverableError(why);
      };
      try {
        payload = validatePayload(job.data);
      } catch (e) {
        return refuse((e as Error).message);
      }
      // The id names the files the job writes and reads (model, checkpoint): a job under another
      // run's id could overwrite that run's model or continue from its checkpoint.
      if (job.id !== `${payload.sweep}.${payload.runId}`)
        refuse(
          `job ${JSON.stringify(job.id)}: its id is not its payload's "<sweep>.<runId>" (${JSON.stringify(`${payload.sweep}.${payload.runId}`)}); refused`,
        );
      const config = payload.config;
      log(`started ${payload.runId} (job ${job.id}, attempt ${job.attemptsStarted ?? 1})`);
      const key = dataKey(config);
      // Loaded on a pool thread (MNIST takes most of a second): this thread goes on renewing the
      // locks of the jobs it holds. Jobs that want the same data at once share one load.
      let loading = data.get(key);
      if (loading)
        data.delete(key); // set again below: the Map's order is the order of use
      else loading = pool.load(config.dataset, config.dataSeed, o.dataDir);
      data.set(key, loading);
      // The least recently used go; a running job keeps its own reference.
      for (const old of data.keys()) {
        if (data.size <= DATA_CACHE_SIZE) break;
        data.delete(old);
      }
      let shared: SharedData;
      try {
        shared = await loading;
      } catch (e) {
        if (data.get(key) === loading) data.delete(key); // the next job tries again
        if (closing) return release(job, token, payload.runId);
        // This machine's fault, not the run's: the job fails (and is tried again, maybe elsewhere)
        // rather than completing with a failed run that a sweep would take as the run's result.
        log(`cannot run ${payload.runId}: ${firstLine(e)}`);
        throw new Error(`on ${me}: ${firstLine(e)}`);
      }
      const files = {
        model: o.models ? path.join(o.models, payload.sweep, `${payload.runId}.safetensors`) : undefined,
        checkpoint: o.checkpoints ? path.join(o.checkpoints, payload.sweep, `${payload.runId}.ckpt`) : undefined,
      };
      try {
        // Made before the training, not after it: a folder that cannot be made is this machine's
        // fault, and the job fails (to be tried again), rather than completing with a failed run.
        for (const f of [files.checkpoint, files.model]) if (f) ensureDir(path.dirname(f)); // not mkdirSync recursive: see ensureDir
      } catch (e) {
        if (closing) return release(job, token, payload.runId);
        log(`cannot run ${payload.runId}: ${firstLine(e)}`);
        throw new Error(`on ${me}: ${firstLine(e)}`);
      }
      const progress = new SharedArrayBuffer(8);
      const counter = new BigInt64Array(progress);
      const tick = setInterval(() => {
        job.updateProgress({ samples: Number(Atomics.load(counter, 0)) }).catch(() => undefined);
      }, 1000);
      try {
        const outcome = await pool.run(payload.runId, config, shared, files, progress, payload.backend);
        // A run cut short by the stop is not its result (a run that finished is).
        if (closing && outcome.status === 'failed') return await release(job, token, payload.runId);
        // A finished run's checkpoint has served (as a local sweep's): left, it would pile up, and
        // the same run on another queue would take it for an interrupted training of its own.
        // One that cannot go (a folder made read-only since) is only disk space: the run is done.
        if (outcome.status === 'done' && files.checkpoint && !removeCheckpoint(files.checkpoint))
          log(`finished ${payload.runId}: its checkpoint ${files.checkpoint} could not be removed`);
        log(
          `finished ${payload.runId}: ${outcome.status === 'done' ? `test accuracy ${percent(outcome.metrics.testAccuracy)}` : `FAILED: ${outcome.error}`}`,
        );
        return { outcome, worker: me };
      } finally {
        clearInterval(tick);
      }
    },
    {
      connection: { ...redisOptions(o.url), maxRetriesPerRequest: null },
      concurrency,
      lockDuration: lockMs,
      stalledInterval: lockMs,
      // A job whose worker died twice is still given a third chance; beyond that it is failed, not retried forever.
      maxStalledCount: 2,
    },
  );
  worker.on('error', errorReporter('worker', o.url, log));
  await worker.waitUntilReady();
  log(
    `neurone worker ${me}: ${concurrency} training${concurrency === 1 ? '' : 's'} at once on queue '${queueName}' at ${withoutCredentials(o.url)}`,
  );
  return {
    close: async () => {
      // No new job, then the trainings stop (their jobs go back to the queue), then the worker.
      closing = true;
      await worker.pause(true);
      await pool.close();
      // Redis away: the worker's loop waits on it for ever, and BullMQ's timers with it; the
      // trainings have stopped, so nothing is left to hand back (the jobs stay active in Redis
      // until a worker's stalled-job check puts them back, as after a kill).
      // (The client is there: startQueueWorker waited for the worker to be ready.)
      const away = (await connectionsOf(worker)[0]).status !== 'ready';
      await closeWithin([worker], away);
    },
    cachedDatasets: () => data.size,
  };
}
