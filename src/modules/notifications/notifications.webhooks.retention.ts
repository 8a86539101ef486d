import { and, eq, gte, inArray, isNull, lt, notExists, or } from 'drizzle-orm';
import type { Db } from '../../platform/db.ts';
import type { Jobs } from '../../platform/jobs.ts';
import type { Logger } from '../../platform/logger.ts';
import { webhookAttempts, webhookDeliveries } from './notifications.tables.ts';

export const PURGE_WEBHOOK_DELIVERIES_JOB = 'notifications.purgeWebhookDeliveries';
/** Rows deleted per statement, so the purge never holds many row locks at once. */
const BATCH = 1000;

/**
 * Deletes finished webhook deliveries (succeeded or dead), with their attempts by cascade, once
 * nothing has happened to them for `retentionDays`: created, delivered and last attempted before
 * the cutoff. Deliveries still retrying (pending, failed) are never deleted, and a dead delivery an
 * admin redelivered recently counts from its latest attempt.
 */
export async function purgeWebhookDeliveries(db: Db, retentionDays: number, now = new Date()) {
  const cutoff = new Date(now.getTime() - retentionDays * 86_400_000);
  const recentAttempt = db
    .select({ id: webhookAttempts.id })
    .from(webhookAttempts)
    .where(and(eq(webhookAttempts.deliveryId, webhookDeliveries.id), gte(webhookAttempts.createdAt, cutoff)));
  let purged = 0;
  for (;;) {
    const batch = db
      .select({ id: webhookDeliveries.id })
      .from(webhookDeliveries)
      .where(
        and(
          inArray(webhookDeliveries.status, ['succeeded', 'dead']),
          lt(webhookDeliveries.createdAt, cutoff),
          or(isNull(webhookDeliveries.deliveredAt), lt(webhookDeliveries.deliveredAt, cutoff)),
          notExists(recentAttempt),
        ),
      )
      .orderBy(webhookDeliveries.id)
      .limit(BATCH);
    const deleted = await db
      .delete(webhookDeliveries)
      .where(inArray(webhookDeliveries.id, batch))
      .returning({ id: webhookDeliveries.id });
    purged += deleted.length;
    if (deleted.length < BATCH) return purged;
  }
}

/** Runs the purge once a day (04:23 UTC). */
export function scheduleWebhookPurge({
  db,
  jobs,
  logger,
  retentionDays,
}: {
  db: Db;
  jobs: Jobs;
  logger: Logger;
  retentionDays: number;
}) {
  jobs.define({
    name: PURGE_WEBHOOK_DELIVERIES_JOB,
    retryLimit: 2,
    handler: async () => {
      const purged = await purgeWebhookDeliveries(db, retentionDays);
      if (purged) logger.info({ purged, retentionDays }, 'old webhook deliveries purged');
    },
  });
  jobs.schedule(PURGE_WEBHOOK_DELIVERIES_JOB, '23 4 * * *');
}
