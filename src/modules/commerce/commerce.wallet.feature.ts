import type { FastifyInstance } from 'fastify';
import type { RouteContext } from '../../platform/http/route-context.ts';
import type { Platform } from '../../platform/platform.ts';
import type { IdentityApi } from '../identity/index.ts';
import { createVoucherRedemption } from './commerce.vouchers.redemption.ts';
import { voucherAdminRoutes } from './commerce.vouchers.routes.ts';
import { createVoucherAdmin } from './commerce.vouchers.service.ts';
import { walletRoutes } from './commerce.wallet.routes.ts';
import { createWalletService } from './commerce.wallet.service.ts';

export { VOUCHER_REDEEMED, type VoucherRedeemed } from './commerce.vouchers.redemption.ts';

/** The wallet (balances, statement, voucher top-ups) and admin voucher management (seed 004). */
export function createWalletFeature({
  platform,
  identity,
}: {
  platform: Pick<Platform, 'db' | 'events' | 'throttle' | 'sealer'>;
  identity: Pick<IdentityApi, 'audit'>;
}) {
  const wallet = createWalletService({ db: platform.db });
  const redemptions = createVoucherRedemption({
    db: platform.db,
    events: platform.events,
    throttle: platform.throttle,
    identity,
  });
  const vouchers = createVoucherAdmin({ db: platform.db, sealer: platform.sealer, identity });
  const plugins = [walletRoutes(wallet, redemptions), voucherAdminRoutes(vouchers)];
  return {
    api: {
      /** A user's wallet balances per currency, in major units. */
      walletBalances: wallet.balances,
    },
    async routes(app: FastifyInstance, ctx: RouteContext) {
      for (const plugin of plugins) await app.register(plugin, ctx);
    },
  };
}
