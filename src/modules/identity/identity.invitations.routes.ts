import type { FastifyInstance } from 'fastify';
import type { ZodTypeProvider } from 'fastify-type-provider-zod';
import { responses, successBody } from '../../platform/http/envelope.ts';
import type { RouteContext } from '../../platform/http/route-context.ts';
import { acceptInvitationBody } from './identity.admin.schemas.ts';
import { metaOf } from './identity.http.ts';
import type { Invitations } from './identity.invitations.service.ts';
import { signInBody } from './identity.routes.ts';
import { signInResult } from './identity.schemas.ts';

/** Accepting an admin's invitation: the public end of `POST /api/admin/users`. */
export function invitationRoutes(invitations: Invitations) {
  return async function routes(app: FastifyInstance, { buckets }: RouteContext) {
    app.withTypeProvider<ZodTypeProvider>().post(
      '/auth/invitations/accept',
      {
        config: { rateLimit: buckets.credentials },
        schema: {
          operationId: 'acceptInvitation',
          tags: ['auth'],
          summary: 'Accept an invitation: choose a password and sign in',
          description:
            'Takes the `token` of the emailed invitation link (valid 7 days, single use) and a password following the registration rules; `name` optionally corrects the name the admin entered. Verifies the email and answers like password login. A used, expired or unknown token answers 400 on `body.token`.',
          body: acceptInvitationBody,
          response: responses({ data: signInResult }, [403]),
        },
      },
      async (request) =>
        successBody(
          signInBody(await invitations.accept(request.body, metaOf(request)), 'Invitation accepted'),
        ),
    );
  };
}
