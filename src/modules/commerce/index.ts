import type { FastifyInstance } from 'fastify';
import type { RouteContext } from '../../platform/http/route-context.ts';
import type { Platform } from '../../platform/platform.ts';
import type { CatalogApi } from '../catalog/index.ts';
import type { IdentityApi } from '../identity/index.ts';
import { createFulfilment } from './commerce.fulfilment.ts';

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
  // ── end wallet ──

  // ── paystack ──
  // ── end paystack ──

  // ── coupons ──
  // ── end coupons ──

  // ── payments ──
  // ── end payments ──

  // ── refunds ──
  // ── end refunds ──

  // ── receipts ──
  // ── end receipts ──

  void identity;
  void catalog;
  return {
    api: {
      // ── api ──
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
