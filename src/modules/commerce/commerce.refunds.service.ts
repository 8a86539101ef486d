import type { Tx } from '../../platform/db.ts';
import { AppError, Conflict, Forbidden, InProgress, NotFound } from '../../platform/errors.ts';
import type { Principal } from '../../platform/http/auth.ts';
import type { Platform } from '../../platform/platform.ts';
import type { IdentityApi } from '../identity/index.ts';
import type { CardGateway } from './commerce.card-gateway.ts';
import { ORDER_REFUNDED, type OrderRefunded } from './commerce.events.ts';
import { type AccountRef, postLedger } from './commerce.ledger.ts';
import { toMajor } from './commerce.money.ts';
import * as orders from './commerce.orders.repository.ts';
import * as repo from './commerce.refunds.repository.ts';
import { refundRoutes } from './commerce.refunds.routes.ts';
import type { RefundInput, RefundView } from './commerce.refunds.schemas.ts';

export const PROCESS_REFUND_JOB = 'commerce.processRefund';
/**
 * The job waits this long before its first run, so it rarely calls the gateway while the request
 * that enqueued it is still doing so (both calls would be harmless: refunds are idempotent).
 */
export const REFUND_JOB_HEAD_START_SECONDS = 5;
/** Retries (with exponential backoff) before a refund is marked failed. */
export const REFUND_JOB_RETRY_LIMIT = 10;
const DAY_MS = 86_400_000;

/** The part of the Paystack adapter refunds need (throws BadGateway when Paystack is down). */
export interface PaystackRefunder {
  refund(input: { reference: string; amountMinor: number }): Promise<{ refundId: string }>;
}

export interface RefundsDeps {
  platform: Pick<Platform, 'db' | 'jobs' | 'events' | 'config' | 'logger'>;
  identity: Pick<IdentityApi, 'audit'>;
  cardGateway: Pick<CardGateway, 'refund'>;
  paystack: PaystackRefunder;
}

/** Who asks, with what the audit log keeps about the request. */
export interface RefundActor extends Principal {
  ip?: string;
  userAgent?: string;
  requestId?: string;
}

interface Returned {
  /** The gateway's refund id (null when nothing external happened). */
  gatewayReference: string | null;
  /** For the order history: where the money went. */
  note: string;
}

/** Where refunded money goes in the ledger: back to the wallet, or out through the gateway. */
function destination(payment: orders.PaymentRow): AccountRef {
  return payment.method === 'wallet'
    ? { kind: 'user_wallet', userId: payment.userId, currency: payment.currency }
    : { kind: 'gateway_clearing', currency: payment.currency };
}

/** What a failed attempt may tell the buyer (internal errors stay in the log). */
const publicMessage = (err: unknown) =>
  err instanceof AppError ? err.message : 'The payment gateway could not process the refund';

/**
 * Full refunds of paid orders back to the original method. The flow survives a crash anywhere:
 * the pending refund and its job commit together; returning the money is idempotent (the card
 * gateway derives the refund id from the charge, Paystack refuses a second full refund, a wallet
 * credit is posted once per refund reference); completing it (order, payment, ledger, event) is
 * one transaction that does nothing when it already happened.
 */
function createRefundsService({ platform, identity, cardGateway, paystack }: RefundsDeps) {
  const { db, jobs, events, logger, config } = platform;

  async function view(refund: repo.RefundRow): Promise<RefundView> {
    const payment = await orders.findPayment(db, refund.paymentId);
    if (!payment) throw new Error(`Refund ${refund.id} refers to a missing payment`);
    return {
      refundId: refund.id,
      orderId: refund.orderId,
      paymentId: refund.paymentId,
      transactionId: payment.transactionId,
      status: refund.status,
      amount: toMajor(refund.amountMinor, refund.currency),
      currency: refund.currency,
      method: payment.method,
      reason: refund.reason,
      requestedBy: refund.requestedBy,
      gatewayReference: refund.gatewayReference,
      attempts: refund.attempts,
      failureMessage: refund.failureMessage,
      createdAt: refund.createdAt.toISOString(),
      completedAt: refund.completedAt ? refund.completedAt.toISOString() : null,
    };
  }

  /** The order if the caller may see it (buyer or admin); 404 otherwise, so ids reveal nothing. */
  async function visibleOrder(principal: Principal, orderId: number) {
    const order = await orders.findOrder(db, orderId);
    if (!order || (order.userId !== principal.userId && principal.role !== 'admin')) {
      throw new NotFound('Order not found');
    }
    return order;
  }

  const notRefundable = (status: orders.OrderStatus) =>
    new Conflict(
      status === 'refunded'
        ? 'This order has already been refunded'
        : `Only paid orders can be refunded; this order is ${status}`,
    );

  /** Returns the money through the payment's own method. Throws when the gateway fails. */
  async function giveBack(refund: repo.RefundRow, payment: orders.PaymentRow): Promise<Returned> {
    if (refund.amountMinor === 0) return { gatewayReference: null, note: 'nothing was charged' };
    switch (payment.method) {
      case 'wallet':
        return { gatewayReference: null, note: 'credited to the wallet' };
      case 'card': {
        if (!payment.gatewayReference) throw new Error(`Card payment ${payment.id} has no charge id`);
        const { refundId } = await cardGateway.refund(payment.gatewayReference, refund.amountMinor);
        return { gatewayReference: refundId, note: `returned to the card (${refundId})` };
      }
      case 'paystack':
        try {
          const { refundId } = await paystack.refund({
            reference: payment.transactionId,
            amountMinor: refund.amountMinor,
          });
          return { gatewayReference: refundId, note: `returned through Paystack (refund ${refundId})` };
        } catch (err) {
          // Refunded before: an earlier attempt got the money back and crashed before recording it.
          if (err instanceof Conflict) return { gatewayReference: null, note: 'returned through Paystack' };
          throw err;
        }
    }
  }

  /** Order refunded, payment refunded, ledger posted, event published; a no-op when done before. */
  async function complete(tx: Tx, refundId: number, returned: Returned): Promise<repo.RefundRow> {
    const current = await repo.findRefund(tx, refundId);
    if (!current) throw new Error(`Refund ${refundId} does not exist`);
    if (current.status === 'succeeded') return current;
    // Locks in the order every writer takes them (payment, order, refund), so no two deadlock:
    // fulfilment locks payment then order; a refund request locks the order, then inserts the refund.
    const payment = await orders.lockPayment(tx, current.paymentId);
    if (!payment) throw new Error(`Refund ${refundId} refers to a missing payment`);
    await orders.lockOrder(tx, current.orderId);
    const refund = (await repo.lockRefund(tx, refundId))!;
    if (refund.status === 'succeeded') return refund;
    // A refund marked failed whose money came back after all is completed like any other.
    const order = await orders.transitionOrder(
      tx,
      refund.orderId,
      ['paid'],
      'refunded',
      `Refunded, ${returned.note}: ${refund.reason}`,
    );
    if (!order)
      throw new Error(`Order ${refund.orderId} is no longer paid; refund ${refundId} cannot complete`);
    await orders.updatePayment(tx, payment.id, { status: 'refunded' });
    if (refund.amountMinor > 0) {
      // Contra-revenue: the refunds account carries what was given back (it mirrors platform_revenue).
      await postLedger(tx, {
        kind: 'refund',
        reference: `refund:${refund.id}`,
        description: `Refund of order ${order.id} ("${order.courseTitle}")`.slice(0, 300),
        entries: [
          { account: { kind: 'refunds', currency: refund.currency }, amountMinor: -refund.amountMinor },
          { account: destination(payment), amountMinor: refund.amountMinor },
        ],
      });
    }
    const done = await repo.markRefundSucceeded(tx, refund.id, returned.gatewayReference);
    await events.publish<OrderRefunded>(tx, ORDER_REFUNDED, {
      orderId: order.id,
      refundId: refund.id,
      paymentId: payment.id,
      userId: order.userId,
      courseId: order.courseId,
      amountMinor: refund.amountMinor,
      currency: refund.currency,
      method: payment.method,
    });
    return done;
  }

  /**
   * Brings a pending refund to completion: gateway first (outside any transaction), then the
   * bookkeeping. Throws when the gateway fails (the refund stays pending with the reason noted).
   */
  async function processRefund(refundId: number): Promise<repo.RefundRow | undefined> {
    const refund = await repo.findRefund(db, refundId);
    if (!refund || refund.status !== 'pending') return refund;
    const payment = await orders.findPayment(db, refund.paymentId);
    if (!payment) throw new Error(`Refund ${refundId} refers to a missing payment`);
    await repo.countRefundAttempt(db, refund.id);
    let returned: Returned;
    try {
      returned = await giveBack(refund, payment);
    } catch (err) {
      await repo.noteRefundFailure(db, refund.id, publicMessage(err));
      throw err;
    }
    return db.transaction((tx) => complete(tx, refund.id, returned));
  }

  jobs.define<{ refundId: number }>({
    name: PROCESS_REFUND_JOB,
    retryLimit: REFUND_JOB_RETRY_LIMIT,
    handler: async ({ refundId }, job) => {
      try {
        await processRefund(refundId);
      } catch (err) {
        if (job.retryCount >= job.retryLimit) {
          await repo.markRefundFailed(db, refundId, publicMessage(err));
          logger.error({ err, refundId }, 'refund failed for good; the order stays paid');
        }
        throw err;
      }
    },
  });

  return {
    /**
     * `POST /api/orders/{id}/refund`. `completed` is false when the money could not be returned
     * yet: the refund is pending and the job retries it.
     */
    async request(actor: RefundActor, orderId: number, input: RefundInput) {
      const order = await visibleOrder(actor, orderId);
      if (order.status !== 'paid') throw notRefundable(order.status);
      const existing = await repo.findRefundOfOrder(db, orderId);
      if (existing?.status === 'pending')
        throw new InProgress('A refund of this order is already in progress', 5);
      if (actor.role !== 'admin') {
        const days = config.commerce.refundWindowDays;
        const paidAt = order.paidAt ?? order.updatedAt;
        if (Date.now() > paidAt.getTime() + days * DAY_MS) {
          throw new Forbidden(
            days === 0
              ? 'Refunds are granted by support only; please contact us'
              : `Refunds can be requested within ${days} days of payment (this order was paid on ${paidAt.toISOString().slice(0, 10)}); please contact support`,
          );
        }
      }

      const created = await db.transaction(async (tx) => {
        const locked = await orders.lockOrder(tx, orderId);
        if (!locked) throw new NotFound('Order not found');
        if (locked.status !== 'paid') throw notRefundable(locked.status);
        const payments = await orders.listPaymentsOfOrder(tx, orderId);
        const payment = payments.find((p) => p.status === 'success');
        if (!payment) throw new Conflict('This order has no captured payment to refund');
        const refund = await repo.insertOrRearmRefund(tx, {
          orderId,
          paymentId: payment.id,
          amountMinor: payment.amountMinor,
          currency: payment.currency,
          reason: input.reason,
          requestedBy: actor.userId,
        });
        if (!refund) throw new InProgress('A refund of this order is already in progress', 5);
        await jobs.send(
          PROCESS_REFUND_JOB,
          { refundId: refund.id },
          { tx, startAfter: REFUND_JOB_HEAD_START_SECONDS },
        );
        return refund;
      });
      await identity.audit({
        action: 'commerce.refund.requested',
        actorId: actor.userId,
        subjectId: order.userId,
        ip: actor.ip,
        userAgent: actor.userAgent,
        requestId: actor.requestId,
        success: true,
        detail: JSON.stringify({
          orderId,
          refundId: created.id,
          amountMinor: created.amountMinor,
          currency: created.currency,
        }),
      });

      let refund: repo.RefundRow = created;
      try {
        refund = (await processRefund(created.id)) ?? created;
      } catch (err) {
        logger.warn({ err, refundId: created.id }, 'refund not completed inline; the job will retry');
        refund = (await repo.findRefund(db, created.id)) ?? created;
      }
      return { completed: refund.status === 'succeeded', refund: await view(refund) };
    },

    /** `GET /api/orders/{id}/refund`: the buyer and admins; 404 when there is none. */
    async get(principal: Principal, orderId: number): Promise<RefundView> {
      await visibleOrder(principal, orderId);
      const refund = await repo.findRefundOfOrder(db, orderId);
      if (!refund) throw new NotFound('This order has no refund');
      return view(refund);
    },

    /** Runs the refund's processing now (what the job does); for operations and tests. */
    processRefund,
  };
}
export type RefundsService = ReturnType<typeof createRefundsService>;

/** The feature as the module wires it: the refund job and routes. */
export function createRefundsFeature(deps: RefundsDeps) {
  const service = createRefundsService(deps);
  return {
    api: { processRefund: service.processRefund },
    routes: refundRoutes(service),
  };
}
export type RefundsFeature = ReturnType<typeof createRefundsFeature>;
