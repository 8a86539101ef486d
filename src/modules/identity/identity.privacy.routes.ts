import type { FastifyInstance } from 'fastify';
import type { ZodTypeProvider } from 'fastify-type-provider-zod';
import { z } from 'zod';
import { bearerSecurity, principalOf } from '../../platform/http/auth.ts';
import { responses, successBody } from '../../platform/http/envelope.ts';
import type { RouteContext } from '../../platform/http/route-context.ts';
import { metaOf } from './identity.http.ts';
import type { PrivacyService } from './identity.privacy.service.ts';
import { messageResult } from './identity.schemas.ts';

const exportStatus = z.enum(['pending', 'ready', 'failed', 'expired']).meta({
  description:
    '`pending` while the archive is built, `ready` once the link was emailed, `failed` after the last retry, `expired` when the archive was deleted 7 days later',
});

const exportRequested = z.object({
  exportId: z.number().int(),
  status: z.literal('pending'),
  message: z
    .string()
    .meta({ example: 'Your data export is being prepared; we will email you a download link' }),
});

const exportItem = z.object({
  exportId: z.number().int(),
  status: exportStatus,
  createdAt: z.string(),
  completedAt: z.string().nullable(),
});

const exportsQuery = z.strictObject({
  limit: z.coerce.number().int().min(1).max(100).default(20),
  cursor: z.coerce
    .number()
    .int()
    .positive()
    .max(2_147_483_647)
    .optional()
    .describe('`pageInfo.nextCursor` of the previous page'),
});

const eraseBody = z
  .strictObject({
    password: z
      .string()
      .min(1)
      .max(128)
      .optional()
      .meta({ description: 'Required when the account has a password' }),
    code: z
      .string()
      .regex(/^\d{6}$/, 'Must be the 6-digit code of your authenticator app')
      .optional()
      .meta({ description: 'Required when two-factor authentication is on' }),
  })
  .meta({
    description: 'Proof that it is really you: your password and/or your current authenticator code.',
  });

/** GDPR self-service: data export and account erasure, under /api/me. */
export function privacyRoutes(privacy: PrivacyService) {
  return async function routes(app: FastifyInstance, { guard, buckets }: RouteContext) {
    const r = app.withTypeProvider<ZodTypeProvider>();
    const authed = { onRequest: guard.authenticate };

    r.post(
      '/me/export',
      {
        ...authed,
        schema: {
          operationId: 'requestDataExport',
          tags: ['me'],
          summary: 'Request a copy of my personal data',
          description:
            'Answers 202 and builds, in the background, a JSON archive of everything the platform holds about the caller (profile, devices, linked sign-in providers, two-factor status, audit trail, earlier exports; never secrets). A signed download link, valid 7 days, is emailed to the account’s address only. One export at a time (409 while one is pending) and at most 3 a day (429 with Retry-After).',
          security: bearerSecurity,
          response: responses({ status: 202, data: exportRequested }, [401, 404, 409]),
        },
      },
      async (request, reply) =>
        reply
          .code(202)
          .send(successBody(await privacy.requestExport(principalOf(request).userId, metaOf(request)))),
    );

    r.get(
      '/me/exports',
      {
        ...authed,
        schema: {
          operationId: 'listDataExports',
          tags: ['me'],
          summary: 'My data exports',
          description:
            'Newest first, keyset pagination by `cursor`. The download link is sent by email only, so a stolen session cannot fetch the archive.',
          security: bearerSecurity,
          querystring: exportsQuery,
          response: responses(
            {
              data: z.object({
                items: z.array(exportItem),
                pageInfo: z.object({ nextCursor: z.string().nullable(), hasMore: z.boolean() }),
              }),
            },
            [401],
          ),
        },
      },
      async (request) => successBody(await privacy.listExports(principalOf(request).userId, request.query)),
    );

    r.delete(
      '/me',
      {
        ...authed,
        config: { rateLimit: buckets.credentials },
        schema: {
          operationId: 'deleteMyAccount',
          tags: ['me'],
          summary: 'Delete my account and personal data',
          description:
            'Needs the password (when the account has one) and, with two-factor authentication on, a current authenticator code; a wrong one is 400 on that field and changes nothing, and repeated failures lock the action out (429). Then every session ends, personal fields are anonymised, credentials, second factors, linked providers, data exports and the uploaded avatar are deleted, and other modules are told to erase or anonymise what they hold (payments are kept anonymised, as the law requires). The email address can be registered again.',
          security: bearerSecurity,
          body: eraseBody,
          response: responses({ data: messageResult }, [401, 404]),
        },
      },
      async (request) =>
        successBody(await privacy.eraseMe(principalOf(request).userId, request.body, metaOf(request))),
    );
  };
}
