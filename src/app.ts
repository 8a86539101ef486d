import { randomUUID } from 'node:crypto';
import cors from '@fastify/cors';
import Fastify, { type FastifyBaseLogger, type FastifyInstance } from 'fastify';
import { serializerCompiler, validatorCompiler } from 'fastify-type-provider-zod';
import type { Config } from './platform/config.ts';
import { type AuthGuard, createAuthGuard } from './platform/http/auth.ts';
import { registerErrorHandling } from './platform/http/error-handler.ts';
import { registerOpenApi } from './platform/http/openapi.ts';
import { opsRoutes } from './platform/http/ops.routes.ts';
import { rateLimitBuckets, registerRateLimit } from './platform/http/rate-limit.ts';
import type { RouteContext } from './platform/http/route-context.ts';
import { createLogger, lazyChildLoggerFactory, type Logger } from './platform/logger.ts';
import { devMailboxRoutes } from './platform/mail.ts';
import { createPlatform, type Platform, type ProcessRole } from './platform/platform.ts';
import { fileRoutes } from './platform/storage.ts';
import { createIdempotency } from './platform/http/idempotency.ts';
import { jobsAdminRoutes } from './platform/http/jobs-admin.routes.ts';
import { registerSecurityHeaders } from './platform/http/security-headers.ts';
import { createCatalogModule, type CatalogApi } from './modules/catalog/index.ts';
import { createCommerceModule, type CommerceApi } from './modules/commerce/index.ts';
import { createEnrollmentModule, type EnrollmentApi } from './modules/enrollment/index.ts';
import { createNotificationsModule, type NotificationsApi } from './modules/notifications/index.ts';
import { createIdentityModule, type IdentityApi } from './modules/identity/index.ts';

declare module 'fastify' {
  interface FastifyInstance {
    platform: Platform;
    guard: AuthGuard;
    /** What route plugins receive (guard, rate-limit buckets, idempotency). */
    routeContext: RouteContext;
    /** Each module's public API, for the CLI and in-process callers. */
    modules: {
      identity: IdentityApi;
      catalog: CatalogApi;
      commerce: CommerceApi;
      enrollment: EnrollmentApi;
      notifications: NotificationsApi;
    };
  }
}

export interface BuildOptions {
  config: Config;
  role?: ProcessRole;
  logger?: Logger;
}

const REQUEST_ID = /^[A-Za-z0-9._:-]{1,128}$/;

/**
 * Builds the whole application: platform services, HTTP plugins, then modules. Role `worker`
 * serves only health and metrics; its modules still register their job handlers.
 */
export async function buildApp({
  config,
  role = 'all',
  logger = createLogger(config.logLevel),
}: BuildOptions): Promise<FastifyInstance> {
  const platform = await createPlatform(config, { role, logger });

  const app = Fastify({
    loggerInstance: logger as FastifyBaseLogger,
    childLoggerFactory: (parent, bindings, opts) =>
      lazyChildLoggerFactory(parent as Logger, bindings, opts) as FastifyBaseLogger,
    trustProxy: config.http.trustProxy,
    bodyLimit: config.http.bodyLimit,
    requestIdHeader: false,
    genReqId: (req) => {
      const given = req.headers['x-request-id'];
      return typeof given === 'string' && REQUEST_ID.test(given) ? given : randomUUID();
    },
    return503OnClosing: true,
    forceCloseConnections: 'idle',
    routerOptions: { ignoreTrailingSlash: true },
    ajv: undefined,
  });
  app.decorate('platform', platform);
  app.setValidatorCompiler(validatorCompiler);
  app.setSerializerCompiler(serializerCompiler);
  app.addHook('onClose', async () => platform.close());

  // Callback-style hooks: every request runs them, and an async hook costs a promise each.
  app.addHook('onRequest', (request, reply, done) => {
    reply.header('x-request-id', request.id);
    done();
  });
  app.addHook('onResponse', (request, reply, done) => {
    platform.metrics.httpDuration.observe(
      {
        method: request.method,
        route: request.routeOptions.url ?? 'unmatched',
        status_code: reply.statusCode,
      },
      reply.elapsedTime / 1000,
    );
    done();
  });
  registerErrorHandling(app);

  registerSecurityHeaders(app, {
    // Over plain http (development) this directive would send browsers to https for every asset.
    contentSecurityPolicy: { directives: { upgradeInsecureRequests: config.isProduction ? [] : null } },
  });
  await app.register(cors, {
    origin: config.http.corsOrigins.length ? config.http.corsOrigins : false,
    credentials: true,
    exposedHeaders: [
      'x-request-id',
      'retry-after',
      'x-ratelimit-limit',
      'x-ratelimit-remaining',
      'x-ratelimit-reset',
    ],
  });
  await registerRateLimit(app, config, platform.redis);

  // Modules are built in every role so that their job handlers exist wherever workers run.
  const identity = createIdentityModule(platform);
  const catalog = createCatalogModule({ platform, identity: identity.api });
  const commerce = createCommerceModule({ platform, identity: identity.api, catalog: catalog.api });
  const enrollment = createEnrollmentModule({
    platform,
    identity: identity.api,
    catalog: catalog.api,
    commerce: commerce.api,
  });
  const notifications = createNotificationsModule({
    platform,
    identity: identity.api,
    catalog: catalog.api,
    enrollment: enrollment.api,
    commerce: commerce.api,
  });
  const guard = createAuthGuard(identity.api.verifyAccessToken);
  const idempotency = createIdempotency({
    database: platform.database,
    jobs: platform.jobs,
    secret: config.signingSecret,
  });
  idempotency.register(app);
  const ctx: RouteContext = {
    platform,
    guard,
    buckets: rateLimitBuckets(config),
    idempotency: idempotency.preHandler,
  };
  app.decorate('guard', guard);
  app.decorate('routeContext', ctx);
  app.decorate('modules', {
    identity: identity.api,
    catalog: catalog.api,
    commerce: commerce.api,
    enrollment: enrollment.api,
    notifications: notifications.api,
  });

  // Swagger collects routes as they are added, so it comes before every route.
  if (role !== 'worker') await registerOpenApi(app, config);
  await app.register(opsRoutes, { platform });
  if (role !== 'worker') {
    await app.register(fileRoutes, { storage: platform.storage });
    if (config.commerce.paystack.simulator) {
      await app.register(async (sim) => commerce.simulatorRoutes(sim, ctx), { prefix: '/sim/paystack' });
    }
    await app.register(
      async (api) => {
        await api.register(identity.routes, ctx);
        await api.register(catalog.routes, ctx);
        await api.register(commerce.routes, ctx);
        await api.register(enrollment.routes, ctx);
        await api.register(notifications.routes, ctx);
        await api.register(jobsAdminRoutes, ctx);
        if (!config.isProduction)
          await api.register(devMailboxRoutes, { mailer: platform.mailer, prefix: '/dev' });
      },
      { prefix: '/api' },
    );
  }

  app.addHook('onReady', async () => {
    await platform.jobs.start();
  });
  return app;
}
