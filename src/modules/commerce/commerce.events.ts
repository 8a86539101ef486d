/** Events the commerce module publishes, inside the transaction of the change. */
export const PAYMENT_SUCCEEDED = 'commerce.payment.succeeded';
export const PAYMENT_FAILED = 'commerce.payment.failed';
export const ORDER_REFUNDED = 'commerce.order.refunded';

export type PaymentMethod = 'card' | 'paystack' | 'wallet';

/** A payment captured the order's amount; the order is paid (the enrollment module enrolls). */
export interface PaymentSucceeded {
  paymentId: number;
  transactionId: string;
  orderId: number;
  userId: number;
  courseId: number;
  amountMinor: number;
  currency: string;
  method: PaymentMethod;
}

export interface PaymentFailed {
  paymentId: number;
  transactionId: string;
  orderId: number;
  userId: number;
  courseId: number;
  code: string;
  message: string;
}

/** A paid order was refunded in full (the enrollment module revokes access). */
export interface OrderRefunded {
  orderId: number;
  refundId: number;
  paymentId: number;
  userId: number;
  courseId: number;
  amountMinor: number;
  currency: string;
  method: PaymentMethod;
}
