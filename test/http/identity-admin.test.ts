import { randomBytes } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTestApp, type TestApp, waitFor } from '../helpers/app.ts';
import { createUserWithRole, PASSWORD, registerStudent, uniqueEmail } from '../factories/users.ts';

type Caller = { userId: number; token: string; email: string };

const sql = async (t: TestApp, text: string, values: unknown[] = []) =>
  (await t.app.platform.database.executor.executeSql(text, values)).rows;

const countUsers = async (t: TestApp) =>
  (await sql(t, 'select count(*)::int as n from identity.users'))[0]!.n as number;

const login = (t: TestApp, email: string, password = PASSWORD) =>
  t.request({ method: 'POST', url: '/api/auth/user/login', payload: { email, password } });

const profileOf = (t: TestApp, token: string) =>
  t.request({ method: 'GET', url: '/api/auth/user/profile', token });

/** The invitation token from the newest invitation email to `email`. */
async function invitationToken(t: TestApp, email: string, after = 0): Promise<string> {
  const mail = await waitFor(async () => {
    const res = await t.request({ method: 'GET', url: `/api/dev/mailbox?to=${encodeURIComponent(email)}` });
    const item = res.body.data.items.find(
      (m: { id: number; subject: string }) => m.id > after && m.subject === 'You are invited to Lectern',
    );
    return item as { id: number; text: string; html: string } | undefined;
  });
  const match = /\/accept-invitation\?token=([A-Za-z0-9_-]+)/.exec(mail.text);
  expect(mail.html).toContain('/accept-invitation?token=');
  return match![1]!;
}

const newestMailId = async (t: TestApp, email: string) => {
  const res = await t.request({ method: 'GET', url: `/api/dev/mailbox?to=${encodeURIComponent(email)}` });
  return (res.body.data.items[0]?.id as number | undefined) ?? 0;
};

describe('admin user management', () => {
  let t: TestApp;
  let admin: Caller;
  let instructor: Caller;
  let student: Caller;
  beforeAll(async () => {
    t = await createTestApp({ AUTH_RATE_LIMIT_MAX: '1000', APP_URL: 'https://learn.example' });
    admin = await createUserWithRole(t, 'admin');
    instructor = await createUserWithRole(t, 'instructor');
    student = await createUserWithRole(t, 'student');
  });
  afterAll(() => t.close());

  const invite = (body: Record<string, unknown>, token = admin.token) =>
    t.request({ method: 'POST', url: '/api/admin/users', token, payload: body });
  const patch = (id: number, body: Record<string, unknown>, token = admin.token) =>
    t.request({ method: 'PATCH', url: `/api/admin/users/${id}`, token, payload: body });
  const getUser = (id: number, token = admin.token) =>
    t.request({ method: 'GET', url: `/api/admin/users/${id}`, token });
  const accept = (payload: Record<string, unknown>) =>
    t.request({ method: 'POST', url: '/api/auth/invitations/accept', payload });

  describe('authorization', () => {
    const routes = () => [
      { method: 'GET' as const, url: '/api/admin/users' },
      { method: 'GET' as const, url: `/api/admin/users/${student.userId}` },
      {
        method: 'POST' as const,
        url: '/api/admin/users',
        payload: { email: uniqueEmail('authz'), name: 'X', role: 'instructor' },
      },
      { method: 'POST' as const, url: `/api/admin/users/${student.userId}/invitation` },
      { method: 'PATCH' as const, url: `/api/admin/users/${student.userId}`, payload: { role: 'admin' } },
      { method: 'DELETE' as const, url: `/api/admin/users/${student.userId}` },
      { method: 'GET' as const, url: '/api/admin/audit' },
      { method: 'GET' as const, url: '/api/admin/audit/verify' },
    ];

    it('answers 401 without a token, 403 to students and instructors, and changes nothing', async () => {
      const before = await countUsers(t);
      for (const route of routes()) {
        const anonymous = await t.request(route);
        expect(anonymous.status, `${route.method} ${route.url}`).toBe(401);
        for (const caller of [student, instructor]) {
          const res = await t.request({ ...route, token: caller.token });
          expect(res.status, `${route.method} ${route.url} as ${caller.email}`).toBe(403);
          expect(res.body.error.errorCode).toBe(403);
        }
      }
      expect(await countUsers(t)).toBe(before);
      expect((await profileOf(t, student.token)).body.data.role).toBe('student');
    });
  });

  describe('listing', () => {
    const tag = randomBytes(4).toString('hex');
    const userTag = `u${randomBytes(4).toString('hex')}`;
    const ids: number[] = [];
    let suspended: number[] = [];
    let deleted: number;
    beforeAll(async () => {
      for (let i = 0; i < 30; i++) {
        const user = await t.app.modules.identity.createUser({
          email: `pager${i}.${tag}@example.test`,
          name: `Pager ${tag} ${i}`,
          password: PASSWORD,
          role: i % 3 === 0 ? 'instructor' : 'student',
          username: `${userTag}_${i}`,
        });
        ids.push(user.id);
      }
      suspended = [ids[3]!, ids[4]!];
      for (const id of suspended) expect((await patch(id, { status: 'suspended' })).status).toBe(200);
      deleted = ids[5]!;
      expect(
        (await t.request({ method: 'DELETE', url: `/api/admin/users/${deleted}`, token: admin.token }))
          .status,
      ).toBe(200);
    });

    const list = (query: string) =>
      t.request({ method: 'GET', url: `/api/admin/users?${query}`, token: admin.token });

    it('pages through search results newest first with an opaque cursor', async () => {
      const seen: number[] = [];
      const sizes: number[] = [];
      let cursor: string | null = null;
      do {
        const res = await list(`q=${tag}&limit=7${cursor ? `&cursor=${cursor}` : ''}`);
        expect(res.status).toBe(200);
        sizes.push(res.body.data.items.length);
        seen.push(...res.body.data.items.map((u: { userId: number }) => u.userId));
        const { pageInfo } = res.body.data;
        expect(pageInfo.hasMore).toBe(pageInfo.nextCursor !== null);
        cursor = pageInfo.nextCursor;
      } while (cursor);
      expect(sizes).toEqual([7, 7, 7, 7, 1]);
      // The deleted user is anonymised, so only its former name no longer matches.
      expect(seen).toEqual(ids.filter((id) => id !== deleted).reverse());
    });

    it('searches name, email and username case-insensitively', async () => {
      const byName = await list(`q=${encodeURIComponent(`PAGER ${tag.toUpperCase()} 12`)}`);
      expect(byName.body.data.items.map((u: { userId: number }) => u.userId)).toEqual([ids[12]]);
      const byEmail = await list(`q=${encodeURIComponent(`PAGER7.${tag}@`)}`);
      expect(byEmail.body.data.items).toHaveLength(1);
      expect(byEmail.body.data.items[0]).toMatchObject({
        userId: ids[7],
        email: `pager7.${tag}@example.test`,
        username: `${userTag}_7`,
        name: `Pager ${tag} 7`,
        role: 'student',
        status: 'active',
        isEmailVerified: false,
        createdAt: expect.any(String),
        lastLoginAt: null,
      });
      const byUsername = await list(`q=${userTag.toUpperCase()}&limit=100`);
      expect(byUsername.body.data.items).toHaveLength(29);
    });

    it('treats % and _ in the search as plain characters', async () => {
      const odd = await t.app.modules.identity.createUser({
        email: uniqueEmail('odd'),
        name: `100% Sure ${tag}`,
        password: PASSWORD,
        role: 'student',
      });
      const literal = await list(`q=${encodeURIComponent('100% S')}`);
      expect(literal.body.data.items.map((u: { userId: number }) => u.userId)).toEqual([odd.id]);
      expect((await list(`q=${encodeURIComponent('0%_S')}`)).body.data.items).toEqual([]);
      expect((await list(`q=${userTag}__`)).body.data.items).toEqual([]);
      await t.request({ method: 'DELETE', url: `/api/admin/users/${odd.id}`, token: admin.token });
    });

    it('filters by role and status', async () => {
      const instructors = await list(`q=${userTag}&role=instructor&limit=100`);
      expect(instructors.body.data.items.map((u: { userId: number }) => u.userId).sort()).toEqual(
        ids.filter((_, i) => i % 3 === 0).sort(),
      );
      const susp = await list(`q=${userTag}&status=suspended`);
      expect(susp.body.data.items.map((u: { userId: number }) => u.userId)).toEqual([...suspended].reverse());
      expect(susp.body.data.items[0].status).toBe('suspended');
      const active = await list(`q=${userTag}&status=active&limit=100`);
      expect(active.body.data.items).toHaveLength(27);
      const gone = await list(`status=deleted&limit=100`);
      const row = gone.body.data.items.find((u: { userId: number }) => u.userId === deleted);
      expect(row).toMatchObject({ status: 'deleted', email: null, username: null });
      const admins = await list('role=admin&status=active&limit=100');
      expect(admins.body.data.items.map((u: { userId: number }) => u.userId)).toContain(admin.userId);
    });

    it('refuses bad query parameters with field details', async () => {
      const cases: [string, string][] = [
        ['cursor=not-a-cursor!!', 'querystring.cursor'],
        [`cursor=${Buffer.from('-5').toString('base64url')}`, 'querystring.cursor'],
        ['limit=0', 'querystring.limit'],
        ['limit=101', 'querystring.limit'],
        ['role=boss', 'querystring.role'],
        ['status=gone', 'querystring.status'],
        ['sort=name', 'querystring'],
      ];
      for (const [query, field] of cases) {
        const res = await list(query);
        expect(res.status, query).toBe(400);
        expect(
          res.body.error.details.map((d: { field: string }) => d.field),
          query,
        ).toContain(field);
      }
    });

    it('shows one user with live sessions and last login', async () => {
      const user = await registerStudent(t);
      await login(t, user.email);
      const res = await getUser(user.userId);
      expect(res.status).toBe(200);
      expect(res.body.data).toMatchObject({
        userId: user.userId,
        email: user.email,
        role: 'student',
        status: 'active',
        liveSessions: 2,
        hasPassword: true,
        lastLoginAt: expect.any(String),
      });
      expect((await getUser(2_000_000_000)).status).toBe(404);
      const bad = await getUser('abc' as never);
      expect(bad.status).toBe(400);
      expect(bad.body.error.details[0].field).toBe('params.id');
    });
  });

  describe('invitations', () => {
    it('creates an instructor who accepts the emailed invitation and can then log in', async () => {
      const email = uniqueEmail('invitee');
      const res = await t.request({
        method: 'POST',
        url: '/api/admin/users',
        token: admin.token,
        headers: { 'user-agent': 'AdminConsole/1.0', 'x-request-id': 'req-invite-1' },
        payload: { email, name: 'Ada Lovelace', role: 'instructor' },
      });
      expect(res.status).toBe(201);
      expect(res.body.data).toEqual({ userId: expect.any(Number), message: 'Invitation sent' });
      const { userId } = res.body.data;

      const pending = await getUser(userId);
      expect(pending.body.data).toMatchObject({
        role: 'instructor',
        status: 'active',
        hasPassword: false,
        isEmailVerified: false,
        lastLoginAt: null,
      });
      expect((await login(t, email)).status).toBe(401);

      const token = await invitationToken(t, email);
      const mails = await t.request({
        method: 'GET',
        url: `/api/dev/mailbox?to=${encodeURIComponent(email)}`,
      });
      expect(mails.body.data.items[0].text).toContain(
        `https://learn.example/accept-invitation?token=${token}`,
      );
      // No separate verification email: accepting the invitation proves the address.
      expect(mails.body.data.items).toHaveLength(1);

      const accepted = await accept({ token, password: PASSWORD });
      expect(accepted.status).toBe(200);
      expect(accepted.body.data).toMatchObject({
        userId,
        token: expect.any(String),
        message: 'Invitation accepted',
      });
      const profile = await profileOf(t, accepted.body.data.token);
      expect(profile.body.data).toMatchObject({
        role: 'instructor',
        isEmailVerified: true,
        name: 'Ada Lovelace',
      });

      const again = await login(t, email);
      expect(again.status).toBe(200);
      expect((await profileOf(t, again.body.data.token)).body.data.role).toBe('instructor');

      const reuse = await accept({ token, password: 'another-long-passphrase' });
      expect(reuse.status).toBe(400);
      expect(reuse.body.error.details).toEqual([
        { field: 'body.token', message: 'Invalid or expired invitation' },
      ]);
      expect((await login(t, email)).status).toBe(200);

      const resend = await t.request({
        method: 'POST',
        url: `/api/admin/users/${userId}/invitation`,
        token: admin.token,
      });
      expect(resend.status).toBe(409);

      const audit = await t.request({
        method: 'GET',
        url: `/api/admin/audit?subjectId=${userId}&limit=100`,
        token: admin.token,
      });
      const byAction = (a: string) => audit.body.data.items.find((i: { action: string }) => i.action === a);
      expect(byAction('user.created')).toMatchObject({
        actorId: admin.userId,
        ip: '127.0.0.1',
        userAgent: 'AdminConsole/1.0',
        requestId: 'req-invite-1',
        detail: 'admin, role instructor',
      });
      expect(byAction('invitation.sent')).toMatchObject({ actorId: admin.userId, requestId: 'req-invite-1' });
      expect(byAction('invitation.accepted')).toMatchObject({ actorId: userId, success: true });
    });

    it('creates an admin, and lets the invitee correct their name', async () => {
      const email = uniqueEmail('newadmin');
      const res = await invite({ email, name: 'Typo Nmae', role: 'admin' });
      expect(res.status).toBe(201);
      const token = await invitationToken(t, email);
      const accepted = await accept({ token, password: PASSWORD, name: 'Typo Name' });
      expect(accepted.status).toBe(200);
      expect((await profileOf(t, accepted.body.data.token)).body.data).toMatchObject({
        role: 'admin',
        name: 'Typo Name',
      });
      const list = await t.request({
        method: 'GET',
        url: '/api/admin/users?limit=1',
        token: accepted.body.data.token,
      });
      expect(list.status).toBe(200);
    });

    it('keeps the invitation usable after a weak password, and refuses expired ones', async () => {
      const email = uniqueEmail('weak');
      const { userId } = (await invite({ email, name: 'Weak', role: 'instructor' })).body.data;
      const token = await invitationToken(t, email);
      const weak = await accept({ token, password: 'password1' });
      expect(weak.status).toBe(400);
      expect(weak.body.error.details[0].field).toBe('body.password');
      const short = await accept({ token, password: 'short' });
      expect(short.body.error.details[0].field).toBe('body.password');

      await sql(
        t,
        `update identity.one_time_tokens set expires_at = now() - interval '1 second' where user_id = $1`,
        [userId],
      );
      const expired = await accept({ token, password: PASSWORD });
      expect(expired.status).toBe(400);
      expect(expired.body.error.details[0].field).toBe('body.token');
      expect((await getUser(userId)).body.data.hasPassword).toBe(false);

      // A re-sent invitation works again, and only the newest link does.
      const before = await newestMailId(t, email);
      const resend = await t.request({
        method: 'POST',
        url: `/api/admin/users/${userId}/invitation`,
        token: admin.token,
      });
      expect(resend.status).toBe(200);
      const fresh = await invitationToken(t, email, before);
      expect(fresh).not.toBe(token);
      const before2 = await newestMailId(t, email);
      await t.request({ method: 'POST', url: `/api/admin/users/${userId}/invitation`, token: admin.token });
      const newest = await invitationToken(t, email, before2);
      expect((await accept({ token: fresh, password: PASSWORD })).status).toBe(400);
      expect((await accept({ token: newest, password: PASSWORD })).status).toBe(200);
    });

    it('lets exactly one of parallel accepts of one invitation win', async () => {
      const email = uniqueEmail('race');
      await invite({ email, name: 'Racer', role: 'instructor' });
      const token = await invitationToken(t, email);
      const results = await Promise.all(
        Array.from({ length: 5 }, (_, i) => accept({ token, password: `${PASSWORD}-${i}` })),
      );
      expect(results.map((r) => r.status).sort()).toEqual([200, 400, 400, 400, 400]);
      const winner = results.findIndex((r) => r.status === 200);
      expect((await login(t, email, `${PASSWORD}-${winner}`)).status).toBe(200);
    });

    it('refuses unknown tokens and bad accept bodies with 400', async () => {
      const unknown = await accept({ token: 'x'.repeat(43), password: PASSWORD });
      expect(unknown.status).toBe(400);
      expect(unknown.body.error.details[0].field).toBe('body.token');
      const missing = await accept({ password: PASSWORD });
      expect(missing.body.error.details[0].field).toBe('body.token');
      const extra = await accept({ token: 'x'.repeat(43), password: PASSWORD, role: 'admin' });
      expect(extra.status).toBe(400);
    });

    it('refuses a duplicate email with 409 and bad input with 400, creating nothing', async () => {
      const before = await countUsers(t);
      const dup = await invite({ email: instructor.email.toUpperCase(), name: 'Dup', role: 'instructor' });
      expect(dup.status).toBe(409);
      expect(dup.body.error.message).toBe('Email already registered');
      const cases: [Record<string, unknown>, string][] = [
        [{ email: 'not-an-email', name: 'X', role: 'instructor' }, 'body.email'],
        [{ email: uniqueEmail(), name: 'X', role: 'student' }, 'body.role'],
        [{ email: uniqueEmail(), role: 'instructor' }, 'body.name'],
        [{ email: uniqueEmail(), name: '   ', role: 'admin' }, 'body.name'],
        [{ email: uniqueEmail(), name: 'X', role: 'admin', password: 'x' }, 'body'],
      ];
      for (const [body, field] of cases) {
        const res = await invite(body);
        expect(res.status, JSON.stringify(body)).toBe(400);
        expect(res.body.error.details.map((d: { field: string }) => d.field)).toContain(field);
      }
      expect(await countUsers(t)).toBe(before);
      const resendUnknown = await t.request({
        method: 'POST',
        url: '/api/admin/users/2000000000/invitation',
        token: admin.token,
      });
      expect(resendUnknown.status).toBe(404);
    });
  });

  describe('role and status changes', () => {
    it('suspending refuses the existing access token at once; reactivating allows sign-in again', async () => {
      const user = await registerStudent(t);
      expect((await profileOf(t, user.token)).status).toBe(200); // session now cached
      const res = await t.request({
        method: 'PATCH',
        url: `/api/admin/users/${user.userId}`,
        token: admin.token,
        headers: { 'x-request-id': 'req-suspend-1' },
        payload: { status: 'suspended' },
      });
      expect(res.status).toBe(200);
      expect(res.body.data).toMatchObject({ userId: user.userId, status: 'suspended', liveSessions: 0 });
      expect((await profileOf(t, user.token)).status).toBe(401);
      const refresh = await t.request({
        method: 'POST',
        url: '/api/auth/token/refresh',
        payload: { refreshToken: user.refreshToken },
      });
      expect(refresh.status).toBe(401);
      const refused = await login(t, user.email);
      expect(refused.status).toBe(403);
      expect(refused.body.error.message).toBe('Account disabled');

      expect((await patch(user.userId, { status: 'active' })).body.data.status).toBe('active');
      const back = await login(t, user.email);
      expect(back.status).toBe(200);
      expect((await profileOf(t, back.body.data.token)).status).toBe(200);

      const audit = await t.request({
        method: 'GET',
        url: `/api/admin/audit?subjectId=${user.userId}&limit=100`,
        token: admin.token,
      });
      const actions = audit.body.data.items.map((i: { action: string }) => i.action);
      expect(actions).toEqual(
        expect.arrayContaining(['user.suspended', 'user.reactivated', 'session.revoked_all']),
      );
      const suspendRow = audit.body.data.items.find((i: { action: string }) => i.action === 'user.suspended');
      expect(suspendRow).toMatchObject({
        actorId: admin.userId,
        requestId: 'req-suspend-1',
        ip: '127.0.0.1',
      });
    });

    it('applies a role change to the same access token on the next request', async () => {
      const user = await registerStudent(t);
      const adminList = () =>
        t.request({ method: 'GET', url: '/api/admin/users?limit=1', token: user.token });
      expect((await adminList()).status).toBe(403); // session now cached with role student
      const res = await patch(user.userId, { role: 'admin' });
      expect(res.status).toBe(200);
      expect(res.body.data.role).toBe('admin');
      expect((await adminList()).status).toBe(200);
      expect((await patch(user.userId, { role: 'student' }, user.token)).status).toBe(200);
      expect((await adminList()).status).toBe(403);

      const audit = await t.request({
        method: 'GET',
        url: `/api/admin/audit?subjectId=${user.userId}&action=user.role_changed`,
        token: admin.token,
      });
      expect(
        audit.body.data.items.map((i: { detail: string; actorId: number }) => [i.detail, i.actorId]),
      ).toEqual([
        ['admin -> student', user.userId],
        ['student -> admin', admin.userId],
      ]);
    });

    it('refuses bad changes with 400 or 404 and changes nothing', async () => {
      const user = await registerStudent(t);
      const cases: [Record<string, unknown>, string][] = [
        [{}, 'body'],
        [{ role: 'boss' }, 'body.role'],
        [{ status: 'deleted' }, 'body.status'],
        [{ role: 'admin', name: 'X' }, 'body'],
      ];
      for (const [body, field] of cases) {
        const res = await patch(user.userId, body);
        expect(res.status, JSON.stringify(body)).toBe(400);
        expect(res.body.error.details.map((d: { field: string }) => d.field)).toContain(field);
      }
      expect((await patch(2_000_000_000, { role: 'admin' })).status).toBe(404);
      expect((await getUser(user.userId)).body.data).toMatchObject({ role: 'student', status: 'active' });
    });

    it('deletes by anonymising: tokens die, sign-in fails, the record shows deleted without email', async () => {
      const user = await registerStudent(t);
      const res = await t.request({
        method: 'DELETE',
        url: `/api/admin/users/${user.userId}`,
        token: admin.token,
      });
      expect(res.status).toBe(200);
      expect((await profileOf(t, user.token)).status).toBe(401);
      expect((await login(t, user.email)).status).toBe(401);
      const shown = await getUser(user.userId);
      expect(shown.body.data).toMatchObject({
        userId: user.userId,
        status: 'deleted',
        email: null,
        username: null,
        name: 'Deleted user',
        liveSessions: 0,
        hasPassword: false,
      });
      const again = await t.request({
        method: 'DELETE',
        url: `/api/admin/users/${user.userId}`,
        token: admin.token,
      });
      expect(again.status).toBe(404);
      const change = await patch(user.userId, { status: 'active' });
      expect(change.status).toBe(409);
      expect(change.body.error.message).toBe('User is deleted');
      const resend = await t.request({
        method: 'POST',
        url: `/api/admin/users/${user.userId}/invitation`,
        token: admin.token,
      });
      expect(resend.status).toBe(404);
      const rows = await sql(t, 'select email from identity.users where id = $1', [user.userId]);
      expect(rows[0]!.email).not.toBe(user.email);
    });
  });
});

describe('the last admin', () => {
  let t: TestApp;
  let a: Caller;
  beforeAll(async () => {
    t = await createTestApp({ AUTH_RATE_LIMIT_MAX: '1000' });
    a = await createUserWithRole(t, 'admin');
  });
  afterAll(() => t.close());

  const patch = (id: number, body: Record<string, unknown>, token: string) =>
    t.request({ method: 'PATCH', url: `/api/admin/users/${id}`, token, payload: body });
  const activeAdmins = async () =>
    (
      await t.app.platform.database.executor.executeSql(
        `select id from identity.users where role = 'admin' and status = 'active' and deleted_at is null`,
      )
    ).rows.map((r) => r.id as number);

  it('cannot be demoted, suspended or deleted', async () => {
    for (const body of [
      { role: 'instructor' },
      { status: 'suspended' },
      { role: 'student', status: 'suspended' },
    ]) {
      const res = await patch(a.userId, body, a.token);
      expect(res.status).toBe(409);
      expect(res.body.error.message).toBe('Cannot remove the last admin');
    }
    const del = await t.request({ method: 'DELETE', url: `/api/admin/users/${a.userId}`, token: a.token });
    expect(del.status).toBe(409);
    // A no-op change of the last admin is fine.
    expect((await patch(a.userId, { role: 'admin', status: 'active' }, a.token)).status).toBe(200);
    expect(await activeAdmins()).toEqual([a.userId]);
  });

  it('does not count suspended admins, and lets admins go while another remains', async () => {
    const b = await createUserWithRole(t, 'admin');
    expect((await patch(b.userId, { status: 'suspended' }, a.token)).status).toBe(200);
    expect((await patch(a.userId, { role: 'instructor' }, a.token)).status).toBe(409);
    // Changing a suspended admin's role does not touch the active-admin count.
    expect((await patch(b.userId, { role: 'instructor' }, a.token)).status).toBe(200);
    expect((await patch(b.userId, { role: 'admin', status: 'active' }, a.token)).status).toBe(200);
    const b2 = await login(t, b.email);
    // Now two: one may step down, by themselves.
    expect((await patch(b.userId, { role: 'instructor' }, b2.body.data.token)).status).toBe(200);
    expect(await activeAdmins()).toEqual([a.userId]);
  });

  it('survives two admins removing each other at the same time', async () => {
    type Move = (target: Caller, by: Caller) => ReturnType<TestApp['request']>;
    const demote: Move = (target, by) => patch(target.userId, { role: 'instructor' }, by.token);
    const suspend: Move = (target, by) => patch(target.userId, { status: 'suspended' }, by.token);
    const remove: Move = (target, by) =>
      t.request({ method: 'DELETE', url: `/api/admin/users/${target.userId}`, token: by.token });
    const rounds: [Move, Move][] = [
      [demote, demote],
      [suspend, demote],
      [remove, suspend],
      [demote, remove],
      [suspend, suspend],
      [remove, remove],
    ];
    let current = a;
    for (const [first, second] of rounds) {
      const other = await createUserWithRole(t, 'admin');
      expect((await activeAdmins()).sort()).toEqual([current.userId, other.userId].sort());
      const results = await Promise.all([first(other, current), second(current, other)]);
      const statuses = results.map((r) => r.status);
      // One wins; the other is refused as the last admin, or (if it lost the race to the guard)
      // its caller is no longer an admin or no longer signed in.
      expect(statuses.filter((s) => s === 200)).toHaveLength(1);
      expect(statuses.filter((s) => s !== 200).every((s) => [401, 403, 409].includes(s))).toBe(true);
      const left = await activeAdmins();
      expect(left).toHaveLength(1);
      current = left[0] === current.userId ? current : other;
    }
  });
});
