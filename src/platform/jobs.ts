import PgBoss from 'pg-boss';
import type { Database, DbOrTx } from './db.ts';
import type { Logger } from './logger.ts';
import type { Metrics } from './metrics.ts';

export interface JobContext {
  id: string;
  /** How many times this job failed before this attempt. */
  retryCount: number;
}

export interface JobDefinition<T> {
  /** Queue name, `module.verbNoun` (e.g. `platform.sendEmail`). */
  name: string;
  handler: (data: T, job: JobContext) => Promise<void>;
  retryLimit?: number;
  retryDelaySeconds?: number;
  /** Exponential backoff with jitter between retries (default true). */
  retryBackoff?: boolean;
  expireInSeconds?: number;
  /** Parallel handlers of this queue per worker process (default 1). */
  concurrency?: number;
}

export interface SendOptions {
  /** Enqueue inside this transaction: the job exists only if the transaction commits. */
  tx?: DbOrTx;
  startAfter?: Date | number;
  singletonKey?: string;
  /** A caller-chosen UUID makes the send idempotent: a second send with the same id is ignored. */
  id?: string;
}

export interface JobsOptions {
  database: Database;
  logger: Logger;
  metrics: Metrics;
  /** Whether this process consumes jobs (roles `all` and `worker`). */
  workers: boolean;
  pollIntervalSeconds: number;
  retryLimit: number;
  retryDelaySeconds: number;
}

export const deadLetterQueueOf = (name: string) => `${name}.dead`;

/** Job queues on pg-boss: durable, transactional enqueue, retries with backoff, dead letters. */
export function createJobs(options: JobsOptions) {
  const { database, logger, metrics } = options;
  // pg-boss considers itself idle while a worker's fetch is still in flight, so a fetched job can
  // finish (complete/fail) after stop() returned and the pool closed. Once stopped, such stragglers'
  // SQL never settles: they neither touch the closed pool nor throw (pg-boss handles neither an
  // error nor an empty answer there). Their job stays `active` and pg-boss retries it on expiry.
  let closed = false;
  const bossDb: PgBoss.Db = {
    executeSql: (text, values) =>
      closed ? new Promise(() => undefined) : database.executor.executeSql(text, values),
  };
  const boss = new PgBoss({
    db: bossDb,
    schema: 'pgboss',
    supervise: options.workers,
    schedule: options.workers,
    migrate: true,
  });
  boss.on('error', (err) => logger.error({ err }, 'job queue error'));
  const definitions = new Map<string, JobDefinition<unknown>>();
  const schedules = new Map<string, string>();
  let started = false;
  let stopping = false;

  async function createQueue(def: JobDefinition<unknown>) {
    const dead = deadLetterQueueOf(def.name);
    const queue: PgBoss.Queue = {
      name: def.name,
      retryLimit: def.retryLimit ?? options.retryLimit,
      retryDelay: def.retryDelaySeconds ?? options.retryDelaySeconds,
      retryBackoff: def.retryBackoff ?? true,
      deadLetter: dead,
      ...(def.expireInSeconds ? { expireInSeconds: def.expireInSeconds } : {}),
    };
    if (!(await boss.getQueue(dead)))
      await boss.createQueue(dead, { name: dead, retentionDays: 30 } as PgBoss.Queue);
    if (await boss.getQueue(def.name)) await boss.updateQueue(def.name, queue);
    else await boss.createQueue(def.name, queue);
  }

  async function startWorker(def: JobDefinition<unknown>) {
    const concurrency = def.concurrency ?? 1;
    for (let i = 0; i < concurrency; i++) {
      await boss.work(
        def.name,
        { pollingIntervalSeconds: options.pollIntervalSeconds, batchSize: 1, includeMetadata: true },
        async ([job]) => {
          if (!job) return;
          const stopTimer = metrics.jobDuration.startTimer({ queue: def.name });
          try {
            await def.handler(job.data, { id: job.id, retryCount: job.retryCount });
            metrics.jobsProcessed.inc({ queue: def.name, outcome: 'completed' });
          } catch (err) {
            metrics.jobsProcessed.inc({ queue: def.name, outcome: 'failed' });
            const final = job.retryCount >= job.retryLimit;
            logger.warn(
              { err, jobId: job.id, queue: def.name, retryCount: job.retryCount, final },
              final ? 'job failed for good; dead-lettered' : 'job failed; will retry',
            );
            throw err;
          } finally {
            stopTimer();
          }
        },
      );
    }
  }

  return {
    boss,
    /** Declares a queue and its handler. Call before start(); handlers run only in worker roles. */
    define<T>(def: JobDefinition<T>) {
      if (definitions.has(def.name)) throw new Error(`Job ${def.name} is defined twice`);
      definitions.set(def.name, def as JobDefinition<unknown>);
      if (started) throw new Error(`Job ${def.name} defined after start`);
    },

    /**
     * Runs a defined job on a cron schedule (UTC), e.g. `'0 * * * *'` (hourly). pg-boss keeps one schedule
     * per queue in the database and, with several worker processes, enqueues each tick once.
     */
    schedule(name: string, cron: string) {
      if (!definitions.has(name)) throw new Error(`Unknown job ${name}`);
      if (started) throw new Error(`Job ${name} scheduled after start`);
      schedules.set(name, cron);
    },

    async send<T extends object>(name: string, data: T, opts: SendOptions = {}): Promise<string | null> {
      if (!definitions.has(name)) throw new Error(`Unknown job ${name}`);
      const id = await boss.send(name, data, {
        ...(opts.tx ? { db: database.executorFor(opts.tx) as PgBoss.Db } : {}),
        ...(opts.startAfter !== undefined ? { startAfter: opts.startAfter } : {}),
        ...(opts.singletonKey ? { singletonKey: opts.singletonKey } : {}),
        ...(opts.id ? { id: opts.id } : {}),
      });
      if (id) metrics.jobsEnqueued.inc({ queue: name });
      return id;
    },

    async start() {
      await boss.start();
      for (const def of definitions.values()) await createQueue(def);
      for (const [name, cron] of schedules) await boss.schedule(name, cron, {}, { tz: 'UTC' });
      started = true;
      if (options.workers) for (const def of definitions.values()) await startWorker(def);
    },

    /** Stops fetching; waits for running handlers up to the timeout. */
    async stop(timeoutMs = 20_000) {
      if (stopping) return;
      stopping = true;
      if (!started) {
        closed = true;
        return;
      }
      await boss.stop({ graceful: true, wait: true, close: false, timeout: timeoutMs });
      closed = true;
    },

    async ping() {
      if (!started) throw new Error('job queue not started');
      await database.executor.executeSql('select 1 from pgboss.version limit 1');
    },

    /** Counts of jobs per queue and state, for health, metrics and the admin API. */
    async countByState(): Promise<Array<{ queue: string; state: string; count: number }>> {
      const { rows } = await database.executor.executeSql(
        'select name as queue, state, count(*)::int as count from pgboss.job group by name, state order by name, state',
      );
      return rows as Array<{ queue: string; state: string; count: number }>;
    },

    definedQueues: () => [...definitions.keys()],
  };
}
export type Jobs = ReturnType<typeof createJobs>;
