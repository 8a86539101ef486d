import path from 'node:path';
import type { FastifyInstance } from 'fastify';
import { afterAll, describe, expect, it } from 'vitest';
import { buildApp } from '../../src/app.ts';
import { loadConfig } from '../../src/platform/config.ts';
import { createTestApp, type TestApp, waitFor } from '../helpers/app.ts';
import { realDatabaseUrl, testEnv } from '../helpers/env.ts';
import { freePort, startSmtpServer, type SmtpPeer } from '../helpers/smtp.ts';
import { createUserWithRole, registerStudent } from '../factories/users.ts';

const closers: Array<() => Promise<void>> = [];
afterAll(async () => {
  for (const close of closers.reverse()) await close().catch(() => undefined);
});

describe('SMTP outage', () => {
  it('retries while the SMTP server is down, logs every attempt, and delivers once when it is back', async () => {
    const port = await freePort();
    const t: TestApp = await createTestApp({
      SMTP_URL: `smtp://127.0.0.1:${port}`,
      AUTH_RATE_LIMIT_MAX: '1000',
      JOBS_RETRY_DELAY_SECONDS: '1',
    });
    closers.push(() => t.close());
    const admin = await createUserWithRole(t, 'admin');
    const student = await registerStudent(t);
    const res = await t.request({
      method: 'POST',
      url: '/api/notifications/send',
      token: admin.token,
      payload: { userId: student.userId, type: 'email', title: 'Survives outages', message: 'Eventually.' },
    });
    expect(res.status).toBe(201);
    const id = res.body.data.notificationId;
    const logOf = async () =>
      (
        await t.request({ method: 'GET', url: `/api/notifications/log?limit=200`, token: student.token })
      ).body.data.logs
        .filter((l: any) => l.notificationId === id)
        .reverse();

    // At least one failed attempt, with the next one waiting.
    await waitFor(async () => (await logOf()).some((l: any) => l.deliveryStatus === 'failed'), 20_000);
    const whileDown = await logOf();
    expect(whileDown[0]).toMatchObject({ deliveryStatus: 'failed', attempt: 1, deliveredAt: null });
    expect(whileDown[0].error).toMatch(/ECONNREFUSED|connect/i);
    expect(whileDown.at(-1)).toMatchObject({ deliveryStatus: 'pending', deliveredAt: null });

    const smtp: SmtpPeer = await startSmtpServer({ port });
    closers.push(() => smtp.close());
    const [mail] = await waitFor(async () => {
      const found = smtp.to(student.email).filter((m) => m.subject === 'Survives outages');
      return found.length ? found : null;
    }, 40_000);
    const final = await waitFor(async () => {
      const rows = await logOf();
      return rows.at(-1).deliveryStatus === 'sent' ? rows : null;
    });
    // One row per attempt, numbered 1..n: failures, then the delivery with the server's answer.
    expect(final.map((l: any) => l.attempt)).toEqual(final.map((_: unknown, i: number) => i + 1));
    expect(final.slice(0, -1).every((l: any) => l.deliveryStatus === 'failed')).toBe(true);
    expect(final.at(-1).providerResponse).toMatch(/^250 /);
    expect(final.at(-1).deliveredAt).toEqual(expect.any(String));
    await new Promise((r) => setTimeout(r, 1500));
    expect(smtp.to(student.email).filter((m) => m.subject === 'Survives outages')).toEqual([mail]);
  }, 90_000);
});

/** A full app on a given environment (a shared database), with `request` as test apps have it. */
async function startApp(env: Record<string, string>): Promise<TestApp> {
  const app: FastifyInstance = await buildApp({ config: loadConfig(env) });
  await app.ready();
  return {
    app,
    env,
    close: () => app.close(),
    async request({ token, headers, ...options }) {
      const res = await app.inject({
        ...options,
        headers: { ...(headers ?? {}), ...(token ? { authorization: `Bearer ${token}` } : {}) },
      });
      return { status: res.statusCode, headers: res.headers, body: res.body ? res.json() : null };
    },
  };
}

describe('worker restart', () => {
  // PGlite in memory lives and dies with its process, so the second app could not see the first
  // one's queue; a PGlite directory (or PostgreSQL, when DATABASE_URL is set) survives the restart.
  it('delivers 200 queued emails exactly once when the worker stops midway and another one takes over', async () => {
    // A very slow server while the 200 are queued, so the worker is still busy when it stops.
    const smtp = await startSmtpServer({ acceptDelayMs: 1000 });
    closers.push(() => smtp.close());
    const { env, dataDir, cleanup } = await testEnv({
      SMTP_URL: smtp.url,
      AUTH_RATE_LIMIT_MAX: '1000',
      RATE_LIMIT_MAX: '100000',
      SHUTDOWN_TIMEOUT_SECONDS: '30',
    });
    if (!realDatabaseUrl) env.PGLITE_PATH = path.join(dataDir, 'db');
    closers.push(cleanup);

    const first = await startApp(env);
    let firstClosed = false;
    closers.push(async () => {
      if (!firstClosed) await first.close();
    });
    const admin = await createUserWithRole(first, 'admin');
    const students = [await registerStudent(first), await registerStudent(first)];
    const ids: number[] = [];
    for (let i = 0; i < 200; i++) {
      const res = await first.request({
        method: 'POST',
        url: '/api/notifications/send',
        token: admin.token,
        payload: {
          userId: students[i % 2]!.userId,
          type: 'email',
          title: `Bulk ${i}`,
          message: `Message ${i}`,
        },
      });
      expect(res.status).toBe(201);
      ids.push(res.body.data.notificationId);
    }
    const bulk = () => smtp.received.filter((m) => m.subject.startsWith('Bulk '));
    smtp.acceptDelayMs = 40;
    await waitFor(async () => bulk().length >= 20, 30_000);
    await first.close(); // graceful: running deliveries finish, queued ones stay queued
    firstClosed = true;
    const atStop = bulk().length;
    expect(atStop).toBeLessThan(200);

    const second = await startApp(env);
    closers.push(() => second.close());
    await waitFor(async () => bulk().length >= 200, 60_000, 250);
    await new Promise((r) => setTimeout(r, 2000));
    const mails = bulk();
    expect(mails).toHaveLength(200);
    expect(new Set(mails.map((m) => m.messageId)).size).toBe(200);
    expect(new Set(mails.map((m) => m.subject))).toEqual(new Set(ids.map((_, i) => `Bulk ${i}`)));

    // Every notification has exactly one `sent` delivery row and nothing left waiting (on failure,
    // the rows that are not, with their mail job's state, say where the delivery stopped).
    const { rows } = await second.app.platform.database.executor.executeSql(
      `select d.notification_id,
              count(*) filter (where d.status = 'sent')::int as sent,
              count(*) filter (where d.status = 'pending')::int as pending,
              min(j.state) as job_state
         from notifications.deliveries d
         left join pgboss.job j
           on j.name = 'platform.sendEmail' and j.data->>'trackingId' = 'notification:' || d.notification_id
        where d.notification_id = any($1::int[])
        group by d.notification_id`,
      [ids],
    );
    expect(rows).toHaveLength(200);
    expect(rows.filter((r) => r.sent !== 1 || r.pending !== 0)).toEqual([]);
  }, 180_000);
});
