import PgBoss from 'pg-boss';
import type { Database, DbOrTx, SqlExecutor, SqlRow } from './db.ts';
import { Conflict, NotFound } from './errors.ts';
import type { Logger } from './logger.ts';
import type { Metrics } from './metrics.ts';

export interface JobContext {
  id: string;
  /** How many times this job failed before this attempt. */
  retryCount: number;
  /** Retries allowed; the attempt with `retryCount === retryLimit` is the last before dead-lettering. */
  retryLimit: number;
}

export interface JobDefinition<T> {
  /** Queue name, `module.verbNoun` (e.g. `platform.sendEmail`). */
  name: string;
  handler: (data: T, job: JobContext) => Promise<void>;
  /** Retries after the first attempt before the job fails for good and is dead-lettered (default JOBS_RETRY_LIMIT). */
  retryLimit?: number;
  /** Base delay before the first retry (default JOBS_RETRY_DELAY_SECONDS). */
  retryDelaySeconds?: number;
  /**
   * Exponential backoff with jitter between retries (default true). pg-boss waits
   * `delay * 2^retryCount * (1 + random())` seconds after the failed attempt with that retryCount:
   * the nth retry comes between `delay * 2^(n-1)` and `delay * 2^n` after the failure ("equal jitter").
   */
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
const DEAD_SUFFIX = '.dead';
/** The queue a dead-letter queue collects for (`a.b.dead` → `a.b`), or null for ordinary queues. */
export const originalQueueOf = (name: string) =>
  name.endsWith(DEAD_SUFFIX) ? name.slice(0, -DEAD_SUFFIX.length) : null;

export const jobStates = ['created', 'retry', 'active', 'completed', 'cancelled', 'failed'] as const;
export type JobState = (typeof jobStates)[number];

/** A job as the admin API and metrics see it (one row of pg-boss's job table). */
export interface JobRecord {
  id: string;
  queue: string;
  state: JobState;
  data: unknown;
  output: unknown;
  retryCount: number;
  retryLimit: number;
  createdOn: Date;
  startAfter: Date;
  startedOn: Date | null;
  completedOn: Date | null;
  /** Keyset position (creation time in microseconds since the epoch) for paging. */
  position: string;
}

export interface QueueStats {
  queue: string;
  counts: Record<JobState, number>;
}

const JOB_COLUMNS = `id::text as id, name, state::text as state, data, output, retry_count, retry_limit,
  created_on, start_after, started_on, completed_on,
  (extract(epoch from created_on) * 1000000)::bigint::text as position`;

const toJobRecord = (r: SqlRow): JobRecord => ({
  id: r.id,
  queue: r.name,
  state: r.state,
  data: r.data,
  output: r.output,
  retryCount: r.retry_count,
  retryLimit: r.retry_limit,
  createdOn: new Date(r.created_on),
  startAfter: new Date(r.start_after),
  startedOn: r.started_on ? new Date(r.started_on) : null,
  completedOn: r.completed_on ? new Date(r.completed_on) : null,
  position: r.position,
});

/** pg-boss's command methods answer `{ affected }` although its typings say void. */
const affectedBy = (result: unknown) => (result as { affected?: number } | undefined)?.affected ?? 0;

/** Job queues on pg-boss: durable, transactional enqueue, retries with backoff, dead letters. */
export function createJobs(options: JobsOptions) {
  const { database, logger, metrics } = options;
  // pg-boss considers itself idle while a worker's fetch is still in flight, so a fetched job can
  // run and finish (complete/fail) after its stop() returned. stop() therefore also waits until no
  // pg-boss SQL is in flight and no handler runs (see `settle`). Whatever still comes after that
  // (only past the shutdown timeout) never settles: it neither touches the closed pool nor throws
  // (pg-boss handles neither an error nor an empty answer there); its job stays `active` and
  // pg-boss retries it on expiry.
  let closed = false;
  let sqlInFlight = 0;
  let handlersRunning = 0;
  const bossDb: PgBoss.Db = {
    executeSql: (text, values) => {
      if (closed) return new Promise(() => undefined);
      sqlInFlight++;
      return database.executor.executeSql(text, values).finally(() => sqlInFlight--);
    },
  };
  /** Waits (until `deadline`) for two consecutive quiet checks: no pg-boss SQL, no handler. */
  async function settle(deadline: number) {
    let quiet = 0;
    while (quiet < 2 && Date.now() < deadline) {
      await new Promise((resolve) => setTimeout(resolve, 25));
      quiet = sqlInFlight === 0 && handlersRunning === 0 ? quiet + 1 : 0;
    }
  }
  const boss = new PgBoss({
    db: bossDb,
    schema: 'pgboss',
    supervise: options.workers,
    schedule: options.workers,
    migrate: true,
    // Failed jobs stay visible to admins (list, retry) for a week before pg-boss archives them
    // (its default is 12 hours); their dead-letter copies are kept as long as the queue's retention.
    archiveFailedAfterSeconds: 7 * 86_400,
  });
  boss.on('error', (err) => logger.error({ err }, 'job queue error'));
  const definitions = new Map<string, JobDefinition<unknown>>();
  const schedules = new Map<string, string>();
  let started = false;
  let stopping = false;

  async function countByState(): Promise<Array<{ queue: string; state: string; count: number }>> {
    const { rows } = await database.executor.executeSql(
      'select name as queue, state, count(*)::int as count from pgboss.job group by name, state order by name, state',
    );
    return rows as Array<{ queue: string; state: string; count: number }>;
  }

  // Read from the database at scrape time, so every process reports the whole, shared queue.
  metrics.gauge(
    'lectern_job_queue_depth',
    'Jobs per queue and state (dead-letter queues end in .dead), read at scrape time',
    ['queue', 'state'],
    async (gauge) => {
      if (!started || closed) return;
      try {
        const rows = await countByState();
        gauge.reset();
        for (const r of rows) gauge.set({ queue: r.queue, state: r.state }, r.count);
      } catch (err) {
        logger.warn({ err }, 'could not read queue depth for metrics');
      }
    },
  );

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
      // pg-boss waits a whole polling interval after every fetch, even one that found a job; told
      // that it found one, the worker fetches the next at once, so a backlog drains without pauses
      // and an idle worker still polls only once per interval.
      const worker: { id?: string } = {};
      worker.id = await boss.work(
        def.name,
        { pollingIntervalSeconds: options.pollIntervalSeconds, batchSize: 1, includeMetadata: true },
        async ([job]) => {
          if (!job) return;
          if (worker.id) boss.notifyWorker(worker.id);
          handlersRunning++;
          const stopTimer = metrics.jobDuration.startTimer({ queue: def.name });
          try {
            await def.handler(job.data, {
              id: job.id,
              retryCount: job.retryCount,
              retryLimit: job.retryLimit,
            });
            metrics.jobsProcessed.inc({ queue: def.name, outcome: 'completed' });
          } catch (err) {
            metrics.jobsProcessed.inc({ queue: def.name, outcome: 'failed' });
            const final = job.retryCount >= job.retryLimit;
            if (final) metrics.jobsDeadLettered.inc({ queue: def.name });
            logger.warn(
              { err, jobId: job.id, queue: def.name, retryCount: job.retryCount, final },
              final ? 'job failed for good; dead-lettered' : 'job failed; will retry',
            );
            throw err;
          } finally {
            stopTimer();
            handlersRunning--;
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
      const deadline = Date.now() + timeoutMs;
      await boss.stop({ graceful: true, wait: true, close: false, timeout: timeoutMs });
      await settle(deadline);
      closed = true;
    },

    async ping() {
      if (!started) throw new Error('job queue not started');
      await database.executor.executeSql('select 1 from pgboss.version limit 1');
    },

    /** Counts of jobs per queue and state, for health, metrics and the admin API. */
    countByState,

    definedQueues: () => [...definitions.keys()],

    /** Inspection and repair for operators (the admin jobs API); see createJobAdmin. */
    admin: createJobAdmin({ database, boss, isDefined: (name) => definitions.has(name) }),
  };
}
export type Jobs = ReturnType<typeof createJobs>;

/**
 * Lists, retries and deletes jobs in pg-boss's tables. Repairs run in one transaction with the
 * job's row locked, so a worker never fetches a job while it is being retried or deleted.
 */
function createJobAdmin(deps: { database: Database; boss: PgBoss; isDefined: (name: string) => boolean }) {
  const { database, boss } = deps;

  async function findJob(db: SqlExecutor, id: string, lock = false): Promise<JobRecord | null> {
    const { rows } = await db.executeSql(
      `select ${JOB_COLUMNS} from pgboss.job where id = $1 order by created_on desc limit 1${lock ? ' for update' : ''}`,
      [id],
    );
    return rows[0] ? toJobRecord(rows[0]) : null;
  }

  /** Runs `fn` in a transaction with pg-boss calls bound to it (`{ db }`). */
  function inTransaction<T>(fn: (db: SqlExecutor & PgBoss.Db) => Promise<T>): Promise<T> {
    return database.db.transaction(async (tx) => fn(database.executorFor(tx) as SqlExecutor & PgBoss.Db));
  }

  return {
    /** Newest first; `before` is the `position` of the previous page's last job. */
    async list(filter: {
      queue?: string;
      state?: JobState;
      limit: number;
      before?: { position: string; id: string };
    }): Promise<JobRecord[]> {
      const { rows } = await database.executor.executeSql(
        `select ${JOB_COLUMNS} from pgboss.job
         where ($1::text is null or name = $1)
           and ($2::text is null or state::text = $2)
           and ($3::bigint is null
                or ((extract(epoch from created_on) * 1000000)::bigint, id) < ($3::bigint, $4::uuid))
         order by created_on desc, id desc
         limit $5`,
        [
          filter.queue ?? null,
          filter.state ?? null,
          filter.before?.position ?? null,
          filter.before?.id ?? null,
          filter.limit,
        ],
      );
      return rows.map(toJobRecord);
    },

    get: (id: string) => findJob(database.executor, id),

    /** Counts per queue (every declared queue, dead-letter queues included) and state. */
    async stats(): Promise<QueueStats[]> {
      const { rows } = await database.executor.executeSql(
        `select q.name as queue, j.state::text as state, count(j.id)::int as count
         from pgboss.queue q left join pgboss.job j on j.name = q.name
         group by q.name, j.state order by q.name`,
      );
      const byQueue = new Map<string, QueueStats>();
      for (const r of rows) {
        let entry = byQueue.get(r.queue);
        if (!entry) {
          entry = {
            queue: r.queue,
            counts: Object.fromEntries(jobStates.map((s) => [s, 0])) as Record<JobState, number>,
          };
          byQueue.set(r.queue, entry);
        }
        if (r.state) entry.counts[r.state as JobState] = r.count;
      }
      return [...byQueue.values()];
    },

    /**
     * Runs a failed or dead-lettered job again and returns the job that will run. A failed job and
     * its dead-letter copy are one failure (pg-boss writes the copy in the statement that fails the
     * job, so the copy's created_on equals the job's completed_on): retrying either retries the
     * original in place when it still exists (one more attempt, same id), otherwise re-sends the
     * copy's data to the original queue, and cancels the copy so the failure is not retried twice.
     */
    async retry(id: string): Promise<JobRecord> {
      // The answer is the job as this transaction leaves it: read after the commit, a fast worker
      // could already have picked it up.
      return inTransaction(async (db) => {
        const job = await findJob(db, id, true);
        if (!job) throw new NotFound('Job not found');
        const original = originalQueueOf(job.queue);
        if (original === null) {
          if (job.state !== 'failed')
            throw new Conflict(`Only failed or dead-lettered jobs can be retried; this one is ${job.state}`);
          const { rows } = await db.executeSql(
            `select d.id::text as id from pgboss.job d join pgboss.job o on o.name = $1 and o.id = $2
             where d.name = o.dead_letter and d.state = 'created' and d.created_on = o.completed_on
               and d.data is not distinct from o.data
             limit 1 for update of d`,
            [job.queue, job.id],
          );
          if (affectedBy(await boss.retry(job.queue, job.id, { db })) !== 1)
            throw new Conflict('The job changed state; try again');
          if (rows[0]) await boss.cancel(deadLetterQueueOf(job.queue), rows[0].id, { db });
          return (await findJob(db, job.id))!;
        }
        if (job.state !== 'created')
          throw new Conflict(`This dead-lettered job was already handled (${job.state})`);
        if (!deps.isDefined(original))
          throw new Conflict(`Queue ${original} is no longer defined; the job cannot run`);
        const { rows } = await db.executeSql(
          `select o.id::text as id from pgboss.job o join pgboss.job d on d.name = $1 and d.id = $2
           where o.name = $3 and o.state = 'failed' and o.completed_on = d.created_on
             and o.data is not distinct from d.data
           limit 1 for update of o`,
          [job.queue, job.id, original],
        );
        let run: string | null;
        if (rows[0] && affectedBy(await boss.retry(original, rows[0].id, { db })) === 1) run = rows[0].id;
        else run = await boss.send(original, (job.data ?? {}) as object, { db });
        if (!run) throw new Conflict('The job could not be re-sent');
        await boss.cancel(job.queue, job.id, { db });
        return (await findJob(db, run))!;
      });
    },

    /** Deletes a job that is not running (a queued job never runs); an active one is 409. */
    async delete(id: string): Promise<JobRecord> {
      return inTransaction(async (db) => {
        const job = await findJob(db, id, true);
        if (!job) throw new NotFound('Job not found');
        if (job.state === 'active') throw new Conflict('The job is running; wait for it to finish or fail');
        await boss.deleteJob(job.queue, job.id, { db });
        return job;
      });
    },
  };
}
