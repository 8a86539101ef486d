import type { Server } from 'node:http';
import type { FastifyInstance } from 'fastify';
import type { RouteContext } from '../../platform/http/route-context.ts';
import type { Platform } from '../../platform/platform.ts';
import type { Fulfilment } from './commerce.fulfilment.ts';
import { createPaystackClient } from './commerce.paystack.client.ts';
import { createPaystackSettlement, RECONCILE_PAYSTACK_JOB } from './commerce.paystack.reconcile.ts';
import * as repo from './commerce.paystack.repository.ts';
import { createPaystackSimulator } from './commerce.paystack.simulator.ts';
import {
  PROCESS_PAYSTACK_EVENT_JOB,
  type PaystackEventJob,
  paystackWebhookRoutes,
} from './commerce.paystack.webhook.ts';

export { PAYSTACK_CURRENCIES, type PaystackTransaction } from './commerce.paystack.client.ts';
export type { ReconcileSummary, SettleOutcome } from './commerce.paystack.reconcile.ts';

/** `http://host:port` of a listening server (loopback for a wildcard bind), or null. */
function listeningUrl(server: Server | undefined): string | null {
  const address = server?.address();
  if (!address || typeof address === 'string') return null;
  let host = address.address;
  if (host === '0.0.0.0' || host === '::') host = '127.0.0.1';
  else if (host.includes(':')) host = `[${host}]`;
  return `http://${host}:${address.port}`;
}

/**
 * Paystack payments: the API adapter (initialize, verify, refund), our webhook endpoint, the job
 * that processes its events, the reconciliation of payments whose webhook never came, and the
 * built-in simulator. The adapter talks to `config.commerce.paystack.baseUrl`, or, when that is
 * unset outside production, to the simulator on this server's own address (known only once it
 * listens; a worker process, which does not listen, uses the public URL).
 */
export function createPaystackFeature({
  platform,
  fulfilment,
}: {
  platform: Platform;
  fulfilment: Fulfilment;
}) {
  const { config, jobs, logger } = platform;
  const settings = config.commerce.paystack;
  let server: Server | undefined;
  const ownUrl = () => listeningUrl(server) ?? config.publicUrl;

  const client = createPaystackClient({
    secretKey: settings.secretKey,
    baseUrl: () => settings.baseUrl ?? (settings.simulator ? `${ownUrl()}/sim/paystack` : null),
    defaultCallbackUrl: settings.callbackUrl,
    logger,
  });
  const settlement = createPaystackSettlement({ platform, fulfilment, client });

  jobs.define<PaystackEventJob>({
    name: PROCESS_PAYSTACK_EVENT_JOB,
    concurrency: 2,
    handler: async ({ webhookEventId, paymentId }) => {
      await settlement.settle(paymentId);
      await repo.markWebhookEventProcessed(platform.db, webhookEventId);
    },
  });
  jobs.define<Record<string, never>>({
    name: RECONCILE_PAYSTACK_JOB,
    // A run that overlaps the next one is harmless (settling is idempotent) but pointless.
    expireInSeconds: 300,
    retryLimit: 0,
    handler: async () => {
      await settlement.reconcile();
    },
  });
  jobs.schedule(RECONCILE_PAYSTACK_JOB, '* * * * *');

  const simulator = settings.simulator
    ? createPaystackSimulator({ secretKey: settings.secretKey, ownUrl, publicUrl: config.publicUrl, logger })
    : null;
  const webhookRoutes = paystackWebhookRoutes({ platform });

  return {
    api: {
      /** Starts a Paystack checkout for a payment; returns where to send the payer. 502 on gateway trouble. */
      initialize: client.initialize,
      /** What Paystack says about a transaction (404 when it has none with this reference). */
      verify: client.verify,
      /** Refunds a captured Paystack charge (409 when it was refunded before). */
      refund: client.refund,
      /** Runs the reconciliation now (the job does it every minute). */
      reconcileNow: () => settlement.reconcile(),
      /** Settles one Paystack payment from what the verify API says (e.g. after the payer returns). */
      settlePayment: (paymentId: number) => settlement.settle(paymentId),
    },
    /** The webhook endpoint, under /api. */
    async routes(app: FastifyInstance, _ctx: RouteContext) {
      server ??= app.server;
      await webhookRoutes(app);
    },
    /** The simulator, mounted at /sim/paystack only when `config.commerce.paystack.simulator`. */
    async simulatorRoutes(app: FastifyInstance, _ctx: RouteContext) {
      server ??= app.server;
      if (simulator) await simulator(app);
    },
  };
}
export type PaystackFeature = ReturnType<typeof createPaystackFeature>;
export type PaystackApi = PaystackFeature['api'];
