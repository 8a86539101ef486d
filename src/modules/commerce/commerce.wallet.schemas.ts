import { z } from 'zod';
import { idCursor, pageInfo, pageLimit } from '../../platform/http/pagination.ts';
import { currencySchema } from './commerce.money.ts';

export const idSchema = z.coerce.number().int().positive().max(2_147_483_647);

export const walletSchema = z.object({
  balances: z
    .array(
      z.object({
        currency: z.string().meta({ example: 'NGN' }),
        balance: z.number().meta({ example: 7500, description: 'Major units' }),
      }),
    )
    .meta({ description: 'One entry per currency the wallet has ever held, by currency code' }),
});

export const walletTransactionsQuery = z.strictObject({
  currency: currencySchema.optional(),
  limit: pageLimit,
  cursor: idCursor,
});
export type WalletTransactionsQuery = z.output<typeof walletTransactionsQuery>;

export const walletTransaction = z
  .object({
    id: z.number().int().meta({ description: 'The ledger entry id' }),
    transactionId: z.number().int().meta({ description: 'The balanced ledger transaction it belongs to' }),
    kind: z.string().meta({
      example: 'voucher_redemption',
      description: 'e.g. `voucher_redemption`, `purchase`, `refund`',
    }),
    description: z.string(),
    reference: z.string().meta({ example: 'voucher:17' }),
    referenceType: z.string().meta({
      example: 'voucher',
      description:
        'What the movement refers to: the first part of `reference` (`voucher`, `purchase`, `refund`, …)',
    }),
    amount: z
      .number()
      .meta({ example: 5000, description: 'Signed, major units: positive credits the wallet' }),
    balanceAfter: z.number().meta({ example: 7500 }),
    currency: z.string(),
    createdAt: z.string(),
  })
  .meta({ id: 'WalletTransaction' });

export const walletTransactionPage = z.object({ items: z.array(walletTransaction), pageInfo });
