import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTestApp, type TestApp } from '../helpers/app.ts';
import { createUserWithRole, PASSWORD, registerStudent } from '../factories/users.ts';

type Caller = { userId: number; token: string; email: string };
type Item = {
  id: number;
  action: string;
  actorId: number | null;
  subjectId: number | null;
  success: boolean;
};

describe('audit log', () => {
  let t: TestApp;
  let admin: Caller;
  beforeAll(async () => {
    t = await createTestApp({ AUTH_RATE_LIMIT_MAX: '1000' });
    admin = await createUserWithRole(t, 'admin');
  });
  afterAll(() => t.close());

  const sql = async (text: string, values: unknown[] = []) =>
    (await t.app.platform.database.executor.executeSql(text, values)).rows;
  const audit = (query = '', token = admin.token) =>
    t.request({ method: 'GET', url: `/api/admin/audit${query ? `?${query}` : ''}`, token });
  const verify = (token = admin.token) => t.request({ method: 'GET', url: '/api/admin/audit/verify', token });
  const login = (email: string, password: string, headers: Record<string, string> = {}) =>
    t.request({ method: 'POST', url: '/api/auth/user/login', headers, payload: { email, password } });

  it('is admin only', async () => {
    const student = await registerStudent(t);
    const instructor = await createUserWithRole(t, 'instructor');
    for (const url of ['/api/admin/audit', '/api/admin/audit/verify']) {
      expect((await t.request({ method: 'GET', url })).status).toBe(401);
      expect((await t.request({ method: 'GET', url, token: student.token })).status).toBe(403);
      expect((await t.request({ method: 'GET', url, token: instructor.token })).status).toBe(403);
    }
  });

  it('lists rows newest first with who, what, where and which request', async () => {
    const user = await registerStudent(t);
    await login(user.email, 'wrong-password-here', {
      'user-agent': 'Probe/2.0',
      'x-request-id': 'req-audit-fail',
    });
    await login(user.email, PASSWORD, { 'user-agent': 'Probe/2.0', 'x-request-id': 'req-audit-ok' });
    const res = await audit(`subjectId=${user.userId}`);
    expect(res.status).toBe(200);
    const items: Item[] = res.body.data.items;
    expect(items.map((i) => i.action)).toEqual(['login.succeeded', 'login.failed', 'user.created']);
    expect(items.map((i) => i.id)).toEqual([...items.map((i) => i.id)].sort((a, b) => b - a));
    expect(res.body.data.items[1]).toEqual({
      id: expect.any(Number),
      action: 'login.failed',
      actorId: null,
      subjectId: user.userId,
      ip: '127.0.0.1',
      userAgent: 'Probe/2.0',
      requestId: 'req-audit-fail',
      success: false,
      detail: 'password',
      createdAt: expect.stringMatching(/^\d{4}-\d\d-\d\dT.*Z$/),
    });
    expect(res.body.data.pageInfo).toEqual({ nextCursor: null, hasMore: false });
  });

  it('filters by actor, subject, action, action prefix, success and time', async () => {
    const user = await registerStudent(t);
    await login(user.email, 'wrong-password-here');
    await login(user.email, PASSWORD);
    await t.request({
      method: 'PATCH',
      url: `/api/admin/users/${user.userId}`,
      token: admin.token,
      payload: { status: 'suspended' },
    });

    const byActor: Item[] = (await audit(`actorId=${admin.userId}&limit=100`)).body.data.items;
    expect(byActor.length).toBeGreaterThan(0);
    expect(byActor.every((i) => i.actorId === admin.userId)).toBe(true);
    expect(byActor.map((i) => i.action)).toContain('user.suspended');

    const exact: Item[] = (await audit(`action=user.suspended&subjectId=${user.userId}`)).body.data.items;
    expect(exact.map((i) => [i.action, i.actorId])).toEqual([['user.suspended', admin.userId]]);

    const prefix: Item[] = (await audit(`action=login.&subjectId=${user.userId}`)).body.data.items;
    expect(prefix.map((i) => i.action)).toEqual(['login.succeeded', 'login.failed']);

    const failed: Item[] = (await audit(`success=false&subjectId=${user.userId}`)).body.data.items;
    expect(failed.map((i) => i.action)).toEqual(['login.failed']);
    const succeeded: Item[] = (await audit(`success=true&subjectId=${user.userId}`)).body.data.items;
    expect(succeeded.every((i) => i.success)).toBe(true);
    expect(succeeded.length).toBeGreaterThanOrEqual(3);

    const future = new Date(Date.now() + 3_600_000).toISOString();
    const past = new Date(Date.now() - 3_600_000).toISOString();
    expect((await audit(`from=${future}&subjectId=${user.userId}`)).body.data.items).toEqual([]);
    expect((await audit(`to=${past}&subjectId=${user.userId}`)).body.data.items).toEqual([]);
    const window = await audit(`from=${past}&to=${future}&subjectId=${user.userId}&limit=100`);
    expect(window.body.data.items).toHaveLength(failed.length + succeeded.length);
  });

  it('pages with an opaque cursor without gaps or repeats', async () => {
    const total = (await sql('select count(*)::int as n from identity.audit_log'))[0]!.n as number;
    const seen: number[] = [];
    let cursor: string | null = null;
    do {
      const res = await audit(`limit=3${cursor ? `&cursor=${cursor}` : ''}`);
      expect(res.status).toBe(200);
      expect(res.body.data.items.length).toBeLessThanOrEqual(3);
      seen.push(...res.body.data.items.map((i: Item) => i.id));
      cursor = res.body.data.pageInfo.nextCursor;
    } while (cursor);
    expect(seen.length).toBeGreaterThanOrEqual(total);
    expect(new Set(seen).size).toBe(seen.length);
    expect(seen).toEqual([...seen].sort((a, b) => b - a));
  });

  it('refuses bad filters with field details', async () => {
    const cases: [string, string][] = [
      ['success=maybe', 'querystring.success'],
      ['from=yesterday', 'querystring.from'],
      ['to=2025-13-01T00:00:00Z', 'querystring.to'],
      ['from=2025-02-01T00:00:00Z&to=2025-01-01T00:00:00Z', 'querystring.from'],
      ['actorId=abc', 'querystring.actorId'],
      ['action=DROP%20TABLE', 'querystring.action'],
      ['cursor=%25%25%25', 'querystring.cursor'],
      ['limit=500', 'querystring.limit'],
      ['userId=1', 'querystring'],
    ];
    for (const [query, field] of cases) {
      const res = await audit(query);
      expect(res.status, query).toBe(400);
      expect(
        res.body.error.details.map((d: { field: string }) => d.field),
        query,
      ).toContain(field);
    }
  });

  describe('chain verification', () => {
    const row = async (id: number) =>
      (await sql('select id, detail from identity.audit_log where id = $1', [id]))[0] as
        { id: number; detail: string | null } | undefined;
    const ids = async () =>
      (await sql('select id from identity.audit_log order by id')).map((r) => r.id as number);

    it('reports an intact chain', async () => {
      const res = await verify();
      expect(res.status).toBe(200);
      expect(res.body.data).toEqual({
        ok: true,
        checked: (await ids()).length,
        firstBrokenId: null,
        reason: null,
      });
    });

    it('names a row whose content was edited, and is intact again once it is restored', async () => {
      const all = await ids();
      const target = all[Math.floor(all.length / 2)]!;
      const original = await row(target);
      await sql('update identity.audit_log set detail = $2 where id = $1', [target, 'nothing to see here']);
      const res = await verify();
      expect(res.body.data).toMatchObject({
        ok: false,
        firstBrokenId: target,
        checked: all.indexOf(target) + 1,
      });
      expect(res.body.data.reason).toContain('modified');

      await sql('update identity.audit_log set detail = $2 where id = $1', [target, original!.detail]);
      expect((await verify()).body.data.ok).toBe(true);

      await sql('update identity.audit_log set success = not success where id = $1', [target]);
      expect((await verify()).body.data.firstBrokenId).toBe(target);
      await sql('update identity.audit_log set success = not success where id = $1', [target]);
      expect((await verify()).body.data.ok).toBe(true);
    });

    it('names the row after a deleted one', async () => {
      const all = await ids();
      const victim = all[Math.floor(all.length / 2)]!;
      const next = all[all.indexOf(victim) + 1]!;
      await sql('delete from identity.audit_log where id = $1', [victim]);
      const res = await verify();
      expect(res.body.data).toMatchObject({ ok: false, firstBrokenId: next });
      expect(res.body.data.reason).toContain('prev_hash');
    });
  });
});
