import type { Tx } from '../../platform/db.ts';
import type { Platform } from '../../platform/platform.ts';
import {
  PAYMENT_FAILED,
  PAYMENT_SUCCEEDED,
  type PaymentFailed,
  type PaymentMethod,
  type PaymentSucceeded,
} from './commerce.events.ts';
import { type AccountRef, postLedger } from './commerce.ledger.ts';
import * as orders from './commerce.orders.repository.ts';

export type FulfilmentOutcome = 'fulfilled' | 'already' | 'duplicate';

/** Where the money of a captured payment comes from in the ledger. */
function sourceAccount(method: PaymentMethod, userId: number, currency: string): AccountRef {
  return method === 'wallet'
    ? { kind: 'user_wallet', userId, currency }
    : { kind: 'gateway_clearing', currency };
}

/**
 * The one place a payment's outcome changes an order: card, wallet and Paystack all end here,
 * inside the caller's transaction, so the payment, the order, the ledger and the event commit
 * together or not at all, and a replayed outcome (a webhook delivered twice) changes nothing.
 */
export function createFulfilment({ platform }: { platform: Pick<Platform, 'events'> }) {
  return {
    /**
     * Marks a payment successful and its order paid, posts the purchase to the ledger (a wallet
     * payment debits the wallet and may throw 402) and publishes `commerce.payment.succeeded`.
     * `already`: this payment had succeeded before. `duplicate`: the order was paid by another
     * payment, is no longer payable, or was re-priced since this attempt began; the payment is
     * left for the caller to refund.
     */
    async paymentSucceeded(
      tx: Tx,
      paymentId: number,
      details: { gatewayReference?: string } = {},
    ): Promise<{ outcome: FulfilmentOutcome; paymentId: number; orderId: number }> {
      const payment = await orders.lockPayment(tx, paymentId);
      if (!payment) throw new Error(`Payment ${paymentId} does not exist`);
      const result = (outcome: FulfilmentOutcome) => ({ outcome, paymentId, orderId: payment.orderId });
      if (payment.status === 'success' || payment.status === 'refunded') return result('already');
      const order = await orders.lockOrder(tx, payment.orderId);
      if (!order || order.status !== 'pending') return result('duplicate');
      // One pending order can have several open attempts (two Paystack tabs, say). Each checkout
      // re-prices the order and moves its coupon reservation, so an older attempt made at another
      // price no longer matches what the order holds: paying it would skip the coupon's limits or
      // the price change. It is refunded; the order stays open for its current price.
      if (order.amountMinor !== payment.amountMinor || order.currency !== payment.currency) {
        return result('duplicate');
      }

      const paidAt = new Date();
      await orders.updatePayment(tx, payment.id, {
        status: 'success',
        paidAt,
        failureCode: null,
        failureMessage: null,
        ...(details.gatewayReference ? { gatewayReference: details.gatewayReference } : {}),
      });
      await orders.transitionOrder(
        tx,
        order.id,
        ['pending'],
        'paid',
        `Paid by ${payment.method} (${payment.transactionId})`,
      );
      // An order a coupon paid in full moves no money, so it has no ledger transaction.
      if (payment.amountMinor > 0) {
        await postLedger(tx, {
          kind: 'purchase',
          reference: `purchase:payment:${payment.id}`,
          description: `Course "${order.courseTitle}" (order ${order.id})`,
          entries: [
            {
              account: sourceAccount(payment.method, payment.userId, payment.currency),
              amountMinor: -payment.amountMinor,
            },
            {
              account: { kind: 'platform_revenue', currency: payment.currency },
              amountMinor: payment.amountMinor,
            },
          ],
        });
      }
      await platform.events.publish<PaymentSucceeded>(tx, PAYMENT_SUCCEEDED, {
        paymentId: payment.id,
        transactionId: payment.transactionId,
        orderId: order.id,
        userId: payment.userId,
        courseId: payment.courseId,
        amountMinor: payment.amountMinor,
        currency: payment.currency,
        method: payment.method,
      });
      return result('fulfilled');
    },

    /**
     * Records a failed attempt. `terminal` (declined, insufficient funds, abandoned) fails the order
     * and releases its coupon unless another attempt on the order is still pending; otherwise (a
     * gateway error) the order stays pending for a retry.
     * A payment that already succeeded is never turned into a failure.
     */
    async paymentFailed(
      tx: Tx,
      paymentId: number,
      failure: { code: string; message: string; terminal: boolean },
    ): Promise<{ changed: boolean }> {
      const payment = await orders.lockPayment(tx, paymentId);
      if (!payment) throw new Error(`Payment ${paymentId} does not exist`);
      if (payment.status !== 'pending') return { changed: false };
      await orders.updatePayment(tx, payment.id, {
        status: 'failed',
        failureCode: failure.code.slice(0, 40),
        failureMessage: failure.message.slice(0, 300),
      });
      if (failure.terminal) {
        // The order lock orders this check against a checkout adding an attempt to the order.
        const order = await orders.lockOrder(tx, payment.orderId);
        if (order?.status === 'pending' && (await orders.hasOtherPendingPayment(tx, order.id, payment.id))) {
          // Another attempt (say a second Paystack tab) is still open and may yet be paid: failing
          // the order now would refund that payment as a duplicate when it lands.
          await orders.insertOrderNote(
            tx,
            order.id,
            'pending',
            `Attempt ${payment.transactionId} failed (${failure.message}); another attempt is still open`,
          );
        } else {
          const failed = await orders.transitionOrder(
            tx,
            payment.orderId,
            ['pending'],
            'failed',
            failure.message,
          );
          if (failed) await orders.releaseCouponReservation(tx, payment.orderId);
        }
      }
      await platform.events.publish<PaymentFailed>(tx, PAYMENT_FAILED, {
        paymentId: payment.id,
        transactionId: payment.transactionId,
        orderId: payment.orderId,
        userId: payment.userId,
        courseId: payment.courseId,
        code: failure.code,
        message: failure.message,
      });
      return { changed: true };
    },
  };
}
export type Fulfilment = ReturnType<typeof createFulfilment>;
