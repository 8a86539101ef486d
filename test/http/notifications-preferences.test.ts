import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { enrollments } from '../../src/modules/enrollment/enrollment.tables.ts';
import { createTestApp, type TestApp, waitFor } from '../helpers/app.ts';
import { startSmtpServer, type SmtpPeer } from '../helpers/smtp.ts';
import { insertCourse } from '../factories/courses.ts';
import { createUserWithRole, registerStudent } from '../factories/users.ts';
import { createPreferences } from '../../src/modules/notifications/notifications.preferences.ts';

type Caller = { userId: number; token: string; email: string };

let smtp: SmtpPeer;
let t: TestApp;
let admin: Caller;
let instructor: Caller;
let loner: Caller;

/** An enrollment row as the enrollment module keeps it (no events: these tests are about messages sent by hand). */
async function enroll(userId: number, courseId: number) {
  await t.app.platform.db.insert(enrollments).values({ userId, courseId, source: 'admin' });
}

const send = (token: string, payload: Record<string, unknown>) =>
  t.request({ method: 'POST', url: '/api/notifications/send', token, payload });

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
  admin = await createUserWithRole(t, 'admin');
  instructor = await createUserWithRole(t, 'instructor');
  loner = await registerStudent(t);
});
afterAll(async () => {
  await t?.close();
  await smtp?.close();
});

describe('preferences and unsubscribe links', () => {
  const prefs = (token: string) => t.request({ method: 'GET', url: '/api/notifications/preferences', token });
  const putPrefs = (token: string, payload: object) =>
    t.request({ method: 'PUT', url: '/api/notifications/preferences', token, payload });

  it('has defaults: everything on but marketing; account is always on', async () => {
    const me = await registerStudent(t);
    const res = await prefs(me.token);
    expect(res.status).toBe(200);
    const on = { email: true, in_app: true, push: true };
    expect(res.body.data).toEqual({
      preferences: {
        account: on,
        course_updates: on,
        payments: on,
        reminders: on,
        marketing: { email: false, in_app: false, push: false },
      },
      dailyDigest: false,
      alwaysOn: ['account'],
    });
  });

  it('changes only what is given; turning account off is 400 and changes nothing', async () => {
    const me = await registerStudent(t);
    const res = await putPrefs(me.token, {
      preferences: { marketing: { email: true }, reminders: { push: false } },
      dailyDigest: true,
    });
    expect(res.status).toBe(200);
    expect(res.body.data.preferences.marketing).toEqual({ email: true, in_app: false, push: false });
    expect(res.body.data.preferences.reminders).toEqual({ email: true, in_app: true, push: false });
    expect(res.body.data.dailyDigest).toBe(true);

    const refused = await putPrefs(me.token, {
      preferences: { account: { email: false }, course_updates: { email: false } },
    });
    expect(refused.status).toBe(400);
    expect(refused.body.error.details).toEqual([
      {
        field: 'body.preferences.account.email',
        message: 'Account and security notifications cannot be turned off',
      },
    ]);
    expect((await prefs(me.token)).body.data).toEqual(res.body.data);
    // Turning account on is allowed (it is on anyway).
    expect((await putPrefs(me.token, { preferences: { account: { email: true } } })).status).toBe(200);
  });

  it('a channel the student turned off is skipped for instructor messages; in-app still arrives', async () => {
    const me = await registerStudent(t);
    const course = await insertCourse(t, { ownerId: instructor.userId });
    await enroll(me.userId, course.id);
    await putPrefs(me.token, { preferences: { course_updates: { email: false } } });
    const email = await send(instructor.token, {
      userId: me.userId,
      type: 'email',
      title: 'Quiz moved',
      message: 'x',
    });
    expect(email.status).toBe(201);
    expect(email.body.data).toMatchObject({
      deliveryStatus: 'skipped',
      message: 'Notification recorded but not delivered: the recipient turned off email for course updates',
    });
    const inApp = await send(instructor.token, { userId: me.userId, type: 'in_app', message: 'Quiz moved' });
    expect(inApp.body.data.deliveryStatus).toBe('sent');
    // Admin (account) messages ignore the switches.
    const fromAdmin = await send(admin.token, {
      userId: me.userId,
      type: 'email',
      title: 'Account notice',
      message: 'y',
    });
    expect(fromAdmin.body.data.deliveryStatus).toBe('pending');
    await mailsTo(me.email, 'Account notice');
    expect(smtp.to(me.email).filter((m) => m.subject === 'Quiz moved')).toEqual([]);
  });

  it('the unsubscribe link works without login, for its category only; a forged or altered one is 400 and changes nothing', async () => {
    const me = await registerStudent(t);
    const course = await insertCourse(t, { ownerId: instructor.userId });
    await enroll(me.userId, course.id);
    await send(instructor.token, {
      userId: me.userId,
      type: 'email',
      title: 'Reading list',
      message: 'Chapter 3',
    });
    const [mail] = await mailsTo(me.email, 'Reading list');
    const link = /Unsubscribe from these emails: (\S+)/.exec(mail!.text!)![1]!;
    expect(mail!.html).toContain(`href="${link}"`);
    const token = new URL(link).searchParams.get('token')!;
    const url = (tok: string) => `/api/notifications/unsubscribe?token=${encodeURIComponent(tok)}`;
    const before = (await prefs(me.token)).body.data;

    const [uid, scope, sig] = token.split('.');
    const flipped = sig!.slice(0, -1) + (sig!.endsWith('A') ? 'B' : 'A');
    for (const forged of [
      `${loner.userId}.${scope}.${sig}`,
      `${uid}.marketing.${sig}`,
      `${uid}.${scope}.${flipped}`,
      `${uid}.account.${sig}`,
      'garbage',
      `${uid}.${scope}`,
    ]) {
      for (const method of ['GET', 'POST'] as const) {
        const res = await t.request({ method, url: url(forged) });
        expect(res.status).toBe(400);
        expect(res.body).toMatchObject({ status: 'error', error: { errorCode: 400 } });
      }
    }
    const html = await t.request({
      method: 'GET',
      url: url(`${uid}.${scope}.${flipped}`),
      headers: { accept: 'text/html' },
    });
    expect(html.status).toBe(400);
    expect(html.headers['content-type']).toMatch(/^text\/html/);
    expect((await prefs(me.token)).body.data).toEqual(before);
    expect((await prefs(loner.token)).body.data.preferences.course_updates.email).toBe(true);

    // Opening the link (a person, or a mail scanner following it) only asks.
    const ask = await t.request({
      method: 'GET',
      url: url(token),
      headers: { accept: 'text/html,application/xhtml+xml' },
    });
    expect(ask.status).toBe(200);
    expect(ask.headers['content-type']).toMatch(/^text\/html/);
    expect(ask.body).toContain('Unsubscribe from course update emails by email?');
    const action = /<form method="post" action="([^"]+)"/
      .exec(ask.body as string)![1]!
      .replaceAll('&amp;', '&');
    expect(action).toBe(`?token=${encodeURIComponent(token)}`);
    const preview = await t.request({ method: 'GET', url: url(token) });
    expect(preview.body.data).toMatchObject({ unsubscribed: false, scope: 'course_updates' });
    expect((await prefs(me.token)).body.data).toEqual(before);

    // The page's button posts the form.
    const ok = await t.request({
      method: 'POST',
      url: `/api/notifications/unsubscribe${action}`,
      headers: { accept: 'text/html', 'content-type': 'application/x-www-form-urlencoded' },
      payload: 'confirm=1',
    });
    expect(ok.status).toBe(200);
    expect(ok.headers['content-type']).toMatch(/^text\/html/);
    expect(ok.body).toContain('You are unsubscribed');
    const after = (await prefs(me.token)).body.data;
    expect(after.preferences.course_updates).toEqual({ email: false, in_app: true, push: true });
    expect(after.preferences.payments.email).toBe(true);

    const json = await t.request({ method: 'GET', url: url(token) });
    expect(json.status).toBe(200);
    expect(json.body.data).toMatchObject({ unsubscribed: true, scope: 'course_updates' });
    const again = await t.request({ method: 'GET', url: url(token), headers: { accept: 'text/html' } });
    expect(again.body).toContain('You are unsubscribed');
    expect(again.body).not.toContain('<form');
  });

  it('accepts RFC 8058 one-click POSTs', async () => {
    const me = await registerStudent(t);
    await putPrefs(me.token, { dailyDigest: true, preferences: { marketing: { email: true } } });
    // A token as the mailer would put in a marketing email, taken from a real one below.
    const course = await insertCourse(t, { ownerId: instructor.userId });
    await enroll(me.userId, course.id);
    await send(instructor.token, { userId: me.userId, type: 'email', title: 'One click', message: 'z' });
    const [mail] = await mailsTo(me.email, 'One click');
    const link = /^<(.+)>$/.exec(mail!.headers['list-unsubscribe']!)![1]!;
    const res = await t.app.inject({
      method: 'POST',
      url: new URL(link).pathname + new URL(link).search,
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
      payload: 'List-Unsubscribe=One-Click',
    });
    expect(res.statusCode).toBe(200);
    expect(res.json().data.scope).toBe('course_updates');
    expect((await prefs(me.token)).body.data.preferences.course_updates.email).toBe(false);

    // RFC 8058 allows the same body as multipart/form-data; the digest link takes it too.
    const digestToken = createPreferences({
      db: t.app.platform.db,
      signingSecret: t.app.platform.config.signingSecret,
    }).unsubscribeToken(me.userId, 'digest');
    const boundary = 'lectern-test-boundary';
    const multipart = await t.app.inject({
      method: 'POST',
      url: `/api/notifications/unsubscribe?token=${encodeURIComponent(digestToken)}`,
      headers: { 'content-type': `multipart/form-data; boundary=${boundary}` },
      payload: `--${boundary}\r\nContent-Disposition: form-data; name="List-Unsubscribe"\r\n\r\nOne-Click\r\n--${boundary}--\r\n`,
    });
    expect(multipart.statusCode).toBe(200);
    expect(multipart.json().data).toMatchObject({ unsubscribed: true, scope: 'digest' });
    expect((await prefs(me.token)).body.data.dailyDigest).toBe(false);
  });
});

describe('bad input', () => {
  const detailsOf = (res: { body: any }) => res.body.error.details.map((d: any) => d.field);

  it('PUT /notifications/preferences and the unsubscribe link', async () => {
    const put = (payload: object) =>
      t.request({ method: 'PUT', url: '/api/notifications/preferences', token: loner.token, payload });
    const before = (
      await t.request({ method: 'GET', url: '/api/notifications/preferences', token: loner.token })
    ).body.data;
    for (const [payload, field] of [
      [{}, 'body'],
      [{ preferences: { sms: { email: false } } }, 'body.preferences'],
      [{ preferences: { marketing: { fax: true } } }, 'body.preferences.marketing'],
      [{ preferences: { marketing: { email: 'yes' } } }, 'body.preferences.marketing.email'],
      [{ dailyDigest: 'true' }, 'body.dailyDigest'],
      [{ dailyDigest: true, theme: 'dark' }, 'body'],
    ] as const) {
      const res = await put(payload);
      expect(res.status, JSON.stringify(payload)).toBe(400);
      expect(
        detailsOf(res).some((f: string) => f.startsWith(field)),
        JSON.stringify(res.body),
      ).toBe(true);
    }
    expect(
      (await t.request({ method: 'GET', url: '/api/notifications/preferences', token: loner.token })).body
        .data,
    ).toEqual(before);

    for (const query of ['', '?token=', `?token=${'a'.repeat(201)}`, '?token=x&more=1']) {
      for (const method of ['GET', 'POST'] as const) {
        const res = await t.request({ method, url: `/api/notifications/unsubscribe${query}` });
        expect(res.status, `${method} ${query}`).toBe(400);
        expect(res.body.error.errorCode).toBe(400);
      }
    }
  });
});
