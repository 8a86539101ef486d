import type { z } from 'zod';
import type { Db } from '../../platform/db.ts';
import { Forbidden, NotFound } from '../../platform/errors.ts';
import type { Principal } from '../../platform/http/auth.ts';
import type { Dispatcher } from './notifications.dispatch.ts';
import type { NotificationsPolicy } from './notifications.policy.ts';
import * as repo from './notifications.repository.ts';
import { encodeIdCursor } from '../../platform/http/pagination.ts';
import type { inboxItem, logEntry, SendInput } from './notifications.schemas.ts';
import { custom } from './templates/index.ts';

const toLogEntry = (d: repo.DeliveryRow): z.infer<typeof logEntry> => ({
  logId: d.id,
  notificationId: d.notificationId,
  deliveryStatus: d.status,
  deliveredAt: d.deliveredAt?.toISOString() ?? null,
  channel: d.channel,
  attempt: d.attempt,
  providerResponse: d.providerResponse,
  error: d.error,
  createdAt: d.createdAt.toISOString(),
});

const toInboxItem = (n: repo.NotificationRow): z.infer<typeof inboxItem> => ({
  notificationId: n.id,
  category: n.category,
  template: n.template,
  title: n.title,
  body: n.body,
  data: n.data,
  senderId: n.senderId,
  isRead: n.readAt !== null,
  readAt: n.readAt?.toISOString() ?? null,
  createdAt: n.createdAt.toISOString(),
});

/** Seed 002's send and log, and the in-app inbox. */
export function createNotificationsService(deps: {
  db: Db;
  dispatcher: Dispatcher;
  policy: NotificationsPolicy;
}) {
  const { db, dispatcher, policy } = deps;

  return {
    /**
     * `POST /api/notifications/send`: a message from an admin (category account, always delivered)
     * or an instructor to one of their students (course updates, subject to the student's switches).
     */
    async send(sender: Principal, input: SendInput) {
      if (!policy.canSendAtAll(sender))
        throw new Forbidden('Only admins and instructors can send notifications');
      const recipient = await dispatcher.recipientOf(input.userId);
      if (!recipient) throw new NotFound('User not found');
      if (!(await policy.maySendTo(sender, input.userId)))
        throw new Forbidden('Instructors can only message students enrolled in their courses');
      const from = await dispatcher.recipientOf(sender.userId);
      const senderName = from?.name ?? 'Lectern';
      const senderRole = sender.role === 'admin' ? ('admin' as const) : ('instructor' as const);
      const sendAt = input.sendAt ? new Date(input.sendAt) : undefined;
      const [sent] = await db.transaction((tx) =>
        dispatcher.notify(tx, {
          recipient,
          template: custom,
          vars: {
            title: input.title ?? `Message from ${senderName}`,
            message: input.message,
            senderName,
            senderRole,
          },
          channels: [input.type],
          category: senderRole === 'admin' ? 'account' : 'course_updates',
          senderId: sender.userId,
          recordSkipped: true,
          ...(sendAt ? { sendAt } : {}),
        }),
      );
      // No dedupe key, so the insert cannot be skipped.
      const { row, delivery } = sent!;
      return {
        notificationId: row.id,
        message:
          delivery.status === 'skipped'
            ? `Notification recorded but not delivered: ${delivery.providerResponse}`
            : sendAt
              ? 'Notification scheduled successfully'
              : 'Notification sent successfully',
        deliveryStatus: delivery.status,
        scheduledFor: sendAt?.toISOString() ?? null,
      };
    },

    /** `GET /api/notifications/log`: delivery attempts, newest first; 404 when there are none. */
    async log(reader: Principal, query: { userId?: number; limit: number; cursor?: number }) {
      const userId = query.userId ?? reader.userId;
      if (!policy.mayReadLogOf(reader, userId))
        throw new Forbidden('You can only read your own notification log');
      const rows = await repo.listDeliveries(db, userId, { limit: query.limit, beforeId: query.cursor });
      if (rows.length === 0 && query.cursor === undefined) throw new NotFound('No logs found');
      const hasMore = rows.length > query.limit;
      const page = rows.slice(0, query.limit);
      return {
        logs: page.map(toLogEntry),
        pageInfo: { nextCursor: hasMore ? encodeIdCursor(page.at(-1)!.id) : null, hasMore },
      };
    },

    /** `GET /api/notifications`: the caller's in-app inbox, newest first, with the unread count. */
    async inbox(user: Principal, query: { unreadOnly: boolean; limit: number; cursor?: number }) {
      const [rows, unreadCount] = await Promise.all([
        repo.listInbox(db, user.userId, {
          unreadOnly: query.unreadOnly,
          limit: query.limit,
          beforeId: query.cursor,
        }),
        repo.countUnread(db, user.userId),
      ]);
      const hasMore = rows.length > query.limit;
      const page = rows.slice(0, query.limit);
      return {
        items: page.map(toInboxItem),
        unreadCount,
        pageInfo: { nextCursor: hasMore ? encodeIdCursor(page.at(-1)!.id) : null, hasMore },
      };
    },

    /** Marks one of the caller's in-app notifications read (again is fine); others' are 404. */
    async markRead(user: Principal, notificationId: number) {
      const row = await repo.markRead(db, user.userId, notificationId);
      if (!row?.readAt) throw new NotFound('Notification not found');
      return {
        notificationId: row.id,
        readAt: row.readAt.toISOString(),
        unreadCount: await repo.countUnread(db, user.userId),
      };
    },

    async markAllRead(user: Principal) {
      const updated = await repo.markAllRead(db, user.userId);
      return { updated, unreadCount: await repo.countUnread(db, user.userId) };
    },
  };
}
export type NotificationsService = ReturnType<typeof createNotificationsService>;
