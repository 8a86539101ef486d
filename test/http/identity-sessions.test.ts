import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { PURGE_EXPIRED_CREDENTIALS_JOB } from '../../src/modules/identity/index.ts';
import { createTestApp, jobDone, type TestApp } from '../helpers/app.ts';
import { PASSWORD, registerStudent, uniqueEmail } from '../factories/users.ts';

const FIREFOX = 'Mozilla/5.0 (Windows NT 10.0; Win64; x64; rv:128.0) Gecko/20100101 Firefox/128.0';
const IPHONE =
  'Mozilla/5.0 (iPhone; CPU iPhone OS 17_5 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.5 Mobile/15E148 Safari/604.1';

describe('sessions and devices', () => {
  let t: TestApp;
  beforeAll(async () => {
    t = await createTestApp({ AUTH_RATE_LIMIT_MAX: '1000' });
  });
  afterAll(() => t.close());

  const login = (email: string, userAgent: string) =>
    t.request({
      method: 'POST',
      url: '/api/auth/user/login',
      headers: { 'user-agent': userAgent },
      payload: { email, password: PASSWORD },
    });
  const sessionsOf = (token: string) => t.request({ method: 'GET', url: '/api/auth/sessions', token });

  it('lists my devices with the current one marked', async () => {
    const user = await registerStudent(t);
    const laptop = await login(user.email, FIREFOX);
    await login(user.email, IPHONE);
    const res = await sessionsOf(laptop.body.data.token);
    expect(res.status).toBe(200);
    const { sessions } = res.body.data;
    expect(sessions).toHaveLength(3);
    const current = sessions.filter((s: { current: boolean }) => s.current);
    expect(current).toHaveLength(1);
    expect(current[0].device).toBe('Firefox 128 on Windows 10');
    expect(sessions.map((s: { device: string }) => s.device)).toContain('Mobile Safari 17 on iOS 17.5');
    expect(current[0]).toMatchObject({ ip: '127.0.0.1', userAgent: FIREFOX });
  });

  it('revokes one device at once, access and refresh tokens alike', async () => {
    const user = await registerStudent(t);
    const phone = await login(user.email, IPHONE);
    const list = await sessionsOf(user.token);
    const phoneSession = list.body.data.sessions.find((s: { device: string }) => s.device.includes('Safari'));
    const res = await t.request({
      method: 'DELETE',
      url: `/api/auth/sessions/${phoneSession.id}`,
      token: user.token,
    });
    expect(res.status).toBe(200);
    expect((await sessionsOf(phone.body.data.token)).status).toBe(401);
    const refresh = await t.request({
      method: 'POST',
      url: '/api/auth/token/refresh',
      payload: { refreshToken: phone.body.data.refreshToken },
    });
    expect(refresh.status).toBe(401);
    expect((await sessionsOf(user.token)).body.data.sessions).toHaveLength(1);
  });

  it('refuses to revoke another user’s session (404, nothing changes)', async () => {
    const me = await registerStudent(t);
    const other = await registerStudent(t);
    const theirs = (await sessionsOf(other.token)).body.data.sessions[0];
    const res = await t.request({
      method: 'DELETE',
      url: `/api/auth/sessions/${theirs.id}`,
      token: me.token,
    });
    expect(res.status).toBe(404);
    expect((await sessionsOf(other.token)).status).toBe(200);
  });

  it('answers 400 for a malformed session id and 401 without a token', async () => {
    const me = await registerStudent(t);
    const bad = await t.request({ method: 'DELETE', url: '/api/auth/sessions/abc', token: me.token });
    expect(bad.status).toBe(400);
    expect(bad.body.error.details[0].field).toBe('params.id');
    expect((await t.request({ method: 'GET', url: '/api/auth/sessions' })).status).toBe(401);
    expect((await t.request({ method: 'POST', url: '/api/auth/sessions/revoke-others' })).status).toBe(401);
  });

  it('signs out every other device and keeps mine', async () => {
    const user = await registerStudent(t);
    const a = await login(user.email, FIREFOX);
    const b = await login(user.email, IPHONE);
    const res = await t.request({
      method: 'POST',
      url: '/api/auth/sessions/revoke-others',
      token: user.token,
    });
    expect(res.status).toBe(200);
    expect(res.body.data.revoked).toBe(2);
    expect((await sessionsOf(user.token)).status).toBe(200);
    expect((await sessionsOf(a.body.data.token)).status).toBe(401);
    expect((await sessionsOf(b.body.data.token)).status).toBe(401);
  });

  it('purges sessions and one-time tokens that ended over 30 days ago, daily; recent and live ones stay', async () => {
    const sql = async (text: string, params: unknown[] = []) =>
      (await t.app.platform.database.executor.executeSql(text, params)).rows as Array<
        Record<string, unknown>
      >;
    const user = await registerStudent(t);
    const old = await login(user.email, FIREFOX);
    const recent = await login(user.email, IPHONE);
    const ids = (
      await sql('select id from identity.sessions where user_id = $1 order by id', [user.userId])
    ).map((r) => r.id!);
    expect(ids).toHaveLength(3);
    const [live, expired, revoked] = ids;
    await sql(`update identity.sessions set expires_at = now() - interval '31 days' where id = $1`, [
      expired,
    ]);
    await sql(
      `update identity.sessions set revoked_at = now() - interval '2 days', revoked_reason = 'logout' where id = $1`,
      [revoked],
    );
    const token = (expiresAgo: string) =>
      sql(
        `insert into identity.one_time_tokens (user_id, purpose, token_hash, expires_at)
         values ($1, 'password_reset', md5(random()::text) || md5(random()::text), now() - $2::interval) returning id`,
        [user.userId, expiresAgo],
      );
    const [[stale], [fresh]] = [await token('31 days'), await token('1 day')];

    await jobDone(t, await t.app.platform.jobs.send(PURGE_EXPIRED_CREDENTIALS_JOB, {}));

    expect(
      (await sql('select id from identity.sessions where user_id = $1 order by id', [user.userId])).map(
        (r) => r.id,
      ),
    ).toEqual([live, revoked]);
    const left = (
      await sql('select id from identity.one_time_tokens where id = any($1)', [[stale!.id, fresh!.id]])
    ).map((r) => r.id);
    expect(left).toEqual([fresh!.id]);
    // The purged session's refresh tokens went with it; the live session is untouched.
    expect(
      await sql('select count(*)::int as n from identity.refresh_tokens where session_id = $1', [expired]),
    ).toEqual([{ n: 0 }]);
    const refresh = await t.request({
      method: 'POST',
      url: '/api/auth/token/refresh',
      payload: { refreshToken: old.body.data.refreshToken },
    });
    expect(refresh.status).toBe(401);
    expect((await sessionsOf(user.token)).status).toBe(200);
    expect(recent.status).toBe(200);
  });
});

describe('progressive lockout', () => {
  let t: TestApp;
  beforeAll(async () => {
    t = await createTestApp({ AUTH_RATE_LIMIT_MAX: '1000' });
  });
  afterAll(() => t.close());

  const attempt = (email: string, password = 'wrong-password-1') =>
    t.request({ method: 'POST', url: '/api/auth/user/login', payload: { email, password } });

  it('locks an email out after 5 failures, with the same answers for known and unknown emails', async () => {
    const user = await registerStudent(t);
    const ghost = uniqueEmail('ghost');
    for (let i = 0; i < 5; i++) {
      const [known, unknown] = await Promise.all([attempt(user.email), attempt(ghost)]);
      expect(known.status).toBe(401);
      expect(unknown.status).toBe(401);
      expect(known.body.error).toEqual(unknown.body.error);
    }
    const [known, unknown] = await Promise.all([attempt(user.email, PASSWORD), attempt(ghost, PASSWORD)]);
    expect(known.status).toBe(429);
    expect(unknown.status).toBe(429);
    expect(known.body.error).toEqual(unknown.body.error);
    expect(Number(known.headers['retry-after'])).toBeGreaterThan(0);
    expect(Number(known.headers['retry-after'])).toBeLessThanOrEqual(60);
  });

  it('does not lock other accounts, and a success before the limit resets the count', async () => {
    const user = await registerStudent(t);
    for (let i = 0; i < 4; i++) expect((await attempt(user.email)).status).toBe(401);
    expect((await attempt(user.email, PASSWORD)).status).toBe(200);
    for (let i = 0; i < 4; i++) expect((await attempt(user.email)).status).toBe(401);
    expect((await attempt(user.email, PASSWORD)).status).toBe(200);
    const bystander = await registerStudent(t);
    expect((await attempt(bystander.email, PASSWORD)).status).toBe(200);
  });

  it('audits failed and successful logins', async () => {
    const user = await registerStudent(t);
    await attempt(user.email);
    await attempt(user.email, PASSWORD);
    const { rows } = await t.app.platform.database.executor.executeSql(
      'select action, success, ip, request_id from identity.audit_log where subject_id = $1 order by id',
      [user.userId],
    );
    const actions = rows.map((r) => r.action);
    expect(actions).toEqual(expect.arrayContaining(['user.created', 'login.failed', 'login.succeeded']));
    const failed = rows.find((r) => r.action === 'login.failed')!;
    expect(failed).toMatchObject({ success: false, ip: '127.0.0.1' });
    expect(failed.request_id).toBeTruthy();
  });
});

describe('client IP and proxies', () => {
  const spoofedLogins = async (t: TestApp) => {
    const results = [];
    for (let i = 0; i < 4; i++) {
      results.push(
        await t.request({
          method: 'POST',
          url: '/api/auth/user/login',
          headers: { 'x-forwarded-for': `203.0.113.${i + 1}` },
          payload: { email: uniqueEmail(), password: 'wrong-password-1' },
        }),
      );
    }
    return results.map((r) => r.status);
  };

  it('ignores X-Forwarded-For from clients when no proxy is trusted', async () => {
    const t = await createTestApp({ AUTH_RATE_LIMIT_MAX: '3' });
    try {
      expect(await spoofedLogins(t)).toEqual([401, 401, 401, 429]);
    } finally {
      await t.close();
    }
  });

  it('believes X-Forwarded-For from a configured proxy', async () => {
    const t = await createTestApp({ AUTH_RATE_LIMIT_MAX: '3', TRUST_PROXY: '127.0.0.1' });
    try {
      expect(await spoofedLogins(t)).toEqual([401, 401, 401, 401]);
    } finally {
      await t.close();
    }
  });
});
