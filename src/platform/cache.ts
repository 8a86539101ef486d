import { createHash, randomBytes } from 'node:crypto';
import { LRUCache } from 'lru-cache';
import type { Metrics } from './metrics.ts';
import type { Redis } from './redis.ts';

export interface CacheWriteOptions {
  ttlSeconds: number;
  tags?: string[];
  /**
   * Shared (Redis) cache only: also keep a copy in this process for this many seconds, so a hit costs no
   * Redis round trip. Every invalidation reaches the copies of all processes through Redis pub/sub; the
   * bound on staleness is in createLocalTier. Ignored by the in-process cache, which is local already.
   */
  localTtlSeconds?: number;
}

export interface Cache {
  get<T>(key: string): Promise<T | undefined>;
  /**
   * Never fails a request: resolves `false` when the value could not be stored (the shared store is
   * unreachable), for callers that must then keep it some other way.
   */
  set<T>(key: string, value: T, options: CacheWriteOptions): Promise<boolean>;
  /** get-or-load with TTL; concurrent callers in one process share one load (no stampede). */
  getOrLoad<T>(key: string, options: CacheWriteOptions, load: () => Promise<T>): Promise<T>;
  /**
   * getOrLoad for a value kept as JSON text: `load` returns the text, and a hit returns it without
   * parsing (for response bodies sent as they are). `get` of the same key returns the parsed value.
   */
  getOrLoadJson(key: string, options: CacheWriteOptions, load: () => Promise<string>): Promise<string>;
  /**
   * Invalidations. They do not reject when Redis is unreachable: they are retried until they land, and
   * meanwhile this process bypasses the shared store (see `deferred` in createCache).
   */
  del(key: string): Promise<void>;
  delByPrefix(prefix: string): Promise<void>;
  delByTag(tag: string): Promise<void>;
  readonly kind: 'memory' | 'redis';
}

/**
 * What a backend must provide. The wrapper in createCache adds single-flight, metrics, JSON and the
 * error policy, so both backends behave the same.
 */
interface Store {
  readonly kind: Cache['kind'];
  /** With `guardTags`, also returns a stamp of the invalidation generations a guarded write must still match. */
  read(key: string, guardTags?: string[]): Promise<{ json: string | undefined; stamp: string[] }>;
  /** Without a stamp the write is unconditional; with one it is dropped if an invalidation happened since the read. */
  write(key: string, json: string, ttlSeconds: number, tags: string[], stamp?: string[]): Promise<void>;
  del(key: string): Promise<void>;
  delByPrefix(prefix: string): Promise<void>;
  delByTag(tag: string): Promise<void>;
}

interface Flight {
  key: string;
  tags: string[];
  /** Set by an invalidation that overtook the load: its result is returned to its waiters but never stored. */
  stale: boolean;
  promise: Promise<{ hit: boolean; value: unknown }>;
}

/** What an invalidation covers; also the message one process sends the others' local copies. */
export type Scope = { kind: 'key' | 'prefix' | 'tag'; value: string };

const covers = (scope: Scope, flight: { key: string; tags: string[] }) =>
  scope.kind === 'key'
    ? flight.key === scope.value
    : scope.kind === 'prefix'
      ? flight.key.startsWith(scope.value)
      : flight.tags.includes(scope.value);

/**
 * Builds the platform cache: Redis when a client is given (shared by all processes), else an in-process LRU.
 *
 * Error policy: reads and writes never fail a request (a Redis outage reads as a miss and the loader runs),
 * but invalidations reject, because a silently failed delete could keep serving stale data after an edit.
 */
export function createCache(opts: {
  redis?: Redis;
  keyPrefix: string;
  metrics: Metrics;
  maxEntries?: number;
  /** Most entries kept as local copies of shared entries (`localTtlSeconds`); default 1,000. */
  localMaxEntries?: number;
  /** How often an invalidation Redis refused is tried again; default 250 ms. */
  retryIntervalMs?: number;
  /** Told when Redis refuses an invalidation (it is then deferred, see `invalidate`). */
  onDeferred?: (err: unknown, scope: Scope) => void;
}): Cache {
  const store = opts.redis ? redisStore(opts.redis, opts.keyPrefix) : memoryStore(opts.maxEntries ?? 10_000);
  const flights = new Map<string, Flight>();
  const local = opts.redis
    ? createLocalTier(opts.redis, opts.keyPrefix, opts.localMaxEntries ?? 1000, (scope) =>
        supersede((flight) => covers(scope, flight)),
      )
    : undefined;

  const count = (key: string, hit: boolean) =>
    opts.metrics.cacheRequests.inc({ namespace: namespaceOf(key), result: hit ? 'hit' : 'miss' });

  // In-process half of the race guard: loads that an invalidation overtook must not store their result, and
  // callers arriving after the invalidation must start a fresh load instead of joining the old one.
  function supersede(matches: (flight: Flight) => boolean) {
    for (const [id, flight] of flights) {
      if (!matches(flight)) continue;
      flight.stale = true;
      flights.delete(id);
    }
  }

  const dropLocally = (scope: Scope) => {
    supersede((flight) => covers(scope, flight));
    local?.drop(scope);
  };

  /**
   * Invalidations Redis refused (unreachable). They follow a change that has committed, so they do not
   * fail the caller: they are tried again every `retryIntervalMs` until they land, and until then this
   * process neither reads nor fills the shared store, so it serves what the loaders return. Bound: another
   * process that reaches Redis first may still read an entry they cover until they land (one retry
   * interval after Redis is back, if this process lives; else until the entry's TTL).
   */
  const deferred: Array<{ scope: Scope; run: () => Promise<void> }> = [];
  const retryIntervalMs = opts.retryIntervalMs ?? 250;
  let retryTimer: ReturnType<typeof setTimeout> | undefined;
  let retrying = false;
  const scheduleRetry = () => {
    if (retryTimer || retrying) return;
    retryTimer = setTimeout(() => {
      retryTimer = undefined;
      void retryDeferred();
    }, retryIntervalMs);
    retryTimer.unref();
  };
  async function retryDeferred() {
    retrying = true;
    try {
      while (deferred.length) {
        const next = deferred[0]!;
        try {
          await next.run();
          await local?.broadcast(next.scope);
        } catch {
          return;
        }
        deferred.shift();
        dropLocally(next.scope);
      }
    } finally {
      retrying = false;
      if (deferred.length) scheduleRetry();
    }
  }

  /**
   * Runs an invalidation: overtaken loads are superseded and local copies dropped both before the shared
   * store is changed and after (a load that started meanwhile may have read the old shared entry), then the
   * other processes are told. When Redis refuses, the invalidation is deferred (see `deferred`).
   */
  async function invalidate(scope: Scope, run: () => Promise<void>) {
    dropLocally(scope);
    try {
      await run();
      dropLocally(scope);
      await local?.broadcast(scope);
    } catch (err) {
      dropLocally(scope);
      const same = deferred.some((d) => d.scope.kind === scope.kind && d.scope.value === scope.value);
      if (!same) deferred.push({ scope, run });
      opts.onDeferred?.(err, scope);
      scheduleRetry();
    }
  }

  /** Shared hits are JSON text written by this code; text from Redis is still checked before it is served. */
  const readable = (json: string) => store.kind === 'memory' || decode(json) !== undefined;

  async function fly(
    flight: Omit<Flight, 'promise'>,
    options: CacheWriteOptions,
    load: () => Promise<unknown>,
    asText: boolean,
  ): Promise<{ hit: boolean; value: unknown }> {
    const copyEpoch = local && options.localTtlSeconds ? local.epoch() : undefined;
    const keepCopy = (json: string) => {
      if (copyEpoch !== undefined && !flight.stale) local!.keep(flight.key, json, options, copyEpoch);
    };
    // The generation stamp is read before the loader starts, so an invalidation during the load is detected.
    // While an invalidation is deferred the shared store may hold what it covers: neither read nor fill it.
    const found = deferred.length
      ? undefined
      : await store.read(flight.key, flight.tags).catch(() => undefined);
    if (found?.json !== undefined) {
      const cached = asText ? (readable(found.json) ? { value: found.json } : undefined) : decode(found.json);
      if (cached) {
        keepCopy(found.json);
        return { hit: true, value: cached.value };
      }
    }
    const loaded = await load();
    if (loaded === undefined) return { hit: false, value: undefined };
    const json = asText ? (loaded as string) : JSON.stringify(loaded);
    // No stamp (the read failed) means we cannot prove freshness, so the result is not stored.
    if (found && !flight.stale && storable(options.ttlSeconds)) {
      await store
        .write(flight.key, json, options.ttlSeconds, flight.tags, found.stamp)
        .catch(() => undefined);
      keepCopy(json);
    }
    // Hand back what a later hit would return, so e.g. a Date is a string on the first request too.
    return { hit: false, value: asText ? json : (JSON.parse(json) as unknown) };
  }

  async function loadThrough(
    key: string,
    options: CacheWriteOptions,
    load: () => Promise<unknown>,
    asText: boolean,
  ): Promise<unknown> {
    if (local && options.localTtlSeconds) {
      const copy = local.read(key);
      if (copy !== undefined) {
        count(key, true);
        return asText ? copy : (JSON.parse(copy) as unknown);
      }
    }
    // Text and parsed loads of one key do not share a flight: their results differ in kind.
    const id = asText ? `text\0${key}` : key;
    let flight = flights.get(id);
    if (!flight) {
      const state = { key, tags: options.tags ?? [], stale: false };
      const created: Flight = Object.assign(state, {
        promise: fly(state, options, load, asText).finally(() => {
          if (flights.get(id) === created) flights.delete(id);
        }),
      });
      flights.set(id, (flight = created));
    }
    try {
      const { hit, value } = await flight.promise;
      count(key, hit);
      return value;
    } catch (err) {
      count(key, false);
      throw err;
    }
  }

  return {
    kind: store.kind,

    async get<T>(key: string) {
      const found = deferred.length
        ? undefined
        : decode((await store.read(key).catch(() => undefined))?.json);
      count(key, found !== undefined);
      return found?.value as T | undefined;
    },

    async set<T>(key: string, value: T, options: CacheWriteOptions) {
      const json = JSON.stringify(value);
      supersede((flight) => flight.key === key);
      local?.drop({ kind: 'key', value: key });
      let stored = false;
      if (json !== undefined && storable(options.ttlSeconds)) {
        stored = await store.write(key, json, options.ttlSeconds, options.tags ?? []).then(
          () => true,
          () => false,
        );
      }
      // Other processes may hold a local copy of the old value; a write never fails a request.
      await local?.broadcast({ kind: 'key', value: key }).catch(() => undefined);
      return stored;
    },

    async getOrLoad<T>(key: string, options: CacheWriteOptions, load: () => Promise<T>) {
      return (await loadThrough(key, options, load, false)) as T;
    },

    async getOrLoadJson(key: string, options: CacheWriteOptions, load: () => Promise<string>) {
      return (await loadThrough(key, options, load, true)) as string;
    },

    async del(key: string) {
      await invalidate({ kind: 'key', value: key }, () => store.del(key));
    },

    async delByPrefix(prefix: string) {
      await invalidate({ kind: 'prefix', value: prefix }, () => store.delByPrefix(prefix));
    },

    async delByTag(tag: string) {
      await invalidate({ kind: 'tag', value: tag }, () => store.delByTag(tag));
    },
  };
}

/**
 * Local copies of shared entries (an L1 in front of Redis), kept only while this process is subscribed to
 * the invalidation channel. Every del, delByPrefix, delByTag and set publishes what it covered after
 * changing Redis, and each process drops its matching copies (and supersedes matching loads) on receipt.
 *
 * Staleness bound: in the process that ran the invalidation, none (copies are dropped before it returns).
 * In other processes, a copy can outlive the edit by the time Redis takes to deliver the message (well
 * under a millisecond on one host, more on a slow network), never longer than `localTtlSeconds`. While the
 * subscription is down no copy is kept or served, and all copies are dropped when it goes down; a message
 * lost in the moment before the connection is seen closing is covered by the copy's own short TTL.
 */
function createLocalTier(
  redis: Redis,
  keyPrefix: string,
  maxEntries: number,
  onRemote: (scope: Scope) => void,
) {
  const copies = memoryStore(maxEntries);
  const channel = `${keyPrefix}cache-invalidations`;
  const origin = randomBytes(8).toString('hex');
  let subscriber: Redis | undefined;
  let subscribed = false;
  // Changes whenever the subscription starts or stops: a load only keeps a copy if it began and ended
  // within one subscription, so no message it should have seen can have been missed.
  let epoch = 0;

  const dropSync = (scope: Scope) =>
    void (scope.kind === 'key'
      ? copies.del(scope.value)
      : scope.kind === 'prefix'
        ? copies.delByPrefix(scope.value)
        : copies.delByTag(scope.value));

  function subscribe() {
    if (subscriber) return;
    // A subscribed connection can run no other commands, so the channel gets its own.
    const sub = redis.duplicate({ autoResubscribe: false });
    subscriber = sub;
    sub.on('error', () => undefined); // the shared connection already reports Redis errors
    sub.on('ready', () => {
      sub.subscribe(channel).then(
        () => {
          subscribed = true;
          epoch += 1;
        },
        () => undefined,
      );
    });
    sub.on('close', () => {
      subscribed = false;
      epoch += 1;
      copies.clear();
    });
    sub.on('message', (_channel: string, text: string) => {
      let message: { o?: unknown; k?: unknown; v?: unknown };
      try {
        message = JSON.parse(text) as typeof message;
      } catch {
        return;
      }
      const { o, k, v } = message;
      if (o === origin || typeof v !== 'string' || (k !== 'key' && k !== 'prefix' && k !== 'tag')) return;
      dropSync({ kind: k, value: v });
      onRemote({ kind: k, value: v });
    });
    // The platform closes the shared connection on shutdown; the subscriber goes with it.
    redis.once('end', () => sub.disconnect());
  }

  return {
    /** The current subscription epoch, or undefined when copies cannot be kept (not subscribed yet). */
    epoch(): number | undefined {
      subscribe();
      return subscribed ? epoch : undefined;
    },
    read(key: string): string | undefined {
      return subscribed ? copies.peek(key) : undefined;
    },
    keep(key: string, json: string, options: CacheWriteOptions, since: number) {
      if (!subscribed || epoch !== since || !storable(options.localTtlSeconds ?? 0)) return;
      void copies.write(
        key,
        json,
        Math.min(options.localTtlSeconds!, options.ttlSeconds),
        options.tags ?? [],
      );
    },
    drop: dropSync,
    async broadcast(scope: Scope) {
      await redis.publish(channel, JSON.stringify({ o: origin, k: scope.kind, v: scope.value }));
    },
  };
}

/** Metrics label: the key's first `:` segment, so keys should look like `course:42` to keep cardinality low. */
function namespaceOf(key: string): string {
  const colon = key.indexOf(':');
  return colon === -1 ? key : key.slice(0, colon);
}

function storable(ttlSeconds: number): boolean {
  // lru-cache reads ttl 0 as "forever" and Redis rejects EX 0, so a non-positive TTL means "don't cache".
  return Number.isFinite(ttlSeconds) && ttlSeconds > 0;
}

/** Wraps the value so a cached `null` is told apart from a miss; unreadable JSON counts as a miss. */
function decode(json: string | undefined): { value: unknown } | undefined {
  if (json === undefined) return undefined;
  try {
    return { value: JSON.parse(json) as unknown };
  } catch {
    return undefined;
  }
}

function memoryStore(max: number): Store & { peek(key: string): string | undefined; clear(): void } {
  const keysByTag = new Map<string, Set<string>>();
  const tagsByKey = new Map<string, string[]>();
  const untag = (key: string) => {
    for (const tag of tagsByKey.get(key) ?? []) {
      const keys = keysByTag.get(tag);
      keys?.delete(key);
      if (keys?.size === 0) keysByTag.delete(tag);
    }
    tagsByKey.delete(key);
  };
  // dispose runs on eviction, expiry, delete and overwrite, so the tag index never outgrows the LRU.
  const lru = new LRUCache<string, string>({ max, dispose: (_value, key) => untag(key) });

  // Races are guarded entirely by the wrapper's flight marking: this store lives in one process, so every
  // invalidation that can overtake a load is seen there, exactly (no generation numbers needed).
  return {
    kind: 'memory',
    async read(key) {
      return { json: lru.get(key), stamp: [] };
    },
    /** Synchronous read, for the local tier's hot path. */
    peek(key) {
      return lru.get(key);
    },
    clear() {
      lru.clear();
    },
    async write(key, json, ttlSeconds, tags) {
      lru.set(key, json, { ttl: ttlSeconds * 1000 });
      untag(key); // lru-cache skips dispose when the new value equals the old one
      if (tags.length === 0) return;
      tagsByKey.set(key, tags);
      for (const tag of tags) {
        const keys = keysByTag.get(tag) ?? new Set<string>();
        keysByTag.set(tag, keys.add(key));
      }
    },
    async del(key) {
      lru.delete(key);
    },
    async delByPrefix(prefix) {
      for (const key of [...lru.keys()]) if (key.startsWith(prefix)) lru.delete(key);
    },
    async delByTag(tag) {
      for (const key of [...(keysByTag.get(tag) ?? [])]) lru.delete(key);
      keysByTag.delete(tag);
    },
  };
}

/**
 * Generation keys only need to outlive the longest load; expiring them keeps one-off tags from piling up.
 * Limit: a load running longer than this could miss an invalidation whose generation key expired meanwhile.
 */
const GENERATION_TTL_SECONDS = 86_400;
const SCAN_COUNT = 500;

// KEYS: data key, n tag sets, then generation keys; ARGV: json, ttl, n, expected generations.
// Stores only if every generation still matches ('' = key absent); tag sets live as long as their longest member.
const FILL = script(`
local n = tonumber(ARGV[3])
for i = n + 2, #KEYS do
  if (redis.call('GET', KEYS[i]) or '') ~= ARGV[i - n + 2] then return 0 end
end
local ttl = tonumber(ARGV[2])
redis.call('SET', KEYS[1], ARGV[1], 'EX', ttl)
for i = 2, n + 1 do
  redis.call('SADD', KEYS[i], KEYS[1])
  if redis.call('TTL', KEYS[i]) < ttl then redis.call('EXPIRE', KEYS[i], ttl) end
end
return 1`);

// KEYS: tag generation, tag set. Bumping and emptying atomically means a fill either lands before (and is
// deleted here) or after (and sees the new generation); none can slip into the set between the two.
const DROP_TAG = script(`
redis.call('INCR', KEYS[1])
redis.call('EXPIRE', KEYS[1], ARGV[1])
local members = redis.call('SMEMBERS', KEYS[2])
for i = 1, #members, 500 do
  redis.call('UNLINK', unpack(members, i, math.min(i + 499, #members)))
end
redis.call('UNLINK', KEYS[2])
return #members`);

/**
 * Cross-process race guard: a fill re-checks, atomically in FILL, the generations it read before loading:
 * one per tag (bumped by delByTag), one per key namespace (bumped by del and by delByPrefix when the prefix
 * names a namespace) and one global (bumped by delByPrefix without a `:`). A del therefore also voids in-flight
 * loads of other keys in the same namespace: an occasional lost fill, never a stale one.
 * Limit: the scripts touch tag members not declared in KEYS, which standalone Redis allows but Cluster does not.
 */
function redisStore(redis: Redis, keyPrefix: string): Store {
  const dataKey = (key: string) => `${keyPrefix}cache:${key}`;
  const tagSetKey = (tag: string) => `${keyPrefix}cache-tag:${tag}`;
  const tagGenKey = (tag: string) => `${keyPrefix}cache-gen:${tag}`;
  const namespaceGenKey = (key: string) => `${keyPrefix}cache-gen-ns:${namespaceOf(key)}`;
  const globalGen = `${keyPrefix}cache-gen-all`;
  const genKeys = (key: string, tags: string[]) => [globalGen, namespaceGenKey(key), ...tags.map(tagGenKey)];

  async function bumpAndUnlink(genKey: string, ...keys: string[]) {
    const tx = redis.multi().incr(genKey).expire(genKey, GENERATION_TTL_SECONDS);
    const results = await (keys.length ? tx.unlink(...keys) : tx).exec();
    const failed = results?.find(([err]) => err);
    if (failed) throw failed[0];
  }

  return {
    kind: 'redis',
    async read(key, guardTags) {
      if (!guardTags) return { json: (await redis.get(dataKey(key))) ?? undefined, stamp: [] };
      // One round trip: the value and the generations the fill will have to match.
      const [json, ...stamp] = await redis.mget(dataKey(key), ...genKeys(key, guardTags));
      return { json: json ?? undefined, stamp: stamp.map((gen) => gen ?? '') };
    },
    async write(key, json, ttlSeconds, tags, stamp) {
      const guard = stamp ? genKeys(key, tags) : [];
      const keys = [dataKey(key), ...tags.map(tagSetKey), ...guard];
      await runScript(redis, FILL, keys, [json, Math.ceil(ttlSeconds), tags.length, ...(stamp ?? [])]);
    },
    async del(key) {
      await bumpAndUnlink(namespaceGenKey(key), dataKey(key));
    },
    async delByPrefix(prefix) {
      // Bump first: fills landing after this are refused, fills landing before it are found by the SCAN.
      await bumpAndUnlink(prefix.includes(':') ? namespaceGenKey(prefix) : globalGen);
      const match = `${dataKey(prefix).replace(/[*?[\]\\]/g, '\\$&')}*`;
      let cursor = '0';
      do {
        const [next, keys] = await redis.scan(cursor, 'MATCH', match, 'COUNT', SCAN_COUNT);
        if (keys.length) await redis.unlink(...keys);
        cursor = next;
      } while (cursor !== '0');
    },
    async delByTag(tag) {
      await runScript(redis, DROP_TAG, [tagGenKey(tag), tagSetKey(tag)], [GENERATION_TTL_SECONDS]);
    },
  };
}

function script(source: string) {
  return { source, sha: createHash('sha1').update(source).digest('hex') };
}

/** EVALSHA with an EVAL fallback; avoids defineCommand, which would mutate the shared client. */
async function runScript(
  redis: Redis,
  lua: ReturnType<typeof script>,
  keys: string[],
  args: (string | number)[],
) {
  try {
    return await redis.evalsha(lua.sha, keys.length, ...keys, ...args);
  } catch (err) {
    if (!(err instanceof Error) || !err.message.startsWith('NOSCRIPT')) throw err;
    return redis.eval(lua.source, keys.length, ...keys, ...args);
  }
}
