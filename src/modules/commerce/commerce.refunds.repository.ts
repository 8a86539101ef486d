import { and, eq, sql } from 'drizzle-orm';
import type { DbOrTx, Tx } from '../../platform/db.ts';
import { refunds } from './commerce.tables.ts';

export type RefundRow = typeof refunds.$inferSelect;
export type RefundStatus = RefundRow['status'];

/**
 * Records a pending refund of an order. The order id is unique, so of concurrent requests one
 * inserts; a refund that failed for good is armed again (pending, new reason and requester).
 * Returns undefined when the order already has a pending or succeeded refund.
 */
export async function insertOrRearmRefund(
  tx: Tx,
  values: Pick<
    typeof refunds.$inferInsert,
    'orderId' | 'paymentId' | 'amountMinor' | 'currency' | 'reason' | 'requestedBy'
  >,
): Promise<RefundRow | undefined> {
  const [row] = await tx
    .insert(refunds)
    .values({ ...values, status: 'pending' })
    .onConflictDoUpdate({
      target: refunds.orderId,
      set: {
        status: 'pending',
        reason: values.reason,
        requestedBy: values.requestedBy,
        failureMessage: null,
        completedAt: null,
      },
      setWhere: sql`${refunds.status} = 'failed'`,
    })
    .returning();
  return row;
}

export async function findRefund(db: DbOrTx, id: number): Promise<RefundRow | undefined> {
  const [row] = await db.select().from(refunds).where(eq(refunds.id, id));
  return row;
}

export async function findRefundOfOrder(db: DbOrTx, orderId: number): Promise<RefundRow | undefined> {
  const [row] = await db.select().from(refunds).where(eq(refunds.orderId, orderId));
  return row;
}

/** The refund row, locked for the rest of the transaction. */
export async function lockRefund(tx: Tx, id: number): Promise<RefundRow | undefined> {
  const [row] = await tx.select().from(refunds).where(eq(refunds.id, id)).for('update');
  return row;
}

/** Counts one attempt to give the money back (before the gateway is called). */
export async function countRefundAttempt(db: DbOrTx, id: number): Promise<void> {
  await db
    .update(refunds)
    .set({ attempts: sql`${refunds.attempts} + 1` })
    .where(and(eq(refunds.id, id), eq(refunds.status, 'pending')));
}

/** Notes why the last attempt failed; the refund stays pending (the job retries). */
export async function noteRefundFailure(db: DbOrTx, id: number, message: string): Promise<void> {
  await db
    .update(refunds)
    .set({ failureMessage: message.slice(0, 300) })
    .where(and(eq(refunds.id, id), eq(refunds.status, 'pending')));
}

/** Gives up on a pending refund (retries exhausted); the order stays paid and may be refunded again. */
export async function markRefundFailed(db: DbOrTx, id: number, message: string): Promise<boolean> {
  const rows = await db
    .update(refunds)
    .set({ status: 'failed', failureMessage: message.slice(0, 300) })
    .where(and(eq(refunds.id, id), eq(refunds.status, 'pending')))
    .returning({ id: refunds.id });
  return rows.length > 0;
}

export async function markRefundSucceeded(
  tx: Tx,
  id: number,
  gatewayReference: string | null,
): Promise<RefundRow> {
  const [row] = await tx
    .update(refunds)
    .set({ status: 'succeeded', gatewayReference, failureMessage: null, completedAt: sql`now()` })
    .where(eq(refunds.id, id))
    .returning();
  return row!;
}
