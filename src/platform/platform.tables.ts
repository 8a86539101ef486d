import { sql } from 'drizzle-orm';
import {
  index,
  integer,
  jsonb,
  pgSchema,
  primaryKey,
  text,
  timestamp,
  uuid,
  varchar,
} from 'drizzle-orm/pg-core';

export const platform = pgSchema('platform');

/**
 * Emails the embedded transport "delivers" when no SMTP server is configured, read back through
 * `GET /api/dev/mailbox`. `job_id` is unique so a retried send job stores its message once.
 */
export const devMailbox = platform.table(
  'dev_mailbox',
  {
    id: integer('id').primaryKey().generatedAlwaysAsIdentity(),
    jobId: uuid('job_id').notNull().unique(),
    to: varchar('to', { length: 254 }).notNull(),
    from: text('from').notNull(),
    subject: varchar('subject', { length: 300 }).notNull(),
    text: text('text').notNull(),
    html: text('html'),
    headers: jsonb('headers').$type<Record<string, string>>().notNull().default({}),
    createdAt: timestamp('created_at', { withTimezone: true }).notNull().defaultNow(),
  },
  (t) => [index('dev_mailbox_to_lower_id_idx').on(sql`lower(${t.to})`, t.id)],
);

/**
 * Event ids a consumer has already handled: inserting (consumer, event_id) in the consumer's own
 * transaction makes at-least-once delivery effectively once.
 */
export const processedEvents = platform.table(
  'processed_events',
  {
    consumer: varchar('consumer', { length: 100 }).notNull(),
    eventId: uuid('event_id').notNull(),
    processedAt: timestamp('processed_at', { withTimezone: true }).notNull().defaultNow(),
  },
  (t) => [primaryKey({ columns: [t.consumer, t.eventId] })],
);

/**
 * Idempotency keys (Stripe semantics) for requests that move money or create enrollments: the
 * first response is stored and replayed for the same key and body; a different body is refused.
 * `scope` is the caller and the route, so two users' keys never collide. Kept at least 24 hours.
 */
export const idempotencyKeys = platform.table(
  'idempotency_keys',
  {
    scope: varchar('scope', { length: 200 }).notNull(),
    key: varchar('key', { length: 255 }).notNull(),
    requestHash: varchar('request_hash', { length: 64 }).notNull(),
    /** Null while the first request is still running. */
    responseStatus: integer('response_status'),
    responseBody: text('response_body'),
    createdAt: timestamp('created_at', { withTimezone: true }).notNull().defaultNow(),
    completedAt: timestamp('completed_at', { withTimezone: true }),
  },
  (t) => [primaryKey({ columns: [t.scope, t.key] }), index('idempotency_keys_created_idx').on(t.createdAt)],
);
