import { and, desc, eq, gt, inArray, lt, ne, sql, type SQL } from 'drizzle-orm';
import type { DbOrTx, Tx } from '../../platform/db.ts';
import { enrollments } from './enrollment.tables.ts';

export type EnrollmentRow = typeof enrollments.$inferSelect;
export type EnrollmentStatus = EnrollmentRow['status'];
export type NewEnrollment = typeof enrollments.$inferInsert;

const live = ne(enrollments.status, 'revoked');

export async function findEnrollment(db: DbOrTx, id: number): Promise<EnrollmentRow | undefined> {
  const [row] = await db.select().from(enrollments).where(eq(enrollments.id, id));
  return row;
}

/** The user's enrollment in a course that still gives access (not revoked), if any. */
export async function findLiveEnrollment(
  db: DbOrTx,
  userId: number,
  courseId: number,
): Promise<EnrollmentRow | undefined> {
  const [row] = await db
    .select()
    .from(enrollments)
    .where(and(eq(enrollments.userId, userId), eq(enrollments.courseId, courseId), live));
  return row;
}

/** The enrollment a payment created (live or revoked), if any. */
export async function findEnrollmentByPayment(
  db: DbOrTx,
  paymentId: number,
): Promise<EnrollmentRow | undefined> {
  const [row] = await db.select().from(enrollments).where(eq(enrollments.paymentId, paymentId));
  return row;
}

/**
 * Inserts an enrollment unless one of the unique indexes (one live enrollment per user and course,
 * one enrollment per payment) already holds a row: then nothing is written and undefined returned.
 * A concurrent insert of the same key is waited for, so exactly one of them gets the row.
 */
export async function insertEnrollmentIfAbsent(
  tx: Tx,
  values: NewEnrollment,
): Promise<EnrollmentRow | undefined> {
  const [row] = await tx.insert(enrollments).values(values).onConflictDoNothing().returning();
  return row;
}

/**
 * Serialises everything that concerns one payment's enrollment (enroll by HTTP, the payment
 * event, the refund event) for the rest of the transaction.
 */
export async function lockPaymentEnrollment(tx: Tx, paymentId: number): Promise<void> {
  await tx.execute(sql`select pg_advisory_xact_lock(hashtext('enrollment.payment'), ${paymentId}::int)`);
}

/** Revokes the live enrollment a payment created; returns it, or undefined when there was none. */
export async function revokeEnrollmentOfPayment(
  tx: Tx,
  paymentId: number,
  reason: string,
): Promise<EnrollmentRow | undefined> {
  const now = new Date();
  const [row] = await tx
    .update(enrollments)
    .set({ status: 'revoked', revokedAt: now, revokeReason: reason.slice(0, 300), updatedAt: now })
    .where(and(eq(enrollments.paymentId, paymentId), live))
    .returning();
  return row;
}

/** Course ids among `courseIds` that the user has completed. */
export async function listCompletedCourseIds(
  db: DbOrTx,
  userId: number,
  courseIds: number[],
): Promise<number[]> {
  if (courseIds.length === 0) return [];
  const rows = await db
    .select({ courseId: enrollments.courseId })
    .from(enrollments)
    .where(
      and(
        eq(enrollments.userId, userId),
        inArray(enrollments.courseId, courseIds),
        eq(enrollments.status, 'completed'),
      ),
    );
  return rows.map((r) => r.courseId);
}

/** Whether a course has ever had an enrollment (revoked ones count: they are history). */
export async function courseHasEnrollments(db: DbOrTx, courseId: number): Promise<boolean> {
  const [row] = await db
    .select({ id: enrollments.id })
    .from(enrollments)
    .where(eq(enrollments.courseId, courseId))
    .limit(1);
  return Boolean(row);
}

export interface PageQuery {
  /** Id of the last row of the previous page (newest first). */
  beforeId?: number;
  limit: number;
  status?: EnrollmentStatus;
}

/** One page of rows matching `where`, newest first, with one extra row to tell whether more follow. */
async function page(db: DbOrTx, where: SQL | undefined, q: PageQuery): Promise<EnrollmentRow[]> {
  return db
    .select()
    .from(enrollments)
    .where(
      and(
        where,
        q.status ? eq(enrollments.status, q.status) : undefined,
        q.beforeId !== undefined ? lt(enrollments.id, q.beforeId) : undefined,
      ),
    )
    .orderBy(desc(enrollments.id))
    .limit(q.limit + 1);
}

/** A user's enrollments, newest first (keyset on id; index enrollments_user_idx). */
export const listUserEnrollments = (db: DbOrTx, userId: number, q: PageQuery) =>
  page(db, eq(enrollments.userId, userId), q);

/** A course's enrollments, newest first (keyset on id; index enrollments_course_idx). */
export const listCourseEnrollments = (db: DbOrTx, courseId: number, q: PageQuery) =>
  page(db, eq(enrollments.courseId, courseId), q);

/** User ids of a course's live enrollments in id order, after `afterUserId` (for fan-out by other modules). */
export async function listLiveStudentIds(
  db: DbOrTx,
  courseId: number,
  afterUserId: number,
  limit: number,
): Promise<number[]> {
  const rows = await db
    .select({ userId: enrollments.userId })
    .from(enrollments)
    .where(and(eq(enrollments.courseId, courseId), live, gt(enrollments.userId, afterUserId)))
    .orderBy(enrollments.userId)
    .limit(limit);
  return rows.map((r) => r.userId);
}

/** Course ids of a user's live enrollments. */
export async function listLiveCourseIds(db: DbOrTx, userId: number): Promise<number[]> {
  const rows = await db
    .select({ courseId: enrollments.courseId })
    .from(enrollments)
    .where(and(eq(enrollments.userId, userId), live))
    .orderBy(enrollments.courseId);
  return rows.map((r) => r.courseId);
}

/**
 * In-progress enrollments not touched since `before`, in id order after `afterId`. `updated_at`
 * is the latest activity this module records (the enrollment itself or its last status change).
 */
export async function listStaleInProgress(db: DbOrTx, before: Date, afterId: number, limit: number) {
  return db
    .select()
    .from(enrollments)
    .where(
      and(
        eq(enrollments.status, 'in_progress'),
        lt(enrollments.updatedAt, before),
        gt(enrollments.id, afterId),
      ),
    )
    .orderBy(enrollments.id)
    .limit(limit);
}

/** Every enrollment of a user, oldest first (personal-data export). */
export async function listAllUserEnrollments(db: DbOrTx, userId: number): Promise<EnrollmentRow[]> {
  return db.select().from(enrollments).where(eq(enrollments.userId, userId)).orderBy(enrollments.id);
}
