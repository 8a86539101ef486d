import { timingSafeEqual } from 'node:crypto';
import type { FastifyInstance } from 'fastify';
import type { ZodTypeProvider } from 'fastify-type-provider-zod';
import { z } from 'zod';
import { ServiceUnavailable, Unauthorized } from '../errors.ts';
import type { Platform } from '../platform.ts';
import { responses, successBody } from './envelope.ts';

const checkSchema = z.object({ status: z.enum(['up', 'down', 'disabled']), error: z.string().optional() });

async function check(run: () => Promise<unknown>): Promise<z.infer<typeof checkSchema>> {
  try {
    await Promise.race([
      run(),
      new Promise((_, reject) => setTimeout(() => reject(new Error('timed out after 2s')), 2000).unref()),
    ]);
    return { status: 'up' };
  } catch (err) {
    return { status: 'down', error: err instanceof Error ? err.message : 'unavailable' };
  }
}

function tokensMatch(given: string, expected: string) {
  const a = Buffer.from(given);
  const b = Buffer.from(expected);
  return a.length === b.length && timingSafeEqual(a, b);
}

/** Liveness, readiness and the Prometheus scrape endpoint. */
export async function opsRoutes(app: FastifyInstance, { platform }: { platform: Platform }) {
  const r = app.withTypeProvider<ZodTypeProvider>();
  r.get(
    '/health/live',
    {
      schema: {
        operationId: 'healthLive',
        tags: ['health'],
        summary: 'Liveness: the process is up and serving',
        response: responses({ data: z.object({ status: z.literal('ok'), uptimeSeconds: z.number() }) }),
      },
    },
    async () => successBody({ status: 'ok' as const, uptimeSeconds: Math.round(process.uptime()) }),
  );

  r.get(
    '/health/ready',
    {
      schema: {
        operationId: 'healthReady',
        tags: ['health'],
        summary: 'Readiness: database, Redis (when configured) and the job queue answer',
        description: 'Answers 503 with the failing checks in `error.details` when a dependency is down.',
        response: responses(
          {
            data: z.object({
              status: z.literal('ready'),
              role: z.enum(['all', 'api', 'worker']),
              checks: z.object({ database: checkSchema, redis: checkSchema, jobs: checkSchema }),
            }),
          },
          [503],
        ),
      },
    },
    async () => {
      const [database, redis, jobs] = await Promise.all([
        check(() => platform.database.ping()),
        platform.redis
          ? check(() => platform.redis!.ping())
          : Promise.resolve({ status: 'disabled' as const }),
        check(() => platform.jobs.ping()),
      ]);
      const checks = { database, redis, jobs };
      const failing = Object.entries(checks).filter(([, c]) => c.status === 'down');
      if (failing.length) {
        throw new ServiceUnavailable('Not ready', {
          details: failing.map(([field, c]) => ({ field, message: ('error' in c && c.error) || 'down' })),
        });
      }
      return successBody({ status: 'ready' as const, role: platform.role, checks });
    },
  );

  app.get('/metrics', { schema: { hide: true } }, async (request, reply) => {
    const token = platform.config.metricsToken;
    if (token) {
      const given = /^Bearer (.+)$/.exec(request.headers.authorization ?? '')?.[1];
      if (!given || !tokensMatch(given, token)) throw new Unauthorized('A valid metrics token is required');
    }
    reply.type(platform.metrics.registry.contentType);
    return platform.metrics.registry.metrics();
  });
}
