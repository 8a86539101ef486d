import { randomBytes, randomInt } from 'node:crypto';
import type { FastifyError, FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { z } from 'zod';
import { safeEqual } from '../../platform/crypto.ts';
import type { Logger } from '../../platform/logger.ts';
import { toMajor } from './commerce.money.ts';
import { PAYSTACK_CURRENCIES, paystackSignature } from './commerce.paystack.client.ts';

type SimStatus = 'abandoned' | 'success' | 'failed' | 'reversed';

interface SimTransaction {
  id: number;
  reference: string;
  accessCode: string;
  amount: number;
  currency: string;
  email: string;
  callbackUrl: string | null;
  metadata: unknown;
  status: SimStatus;
  gatewayResponse: string | null;
  createdAt: Date;
  paidAt: Date | null;
  refunded: number;
}

export interface PaystackSimulatorOptions {
  secretKey: string | null;
  /** Where this server itself can be reached; the webhook goes to its /api endpoint. */
  ownUrl: () => string;
  /** The browser-facing base URL of this server, for the hosted checkout link. */
  publicUrl: string;
  logger: Logger;
  /** Oldest transactions are forgotten beyond this many (it is a development tool). */
  maxTransactions?: number;
}

const WEBHOOK_PATH = '/api/payments/webhooks/paystack';

const amountField = z.union([
  z.number().int().positive(),
  z
    .string()
    .regex(/^\d{1,15}$/)
    .transform(Number),
]);

const initializeBody = z.object({
  email: z.email(),
  amount: amountField.refine((n) => n > 0 && Number.isSafeInteger(n)),
  currency: z.enum(PAYSTACK_CURRENCIES).default('NGN'),
  reference: z
    .string()
    .regex(/^[A-Za-z0-9.=_-]{1,100}$/)
    .optional(),
  callback_url: z.url({ protocol: /^https?$/ }).optional(),
  metadata: z.union([z.record(z.string(), z.unknown()), z.string().max(5000)]).optional(),
});

const refundBody = z.object({
  transaction: z.union([z.string().min(1).max(100), z.number().int()]),
  amount: amountField.optional(),
});

/** Paystack's wording for a bad field (its API answers one message, not a list). */
const FIELD_MESSAGES: Record<string, string> = {
  email: 'Invalid Email Address Passed',
  amount: 'Invalid Amount Sent',
  currency: 'Currency not supported by merchant',
  reference: 'Invalid transaction reference',
  callback_url: 'Invalid callback_url',
  metadata: 'Invalid metadata',
  transaction: 'Transaction reference or id is required',
};

const ESCAPES: Record<string, string> = {
  '&': '&amp;',
  '<': '&lt;',
  '>': '&gt;',
  '"': '&quot;',
  "'": '&#39;',
};
const esc = (value: string) => value.replace(/[&<>"']/g, (c) => ESCAPES[c]!);

const STYLE =
  'body{font-family:system-ui,sans-serif;background:#f3f5f7;margin:0;padding:2rem;color:#1b1f23}' +
  'main{max-width:26rem;margin:0 auto;background:#fff;border-radius:8px;padding:1.5rem 2rem;box-shadow:0 1px 4px #0002}' +
  '.badge{font-size:.75rem;text-transform:uppercase;letter-spacing:.05em;color:#8a6d00}' +
  'dl{display:grid;grid-template-columns:auto 1fr;gap:.25rem 1rem}dt{color:#5b6470}dd{margin:0;word-break:break-all}' +
  'button{width:100%;padding:.75rem;margin-top:.75rem;border:0;border-radius:6px;font-size:1rem;cursor:pointer}' +
  '.pay{background:#0ba4db;color:#fff}.decline{background:#e9ecef;color:#1b1f23}';

function page(title: string, body: string): string {
  return (
    `<!doctype html><html lang="en"><head><meta charset="utf-8">` +
    `<meta name="viewport" content="width=device-width, initial-scale=1"><title>${esc(title)}</title>` +
    `<style>${STYLE}</style></head><body><main>` +
    `<p class="badge">Paystack simulator &middot; test mode &middot; no real money</p>${body}</main></body></html>`
  );
}

const formatAmount = (tx: SimTransaction) =>
  `${tx.currency} ${toMajor(tx.amount, tx.currency).toLocaleString('en-US', { minimumFractionDigits: 2 })}`;

/**
 * A Paystack-compatible simulator for development and tests, mounted under /sim/paystack outside
 * production: initialize, verify and refund with Paystack's request and answer shapes and its
 * Bearer secret-key check, plus a hosted checkout page with Pay and Decline buttons. Completing a
 * checkout sends a signed `charge.success` (or `charge.failed`) webhook to this server once, then
 * redirects to the callback URL; a lost delivery is what the reconciliation job is for.
 * Transactions live in this process's memory only: restart it and they are gone, and with several
 * API processes the simulator must be reached on the one that holds them (use one in development).
 */
export function createPaystackSimulator(options: PaystackSimulatorOptions) {
  const { logger } = options;
  const maxTransactions = options.maxTransactions ?? 10_000;
  const byReference = new Map<string, SimTransaction>();
  const byAccessCode = new Map<string, SimTransaction>();
  const byId = new Map<number, SimTransaction>();
  let nextId = 3_000_000_000 + randomInt(1_000_000);
  let nextRefundId = 9_000_000 + randomInt(1_000_000);

  function remember(tx: SimTransaction) {
    byReference.set(tx.reference, tx);
    byAccessCode.set(tx.accessCode, tx);
    byId.set(tx.id, tx);
    if (byReference.size > maxTransactions) {
      const oldest = byReference.values().next().value!;
      byReference.delete(oldest.reference);
      byAccessCode.delete(oldest.accessCode);
      byId.delete(oldest.id);
    }
  }

  /** The transaction as Paystack's verify API and webhooks show it. */
  function transactionData(tx: SimTransaction) {
    const charged = tx.status === 'success' || tx.status === 'reversed';
    return {
      id: tx.id,
      domain: 'test',
      status: tx.status,
      reference: tx.reference,
      amount: tx.amount,
      message: null,
      gateway_response: tx.gatewayResponse,
      paid_at: tx.paidAt?.toISOString() ?? null,
      created_at: tx.createdAt.toISOString(),
      channel: 'card',
      currency: tx.currency,
      ip_address: null,
      metadata: tx.metadata ?? '',
      fees: 0,
      customer: { email: tx.email },
      authorization: charged
        ? { bin: '408408', last4: '4081', channel: 'card', card_type: 'visa', brand: 'visa', reusable: false }
        : {},
    };
  }

  const refuse = (reply: FastifyReply, status: number, message: string) =>
    reply.code(status).send({ status: false, message });

  function authorized(request: FastifyRequest): boolean {
    const header = request.headers.authorization ?? '';
    const key = header.startsWith('Bearer ') ? header.slice(7) : '';
    return options.secretKey !== null && safeEqual(key, options.secretKey);
  }

  function badField(error: z.ZodError): string {
    const field = String(error.issues[0]?.path[0] ?? '');
    return FIELD_MESSAGES[field] ?? 'Invalid request';
  }

  /** Posts the signed event to this server's webhook endpoint, once. */
  async function deliver(event: 'charge.success' | 'charge.failed', tx: SimTransaction) {
    const body = JSON.stringify({ event, data: transactionData(tx) });
    const url = `${options.ownUrl()}${WEBHOOK_PATH}`;
    try {
      const res = await fetch(url, {
        method: 'POST',
        headers: {
          'content-type': 'application/json',
          'x-paystack-signature': paystackSignature(body, options.secretKey!),
        },
        body,
        signal: AbortSignal.timeout(5000),
      });
      await res.arrayBuffer();
      if (!res.ok)
        logger.warn({ event, reference: tx.reference, status: res.status }, 'simulated webhook refused');
    } catch (err) {
      const { name, message } = err as Error;
      logger.warn(
        { event, reference: tx.reference, err: { name, message } },
        'simulated webhook not delivered',
      );
    }
  }

  function callbackTarget(tx: SimTransaction): string | null {
    if (!tx.callbackUrl) return null;
    const url = new URL(tx.callbackUrl);
    url.searchParams.set('trxref', tx.reference);
    url.searchParams.set('reference', tx.reference);
    return url.toString();
  }

  function html(reply: FastifyReply, status: number, tx: SimTransaction | null, title: string, body: string) {
    // Helmet's default form-action 'self' would stop the redirect to the merchant's callback.
    const callbackOrigin = tx?.callbackUrl ? ` ${new URL(tx.callbackUrl).origin}` : '';
    return reply
      .code(status)
      .header(
        'content-security-policy',
        `default-src 'none'; style-src 'unsafe-inline'; form-action 'self'${callbackOrigin}; base-uri 'none'; frame-ancestors 'none'`,
      )
      .header('cache-control', 'no-store')
      .type('text/html; charset=utf-8')
      .send(page(title, body));
  }

  const finished = (tx: SimTransaction) =>
    `<h1>Payment ${tx.status === 'success' || tx.status === 'reversed' ? 'successful' : 'declined'}</h1>` +
    `<p>${esc(formatAmount(tx))} &middot; reference <code>${esc(tx.reference)}</code></p>` +
    `<p>You can close this page.</p>`;

  return async function simulatorRoutes(app: FastifyInstance) {
    const prefix = app.prefix;
    // Paystack's error shape for everything that fails here, never Lectern's envelope.
    app.setErrorHandler((error: FastifyError, _request, reply) => {
      const status = error.statusCode && error.statusCode >= 400 ? error.statusCode : 500;
      return refuse(reply, status, status >= 500 ? 'An error occurred' : error.message);
    });
    app.addContentTypeParser('application/x-www-form-urlencoded', { parseAs: 'string' }, (_req, body, done) =>
      done(null, Object.fromEntries(new URLSearchParams(body as string))),
    );
    const hidden = { schema: { hide: true } };

    app.post('/transaction/initialize', hidden, async (request, reply) => {
      if (!authorized(request)) return refuse(reply, 401, 'Invalid key');
      const parsed = initializeBody.safeParse(request.body ?? {});
      if (!parsed.success) return refuse(reply, 400, badField(parsed.error));
      const input = parsed.data;
      const reference = input.reference ?? randomBytes(8).toString('hex');
      if (byReference.has(reference)) return refuse(reply, 400, 'Duplicate Transaction Reference');
      const tx: SimTransaction = {
        id: nextId++,
        reference,
        accessCode: randomBytes(12).toString('base64url'),
        amount: input.amount,
        currency: input.currency,
        email: input.email,
        callbackUrl: input.callback_url ?? null,
        metadata: input.metadata ?? null,
        status: 'abandoned',
        gatewayResponse: null,
        createdAt: new Date(),
        paidAt: null,
        refunded: 0,
      };
      remember(tx);
      return {
        status: true,
        message: 'Authorization URL created',
        data: {
          authorization_url: `${options.publicUrl}${prefix}/checkout/${tx.accessCode}`,
          access_code: tx.accessCode,
          reference,
        },
      };
    });

    app.get<{ Params: { reference: string } }>(
      '/transaction/verify/:reference',
      hidden,
      async (request, reply) => {
        if (!authorized(request)) return refuse(reply, 401, 'Invalid key');
        const tx = byReference.get(request.params.reference);
        if (!tx) return refuse(reply, 400, 'Transaction reference not found');
        return { status: true, message: 'Verification successful', data: transactionData(tx) };
      },
    );

    app.post('/refund', hidden, async (request, reply) => {
      if (!authorized(request)) return refuse(reply, 401, 'Invalid key');
      const parsed = refundBody.safeParse(request.body ?? {});
      if (!parsed.success) return refuse(reply, 400, badField(parsed.error));
      const ref = parsed.data.transaction;
      const tx = typeof ref === 'number' ? byId.get(ref) : (byReference.get(ref) ?? byId.get(Number(ref)));
      if (!tx) return refuse(reply, 404, 'Transaction not found');
      if (tx.status === 'reversed') return refuse(reply, 400, 'Transaction has been fully reversed');
      if (tx.status !== 'success')
        return refuse(reply, 400, 'Cannot refund a transaction that was not successful');
      const amount = parsed.data.amount ?? tx.amount - tx.refunded;
      if (amount > tx.amount - tx.refunded) {
        return refuse(reply, 400, 'Refund amount cannot be more than the unrefunded transaction amount');
      }
      tx.refunded += amount;
      if (tx.refunded === tx.amount) tx.status = 'reversed';
      return {
        status: true,
        message: 'Refund has been queued for processing',
        data: {
          transaction: { id: tx.id, reference: tx.reference, amount: tx.amount, currency: tx.currency },
          id: nextRefundId++,
          amount,
          currency: tx.currency,
          status: 'pending',
          deducted_amount: 0,
          fully_deducted: false,
          createdAt: new Date().toISOString(),
        },
      };
    });

    app.get<{ Params: { accessCode: string } }>('/checkout/:accessCode', hidden, async (request, reply) => {
      const tx = byAccessCode.get(request.params.accessCode);
      if (!tx) return html(reply, 404, null, 'Not found', '<h1>Transaction not found</h1>');
      if (tx.status !== 'abandoned') return html(reply, 200, tx, 'Payment complete', finished(tx));
      const action = (what: string) => `${esc(prefix)}/checkout/${esc(tx.accessCode)}/${what}`;
      return html(
        reply,
        200,
        tx,
        'Pay with Paystack (simulator)',
        `<h1>Pay ${esc(formatAmount(tx))}</h1><dl><dt>Email</dt><dd>${esc(tx.email)}</dd>` +
          `<dt>Reference</dt><dd><code>${esc(tx.reference)}</code></dd></dl>` +
          `<form method="post" action="${action('pay')}"><button class="pay" type="submit">Pay ${esc(formatAmount(tx))}</button></form>` +
          `<form method="post" action="${action('decline')}"><button class="decline" type="submit">Decline</button></form>`,
      );
    });

    const complete = (outcome: 'success' | 'failed') =>
      async function (request: FastifyRequest<{ Params: { accessCode: string } }>, reply: FastifyReply) {
        const tx = byAccessCode.get(request.params.accessCode);
        if (!tx) return html(reply, 404, null, 'Not found', '<h1>Transaction not found</h1>');
        // Only the first click counts; later ones just send the payer back again.
        if (tx.status === 'abandoned') {
          tx.status = outcome;
          tx.gatewayResponse = outcome === 'success' ? 'Successful' : 'Declined';
          tx.paidAt = outcome === 'success' ? new Date() : null;
          await deliver(outcome === 'success' ? 'charge.success' : 'charge.failed', tx);
        }
        const target = callbackTarget(tx);
        if (target) return reply.header('cache-control', 'no-store').redirect(target, 303);
        return html(reply, 200, tx, 'Payment complete', finished(tx));
      };
    app.post('/checkout/:accessCode/pay', hidden, complete('success'));
    app.post('/checkout/:accessCode/decline', hidden, complete('failed'));
  };
}
