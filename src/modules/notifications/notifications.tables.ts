import { sql } from 'drizzle-orm';
import {
  boolean,
  index,
  integer,
  jsonb,
  pgSchema,
  primaryKey,
  text,
  timestamp,
  uniqueIndex,
  uuid,
  varchar,
} from 'drizzle-orm/pg-core';

/** Notifications: in-app messages, email deliveries, preferences, outbound webhooks. */
export const notificationsSchema = pgSchema('notifications');

export const notificationChannel = notificationsSchema.enum('channel', ['email', 'in_app', 'push']);
export const notificationCategory = notificationsSchema.enum('category', [
  /** Always delivered: verification, password, security alerts, receipts the law requires. */
  'account',
  'course_updates',
  'payments',
  'reminders',
  'marketing',
]);
export const deliveryStatus = notificationsSchema.enum('delivery_status', [
  'pending',
  'sent',
  'failed',
  'skipped',
]);
export const webhookEndpointStatus = notificationsSchema.enum('webhook_endpoint_status', [
  'active',
  'disabled',
]);
export const webhookDeliveryStatus = notificationsSchema.enum('webhook_delivery_status', [
  'pending',
  'succeeded',
  'failed',
  /** Gave up after the last retry (dead-lettered). */
  'dead',
]);

/**
 * One message to one user on one channel (seed 002's Notifications). `dedupe_key` makes event
 * handlers idempotent: the same event never creates the same message twice. `send_at` schedules it.
 */
export const notifications = notificationsSchema.table(
  'notifications',
  {
    id: integer('id').primaryKey().generatedAlwaysAsIdentity(),
    userId: integer('user_id').notNull(),
    channel: notificationChannel('channel').notNull(),
    category: notificationCategory('category').notNull(),
    /** Template name (e.g. `enrollment_confirmation`) or `custom` for messages sent through the API. */
    template: varchar('template', { length: 60 }).notNull(),
    title: varchar('title', { length: 300 }).notNull(),
    body: text('body').notNull(),
    /** Template variables and links, for rendering and for clients. */
    data: jsonb('data').$type<Record<string, unknown>>().notNull().default({}),
    senderId: integer('sender_id'),
    dedupeKey: varchar('dedupe_key', { length: 200 }),
    sendAt: timestamp('send_at', { withTimezone: true }),
    readAt: timestamp('read_at', { withTimezone: true }),
    createdAt: timestamp('created_at', { withTimezone: true }).notNull().defaultNow(),
  },
  (t) => [
    uniqueIndex('notifications_dedupe_key').on(t.dedupeKey),
    index('notifications_user_idx').on(t.userId, t.channel, t.id),
    index('notifications_unread_idx')
      .on(t.userId)
      .where(sql`${t.readAt} is null and ${t.channel} = 'in_app'`),
  ],
);

/**
 * Seed 002's Notification Log: one row per delivery attempt, with the provider's answer (for email
 * the SMTP response). `logId` in the API is this row's id.
 */
export const deliveries = notificationsSchema.table(
  'deliveries',
  {
    id: integer('id').primaryKey().generatedAlwaysAsIdentity(),
    notificationId: integer('notification_id')
      .notNull()
      .references(() => notifications.id, { onDelete: 'cascade' }),
    userId: integer('user_id').notNull(),
    channel: notificationChannel('channel').notNull(),
    status: deliveryStatus('status').notNull().default('pending'),
    attempt: integer('attempt').notNull().default(1),
    /** The provider's answer (SMTP response line, push service status) or why it was skipped. */
    providerResponse: text('provider_response'),
    error: text('error'),
    createdAt: timestamp('created_at', { withTimezone: true }).notNull().defaultNow(),
    deliveredAt: timestamp('delivered_at', { withTimezone: true }),
  },
  (t) => [
    index('deliveries_notification_idx').on(t.notificationId, t.id),
    index('deliveries_user_idx').on(t.userId, t.id),
  ],
);

/** Per user, category and channel: on or off. Missing rows mean the default (on, marketing off). */
export const preferences = notificationsSchema.table(
  'preferences',
  {
    userId: integer('user_id').notNull(),
    category: notificationCategory('category').notNull(),
    channel: notificationChannel('channel').notNull(),
    enabled: boolean('enabled').notNull(),
    updatedAt: timestamp('updated_at', { withTimezone: true }).notNull().defaultNow(),
  },
  (t) => [primaryKey({ columns: [t.userId, t.category, t.channel] })],
);

/** Per-user settings beyond the matrix: the daily digest of unread in-app notifications. */
export const userSettings = notificationsSchema.table('user_settings', {
  userId: integer('user_id').primaryKey(),
  dailyDigest: boolean('daily_digest').notNull().default(false),
  lastDigestAt: timestamp('last_digest_at', { withTimezone: true }),
  updatedAt: timestamp('updated_at', { withTimezone: true }).notNull().defaultNow(),
});

/**
 * An outbound webhook endpoint registered by an admin. Secrets are sealed (AES-GCM); after a
 * rotation the previous secret keeps signing (a second `v1`) until `previous_secret_expires_at`.
 */
export const webhookEndpoints = notificationsSchema.table('webhook_endpoints', {
  id: integer('id').primaryKey().generatedAlwaysAsIdentity(),
  url: varchar('url', { length: 2048 }).notNull(),
  description: varchar('description', { length: 300 }),
  events: text('events')
    .array()
    .notNull()
    .default(sql`'{}'::text[]`),
  secretSealed: text('secret_sealed').notNull(),
  previousSecretSealed: text('previous_secret_sealed'),
  previousSecretExpiresAt: timestamp('previous_secret_expires_at', { withTimezone: true }),
  status: webhookEndpointStatus('status').notNull().default('active'),
  /**
   * Set at the first failure of a streak, cleared by a success; a day of failures disables it. A
   * streak also ends when nothing failed for longer than the retries' longest pause (see
   * `last_failure_at`), so one failure after days of silence starts a new streak.
   */
  failingSince: timestamp('failing_since', { withTimezone: true }),
  lastFailureAt: timestamp('last_failure_at', { withTimezone: true }),
  disabledAt: timestamp('disabled_at', { withTimezone: true }),
  disabledReason: varchar('disabled_reason', { length: 300 }),
  createdBy: integer('created_by').notNull(),
  createdAt: timestamp('created_at', { withTimezone: true }).notNull().defaultNow(),
  updatedAt: timestamp('updated_at', { withTimezone: true }).notNull().defaultNow(),
});

/** One event for one endpoint; retried by jobs until it succeeds or is dead-lettered. */
export const webhookDeliveries = notificationsSchema.table(
  'webhook_deliveries',
  {
    id: integer('id').primaryKey().generatedAlwaysAsIdentity(),
    endpointId: integer('endpoint_id')
      .notNull()
      .references(() => webhookEndpoints.id, { onDelete: 'cascade' }),
    eventId: uuid('event_id').notNull(),
    eventName: varchar('event_name', { length: 100 }).notNull(),
    payload: jsonb('payload').$type<unknown>().notNull(),
    status: webhookDeliveryStatus('status').notNull().default('pending'),
    attempts: integer('attempts').notNull().default(0),
    /**
     * Which attempt series may run: a redelivery starts series n + 1, and a job of an older series
     * (an admin retrying the dead-lettered job, say) stops instead of running alongside it.
     */
    series: integer('series').notNull().default(1),
    lastStatusCode: integer('last_status_code'),
    lastError: varchar('last_error', { length: 500 }),
    nextAttemptAt: timestamp('next_attempt_at', { withTimezone: true }),
    createdAt: timestamp('created_at', { withTimezone: true }).notNull().defaultNow(),
    deliveredAt: timestamp('delivered_at', { withTimezone: true }),
  },
  (t) => [
    uniqueIndex('webhook_deliveries_endpoint_event_key').on(t.endpointId, t.eventId),
    index('webhook_deliveries_endpoint_idx').on(t.endpointId, t.id),
  ],
);

/** Every HTTP attempt of a webhook delivery: status code, duration, a snippet of the answer. */
export const webhookAttempts = notificationsSchema.table(
  'webhook_attempts',
  {
    id: integer('id').primaryKey().generatedAlwaysAsIdentity(),
    deliveryId: integer('delivery_id')
      .notNull()
      .references(() => webhookDeliveries.id, { onDelete: 'cascade' }),
    attempt: integer('attempt').notNull(),
    statusCode: integer('status_code'),
    error: varchar('error', { length: 500 }),
    responseSnippet: varchar('response_snippet', { length: 500 }),
    durationMs: integer('duration_ms').notNull(),
    createdAt: timestamp('created_at', { withTimezone: true }).notNull().defaultNow(),
  },
  (t) => [index('webhook_attempts_delivery_idx').on(t.deliveryId, t.id)],
);
