import { createRequire } from 'node:module';
import type { FastifyRateLimitOptions, FastifyRateLimitStore } from '@fastify/rate-limit';
import type { Redis } from '../redis.ts';

type Incr = FastifyRateLimitStore['incr'];
type RouteStoreOptions = Parameters<FastifyRateLimitStore['child']>[0];

// The plugin's exact Redis store (one Lua INCR per request), used for the strict per-route buckets.
const RedisStore = createRequire(import.meta.url)('@fastify/rate-limit/store/RedisStore.js') as new (
  continueExceeding: boolean,
  exponentialBackoff: boolean,
  redis: Redis,
  key: string,
) => FastifyRateLimitStore;

interface Counter {
  /** Index of the fixed window the counts belong to (`floor(now / timeWindow)`). */
  window: number;
  /** The cluster-wide count Redis last reported for this window (includes what this process sent). */
  synced: number;
  /** Sent to Redis, answer not back yet. */
  inFlight: number;
  /** Counted here, not sent yet. */
  pending: number;
}

export interface BatchedStoreOptions {
  redis: Redis;
  /** Redis key prefix. */
  nameSpace: string;
  /** How long increments wait before one pipelined flush (ms). */
  flushMs?: number;
  /** Counters kept in memory at most (one per client key and window). */
  maxKeys?: number;
}

/**
 * A store for @fastify/rate-limit's global bucket that counts in memory and adds the counts to Redis
 * in one pipeline every `flushMs`, instead of a Redis round trip per request (which was about a
 * quarter of the CPU of a cached catalog page). Windows are fixed and aligned to the epoch so that
 * every process agrees on them; a process decides on the cluster-wide count Redis last reported plus
 * its own unsent increments, so across N processes a client can overshoot the limit by what the
 * other processes accept within one flush interval. Routes with their own stricter bucket (the
 * credential flows, where a few requests matter) get the plugin's exact Redis store instead.
 * While Redis is unreachable the counts stay local: the limit keeps working per process.
 */
export function batchedRedisStore({
  redis,
  nameSpace,
  flushMs = 100,
  maxKeys = 100_000,
}: BatchedStoreOptions) {
  const counters = new Map<string, Counter>();
  let timer: NodeJS.Timeout | null = null;
  let flushing = false;
  /** Something was counted since the last flush began. */
  let dirty = false;
  let timeWindow = 60_000;

  function schedule() {
    if (timer || flushing) return;
    timer = setTimeout(() => void flush(), flushMs);
    timer.unref();
  }

  async function flush() {
    timer = null;
    dirty = false;
    const window = Math.floor(Date.now() / timeWindow);
    const batch: Array<[string, Counter, number]> = [];
    for (const [key, counter] of counters) {
      if (counter.window < window) {
        if (counter.inFlight === 0) counters.delete(key);
      } else if (counter.pending > 0) {
        batch.push([key, counter, counter.pending]);
        counter.inFlight += counter.pending;
        counter.pending = 0;
      }
    }
    if (batch.length === 0) return;
    flushing = true;
    const expireMs = (window + 1) * timeWindow - Date.now() + 1000;
    const pipeline = redis.pipeline();
    for (const [key, counter, n] of batch) {
      const redisKey = `${nameSpace}all:${key}:${counter.window}`;
      pipeline.incrby(redisKey, n).pexpire(redisKey, expireMs);
    }
    let results: Array<[Error | null, unknown]> | null = null;
    try {
      results = await pipeline.exec();
    } catch {
      // Redis is away: the counts stay local (`inFlight` returns to `pending` below).
    }
    batch.forEach(([, counter, n], i) => {
      counter.inFlight -= n;
      const [err, total] = results?.[i * 2] ?? [new Error('no answer'), null];
      if (err || typeof total !== 'number') counter.pending += n;
      else counter.synced = Math.max(counter.synced, total);
    });
    flushing = false;
    // Counts a failed flush put back go out with the next request's flush: no retry loop of its own
    // (a closed or unreachable Redis would otherwise be polled every interval).
    if (dirty) schedule();
  }

  const incr: Incr = (key, callback, ...rest: unknown[]) => {
    // The plugin passes (key, callback, timeWindow, max); its type declaration names only the first two.
    const [windowMs] = rest as [number];
    timeWindow = windowMs;
    const now = Date.now();
    const window = Math.floor(now / windowMs);
    const counter = counterFor(counters, key, window, maxKeys, () => ({
      window,
      synced: 0,
      inFlight: 0,
      pending: 0,
    }));
    counter.pending += 1;
    dirty = true;
    schedule();
    callback(null, {
      current: counter.synced + counter.inFlight + counter.pending,
      ttl: (window + 1) * windowMs - now,
    });
  };

  return class BatchedRedisStore implements FastifyRateLimitStore {
    constructor(_options?: FastifyRateLimitOptions) {}
    incr = incr;
    child(routeOptions: RouteStoreOptions): FastifyRateLimitStore {
      const route = routeOptions as RouteStoreOptions & {
        continueExceeding?: boolean;
        exponentialBackoff?: boolean;
        routeInfo?: { method?: string; url?: string };
      };
      return withLocalFallback(
        new RedisStore(
          route.continueExceeding ?? false,
          route.exponentialBackoff ?? false,
          redis,
          `${nameSpace}${route.routeInfo?.method ?? ''}${route.routeInfo?.url ?? ''}-`,
        ),
        maxKeys,
      );
    }
  };
}

/**
 * The counter of `key` in fixed window `window`, a fresh one replacing an older window's; past
 * `maxKeys` keys the oldest goes (Map keeps insertion order: a key seen again is counted anew).
 */
function counterFor<C extends { window: number }>(
  counters: Map<string, C>,
  key: string,
  window: number,
  maxKeys: number,
  fresh: () => C,
): C {
  let counter = counters.get(key);
  if (!counter || counter.window !== window) {
    if (!counter && counters.size >= maxKeys) {
      const oldest = counters.keys().next().value;
      if (oldest !== undefined) counters.delete(oldest);
    }
    counter = fresh();
    counters.set(key, counter);
  }
  return counter;
}

/**
 * The strict buckets guard credentials, so a Redis outage must not switch them off (the plugin's
 * `skipOnError` would let every request through): while Redis fails, this process counts on its
 * own, in fixed windows, and the limit holds per process until Redis answers again.
 */
function withLocalFallback(store: FastifyRateLimitStore, maxKeys: number): FastifyRateLimitStore {
  const local = new Map<string, { window: number; count: number }>();
  const localIncr: Incr = (key, callback, ...rest: unknown[]) => {
    const [windowMs] = rest as [number];
    const now = Date.now();
    const window = Math.floor(now / windowMs);
    const counter = counterFor(local, key, window, maxKeys, () => ({ window, count: 0 }));
    counter.count += 1;
    callback(null, { current: counter.count, ttl: (window + 1) * windowMs - now });
  };
  const incr: Incr = (key, callback, ...rest: unknown[]) => {
    const redisIncr = store.incr as (...args: unknown[]) => void;
    redisIncr.call(
      store,
      key,
      (err: Error | null, result: Parameters<Parameters<Incr>[1]>[1]) => {
        if (err) (localIncr as (...args: unknown[]) => void)(key, callback, ...rest);
        else callback(null, result);
      },
      ...rest,
    );
  };
  return { incr, child: (options) => store.child(options) };
}
