import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  checkLedger,
  getWalletBalances,
  systemAccountBalance,
} from '../../src/modules/commerce/commerce.ledger.ts';
import { createTestApp, type TestApp } from '../helpers/app.ts';
import { fundWallet, paidCourse, testCard, verifiedStudent } from '../factories/commerce.ts';
import { createUserWithRole } from '../factories/users.ts';

/**
 * Checkouts racing each other. Meaningful on PostgreSQL (DATABASE_URL set), where the requests
 * really run in parallel on a pool of connections; on PGlite they are serialised but must give
 * the same answers.
 */
describe('payments under concurrency', () => {
  let t: TestApp;

  beforeAll(async () => {
    t = await createTestApp({ AUTH_RATE_LIMIT_MAX: '1000', RATE_LIMIT_MAX: '10000' });
  });
  afterAll(() => t.close());

  const sql = async (text: string, values: unknown[] = []) =>
    (await t.app.platform.database.executor.executeSql(text, values)).rows;
  const initiate = (token: string, body: Record<string, unknown>) =>
    t.request({ method: 'POST', url: '/api/payments/initiate', token, payload: body });
  const tally = (statuses: number[]) =>
    statuses.reduce<Record<number, number>>((acc, s) => ({ ...acc, [s]: (acc[s] ?? 0) + 1 }), {});

  it('50 parallel wallet purchases with money for 10: exactly 10 succeed, balance 0, ledger balanced', async () => {
    const student = await verifiedStudent(t);
    const courses = [];
    for (let i = 0; i < 50; i++) courses.push(await paidCourse(t, { priceMinor: 100000 }));
    await fundWallet(t, student.userId, 10 * 100000, 'NGN');

    const results = await Promise.all(
      courses.map((c) =>
        initiate(student.token, { userId: student.userId, courseId: c.id, amount: 1000, method: 'wallet' }),
      ),
    );
    expect(tally(results.map((r) => r.status))).toEqual({ 201: 10, 402: 40 });
    for (const r of results.filter((x) => x.status === 402)) {
      expect(r.body.error.message).toBe('Insufficient wallet balance');
    }
    expect(await getWalletBalances(t.app.platform.db, student.userId)).toEqual([
      { currency: 'NGN', balanceMinor: 0 },
    ]);
    const orders = await sql(
      `select status, count(*)::int as n from commerce.orders where user_id = $1 group by status order by status`,
      [student.userId],
    );
    expect(orders).toEqual([
      { status: 'paid', n: 10 },
      { status: 'failed', n: 40 },
    ]);
    expect(await systemAccountBalance(t.app.platform.db, 'platform_revenue', 'NGN')).toBe(10 * 100000);
    expect(await checkLedger(t.app.platform.db)).toEqual({ unbalancedTransactions: [], driftedAccounts: [] });
  });

  it('a coupon limited to 5 uses, 20 buyers at once: exactly 5 get the discount', async () => {
    const admin = await createUserWithRole(t, 'admin');
    const course = await paidCourse(t, { priceMinor: 200000 });
    const created = await t.request({
      method: 'POST',
      url: '/api/coupons',
      token: admin.token,
      payload: { code: 'RUSH5', kind: 'percent', percentOff: 25, courseId: course.id, maxRedemptions: 5 },
    });
    expect(created.status).toBe(201);
    const buyers = await Promise.all(Array.from({ length: 20 }, () => verifiedStudent(t)));

    const results = await Promise.all(
      buyers.map((b) =>
        initiate(b.token, {
          userId: b.userId,
          courseId: course.id,
          amount: 1500,
          method: 'card',
          couponCode: 'rush5',
          cardDetails: testCard(),
        }),
      ),
    );
    expect(tally(results.map((r) => r.status))).toEqual({ 201: 5, 400: 15 });
    for (const r of results.filter((x) => x.status === 400)) {
      expect(r.body.error.details).toEqual([
        { field: 'body.couponCode', message: 'Coupon usage limit reached' },
      ]);
    }
    const [uses] = await sql(
      `select count(*)::int as n from commerce.coupon_redemptions where coupon_id = $1`,
      [created.body.data.couponId],
    );
    expect(uses!.n).toBe(5);
    const [paid] = await sql(
      `select count(*)::int as n, sum(amount_minor)::int as total from commerce.orders where course_id = $1 and status = 'paid'`,
      [course.id],
    );
    expect(paid).toEqual({ n: 5, total: 5 * 150000 });
  });

  it('one buyer checking out the same course 10 times at once pays once', async () => {
    const student = await verifiedStudent(t);
    const course = await paidCourse(t);
    const results = await Promise.all(
      Array.from({ length: 10 }, () =>
        initiate(student.token, {
          userId: student.userId,
          courseId: course.id,
          amount: 5000,
          method: 'card',
          cardDetails: testCard(),
        }),
      ),
    );
    expect(tally(results.map((r) => r.status))).toEqual({ 201: 1, 409: 9 });
    const orders = await sql(`select status from commerce.orders where user_id = $1`, [student.userId]);
    expect(orders).toEqual([{ status: 'paid' }]);
    const [payments] = await sql(`select count(*)::int as n from commerce.payments where user_id = $1`, [
      student.userId,
    ]);
    expect(payments!.n).toBe(1);
  });
});
