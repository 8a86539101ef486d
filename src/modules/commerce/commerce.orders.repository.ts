import { randomBytes } from 'node:crypto';
import { and, asc, desc, eq, inArray, lt, ne, sql } from 'drizzle-orm';
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

/** Whether the order has a pending payment other than `exceptPaymentId` (a checkout still open). */
export async function hasOtherPendingPayment(
  db: DbOrTx,
  orderId: number,
  exceptPaymentId: number,
): Promise<boolean> {
  const [row] = await db
    .select({ id: payments.id })
    .from(payments)
    .where(
      and(eq(payments.orderId, orderId), eq(payments.status, 'pending'), ne(payments.id, exceptPaymentId)),
    )
    .limit(1);
  return row !== undefined;
}

export async function listPaymentsOfOrder(db: DbOrTx, orderId: number): Promise<PaymentRow[]> {
  return db.select().from(payments).where(eq(payments.orderId, orderId)).orderBy(payments.id);
}

export type NewOrder = typeof orders.$inferInsert;

/**
 * Inserts a pending order with its first history row; returns undefined when the user already has
 * a pending order for the course (the partial unique index decides, so concurrent checkouts agree).
 */
export async function insertPendingOrder(
  tx: Tx,
  values: Pick<
    NewOrder,
    'userId' | 'courseId' | 'courseTitle' | 'currency' | 'listPriceMinor' | 'amountMinor' | 'method'
  >,
): Promise<OrderRow | undefined> {
  const [row] = await tx
    .insert(orders)
    .values({ ...values, status: 'pending' })
    .onConflictDoNothing()
    .returning();
  if (row) {
    await tx
      .insert(orderEvents)
      .values({ orderId: row.id, fromStatus: null, toStatus: 'pending', reason: 'Order created' });
  }
  return row;
}

/** The user's pending order for a course, locked for the rest of the transaction. */
export async function lockPendingOrder(
  tx: Tx,
  userId: number,
  courseId: number,
): Promise<OrderRow | undefined> {
  const [row] = await tx
    .select()
    .from(orders)
    .where(and(eq(orders.userId, userId), eq(orders.courseId, courseId), eq(orders.status, 'pending')))
    .for('update');
  return row;
}

/** The user's pending order for a course (no lock), e.g. to leave its own coupon use out of a count. */
export async function findPendingOrderId(
  db: DbOrTx,
  userId: number,
  courseId: number,
): Promise<number | undefined> {
  const [row] = await db
    .select({ id: orders.id })
    .from(orders)
    .where(and(eq(orders.userId, userId), eq(orders.courseId, courseId), eq(orders.status, 'pending')));
  return row?.id;
}

export async function hasPaidOrder(db: DbOrTx, userId: number, courseId: number): Promise<boolean> {
  const [row] = await db
    .select({ id: orders.id })
    .from(orders)
    .where(and(eq(orders.userId, userId), eq(orders.courseId, courseId), eq(orders.status, 'paid')));
  return row !== undefined;
}

/** Sets a pending order's price snapshot (it is priced again at every checkout attempt). */
export async function updateOrderPrice(
  tx: Tx,
  orderId: number,
  values: Pick<
    NewOrder,
    | 'courseTitle'
    | 'currency'
    | 'listPriceMinor'
    | 'discountMinor'
    | 'amountMinor'
    | 'couponId'
    | 'couponCode'
    | 'method'
  >,
): Promise<OrderRow> {
  const [row] = await tx
    .update(orders)
    .set({ ...values, updatedAt: sql`now()` })
    .where(eq(orders.id, orderId))
    .returning();
  return row!;
}

/** Records a history row that does not change the status (e.g. re-priced at a new checkout). */
export async function insertOrderNote(
  tx: Tx,
  orderId: number,
  status: OrderStatus,
  reason: string,
): Promise<void> {
  await tx
    .insert(orderEvents)
    .values({ orderId, fromStatus: status, toStatus: status, reason: reason.slice(0, 300) });
}

/** Orders newest first, `limit` rows before `beforeId`, optionally of one user and status. */
export async function listOrders(
  db: DbOrTx,
  params: { userId?: number; status?: OrderStatus; beforeId?: number; limit: number },
): Promise<OrderRow[]> {
  return db
    .select()
    .from(orders)
    .where(
      and(
        params.userId === undefined ? undefined : eq(orders.userId, params.userId),
        params.status === undefined ? undefined : eq(orders.status, params.status),
        params.beforeId === undefined ? undefined : lt(orders.id, params.beforeId),
      ),
    )
    .orderBy(desc(orders.id))
    .limit(params.limit);
}

/** Ids of orders still pending whose last pricing is older than `before`, oldest first. */
export async function listStalePendingOrderIds(db: DbOrTx, before: Date, limit: number): Promise<number[]> {
  const rows = await db
    .select({ id: orders.id })
    .from(orders)
    .where(and(eq(orders.status, 'pending'), lt(orders.updatedAt, before)))
    .orderBy(asc(orders.id))
    .limit(limit);
  return rows.map((r) => r.id);
}
