import type { FastifyInstance } from 'fastify';
import type { ZodTypeProvider } from 'fastify-type-provider-zod';
import { z } from 'zod';
import { Unauthorized, ValidationError } from '../../platform/errors.ts';
import { responses, successBody } from '../../platform/http/envelope.ts';
import type { Platform } from '../../platform/platform.ts';
import * as orders from './commerce.orders.repository.ts';
import { isValidPaystackSignature } from './commerce.paystack.client.ts';
import * as repo from './commerce.paystack.repository.ts';

export const PROCESS_PAYSTACK_EVENT_JOB = 'commerce.processPaystackEvent';

export interface PaystackEventJob {
  webhookEventId: number;
  paymentId: number;
}

/** The events that can change a payment; any other event is acknowledged and ignored. */
const HANDLED_EVENTS = new Set(['charge.success', 'charge.failed']);

const webhookHeaders = z.looseObject({
  'x-paystack-signature': z.string().optional().meta({
    description: 'Hex HMAC-SHA512 of the raw request body, keyed with the Paystack secret key.',
  }),
});

const webhookBody = z
  .looseObject({
    event: z.string().min(1).max(60).meta({ example: 'charge.success' }),
    data: z.looseObject({
      id: z.union([z.number().int(), z.string().max(40)]).optional(),
      reference: z.string().min(1).max(100).optional(),
    }),
  })
  .meta({ description: 'A Paystack event; `data` is the transaction as the verify API describes it.' });

const webhookAck = z.object({
  received: z.literal(true),
  /** queued: will be processed; duplicate: delivered before; ignored: not about one of our payments. */
  outcome: z.enum(['queued', 'duplicate', 'ignored']),
});

/**
 * `POST /payments/webhooks/paystack`: Paystack's event notifications. The signature is checked
 * over the exact raw bytes before anything is parsed (so this plugin replaces the JSON parser in
 * its own encapsulated scope only). The answer is fast: the event is recorded once (deduplicated
 * by event, reference and Paystack id) together with the job that processes it; that job trusts
 * nothing in the body and asks the verify API.
 */
export function paystackWebhookRoutes(deps: {
  platform: Pick<Platform, 'db' | 'jobs' | 'logger' | 'config'>;
}) {
  const { db, jobs, logger } = deps.platform;
  const secretKey = deps.platform.config.commerce.paystack.secretKey;

  return async function routes(app: FastifyInstance) {
    app.removeAllContentTypeParsers();
    app.addContentTypeParser('application/json', { parseAs: 'buffer' }, (request, body, done) => {
      const signature = request.headers['x-paystack-signature'];
      const raw = body as Buffer;
      if (!isValidPaystackSignature(raw, typeof signature === 'string' ? signature : undefined, secretKey)) {
        done(new Unauthorized('Invalid webhook signature'), undefined);
        return;
      }
      try {
        done(null, JSON.parse(raw.toString('utf8')));
      } catch {
        done(new ValidationError('Request body is not valid JSON'), undefined);
      }
    });

    app.withTypeProvider<ZodTypeProvider>().post(
      '/payments/webhooks/paystack',
      {
        schema: {
          operationId: 'receivePaystackWebhook',
          tags: ['payments'],
          summary: 'Paystack webhook (called by Paystack)',
          description:
            'Verifies `x-paystack-signature` (HMAC-SHA512 of the raw body with the secret key; 401 otherwise, nothing changes), records the event once and answers at once. `charge.success` and `charge.failed` are then processed in the background: the transaction is re-verified with the verify API, and the order is fulfilled only when Paystack confirms the exact amount and currency. Other events are acknowledged and ignored.',
          headers: webhookHeaders,
          body: webhookBody,
          response: responses({ data: webhookAck }, [401, 415]),
        },
      },
      async (request) => {
        const { event, data } = request.body;
        const ignored = successBody({ received: true as const, outcome: 'ignored' as const });
        if (!HANDLED_EVENTS.has(event) || !data.reference) return ignored;
        const reference = data.reference;
        const payment = await orders.findPaymentByTransactionId(db, reference);
        if (!payment || payment.method !== 'paystack') {
          logger.info({ event, reference }, 'Paystack event for an unknown payment ignored');
          return ignored;
        }
        const eventKey = `paystack:${event}:${reference}:${data.id ?? ''}`;
        const id = await db.transaction(async (tx) => {
          const inserted = await repo.insertWebhookEvent(tx, {
            provider: 'paystack',
            eventKey,
            event,
            reference,
            payload: request.body,
          });
          if (inserted !== null) {
            await jobs.send<PaystackEventJob>(
              PROCESS_PAYSTACK_EVENT_JOB,
              { webhookEventId: inserted, paymentId: payment.id },
              { tx },
            );
          }
          return inserted;
        });
        return successBody({ received: true as const, outcome: id === null ? 'duplicate' : 'queued' });
      },
    );
  };
}
