import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { PAYMENT_SUCCEEDED, type PaymentSucceeded } from '../../src/modules/commerce/index.ts';
import { createTestApp, type TestApp, waitFor } from '../helpers/app.ts';
import { verifiedStudent } from '../factories/commerce.ts';
import { enroll, insertPayment, publishEvent, staffedCourse } from '../factories/enrollment.ts';
import { createUserWithRole } from '../factories/users.ts';

// Meaningful on PostgreSQL (DATABASE_URL set), where the requests really run at once; on PGlite
// they are serialised and the same assertions hold.
let t: TestApp;
let owner: { userId: number; token: string };

const rowsOf = async (userId: number, courseId: number) =>
  (
    await t.app.platform.database.executor.executeSql(
      'select id, payment_id from enrollment.enrollments where user_id = $1 and course_id = $2',
      [userId, courseId],
    )
  ).rows;

beforeAll(async () => {
  t = await createTestApp({ AUTH_RATE_LIMIT_MAX: '1000', DATABASE_POOL_MAX: '25' });
  owner = await createUserWithRole(t, 'instructor');
});
afterAll(() => t.close());

describe('concurrent enrollment', () => {
  it('20 simultaneous requests for one course: exactly one 201, the rest 409', async () => {
    const student = await verifiedStudent(t);
    const course = await staffedCourse(t, { owner });
    const results = await Promise.all(
      Array.from({ length: 20 }, () => enroll(t, student, { courseId: course.id, userId: student.userId })),
    );
    const statuses = results.map((r) => r.status).sort();
    expect(statuses).toEqual([201, ...Array<number>(19).fill(409)]);
    const rows = await rowsOf(student.userId, course.id);
    expect(rows).toHaveLength(1);
    expect(rows[0]!.id).toBe(results.find((r) => r.status === 201)!.body.data.enrollmentId);
  });

  it('20 simultaneous requests with the same payment, racing its event: all 201, one enrollment', async () => {
    const student = await verifiedStudent(t);
    const course = await staffedCourse(t, { owner }, { priceMinor: 500000 });
    const payment = await insertPayment(t, { userId: student.userId, courseId: course.id });
    const event: PaymentSucceeded = {
      ...payment,
      userId: student.userId,
      courseId: course.id,
      amountMinor: 500000,
      currency: 'NGN',
      method: 'card',
    };
    const body = { courseId: course.id, userId: student.userId, paymentId: payment.paymentId };
    const [published, ...results] = await Promise.all([
      publishEvent(t, PAYMENT_SUCCEEDED, event),
      ...Array.from({ length: 20 }, () => enroll(t, student, body)),
    ]);
    expect(results.map((r) => r.status)).toEqual(Array<number>(20).fill(201));
    const ids = new Set(results.map((r) => r.body.data.enrollmentId));
    expect(ids.size).toBe(1);
    await waitFor(() => t.app.platform.events.wasProcessed('enrollment.enrollBuyer', published.id));
    const rows = await rowsOf(student.userId, course.id);
    expect(rows).toEqual([{ id: [...ids][0], payment_id: payment.paymentId }]);
  });
});
