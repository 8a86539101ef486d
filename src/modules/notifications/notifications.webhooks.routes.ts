import type { FastifyInstance, FastifyRequest } from 'fastify';
import type { ZodTypeProvider } from 'fastify-type-provider-zod';
import { bearerSecurity, principalOf } from '../../platform/http/auth.ts';
import { responses, successBody } from '../../platform/http/envelope.ts';
import type { RouteContext } from '../../platform/http/route-context.ts';
import {
  createWebhookBody,
  deletedResult,
  deliveryPage,
  deliveryParams,
  deliveryView,
  eventList,
  listDeliveriesQuery,
  listWebhooksQuery,
  updateWebhookBody,
  WEBHOOK_EVENTS,
  webhookIdParams,
  webhookPage,
  webhookView,
  webhookWithSecret,
} from './notifications.webhooks.schemas.ts';
import type { Actor, WebhookService } from './notifications.webhooks.service.ts';

const actorOf = (request: FastifyRequest): Actor => ({
  userId: principalOf(request).userId,
  ip: request.ip,
  userAgent: request.headers['user-agent']?.slice(0, 300),
  requestId: request.id,
});

const SIGNING =
  'Each delivery is a POST of `{ id, type, createdAt, data }` with `Lectern-Signature: t=<unix>,v1=<hex HMAC-SHA256 of "<t>.<body>">`, `Lectern-Event-Id` and `Lectern-Event-Type`; see docs/webhooks.md for verifying it.';

/** Admin-only outbound webhooks: endpoints, secrets, test pings and the delivery log. */
export function webhookRoutes(webhooks: WebhookService) {
  return async function routes(app: FastifyInstance, { guard }: RouteContext) {
    const r = app.withTypeProvider<ZodTypeProvider>();
    const admin = { onRequest: [guard.authenticate, guard.requireRole('admin')] };
    const tags = ['admin', 'webhooks'];

    r.get(
      '/admin/webhooks/events',
      {
        ...admin,
        schema: {
          operationId: 'adminListWebhookEvents',
          tags,
          summary: 'Events an endpoint can subscribe to',
          security: bearerSecurity,
          response: responses({ data: eventList }, [401, 403]),
        },
      },
      async () => successBody({ events: [...WEBHOOK_EVENTS] }),
    );

    r.post(
      '/admin/webhooks',
      {
        ...admin,
        schema: {
          operationId: 'adminCreateWebhook',
          tags,
          summary: 'Register a webhook endpoint',
          description: `Answers the endpoint with its signing \`secret\`, shown only this once (it is stored encrypted). ${SIGNING} Failed deliveries are retried with growing delays for hours; an endpoint failing for 24 hours is disabled and the admins are emailed. 400 for an unknown event (the message lists the supported ones) or a refused URL.`,
          security: bearerSecurity,
          body: createWebhookBody,
          response: responses({ status: 201, data: webhookWithSecret }, [401, 403]),
        },
      },
      async (request, reply) => {
        reply.status(201);
        return successBody(await webhooks.create(actorOf(request), request.body));
      },
    );

    r.get(
      '/admin/webhooks',
      {
        ...admin,
        schema: {
          operationId: 'adminListWebhooks',
          tags,
          summary: 'List webhook endpoints',
          description: 'Newest first; keyset pagination with `limit` (1–100, default 20) and `cursor`.',
          security: bearerSecurity,
          querystring: listWebhooksQuery,
          response: responses({ data: webhookPage }, [401, 403]),
        },
      },
      async (request) => successBody(await webhooks.list(request.query)),
    );

    r.get(
      '/admin/webhooks/:id',
      {
        ...admin,
        schema: {
          operationId: 'adminGetWebhook',
          tags,
          summary: 'One webhook endpoint',
          security: bearerSecurity,
          params: webhookIdParams,
          response: responses({ data: webhookView }, [401, 403, 404]),
        },
      },
      async (request) => successBody(await webhooks.get(request.params.id)),
    );

    r.patch(
      '/admin/webhooks/:id',
      {
        ...admin,
        schema: {
          operationId: 'adminUpdateWebhook',
          tags,
          summary: 'Change an endpoint’s URL, events, description or status',
          description:
            '`status: "active"` re-enables a disabled endpoint and clears its failure streak; deliveries that died meanwhile can be sent again with redeliver. A new URL is checked like a new endpoint’s.',
          security: bearerSecurity,
          params: webhookIdParams,
          body: updateWebhookBody,
          response: responses({ data: webhookView }, [401, 403, 404]),
        },
      },
      async (request) =>
        successBody(await webhooks.update(actorOf(request), request.params.id, request.body)),
    );

    r.delete(
      '/admin/webhooks/:id',
      {
        ...admin,
        schema: {
          operationId: 'adminDeleteWebhook',
          tags,
          summary: 'Delete an endpoint and its delivery log',
          description: 'Deliveries still queued for it are dropped.',
          security: bearerSecurity,
          params: webhookIdParams,
          response: responses({ data: deletedResult }, [401, 403, 404]),
        },
      },
      async (request) => successBody(await webhooks.remove(actorOf(request), request.params.id)),
    );

    r.post(
      '/admin/webhooks/:id/rotate-secret',
      {
        ...admin,
        schema: {
          operationId: 'adminRotateWebhookSecret',
          tags,
          summary: 'Issue a new signing secret',
          description:
            'Answers the new `secret` (shown only now). For 24 hours deliveries carry two signatures, `v1=<new>,v1=<old>`, so the receiver can switch at its own pace; then the old secret stops signing.',
          security: bearerSecurity,
          params: webhookIdParams,
          response: responses({ data: webhookWithSecret }, [401, 403, 404]),
        },
      },
      async (request) => successBody(await webhooks.rotateSecret(actorOf(request), request.params.id)),
    );

    r.post(
      '/admin/webhooks/:id/test',
      {
        ...admin,
        schema: {
          operationId: 'adminTestWebhook',
          tags,
          summary: 'Send a test (`webhook.ping`) event',
          description:
            'Queues a signed `webhook.ping` delivery, sent even while the endpoint is disabled; its outcome appears in the delivery log.',
          security: bearerSecurity,
          params: webhookIdParams,
          response: responses({ status: 202, data: deliveryView }, [401, 403, 404]),
        },
      },
      async (request, reply) => {
        reply.status(202);
        return successBody(await webhooks.sendTest(request.params.id));
      },
    );

    r.get(
      '/admin/webhooks/:id/deliveries',
      {
        ...admin,
        schema: {
          operationId: 'adminListWebhookDeliveries',
          tags,
          summary: 'An endpoint’s delivery log, with every attempt',
          description:
            'Newest first, filtered by `status`, with keyset pagination. Each delivery lists its attempts: status code, error, the start of the answer, duration.',
          security: bearerSecurity,
          params: webhookIdParams,
          querystring: listDeliveriesQuery,
          response: responses({ data: deliveryPage }, [401, 403, 404]),
        },
      },
      async (request) => successBody(await webhooks.listDeliveries(request.params.id, request.query)),
    );

    r.post(
      '/admin/webhooks/:id/deliveries/:deliveryId/redeliver',
      {
        ...admin,
        schema: {
          operationId: 'adminRedeliverWebhook',
          tags,
          summary: 'Send a delivery again',
          description:
            'Starts a new series of attempts (with retries) for a `succeeded` or `dead` delivery, with the same event id; sent even while the endpoint is disabled. 409 while the delivery is still `pending` or being retried.',
          security: bearerSecurity,
          params: deliveryParams,
          response: responses({ status: 202, data: deliveryView }, [401, 403, 404, 409]),
        },
      },
      async (request, reply) => {
        reply.status(202);
        return successBody(
          await webhooks.redeliver(actorOf(request), request.params.id, request.params.deliveryId),
        );
      },
    );
  };
}
