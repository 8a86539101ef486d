import type { FastifyInstance } from 'fastify';
import type { ZodTypeProvider } from 'fastify-type-provider-zod';
import { bearerSecurity, principalOf } from '../../platform/http/auth.ts';
import { responses, successBody } from '../../platform/http/envelope.ts';
import { idempotencyHeaderSchema } from '../../platform/http/idempotency.ts';
import type { RouteContext } from '../../platform/http/route-context.ts';
import {
  inboxPage,
  inboxQuery,
  logQuery,
  logResult,
  notificationIdParams,
  readAllResult,
  readResult,
  sendBody,
  sendResult,
} from './notifications.schemas.ts';
import type { NotificationsService } from './notifications.service.ts';

const tags = ['notifications'];

/** Seed 002's send and log, and the in-app inbox. */
export function notificationRoutes(service: NotificationsService) {
  return async function routes(app: FastifyInstance, { guard, idempotency }: RouteContext) {
    const r = app.withTypeProvider<ZodTypeProvider>();
    const authed = { onRequest: guard.authenticate };

    r.post(
      '/notifications/send',
      {
        onRequest: guard.authenticate,
        preHandler: idempotency,
        schema: {
          operationId: 'sendNotification',
          tags,
          summary: 'Send a notification to a user (seed 002)',
          description:
            'Admins may message anyone (category `account`, always delivered). Instructors may message only students with a live enrollment in a course they own or co-teach (403 otherwise); their messages are `course_updates` and follow the student’s preferences — a channel the student turned off is recorded with delivery status `skipped`. Students get 403; an unknown recipient is 404. `email` goes out through a job (see the log for each attempt); `in_app` appears in the recipient’s inbox; `push` is recorded but `skipped` because no push provider is configured. `sendAt` (future, at most a year ahead) schedules the delivery; when it comes due, the recipient’s switches and the sender’s right to message them are checked again, and the delivery is `skipped` (with the reason) if either changed. Optional `Idempotency-Key` makes retries safe.',
          security: bearerSecurity,
          headers: idempotencyHeaderSchema,
          body: sendBody,
          response: responses({ status: 201, data: sendResult }, [401, 403, 404, 409, 422]),
        },
      },
      async (request, reply) => {
        const result = await service.send(principalOf(request), request.body);
        reply.status(201);
        return successBody(result);
      },
    );

    r.get(
      '/notifications/log',
      {
        ...authed,
        schema: {
          operationId: 'getNotificationLog',
          tags,
          summary: 'Delivery log (seed 002)',
          description:
            'One row per delivery attempt, newest first: `pending` (waiting for its attempt), `sent`, `failed` (with the SMTP answer or error; a retry gets its own row) or `skipped` (with the reason). Your own log, or any user’s for admins (403 otherwise). 404 “No logs found” when there is nothing to show.',
          security: bearerSecurity,
          querystring: logQuery,
          response: responses({ data: logResult }, [401, 403, 404]),
        },
      },
      async (request) => successBody(await service.log(principalOf(request), request.query)),
    );

    r.get(
      '/notifications',
      {
        ...authed,
        schema: {
          operationId: 'listMyNotifications',
          tags,
          summary: 'My in-app notifications',
          description:
            'Newest first, keyset pagination (`limit`, `cursor`); `unreadOnly=true` hides read ones. `unreadCount` counts all unread notifications, whatever the page.',
          security: bearerSecurity,
          querystring: inboxQuery,
          response: responses({ data: inboxPage }, [401]),
        },
      },
      async (request) => successBody(await service.inbox(principalOf(request), request.query)),
    );

    r.post(
      '/notifications/:id/read',
      {
        ...authed,
        schema: {
          operationId: 'markNotificationRead',
          tags,
          summary: 'Mark one of my notifications read',
          description: 'Idempotent. Another user’s notification is 404, as is an unknown id.',
          security: bearerSecurity,
          params: notificationIdParams,
          response: responses({ data: readResult }, [401, 404]),
        },
      },
      async (request) => successBody(await service.markRead(principalOf(request), request.params.id)),
    );

    r.post(
      '/notifications/read-all',
      {
        ...authed,
        schema: {
          operationId: 'markAllNotificationsRead',
          tags,
          summary: 'Mark all my notifications read',
          security: bearerSecurity,
          response: responses({ data: readAllResult }, [401]),
        },
      },
      async (request) => successBody(await service.markAllRead(principalOf(request))),
    );
  };
}
