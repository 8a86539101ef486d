import { z } from 'zod';
import { couponCodeInput } from './commerce.coupons.schemas.ts';
import { currencySchema } from './commerce.money.ts';

const entityId = z.number().int().positive().max(2_147_483_647);

/** Format is checked by the card gateway (Luhn, expiry, CVV); these are only size bounds. */
export const cardDetailsSchema = z
  .strictObject({
    number: z.string().min(1).max(30).meta({ example: '4242424242424242' }),
    expiryMonth: z.string().min(1).max(2).meta({ example: '12' }),
    expiryYear: z.string().min(2).max(4).meta({ example: '2030', description: 'YY or YYYY' }),
    cvv: z.string().min(1).max(4).meta({ example: '123' }),
  })
  .meta({
    description:
      'Never stored or logged; only the brand and last four digits are kept. Test numbers: 4242424242424242 and 4084084084084081 succeed, 4000000000000002 is declined, 4000000000009995 has insufficient funds, 4000000000000119 fails at the gateway (502, retryable).',
  });

export const initiatePaymentBody = z.strictObject({
  userId: entityId.meta({ description: 'Must be the caller (403 otherwise)' }),
  courseId: entityId,
  amount: z
    .number()
    .min(0)
    .max(100_000_000)
    .refine((n) => /^\d+(\.\d{1,2})?$/.test(String(n)), 'Amount must have at most 2 decimals')
    .meta({
      example: 5000,
      description:
        'What the client shows the buyer, major units; must equal the price after the coupon (400 otherwise). 0 only when a coupon covers the whole price.',
    }),
  method: z.enum(['card', 'paystack', 'wallet']),
  currency: currencySchema.optional().meta({ description: 'When given, must be the course currency' }),
  cardDetails: cardDetailsSchema.optional().meta({ description: 'Required for `card`' }),
  paystackEmail: z
    .email()
    .max(254)
    .optional()
    .meta({ description: 'For `paystack`; defaults to the account email' }),
  couponCode: couponCodeInput.optional(),
});
export type InitiatePaymentInput = z.output<typeof initiatePaymentBody>;

const cardSummary = z
  .object({ brand: z.string().meta({ example: 'visa' }), last4: z.string().meta({ example: '4242' }) })
  .meta({ id: 'CardSummary' });

export const initiatedPayment = z.object({
  paymentId: z.number().int(),
  transactionId: z.string().meta({ example: 'tx_k5z3t7q2m4n6p8r2s4t6v8x2' }),
  orderId: z.number().int(),
  method: z.enum(['card', 'paystack', 'wallet']),
  status: z.enum(['success', 'pending']),
  message: z.string().meta({ example: 'Card payment processed successfully' }),
  amount: z.number().meta({ example: 5000, description: 'Major units' }),
  currency: z.string().meta({ example: 'NGN' }),
  accessCode: z.string().optional().meta({ description: 'Paystack only' }),
  authorizationUrl: z.string().optional().meta({ description: 'Paystack only: the hosted checkout page' }),
  card: cardSummary.optional().meta({ description: 'Card only' }),
});

export const transactionParams = z.strictObject({
  transactionId: z
    .string()
    .regex(/^[A-Za-z0-9_-]{1,64}$/, 'A transaction id such as tx_k5z3t7q2m4n6p8r2s4t6v8x2'),
});

export const paymentStatus = z.object({
  paymentId: z.number().int(),
  transactionId: z.string(),
  orderId: z.number().int(),
  courseId: z.number().int(),
  status: z.enum(['pending', 'success', 'failed', 'refunded']),
  amount: z.number().meta({ example: 5000 }),
  currency: z.string(),
  paymentDate: z.string().meta({ description: 'When it succeeded; the attempt time otherwise' }),
  method: z.enum(['card', 'paystack', 'wallet']),
  card: cardSummary.nullable(),
  failureMessage: z.string().nullable(),
});
