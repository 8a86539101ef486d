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

export function createThrottle(opts: {
  redis?: Redis;
  keyPrefix: string;
  onError?: (err: unknown) => void;
}): Throttle {
  const { redis } = opts;
  const prefix = `${opts.keyPrefix}throttle:`;
  if (redis) {
    // During a Redis outage attempts go uncounted rather than failing the request, as the HTTP
    // rate limiter does: availability over strict limiting.
    const tolerant = async <T>(run: () => Promise<T>, fallback: T): Promise<T> => {
      try {
        return await run();
      } catch (err) {
        opts.onError?.(err);
        return fallback;
      }
    };
    return {
      hit: (key, windowSeconds) =>
        tolerant(async () => {
          const k = prefix + key;
          const [[, count]] = (await redis.multi().incr(k).expire(k, windowSeconds, 'NX').exec()) as [
            [null, number],
          ];
          return count;
        }, 0),
      count: (key) => tolerant(async () => Number((await redis.get(prefix + key)) ?? 0), 0),
      ttl: (key) => tolerant(async () => Math.max(0, await redis.ttl(prefix + key)), 0),
      reset: (key) => tolerant(async () => void (await redis.del(prefix + key)), undefined),
    };
  }
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
