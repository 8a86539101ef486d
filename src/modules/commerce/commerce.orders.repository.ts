import { randomBytes } from 'node:crypto';
import { and, eq, inArray, sql } from 'drizzle-orm';
import type { DbOrTx, Tx } from '../../platform/db.ts';
import { couponRedemptions, orderEvents, orders, payments } from './commerce.tables.ts';

export type OrderRow = typeof orders.$inferSelect;
export type OrderStatus = OrderRow['status'];
export type PaymentRow = typeof payments.$inferSelect;
export type NewPayment = typeof payments.$inferInsert;

const BASE32 = 'abcdefghijklmnopqrstuvwxyz234567';

/** A public payment id and Paystack reference: `tx_` + 24 base32 characters (120 random bits). */
export function newTransactionId(): string {
  const bytes = randomBytes(15);
  let bits = 0;
  let value = 0;
  let out = '';
  for (const byte of bytes) {
    value = (value << 8) | byte;
    bits += 8;
    while (bits >= 5) {
      out += BASE32[(value >>> (bits - 5)) & 31];
      bits -= 5;
    }
  }
  return `tx_${out}`;
}

export async function findOrder(db: DbOrTx, id: number): Promise<OrderRow | undefined> {
  const [row] = await db.select().from(orders).where(eq(orders.id, id));
  return row;
}

/** The order row, locked for the rest of the transaction. */
export async function lockOrder(tx: Tx, id: number): Promise<OrderRow | undefined> {
  const [row] = await tx.select().from(orders).where(eq(orders.id, id)).for('update');
  return row;
}

/**
 * Moves an order from one of `from` to `to` and records why; returns the updated row, or null when
 * the order was not in an allowed state (someone else moved it first).
 */
export async function transitionOrder(
  tx: Tx,
  orderId: number,
  from: OrderStatus[],
  to: OrderStatus,
  reason: string,
): Promise<OrderRow | null> {
  const [before] = await tx
    .select({ status: orders.status })
    .from(orders)
    .where(eq(orders.id, orderId))
    .for('update');
  if (!before || !from.includes(before.status)) return null;
  const now = new Date();
  const [row] = await tx
    .update(orders)
    .set({
      status: to,
      updatedAt: now,
      ...(to === 'paid' ? { paidAt: now } : {}),
      ...(to === 'refunded' ? { refundedAt: now } : {}),
    })
    .where(and(eq(orders.id, orderId), inArray(orders.status, from)))
    .returning();
  if (!row) return null;
  await tx
    .insert(orderEvents)
    .values({ orderId, fromStatus: before.status, toStatus: to, reason: reason.slice(0, 300) });
  return row;
}

/** Releases the coupon use reserved for an order that will not be paid. */
export async function releaseCouponReservation(tx: Tx, orderId: number): Promise<void> {
  await tx.delete(couponRedemptions).where(eq(couponRedemptions.orderId, orderId));
}

export async function listOrderEvents(db: DbOrTx, orderId: number) {
  return db.select().from(orderEvents).where(eq(orderEvents.orderId, orderId)).orderBy(orderEvents.id);
}

export async function findPayment(db: DbOrTx, id: number): Promise<PaymentRow | undefined> {
  const [row] = await db.select().from(payments).where(eq(payments.id, id));
  return row;
}

export async function findPaymentByTransactionId(
  db: DbOrTx,
  transactionId: string,
): Promise<PaymentRow | undefined> {
  const [row] = await db.select().from(payments).where(eq(payments.transactionId, transactionId));
  return row;
}

/** The payment row, locked for the rest of the transaction. */
export async function lockPayment(tx: Tx, id: number): Promise<PaymentRow | undefined> {
  const [row] = await tx.select().from(payments).where(eq(payments.id, id)).for('update');
  return row;
}

export async function insertPayment(tx: DbOrTx, values: NewPayment): Promise<PaymentRow> {
  const [row] = await tx.insert(payments).values(values).returning();
  return row!;
}

export async function updatePayment(
  tx: DbOrTx,
  id: number,
  values: Partial<Omit<NewPayment, 'id'>>,
): Promise<PaymentRow> {
  const [row] = await tx
    .update(payments)
    .set({ ...values, updatedAt: sql`now()` })
    .where(eq(payments.id, id))
    .returning();
  return row!;
}

export async function listPaymentsOfOrder(db: DbOrTx, orderId: number): Promise<PaymentRow[]> {
  return db.select().from(payments).where(eq(payments.orderId, orderId)).orderBy(payments.id);
}
