import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTestApp, type TestApp } from '../helpers/app.ts';
import { insertCourse } from '../factories/courses.ts';
import { createUserWithRole, PASSWORD, registerStudent } from '../factories/users.ts';

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

  it('a catalog edit succeeds (its cache invalidation is deferred) and every read shows it', async () => {
    const admin = await createUserWithRole(t, 'admin');
    const course = await insertCourse(t, { title: 'Before the outage edit' });
    const title = async () =>
      (await t.request({ method: 'GET', url: `/api/courses/${course.id}` })).body.data.title as string;
    const listed = async () =>
      (await t.request({ method: 'GET', url: '/api/courses?limit=50' })).body.data.items.map(
        (c: { title: string }) => c.title,
      ) as string[];
    expect(await title()).toBe('Before the outage edit');
    expect(await listed()).toContain('Before the outage edit');
    const edit = await t.request({
      method: 'PATCH',
      url: `/api/courses/${course.id}`,
      token: admin.token,
      payload: { title: 'After the outage edit' },
    });
    expect(edit.status).toBe(200);
    expect(await title()).toBe('After the outage edit');
    expect(await listed()).toContain('After the outage edit');
    expect(await listed()).not.toContain('Before the outage edit');
  }, 60_000);

  it('still locks an account after 5 failed logins, counted in this process', async () => {
    const user = await registerStudent(t);
    const login = (password: string) =>
      t.request({ method: 'POST', url: '/api/auth/user/login', payload: { email: user.email, password } });
    const statuses: number[] = [];
    for (let i = 0; i < 5; i++) statuses.push((await login('wrong-password-123')).status);
    expect(statuses).toEqual([401, 401, 401, 401, 401]);
    const locked = await login(PASSWORD);
    expect(locked.status).toBe(429);
    expect(locked.body.error.message).toMatch(/failed attempts/);
    expect(Number(locked.headers['retry-after'])).toBeGreaterThan(0);
  }, 60_000);
});

describe('when Redis is unreachable, the credential rate limit', () => {
  let t: TestApp;
  beforeAll(async () => {
    t = await createTestApp({ REDIS_URL: 'redis://127.0.0.1:1', AUTH_RATE_LIMIT_MAX: '3' });
  });
  afterAll(() => t.close());

  it('still holds, counted in this process', async () => {
    const attempt = () =>
      t.request({
        method: 'POST',
        url: '/api/auth/user/login',
        payload: { email: 'nobody@school.example', password: 'wrong-password-123' },
      });
    const statuses: number[] = [];
    for (let i = 0; i < 5; i++) statuses.push((await attempt()).status);
    expect(statuses.slice(0, 3)).toEqual([401, 401, 401]);
    expect(statuses.slice(3)).toEqual([429, 429]);
  }, 60_000);
});
