import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { openTestDatabase } from '../../test/helpers/database.ts';
import { waitFor } from '../../test/helpers/app.ts';
import type { Database } from './db.ts';
import { createJobs, deadLetterQueueOf, type Jobs } from './jobs.ts';
import { createLogger } from './logger.ts';
import { createMetrics, type Metrics } from './metrics.ts';

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

async function jobRows(database: Database, name: string) {
  const { rows } = await database.executor.executeSql(
    'select id, state, retry_count, data from pgboss.job where name = $1 order by created_on',
    [name],
  );
  return rows as Array<{ id: string; state: string; retry_count: number; data: Record<string, unknown> }>;
}

describe('jobs on pg-boss', () => {
  let database: Database;
  let closeDb: () => Promise<void>;
  let jobs: Jobs;
  let metrics: Metrics;
  const seen: Array<{ queue: string; data: unknown; retryCount: number }> = [];
  let releaseSlow: (() => void) | undefined;
  let slowFinished = false;

  beforeAll(async () => {
    ({ database, close: closeDb } = await openTestDatabase());
    metrics = createMetrics();
    jobs = createJobs({
      database,
      logger: createLogger('silent'),
      metrics,
      workers: true,
      pollIntervalSeconds: 0.5,
      retryLimit: 3,
      retryDelaySeconds: 1,
    });
    jobs.define<{ n: string }>({
      name: 'test.record',
      handler: async (data, job) => {
        seen.push({ queue: 'test.record', data, retryCount: job.retryCount });
      },
    });
    jobs.define<{ n: string }>({
      name: 'test.alwaysFails',
      retryLimit: 2,
      retryDelaySeconds: 1,
      handler: async (data, job) => {
        seen.push({ queue: 'test.alwaysFails', data, retryCount: job.retryCount });
        throw new Error('downstream is down');
      },
    });
    jobs.define<{ n: string }>({
      name: 'test.flaky',
      retryDelaySeconds: 1,
      handler: async (data, job) => {
        seen.push({ queue: 'test.flaky', data, retryCount: job.retryCount });
        if (job.retryCount < 1) throw new Error('first attempt fails');
      },
    });
    jobs.define<object>({
      name: 'test.slow',
      handler: async () => {
        await new Promise<void>((resolve) => (releaseSlow = resolve));
        slowFinished = true;
      },
    });
    await jobs.start();
  });
  afterAll(async () => {
    await jobs.stop();
    await closeDb();
  });

  it('runs a job enqueued in a committed transaction', async () => {
    await database.db.transaction(async (tx) => {
      await jobs.send('test.record', { n: 'committed' }, { tx });
    });
    await waitFor(async () => seen.find((s) => (s.data as { n: string }).n === 'committed'));
  });

  it('never runs a job enqueued in a rolled-back transaction', async () => {
    await expect(
      database.db.transaction(async (tx) => {
        await jobs.send('test.record', { n: 'rolled-back' }, { tx });
        throw new Error('business rule failed');
      }),
    ).rejects.toThrow('business rule failed');
    // A later committed job proves the worker polled past the moment the rolled-back one would have run.
    await jobs.send('test.record', { n: 'after-rollback' });
    await waitFor(async () => seen.find((s) => (s.data as { n: string }).n === 'after-rollback'));
    await sleep(1000);
    expect(seen.filter((s) => (s.data as { n: string }).n === 'rolled-back')).toHaveLength(0);
    expect((await jobRows(database, 'test.record')).map((r) => r.data.n)).not.toContain('rolled-back');
  });

  it('retries a failing job with backoff, then moves it to the dead-letter queue', async () => {
    const id = await jobs.send('test.alwaysFails', { n: 'doomed' });
    expect(id).toBeTruthy();
    const dead = await waitFor(
      async () => (await jobRows(database, deadLetterQueueOf('test.alwaysFails')))[0],
      20_000,
    );
    expect(dead.data).toEqual({ n: 'doomed' });
    const attempts = seen.filter((s) => s.queue === 'test.alwaysFails');
    expect(attempts.map((a) => a.retryCount)).toEqual([0, 1, 2]);
    const [original] = await jobRows(database, 'test.alwaysFails');
    expect(original).toMatchObject({ state: 'failed', retry_count: 2 });
    const text = await metrics.registry.metrics();
    expect(text).toMatch(/lectern_jobs_processed_total\{queue="test.alwaysFails",outcome="failed"\} 3/);
  });

  it('completes a job that succeeds on retry', async () => {
    await jobs.send('test.flaky', { n: 'flaky' });
    await waitFor(async () => {
      const [row] = await jobRows(database, 'test.flaky');
      return row?.state === 'completed' ? row : undefined;
    }, 15_000);
    expect(seen.filter((s) => s.queue === 'test.flaky').map((s) => s.retryCount)).toEqual([0, 1]);
  });

  it('treats a repeated caller-chosen id as the same job', async () => {
    const id = randomUUID();
    expect(await jobs.send('test.record', { n: 'once' }, { id })).toBe(id);
    expect(await jobs.send('test.record', { n: 'once' }, { id })).toBeNull();
    await waitFor(async () => seen.find((s) => (s.data as { n: string }).n === 'once'));
    await sleep(800);
    expect(seen.filter((s) => (s.data as { n: string }).n === 'once')).toHaveLength(1);
  });

  it('refuses to enqueue an undefined job', async () => {
    await expect(jobs.send('test.nope', {})).rejects.toThrow('Unknown job test.nope');
  });

  it('counts jobs by queue and state', async () => {
    const counts = await jobs.countByState();
    expect(counts).toContainEqual(expect.objectContaining({ queue: 'test.record', state: 'completed' }));
  });

  it('lets a running job finish when stopping', async () => {
    await jobs.send('test.slow', {});
    await waitFor(async () => releaseSlow);
    const stopping = jobs.stop(10_000);
    await sleep(300);
    expect(slowFinished).toBe(false);
    releaseSlow!();
    await stopping;
    expect(slowFinished).toBe(true);
  });
});

describe('jobs in the api role', () => {
  it('enqueues but never consumes', async () => {
    const { database, close } = await openTestDatabase();
    const handled: unknown[] = [];
    const jobs = createJobs({
      database,
      logger: createLogger('silent'),
      metrics: createMetrics(),
      workers: false,
      pollIntervalSeconds: 0.5,
      retryLimit: 1,
      retryDelaySeconds: 1,
    });
    jobs.define({ name: 'test.apiRole', handler: async (d) => void handled.push(d) });
    await jobs.start();
    await jobs.send('test.apiRole', { n: 1 });
    await sleep(1500);
    expect(handled).toHaveLength(0);
    expect((await jobRows(database, 'test.apiRole'))[0]?.state).toBe('created');
    await jobs.stop();
    await close();
  });
});

describe('jobs after stop', () => {
  it('leaves a straggling completion pending instead of touching the closed database', async () => {
    const { database, close } = await openTestDatabase();
    const jobs = createJobs({
      database,
      logger: createLogger('silent'),
      metrics: createMetrics(),
      workers: false,
      pollIntervalSeconds: 0.5,
      retryLimit: 1,
      retryDelaySeconds: 1,
    });
    jobs.define({ name: 'test.straggler', handler: async () => undefined });
    await jobs.start();
    const id = await jobs.send('test.straggler', {});
    await jobs.stop();
    await close();
    // What a worker whose fetch raced the shutdown would do next.
    const late = jobs.boss.complete('test.straggler', id!).then(
      () => 'settled',
      () => 'rejected',
    );
    const outcome = await Promise.race([late, new Promise((r) => setTimeout(() => r('pending'), 300))]);
    expect(outcome).toBe('pending');
  });
});

describe('a worker with a backlog', () => {
  it('takes the next job at once instead of waiting a polling interval after each', async () => {
    const { database, close } = await openTestDatabase();
    const handled: number[] = [];
    const open = (workers: boolean) => {
      const jobs = createJobs({
        database,
        logger: createLogger('silent'),
        metrics: createMetrics(),
        workers,
        // Long enough that ten jobs one interval apart could not finish within the wait below.
        pollIntervalSeconds: 30,
        retryLimit: 1,
        retryDelaySeconds: 1,
      });
      jobs.define<{ n: number }>({ name: 'test.backlog', handler: async ({ n }) => void handled.push(n) });
      return jobs;
    };
    // An api process queues ten jobs; a worker started afterwards finds them on its first poll.
    const api = open(false);
    await api.start();
    for (let n = 0; n < 10; n++) await api.send('test.backlog', { n });
    const worker = open(true);
    await worker.start();
    await waitFor(async () => handled.length === 10, 15_000);
    expect([...handled].sort((a, b) => a - b)).toEqual([0, 1, 2, 3, 4, 5, 6, 7, 8, 9]);
    await worker.stop();
    await api.stop();
    await close();
  });
});
