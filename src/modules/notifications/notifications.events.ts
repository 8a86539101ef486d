import type { DomainEvent } from '../../platform/events.ts';
import { idempotencyJobId, type MailAttachment } from '../../platform/mail.ts';
import type { Platform } from '../../platform/platform.ts';
import { COURSE_PUBLISHED, LESSON_ADDED, type CourseEvent, type LessonAdded } from '../catalog/index.ts';
import {
  ORDER_REFUNDED,
  PAYMENT_SUCCEEDED,
  type OrderRefunded,
  type PaymentSucceeded,
} from '../commerce/index.ts';
import { ENROLLMENT_CREATED, type EnrollmentCreated } from '../enrollment/index.ts';
import { USER_ERASED, USER_REGISTERED, type UserErased, type UserRegistered } from '../identity/index.ts';
import type { CatalogReads, CommerceReads, EnrollmentReads } from './notifications.deps.ts';
import type { Dispatcher, Recipient } from './notifications.dispatch.ts';
import { deleteUserPreferences } from './notifications.preferences.repository.ts';
import { deleteUserNotifications } from './notifications.repository.ts';
import {
  coursePublished,
  enrollmentConfirmation,
  newLesson,
  paymentReceipt,
  refundNotice,
  welcome,
  type NotificationTemplate,
} from './templates/index.ts';

/** Builds the messages of one event, outside the event's transaction (see `registerEventHandlers`). */
export const COMPOSE_JOB = 'notifications.composeFromEvent';
/** Students told about a new lesson per job; a bigger course continues in a follow-up job. */
export const LESSON_BATCH = 200;

type Composition =
  | { kind: 'welcome'; eventId: string; payload: UserRegistered }
  | { kind: 'enrollment'; eventId: string; payload: EnrollmentCreated }
  | { kind: 'payment'; eventId: string; payload: PaymentSucceeded }
  | { kind: 'refund'; eventId: string; payload: OrderRefunded }
  | { kind: 'published'; eventId: string; payload: CourseEvent }
  | { kind: 'lesson'; eventId: string; payload: LessonAdded; afterUserId: number };

/** An amount in minor units for people, e.g. `NGN 5,000.00`, with the currency's own decimals. */
export function formatMoney(amountMinor: number, currency: string): string {
  let format: Intl.NumberFormat;
  try {
    format = new Intl.NumberFormat('en', { style: 'currency', currency, currencyDisplay: 'code' });
  } catch {
    return `${currency} ${amountMinor}`;
  }
  const digits = format.resolvedOptions().maximumFractionDigits ?? 2;
  return format.format(amountMinor / 10 ** digits).replace(/\u00a0/g, ' ');
}

/**
 * Subscribes to other modules' events. Each subscription runs in the event's deduplicating
 * transaction, where other modules cannot be asked (on the embedded database they answer on the
 * same single connection, which the transaction holds), so it only enqueues a compose job in that
 * transaction: exactly once per event. The job asks identity and catalog, then writes the
 * notifications in its own transaction with dedupe keys `<template>:<eventId>:<channel>`, so a
 * retried job (or the same event delivered twice) still produces one message.
 */
export function registerEventHandlers(deps: {
  platform: Pick<Platform, 'db' | 'jobs' | 'events' | 'config' | 'logger'>;
  catalog: CatalogReads;
  enrollment: Pick<EnrollmentReads, 'listStudentIds'>;
  commerce: CommerceReads;
  dispatcher: Dispatcher;
}) {
  const { db, jobs, events, config, logger } = deps.platform;
  const { dispatcher, catalog, commerce } = deps;
  const appUrl = config.appUrl;
  const courseUrl = (slug: string) => `${appUrl}/courses/${encodeURIComponent(slug)}`;

  const forward = <T>(event: string, consumer: string, kind: Composition['kind']) =>
    events.subscribe<T>({
      event,
      consumer,
      handle: async (e: DomainEvent<T>, tx) => {
        await jobs.send(
          COMPOSE_JOB,
          { kind, eventId: e.id, payload: e.payload, afterUserId: 0 },
          { tx, id: idempotencyJobId(`notifications.compose:${kind}:${e.id}`) },
        );
      },
    });

  forward<UserRegistered>(USER_REGISTERED, 'notifications.welcomeUser', 'welcome');
  forward<EnrollmentCreated>(ENROLLMENT_CREATED, 'notifications.confirmEnrollment', 'enrollment');
  forward<PaymentSucceeded>(PAYMENT_SUCCEEDED, 'notifications.noticePayment', 'payment');
  forward<OrderRefunded>(ORDER_REFUNDED, 'notifications.noticeRefund', 'refund');
  forward<CourseEvent>(COURSE_PUBLISHED, 'notifications.announcePublished', 'published');
  forward<LessonAdded>(LESSON_ADDED, 'notifications.announceLesson', 'lesson');

  // Erasure touches only this module's rows, so it can run in the event's transaction.
  events.subscribe<UserErased>({
    event: USER_ERASED,
    consumer: 'notifications.eraseUser',
    handle: async (event, tx) => {
      await deleteUserNotifications(tx, event.payload.userId);
      await deleteUserPreferences(tx, event.payload.userId);
    },
  });

  const both = ['in_app', 'email'] as const;
  const send = <V>(
    recipient: Recipient,
    template: NotificationTemplate<V>,
    vars: V,
    eventId: string,
    attachments?: MailAttachment[],
  ) =>
    db.transaction((tx) =>
      dispatcher.notify(tx, {
        recipient,
        template,
        vars,
        channels: [...both],
        dedupeKey: `${template.name}:${eventId}`,
        ...(attachments?.length ? { attachments } : {}),
      }),
    );

  async function compose(job: Composition): Promise<void> {
    switch (job.kind) {
      case 'welcome': {
        const { userId, role, origin } = job.payload;
        // Invited accounts got the invitation email, and operators made CLI accounts themselves.
        if (origin === 'admin' || origin === 'cli') return;
        const recipient = await dispatcher.recipientOf(userId);
        if (!recipient) return;
        const startUrl =
          role === 'instructor'
            ? `${appUrl}/instructor/courses/new`
            : role === 'admin'
              ? `${appUrl}/admin`
              : `${appUrl}/courses`;
        await send(recipient, welcome, { role, startUrl }, job.eventId);
        return;
      }
      case 'enrollment': {
        const { userId, courseId, enrollmentId } = job.payload;
        const [recipient, course] = await Promise.all([
          dispatcher.recipientOf(userId),
          catalog.getCourse(courseId),
        ]);
        if (!recipient || !course) return;
        await send(
          recipient,
          enrollmentConfirmation,
          { enrollmentId, courseId, courseTitle: course.title, courseUrl: courseUrl(course.slug) },
          job.eventId,
        );
        return;
      }
      case 'payment': {
        const p = job.payload;
        const [recipient, course, receipt] = await Promise.all([
          dispatcher.recipientOf(p.userId),
          catalog.getCourse(p.courseId),
          // Null when the order has no receipt (not paid, or the buyer was erased): no PDF then. A
          // receipt that cannot be rendered must not hold up the payment email: it says where the
          // receipt can be downloaded instead.
          commerce.receiptAttachment(p.orderId).catch((err: unknown) => {
            logger.error({ err, orderId: p.orderId }, 'could not attach the receipt to the payment email');
            return null;
          }),
        ]);
        if (!recipient) return;
        await send(
          recipient,
          paymentReceipt,
          {
            orderId: p.orderId,
            courseId: p.courseId,
            courseTitle: course?.title ?? 'your course',
            amount: formatMoney(p.amountMinor, p.currency),
            transactionId: p.transactionId,
            method: p.method,
            orderUrl: `${appUrl}/orders/${p.orderId}`,
            receiptAttached: receipt !== null,
          },
          job.eventId,
          receipt ? [receipt] : undefined,
        );
        return;
      }
      case 'refund': {
        const r = job.payload;
        const [recipient, course] = await Promise.all([
          dispatcher.recipientOf(r.userId),
          catalog.getCourse(r.courseId),
        ]);
        if (!recipient) return;
        await send(
          recipient,
          refundNotice,
          {
            orderId: r.orderId,
            refundId: r.refundId,
            courseId: r.courseId,
            courseTitle: course?.title ?? 'your course',
            amount: formatMoney(r.amountMinor, r.currency),
            method: r.method,
            orderUrl: `${appUrl}/orders/${r.orderId}`,
          },
          job.eventId,
        );
        return;
      }
      case 'published': {
        const c = job.payload;
        const recipient = await dispatcher.recipientOf(c.ownerId);
        if (!recipient) return;
        await send(
          recipient,
          coursePublished,
          { courseId: c.courseId, courseTitle: c.title, courseUrl: courseUrl(c.slug) },
          job.eventId,
        );
        return;
      }
      case 'lesson':
        await announceLesson(job);
        return;
    }
  }

  /** One batch of a new lesson's announcement; schedules the next batch before finishing. */
  async function announceLesson(job: Extract<Composition, { kind: 'lesson' }>) {
    const { courseId, lessonId, title } = job.payload;
    const course = await catalog.getCourse(courseId);
    if (!course || course.status !== 'published') return;
    const userIds = await deps.enrollment.listStudentIds(courseId, job.afterUserId, LESSON_BATCH);
    const recipients = (await Promise.all(userIds.map((id) => dispatcher.recipientOf(id)))).filter(
      (r): r is Recipient => r !== null,
    );
    const vars = {
      courseId,
      courseTitle: course.title,
      lessonId,
      lessonTitle: title,
      lessonUrl: `${courseUrl(course.slug)}/lessons/${lessonId}`,
    };
    await db.transaction(async (tx) => {
      for (const recipient of recipients) {
        await dispatcher.notify(tx, {
          recipient,
          template: newLesson,
          vars,
          channels: [...both],
          dedupeKey: `new_lesson:${job.eventId}:${recipient.userId}`,
        });
      }
      if (userIds.length === LESSON_BATCH) {
        const afterUserId = userIds.at(-1)!;
        await jobs.send(
          COMPOSE_JOB,
          { ...job, afterUserId },
          { tx, id: idempotencyJobId(`notifications.compose:lesson:${job.eventId}:${afterUserId}`) },
        );
      }
    });
  }

  jobs.define<Composition>({ name: COMPOSE_JOB, handler: compose, concurrency: 2 });
}
