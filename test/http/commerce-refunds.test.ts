import { createServer, type IncomingMessage, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { checkLedger, getWalletBalances } from '../../src/modules/commerce/commerce.ledger.ts';
import { insertOrRearmRefund } from '../../src/modules/commerce/commerce.refunds.repository.ts';
import { PROCESS_REFUND_JOB } from '../../src/modules/commerce/commerce.refunds.service.ts';
import { createTestApp, type TestApp, waitFor } from '../helpers/app.ts';
import { fundWallet, paidCourse, payByCard, testCard, verifiedStudent } from '../factories/commerce.ts';
import { createUserWithRole } from '../factories/users.ts';

type User = { userId: number; token: string };

/** Shared steps of the refund tests, bound to one test app. */
function helpers(t: () => TestApp) {
  const sql = async (text: string, values: unknown[] = []) =>
    (await t().app.platform.database.executor.executeSql(text, values)).rows;
  const refund = (user: User | undefined, orderId: number | string, body: unknown, headers = {}) =>
    t().request({
      method: 'POST',
      url: `/api/orders/${orderId}/refund`,
      token: user?.token,
      payload: body as Record<string, unknown>,
      headers,
    });
  const getRefund = (user: User | undefined, orderId: number | string) =>
    t().request({ method: 'GET', url: `/api/orders/${orderId}/refund`, token: user?.token });
  const order = async (user: User, orderId: number) =>
    (await t().request({ method: 'GET', url: `/api/orders/${orderId}`, token: user.token })).body.data;
  const enrollmentStatus = async (userId: number, courseId: number) =>
    (
      await sql('select status from enrollment.enrollments where user_id = $1 and course_id = $2', [
        userId,
        courseId,
      ])
    )[0]?.status as string | undefined;
  const ledgerOf = (reference: string) =>
    sql(
      `select a.kind, a.user_id, e.amount_minor::int as amount from commerce.ledger_entries e
         join commerce.ledger_accounts a on a.id = e.account_id
         join commerce.ledger_transactions x on x.id = e.transaction_id
        where x.reference = $1 order by e.amount_minor`,
      [reference],
    );
  /** A verified student who bought a 5,000 NGN course (card by default) and was enrolled. */
  async function purchase(method: 'card' | 'wallet' = 'card') {
    const student = await verifiedStudent(t());
    const course = await paidCourse(t());
    if (method === 'wallet') await fundWallet(t(), student.userId, 500000);
    const res = await t().request({
      method: 'POST',
      url: '/api/payments/initiate',
      token: student.token,
      payload: {
        userId: student.userId,
        courseId: course.id,
        amount: 5000,
        method,
        ...(method === 'card' ? { cardDetails: testCard() } : {}),
      },
    });
    expect(res.status).toBe(201);
    await waitFor(async () => (await enrollmentStatus(student.userId, course.id)) === 'in_progress');
    return {
      student,
      course,
      orderId: res.body.data.orderId as number,
      paymentId: res.body.data.paymentId as number,
      transactionId: res.body.data.transactionId as string,
    };
  }
  return { sql, refund, getRefund, order, enrollmentStatus, ledgerOf, purchase };
}

describe('refunds: POST and GET /api/orders/{id}/refund', () => {
  let t: TestApp;
  let admin: User;
  const h = helpers(() => t);
  const { sql, refund, getRefund, order, enrollmentStatus, ledgerOf, purchase } = h;

  beforeAll(async () => {
    t = await createTestApp({
      AUTH_RATE_LIMIT_MAX: '1000',
      RATE_LIMIT_MAX: '10000',
      REFUND_WINDOW_DAYS: '14',
    });
    admin = await createUserWithRole(t, 'admin');
  });
  afterAll(() => t.close());

  it('the buyer refunds a card order: order and payment refunded, ledger balanced, access revoked', async () => {
    const p = await purchase('card');
    const content = () =>
      t.request({ method: 'GET', url: `/api/courses/${p.course.id}/content`, token: p.student.token });
    expect((await content()).status).toBe(200);

    const res = await refund(p.student, p.orderId, { reason: 'Bought the wrong course' });
    expect(res.status).toBe(200);
    expect(res.body).toMatchObject({ status: 'success', timestamp: expect.any(String) });
    expect(res.body.data).toMatchObject({
      orderId: p.orderId,
      paymentId: p.paymentId,
      transactionId: p.transactionId,
      status: 'succeeded',
      amount: 5000,
      currency: 'NGN',
      method: 'card',
      reason: 'Bought the wrong course',
      requestedBy: p.student.userId,
      attempts: 1,
      failureMessage: null,
      completedAt: expect.any(String),
    });
    expect(res.body.data.gatewayReference).toMatch(/^re_/);

    const after = await order(p.student, p.orderId);
    expect(after).toMatchObject({ status: 'refunded', refundedAt: expect.any(String) });
    expect(after.payments).toEqual([expect.objectContaining({ paymentId: p.paymentId, status: 'refunded' })]);
    expect(after.history.map((e: { to: string }) => e.to)).toEqual(['pending', 'paid', 'refunded']);
    expect(after.history.at(-1).reason).toContain('Bought the wrong course');
    const status = await t.request({
      method: 'GET',
      url: `/api/payments/status/${p.transactionId}`,
      token: p.student.token,
    });
    expect(status.body.data.status).toBe('refunded');

    // Contra-revenue: the refunds account carries what went back out through the gateway.
    expect(await ledgerOf(`refund:${res.body.data.refundId}`)).toEqual([
      { kind: 'refunds', user_id: null, amount: -500000 },
      { kind: 'gateway_clearing', user_id: null, amount: 500000 },
    ]);
    expect(await checkLedger(t.app.platform.db)).toEqual({ unbalancedTransactions: [], driftedAccounts: [] });

    // commerce.order.refunded reached the enrollment module, which revoked the access.
    await waitFor(async () => (await enrollmentStatus(p.student.userId, p.course.id)) === 'revoked');
    expect((await content()).status).toBe(403);

    const shown = await getRefund(p.student, p.orderId);
    expect(shown.status).toBe(200);
    expect(shown.body.data).toEqual(res.body.data);
    expect((await getRefund(admin, p.orderId)).body.data.refundId).toBe(res.body.data.refundId);

    const [audit] = await sql(
      "select actor_id, subject_id, detail from identity.audit_log where action = 'commerce.refund.requested' and subject_id = $1",
      [p.student.userId],
    );
    expect(audit).toMatchObject({ actor_id: p.student.userId, subject_id: p.student.userId });
    expect(JSON.parse(audit!.detail as string)).toMatchObject({ orderId: p.orderId, amountMinor: 500000 });
  });

  it('an admin refunds a wallet order: the money goes back into the wallet', async () => {
    const p = await purchase('wallet');
    expect(await getWalletBalances(t.app.platform.db, p.student.userId)).toEqual([
      { currency: 'NGN', balanceMinor: 0 },
    ]);
    const res = await refund(admin, p.orderId, { reason: 'Course withdrawn by the instructor' });
    expect(res.status).toBe(200);
    expect(res.body.data).toMatchObject({
      status: 'succeeded',
      method: 'wallet',
      requestedBy: admin.userId,
      gatewayReference: null,
    });
    const wallet = await t.request({ method: 'GET', url: '/api/wallet', token: p.student.token });
    expect(wallet.body.data.balances).toEqual([expect.objectContaining({ currency: 'NGN', balance: 5000 })]);
    expect(await ledgerOf(`refund:${res.body.data.refundId}`)).toEqual([
      { kind: 'refunds', user_id: null, amount: -500000 },
      { kind: 'user_wallet', user_id: p.student.userId, amount: 500000 },
    ]);
    expect(await checkLedger(t.app.platform.db)).toEqual({ unbalancedTransactions: [], driftedAccounts: [] });
    await waitFor(async () => (await enrollmentStatus(p.student.userId, p.course.id)) === 'revoked');
  });

  it('the buyer is refused after the refund window (403 with the reason); an admin still may', async () => {
    const p = await purchase('card');
    await sql("update commerce.orders set paid_at = now() - interval '15 days' where id = $1", [p.orderId]);
    const late = await refund(p.student, p.orderId, { reason: 'Changed my mind' });
    expect(late.status).toBe(403);
    expect(late.body).toMatchObject({ status: 'error', data: null, error: { errorCode: 403 } });
    expect(late.body.error.message).toMatch(/within 14 days of payment/);
    expect(await sql('select id from commerce.refunds where order_id = $1', [p.orderId])).toEqual([]);
    expect((await order(p.student, p.orderId)).status).toBe('paid');

    const byAdmin = await refund(admin, p.orderId, { reason: 'Goodwill refund' });
    expect(byAdmin.status).toBe(200);
  });

  it('another student gets 404 for the order and its refund; no token is 401', async () => {
    const p = await purchase('card');
    const other = await verifiedStudent(t);
    const res = await refund(other, p.orderId, { reason: 'Not my order' });
    expect(res.status).toBe(404);
    expect(res.body.error).toMatchObject({ errorCode: 404, message: 'Order not found' });
    expect((await getRefund(other, p.orderId)).status).toBe(404);
    expect((await refund(undefined, p.orderId, { reason: 'Anonymous' })).status).toBe(401);
    expect((await getRefund(undefined, p.orderId)).status).toBe(401);
    expect((await refund(admin, 999999, { reason: 'No such order' })).status).toBe(404);
    expect((await order(p.student, p.orderId)).status).toBe('paid');
    expect((await getRefund(p.student, p.orderId)).body.error.message).toBe('This order has no refund');
  });

  it('only paid orders: a second refund and a failed order are 409, and nothing changes', async () => {
    const p = await purchase('card');
    expect((await refund(p.student, p.orderId, { reason: 'First request' })).status).toBe(200);
    const again = await refund(admin, p.orderId, { reason: 'Second request' });
    expect(again.status).toBe(409);
    expect(again.body.error.message).toBe('This order has already been refunded');
    expect(await sql('select reason from commerce.refunds where order_id = $1', [p.orderId])).toEqual([
      { reason: 'First request' },
    ]);

    const student = await verifiedStudent(t);
    const course = await paidCourse(t);
    const declined = await payByCard(t, student, course.id, '4000000000000002');
    expect(declined.status).toBe(402);
    const [failed] = await sql('select id from commerce.orders where user_id = $1', [student.userId]);
    const res = await refund(student, failed!.id as number, { reason: 'Nothing was paid' });
    expect(res.status).toBe(409);
    expect(res.body.error.message).toBe('Only paid orders can be refunded; this order is failed');
  });

  it('ten concurrent refunds of one order: one refund, nine 409s, money returned once', async () => {
    const p = await purchase('wallet');
    const results = await Promise.all(
      Array.from({ length: 10 }, (_, i) =>
        refund(i % 2 ? admin : p.student, p.orderId, { reason: `Race ${i}` }),
      ),
    );
    const statuses = results.map((r) => r.status).sort();
    expect(statuses).toEqual([200, 409, 409, 409, 409, 409, 409, 409, 409, 409]);
    expect(await sql('select status from commerce.refunds where order_id = $1', [p.orderId])).toEqual([
      { status: 'succeeded' },
    ]);
    expect(await getWalletBalances(t.app.platform.db, p.student.userId)).toEqual([
      { currency: 'NGN', balanceMinor: 500000 },
    ]);
    expect(
      await sql(
        "select count(*)::int as n from commerce.ledger_transactions where reference like 'refund:%' and description like $1",
        [`Refund of order ${p.orderId} %`],
      ),
    ).toEqual([{ n: 1 }]);
    expect(await checkLedger(t.app.platform.db)).toEqual({ unbalancedTransactions: [], driftedAccounts: [] });
  });

  it('Idempotency-Key: the same key and body replays the answer; another body is 422', async () => {
    const p = await purchase('card');
    const key = { 'idempotency-key': `refund-${p.orderId}` };
    const first = await refund(p.student, p.orderId, { reason: 'Duplicate purchase' }, key);
    expect(first.status).toBe(200);
    const replay = await refund(p.student, p.orderId, { reason: 'Duplicate purchase' }, key);
    expect(replay.status).toBe(200);
    expect(replay.headers['idempotent-replayed']).toBe('true');
    expect(replay.body.data).toEqual(first.body.data);
    const other = await refund(p.student, p.orderId, { reason: 'Another reason' }, key);
    expect(other.status).toBe(422);
    expect(
      await sql('select count(*)::int as n from commerce.refunds where order_id = $1', [p.orderId]),
    ).toEqual([{ n: 1 }]);
  });

  it('a refund left pending by a crash before the gateway call is completed by its job', async () => {
    const p = await purchase('card');
    // What a request that died right after its first transaction leaves behind: the refund and its job,
    // here parked an hour ahead so that the pending state can be observed before the job is released.
    const { refundId, jobId } = await t.app.platform.db.transaction(async (tx) => {
      const row = await insertOrRearmRefund(tx, {
        orderId: p.orderId,
        paymentId: p.paymentId,
        amountMinor: 500000,
        currency: 'NGN',
        reason: 'Interrupted refund',
        requestedBy: admin.userId,
      });
      const startAfter = new Date(Date.now() + 3600_000);
      const job = await t.app.platform.jobs.send(
        PROCESS_REFUND_JOB,
        { refundId: row!.id },
        { tx, startAfter },
      );
      return { refundId: row!.id, jobId: job! };
    });
    expect((await getRefund(p.student, p.orderId)).body.data.status).toBe('pending');
    // A clash with the refund still running is not an outcome: the Idempotency-Key does not keep it.
    const impatient = { 'idempotency-key': `impatient-${p.orderId}` };
    const busy = await refund(admin, p.orderId, { reason: 'Impatient retry' }, impatient);
    expect(busy.status).toBe(409);
    expect(busy.body.error.message).toMatch(/already in progress/);
    expect(busy.headers['retry-after']).toBe('5');
    await sql('update pgboss.job set start_after = now() where id = $1', [jobId]);

    const done = await waitFor(async () => {
      const res = await getRefund(p.student, p.orderId);
      return res.body.data.status === 'succeeded' && res.body.data;
    });
    expect(done).toMatchObject({ refundId, attempts: 1, gatewayReference: expect.stringMatching(/^re_/) });
    expect((await order(p.student, p.orderId)).status).toBe('refunded');
    await waitFor(async () => (await enrollmentStatus(p.student.userId, p.course.id)) === 'revoked');
    expect(await ledgerOf(`refund:${refundId}`)).toHaveLength(2);
    const again = await refund(admin, p.orderId, { reason: 'Impatient retry' }, impatient);
    expect(again.status).toBe(409);
    expect(again.headers['idempotent-replayed']).toBeUndefined();
    expect(again.body.error.message).not.toMatch(/in progress/);
  });

  it('bad input on both routes is a 400 with per-field details and changes nothing', async () => {
    const p = await purchase('card');
    const cases: Array<[string | number, unknown, string]> = [
      ['abc', { reason: 'Valid reason' }, 'params.id'],
      [0, { reason: 'Valid reason' }, 'params.id'],
      [p.orderId, {}, 'body.reason'],
      [p.orderId, { reason: 'ab' }, 'body.reason'],
      [p.orderId, { reason: 'x'.repeat(501) }, 'body.reason'],
      [p.orderId, { reason: 42 }, 'body.reason'],
      [p.orderId, { reason: 'Valid reason', amount: 10 }, 'body'],
    ];
    for (const [id, body, field] of cases) {
      const res = await refund(p.student, id, body);
      expect(res.status, JSON.stringify(body)).toBe(400);
      expect(res.body).toMatchObject({ status: 'error', data: null, error: { errorCode: 400 } });
      expect(res.body.error.details.map((d: { field: string }) => d.field).join(' ')).toContain(field);
    }
    const badKey = await refund(p.student, p.orderId, { reason: 'Valid reason' }, { 'idempotency-key': 'é' });
    expect(badKey.status).toBe(400);
    for (const id of ['abc', '-1', '1.5']) {
      const res = await getRefund(p.student, id);
      expect(res.status).toBe(400);
      expect(res.body.error.details[0].field).toBe('params.id');
    }
    expect((await order(p.student, p.orderId)).status).toBe('paid');
    expect(await sql('select id from commerce.refunds where order_id = $1', [p.orderId])).toEqual([]);
  });

  it('a student cannot refund at all when the window is 0 days', async () => {
    const t0 = await createTestApp({ REFUND_WINDOW_DAYS: '0' });
    try {
      const student = await verifiedStudent(t0);
      const course = await paidCourse(t0);
      const paid = await payByCard(t0, student, course.id);
      const res = await t0.request({
        method: 'POST',
        url: `/api/orders/${paid.body.data.orderId}/refund`,
        token: student.token,
        payload: { reason: 'Please refund' },
      });
      expect(res.status).toBe(403);
      expect(res.body.error.message).toMatch(/support/);
    } finally {
      await t0.close();
    }
  });
});

/**
 * Paystack refunds over real HTTP: the adapter talks to the built-in simulator through a loopback
 * proxy the test can take down, as a Paystack outage would.
 */
describe('refunds of Paystack orders, with Paystack down and back', () => {
  let t: TestApp;
  let proxy: Server;
  let upstream = '';
  let down = false;
  const h = helpers(() => t);

  const bodyOf = async (req: IncomingMessage) => {
    const chunks: Buffer[] = [];
    for await (const chunk of req) chunks.push(chunk as Buffer);
    return Buffer.concat(chunks);
  };

  beforeAll(async () => {
    proxy = createServer((req, res) => {
      void (async () => {
        const body = await bodyOf(req);
        if (down) {
          res.writeHead(503, { 'content-type': 'application/json' });
          res.end(JSON.stringify({ status: false, message: 'Service unavailable' }));
          return;
        }
        const answer = await fetch(`${upstream}${req.url}`, {
          method: req.method,
          headers: {
            authorization: req.headers.authorization ?? '',
            'content-type': req.headers['content-type'] ?? 'application/json',
          },
          ...(body.length ? { body } : {}),
        });
        res.writeHead(answer.status, { 'content-type': answer.headers.get('content-type') ?? 'text/plain' });
        res.end(Buffer.from(await answer.arrayBuffer()));
      })();
    });
    await new Promise<void>((r) => proxy.listen(0, '127.0.0.1', r));
    const { port } = proxy.address() as AddressInfo;
    t = await createTestApp({ PAYSTACK_BASE_URL: `http://127.0.0.1:${port}/sim/paystack` });
    await t.app.listen({ port: 0, host: '127.0.0.1' });
    upstream = `http://127.0.0.1:${(t.app.server.address() as AddressInfo).port}`;
  });
  afterAll(async () => {
    await t?.close();
    await new Promise((r) => proxy.close(r));
  });

  it('gateway down: 202 pending with the reason; the job completes it once Paystack is back', async () => {
    const student = await verifiedStudent(t);
    const course = await paidCourse(t);
    const started = await t.request({
      method: 'POST',
      url: '/api/payments/initiate',
      token: student.token,
      payload: { userId: student.userId, courseId: course.id, amount: 5000, method: 'paystack' },
    });
    expect(started.status).toBe(201);
    const { orderId, transactionId, authorizationUrl } = started.body.data;
    const page = await t.request({ method: 'GET', url: new URL(authorizationUrl).pathname });
    const pay = (page.body as string).match(/action="([^"]+\/pay)"/)![1]!;
    await t.request({
      method: 'POST',
      url: pay,
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
      payload: '',
    });
    await waitFor(async () => (await h.order(student, orderId)).status === 'paid');
    await waitFor(async () => (await h.enrollmentStatus(student.userId, course.id)) === 'in_progress');

    down = true;
    const res = await h.refund(student, orderId, { reason: 'Paystack outage test' });
    expect(res.status).toBe(202);
    expect(res.body).toMatchObject({ status: 'success' });
    expect(res.body.data).toMatchObject({
      status: 'pending',
      method: 'paystack',
      attempts: 1,
      completedAt: null,
      gatewayReference: null,
    });
    expect(res.body.data.failureMessage).toMatch(/gateway/i);
    expect((await h.order(student, orderId)).status).toBe('paid');
    expect((await h.refund(student, orderId, { reason: 'Again' })).status).toBe(409);

    down = false;
    const done = await waitFor(
      async () => {
        const r = await h.getRefund(student, orderId);
        return r.body.data.status === 'succeeded' && r.body.data;
      },
      30_000,
      250,
    );
    expect(done.attempts).toBeGreaterThanOrEqual(2);
    expect(done.failureMessage).toBeNull();
    expect(done.gatewayReference).toMatch(/^\d+$/);
    expect((await h.order(student, orderId)).status).toBe('refunded');
    const charge = await t.app.modules.commerce.paystack.verify(transactionId);
    expect(charge.status).toBe('reversed');
    await waitFor(async () => (await h.enrollmentStatus(student.userId, course.id)) === 'revoked');
    expect(await checkLedger(t.app.platform.db)).toEqual({ unbalancedTransactions: [], driftedAccounts: [] });
  }, 60_000);
});
