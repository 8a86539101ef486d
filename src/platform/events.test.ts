import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { waitFor } from '../../test/helpers/app.ts';
import { openTestDatabase } from '../../test/helpers/database.ts';
import type { Database } from './db.ts';
import { createEvents, type DomainEvent, type Events } from './events.ts';
import { createJobs, type Jobs } from './jobs.ts';
import { createLogger } from './logger.ts';
import { createMetrics } from './metrics.ts';

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

describe('domain events', () => {
  let database: Database;
  let closeDb: () => Promise<void>;
  let jobs: Jobs;
  let events: Events;
  const handled: Array<{ consumer: string; event: DomainEvent<{ n: number }> }> = [];
  let failOnce = true;

  beforeAll(async () => {
    ({ database, close: closeDb } = await openTestDatabase());
    await database.executor.executeSql(
      'create table public.side_effects (id serial primary key, note text not null)',
    );
    jobs = createJobs({
      database,
      logger: createLogger('silent'),
      metrics: createMetrics(),
      workers: true,
      pollIntervalSeconds: 0.5,
      retryLimit: 3,
      retryDelaySeconds: 1,
    });
    events = createEvents({ database, jobs });
    events.subscribe<{ n: number }>({
      event: 'test.thing.happened',
      consumer: 'test.recordThing',
      handle: async (event, tx) => {
        handled.push({ consumer: 'test.recordThing', event });
        await database
          .executorFor(tx)
          .executeSql('insert into public.side_effects (note) values ($1)', [`thing ${event.payload.n}`]);
      },
    });
    events.subscribe<{ n: number }>({
      event: 'test.thing.happened',
      consumer: 'test.flakyConsumer',
      handle: async (event, tx) => {
        await database
          .executorFor(tx)
          .executeSql('insert into public.side_effects (note) values ($1)', [`flaky ${event.payload.n}`]);
        if (failOnce) {
          failOnce = false;
          throw new Error('fails after writing: the write must roll back');
        }
        handled.push({ consumer: 'test.flakyConsumer', event });
      },
    });
    await jobs.start();
  });
  afterAll(async () => {
    await jobs.stop();
    await closeDb();
  });

  const notes = async () =>
    (await database.executor.executeSql('select note from public.side_effects order by id')).rows.map(
      (r) => r.note as string,
    );

  it('delivers a committed event to every subscriber, each side effect once even after a failed attempt', async () => {
    const event = await database.db.transaction((tx) => events.publish(tx, 'test.thing.happened', { n: 1 }));
    await waitFor(async () => handled.filter((h) => h.event.id === event.id).length === 2, 15_000);
    expect(handled.find((h) => h.consumer === 'test.recordThing')?.event).toMatchObject({
      name: 'test.thing.happened',
      payload: { n: 1 },
    });
    expect((await notes()).sort()).toEqual(['flaky 1', 'thing 1']);
    expect(await events.wasProcessed('test.recordThing', event.id)).toBe(true);
  });

  it('never delivers an event whose transaction rolled back', async () => {
    await expect(
      database.db.transaction(async (tx) => {
        await events.publish(tx, 'test.thing.happened', { n: 2 });
        throw new Error('abort');
      }),
    ).rejects.toThrow('abort');
    const marker = await database.db.transaction((tx) => events.publish(tx, 'test.thing.happened', { n: 3 }));
    await waitFor(async () => handled.filter((h) => h.event.id === marker.id).length === 2, 15_000);
    await sleep(500);
    expect(handled.some((h) => h.event.payload.n === 2)).toBe(false);
    expect(await notes()).not.toContain('thing 2');
  });

  it('handles a redelivered event once per consumer', async () => {
    const event = await database.db.transaction((tx) => events.publish(tx, 'test.thing.happened', { n: 4 }));
    await waitFor(async () => handled.filter((h) => h.event.id === event.id).length === 2, 15_000);
    // The broker delivers the same event again (as after a crash between handling and acknowledging).
    await jobs.send('test.recordThing', event);
    await jobs.send('test.recordThing', event);
    await sleep(2000);
    expect(handled.filter((h) => h.event.id === event.id && h.consumer === 'test.recordThing')).toHaveLength(
      1,
    );
    expect((await notes()).filter((n) => n === 'thing 4')).toHaveLength(1);
  });

  it('publishing an event nobody listens to is a no-op', async () => {
    const event = await database.db.transaction((tx) => events.publish(tx, 'test.nobody.cares', { n: 5 }));
    expect(event.id).toMatch(/^[0-9a-f-]{36}$/);
    expect(events.subscribersOf('test.nobody.cares')).toEqual([]);
  });
});
