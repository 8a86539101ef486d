import rateLimit from '@fastify/rate-limit';
import type { FastifyInstance } from 'fastify';
import type { Config } from '../config.ts';
import type { Redis } from '../redis.ts';
import { batchedRedisStore } from './rate-limit-store.ts';

/**
 * Global default plus named, stricter buckets. A route opts into a bucket with
 * `config: { rateLimit: buckets.credentials }`; each bucket counts separately per client IP.
 */
export function rateLimitBuckets(config: Config) {
  const { authRateLimit } = config.http;
  return {
    /** Login, register, token refresh, password and OTP flows. */
    credentials: {
      max: authRateLimit.max,
      timeWindow: authRateLimit.windowSeconds * 1000,
      keyGenerator: (req: { ip: string }) => `credentials:${req.ip}`,
      // Route-level options do not inherit the global one. With Redis, the store falls back to
      // counting in this process while Redis fails (see rate-limit-store.ts), so no error reaches
      // the plugin and the limit holds through an outage.
      skipOnError: true,
    },
  };
}
export type RateLimitBuckets = ReturnType<typeof rateLimitBuckets>;

export async function registerRateLimit(app: FastifyInstance, config: Config, redis?: Redis) {
  await app.register(rateLimit, {
    global: true,
    // A Redis outage must not take the API down with it: count nothing rather than fail requests.
    skipOnError: true,
    max: config.http.rateLimit.max,
    timeWindow: config.http.rateLimit.windowSeconds * 1000,
    // With Redis the global bucket counts in memory and syncs every 100 ms (see rate-limit-store.ts);
    // without it every bucket counts per process.
    ...(redis
      ? { store: batchedRedisStore({ redis, nameSpace: `${config.redis?.keyPrefix ?? 'lectern:'}rl:` }) }
      : {}),
    // Health probes and scrapes must never be throttled.
    allowList: (req) => req.url.startsWith('/health/') || req.url === '/metrics',
    addHeadersOnExceeding: {
      'x-ratelimit-limit': true,
      'x-ratelimit-remaining': true,
      'x-ratelimit-reset': true,
    },
    addHeaders: {
      'x-ratelimit-limit': true,
      'x-ratelimit-remaining': true,
      'x-ratelimit-reset': true,
      'retry-after': true,
    },
    errorResponseBuilder: (_req, context) => {
      const err = new Error(
        `Too many requests, retry in ${Math.ceil(context.ttl / 1000)} seconds`,
      ) as Error & {
        statusCode: number;
      };
      err.statusCode = 429;
      return err;
    },
  });
}
