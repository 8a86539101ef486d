import type { Tx } from '../../platform/db.ts';
import {
  AppError,
  BadGateway,
  Conflict,
  Forbidden,
  InProgress,
  NotFound,
  PaymentRequired,
  ValidationError,
} from '../../platform/errors.ts';
import type { Principal } from '../../platform/http/auth.ts';
import type { Platform } from '../../platform/platform.ts';
import type { CatalogApi } from '../catalog/index.ts';
import type { IdentityApi } from '../identity/index.ts';
import {
  type CardChargeResult,
  type CheckedCard,
  checkCard,
  createCardGateway,
} from './commerce.card-gateway.ts';
import { type CouponsApi, isSupportedCurrency } from './commerce.coupons.service.ts';
import type { Fulfilment } from './commerce.fulfilment.ts';
import { toMajor, toMinor } from './commerce.money.ts';
import * as orders from './commerce.orders.repository.ts';
import { PAYSTACK_CURRENCIES } from './commerce.paystack.client.ts';
import { paymentRoutes } from './commerce.payments.routes.ts';
import type { InitiatePaymentInput } from './commerce.payments.schemas.ts';

/** The part of the Paystack adapter checkout needs (throws BadGateway when Paystack is down). */
export interface PaystackInitializer {
  initialize(input: {
    reference: string;
    amountMinor: number;
    currency: string;
    email: string;
    callbackUrl?: string;
    metadata: Record<string, unknown>;
  }): Promise<{ accessCode: string; authorizationUrl: string }>;
}

export interface PaymentsDeps {
  platform: Pick<Platform, 'db' | 'config'>;
  identity: Pick<IdentityApi, 'getProfile'>;
  catalog: Pick<CatalogApi, 'getCourse'>;
  fulfilment: Pick<Fulfilment, 'paymentSucceeded' | 'paymentFailed'>;
  coupons: Pick<CouponsApi, 'priceOrder'>;
  paystack: PaystackInitializer;
}

type Course = NonNullable<Awaited<ReturnType<CatalogApi['getCourse']>>>;

/**
 * Asked before a checkout opens an order: throws when the user may not buy the course (already
 * enrolled: 409; prerequisites not completed: 403). The enrollment module registers it, since
 * commerce is built before enrollment and must not reach into its tables.
 */
export type PurchaseCheck = (
  userId: number,
  course: { courseId: number; prerequisiteIds: number[] },
) => Promise<void>;

const MESSAGES = {
  card: 'Card payment processed successfully',
  paystack: 'Payment initialized successfully with Paystack',
  wallet: 'Paid from wallet successfully',
  free: 'Paid in full by coupon',
} as const;

const alreadyBought = () => new Conflict('You have already bought this course');

const field = (name: string, message: string) =>
  new ValidationError('Invalid payment details', [{ field: name, message }]);

/**
 * Seed 002's Payment Service: checkout by card (the built-in gateway), Paystack (hosted page) or
 * wallet. The server prices every order itself; the client's amount must match it.
 */
function createPaymentsService({ platform, identity, catalog, fulfilment, coupons, paystack }: PaymentsDeps) {
  const { db } = platform;
  const cards = createCardGateway(platform.config.signingSecret);
  let purchaseCheck: PurchaseCheck = async () => {};

  /** Request checks that need no database: who pays, which fields go with which method. */
  function checkRequest(principal: Principal, input: InitiatePaymentInput): CheckedCard | null {
    if (input.userId !== principal.userId) throw new Forbidden('You can only pay for your own purchases');
    if (input.method !== 'card' && input.cardDetails)
      throw field('body.cardDetails', 'Only used with method "card"');
    if (input.method !== 'paystack' && input.paystackEmail) {
      throw field('body.paystackEmail', 'Only used with method "paystack"');
    }
    if (input.method !== 'card') return null;
    if (!input.cardDetails) throw field('body.cardDetails', 'Required for card payments');
    return checkCard(input.cardDetails);
  }

  async function sellableCourse(input: InitiatePaymentInput): Promise<Course> {
    const course = await catalog.getCourse(input.courseId);
    if (!course || course.status !== 'published') throw new NotFound('Course not found');
    if (course.priceMinor === 0) {
      throw new ValidationError('This course is free; enroll directly', [
        { field: 'body.courseId', message: 'This course is free; enroll directly' },
      ]);
    }
    if (!isSupportedCurrency(course.currency)) {
      throw field(
        'body.courseId',
        `This course is priced in ${course.currency}, which cannot be paid online`,
      );
    }
    if (input.currency !== undefined && input.currency !== course.currency) {
      throw field('body.currency', `This course is sold in ${course.currency}`);
    }
    if (
      input.method === 'paystack' &&
      !(PAYSTACK_CURRENCIES as readonly string[]).includes(course.currency)
    ) {
      throw field('body.method', `Paystack does not accept ${course.currency}; pay by card or wallet`);
    }
    return course;
  }

  /**
   * The user's one pending order for the course, locked: reused when it exists, created otherwise.
   * The paid check comes after the lock, so a concurrent payment of the same course is seen.
   */
  async function openOrder(tx: Tx, userId: number, course: Course, method: InitiatePaymentInput['method']) {
    for (let attempt = 0; attempt < 3; attempt++) {
      const order =
        (await orders.lockPendingOrder(tx, userId, course.courseId)) ??
        (await orders.insertPendingOrder(tx, {
          userId,
          courseId: course.courseId,
          courseTitle: course.title.slice(0, 200),
          currency: course.currency,
          listPriceMinor: course.priceMinor,
          amountMinor: course.priceMinor,
          method,
        }));
      if (!order) continue; // another checkout created it between our two statements: lock that one
      if (await orders.hasPaidOrder(tx, userId, course.courseId)) {
        throw alreadyBought();
      }
      return order;
    }
    throw new InProgress('Another checkout for this course is in progress; try again');
  }

  /** Opens and prices the order, checks the client's amount and records a pending payment. */
  async function priceAndRecord(
    tx: Tx,
    principal: Principal,
    input: InitiatePaymentInput,
    course: Course,
    card: CheckedCard | null,
  ) {
    const order = await openOrder(tx, principal.userId, course, input.method);
    const price = await coupons.priceOrder(tx, {
      userId: principal.userId,
      courseId: course.courseId,
      orderId: order.id,
      listPriceMinor: course.priceMinor,
      currency: course.currency,
      code: input.couponCode,
    });
    if (toMinor(input.amount, course.currency) !== price.amountMinor) {
      throw new ValidationError('Amount does not match the price', [
        {
          field: 'body.amount',
          message: `Must be ${toMajor(price.amountMinor, course.currency)} ${course.currency}, the price${price.couponCode ? ' after the coupon' : ''}`,
        },
      ]);
    }
    const changed =
      order.currency !== course.currency ||
      order.amountMinor !== price.amountMinor ||
      order.listPriceMinor !== course.priceMinor ||
      order.couponId !== price.couponId;
    // The course may have changed currency since the order opened: the order follows the course.
    const priced = await orders.updateOrderPrice(tx, order.id, {
      courseTitle: course.title.slice(0, 200),
      currency: course.currency,
      listPriceMinor: course.priceMinor,
      discountMinor: price.discountMinor,
      amountMinor: price.amountMinor,
      couponId: price.couponId,
      couponCode: price.couponCode,
      method: input.method,
    });
    // A new order starts at the list price, so for it this notes the coupon; for a reused one, a new price.
    if (changed) {
      await orders.insertOrderNote(
        tx,
        order.id,
        'pending',
        `Priced ${toMajor(price.amountMinor, course.currency)} ${course.currency}${price.couponCode ? ` with coupon ${price.couponCode}` : ''}`,
      );
    }
    const payment = await orders.insertPayment(tx, {
      transactionId: orders.newTransactionId(),
      orderId: order.id,
      userId: principal.userId,
      courseId: course.courseId,
      method: input.method,
      status: 'pending',
      amountMinor: price.amountMinor,
      currency: course.currency,
      cardBrand: card?.brand ?? null,
      cardLast4: card?.last4 ?? null,
    });
    return { order: priced, payment };
  }

  const result = (payment: orders.PaymentRow, status: 'success' | 'pending', message: string) => ({
    paymentId: payment.id,
    transactionId: payment.transactionId,
    orderId: payment.orderId,
    method: payment.method,
    status,
    message,
    amount: toMajor(payment.amountMinor, payment.currency),
    currency: payment.currency,
    ...(payment.cardBrand && payment.cardLast4
      ? { card: { brand: payment.cardBrand, last4: payment.cardLast4 } }
      : {}),
  });

  async function fulfil(tx: Tx, paymentId: number, gatewayReference?: string) {
    const done = await fulfilment.paymentSucceeded(
      tx,
      paymentId,
      gatewayReference ? { gatewayReference } : {},
    );
    // We hold the pending order's lock and the payment is new: anything else is a bug.
    if (done.outcome !== 'fulfilled')
      throw new Error(`Payment ${paymentId} could not be fulfilled (${done.outcome})`);
  }

  /**
   * Card and wallet checkouts run in one transaction holding the order lock. A refusal (declined
   * card, short wallet) is committed as a failed payment and order, then answered 402; a gateway
   * error leaves the order pending for a retry and is answered 502.
   */
  async function payNow(
    principal: Principal,
    input: InitiatePaymentInput,
    course: Course,
    card: CheckedCard | null,
  ) {
    type Outcome =
      | { ok: true; payment: orders.PaymentRow; free: boolean }
      | { ok: false; error: PaymentRequired | BadGateway };
    const outcome = await db.transaction(async (tx): Promise<Outcome> => {
      const { payment } = await priceAndRecord(tx, principal, input, course, card);
      if (payment.amountMinor === 0) {
        await fulfil(tx, payment.id);
        return { ok: true, payment, free: true };
      }
      if (input.method === 'card') {
        const charge: CardChargeResult = await cards.charge({
          card: input.cardDetails!,
          amountMinor: payment.amountMinor,
          currency: payment.currency,
        });
        if (charge.status === 'succeeded') {
          await fulfil(tx, payment.id, charge.chargeId);
          return { ok: true, payment, free: false };
        }
        const terminal = charge.status !== 'gateway_error';
        await fulfilment.paymentFailed(tx, payment.id, {
          code: charge.code,
          message: charge.message,
          terminal,
        });
        return {
          ok: false,
          error: terminal ? new PaymentRequired(charge.message) : new BadGateway(charge.message),
        };
      }
      try {
        // A savepoint: a short wallet undoes only the debit attempt, not the order and payment.
        await tx.transaction((sp) => fulfil(sp, payment.id));
        return { ok: true, payment, free: false };
      } catch (err) {
        if (!(err instanceof PaymentRequired)) throw err;
        await fulfilment.paymentFailed(tx, payment.id, {
          code: 'insufficient_wallet_balance',
          message: err.message,
          terminal: true,
        });
        return { ok: false, error: err };
      }
    });
    if (!outcome.ok) throw outcome.error;
    const message = outcome.free ? MESSAGES.free : input.method === 'card' ? MESSAGES.card : MESSAGES.wallet;
    return result(outcome.payment, 'success', message);
  }

  /** Paystack: the pending payment is committed first; Paystack is called outside any transaction. */
  async function payWithPaystack(
    principal: Principal,
    input: InitiatePaymentInput,
    course: Course,
    email: string,
  ) {
    const { payment } = await db.transaction(async (tx) => {
      const recorded = await priceAndRecord(tx, principal, input, course, null);
      if (recorded.payment.amountMinor === 0) await fulfil(tx, recorded.payment.id);
      return recorded;
    });
    if (payment.amountMinor === 0) return result(payment, 'success', MESSAGES.free);
    let started: { accessCode: string; authorizationUrl: string };
    try {
      started = await paystack.initialize({
        reference: payment.transactionId,
        amountMinor: payment.amountMinor,
        currency: payment.currency,
        email,
        metadata: {
          paymentId: payment.id,
          orderId: payment.orderId,
          userId: payment.userId,
          courseId: payment.courseId,
        },
      });
    } catch (err) {
      await db.transaction((tx) =>
        fulfilment.paymentFailed(tx, payment.id, {
          code: 'gateway_error',
          message: 'Paystack could not start the payment',
          terminal: false,
        }),
      );
      throw err instanceof AppError
        ? err
        : new BadGateway('Paystack could not start the payment; please try again');
    }
    const updated = await orders.updatePayment(db, payment.id, {
      accessCode: started.accessCode,
      authorizationUrl: started.authorizationUrl,
    });
    return {
      ...result(updated, 'pending', MESSAGES.paystack),
      accessCode: started.accessCode,
      authorizationUrl: started.authorizationUrl,
    };
  }

  const service = {
    /** `POST /api/payments/initiate`. */
    async initiate(principal: Principal, input: InitiatePaymentInput) {
      const card = checkRequest(principal, input);
      const course = await sellableCourse(input);
      const profile = await identity.getProfile(principal.userId);
      if (!profile.isEmailVerified) throw new Forbidden('Verify your email address before buying a course');
      // Bought before: say so, whether or not the enrollment that follows a payment exists yet (the
      // check under the order lock below still decides a race).
      if (await orders.hasPaidOrder(db, principal.userId, course.courseId)) throw alreadyBought();
      await purchaseCheck(principal.userId, course);
      if (input.method === 'paystack') {
        return payWithPaystack(principal, input, course, input.paystackEmail ?? profile.email);
      }
      return payNow(principal, input, course, card);
    },

    /** `GET /api/payments/status/{transactionId}`: the payer and admins; 404 for everyone else. */
    async status(principal: Principal, transactionId: string) {
      const payment = await orders.findPaymentByTransactionId(db, transactionId);
      if (!payment || (payment.userId !== principal.userId && principal.role !== 'admin')) {
        throw new NotFound('Transaction not found');
      }
      return {
        paymentId: payment.id,
        transactionId: payment.transactionId,
        orderId: payment.orderId,
        courseId: payment.courseId,
        status: payment.status,
        amount: toMajor(payment.amountMinor, payment.currency),
        currency: payment.currency,
        paymentDate: (payment.paidAt ?? payment.createdAt).toISOString(),
        method: payment.method,
        card:
          payment.cardBrand && payment.cardLast4
            ? { brand: payment.cardBrand, last4: payment.cardLast4 }
            : null,
        failureMessage: payment.failureMessage,
      };
    },
  };

  const api = {
    /** Registers the enrollment module's check of who may buy a course (see `PurchaseCheck`). */
    setPurchaseCheck(check: PurchaseCheck) {
      purchaseCheck = check;
    },

    /** A payment by its integer id (enrollment checks the payer, course and status), or null. */
    async getPayment(paymentId: number) {
      const p = await orders.findPayment(db, paymentId);
      if (!p) return null;
      return {
        paymentId: p.id,
        transactionId: p.transactionId,
        userId: p.userId,
        courseId: p.courseId,
        orderId: p.orderId,
        status: p.status,
        method: p.method,
      };
    },
  };

  return { api, service };
}
export type PaymentsService = ReturnType<typeof createPaymentsService>['service'];
export type PaymentsApi = ReturnType<typeof createPaymentsService>['api'];

/** The feature as the module wires it: its API for other features and its routes. */
export function createPaymentsFeature(deps: PaymentsDeps) {
  const { api, service } = createPaymentsService(deps);
  return { api, service, routes: paymentRoutes(service) };
}
export type PaymentsFeature = ReturnType<typeof createPaymentsFeature>;
