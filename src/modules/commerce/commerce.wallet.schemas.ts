import { z } from 'zod';
import { currencySchema } from './commerce.money.ts';

export const idSchema = z.coerce.number().int().positive().max(2_147_483_647);

/** Opaque keyset cursor: base64url of the last id of the previous page. */
export function encodeCursor(id: number): string {
  return Buffer.from(String(id)).toString('base64url');
}

function decodeCursor(value: string): number | undefined {
  const text = Buffer.from(value, 'base64url').toString('utf8');
  if (!/^[1-9][0-9]{0,9}$/.test(text)) return undefined;
  const id = Number(text);
  return id <= 2_147_483_647 ? id : undefined;
}

export const cursorSchema = z
  .string()
  .max(24)
  .transform((v, ctx) => {
    const id = decodeCursor(v);
    if (id === undefined) {
      ctx.addIssue({ code: 'custom', message: 'Invalid cursor' });
      return z.NEVER;
    }
    return id;
  })
  .optional()
  .meta({ description: '`pageInfo.nextCursor` of the previous page' });

export const limitSchema = z.coerce.number().int().min(1).max(100).default(20);

export const pageInfo = z.object({
  nextCursor: z.string().nullable(),
  hasMore: z.boolean(),
});

/** One keyset page from `limit + 1` rows fetched newest first. */
export function pageOf<R extends { id: number }, T>(rows: R[], limit: number, map: (row: R) => T) {
  const page = rows.slice(0, limit);
  const hasMore = rows.length > limit;
  return {
    items: page.map(map),
    pageInfo: { nextCursor: hasMore ? encodeCursor(page.at(-1)!.id) : null, hasMore },
  };
}

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
  limit: limitSchema,
  cursor: cursorSchema,
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
