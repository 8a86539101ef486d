import { z } from 'zod';
import { idCursor, pageInfo, pageLimit } from '../../platform/http/pagination.ts';
import { idSchema } from './commerce.wallet.schemas.ts';

export const ORDER_STATUSES = ['pending', 'paid', 'failed', 'cancelled', 'refunded'] as const;
const orderStatus = z.enum(ORDER_STATUSES);

export const orderParams = z.strictObject({ id: idSchema });

export const listOrdersQuery = z.strictObject({
  status: orderStatus.optional(),
  userId: idSchema.optional().meta({ description: 'Admins only: another user’s orders (403 for others)' }),
  limit: pageLimit,
  cursor: idCursor,
});
export type ListOrdersQuery = z.output<typeof listOrdersQuery>;

export const orderSummary = z
  .object({
    orderId: z.number().int(),
    userId: z.number().int(),
    courseId: z.number().int(),
    courseTitle: z.string().meta({ description: 'The title when the order was placed' }),
    status: orderStatus,
    currency: z.string().meta({ example: 'NGN' }),
    listPrice: z.number().meta({ example: 5000, description: 'Course price when priced, major units' }),
    discount: z.number().meta({ example: 1000 }),
    amount: z.number().meta({ example: 4000, description: 'What the buyer pays' }),
    couponCode: z.string().nullable(),
    method: z.enum(['card', 'paystack', 'wallet']).nullable().meta({ description: 'The last method tried' }),
    createdAt: z.string(),
    updatedAt: z.string(),
    paidAt: z.string().nullable(),
    refundedAt: z.string().nullable(),
  })
  .meta({ id: 'OrderSummary' });

export const orderPage = z.object({ items: z.array(orderSummary), pageInfo });

const orderPayment = z.object({
  paymentId: z.number().int(),
  transactionId: z.string(),
  method: z.enum(['card', 'paystack', 'wallet']),
  status: z.enum(['pending', 'success', 'failed', 'refunded']),
  amount: z.number(),
  currency: z.string(),
  card: z.object({ brand: z.string(), last4: z.string() }).nullable(),
  failureCode: z.string().nullable(),
  failureMessage: z.string().nullable(),
  createdAt: z.string(),
  paidAt: z.string().nullable(),
});

const orderEvent = z.object({
  from: orderStatus.nullable(),
  to: orderStatus,
  reason: z.string().meta({ example: 'Paid by card (tx_k5z3t7q2m4n6p8r2s4t6v8x2)' }),
  at: z.string(),
});

export const orderDetail = orderSummary
  .extend({
    coupon: z.object({ couponId: z.number().int(), code: z.string() }).nullable(),
    payments: z.array(orderPayment).meta({ description: 'Every payment attempt, oldest first' }),
    history: z.array(orderEvent).meta({ description: 'Every status change with its reason, oldest first' }),
  })
  .meta({ id: 'OrderDetail' });
