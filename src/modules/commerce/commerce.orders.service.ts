import { Forbidden, NotFound } from '../../platform/errors.ts';
import type { Principal } from '../../platform/http/auth.ts';
import type { Platform } from '../../platform/platform.ts';
import { toMajor } from './commerce.money.ts';
import * as repo from './commerce.orders.repository.ts';
import { orderRoutes } from './commerce.orders.routes.ts';
import type { ListOrdersQuery } from './commerce.orders.schemas.ts';
import { pageOf } from '../../platform/http/pagination.ts';

export const CANCEL_STALE_ORDERS_JOB = 'commerce.cancelStaleOrders';
/** An order not paid within this long is cancelled and its coupon use released. */
export const PENDING_ORDER_TTL_MS = 24 * 3600_000;
const CANCEL_BATCH = 200;

const iso = (d: Date | null) => (d ? d.toISOString() : null);

function toSummary(o: repo.OrderRow) {
  return {
    orderId: o.id,
    userId: o.userId,
    courseId: o.courseId,
    courseTitle: o.courseTitle,
    status: o.status,
    currency: o.currency,
    listPrice: toMajor(o.listPriceMinor, o.currency),
    discount: toMajor(o.discountMinor, o.currency),
    amount: toMajor(o.amountMinor, o.currency),
    couponCode: o.couponCode,
    method: o.method,
    createdAt: o.createdAt.toISOString(),
    updatedAt: o.updatedAt.toISOString(),
    paidAt: iso(o.paidAt),
    refundedAt: iso(o.refundedAt),
  };
}

/** Orders as their buyers and admins see them, and the job that cancels abandoned ones. */
function createOrdersService({ platform }: { platform: Pick<Platform, 'db' | 'jobs' | 'logger'> }) {
  const { db } = platform;

  /**
   * Cancels orders left pending past the TTL, one transaction each (an order paid meanwhile is
   * left alone by the conditional transition). Pending Paystack payments stay pending so the
   * reconciliation job still settles them: one paid late is refunded as a duplicate.
   */
  async function cancelStaleOrders(now = new Date()): Promise<number> {
    let cancelled = 0;
    for (;;) {
      const ids = await repo.listStalePendingOrderIds(
        db,
        new Date(now.getTime() - PENDING_ORDER_TTL_MS),
        CANCEL_BATCH,
      );
      for (const id of ids) {
        const done = await db.transaction(async (tx) => {
          const row = await repo.transitionOrder(
            tx,
            id,
            ['pending'],
            'cancelled',
            'Not paid within 24 hours',
          );
          if (row) await repo.releaseCouponReservation(tx, id);
          return row !== null;
        });
        if (done) cancelled++;
      }
      if (ids.length < CANCEL_BATCH) return cancelled;
    }
  }

  platform.jobs.define({
    name: CANCEL_STALE_ORDERS_JOB,
    retryLimit: 2,
    handler: async () => {
      const count = await cancelStaleOrders();
      if (count > 0) platform.logger.info({ count }, 'cancelled unpaid orders');
    },
  });
  platform.jobs.schedule(CANCEL_STALE_ORDERS_JOB, '*/15 * * * *');

  const service = {
    /** The caller's orders (admins: anyone's with `userId`), newest first. */
    async list(principal: Principal, query: ListOrdersQuery) {
      if (query.userId !== undefined && query.userId !== principal.userId && principal.role !== 'admin') {
        throw new Forbidden('Only admins can list other users’ orders');
      }
      const rows = await repo.listOrders(db, {
        userId: query.userId ?? principal.userId,
        status: query.status,
        beforeId: query.cursor,
        limit: query.limit + 1,
      });
      return pageOf(rows, query.limit, toSummary);
    },

    /** One order with its payments and history: the buyer and admins; 404 for anyone else. */
    async get(principal: Principal, id: number) {
      const order = await repo.findOrder(db, id);
      if (!order || (order.userId !== principal.userId && principal.role !== 'admin')) {
        throw new NotFound('Order not found');
      }
      const [payments, events] = await Promise.all([
        repo.listPaymentsOfOrder(db, id),
        repo.listOrderEvents(db, id),
      ]);
      return {
        ...toSummary(order),
        coupon:
          order.couponId !== null && order.couponCode
            ? { couponId: order.couponId, code: order.couponCode }
            : null,
        payments: payments.map((p) => ({
          paymentId: p.id,
          transactionId: p.transactionId,
          method: p.method,
          status: p.status,
          amount: toMajor(p.amountMinor, p.currency),
          currency: p.currency,
          card: p.cardBrand && p.cardLast4 ? { brand: p.cardBrand, last4: p.cardLast4 } : null,
          failureCode: p.failureCode,
          failureMessage: p.failureMessage,
          createdAt: p.createdAt.toISOString(),
          paidAt: iso(p.paidAt),
        })),
        history: events.map((e) => ({
          from: e.fromStatus,
          to: e.toStatus,
          reason: e.reason,
          at: e.createdAt.toISOString(),
        })),
      };
    },

    cancelStaleOrders,
  };

  return { service };
}
export type OrdersService = ReturnType<typeof createOrdersService>['service'];

/** The feature as the module wires it: its routes. */
export function createOrdersFeature(deps: { platform: Pick<Platform, 'db' | 'jobs' | 'logger'> }) {
  const { service } = createOrdersService(deps);
  return { service, routes: orderRoutes(service) };
}
export type OrdersFeature = ReturnType<typeof createOrdersFeature>;
