import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CANCEL_STALE_ORDERS_JOB } from '../../src/modules/commerce/commerce.orders.service.ts';
import { createTestApp, type TestApp, waitFor } from '../helpers/app.ts';
import { paidCourse, testCard, verifiedStudent } from '../factories/commerce.ts';
import { createUserWithRole } from '../factories/users.ts';

type User = { userId: number; token: string };

describe('orders: GET /api/orders, GET /api/orders/{id}, abandoned orders', () => {
  let t: TestApp;
  let admin: User;
  let buyer: User;
  let stranger: User;
  const orderIds: number[] = [];

  beforeAll(async () => {
    t = await createTestApp({ AUTH_RATE_LIMIT_MAX: '1000', RATE_LIMIT_MAX: '10000' });
    admin = await createUserWithRole(t, 'admin');
    buyer = await verifiedStudent(t);
    stranger = await verifiedStudent(t);
    // Three orders: paid, failed (declined), pending (gateway error).
    for (const number of ['4242424242424242', '4000000000000002', '4000000000000119']) {
      const course = await paidCourse(t, { title: `Order course ${number.slice(-4)}` });
      await pay(buyer, course.id, number);
      const [row] = await sql('select id from commerce.orders where user_id = $1 and course_id = $2', [
        buyer.userId,
        course.id,
      ]);
      orderIds.push(row!.id);
    }
  });
  afterAll(() => t.close());

  async function sql(text: string, values: unknown[] = []) {
    return (await t.app.platform.database.executor.executeSql(text, values)).rows;
  }
  function pay(
    user: User,
    courseId: number,
    number = '4242424242424242',
    couponCode?: string,
    amount = 5000,
  ) {
    return t.request({
      method: 'POST',
      url: '/api/payments/initiate',
      token: user.token,
      payload: {
        userId: user.userId,
        courseId,
        amount,
        method: 'card',
        cardDetails: testCard(number),
        ...(couponCode ? { couponCode } : {}),
      },
    });
  }
  const list = (user: User | undefined, query = '') =>
    t.request({ method: 'GET', url: `/api/orders${query}`, token: user?.token });
  const get = (user: User | undefined, id: number | string) =>
    t.request({ method: 'GET', url: `/api/orders/${id}`, token: user?.token });

  it('lists my orders newest first, filtered by status, page by page', async () => {
    const res = await list(buyer);
    expect(res.status).toBe(200);
    expect(
      res.body.data.items.map((o: { orderId: number; status: string }) => [o.orderId, o.status]),
    ).toEqual([
      [orderIds[2], 'pending'],
      [orderIds[1], 'failed'],
      [orderIds[0], 'paid'],
    ]);
    expect(res.body.data.items[2]).toEqual({
      orderId: orderIds[0],
      userId: buyer.userId,
      courseId: expect.any(Number),
      courseTitle: 'Order course 4242',
      status: 'paid',
      currency: 'NGN',
      listPrice: 5000,
      discount: 0,
      amount: 5000,
      couponCode: null,
      method: 'card',
      createdAt: expect.any(String),
      updatedAt: expect.any(String),
      paidAt: expect.any(String),
      refundedAt: null,
    });
    expect(res.body.data.pageInfo).toEqual({ nextCursor: null, hasMore: false });

    const paid = await list(buyer, '?status=paid');
    expect(paid.body.data.items.map((o: { orderId: number }) => o.orderId)).toEqual([orderIds[0]]);
    const first = await list(buyer, '?limit=2');
    expect(first.body.data.items).toHaveLength(2);
    expect(first.body.data.pageInfo.hasMore).toBe(true);
    const second = await list(buyer, `?limit=2&cursor=${first.body.data.pageInfo.nextCursor}`);
    expect(second.body.data.items.map((o: { orderId: number }) => o.orderId)).toEqual([orderIds[0]]);
    expect(second.body.data.pageInfo.hasMore).toBe(false);

    expect((await list(stranger)).body.data.items).toEqual([]);
  });

  it('admins list anyone’s orders with userId; others get 403 for someone else’s', async () => {
    const res = await list(admin, `?userId=${buyer.userId}`);
    expect(res.body.data.items).toHaveLength(3);
    const denied = await list(stranger, `?userId=${buyer.userId}`);
    expect(denied.status).toBe(403);
    expect((await list(buyer, `?userId=${buyer.userId}`)).body.data.items).toHaveLength(3);
  });

  it('shows one order with its payments and history to the buyer and admins; 404 to anyone else', async () => {
    const res = await get(buyer, orderIds[2]!);
    expect(res.status).toBe(200);
    expect(res.body.data).toMatchObject({
      orderId: orderIds[2],
      status: 'pending',
      coupon: null,
      payments: [
        {
          method: 'card',
          status: 'failed',
          amount: 5000,
          currency: 'NGN',
          card: { brand: 'visa', last4: '0119' },
          failureCode: 'gateway_error',
          paidAt: null,
        },
      ],
      history: [{ from: null, to: 'pending', reason: 'Order created' }],
    });
    const failed = await get(buyer, orderIds[1]!);
    expect(failed.body.data.history).toEqual([
      { from: null, to: 'pending', reason: 'Order created', at: expect.any(String) },
      { from: 'pending', to: 'failed', reason: 'Payment declined', at: expect.any(String) },
    ]);
    expect((await get(admin, orderIds[0]!)).body.data.status).toBe('paid');
    for (const id of [orderIds[0]!, 999999]) {
      const res2 = await get(stranger, id);
      expect(res2.status).toBe(404);
      expect(res2.body.error.message).toBe('Order not found');
    }
    expect((await get(undefined, orderIds[0]!)).status).toBe(401);
  });

  it('refuses bad input with field details', async () => {
    const cases: Array<[string, string]> = [
      ['?status=shipped', 'querystring.status'],
      ['?limit=0', 'querystring.limit'],
      ['?limit=101', 'querystring.limit'],
      ['?cursor=not-a-cursor', 'querystring.cursor'],
      ['?userId=abc', 'querystring.userId'],
      ['?unknown=1', 'querystring'],
    ];
    for (const [query, field] of cases) {
      const res = await list(buyer, query);
      expect(res.status, query).toBe(400);
      expect(res.body.error.details.map((d: { field: string }) => d.field)).toContain(field);
    }
    for (const id of ['abc', '0', '-1', '99999999999']) {
      const res = await get(buyer, id);
      expect(res.status, id).toBe(400);
      expect(res.body.error.details[0].field).toBe('params.id');
    }
    expect((await list(undefined)).status).toBe(401);
  });

  it('cancels orders left pending for 24 hours and releases their coupon use', async () => {
    const user = await verifiedStudent(t);
    const courseA = await paidCourse(t);
    const courseB = await paidCourse(t);
    const coupon = await t.request({
      method: 'POST',
      url: '/api/coupons',
      token: admin.token,
      payload: { code: 'STALE10', kind: 'percent', percentOff: 10, maxRedemptions: 1, perUserLimit: 1 },
    });
    expect((await pay(user, courseA.id, '4000000000000119', 'STALE10', 4500)).status).toBe(502);
    expect((await pay(user, courseB.id, '4000000000000119')).status).toBe(502);
    const [a] = await sql('select id from commerce.orders where user_id = $1 and course_id = $2', [
      user.userId,
      courseA.id,
    ]);
    const [b] = await sql('select id from commerce.orders where user_id = $1 and course_id = $2', [
      user.userId,
      courseB.id,
    ]);
    await sql(`update commerce.orders set updated_at = now() - interval '25 hours' where id = $1`, [a!.id]);
    await sql(`update commerce.orders set updated_at = now() - interval '23 hours' where id = $1`, [b!.id]);
    expect(
      (
        await sql('select count(*)::int as n from commerce.coupon_redemptions where coupon_id = $1', [
          coupon.body.data.couponId,
        ])
      )[0]!.n,
    ).toBe(1);

    await t.app.platform.jobs.send(CANCEL_STALE_ORDERS_JOB, {});
    const cancelled = await waitFor(async () => {
      const res = await get(user, a!.id);
      return res.body.data.status === 'cancelled' ? res.body.data : null;
    });
    expect(cancelled.history.at(-1)).toMatchObject({
      from: 'pending',
      to: 'cancelled',
      reason: 'Not paid within 24 hours',
    });
    expect((await get(user, b!.id)).body.data.status).toBe('pending');
    expect(
      (
        await sql('select count(*)::int as n from commerce.coupon_redemptions where coupon_id = $1', [
          coupon.body.data.couponId,
        ])
      )[0]!.n,
    ).toBe(0);
    // The course can be bought again, with the coupon, on a new order.
    const again = await pay(user, courseA.id, '4242424242424242', 'STALE10', 4500);
    expect(again.status).toBe(201);
    expect(again.body.data.orderId).not.toBe(a!.id);
  });
});
