import type { DbOrTx } from '../../platform/db.ts';
import { getWalletBalances } from './commerce.ledger.ts';
import { toMajor } from './commerce.money.ts';
import * as repo from './commerce.wallet.repository.ts';
import { pageOf } from '../../platform/http/pagination.ts';
import type { WalletTransactionsQuery } from './commerce.wallet.schemas.ts';

/** The caller's wallet: balances per currency and the statement of its ledger entries. */
export function createWalletService({ db }: { db: DbOrTx }) {
  return {
    async balances(userId: number) {
      const rows = await getWalletBalances(db, userId);
      return {
        balances: rows.map((r) => ({ currency: r.currency, balance: toMajor(r.balanceMinor, r.currency) })),
      };
    },

    /** Wallet entries newest first, one keyset page; optionally one currency only. */
    async transactions(userId: number, query: WalletTransactionsQuery) {
      const rows = await repo.listWalletEntries(db, {
        userId,
        currency: query.currency,
        beforeId: query.cursor,
        limit: query.limit + 1,
      });
      return pageOf(rows, query.limit, (r) => ({
        id: r.id,
        transactionId: r.transactionId,
        kind: r.kind,
        description: r.description,
        reference: r.reference,
        referenceType: r.reference.split(':')[0]!,
        amount: toMajor(r.amountMinor, r.currency),
        balanceAfter: toMajor(r.balanceAfterMinor, r.currency),
        currency: r.currency,
        createdAt: r.createdAt.toISOString(),
      }));
    },
  };
}
export type WalletService = ReturnType<typeof createWalletService>;
