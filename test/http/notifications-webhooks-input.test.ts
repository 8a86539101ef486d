import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTestApp, type TestApp } from '../helpers/app.ts';
import { createUserWithRole } from '../factories/users.ts';

type Caller = { userId: number; token: string; email: string };

const sql = async (t: TestApp, text: string, values: unknown[] = []) =>
  (await t.app.platform.database.executor.executeSql(text, values)).rows;
const endpointCount = async (t: TestApp) =>
  (await sql(t, 'select count(*)::int as n from notifications.webhook_endpoints'))[0]!.n as number;

describe('outbound webhooks: authorization and bad input', () => {
  let t: TestApp;
  let admin: Caller;
  let instructor: Caller;
  let student: Caller;
  // Nothing is delivered here: no event these endpoints subscribe to is published.
  const receiver = { url: 'http://127.0.0.1:9' };

  beforeAll(async () => {
    t = await createTestApp({
      AUTH_RATE_LIMIT_MAX: '1000',
      RATE_LIMIT_MAX: '100000',
      WEBHOOKS_ALLOW_PRIVATE_TARGETS: 'true',
    });
    admin = await createUserWithRole(t, 'admin');
    instructor = await createUserWithRole(t, 'instructor');
    student = await createUserWithRole(t, 'student');
  });
  afterAll(() => t.close());

  const create = (payload: Record<string, unknown>, token = admin.token) =>
    t.request({ method: 'POST', url: '/api/admin/webhooks', token, payload });
  const deliveries = async (id: number) =>
    (await t.request({ method: 'GET', url: `/api/admin/webhooks/${id}/deliveries`, token: admin.token })).body
      .data.items as unknown[];

  it('answers 401 without a token and 403 to students and instructors, changing nothing', async () => {
    const { body } = await create({ url: `${receiver.url}/authz`, events: ['catalog.course.published'] });
    const id = body.data.id as number;
    const before = await endpointCount(t);
    const routes = [
      { method: 'GET' as const, url: '/api/admin/webhooks' },
      { method: 'GET' as const, url: '/api/admin/webhooks/events' },
      {
        method: 'POST' as const,
        url: '/api/admin/webhooks',
        payload: { url: receiver.url, events: ['catalog.course.published'] },
      },
      { method: 'GET' as const, url: `/api/admin/webhooks/${id}` },
      { method: 'PATCH' as const, url: `/api/admin/webhooks/${id}`, payload: { description: 'x' } },
      { method: 'DELETE' as const, url: `/api/admin/webhooks/${id}` },
      { method: 'POST' as const, url: `/api/admin/webhooks/${id}/rotate-secret` },
      { method: 'POST' as const, url: `/api/admin/webhooks/${id}/test` },
      { method: 'GET' as const, url: `/api/admin/webhooks/${id}/deliveries` },
      { method: 'POST' as const, url: `/api/admin/webhooks/${id}/deliveries/1/redeliver` },
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
    expect(await endpointCount(t)).toBe(before);
    const after = await t.request({ method: 'GET', url: `/api/admin/webhooks/${id}`, token: admin.token });
    expect(after.body.data).toMatchObject({ description: null, status: 'active' });
    expect(await deliveries(id)).toEqual([]);
  });

  it('rejects bad bodies with per-field details and creates nothing', async () => {
    const before = await endpointCount(t);
    const cases: Array<[Record<string, unknown>, string, RegExp?]> = [
      [
        { url: receiver.url, events: ['enrollment.enrollment.created', 'nope.thing.happened'] },
        'body.events.1',
        /supported: enrollment\.enrollment\.created, .*catalog\.course\.published/,
      ],
      [{ url: receiver.url, events: [] }, 'body.events'],
      [
        { url: receiver.url, events: ['commerce.payment.failed', 'commerce.payment.failed'] },
        'body.events',
        /repeat/,
      ],
      [{ url: receiver.url, events: 'commerce.payment.failed' }, 'body.events'],
      [{ events: ['commerce.payment.failed'] }, 'body.url'],
      [{ url: '', events: ['commerce.payment.failed'] }, 'body.url'],
      [{ url: `${receiver.url}/${'a'.repeat(2050)}`, events: ['commerce.payment.failed'] }, 'body.url'],
      [{ url: 'ftp://127.0.0.1/x', events: ['commerce.payment.failed'] }, 'body.url', /http or https/],
      [{ url: 'http://u:p@127.0.0.1/x', events: ['commerce.payment.failed'] }, 'body.url', /credentials/],
      [{ url: 'not a url', events: ['commerce.payment.failed'] }, 'body.url'],
      [
        { url: receiver.url, events: ['commerce.payment.failed'], description: 'd'.repeat(301) },
        'body.description',
      ],
      [{ url: receiver.url, events: ['commerce.payment.failed'], secret: 'mine' }, 'body'],
    ];
    for (const [payload, field, message] of cases) {
      const res = await create(payload);
      expect(res.status, JSON.stringify(payload).slice(0, 80)).toBe(400);
      expect(res.body).toMatchObject({ status: 'error', data: null, error: { errorCode: 400 } });
      const detail = res.body.error.details.find((d: { field: string }) => d.field.startsWith(field));
      expect(detail, `${field} in ${JSON.stringify(res.body.error.details)}`).toBeTruthy();
      if (message) expect(detail.message).toMatch(message);
    }
    const notJson = await t.request({
      method: 'POST',
      url: '/api/admin/webhooks',
      token: admin.token,
      headers: { 'content-type': 'application/json' },
      payload: '{"url":',
    });
    expect(notJson.status).toBe(400);
    expect(await endpointCount(t)).toBe(before);
  });

  it('rejects bad ids, queries and patches, and answers 404 for unknown ones', async () => {
    const { body } = await create({ url: `${receiver.url}/bad`, events: ['commerce.order.refunded'] });
    const id = body.data.id as number;
    const bad = [
      { method: 'GET' as const, url: '/api/admin/webhooks/abc' },
      { method: 'GET' as const, url: '/api/admin/webhooks/0' },
      { method: 'PATCH' as const, url: '/api/admin/webhooks/-1', payload: { description: 'x' } },
      { method: 'DELETE' as const, url: '/api/admin/webhooks/1.5' },
      { method: 'POST' as const, url: '/api/admin/webhooks/99999999999/test' },
      { method: 'GET' as const, url: '/api/admin/webhooks?limit=0' },
      { method: 'GET' as const, url: '/api/admin/webhooks?limit=101' },
      { method: 'GET' as const, url: '/api/admin/webhooks?cursor=zzzz' },
      { method: 'GET' as const, url: '/api/admin/webhooks?sort=url' },
      { method: 'GET' as const, url: `/api/admin/webhooks/${id}/deliveries?status=lost` },
      {
        method: 'GET' as const,
        url: `/api/admin/webhooks/${id}/deliveries?cursor=${Buffer.from('0').toString('base64url')}`,
      },
      { method: 'POST' as const, url: `/api/admin/webhooks/${id}/deliveries/x/redeliver` },
      { method: 'PATCH' as const, url: `/api/admin/webhooks/${id}`, payload: {} },
      {
        method: 'PATCH' as const,
        url: `/api/admin/webhooks/${id}`,
        payload: { events: ['identity.user.deleted'] },
      },
      { method: 'PATCH' as const, url: `/api/admin/webhooks/${id}`, payload: { status: 'paused' } },
      {
        method: 'PATCH' as const,
        url: `/api/admin/webhooks/${id}`,
        payload: { url: 'gopher://127.0.0.1/' },
      },
    ];
    for (const route of bad) {
      const res = await t.request({ ...route, token: admin.token });
      expect(res.status, `${route.method} ${route.url}`).toBe(400);
      expect(res.body.error.details?.length, `${route.method} ${route.url}`).toBeGreaterThan(0);
    }
    const unchanged = await t.request({
      method: 'GET',
      url: `/api/admin/webhooks/${id}`,
      token: admin.token,
    });
    expect(unchanged.body.data).toMatchObject({
      url: `${receiver.url}/bad`,
      events: ['commerce.order.refunded'],
      status: 'active',
    });

    for (const route of [
      { method: 'GET' as const, url: '/api/admin/webhooks/987654' },
      { method: 'PATCH' as const, url: '/api/admin/webhooks/987654', payload: { description: 'x' } },
      { method: 'DELETE' as const, url: '/api/admin/webhooks/987654' },
      { method: 'POST' as const, url: '/api/admin/webhooks/987654/rotate-secret' },
      { method: 'POST' as const, url: '/api/admin/webhooks/987654/test' },
      { method: 'GET' as const, url: '/api/admin/webhooks/987654/deliveries' },
      { method: 'POST' as const, url: `/api/admin/webhooks/${id}/deliveries/987654/redeliver` },
    ]) {
      const res = await t.request({ ...route, token: admin.token });
      expect(res.status, `${route.method} ${route.url}`).toBe(404);
      expect(res.body.error.errorCode).toBe(404);
    }
  });
});
