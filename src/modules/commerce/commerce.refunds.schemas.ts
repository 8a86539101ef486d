import { z } from 'zod';
export { orderParams as refundParams } from './commerce.orders.schemas.ts';

export const refundBody = z.strictObject({
  reason: z
    .string()
    .trim()
    .min(3, 'Give a reason of at least 3 characters')
    .max(500)
    .meta({ example: 'Bought the wrong course' }),
});
export type RefundInput = z.output<typeof refundBody>;

export const refundView = z
  .object({
    refundId: z.number().int(),
    orderId: z.number().int(),
    paymentId: z.number().int(),
    transactionId: z.string().meta({ description: 'The refunded payment’s public id' }),
    status: z.enum(['pending', 'succeeded', 'failed']).meta({
      description:
        '`pending`: recorded, the money is on its way back (retried in the background until it is); `succeeded`: returned and the order refunded; `failed`: the gateway kept refusing, the order stays paid and may be refunded again',
    }),
    amount: z.number().meta({ example: 5000, description: 'Major units' }),
    currency: z.string().meta({ example: 'NGN' }),
    method: z.enum(['card', 'paystack', 'wallet']).meta({ description: 'Where the money goes back to' }),
    reason: z.string(),
    requestedBy: z.number().int().meta({ description: 'The buyer or the admin who asked' }),
    gatewayReference: z
      .string()
      .nullable()
      .meta({ description: 'The card gateway’s or Paystack’s refund id (null for wallet refunds)' }),
    attempts: z.number().int().meta({ description: 'Attempts to return the money so far' }),
    failureMessage: z.string().nullable().meta({ description: 'Why the last attempt failed' }),
    createdAt: z.string(),
    completedAt: z.string().nullable(),
  })
  .meta({ id: 'Refund' });
export type RefundView = z.output<typeof refundView>;
