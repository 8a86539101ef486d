import { z } from 'zod';
import { currencySchema, majorAmountSchema } from './commerce.money.ts';
import { idCursor, pageInfo, pageLimit } from '../../platform/http/pagination.ts';
import { idSchema } from './commerce.wallet.schemas.ts';

export const voucherStatus = z.enum(['active', 'redeemed', 'disabled', 'expired']).meta({
  description:
    '`expired`: still active in storage but past `expiresAt` (it can no longer be redeemed); `disabled`: switched off by an admin',
});
export type VoucherStatus = z.output<typeof voucherStatus>;

export const MAX_BATCH = 1000;

export const createVouchersBody = z.strictObject({
  count: z
    .number()
    .int('Must be a whole number')
    .min(1, 'Must be at least 1')
    .max(MAX_BATCH, `At most ${MAX_BATCH} codes per batch`)
    .meta({ example: 50 }),
  // Vouchers hold integer minor units (4 bytes), so a single voucher stays well inside that.
  amount: majorAmountSchema
    .refine((n) => n <= 1_000_000, 'At most 1,000,000 per voucher')
    .meta({
      example: 5000,
      description: 'Value of each voucher in major units (e.g. 5000 = ₦5,000.00)',
    }),
  currency: currencySchema.meta({ example: 'NGN' }),
  expiresAt: z.iso
    .datetime({ offset: true, error: 'Must be an ISO 8601 date-time' })
    .refine((v) => Date.parse(v) > Date.now(), 'Must be in the future')
    .optional()
    .meta({ description: 'After this instant the codes can no longer be redeemed; never when omitted' }),
  description: z
    .string()
    .trim()
    .min(1, 'Must not be empty')
    .max(300)
    .optional()
    .meta({ example: 'Campus launch giveaway' }),
});
export type CreateVouchersInput = z.output<typeof createVouchersBody>;

export const batchSchema = z
  .object({
    id: z.number().int(),
    count: z.number().int(),
    amount: z.number().meta({ example: 5000 }),
    currency: z.string().meta({ example: 'NGN' }),
    expiresAt: z.string().nullable(),
    description: z.string().nullable(),
    createdBy: z.number().int(),
    createdAt: z.string(),
  })
  .meta({ id: 'VoucherBatch' });

export const createdBatch = z.object({
  batch: batchSchema,
  codes: z
    .array(
      z.object({
        id: z.number().int(),
        code: z.string().meta({ example: '7K3Q-M9XD-2PVA-RT0W-H4NC-8ZJB-QF6E' }),
      }),
    )
    .meta({
      description:
        'The plain codes. Only this answer and the batch CSV export reveal them; the server stores a hash and a sealed copy.',
    }),
});

export const batchSummary = batchSchema.extend({
  counts: z.object({
    active: z.number().int(),
    redeemed: z.number().int(),
    disabled: z.number().int(),
    expired: z.number().int(),
  }),
});
export const batchPage = z.object({ items: z.array(batchSummary), pageInfo });

export const voucherItem = z
  .object({
    id: z.number().int(),
    batchId: z.number().int(),
    codeHint: z.string().meta({ example: 'QF6E', description: 'The last group of the code' }),
    maskedCode: z.string().meta({ example: '****-****-****-****-****-****-QF6E' }),
    amount: z.number(),
    currency: z.string(),
    status: voucherStatus,
    expiresAt: z.string().nullable(),
    redeemedBy: z.number().int().nullable(),
    redeemedAt: z.string().nullable(),
    disabledAt: z.string().nullable(),
    createdAt: z.string(),
  })
  .meta({ id: 'Voucher' });
export const voucherPage = z.object({ items: z.array(voucherItem), pageInfo });

export const listVouchersQuery = z.strictObject({
  batchId: idSchema.optional(),
  status: voucherStatus.optional(),
  limit: pageLimit,
  cursor: idCursor,
});
export type ListVouchersQuery = z.output<typeof listVouchersQuery>;

export const listBatchesQuery = z.strictObject({ limit: pageLimit, cursor: idCursor });
export type ListBatchesQuery = z.output<typeof listBatchesQuery>;

export const idParams = z.strictObject({ id: idSchema });

export const disabledBatch = z.object({
  batchId: z.number().int(),
  disabled: z.number().int().meta({ description: 'Active codes disabled by this request' }),
});

export const csvExport = z.string().meta({
  description:
    'CSV with a header row: `code,amount,currency,status,expiresAt,redeemedAt,redeemedBy`, one line per voucher in id order',
  example:
    'code,amount,currency,status,expiresAt,redeemedAt,redeemedBy\r\n7K3Q-M9XD-2PVA-RT0W-H4NC-8ZJB-QF6E,5000.00,NGN,active,,,\r\n',
});

export const redeemBody = z.strictObject({
  code: z
    .string()
    .max(64, 'Too long for a voucher code')
    .refine((v) => v.trim().length > 0, 'Must not be empty')
    .meta({
      example: '7K3Q-M9XD-2PVA-RT0W-H4NC-8ZJB-QF6E',
      description: 'Case, spaces and dashes do not matter; O is read as 0, I and L as 1',
    }),
});

export const redemption = z.object({
  voucherId: z.number().int(),
  amount: z.number().meta({ example: 5000, description: 'Credited to the wallet, in major units' }),
  currency: z.string().meta({ example: 'NGN' }),
  balance: z
    .number()
    .meta({ example: 7500, description: 'Wallet balance in this currency after the credit' }),
  transactionId: z.number().int().meta({ description: 'The ledger transaction of the credit' }),
});
