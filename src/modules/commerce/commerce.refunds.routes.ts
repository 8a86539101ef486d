import type { FastifyInstance } from 'fastify';
import type { ZodTypeProvider } from 'fastify-type-provider-zod';
import { bearerSecurity, principalOf } from '../../platform/http/auth.ts';
import { envelope, responses, successBody } from '../../platform/http/envelope.ts';
import { idempotencyHeaderSchema } from '../../platform/http/idempotency.ts';
import type { RouteContext } from '../../platform/http/route-context.ts';
import { refundBody, refundParams, refundView } from './commerce.refunds.schemas.ts';
import type { RefundsService } from './commerce.refunds.service.ts';

const tags = ['orders'];

/** Refunds of paid orders, back to the original payment method. */
export function refundRoutes(refunds: RefundsService) {
  return async function routes(app: FastifyInstance, { guard, idempotency }: RouteContext) {
    const r = app.withTypeProvider<ZodTypeProvider>();

    r.post(
      '/orders/:id/refund',
      {
        onRequest: guard.authenticate,
        preHandler: idempotency,
        schema: {
          operationId: 'refundOrder',
          tags,
          summary: 'Refund a paid order in full',
          description: [
            'Admins may refund any paid order; the buyer may refund their own within the refund window after payment (`REFUND_WINDOW_DAYS`, default 14; 403 after, with the reason). Anyone else gets 404. Only `paid` orders can be refunded: an order already refunded, or with a refund in progress, is 409.',
            'The money goes back through the original method: the card gateway, Paystack’s refund API, or a credit to the wallet. The order and payment become `refunded`, the ledger records the refund, and the course access the purchase gave is revoked.',
            '200 with `status: succeeded` when the money is back; 202 with `status: pending` when the gateway could not be reached: the refund is recorded and retried in the background until it completes (see `GET /api/orders/{id}/refund`). Send an `Idempotency-Key` to retry safely.',
          ].join('\n\n'),
          security: bearerSecurity,
          headers: idempotencyHeaderSchema,
          params: refundParams,
          body: refundBody,
          response: {
            ...responses({ data: refundView }, [401, 403, 404, 409, 422]),
            202: envelope(refundView),
          },
        },
      },
      async (request, reply) => {
        const { completed, refund } = await refunds.request(
          {
            ...principalOf(request),
            ip: request.ip,
            userAgent: request.headers['user-agent'],
            requestId: request.id,
          },
          request.params.id,
          request.body,
        );
        if (!completed) reply.status(202);
        return successBody(refund);
      },
    );

    r.get(
      '/orders/:id/refund',
      {
        onRequest: guard.authenticate,
        schema: {
          operationId: 'getOrderRefund',
          tags,
          summary: 'The refund of an order',
          description:
            'The buyer and admins; 404 for anyone else and for an order without a refund. Shows whether the money is back (`succeeded`), on its way (`pending`, with the attempts so far and why the last one failed) or could not be returned (`failed`: the order stays paid and may be refunded again).',
          security: bearerSecurity,
          params: refundParams,
          response: responses({ data: refundView }, [401, 404]),
        },
      },
      async (request) => successBody(await refunds.get(principalOf(request), request.params.id)),
    );
  };
}
