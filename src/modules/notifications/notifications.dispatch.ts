import type { Tx } from '../../platform/db.ts';
import { NotFound } from '../../platform/errors.ts';
import { idempotencyJobId, type MailAttachment, type MailAttempt } from '../../platform/mail.ts';
import type { Platform } from '../../platform/platform.ts';
import type { IdentityReads } from './notifications.deps.ts';
import type { NotificationsPolicy } from './notifications.policy.ts';
import { ALWAYS_ON, preferenceMatrix, type Category, type Preferences } from './notifications.preferences.ts';
import * as repo from './notifications.repository.ts';
import { templateNamed, type NotificationTemplate } from './templates/index.ts';

export const DELIVER_SCHEDULED_JOB = 'notifications.deliverScheduled';

const TRACKING = /^notification:([1-9][0-9]{0,9})$/;
const IN_APP_RESPONSE = 'stored in the in-app inbox';
export const NO_PUSH_PROVIDER = 'no push provider configured';

export interface Recipient {
  userId: number;
  email: string;
  name: string;
}

export interface NotifyRequest<V> {
  recipient: Recipient;
  template: NotificationTemplate<V>;
  vars: V;
  channels: repo.Channel[];
  /** Defaults to the template's category. */
  category?: Category;
  /** `<template>:<eventId>` for event-driven messages; the channel is appended. A repeat creates nothing. */
  dedupeKey?: string;
  senderId?: number;
  /** Deliver later (a job with `startAfter`). */
  sendAt?: Date;
  /**
   * When the recipient turned a channel off: false (events) creates nothing for it; true (explicit
   * sends) records the notification with a `skipped` delivery so the sender gets an id and the log says why.
   */
  recordSkipped?: boolean;
  /** The daily digest has its own switch and ignores the category matrix. */
  ignorePreferences?: boolean;
  /** Files for the email channel (e.g. the PDF receipt); not for scheduled sends. */
  attachments?: MailAttachment[];
}

export interface Notified {
  row: repo.NotificationRow;
  delivery: repo.DeliveryRow;
}

/**
 * Turns a template and its variables into notification rows, one per channel, and their first
 * delivery row: in-app ones are in the inbox at once, emails are enqueued on the platform mailer
 * (a durable job) in the caller's transaction, push is recorded as skipped (no provider yet).
 * Every attempt the mailer makes is written back as a delivery row by `onMailAttempt`.
 */
export function createDispatcher(deps: {
  platform: Pick<Platform, 'db' | 'jobs' | 'mailer' | 'config'>;
  identity: IdentityReads;
  preferences: Preferences;
  policy: Pick<NotificationsPolicy, 'maySendTo'>;
}) {
  const { db, jobs, mailer, config } = deps.platform;
  const preferencesUrl = `${config.appUrl}/settings/notifications`;

  /** The user's address and name, or null when the account no longer exists (erased since). */
  async function recipientOf(userId: number): Promise<Recipient | null> {
    try {
      const profile = await deps.identity.getProfile(userId);
      return { userId, email: profile.email, name: profile.name };
    } catch (err) {
      if (err instanceof NotFound) return null;
      throw err;
    }
  }

  /** Renders a notification's email and enqueues it, tracked and deduplicated by the notification id. */
  async function enqueueEmail(
    tx: Tx,
    row: repo.NotificationRow,
    recipient: Recipient,
    attachments?: MailAttachment[],
  ) {
    const template = templateNamed(row.template);
    if (!template) throw new Error(`Unknown notification template ${row.template}`);
    // Essential (account) messages carry no unsubscribe link; the digest's link turns the digest off.
    const scope =
      row.template === 'daily_digest' ? 'digest' : row.category === 'account' ? null : row.category;
    const unsubscribeUrl = scope
      ? `${config.publicUrl}/api/notifications/unsubscribe?token=${encodeURIComponent(
          deps.preferences.unsubscribeToken(row.userId, scope),
        )}`
      : undefined;
    const email = template.render(row.data, {
      recipientName: recipient.name,
      appUrl: config.appUrl,
      preferencesUrl,
      ...(unsubscribeUrl ? { unsubscribeUrl } : {}),
    });
    await mailer.send(
      {
        to: recipient.email,
        subject: email.subject,
        text: email.text,
        html: email.html,
        headers: {
          'X-Lectern-Template': row.template,
          ...(unsubscribeUrl
            ? {
                'List-Unsubscribe': `<${unsubscribeUrl}>`,
                'List-Unsubscribe-Post': 'List-Unsubscribe=One-Click',
              }
            : {}),
        },
        trackingId: `notification:${row.id}`,
        idempotencyKey: `notification:${row.id}`,
        ...(attachments?.length ? { attachments } : {}),
      },
      { tx },
    );
  }

  async function notify<V>(tx: Tx, req: NotifyRequest<V>): Promise<Notified[]> {
    const { recipient, template } = req;
    const category = req.category ?? template.category;
    const data = template.data(req.vars);
    const summary = template.inApp(data);
    const matrix = req.ignorePreferences ? null : await preferenceMatrix(tx, recipient.userId);
    const out: Notified[] = [];
    for (const channel of req.channels) {
      const enabled = !matrix || ALWAYS_ON.includes(category) || matrix[category][channel];
      if (!enabled && !req.recordSkipped) continue;
      const row = await repo.insertNotificationIfNew(tx, {
        userId: recipient.userId,
        channel,
        category,
        template: template.name,
        title: (channel === 'email' ? template.subject(data) : summary.title).slice(0, 300),
        body: summary.body,
        data,
        senderId: req.senderId ?? null,
        dedupeKey: req.dedupeKey ? `${req.dedupeKey}:${channel}` : null,
        sendAt: req.sendAt ?? null,
      });
      if (!row) continue; // this event was handled before
      const base = { notificationId: row.id, userId: recipient.userId, channel };
      let delivery: repo.DeliveryRow;
      if (!enabled) {
        delivery = await repo.insertDelivery(tx, {
          ...base,
          status: 'skipped',
          providerResponse: `the recipient turned off ${channel} for ${category.replace('_', ' ')}`,
        });
      } else if (channel === 'push') {
        delivery = await repo.insertDelivery(tx, {
          ...base,
          status: 'skipped',
          providerResponse: NO_PUSH_PROVIDER,
        });
      } else if (req.sendAt) {
        delivery = await repo.insertDelivery(tx, { ...base, status: 'pending' });
        await jobs.send(
          DELIVER_SCHEDULED_JOB,
          { notificationId: row.id },
          { tx, startAfter: req.sendAt, id: idempotencyJobId(`notification-scheduled:${row.id}`) },
        );
      } else if (channel === 'in_app') {
        delivery = await repo.insertDelivery(tx, {
          ...base,
          status: 'sent',
          providerResponse: IN_APP_RESPONSE,
          deliveredAt: new Date(),
        });
      } else {
        delivery = await repo.insertDelivery(tx, { ...base, status: 'pending' });
        await enqueueEmail(tx, row, recipient, req.attachments);
      }
      out.push({ row, delivery });
    }
    return out;
  }

  /** Writes one mailer attempt into the log: the waiting row gets the outcome; a retry gets a new waiting row. */
  async function onMailAttempt(attempt: MailAttempt) {
    const match = TRACKING.exec(attempt.trackingId);
    if (!match) return;
    const notificationId = Number(match[1]);
    await db.transaction(async (tx) => {
      // The lock serialises attempts of one notification, so each finds its own waiting row.
      const row = await repo.lockNotification(tx, notificationId);
      if (!row) return; // erased since it was enqueued
      const outcome = {
        status: attempt.ok ? ('sent' as const) : ('failed' as const),
        attempt: attempt.attempt,
        providerResponse: attempt.response?.slice(0, 2000) ?? null,
        error: attempt.error,
        deliveredAt: attempt.ok ? new Date() : null,
      };
      const pending = await repo.findPendingDelivery(tx, notificationId);
      if (pending) await repo.updateDelivery(tx, pending.id, outcome);
      else
        await repo.insertDelivery(tx, {
          notificationId,
          userId: row.userId,
          channel: row.channel,
          ...outcome,
        });
      if (!attempt.ok && attempt.willRetry) {
        await repo.insertDelivery(tx, {
          notificationId,
          userId: row.userId,
          channel: row.channel,
          status: 'pending',
          attempt: attempt.attempt + 1,
        });
      }
    });
  }

  /**
   * Whether the sender of a scheduled message may still send it: an instructor who no longer
   * teaches the recipient (or an account demoted or erased since) cannot reach them by having
   * scheduled the message earlier. Null when allowed, else why not.
   */
  async function senderRefusal(row: repo.NotificationRow): Promise<string | null> {
    if (row.senderId === null) return null;
    const sender = await deps.identity.getProfile(row.senderId).catch((err: unknown) => {
      if (err instanceof NotFound) return null;
      throw err;
    });
    // An administrator's account message stays due though the administrator's account is gone.
    if (!sender) return row.category === 'account' ? null : 'the sender account no longer exists';
    if (!(await deps.policy.maySendTo({ userId: row.senderId, role: sender.role }, row.userId))) {
      return 'the sender may no longer message this recipient';
    }
    return null;
  }

  /**
   * The `startAfter` job of a scheduled notification: delivers it now unless that already
   * happened. What held when it was scheduled is checked again, since days may have passed: the
   * recipient's switches for the category and channel, and the sender's right to message them.
   */
  async function deliverScheduled({ notificationId }: { notificationId: number }) {
    const row = await repo.findNotification(db, notificationId);
    if (!row || !(await repo.findPendingDelivery(db, notificationId))) return;
    // Other modules answer on their own connection: ask before the transaction opens.
    const recipient = row.channel === 'email' ? await recipientOf(row.userId) : null;
    const refusal = await senderRefusal(row);
    await db.transaction(async (tx) => {
      const locked = await repo.lockNotification(tx, notificationId);
      const pending = locked && (await repo.findPendingDelivery(tx, notificationId));
      if (!locked || !pending) return;
      const skip = (providerResponse: string) =>
        repo.updateDelivery(tx, pending.id, { status: 'skipped', providerResponse });
      if (refusal) return skip(refusal);
      if (!ALWAYS_ON.includes(locked.category) && locked.template !== 'daily_digest') {
        const matrix = await preferenceMatrix(tx, locked.userId);
        if (!matrix[locked.category][locked.channel]) {
          return skip(`the recipient turned off ${locked.channel} for ${locked.category.replace('_', ' ')}`);
        }
      }
      if (locked.channel === 'in_app') {
        await repo.updateDelivery(tx, pending.id, {
          status: 'sent',
          providerResponse: IN_APP_RESPONSE,
          deliveredAt: new Date(),
        });
      } else if (!recipient) {
        await skip('the recipient account no longer exists');
      } else {
        await enqueueEmail(tx, locked, recipient);
      }
    });
  }

  jobs.define<{ notificationId: number }>({ name: DELIVER_SCHEDULED_JOB, handler: deliverScheduled });
  mailer.onAttempt(onMailAttempt);

  return { notify, recipientOf };
}
export type Dispatcher = ReturnType<typeof createDispatcher>;
