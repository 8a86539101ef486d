import type { Redis } from './redis.ts';

/**
 * Fixed-window attempt counters shared by every process when Redis is configured (in-process
 * otherwise): the basis of per-account lockouts and per-email request limits.
 */
export interface Throttle {
  /** Counts one attempt under `key` and returns the total in the current window. */
  hit(key: string, windowSeconds: number): Promise<number>;
  /** Attempts counted in the current window. */
  count(key: string): Promise<number>;
  /** Seconds until the current window of `key` ends (0 when no window is open). */
  ttl(key: string): Promise<number>;
  reset(key: string): Promise<void>;
}

/**
 * With Redis, counters are shared by every process. While Redis fails, attempts are counted in this
 * process instead (as the HTTP rate limiter's store does), so a lockout still holds through an
 * outage; those counts keep adding to the shared ones until their window ends.
 */
export function createThrottle(opts: {
  redis?: Redis;
  keyPrefix: string;
  onError?: (err: unknown) => void;
}): Throttle {
  const { redis } = opts;
  const memory = memoryThrottle();
  if (!redis) return memory;
  const prefix = `${opts.keyPrefix}throttle:`;
  const tolerant = async <T>(run: () => Promise<T>, fallback: () => Promise<T>): Promise<T> => {
    try {
      return await run();
    } catch (err) {
      opts.onError?.(err);
      return fallback();
    }
  };
  return {
    hit: (key, windowSeconds) =>
      tolerant(
        async () => {
          const k = prefix + key;
          const [[, count]] = (await redis.multi().incr(k).expire(k, windowSeconds, 'NX').exec()) as [
            [null, number],
          ];
          return count + (await memory.count(key));
        },
        () => memory.hit(key, windowSeconds),
      ),
    count: (key) =>
      tolerant(
        async () => Number((await redis.get(prefix + key)) ?? 0) + (await memory.count(key)),
        () => memory.count(key),
      ),
    ttl: (key) =>
      tolerant(
        async () => Math.max(await redis.ttl(prefix + key), await memory.ttl(key), 0),
        () => memory.ttl(key),
      ),
    async reset(key) {
      await memory.reset(key);
      await tolerant(
        async () => void (await redis.del(prefix + key)),
        async () => undefined,
      );
    },
  };
}

/** Counters in this process: the whole throttle without Redis, the fallback during an outage. */
function memoryThrottle(): Throttle {
  const windows = new Map<string, { count: number; resetAt: number }>();
  const live = (key: string) => {
    const w = windows.get(key);
    if (w && w.resetAt <= Date.now()) {
      windows.delete(key);
      return undefined;
    }
    return w;
  };
  return {
    async hit(key, windowSeconds) {
      const w = live(key) ?? { count: 0, resetAt: Date.now() + windowSeconds * 1000 };
      w.count += 1;
      windows.set(key, w);
      if (windows.size > 100_000) {
        for (const k of windows.keys()) if (!live(k)) windows.delete(k);
      }
      return w.count;
    },
    async count(key) {
      return live(key)?.count ?? 0;
    },
    async ttl(key) {
      const w = live(key);
      return w ? Math.ceil((w.resetAt - Date.now()) / 1000) : 0;
    },
    async reset(key) {
      windows.delete(key);
    },
  };
}
