import { randomBytes } from 'node:crypto';
import type { FastifyRateLimitStore } from '@fastify/rate-limit';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createRedis, type Redis, waitForRedis } from '../redis.ts';
import { batchedRedisStore } from './rate-limit-store.ts';

const HOUR = 3600_000;

/** One increment through the plugin's calling convention: (key, callback, timeWindow, max). */
function incr(store: FastifyRateLimitStore, key: string, timeWindow = HOUR, max = 100) {
  return new Promise<{ current: number; ttl: number }>((resolve, reject) =>
    (store.incr as (...args: unknown[]) => void)(
      key,
      (err: Error | null, res: { current: number; ttl: number }) => (err ? reject(err) : resolve(res)),
      timeWindow,
      max,
    ),
  );
}

async function until(check: () => Promise<boolean>) {
  const deadline = Date.now() + 5000;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error('timed out');
    await new Promise((r) => setTimeout(r, 10));
  }
}

describe.skipIf(!process.env.REDIS_URL)('batched rate-limit store on Redis', () => {
  const prefix = `lectern-test:${randomBytes(6).toString('hex')}:rl:`;
  let redis: Redis;
  const windowKey = (key: string) => `${prefix}all:${key}:${Math.floor(Date.now() / HOUR)}`;

  beforeAll(async () => {
    redis = createRedis(process.env.REDIS_URL as string);
    await waitForRedis(redis);
  });
  afterAll(async () => {
    const keys = await redis.keys(`${prefix}*`);
    if (keys.length) await redis.unlink(...keys);
    await redis.quit();
  });

  const store = (flushMs = 10) => {
    const Store = batchedRedisStore({ redis, nameSpace: prefix, flushMs });
    return new Store();
  };

  it('counts at once in memory and adds the counts to Redis in one flush', async () => {
    const s = store();
    const answers = [];
    for (let i = 0; i < 5; i++) answers.push(await incr(s, 'ip-a'));
    expect(answers.map((a) => a.current)).toEqual([1, 2, 3, 4, 5]);
    for (const a of answers) {
      expect(a.ttl).toBeGreaterThan(0);
      expect(a.ttl).toBeLessThanOrEqual(HOUR);
    }
    await until(async () => (await redis.get(windowKey('ip-a'))) === '5');
    const pttl = await redis.pttl(windowKey('ip-a'));
    expect(pttl).toBeGreaterThan(0);
    expect(pttl).toBeLessThanOrEqual(HOUR + 1000);
    expect((await incr(s, 'ip-a')).current).toBe(6);
    expect((await incr(s, 'ip-b')).current).toBe(1);
  });

  it('shares one count between processes once each has flushed', async () => {
    const [first, second] = [store(), store()];
    for (let i = 0; i < 3; i++) await incr(first, 'ip-shared');
    await until(async () => (await redis.get(windowKey('ip-shared'))) === '3');
    for (let i = 0; i < 4; i++) await incr(second, 'ip-shared');
    await until(async () => (await redis.get(windowKey('ip-shared'))) === '7');
    // The second store learnt the first one's 3 when it flushed; the first learns the 4 on its next flush.
    expect((await incr(second, 'ip-shared')).current).toBe(8);
    await incr(first, 'ip-shared');
    await until(async () => (await redis.get(windowKey('ip-shared'))) === '9');
    expect((await incr(first, 'ip-shared')).current).toBe(10);
  });

  it('keeps counting per process while Redis is unreachable', async () => {
    const down = createRedis('redis://127.0.0.1:1');
    down.on('error', () => {});
    try {
      const Store = batchedRedisStore({ redis: down, nameSpace: prefix, flushMs: 5 });
      const s = new Store();
      for (let i = 1; i <= 4; i++) expect((await incr(s, 'ip-offline')).current).toBe(i);
      await new Promise((r) => setTimeout(r, 50)); // several failed flushes
      expect((await incr(s, 'ip-offline')).current).toBe(5);
    } finally {
      down.disconnect();
    }
  });

  it('sends counts a failed flush kept with the next flush, and does not poll Redis in between', async () => {
    let pipelines = 0;
    const flaky = new Proxy(redis, {
      get(target, prop) {
        if (prop === 'pipeline' && ++pipelines === 1) {
          const failing = {
            incrby: () => failing,
            pexpire: () => failing,
            exec: async () => {
              throw new Error('Connection is closed.');
            },
          };
          return () => failing;
        }
        const value = Reflect.get(target, prop) as unknown;
        return typeof value === 'function' ? (value as (...a: unknown[]) => unknown).bind(target) : value;
      },
    });
    const Store = batchedRedisStore({ redis: flaky, nameSpace: prefix, flushMs: 5 });
    const s = new Store();
    for (let i = 0; i < 3; i++) await incr(s, 'ip-flaky');
    await new Promise((r) => setTimeout(r, 60));
    expect(pipelines).toBe(1);
    expect(await redis.get(windowKey('ip-flaky'))).toBeNull();
    expect((await incr(s, 'ip-flaky')).current).toBe(4);
    await until(async () => (await redis.get(windowKey('ip-flaky'))) === '4');
    expect(pipelines).toBe(2);
  });

  it('gives routes with their own bucket the exact per-request Redis store', async () => {
    const s = store();
    const child = s.child({
      routeInfo: { method: 'POST', url: '/api/auth/user/login' },
    } as unknown as Parameters<FastifyRateLimitStore['child']>[0]);
    expect((await incr(child, 'credentials:1.2.3.4', 60_000, 3)).current).toBe(1);
    expect((await incr(child, 'credentials:1.2.3.4', 60_000, 3)).current).toBe(2);
    // Counted in Redis before the answer, with no flush in between.
    expect(await redis.get(`${prefix}POST/api/auth/user/login-credentials:1.2.3.4`)).toBe('2');
  });
});
