import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTestApp, type TestApp, waitFor } from '../helpers/app.ts';
import { PASSWORD, registerStudent, uniqueEmail } from '../factories/users.ts';

const SUBJECT = 'Confirm your email address';

describe('email verification', () => {
  let t: TestApp;
  beforeAll(async () => {
    t = await createTestApp({ AUTH_RATE_LIMIT_MAX: '1000', APP_URL: 'https://learn.example.test' });
  });
  afterAll(() => t.close());

  const sql = async (text: string, values: unknown[] = []) =>
    (await t.app.platform.database.executor.executeSql(text, values)).rows;
  const mailTo = async (email: string) => {
    const res = await t.request({ method: 'GET', url: `/api/dev/mailbox?to=${encodeURIComponent(email)}` });
    return (res.body.data.items as { subject: string; text: string; html: string }[]).filter(
      (m) => m.subject === SUBJECT,
    );
  };
  const waitForLinks = (email: string, count = 1) =>
    waitFor(async () => {
      const mails = await mailTo(email);
      return mails.length >= count ? mails : null;
    });
  const tokenIn = (text: string) => /verify-email\?token=([A-Za-z0-9_-]+)/.exec(text)![1]!;
  const verify = (token: unknown) =>
    t.request({ method: 'POST', url: '/api/auth/email/verify', payload: { token } });
  const resend = (token?: string) =>
    t.request({ method: 'POST', url: '/api/auth/email/verify/resend', token });
  const isVerified = async (token: string) =>
    (await t.request({ method: 'GET', url: '/api/auth/user/profile', token })).body.data.isEmailVerified;

  it('emails a link on registration; the link verifies the email once', async () => {
    const user = await registerStudent(t);
    const [mail] = await waitForLinks(user.email);
    expect(mail!.text).toContain('https://learn.example.test/verify-email?token=');
    expect(mail!.html).toContain('href="https://learn.example.test/verify-email?token=');
    expect(await isVerified(user.token)).toBe(false);

    const token = tokenIn(mail!.text);
    const res = await verify(token);
    expect(res.status).toBe(200);
    expect(res.body.data).toEqual({ message: 'Email verified' });
    expect(await isVerified(user.token)).toBe(true);
    const audit = await sql(
      `select actor_id from identity.audit_log where action = 'email.verified' and subject_id = $1`,
      [user.userId],
    );
    expect(audit).toEqual([{ actor_id: user.userId }]);

    const again = await verify(token);
    expect(again.status).toBe(400);
    expect(again.body.error.message).toBe('Invalid or expired verification link');
    expect(again.body.error.details).toEqual([
      { field: 'body.token', message: 'Invalid or expired verification link' },
    ]);
  });

  it('stores only a hash of the token', async () => {
    const user = await registerStudent(t);
    const token = tokenIn((await waitForLinks(user.email))[0]!.text);
    const rows = await sql(`select token_hash from identity.one_time_tokens where user_id = $1`, [
      user.userId,
    ]);
    expect(rows).toHaveLength(1);
    expect(rows[0]!.token_hash).not.toContain(token);
    expect(rows[0]!.token_hash).toMatch(/^[0-9a-f]{64}$/);
  });

  it('refuses an expired link and leaves the email unverified', async () => {
    const user = await registerStudent(t);
    const token = tokenIn((await waitForLinks(user.email))[0]!.text);
    await sql(
      `update identity.one_time_tokens set expires_at = now() - interval '1 second' where user_id = $1`,
      [user.userId],
    );
    const res = await verify(token);
    expect(res.status).toBe(400);
    expect(res.body.error.details[0].field).toBe('body.token');
    expect(await isVerified(user.token)).toBe(false);
  });

  it('refuses unknown and malformed tokens with 400 on body.token', async () => {
    for (const token of ['x'.repeat(43), 'short', undefined, 42]) {
      const res = await verify(token);
      expect(res.status).toBe(400);
      expect(res.body.error.details.map((d: { field: string }) => d.field)).toContain('body.token');
    }
    const extra = await t.request({
      method: 'POST',
      url: '/api/auth/email/verify',
      payload: { token: 'x'.repeat(43), userId: 1 },
    });
    expect(extra.status).toBe(400);
  });

  it('lets exactly one of parallel clicks on one link succeed', async () => {
    const user = await registerStudent(t);
    const token = tokenIn((await waitForLinks(user.email))[0]!.text);
    const results = await Promise.all(Array.from({ length: 5 }, () => verify(token)));
    expect(results.map((r) => r.status).sort()).toEqual([200, 400, 400, 400, 400]);
    expect(
      await sql(
        `select count(*)::int as n from identity.audit_log where action = 'email.verified' and subject_id = $1`,
        [user.userId],
      ),
    ).toEqual([{ n: 1 }]);
  });

  it('sends no link to accounts created already verified', async () => {
    const email = uniqueEmail('verified');
    await t.app.modules.identity.createUser({
      email,
      password: PASSWORD,
      name: 'Verified',
      role: 'instructor',
      emailVerified: true,
    });
    // Every account's registration event has been handled once the consumer has seen as many as there are users.
    await waitFor(async () => {
      const [users] = await sql('select count(*)::int as n from identity.users');
      const [handled] = await sql(
        `select count(*)::int as n from platform.processed_events where consumer = 'identity.sendVerificationEmail'`,
      );
      return handled!.n === users!.n;
    });
    expect(await mailTo(email)).toEqual([]);
  });

  describe('resend', () => {
    it('needs a signed-in caller', async () => {
      const res = await resend();
      expect(res.status).toBe(401);
      expect((await resend('not-a-token')).status).toBe(401);
    });

    it('sends a new link that replaces the old one, to the caller only', async () => {
      const user = await registerStudent(t);
      const other = await registerStudent(t);
      const first = tokenIn((await waitForLinks(user.email))[0]!.text);
      await waitForLinks(other.email);
      const res = await resend(user.token);
      expect(res.status).toBe(200);
      expect(res.body.data).toEqual({ message: 'Verification email sent' });
      const mails = await waitForLinks(user.email, 2);
      const second = tokenIn(mails[0]!.text);
      expect(second).not.toBe(first);
      expect((await verify(first)).status).toBe(400);
      expect((await verify(second)).status).toBe(200);
      expect(await isVerified(user.token)).toBe(true);
      expect(await mailTo(other.email)).toHaveLength(1);
      expect(await isVerified(other.token)).toBe(false);
    });

    it('answers 409 once the email is verified', async () => {
      const user = await registerStudent(t);
      await verify(tokenIn((await waitForLinks(user.email))[0]!.text));
      const res = await resend(user.token);
      expect(res.status).toBe(409);
      expect(res.body.error.message).toBe('Email already verified');
    });

    it('allows 3 per hour, then 429 with Retry-After and no mail', async () => {
      const user = await registerStudent(t);
      await waitForLinks(user.email);
      for (let i = 0; i < 3; i++) expect((await resend(user.token)).status).toBe(200);
      const limited = await resend(user.token);
      expect(limited.status).toBe(429);
      expect(Number(limited.headers['retry-after'])).toBeGreaterThan(0);
      expect(limited.body.error.errorCode).toBe(429);
      await waitForLinks(user.email, 4);
      const [live] = await sql(
        `select count(*)::int as n from identity.one_time_tokens where user_id = $1 and purpose = 'verify_email'`,
        [user.userId],
      );
      expect(live!.n).toBe(4);
    });
  });
});
