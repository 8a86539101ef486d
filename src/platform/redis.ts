import { Redis } from 'ioredis';

export type { Redis };

/** One shared connection per process; commands fail fast instead of queueing forever while Redis is down. */
export function createRedis(url: string): Redis {
  return new Redis(url, {
    lazyConnect: false,
    maxRetriesPerRequest: 2,
    enableOfflineQueue: true,
    connectTimeout: 5000,
    retryStrategy: (times) => Math.min(times * 200, 2000),
  });
}
