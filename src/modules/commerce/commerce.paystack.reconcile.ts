import { Conflict, NotFound } from '../../platform/errors.ts';
import type { Platform } from '../../platform/platform.ts';
import type { Fulfilment } from './commerce.fulfilment.ts';
import * as orders from './commerce.orders.repository.ts';
import type { PaymentRow } from './commerce.orders.repository.ts';
import type { PaystackClient, PaystackTransaction } from './commerce.paystack.client.ts';
import * as repo from './commerce.paystack.repository.ts';

export const RECONCILE_PAYSTACK_JOB = 'commerce.reconcilePaystack';

/**
 * A checkout nobody completed within this time is given up (order failed, coupon released). A
 * payer who still pays later is refunded automatically, since the order is no longer payable.
 */
export const ABANDONED_AFTER_SECONDS = 3600;

/** What settling one payment did. */
export type SettleOutcome = 'fulfilled' | 'already' | 'failed' | 'refunded' | 'pending' | 'ignored';

export interface ReconcileSummary {
  checked: number;
  outcomes: Record<SettleOutcome, number>;
  errors: number;
}

const BATCH = 100;

/**
 * Brings a Paystack payment in line with what Paystack says about it. Webhooks only tell us to
 * look: the verify API is the single source of truth, and the charged amount and currency must
 * equal the payment's before the order is fulfilled. Money that cannot count (the order was paid
 * by another payment, or the amount differs) is refunded at once, never kept.
 */
export function createPaystackSettlement(deps: {
  platform: Pick<Platform, 'db' | 'logger' | 'config'>;
  fulfilment: Fulfilment;
  client: Pick<PaystackClient, 'verify' | 'refund'>;
}) {
  const { platform, fulfilment, client } = deps;
  const { db, logger } = platform;

  async function giveBack(payment: PaymentRow, charge: PaystackTransaction, code: string, why: string) {
    let note = 'refunded earlier';
    try {
      const { refundId } = await client.refund({
        reference: payment.transactionId,
        amountMinor: charge.amountMinor,
      });
      note = `Paystack refund ${refundId}`;
    } catch (err) {
      // Already refunded: an earlier attempt got this far and crashed before recording it.
      if (!(err instanceof Conflict)) throw err;
    }
    await db.transaction((tx) =>
      repo.markPaymentRefunded(tx, payment.id, {
        gatewayReference: String(charge.id),
        failureCode: code,
        failureMessage: `${why}; ${note}`,
      }),
    );
    logger.warn(
      { paymentId: payment.id, transactionId: payment.transactionId, reason: code },
      'Paystack charge refunded',
    );
  }

  /**
   * Settles one payment. `failAbandonedBefore`: a checkout still not completed and created before
   * then fails the order (reconciliation only; a webhook never fails an order on its own say-so).
   */
  async function settle(
    paymentId: number,
    opts: { failAbandonedBefore?: Date } = {},
  ): Promise<SettleOutcome> {
    const payment = await orders.findPayment(db, paymentId);
    if (!payment || payment.method !== 'paystack') return 'ignored';
    if (payment.status === 'success' || payment.status === 'refunded') return 'already';
    const abandoned = opts.failAbandonedBefore !== undefined && payment.createdAt < opts.failAbandonedBefore;

    let charge: PaystackTransaction;
    try {
      charge = await client.verify(payment.transactionId);
    } catch (err) {
      // Initialize never reached Paystack (or was lost): nothing can ever be paid there.
      if (err instanceof NotFound && abandoned)
        return fail(payment, 'abandoned', 'Paystack has no such transaction');
      if (err instanceof NotFound) return 'pending';
      throw err;
    }

    switch (charge.status) {
      case 'success': {
        if (
          charge.reference !== payment.transactionId ||
          charge.amountMinor !== payment.amountMinor ||
          charge.currency !== payment.currency
        ) {
          logger.error(
            {
              paymentId: payment.id,
              expected: { amountMinor: payment.amountMinor, currency: payment.currency },
              charged: { amountMinor: charge.amountMinor, currency: charge.currency },
            },
            'Paystack charged a different amount than the payment; not fulfilling',
          );
          await db.transaction((tx) =>
            fulfilment.paymentFailed(tx, payment.id, {
              code: 'amount_mismatch',
              message: 'The amount charged does not match the order',
              terminal: false,
            }),
          );
          await giveBack(payment, charge, 'amount_mismatch', 'The amount charged did not match the order');
          return 'refunded';
        }
        const result = await db.transaction((tx) =>
          fulfilment.paymentSucceeded(tx, payment.id, { gatewayReference: String(charge.id) }),
        );
        if (result.outcome === 'duplicate') {
          await giveBack(payment, charge, 'duplicate_payment', 'The order was already paid or closed');
          return 'refunded';
        }
        return result.outcome;
      }
      case 'failed':
        return fail(payment, 'declined', charge.gatewayResponse ?? 'The payment was declined');
      case 'reversed':
        // Charged, then given back (by us after a crash, or from the Paystack dashboard).
        await db.transaction((tx) =>
          repo.markPaymentRefunded(tx, payment.id, {
            gatewayReference: String(charge.id),
            failureCode: 'reversed',
            failureMessage: 'The charge was reversed at Paystack',
          }),
        );
        return 'refunded';
      case 'abandoned':
        return abandoned ? fail(payment, 'abandoned', 'The Paystack checkout was not completed') : 'pending';
      default:
        // pending, ongoing, processing, queued: Paystack has not decided yet.
        return 'pending';
    }
  }

  async function fail(payment: PaymentRow, code: string, message: string): Promise<SettleOutcome> {
    const { changed } = await db.transaction((tx) =>
      fulfilment.paymentFailed(tx, payment.id, { code, message, terminal: true }),
    );
    return changed ? 'failed' : 'already';
  }

  /** Verifies Paystack payments pending for longer than the configured delay (lost webhooks). */
  async function reconcile(now = new Date()): Promise<ReconcileSummary> {
    const cutoff = new Date(now.getTime() - platform.config.commerce.reconcileAfterSeconds * 1000);
    const failAbandonedBefore = new Date(now.getTime() - ABANDONED_AFTER_SECONDS * 1000);
    const stale = await repo.listStalePaystackPayments(db, cutoff, BATCH);
    const summary: ReconcileSummary = {
      checked: stale.length,
      outcomes: { fulfilled: 0, already: 0, failed: 0, refunded: 0, pending: 0, ignored: 0 },
      errors: 0,
    };
    for (const payment of stale) {
      try {
        summary.outcomes[await settle(payment.id, { failAbandonedBefore })] += 1;
      } catch (err) {
        // One unreachable verify must not hold up the others; the next run tries again.
        summary.errors += 1;
        logger.warn({ err, paymentId: payment.id }, 'reconciling a Paystack payment failed');
      }
    }
    if (summary.checked > 0) logger.info({ summary }, 'Paystack payments reconciled');
    return summary;
  }

  return { settle, reconcile };
}
export type PaystackSettlement = ReturnType<typeof createPaystackSettlement>;
