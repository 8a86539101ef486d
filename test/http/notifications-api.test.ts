import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { enrollments } from '../../src/modules/enrollment/enrollment.tables.ts';
import { createTestApp, type TestApp, waitFor } from '../helpers/app.ts';
import { startSmtpServer, type SmtpPeer } from '../helpers/smtp.ts';
import { insertCourse } from '../factories/courses.ts';
import { createUserWithRole, registerStudent } from '../factories/users.ts';

type Caller = { userId: number; token: string; email: string };

let smtp: SmtpPeer;
let t: TestApp;
let admin: Caller;
let instructor: Caller;
let otherInstructor: Caller;
let student: Caller;
let otherStudent: Caller;
let loner: Caller;

/** An enrollment row as the enrollment module keeps it (no events: these tests are about messages sent by hand). */
async function enroll(userId: number, courseId: number) {
  await t.app.platform.db.insert(enrollments).values({ userId, courseId, source: 'admin' });
}

const send = (token: string, payload: Record<string, unknown>, headers: Record<string, string> = {}) =>
  t.request({ method: 'POST', url: '/api/notifications/send', token, payload, headers });
const inbox = (token: string, query = '') =>
  t.request({ method: 'GET', url: `/api/notifications${query}`, token });
const log = (token: string, query = '') =>
  t.request({ method: 'GET', url: `/api/notifications/log${query}`, token });

/** The messages with this subject the SMTP server received for an address, once there are `count`. */
const mailsTo = (email: string, subject: string, count = 1) =>
  waitFor(async () => {
    const found = smtp.to(email).filter((m) => m.subject === subject);
    return found.length >= count ? found : null;
  });

beforeAll(async () => {
  smtp = await startSmtpServer();
  t = await createTestApp({
    SMTP_URL: smtp.url,
    AUTH_RATE_LIMIT_MAX: '1000',
    APP_URL: 'https://learn.example.test',
    PUBLIC_URL: 'https://api.example.test',
  });
  [admin, instructor, otherInstructor] = await Promise.all([
    createUserWithRole(t, 'admin'),
    createUserWithRole(t, 'instructor'),
    createUserWithRole(t, 'instructor'),
  ]);
  student = await registerStudent(t, { name: 'Ada Student' });
  otherStudent = await registerStudent(t);
  loner = await registerStudent(t);
  const mine = await insertCourse(t, { ownerId: instructor.userId, title: 'Python 101' });
  const theirs = await insertCourse(t, { ownerId: otherInstructor.userId });
  await enroll(student.userId, mine.id);
  await enroll(otherStudent.userId, theirs.id);
});
afterAll(async () => {
  await t?.close();
  await smtp?.close();
});

describe('POST /api/notifications/send (seed 002)', () => {
  it('admins send in-app messages to anyone: 201 with the seed shape, in the inbox, logged as sent', async () => {
    const res = await send(admin.token, {
      userId: loner.userId,
      type: 'in_app',
      message: 'Maintenance tonight',
    });
    expect(res.status).toBe(201);
    expect(res.body).toMatchObject({
      status: 'success',
      data: {
        notificationId: expect.any(Number),
        message: 'Notification sent successfully',
        deliveryStatus: 'sent',
        scheduledFor: null,
      },
    });
    const box = await inbox(loner.token);
    expect(box.status).toBe(200);
    const item = box.body.data.items.find((i: any) => i.notificationId === res.body.data.notificationId);
    expect(item).toMatchObject({
      category: 'account',
      template: 'custom',
      body: 'Maintenance tonight',
      senderId: admin.userId,
      isRead: false,
      readAt: null,
    });
    expect(item.title).toMatch(/^Message from /);
    expect(box.body.data.unreadCount).toBeGreaterThanOrEqual(1);

    const logs = await log(loner.token);
    expect(logs.status).toBe(200);
    expect(logs.body.data.logs.find((l: any) => l.notificationId === res.body.data.notificationId)).toEqual({
      logId: expect.any(Number),
      notificationId: res.body.data.notificationId,
      deliveryStatus: 'sent',
      deliveredAt: expect.any(String),
      channel: 'in_app',
      attempt: 1,
      providerResponse: 'stored in the in-app inbox',
      error: null,
      createdAt: expect.any(String),
    });
  });

  it('emails go out over SMTP with the template, escaped HTML and no unsubscribe link for admin messages', async () => {
    const res = await send(admin.token, {
      userId: student.userId,
      type: 'email',
      title: 'Exam <b>room</b> change',
      message: 'Room 4 & 5 are <script>alert(1)</script> closed.\nGo to room 7.',
    });
    expect(res.status).toBe(201);
    expect(res.body.data.deliveryStatus).toBe('pending');
    const [mail] = await mailsTo(student.email, 'Exam <b>room</b> change');
    expect(mail!.rcptTo).toEqual([student.email]);
    expect(mail!.text).toContain('Hello Ada Student,');
    expect(mail!.text).toContain('Room 4 & 5 are <script>alert(1)</script> closed.\nGo to room 7.');
    expect(mail!.html).toContain(
      'Room 4 &amp; 5 are &lt;script&gt;alert(1)&lt;/script&gt; closed.<br>Go to room 7.',
    );
    expect(mail!.html).toContain('<title>Exam &lt;b&gt;room&lt;/b&gt; change</title>');
    expect(mail!.html).not.toContain('<script>');
    expect(mail!.html).toContain('role="presentation"');
    expect(mail!.headers['list-unsubscribe']).toBeUndefined();
    expect(mail!.text).not.toContain('Unsubscribe');
    expect(mail!.headers['x-lectern-template']).toBe('custom');

    // Seed 002's log: the waiting row became `sent` with the SMTP server's answer.
    const rows = await waitFor(async () => {
      const l = await log(admin.token, `?userId=${student.userId}`);
      const mine = l.body.data.logs.filter((r: any) => r.notificationId === res.body.data.notificationId);
      return mine.length === 1 && mine[0].deliveryStatus === 'sent' ? mine : null;
    });
    expect(rows[0]).toMatchObject({
      channel: 'email',
      attempt: 1,
      error: null,
      deliveredAt: expect.any(String),
    });
    expect(rows[0].providerResponse).toMatch(/^250 /);
  });

  it('instructors message their own students (course updates, with an unsubscribe link) and nobody else', async () => {
    const ok = await send(instructor.token, {
      userId: student.userId,
      type: 'email',
      title: 'Office hours',
      message: 'Office hours move to Friday.',
    });
    expect(ok.status).toBe(201);
    const [mail] = await mailsTo(student.email, 'Office hours');
    expect(mail!.text).toMatch(
      /Unsubscribe from these emails: https:\/\/api\.example\.test\/api\/notifications\/unsubscribe\?token=/,
    );
    expect(mail!.headers['list-unsubscribe']).toMatch(
      /^<https:\/\/api\.example\.test\/api\/notifications\/unsubscribe\?token=[^>]+>$/,
    );
    expect(mail!.headers['list-unsubscribe-post']).toBe('List-Unsubscribe=One-Click');

    for (const target of [otherStudent, loner, admin, otherInstructor]) {
      const res = await send(instructor.token, { userId: target.userId, type: 'in_app', message: 'Hello' });
      expect(res.status).toBe(403);
      expect(res.body).toMatchObject({ status: 'error', data: null, error: { errorCode: 403 } });
    }
    const unknown = await send(instructor.token, { userId: 999_999, type: 'in_app', message: 'Hello' });
    expect(unknown.status).toBe(404);
    const adminUnknown = await send(admin.token, { userId: 999_999, type: 'email', message: 'Hello' });
    expect(adminUnknown.status).toBe(404);
    expect(adminUnknown.body.error.message).toBe('User not found');
  });

  it('students cannot send at all, not even to themselves', async () => {
    for (const userId of [student.userId, loner.userId, 999_999]) {
      const res = await send(student.token, { userId, type: 'in_app', message: 'Hi' });
      expect(res.status).toBe(403);
    }
    expect((await send('', { userId: loner.userId, type: 'in_app', message: 'Hi' })).status).toBe(401);
    // Who is asking comes first: an anonymous request with a bad body is 401, not 400.
    expect((await send('', { userId: 'x', type: 'fax' })).status).toBe(401);
  });

  it('push is recorded with a skipped delivery: no push provider is configured', async () => {
    const res = await send(admin.token, { userId: loner.userId, type: 'push', message: 'Ping' });
    expect(res.status).toBe(201);
    expect(res.body.data).toMatchObject({
      deliveryStatus: 'skipped',
      message: 'Notification recorded but not delivered: no push provider configured',
    });
    const logs = await log(loner.token);
    expect(
      logs.body.data.logs.find((l: any) => l.notificationId === res.body.data.notificationId),
    ).toMatchObject({
      channel: 'push',
      deliveryStatus: 'skipped',
      deliveredAt: null,
      providerResponse: 'no push provider configured',
    });
    // Not an in-app notification: the inbox does not show it.
    const box = await inbox(loner.token);
    expect(box.body.data.items.map((i: any) => i.notificationId)).not.toContain(res.body.data.notificationId);
  });

  it('replays a retried request with the same Idempotency-Key instead of sending twice', async () => {
    const payload = { userId: loner.userId, type: 'in_app', message: 'Only once' };
    const headers = { 'idempotency-key': `notify-${loner.userId}-once` };
    const first = await send(admin.token, payload, headers);
    const second = await send(admin.token, payload, headers);
    expect(first.status).toBe(201);
    expect(second.status).toBe(201);
    expect(second.body.data.notificationId).toBe(first.body.data.notificationId);
    const box = await inbox(loner.token, '?limit=100');
    expect(box.body.data.items.filter((i: any) => i.body === 'Only once')).toHaveLength(1);
  });
});

describe('GET /api/notifications/log (seed 002)', () => {
  it('is your own log, or anyone’s for admins; others are 403; an empty log is 404 “No logs found”', async () => {
    expect((await log(loner.token, `?userId=${loner.userId}`)).status).toBe(200);
    const other = await log(loner.token, `?userId=${student.userId}`);
    expect(other.status).toBe(403);
    expect((await log(instructor.token, `?userId=${student.userId}`)).status).toBe(403);
    expect((await log(admin.token, `?userId=${loner.userId}`)).status).toBe(200);

    const fresh = await createUserWithRole(t, 'instructor');
    const empty = await log(fresh.token);
    expect(empty.status).toBe(404);
    expect(empty.body).toMatchObject({
      status: 'error',
      data: null,
      error: { errorCode: 404, message: 'No logs found' },
    });
    expect((await log(admin.token, '?userId=999999')).status).toBe(404);
    expect((await log('', '')).status).toBe(401);
  });

  it('pages newest first with a cursor', async () => {
    const target = await registerStudent(t);
    for (let i = 0; i < 3; i++)
      await send(admin.token, { userId: target.userId, type: 'in_app', message: `n${i}` });
    const all = (await log(target.token, '?limit=200')).body.data.logs;
    const first = await log(target.token, '?limit=2');
    expect(first.body.data.logs).toHaveLength(2);
    expect(first.body.data.pageInfo.hasMore).toBe(true);
    const rest = await log(target.token, `?limit=200&cursor=${first.body.data.pageInfo.nextCursor}`);
    expect([...first.body.data.logs, ...rest.body.data.logs].map((l: any) => l.logId)).toEqual(
      all.map((l: any) => l.logId),
    );
    expect(all.map((l: any) => l.logId)).toEqual([...all.map((l: any) => l.logId)].sort((a, b) => b - a));
  });
});

describe('bad input', () => {
  const detailsOf = (res: { body: any }) => res.body.error.details.map((d: any) => d.field);

  it('POST /notifications/send', async () => {
    const ok = { userId: loner.userId, type: 'in_app', message: 'Hi' };
    const cases: Array<[Record<string, unknown>, string]> = [
      [{ ...ok, userId: undefined }, 'body.userId'],
      [{ ...ok, userId: 'one' }, 'body.userId'],
      [{ ...ok, userId: 0 }, 'body.userId'],
      [{ ...ok, userId: 2 ** 31 }, 'body.userId'],
      [{ ...ok, type: 'sms' }, 'body.type'],
      [{ ...ok, type: undefined }, 'body.type'],
      [{ ...ok, message: '' }, 'body.message'],
      [{ ...ok, message: '   ' }, 'body.message'],
      [{ ...ok, message: 'x'.repeat(5001) }, 'body.message'],
      [{ ...ok, title: 'Two\nlines' }, 'body.title'],
      [{ ...ok, title: 'x'.repeat(201) }, 'body.title'],
      [{ ...ok, sendAt: 'tomorrow' }, 'body.sendAt'],
      [{ ...ok, sendAt: new Date(Date.now() - 60_000).toISOString() }, 'body.sendAt'],
      [{ ...ok, sendAt: '2999-01-01T00:00:00Z' }, 'body.sendAt'],
      [{ ...ok, extra: true }, 'body'],
    ];
    // The welcome (in-app and email) settles first, so only these requests could change the log.
    const before = await waitFor(async () => {
      const logs = (await log(loner.token, '?limit=200')).body.data?.logs ?? [];
      return logs.some((l: any) => l.channel === 'email' && l.deliveryStatus === 'sent') ? logs.length : null;
    });
    for (const [payload, field] of cases) {
      const res = await send(admin.token, payload);
      expect(res.status, JSON.stringify(payload)).toBe(400);
      expect(res.body).toMatchObject({ status: 'error', data: null, error: { errorCode: 400 } });
      expect(
        detailsOf(res).some((f: string) => f.startsWith(field)),
        `${field}: ${JSON.stringify(res.body)}`,
      ).toBe(true);
    }
    expect((await log(loner.token, '?limit=200')).body.data.logs.length).toBe(before);
  });

  it('GET /notifications/log', async () => {
    for (const [query, field] of [
      ['?userId=abc', 'querystring.userId'],
      ['?userId=0', 'querystring.userId'],
      ['?limit=0', 'querystring.limit'],
      ['?limit=201', 'querystring.limit'],
      ['?cursor=%21%21', 'querystring.cursor'],
      ['?other=1', 'querystring'],
    ] as const) {
      const res = await log(admin.token, query);
      expect(res.status, query).toBe(400);
      expect(detailsOf(res).some((f: string) => f.startsWith(field))).toBe(true);
    }
    expect((await log('', '')).status).toBe(401);
  });
});
