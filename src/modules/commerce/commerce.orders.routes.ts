import type { FastifyInstance } from 'fastify';
import type { ZodTypeProvider } from 'fastify-type-provider-zod';
import { bearerSecurity, principalOf } from '../../platform/http/auth.ts';
import { responses, successBody } from '../../platform/http/envelope.ts';
import type { RouteContext } from '../../platform/http/route-context.ts';
import { listOrdersQuery, orderDetail, orderPage, orderParams } from './commerce.orders.schemas.ts';
import type { OrdersService } from './commerce.orders.service.ts';

const tags = ['orders'];

/** A buyer's orders: the price snapshot, payments and history of each purchase. */
export function orderRoutes(orders: OrdersService) {
  return async function routes(app: FastifyInstance, { guard }: RouteContext) {
    const r = app.withTypeProvider<ZodTypeProvider>();

    r.get(
      '/orders',
      {
        onRequest: guard.authenticate,
        schema: {
          operationId: 'listOrders',
          tags,
          summary: 'My orders',
          description:
            'The caller’s orders, newest first, optionally by `status`. Admins may pass `userId` to list another user’s orders. Orders not paid within 24 hours are cancelled.',
          security: bearerSecurity,
          querystring: listOrdersQuery,
          response: responses({ data: orderPage }, [401, 403]),
        },
      },
      async (request) => successBody(await orders.list(principalOf(request), request.query)),
    );

    r.get(
      '/orders/:id',
      {
        onRequest: guard.authenticate,
        schema: {
          operationId: 'getOrder',
          tags,
          summary: 'One order with its payments and history',
          description:
            'The buyer and admins; 404 for anyone else. Shows the price snapshot, discount and coupon, every payment attempt (card brand and last four only) and every status change with its reason.',
          security: bearerSecurity,
          params: orderParams,
          response: responses({ data: orderDetail }, [401, 404]),
        },
      },
      async (request) => successBody(await orders.get(principalOf(request), request.params.id)),
    );
  };
}
