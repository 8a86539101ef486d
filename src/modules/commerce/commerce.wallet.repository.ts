import { and, desc, eq, lt, sql } from 'drizzle-orm';
import type { DbOrTx } from '../../platform/db.ts';
import { ledgerAccounts, ledgerEntries, ledgerTransactions } from './commerce.tables.ts';

/** A user's wallet entries (all currencies or one), newest first, `limit` rows before `beforeId`. */
export async function listWalletEntries(
  db: DbOrTx,
  params: { userId: number; currency?: string; beforeId?: number; limit: number },
) {
  return db
    .select({
      id: ledgerEntries.id,
      transactionId: ledgerEntries.transactionId,
      amountMinor: ledgerEntries.amountMinor,
      // Set on every wallet entry (only system accounts' entries leave it null).
      balanceAfterMinor: sql<number>`${ledgerEntries.balanceAfterMinor}`.mapWith(Number),
      createdAt: ledgerEntries.createdAt,
      currency: ledgerAccounts.currency,
      kind: ledgerTransactions.kind,
      reference: ledgerTransactions.reference,
      description: ledgerTransactions.description,
    })
    .from(ledgerEntries)
    .innerJoin(ledgerAccounts, eq(ledgerAccounts.id, ledgerEntries.accountId))
    .innerJoin(ledgerTransactions, eq(ledgerTransactions.id, ledgerEntries.transactionId))
    .where(
      and(
        eq(ledgerAccounts.kind, 'user_wallet'),
        eq(ledgerAccounts.userId, params.userId),
        params.currency === undefined ? undefined : eq(ledgerAccounts.currency, params.currency),
        params.beforeId === undefined ? undefined : lt(ledgerEntries.id, params.beforeId),
      ),
    )
    .orderBy(desc(ledgerEntries.id))
    .limit(params.limit);
}
export type WalletEntryRow = Awaited<ReturnType<typeof listWalletEntries>>[number];
