import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ORDER_REFUNDED, PAYMENT_SUCCEEDED } from '../../src/modules/commerce/index.ts';
import type { OrderRefunded, PaymentSucceeded } from '../../src/modules/commerce/index.ts';
import { createTestApp, type TestApp, waitFor } from '../helpers/app.ts';
import { testCard, verifiedStudent } from '../factories/commerce.ts';
import {
  addLessons,
  enroll,
  insertPayment,
  publishEvent,
  staffedCourse,
  updateEnrollment,
} from '../factories/enrollment.ts';
import { createUserWithRole } from '../factories/users.ts';

type Caller = { userId: number; token: string; email: string };

let t: TestApp;
let owner: Caller;
let admin: Caller;

const DAY = 86_400_000;
const sql = async (text: string, values: unknown[] = []) =>
  (await t.app.platform.database.executor.executeSql(text, values)).rows;
const lesson = (id: number, caller?: Caller) =>
  t.request({ method: 'GET', url: `/api/lessons/${id}`, token: caller?.token });
const content = (courseId: number | string, caller?: Caller) =>
  t.request({ method: 'GET', url: `/api/courses/${courseId}/content`, token: caller?.token });
const processed = (consumer: string, event: { id: string }) =>
  waitFor(() => t.app.platform.events.wasProcessed(consumer, event.id));
const enrollmentCount = async (courseId: number) =>
  (await sql('select enrollment_count from catalog.courses where id = $1', [courseId]))[0]!.enrollment_count;

const paymentEvent = (
  p: { paymentId: number; orderId: number; transactionId: string },
  userId: number,
  courseId: number,
) =>
  ({
    ...p,
    userId,
    courseId,
    amountMinor: 500000,
    currency: 'NGN',
    method: 'card',
  }) satisfies PaymentSucceeded;
const refundEvent = (p: { paymentId: number; orderId: number }, userId: number, courseId: number) =>
  ({
    paymentId: p.paymentId,
    orderId: p.orderId,
    refundId: 1,
    userId,
    courseId,
    amountMinor: 500000,
    currency: 'NGN',
    method: 'card',
  }) satisfies OrderRefunded;

beforeAll(async () => {
  t = await createTestApp({ AUTH_RATE_LIMIT_MAX: '1000' });
  [owner, admin] = await Promise.all([createUserWithRole(t, 'instructor'), createUserWithRole(t, 'admin')]);
});
afterAll(() => t.close());

describe('lesson bodies for enrolled students', () => {
  it('hides bodies until enrollment, then opens released lessons and keeps drip-locked ones closed', async () => {
    const student = await verifiedStudent(t);
    const course = await staffedCourse(t, { owner });
    const releaseAt = new Date(Date.now() + 10 * DAY);
    const [open, preview, afterThree, fixedFuture, fixedPast] = await addLessons(t, course.id, [
      { title: 'Open', body: 'Open body' },
      { title: 'Preview', body: 'Preview body', isPreview: true },
      { title: 'Day 3', body: 'Day 3 body', releaseAfterDays: 3 },
      { title: 'Fixed future', body: 'Future body', releaseAt },
      { title: 'Fixed past', body: 'Past body', releaseAt: new Date(Date.now() - DAY) },
    ]);

    const before = await lesson(open!, student);
    expect(before.status).toBe(200);
    expect(before.body.data).toMatchObject({ locked: true, lockReason: 'not_enrolled' });
    expect(before.body.data.body).toBeUndefined();
    expect((await lesson(open!)).body.data).toMatchObject({ locked: true, lockReason: 'not_enrolled' });
    expect((await lesson(preview!)).body.data).toMatchObject({ locked: false, body: 'Preview body' });
    expect((await content(course.id, student)).status).toBe(403);

    const res = await enroll(t, student, { courseId: course.id, userId: student.userId });
    expect(res.status).toBe(201);
    const [row] = await sql('select enrolled_at from enrollment.enrollments where id = $1', [
      res.body.data.enrollmentId,
    ]);
    const enrolledAt = new Date(row!.enrolled_at as string | Date);

    expect((await lesson(open!, student)).body.data).toMatchObject({ locked: false, body: 'Open body' });
    expect((await lesson(fixedPast!, student)).body.data).toMatchObject({ locked: false, body: 'Past body' });
    const dripped = await lesson(afterThree!, student);
    expect(dripped.body.data).toMatchObject({
      locked: true,
      lockReason: 'not_released',
      availableAt: new Date(enrolledAt.getTime() + 3 * DAY).toISOString(),
    });
    expect(dripped.body.data.body).toBeUndefined();
    expect((await lesson(fixedFuture!, student)).body.data).toMatchObject({
      locked: true,
      lockReason: 'not_released',
      availableAt: releaseAt.toISOString(),
      releaseAt: releaseAt.toISOString(),
    });
    // The course owner reads everything regardless of drip.
    expect((await lesson(fixedFuture!, owner)).body.data).toMatchObject({
      locked: false,
      body: 'Future body',
    });

    // Four days later the day-3 lesson is open; the fixed date is still ahead.
    await updateEnrollment(t, res.body.data.enrollmentId, { enrolledAt: new Date(Date.now() - 4 * DAY) });
    expect((await lesson(afterThree!, student)).body.data).toMatchObject({
      locked: false,
      body: 'Day 3 body',
    });
    expect((await lesson(fixedFuture!, student)).body.data.locked).toBe(true);
  });

  it('GET /api/courses/{id}/content: the curriculum with released bodies, lock info for the rest', async () => {
    const student = await verifiedStudent(t);
    const stranger = await verifiedStudent(t);
    const course = await staffedCourse(t, { owner }, { lessons: 0 });
    const releaseAt = new Date(Date.now() + 5 * DAY);
    const [first, second] = await addLessons(t, course.id, [
      { title: 'First', body: 'First body' },
      { title: 'Later', body: 'Later body', releaseAt },
    ]);
    const res = await enroll(t, student, { courseId: course.id, userId: student.userId });

    const mine = await content(course.id, student);
    expect(mine.status).toBe(200);
    expect(mine.body.data).toEqual({
      courseId: course.id,
      title: course.title,
      enrollmentId: res.body.data.enrollmentId,
      sections: [
        {
          sectionId: expect.any(Number),
          title: expect.any(String),
          position: 100,
          lessons: [
            expect.objectContaining({ lessonId: first, locked: false, body: 'First body', resources: [] }),
            expect.objectContaining({ lessonId: second, locked: true, availableAt: releaseAt.toISOString() }),
          ],
        },
      ],
    });
    expect(mine.body.data.sections[0].lessons[1].body).toBeUndefined();

    for (const staff of [owner, admin]) {
      const all = await content(course.id, staff);
      expect(all.status).toBe(200);
      expect(all.body.data.enrollmentId).toBeNull();
      expect(all.body.data.sections[0].lessons.map((l: { body: string }) => l.body)).toEqual([
        'First body',
        'Later body',
      ]);
    }
    const refused = await content(course.id, stranger);
    expect([refused.status, refused.body.error.message]).toEqual([
      403,
      'Enroll in this course to read its content',
    ]);
    const draft = await staffedCourse(t, { owner }, { status: 'draft' });
    expect((await content(draft.id, stranger)).status).toBe(404);
    expect((await content(draft.id, owner)).status).toBe(200);
    expect((await content(99_999_999, admin)).status).toBe(404);
    expect((await content('abc', student)).status).toBe(400);
    expect((await content(course.id)).status).toBe(401);
  });

  it('keeps an archived course open to its enrolled students only', async () => {
    const student = await verifiedStudent(t);
    const stranger = await verifiedStudent(t);
    const course = await staffedCourse(t, { owner }, { lessons: 0 });
    const [id] = await addLessons(t, course.id, [{ title: 'Kept', body: 'Kept body' }]);
    await enroll(t, student, { courseId: course.id, userId: student.userId });
    await sql("update catalog.courses set status = 'archived' where id = $1", [course.id]);
    expect((await lesson(id!, student)).body.data).toMatchObject({ locked: false, body: 'Kept body' });
    expect((await content(course.id, student)).status).toBe(200);
    expect((await lesson(id!, stranger)).status).toBe(404);
    expect((await content(course.id, stranger)).status).toBe(404);
  });
});

describe('payment events', () => {
  it('enrolls once per succeeded payment, and a refund revokes access', async () => {
    const student = await verifiedStudent(t);
    const course = await staffedCourse(t, { owner }, { priceMinor: 500000, lessons: 0 });
    const [id] = await addLessons(t, course.id, [{ title: 'Paid lesson', body: 'Paid body' }]);
    const payment = await insertPayment(t, { userId: student.userId, courseId: course.id });
    const event = paymentEvent(payment, student.userId, course.id);

    // Delivered twice (two event ids): still one enrollment.
    const deliveries = [
      await publishEvent(t, PAYMENT_SUCCEEDED, event),
      await publishEvent(t, PAYMENT_SUCCEEDED, event),
    ];
    const enrolled = await waitFor(async () => {
      const res = await t.request({ method: 'GET', url: '/api/enrollments', token: student.token });
      return res.body.data.items[0] as
        { enrollmentId: number; source: string; paymentId: number } | undefined;
    });
    expect(enrolled).toMatchObject({
      source: 'payment',
      paymentId: payment.paymentId,
      status: 'in_progress',
    });
    await waitFor(async () => (await enrollmentCount(course.id)) === 1);
    expect((await lesson(id!, student)).body.data.body).toBe('Paid body');
    // The student's own request with the same payment is that enrollment, not a conflict.
    const manual = await enroll(t, student, {
      courseId: course.id,
      userId: student.userId,
      paymentId: payment.paymentId,
    });
    expect([manual.status, manual.body.data.enrollmentId]).toEqual([201, enrolled.enrollmentId]);
    for (const delivery of deliveries) await processed('enrollment.enrollBuyer', delivery);
    expect(
      await sql('select id from enrollment.enrollments where user_id = $1', [student.userId]),
    ).toHaveLength(1);

    await publishEvent(t, ORDER_REFUNDED, refundEvent(payment, student.userId, course.id));
    const revoked = await waitFor(async () => {
      const res = await t.request({
        method: 'GET',
        url: `/api/enrollments/${enrolled.enrollmentId}`,
        token: student.token,
      });
      return res.body.data.status === 'revoked' ? res.body.data : undefined;
    });
    expect(revoked).toMatchObject({
      revokedAt: expect.any(String),
      revokeReason: `Order ${payment.orderId} refunded`,
    });
    expect((await lesson(id!, student)).body.data).toMatchObject({
      locked: true,
      lockReason: 'not_enrolled',
    });
    expect((await content(course.id, student)).status).toBe(403);
    await waitFor(async () => (await enrollmentCount(course.id)) === 0);
    expect(await t.app.modules.enrollment.findLiveEnrollment(student.userId, course.id)).toBeNull();
  });

  it('a card purchase through the payments API enrolls the buyer automatically', async () => {
    const student = await verifiedStudent(t);
    const course = await staffedCourse(t, { owner }, { priceMinor: 250000, currency: 'NGN', lessons: 0 });
    const [id] = await addLessons(t, course.id, [{ title: 'Bought', body: 'Bought body' }]);
    const paid = await t.request({
      method: 'POST',
      url: '/api/payments/initiate',
      token: student.token,
      payload: {
        userId: student.userId,
        courseId: course.id,
        amount: 2500,
        method: 'card',
        cardDetails: testCard(),
      },
    });
    expect(paid.status).toBe(201);
    const enrollment = await waitFor(() =>
      t.app.modules.enrollment.findLiveEnrollment(student.userId, course.id),
    );
    expect(enrollment).toMatchObject({ source: 'payment', paymentId: paid.body.data.paymentId });
    expect((await lesson(id!, student)).body.data.body).toBe('Bought body');
    const again = await enroll(t, student, {
      courseId: course.id,
      userId: student.userId,
      paymentId: paid.body.data.paymentId,
    });
    expect([again.status, again.body.data.enrollmentId]).toEqual([201, enrollment.enrollmentId]);
  });

  it('a refund handled before the payment event leaves nothing to enroll with that payment', async () => {
    const student = await verifiedStudent(t);
    const course = await staffedCourse(t, { owner }, { priceMinor: 500000 });
    const payment = await insertPayment(t, { userId: student.userId, courseId: course.id });
    const refund = await publishEvent(t, ORDER_REFUNDED, refundEvent(payment, student.userId, course.id));
    await processed('enrollment.revokeRefunded', refund);
    expect(
      await sql('select status from enrollment.enrollments where payment_id = $1', [payment.paymentId]),
    ).toEqual([{ status: 'revoked' }]);
    const late = await publishEvent(t, PAYMENT_SUCCEEDED, paymentEvent(payment, student.userId, course.id));
    await processed('enrollment.enrollBuyer', late);
    const manual = await enroll(t, student, {
      courseId: course.id,
      userId: student.userId,
      paymentId: payment.paymentId,
    });
    expect([manual.status, manual.body.error.message]).toEqual([402, 'Payment was refunded']);
    expect(await t.app.modules.enrollment.findLiveEnrollment(student.userId, course.id)).toBeNull();
  });

  it('a draft course with enrollments is archived instead of deleted', async () => {
    const student = await verifiedStudent(t);
    const draft = await staffedCourse(t, { owner }, { status: 'draft' });
    // Enrollments only reach drafts through history (no API enrolls into one): insert it as such.
    await sql(
      "insert into enrollment.enrollments (user_id, course_id, source, status) values ($1, $2, 'admin', 'revoked')",
      [student.userId, draft.id],
    );
    const res = await t.request({ method: 'DELETE', url: `/api/courses/${draft.id}`, token: owner.token });
    expect(res.body.data).toEqual({ message: 'Course archived (it has enrollments)', status: 'archived' });
    const empty = await staffedCourse(t, { owner }, { status: 'draft' });
    const gone = await t.request({ method: 'DELETE', url: `/api/courses/${empty.id}`, token: owner.token });
    expect(gone.body.data.status).toBe('deleted');
  });
});
