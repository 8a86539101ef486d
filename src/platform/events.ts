import { randomUUID } from 'node:crypto';
import type { Database, Tx } from './db.ts';
import type { Jobs } from './jobs.ts';
import { processedEvents } from './platform.tables.ts';

/** A domain event as consumers receive it. Names read `module.entity.pastTense`. */
export interface DomainEvent<T = unknown> {
  id: string;
  name: string;
  occurredAt: string;
  payload: T;
}

export interface Subscription<T> {
  /** The event to react to, e.g. `identity.user.registered`. */
  event: string;
  /** Unique consumer name, `module.verbNoun` (e.g. `notifications.sendWelcome`); also its job queue. */
  consumer: string;
  /**
   * Runs inside a transaction that also records the event as processed, so a redelivered event
   * changes nothing twice. Enqueue follow-up jobs with `{ tx }` to keep them exactly-once too.
   */
  handle: (event: DomainEvent<T>, tx: Tx) => Promise<void>;
  retryLimit?: number;
}

/**
 * Domain events over jobs: `publish` enqueues one job per subscriber inside the publisher's
 * transaction (no dual write), and each consumer handles an event id at most once.
 */
export function createEvents({ database, jobs }: { database: Database; jobs: Jobs }) {
  const subscribers = new Map<string, string[]>();

  return {
    /** Registers a consumer; call while modules are built, before jobs start. */
    subscribe<T>(sub: Subscription<T>) {
      jobs.define<DomainEvent<T>>({
        name: sub.consumer,
        retryLimit: sub.retryLimit,
        handler: async (event) => {
          await database.db.transaction(async (tx) => {
            const inserted = await tx
              .insert(processedEvents)
              .values({ consumer: sub.consumer, eventId: event.id })
              .onConflictDoNothing()
              .returning({ eventId: processedEvents.eventId });
            if (inserted.length === 0) return; // already handled
            await sub.handle(event, tx);
          });
        },
      });
      subscribers.set(sub.event, [...(subscribers.get(sub.event) ?? []), sub.consumer]);
    },

    /** Publishes an event as part of `tx`: subscribers hear of it only if `tx` commits. */
    async publish<T>(tx: Tx, name: string, payload: T): Promise<DomainEvent<T>> {
      const event: DomainEvent<T> = { id: randomUUID(), name, occurredAt: new Date().toISOString(), payload };
      for (const consumer of subscribers.get(name) ?? []) {
        await jobs.send(consumer, event as object, { tx });
      }
      return event;
    },

    /** Whether a consumer has recorded an event as handled (for tests and diagnostics). */
    async wasProcessed(consumer: string, eventId: string): Promise<boolean> {
      const { rows } = await database.executor.executeSql(
        'select 1 from platform.processed_events where consumer = $1 and event_id = $2',
        [consumer, eventId],
      );
      return rows.length > 0;
    },

    subscribersOf: (name: string) => [...(subscribers.get(name) ?? [])],
  };
}
export type Events = ReturnType<typeof createEvents>;
