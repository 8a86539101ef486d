import { SignJWT, UnsecuredJWT } from 'jose';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTestApp, type TestApp, waitFor } from '../helpers/app.ts';
import { PASSWORD, registerStudent, uniqueEmail } from '../factories/users.ts';

describe('accounts core (seed 002 Auth Service)', () => {
  let t: TestApp;
  beforeAll(async () => {
    t = await createTestApp({
      AUTH_RATE_LIMIT_MAX: '1000',
      JWT_SECRET: 'j'.repeat(40),
      SIGNING_SECRET: 's'.repeat(40),
    });
  });
  afterAll(() => t.close());

  const profileOf = (token: string) => t.request({ method: 'GET', url: '/api/auth/user/profile', token });
  const countUsers = async () => {
    const { rows } = await t.app.platform.database.executor.executeSql(
      'select count(*)::int as n from identity.users',
    );
    return rows[0]!.n as number;
  };

  describe('register', () => {
    it('creates a student and returns tokens (200, seed 002 fields)', async () => {
      const email = uniqueEmail('reg');
      const res = await t.request({
        method: 'POST',
        url: '/api/auth/user/register',
        payload: {
          email,
          phone: '+2348012345678',
          password: PASSWORD,
          name: 'Jane Smith',
          avatarUrl: 'https://example.com/a.jpg',
        },
      });
      expect(res.status).toBe(200);
      expect(res.body.data).toMatchObject({
        userId: expect.any(Number),
        token: expect.any(String),
        refreshToken: expect.stringMatching(/^rt_/),
        expiresIn: 900,
        message: 'User registered successfully',
      });
      const profile = await profileOf(res.body.data.token);
      expect(profile.body.data).toMatchObject({
        userId: res.body.data.userId,
        email,
        name: 'Jane Smith',
        role: 'student',
        phone: '+2348012345678',
        avatarUrl: 'https://example.com/a.jpg',
        isEmailVerified: false,
      });
      expect(profile.body.data.username).toMatch(/^reg\./);
    });

    it('refuses a duplicate email case-insensitively with 409 and creates nothing', async () => {
      const first = await registerStudent(t);
      const before = await countUsers();
      const res = await t.request({
        method: 'POST',
        url: '/api/auth/user/register',
        payload: { email: first.email.toUpperCase(), password: PASSWORD, name: 'Dup' },
      });
      expect(res.status).toBe(409);
      expect(res.body.error).toMatchObject({ errorCode: 409, message: 'Email already registered' });
      expect(await countUsers()).toBe(before);
    });

    it('lets only one of many parallel registrations of one email win', async () => {
      const email = uniqueEmail('race');
      const results = await Promise.all(
        Array.from({ length: 8 }, () =>
          t.request({
            method: 'POST',
            url: '/api/auth/user/register',
            payload: { email, password: PASSWORD, name: 'Racer' },
          }),
        ),
      );
      expect(results.filter((r) => r.status === 200)).toHaveLength(1);
      expect(results.filter((r) => r.status === 409)).toHaveLength(7);
    });

    it.each([
      ['a common password', { password: 'password123' }, 'body.password'],
      ['a too short password', { password: 'Ab1!' }, 'body.password'],
      ['a too long password', { password: 'x'.repeat(129) }, 'body.password'],
      ['an invalid email', { email: 'not-an-email' }, 'body.email'],
      ['an empty name', { name: '   ' }, 'body.name'],
      ['a non-http avatar URL', { avatarUrl: 'javascript:alert(1)' }, 'body.avatarUrl'],
      ['a role in the body', { role: 'admin' }, 'body'],
      ['a bad phone', { phone: 'call me' }, 'body.phone'],
    ])('refuses %s with 400 naming the field, creating nothing', async (_label, patch, field) => {
      const before = await countUsers();
      const res = await t.request({
        method: 'POST',
        url: '/api/auth/user/register',
        payload: { email: uniqueEmail(), password: PASSWORD, name: 'X', ...patch },
      });
      expect(res.status).toBe(400);
      expect(res.body.error.details.map((d: { field: string }) => d.field)).toContain(field);
      expect(await countUsers()).toBe(before);
    });

    it('refuses a taken username with 409', async () => {
      await registerStudent(t, { username: 'taken_name' });
      const res = await t.request({
        method: 'POST',
        url: '/api/auth/user/register',
        payload: { email: uniqueEmail(), password: PASSWORD, name: 'X', username: 'Taken_Name' },
      });
      expect(res.status).toBe(409);
    });
  });

  describe('login', () => {
    it('signs in with email in any case', async () => {
      const user = await registerStudent(t);
      const res = await t.request({
        method: 'POST',
        url: '/api/auth/user/login',
        payload: { email: user.email.toUpperCase(), password: PASSWORD },
      });
      expect(res.status).toBe(200);
      expect(res.body.data).toMatchObject({
        userId: user.userId,
        message: 'Login successful',
        expiresIn: 900,
      });
      expect((await profileOf(res.body.data.token)).status).toBe(200);
    });

    it('gives a wrong password and an unknown email the same 401', async () => {
      const user = await registerStudent(t);
      const wrong = await t.request({
        method: 'POST',
        url: '/api/auth/user/login',
        payload: { email: user.email, password: 'wrong-password-1' },
      });
      const unknown = await t.request({
        method: 'POST',
        url: '/api/auth/user/login',
        payload: { email: uniqueEmail('ghost'), password: 'wrong-password-1' },
      });
      expect(wrong.status).toBe(401);
      expect(unknown.status).toBe(401);
      expect(wrong.body.error).toEqual(unknown.body.error);
      expect(wrong.body.error.message).toBe('Invalid credentials');
    });

    it('refuses a disabled account', async () => {
      const user = await registerStudent(t);
      await t.app.platform.database.executor.executeSql(
        "update identity.users set status = 'disabled' where id = $1",
        [user.userId],
      );
      const res = await t.request({
        method: 'POST',
        url: '/api/auth/user/login',
        payload: { email: user.email, password: PASSWORD },
      });
      expect(res.status).toBe(403);
    });

    it('answers the seed 002 OAuth body with 401 while no provider is configured', async () => {
      const res = await t.request({
        method: 'POST',
        url: '/api/auth/user/login',
        payload: { provider: 'google', providerUserId: '123', accessToken: 'abc' },
      });
      expect(res.status).toBe(401);
    });

    it('answers a body that is neither form with 400', async () => {
      const res = await t.request({
        method: 'POST',
        url: '/api/auth/user/login',
        payload: { email: 'a@b.co' },
      });
      expect(res.status).toBe(400);
    });
  });

  describe('access tokens', () => {
    const secret = new TextEncoder().encode('j'.repeat(40));
    const sign = (
      claims: Record<string, unknown>,
      opts: { iss?: string; aud?: string; exp?: number | string; key?: Uint8Array } = {},
    ) =>
      new SignJWT(claims)
        .setProtectedHeader({ alg: 'HS256' })
        .setSubject(String(claims.sub ?? '1'))
        .setIssuer(opts.iss ?? 'lectern')
        .setAudience(opts.aud ?? 'lectern-api')
        .setIssuedAt()
        .setExpirationTime(opts.exp ?? '5m')
        .sign(opts.key ?? secret);

    it('accepts a well-formed token for a live session (control)', async () => {
      const user = await registerStudent(t);
      const claims = JSON.parse(Buffer.from(user.token.split('.')[1]!, 'base64url').toString());
      const forged = await sign({ sub: String(user.userId), role: 'student', sid: claims.sid });
      expect((await profileOf(forged)).status).toBe(200);
    });

    it.each([
      [
        'alg none',
        async (sid: number, uid: number) =>
          new UnsecuredJWT({ role: 'admin', sid })
            .setSubject(String(uid))
            .setIssuer('lectern')
            .setAudience('lectern-api')
            .setIssuedAt()
            .setExpirationTime('5m')
            .encode(),
      ],
      [
        'a wrong key',
        (sid: number, uid: number) =>
          sign({ sub: String(uid), role: 'student', sid }, { key: new TextEncoder().encode('k'.repeat(40)) }),
      ],
      [
        'an expired token',
        (sid: number, uid: number) =>
          sign({ sub: String(uid), role: 'student', sid }, { exp: Math.floor(Date.now() / 1000) - 60 }),
      ],
      [
        'a wrong audience',
        (sid: number, uid: number) => sign({ sub: String(uid), role: 'student', sid }, { aud: 'other-api' }),
      ],
      [
        'a wrong issuer',
        (sid: number, uid: number) =>
          sign({ sub: String(uid), role: 'student', sid }, { iss: 'someone-else' }),
      ],
      [
        'another user’s session',
        (sid: number, uid: number) => sign({ sub: String(uid + 1000), role: 'student', sid }),
      ],
    ])('refuses %s with 401', async (_label, make) => {
      const user = await registerStudent(t);
      const sid = JSON.parse(Buffer.from(user.token.split('.')[1]!, 'base64url').toString()).sid as number;
      const res = await profileOf(await make(sid, user.userId));
      expect(res.status).toBe(401);
      expect(res.body.status).toBe('error');
    });

    it('refuses a tampered payload (role escalated) with 401', async () => {
      const user = await registerStudent(t);
      const [h, p, s] = user.token.split('.');
      const payload = JSON.parse(Buffer.from(p!, 'base64url').toString());
      payload.role = 'admin';
      const tampered = [h, Buffer.from(JSON.stringify(payload)).toString('base64url'), s].join('.');
      expect((await profileOf(tampered)).status).toBe(401);
    });

    it('refuses a malformed Authorization header with 401', async () => {
      const res = await t.request({
        method: 'GET',
        url: '/api/auth/user/profile',
        headers: { authorization: 'Basic abc' },
      });
      expect(res.status).toBe(401);
    });
  });

  describe('refresh and logout', () => {
    const refresh = (refreshToken: string) =>
      t.request({ method: 'POST', url: '/api/auth/token/refresh', payload: { refreshToken } });

    it('rotates the refresh token on every use', async () => {
      const user = await registerStudent(t);
      const first = await refresh(user.refreshToken);
      expect(first.status).toBe(200);
      expect(first.body.data.refreshToken).not.toBe(user.refreshToken);
      expect((await profileOf(first.body.data.token)).status).toBe(200);
      const second = await refresh(first.body.data.refreshToken);
      expect(second.status).toBe(200);
    });

    it('revokes the whole session when a used refresh token is presented again', async () => {
      const user = await registerStudent(t);
      const rotated = await refresh(user.refreshToken);
      expect(rotated.status).toBe(200);
      const reuse = await refresh(user.refreshToken);
      expect(reuse.status).toBe(401);
      // The family is gone: the newest refresh token and access token no longer work either.
      expect((await refresh(rotated.body.data.refreshToken)).status).toBe(401);
      expect((await profileOf(rotated.body.data.token)).status).toBe(401);
      expect((await profileOf(user.token)).status).toBe(401);
    });

    it('lets exactly one of many parallel refreshes with one token win, then revokes the family', async () => {
      const user = await registerStudent(t);
      const results = await Promise.all(Array.from({ length: 6 }, () => refresh(user.refreshToken)));
      expect(results.filter((r) => r.status === 200)).toHaveLength(1);
      expect(results.filter((r) => r.status === 401)).toHaveLength(5);
      const winner = results.find((r) => r.status === 200)!;
      expect((await refresh(winner.body.data.refreshToken)).status).toBe(401);
    });

    it('refuses an unknown refresh token with 401 and a malformed one with 400', async () => {
      expect((await refresh('rt_unknown-token-value-xyz')).status).toBe(401);
      expect((await t.request({ method: 'POST', url: '/api/auth/token/refresh', payload: {} })).status).toBe(
        400,
      );
    });

    it('logout ends the session for access and refresh tokens at once, and only that session', async () => {
      const user = await registerStudent(t);
      const other = await t.request({
        method: 'POST',
        url: '/api/auth/user/login',
        payload: { email: user.email, password: PASSWORD },
      });
      const out = await t.request({ method: 'POST', url: '/api/auth/logout', token: user.token });
      expect(out.status).toBe(200);
      expect(out.body.data.message).toBe('Logged out');
      expect((await profileOf(user.token)).status).toBe(401);
      expect((await refresh(user.refreshToken)).status).toBe(401);
      expect((await profileOf(other.body.data.token)).status).toBe(200);
      expect((await t.request({ method: 'POST', url: '/api/auth/logout' })).status).toBe(401);
    });
  });

  describe('profile', () => {
    it('updates seed 002 fields and clears optional ones with null', async () => {
      const user = await registerStudent(t, { phone: '+15550001111' });
      const res = await t.request({
        method: 'PUT',
        url: '/api/auth/user/profile',
        token: user.token,
        payload: {
          name: 'New Name',
          avatarUrl: 'https://cdn.example/me.png',
          phone: null,
          bio: 'Teacher of things',
        },
      });
      expect(res.status).toBe(200);
      expect(res.body.data).toEqual({ userId: user.userId, message: 'Profile updated successfully' });
      const profile = (await profileOf(user.token)).body.data;
      expect(profile).toMatchObject({
        name: 'New Name',
        avatarUrl: 'https://cdn.example/me.png',
        phone: null,
        bio: 'Teacher of things',
      });
    });

    it.each([
      ['an empty body', {}],
      ['a bad avatar URL', { avatarUrl: 'ftp://x/y' }],
      ['an unknown field (role)', { role: 'admin' }],
      ['an over-long name', { name: 'x'.repeat(101) }],
    ])('refuses %s with 400 and changes nothing', async (_label, payload) => {
      const user = await registerStudent(t);
      const before = (await profileOf(user.token)).body.data;
      const res = await t.request({
        method: 'PUT',
        url: '/api/auth/user/profile',
        token: user.token,
        payload,
      });
      expect(res.status).toBe(400);
      expect((await profileOf(user.token)).body.data).toEqual(before);
    });

    it('requires a token', async () => {
      expect(
        (await t.request({ method: 'PUT', url: '/api/auth/user/profile', payload: { name: 'x' } })).status,
      ).toBe(401);
    });

    it('answers 401 once the user is deleted', async () => {
      const user = await registerStudent(t);
      await t.app.platform.database.executor.executeSql('delete from identity.users where id = $1', [
        user.userId,
      ]);
      await t.app.platform.cache.del(
        `session:${JSON.parse(Buffer.from(user.token.split('.')[1]!, 'base64url').toString()).sid}`,
      );
      expect((await profileOf(user.token)).status).toBe(401);
    });
  });
});

describe('identity events', () => {
  let t: TestApp;
  const received: any[] = [];
  beforeAll(async () => {
    t = await createTestApp(
      { AUTH_RATE_LIMIT_MAX: '1000' },
      {
        setup: (app) =>
          app.platform.events.subscribe({
            event: 'identity.user.registered',
            consumer: 'test.onUserRegistered',
            handle: async (event) => void received.push(event),
          }),
      },
    );
  });
  afterAll(() => t.close());

  it('publishes identity.user.registered once per account, and not for a refused registration', async () => {
    const user = await registerStudent(t);
    const refused = await t.request({
      method: 'POST',
      url: '/api/auth/user/register',
      payload: { email: user.email, password: PASSWORD, name: 'Again' },
    });
    expect(refused.status).toBe(409);
    await waitFor(async () => received.length >= 1);
    await new Promise((r) => setTimeout(r, 1000));
    expect(received).toHaveLength(1);
    expect(received[0]).toMatchObject({
      name: 'identity.user.registered',
      payload: { userId: user.userId, email: user.email, role: 'student' },
    });
  });
});
