import { z } from 'zod';
import { defineTemplate } from './define.ts';
import { html } from './html.ts';
import { button, details, paragraph } from './layout.ts';

const id = z.number().int().positive();
const methods = { card: 'Card', paystack: 'Paystack', wallet: 'Wallet' } as const;
const method = z.enum(['card', 'paystack', 'wallet']);

/** The payment confirmation, with the PDF receipt (from commerce) attached when the order has one. */
export const paymentReceipt = defineTemplate(
  z.object({
    orderId: id,
    courseId: id,
    courseTitle: z.string(),
    /** Formatted for people, e.g. `₦5,000.00`. */
    amount: z.string(),
    transactionId: z.string(),
    method,
    orderUrl: z.string().url(),
    /** Whether the email carries the PDF (not when the order was refunded before the email went). */
    receiptAttached: z.boolean().default(false),
  }),
  {
    name: 'payment_receipt',
    category: 'payments',
    inApp: (v) => ({
      title: 'Payment received',
      body: `We received ${v.amount} for “${v.courseTitle}”. Your receipt is in your orders.`,
    }),
    subject: (v) => `Payment received: ${v.amount} for ${v.courseTitle}`,
    reason: (v) => `You receive this email because you paid for “${v.courseTitle}” on Lectern.`,
    text: (v, ctx) =>
      [
        `Hello ${ctx.recipientName},`,
        `We received your payment for “${v.courseTitle}”. ${receiptLine(v.receiptAttached)}`,
        [
          `Amount: ${v.amount}`,
          `Method: ${methods[v.method]}`,
          `Transaction: ${v.transactionId}`,
          `Order: #${v.orderId}`,
        ].join('\n'),
        `Your order: ${v.orderUrl}`,
      ].join('\n\n'),
    html: (v, ctx) =>
      html`${paragraph(`Hello ${ctx.recipientName},`)}${paragraph(
        `We received your payment for “${v.courseTitle}”. ${receiptLine(v.receiptAttached)}`,
      )}${details([
        ['Amount', v.amount],
        ['Method', methods[v.method]],
        ['Transaction', v.transactionId],
        ['Order', `#${v.orderId}`],
      ])}${button('View your order', v.orderUrl)}`,
  },
);

function receiptLine(attached: boolean) {
  return attached
    ? 'Your receipt is attached as a PDF; you can download it again from your order at any time.'
    : 'You can download the receipt from your order.';
}

/** A refund was made: the money goes back by the original method and course access ends. */
export const refundNotice = defineTemplate(
  z.object({
    orderId: id,
    refundId: id,
    courseId: id,
    courseTitle: z.string(),
    amount: z.string(),
    method,
    orderUrl: z.string().url(),
  }),
  {
    name: 'refund_notice',
    category: 'payments',
    inApp: (v) => ({
      title: 'Refund issued',
      body: `${v.amount} for “${v.courseTitle}” was refunded to your ${methods[v.method].toLowerCase()}.`,
    }),
    subject: (v) => `Refund issued: ${v.amount} for ${v.courseTitle}`,
    reason: (v) => `You receive this email because your order for “${v.courseTitle}” was refunded.`,
    text: (v, ctx) =>
      [
        `Hello ${ctx.recipientName},`,
        `Your payment for “${v.courseTitle}” was refunded and your access to the course has ended.`,
        [`Amount: ${v.amount}`, `Refunded to: ${methods[v.method]}`, `Order: #${v.orderId}`].join('\n'),
        v.method === 'wallet'
          ? 'The amount is back in your Lectern wallet now.'
          : 'Card and bank refunds can take a few business days to appear on your statement.',
        `Your order: ${v.orderUrl}`,
      ].join('\n\n'),
    html: (v, ctx) =>
      html`${paragraph(`Hello ${ctx.recipientName},`)}${paragraph(
        `Your payment for “${v.courseTitle}” was refunded and your access to the course has ended.`,
      )}${details([
        ['Amount', v.amount],
        ['Refunded to', methods[v.method]],
        ['Order', `#${v.orderId}`],
      ])}${paragraph(
        v.method === 'wallet'
          ? 'The amount is back in your Lectern wallet now.'
          : 'Card and bank refunds can take a few business days to appear on your statement.',
      )}${button('View your order', v.orderUrl)}`,
  },
);
