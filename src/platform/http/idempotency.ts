import { createHmac } from 'node:crypto';
import { and, eq, isNull, lt, sql } from 'drizzle-orm';
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { z } from 'zod';
import type { Database } from '../db.ts';
import { InProgress, UnprocessableEntity, ValidationError } from '../errors.ts';
import type { Jobs } from '../jobs.ts';
import { idempotencyKeys } from '../platform.tables.ts';

const KEY = /^[\x21-\x7e]{1,255}$/;
/**
 * A first request that has not finished after this long is presumed dead (its process crashed), and
 * a retry may take over. Far longer than any request runs (outbound calls time out after 10 to 30
 * s), so a slow first request is not run a second time beside itself; the price is that a retry
 * after a crash waits this long (409 until then).
 */
const ABANDONED_AFTER_MS = 5 * 60_000;
/** Keys are kept at least this long (Stripe keeps them 24 hours). */
const RETENTION_HOURS = 48;
export const PURGE_IDEMPOTENCY_JOB = 'platform.purgeIdempotencyKeys';

/**
 * The `Idempotency-Key` request header, for route schemas. Loose, so the other headers
 * (authorization above all) stay on the request after validation.
 */
export const idempotencyHeaderSchema = z.looseObject({
  'idempotency-key': z
    .string()
    .regex(KEY, 'Idempotency-Key must be 1 to 255 printable ASCII characters')
    .optional()
    .meta({
      description:
        'Makes the request safe to retry: the same key with the same body replays the first response; with a different body it is refused (422). Keys are kept for at least 24 hours.',
    }),
});

declare module 'fastify' {
  interface FastifyRequest {
    idempotency?: { scope: string; key: string };
  }
}

/** A canonical JSON text: object keys sorted, so key order in the body does not change the hash. */
function canonical(value: unknown): string {
  if (Array.isArray(value)) return `[${value.map(canonical).join(',')}]`;
  if (value && typeof value === 'object') {
    return `{${Object.keys(value)
      .sort()
      .map((k) => `${JSON.stringify(k)}:${canonical((value as Record<string, unknown>)[k])}`)
      .join(',')}}`;
  }
  return JSON.stringify(value) ?? 'null';
}

/**
 * Stripe's idempotency semantics for requests that move money or create enrollments. Use the
 * returned preHandler with authentication in onRequest (`onRequest: guard.authenticate,
 * preHandler: idempotency`), so an anonymous request is 401 before its body is validated.
 * The first request with a key runs and its response (2xx or 4xx) is stored; a retry with the
 * same key and body gets that response again (header `idempotent-replayed: true`); the same key
 * with another body is 422; a retry while the first still runs is 409. Server errors (5xx), 429s
 * and other answers with `Retry-After` (409 `InProgress`: a clash with a request still running) are
 * not results and are not stored, so the client can retry them with the same key.
 */
export function createIdempotency({
  database,
  jobs,
  secret,
}: {
  database: Database;
  jobs: Jobs;
  /**
   * Keys the request fingerprint. Bodies can hold card numbers and CVVs: a plain hash of a
   * 16-digit number with a known prefix and a 3-digit CVV is brute-forced in minutes, so the
   * stored fingerprint is an HMAC that nobody without the server secret can test guesses against.
   */
  secret: string;
}) {
  const { db } = database;
  const fingerprint = (value: unknown) =>
    createHmac('sha256', `idempotency:${secret}`).update(canonical(value)).digest('hex');

  jobs.define({
    name: PURGE_IDEMPOTENCY_JOB,
    retryLimit: 2,
    handler: async () => {
      await db
        .delete(idempotencyKeys)
        .where(lt(idempotencyKeys.createdAt, new Date(Date.now() - RETENTION_HOURS * 3600_000)));
    },
  });
  jobs.schedule(PURGE_IDEMPOTENCY_JOB, '17 * * * *');

  async function preHandler(request: FastifyRequest, reply: FastifyReply) {
    const raw = request.headers['idempotency-key'];
    if (raw === undefined) return;
    if (typeof raw !== 'string' || !KEY.test(raw)) {
      throw new ValidationError('Invalid Idempotency-Key', [
        { field: 'headers.idempotency-key', message: 'Must be 1 to 255 printable ASCII characters' },
      ]);
    }
    const scope = `${request.principal?.userId ?? 'anonymous'}:${request.method} ${request.routeOptions.url}`;
    const requestHash = fingerprint({
      params: request.params,
      query: request.query,
      body: request.body,
    });
    const match = and(eq(idempotencyKeys.scope, scope), eq(idempotencyKeys.key, raw));

    const [claimed] = await db
      .insert(idempotencyKeys)
      .values({ scope, key: raw, requestHash })
      .onConflictDoNothing()
      .returning({ key: idempotencyKeys.key });
    if (claimed) {
      request.idempotency = { scope, key: raw };
      return;
    }
    const [existing] = await db.select().from(idempotencyKeys).where(match);
    if (!existing) {
      // Purged between the two statements: treat it as new.
      return preHandler(request, reply);
    }
    if (existing.requestHash !== requestHash) {
      throw new UnprocessableEntity(
        'This Idempotency-Key was already used with a different request; use a new key for a new request',
      );
    }
    if (existing.responseStatus === null || existing.responseBody === null) {
      const [takenOver] = await db
        .update(idempotencyKeys)
        .set({ createdAt: new Date() })
        .where(
          and(
            match,
            isNull(idempotencyKeys.responseStatus),
            lt(idempotencyKeys.createdAt, new Date(Date.now() - ABANDONED_AFTER_MS)),
          ),
        )
        .returning({ key: idempotencyKeys.key });
      if (takenOver) {
        request.idempotency = { scope, key: raw };
        return;
      }
      throw new InProgress('A request with this Idempotency-Key is still being processed; retry shortly');
    }
    return reply
      .code(existing.responseStatus)
      .header('content-type', 'application/json; charset=utf-8')
      .header('idempotent-replayed', 'true')
      .serializer((payload: unknown) => payload as string)
      .send(existing.responseBody);
  }

  /** Stores the first response for replays. */
  async function storeResponse(request: FastifyRequest, reply: FastifyReply, payload: unknown) {
    const claim = request.idempotency;
    if (!claim) return payload;
    request.idempotency = undefined;
    const match = and(eq(idempotencyKeys.scope, claim.scope), eq(idempotencyKeys.key, claim.key));
    // Server errors, rate-limit answers and clashes with a request still running (`Retry-After`)
    // are not results: a retry with the same key may run.
    if (
      reply.statusCode >= 500 ||
      reply.statusCode === 429 ||
      reply.hasHeader('retry-after') ||
      typeof payload !== 'string'
    ) {
      await db.delete(idempotencyKeys).where(match);
    } else {
      await db
        .update(idempotencyKeys)
        .set({ responseStatus: reply.statusCode, responseBody: payload, completedAt: sql`now()` })
        .where(match);
    }
    return payload;
  }

  /**
   * Adds `storeResponse` as an onSend hook to each route whose preHandlers include `preHandler`
   * (registered once, on the root instance, before the routes), so other routes pay nothing for it.
   */
  function register(app: FastifyInstance) {
    app.addHook('onRoute', (route) => {
      const pre = route.preHandler;
      if (!(Array.isArray(pre) ? pre.includes(preHandler) : pre === preHandler)) return;
      const onSend = route.onSend;
      route.onSend = [...(Array.isArray(onSend) ? onSend : onSend ? [onSend] : []), storeResponse];
    });
  }

  return { preHandler, register };
}
export type Idempotency = ReturnType<typeof createIdempotency>;
