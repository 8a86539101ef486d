import type { FastifyInstance } from 'fastify';
import type { RouteContext } from '../../platform/http/route-context.ts';
import type { Platform } from '../../platform/platform.ts';
import type { CatalogApi } from '../catalog/index.ts';
import type { IdentityApi } from '../identity/index.ts';
import { createCouponsFeature } from './commerce.coupons.service.ts';
import { createFulfilment } from './commerce.fulfilment.ts';
import { createOrdersFeature } from './commerce.orders.service.ts';
import { createPaymentsFeature } from './commerce.payments.service.ts';
import { createPaystackFeature } from './commerce.paystack.feature.ts';
import { createCardGateway } from './commerce.card-gateway.ts';
import { createReceiptsFeature } from './commerce.receipts.service.ts';
import { createRefundsFeature } from './commerce.refunds.service.ts';
import { createWalletFeature } from './commerce.wallet.feature.ts';

export * from './commerce.events.ts';

export interface CommerceDeps {
  platform: Platform;
  identity: IdentityApi;
  catalog: CatalogApi;
}

type RoutePlugin = (app: FastifyInstance, ctx: RouteContext) => Promise<void>;

/**
 * The commerce module (seed 004's isolated payments module): orders, payments by card, Paystack
 * and wallet, the double-entry wallet ledger, vouchers, coupons, refunds and receipts.
 */
export function createCommerceModule({ platform, identity, catalog }: CommerceDeps) {
  const routePlugins: RoutePlugin[] = [];
  const simulatorPlugins: RoutePlugin[] = [];
  const fulfilment = createFulfilment({ platform });

  // ── wallet ──
  const wallet = createWalletFeature({ platform, identity });
  routePlugins.push(wallet.routes);
  // ── end wallet ──

  // ── paystack ──
  const paystack = createPaystackFeature({ platform, fulfilment });
  routePlugins.push(paystack.routes);
  simulatorPlugins.push(paystack.simulatorRoutes);
  // ── end paystack ──

  // ── coupons ──
  const coupons = createCouponsFeature({ platform, catalog });
  routePlugins.push(coupons.routes);
  // ── end coupons ──

  // ── payments ──
  const orders = createOrdersFeature({ platform });
  const payments = createPaymentsFeature({
    platform,
    identity,
    catalog,
    fulfilment,
    coupons: coupons.api,
    paystack: paystack.api,
  });
  routePlugins.push(orders.routes, payments.routes);
  // ── end payments ──

  // ── refunds ──
  const refunds = createRefundsFeature({
    platform,
    identity,
    cardGateway: createCardGateway(platform.config.signingSecret),
    paystack: paystack.api,
  });
  routePlugins.push(refunds.routes);
  // ── end refunds ──

  // ── receipts ──
  const receipts = createReceiptsFeature({ platform, identity });
  routePlugins.push(receipts.routes);
  // ── end receipts ──

  void identity;
  void catalog;
  return {
    api: {
      // ── api ──
      /** A payment by id (payer, course, status), or null: enrollment checks paid courses with it. */
      getPayment: payments.api.getPayment,
      /** Lets the enrollment module refuse checkouts (already enrolled, prerequisites missing). */
      setPurchaseCheck: payments.api.setPurchaseCheck,
      /** A paid order's PDF receipt as an email attachment, or null (the payment email carries it). */
      receiptAttachment: receipts.api.receiptAttachment,
      /** Paystack adapter (initialize, verify, refund) and reconciliation. */
      paystack: paystack.api,
      // ── end api ──
    },
    fulfilment,
    async routes(app: FastifyInstance, ctx: RouteContext) {
      for (const plugin of routePlugins) await app.register(plugin, ctx);
    },
    /** The Paystack simulator, mounted at /sim/paystack outside production. */
    async simulatorRoutes(app: FastifyInstance, ctx: RouteContext) {
      for (const plugin of simulatorPlugins) await app.register(plugin, ctx);
    },
  };
}
export type CommerceModule = ReturnType<typeof createCommerceModule>;
export type CommerceApi = CommerceModule['api'];
