import { beforeAll, describe, expect, it } from 'vitest';
import {
  ORDER_REFUNDED,
  PAYMENT_SUCCEEDED,
  type OrderRefunded,
  type PaymentSucceeded,
} from '../../src/modules/commerce/index.ts';
import { ENROLLMENT_CREATED, type EnrollmentCreated } from '../../src/modules/enrollment/index.ts';
import { enrollments } from '../../src/modules/enrollment/enrollment.tables.ts';
import { COMPOSE_JOB } from '../../src/modules/notifications/notifications.events.ts';
import { type TestApp, waitFor } from '../helpers/app.ts';
import { notificationsTestApp } from '../helpers/notifications.ts';
import type { SmtpPeer } from '../helpers/smtp.ts';
import { insertCourse } from '../factories/courses.ts';
import { createUserWithRole, registerStudent, uniqueEmail } from '../factories/users.ts';

const env = notificationsTestApp();
const { sql, publish, jobDone, mailsTo, inbox } = env;
let t: TestApp;
let smtp: SmtpPeer;
beforeAll(() => {
  ({ t, smtp } = env);
});

describe('identity.user.registered', () => {
  it('welcomes a new user once, in-app and by email, next to (not instead of) the verification email', async () => {
    const me = await registerStudent(t, { name: 'Grace <Hopper>' });
    const [welcome] = await mailsTo(me.email, 'Welcome to Lectern');
    expect(welcome!.text).toContain('Hello Grace <Hopper>,');
    expect(welcome!.html).toContain('Hello Grace &lt;Hopper&gt;,');
    expect(welcome!.text).toContain('https://learn.example.test/courses');
    expect(welcome!.headers['list-unsubscribe']).toBeUndefined();
    await mailsTo(me.email, 'Confirm your email address');
    const items = await waitFor(async () => {
      const all = await inbox(me.token);
      return all.length ? all : null;
    });
    expect(items).toEqual([expect.objectContaining({ template: 'welcome', title: 'Welcome to Lectern' })]);
    await new Promise((r) => setTimeout(r, 1000));
    expect(
      smtp
        .to(me.email)
        .map((m) => m.subject)
        .sort(),
    ).toEqual(['Confirm your email address', 'Welcome to Lectern']);
  });
});

describe('identity.user.registered by an invitation', () => {
  it('sends no welcome to an invited account: the invitation is its first message', async () => {
    const admin = await createUserWithRole(t, 'admin');
    const email = uniqueEmail('invitee');
    const res = await t.request({
      method: 'POST',
      url: '/api/admin/users',
      token: admin.token,
      payload: { email, name: 'Invited Instructor', role: 'instructor' },
    });
    expect(res.status).toBe(201);
    const { userId } = res.body.data;
    await mailsTo(email, 'You are invited to Lectern');
    // The compose job for the registration ran and decided to send nothing.
    await waitFor(
      async () =>
        (
          await sql(
            `select 1 from pgboss.job where name = $1 and state = 'completed'
               and (data->'payload'->>'userId')::int = $2`,
            [COMPOSE_JOB, userId],
          )
        ).length > 0,
    );
    expect(await sql('select id from notifications.notifications where user_id = $1', [userId])).toEqual([]);
    expect(smtp.to(email).map((m) => m.subject)).toEqual(['You are invited to Lectern']);
  });
});

describe('enrollment.enrollment.created', () => {
  it('confirms the enrollment in-app and by email; the same event twice (and a retried job) sends one message', async () => {
    const me = await registerStudent(t);
    const course = await insertCourse(t, { title: 'Data & Society' });
    const payload: EnrollmentCreated = {
      enrollmentId: 9001,
      userId: me.userId,
      courseId: course.id,
      source: 'free',
      paymentId: null,
      orderId: null,
      enrolledAt: new Date().toISOString(),
    };
    const event = await publish(ENROLLMENT_CREATED, payload);
    // The same event delivered again to the consumer, and the compose job run again by hand.
    const again = await t.app.platform.jobs.send('notifications.confirmEnrollment', event);
    const retried = await t.app.platform.jobs.send(COMPOSE_JOB, {
      kind: 'enrollment',
      eventId: event.id,
      payload,
      afterUserId: 0,
    });
    const [mail] = await mailsTo(me.email, 'You are enrolled in Data & Society');
    expect(mail!.text).toContain(`https://learn.example.test/courses/${course.slug}`);
    expect(mail!.html).toContain('Data &amp; Society');
    expect(mail!.text).toMatch(
      /Unsubscribe from these emails: https:\/\/api\.example\.test\/api\/notifications\/unsubscribe\?token=/,
    );
    await jobDone(again);
    await jobDone(retried);
    await new Promise((r) => setTimeout(r, 1000));
    expect(smtp.to(me.email).filter((m) => m.subject.startsWith('You are enrolled'))).toHaveLength(1);
    expect((await inbox(me.token)).filter((i) => i.template === 'enrollment_confirmation')).toEqual([
      expect.objectContaining({
        title: 'You are enrolled in Data & Society',
        category: 'course_updates',
        data: expect.objectContaining({ courseId: course.id, enrollmentId: 9001 }),
      }),
    ]);
    expect(await t.app.platform.events.wasProcessed('notifications.confirmEnrollment', event.id)).toBe(true);
  });

  it('follows preferences: with course-update emails off, only the in-app confirmation is created', async () => {
    const me = await registerStudent(t);
    await t.request({
      method: 'PUT',
      url: '/api/notifications/preferences',
      token: me.token,
      payload: { preferences: { course_updates: { email: false } } },
    });
    const course = await insertCourse(t, { title: 'Quiet Course' });
    await publish<EnrollmentCreated>(ENROLLMENT_CREATED, {
      enrollmentId: 9002,
      userId: me.userId,
      courseId: course.id,
      source: 'free',
      paymentId: null,
      orderId: null,
      enrolledAt: new Date().toISOString(),
    });
    await waitFor(async () => (await inbox(me.token)).some((i) => i.template === 'enrollment_confirmation'));
    await new Promise((r) => setTimeout(r, 1500));
    expect(smtp.to(me.email).filter((m) => m.subject.includes('Quiet Course'))).toEqual([]);
    // No email notification was even recorded for it (events skip switched-off channels).
    const channels = await sql(
      `select channel from notifications.notifications where user_id = $1 and template = 'enrollment_confirmation'`,
      [me.userId],
    );
    expect(channels).toEqual([{ channel: 'in_app' }]);
  });
});

describe('commerce events', () => {
  it('sends a payment notice and a refund notice with amounts in major units', async () => {
    const me = await registerStudent(t);
    const course = await insertCourse(t, { title: 'Paid Course', priceMinor: 500000, currency: 'NGN' });
    const paid: PaymentSucceeded = {
      paymentId: 77,
      transactionId: 'tx_TESTPAYMENT0000000000000',
      orderId: 55,
      userId: me.userId,
      courseId: course.id,
      amountMinor: 500000,
      currency: 'NGN',
      method: 'card',
    };
    await publish(PAYMENT_SUCCEEDED, paid);
    const [receipt] = await mailsTo(me.email, 'Payment received: NGN 5,000.00 for Paid Course');
    expect(receipt!.text).toContain('Amount: NGN 5,000.00');
    expect(receipt!.text).toContain('Transaction: tx_TESTPAYMENT0000000000000');
    expect(receipt!.text).toContain('https://learn.example.test/orders/55');
    expect(receipt!.html).toContain('NGN 5,000.00');
    // Order 55 does not exist in commerce, so there is no PDF to attach: the email says where it is.
    expect(receipt!.text).toContain('You can download the receipt from your order.');

    const refund: OrderRefunded = {
      orderId: 55,
      refundId: 3,
      paymentId: 77,
      userId: me.userId,
      courseId: course.id,
      amountMinor: 4999,
      currency: 'USD',
      method: 'wallet',
    };
    await publish(ORDER_REFUNDED, refund);
    const [notice] = await mailsTo(me.email, 'Refund issued: USD 49.99 for Paid Course');
    expect(notice!.text).toContain('The amount is back in your Lectern wallet now.');
    const titles = (await inbox(me.token)).map((i) => i.title);
    expect(titles).toEqual(expect.arrayContaining(['Payment received', 'Refund issued']));
  });
});

describe('catalog events', () => {
  it('tells the owner when a course is published, and every current student about a new lesson', async () => {
    const owner = await createUserWithRole(t, 'instructor');
    const created = await t.request({
      method: 'POST',
      url: '/api/courses',
      token: owner.token,
      payload: { title: 'Rust for Humans', description: 'Systems programming, gently.' },
    });
    expect(created.status).toBe(201);
    const courseId = created.body.data.courseId ?? created.body.data.id;
    const section = await t.request({
      method: 'POST',
      url: `/api/courses/${courseId}/sections`,
      token: owner.token,
      payload: { title: 'Basics' },
    });
    const sectionId = section.body.data.sectionId;
    await t.request({
      method: 'POST',
      url: `/api/sections/${sectionId}/lessons`,
      token: owner.token,
      payload: { title: 'Ownership', durationMinutes: 10 },
    });
    expect(
      (await t.request({ method: 'POST', url: `/api/courses/${courseId}/publish`, token: owner.token }))
        .status,
    ).toBe(200);
    const [live] = await mailsTo(owner.email, 'Your course is live: Rust for Humans');
    expect(live!.text).toContain('https://learn.example.test/courses/');

    const [a, b, gone, outsider] = [
      await registerStudent(t),
      await registerStudent(t),
      await registerStudent(t),
      await registerStudent(t),
    ];
    await t.app.platform.db.insert(enrollments).values([
      { userId: a.userId, courseId, source: 'free' },
      { userId: b.userId, courseId, source: 'free' },
      { userId: gone.userId, courseId, source: 'free', status: 'revoked', revokedAt: new Date() },
    ]);
    await t.request({
      method: 'PUT',
      url: '/api/notifications/preferences',
      token: b.token,
      payload: { preferences: { course_updates: { email: false } } },
    });
    const lesson = await t.request({
      method: 'POST',
      url: `/api/sections/${sectionId}/lessons`,
      token: owner.token,
      payload: { title: 'Borrowing <&> lifetimes', durationMinutes: 15 },
    });
    expect(lesson.status).toBe(201);
    const subject = 'New lesson in Rust for Humans: Borrowing <&> lifetimes';
    const [mail] = await mailsTo(a.email, subject);
    expect(mail!.html).toContain('Borrowing &lt;&amp;&gt; lifetimes');
    expect(mail!.text).toContain(`/lessons/${lesson.body.data.lessonId}`);
    await waitFor(async () => (await inbox(b.token)).some((i) => i.template === 'new_lesson'));
    await new Promise((r) => setTimeout(r, 1500));
    expect(smtp.to(b.email).filter((m) => m.subject === subject)).toEqual([]);
    for (const other of [gone, outsider]) {
      expect((await inbox(other.token)).filter((i) => i.template === 'new_lesson')).toEqual([]);
      expect(smtp.to(other.email).filter((m) => m.subject === subject)).toEqual([]);
    }
    expect((await inbox(a.token)).filter((i) => i.template === 'new_lesson')).toEqual([
      expect.objectContaining({
        title: 'New lesson in Rust for Humans',
        data: expect.objectContaining({ lessonId: lesson.body.data.lessonId, courseId }),
      }),
    ]);
  });
});

describe('identity.user.erased', () => {
  it('removes the erased user’s notifications, delivery log and preferences', async () => {
    const me = await registerStudent(t);
    await waitFor(async () => (await inbox(me.token)).length > 0);
    await t.request({
      method: 'PUT',
      url: '/api/notifications/preferences',
      token: me.token,
      payload: { dailyDigest: true, preferences: { marketing: { email: true } } },
    });
    const kept = async () =>
      (
        await sql(
          `select (select count(*) from notifications.notifications where user_id = $1)::int
                + (select count(*) from notifications.deliveries where user_id = $1)::int
                + (select count(*) from notifications.preferences where user_id = $1)::int
                + (select count(*) from notifications.user_settings where user_id = $1)::int as n`,
          [me.userId],
        )
      )[0]!.n as number;
    expect(await kept()).toBeGreaterThan(0);
    const erased = await t.request({
      method: 'DELETE',
      url: '/api/me',
      token: me.token,
      payload: { password: me.password },
    });
    expect(erased.status).toBe(200);
    await waitFor(async () => (await kept()) === 0);
  });
});
