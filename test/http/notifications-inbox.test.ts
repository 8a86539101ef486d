import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTestApp, type TestApp, waitFor } from '../helpers/app.ts';
import { startSmtpServer, type SmtpPeer } from '../helpers/smtp.ts';
import { insertCourse } from '../factories/courses.ts';
import { createUserWithRole, registerStudent } from '../factories/users.ts';

type Caller = { userId: number; token: string; email: string };

let smtp: SmtpPeer;
let t: TestApp;
let admin: Caller;
let student: Caller;
let loner: Caller;

const send = (token: string, payload: Record<string, unknown>) =>
  t.request({ method: 'POST', url: '/api/notifications/send', token, payload });
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
  t = await createTestApp({ SMTP_URL: smtp.url, AUTH_RATE_LIMIT_MAX: '1000' });
  admin = await createUserWithRole(t, 'admin');
  student = await registerStudent(t);
  loner = await registerStudent(t);
});
afterAll(async () => {
  await t?.close();
  await smtp?.close();
});

describe('in-app inbox', () => {
  it('lists mine newest first with the unread count, pages, filters unread, marks one and all read', async () => {
    const me = await registerStudent(t);
    // Registration's welcome comes first (a job composes it).
    const welcome = await waitFor(async () => {
      const box = await inbox(me.token, '?limit=100');
      return box.body.data.items.find((i: any) => i.template === 'welcome');
    });
    const ids: number[] = [];
    for (let i = 0; i < 5; i++) {
      const res = await send(admin.token, { userId: me.userId, type: 'in_app', message: `Message ${i}` });
      ids.push(res.body.data.notificationId);
    }
    const all = (await inbox(me.token, '?limit=100')).body.data;
    expect(all.unreadCount).toBe(6);
    expect(all.items.map((i: any) => i.notificationId)).toEqual([...ids.reverse(), welcome.notificationId]);

    const page1 = await inbox(me.token, '?limit=2');
    expect(page1.body.data.items).toHaveLength(2);
    expect(page1.body.data.pageInfo).toEqual({ nextCursor: expect.any(String), hasMore: true });
    const page2 = await inbox(me.token, `?limit=10&cursor=${page1.body.data.pageInfo.nextCursor}`);
    expect(page2.body.data.pageInfo).toEqual({ nextCursor: null, hasMore: false });
    expect([...page1.body.data.items, ...page2.body.data.items].map((i: any) => i.notificationId)).toEqual(
      all.items.map((i: any) => i.notificationId),
    );

    const read = await t.request({
      method: 'POST',
      url: `/api/notifications/${ids[0]}/read`,
      token: me.token,
    });
    expect(read.status).toBe(200);
    expect(read.body.data).toEqual({ notificationId: ids[0], readAt: expect.any(String), unreadCount: 5 });
    const again = await t.request({
      method: 'POST',
      url: `/api/notifications/${ids[0]}/read`,
      token: me.token,
    });
    expect(again.status).toBe(200);
    expect(again.body.data.readAt).toBe(read.body.data.readAt);

    const unread = (await inbox(me.token, '?unreadOnly=true&limit=100')).body.data;
    expect(unread.items.map((i: any) => i.notificationId)).not.toContain(ids[0]);
    expect(unread.items).toHaveLength(5);
    expect(
      (await inbox(me.token, '?limit=100')).body.data.items.find((i: any) => i.notificationId === ids[0]),
    ).toMatchObject({ isRead: true });

    // Someone else's notification, and one that does not exist, are both 404.
    const foreign = await t.request({
      method: 'POST',
      url: `/api/notifications/${ids[1]}/read`,
      token: loner.token,
    });
    expect(foreign.status).toBe(404);
    expect(
      (await t.request({ method: 'POST', url: '/api/notifications/2147483647/read', token: me.token }))
        .status,
    ).toBe(404);
    expect((await inbox(me.token, '?unreadOnly=true')).body.data.unreadCount).toBe(5);

    const allRead = await t.request({ method: 'POST', url: '/api/notifications/read-all', token: me.token });
    expect(allRead.status).toBe(200);
    expect(allRead.body.data).toEqual({ updated: 5, unreadCount: 0 });
    expect((await inbox(me.token, '?unreadOnly=true')).body.data).toMatchObject({
      items: [],
      unreadCount: 0,
    });
  });
});

describe('scheduled sends', () => {
  it('delivers at sendAt: pending (not in the inbox) until then, then sent', async () => {
    const me = await registerStudent(t);
    const sendAt = new Date(Date.now() + 2500).toISOString();
    const res = await send(admin.token, { userId: me.userId, type: 'in_app', message: 'Later', sendAt });
    expect(res.status).toBe(201);
    expect(res.body.data).toMatchObject({
      deliveryStatus: 'pending',
      scheduledFor: sendAt,
      message: 'Notification scheduled successfully',
    });
    const id = res.body.data.notificationId;
    expect(
      (await inbox(me.token, '?limit=100')).body.data.items.map((i: any) => i.notificationId),
    ).not.toContain(id);
    const pending = (await log(me.token)).body.data.logs.find((l: any) => l.notificationId === id);
    expect(pending).toMatchObject({ deliveryStatus: 'pending', deliveredAt: null });

    await waitFor(async () =>
      (await inbox(me.token, '?limit=100')).body.data.items.some((i: any) => i.notificationId === id),
    );
    const sent = (await log(me.token)).body.data.logs.find((l: any) => l.notificationId === id);
    expect(sent.deliveryStatus).toBe('sent');
    expect(Date.parse(sent.deliveredAt)).toBeGreaterThanOrEqual(Date.parse(sendAt));
  });

  it('checks again at delivery: a channel turned off since, or a sender no longer teaching the student, skips it', async () => {
    const instructor = await createUserWithRole(t, 'instructor');
    const course = await insertCourse(t, { ownerId: instructor.userId });
    const [muted, dropped] = [await registerStudent(t), await registerStudent(t)];
    for (const s of [muted, dropped]) {
      const enrolled = await t.request({
        method: 'POST',
        url: '/api/enrollments/enroll',
        token: admin.token,
        payload: { courseId: course.id, userId: s.userId },
      });
      expect(enrolled.status).toBe(201);
    }
    const schedule = async (to: Caller) => {
      const res = await send(instructor.token, {
        userId: to.userId,
        type: 'in_app',
        message: 'Class moved',
        sendAt: new Date(Date.now() + 2000).toISOString(),
      });
      expect(res.status).toBe(201);
      expect(res.body.data.deliveryStatus).toBe('pending');
      return res.body.data.notificationId as number;
    };
    const mutedId = await schedule(muted);
    const droppedId = await schedule(dropped);
    // After scheduling: one student mutes course updates in the app, the other leaves the course.
    const put = await t.request({
      method: 'PUT',
      url: '/api/notifications/preferences',
      token: muted.token,
      payload: { preferences: { course_updates: { in_app: false } } },
    });
    expect(put.status).toBe(200);
    await t.app.platform.database.executor.executeSql(
      "update enrollment.enrollments set status = 'revoked', revoked_at = now() where user_id = $1",
      [dropped.userId],
    );

    const settled = (who: Caller, id: number) =>
      waitFor(async () => {
        const entry = (await log(who.token)).body.data.logs.find((l: any) => l.notificationId === id);
        return entry?.deliveryStatus === 'pending' ? null : entry;
      });
    expect(await settled(muted, mutedId)).toMatchObject({
      deliveryStatus: 'skipped',
      deliveredAt: null,
      providerResponse: 'the recipient turned off in_app for course updates',
    });
    expect(await settled(dropped, droppedId)).toMatchObject({
      deliveryStatus: 'skipped',
      providerResponse: 'the sender may no longer message this recipient',
    });
    for (const [who, id] of [
      [muted, mutedId],
      [dropped, droppedId],
    ] as const) {
      const items = (await inbox(who.token, '?limit=100')).body.data.items;
      expect(items.map((i: any) => i.notificationId)).not.toContain(id);
    }
  });

  it('schedules emails too', async () => {
    const me = await registerStudent(t);
    const sendAt = new Date(Date.now() + 1500).toISOString();
    const res = await send(admin.token, {
      userId: me.userId,
      type: 'email',
      title: 'Scheduled hello',
      message: 'Hi',
      sendAt,
    });
    expect(res.status).toBe(201);
    const [mail] = await mailsTo(me.email, 'Scheduled hello');
    expect(mail!.text).toContain('Hi');
  });
});

describe('bad input', () => {
  const detailsOf = (res: { body: any }) => res.body.error.details.map((d: any) => d.field);

  it('GET /notifications and POST /notifications/{id}/read', async () => {
    for (const [query, field] of [
      ['?unreadOnly=yes', 'querystring.unreadOnly'],
      ['?limit=101', 'querystring.limit'],
      ['?cursor=MA', 'querystring.cursor'],
    ] as const) {
      const res = await inbox(student.token, query);
      expect(res.status, query).toBe(400);
      expect(detailsOf(res).some((f: string) => f.startsWith(field))).toBe(true);
    }
    for (const id of ['abc', '0', '-1', '99999999999']) {
      const res = await t.request({
        method: 'POST',
        url: `/api/notifications/${id}/read`,
        token: student.token,
      });
      expect(res.status, id).toBe(400);
      expect(detailsOf(res)).toContain('params.id');
    }
    for (const url of ['/api/notifications', '/api/notifications/preferences'])
      expect((await t.request({ method: 'GET', url })).status).toBe(401);
    expect((await t.request({ method: 'POST', url: '/api/notifications/read-all' })).status).toBe(401);
  });
});
