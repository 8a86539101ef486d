import { sql } from 'drizzle-orm';
import { index, integer, pgSchema, timestamp, uniqueIndex, varchar } from 'drizzle-orm/pg-core';

/** Seed 002's Enrollments: who may learn which course, since when, and why. */
export const enrollment = pgSchema('enrollment');

export const enrollmentStatus = enrollment.enum('enrollment_status', [
  'in_progress',
  'completed',
  'dropped',
  /** Access withdrawn (refund, admin); a new purchase creates a new enrollment. */
  'revoked',
]);
export const enrollmentSource = enrollment.enum('enrollment_source', ['free', 'payment', 'admin']);

/**
 * One row per enrollment. At most one live (not revoked) enrollment per user and course, and a
 * payment enrolls at most once: both are unique indexes, so duplicates are impossible under any
 * concurrency. `user_id`, `course_id`, `payment_id` and `order_id` refer to other modules' rows.
 */
export const enrollments = enrollment.table(
  'enrollments',
  {
    id: integer('id').primaryKey().generatedAlwaysAsIdentity(),
    userId: integer('user_id').notNull(),
    courseId: integer('course_id').notNull(),
    status: enrollmentStatus('status').notNull().default('in_progress'),
    source: enrollmentSource('source').notNull(),
    paymentId: integer('payment_id'),
    orderId: integer('order_id'),
    enrolledAt: timestamp('enrolled_at', { withTimezone: true }).notNull().defaultNow(),
    completedAt: timestamp('completed_at', { withTimezone: true }),
    revokedAt: timestamp('revoked_at', { withTimezone: true }),
    revokeReason: varchar('revoke_reason', { length: 300 }),
    updatedAt: timestamp('updated_at', { withTimezone: true }).notNull().defaultNow(),
  },
  (t) => [
    uniqueIndex('enrollments_live_key')
      .on(t.userId, t.courseId)
      .where(sql`${t.status} <> 'revoked'`),
    uniqueIndex('enrollments_payment_key')
      .on(t.paymentId)
      .where(sql`${t.paymentId} is not null`),
    index('enrollments_user_idx').on(t.userId, t.id),
    index('enrollments_course_idx').on(t.courseId, t.id),
  ],
);
