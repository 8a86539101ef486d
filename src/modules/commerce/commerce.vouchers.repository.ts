import { and, asc, desc, eq, getTableColumns, lt, sql, type SQL } from 'drizzle-orm';
import type { DbOrTx, Tx } from '../../platform/db.ts';
import { voucherBatches, vouchers } from './commerce.tables.ts';
import type { VoucherStatus } from './commerce.vouchers.schemas.ts';

/** The status as the API shows it: an active voucher past its expiry reads `expired`. */
const effectiveStatus = sql<VoucherStatus>`case when ${vouchers.status} = 'active' and ${vouchers.expiresAt} <= now()
  then 'expired' else ${vouchers.status}::text end`;

/** Active and not expired: the only vouchers that can be redeemed. */
const redeemable = sql`${vouchers.status} = 'active' and (${vouchers.expiresAt} is null or ${vouchers.expiresAt} > now())`;

function statusFilter(status: VoucherStatus): SQL {
  switch (status) {
    case 'active':
      return redeemable;
    case 'expired':
      return sql`${vouchers.status} = 'active' and ${vouchers.expiresAt} <= now()`;
    default:
      return eq(vouchers.status, status);
  }
}

const voucherColumns = { ...getTableColumns(vouchers), effectiveStatus };

export async function insertBatch(tx: Tx, values: typeof voucherBatches.$inferInsert) {
  const [row] = await tx.insert(voucherBatches).values(values).returning();
  return row!;
}
export type BatchRow = typeof voucherBatches.$inferSelect;

export async function insertVouchers(tx: Tx, values: Array<typeof vouchers.$inferInsert>) {
  return tx.insert(vouchers).values(values).returning({ id: vouchers.id, codeHash: vouchers.codeHash });
}

export async function findBatch(db: DbOrTx, id: number): Promise<BatchRow | undefined> {
  const [row] = await db.select().from(voucherBatches).where(eq(voucherBatches.id, id));
  return row;
}

/** Batches newest first, with how many of their vouchers are in each status. */
export async function listBatches(db: DbOrTx, params: { beforeId?: number; limit: number }) {
  const count = (status: VoucherStatus) =>
    sql<number>`count(${vouchers.id}) filter (where ${statusFilter(status)})`.mapWith(Number);
  return db
    .select({
      ...getTableColumns(voucherBatches),
      active: count('active'),
      redeemed: count('redeemed'),
      disabled: count('disabled'),
      expired: count('expired'),
    })
    .from(voucherBatches)
    .leftJoin(vouchers, eq(vouchers.batchId, voucherBatches.id))
    .where(params.beforeId === undefined ? undefined : lt(voucherBatches.id, params.beforeId))
    .groupBy(voucherBatches.id)
    .orderBy(desc(voucherBatches.id))
    .limit(params.limit);
}

export async function listVouchers(
  db: DbOrTx,
  params: { batchId?: number; status?: VoucherStatus; beforeId?: number; limit: number },
) {
  return db
    .select(voucherColumns)
    .from(vouchers)
    .where(
      and(
        params.batchId === undefined ? undefined : eq(vouchers.batchId, params.batchId),
        params.status === undefined ? undefined : statusFilter(params.status),
        params.beforeId === undefined ? undefined : lt(vouchers.id, params.beforeId),
      ),
    )
    .orderBy(desc(vouchers.id))
    .limit(params.limit);
}
export type VoucherRow = Awaited<ReturnType<typeof listVouchers>>[number];

/** Every voucher of a batch in id order (the CSV export). */
export async function listBatchVouchers(db: DbOrTx, batchId: number) {
  return db
    .select(voucherColumns)
    .from(vouchers)
    .where(eq(vouchers.batchId, batchId))
    .orderBy(asc(vouchers.id));
}

export async function findVoucher(db: DbOrTx, id: number): Promise<VoucherRow | undefined> {
  const [row] = await db.select(voucherColumns).from(vouchers).where(eq(vouchers.id, id));
  return row;
}

export async function findVoucherByHash(db: DbOrTx, codeHash: string): Promise<VoucherRow | undefined> {
  const [row] = await db.select(voucherColumns).from(vouchers).where(eq(vouchers.codeHash, codeHash));
  return row;
}

/**
 * Serialises one user's redemption attempts until the transaction ends, so the failure limit is
 * checked and counted one attempt at a time (commerce.vouchers.redemption.ts).
 */
export async function lockRedeemer(tx: Tx, userId: number) {
  await tx.execute(sql`select pg_advisory_xact_lock(hashtext('commerce.voucher_redeemer'), ${userId}::int)`);
}

/**
 * Marks the voucher redeemed by `userId` if, and only if, it is still redeemable. Concurrent
 * callers queue on the row lock and re-check the condition against the committed row, so exactly
 * one of them gets the row back.
 */
export async function claimVoucher(tx: Tx, codeHash: string, userId: number) {
  const [row] = await tx
    .update(vouchers)
    .set({ status: 'redeemed', redeemedBy: userId, redeemedAt: sql`now()` })
    .where(and(eq(vouchers.codeHash, codeHash), redeemable))
    .returning();
  return row;
}

/** Active (including expired) → disabled; returns the row when it changed. */
export async function disableVoucher(tx: DbOrTx, id: number) {
  const [row] = await tx
    .update(vouchers)
    .set({ status: 'disabled', disabledAt: sql`now()` })
    .where(and(eq(vouchers.id, id), eq(vouchers.status, 'active')))
    .returning({ id: vouchers.id });
  return row;
}

/** Disables every still-active voucher of a batch; redeemed ones stay redeemed. Returns how many. */
export async function disableBatch(tx: DbOrTx, batchId: number): Promise<number> {
  const rows = await tx
    .update(vouchers)
    .set({ status: 'disabled', disabledAt: sql`now()` })
    .where(and(eq(vouchers.batchId, batchId), eq(vouchers.status, 'active')))
    .returning({ id: vouchers.id });
  return rows.length;
}
