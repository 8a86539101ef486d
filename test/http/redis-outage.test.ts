import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTestApp, type TestApp } from '../helpers/app.ts';
import { PASSWORD, registerStudent } from '../factories/users.ts';

// Port 1 on loopback: nothing listens, so every Redis command fails as in an outage.
describe('when Redis is unreachable', () => {
  let t: TestApp;
  beforeAll(async () => {
    t = await createTestApp({ REDIS_URL: 'redis://127.0.0.1:1', AUTH_RATE_LIMIT_MAX: '1000' });
  });
  afterAll(() => t.close());

  it('keeps serving the API (cache and rate limits degrade) and reports not ready', async () => {
    const user = await registerStudent(t);
    const login = await t.request({
      method: 'POST',
      url: '/api/auth/user/login',
      payload: { email: user.email, password: PASSWORD },
    });
    expect(login.status).toBe(200);
    const profile = await t.request({
      method: 'GET',
      url: '/api/auth/user/profile',
      token: login.body.data.token,
    });
    expect(profile.status).toBe(200);
    const ready = await t.request({ method: 'GET', url: '/health/ready' });
    expect(ready.status).toBe(503);
    expect(ready.body.error.details).toContainEqual(expect.objectContaining({ field: 'redis' }));
    expect((await t.request({ method: 'GET', url: '/health/live' })).status).toBe(200);
  }, 60_000);
});
