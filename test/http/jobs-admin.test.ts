import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTestApp, type TestApp, waitFor } from '../helpers/app.ts';
import { startReceiver } from '../helpers/http-receiver.ts';
import { createUserWithRole } from '../factories/users.ts';

type Caller = { userId: number; token: string; email: string };
type Job = Record<string, any>;

const DELIVER = 'notifications.deliverWebhook';
const DELIVER_DEAD = 'notifications.deliverWebhook.dead';

/** A webhook receiver on loopback whose answer per path the test controls (200 by default). */
async function startPathReceiver() {
  const answers = new Map<string, () => Promise<number> | number>();
  const receiver = await startReceiver(async (r) => ({
    status: await (answers.get(r.url) ?? (() => 200))(),
  }));
  return Object.assign(receiver, { answers });
}

describe('admin jobs API', () => {
  let t: TestApp;
  let admin: Caller;
  let instructor: Caller;
  let student: Caller;
  let receiver: Awaited<ReturnType<typeof startPathReceiver>>;

  beforeAll(async () => {
    t = await createTestApp({
      AUTH_RATE_LIMIT_MAX: '1000',
      RATE_LIMIT_MAX: '100000',
      WEBHOOKS_ALLOW_PRIVATE_TARGETS: 'true',
      WEBHOOKS_RETRY_LIMIT: '0',
    });
    admin = await createUserWithRole(t, 'admin');
    instructor = await createUserWithRole(t, 'instructor');
    student = await createUserWithRole(t, 'student');
    receiver = await startPathReceiver();
  });
  afterAll(async () => {
    await receiver.close();
    await t.close();
  });

  const api = (method: 'GET' | 'POST' | 'DELETE', url: string, token = admin.token) =>
    t.request({ method, url, token });
  const list = async (query: string) =>
    (await api('GET', `/api/admin/jobs?${query}`)).body.data.items as Job[];
  const getJob = async (id: string) => (await api('GET', `/api/admin/jobs/${id}`)).body.data as Job;
  const queued = () =>
    t.app.platform.jobs.send(
      'platform.sendEmail',
      { to: 'later@example.test', subject: 'Later', text: 'x' },
      { startAfter: new Date(Date.now() + 3600_000) },
    );

  /** An endpoint on `path` subscribed to one event; publishing that event makes one delivery job. */
  async function endpointFor(path: string, event: string) {
    const res = await t.request({
      method: 'POST',
      url: '/api/admin/webhooks',
      token: admin.token,
      payload: { url: `${receiver.url}${path}`, events: [event] },
    });
    expect(res.status).toBe(201);
    return res.body.data.id as number;
  }
  const publish = (name: string) =>
    t.app.platform.db.transaction((tx) =>
      t.app.platform.events.publish(tx, name, { courseId: 1, userId: 2 }),
    );
  const deliveryIdsOf = async (endpointId: number) =>
    (await api('GET', `/api/admin/webhooks/${endpointId}/deliveries`)).body.data.items as Array<{
      id: number;
      status: string;
    }>;
  /** Waits for the delivery job of `endpointId` to fail and be dead-lettered; returns both jobs. */
  async function failedPair(endpointId: number) {
    const [delivery] = await waitFor(async () => {
      const items = await deliveryIdsOf(endpointId);
      return items[0]?.status === 'dead' ? items : undefined;
    });
    const failed = await waitFor(async () =>
      (await list(`queue=${DELIVER}&state=failed&limit=100`)).find((j) => j.data.deliveryId === delivery!.id),
    );
    const dead = await waitFor(async () =>
      (await list(`queue=${DELIVER_DEAD}&limit=100`)).find(
        (j) => j.data.deliveryId === delivery!.id && j.state === 'created',
      ),
    );
    return { deliveryId: delivery!.id, failed, dead };
  }

  it('answers 401 without a token and 403 to students and instructors, changing nothing', async () => {
    const id = (await queued())!;
    const routes = [
      { method: 'GET' as const, url: '/api/admin/jobs' },
      { method: 'GET' as const, url: '/api/admin/jobs/stats' },
      { method: 'GET' as const, url: `/api/admin/jobs/${id}` },
      { method: 'POST' as const, url: `/api/admin/jobs/${id}/retry` },
      { method: 'DELETE' as const, url: `/api/admin/jobs/${id}` },
    ];
    for (const route of routes) {
      const anonymous = await t.request(route);
      expect(anonymous.status, `${route.method} ${route.url}`).toBe(401);
      expect(anonymous.body).toMatchObject({ status: 'error', data: null, error: { errorCode: 401 } });
      for (const caller of [student, instructor]) {
        const res = await t.request({ ...route, token: caller.token });
        expect(res.status, `${route.method} ${route.url}`).toBe(403);
        expect(res.body.error.errorCode).toBe(403);
      }
    }
    expect(await getJob(id)).toMatchObject({ id, state: 'created', queue: 'platform.sendEmail' });
  });

  it('rejects bad ids and queries with details, and answers 404 for unknown jobs', async () => {
    for (const url of [
      '/api/admin/jobs?state=stuck',
      '/api/admin/jobs?limit=0',
      '/api/admin/jobs?limit=101',
      '/api/admin/jobs?limit=ten',
      '/api/admin/jobs?cursor=zzzz',
      '/api/admin/jobs?queue=has%20spaces',
      '/api/admin/jobs?page=2',
      '/api/admin/jobs/not-a-uuid',
      '/api/admin/jobs/123',
    ]) {
      const res = await api('GET', url);
      expect(res.status, url).toBe(400);
      expect(res.body.error.details.length, url).toBeGreaterThan(0);
    }
    for (const method of ['POST', 'DELETE'] as const) {
      const res = await api(method, method === 'POST' ? '/api/admin/jobs/zzz/retry' : '/api/admin/jobs/zzz');
      expect(res.status).toBe(400);
      expect(res.body.error.details[0].field).toBe('params.id');
    }
    const unknown = '4f1c2a9e-8d7b-4c3a-9e2f-1a2b3c4d5e6f';
    for (const [method, url] of [
      ['GET', `/api/admin/jobs/${unknown}`],
      ['POST', `/api/admin/jobs/${unknown}/retry`],
      ['DELETE', `/api/admin/jobs/${unknown}`],
    ] as const) {
      const res = await api(method, url);
      expect(res.status, `${method} ${url}`).toBe(404);
      expect(res.body.error).toMatchObject({ errorCode: 404, message: 'Job not found' });
    }
  });

  it('lists jobs newest first, pages them, and hides emails, bodies and tokens', async () => {
    const token = 'Zq3kV9xW2mN8pR5tY7uB1cD4eF6gH0jK';
    await t.app.platform.mailer.send({
      to: 'ada.lovelace@school.example',
      subject: 'Reset your password',
      text: `Open https://learn.example/reset?token=${token} to continue`,
      html: `<a href="https://learn.example/reset?token=${token}">reset</a>`,
    });
    const mail = await waitFor(async () =>
      (await list('queue=platform.sendEmail&state=completed')).find((j) =>
        String(j.data.to).endsWith('@school.example'),
      ),
    );
    expect(mail.data).toMatchObject({
      to: '***@school.example',
      subject: 'Reset your password',
      text: expect.stringMatching(/^\[\d+ chars\]$/),
      html: expect.stringMatching(/^\[\d+ chars\]$/),
    });
    expect(mail).toMatchObject({
      queue: 'platform.sendEmail',
      deadLetterOf: null,
      state: 'completed',
      retryCount: 0,
      error: null,
      startedOn: expect.any(String),
      completedOn: expect.any(String),
    });

    const everything = await api('GET', '/api/admin/jobs?limit=100');
    const text = JSON.stringify(everything.body);
    for (const secret of ['ada.lovelace', token, student.email, admin.email])
      expect(text).not.toContain(secret);

    const first = await api('GET', '/api/admin/jobs?limit=2');
    expect(first.body.data.items).toHaveLength(2);
    expect(first.body.data.pageInfo.hasMore).toBe(true);
    const second = await api('GET', `/api/admin/jobs?limit=2&cursor=${first.body.data.pageInfo.nextCursor}`);
    const ids = [...first.body.data.items, ...second.body.data.items].map((j: Job) => j.id);
    expect(new Set(ids).size).toBe(ids.length);
    const created = [...first.body.data.items, ...second.body.data.items].map((j: Job) =>
      Date.parse(j.createdOn),
    );
    expect(created).toEqual([...created].sort((a, b) => b - a));
  });

  it('counts jobs per queue and state, dead-letter queues included, in the API and /metrics', async () => {
    const endpointId = await endpointFor('/stats-fail', 'catalog.course.published');
    receiver.answers.set('/stats-fail', () => 500);
    await publish('catalog.course.published');
    await failedPair(endpointId);

    const res = await api('GET', '/api/admin/jobs/stats');
    expect(res.status).toBe(200);
    const queues = res.body.data.queues as Array<{
      queue: string;
      deadLetterOf: string | null;
      counts: Record<string, number>;
      total: number;
    }>;
    const byName = new Map(queues.map((q) => [q.queue, q]));
    expect(byName.get('platform.sendEmail')).toMatchObject({ deadLetterOf: null });
    expect(byName.get('platform.sendEmail.dead')).toMatchObject({ deadLetterOf: 'platform.sendEmail' });
    expect(byName.get(DELIVER)!.counts.failed).toBeGreaterThanOrEqual(1);
    expect(byName.get(DELIVER_DEAD)).toMatchObject({
      deadLetterOf: DELIVER,
      counts: expect.objectContaining({ created: expect.any(Number) }),
    });
    expect(byName.get(DELIVER_DEAD)!.counts.created).toBeGreaterThanOrEqual(1);
    for (const q of queues) expect(q.total).toBe(Object.values(q.counts).reduce((a, b) => a + b, 0));
    expect(res.body.data.totals.failed).toBe(queues.reduce((sum, q) => sum + (q.counts.failed ?? 0), 0));

    const metrics = (await t.request({ method: 'GET', url: '/metrics' })).body as string;
    const depth = new RegExp(
      `lectern_job_queue_depth\\{queue="${DELIVER_DEAD}",state="created"\\} (\\d+)`,
    ).exec(metrics);
    expect(Number(depth?.[1])).toBe(byName.get(DELIVER_DEAD)!.counts.created);
    expect(metrics).toMatch(/lectern_jobs_dead_lettered_total\{queue="notifications.deliverWebhook"\} [1-9]/);
    expect(metrics).toMatch(
      /lectern_jobs_processed_total\{queue="notifications.deliverWebhook",outcome="failed"\} [1-9]/,
    );
  });

  it('retries a dead-lettered job in its original queue, once', async () => {
    const endpointId = await endpointFor('/dlq', 'commerce.order.refunded');
    receiver.answers.set('/dlq', () => 500);
    await publish('commerce.order.refunded');
    const { deliveryId, failed, dead } = await failedPair(endpointId);
    expect(failed).toMatchObject({
      state: 'failed',
      retryCount: 0,
      retryLimit: 0,
      error: `Webhook delivery ${deliveryId} failed: HTTP 500`,
    });
    expect(dead).toMatchObject({ deadLetterOf: DELIVER, data: { deliveryId } });

    receiver.answers.set('/dlq', () => 200);
    const res = await api('POST', `/api/admin/jobs/${dead.id}/retry`);
    expect(res.status).toBe(200);
    // The failed original gets the extra attempt in place.
    expect(res.body.data).toMatchObject({ id: failed.id, queue: DELIVER, state: 'retry', retryLimit: 1 });
    await waitFor(async () => (await deliveryIdsOf(endpointId))[0]?.status === 'succeeded');
    await waitFor(async () => (await getJob(failed.id)).state === 'completed');
    expect((await getJob(dead.id)).state).toBe('cancelled');

    for (const id of [dead.id, failed.id]) {
      const again = await api('POST', `/api/admin/jobs/${id}/retry`);
      expect(again.status).toBe(409);
      expect(again.body.error.errorCode).toBe(409);
    }
    const waiting = (await queued())!;
    expect((await api('POST', `/api/admin/jobs/${waiting}/retry`)).status).toBe(409);
  });

  it('retries a failed job in place and cancels its dead-letter copy', async () => {
    const endpointId = await endpointFor('/in-place', 'commerce.payment.failed');
    receiver.answers.set('/in-place', () => 500);
    await publish('commerce.payment.failed');
    const { failed, dead } = await failedPair(endpointId);
    receiver.answers.set('/in-place', () => 200);
    const res = await api('POST', `/api/admin/jobs/${failed.id}/retry`);
    expect(res.body.data).toMatchObject({ id: failed.id, state: 'retry' });
    await waitFor(async () => (await deliveryIdsOf(endpointId))[0]?.status === 'succeeded');
    expect((await getJob(dead.id)).state).toBe('cancelled');
  });

  it('re-sends a dead-lettered job whose original is gone', async () => {
    const endpointId = await endpointFor('/resend', 'enrollment.enrollment.revoked');
    receiver.answers.set('/resend', () => 500);
    await publish('enrollment.enrollment.revoked');
    const { failed, dead } = await failedPair(endpointId);
    const removed = await api('DELETE', `/api/admin/jobs/${failed.id}`);
    expect(removed.body.data).toMatchObject({ id: failed.id, state: 'failed' });
    receiver.answers.set('/resend', () => 200);
    const res = await api('POST', `/api/admin/jobs/${dead.id}/retry`);
    expect(res.status).toBe(200);
    expect(res.body.data.id).not.toBe(failed.id);
    expect(res.body.data).toMatchObject({ queue: DELIVER, data: dead.data });
    await waitFor(async () => (await deliveryIdsOf(endpointId))[0]?.status === 'succeeded');
  });

  it('deletes a queued job, and refuses to delete a running one', async () => {
    const id = (await queued())!;
    const res = await api('DELETE', `/api/admin/jobs/${id}`);
    expect(res.status).toBe(200);
    expect(res.body.data).toMatchObject({ id, state: 'created', queue: 'platform.sendEmail' });
    expect((await api('GET', `/api/admin/jobs/${id}`)).status).toBe(404);
    expect((await api('DELETE', `/api/admin/jobs/${id}`)).status).toBe(404);

    let release!: () => void;
    const released = new Promise<void>((resolve) => (release = resolve));
    const endpointId = await endpointFor('/hang', 'identity.user.registered');
    receiver.answers.set('/hang', async () => {
      await released;
      return 200;
    });
    await createUserWithRole(t, 'student'); // publishes identity.user.registered
    const active = await waitFor(async () => (await list(`queue=${DELIVER}&state=active`))[0]);
    const refused = await api('DELETE', `/api/admin/jobs/${active.id}`);
    expect(refused.status).toBe(409);
    expect(refused.body.error.errorCode).toBe(409);
    release();
    await waitFor(async () => (await getJob(active.id)).state === 'completed');
    expect((await deliveryIdsOf(endpointId))[0]?.status).toBe('succeeded');
  });
});
