import { and, count, desc, eq, lt, ne, sql } from 'drizzle-orm';
import type { DbOrTx, Tx } from '../../platform/db.ts';
import { couponRedemptions, coupons } from './commerce.tables.ts';

export type CouponRow = typeof coupons.$inferSelect;
export type NewCoupon = typeof coupons.$inferInsert;
export type CouponWithUses = CouponRow & { redemptions: number };

/** Uses of a coupon: reserved by pending orders or kept by paid ones. */
// Written with explicit qualifiers: drizzle leaves columns unqualified in single-table selects,
// and an unqualified `id` here would mean the redemption's id.
const redemptionCount = sql<number>`(select count(*)::int from ${couponRedemptions} r where r.coupon_id = ${coupons}.id)`;

export async function insertCoupon(db: DbOrTx, values: NewCoupon): Promise<CouponRow> {
  const [row] = await db.insert(coupons).values(values).returning();
  return row!;
}

export async function findCouponById(db: DbOrTx, id: number): Promise<CouponWithUses | undefined> {
  const [row] = await db
    .select({ coupon: coupons, redemptions: redemptionCount })
    .from(coupons)
    .where(eq(coupons.id, id));
  return row ? { ...row.coupon, redemptions: Number(row.redemptions) } : undefined;
}

export async function findCouponByCode(db: DbOrTx, code: string): Promise<CouponRow | undefined> {
  const [row] = await db.select().from(coupons).where(eq(coupons.code, code));
  return row;
}

/** The coupon row, locked: its limits are checked and a use reserved while the lock is held. */
export async function lockCouponByCode(tx: Tx, code: string): Promise<CouponRow | undefined> {
  const [row] = await tx.select().from(coupons).where(eq(coupons.code, code)).for('update');
  return row;
}

export async function updateCoupon(
  db: DbOrTx,
  id: number,
  values: Partial<Pick<NewCoupon, 'active' | 'startsAt' | 'endsAt' | 'maxRedemptions' | 'perUserLimit'>>,
): Promise<void> {
  await db
    .update(coupons)
    .set({ ...values, updatedAt: sql`now()` })
    .where(eq(coupons.id, id));
}

/** Coupons newest first, `limit` rows before `beforeId`, optionally by creator and course. */
export async function listCoupons(
  db: DbOrTx,
  params: { createdBy?: number; courseId?: number; beforeId?: number; limit: number },
): Promise<CouponWithUses[]> {
  const rows = await db
    .select({ coupon: coupons, redemptions: redemptionCount })
    .from(coupons)
    .where(
      and(
        params.createdBy === undefined ? undefined : eq(coupons.createdBy, params.createdBy),
        params.courseId === undefined ? undefined : eq(coupons.courseId, params.courseId),
        params.beforeId === undefined ? undefined : lt(coupons.id, params.beforeId),
      ),
    )
    .orderBy(desc(coupons.id))
    .limit(params.limit);
  return rows.map((r) => ({ ...r.coupon, redemptions: Number(r.redemptions) }));
}

/**
 * Uses of a coupon, in total and by one user, leaving out one order's own reservation (an order
 * being priced again must not count against itself).
 */
export async function countRedemptions(
  db: DbOrTx,
  couponId: number,
  userId: number,
  excludeOrderId?: number,
): Promise<{ total: number; byUser: number }> {
  const [row] = await db
    .select({
      total: count(),
      byUser: sql<number>`count(*) filter (where ${couponRedemptions.userId} = ${userId})::int`,
    })
    .from(couponRedemptions)
    .where(
      and(
        eq(couponRedemptions.couponId, couponId),
        excludeOrderId === undefined ? undefined : ne(couponRedemptions.orderId, excludeOrderId),
      ),
    );
  return { total: Number(row?.total ?? 0), byUser: Number(row?.byUser ?? 0) };
}

export async function insertRedemption(
  tx: Tx,
  values: { couponId: number; userId: number; orderId: number },
): Promise<void> {
  await tx.insert(couponRedemptions).values(values);
}
