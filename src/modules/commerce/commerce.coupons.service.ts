import type { Tx } from '../../platform/db.ts';
import { isUniqueViolation } from '../../platform/db.ts';
import { Conflict, Forbidden, NotFound, ValidationError } from '../../platform/errors.ts';
import type { Principal } from '../../platform/http/auth.ts';
import type { Platform } from '../../platform/platform.ts';
import type { CatalogApi } from '../catalog/index.ts';
import * as repo from './commerce.coupons.repository.ts';
import { couponRoutes } from './commerce.coupons.routes.ts';
import type { CreateCouponInput, ListCouponsQuery, UpdateCouponInput } from './commerce.coupons.schemas.ts';
import { SUPPORTED_CURRENCIES, toMajor, toMinor } from './commerce.money.ts';
import { findPendingOrderId, releaseCouponReservation } from './commerce.orders.repository.ts';
import { pageOf } from '../../platform/http/pagination.ts';

export interface CouponsDeps {
  platform: Pick<Platform, 'db'>;
  catalog: Pick<CatalogApi, 'getCourse'>;
}

/** An order's price after its coupon, in minor units. */
export interface OrderPrice {
  discountMinor: number;
  amountMinor: number;
  couponId: number | null;
  couponCode: string | null;
}

export const isSupportedCurrency = (currency: string) =>
  (SUPPORTED_CURRENCIES as readonly string[]).includes(currency);

const iso = (d: Date | null) => (d ? d.toISOString() : null);

function toCoupon(c: repo.CouponWithUses) {
  return {
    couponId: c.id,
    code: c.code,
    kind: c.kind,
    percentOff: c.percentOff,
    amountOff: c.amountOffMinor !== null && c.currency ? toMajor(c.amountOffMinor, c.currency) : null,
    currency: c.currency,
    courseId: c.courseId,
    startsAt: iso(c.startsAt),
    endsAt: iso(c.endsAt),
    maxRedemptions: c.maxRedemptions,
    perUserLimit: c.perUserLimit,
    active: c.active,
    redemptions: c.redemptions,
    createdBy: c.createdBy,
    createdAt: c.createdAt.toISOString(),
    updatedAt: c.updatedAt.toISOString(),
  };
}

/**
 * Whether a coupon applies to a course at a price right now (limits aside), and its discount:
 * percent rounds half up in minor units; fixed never exceeds the price.
 */
export function evaluateCoupon(
  c: repo.CouponRow,
  target: { courseId: number; currency: string; listPriceMinor: number; now: Date },
): { ok: true; discountMinor: number } | { ok: false; reason: string } {
  if (!c.active) return { ok: false, reason: 'Coupon is inactive' };
  if (c.startsAt && c.startsAt > target.now) return { ok: false, reason: 'Coupon is not active yet' };
  if (c.endsAt && c.endsAt <= target.now) return { ok: false, reason: 'Coupon has expired' };
  if (c.courseId !== null && c.courseId !== target.courseId) {
    return { ok: false, reason: 'Coupon does not apply to this course' };
  }
  if (c.kind === 'fixed') {
    if (c.currency !== target.currency)
      return { ok: false, reason: 'Coupon does not apply to this currency' };
    return { ok: true, discountMinor: Math.min(c.amountOffMinor ?? 0, target.listPriceMinor) };
  }
  return { ok: true, discountMinor: Math.floor((target.listPriceMinor * (c.percentOff ?? 0) + 50) / 100) };
}

function limitReason(c: repo.CouponRow, uses: { total: number; byUser: number }): string | null {
  if (c.maxRedemptions !== null && uses.total >= c.maxRedemptions) return 'Coupon usage limit reached';
  if (uses.byUser >= c.perUserLimit) return 'You have already used this coupon';
  return null;
}

/** Discount codes: created by admins (any course or site-wide) and instructors (their courses). */
function createCouponsService({ platform, catalog }: CouponsDeps) {
  const { db } = platform;

  async function visibleCoupon(principal: Principal, id: number) {
    const found = await repo.findCouponById(db, id);
    if (!found || (principal.role !== 'admin' && found.createdBy !== principal.userId)) {
      throw new NotFound('Coupon not found');
    }
    return found;
  }

  const service = {
    async create(principal: Principal, input: CreateCouponInput) {
      if (input.courseId === undefined) {
        if (principal.role !== 'admin') {
          throw new Forbidden(
            'Only admins can create site-wide coupons; give the courseId of a course you teach',
          );
        }
      } else {
        const course = await catalog.getCourse(input.courseId);
        if (!course) throw new NotFound('Course not found');
        const teaches =
          course.ownerId === principal.userId || course.instructorIds.includes(principal.userId);
        if (principal.role !== 'admin' && !teaches) {
          throw new Forbidden('You can only create coupons for courses you teach');
        }
        if (input.currency !== undefined && input.currency !== course.currency) {
          throw new ValidationError('Invalid input data', [
            { field: 'body.currency', message: `Must be the course currency (${course.currency})` },
          ]);
        }
      }
      try {
        const row = await repo.insertCoupon(db, {
          code: input.code,
          kind: input.kind,
          percentOff: input.kind === 'percent' ? (input.percentOff ?? null) : null,
          amountOffMinor:
            input.kind === 'fixed' && input.amountOff !== undefined && input.currency
              ? toMinor(input.amountOff, input.currency)
              : null,
          currency: input.kind === 'fixed' ? (input.currency ?? null) : null,
          courseId: input.courseId ?? null,
          createdBy: principal.userId,
          startsAt: input.startsAt ?? null,
          endsAt: input.endsAt ?? null,
          maxRedemptions: input.maxRedemptions ?? null,
          perUserLimit: input.perUserLimit,
          active: input.active,
        });
        return toCoupon({ ...row, redemptions: 0 });
      } catch (err) {
        if (isUniqueViolation(err)) throw new Conflict('A coupon with this code already exists');
        throw err;
      }
    },

    async list(principal: Principal, query: ListCouponsQuery) {
      const rows = await repo.listCoupons(db, {
        createdBy: principal.role === 'admin' ? undefined : principal.userId,
        courseId: query.courseId,
        beforeId: query.cursor,
        limit: query.limit + 1,
      });
      return pageOf(rows, query.limit, toCoupon);
    },

    async update(principal: Principal, id: number, input: UpdateCouponInput) {
      const existing = await visibleCoupon(principal, id);
      const startsAt = input.startsAt !== undefined ? input.startsAt : existing.startsAt;
      const endsAt = input.endsAt !== undefined ? input.endsAt : existing.endsAt;
      if (startsAt && endsAt && endsAt <= startsAt) {
        throw new ValidationError('Invalid input data', [
          { field: 'body.endsAt', message: 'Must be after startsAt' },
        ]);
      }
      await repo.updateCoupon(db, id, input);
      return toCoupon((await repo.findCouponById(db, id))!);
    },

    /** What a coupon would do for the caller on a course; never reserves a use. */
    async validate(principal: Principal, input: { code: string; courseId: number }) {
      const course = await catalog.getCourse(input.courseId);
      if (!course || course.status !== 'published') throw new NotFound('Course not found');
      if (!isSupportedCurrency(course.currency)) {
        throw new ValidationError('Invalid input data', [
          {
            field: 'body.courseId',
            message: `This course is priced in ${course.currency}, which cannot be paid online`,
          },
        ]);
      }
      const { currency, priceMinor } = course;
      const answer = (discountMinor: number, reason?: string) => ({
        valid: reason === undefined,
        code: input.code,
        courseId: course.courseId,
        listPrice: toMajor(priceMinor, currency),
        discount: toMajor(discountMinor, currency),
        amount: toMajor(priceMinor - discountMinor, currency),
        currency,
        ...(reason === undefined ? {} : { reason }),
      });
      if (priceMinor === 0) return answer(0, 'This course is free');
      const found = await repo.findCouponByCode(db, input.code);
      if (!found) return answer(0, 'Coupon not found');
      const result = evaluateCoupon(found, {
        courseId: course.courseId,
        currency,
        listPriceMinor: priceMinor,
        now: new Date(),
      });
      if (!result.ok) return answer(0, result.reason);
      const pendingOrderId = await findPendingOrderId(db, principal.userId, course.courseId);
      const reason = limitReason(
        found,
        await repo.countRedemptions(db, found.id, principal.userId, pendingOrderId),
      );
      return reason ? answer(0, reason) : answer(result.discountMinor);
    },
  };

  const api = {
    /**
     * Prices an order inside the checkout transaction: drops the order's previous coupon use, then,
     * with a code, locks the coupon row, checks window, course, currency and limits, and reserves a
     * use for this order (released when the order fails or is cancelled). A code that does not
     * apply is 400 on `body.couponCode`.
     */
    async priceOrder(
      tx: Tx,
      input: {
        userId: number;
        courseId: number;
        orderId: number;
        listPriceMinor: number;
        currency: string;
        code?: string;
      },
    ): Promise<OrderPrice> {
      await releaseCouponReservation(tx, input.orderId);
      if (!input.code) {
        return { discountMinor: 0, amountMinor: input.listPriceMinor, couponId: null, couponCode: null };
      }
      const refuse = (message: string) =>
        new ValidationError('Coupon cannot be applied', [{ field: 'body.couponCode', message }]);
      const found = await repo.lockCouponByCode(tx, input.code);
      if (!found) throw refuse('Coupon not found');
      const result = evaluateCoupon(found, { ...input, now: new Date() });
      if (!result.ok) throw refuse(result.reason);
      const reason = limitReason(
        found,
        await repo.countRedemptions(tx, found.id, input.userId, input.orderId),
      );
      if (reason) throw refuse(reason);
      await repo.insertRedemption(tx, { couponId: found.id, userId: input.userId, orderId: input.orderId });
      return {
        discountMinor: result.discountMinor,
        amountMinor: input.listPriceMinor - result.discountMinor,
        couponId: found.id,
        couponCode: found.code,
      };
    },
  };

  return { api, service };
}
export type CouponsService = ReturnType<typeof createCouponsService>['service'];
export type CouponsApi = ReturnType<typeof createCouponsService>['api'];

/** The feature as the module wires it: its API for other features and its routes. */
export function createCouponsFeature(deps: CouponsDeps) {
  const { api, service } = createCouponsService(deps);
  return { api, service, routes: couponRoutes(service) };
}
export type CouponsFeature = ReturnType<typeof createCouponsFeature>;
