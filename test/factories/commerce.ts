import { randomBytes } from 'node:crypto';
import { postLedger } from '../../src/modules/commerce/commerce.ledger.ts';
import { markEmailVerified } from '../../src/modules/identity/identity.repository.ts';
import type { TestApp } from '../helpers/app.ts';
import { insertCourse } from './courses.ts';
import { registerStudent } from './users.ts';

/** A student registered through the API whose email is verified (as the emailed link would). */
export async function verifiedStudent(t: TestApp, overrides: Record<string, unknown> = {}) {
  const student = await registerStudent(t, overrides);
  await markEmailVerified(t.app.platform.db, student.userId);
  return student;
}

/**
 * Credits a wallet through the ledger as a voucher redemption would (voucher float → wallet), so
 * the ledger stays balanced.
 */
export async function fundWallet(t: TestApp, userId: number, amountMinor: number, currency = 'NGN') {
  await t.app.platform.db.transaction((tx) =>
    postLedger(tx, {
      kind: 'test_funding',
      reference: `test-funding:${randomBytes(8).toString('hex')}`,
      description: 'Test wallet funding',
      entries: [
        { account: { kind: 'voucher_float', currency }, amountMinor: -amountMinor },
        { account: { kind: 'user_wallet', userId, currency }, amountMinor },
      ],
    }),
  );
}

/** A published paid course (default 5,000.00 NGN) with two lessons. */
export function paidCourse(t: TestApp, overrides: Parameters<typeof insertCourse>[1] = {}) {
  return insertCourse(t, { priceMinor: 500000, currency: 'NGN', lessons: 2, ...overrides });
}

/** Card details that the built-in gateway accepts (valid until two years from now). */
export function testCard(number = '4242424242424242', overrides: Record<string, string> = {}) {
  return {
    number,
    expiryMonth: '12',
    expiryYear: String(new Date().getUTCFullYear() + 2),
    cvv: '123',
    ...overrides,
  };
}

/** `POST /api/payments/initiate` by card for a course priced 5,000.00 (the `paidCourse` default). */
export function payByCard(
  t: TestApp,
  buyer: { userId: number; token: string },
  courseId: number,
  cardNumber = '4242424242424242',
  amount = 5000,
) {
  return t.request({
    method: 'POST',
    url: '/api/payments/initiate',
    token: buyer.token,
    payload: { userId: buyer.userId, courseId, amount, method: 'card', cardDetails: testCard(cardNumber) },
  });
}
