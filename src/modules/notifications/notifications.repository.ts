import { and, count, desc, eq, exists, gt, isNull, lt, sql } from 'drizzle-orm';
import type { DbOrTx, Tx } from '../../platform/db.ts';
import { deliveries, notifications } from './notifications.tables.ts';

export type NotificationRow = typeof notifications.$inferSelect;
export type NewNotification = typeof notifications.$inferInsert;
export type DeliveryRow = typeof deliveries.$inferSelect;
export type NewDelivery = typeof deliveries.$inferInsert;
export type Channel = NotificationRow['channel'];
export type DeliveryStatus = DeliveryRow['status'];

/**
 * Inserts a notification unless its dedupe key is taken (the same event seen again): then nothing
 * is written and undefined returned.
 */
export async function insertNotificationIfNew(
  tx: Tx,
  values: NewNotification,
): Promise<NotificationRow | undefined> {
  const [row] = await tx.insert(notifications).values(values).onConflictDoNothing().returning();
  return row;
}

export async function findNotification(db: DbOrTx, id: number): Promise<NotificationRow | undefined> {
  const [row] = await db.select().from(notifications).where(eq(notifications.id, id));
  return row;
}

/** Locks a notification for the rest of the transaction (scheduled delivery). */
export async function lockNotification(tx: Tx, id: number): Promise<NotificationRow | undefined> {
  const [row] = await tx.select().from(notifications).where(eq(notifications.id, id)).for('update');
  return row;
}

export async function insertDelivery(db: DbOrTx, values: NewDelivery): Promise<DeliveryRow> {
  const [row] = await db.insert(deliveries).values(values).returning();
  return row!;
}

/** The delivery row waiting for the next attempt of a notification, if any. */
export async function findPendingDelivery(
  db: DbOrTx,
  notificationId: number,
): Promise<DeliveryRow | undefined> {
  const [row] = await db
    .select()
    .from(deliveries)
    .where(and(eq(deliveries.notificationId, notificationId), eq(deliveries.status, 'pending')))
    .orderBy(desc(deliveries.id))
    .limit(1);
  return row;
}

export async function updateDelivery(
  db: DbOrTx,
  id: number,
  values: Partial<Pick<NewDelivery, 'status' | 'attempt' | 'providerResponse' | 'error' | 'deliveredAt'>>,
): Promise<void> {
  await db.update(deliveries).set(values).where(eq(deliveries.id, id));
}

/** A user's delivery log, newest first (keyset on id; index deliveries_user_idx). */
export async function listDeliveries(
  db: DbOrTx,
  userId: number,
  page: { beforeId?: number; limit: number },
): Promise<DeliveryRow[]> {
  return db
    .select()
    .from(deliveries)
    .where(
      and(
        eq(deliveries.userId, userId),
        page.beforeId === undefined ? undefined : lt(deliveries.id, page.beforeId),
      ),
    )
    .orderBy(desc(deliveries.id))
    .limit(page.limit + 1);
}

// An in-app notification shows in the inbox once it was delivered: not while scheduled for later,
// never when it was skipped because the recipient turned the channel off.
// The outer column is qualified by hand: drizzle leaves it bare in single-table statements, where
// it would resolve to the subquery's own `id`.
const delivered = exists(
  sql`(select 1 from ${deliveries} d where d.notification_id = ${notifications}.id and d.status = 'sent')`,
);

const inboxOf = (userId: number) =>
  and(eq(notifications.userId, userId), eq(notifications.channel, 'in_app'), delivered);

/** One page of a user's in-app inbox, newest first (`limit + 1` rows). */
export async function listInbox(
  db: DbOrTx,
  userId: number,
  page: { beforeId?: number; limit: number; unreadOnly: boolean },
): Promise<NotificationRow[]> {
  return db
    .select()
    .from(notifications)
    .where(
      and(
        inboxOf(userId),
        page.unreadOnly ? isNull(notifications.readAt) : undefined,
        page.beforeId === undefined ? undefined : lt(notifications.id, page.beforeId),
      ),
    )
    .orderBy(desc(notifications.id))
    .limit(page.limit + 1);
}

export async function countUnread(db: DbOrTx, userId: number): Promise<number> {
  const [row] = await db
    .select({ n: count() })
    .from(notifications)
    .where(and(inboxOf(userId), isNull(notifications.readAt)));
  return row?.n ?? 0;
}

/** The newest unread inbox items created after `since` (the digest), and how many there are. */
export async function listUnreadSince(
  db: DbOrTx,
  userId: number,
  since: Date | null,
  limit: number,
): Promise<{ rows: NotificationRow[]; total: number }> {
  const where = and(
    inboxOf(userId),
    isNull(notifications.readAt),
    since ? gt(notifications.createdAt, since) : undefined,
  );
  const [rows, [total]] = await Promise.all([
    db.select().from(notifications).where(where).orderBy(desc(notifications.id)).limit(limit),
    db.select({ n: count() }).from(notifications).where(where),
  ]);
  return { rows, total: total?.n ?? 0 };
}

/** Marks one inbox item read; returns it (also when it already was read), or undefined if not the user's. */
export async function markRead(db: DbOrTx, userId: number, id: number): Promise<NotificationRow | undefined> {
  const [updated] = await db
    .update(notifications)
    .set({ readAt: new Date() })
    .where(and(eq(notifications.id, id), inboxOf(userId), isNull(notifications.readAt)))
    .returning();
  if (updated) return updated;
  const [existing] = await db
    .select()
    .from(notifications)
    .where(and(eq(notifications.id, id), inboxOf(userId)));
  return existing;
}

export async function markAllRead(db: DbOrTx, userId: number): Promise<number> {
  const rows = await db
    .update(notifications)
    .set({ readAt: new Date() })
    .where(and(inboxOf(userId), isNull(notifications.readAt)))
    .returning({ id: notifications.id });
  return rows.length;
}

/** Whether a template already reached this enrollment since `since` (inactivity reminders). */
export async function hasRecentNotificationFor(
  db: DbOrTx,
  userId: number,
  template: string,
  key: { field: string; value: number },
  since: Date,
): Promise<boolean> {
  const [row] = await db
    .select({ id: notifications.id })
    .from(notifications)
    .where(
      and(
        eq(notifications.userId, userId),
        eq(notifications.template, template),
        sql`${notifications.data} ->> ${key.field} = ${String(key.value)}`,
        gt(notifications.createdAt, since),
      ),
    )
    .limit(1);
  return Boolean(row);
}

/** Removes everything kept about a user (account erasure). */
export async function deleteUserNotifications(tx: Tx, userId: number): Promise<void> {
  await tx.delete(deliveries).where(eq(deliveries.userId, userId));
  await tx.delete(notifications).where(eq(notifications.userId, userId));
}

/** Every notification and delivery of a user, for the personal-data export. */
export async function listAllForUser(db: DbOrTx, userId: number) {
  const rows = await db
    .select()
    .from(notifications)
    .where(eq(notifications.userId, userId))
    .orderBy(notifications.id);
  const logs = await db.select().from(deliveries).where(eq(deliveries.userId, userId)).orderBy(deliveries.id);
  return { notifications: rows, deliveries: logs };
}
