import { sql } from 'drizzle-orm';
import {
  bigint,
  boolean,
  check,
  index,
  integer,
  jsonb,
  pgSchema,
  text,
  timestamp,
  uniqueIndex,
  varchar,
} from 'drizzle-orm/pg-core';

/**
 * Money lives in its own schema (seed 004): orders, payments, refunds, the wallet ledger, vouchers,
 * coupons. Amounts are integer minor units with an ISO currency. User and course ids refer to other
 * modules without foreign keys (modules own their data); `course_title` is a snapshot for receipts.
 */
export const commerce = pgSchema('commerce');

export const orderStatus = commerce.enum('order_status', [
  'pending',
  'paid',
  'failed',
  'cancelled',
  'refunded',
]);
export const paymentMethod = commerce.enum('payment_method', ['card', 'paystack', 'wallet']);
export const paymentStatus = commerce.enum('payment_status', ['pending', 'success', 'failed', 'refunded']);
export const refundStatus = commerce.enum('refund_status', ['pending', 'succeeded', 'failed']);
export const couponKind = commerce.enum('coupon_kind', ['percent', 'fixed']);
export const voucherStatus = commerce.enum('voucher_status', ['active', 'redeemed', 'disabled']);
export const ledgerAccountKind = commerce.enum('ledger_account_kind', [
  /** What a user holds in their wallet; never negative. */
  'user_wallet',
  /** Course sales. */
  'platform_revenue',
  /** Value issued as vouchers and redeemed into wallets (goes negative as vouchers are redeemed). */
  'voucher_float',
  /** Money given back to buyers (a contra-revenue account). */
  'refunds',
  /** Money owed by or to the card gateway and Paystack for captured and refunded charges. */
  'gateway_clearing',
]);

/**
 * One purchase of one course by one user. At most one `pending` and one `paid` order per user and
 * course (partial unique indexes), so concurrent checkouts cannot sell the same course twice.
 */
export const orders = commerce.table(
  'orders',
  {
    id: integer('id').primaryKey().generatedAlwaysAsIdentity(),
    userId: integer('user_id').notNull(),
    courseId: integer('course_id').notNull(),
    courseTitle: varchar('course_title', { length: 200 }).notNull(),
    status: orderStatus('status').notNull().default('pending'),
    currency: varchar('currency', { length: 3 }).notNull(),
    /** The course price when the order was (last) priced. */
    listPriceMinor: integer('list_price_minor').notNull(),
    discountMinor: integer('discount_minor').notNull().default(0),
    /** What the buyer pays: list price minus discount, never below zero. */
    amountMinor: integer('amount_minor').notNull(),
    couponId: integer('coupon_id').references(() => coupons.id),
    couponCode: varchar('coupon_code', { length: 40 }),
    method: paymentMethod('method'),
    paidAt: timestamp('paid_at', { withTimezone: true }),
    refundedAt: timestamp('refunded_at', { withTimezone: true }),
    createdAt: timestamp('created_at', { withTimezone: true }).notNull().defaultNow(),
    updatedAt: timestamp('updated_at', { withTimezone: true }).notNull().defaultNow(),
  },
  (t) => [
    index('orders_user_idx').on(t.userId, t.id),
    index('orders_course_idx').on(t.courseId),
    uniqueIndex('orders_one_pending_key')
      .on(t.userId, t.courseId)
      .where(sql`${t.status} = 'pending'`),
    uniqueIndex('orders_one_paid_key')
      .on(t.userId, t.courseId)
      .where(sql`${t.status} = 'paid'`),
    check('orders_amounts_check', sql`${t.amountMinor} >= 0 and ${t.discountMinor} >= 0`),
  ],
);

/** Every status change of an order, with its reason (the order's history). */
export const orderEvents = commerce.table(
  'order_events',
  {
    id: integer('id').primaryKey().generatedAlwaysAsIdentity(),
    orderId: integer('order_id')
      .notNull()
      .references(() => orders.id, { onDelete: 'cascade' }),
    fromStatus: orderStatus('from_status'),
    toStatus: orderStatus('to_status').notNull(),
    reason: varchar('reason', { length: 300 }).notNull(),
    createdAt: timestamp('created_at', { withTimezone: true }).notNull().defaultNow(),
  },
  (t) => [index('order_events_order_idx').on(t.orderId, t.id)],
);

/**
 * One attempt to pay an order (seed 002's Payment Gateway). `transaction_id` is the public id and
 * the Paystack reference. Card numbers and CVVs are never stored: only brand and last four.
 * At most one successful payment per order (partial unique index).
 */
export const payments = commerce.table(
  'payments',
  {
    id: integer('id').primaryKey().generatedAlwaysAsIdentity(),
    transactionId: varchar('transaction_id', { length: 64 }).notNull().unique(),
    orderId: integer('order_id')
      .notNull()
      .references(() => orders.id),
    userId: integer('user_id').notNull(),
    courseId: integer('course_id').notNull(),
    method: paymentMethod('method').notNull(),
    status: paymentStatus('status').notNull().default('pending'),
    amountMinor: integer('amount_minor').notNull(),
    currency: varchar('currency', { length: 3 }).notNull(),
    /** Paystack: the access code and hosted checkout URL returned by initialize. */
    accessCode: varchar('access_code', { length: 100 }),
    authorizationUrl: text('authorization_url'),
    /** The gateway's own id for the charge (card simulator charge id, Paystack transaction id). */
    gatewayReference: varchar('gateway_reference', { length: 100 }),
    cardBrand: varchar('card_brand', { length: 20 }),
    cardLast4: varchar('card_last4', { length: 4 }),
    failureCode: varchar('failure_code', { length: 40 }),
    failureMessage: varchar('failure_message', { length: 300 }),
    paidAt: timestamp('paid_at', { withTimezone: true }),
    createdAt: timestamp('created_at', { withTimezone: true }).notNull().defaultNow(),
    updatedAt: timestamp('updated_at', { withTimezone: true }).notNull().defaultNow(),
  },
  (t) => [
    index('payments_order_idx').on(t.orderId),
    index('payments_user_idx').on(t.userId, t.id),
    index('payments_pending_idx')
      .on(t.method, t.createdAt)
      .where(sql`${t.status} = 'pending'`),
    uniqueIndex('payments_one_success_per_order_key')
      .on(t.orderId)
      .where(sql`${t.status} = 'success'`),
  ],
);

/**
 * A full refund of a paid order. Created `pending` together with a job in one transaction; the job
 * (or the request itself, when it gets that far) returns the money through the original method and
 * completes it, so a crash midway is finished by the job. One refund per order.
 */
export const refunds = commerce.table(
  'refunds',
  {
    id: integer('id').primaryKey().generatedAlwaysAsIdentity(),
    orderId: integer('order_id')
      .notNull()
      .unique()
      .references(() => orders.id),
    paymentId: integer('payment_id')
      .notNull()
      .references(() => payments.id),
    amountMinor: integer('amount_minor').notNull(),
    currency: varchar('currency', { length: 3 }).notNull(),
    status: refundStatus('status').notNull().default('pending'),
    reason: varchar('reason', { length: 500 }).notNull(),
    requestedBy: integer('requested_by').notNull(),
    gatewayReference: varchar('gateway_reference', { length: 100 }),
    failureMessage: varchar('failure_message', { length: 300 }),
    attempts: integer('attempts').notNull().default(0),
    createdAt: timestamp('created_at', { withTimezone: true }).notNull().defaultNow(),
    completedAt: timestamp('completed_at', { withTimezone: true }),
  },
  (t) => [
    index('refunds_pending_idx')
      .on(t.createdAt)
      .where(sql`${t.status} = 'pending'`),
  ],
);

/**
 * Ledger accounts: one per (kind, user, currency). A user wallet's `balance_minor` is the sum of its
 * entries, kept in step under the row lock that guards against overdrawing. System accounts
 * (revenue, float, refunds, clearing) take part in every sale, so updating a balance on their row
 * would queue all checkouts behind one lock: their `balance_minor` stays 0 and their balance is
 * the sum of their entries (`systemAccountBalance`).
 */
export const ledgerAccounts = commerce.table(
  'ledger_accounts',
  {
    id: integer('id').primaryKey().generatedAlwaysAsIdentity(),
    kind: ledgerAccountKind('kind').notNull(),
    /** Set for user wallets only. */
    userId: integer('user_id'),
    currency: varchar('currency', { length: 3 }).notNull(),
    balanceMinor: bigint('balance_minor', { mode: 'number' }).notNull().default(0),
    createdAt: timestamp('created_at', { withTimezone: true }).notNull().defaultNow(),
  },
  (t) => [
    uniqueIndex('ledger_accounts_key').on(t.kind, sql`coalesce(${t.userId}, 0)`, t.currency),
    // The last line of defence: a wallet can never go negative, whatever the code does.
    check('ledger_wallet_not_negative', sql`${t.kind} <> 'user_wallet' or ${t.balanceMinor} >= 0`),
    check('ledger_wallet_has_user', sql`(${t.kind} = 'user_wallet') = (${t.userId} is not null)`),
  ],
);

/**
 * One balanced movement of money: its entries sum to zero. `reference` makes a posting idempotent
 * (e.g. `purchase:payment:42`, `voucher:17`, `refund:9`): the same reference is never posted twice.
 */
export const ledgerTransactions = commerce.table('ledger_transactions', {
  id: integer('id').primaryKey().generatedAlwaysAsIdentity(),
  kind: varchar('kind', { length: 40 }).notNull(),
  reference: varchar('reference', { length: 100 }).notNull().unique(),
  description: varchar('description', { length: 300 }).notNull(),
  createdAt: timestamp('created_at', { withTimezone: true }).notNull().defaultNow(),
});

/** A signed amount on one account; positive increases the account's balance. */
export const ledgerEntries = commerce.table(
  'ledger_entries',
  {
    id: integer('id').primaryKey().generatedAlwaysAsIdentity(),
    transactionId: integer('transaction_id')
      .notNull()
      .references(() => ledgerTransactions.id),
    accountId: integer('account_id')
      .notNull()
      .references(() => ledgerAccounts.id),
    amountMinor: bigint('amount_minor', { mode: 'number' }).notNull(),
    /**
     * A wallet's balance right after this entry (for statements); null on system accounts, which
     * keep no running balance (see `ledgerAccounts`).
     */
    balanceAfterMinor: bigint('balance_after_minor', { mode: 'number' }),
    createdAt: timestamp('created_at', { withTimezone: true }).notNull().defaultNow(),
  },
  (t) => [
    index('ledger_entries_account_idx').on(t.accountId, t.id),
    index('ledger_entries_transaction_idx').on(t.transactionId),
    check('ledger_entries_nonzero', sql`${t.amountMinor} <> 0`),
  ],
);

/** A batch of vouchers created by an admin in one request. */
export const voucherBatches = commerce.table('voucher_batches', {
  id: integer('id').primaryKey().generatedAlwaysAsIdentity(),
  count: integer('count').notNull(),
  amountMinor: integer('amount_minor').notNull(),
  currency: varchar('currency', { length: 3 }).notNull(),
  expiresAt: timestamp('expires_at', { withTimezone: true }),
  description: varchar('description', { length: 300 }),
  createdBy: integer('created_by').notNull(),
  createdAt: timestamp('created_at', { withTimezone: true }).notNull().defaultNow(),
});

/**
 * A prepaid wallet top-up code. Looked up by the SHA-256 of its normalised code; the code itself is
 * kept sealed (AES-GCM) only so admins can export a batch. Redeemed at most once, ever.
 */
export const vouchers = commerce.table(
  'vouchers',
  {
    id: integer('id').primaryKey().generatedAlwaysAsIdentity(),
    batchId: integer('batch_id')
      .notNull()
      .references(() => voucherBatches.id),
    codeHash: varchar('code_hash', { length: 64 }).notNull().unique(),
    codeSealed: text('code_sealed').notNull(),
    /** The last group of the code, to recognise it in lists without revealing it. */
    codeHint: varchar('code_hint', { length: 10 }).notNull(),
    amountMinor: integer('amount_minor').notNull(),
    currency: varchar('currency', { length: 3 }).notNull(),
    expiresAt: timestamp('expires_at', { withTimezone: true }),
    status: voucherStatus('status').notNull().default('active'),
    redeemedBy: integer('redeemed_by'),
    redeemedAt: timestamp('redeemed_at', { withTimezone: true }),
    disabledAt: timestamp('disabled_at', { withTimezone: true }),
    createdAt: timestamp('created_at', { withTimezone: true }).notNull().defaultNow(),
  },
  (t) => [index('vouchers_batch_idx').on(t.batchId, t.id), index('vouchers_status_idx').on(t.status)],
);

/** A discount code: percentage or fixed, for one course or site-wide (admins only). */
export const coupons = commerce.table(
  'coupons',
  {
    id: integer('id').primaryKey().generatedAlwaysAsIdentity(),
    /** Upper-case, unique. */
    code: varchar('code', { length: 40 }).notNull().unique(),
    kind: couponKind('kind').notNull(),
    percentOff: integer('percent_off'),
    amountOffMinor: integer('amount_off_minor'),
    /** The currency of a fixed discount. */
    currency: varchar('currency', { length: 3 }),
    /** Null: every course (site-wide). */
    courseId: integer('course_id'),
    createdBy: integer('created_by').notNull(),
    startsAt: timestamp('starts_at', { withTimezone: true }),
    endsAt: timestamp('ends_at', { withTimezone: true }),
    maxRedemptions: integer('max_redemptions'),
    perUserLimit: integer('per_user_limit').notNull().default(1),
    active: boolean('active').notNull().default(true),
    createdAt: timestamp('created_at', { withTimezone: true }).notNull().defaultNow(),
    updatedAt: timestamp('updated_at', { withTimezone: true }).notNull().defaultNow(),
  },
  (t) => [
    index('coupons_course_idx').on(t.courseId),
    index('coupons_created_by_idx').on(t.createdBy),
    check(
      'coupons_value_check',
      sql`(${t.kind} = 'percent' and ${t.percentOff} between 1 and 100 and ${t.amountOffMinor} is null)
       or (${t.kind} = 'fixed' and ${t.amountOffMinor} > 0 and ${t.currency} is not null and ${t.percentOff} is null)`,
    ),
  ],
);

/**
 * A coupon use, reserved when an order is priced with it and released when the order fails or is
 * cancelled; counting these rows under the coupon's row lock enforces the total and per-user limits.
 */
export const couponRedemptions = commerce.table(
  'coupon_redemptions',
  {
    id: integer('id').primaryKey().generatedAlwaysAsIdentity(),
    couponId: integer('coupon_id')
      .notNull()
      .references(() => coupons.id),
    userId: integer('user_id').notNull(),
    orderId: integer('order_id')
      .notNull()
      .unique()
      .references(() => orders.id),
    createdAt: timestamp('created_at', { withTimezone: true }).notNull().defaultNow(),
  },
  (t) => [index('coupon_redemptions_coupon_user_idx').on(t.couponId, t.userId)],
);

/**
 * Inbound gateway webhooks, deduplicated by `event_key` (provider + event + reference): the same
 * webhook delivered many times is processed once.
 */
export const webhookEvents = commerce.table(
  'webhook_events',
  {
    id: integer('id').primaryKey().generatedAlwaysAsIdentity(),
    provider: varchar('provider', { length: 20 }).notNull(),
    eventKey: varchar('event_key', { length: 200 }).notNull().unique(),
    event: varchar('event', { length: 60 }).notNull(),
    reference: varchar('reference', { length: 100 }),
    payload: jsonb('payload').$type<unknown>().notNull(),
    receivedAt: timestamp('received_at', { withTimezone: true }).notNull().defaultNow(),
    processedAt: timestamp('processed_at', { withTimezone: true }),
  },
  (t) => [index('webhook_events_reference_idx').on(t.reference)],
);
