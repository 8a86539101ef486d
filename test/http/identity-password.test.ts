import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { enableTotp } from '../factories/mfa.ts';
import { createTestApp, type TestApp, waitFor } from '../helpers/app.ts';
import { PASSWORD, registerStudent, uniqueEmail } from '../factories/users.ts';

const NEW_PASSWORD = 'Another-strong-Pass-77';
const RESET_SUBJECT = 'Reset your password';
const NOTICE_SUBJECT = 'Your password was changed';

describe('password reset and change', () => {
  let t: TestApp;
  beforeAll(async () => {
    t = await createTestApp({ AUTH_RATE_LIMIT_MAX: '1000', APP_URL: 'https://learn.example.test' });
  });
  afterAll(() => t.close());

  const sql = async (text: string, values: unknown[] = []) =>
    (await t.app.platform.database.executor.executeSql(text, values)).rows;
  const mailTo = async (email: string, subject: string) => {
    const res = await t.request({ method: 'GET', url: `/api/dev/mailbox?to=${encodeURIComponent(email)}` });
    return (res.body.data.items as { subject: string; text: string }[]).filter((m) => m.subject === subject);
  };
  const waitForMail = (email: string, subject: string, count = 1) =>
    waitFor(async () => {
      const mails = await mailTo(email, subject);
      return mails.length >= count ? mails : null;
    });
  const forgot = (email: unknown) =>
    t.request({ method: 'POST', url: '/api/auth/password/forgot', payload: { email } });
  const reset = (token: unknown, password: unknown = NEW_PASSWORD) =>
    t.request({ method: 'POST', url: '/api/auth/password/reset', payload: { token, password } });
  const change = (token: string | undefined, payload: Record<string, unknown>) =>
    t.request({ method: 'POST', url: '/api/auth/password/change', token, payload });
  const login = (email: string, password: string) =>
    t.request({ method: 'POST', url: '/api/auth/user/login', payload: { email, password } });
  const profileOf = (token: string) => t.request({ method: 'GET', url: '/api/auth/user/profile', token });
  const refresh = (refreshToken: string) =>
    t.request({ method: 'POST', url: '/api/auth/token/refresh', payload: { refreshToken } });
  /** Asks for a reset link and returns the token of the newest one once `count` have arrived. */
  const resetToken = async (email: string, count = 1) => {
    expect((await forgot(email)).status).toBe(200);
    const mails = await waitForMail(email, RESET_SUBJECT, count);
    return /reset-password\?token=([A-Za-z0-9_-]+)/.exec(mails[0]!.text)![1]!;
  };
  const without = ({ timestamp: _t, ...rest }: Record<string, unknown>) => rest;
  const passwordHashOf = async (userId: number) =>
    (await sql('select password_hash from identity.users where id = $1', [userId]))[0]!.password_hash;

  describe('forgot and reset', () => {
    it('resets the password by emailed link, signs out everywhere and opens no session', async () => {
      const user = await registerStudent(t);
      const other = await login(user.email, PASSWORD);
      const token = await resetToken(user.email);
      const [mail] = await mailTo(user.email, RESET_SUBJECT);
      expect(mail!.text).toContain('https://learn.example.test/reset-password?token=');

      const res = await reset(token);
      expect(res.status).toBe(200);
      expect(Object.keys(res.body.data)).toEqual(['message']);

      // Every access and refresh token of the account stops working at once.
      expect((await profileOf(user.token)).status).toBe(401);
      expect((await profileOf(other.body.data.token)).status).toBe(401);
      expect((await refresh(user.refreshToken)).status).toBe(401);
      expect((await refresh(other.body.data.refreshToken)).status).toBe(401);

      expect((await login(user.email, PASSWORD)).status).toBe(401);
      const fresh = await login(user.email, NEW_PASSWORD);
      expect(fresh.status).toBe(200);
      expect((await profileOf(fresh.body.data.token)).body.data.isEmailVerified).toBe(true);
      await waitForMail(user.email, NOTICE_SUBJECT);
      const audit = await sql(
        `select action from identity.audit_log where subject_id = $1 and action like 'password.%' order by id`,
        [user.userId],
      );
      expect(audit.map((r) => r.action)).toEqual(['password.reset_requested', 'password.reset']);
    });

    it('does not bypass 2FA: the next sign-in still asks for the second factor', async () => {
      const user = await registerStudent(t);
      await enableTotp(t, user.token);
      const res = await reset(await resetToken(user.email));
      expect(res.status).toBe(200);
      expect(res.body.data.token).toBeUndefined();
      const next = await login(user.email, NEW_PASSWORD);
      expect(next.status).toBe(200);
      expect(next.body.data).toMatchObject({ mfaRequired: true, mfaToken: expect.any(String) });
      expect(next.body.data.token).toBeUndefined();
    });

    it('refuses a reused token', async () => {
      const user = await registerStudent(t);
      const token = await resetToken(user.email);
      expect((await reset(token)).status).toBe(200);
      const again = await reset(token, 'Yet-another-Pass-88');
      expect(again.status).toBe(400);
      expect(again.body.error.details).toEqual([
        { field: 'body.token', message: 'Invalid or expired reset link' },
      ]);
      expect((await login(user.email, NEW_PASSWORD)).status).toBe(200);
    });

    it('refuses an expired token and changes nothing', async () => {
      const user = await registerStudent(t);
      const token = await resetToken(user.email);
      await sql(
        `update identity.one_time_tokens set expires_at = now() - interval '1 second'
         where user_id = $1 and purpose = 'password_reset'`,
        [user.userId],
      );
      const res = await reset(token);
      expect(res.status).toBe(400);
      expect(res.body.error.details[0].field).toBe('body.token');
      expect((await profileOf(user.token)).status).toBe(200);
      expect((await login(user.email, PASSWORD)).status).toBe(200);
    });

    it('invalidates the previous link when a new one is requested', async () => {
      const user = await registerStudent(t);
      const first = await resetToken(user.email, 1);
      const second = await resetToken(user.email, 2);
      expect((await reset(first)).status).toBe(400);
      expect((await reset(second)).status).toBe(200);
    });

    it('refuses a weak or unchanged password on body.password and keeps the link usable', async () => {
      const user = await registerStudent(t);
      const token = await resetToken(user.email);
      const hash = await passwordHashOf(user.userId);
      for (const password of ['password123', 'short', user.email, PASSWORD]) {
        const res = await reset(token, password);
        expect(res.status).toBe(400);
        expect(res.body.error.details.map((d: { field: string }) => d.field)).toEqual(['body.password']);
      }
      expect(await passwordHashOf(user.userId)).toBe(hash);
      expect((await profileOf(user.token)).status).toBe(200);
      expect((await reset(token)).status).toBe(200);
    });

    it('refuses unknown and malformed tokens', async () => {
      for (const token of ['x'.repeat(43), 'short', undefined]) {
        const res = await reset(token);
        expect(res.status).toBe(400);
        expect(res.body.error.details.map((d: { field: string }) => d.field)).toContain('body.token');
      }
    });

    it('lets exactly one of parallel resets with one token succeed', async () => {
      const user = await registerStudent(t);
      const token = await resetToken(user.email);
      const passwords = [
        'Parallel-Pass-0001',
        'Parallel-Pass-0002',
        'Parallel-Pass-0003',
        'Parallel-Pass-0004',
      ];
      const results = await Promise.all(passwords.map((p) => reset(token, p)));
      expect(results.map((r) => r.status).sort()).toEqual([200, 400, 400, 400]);
      const winner = passwords[results.findIndex((r) => r.status === 200)]!;
      expect((await login(user.email, winner)).status).toBe(200);
    });

    it('kills outstanding sign-in codes', async () => {
      const user = await registerStudent(t);
      await t.request({ method: 'POST', url: '/api/auth/otp/request', payload: { email: user.email } });
      const token = await resetToken(user.email);
      expect((await reset(token)).status).toBe(200);
      const [live] = await sql(
        `select count(*)::int as n from identity.one_time_tokens
         where user_id = $1 and purpose in ('otp_login', 'password_reset') and used_at is null`,
        [user.userId],
      );
      expect(live!.n).toBe(0);
    });

    it('answers identically for known, unknown and disabled emails', async () => {
      const known = await registerStudent(t);
      const disabled = await registerStudent(t);
      await sql(`update identity.users set status = 'disabled' where id = $1`, [disabled.userId]);
      const answers = await Promise.all([
        forgot(known.email),
        forgot(uniqueEmail('nobody')),
        forgot(disabled.email),
      ]);
      for (const a of answers) {
        expect(a.status).toBe(200);
        expect(without(a.body)).toEqual(without(answers[0]!.body));
      }
      await waitForMail(known.email, RESET_SUBJECT);
      const [issued] = await sql(
        `select count(*)::int as n from identity.one_time_tokens where user_id = $1 and purpose = 'password_reset'`,
        [disabled.userId],
      );
      expect(issued!.n).toBe(0);
    });

    it('sends at most 5 links per email per 15 minutes, answering alike', async () => {
      const user = await registerStudent(t);
      const answers = [];
      for (let i = 0; i < 6; i++) answers.push(await forgot(user.email));
      for (const a of answers) expect(without(a.body)).toEqual(without(answers[0]!.body));
      const [issued] = await sql(
        `select count(*)::int as n from identity.one_time_tokens where user_id = $1 and purpose = 'password_reset'`,
        [user.userId],
      );
      expect(issued!.n).toBe(5);
    });

    it('refuses a malformed email with 400', async () => {
      const res = await forgot('not-an-email');
      expect(res.status).toBe(400);
      expect(res.body.error.details[0].field).toBe('body.email');
    });
  });

  describe('change', () => {
    it('needs a signed-in caller', async () => {
      const res = await change(undefined, { currentPassword: PASSWORD, newPassword: NEW_PASSWORD });
      expect(res.status).toBe(401);
    });

    it('changes the password, keeps other sessions by default and sends a notice', async () => {
      const user = await registerStudent(t);
      const other = await login(user.email, PASSWORD);
      const res = await change(user.token, { currentPassword: PASSWORD, newPassword: NEW_PASSWORD });
      expect(res.status).toBe(200);
      expect(res.body.data).toEqual({ message: 'Password changed', revokedSessions: 0 });
      expect((await profileOf(other.body.data.token)).status).toBe(200);
      expect((await login(user.email, PASSWORD)).status).toBe(401);
      expect((await login(user.email, NEW_PASSWORD)).status).toBe(200);
      await waitForMail(user.email, NOTICE_SUBJECT);
      const audit = await sql(
        `select actor_id from identity.audit_log where subject_id = $1 and action = 'password.changed'`,
        [user.userId],
      );
      expect(audit).toEqual([{ actor_id: user.userId }]);
    });

    it('signs out every other session on request and keeps the caller’s', async () => {
      const user = await registerStudent(t);
      const a = await login(user.email, PASSWORD);
      const b = await login(user.email, PASSWORD);
      const res = await change(user.token, {
        currentPassword: PASSWORD,
        newPassword: NEW_PASSWORD,
        signOutOtherSessions: true,
      });
      expect(res.status).toBe(200);
      expect(res.body.data.revokedSessions).toBe(2);
      expect((await profileOf(user.token)).status).toBe(200);
      expect((await refresh(user.refreshToken)).status).toBe(200);
      for (const s of [a, b]) {
        expect((await profileOf(s.body.data.token)).status).toBe(401);
        expect((await refresh(s.body.data.refreshToken)).status).toBe(401);
      }
    });

    it('refuses a wrong current password with 400 and changes nothing', async () => {
      const user = await registerStudent(t);
      const hash = await passwordHashOf(user.userId);
      const res = await change(user.token, {
        currentPassword: 'Wrong-password-123',
        newPassword: NEW_PASSWORD,
      });
      expect(res.status).toBe(400);
      expect(res.body.error.details).toEqual([
        { field: 'body.currentPassword', message: 'Current password is incorrect' },
      ]);
      expect(await passwordHashOf(user.userId)).toBe(hash);
      expect((await login(user.email, PASSWORD)).status).toBe(200);
    });

    it('refuses weak, unchanged and malformed new passwords on the right field', async () => {
      const user = await registerStudent(t);
      const hash = await passwordHashOf(user.userId);
      for (const [payload, field] of [
        [{ currentPassword: PASSWORD, newPassword: 'password123' }, 'body.newPassword'],
        [{ currentPassword: PASSWORD, newPassword: PASSWORD }, 'body.newPassword'],
        [{ currentPassword: PASSWORD, newPassword: 'short' }, 'body.newPassword'],
        [{ currentPassword: PASSWORD }, 'body.newPassword'],
        [{ newPassword: NEW_PASSWORD }, 'body.currentPassword'],
        [
          { currentPassword: PASSWORD, newPassword: NEW_PASSWORD, signOutOtherSessions: 'yes' },
          'body.signOutOtherSessions',
        ],
        [{ currentPassword: PASSWORD, newPassword: NEW_PASSWORD, userId: 1 }, 'body'],
      ] as const) {
        const res = await change(user.token, payload);
        expect(res.status).toBe(400);
        expect(res.body.error.details.map((d: { field: string }) => d.field)).toContain(field);
      }
      expect(await passwordHashOf(user.userId)).toBe(hash);
    });

    it('locks changes out after repeated wrong current passwords', async () => {
      const user = await registerStudent(t);
      for (let i = 0; i < 5; i++) {
        const res = await change(user.token, {
          currentPassword: `Wrong-${i}-password`,
          newPassword: NEW_PASSWORD,
        });
        expect(res.status).toBe(400);
      }
      const locked = await change(user.token, { currentPassword: PASSWORD, newPassword: NEW_PASSWORD });
      expect(locked.status).toBe(429);
      expect(Number(locked.headers['retry-after'])).toBeGreaterThan(0);
      expect((await login(user.email, PASSWORD)).status).toBe(200);
    });

    it('sends an account without a password to the reset flow, which then sets one', async () => {
      const email = uniqueEmail('nopass');
      await t.app.modules.identity.createUser({ email, name: 'No Password', role: 'student' });
      await t.request({ method: 'POST', url: '/api/auth/otp/request', payload: { email } });
      const mail = await waitFor(async () => {
        const res = await t.request({
          method: 'GET',
          url: `/api/dev/mailbox?to=${encodeURIComponent(email)}`,
        });
        return res.body.data.items.find((m: { subject: string }) =>
          m.subject.startsWith('Your sign-in code'),
        );
      });
      const code = /(\d{6})/.exec(mail.subject)![1];
      const session = await t.request({
        method: 'POST',
        url: '/api/auth/otp/login',
        payload: { email, code },
      });
      const res = await change(session.body.data.token, {
        currentPassword: 'anything',
        newPassword: NEW_PASSWORD,
      });
      expect(res.status).toBe(400);
      expect(res.body.error.details[0]).toMatchObject({ field: 'body.currentPassword' });
      expect(res.body.error.details[0].message).toContain('/api/auth/password/forgot');

      expect((await reset(await resetToken(email))).status).toBe(200);
      expect((await login(email, NEW_PASSWORD)).status).toBe(200);
    });
  });
});
