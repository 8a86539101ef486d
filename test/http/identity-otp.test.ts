import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { sha256Hex } from '../../src/platform/crypto.ts';
import { enableTotp } from '../factories/mfa.ts';
import { createTestApp, type TestApp, waitFor } from '../helpers/app.ts';
import { registerStudent, uniqueEmail } from '../factories/users.ts';

const REQUESTED = 'If the email is registered, a sign-in code is on its way';

describe('email OTP login (seed 004)', () => {
  let t: TestApp;
  beforeAll(async () => {
    t = await createTestApp({ AUTH_RATE_LIMIT_MAX: '1000' });
  });
  afterAll(() => t.close());

  const sql = async (text: string, values: unknown[] = []) =>
    (await t.app.platform.database.executor.executeSql(text, values)).rows;
  const codesTo = async (email: string) => {
    const res = await t.request({ method: 'GET', url: `/api/dev/mailbox?to=${encodeURIComponent(email)}` });
    return (res.body.data.items as { subject: string; text: string }[])
      .filter((m) => m.subject.startsWith('Your sign-in code'))
      .map((m) => /(\d{6})/.exec(m.subject)![1]!);
  };
  /** The newest code once `count` codes have arrived. */
  const waitForCode = (email: string, count = 1) =>
    waitFor(async () => {
      const codes = await codesTo(email);
      return codes.length >= count ? codes[0] : null;
    });
  const requestCode = (email: unknown) =>
    t.request({ method: 'POST', url: '/api/auth/otp/request', payload: { email } });
  const login = (email: unknown, code: unknown) =>
    t.request({ method: 'POST', url: '/api/auth/otp/login', payload: { email, code } });
  const profileOf = (token: string) => t.request({ method: 'GET', url: '/api/auth/user/profile', token });
  const otherCode = (code: string) => String((Number(code) + 1) % 1_000_000).padStart(6, '0');
  const liveCodes = async (userId: number) =>
    (
      await sql(
        `select count(*)::int as n from identity.one_time_tokens
         where user_id = $1 and purpose = 'otp_login' and used_at is null and expires_at > now()`,
        [userId],
      )
    )[0]!.n as number;
  const without = ({ timestamp: _t, ...rest }: Record<string, unknown>) => rest;

  it('signs in with the emailed code, like password login, and verifies the email', async () => {
    const user = await registerStudent(t);
    const req = await requestCode(user.email.toUpperCase());
    expect(req.status).toBe(200);
    expect(req.body.data).toEqual({ message: REQUESTED });
    const code = await waitForCode(user.email);
    expect(code).toMatch(/^\d{6}$/);

    const res = await login(user.email, code);
    expect(res.status).toBe(200);
    expect(res.body.data).toMatchObject({
      userId: user.userId,
      token: expect.any(String),
      refreshToken: expect.stringMatching(/^rt_/),
      expiresIn: 900,
      message: 'Login successful',
    });
    const profile = await profileOf(res.body.data.token);
    expect(profile.status).toBe(200);
    expect(profile.body.data.isEmailVerified).toBe(true);
    const audit = await sql(
      `select detail from identity.audit_log where action = 'login.succeeded' and subject_id = $1`,
      [user.userId],
    );
    expect(audit).toEqual([{ detail: 'otp' }]);

    // Single use: the same code does not sign in twice.
    const again = await login(user.email, code);
    expect(again.status).toBe(401);
    expect(again.body.error.message).toBe('Invalid or expired code');
  });

  it('asks for the second factor when the account has 2FA', async () => {
    const user = await registerStudent(t);
    await enableTotp(t, user.token);
    await requestCode(user.email);
    const res = await login(user.email, await waitForCode(user.email));
    expect(res.status).toBe(200);
    expect(res.body.data).toMatchObject({
      mfaRequired: true,
      mfaToken: expect.any(String),
      userId: user.userId,
    });
    expect(res.body.data.token).toBeUndefined();
  });

  it('stores the code hashed, bound to the user', async () => {
    const user = await registerStudent(t);
    await requestCode(user.email);
    const code = await waitForCode(user.email);
    const [row] = await sql(
      `select token_hash, expires_at - created_at < interval '11 minutes' as short
       from identity.one_time_tokens where user_id = $1 and purpose = 'otp_login'`,
      [user.userId],
    );
    expect(row).toEqual({ token_hash: sha256Hex(`${user.userId}:${code}`), short: true });
  });

  it('invalidates the previous code when a new one is requested', async () => {
    const user = await registerStudent(t);
    await requestCode(user.email);
    const first = await waitForCode(user.email, 1);
    await requestCode(user.email);
    const second = await waitForCode(user.email, 2);
    expect(second).not.toBe(first);
    expect(await liveCodes(user.userId)).toBe(1);
    expect((await login(user.email, first)).status).toBe(401);
    expect((await login(user.email, second)).status).toBe(200);
  });

  it('accepts the right code after 4 wrong guesses', async () => {
    const user = await registerStudent(t);
    await requestCode(user.email);
    const code = await waitForCode(user.email);
    for (let i = 0; i < 4; i++) expect((await login(user.email, otherCode(code))).status).toBe(401);
    expect((await login(user.email, code)).status).toBe(200);
  });

  it('kills the code after 5 wrong guesses, even if the right one comes next', async () => {
    const user = await registerStudent(t);
    await requestCode(user.email);
    const code = await waitForCode(user.email);
    for (let i = 0; i < 5; i++) {
      const res = await login(user.email, otherCode(code));
      expect(res.status).toBe(401);
      expect(res.body.error.message).toBe('Invalid or expired code');
    }
    expect(await liveCodes(user.userId)).toBe(0);
    // The email is now locked out as well…
    const locked = await login(user.email, code);
    expect(locked.status).toBe(429);
    expect(Number(locked.headers['retry-after'])).toBeGreaterThan(0);
    // …and once the lockout is lifted, the code itself is still dead.
    await t.app.platform.cache.del(`signin-lock:otp:${sha256Hex(user.email.toLowerCase())}`);
    expect((await login(user.email, code)).status).toBe(401);
  });

  it('refuses an expired code', async () => {
    const user = await registerStudent(t);
    await requestCode(user.email);
    const code = await waitForCode(user.email);
    await sql(
      `update identity.one_time_tokens set expires_at = now() - interval '1 second'
       where user_id = $1 and purpose = 'otp_login'`,
      [user.userId],
    );
    const res = await login(user.email, code);
    expect(res.status).toBe(401);
    expect(res.body.error.message).toBe('Invalid or expired code');
  });

  it('lets exactly one of parallel logins with one code succeed', async () => {
    const user = await registerStudent(t);
    await requestCode(user.email);
    const code = await waitForCode(user.email);
    const results = await Promise.all(Array.from({ length: 4 }, () => login(user.email, code)));
    expect(results.map((r) => r.status).sort()).toEqual([200, 401, 401, 401]);
  });

  it('answers identically for known, unknown and disabled emails', async () => {
    const known = await registerStudent(t);
    const disabled = await registerStudent(t);
    await sql(`update identity.users set status = 'disabled' where id = $1`, [disabled.userId]);
    const unknown = uniqueEmail('nobody');
    const answers = await Promise.all([
      requestCode(known.email),
      requestCode(unknown),
      requestCode(disabled.email),
    ]);
    for (const a of answers) {
      expect(a.status).toBe(200);
      expect(without(a.body)).toEqual(without(answers[0]!.body));
    }
    await waitForCode(known.email);
    expect(await liveCodes(disabled.userId)).toBe(0);

    const wrongKnown = await login(known.email, '000000');
    const wrongUnknown = await login(unknown, '000000');
    expect(wrongKnown.status).toBe(401);
    expect(without(wrongUnknown.body)).toEqual(without(wrongKnown.body));
  });

  it('sends at most 5 codes per email per 15 minutes, answering alike', async () => {
    const user = await registerStudent(t);
    const answers = [];
    for (let i = 0; i < 6; i++) answers.push(await requestCode(user.email));
    for (const a of answers) expect(without(a.body)).toEqual(without(answers[0]!.body));
    const [issued] = await sql(
      `select count(*)::int as n from identity.one_time_tokens where user_id = $1 and purpose = 'otp_login'`,
      [user.userId],
    );
    expect(issued!.n).toBe(5);
    const unknown = uniqueEmail('flood');
    for (let i = 0; i < 6; i++) expect((await requestCode(unknown)).status).toBe(200);
  });

  it('locks an email out after repeated failures, known or not', async () => {
    for (const email of [(await registerStudent(t)).email, uniqueEmail('ghost')]) {
      for (let i = 0; i < 5; i++) expect((await login(email, '123456')).status).toBe(401);
      const res = await login(email, '123456');
      expect(res.status).toBe(429);
      expect(res.body.error.message).toBe('Too many failed attempts; try again later');
      expect(Number(res.headers['retry-after'])).toBeGreaterThan(0);
    }
  });

  it('refuses bad input with 400 naming the field, and changes nothing', async () => {
    const user = await registerStudent(t);
    await requestCode(user.email);
    const code = await waitForCode(user.email);
    for (const [payload, field] of [
      [{ email: user.email, code: '12345' }, 'body.code'],
      [{ email: user.email, code: '1234567' }, 'body.code'],
      [{ email: user.email, code: 'abcdef' }, 'body.code'],
      [{ email: user.email, code: 123456 }, 'body.code'],
      [{ email: 'not-an-email', code: '123456' }, 'body.email'],
      [{ code: '123456' }, 'body.email'],
    ] as const) {
      const res = await t.request({ method: 'POST', url: '/api/auth/otp/login', payload });
      expect(res.status).toBe(400);
      expect(res.body.error.details.map((d: { field: string }) => d.field)).toContain(field);
    }
    const [row] = await sql(
      `select attempts from identity.one_time_tokens where user_id = $1 and purpose = 'otp_login'`,
      [user.userId],
    );
    expect(row!.attempts).toBe(0);
    const badRequest = await requestCode('nope');
    expect(badRequest.status).toBe(400);
    expect(badRequest.body.error.details[0].field).toBe('body.email');
    expect((await login(user.email, code)).status).toBe(200);
  });

  it('lets an account without a password sign in', async () => {
    const email = uniqueEmail('nopass');
    await t.app.modules.identity.createUser({ email, name: 'No Password', role: 'instructor' });
    await requestCode(email);
    const res = await login(email, await waitForCode(email));
    expect(res.status).toBe(200);
    expect((await profileOf(res.body.data.token)).body.data.role).toBe('instructor');
  });
});
