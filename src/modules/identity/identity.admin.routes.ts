import type { FastifyInstance } from 'fastify';
import type { ZodTypeProvider } from 'fastify-type-provider-zod';
import { bearerSecurity, principalOf } from '../../platform/http/auth.ts';
import { responses, successBody } from '../../platform/http/envelope.ts';
import type { RouteContext } from '../../platform/http/route-context.ts';
import {
  adminUserDetail,
  auditPage,
  auditVerification,
  createdUser,
  createUserBody,
  listAuditQuery,
  listUsersQuery,
  updateUserBody,
  userIdParams,
  userPage,
} from './identity.admin.schemas.ts';
import type { AdminUsers } from './identity.admin.service.ts';
import type { AuditService } from './identity.audit.service.ts';
import { metaOf } from './identity.http.ts';
import { messageResult } from './identity.schemas.ts';

/** Admin-only user management (seed 004) and the audit log. */
export function adminRoutes(users: AdminUsers, audit: AuditService) {
  return async function routes(app: FastifyInstance, { guard }: RouteContext) {
    const r = app.withTypeProvider<ZodTypeProvider>();
    const admin = { onRequest: [guard.authenticate, guard.requireRole('admin')] };

    r.get(
      '/admin/users',
      {
        ...admin,
        schema: {
          operationId: 'adminListUsers',
          tags: ['admin'],
          summary: 'Search and list users',
          description:
            '`q` matches name, email or username (case-insensitive substring). Newest first; keyset pagination with `limit` (1–100, default 20) and `cursor`.',
          security: bearerSecurity,
          querystring: listUsersQuery,
          response: responses({ data: userPage }, [401, 403]),
        },
      },
      async (request) => successBody(await users.list(request.query)),
    );

    r.post(
      '/admin/users',
      {
        ...admin,
        schema: {
          operationId: 'adminCreateUser',
          tags: ['admin'],
          summary: 'Create an instructor or admin and email an invitation',
          description:
            'The account has no password: the email carries a link to `/accept-invitation?token=…` of the web app, valid 7 days, where the person chooses one (POST /api/auth/invitations/accept). 409 when the email is taken.',
          security: bearerSecurity,
          body: createUserBody,
          response: responses({ status: 201, data: createdUser }, [401, 403, 409]),
        },
      },
      async (request, reply) => {
        reply.status(201);
        return successBody(await users.create(principalOf(request), request.body, metaOf(request)));
      },
    );

    r.get(
      '/admin/users/:id',
      {
        ...admin,
        schema: {
          operationId: 'adminGetUser',
          tags: ['admin'],
          summary: 'One user, with live sessions',
          security: bearerSecurity,
          params: userIdParams,
          response: responses({ data: adminUserDetail }, [401, 403, 404]),
        },
      },
      async (request) => successBody(await users.get(request.params.id)),
    );

    r.post(
      '/admin/users/:id/invitation',
      {
        ...admin,
        schema: {
          operationId: 'adminResendInvitation',
          tags: ['admin'],
          summary: 'Email a new invitation link',
          description:
            'The previous link stops working. 409 when the user has already set a password or is suspended.',
          security: bearerSecurity,
          params: userIdParams,
          response: responses({ data: messageResult }, [401, 403, 404, 409]),
        },
      },
      async (request) =>
        successBody(await users.resendInvitation(principalOf(request), request.params.id, metaOf(request))),
    );

    r.patch(
      '/admin/users/:id',
      {
        ...admin,
        schema: {
          operationId: 'adminUpdateUser',
          tags: ['admin'],
          summary: 'Change a user’s role, suspend or reactivate',
          description:
            'Both take effect on the user’s very next request: suspending signs out every session at once and refuses sign-in (403); a role change applies to existing access tokens. The last active admin cannot be demoted or suspended (409), nor can a deleted user be changed (409).',
          security: bearerSecurity,
          params: userIdParams,
          body: updateUserBody,
          response: responses({ data: adminUserDetail }, [401, 403, 404, 409]),
        },
      },
      async (request) =>
        successBody(
          await users.update(principalOf(request), request.params.id, request.body, metaOf(request)),
        ),
    );

    r.delete(
      '/admin/users/:id',
      {
        ...admin,
        schema: {
          operationId: 'adminDeleteUser',
          tags: ['admin'],
          summary: 'Deactivate and anonymise a user',
          description:
            'Signs the user out everywhere, erases personal fields and credentials (the row stays, anonymised, for payments and the audit log) and tells other modules to erase theirs. The last active admin cannot be deleted (409); an already deleted user is 404.',
          security: bearerSecurity,
          params: userIdParams,
          response: responses({ data: messageResult }, [401, 403, 404, 409]),
        },
      },
      async (request) =>
        successBody(await users.remove(principalOf(request), request.params.id, metaOf(request))),
    );

    r.get(
      '/admin/audit',
      {
        ...admin,
        schema: {
          operationId: 'adminListAudit',
          tags: ['admin'],
          summary: 'Search the audit log',
          description:
            'Security-relevant actions (sign-ins, MFA, passwords, sessions, role and status changes, every admin action), newest first, with keyset pagination. `from` is inclusive, `to` exclusive.',
          security: bearerSecurity,
          querystring: listAuditQuery,
          response: responses({ data: auditPage }, [401, 403]),
        },
      },
      async (request) => successBody(await audit.list(request.query)),
    );

    r.get(
      '/admin/audit/verify',
      {
        ...admin,
        schema: {
          operationId: 'adminVerifyAudit',
          tags: ['admin'],
          summary: 'Check the audit log’s hash chain',
          description:
            'Walks every row in order. An edited row is reported itself; a deleted row is reported as the row after it. Same check as `lectern audit verify`.',
          security: bearerSecurity,
          response: responses({ data: auditVerification }, [401, 403]),
        },
      },
      async () => successBody(await audit.verify()),
    );
  };
}
