import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTestApp, type TestApp } from '../helpers/app.ts';
import { paidCourse, testCard, verifiedStudent } from '../factories/commerce.ts';

type User = { userId: number; token: string; email: string };

/**
 * `POST /api/payments/initiate` with `method: paystack`: the checkout is started on the built-in
 * simulator over real HTTP (the app listens). The webhook side is covered by commerce-paystack.
 */
describe('payments: Paystack initiation', () => {
  let t: TestApp;

  beforeAll(async () => {
    t = await createTestApp({ AUTH_RATE_LIMIT_MAX: '1000' });
    await t.app.listen({ port: 0, host: '127.0.0.1' });
  });
  afterAll(() => t.close());

  const initiate = (user: User, body: Record<string, unknown>, app: TestApp = t) =>
    app.request({
      method: 'POST',
      url: '/api/payments/initiate',
      token: user.token,
      payload: { userId: user.userId, amount: 5000, method: 'paystack', ...body },
    });
  const checkoutPage = async (authorizationUrl: string) =>
    (await t.request({ method: 'GET', url: new URL(authorizationUrl).pathname })).body as string;

  it('answers 201 pending with the access code and checkout URL; the email defaults to the account’s', async () => {
    const student = await verifiedStudent(t);
    const course = await paidCourse(t);
    const res = await initiate(student, { courseId: course.id });
    expect(res.status).toBe(201);
    expect(res.body.data).toEqual({
      paymentId: expect.any(Number),
      transactionId: expect.stringMatching(/^tx_/),
      orderId: expect.any(Number),
      method: 'paystack',
      status: 'pending',
      message: 'Payment initialized successfully with Paystack',
      amount: 5000,
      currency: 'NGN',
      accessCode: expect.any(String),
      authorizationUrl: expect.stringMatching(/\/sim\/paystack\//),
    });
    expect(await checkoutPage(res.body.data.authorizationUrl)).toContain(student.email);
    const status = await t.request({
      method: 'GET',
      url: `/api/payments/status/${res.body.data.transactionId}`,
      token: student.token,
    });
    expect(status.body.data).toMatchObject({ status: 'pending', method: 'paystack', card: null });

    // Starting again reuses the pending order with a new payment; another email can be given.
    const again = await initiate(student, { courseId: course.id, paystackEmail: 'billing@example.test' });
    expect(again.status).toBe(201);
    expect(again.body.data.orderId).toBe(res.body.data.orderId);
    expect(again.body.data.transactionId).not.toBe(res.body.data.transactionId);
    expect(await checkoutPage(again.body.data.authorizationUrl)).toContain('billing@example.test');
  });

  it('refuses a currency Paystack does not take (400 on body.method)', async () => {
    const student = await verifiedStudent(t);
    const course = await paidCourse(t, { priceMinor: 500000, currency: 'EUR' });
    const res = await initiate(student, { courseId: course.id });
    expect(res.status).toBe(400);
    expect(res.body.error.details).toEqual([
      { field: 'body.method', message: 'Paystack does not accept EUR; pay by card or wallet' },
    ]);
  });

  it('Paystack unreachable: 502, the order stays pending, and a card retry pays it', async () => {
    const down = await createTestApp({
      AUTH_RATE_LIMIT_MAX: '1000',
      PAYSTACK_BASE_URL: 'http://127.0.0.1:9',
    });
    try {
      const student = await verifiedStudent(down);
      const course = await paidCourse(down);
      const res = await initiate(student, { courseId: course.id }, down);
      expect(res.status).toBe(502);
      expect(res.body.error.errorCode).toBe(502);
      const orders = await down.request({ method: 'GET', url: '/api/orders', token: student.token });
      const [order] = orders.body.data.items;
      expect(order).toMatchObject({ status: 'pending', method: 'paystack' });
      const detail = await down.request({
        method: 'GET',
        url: `/api/orders/${order.orderId}`,
        token: student.token,
      });
      expect(detail.body.data.payments).toEqual([
        expect.objectContaining({ method: 'paystack', status: 'failed', failureCode: 'gateway_error' }),
      ]);

      const card = await initiate(
        student,
        { courseId: course.id, method: 'card', cardDetails: testCard() },
        down,
      );
      expect(card.status).toBe(201);
      expect(card.body.data.orderId).toBe(order.orderId);
    } finally {
      await down.close();
    }
  });
});
