import { beforeAll, describe, expect, it } from 'vitest';
import { LESSON_ADDED } from '../../src/modules/catalog/index.ts';
import { enrollments } from '../../src/modules/enrollment/enrollment.tables.ts';
import { DIGEST_JOB, INACTIVITY_JOB } from '../../src/modules/notifications/notifications.digest.ts';
import { COMPOSE_JOB } from '../../src/modules/notifications/notifications.events.ts';
import { type TestApp, waitFor } from '../helpers/app.ts';
import { notificationsTestApp } from '../helpers/notifications.ts';
import type { SmtpPeer } from '../helpers/smtp.ts';
import { insertCourse } from '../factories/courses.ts';
import { createUserWithRole, registerStudent } from '../factories/users.ts';

const env = notificationsTestApp();
const { sql, publish, jobDone, mailsTo, inbox } = env;
let t: TestApp;
let smtp: SmtpPeer;
beforeAll(() => {
  ({ t, smtp } = env);
});

describe('daily digest', () => {
  it('emails unread in-app notifications to users who opted in, once a day; none unread or not opted in: nothing', async () => {
    const admin = await createUserWithRole(t, 'admin');
    const [reader, empty, off] = [
      await registerStudent(t),
      await registerStudent(t),
      await registerStudent(t),
    ];
    for (const u of [reader, empty, off]) await waitFor(async () => (await inbox(u.token)).length > 0); // welcome
    for (const u of [reader, empty])
      await t.request({
        method: 'PUT',
        url: '/api/notifications/preferences',
        token: u.token,
        payload: { dailyDigest: true },
      });
    await t.request({ method: 'POST', url: '/api/notifications/read-all', token: empty.token });
    for (const u of [reader, off]) {
      for (const message of ['First <news>', 'Second news'])
        await t.request({
          method: 'POST',
          url: '/api/notifications/send',
          token: admin.token,
          payload: { userId: u.userId, type: 'in_app', title: message, message: `${message} body` },
        });
    }
    await jobDone(await t.app.platform.jobs.send(DIGEST_JOB, {}));
    const [digest] = await mailsTo(reader.email, 'Your Lectern digest: 3 unread notifications');
    expect(digest!.text).toContain('* First <news>');
    expect(digest!.text).toContain('* Second news');
    expect(digest!.text).toContain('* Welcome to Lectern');
    expect(digest!.html).toContain('First &lt;news&gt;');
    const unsubscribe = /Unsubscribe from these emails: (\S+)/.exec(digest!.text!)![1]!;

    // A second run the same day sends nothing more.
    await jobDone(await t.app.platform.jobs.send(DIGEST_JOB, {}));
    await new Promise((r) => setTimeout(r, 1000));
    expect(smtp.to(reader.email).filter((m) => m.subject.startsWith('Your Lectern digest'))).toHaveLength(1);
    expect(smtp.to(empty.email).filter((m) => m.subject.startsWith('Your Lectern digest'))).toEqual([]);
    expect(smtp.to(off.email).filter((m) => m.subject.startsWith('Your Lectern digest'))).toEqual([]);

    // Its unsubscribe link turns the digest off.
    const res = await t.request({
      method: 'POST',
      url: new URL(unsubscribe).pathname + new URL(unsubscribe).search,
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
      payload: 'List-Unsubscribe=One-Click',
    });
    expect(res.status).toBe(200);
    expect(res.body.data.scope).toBe('digest');
    const prefs = await t.request({
      method: 'GET',
      url: '/api/notifications/preferences',
      token: reader.token,
    });
    expect(prefs.body.data.dailyDigest).toBe(false);
  });
});

describe('inactivity reminders', () => {
  it('reminds students with a live enrollment and no activity for 7 days, never twice within 7 days', async () => {
    const course = await insertCourse(t, { title: 'Patience 101' });
    const [idle, busy, revoked] = [
      await registerStudent(t),
      await registerStudent(t),
      await registerStudent(t),
    ];
    const daysAgo = (d: number) => new Date(Date.now() - d * 86_400_000);
    const [idleEnrollment] = await t.app.platform.db
      .insert(enrollments)
      .values([
        {
          userId: idle.userId,
          courseId: course.id,
          source: 'free',
          enrolledAt: daysAgo(9),
          updatedAt: daysAgo(9),
        },
        {
          userId: busy.userId,
          courseId: course.id,
          source: 'free',
          enrolledAt: daysAgo(2),
          updatedAt: daysAgo(2),
        },
        {
          userId: revoked.userId,
          courseId: course.id,
          source: 'free',
          status: 'revoked',
          enrolledAt: daysAgo(20),
          updatedAt: daysAgo(20),
        },
      ])
      .returning();

    await jobDone(await t.app.platform.jobs.send(INACTIVITY_JOB, {}));
    const [mail] = await mailsTo(idle.email, 'Pick up where you left off: Patience 101');
    expect(mail!.text).toContain('It has been 9 days since your last activity in “Patience 101”.');
    expect(mail!.headers['list-unsubscribe']).toMatch(/unsubscribe\?token=/);
    expect((await inbox(idle.token)).filter((i) => i.template === 'inactivity_reminder')).toEqual([
      expect.objectContaining({ data: expect.objectContaining({ enrollmentId: idleEnrollment!.id }) }),
    ]);

    await jobDone(await t.app.platform.jobs.send(INACTIVITY_JOB, {}));
    await new Promise((r) => setTimeout(r, 1000));
    expect(smtp.to(idle.email).filter((m) => m.subject.startsWith('Pick up'))).toHaveLength(1);
    for (const other of [busy, revoked]) {
      expect(smtp.to(other.email).filter((m) => m.subject.startsWith('Pick up'))).toEqual([]);
      expect((await inbox(other.token)).filter((i) => i.template === 'inactivity_reminder')).toEqual([]);
    }
  });
});

describe('large courses', () => {
  it('announces a new lesson to every student of a big course in batches, each student once', async () => {
    const course = await insertCourse(t, { title: 'Massive Course' });
    // Students inserted directly (no registration events): only their enrollments and addresses matter here.
    const tag = `bulk${course.id}x`;
    const users = await sql(
      `insert into identity.users (username, email, name)
         select '${tag}' || g, '${tag}' || g || '@example.test', 'Bulk ' || g from generate_series(1, 201) g
       returning id`,
    );
    const ids = users.map((u) => u.id as number);
    await sql(
      `insert into enrollment.enrollments (user_id, course_id, source) select unnest($1::int[]), $2, 'free'`,
      [ids, course.id],
    );
    // Email off for course updates: the batch writes in-app notifications only (and the mail queue stays free).
    await sql(
      `insert into notifications.preferences (user_id, category, channel, enabled)
         select unnest($1::int[]), 'course_updates', 'email', false`,
      [ids],
    );
    const event = await publish(LESSON_ADDED, {
      courseId: course.id,
      lessonId: 424242,
      title: 'Scaling up',
      courseTitle: course.title,
    });
    const counted = () =>
      sql(
        `select user_id, count(*)::int as n from notifications.notifications
          where template = 'new_lesson' and data->>'lessonId' = '424242' group by user_id`,
      );
    await waitFor(async () => (await counted()).length === 201, 60_000, 250);
    await new Promise((r) => setTimeout(r, 1000));
    const rows = await counted();
    expect(rows).toHaveLength(201);
    expect(rows.every((r) => r.n === 1)).toBe(true);
    const batches = await sql(
      `select data->>'afterUserId' as after from pgboss.job
        where name = $1 and data->>'kind' = 'lesson' and data->>'eventId' = $2 order by created_on`,
      [COMPOSE_JOB, event.id],
    );
    expect(batches.map((b) => Number(b.after))).toEqual([0, [...ids].sort((a, b) => a - b)[199]]);
  }, 90_000);
});
