import { and, asc, eq, inArray, sql } from 'drizzle-orm';
import type { DbOrTx, Tx } from '../../platform/db.ts';
import { PaymentRequired } from '../../platform/errors.ts';
import { ledgerAccounts, ledgerEntries, ledgerTransactions } from './commerce.tables.ts';

/**
 * The double-entry wallet ledger (seed 004). Every movement of money is one transaction whose
 * entries sum to zero; an account's balance is the sum of its entries, kept on the account row
 * and updated in the same transaction. Sign convention: a positive entry increases the account
 * (a user's wallet credit, revenue earned); the whole ledger always sums to zero.
 */
export type SystemAccountKind = 'platform_revenue' | 'voucher_float' | 'refunds' | 'gateway_clearing';
export type AccountRef =
  { kind: 'user_wallet'; userId: number; currency: string } | { kind: SystemAccountKind; currency: string };

export interface LedgerPosting {
  /** What kind of movement this is, e.g. `purchase`, `voucher_redemption`, `refund`. */
  kind: string;
  /** Unique per movement (e.g. `purchase:payment:42`): the same reference is never posted twice. */
  reference: string;
  description: string;
  entries: Array<{ account: AccountRef; amountMinor: number }>;
}

const userIdOf = (a: AccountRef) => (a.kind === 'user_wallet' ? a.userId : null);
const accountKey = (a: AccountRef) => `${a.kind}:${userIdOf(a) ?? 0}:${a.currency}`;

/** The account's id, creating the account on first use (race-safe through the unique key). */
async function accountId(tx: DbOrTx, account: AccountRef): Promise<number> {
  const userId = userIdOf(account);
  const match = and(
    eq(ledgerAccounts.kind, account.kind),
    userId === null ? sql`${ledgerAccounts.userId} is null` : eq(ledgerAccounts.userId, userId),
    eq(ledgerAccounts.currency, account.currency),
  );
  const [found] = await tx.select({ id: ledgerAccounts.id }).from(ledgerAccounts).where(match);
  if (found) return found.id;
  await tx
    .insert(ledgerAccounts)
    .values({ kind: account.kind, userId, currency: account.currency })
    .onConflictDoNothing();
  const [created] = await tx.select({ id: ledgerAccounts.id }).from(ledgerAccounts).where(match);
  if (!created) throw new Error(`Ledger account ${accountKey(account)} could not be created`);
  return created.id;
}

/**
 * Posts one balanced transaction inside `tx`. Throws `PaymentRequired` (402) when a user's wallet
 * would go negative; the caller's transaction then rolls back as a whole. Accounts are updated in
 * id order so concurrent postings never deadlock; each update re-checks the balance under the row
 * lock, so no interleaving of concurrent debits can overdraw a wallet.
 */
export async function postLedger(
  tx: Tx,
  posting: LedgerPosting,
): Promise<{ transactionId: number; duplicate: boolean }> {
  const entries = posting.entries.filter((e) => e.amountMinor !== 0);
  if (entries.length < 2) throw new Error('A ledger transaction needs at least two non-zero entries');
  for (const e of entries) {
    if (!Number.isSafeInteger(e.amountMinor)) throw new Error('Ledger amounts are integer minor units');
  }
  const currencies = new Set(entries.map((e) => e.account.currency));
  if (currencies.size !== 1) throw new Error('A ledger transaction moves one currency');
  const total = entries.reduce((sum, e) => sum + e.amountMinor, 0);
  if (total !== 0) throw new Error(`Ledger transaction ${posting.reference} does not balance (${total})`);

  const [created] = await tx
    .insert(ledgerTransactions)
    .values({ kind: posting.kind, reference: posting.reference, description: posting.description })
    .onConflictDoNothing()
    .returning({ id: ledgerTransactions.id });
  if (!created) {
    const [existing] = await tx
      .select({ id: ledgerTransactions.id })
      .from(ledgerTransactions)
      .where(eq(ledgerTransactions.reference, posting.reference));
    return { transactionId: existing!.id, duplicate: true };
  }

  // One change per account, applied in account id order.
  const perAccount = new Map<number, { account: AccountRef; amountMinor: number }>();
  for (const e of entries) {
    const id = await accountId(tx, e.account);
    const prev = perAccount.get(id);
    perAccount.set(id, { account: e.account, amountMinor: (prev?.amountMinor ?? 0) + e.amountMinor });
  }
  for (const [id, change] of [...perAccount.entries()].sort(([a], [b]) => a - b)) {
    if (change.amountMinor === 0) continue;
    if (change.account.kind !== 'user_wallet') {
      // No running balance on system accounts: their rows are shared by every sale (see the table).
      await tx.insert(ledgerEntries).values({
        transactionId: created.id,
        accountId: id,
        amountMinor: change.amountMinor,
        balanceAfterMinor: null,
      });
      continue;
    }
    const guard =
      change.amountMinor < 0 ? sql` and ${ledgerAccounts.balanceMinor} + ${change.amountMinor} >= 0` : sql``;
    const [updated] = await tx
      .update(ledgerAccounts)
      .set({ balanceMinor: sql`${ledgerAccounts.balanceMinor} + ${change.amountMinor}` })
      .where(sql`${ledgerAccounts.id} = ${id}${guard}`)
      .returning({ balance: ledgerAccounts.balanceMinor });
    if (!updated) throw new PaymentRequired('Insufficient wallet balance');
    await tx.insert(ledgerEntries).values({
      transactionId: created.id,
      accountId: id,
      amountMinor: change.amountMinor,
      balanceAfterMinor: updated.balance,
    });
  }
  return { transactionId: created.id, duplicate: false };
}

/** A user's wallet balance in each currency they have held (zero balances included). */
export async function getWalletBalances(
  db: DbOrTx,
  userId: number,
): Promise<Array<{ currency: string; balanceMinor: number }>> {
  return db
    .select({ currency: ledgerAccounts.currency, balanceMinor: ledgerAccounts.balanceMinor })
    .from(ledgerAccounts)
    .where(and(eq(ledgerAccounts.kind, 'user_wallet'), eq(ledgerAccounts.userId, userId)))
    .orderBy(asc(ledgerAccounts.currency));
}

/** A system account's balance: the sum of its entries (they keep no running balance). */
export async function systemAccountBalance(
  db: DbOrTx,
  kind: SystemAccountKind,
  currency: string,
): Promise<number> {
  const result = (await db.execute(sql`
    select coalesce(sum(e.amount_minor), 0)::bigint::text as total
    from ${ledgerAccounts} a join ${ledgerEntries} e on e.account_id = a.id
    where a.kind = ${kind} and a.currency = ${currency}`)) as unknown as { rows: Array<{ total: string }> };
  return Number(result.rows[0]?.total ?? 0);
}

/**
 * Checks the ledger's invariants: every transaction sums to zero, and every wallet's balance
 * equals the sum of its entries.
 */
export async function checkLedger(
  db: DbOrTx,
): Promise<{ unbalancedTransactions: number[]; driftedAccounts: number[] }> {
  const unbalanced = await db
    .select({ id: ledgerEntries.transactionId })
    .from(ledgerEntries)
    .groupBy(ledgerEntries.transactionId)
    .having(sql`sum(${ledgerEntries.amountMinor}) <> 0`);
  const drifted = (await db.execute(sql`
    select a.id from ${ledgerAccounts} a
    left join (select account_id, sum(amount_minor) as total from ${ledgerEntries} group by account_id) e
      on e.account_id = a.id
    where a.kind = 'user_wallet' and a.balance_minor <> coalesce(e.total, 0)`)) as unknown as {
    rows: Array<{ id: number }>;
  };
  return {
    unbalancedTransactions: unbalanced.map((r) => r.id),
    driftedAccounts: drifted.rows.map((r) => Number(r.id)),
  };
}

/** Accounts by id, for statements. */
export async function findAccounts(db: DbOrTx, ids: number[]) {
  if (ids.length === 0) return [];
  return db.select().from(ledgerAccounts).where(inArray(ledgerAccounts.id, ids));
}
