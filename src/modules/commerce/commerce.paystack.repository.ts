import { and, asc, eq, inArray, lt, sql } from 'drizzle-orm';
import type { DbOrTx, Tx } from '../../platform/db.ts';
import type { PaymentRow } from './commerce.orders.repository.ts';
import { payments, webhookEvents } from './commerce.tables.ts';

/**
 * Records an inbound webhook once: returns its id, or null when an event with the same key was
 * recorded before (a redelivery), in which case nothing is written.
 */
export async function insertWebhookEvent(
  tx: DbOrTx,
  values: { provider: string; eventKey: string; event: string; reference: string; payload: unknown },
): Promise<number | null> {
  const [row] = await tx
    .insert(webhookEvents)
    .values(values)
    .onConflictDoNothing({ target: webhookEvents.eventKey })
    .returning({ id: webhookEvents.id });
  return row?.id ?? null;
}

export async function markWebhookEventProcessed(db: DbOrTx, id: number): Promise<void> {
  await db
    .update(webhookEvents)
    .set({ processedAt: sql`now()` })
    .where(and(eq(webhookEvents.id, id), sql`${webhookEvents.processedAt} is null`));
}

/** Pending Paystack payments created before `createdBefore`, oldest first. */
export async function listStalePaystackPayments(
  db: DbOrTx,
  createdBefore: Date,
  limit: number,
): Promise<PaymentRow[]> {
  return db
    .select()
    .from(payments)
    .where(
      and(
        eq(payments.method, 'paystack'),
        eq(payments.status, 'pending'),
        lt(payments.createdAt, createdBefore),
      ),
    )
    .orderBy(asc(payments.createdAt), asc(payments.id))
    .limit(limit);
}

/**
 * Records that the gateway gave a payment's money back (a duplicate or mismatched charge). Only a
 * payment that never counted (pending or failed) changes; returns whether it did.
 */
export async function markPaymentRefunded(
  tx: Tx,
  paymentId: number,
  values: { gatewayReference: string; failureCode: string; failureMessage: string },
): Promise<boolean> {
  const rows = await tx
    .update(payments)
    .set({
      status: 'refunded',
      gatewayReference: values.gatewayReference,
      failureCode: values.failureCode.slice(0, 40),
      failureMessage: values.failureMessage.slice(0, 300),
      updatedAt: sql`now()`,
    })
    .where(and(eq(payments.id, paymentId), inArray(payments.status, ['pending', 'failed'])))
    .returning({ id: payments.id });
  return rows.length > 0;
}
