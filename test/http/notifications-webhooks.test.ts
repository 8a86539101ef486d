import { createHmac, timingSafeEqual } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startReceiver } from '../helpers/http-receiver.ts';
import { PURGE_WEBHOOK_DELIVERIES_JOB } from '../../src/modules/notifications/notifications.webhooks.feature.ts';
import { createTestApp, jobDone, type TestApp, waitFor } from '../helpers/app.ts';
import { createUserWithRole } from '../factories/users.ts';

type Caller = { userId: number; token: string; email: string };

/** The receiver's own check, written from docs/webhooks.md: any `v1` matching HMAC-SHA256("<t>.<body>"). */
function signatureValid(header: string, body: string, secret: string, toleranceSeconds = 300) {
  const parts = header.split(',').map((p) => p.split('=') as [string, string]);
  const t = Number(parts.find(([k]) => k === 't')?.[1]);
  if (!Number.isInteger(t) || Math.abs(Date.now() / 1000 - t) > toleranceSeconds) return false;
  const expected = Buffer.from(createHmac('sha256', secret).update(`${t}.${body}`).digest('hex'));
  return parts
    .filter(([k]) => k === 'v1')
    .some(([, v]) => v.length === expected.length && timingSafeEqual(Buffer.from(v), expected));
}
const v1Count = (header: string) => header.split(',').filter((p) => p.startsWith('v1=')).length;

const sql = async (t: TestApp, text: string, values: unknown[] = []) =>
  (await t.app.platform.database.executor.executeSql(text, values)).rows;

async function publish(t: TestApp, name: string, payload: Record<string, unknown>) {
  return t.app.platform.db.transaction((tx) => t.app.platform.events.publish(tx, name, payload));
}

describe('outbound webhooks', () => {
  let t: TestApp;
  let admin: Caller;
  let instructor: Caller;
  let student: Caller;
  let receiver: Awaited<ReturnType<typeof startReceiver>>;

  beforeAll(async () => {
    t = await createTestApp({
      AUTH_RATE_LIMIT_MAX: '1000',
      RATE_LIMIT_MAX: '100000',
      WEBHOOKS_ALLOW_PRIVATE_TARGETS: 'true',
      WEBHOOKS_RETRY_DELAY_SECONDS: '1',
      WEBHOOKS_RETRY_LIMIT: '2',
    });
    admin = await createUserWithRole(t, 'admin');
    instructor = await createUserWithRole(t, 'instructor');
    student = await createUserWithRole(t, 'student');
    receiver = await startReceiver();
  });
  afterAll(async () => {
    await receiver.close();
    await t.close();
  });

  const create = (payload: Record<string, unknown>, token = admin.token) =>
    t.request({ method: 'POST', url: '/api/admin/webhooks', token, payload });
  const deliveries = async (id: number, query = '') =>
    (
      await t.request({
        method: 'GET',
        url: `/api/admin/webhooks/${id}/deliveries${query}`,
        token: admin.token,
      })
    ).body.data.items as Array<Record<string, any>>;
  /** Requests for one event, optionally to one path (several endpoints may subscribe to it). */
  const received = (eventId: string, path?: string) =>
    receiver.received.filter(
      (r) => r.headers['lectern-event-id'] === eventId && (path === undefined || r.url === path),
    );

  describe('endpoints', () => {
    it('shows the secret once, stores it sealed, lists and pages endpoints', async () => {
      const res = await create({
        url: `${receiver.url}/crud`,
        events: ['identity.user.registered'],
        description: 'CRM sync',
      });
      expect(res.status).toBe(201);
      const created = res.body.data;
      expect(created.secret).toMatch(/^whsec_[A-Za-z0-9_-]{43}$/);
      expect(created).toMatchObject({
        url: `${receiver.url}/crud`,
        events: ['identity.user.registered'],
        description: 'CRM sync',
        status: 'active',
        createdBy: admin.userId,
        previousSecretExpiresAt: null,
      });
      const [row] = await sql(t, 'select secret_sealed from notifications.webhook_endpoints where id = $1', [
        created.id,
      ]);
      expect(row!.secret_sealed).not.toContain(created.secret.slice(6));
      expect(t.app.platform.sealer.open(row!.secret_sealed)).toBe(created.secret);

      const got = await t.request({
        method: 'GET',
        url: `/api/admin/webhooks/${created.id}`,
        token: admin.token,
      });
      expect(got.body.data.secret).toBeUndefined();
      expect(JSON.stringify(got.body)).not.toContain(created.secret);

      await create({ url: `${receiver.url}/crud2`, events: ['identity.user.registered'] });
      const first = await t.request({
        method: 'GET',
        url: '/api/admin/webhooks?limit=1',
        token: admin.token,
      });
      expect(first.body.data.items).toHaveLength(1);
      expect(first.body.data.pageInfo.hasMore).toBe(true);
      const second = await t.request({
        method: 'GET',
        url: `/api/admin/webhooks?limit=1&cursor=${first.body.data.pageInfo.nextCursor}`,
        token: admin.token,
      });
      expect(second.body.data.items[0].id).toBeLessThan(first.body.data.items[0].id);
      expect(JSON.stringify(first.body) + JSON.stringify(second.body)).not.toContain('whsec_');

      const events = await t.request({
        method: 'GET',
        url: '/api/admin/webhooks/events',
        token: admin.token,
      });
      expect(events.body.data.events).toEqual(
        expect.arrayContaining([
          'enrollment.enrollment.created',
          'enrollment.enrollment.revoked',
          'commerce.payment.succeeded',
          'commerce.payment.failed',
          'commerce.order.refunded',
          'identity.user.registered',
          'catalog.course.published',
        ]),
      );
    });

    it('updates, disables, re-enables and deletes an endpoint', async () => {
      const { body } = await create({ url: `${receiver.url}/patch`, events: ['commerce.payment.failed'] });
      const id = body.data.id as number;
      const patch = (payload: Record<string, unknown>) =>
        t.request({ method: 'PATCH', url: `/api/admin/webhooks/${id}`, token: admin.token, payload });

      const changed = await patch({
        events: ['commerce.payment.failed', 'commerce.payment.succeeded'],
        description: 'Payments',
      });
      expect(changed.status).toBe(200);
      expect(changed.body.data).toMatchObject({
        events: ['commerce.payment.failed', 'commerce.payment.succeeded'],
        description: 'Payments',
      });

      const disabled = await patch({ status: 'disabled' });
      expect(disabled.body.data).toMatchObject({
        status: 'disabled',
        disabledReason: 'Disabled by an administrator',
      });
      const event = await publish(t, 'commerce.payment.succeeded', {
        paymentId: 1,
        orderId: 1,
        userId: 1,
        courseId: 1,
        amountMinor: 4999,
        currency: 'USD',
        method: 'card',
      });
      // A later event to an active endpoint proves the fan-out ran past the disabled one.
      const { body: other } = await create({
        url: `${receiver.url}/other`,
        events: ['commerce.payment.succeeded'],
      });
      const later = await publish(t, 'commerce.payment.succeeded', { paymentId: 2 });
      await waitFor(async () => received(later.id).length > 0);
      // Nothing is sent to a disabled endpoint, but what it misses is logged for redelivery.
      expect(received(event.id).filter((r) => r.url === '/patch')).toEqual([]);
      const missed = await deliveries(id);
      expect(missed.map((d) => d.eventId)).toEqual([later.id, event.id]);
      for (const d of missed) expect(d).toMatchObject({ status: 'dead', attemptCount: 0, attempts: [] });
      // Disabled for over a week: presumably retired, so its log stops growing.
      await t.app.platform.database.executor.executeSql(
        `update notifications.webhook_endpoints set disabled_at = now() - interval '8 days' where id = $1`,
        [id],
      );
      const muchLater = await publish(t, 'commerce.payment.succeeded', { paymentId: 3 });
      await waitFor(async () => received(muchLater.id).length > 0);
      expect((await deliveries(id)).map((d) => d.eventId)).toEqual([later.id, event.id]);

      const enabled = await patch({ status: 'active', description: null });
      expect(enabled.body.data).toMatchObject({
        status: 'active',
        disabledAt: null,
        disabledReason: null,
        failingSince: null,
        description: null,
      });
      const redelivered = await t.request({
        method: 'POST',
        url: `/api/admin/webhooks/${id}/deliveries/${missed[1]!.id}/redeliver`,
        token: admin.token,
      });
      expect(redelivered.status).toBe(202);
      await waitFor(async () => received(event.id).some((r) => r.url === '/patch'));

      const removed = await t.request({
        method: 'DELETE',
        url: `/api/admin/webhooks/${id}`,
        token: admin.token,
      });
      expect(removed.body.data).toEqual({ id, deleted: true });
      expect(
        (await t.request({ method: 'GET', url: `/api/admin/webhooks/${id}`, token: admin.token })).status,
      ).toBe(404);
      await t.request({ method: 'DELETE', url: `/api/admin/webhooks/${other.data.id}`, token: admin.token });
    });
  });

  describe('deliveries', () => {
    it('delivers a real enrollment event, signed, to subscribed endpoints only', async () => {
      const { body } = await create({
        url: `${receiver.url}/enrollments`,
        events: ['enrollment.enrollment.created'],
      });
      const endpoint = body.data;
      const { body: unrelated } = await create({
        url: `${receiver.url}/unrelated`,
        events: ['commerce.order.refunded'],
      });
      const payload = {
        enrollmentId: 41,
        userId: student.userId,
        courseId: 7,
        source: 'payment',
        paymentId: 12,
      };
      const event = await publish(t, 'enrollment.enrollment.created', payload);

      const [request] = await waitFor(async () =>
        received(event.id).length ? received(event.id) : undefined,
      );
      expect(request!.url).toBe('/enrollments');
      expect(request!.headers).toMatchObject({
        'content-type': 'application/json',
        'user-agent': 'Lectern-Webhooks/1',
        'lectern-event-id': event.id,
        'lectern-event-type': 'enrollment.enrollment.created',
      });
      const signature = request!.headers['lectern-signature'] as string;
      expect(signature).toMatch(/^t=\d{10},v1=[0-9a-f]{64}$/);
      expect(signatureValid(signature, request!.body, endpoint.secret)).toBe(true);
      expect(signatureValid(signature, request!.body.replace('41', '42'), endpoint.secret)).toBe(false);
      expect(signatureValid(signature, request!.body, `${endpoint.secret}x`)).toBe(false);
      expect(JSON.parse(request!.body)).toEqual({
        id: event.id,
        type: 'enrollment.enrollment.created',
        createdAt: event.occurredAt,
        data: payload,
      });

      const [delivery] = await waitFor(async () => {
        const list = await deliveries(endpoint.id);
        return list[0]?.status === 'succeeded' ? list : undefined;
      });
      expect(delivery).toMatchObject({
        eventId: event.id,
        eventType: 'enrollment.enrollment.created',
        status: 'succeeded',
        attemptCount: 1,
        lastStatusCode: 200,
        lastError: null,
        nextAttemptAt: null,
      });
      expect(delivery!.attempts).toEqual([
        expect.objectContaining({ attempt: 1, statusCode: 200, error: null, responseSnippet: 'ok' }),
      ]);
      expect(delivery!.deliveredAt).toBeTruthy();
      expect(await deliveries(unrelated.data.id)).toEqual([]);
      expect(receiver.received.filter((r) => r.url === '/unrelated')).toEqual([]);
      expect(await deliveries(endpoint.id, '?status=dead')).toEqual([]);
    });

    it('sends a signed ping on request', async () => {
      const { body } = await create({ url: `${receiver.url}/ping`, events: ['catalog.course.published'] });
      const res = await t.request({
        method: 'POST',
        url: `/api/admin/webhooks/${body.data.id}/test`,
        token: admin.token,
      });
      expect(res.status).toBe(202);
      expect(res.body.data).toMatchObject({ eventType: 'webhook.ping', status: 'pending', attemptCount: 0 });
      const [ping] = await waitFor(async () =>
        received(res.body.data.eventId).length ? received(res.body.data.eventId) : undefined,
      );
      expect(JSON.parse(ping!.body)).toMatchObject({
        type: 'webhook.ping',
        data: { endpointId: body.data.id },
      });
      expect(signatureValid(ping!.headers['lectern-signature'] as string, ping!.body, body.data.secret)).toBe(
        true,
      );
    });

    it('signs with both secrets for 24 hours after a rotation, then with the new one only', async () => {
      const { body } = await create({ url: `${receiver.url}/rotate`, events: ['catalog.course.published'] });
      const id = body.data.id as number;
      const oldSecret = body.data.secret as string;
      const rotated = await t.request({
        method: 'POST',
        url: `/api/admin/webhooks/${id}/rotate-secret`,
        token: admin.token,
      });
      expect(rotated.status).toBe(200);
      const newSecret = rotated.body.data.secret as string;
      expect(newSecret).toMatch(/^whsec_/);
      expect(newSecret).not.toBe(oldSecret);
      const expires = Date.parse(rotated.body.data.previousSecretExpiresAt);
      expect(Math.abs(expires - Date.now() - 24 * 3600_000)).toBeLessThan(60_000);

      const course = { courseId: 3, ownerId: instructor.userId, title: 'Rust', slug: 'rust' };
      const during = await publish(t, 'catalog.course.published', course);
      const [first] = await waitFor(async () =>
        received(during.id, '/rotate').length ? received(during.id, '/rotate') : undefined,
      );
      const header = first!.headers['lectern-signature'] as string;
      expect(v1Count(header)).toBe(2);
      const [, newSig, oldSig] = header.split(',');
      const t0 = header.split(',')[0]!;
      expect(signatureValid(`${t0},${newSig}`, first!.body, newSecret)).toBe(true);
      expect(signatureValid(`${t0},${oldSig}`, first!.body, oldSecret)).toBe(true);
      expect(signatureValid(`${t0},${newSig}`, first!.body, oldSecret)).toBe(false);

      // 24 hours later: the previous secret has expired.
      await sql(
        t,
        `update notifications.webhook_endpoints set previous_secret_expires_at = now() - interval '1 second' where id = $1`,
        [id],
      );
      const after = await publish(t, 'catalog.course.published', course);
      const [second] = await waitFor(async () =>
        received(after.id, '/rotate').length ? received(after.id, '/rotate') : undefined,
      );
      const later = second!.headers['lectern-signature'] as string;
      expect(v1Count(later)).toBe(1);
      expect(signatureValid(later, second!.body, newSecret)).toBe(true);
      expect(signatureValid(later, second!.body, oldSecret)).toBe(false);
      const shown = await t.request({ method: 'GET', url: `/api/admin/webhooks/${id}`, token: admin.token });
      expect(shown.body.data.previousSecretExpiresAt).toBeNull();
    });

    it('the daily purge deletes finished deliveries idle for WEBHOOKS_RETENTION_DAYS, never live ones', async () => {
      const { body } = await create({ url: `${receiver.url}/purge`, events: ['commerce.payment.failed'] });
      const endpointId = body.data.id as number;
      const day = 86_400_000;
      const ago = (days: number) => new Date(Date.now() - days * day).toISOString();
      /** A delivery row as the log keeps it, with one attempt at `attemptAt`. */
      const delivery = async (
        status: string,
        createdAt: string,
        deliveredAt: string | null,
        attemptAt: string,
      ) => {
        const [row] = await sql(
          t,
          `insert into notifications.webhook_deliveries
             (endpoint_id, event_id, event_name, payload, status, attempts, created_at, delivered_at)
           values ($1, gen_random_uuid(), 'commerce.payment.failed', '{}', $2, 1, $3, $4) returning id`,
          [endpointId, status, createdAt, deliveredAt],
        );
        await sql(
          t,
          `insert into notifications.webhook_attempts (delivery_id, attempt, status_code, duration_ms, created_at)
           values ($1, 1, 500, 12, $2)`,
          [row!.id, attemptAt],
        );
        return row!.id as number;
      };
      const oldSucceeded = await delivery('succeeded', ago(40), ago(40), ago(40));
      const oldDead = await delivery('dead', ago(40), null, ago(39));
      const redeliveredLately = await delivery('dead', ago(40), null, ago(2));
      const deliveredLately = await delivery('succeeded', ago(40), ago(1), ago(1));
      const stillRetrying = await delivery('failed', ago(40), null, ago(40));
      const recent = await delivery('succeeded', ago(3), ago(3), ago(3));

      await jobDone(t, await t.app.platform.jobs.send(PURGE_WEBHOOK_DELIVERIES_JOB, {}));

      const left = (await deliveries(endpointId, '?limit=100')).map((d) => d.id);
      expect(left.sort()).toEqual([redeliveredLately, deliveredLately, stillRetrying, recent].sort());
      const attempts = await sql(
        t,
        'select count(*)::int as n from notifications.webhook_attempts where delivery_id = any($1)',
        [[oldSucceeded, oldDead]],
      );
      expect(attempts).toEqual([{ n: 0 }]);
    });
  });
});
