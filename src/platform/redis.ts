import { Redis } from 'ioredis';

export type { Redis };

/**
 * One shared connection per process. While Redis is unreachable commands fail at once (no offline
 * queue) so callers degrade immediately instead of stalling every request; it reconnects on its own.
 */
export function createRedis(url: string): Redis {
  return new Redis(url, {
    lazyConnect: false,
    maxRetriesPerRequest: 1,
    enableOfflineQueue: false,
    connectTimeout: 5000,
    retryStrategy: (times) => Math.min(times * 200, 2000),
  });
}

/**
 * Waits until the connection is ready, or `timeoutMs` passes (then the process starts degraded:
 * cache and rate limits fall back while Redis is away, and readiness reports it down).
 */
export function waitForRedis(redis: Redis, timeoutMs = 5000): Promise<boolean> {
  if (redis.status === 'ready') return Promise.resolve(true);
  return new Promise((resolve) => {
    const timer = setTimeout(() => {
      redis.off('ready', onReady);
      resolve(false);
    }, timeoutMs);
    timer.unref();
    const onReady = () => {
      clearTimeout(timer);
      resolve(true);
    };
    redis.once('ready', onReady);
  });
}
