import { and, arrayContains, asc, desc, eq, inArray, lt, sql, type SQL } from 'drizzle-orm';
import type { PgUpdateSetSource } from 'drizzle-orm/pg-core';
import type { DbOrTx } from '../../platform/db.ts';
import { webhookAttempts, webhookDeliveries, webhookEndpoints } from './notifications.tables.ts';
import type { DeliveryStatus } from './notifications.webhooks.schemas.ts';

export type EndpointRow = typeof webhookEndpoints.$inferSelect;
export type DeliveryRow = typeof webhookDeliveries.$inferSelect;
export type AttemptRow = typeof webhookAttempts.$inferSelect;
type NewEndpoint = typeof webhookEndpoints.$inferInsert;

export async function insertEndpoint(db: DbOrTx, values: NewEndpoint): Promise<EndpointRow> {
  const [row] = await db.insert(webhookEndpoints).values(values).returning();
  return row!;
}

export async function findEndpoint(db: DbOrTx, id: number): Promise<EndpointRow | undefined> {
  const [row] = await db.select().from(webhookEndpoints).where(eq(webhookEndpoints.id, id));
  return row;
}

/** Newest first. */
export async function listEndpoints(db: DbOrTx, opts: { limit: number; before?: number }) {
  return db
    .select()
    .from(webhookEndpoints)
    .where(opts.before !== undefined ? lt(webhookEndpoints.id, opts.before) : undefined)
    .orderBy(desc(webhookEndpoints.id))
    .limit(opts.limit);
}

export async function updateEndpoint(
  db: DbOrTx,
  id: number,
  patch: PgUpdateSetSource<typeof webhookEndpoints>,
): Promise<EndpointRow | undefined> {
  const [row] = await db
    .update(webhookEndpoints)
    .set({ ...patch, updatedAt: sql`now()` })
    .where(eq(webhookEndpoints.id, id))
    .returning();
  return row;
}

export async function deleteEndpoint(db: DbOrTx, id: number): Promise<boolean> {
  const rows = await db
    .delete(webhookEndpoints)
    .where(eq(webhookEndpoints.id, id))
    .returning({ id: webhookEndpoints.id });
  return rows.length > 0;
}

/** Endpoints subscribed to `event`, active or not, with their status. */
export async function endpointsSubscribedTo(db: DbOrTx, event: string) {
  return db
    .select({
      id: webhookEndpoints.id,
      status: webhookEndpoints.status,
      disabledAt: webhookEndpoints.disabledAt,
    })
    .from(webhookEndpoints)
    .where(arrayContains(webhookEndpoints.events, [event]))
    .orderBy(asc(webhookEndpoints.id));
}

/** One delivery per endpoint and event: a repeated event inserts nothing and returns undefined. */
export async function insertDelivery(
  db: DbOrTx,
  values: {
    endpointId: number;
    eventId: string;
    eventName: string;
    payload: unknown;
    /** For an event that reaches a disabled endpoint: logged as dead, so it can be redelivered. */
    status?: DeliveryStatus;
    lastError?: string;
  },
): Promise<number | undefined> {
  const [row] = await db
    .insert(webhookDeliveries)
    .values(values)
    .onConflictDoNothing({ target: [webhookDeliveries.endpointId, webhookDeliveries.eventId] })
    .returning({ id: webhookDeliveries.id });
  return row?.id;
}

export async function findDelivery(db: DbOrTx, id: number): Promise<DeliveryRow | undefined> {
  const [row] = await db.select().from(webhookDeliveries).where(eq(webhookDeliveries.id, id));
  return row;
}

/** An endpoint's deliveries, newest first. */
export async function listDeliveries(
  db: DbOrTx,
  endpointId: number,
  opts: { status?: DeliveryStatus; limit: number; before?: number },
): Promise<DeliveryRow[]> {
  const conditions: SQL[] = [eq(webhookDeliveries.endpointId, endpointId)];
  if (opts.status) conditions.push(eq(webhookDeliveries.status, opts.status));
  if (opts.before !== undefined) conditions.push(lt(webhookDeliveries.id, opts.before));
  return db
    .select()
    .from(webhookDeliveries)
    .where(and(...conditions))
    .orderBy(desc(webhookDeliveries.id))
    .limit(opts.limit);
}

/** Attempts of the given deliveries, oldest first. */
export async function listAttempts(db: DbOrTx, deliveryIds: number[]): Promise<AttemptRow[]> {
  if (!deliveryIds.length) return [];
  return db
    .select()
    .from(webhookAttempts)
    .where(inArray(webhookAttempts.deliveryId, deliveryIds))
    .orderBy(asc(webhookAttempts.id));
}

/**
 * Records one HTTP attempt and its outcome on the delivery; returns the attempt number, or
 * undefined when the delivery no longer exists (its endpoint was deleted meanwhile).
 */
export async function recordAttempt(
  tx: DbOrTx,
  deliveryId: number,
  outcome: {
    status: DeliveryStatus;
    statusCode: number | null;
    error: string | null;
    responseSnippet: string | null;
    durationMs: number;
    nextAttemptAt: Date | null;
  },
): Promise<number | undefined> {
  const [delivery] = await tx
    .update(webhookDeliveries)
    .set({
      attempts: sql`${webhookDeliveries.attempts} + 1`,
      status: outcome.status,
      lastStatusCode: outcome.statusCode,
      lastError: outcome.error,
      nextAttemptAt: outcome.nextAttemptAt,
      ...(outcome.status === 'succeeded' ? { deliveredAt: sql`now()` } : {}),
    })
    .where(eq(webhookDeliveries.id, deliveryId))
    .returning({ attempts: webhookDeliveries.attempts });
  if (!delivery) return undefined;
  await tx.insert(webhookAttempts).values({
    deliveryId,
    attempt: delivery.attempts,
    statusCode: outcome.statusCode,
    error: outcome.error,
    responseSnippet: outcome.responseSnippet,
    durationMs: outcome.durationMs,
  });
  return delivery.attempts;
}

/** Ends a delivery of attempt series `series` without an attempt (its endpoint was disabled). */
export async function markDeliveryDead(
  db: DbOrTx,
  id: number,
  series: number,
  reason: string,
): Promise<void> {
  await db
    .update(webhookDeliveries)
    .set({ status: 'dead', lastError: reason, nextAttemptAt: null })
    .where(and(eq(webhookDeliveries.id, id), eq(webhookDeliveries.series, series)));
}

/**
 * Locks a delivery row and returns its attempt series (undefined once deleted): an attempt records
 * its outcome only while its series is current, and a redelivery waits for that to commit.
 */
export async function lockDeliverySeries(tx: DbOrTx, id: number): Promise<number | undefined> {
  const [row] = await tx
    .select({ series: webhookDeliveries.series })
    .from(webhookDeliveries)
    .where(eq(webhookDeliveries.id, id))
    .for('update');
  return row?.series;
}

/**
 * Puts a finished (succeeded or dead) delivery back to pending as a new attempt series; undefined
 * when it is in flight.
 */
export async function reopenDelivery(db: DbOrTx, id: number): Promise<DeliveryRow | undefined> {
  const [row] = await db
    .update(webhookDeliveries)
    .set({ status: 'pending', nextAttemptAt: null, series: sql`${webhookDeliveries.series} + 1` })
    .where(and(eq(webhookDeliveries.id, id), inArray(webhookDeliveries.status, ['succeeded', 'dead'])))
    .returning();
  return row;
}

/** A success ends the endpoint's failure streak. */
export async function clearFailingSince(db: DbOrTx, endpointId: number): Promise<void> {
  await db
    .update(webhookEndpoints)
    .set({ failingSince: null })
    .where(and(eq(webhookEndpoints.id, endpointId), sql`${webhookEndpoints.failingSince} is not null`));
}

/**
 * Records a failure: it starts a streak when none runs, or when the previous failure is more than
 * `gapSeconds` old (the endpoint was silent, not failing, in between); returns when the streak began.
 */
export async function markFailing(db: DbOrTx, endpointId: number, gapSeconds: number): Promise<Date | null> {
  const e = webhookEndpoints;
  const [row] = await db
    .update(e)
    .set({
      failingSince: sql`case
        when ${e.failingSince} is null or ${e.lastFailureAt} is null
          or ${e.lastFailureAt} < now() - ${gapSeconds} * interval '1 second' then now()
        else ${e.failingSince} end`,
      lastFailureAt: sql`now()`,
    })
    .where(eq(e.id, endpointId))
    .returning({ failingSince: e.failingSince });
  return row?.failingSince ?? null;
}

/**
 * Disables an active endpoint whose failure streak is older than `seconds` (database clock);
 * returns it only when this call disabled it, so the admins are told once.
 */
export async function disableIfFailingFor(
  db: DbOrTx,
  endpointId: number,
  seconds: number,
  reason: string,
): Promise<EndpointRow | undefined> {
  const [row] = await db
    .update(webhookEndpoints)
    .set({ status: 'disabled', disabledAt: sql`now()`, disabledReason: reason, updatedAt: sql`now()` })
    .where(
      and(
        eq(webhookEndpoints.id, endpointId),
        eq(webhookEndpoints.status, 'active'),
        sql`${webhookEndpoints.failingSince} < now() - ${seconds} * interval '1 second'`,
      ),
    )
    .returning();
  return row;
}
