import { createHash } from 'node:crypto';
import { eq } from 'drizzle-orm';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { z } from 'zod';
import { Conflict, InProgress } from '../../src/platform/errors.ts';
import { bearerSecurity } from '../../src/platform/http/auth.ts';
import { successBody } from '../../src/platform/http/envelope.ts';
import { idempotencyHeaderSchema } from '../../src/platform/http/idempotency.ts';
import { idempotencyKeys } from '../../src/platform/platform.tables.ts';
import { createTestApp, type TestApp } from '../helpers/app.ts';
import { registerStudent } from '../factories/users.ts';

/**
 * Idempotency-Key semantics (Stripe's), on a small route registered only in this test: it counts
 * how often its handler really ran, so replays are visible.
 */
describe('Idempotency-Key', () => {
  let t: TestApp;
  let runs = 0;
  let busy = true;
  let release: (() => void) | null = null;

  beforeAll(async () => {
    t = await createTestApp(
      { AUTH_RATE_LIMIT_MAX: '1000' },
      {
        setup: async (app) => {
          await app.register(
            async (scope) => {
              scope.route({
                method: 'POST',
                url: '/test/charge',
                schema: {
                  security: bearerSecurity,
                  headers: idempotencyHeaderSchema,
                  body: z.object({ amount: z.number() }),
                },
                preHandler: [app.guard.authenticate, app.routeContext.idempotency],
                handler: async (request, reply) => {
                  runs += 1;
                  const { amount } = request.body as { amount: number };
                  if (amount === 7) await new Promise<void>((resolve) => (release = resolve));
                  if (amount < 0) throw new Conflict('Negative amounts conflict');
                  if (amount === 409 && busy) throw new InProgress('Another charge is running');
                  if (amount === 500) throw new Error('boom');
                  return reply.code(201).send(successBody({ run: runs, amount }));
                },
              });
            },
            { prefix: '/api' },
          );
        },
      },
    );
  });
  afterAll(() => t.close());

  /** The fingerprint the server stores for a charge of 12, read from a request that ran with it. */
  async function fingerprintOf(token: string, key: string) {
    const probe = `${key}-probe`;
    await charge(token, 12, probe);
    const [row] = await t.app.platform.database.db
      .select()
      .from(idempotencyKeys)
      .where(eq(idempotencyKeys.key, probe));
    return row!.requestHash;
  }

  const charge = (token: string, amount: number, key?: string) =>
    t.request({
      method: 'POST',
      url: '/api/test/charge',
      token,
      payload: { amount },
      headers: key ? { 'idempotency-key': key } : {},
    });

  it('replays the first response for the same key and body without running again', async () => {
    const user = await registerStudent(t);
    const before = runs;
    const first = await charge(user.token, 10, 'key-1');
    expect(first.status).toBe(201);
    const again = await charge(user.token, 10, 'key-1');
    expect(again.status).toBe(201);
    expect(again.body).toEqual(first.body);
    expect(again.headers['idempotent-replayed']).toBe('true');
    expect(runs - before).toBe(1);
  });

  it('refuses the same key with a different body (422) and runs nothing', async () => {
    const user = await registerStudent(t);
    await charge(user.token, 10, 'key-2');
    const before = runs;
    const other = await charge(user.token, 11, 'key-2');
    expect(other.status).toBe(422);
    expect(other.body.error.errorCode).toBe(422);
    expect(runs).toBe(before);
  });

  it('replays a 4xx answer too, but not a 5xx one (that may be retried)', async () => {
    const user = await registerStudent(t);
    const conflict = await charge(user.token, -1, 'key-3');
    expect(conflict.status).toBe(409);
    const before = runs;
    const replay = await charge(user.token, -1, 'key-3');
    expect(replay.status).toBe(409);
    expect(replay.body).toEqual(conflict.body);
    expect(runs).toBe(before);

    const failed = await charge(user.token, 500, 'key-4');
    expect(failed.status).toBe(500);
    const retried = await charge(user.token, 500, 'key-4');
    expect(retried.status).toBe(500);
    expect(runs).toBe(before + 2);
  });

  it('does not keep a 409 that clashed with a request still running (Retry-After): the retry runs', async () => {
    const user = await registerStudent(t);
    const before = runs;
    const clash = await charge(user.token, 409, 'key-busy');
    expect(clash.status).toBe(409);
    expect(clash.headers['retry-after']).toBe('1');
    busy = false;
    const retried = await charge(user.token, 409, 'key-busy');
    expect(retried.status).toBe(201);
    expect(retried.headers['idempotent-replayed']).toBeUndefined();
    expect(runs - before).toBe(2);
    const replay = await charge(user.token, 409, 'key-busy');
    expect(replay.headers['idempotent-replayed']).toBe('true');
    expect(replay.body).toEqual(retried.body);
    expect(runs - before).toBe(2);
  });

  it('answers 409 while the first request with the key is still running', async () => {
    const user = await registerStudent(t);
    const first = charge(user.token, 7, 'key-5');
    await new Promise((r) => setTimeout(r, 200));
    const second = await charge(user.token, 7, 'key-5');
    expect(second.status).toBe(409);
    expect(second.headers['retry-after']).toBe('1');
    release?.();
    expect((await first).status).toBe(201);
    expect((await charge(user.token, 7, 'key-5')).headers['idempotent-replayed']).toBe('true');
  });

  it('lets a retry take over a key whose first request died (no answer after 5 minutes), not before', async () => {
    const user = await registerStudent(t);
    const scope = `${user.userId}:POST /api/test/charge`;
    const db = t.app.platform.database.db;
    const claim = async (key: string, minutesAgo: number) =>
      db.insert(idempotencyKeys).values({
        scope,
        key,
        // What the first request stored: the fingerprint of the same request.
        requestHash: await fingerprintOf(user.token, key),
        createdAt: new Date(Date.now() - minutesAgo * 60_000),
      });
    await claim('crashed', 6);
    await claim('slow', 2);
    const before = runs;
    expect((await charge(user.token, 12, 'crashed')).status).toBe(201);
    expect((await charge(user.token, 12, 'slow')).status).toBe(409);
    expect(runs - before).toBe(1);
  });

  it('keeps keys per user: the same key from another user runs separately', async () => {
    const a = await registerStudent(t);
    const b = await registerStudent(t);
    const before = runs;
    expect((await charge(a.token, 3, 'shared-key')).status).toBe(201);
    expect((await charge(b.token, 3, 'shared-key')).status).toBe(201);
    expect(runs - before).toBe(2);
  });

  it('rejects a malformed key with 400 naming the header', async () => {
    const user = await registerStudent(t);
    const res = await charge(user.token, 3, 'x'.repeat(256));
    expect(res.status).toBe(400);
    expect(JSON.stringify(res.body.error.details)).toContain('idempotency-key');
  });

  it('stores a keyed fingerprint of the request, never a plain hash of the body (it may hold card data)', async () => {
    const user = await registerStudent(t);
    await charge(user.token, 4242, 'key-fingerprint');
    const [row] = await t.app.platform.database.db
      .select()
      .from(idempotencyKeys)
      .where(eq(idempotencyKeys.key, 'key-fingerprint'));
    const plain = createHash('sha256')
      .update(JSON.stringify({ body: { amount: 4242 }, params: {}, query: {} }))
      .digest('hex');
    expect(row?.requestHash).toMatch(/^[0-9a-f]{64}$/);
    expect(row?.requestHash).not.toBe(plain);
  });

  it('works without a key (no replay)', async () => {
    const user = await registerStudent(t);
    const before = runs;
    await charge(user.token, 3);
    await charge(user.token, 3);
    expect(runs - before).toBe(2);
  });
});
