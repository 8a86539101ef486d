import type { FastifyInstance } from 'fastify';
import type { ZodTypeProvider } from 'fastify-type-provider-zod';
import { bearerSecurity, principalOf } from '../../platform/http/auth.ts';
import { responses, successBody } from '../../platform/http/envelope.ts';
import { idempotencyHeaderSchema } from '../../platform/http/idempotency.ts';
import type { RouteContext } from '../../platform/http/route-context.ts';
import {
  initiatedPayment,
  initiatePaymentBody,
  paymentStatus,
  transactionParams,
} from './commerce.payments.schemas.ts';
import type { PaymentsService } from './commerce.payments.service.ts';

const tags = ['payments'];

/** Seed 002's Payment Service endpoints. */
export function paymentRoutes(payments: PaymentsService) {
  return async function routes(app: FastifyInstance, { guard, idempotency }: RouteContext) {
    const r = app.withTypeProvider<ZodTypeProvider>();

    r.post(
      '/payments/initiate',
      {
        onRequest: guard.authenticate,
        preHandler: idempotency,
        schema: {
          operationId: 'initiatePayment',
          tags,
          summary: 'Pay for a course by card, Paystack or wallet',
          description: [
            'The server prices the order (course price minus the optional coupon); `amount` must equal that price (400 on `body.amount`) and `userId` must be the caller (403). The email must be verified (403). One pending order per user and course is reused across attempts; a course already bought or enrolled in is 409, a free one 400; unfinished prerequisites are 403 with one detail per course.',
            '`card`: charged at once by the built-in card gateway → 201 `status: success`; a declined card or insufficient funds is 402 and the order fails (unless another attempt on it, e.g. a Paystack checkout, is still pending); a gateway error is 502 and the order stays pending, so the same checkout can be retried.',
            '`paystack`: 201 `status: pending` with `accessCode` and `authorizationUrl` (the hosted checkout); the payment completes by webhook. `paystackEmail` defaults to the account email.',
            '`wallet`: debits the wallet in the course currency → 201 `status: success`, or 402 `Insufficient wallet balance` (the order fails, unless another attempt on it is still pending).',
            'Several attempts may be open on one order (e.g. two Paystack tabs); paying one made at a price the order no longer has (a later attempt applied a coupon) refunds it automatically.',
            'Send an `Idempotency-Key` to retry safely.',
          ].join('\n\n'),
          security: bearerSecurity,
          headers: idempotencyHeaderSchema,
          body: initiatePaymentBody,
          response: responses({ status: 201, data: initiatedPayment }, [401, 402, 403, 404, 409, 422, 502]),
        },
      },
      async (request, reply) => {
        reply.status(201);
        return successBody(await payments.initiate(principalOf(request), request.body));
      },
    );

    r.get(
      '/payments/status/:transactionId',
      {
        onRequest: guard.authenticate,
        schema: {
          operationId: 'getPaymentStatus',
          tags,
          summary: 'The status of a payment',
          description:
            'The payer and admins; 404 `Transaction not found` for anyone else. `status` is `pending`, `success`, `failed` or `refunded`.',
          security: bearerSecurity,
          params: transactionParams,
          response: responses({ data: paymentStatus }, [401, 404]),
        },
      },
      async (request) =>
        successBody(await payments.status(principalOf(request), request.params.transactionId)),
    );
  };
}
