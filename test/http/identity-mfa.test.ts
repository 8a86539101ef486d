import { oathtool } from '../factories/mfa.ts';
import { createHash } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTestApp, type TestApp, waitFor } from '../helpers/app.ts';
import { PASSWORD, registerStudent } from '../factories/users.ts';

/** A 6-digit code that is not `code` (and, but for a one-in-a-million chance, no other valid code). */
const wrongCode = (code: string) => String((Number(code) + 500_001) % 1_000_000).padStart(6, '0');
const sha256 = (s: string) => createHash('sha256').update(s).digest('hex');
const RECOVERY_CODE = /^[2-9a-hj-np-z]{4}-[2-9a-hj-np-z]{4}-[2-9a-hj-np-z]{2}$/;

describe('TOTP two-factor authentication', () => {
  let t: TestApp;
  beforeAll(async () => {
    t = await createTestApp({ AUTH_RATE_LIMIT_MAX: '1000' });
  });
  afterAll(() => t.close());

  const sql = async (text: string, values: unknown[] = []) =>
    (await t.app.platform.database.executor.executeSql(text, values)).rows;
  const post = (url: string, payload?: object, token?: string) =>
    t.request({ method: 'POST', url, ...(payload ? { payload } : {}), ...(token ? { token } : {}) });
  const status = (token: string) => t.request({ method: 'GET', url: '/api/auth/mfa', token });
  const login = (email: string) => post('/api/auth/user/login', { email, password: PASSWORD });
  const verify = (body: object) => post('/api/auth/mfa/verify', body);
  const mfaTokenOf = async (email: string) => {
    const res = await login(email);
    expect(res.body.data).toMatchObject({ mfaRequired: true, mfaToken: expect.stringMatching(/^mfa_/) });
    return res.body.data.mfaToken as string;
  };
  const auditActions = async (userId: number) =>
    (await sql('select action from identity.audit_log where subject_id = $1 order by id', [userId])).map(
      (r) => r.action as string,
    );
  const mailSubjects = async (email: string) => {
    const res = await t.request({ method: 'GET', url: `/api/dev/mailbox?to=${encodeURIComponent(email)}` });
    return res.body.data.items.map((m: { subject: string }) => m.subject) as string[];
  };

  /** A student with 2FA on, enabled with oathtool's current code. */
  async function enrolled() {
    const user = await registerStudent(t);
    const setup = await post('/api/auth/mfa/totp/setup', undefined, user.token);
    expect(setup.status).toBe(200);
    const secret = setup.body.data.secret as string;
    const enableCode = oathtool(secret);
    const enable = await post('/api/auth/mfa/totp/enable', { code: enableCode }, user.token);
    expect(enable.status).toBe(200);
    return { ...user, secret, enableCode, recoveryCodes: enable.body.data.recoveryCodes as string[] };
  }

  describe('setup', () => {
    it('answers a 160-bit secret, its otpauth URI and QR codes, and stores the secret encrypted', async () => {
      const user = await registerStudent(t);
      const res = await post('/api/auth/mfa/totp/setup', undefined, user.token);
      expect(res.status).toBe(200);
      const { secret, otpauthUri, qrCodeSvg, qrCodeDataUrl } = res.body.data;
      expect(secret).toMatch(/^[A-Z2-7]{32}$/);
      const uri = new URL(otpauthUri);
      expect(uri.protocol).toBe('otpauth:');
      expect(uri.host).toBe('totp');
      expect(decodeURIComponent(uri.pathname)).toBe(`/Lectern:${user.email}`);
      expect(Object.fromEntries(uri.searchParams)).toMatchObject({
        secret,
        issuer: 'Lectern',
        algorithm: 'SHA1',
        digits: '6',
        period: '30',
      });
      expect(qrCodeSvg).toMatch(/^<svg[\s\S]*<\/svg>\s*$/);
      expect(qrCodeDataUrl).toMatch(/^data:image\/png;base64,[A-Za-z0-9+/=]+$/);

      const [row] = await sql(
        'select secret_encrypted, enabled_at from identity.mfa_totp where user_id = $1',
        [user.userId],
      );
      expect(row!.enabled_at).toBeNull();
      expect(row!.secret_encrypted).not.toContain(secret);
      expect(row!.secret_encrypted).toMatch(/^v1\./);
      expect(t.app.platform.sealer.open(row!.secret_encrypted)).toBe(secret);

      // Pending set-up changes nothing yet: 2FA is off and password login still answers tokens.
      expect((await status(user.token)).body.data).toEqual({ totpEnabled: false, recoveryCodesRemaining: 0 });
      expect((await login(user.email)).body.data.token).toEqual(expect.any(String));
    });

    it('replaces an unfinished set-up: the first secret no longer enables', async () => {
      const user = await registerStudent(t);
      const first = await post('/api/auth/mfa/totp/setup', undefined, user.token);
      const second = await post('/api/auth/mfa/totp/setup', undefined, user.token);
      expect(second.body.data.secret).not.toBe(first.body.data.secret);
      const stale = await post(
        '/api/auth/mfa/totp/enable',
        { code: oathtool(first.body.data.secret) },
        user.token,
      );
      expect(stale.status).toBe(400);
      const ok = await post(
        '/api/auth/mfa/totp/enable',
        { code: oathtool(second.body.data.secret) },
        user.token,
      );
      expect(ok.status).toBe(200);
    });

    it('refuses set-up while 2FA is on (409) and keeps the authenticator', async () => {
      const user = await enrolled();
      const [before] = await sql('select secret_encrypted from identity.mfa_totp where user_id = $1', [
        user.userId,
      ]);
      const res = await post('/api/auth/mfa/totp/setup', undefined, user.token);
      expect(res.status).toBe(409);
      const [after] = await sql('select secret_encrypted from identity.mfa_totp where user_id = $1', [
        user.userId,
      ]);
      expect(after).toEqual(before);
    });

    it('needs authentication', async () => {
      expect((await post('/api/auth/mfa/totp/setup')).status).toBe(401);
      expect((await post('/api/auth/mfa/totp/enable', { code: '123456' })).status).toBe(401);
      expect((await post('/api/auth/mfa/totp/disable', { password: PASSWORD, code: '123456' })).status).toBe(
        401,
      );
      expect((await post('/api/auth/mfa/recovery-codes', { code: '123456' })).status).toBe(401);
      expect((await t.request({ method: 'GET', url: '/api/auth/mfa' })).status).toBe(401);
    });
  });

  describe('enable', () => {
    it('turns 2FA on with an oathtool code and answers 10 distinct recovery codes once', async () => {
      const user = await registerStudent(t);
      const setup = await post('/api/auth/mfa/totp/setup', undefined, user.token);
      const res = await post(
        '/api/auth/mfa/totp/enable',
        { code: oathtool(setup.body.data.secret) },
        user.token,
      );
      expect(res.status).toBe(200);
      const codes = res.body.data.recoveryCodes as string[];
      expect(codes).toHaveLength(10);
      expect(new Set(codes).size).toBe(10);
      for (const code of codes) expect(code).toMatch(RECOVERY_CODE);
      const stored = await sql('select code_hash from identity.mfa_recovery_codes where user_id = $1', [
        user.userId,
      ]);
      expect(stored).toHaveLength(10);
      for (const { code_hash } of stored) {
        expect(code_hash).toMatch(/^[0-9a-f]{64}$/);
        expect(codes.some((c) => code_hash.includes(c.replace(/-/g, '')))).toBe(false);
      }
      expect((await status(user.token)).body.data).toEqual({ totpEnabled: true, recoveryCodesRemaining: 10 });
      expect(await auditActions(user.userId)).toContain('mfa.enabled');
      await waitFor(async () =>
        (await mailSubjects(user.email)).includes('Two-factor authentication turned on'),
      );
      // Enabling twice is a conflict, and answers no new codes.
      const again = await post(
        '/api/auth/mfa/totp/enable',
        { code: oathtool(setup.body.data.secret, 1) },
        user.token,
      );
      expect(again.status).toBe(409);
    });

    it('refuses a wrong code with 400 on body.code and stays off', async () => {
      const user = await registerStudent(t);
      const setup = await post('/api/auth/mfa/totp/setup', undefined, user.token);
      const res = await post(
        '/api/auth/mfa/totp/enable',
        { code: wrongCode(oathtool(setup.body.data.secret)) },
        user.token,
      );
      expect(res.status).toBe(400);
      expect(res.body.error.details).toEqual([expect.objectContaining({ field: 'body.code' })]);
      expect((await status(user.token)).body.data.totpEnabled).toBe(false);
      expect(
        await sql('select 1 from identity.mfa_recovery_codes where user_id = $1', [user.userId]),
      ).toHaveLength(0);
    });

    it('refuses malformed codes with 400 naming the field', async () => {
      const user = await registerStudent(t);
      await post('/api/auth/mfa/totp/setup', undefined, user.token);
      const cases: [object, string][] = [
        [{ code: '12ab56' }, 'body.code'],
        [{ code: '12345' }, 'body.code'],
        [{}, 'body.code'],
        [{ code: '123456', extra: 1 }, 'body'],
      ];
      for (const [payload, field] of cases) {
        const res = await post('/api/auth/mfa/totp/enable', payload, user.token);
        expect(res.status).toBe(400);
        expect(res.body.error.details.map((d: { field: string }) => d.field)).toEqual([field]);
      }
      expect((await status(user.token)).body.data.totpEnabled).toBe(false);
    });

    it('answers 409 without a pending set-up', async () => {
      const user = await registerStudent(t);
      const res = await post('/api/auth/mfa/totp/enable', { code: '123456' }, user.token);
      expect(res.status).toBe(409);
    });
  });

  describe('sign-in with the second factor', () => {
    it('full flow: password login answers a challenge, an oathtool code completes it', async () => {
      const user = await enrolled();
      const res = await login(user.email);
      expect(res.status).toBe(200);
      expect(res.body.data).toEqual({
        mfaRequired: true,
        mfaToken: expect.stringMatching(/^mfa_[A-Za-z0-9_-]{43}$/),
        userId: user.userId,
        message: 'Second factor required',
      });
      const [stored] = await sql(
        "select purpose, meta, expires_at - created_at < interval '301 seconds' as short from identity.one_time_tokens where token_hash = $1",
        [sha256(res.body.data.mfaToken)],
      );
      expect(stored).toMatchObject({ purpose: 'mfa_login', short: true, meta: { method: 'password' } });

      const done = await verify({ mfaToken: res.body.data.mfaToken, code: oathtool(user.secret, 1) });
      expect(done.status).toBe(200);
      expect(done.body.data).toMatchObject({
        userId: user.userId,
        token: expect.any(String),
        refreshToken: expect.stringMatching(/^rt_/),
        expiresIn: expect.any(Number),
        message: 'Login successful',
      });
      const profile = await t.request({
        method: 'GET',
        url: '/api/auth/user/profile',
        token: done.body.data.token,
      });
      expect(profile.status).toBe(200);
      expect(profile.body.data.userId).toBe(user.userId);
      const refreshed = await post('/api/auth/token/refresh', { refreshToken: done.body.data.refreshToken });
      expect(refreshed.status).toBe(200);
      const actions = await auditActions(user.userId);
      expect(actions).toEqual(expect.arrayContaining(['login.mfa_challenged', 'login.mfa_succeeded']));
    });

    it('gates every sign-in method, e.g. email OTP login', async () => {
      const user = await enrolled();
      expect((await post('/api/auth/otp/request', { email: user.email })).status).toBe(200);
      const code = await waitFor(async () => {
        const res = await t.request({
          method: 'GET',
          url: `/api/dev/mailbox?to=${encodeURIComponent(user.email)}`,
        });
        const mail = res.body.data.items.find((m: { subject: string }) => /sign-in code/i.test(m.subject));
        return mail ? /\b(\d{6})\b/.exec(mail.text)?.[1] : undefined;
      });
      const res = await post('/api/auth/otp/login', { email: user.email, code });
      expect(res.status).toBe(200);
      expect(res.body.data).toMatchObject({ mfaRequired: true, mfaToken: expect.stringMatching(/^mfa_/) });
      expect(res.body.data.token).toBeUndefined();
    });

    it('refuses a replayed code: the enable code, and one code for two challenges', async () => {
      const user = await enrolled();
      const first = await mfaTokenOf(user.email);
      const second = await mfaTokenOf(user.email);
      // The code that enabled 2FA was used in its time step already.
      const replayedEnable = await verify({ mfaToken: first, code: user.enableCode });
      expect(replayedEnable.status).toBe(401);
      const code = oathtool(user.secret, 1);
      expect((await verify({ mfaToken: first, code })).status).toBe(200);
      const replay = await verify({ mfaToken: second, code });
      expect(replay.status).toBe(401);
      expect(replay.body.error.message).toBe('Invalid or expired code');
      expect(await auditActions(user.userId)).toContain('login.mfa_failed');
    });

    it('lets exactly one of parallel verifies of one challenge through', async () => {
      const user = await enrolled();
      const mfaToken = await mfaTokenOf(user.email);
      const code = oathtool(user.secret, 1);
      const results = await Promise.all(Array.from({ length: 5 }, () => verify({ mfaToken, code })));
      expect(results.map((r) => r.status).sort()).toEqual([200, 401, 401, 401, 401]);
    });

    it('lets exactly one of parallel verifies of two challenges with one code through', async () => {
      const user = await enrolled();
      const tokens = [await mfaTokenOf(user.email), await mfaTokenOf(user.email)];
      const code = oathtool(user.secret, 1);
      const results = await Promise.all(tokens.map((mfaToken) => verify({ mfaToken, code })));
      expect(results.map((r) => r.status).sort()).toEqual([200, 401]);
    });

    it('accepts a recovery code once, in any case and without dashes', async () => {
      const user = await enrolled();
      const [recovery] = user.recoveryCodes;
      const res = await verify({
        mfaToken: await mfaTokenOf(user.email),
        recoveryCode: recovery!.replace(/-/g, '').toUpperCase(),
      });
      expect(res.status).toBe(200);
      expect((await status(res.body.data.token)).body.data).toEqual({
        totpEnabled: true,
        recoveryCodesRemaining: 9,
      });
      const again = await verify({ mfaToken: await mfaTokenOf(user.email), recoveryCode: recovery });
      expect(again.status).toBe(401);
      await waitFor(async () =>
        (await mailSubjects(user.email)).includes('A recovery code was used to sign in'),
      );
      // Another of the codes still works.
      const other = await verify({
        mfaToken: await mfaTokenOf(user.email),
        recoveryCode: user.recoveryCodes[1],
      });
      expect(other.status).toBe(200);
    });

    it('lets exactly one of parallel uses of one recovery code through', async () => {
      const user = await enrolled();
      const tokens = [
        await mfaTokenOf(user.email),
        await mfaTokenOf(user.email),
        await mfaTokenOf(user.email),
      ];
      const recoveryCode = user.recoveryCodes[0];
      const results = await Promise.all(tokens.map((mfaToken) => verify({ mfaToken, recoveryCode })));
      expect(results.map((r) => r.status).sort()).toEqual([200, 401, 401]);
    });

    it('ends a challenge after 5 wrong codes, then locks the account out', async () => {
      const user = await enrolled();
      const mfaToken = await mfaTokenOf(user.email);
      const code = oathtool(user.secret, 1);
      for (let i = 0; i < 5; i++) {
        const res = await verify({ mfaToken, code: wrongCode(code) });
        expect(res.status).toBe(401);
        expect(res.body.error.message).toBe('Invalid or expired code');
      }
      const [row] = await sql(
        'select attempts, used_at from identity.one_time_tokens where token_hash = $1',
        [sha256(mfaToken)],
      );
      expect(row!.attempts).toBe(5);
      expect(row!.used_at).not.toBeNull();
      const dead = await verify({ mfaToken, code });
      expect(dead.status).toBe(401);
      expect(dead.body.error.message).toBe('Invalid or expired code');
      // 5 failures for the account: a fresh challenge is locked out for a while (429 + Retry-After).
      const locked = await verify({ mfaToken: await mfaTokenOf(user.email), code });
      expect(locked.status).toBe(429);
      expect(Number(locked.headers['retry-after'])).toBeGreaterThan(0);
    });

    it('refuses an expired challenge', async () => {
      const user = await enrolled();
      const mfaToken = await mfaTokenOf(user.email);
      await sql(
        "update identity.one_time_tokens set expires_at = now() - interval '1 second' where token_hash = $1",
        [sha256(mfaToken)],
      );
      const res = await verify({ mfaToken, code: oathtool(user.secret, 1) });
      expect(res.status).toBe(401);
      expect(res.body.error.message).toBe('Invalid or expired code');
    });

    it("refuses my code with another user's challenge, and unknown challenges", async () => {
      const me = await enrolled();
      const other = await enrolled();
      const res = await verify({ mfaToken: await mfaTokenOf(other.email), code: oathtool(me.secret, 1) });
      expect(res.status).toBe(401);
      const unknown = await verify({ mfaToken: `mfa_${'x'.repeat(43)}`, code: oathtool(me.secret, 1) });
      expect(unknown.status).toBe(401);
      expect(unknown.body.error.message).toBe('Invalid or expired code');
    });

    it('refuses a challenge of an account suspended in the meantime', async () => {
      const user = await enrolled();
      const mfaToken = await mfaTokenOf(user.email);
      await sql("update identity.users set status = 'disabled' where id = $1", [user.userId]);
      const res = await verify({ mfaToken, code: oathtool(user.secret, 1) });
      expect(res.status).toBe(403);
    });

    it('refuses bad input with 400 naming the field', async () => {
      const cases: [object, string][] = [
        [{ code: '123456' }, 'body.mfaToken'],
        [{ mfaToken: `mfa_${'x'.repeat(43)}` }, 'body.code'],
        [{ mfaToken: `mfa_${'x'.repeat(43)}`, code: '123456', recoveryCode: 'abcd-efgh-jk' }, 'body.code'],
        [{ mfaToken: `mfa_${'x'.repeat(43)}`, code: 'abcdef' }, 'body.code'],
      ];
      for (const [payload, field] of cases) {
        const res = await verify(payload);
        expect(res.status).toBe(400);
        expect(res.body.error.details.map((d: { field: string }) => d.field)).toContain(field);
      }
    });
  });

  describe('disable', () => {
    it('needs the password and a code; wrong ones are 400 and 2FA stays on', async () => {
      const user = await enrolled();
      const code = oathtool(user.secret, 1);
      const wrongPassword = await post(
        '/api/auth/mfa/totp/disable',
        { password: 'not-the-password', code },
        user.token,
      );
      expect(wrongPassword.status).toBe(400);
      expect(wrongPassword.body.error.details).toEqual([expect.objectContaining({ field: 'body.password' })]);
      const badCode = await post(
        '/api/auth/mfa/totp/disable',
        { password: PASSWORD, code: wrongCode(code) },
        user.token,
      );
      expect(badCode.status).toBe(400);
      expect(badCode.body.error.details).toEqual([expect.objectContaining({ field: 'body.code' })]);
      const badRecovery = await post(
        '/api/auth/mfa/totp/disable',
        { password: PASSWORD, recoveryCode: 'zzzz-zzzz-zz' },
        user.token,
      );
      expect(badRecovery.status).toBe(400);
      expect(badRecovery.body.error.details).toEqual([
        expect.objectContaining({ field: 'body.recoveryCode' }),
      ]);
      const missing = await post('/api/auth/mfa/totp/disable', { code }, user.token);
      expect(missing.status).toBe(400);
      expect(missing.body.error.details.map((d: { field: string }) => d.field)).toContain('body.password');
      expect((await status(user.token)).body.data.totpEnabled).toBe(true);

      const res = await post('/api/auth/mfa/totp/disable', { password: PASSWORD, code }, user.token);
      expect(res.status).toBe(200);
      expect((await status(user.token)).body.data).toEqual({ totpEnabled: false, recoveryCodesRemaining: 0 });
      expect(await sql('select 1 from identity.mfa_totp where user_id = $1', [user.userId])).toHaveLength(0);
      expect(
        await sql('select 1 from identity.mfa_recovery_codes where user_id = $1', [user.userId]),
      ).toHaveLength(0);
      expect((await login(user.email)).body.data.token).toEqual(expect.any(String));
      expect(await auditActions(user.userId)).toEqual(
        expect.arrayContaining(['mfa.disable_failed', 'mfa.disabled']),
      );
      await waitFor(async () =>
        (await mailSubjects(user.email)).includes('Two-factor authentication turned off'),
      );
      // Off already: 409.
      const again = await post('/api/auth/mfa/totp/disable', { password: PASSWORD, code }, user.token);
      expect(again.status).toBe(409);
    });

    it('accepts the password with a recovery code, and ends pending challenges', async () => {
      const user = await enrolled();
      const pending = await mfaTokenOf(user.email);
      const res = await post(
        '/api/auth/mfa/totp/disable',
        { password: PASSWORD, recoveryCode: user.recoveryCodes[3] },
        user.token,
      );
      expect(res.status).toBe(200);
      expect((await verify({ mfaToken: pending, recoveryCode: user.recoveryCodes[4] })).status).toBe(401);
    });

    it('asks an account without a password to set one first', async () => {
      const user = await enrolled();
      await sql('update identity.users set password_hash = null where id = $1', [user.userId]);
      const res = await post(
        '/api/auth/mfa/totp/disable',
        { password: PASSWORD, code: oathtool(user.secret, 1) },
        user.token,
      );
      expect(res.status).toBe(400);
      expect(res.body.error.details).toEqual([
        expect.objectContaining({ field: 'body.password', message: expect.stringMatching(/reset/) }),
      ]);
      expect((await status(user.token)).body.data.totpEnabled).toBe(true);
    });
  });

  it('documents every MFA route in the OpenAPI spec', async () => {
    const spec = await t.request({ method: 'GET', url: '/openapi.json' });
    expect(spec.status).toBe(200);
    const ops = Object.values(spec.body.paths as Record<string, Record<string, { operationId: string }>>)
      .flatMap((p) => Object.values(p))
      .map((o) => o.operationId);
    expect(ops).toEqual(
      expect.arrayContaining([
        'getMfaStatus',
        'setupTotp',
        'enableTotp',
        'disableTotp',
        'regenerateRecoveryCodes',
        'verifyMfa',
      ]),
    );
    const verifyBody =
      spec.body.paths['/api/auth/mfa/verify'].post.requestBody.content['application/json'].schema;
    expect(Object.keys(verifyBody.properties)).toEqual(['mfaToken', 'code', 'recoveryCode']);
  });

  describe('recovery codes', () => {
    it('regenerates the codes with a TOTP code; the old ones stop working', async () => {
      const user = await enrolled();
      await verify({ mfaToken: await mfaTokenOf(user.email), recoveryCode: user.recoveryCodes[0] });
      expect((await status(user.token)).body.data.recoveryCodesRemaining).toBe(9);

      const bad = await post(
        '/api/auth/mfa/recovery-codes',
        { code: wrongCode(oathtool(user.secret, 1)) },
        user.token,
      );
      expect(bad.status).toBe(400);
      expect(bad.body.error.details).toEqual([expect.objectContaining({ field: 'body.code' })]);

      const res = await post('/api/auth/mfa/recovery-codes', { code: oathtool(user.secret, 1) }, user.token);
      expect(res.status).toBe(200);
      const fresh = res.body.data.recoveryCodes as string[];
      expect(fresh).toHaveLength(10);
      expect(fresh.some((c) => user.recoveryCodes.includes(c))).toBe(false);
      expect((await status(user.token)).body.data.recoveryCodesRemaining).toBe(10);
      expect(
        (await verify({ mfaToken: await mfaTokenOf(user.email), recoveryCode: user.recoveryCodes[1] }))
          .status,
      ).toBe(401);
      expect((await verify({ mfaToken: await mfaTokenOf(user.email), recoveryCode: fresh[0] })).status).toBe(
        200,
      );
      expect(await auditActions(user.userId)).toContain('mfa.recovery_codes_regenerated');
    });

    it('answers 409 when 2FA is off', async () => {
      const user = await registerStudent(t);
      const res = await post('/api/auth/mfa/recovery-codes', { code: '123456' }, user.token);
      expect(res.status).toBe(409);
    });
  });
});
