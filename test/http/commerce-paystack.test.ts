import { and, eq, like } from 'drizzle-orm';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { PAYMENT_SUCCEEDED, type PaymentSucceeded } from '../../src/modules/commerce/commerce.events.ts';
import { checkLedger } from '../../src/modules/commerce/commerce.ledger.ts';
import { insertPayment, newTransactionId } from '../../src/modules/commerce/commerce.orders.repository.ts';
import { paystackSignature } from '../../src/modules/commerce/commerce.paystack.client.ts';
import { ledgerTransactions, payments, webhookEvents } from '../../src/modules/commerce/commerce.tables.ts';
import { SIMULATOR_SECRET_KEY } from '../../src/platform/config.ts';
import { NotFound } from '../../src/platform/errors.ts';
import { createTestApp, type TestApp, waitFor } from '../helpers/app.ts';
import { testCard } from '../factories/commerce.ts';
import { insertCourse } from '../factories/courses.ts';
import { createUserWithRole, PASSWORD, uniqueEmail } from '../factories/users.ts';

/**
 * The Paystack flow end to end on the built-in simulator, over real HTTP: checkout, the hosted
 * page, Pay / Decline, the signed webhook, verification and fulfilment, and the guards around it.
 */
describe('Paystack payments (simulator)', () => {
  let t: TestApp;
  const succeeded: PaymentSucceeded[] = [];

  beforeAll(async () => {
    t = await createTestApp(
      { AUTH_RATE_LIMIT_MAX: '1000' },
      {
        setup: (app) =>
          app.platform.events.subscribe<PaymentSucceeded>({
            event: PAYMENT_SUCCEEDED,
            consumer: 'test.paystackPaymentSucceeded',
            handle: async (event) => {
              succeeded.push(event.payload);
            },
          }),
      },
    );
    // The adapter reaches the simulator, and the simulator our webhook, on this server's address.
    await t.app.listen({ port: 0, host: '127.0.0.1' });
  });
  afterAll(() => t.close());

  const db = () => t.app.platform.db;
  const paystack = () => t.app.modules.commerce.paystack;

  async function buyer() {
    const email = uniqueEmail('payer');
    await t.app.modules.identity.createUser({
      email,
      password: PASSWORD,
      name: 'Payer',
      role: 'student',
      emailVerified: true,
    });
    const login = await t.request({
      method: 'POST',
      url: '/api/auth/user/login',
      payload: { email, password: PASSWORD },
    });
    return { userId: login.body.data.userId as number, token: login.body.data.token as string, email };
  }

  /** A verified student starts a Paystack checkout for a new NGN 5,000 course. */
  async function startCheckout() {
    const student = await buyer();
    const course = await insertCourse(t, { priceMinor: 500_000, currency: 'NGN' });
    const res = await t.request({
      method: 'POST',
      url: '/api/payments/initiate',
      token: student.token,
      payload: { userId: student.userId, courseId: course.id, amount: 5000, method: 'paystack' },
    });
    expect(res.status).toBe(201);
    expect(res.body.data).toMatchObject({
      method: 'paystack',
      status: 'pending',
      amount: 5000,
      currency: 'NGN',
    });
    return {
      student,
      course,
      ...(res.body.data as {
        paymentId: number;
        transactionId: string;
        orderId: number;
        authorizationUrl: string;
      }),
    };
  }

  async function openCheckout(authorizationUrl: string) {
    const page = await t.request({ method: 'GET', url: new URL(authorizationUrl).pathname });
    expect(page.status).toBe(200);
    expect(page.headers['content-type']).toMatch(/^text\/html/);
    const html = page.body as string;
    const action = (what: string) => html.match(new RegExp(`action="([^"]+/${what})"`))?.[1];
    return {
      html,
      csp: String(page.headers['content-security-policy']),
      pay: action('pay')!,
      decline: action('decline')!,
    };
  }

  const submit = (url: string) =>
    t.request({
      method: 'POST',
      url,
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
      payload: '',
    });

  const paymentRow = async (id: number) =>
    (await db().select().from(payments).where(eq(payments.id, id)))[0]!;
  const orderOf = async (token: string, orderId: number) =>
    (await t.request({ method: 'GET', url: `/api/orders/${orderId}`, token })).body.data;
  const purchases = (paymentId: number) =>
    db()
      .select()
      .from(ledgerTransactions)
      .where(eq(ledgerTransactions.reference, `purchase:payment:${paymentId}`));

  const signed = (body: object, key = SIMULATOR_SECRET_KEY) => {
    const raw = JSON.stringify(body);
    return { raw, signature: paystackSignature(raw, key) };
  };
  const deliver = (raw: string, signature?: string) =>
    t.request({
      method: 'POST',
      url: '/api/payments/webhooks/paystack',
      headers: {
        'content-type': 'application/json',
        ...(signature ? { 'x-paystack-signature': signature } : {}),
      },
      payload: raw,
    });

  /** A second pending Paystack payment on an existing order, initialized with `amountMinor`. */
  async function extraPayment(
    order: { orderId: number; userId: number; courseId: number },
    amountMinor: number,
    email: string,
  ) {
    const payment = await insertPayment(db(), {
      transactionId: newTransactionId(),
      orderId: order.orderId,
      userId: order.userId,
      courseId: order.courseId,
      method: 'paystack',
      amountMinor: 500_000,
      currency: 'NGN',
    });
    const started = await paystack().initialize({
      reference: payment.transactionId,
      amountMinor,
      currency: 'NGN',
      email,
      metadata: {},
    });
    return { payment, ...started };
  }

  it('sells a course through the hosted checkout: Pay → signed webhook → verified → paid', async () => {
    const c = await startCheckout();
    const page = await openCheckout(c.authorizationUrl);
    expect(page.html).toContain('NGN 5,000.00');
    expect(page.html).toContain(c.student.email);
    expect(page.html).not.toMatch(/<script|src=/i);
    expect(page.csp).toContain("form-action 'self' http://localhost:");

    const paid = await submit(page.pay);
    expect(paid.status).toBe(303);
    const back = new URL(String(paid.headers.location));
    expect(`${back.origin}${back.pathname}`).toBe(t.app.platform.config.commerce.paystack.callbackUrl);
    expect(back.searchParams.get('reference')).toBe(c.transactionId);
    expect(back.searchParams.get('trxref')).toBe(c.transactionId);

    await waitFor(async () => (await paymentRow(c.paymentId)).status === 'success');
    const status = await t.request({
      method: 'GET',
      url: `/api/payments/status/${c.transactionId}`,
      token: c.student.token,
    });
    expect(status.body.data).toMatchObject({ status: 'success', amount: 5000, method: 'paystack' });
    expect((await paymentRow(c.paymentId)).gatewayReference).toMatch(/^\d+$/);
    expect(await orderOf(c.student.token, c.orderId)).toMatchObject({ status: 'paid' });
    expect(await purchases(c.paymentId)).toHaveLength(1);
    expect(await checkLedger(db())).toEqual({ unbalancedTransactions: [], driftedAccounts: [] });
    await waitFor(async () => succeeded.some((e) => e.paymentId === c.paymentId));
    expect(succeeded.filter((e) => e.paymentId === c.paymentId)).toEqual([
      expect.objectContaining({
        orderId: c.orderId,
        amountMinor: 500_000,
        currency: 'NGN',
        method: 'paystack',
      }),
    ]);
    const events = await db()
      .select()
      .from(webhookEvents)
      .where(eq(webhookEvents.reference, c.transactionId));
    expect(events).toEqual([expect.objectContaining({ event: 'charge.success', provider: 'paystack' })]);
    await waitFor(
      async () =>
        (await db().select().from(webhookEvents).where(eq(webhookEvents.id, events[0]!.id)))[0]!.processedAt,
    );

    // The page now says it is done, and a second click changes nothing.
    expect((await openCheckout(c.authorizationUrl)).html).toContain('Payment successful');
    expect((await submit(page.pay)).status).toBe(303);
    expect(await purchases(c.paymentId)).toHaveLength(1);
  });

  it('Decline fails the payment and the order', async () => {
    const c = await startCheckout();
    const declined = await submit((await openCheckout(c.authorizationUrl)).decline);
    expect(declined.status).toBe(303);
    await waitFor(async () => (await paymentRow(c.paymentId)).status === 'failed');
    expect(await paymentRow(c.paymentId)).toMatchObject({
      failureCode: 'declined',
      failureMessage: 'Declined',
    });
    expect(await orderOf(c.student.token, c.orderId)).toMatchObject({ status: 'failed' });
    expect(await purchases(c.paymentId)).toHaveLength(0);
  });

  it('refuses a webhook with a bad or missing signature (401) and changes nothing', async () => {
    const c = await startCheckout();
    const body = {
      event: 'charge.success',
      data: { id: 1, reference: c.transactionId, amount: 500_000, currency: 'NGN', status: 'success' },
    };
    const { raw } = signed(body);
    for (const signature of [
      undefined,
      'f'.repeat(128),
      signed(body, 'sk_test_someone_else').signature,
      signed({ ...body, event: 'x' }).signature,
    ]) {
      const res = await deliver(raw, signature);
      expect(res.status).toBe(401);
      expect(res.body).toMatchObject({ status: 'error', data: null, error: { errorCode: 401 } });
    }
    // Signed, but not JSON Paystack would send: a bad body is 400 (after the signature check).
    const notJson = 'event=charge.success';
    expect((await deliver(notJson, paystackSignature(notJson, SIMULATOR_SECRET_KEY))).status).toBe(400);
    expect(
      await db().select().from(webhookEvents).where(eq(webhookEvents.reference, c.transactionId)),
    ).toEqual([]);
    expect(await paymentRow(c.paymentId)).toMatchObject({ status: 'pending' });
    // The JSON parser is replaced for the webhook only: the rest of the API still parses JSON.
    const login = await t.request({
      method: 'POST',
      url: '/api/auth/user/login',
      payload: { email: c.student.email, password: PASSWORD },
    });
    expect(login.status).toBe(200);
  });

  it('does not fulfil a validly signed webhook that Paystack does not confirm (tampered amount)', async () => {
    const c = await startCheckout();
    const { raw, signature } = signed({
      event: 'charge.success',
      data: { id: 99, reference: c.transactionId, amount: 100, currency: 'NGN', status: 'success' },
    });
    const res = await deliver(raw, signature);
    expect(res.status).toBe(200);
    expect(res.body.data).toEqual({ received: true, outcome: 'queued' });
    await waitFor(
      async () =>
        (await db().select().from(webhookEvents).where(eq(webhookEvents.reference, c.transactionId)))[0]
          ?.processedAt,
    );
    expect(await paymentRow(c.paymentId)).toMatchObject({ status: 'pending' });
    expect(await orderOf(c.student.token, c.orderId)).toMatchObject({ status: 'pending' });
    expect(await purchases(c.paymentId)).toHaveLength(0);
    // Not about one of our payments, or not an event we act on: acknowledged, not recorded.
    for (const body of [
      { event: 'charge.success', data: { id: 5, reference: 'tx_unknown' } },
      { event: 'transfer.success', data: { id: 6, reference: c.transactionId } },
    ]) {
      const s = signed(body);
      expect((await deliver(s.raw, s.signature)).body.data).toEqual({ received: true, outcome: 'ignored' });
    }
  });

  it('refunds a charge whose amount differs from the payment instead of fulfilling it', async () => {
    const c = await startCheckout();
    const extra = await extraPayment(
      { orderId: c.orderId, userId: c.student.userId, courseId: c.course.id },
      400_000,
      c.student.email,
    );
    expect((await submit((await openCheckout(extra.authorizationUrl)).pay)).status).toBe(303);
    await waitFor(async () => (await paymentRow(extra.payment.id)).status === 'refunded');
    expect(await paymentRow(extra.payment.id)).toMatchObject({ failureCode: 'amount_mismatch' });
    expect(await orderOf(c.student.token, c.orderId)).toMatchObject({ status: 'pending' });
    expect(await purchases(extra.payment.id)).toHaveLength(0);
    expect(await paystack().verify(extra.payment.transactionId)).toMatchObject({
      status: 'reversed',
      amountMinor: 400_000,
    });
  });

  it('never keeps a second payment for an order that is already paid: it is refunded', async () => {
    const c = await startCheckout();
    await submit((await openCheckout(c.authorizationUrl)).pay);
    await waitFor(async () => (await paymentRow(c.paymentId)).status === 'success');
    const extra = await extraPayment(
      { orderId: c.orderId, userId: c.student.userId, courseId: c.course.id },
      500_000,
      c.student.email,
    );
    await submit((await openCheckout(extra.authorizationUrl)).pay);
    await waitFor(async () => (await paymentRow(extra.payment.id)).status === 'refunded');
    expect(await paymentRow(extra.payment.id)).toMatchObject({ failureCode: 'duplicate_payment' });
    expect(await paystack().verify(extra.payment.transactionId)).toMatchObject({ status: 'reversed' });
    expect(await paystack().verify(c.transactionId)).toMatchObject({ status: 'success' });
    const sales = await db()
      .select()
      .from(ledgerTransactions)
      .where(
        and(
          like(ledgerTransactions.reference, 'purchase:payment:%'),
          like(ledgerTransactions.description, `%order ${c.orderId})`),
        ),
      );
    expect(sales).toHaveLength(1);
    // Refunding it again is a conflict, not a second refund.
    await expect(
      paystack().refund({ reference: extra.payment.transactionId, amountMinor: 500_000 }),
    ).rejects.toMatchObject({ statusCode: 409 });
  });

  /** `POST /api/payments/initiate` by the checkout's student for its course, with `body` added. */
  const initiateAgain = (c: Awaited<ReturnType<typeof startCheckout>>, body: Record<string, unknown>) =>
    t.request({
      method: 'POST',
      url: '/api/payments/initiate',
      token: c.student.token,
      payload: { userId: c.student.userId, courseId: c.course.id, ...body },
    });

  /** Another Paystack checkout of the same course by the same student (the order is reused). */
  async function anotherAttempt(
    c: Awaited<ReturnType<typeof startCheckout>>,
    amount: number,
    couponCode?: string,
  ) {
    const res = await initiateAgain(c, { amount, method: 'paystack', ...(couponCode ? { couponCode } : {}) });
    expect(res.status).toBe(201);
    expect(res.body.data.orderId).toBe(c.orderId);
    return res.body.data as { paymentId: number; transactionId: string; authorizationUrl: string };
  }

  it('refunds an older attempt made before a coupon re-priced the order; the current attempt sells', async () => {
    const c = await startCheckout();
    const admin = await createUserWithRole(t, 'admin');
    const code = `TWOTABS${c.course.id}`;
    const coupon = await t.request({
      method: 'POST',
      url: '/api/coupons',
      token: admin.token,
      payload: {
        code,
        kind: 'fixed',
        amountOff: 1000,
        currency: 'NGN',
        courseId: c.course.id,
        maxRedemptions: 1,
      },
    });
    expect(coupon.status).toBe(201);
    const current = await anotherAttempt(c, 4000, code);
    expect(await orderOf(c.student.token, c.orderId)).toMatchObject({ status: 'pending', amount: 4000 });

    // The first tab, still showing 5,000, is paid: not what the order now costs.
    await submit((await openCheckout(c.authorizationUrl)).pay);
    await waitFor(async () => (await paymentRow(c.paymentId)).status === 'refunded');
    expect(await paymentRow(c.paymentId)).toMatchObject({ failureCode: 'duplicate_payment' });
    expect(await paystack().verify(c.transactionId)).toMatchObject({ status: 'reversed' });
    expect(await orderOf(c.student.token, c.orderId)).toMatchObject({ status: 'pending', amount: 4000 });
    expect(await purchases(c.paymentId)).toHaveLength(0);

    await submit((await openCheckout(current.authorizationUrl)).pay);
    await waitFor(async () => (await paymentRow(current.paymentId)).status === 'success');
    expect(await orderOf(c.student.token, c.orderId)).toMatchObject({
      status: 'paid',
      amount: 4000,
      couponCode: code,
    });
    expect(await purchases(current.paymentId)).toHaveLength(1);
    expect(await checkLedger(db())).toEqual({ unbalancedTransactions: [], driftedAccounts: [] });
  });

  it('six attempts of one order paid at the same moment: one sells, five are refunded, the ledger balances', async () => {
    const c = await startCheckout();
    const attempts = [
      { paymentId: c.paymentId, transactionId: c.transactionId, authorizationUrl: c.authorizationUrl },
    ];
    for (let i = 0; i < 5; i++) attempts.push(await anotherAttempt(c, 5000));
    const pages = await Promise.all(attempts.map((a) => openCheckout(a.authorizationUrl)));
    const paid = await Promise.all(pages.map((page) => submit(page.pay)));
    expect(paid.map((r) => r.status)).toEqual(attempts.map(() => 303));

    const final = await waitFor(
      async () => {
        const rows = await Promise.all(attempts.map((a) => paymentRow(a.paymentId)));
        return rows.every((r) => r.status === 'success' || r.status === 'refunded') && rows;
      },
      30_000,
      100,
    );
    const sold = final.filter((r) => r.status === 'success');
    expect(sold).toHaveLength(1);
    const refunded = final.filter((r) => r.status === 'refunded');
    expect(refunded).toHaveLength(5);
    for (const r of refunded) {
      expect(r.failureCode).toBe('duplicate_payment');
      expect(await paystack().verify(r.transactionId)).toMatchObject({ status: 'reversed' });
      expect(await purchases(r.id)).toHaveLength(0);
    }
    expect(await purchases(sold[0]!.id)).toHaveLength(1);
    expect(await orderOf(c.student.token, c.orderId)).toMatchObject({ status: 'paid', amount: 5000 });
    const enrollments = await waitFor(async () => {
      const rows = (
        await t.app.platform.database.executor.executeSql(
          'select status, payment_id from enrollment.enrollments where user_id = $1 and course_id = $2',
          [c.student.userId, c.course.id],
        )
      ).rows;
      return rows.length > 0 && rows;
    });
    expect(enrollments).toEqual([{ status: 'in_progress', payment_id: sold[0]!.id }]);
    expect(await checkLedger(db())).toEqual({ unbalancedTransactions: [], driftedAccounts: [] });
  });

  it('a declined attempt leaves the order open while another attempt is pending; the last one fails it', async () => {
    const c = await startCheckout();
    const second = await anotherAttempt(c, 5000);
    await submit((await openCheckout(c.authorizationUrl)).decline);
    await waitFor(async () => (await paymentRow(c.paymentId)).status === 'failed');
    const open = await orderOf(c.student.token, c.orderId);
    expect(open.status).toBe('pending');

    // The other tab is paid: a sale, not a refunded duplicate.
    await submit((await openCheckout(second.authorizationUrl)).pay);
    await waitFor(async () => (await paymentRow(second.paymentId)).status === 'success');
    expect(await orderOf(c.student.token, c.orderId)).toMatchObject({ status: 'paid' });
    expect(await purchases(second.paymentId)).toHaveLength(1);

    // With no other attempt open, a decline fails the order as before.
    const d = await startCheckout();
    const third = await anotherAttempt(d, 5000);
    await submit((await openCheckout(d.authorizationUrl)).decline);
    await waitFor(async () => (await paymentRow(d.paymentId)).status === 'failed');
    await submit((await openCheckout(third.authorizationUrl)).decline);
    await waitFor(async () => (await paymentRow(third.paymentId)).status === 'failed');
    expect(await orderOf(d.student.token, d.orderId)).toMatchObject({ status: 'failed' });
  });

  it('follows a course that changed currency while an order was open: the next checkout sells', async () => {
    const c = await startCheckout();
    await t.app.platform.database.executor.executeSql(
      `update catalog.courses set currency = 'USD', price_minor = 4999 where id = $1`,
      [c.course.id],
    );
    const res = await initiateAgain(c, {
      amount: 49.99,
      currency: 'USD',
      method: 'card',
      cardDetails: testCard(),
    });
    expect(res.status).toBe(201);
    expect(res.body.data).toMatchObject({ orderId: c.orderId, status: 'success', currency: 'USD' });
    expect(await orderOf(c.student.token, c.orderId)).toMatchObject({
      status: 'paid',
      currency: 'USD',
      amount: 49.99,
    });
  });

  it('the simulator checks the secret key and answers in Paystack’s shapes', async () => {
    const sim = '/sim/paystack';
    const body = { email: 'a@example.test', amount: 10_000, currency: 'NGN', reference: newTransactionId() };
    for (const authorization of [undefined, 'Bearer sk_test_wrong', `Basic ${SIMULATOR_SECRET_KEY}`]) {
      const headers = authorization ? { authorization } : {};
      const init = await t.request({
        method: 'POST',
        url: `${sim}/transaction/initialize`,
        headers,
        payload: body,
      });
      expect(init.status).toBe(401);
      expect(init.body).toEqual({ status: false, message: 'Invalid key' });
      const verify = await t.request({
        method: 'GET',
        url: `${sim}/transaction/verify/${body.reference}`,
        headers,
      });
      expect(verify.status).toBe(401);
    }
    const auth = { authorization: `Bearer ${SIMULATOR_SECRET_KEY}` };
    const ok = await t.request({
      method: 'POST',
      url: `${sim}/transaction/initialize`,
      headers: auth,
      payload: body,
    });
    expect(ok.status).toBe(200);
    expect(ok.body).toMatchObject({
      status: true,
      data: { reference: body.reference, access_code: expect.any(String) },
    });
    expect(ok.body.data.authorization_url).toContain(`${sim}/checkout/${ok.body.data.access_code}`);
    const again = await t.request({
      method: 'POST',
      url: `${sim}/transaction/initialize`,
      headers: auth,
      payload: body,
    });
    expect(again.body).toEqual({ status: false, message: 'Duplicate Transaction Reference' });
    const bad = await t.request({
      method: 'POST',
      url: `${sim}/transaction/initialize`,
      headers: auth,
      payload: { ...body, email: 'nope', reference: undefined },
    });
    expect([bad.status, bad.body]).toEqual([400, { status: false, message: 'Invalid Email Address Passed' }]);
    const verify = await t.request({
      method: 'GET',
      url: `${sim}/transaction/verify/${body.reference}`,
      headers: auth,
    });
    expect(verify.body).toMatchObject({
      status: true,
      data: { status: 'abandoned', amount: 10_000, currency: 'NGN' },
    });
    const unknown = await t.request({ method: 'GET', url: `${sim}/transaction/verify/nope`, headers: auth });
    expect([unknown.status, unknown.body]).toEqual([
      400,
      { status: false, message: 'Transaction reference not found' },
    ]);
    await expect(paystack().verify('nope')).rejects.toBeInstanceOf(NotFound);
    const refund = await t.request({
      method: 'POST',
      url: `${sim}/refund`,
      headers: auth,
      payload: { transaction: body.reference },
    });
    expect(refund.status).toBe(400);
    expect((await t.request({ method: 'GET', url: `${sim}/checkout/unknown` })).status).toBe(404);
  });
});
