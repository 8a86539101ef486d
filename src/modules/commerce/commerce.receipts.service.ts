import type { DbOrTx } from '../../platform/db.ts';
import { NotFound } from '../../platform/errors.ts';
import type { Principal } from '../../platform/http/auth.ts';
import type { MailAttachment } from '../../platform/mail.ts';
import type { Platform } from '../../platform/platform.ts';
import type { IdentityApi } from '../identity/index.ts';
import * as orders from './commerce.orders.repository.ts';
import { type ReceiptData, renderReceiptPdf } from './commerce.receipts.pdf.ts';
import { receiptRoutes } from './commerce.receipts.routes.ts';
import { findRefundOfOrder } from './commerce.refunds.repository.ts';

const ISSUER = 'Lectern';

export interface ReceiptsDeps {
  platform: Pick<Platform, 'db'>;
  identity: Pick<IdentityApi, 'getProfile'>;
}

export const receiptFilename = (orderId: number) => `lectern-receipt-order-${orderId}.pdf`;

/**
 * PDF receipts of paid and refunded orders: downloaded by the buyer or an admin, and attached to
 * the payment email the notifications module sends when a payment succeeds (one email per
 * purchase, with its delivery log and the buyer's preferences).
 */
function createReceiptsService({ platform, identity }: ReceiptsDeps) {
  const { db } = platform;

  /** What the receipt shows, or null when the order has none (never paid). */
  async function receiptData(
    executor: DbOrTx,
    order: orders.OrderRow,
    buyer: ReceiptData['buyer'],
  ): Promise<ReceiptData | null> {
    if (order.status !== 'paid' && order.status !== 'refunded') return null;
    const refund = await findRefundOfOrder(executor, order.id);
    const payments = await orders.listPaymentsOfOrder(executor, order.id);
    const payment =
      order.status === 'refunded' && refund
        ? payments.find((p) => p.id === refund.paymentId)
        : payments.find((p) => p.status === 'success');
    if (!payment) return null;
    return {
      issuer: ISSUER,
      orderId: order.id,
      paidAt: order.paidAt ?? payment.paidAt ?? order.updatedAt,
      buyer,
      courseTitle: order.courseTitle,
      currency: order.currency,
      listPriceMinor: order.listPriceMinor,
      discountMinor: order.discountMinor,
      couponCode: order.couponCode,
      amountMinor: payment.amountMinor,
      method: payment.method,
      card:
        payment.cardBrand && payment.cardLast4
          ? { brand: payment.cardBrand, last4: payment.cardLast4 }
          : null,
      transactionId: payment.transactionId,
      refund:
        order.status === 'refunded' && refund?.status === 'succeeded'
          ? {
              completedAt: refund.completedAt ?? order.refundedAt ?? order.updatedAt,
              amountMinor: refund.amountMinor,
            }
          : null,
    };
  }

  /** The buyer's name and email, or null for an erased account. */
  async function buyerOf(userId: number): Promise<ReceiptData['buyer'] | null> {
    try {
      const profile = await identity.getProfile(userId);
      return { name: profile.name, email: profile.email };
    } catch (err) {
      if (err instanceof NotFound) return null;
      throw err;
    }
  }

  return {
    /** `GET /api/orders/{id}/receipt`: the buyer and admins; 404 for others and unpaid orders. */
    async render(principal: Principal, orderId: number): Promise<{ filename: string; pdf: Buffer }> {
      const order = await orders.findOrder(db, orderId);
      if (!order || (order.userId !== principal.userId && principal.role !== 'admin')) {
        throw new NotFound('Order not found');
      }
      const buyer = (await buyerOf(order.userId)) ?? { name: 'Former user', email: '(account deleted)' };
      const data = await receiptData(db, order, buyer);
      if (!data) throw new NotFound('This order has no receipt: it has not been paid');
      return { filename: receiptFilename(order.id), pdf: renderReceiptPdf(data) };
    },

    /** The receipt of a paid order as an email attachment, or null (unpaid, or the buyer is gone). */
    async attachment(orderId: number): Promise<MailAttachment | null> {
      const order = await orders.findOrder(db, orderId);
      const buyer = order ? await buyerOf(order.userId) : null;
      if (!order || !buyer) return null;
      const data = await receiptData(db, order, buyer);
      if (!data) return null;
      return {
        filename: receiptFilename(order.id),
        contentType: 'application/pdf',
        contentBase64: renderReceiptPdf(data).toString('base64'),
      };
    },
  };
}
export type ReceiptsService = ReturnType<typeof createReceiptsService>;

/** The feature as the module wires it: the attachment for the payment email and the download route. */
export function createReceiptsFeature(deps: ReceiptsDeps) {
  const service = createReceiptsService(deps);
  return {
    api: { renderReceipt: service.render, receiptAttachment: service.attachment },
    routes: receiptRoutes(service),
  };
}
export type ReceiptsFeature = ReturnType<typeof createReceiptsFeature>;
