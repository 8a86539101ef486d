import { createHmac, timingSafeEqual } from 'node:crypto';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { startReceiver } from '../helpers/http-receiver.ts';
import { createTestApp, type TestApp, waitFor } from '../helpers/app.ts';
import { createUserWithRole } from '../factories/users.ts';

function signatureValid(header: string, body: string, secret: string) {
  const parts = header.split(',').map((p) => p.split('=') as [string, string]);
  const t = Number(parts.find(([k]) => k === 't')?.[1]);
  if (!Number.isInteger(t) || Math.abs(Date.now() / 1000 - t) > 300) return false;
  const expected = Buffer.from(createHmac('sha256', secret).update(`${t}.${body}`).digest('hex'));
  return parts
    .filter(([k]) => k === 'v1')
    .some(([, v]) => v.length === expected.length && timingSafeEqual(Buffer.from(v), expected));
}

const sql = async (t: TestApp, text: string, values: unknown[] = []) =>
  (await t.app.platform.database.executor.executeSql(text, values)).rows;

describe('webhook retries, dead deliveries and disabling', () => {
  let t: TestApp;
  let admin: { userId: number; token: string; email: string };
  let secondAdmin: { userId: number; token: string; email: string };
  let receiver: Awaited<ReturnType<typeof startReceiver>>;

  beforeAll(async () => {
    t = await createTestApp({
      AUTH_RATE_LIMIT_MAX: '1000',
      RATE_LIMIT_MAX: '100000',
      WEBHOOKS_ALLOW_PRIVATE_TARGETS: 'true',
      WEBHOOKS_RETRY_DELAY_SECONDS: '1',
      WEBHOOKS_RETRY_LIMIT: '3',
    });
    admin = await createUserWithRole(t, 'admin');
    secondAdmin = await createUserWithRole(t, 'admin');
    // Paths under /ok succeed; every other path fails like a broken receiver.
    receiver = await startReceiver((r) =>
      r.url.startsWith('/ok') ? { status: 200 } : { status: 500, body: 'receiver broke' },
    );
  });
  afterAll(async () => {
    await receiver.close();
    await t.close();
  });

  const created: number[] = [];
  const createEndpoint = async (path: string, events = ['commerce.payment.succeeded']) => {
    const res = await t.request({
      method: 'POST',
      url: '/api/admin/webhooks',
      token: admin.token,
      payload: { url: `${receiver.url}${path}`, events },
    });
    expect(res.status).toBe(201);
    created.push(res.body.data.id);
    return res.body.data as { id: number; secret: string };
  };
  // Each test's endpoints go, so later events do not keep earlier failing receivers busy.
  afterEach(async () => {
    for (const id of created.splice(0))
      await t.request({ method: 'DELETE', url: `/api/admin/webhooks/${id}`, token: admin.token });
  });
  const deliveryOf = async (endpointId: number) => {
    const res = await t.request({
      method: 'GET',
      url: `/api/admin/webhooks/${endpointId}/deliveries`,
      token: admin.token,
    });
    return res.body.data.items[0] as Record<string, any> | undefined;
  };
  const publish = (name: string, payload: Record<string, unknown>) =>
    t.app.platform.db.transaction((tx) => t.app.platform.events.publish(tx, name, payload));
  const hits = (path: string) => receiver.received.filter((r) => r.url === path);

  it('retries a failing receiver with growing delays, then marks the delivery dead and dead-letters its job', async () => {
    const endpoint = await createEndpoint('/always-500');
    const event = await publish('commerce.payment.succeeded', {
      paymentId: 900,
      amountMinor: 4999,
      currency: 'USD',
    });
    const dead = await waitFor(async () => {
      const d = await deliveryOf(endpoint.id);
      return d?.status === 'dead' ? d : undefined;
    }, 45_000);

    const attempts = hits('/always-500');
    expect(attempts).toHaveLength(4); // the first attempt and 3 retries
    for (const a of attempts) {
      expect(a.headers['lectern-event-id']).toBe(event.id);
      expect(signatureValid(a.headers['lectern-signature'] as string, a.body, endpoint.secret)).toBe(true);
    }
    // Retry n waits between 2^(n-1) and 2^n base delays (1 s here), plus polling.
    const gaps = attempts.slice(1).map((a, i) => (a.at - attempts[i]!.at) / 1000);
    gaps.forEach((gap, n) => expect(gap, `gap ${n + 1} of ${gaps}`).toBeGreaterThanOrEqual(2 ** n * 0.95));
    expect(gaps[2]!).toBeGreaterThan(gaps[0]!);

    expect(dead).toMatchObject({
      eventId: event.id,
      status: 'dead',
      attemptCount: 4,
      lastStatusCode: 500,
      lastError: 'HTTP 500',
      nextAttemptAt: null,
      deliveredAt: null,
    });
    expect(dead.attempts.map((a: { attempt: number }) => a.attempt)).toEqual([1, 2, 3, 4]);
    expect(dead.attempts[0]).toMatchObject({
      statusCode: 500,
      error: 'HTTP 500',
      responseSnippet: 'receiver broke',
    });

    const deadJobs = await sql(
      t,
      `select data from pgboss.job where name = 'notifications.deliverWebhook.dead'`,
    );
    expect(deadJobs.map((j) => j.data)).toContainEqual({ deliveryId: dead.id });
    const metrics = await t.request({ method: 'GET', url: '/metrics' });
    expect(metrics.body).toMatch(
      /lectern_jobs_dead_lettered_total\{queue="notifications.deliverWebhook"\} [1-9]/,
    );

    const endpointNow = await t.request({
      method: 'GET',
      url: `/api/admin/webhooks/${endpoint.id}`,
      token: admin.token,
    });
    expect(endpointNow.body.data).toMatchObject({ status: 'active', failingSince: expect.any(String) });
  }, 60_000);

  it('succeeds after failures and ends the endpoint’s failure streak', async () => {
    const endpoint = await createEndpoint('/flaky');
    let calls = 0;
    const previous = receiver.respond;
    receiver.respond = (r) =>
      r.url === '/flaky' ? (++calls <= 2 ? { status: 503 } : { status: 204 }) : previous(r);
    try {
      const event = await publish('commerce.payment.succeeded', { paymentId: 901 });
      const done = await waitFor(async () => {
        const d = await deliveryOf(endpoint.id);
        return d?.status === 'succeeded' ? d : undefined;
      }, 30_000);
      expect(done).toMatchObject({
        eventId: event.id,
        attemptCount: 3,
        lastStatusCode: 204,
        lastError: null,
      });
      expect(done.attempts.map((a: { statusCode: number }) => a.statusCode)).toEqual([503, 503, 204]);
      const shown = await t.request({
        method: 'GET',
        url: `/api/admin/webhooks/${endpoint.id}`,
        token: admin.token,
      });
      expect(shown.body.data.failingSince).toBeNull();
    } finally {
      receiver.respond = previous;
    }
  }, 45_000);

  it('does not follow redirects', async () => {
    const endpoint = await createEndpoint('/moved');
    const previous = receiver.respond;
    receiver.respond = (r) =>
      r.url === '/moved'
        ? { status: 302, headers: { location: `${receiver.url}/ok-elsewhere` } }
        : previous(r);
    try {
      await t.request({ method: 'POST', url: `/api/admin/webhooks/${endpoint.id}/test`, token: admin.token });
      const failed = await waitFor(async () => {
        const d = await deliveryOf(endpoint.id);
        return d?.attempts.length ? d : undefined;
      });
      expect(failed.attempts[0]).toMatchObject({
        statusCode: 302,
        error: `Redirect to ${receiver.url}/ok-elsewhere not followed`,
      });
      expect(hits('/ok-elsewhere')).toEqual([]);
    } finally {
      receiver.respond = previous;
    }
  });

  it('redelivers a dead delivery as a new series, and refuses while one is still being retried', async () => {
    const endpoint = await createEndpoint('/later-ok');
    const previous = receiver.respond;
    let healthy = false;
    receiver.respond = (r) => (r.url === '/later-ok' ? { status: healthy ? 200 : 500 } : previous(r));
    try {
      const event = await publish('commerce.payment.succeeded', { paymentId: 902 });
      const retrying = await waitFor(async () => {
        const d = await deliveryOf(endpoint.id);
        return d?.status === 'failed' ? d : undefined;
      });
      expect(retrying.nextAttemptAt).toBeTruthy();
      const url = `/api/admin/webhooks/${endpoint.id}/deliveries/${retrying.id}/redeliver`;
      const busy = await t.request({ method: 'POST', url, token: admin.token });
      expect(busy.status).toBe(409);
      await waitFor(async () => (await deliveryOf(endpoint.id))?.status === 'dead', 45_000);

      healthy = true;
      const before = hits('/later-ok').length;
      const res = await t.request({ method: 'POST', url, token: admin.token });
      expect(res.status).toBe(202);
      expect(res.body.data).toMatchObject({ id: retrying.id, status: 'pending', attemptCount: 4 });
      const done = await waitFor(async () => {
        const d = await deliveryOf(endpoint.id);
        return d?.status === 'succeeded' ? d : undefined;
      });
      expect(done).toMatchObject({ attemptCount: 5, lastStatusCode: 200 });
      expect(
        hits('/later-ok')
          .slice(before)
          .map((r) => r.headers['lectern-event-id']),
      ).toEqual([event.id]);

      // The first series' failed job, retried by an admin later, is superseded: it sends nothing.
      const [oldJob] = await sql(
        t,
        `select id from pgboss.job where name = 'notifications.deliverWebhook' and data->>'deliveryId' = $1 and state = 'failed'`,
        [String(retrying.id)],
      );
      const retried = await t.request({
        method: 'POST',
        url: `/api/admin/jobs/${oldJob!.id}/retry`,
        token: admin.token,
      });
      expect(retried.status).toBe(200);
      await waitFor(async () => {
        const job = await t.request({
          method: 'GET',
          url: `/api/admin/jobs/${oldJob!.id}`,
          token: admin.token,
        });
        return job.body.data.state === 'completed';
      });
      expect(hits('/later-ok').length).toBe(before + 1);
      expect(await deliveryOf(endpoint.id)).toMatchObject({ status: 'succeeded', attemptCount: 5 });
    } finally {
      receiver.respond = previous;
    }
  }, 60_000);

  it('disables an endpoint that has failed for a day and emails every admin', async () => {
    const endpoint = await createEndpoint('/down-for-a-day');
    const first = await publish('commerce.payment.succeeded', { paymentId: 903 });
    await waitFor(async () => (await deliveryOf(endpoint.id))?.attemptCount >= 1);
    // The streak began 25 hours ago.
    await sql(
      t,
      `update notifications.webhook_endpoints set failing_since = now() - interval '25 hours' where id = $1`,
      [endpoint.id],
    );

    const dead = await waitFor(async () => {
      const d = await deliveryOf(endpoint.id);
      return d?.eventId === first.id && d.status === 'dead' ? d : undefined;
    }, 30_000);
    expect(dead.attemptCount).toBeLessThanOrEqual(4);
    const shown = await t.request({
      method: 'GET',
      url: `/api/admin/webhooks/${endpoint.id}`,
      token: admin.token,
    });
    expect(shown.body.data).toMatchObject({
      status: 'disabled',
      disabledAt: expect.any(String),
      disabledReason: expect.stringMatching(/^Every delivery failed for 24 hours \(last: HTTP 500\)/),
    });

    for (const who of [admin, secondAdmin]) {
      const mail = await waitFor(async () => {
        const res = await t.request({
          method: 'GET',
          url: `/api/dev/mailbox?to=${encodeURIComponent(who.email)}`,
        });
        return res.body.data.items.find((m: { subject: string }) =>
          m.subject.startsWith('Webhook endpoint disabled'),
        );
      });
      expect(mail.subject).toBe(`Webhook endpoint disabled: ${new URL(receiver.url).host}`);
      expect(mail.text).toContain(`${receiver.url}/down-for-a-day`);
      expect(mail.text).toContain('Last error: HTTP 500');
      expect(mail.text).toContain(`PATCH /api/admin/webhooks/${endpoint.id}`);
    }

    // Disabled: new events are not delivered, and the admins were told once.
    const before = hits('/down-for-a-day').length;
    const later = await publish('commerce.payment.succeeded', { paymentId: 904 });
    const other = await createEndpoint('/ok-witness');
    const witness = await publish('commerce.payment.succeeded', { paymentId: 905 });
    await waitFor(async () => hits('/ok-witness').some((r) => r.headers['lectern-event-id'] === witness.id));
    expect(
      hits('/down-for-a-day')
        .slice(before)
        .map((r) => r.headers['lectern-event-id']),
    ).not.toContain(later.id);
    // ...but they are logged, so what the endpoint missed can be sent once it works again.
    const log = await t.request({
      method: 'GET',
      url: `/api/admin/webhooks/${endpoint.id}/deliveries`,
      token: admin.token,
    });
    const missed = log.body.data.items.find((d: { eventId: string }) => d.eventId === later.id);
    expect(missed).toMatchObject({
      status: 'dead',
      attemptCount: 0,
      lastError: expect.stringMatching(/^Not sent: the endpoint was disabled/),
    });
    const mails = await t.request({
      method: 'GET',
      url: `/api/dev/mailbox?to=${encodeURIComponent(admin.email)}`,
    });
    expect(
      mails.body.data.items.filter((m: { subject: string }) =>
        m.subject.startsWith('Webhook endpoint disabled'),
      ),
    ).toHaveLength(1);
    expect(other.id).toBeGreaterThan(endpoint.id);
  }, 60_000);

  it('one failure after days of silence starts a new streak instead of disabling the endpoint', async () => {
    const endpoint = await createEndpoint('/rarely-used');
    // Its last streak began three days ago and its last failure was two days ago; nothing since.
    await sql(
      t,
      `update notifications.webhook_endpoints
         set failing_since = now() - interval '3 days', last_failure_at = now() - interval '2 days'
       where id = $1`,
      [endpoint.id],
    );
    await publish('commerce.payment.succeeded', { paymentId: 906 });
    await waitFor(async () => (await deliveryOf(endpoint.id))?.attemptCount >= 1);
    const shown = await t.request({
      method: 'GET',
      url: `/api/admin/webhooks/${endpoint.id}`,
      token: admin.token,
    });
    expect(shown.body.data.status).toBe('active');
    expect(Date.now() - Date.parse(shown.body.data.failingSince)).toBeLessThan(60_000);
  }, 30_000);
});
