import { oathtool } from '../factories/mfa.ts';
import { createHash } from 'node:crypto';
import { generateSecret } from 'otplib';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTestApp, type TestApp, waitFor } from '../helpers/app.ts';
import { appendAudit } from '../../src/modules/identity/identity.repository.ts';
import { createUserWithRole, PASSWORD, registerStudent, uniqueEmail } from '../factories/users.ts';

const FIREFOX = 'Mozilla/5.0 (Windows NT 10.0; Win64; x64; rv:128.0) Gecko/20100101 Firefox/128.0';
const PNG = Buffer.from(
  'iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mNkYPhfDwAChwGA60e6kgAAAABJRU5ErkJggg==',
  'base64',
);

describe('privacy: data export and account erasure', () => {
  let t: TestApp;
  beforeAll(async () => {
    t = await createTestApp({ AUTH_RATE_LIMIT_MAX: '1000' });
  });
  afterAll(() => t.close());

  const sql = async (text: string, params: unknown[] = []) =>
    (await t.app.platform.database.executor.executeSql(text, params)).rows;
  const requestExport = (token?: string) => t.request({ method: 'POST', url: '/api/me/export', token });
  const listExports = (token?: string, query = '') =>
    t.request({ method: 'GET', url: `/api/me/exports${query}`, token });
  const eraseMe = (token: string | undefined, payload: Record<string, unknown>) =>
    t.request({ method: 'DELETE', url: '/api/me', token, payload });
  const mailTo = async (email: string, subject: string) =>
    (
      (await t.request({ method: 'GET', url: `/api/dev/mailbox?to=${encodeURIComponent(email)}` })).body.data
        .items as Array<{ subject: string; text: string }>
    ).filter((m) => m.subject === subject);
  const exportLinkFor = async (email: string) => {
    const [mail] = await waitFor(async () => {
      const found = await mailTo(email, 'Your Lectern data export is ready');
      return found.length ? found : undefined;
    });
    const link = /https?:\/\/\S+\/files\/\S+/.exec(mail!.text)?.[0];
    expect(link).toBeDefined();
    const url = new URL(link!);
    return `${url.pathname}${url.search}`;
  };
  /** Enables an authenticator directly, sealed as the MFA feature stores it. */
  const enableTotp = async (userId: number) => {
    const secret = generateSecret();
    const sealed = t.app.platform.sealer.seal(secret);
    await sql(
      'insert into identity.mfa_totp (user_id, secret_encrypted, enabled_at) values ($1, $2, now())',
      [userId, sealed],
    );
    return { secret, sealed };
  };
  const auditActions = async (userId: number) =>
    (await sql('select action from identity.audit_log where subject_id = $1 order by id', [userId])).map(
      (r) => r.action as string,
    );

  describe('POST /api/me/export', () => {
    it('builds an archive of my data, emails a signed link, and holds no secret', async () => {
      const user = await registerStudent(t);
      const login = await t.request({
        method: 'POST',
        url: '/api/auth/user/login',
        headers: { 'user-agent': FIREFOX },
        payload: { email: user.email, password: PASSWORD },
      });
      await sql(
        `insert into identity.user_accounts (user_id, provider, provider_user_id, email, access_token, refresh_token)
         values ($1, 'google', 'g-123', $2, 'sealed-access-token-XYZ', 'sealed-refresh-token-XYZ')`,
        [user.userId, user.email],
      );
      const { secret, sealed } = await enableTotp(user.userId);
      const admin = await createUserWithRole(t, 'admin');
      await appendAudit(t.app.platform.db, {
        action: 'user.role_changed',
        actorId: admin.userId,
        subjectId: user.userId,
        ip: '203.0.113.77',
        userAgent: 'AdminBrowser/9.9',
      });

      const res = await requestExport(user.token);
      expect(res.status).toBe(202);
      expect(res.body.data).toEqual({
        exportId: expect.any(Number),
        status: 'pending',
        message: expect.any(String),
      });

      const path = await exportLinkFor(user.email);
      const file = await t.app.inject({ method: 'GET', url: path });
      expect(file.statusCode).toBe(200);
      expect(file.headers['content-type']).toMatch(/^application\/json/);
      expect(file.headers['content-disposition']).toContain('lectern-data-export.json');
      const archive = JSON.parse(file.body);
      expect(archive).toMatchObject({
        format: 'lectern-data-export',
        exportId: res.body.data.exportId,
        userId: user.userId,
      });
      const identity = archive.sections.identity;
      expect(identity.profile).toMatchObject({ userId: user.userId, email: user.email, hasPassword: true });
      expect(identity.sessions).toHaveLength(2);
      expect(identity.sessions.map((s: { device: string }) => s.device)).toContain(
        'Firefox 128 on Windows 10',
      );
      expect(identity.sessions[0]).toMatchObject({ ip: '127.0.0.1', createdAt: expect.any(String) });
      expect(identity.linkedAccounts).toEqual([
        { provider: 'google', providerUserId: 'g-123', email: user.email, createdAt: expect.any(String) },
      ]);
      expect(identity.twoFactor).toMatchObject({ totpEnabled: true });
      expect(identity.auditLog.map((a: { action: string }) => a.action)).toEqual(
        expect.arrayContaining([
          'user.created',
          'login.succeeded',
          'privacy.export_requested',
          'user.role_changed',
        ]),
      );

      const [{ password_hash: passwordHash }] = (await sql(
        'select password_hash from identity.users where id = $1',
        [user.userId],
      )) as [{ password_hash: string }];
      const tokenHashes = (await sql(
        `select r.token_hash from identity.refresh_tokens r join identity.sessions s on s.id = r.session_id
         where s.user_id = $1`,
        [user.userId],
      )) as Array<{ token_hash: string }>;
      expect(tokenHashes.length).toBeGreaterThan(0);
      for (const forbidden of [
        passwordHash,
        '$argon2',
        secret,
        sealed,
        'sealed-access-token-XYZ',
        'sealed-refresh-token-XYZ',
        user.refreshToken,
        login.body.data.refreshToken,
        createHash('sha256').update(user.refreshToken).digest('hex'),
        ...tokenHashes.map((r) => r.token_hash),
        // The admin's own network details are not the user's data.
        '203.0.113.77',
        'AdminBrowser/9.9',
      ]) {
        expect(file.body).not.toContain(forbidden);
      }

      const list = await listExports(user.token);
      expect(list.status).toBe(200);
      expect(list.body.data.items).toEqual([
        {
          exportId: res.body.data.exportId,
          status: 'ready',
          createdAt: expect.any(String),
          completedAt: expect.any(String),
        },
      ]);
      expect(list.body.data.pageInfo).toEqual({ nextCursor: null, hasMore: false });
      expect(await auditActions(user.userId)).toContain('privacy.export_ready');
    });

    it('answers 409 while an export is pending and creates nothing', async () => {
      const user = await registerStudent(t);
      await sql(`insert into identity.data_exports (user_id, status) values ($1, 'pending')`, [user.userId]);
      const res = await requestExport(user.token);
      expect(res.status).toBe(409);
      expect(res.body.error.errorCode).toBe(409);
      expect((await listExports(user.token)).body.data.items).toHaveLength(1);
    });

    it('lets exactly one of several parallel requests through', async () => {
      const user = await registerStudent(t);
      const results = await Promise.all(Array.from({ length: 4 }, () => requestExport(user.token)));
      expect(results.map((r) => r.status).sort()).toEqual([202, 409, 409, 409]);
      const rows = await sql('select count(*)::int as n from identity.data_exports where user_id = $1', [
        user.userId,
      ]);
      expect(rows[0]!.n).toBe(1);
    });

    it('allows at most 3 exports a day (429 with Retry-After)', async () => {
      const user = await registerStudent(t);
      await sql(
        `insert into identity.data_exports (user_id, status, created_at, completed_at) values
         ($1, 'ready', now() - interval '23 hours', now()), ($1, 'ready', now() - interval '2 hours', now()),
         ($1, 'failed', now() - interval '1 hour', now()), ($1, 'ready', now() - interval '25 hours', now())`,
        [user.userId],
      );
      const res = await requestExport(user.token);
      expect(res.status).toBe(429);
      const retryAfter = Number(res.headers['retry-after']);
      expect(retryAfter).toBeGreaterThan(3000);
      expect(retryAfter).toBeLessThanOrEqual(3600);
      expect((await listExports(user.token)).body.data.items).toHaveLength(4);
    });

    it('shows each user only their own exports (no id to tamper with), and needs a token', async () => {
      const alice = await registerStudent(t);
      const bob = await registerStudent(t);
      expect((await requestExport(alice.token)).status).toBe(202);
      const bobs = await listExports(bob.token);
      expect(bobs.status).toBe(200);
      expect(bobs.body.data.items).toEqual([]);
      expect((await requestExport()).status).toBe(401);
      expect((await listExports()).status).toBe(401);
      // Bob's export mails Bob, never Alice.
      expect((await requestExport(bob.token)).status).toBe(202);
      await exportLinkFor(bob.email);
      await exportLinkFor(alice.email);
      expect(await mailTo(alice.email, 'Your Lectern data export is ready')).toHaveLength(1);
    });

    it('pages through my exports newest first', async () => {
      const user = await registerStudent(t);
      await sql(
        `insert into identity.data_exports (user_id, status, created_at) values
         ($1, 'expired', now() - interval '9 days'), ($1, 'ready', now() - interval '8 days'),
         ($1, 'failed', now() - interval '7 days')`,
        [user.userId],
      );
      const first = await listExports(user.token, '?limit=2');
      expect(first.body.data.items.map((i: { status: string }) => i.status)).toEqual(['failed', 'ready']);
      expect(first.body.data.pageInfo.hasMore).toBe(true);
      const second = await listExports(user.token, `?limit=2&cursor=${first.body.data.pageInfo.nextCursor}`);
      expect(second.body.data.items.map((i: { status: string }) => i.status)).toEqual(['expired']);
      expect(second.body.data.pageInfo).toEqual({ nextCursor: null, hasMore: false });
      expect((await listExports(user.token, '?limit=0')).status).toBe(400);
    });

    it('deletes the archive when it expires; the link then finds nothing', async () => {
      const user = await registerStudent(t);
      const res = await requestExport(user.token);
      const path = await exportLinkFor(user.email);
      expect((await t.app.inject({ method: 'GET', url: path })).statusCode).toBe(200);
      // The expiry job is scheduled 7 days out; run it now.
      await t.app.platform.jobs.send('identity.expireDataExport', { exportId: res.body.data.exportId });
      await waitFor(async () => (await listExports(user.token)).body.data.items[0].status === 'expired');
      expect((await t.app.inject({ method: 'GET', url: path })).statusCode).toBe(404);
    });
  });

  describe('DELETE /api/me', () => {
    it('refuses a wrong or missing password with 400 on body.password and changes nothing', async () => {
      const user = await registerStudent(t);
      const wrong = await eraseMe(user.token, { password: 'not-my-password-123' });
      expect(wrong.status).toBe(400);
      expect(wrong.body.error.details).toEqual([{ field: 'body.password', message: 'Incorrect password' }]);
      const missing = await eraseMe(user.token, {});
      expect(missing.status).toBe(400);
      expect(missing.body.error.details).toEqual([{ field: 'body.password', message: 'Required' }]);
      const extra = await eraseMe(user.token, { password: PASSWORD, userId: 1 });
      expect(extra.status).toBe(400);

      const profile = await t.request({ method: 'GET', url: '/api/auth/user/profile', token: user.token });
      expect(profile.status).toBe(200);
      expect(profile.body.data.email).toBe(user.email);
      expect(await auditActions(user.userId)).toContain('user.erase_refused');
      expect(await auditActions(user.userId)).not.toContain('user.erased');
      expect((await eraseMe(undefined, { password: PASSWORD })).status).toBe(401);
    });

    it('erases the account with the right password: tokens dead, email free, exports and avatar gone', async () => {
      const user = await registerStudent(t);
      const avatar = await t.request({
        method: 'PUT',
        url: '/api/auth/user/avatar',
        token: user.token,
        headers: { 'content-type': 'multipart/form-data; boundary=XyZ' },
        payload: Buffer.concat([
          Buffer.from(
            '--XyZ\r\nContent-Disposition: form-data; name="avatar"; filename="a.png"\r\nContent-Type: image/png\r\n\r\n',
          ),
          PNG,
          Buffer.from('\r\n--XyZ--\r\n'),
        ]),
      });
      expect(avatar.status).toBe(200);
      const [{ avatar_key: avatarKey }] = (await sql('select avatar_key from identity.users where id = $1', [
        user.userId,
      ])) as [{ avatar_key: string }];
      expect((await requestExport(user.token)).status).toBe(202);
      const exportPath = await exportLinkFor(user.email);

      const res = await eraseMe(user.token, { password: PASSWORD });
      expect(res.status).toBe(200);
      expect(res.body.data.message).toEqual(expect.any(String));

      expect(
        (await t.request({ method: 'GET', url: '/api/auth/user/profile', token: user.token })).status,
      ).toBe(401);
      const refresh = await t.request({
        method: 'POST',
        url: '/api/auth/token/refresh',
        payload: { refreshToken: user.refreshToken },
      });
      expect(refresh.status).toBe(401);
      const login = await t.request({
        method: 'POST',
        url: '/api/auth/user/login',
        payload: { email: user.email, password: PASSWORD },
      });
      expect(login.status).toBe(401);
      const again = await t.request({
        method: 'POST',
        url: '/api/auth/user/register',
        payload: { email: user.email, password: PASSWORD, name: 'Fresh Start' },
      });
      expect(again.status).toBe(200);
      expect(again.body.data.userId).not.toBe(user.userId);

      const [row] = await sql(
        'select email, name, password_hash, deleted_at from identity.users where id = $1',
        [user.userId],
      );
      expect(row).toMatchObject({ name: 'Deleted user', password_hash: null });
      expect(row!.email).not.toBe(user.email);
      expect(row!.deleted_at).not.toBeNull();
      expect(await auditActions(user.userId)).toContain('user.erased');
      expect(await t.app.platform.storage.head(avatarKey)).toBeNull();
      await waitFor(
        async () =>
          (await sql('select 1 from identity.data_exports where user_id = $1', [user.userId])).length === 0,
      );
      expect((await t.app.inject({ method: 'GET', url: exportPath })).statusCode).toBe(404);
    });

    it('locks the action out after repeated wrong passwords', async () => {
      const user = await registerStudent(t);
      for (let i = 0; i < 5; i++)
        expect((await eraseMe(user.token, { password: `wrong-${i}-pass` })).status).toBe(400);
      const locked = await eraseMe(user.token, { password: PASSWORD });
      expect(locked.status).toBe(429);
      expect(Number(locked.headers['retry-after'])).toBeGreaterThan(0);
      expect(
        (await t.request({ method: 'GET', url: '/api/auth/user/profile', token: user.token })).status,
      ).toBe(200);
    });

    it('with an authenticator on, also needs a valid current code', async () => {
      const user = await registerStudent(t);
      const { secret } = await enableTotp(user.userId);

      const noCode = await eraseMe(user.token, { password: PASSWORD });
      expect(noCode.status).toBe(400);
      expect(noCode.body.error.details).toEqual([
        { field: 'body.code', message: 'Required: your authenticator code' },
      ]);
      const current = oathtool(secret);
      const wrongCode = await eraseMe(user.token, {
        password: PASSWORD,
        code: current === '000000' ? '111111' : '000000',
      });
      expect(wrongCode.status).toBe(400);
      expect(wrongCode.body.error.details).toEqual([
        { field: 'body.code', message: 'Invalid or expired code' },
      ]);
      const badFormat = await eraseMe(user.token, { password: PASSWORD, code: '12ab' });
      expect(badFormat.status).toBe(400);
      expect(badFormat.body.error.details[0].field).toBe('body.code');
      const wrongPassword = await eraseMe(user.token, { password: 'nope-nope-nope', code: oathtool(secret) });
      expect(wrongPassword.status).toBe(400);
      expect(wrongPassword.body.error.details).toEqual([
        { field: 'body.password', message: 'Incorrect password' },
      ]);
      expect(
        (await t.request({ method: 'GET', url: '/api/auth/user/profile', token: user.token })).status,
      ).toBe(200);

      const ok = await eraseMe(user.token, { password: PASSWORD, code: oathtool(secret) });
      expect(ok.status).toBe(200);
      expect(await sql('select 1 from identity.mfa_totp where user_id = $1', [user.userId])).toEqual([]);
      expect(
        (await t.request({ method: 'GET', url: '/api/auth/user/profile', token: user.token })).status,
      ).toBe(401);
    });

    it('accepts a code alone for an account without a password, and refuses when there is nothing to confirm with', async () => {
      const signInByOtp = async (email: string) => {
        await t.request({ method: 'POST', url: '/api/auth/otp/request', payload: { email } });
        const [mail] = await waitFor(async () => {
          const items = (
            await t.request({ method: 'GET', url: `/api/dev/mailbox?to=${encodeURIComponent(email)}` })
          ).body.data.items as Array<{ subject: string }>;
          const found = items.filter((m) => m.subject.startsWith('Your sign-in code'));
          return found.length ? found : undefined;
        });
        const code = /(\d{6})/.exec(mail!.subject)![1];
        const res = await t.request({ method: 'POST', url: '/api/auth/otp/login', payload: { email, code } });
        expect(res.status).toBe(200);
        return res.body.data as { userId: number; token: string };
      };
      const email = uniqueEmail('nopass');
      await t.app.modules.identity.createUser({ email, name: 'No Password', role: 'student' });
      const session = await signInByOtp(email);
      const refused = await eraseMe(session.token, { password: 'anything-at-all' });
      expect(refused.status).toBe(400);
      expect(refused.body.error.details[0].field).toBe('body.password');

      const { secret } = await enableTotp(session.userId);
      const ok = await eraseMe(session.token, { code: oathtool(secret) });
      expect(ok.status).toBe(200);
      expect(await auditActions(session.userId)).toContain('user.erased');
    });
  });
});
