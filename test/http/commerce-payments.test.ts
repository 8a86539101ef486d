import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { checkLedger, getWalletBalances } from '../../src/modules/commerce/commerce.ledger.ts';
import { createTestApp, type TestApp } from '../helpers/app.ts';
import { fundWallet, paidCourse, testCard, verifiedStudent } from '../factories/commerce.ts';
import { insertCourse } from '../factories/courses.ts';
import { createUserWithRole, registerStudent } from '../factories/users.ts';

type User = { userId: number; token: string };

describe('payments: POST /api/payments/initiate and GET /api/payments/status (seed 002)', () => {
  let t: TestApp;
  let admin: User;

  beforeAll(async () => {
    t = await createTestApp({ AUTH_RATE_LIMIT_MAX: '1000', RATE_LIMIT_MAX: '10000' });
    admin = await createUserWithRole(t, 'admin');
  });
  afterAll(() => t.close());

  const sql = async (text: string, values: unknown[] = []) =>
    (await t.app.platform.database.executor.executeSql(text, values)).rows;
  const initiate = (
    user: User | undefined,
    body: Record<string, unknown>,
    headers: Record<string, string> = {},
  ) =>
    t.request({ method: 'POST', url: '/api/payments/initiate', token: user?.token, payload: body, headers });
  const status = (user: User | undefined, transactionId: string) =>
    t.request({ method: 'GET', url: `/api/payments/status/${transactionId}`, token: user?.token });
  const payByCard = (user: User, courseId: number, number = '4242424242424242', amount = 5000) =>
    initiate(user, { userId: user.userId, courseId, amount, method: 'card', cardDetails: testCard(number) });
  const countsOf = async (userId: number) => {
    const [row] = await sql(
      `select (select count(*)::int from commerce.orders where user_id = $1) as orders,
              (select count(*)::int from commerce.payments where user_id = $1) as payments`,
      [userId],
    );
    return row as { orders: number; payments: number };
  };
  const order = async (user: User, orderId: number) =>
    (await t.request({ method: 'GET', url: `/api/orders/${orderId}`, token: user.token })).body.data;

  it('a card payment succeeds: 201 in seed 002 shape, order paid, ledger posted, card data not kept', async () => {
    const student = await verifiedStudent(t);
    const course = await paidCourse(t);
    const res = await payByCard(student, course.id);
    expect(res.status).toBe(201);
    expect(res.body.status).toBe('success');
    expect(res.body.data).toMatchObject({
      status: 'success',
      message: 'Card payment processed successfully',
      amount: 5000,
      currency: 'NGN',
      method: 'card',
      card: { brand: 'visa', last4: '4242' },
    });
    expect(res.body.data.paymentId).toEqual(expect.any(Number));
    expect(res.body.data.transactionId).toMatch(/^tx_[a-z2-7]{24}$/);

    const paid = await order(student, res.body.data.orderId);
    expect(paid).toMatchObject({
      status: 'paid',
      amount: 5000,
      listPrice: 5000,
      discount: 0,
      method: 'card',
    });
    expect(paid.payments).toEqual([
      expect.objectContaining({ status: 'success', method: 'card', card: { brand: 'visa', last4: '4242' } }),
    ]);
    expect(paid.history.map((h: { to: string }) => h.to)).toEqual(['pending', 'paid']);

    const [row] = await sql('select * from commerce.payments where id = $1', [res.body.data.paymentId]);
    expect(row).toMatchObject({
      status: 'success',
      card_brand: 'visa',
      card_last4: '4242',
      amount_minor: 500000,
    });
    expect(row!.gateway_reference).toMatch(/^ch_500000_NGN_/);
    const everything = JSON.stringify([
      await sql('select * from commerce.payments'),
      await sql('select * from commerce.orders'),
      await sql('select * from commerce.order_events'),
      await sql('select response_body from platform.idempotency_keys'),
    ]);
    expect(everything).not.toContain('4242424242424242');

    const ledger = await sql(
      `select a.kind, e.amount_minor::int as amount from commerce.ledger_entries e
         join commerce.ledger_accounts a on a.id = e.account_id
         join commerce.ledger_transactions x on x.id = e.transaction_id
        where x.reference = $1 order by e.amount_minor`,
      [`purchase:payment:${res.body.data.paymentId}`],
    );
    expect(ledger).toEqual([
      { kind: 'gateway_clearing', amount: -500000 },
      { kind: 'platform_revenue', amount: 500000 },
    ]);

    const api = await t.app.modules.commerce.getPayment(res.body.data.paymentId);
    expect(api).toEqual({
      paymentId: res.body.data.paymentId,
      transactionId: res.body.data.transactionId,
      userId: student.userId,
      courseId: course.id,
      orderId: res.body.data.orderId,
      status: 'success',
      method: 'card',
    });
    expect(await t.app.modules.commerce.getPayment(999999)).toBeNull();
  });

  it('test card numbers: 4084… succeeds, 4000…0002 declined, …9995 insufficient funds → 402 and a failed order', async () => {
    const student = await verifiedStudent(t);
    const ok = await payByCard(student, (await paidCourse(t)).id, '4084084084084081');
    expect(ok.status).toBe(201);
    expect(ok.body.data.card).toEqual({ brand: 'visa', last4: '4081' });

    for (const [number, message] of [
      ['4000000000000002', 'Payment declined'],
      ['4000000000009995', 'Insufficient funds'],
    ] as const) {
      const course = await paidCourse(t);
      const res = await payByCard(student, course.id, number);
      expect(res.status).toBe(402);
      expect(res.body).toMatchObject({ status: 'error', data: null, error: { errorCode: 402, message } });
      const list = await t.request({ method: 'GET', url: '/api/orders?status=failed', token: student.token });
      const failed = list.body.data.items.find((o: { courseId: number }) => o.courseId === course.id);
      expect(failed).toMatchObject({ status: 'failed', amount: 5000 });
      const detail = await order(student, failed.orderId);
      expect(detail.payments).toEqual([
        expect.objectContaining({ status: 'failed', failureMessage: message }),
      ]);
      expect(detail.history.at(-1)).toMatchObject({ from: 'pending', to: 'failed', reason: message });
      // A failed order is final: paying again opens a new order.
      const retry = await payByCard(student, course.id);
      expect(retry.status).toBe(201);
      expect(retry.body.data.orderId).not.toBe(failed.orderId);
    }
  });

  it('a gateway error is 502 and leaves the order pending; a retry pays the same order', async () => {
    const student = await verifiedStudent(t);
    const course = await paidCourse(t);
    const res = await payByCard(student, course.id, '4000000000000119');
    expect(res.status).toBe(502);
    expect(res.body.error).toMatchObject({ errorCode: 502 });
    const list = await t.request({ method: 'GET', url: '/api/orders', token: student.token });
    expect(list.body.data.items).toEqual([
      expect.objectContaining({ courseId: course.id, status: 'pending' }),
    ]);
    const orderId = list.body.data.items[0].orderId;

    const retry = await payByCard(student, course.id, '5555555555554444');
    expect(retry.status).toBe(201);
    expect(retry.body.data).toMatchObject({ orderId, card: { brand: 'mastercard', last4: '4444' } });
    const detail = await order(student, orderId);
    expect(detail.status).toBe('paid');
    expect(detail.payments.map((p: { status: string }) => p.status)).toEqual(['failed', 'success']);
    expect(detail.payments[0].failureCode).toBe('gateway_error');
  });

  it('a course already bought is 409; a free course is 400; an unknown or unpublished course is 404', async () => {
    const student = await verifiedStudent(t);
    const course = await paidCourse(t);
    expect((await payByCard(student, course.id)).status).toBe(201);
    const again = await payByCard(student, course.id);
    expect(again.status).toBe(409);
    expect(again.body.error.message).toBe('You have already bought this course');
    expect(await countsOf(student.userId)).toEqual({ orders: 1, payments: 1 });

    const free = await insertCourse(t, { priceMinor: 0, currency: 'NGN' });
    const freeRes = await payByCard(student, free.id, '4242424242424242', 1);
    expect(freeRes.status).toBe(400);
    expect(freeRes.body.error.message).toBe('This course is free; enroll directly');

    const yen = await paidCourse(t, { priceMinor: 500000, currency: 'JPY' });
    const yenRes = await payByCard(student, yen.id);
    expect(yenRes.status).toBe(400);
    expect(yenRes.body.error.details).toEqual([
      { field: 'body.courseId', message: 'This course is priced in JPY, which cannot be paid online' },
    ]);

    const draft = await paidCourse(t, { status: 'draft' });
    expect((await payByCard(student, draft.id)).status).toBe(404);
    const unknown = await payByCard(student, 999999);
    expect(unknown.status).toBe(404);
    expect(unknown.body.error.message).toBe('Course not found');
    expect(await countsOf(student.userId)).toEqual({ orders: 1, payments: 1 });
  });

  it('amount tampering is 400 on body.amount and creates nothing', async () => {
    const student = await verifiedStudent(t);
    const course = await paidCourse(t);
    for (const amount of [4999.99, 1, 50000]) {
      const res = await payByCard(student, course.id, '4242424242424242', amount);
      expect(res.status).toBe(400);
      expect(res.body.error.details).toEqual([
        { field: 'body.amount', message: 'Must be 5000 NGN, the price' },
      ]);
    }
    const wrongCurrency = await initiate(student, {
      userId: student.userId,
      courseId: course.id,
      amount: 5000,
      currency: 'USD',
      method: 'card',
      cardDetails: testCard(),
    });
    expect(wrongCurrency.status).toBe(400);
    expect(wrongCurrency.body.error.details).toEqual([
      { field: 'body.currency', message: 'This course is sold in NGN' },
    ]);
    expect(await countsOf(student.userId)).toEqual({ orders: 0, payments: 0 });
  });

  it('paying for another user is 403 (admins included); an unverified email is 403; both create nothing', async () => {
    const student = await verifiedStudent(t);
    const other = await verifiedStudent(t);
    const course = await paidCourse(t);
    const body = {
      userId: other.userId,
      courseId: course.id,
      amount: 5000,
      method: 'card',
      cardDetails: testCard(),
    };
    const res = await initiate(student, body);
    expect(res.status).toBe(403);
    expect(res.body.error.message).toBe('You can only pay for your own purchases');
    expect((await initiate(admin, body)).status).toBe(403);

    const unverified = await registerStudent(t);
    const res2 = await payByCard(unverified, course.id);
    expect(res2.status).toBe(403);
    expect(res2.body.error.message).toBe('Verify your email address before buying a course');
    for (const u of [student, other, unverified])
      expect(await countsOf(u.userId)).toEqual({ orders: 0, payments: 0 });
  });

  it('card details are checked (Luhn, expiry, CVV) with a detail per field, before anything is created', async () => {
    const student = await verifiedStudent(t);
    const course = await paidCourse(t);
    const pay = (cardDetails: unknown) =>
      initiate(student, {
        userId: student.userId,
        courseId: course.id,
        amount: 5000,
        method: 'card',
        cardDetails,
      });
    const lastYear = String(new Date().getUTCFullYear() - 1);

    const missing = await initiate(student, {
      userId: student.userId,
      courseId: course.id,
      amount: 5000,
      method: 'card',
    });
    expect(missing.status).toBe(400);
    expect(missing.body.error.details).toEqual([
      { field: 'body.cardDetails', message: 'Required for card payments' },
    ]);

    const bad = await pay({ number: '4242424242424241', expiryMonth: '13', expiryYear: '2030', cvv: '12' });
    expect(bad.status).toBe(400);
    expect(bad.body.error.message).toBe('Invalid payment details');
    expect(bad.body.error.details).toEqual([
      { field: 'body.cardDetails.number', message: 'Card number is not valid' },
      { field: 'body.cardDetails.expiryMonth', message: 'Expiry month must be 01 to 12' },
      { field: 'body.cardDetails.cvv', message: 'CVV must be 3 digits' },
    ]);
    const expired = await pay(testCard('4242424242424242', { expiryYear: lastYear }));
    expect(expired.body.error.details).toEqual([
      { field: 'body.cardDetails.expiryYear', message: 'Card has expired' },
    ]);
    const amexCvv = await pay(testCard('378282246310005', { cvv: '123' }));
    expect(amexCvv.body.error.details).toEqual([
      { field: 'body.cardDetails.cvv', message: 'CVV must be 4 digits' },
    ]);
    const short = await pay(testCard('4242'));
    expect(short.body.error.details).toEqual([
      { field: 'body.cardDetails.number', message: 'Card number must have 12 to 19 digits' },
    ]);
    const notStrings = await pay({ number: 4242424242424242, expiryMonth: 12, expiryYear: 2030, cvv: 123 });
    expect(notStrings.status).toBe(400);
    expect(notStrings.body.error.details.map((d: { field: string }) => d.field)).toEqual([
      'body.cardDetails.number',
      'body.cardDetails.expiryMonth',
      'body.cardDetails.expiryYear',
      'body.cardDetails.cvv',
    ]);
    const amex = await pay(testCard('378282246310005', { cvv: '1234' }));
    expect(amex.status).toBe(201);
    expect(amex.body.data.card).toEqual({ brand: 'amex', last4: '0005' });
    expect(await countsOf(student.userId)).toEqual({ orders: 1, payments: 1 });
  });

  it('refuses bad input on initiate with field details and no change', async () => {
    const student = await verifiedStudent(t);
    const course = await paidCourse(t);
    const base = {
      userId: student.userId,
      courseId: course.id,
      amount: 5000,
      method: 'card',
      cardDetails: testCard(),
    };
    const cases: Array<[Record<string, unknown>, string]> = [
      [{ ...base, userId: undefined }, 'body.userId'],
      [{ ...base, courseId: 'abc' }, 'body.courseId'],
      [{ ...base, courseId: 0 }, 'body.courseId'],
      [{ ...base, amount: -5 }, 'body.amount'],
      [{ ...base, amount: 0 }, 'body.amount'],
      [{ ...base, amount: 49.999 }, 'body.amount'],
      [{ ...base, amount: '5000' }, 'body.amount'],
      [{ ...base, method: 'bitcoin' }, 'body.method'],
      [{ ...base, currency: 'XYZ' }, 'body.currency'],
      [{ ...base, extra: true }, 'body'],
      [
        { ...base, method: 'paystack', cardDetails: undefined, paystackEmail: 'not-an-email' },
        'body.paystackEmail',
      ],
      [{ ...base, method: 'wallet' }, 'body.cardDetails'],
      [{ ...base, paystackEmail: 'a@example.test' }, 'body.paystackEmail'],
      [{ ...base, couponCode: '' }, 'body.couponCode'],
      [{ ...base, cardDetails: { ...testCard(), pin: '1234' } }, 'body.cardDetails'],
    ];
    for (const [body, fieldName] of cases) {
      const res = await initiate(student, body);
      expect(res.status, JSON.stringify(body)).toBe(400);
      expect(res.body.status).toBe('error');
      expect(res.body.error.details.map((d: { field: string }) => d.field)).toContain(fieldName);
    }
    const notJson = await t.request({
      method: 'POST',
      url: '/api/payments/initiate',
      token: student.token,
      payload: '{"userId":',
      headers: { 'content-type': 'application/json' },
    });
    expect(notJson.status).toBe(400);
    expect((await initiate(undefined, base)).status).toBe(401);
    const badKey = await initiate(student, base, { 'idempotency-key': 'ü'.repeat(3) });
    expect(badKey.status).toBe(400);
    expect(await countsOf(student.userId)).toEqual({ orders: 0, payments: 0 });
  });

  it('pays from the wallet, or answers 402 and fails the order when the balance is short', async () => {
    const student = await verifiedStudent(t);
    const course = await paidCourse(t);
    await fundWallet(t, student.userId, 700000, 'NGN');
    await fundWallet(t, student.userId, 900000, 'USD');
    const wallet = (body: Record<string, unknown> = {}) =>
      initiate(student, {
        userId: student.userId,
        courseId: course.id,
        amount: 5000,
        method: 'wallet',
        ...body,
      });

    const res = await wallet();
    expect(res.status).toBe(201);
    expect(res.body.data).toMatchObject({
      status: 'success',
      method: 'wallet',
      message: 'Paid from wallet successfully',
      amount: 5000,
      currency: 'NGN',
    });
    expect(res.body.data.card).toBeUndefined();
    expect(await getWalletBalances(t.app.platform.db, student.userId)).toEqual([
      { currency: 'NGN', balanceMinor: 200000 },
      { currency: 'USD', balanceMinor: 900000 },
    ]);

    // 2,000 NGN left (plenty of USD, which does not count): 402, failed order, balance untouched.
    const second = await paidCourse(t);
    const short = await initiate(student, {
      userId: student.userId,
      courseId: second.id,
      amount: 5000,
      method: 'wallet',
    });
    expect(short.status).toBe(402);
    expect(short.body.error.message).toBe('Insufficient wallet balance');
    const failed = (await t.request({ method: 'GET', url: '/api/orders', token: student.token })).body.data
      .items[0];
    expect(failed).toMatchObject({ courseId: second.id, status: 'failed', method: 'wallet' });
    const detail = await order(student, failed.orderId);
    expect(detail.payments).toEqual([
      expect.objectContaining({
        method: 'wallet',
        status: 'failed',
        failureCode: 'insufficient_wallet_balance',
      }),
    ]);
    expect(await getWalletBalances(t.app.platform.db, student.userId)).toEqual([
      { currency: 'NGN', balanceMinor: 200000 },
      { currency: 'USD', balanceMinor: 900000 },
    ]);
    expect(await checkLedger(t.app.platform.db)).toEqual({ unbalancedTransactions: [], driftedAccounts: [] });
  });

  it('Idempotency-Key: the same key and body replays the first answer (one payment); another body is 422', async () => {
    const student = await verifiedStudent(t);
    const course = await paidCourse(t);
    const body = {
      userId: student.userId,
      courseId: course.id,
      amount: 5000,
      method: 'card',
      cardDetails: testCard(),
    };
    const first = await initiate(student, body, { 'idempotency-key': 'checkout-1' });
    expect(first.status).toBe(201);
    const replay = await initiate(student, body, { 'idempotency-key': 'checkout-1' });
    expect(replay.status).toBe(201);
    expect(replay.headers['idempotent-replayed']).toBe('true');
    expect(replay.body).toEqual(first.body);
    expect(await countsOf(student.userId)).toEqual({ orders: 1, payments: 1 });

    const other = await initiate(student, { ...body, amount: 4000 }, { 'idempotency-key': 'checkout-1' });
    expect(other.status).toBe(422);
    expect(await countsOf(student.userId)).toEqual({ orders: 1, payments: 1 });

    // A declined answer (402) is replayed too: the card is not charged twice.
    const declinedCourse = await paidCourse(t);
    const declined = {
      ...body,
      courseId: declinedCourse.id,
      cardDetails: testCard('4000000000000002'),
    };
    const d1 = await initiate(student, declined, { 'idempotency-key': 'checkout-2' });
    const d2 = await initiate(student, declined, { 'idempotency-key': 'checkout-2' });
    expect([d1.status, d2.status]).toEqual([402, 402]);
    expect(d2.headers['idempotent-replayed']).toBe('true');
    expect(await countsOf(student.userId)).toEqual({ orders: 2, payments: 2 });
  });

  it('status: the payer and admins see it; anyone else, unknown ids and no token do not', async () => {
    const student = await verifiedStudent(t);
    const stranger = await verifiedStudent(t);
    const instructor = await createUserWithRole(t, 'instructor');
    const paid = await payByCard(student, (await paidCourse(t)).id);
    const tx = paid.body.data.transactionId;

    const mine = await status(student, tx);
    expect(mine.status).toBe(200);
    expect(mine.body.data).toEqual({
      paymentId: paid.body.data.paymentId,
      transactionId: tx,
      orderId: paid.body.data.orderId,
      courseId: expect.any(Number),
      status: 'success',
      amount: 5000,
      currency: 'NGN',
      paymentDate: expect.stringMatching(/^\d{4}-\d{2}-\d{2}T/),
      method: 'card',
      card: { brand: 'visa', last4: '4242' },
      failureMessage: null,
    });
    expect((await status(admin, tx)).body.data.transactionId).toBe(tx);
    for (const u of [stranger, instructor]) {
      const res = await status(u, tx);
      expect(res.status).toBe(404);
      expect(res.body.error.message).toBe('Transaction not found');
    }
    const unknown = await status(student, 'tx_aaaaaaaaaaaaaaaaaaaaaaaa');
    expect(unknown.status).toBe(404);
    expect(unknown.body.error.message).toBe('Transaction not found');
    expect((await status(student, 'bad%20id!')).status).toBe(400);
    expect((await status(undefined, tx)).status).toBe(401);

    const failed = await payByCard(student, (await paidCourse(t)).id, '4000000000000002');
    expect(failed.status).toBe(402);
    const [row] = await sql(
      `select transaction_id from commerce.payments where user_id = $1 and status = 'failed'`,
      [student.userId],
    );
    const failedStatus = await status(student, row!.transaction_id);
    expect(failedStatus.body.data).toMatchObject({ status: 'failed', failureMessage: 'Payment declined' });
  });
});
