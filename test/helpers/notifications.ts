import { afterAll, beforeAll } from 'vitest';
import { createTestApp, jobDone, type TestApp, waitFor } from './app.ts';
import { startSmtpServer, type SmtpPeer } from './smtp.ts';

/**
 * A test app that sends email to a real SMTP server on loopback, with the helpers the notification
 * tests share. Call at the top of a test file: it registers its own beforeAll and afterAll, and
 * `env.t` and `env.smtp` are set once beforeAll has run.
 */
export function notificationsTestApp() {
  const env = {
    t: undefined as unknown as TestApp,
    smtp: undefined as unknown as SmtpPeer,

    sql: async (text: string, values: unknown[] = []) =>
      (await env.t.app.platform.database.executor.executeSql(text, values)).rows,

    /** Publishes an event the way its module does: inside a committed transaction. */
    publish: <T>(name: string, payload: T) =>
      env.t.app.platform.db.transaction((tx) => env.t.app.platform.events.publish(tx, name, payload)),

    /** Waits until a job has finished (completed), so "nothing was sent" is checked after the fact. */
    jobDone: (id: string | null) => jobDone(env.t, id),

    /** Waits for `count` emails to `email` with this subject and returns them. */
    mailsTo: (email: string, subject: string | RegExp, count = 1) =>
      waitFor(async () => {
        const found = env.smtp
          .to(email)
          .filter((m) => (typeof subject === 'string' ? m.subject === subject : subject.test(m.subject)));
        return found.length >= count ? found : null;
      }),

    /** The user's in-app notifications, newest first (up to 100). */
    inbox: async (token: string) =>
      (await env.t.request({ method: 'GET', url: '/api/notifications?limit=100', token })).body.data
        .items as any[],
  };

  beforeAll(async () => {
    env.smtp = await startSmtpServer();
    env.t = await createTestApp({
      SMTP_URL: env.smtp.url,
      AUTH_RATE_LIMIT_MAX: '1000',
      APP_URL: 'https://learn.example.test',
      PUBLIC_URL: 'https://api.example.test',
    });
  });
  afterAll(async () => {
    await env.t?.close();
    await env.smtp?.close();
  });
  return env;
}
