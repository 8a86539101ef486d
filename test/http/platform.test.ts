import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { z } from 'zod';
import type { ZodTypeProvider } from 'fastify-type-provider-zod';
import { Conflict, PaymentRequired } from '../../src/platform/errors.ts';
import { responses, successBody } from '../../src/platform/http/envelope.ts';
import { createTestApp, type TestApp } from '../helpers/app.ts';
import { createUserWithRole, registerStudent } from '../factories/users.ts';

const isoTimestamp = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d+)?Z$/;

function expectErrorEnvelope(
  res: { status: number; body: any; headers: Record<string, unknown> },
  status: number,
) {
  expect(res.status).toBe(status);
  expect(res.body).toMatchObject({ status: 'error', data: null, error: { errorCode: status } });
  expect(typeof res.body.error.message).toBe('string');
  expect(res.body.timestamp).toMatch(isoTimestamp);
  expect(res.headers['x-request-id']).toBeTruthy();
}

describe('HTTP platform', () => {
  let t: TestApp;
  beforeAll(async () => {
    t = await createTestApp(
      {
        BODY_LIMIT_BYTES: '2048',
        CORS_ORIGINS: 'https://school.example',
        METRICS_TOKEN: 'metrics-token-0123456789',
      },
      {
        // Test-only routes that throw each error class through the real error handler.
        setup: async (app) => {
          await app.register(
            async (api) => {
              const r = api.withTypeProvider<ZodTypeProvider>();
              r.get('/boom', async () => {
                throw new Error('secret internal detail: password=hunter2');
              });
              r.get('/conflict', async () => {
                throw new Conflict('Already there');
              });
              r.get('/declined', async () => {
                throw new PaymentRequired('Payment declined');
              });
              r.get(
                '/admin-only',
                { onRequest: app.guard.authenticate, preHandler: app.guard.requireRole('admin') },
                async () => successBody({ ok: true }),
              );
              r.get(
                '/bad-response',
                { schema: { response: responses({ data: z.object({ n: z.number() }) }) } },
                async () => successBody({ n: 'not a number' }) as never,
              );
              r.post('/echo', { schema: { body: z.object({ text: z.string() }) } }, async (req) =>
                successBody(req.body),
              );
            },
            { prefix: '/api/test' },
          );
        },
      },
    );
  });
  afterAll(() => t.close());

  it('wraps success in the seed 002 envelope', async () => {
    const res = await t.request({ method: 'GET', url: '/health/live' });
    expect(res.status).toBe(200);
    expect(res.body).toMatchObject({ status: 'success', data: { status: 'ok' } });
    expect(res.body.timestamp).toMatch(isoTimestamp);
  });

  it('answers unknown routes with a 404 envelope', async () => {
    const res = await t.request({ method: 'GET', url: '/api/no/such/route' });
    expectErrorEnvelope(res, 404);
  });

  it('answers validation failures with 400 and one detail per bad field', async () => {
    const res = await t.request({
      method: 'POST',
      url: '/api/auth/user/register',
      payload: { email: 'nope', password: 'short' },
    });
    expectErrorEnvelope(res, 400);
    const fields = res.body.error.details.map((d: { field: string }) => d.field).sort();
    expect(fields).toEqual(['body.email', 'body.name', 'body.password']);
    for (const d of res.body.error.details) expect(d.message).toEqual(expect.any(String));
  });

  it('answers malformed JSON with 400', async () => {
    const res = await t.request({
      method: 'POST',
      url: '/api/test/echo',
      headers: { 'content-type': 'application/json' },
      payload: '{"text": ',
    });
    expectErrorEnvelope(res, 400);
  });

  it('answers a missing token with 401 and a bearer challenge', async () => {
    const res = await t.request({ method: 'GET', url: '/api/auth/user/profile' });
    expectErrorEnvelope(res, 401);
    expect(res.headers['www-authenticate']).toBe('Bearer');
  });

  it('answers the wrong role with 403 and the right role with 200', async () => {
    const student = await registerStudent(t);
    expectErrorEnvelope(
      await t.request({ method: 'GET', url: '/api/test/admin-only', token: student.token }),
      403,
    );
    const admin = await createUserWithRole(t, 'admin');
    const ok = await t.request({ method: 'GET', url: '/api/test/admin-only', token: admin.token });
    expect(ok.status).toBe(200);
  });

  it('maps service errors (402, 409) to their statuses', async () => {
    expectErrorEnvelope(await t.request({ method: 'GET', url: '/api/test/declined' }), 402);
    const conflict = await t.request({ method: 'GET', url: '/api/test/conflict' });
    expectErrorEnvelope(conflict, 409);
    expect(conflict.body.error.message).toBe('Already there');
  });

  it('answers oversized bodies with 413', async () => {
    const res = await t.request({
      method: 'POST',
      url: '/api/test/echo',
      payload: { text: 'x'.repeat(5000) },
    });
    expectErrorEnvelope(res, 413);
  });

  it('answers unsupported content types with 415', async () => {
    const res = await t.request({
      method: 'POST',
      url: '/api/test/echo',
      headers: { 'content-type': 'application/xml' },
      payload: '<text>hi</text>',
    });
    expectErrorEnvelope(res, 415);
  });

  it('answers unexpected failures with a 500 that leaks nothing', async () => {
    const res = await t.request({ method: 'GET', url: '/api/test/boom' });
    expectErrorEnvelope(res, 500);
    expect(res.body.error.message).toBe('Server error occurred');
    expect(JSON.stringify(res.body)).not.toContain('hunter2');
  });

  it('refuses to send a response that does not match its schema', async () => {
    const res = await t.request({ method: 'GET', url: '/api/test/bad-response' });
    expectErrorEnvelope(res, 500);
  });

  it('echoes a valid x-request-id and replaces an invalid one', async () => {
    const given = await t.request({
      method: 'GET',
      url: '/health/live',
      headers: { 'x-request-id': 'trace-abc-123' },
    });
    expect(given.headers['x-request-id']).toBe('trace-abc-123');
    const bad = await t.request({
      method: 'GET',
      url: '/health/live',
      headers: { 'x-request-id': 'bad id\twith spaces' },
    });
    expect(bad.headers['x-request-id']).toMatch(/^[0-9a-f-]{36}$/);
    const none = await t.request({ method: 'GET', url: '/health/live' });
    expect(none.headers['x-request-id']).toMatch(/^[0-9a-f-]{36}$/);
  });

  it('sets security headers', async () => {
    const res = await t.request({ method: 'GET', url: '/health/live' });
    expect(res.headers['x-content-type-options']).toBe('nosniff');
    expect(res.headers['strict-transport-security']).toBeDefined();
    expect(res.headers['content-security-policy']).toBeDefined();
  });

  it('allows CORS only for configured origins', async () => {
    const allowed = await t.request({
      method: 'OPTIONS',
      url: '/api/auth/user/login',
      headers: { origin: 'https://school.example', 'access-control-request-method': 'POST' },
    });
    expect(allowed.headers['access-control-allow-origin']).toBe('https://school.example');
    const denied = await t.request({
      method: 'OPTIONS',
      url: '/api/auth/user/login',
      headers: { origin: 'https://evil.example', 'access-control-request-method': 'POST' },
    });
    expect(denied.headers['access-control-allow-origin']).toBeUndefined();
  });

  it('reports readiness of database and job queue', async () => {
    const res = await t.request({ method: 'GET', url: '/health/ready' });
    expect(res.status).toBe(200);
    expect(res.body.data.checks.database.status).toBe('up');
    expect(res.body.data.checks.jobs.status).toBe('up');
    expect(res.body.data.checks.redis.status).toBe(process.env.REDIS_URL ? 'up' : 'disabled');
  });

  it('serves Prometheus metrics behind the configured token, labelled by route template', async () => {
    expectErrorEnvelope(await t.request({ method: 'GET', url: '/metrics' }), 401);
    expectErrorEnvelope(
      await t.request({
        method: 'GET',
        url: '/metrics',
        headers: { authorization: 'Bearer wrong-token-0123456789' },
      }),
      401,
    );
    await t.request({ method: 'GET', url: '/health/live' });
    const res = await t.request({
      method: 'GET',
      url: '/metrics',
      headers: { authorization: 'Bearer metrics-token-0123456789' },
    });
    expect(res.status).toBe(200);
    expect(res.headers['content-type']).toContain('text/plain');
    expect(res.body).toContain('lectern_process_cpu_user_seconds_total');
    expect(res.body).toMatch(
      /lectern_http_request_duration_seconds_count\{method="GET",route="\/health\/live",status_code="200"\} \d+/,
    );
    expect(res.body).toContain('lectern_jobs_processed_total');
  });

  it('serves the OpenAPI 3.1 document and the docs UI', async () => {
    const spec = await t.request({ method: 'GET', url: '/openapi.json' });
    expect(spec.status).toBe(200);
    expect(spec.body.openapi).toBe('3.1.0');
    expect(spec.body.components.securitySchemes.bearerAuth).toMatchObject({ type: 'http', scheme: 'bearer' });
    const login = spec.body.paths['/api/auth/user/login'].post;
    expect(login.operationId).toBe('loginUser');
    expect(login.tags).toEqual(['auth']);
    expect(spec.body.paths['/api/auth/user/profile'].get.security).toEqual([{ bearerAuth: [] }]);
    const docs = await t.app.inject({ method: 'GET', url: '/docs/' });
    expect(docs.statusCode).toBe(200);
    expect(docs.body).toContain('swagger-ui');
  });
});

describe('rate limiting', () => {
  let t: TestApp;
  beforeAll(async () => {
    t = await createTestApp({ AUTH_RATE_LIMIT_MAX: '3', RATE_LIMIT_MAX: '1000' });
  });
  afterAll(() => t.close());

  it('answers 429 with Retry-After once a credential bucket is exhausted', async () => {
    const attempt = () =>
      t.request({
        method: 'POST',
        url: '/api/auth/user/login',
        payload: { email: 'nobody@example.test', password: 'whatever-123' },
      });
    for (let i = 0; i < 3; i++) expect((await attempt()).status).toBe(401);
    const limited = await attempt();
    expectErrorEnvelope(limited, 429);
    expect(Number(limited.headers['retry-after'])).toBeGreaterThan(0);
    // Other routes keep the global budget.
    expect((await t.request({ method: 'GET', url: '/health/live' })).status).toBe(200);
  });

  it('answers 429 once the global budget of a client is spent, counting every API route', async () => {
    const limited = await createTestApp({ RATE_LIMIT_MAX: '5' });
    try {
      const remaining: string[] = [];
      for (const url of ['/api/courses', '/api/categories', '/api/courses', '/api/tags', '/api/courses']) {
        const res = await limited.request({ method: 'GET', url });
        expect(res.status, url).toBe(200);
        remaining.push(String(res.headers['x-ratelimit-remaining']));
      }
      expect(remaining).toEqual(['4', '3', '2', '1', '0']);
      const refused = await limited.request({ method: 'GET', url: '/api/courses' });
      expectErrorEnvelope(refused, 429);
      expect(Number(refused.headers['retry-after'])).toBeGreaterThan(0);
      // Probes are never throttled.
      expect((await limited.request({ method: 'GET', url: '/health/live' })).status).toBe(200);
    } finally {
      await limited.close();
    }
  });
});
