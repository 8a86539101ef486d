import { randomBytes } from 'node:crypto';
import { lessons, sections } from '../../src/modules/catalog/catalog.tables.ts';
import { orders, payments } from '../../src/modules/commerce/commerce.tables.ts';
import type { TestApp } from '../helpers/app.ts';
import { insertCourse } from './courses.ts';

type Caller = { userId: number; token: string };
type CourseOverrides = Parameters<typeof insertCourse>[1];

/**
 * A course (published by default) owned by `owner`, with its course_instructors rows for the
 * owner and each co-instructor, as the authoring API would leave them.
 */
export async function staffedCourse(
  t: TestApp,
  staff: { owner: Caller; coInstructors?: Caller[] },
  overrides: CourseOverrides = {},
) {
  const course = await insertCourse(t, { ownerId: staff.owner.userId, lessons: 1, ...overrides });
  const rows = [
    { role: 'owner', userId: staff.owner.userId },
    ...(staff.coInstructors ?? []).map((c) => ({ role: 'co', userId: c.userId })),
  ];
  for (const r of rows) {
    await t.app.platform.database.executor.executeSql(
      'insert into catalog.course_instructors (course_id, user_id, role) values ($1, $2, $3)',
      [course.id, r.userId, r.role],
    );
  }
  return course;
}

export interface LessonSpec {
  title: string;
  body?: string;
  isPreview?: boolean;
  releaseAfterDays?: number | null;
  releaseAt?: Date | null;
}

/** A new section of `courseId` holding these lessons, in order; returns their ids. */
export async function addLessons(t: TestApp, courseId: number, specs: LessonSpec[]): Promise<number[]> {
  const db = t.app.platform.db;
  const [section] = await db
    .insert(sections)
    .values({ courseId, title: `Section ${randomBytes(2).toString('hex')}`, position: 100 })
    .returning();
  const ids: number[] = [];
  for (const [position, spec] of specs.entries()) {
    const [row] = await db
      .insert(lessons)
      .values({
        courseId,
        sectionId: section!.id,
        title: spec.title,
        position,
        body: spec.body ?? `Body of ${spec.title}`,
        isPreview: spec.isPreview ?? false,
        releaseAfterDays: spec.releaseAfterDays ?? null,
        releaseAt: spec.releaseAt ?? null,
      })
      .returning();
    ids.push(row!.id);
  }
  return ids;
}

/**
 * An order and its payment as checkout leaves them (paid/success by default), without the
 * payment's event: for enrollment tests that call the enroll API themselves.
 */
export async function insertPayment(
  t: TestApp,
  values: {
    userId: number;
    courseId: number;
    status?: 'pending' | 'success' | 'failed' | 'refunded';
    amountMinor?: number;
    currency?: string;
  },
) {
  const { userId, courseId, status = 'success', amountMinor = 500000, currency = 'NGN' } = values;
  const orderStatus = (
    { success: 'paid', pending: 'pending', failed: 'failed', refunded: 'refunded' } as const
  )[status];
  return t.app.platform.db.transaction(async (tx) => {
    const [order] = await tx
      .insert(orders)
      .values({
        userId,
        courseId,
        courseTitle: 'Test course',
        status: orderStatus,
        currency,
        listPriceMinor: amountMinor,
        amountMinor,
        method: 'card',
        paidAt: status === 'success' ? new Date() : null,
      })
      .returning();
    const [payment] = await tx
      .insert(payments)
      .values({
        transactionId: `tx_test${randomBytes(10).toString('hex')}`,
        orderId: order!.id,
        userId,
        courseId,
        method: 'card',
        status,
        amountMinor,
        currency,
        paidAt: status === 'success' ? new Date() : null,
      })
      .returning();
    return { paymentId: payment!.id, orderId: order!.id, transactionId: payment!.transactionId };
  });
}

/** Publishes a domain event in its own transaction, as the publishing module would. */
export function publishEvent<T>(t: TestApp, name: string, payload: T) {
  return t.app.platform.db.transaction((tx) => t.app.platform.events.publish(tx, name, payload));
}

/** Sets an enrollment's fields directly (e.g. `completed`, or an older enrollment date for drip). */
export async function updateEnrollment(
  t: TestApp,
  enrollmentId: number,
  fields: { status?: string; enrolledAt?: Date },
) {
  await t.app.platform.database.executor.executeSql(
    `update enrollment.enrollments
        set status = coalesce($2::enrollment.enrollment_status, status),
            enrolled_at = coalesce($3::timestamptz, enrolled_at)
      where id = $1`,
    [enrollmentId, fields.status ?? null, fields.enrolledAt?.toISOString() ?? null],
  );
}

/** POST /api/enrollments/enroll as `caller`. */
export function enroll(
  t: TestApp,
  caller: Caller,
  body: Record<string, unknown>,
  headers: Record<string, string> = {},
) {
  return t.request({
    method: 'POST',
    url: '/api/enrollments/enroll',
    payload: body,
    token: caller.token,
    headers,
  });
}
