import { and, eq, sql } from 'drizzle-orm';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { PAYMENT_SUCCEEDED, type PaymentSucceeded } from '../../src/modules/commerce/commerce.events.ts';
import { checkLedger } from '../../src/modules/commerce/commerce.ledger.ts';
import { paystackSignature } from '../../src/modules/commerce/commerce.paystack.client.ts';
import { ledgerTransactions, payments, webhookEvents } from '../../src/modules/commerce/commerce.tables.ts';
import { enrollments } from '../../src/modules/enrollment/enrollment.tables.ts';
import { SIMULATOR_SECRET_KEY } from '../../src/platform/config.ts';
import { createTestApp, type TestApp, waitFor } from '../helpers/app.ts';
import { insertCourse } from '../factories/courses.ts';
import { PASSWORD, uniqueEmail } from '../factories/users.ts';

const WEBHOOK = '/api/payments/webhooks/paystack';

/**
 * What keeps Paystack sales whole when webhooks misbehave: lost ones (reconciliation verifies
 * stale pending payments), duplicated ones (20 concurrent deliveries fulfil once; meaningful on
 * PostgreSQL), and checkouts nobody completes.
 */
describe('Paystack reconciliation and webhook deduplication', () => {
  let t: TestApp;
  let base: string;
  let dropWebhooks = false;
  const succeeded: PaymentSucceeded[] = [];

  beforeAll(async () => {
    t = await createTestApp(
      {},
      {
        setup: (app) => {
          // The network between Paystack and us: while set, every webhook delivery is lost.
          app.addHook('onRequest', async (request, reply) => {
            if (dropWebhooks && request.url === WEBHOOK) return reply.code(503).send();
          });
          app.platform.events.subscribe<PaymentSucceeded>({
            event: PAYMENT_SUCCEEDED,
            consumer: 'test.paystackReconcileSucceeded',
            handle: async (event) => {
              succeeded.push(event.payload);
            },
          });
        },
      },
    );
    base = await t.app.listen({ port: 0, host: '127.0.0.1' });
  });
  afterAll(() => t.close());

  const db = () => t.app.platform.db;
  const paystack = () => t.app.modules.commerce.paystack;
  const paymentRow = async (id: number) =>
    (await db().select().from(payments).where(eq(payments.id, id)))[0]!;
  const purchases = (paymentId: number) =>
    db()
      .select()
      .from(ledgerTransactions)
      .where(eq(ledgerTransactions.reference, `purchase:payment:${paymentId}`));
  /** Makes a payment look as if it had been started `seconds` ago. */
  const age = (paymentId: number, seconds: number) =>
    db()
      .update(payments)
      .set({ createdAt: sql`now() - make_interval(secs => ${seconds})` })
      .where(eq(payments.id, paymentId));

  async function startCheckout() {
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
    const { userId, token } = login.body.data as { userId: number; token: string };
    const course = await insertCourse(t, { priceMinor: 250_000, currency: 'NGN' });
    const res = await t.request({
      method: 'POST',
      url: '/api/payments/initiate',
      token,
      payload: { userId, courseId: course.id, amount: 2500, method: 'paystack' },
    });
    expect(res.status).toBe(201);
    const data = res.body.data as {
      paymentId: number;
      transactionId: string;
      orderId: number;
      authorizationUrl: string;
    };
    return { token, userId, courseId: course.id, ...data };
  }

  async function pay(authorizationUrl: string) {
    const page = await t.request({ method: 'GET', url: new URL(authorizationUrl).pathname });
    const action = (page.body as string).match(/action="([^"]+\/pay)"/)![1]!;
    const res = await t.request({
      method: 'POST',
      url: action,
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
      payload: '',
    });
    expect(res.status).toBe(303);
  }

  const orderStatus = async (token: string, orderId: number) =>
    (await t.request({ method: 'GET', url: `/api/orders/${orderId}`, token })).body.data.status;

  it('a lost webhook does not lose the sale: reconciliation verifies and fulfils it', async () => {
    const c = await startCheckout();
    dropWebhooks = true;
    try {
      await pay(c.authorizationUrl);
    } finally {
      dropWebhooks = false;
    }
    expect(await paystack().verify(c.transactionId)).toMatchObject({
      status: 'success',
      amountMinor: 250_000,
    });
    expect(await paymentRow(c.paymentId)).toMatchObject({ status: 'pending' });

    // Too recent: the webhook may still be on its way.
    const early = await paystack().reconcileNow();
    expect(early.checked).toBe(0);

    await age(c.paymentId, t.app.platform.config.commerce.reconcileAfterSeconds + 30);
    // (The every-minute schedule may get there first; either way it is fulfilled once.)
    expect((await paystack().reconcileNow()).errors).toBe(0);
    expect(await paymentRow(c.paymentId)).toMatchObject({ status: 'success' });
    expect(await orderStatus(c.token, c.orderId)).toBe('paid');
    expect(await purchases(c.paymentId)).toHaveLength(1);
    expect((await paystack().reconcileNow()).checked).toBe(0);
  });

  it('fails a checkout abandoned for an hour, and leaves a recent one pending', async () => {
    const old = await startCheckout();
    const recent = await startCheckout();
    await age(old.paymentId, 2 * 3600);
    await age(recent.paymentId, t.app.platform.config.commerce.reconcileAfterSeconds + 30);
    expect((await paystack().reconcileNow()).errors).toBe(0);
    expect(await paymentRow(old.paymentId)).toMatchObject({ status: 'failed', failureCode: 'abandoned' });
    expect(await orderStatus(old.token, old.orderId)).toBe('failed');
    expect(await paymentRow(recent.paymentId)).toMatchObject({ status: 'pending' });
    expect(await orderStatus(recent.token, recent.orderId)).toBe('pending');

    // The payer of the failed order pays after all: the money goes back at once.
    await pay(old.authorizationUrl);
    await waitFor(async () => (await paymentRow(old.paymentId)).status === 'refunded');
    expect(await paystack().verify(old.transactionId)).toMatchObject({ status: 'reversed' });
    expect(await purchases(old.paymentId)).toHaveLength(0);
  });

  it('the same webhook delivered 20 times at once fulfils the payment once', async () => {
    const c = await startCheckout();
    dropWebhooks = true;
    try {
      await pay(c.authorizationUrl);
    } finally {
      dropWebhooks = false;
    }
    // Old enough for reconciliation, which joins the race below.
    await age(c.paymentId, t.app.platform.config.commerce.reconcileAfterSeconds + 30);
    const charge = await paystack().verify(c.transactionId);
    const body = JSON.stringify({
      event: 'charge.success',
      data: {
        id: charge.id,
        status: 'success',
        reference: c.transactionId,
        amount: charge.amountMinor,
        currency: 'NGN',
      },
    });
    const send = (raw: string) =>
      fetch(`${base}${WEBHOOK}`, {
        method: 'POST',
        headers: {
          'content-type': 'application/json',
          'x-paystack-signature': paystackSignature(raw, SIMULATOR_SECRET_KEY),
        },
        body: raw,
      }).then(async (res) => ({
        status: res.status,
        body: (await res.json()) as { data: { outcome: string } },
      }));

    const answers = await Promise.all(Array.from({ length: 20 }, () => send(body)));
    expect(answers.map((a) => a.status)).toEqual(Array(20).fill(200));
    expect(answers.filter((a) => a.body.data.outcome === 'queued')).toHaveLength(1);
    expect(answers.filter((a) => a.body.data.outcome === 'duplicate')).toHaveLength(19);

    // Distinct deliveries about the same charge (other ids) race each other in the job queue.
    const variants = Array.from({ length: 5 }, (_, i) =>
      body.replace(`"id":${charge.id}`, `"id":${charge.id + i + 1}`),
    );
    await Promise.all([...variants.map(send), paystack().reconcileNow()]);

    await waitFor(async () => {
      const events = await db()
        .select()
        .from(webhookEvents)
        .where(eq(webhookEvents.reference, c.transactionId));
      return events.length === 6 && events.every((e) => e.processedAt);
    });
    await waitFor(async () => succeeded.some((e) => e.paymentId === c.paymentId));
    // Give any second fulfilment the time it would need to show up.
    await new Promise((r) => setTimeout(r, 1500));
    expect(await paymentRow(c.paymentId)).toMatchObject({ status: 'success' });
    expect(await orderStatus(c.token, c.orderId)).toBe('paid');
    expect(await purchases(c.paymentId)).toHaveLength(1);
    expect(succeeded.filter((e) => e.paymentId === c.paymentId)).toHaveLength(1);
    // …and one enrollment (the enrollment module reacts to the one event).
    const enrolled = () =>
      db()
        .select()
        .from(enrollments)
        .where(and(eq(enrollments.userId, c.userId), eq(enrollments.courseId, c.courseId)));
    await waitFor(async () => (await enrolled()).length > 0);
    expect(await enrolled()).toHaveLength(1);
    expect(await checkLedger(db())).toEqual({ unbalancedTransactions: [], driftedAccounts: [] });
  });
});

describe('Paystack in production configuration', () => {
  let t: TestApp;
  beforeAll(async () => {
    t = await createTestApp({
      NODE_ENV: 'production',
      JWT_SECRET: 'j'.repeat(40),
      SIGNING_SECRET: 's'.repeat(40),
      ENCRYPTION_KEY: 'e'.repeat(40),
      PUBLIC_URL: 'https://lectern.example',
      PAYSTACK_SECRET_KEY: 'sk_live_configured_in_production',
    });
  });
  afterAll(() => t.close());

  it('does not mount the simulator, and does not accept the simulator key', async () => {
    expect(t.app.platform.config.commerce.paystack).toMatchObject({
      simulator: false,
      baseUrl: 'https://api.paystack.co',
    });
    const auth = { authorization: `Bearer ${SIMULATOR_SECRET_KEY}` };
    for (const [method, url] of [
      ['POST', '/sim/paystack/transaction/initialize'],
      ['GET', '/sim/paystack/transaction/verify/tx_1'],
      ['GET', '/sim/paystack/checkout/abc'],
    ] as const) {
      const res = await t.request({
        method,
        url,
        headers: auth,
        ...(method === 'POST' ? { payload: {} } : {}),
      });
      expect(res.status).toBe(404);
      expect(res.body).toMatchObject({ status: 'error', error: { errorCode: 404 } });
    }
    const raw = JSON.stringify({ event: 'charge.success', data: { id: 1, reference: 'tx_1' } });
    const forged = await t.request({
      method: 'POST',
      url: WEBHOOK,
      headers: {
        'content-type': 'application/json',
        'x-paystack-signature': paystackSignature(raw, SIMULATOR_SECRET_KEY),
      },
      payload: raw,
    });
    expect(forged.status).toBe(401);
    const genuine = await t.request({
      method: 'POST',
      url: WEBHOOK,
      headers: {
        'content-type': 'application/json',
        'x-paystack-signature': paystackSignature(raw, 'sk_live_configured_in_production'),
      },
      payload: raw,
    });
    expect(genuine.body.data).toEqual({ received: true, outcome: 'ignored' });
  });
});
