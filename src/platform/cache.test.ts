import { randomBytes } from 'node:crypto';
import net, { type AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createCache, type Cache } from './cache.ts';
import { createMetrics, type Metrics } from './metrics.ts';
import { createRedis, type Redis, waitForRedis } from './redis.ts';

interface Subject {
  cache: Cache;
  metrics: Metrics;
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

function deferred<T>() {
  let resolve!: (value: T) => void;
  const promise = new Promise<T>((res) => (resolve = res));
  return { promise, resolve };
}

const invalidations = {
  del: (cache: Cache) => cache.del('course:7'),
  delByPrefix: (cache: Cache) => cache.delByPrefix('course:'),
  delByTag: (cache: Cache) => cache.delByTag('course-7'),
} as const;
type Invalidation = keyof typeof invalidations;
const invalidationNames = Object.keys(invalidations) as Invalidation[];

/**
 * Starts a load of course:7 that blocks until released, and resolves `started` once the loader runs,
 * so a test can invalidate while the load is known to be in flight.
 */
function blockedLoad(cache: Cache) {
  const started = deferred<void>();
  const release = deferred<string>();
  const result = cache.getOrLoad('course:7', { ttlSeconds: 60, tags: ['course-7'] }, async () => {
    started.resolve();
    return release.promise;
  });
  return { started: started.promise, release: release.resolve, result };
}

/** A TCP proxy to Redis that can go away (connections cut, new ones refused) and come back on its port. */
async function tcpProxy(target: string) {
  const upstream = new URL(target);
  const sockets = new Set<net.Socket>();
  const server = net.createServer((client) => {
    const remote = net.connect(Number(upstream.port || 6379), upstream.hostname);
    sockets.add(client).add(remote);
    const close = () => {
      client.destroy();
      remote.destroy();
      sockets.delete(client);
      sockets.delete(remote);
    };
    client.on('error', close).on('close', close);
    remote.on('error', close).on('close', close);
    client.pipe(remote).pipe(client);
  });
  const listen = (port: number) => new Promise<void>((resolve) => server.listen(port, '127.0.0.1', resolve));
  const stop = () =>
    new Promise<void>((resolve) => {
      for (const socket of sockets) socket.destroy();
      server.close(() => resolve());
    });
  await listen(0);
  const port = (server.address() as AddressInfo).port;
  const url = new URL(target);
  url.hostname = '127.0.0.1';
  url.port = String(port);
  return {
    url: url.toString(),
    down: stop,
    up: () => listen(port),
    close: stop,
    listening: () => server.listening,
  };
}

/** The behaviour both implementations must share. */
function cacheBehaviour(make: () => Subject) {
  it('returns undefined on a miss, the stored value on a hit, and keeps null apart from a miss', async () => {
    const { cache } = make();
    expect(await cache.get('course:1')).toBeUndefined();
    await cache.set('course:1', { title: 'Intro', tags: ['a'] }, { ttlSeconds: 60 });
    await cache.set('course:2', null, { ttlSeconds: 60 });
    expect(await cache.get('course:1')).toEqual({ title: 'Intro', tags: ['a'] });
    expect(await cache.get('course:2')).toBeNull();
  });

  it('expires entries after their TTL', async () => {
    const { cache } = make();
    await cache.set('course:1', 'a', { ttlSeconds: 1 });
    await cache.getOrLoad('course:2', { ttlSeconds: 1 }, async () => 'b');
    await cache.set('course:3', 'c', { ttlSeconds: 60 });
    expect(await cache.get('course:1')).toBe('a');
    await sleep(1200);
    expect(await cache.get('course:1')).toBeUndefined();
    expect(await cache.get('course:2')).toBeUndefined();
    expect(await cache.get('course:3')).toBe('c');
  });

  it('shares one load between 20 concurrent callers and serves later callers from the cache', async () => {
    const { cache } = make();
    let loads = 0;
    const load = async () => {
      loads += 1;
      await sleep(30);
      return { id: 5, title: 'Shared' };
    };
    const results = await Promise.all(
      Array.from({ length: 20 }, () => cache.getOrLoad('course:5', { ttlSeconds: 60 }, load)),
    );
    expect(loads).toBe(1);
    for (const result of results) expect(result).toEqual({ id: 5, title: 'Shared' });
    expect(await cache.getOrLoad('course:5', { ttlSeconds: 60 }, load)).toEqual({ id: 5, title: 'Shared' });
    expect(loads).toBe(1);
  });

  it('caches null but not undefined, and returns the JSON form on the first request too', async () => {
    const { cache } = make();
    let loads = 0;
    const loadNull = async () => ((loads += 1), null);
    expect(await cache.getOrLoad('course:1', { ttlSeconds: 60 }, loadNull)).toBeNull();
    expect(await cache.getOrLoad('course:1', { ttlSeconds: 60 }, loadNull)).toBeNull();
    expect(loads).toBe(1);

    const loadUndefined = async () => ((loads += 1), undefined);
    expect(await cache.getOrLoad('course:2', { ttlSeconds: 60 }, loadUndefined)).toBeUndefined();
    expect(await cache.getOrLoad('course:2', { ttlSeconds: 60 }, loadUndefined)).toBeUndefined();
    expect(loads).toBe(3);

    const withDate = async () => ({ at: new Date(0) });
    expect(await cache.getOrLoad('course:3', { ttlSeconds: 60 }, withDate)).toEqual({
      at: '1970-01-01T00:00:00.000Z',
    });
    expect(await cache.get('course:3')).toEqual({ at: '1970-01-01T00:00:00.000Z' });
  });

  it('does not cache a failed load and lets every waiter see the error', async () => {
    const { cache } = make();
    const failing = async () => {
      await sleep(10);
      throw new Error('db down');
    };
    const calls = [
      cache.getOrLoad('course:1', { ttlSeconds: 60 }, failing),
      cache.getOrLoad('course:1', { ttlSeconds: 60 }, failing),
    ];
    for (const call of calls) await expect(call).rejects.toThrow('db down');
    expect(await cache.getOrLoad('course:1', { ttlSeconds: 60 }, async () => 'ok')).toBe('ok');
  });

  it('del removes one key', async () => {
    const { cache } = make();
    await cache.set('course:1', 1, { ttlSeconds: 60 });
    await cache.set('course:2', 2, { ttlSeconds: 60 });
    await cache.del('course:1');
    await cache.del('course:404');
    expect(await cache.get('course:1')).toBeUndefined();
    expect(await cache.get('course:2')).toBe(2);
  });

  it('delByPrefix removes only keys starting with the prefix, across many SCAN batches', async () => {
    const { cache } = make();
    const many = Array.from({ length: 600 }, (_, i) => `course:${i}`);
    await Promise.all(many.map((key) => cache.set(key, key, { ttlSeconds: 60 })));
    for (const key of ['courses:1', 'coursework', 'user:1', 'q:a*b', 'q:aXb'])
      await cache.set(key, key, { ttlSeconds: 60 });

    await cache.delByPrefix('course:');
    const left = await Promise.all(many.map((key) => cache.get(key)));
    expect(left.filter((value) => value !== undefined)).toEqual([]);
    expect(await cache.get('courses:1')).toBe('courses:1');
    expect(await cache.get('coursework')).toBe('coursework');
    expect(await cache.get('user:1')).toBe('user:1');

    await cache.delByPrefix('q:a*'); // a literal prefix, not a glob
    expect(await cache.get('q:a*b')).toBeUndefined();
    expect(await cache.get('q:aXb')).toBe('q:aXb');
  });

  it('delByTag removes every key carrying the tag and nothing else', async () => {
    const { cache } = make();
    await cache.set('course:1', 1, { ttlSeconds: 60, tags: ['catalog'] });
    await cache.set('course:2', 2, { ttlSeconds: 60, tags: ['catalog', 'course-2'] });
    await cache.getOrLoad('course:3', { ttlSeconds: 60, tags: ['course-2'] }, async () => 3);
    await cache.set('course:4', 4, { ttlSeconds: 60 });

    await cache.delByTag('catalog');
    expect(await cache.get('course:1')).toBeUndefined();
    expect(await cache.get('course:2')).toBeUndefined();
    expect(await cache.get('course:3')).toBe(3);
    expect(await cache.get('course:4')).toBe(4);

    await cache.delByTag('course-2');
    await cache.delByTag('never-used');
    expect(await cache.get('course:3')).toBeUndefined();
    expect(await cache.get('course:4')).toBe(4);
  });

  it.each(invalidationNames)(
    'never stores a load that a %s overtook, and later callers load afresh',
    async (how) => {
      const { cache } = make();
      const stale = blockedLoad(cache);
      await stale.started;
      await invalidations[how](cache);

      // A caller arriving after the invalidation must not join the stale load.
      expect(
        await cache.getOrLoad('course:7', { ttlSeconds: 60, tags: ['course-7'] }, async () => 'fresh'),
      ).toBe('fresh');
      await cache.del('course:7');

      stale.release('stale');
      expect(await stale.result).toBe('stale'); // its own caller started before the edit, so it may see it
      expect(await cache.get('course:7')).toBeUndefined();

      let loads = 0;
      const next = await cache.getOrLoad(
        'course:7',
        { ttlSeconds: 60, tags: ['course-7'] },
        async () => ((loads += 1), 'new'),
      );
      expect([next, loads]).toEqual(['new', 1]);
      expect(await cache.get('course:7')).toBe('new');
    },
  );

  it('getOrLoadJson keeps JSON text: hits return it unparsed, get parses it, tags drop it', async () => {
    const { cache } = make();
    let loads = 0;
    const load = async () => ((loads += 1), JSON.stringify({ items: [1, 2], n: loads }));
    const options = { ttlSeconds: 60, tags: ['listing'], localTtlSeconds: 30 };
    expect(await cache.getOrLoadJson('catalog:a', options, load)).toBe('{"items":[1,2],"n":1}');
    expect(await cache.getOrLoadJson('catalog:a', options, load)).toBe('{"items":[1,2],"n":1}');
    expect(await cache.get('catalog:a')).toEqual({ items: [1, 2], n: 1 });
    expect(loads).toBe(1);
    await cache.delByTag('listing');
    expect(await cache.getOrLoadJson('catalog:a', options, load)).toBe('{"items":[1,2],"n":2}');
  });

  it('counts hits and misses per key namespace', async () => {
    const { cache, metrics } = make();
    await cache.get('course:1');
    await cache.set('course:1', 'x', { ttlSeconds: 60 });
    await cache.get('course:1');
    await cache.get('course:1');
    await cache.getOrLoad('session:abc', { ttlSeconds: 60 }, async () => 'y');
    await cache.getOrLoad('session:abc', { ttlSeconds: 60 }, async () => 'y');

    const text = await metrics.registry.metrics();
    expect(text).toContain('lectern_cache_requests_total{namespace="course",result="miss"} 1');
    expect(text).toContain('lectern_cache_requests_total{namespace="course",result="hit"} 2');
    expect(text).toContain('lectern_cache_requests_total{namespace="session",result="miss"} 1');
    expect(text).toContain('lectern_cache_requests_total{namespace="session",result="hit"} 1');
  });
}

describe('memory cache', () => {
  const make = (maxEntries?: number): Subject => {
    const metrics = createMetrics();
    return { metrics, cache: createCache({ keyPrefix: 'lectern:', metrics, maxEntries }) };
  };

  it('reports its kind', () => expect(make().cache.kind).toBe('memory'));

  cacheBehaviour(() => make());

  it('evicts the least recently used entry at maxEntries, tags and all', async () => {
    const { cache } = make(2);
    await cache.set('course:1', 1, { ttlSeconds: 60, tags: ['t'] });
    await cache.set('course:2', 2, { ttlSeconds: 60, tags: ['t'] });
    await cache.get('course:1');
    await cache.set('course:3', 3, { ttlSeconds: 60, tags: ['t'] });
    expect(await cache.get('course:2')).toBeUndefined();
    await cache.delByTag('t');
    expect([await cache.get('course:1'), await cache.get('course:3')]).toEqual([undefined, undefined]);
  });
});

describe.skipIf(!process.env.REDIS_URL)('redis cache', () => {
  const runPrefix = `lectern-test:${randomBytes(6).toString('hex')}:`;
  const clients: Redis[] = [];
  let testNumber = 0;
  const connect = async () => {
    const client = createRedis(process.env.REDIS_URL as string);
    // No offline queue: commands sent before the connection is ready would fail.
    await waitForRedis(client);
    clients.push(client);
    return client;
  };
  let redis: Redis;

  beforeAll(async () => {
    redis = await connect();
  });

  afterAll(async () => {
    let cursor = '0';
    do {
      const [next, keys] = await redis.scan(cursor, 'MATCH', `${runPrefix}*`, 'COUNT', 1000);
      if (keys.length) await redis.unlink(...keys);
      cursor = next;
    } while (cursor !== '0');
    await Promise.all(clients.map((client) => client.quit()));
  });

  // A fresh key prefix per test keeps tests from seeing each other's keys.
  const make = (
    client: Redis = redis,
    keyPrefix = `${runPrefix}${(testNumber += 1)}:`,
  ): Subject & { keyPrefix: string } => {
    const metrics = createMetrics();
    return { metrics, keyPrefix, cache: createCache({ redis: client, keyPrefix, metrics }) };
  };

  it('reports its kind', () => expect(make().cache.kind).toBe('redis'));

  cacheBehaviour(() => make());

  it('stores prefixed keys with EX, and tag sets that live as long as their longest member', async () => {
    const { cache, keyPrefix } = make();
    await cache.set('course:1', { a: 1 }, { ttlSeconds: 120, tags: ['catalog'] });
    await cache.set('course:2', { a: 2 }, { ttlSeconds: 30, tags: ['catalog'] });

    expect(await redis.get(`${keyPrefix}cache:course:1`)).toBe('{"a":1}');
    const dataTtl = await redis.ttl(`${keyPrefix}cache:course:2`);
    expect(dataTtl).toBeGreaterThan(25);
    expect(dataTtl).toBeLessThanOrEqual(30);
    expect((await redis.smembers(`${keyPrefix}cache-tag:catalog`)).sort()).toEqual([
      `${keyPrefix}cache:course:1`,
      `${keyPrefix}cache:course:2`,
    ]);
    expect(await redis.ttl(`${keyPrefix}cache-tag:catalog`)).toBeGreaterThan(115);

    await cache.delByTag('catalog');
    expect(await redis.exists(`${keyPrefix}cache-tag:catalog`)).toBe(0);
    expect(await redis.get(`${keyPrefix}cache-gen:catalog`)).toBe('1');
  });

  it.each(invalidationNames)('never stores a load when another process runs %s during it', async (how) => {
    const here = make();
    const elsewhere = make(await connect(), here.keyPrefix);
    const stale = blockedLoad(here.cache);
    await stale.started;
    await invalidations[how](elsewhere.cache);
    stale.release('stale');
    expect(await stale.result).toBe('stale');
    expect(await here.cache.get('course:7')).toBeUndefined();
    expect(await elsewhere.cache.get('course:7')).toBeUndefined();
    expect(
      await here.cache.getOrLoad('course:7', { ttlSeconds: 60, tags: ['course-7'] }, async () => 'new'),
    ).toBe('new');
    expect(await elsewhere.cache.get('course:7')).toBe('new');
  });

  /** Polls `check` until it holds; the deadline is far below the copies' TTL, so only a message can explain it. */
  const eventually = async (check: () => Promise<boolean>) => {
    for (let i = 0; i < 100 && !(await check()); i++) await sleep(10);
    expect(await check()).toBe(true);
  };
  const local = { ttlSeconds: 60, tags: ['listing'], localTtlSeconds: 60 };

  /** Loads `key` until a hit comes from this process's copy (the subscription is up), holding `text`. */
  async function keepLocally(
    cache: Cache,
    keyPrefix: string,
    key: string,
    options: typeof local,
    text: string,
  ) {
    await eventually(async () => {
      await cache.del(key);
      await cache.getOrLoadJson(key, options, async () => text);
      // Changing the shared entry behind the cache's back shows whether a hit came from the local copy.
      await redis.set(`${keyPrefix}cache:${key}`, '"behind"');
      return (await cache.getOrLoadJson(key, options, async () => text)) === text;
    });
  }

  it('serves local copies without Redis, and drops them at once on an invalidation here', async () => {
    const here = make();
    await keepLocally(here.cache, here.keyPrefix, 'catalog:a', local, '"v1"');
    await here.cache.delByTag('listing');
    expect(await here.cache.getOrLoadJson('catalog:a', local, async () => '"v2"')).toBe('"v2"');
    await here.cache.del('catalog:a');
    expect(await here.cache.getOrLoadJson('catalog:a', local, async () => '"v3"')).toBe('"v3"');
  });

  it.each(invalidationNames)('drops local copies when another process runs %s', async (how) => {
    const here = make();
    const elsewhere = make(await connect(), here.keyPrefix);
    const options = { ttlSeconds: 60, tags: ['course-7'], localTtlSeconds: 60 };
    await keepLocally(here.cache, here.keyPrefix, 'course:7', options, '"old"');
    await invalidations[how](elsewhere.cache);
    await eventually(
      async () => (await here.cache.getOrLoadJson('course:7', options, async () => '"new"')) === '"new"',
    );
  });

  it('keeps no local copy from a load another process invalidated while it ran', async () => {
    const here = make();
    const elsewhere = make(await connect(), here.keyPrefix);
    await keepLocally(here.cache, here.keyPrefix, 'catalog:marker', local, '"m1"');
    const started = deferred<void>();
    const release = deferred<string>();
    const stale = here.cache.getOrLoadJson('catalog:b', local, async () => {
      started.resolve();
      return release.promise;
    });
    await started.promise;
    await elsewhere.cache.delByTag('listing');
    // Once the marker's copy is gone, this process has seen the invalidation message.
    await eventually(
      async () => (await here.cache.getOrLoadJson('catalog:marker', local, async () => '"m2"')) === '"m2"',
    );
    release.resolve('"stale"');
    expect(await stale).toBe('"stale"');
    expect(await here.cache.getOrLoadJson('catalog:b', local, async () => '"fresh"')).toBe('"fresh"');
  });

  it('defers an invalidation Redis refused: loaders answer meanwhile, and it lands once Redis is back', async () => {
    const proxy = await tcpProxy(process.env.REDIS_URL as string);
    const viaProxy = createRedis(proxy.url);
    viaProxy.on('error', () => undefined); // expected while the proxy is down
    await waitForRedis(viaProxy);
    try {
      const here = make(viaProxy);
      const elsewhere = make(redis, here.keyPrefix); // another process, which still reaches Redis
      const options = { ttlSeconds: 60, tags: ['listing'] };
      const load = (cache: Cache, text: string) =>
        cache.getOrLoadJson('catalog:p', options, async () => text);
      expect(await load(here.cache, '"v1"')).toBe('"v1"');

      await proxy.down();
      await here.cache.delByTag('listing'); // resolves: deferred, not failed
      expect(await load(here.cache, '"v2"')).toBe('"v2"');
      // Until it lands, a process that reaches Redis still reads what it covers (the documented bound)…
      expect(await load(elsewhere.cache, '"elsewhere"')).toBe('"v1"');

      await proxy.up();
      // …and once this process reaches Redis again, it lands and the entry is gone for everyone.
      for (let i = 0; i < 200 && (await load(elsewhere.cache, '"v3"')) !== '"v3"'; i++) await sleep(50);
      expect(await load(elsewhere.cache, '"unused"')).toBe('"v3"');
      expect(await load(here.cache, '"unused"')).toBe('"v3"');
    } finally {
      viaProxy.disconnect();
      if (proxy.listening()) await proxy.close();
    }
  }, 20_000);
});

describe('redis cache while Redis is unreachable', () => {
  it('serves reads from the loader, swallows writes, and defers invalidations', async () => {
    const down = createRedis('redis://127.0.0.1:1');
    down.on('error', () => undefined); // the platform logs these; here they are expected
    try {
      const metrics = createMetrics();
      const deferredScopes: unknown[] = [];
      const cache = createCache({
        redis: down,
        keyPrefix: 'lectern-test:',
        metrics,
        onDeferred: (_err, scope) => deferredScopes.push(scope),
      });
      const [value, got, setResult, delResult, tagResult] = await Promise.allSettled([
        cache.getOrLoad('course:1', { ttlSeconds: 60 }, async () => 'from db'),
        cache.get('course:2'),
        cache.set('course:3', 'x', { ttlSeconds: 60 }),
        cache.del('course:1'),
        cache.delByTag('catalog'),
      ]);
      expect(value).toEqual({ status: 'fulfilled', value: 'from db' });
      expect(got).toEqual({ status: 'fulfilled', value: undefined });
      expect(setResult).toEqual({ status: 'fulfilled', value: false });
      // The change an invalidation follows has committed: it is retried, not failed.
      expect(delResult.status).toBe('fulfilled');
      expect(tagResult.status).toBe('fulfilled');
      expect(deferredScopes).toHaveLength(2);
      expect(deferredScopes).toEqual(
        expect.arrayContaining([
          { kind: 'key', value: 'course:1' },
          { kind: 'tag', value: 'catalog' },
        ]),
      );
      expect(await cache.getOrLoad('course:1', { ttlSeconds: 60 }, async () => 'again from db')).toBe(
        'again from db',
      );
      expect(await metrics.registry.metrics()).toContain(
        'lectern_cache_requests_total{namespace="course",result="miss"} 3',
      );
    } finally {
      down.disconnect();
    }
  });
});
