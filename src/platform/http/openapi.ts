import swagger from '@fastify/swagger';
import swaggerUi from '@fastify/swagger-ui';
import type { FastifyInstance } from 'fastify';
import { jsonSchemaTransform, jsonSchemaTransformObject } from 'fastify-type-provider-zod';
import type { Config } from '../config.ts';

export const openapiTags = [
  {
    name: 'auth',
    description: 'Registration, login, tokens and the caller’s profile (seed 002 Auth Service)',
  },
  { name: 'courses', description: 'Courses: create, edit, publish, archive (catalog module)' },
  { name: 'curriculum', description: 'Sections and lessons of a course' },
  { name: 'catalog', description: 'Browsing and search: listings, facets, suggestions, categories, tags' },
  { name: 'users', description: 'Public profiles of instructors' },
  {
    name: 'payments',
    description: 'Checkout: payments by card, Paystack and wallet; payment status; Paystack webhooks',
  },
  { name: 'orders', description: 'My orders, their history, refunds and PDF receipts' },
  { name: 'wallet', description: 'My wallet: balances, statement, voucher top-ups' },
  { name: 'vouchers', description: 'Wallet voucher batches: create, list, export, disable (admin)' },
  {
    name: 'coupons',
    description: 'Discount codes for courses (instructors for their courses, admins site-wide)',
  },
  { name: 'enrollments', description: 'Enrollments, course content for enrolled students, course rosters' },
  { name: 'notifications', description: 'In-app and email notifications, preferences, delivery log' },
  { name: 'webhooks', description: 'Outbound webhooks to other systems (admin)' },
  { name: 'jobs', description: 'Background jobs: queues, failures, retries (admin)' },
  { name: 'me', description: 'Privacy: export of my data, erasure of my account' },
  { name: 'admin', description: 'Administration: users, invitations, audit log' },
  { name: 'health', description: 'Liveness and readiness probes' },
  { name: 'dev', description: 'Development helpers, absent in production' },
];

/** OpenAPI 3.1 generated from the route schemas, served at /openapi.json with a docs UI at /docs. */
export async function registerOpenApi(app: FastifyInstance, config: Config) {
  await app.register(swagger, {
    openapi: {
      openapi: '3.1.0',
      info: {
        title: 'Lectern API',
        version: '0.1.0',
        description:
          'Lectern, the open-source online learning platform. Every response is wrapped in the envelope ' +
          '`{ status, data, error, timestamp }`; errors carry `error.errorCode`, `error.message` and, for ' +
          'validation errors, `error.details` with one entry per bad field.',
        license: { name: 'AGPL-3.0-or-later', url: 'https://www.gnu.org/licenses/agpl-3.0.html' },
      },
      servers: [{ url: config.publicUrl }],
      tags: openapiTags,
      components: {
        securitySchemes: {
          bearerAuth: { type: 'http', scheme: 'bearer', bearerFormat: 'JWT' },
        },
      },
    },
    transform: jsonSchemaTransform,
    transformObject: jsonSchemaTransformObject,
  });
  await app.register(swaggerUi, {
    routePrefix: '/docs',
    staticCSP: true,
    // Same as helmet's policy: over plain http (development) this directive would break the UI.
    transformStaticCSP: (header) =>
      config.isProduction ? header : header.replace(/\s*upgrade-insecure-requests;?/, ''),
    uiConfig: { docExpansion: 'list', deepLinking: true, persistAuthorization: false },
  });
  app.get('/openapi.json', { schema: { hide: true } }, async () => app.swagger());
}

/** The generated spec with the server URL made neutral, as committed in docs/openapi.json. */
export function canonicalSpec(app: FastifyInstance): string {
  const spec = structuredClone(app.swagger()) as { servers?: Array<{ url: string }> };
  spec.servers = [{ url: 'http://localhost:3000' }];
  return `${JSON.stringify(spec, null, 2)}\n`;
}
