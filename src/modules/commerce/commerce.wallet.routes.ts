import type { FastifyInstance, FastifyRequest } from 'fastify';
import type { ZodTypeProvider } from 'fastify-type-provider-zod';
import { bearerSecurity, principalOf } from '../../platform/http/auth.ts';
import { responses, successBody } from '../../platform/http/envelope.ts';
import { idempotencyHeaderSchema } from '../../platform/http/idempotency.ts';
import type { RouteContext } from '../../platform/http/route-context.ts';
import {
  INVALID_VOUCHER_MESSAGE,
  REDEEM_FAILURE_LIMITS,
  type VoucherRedemption,
} from './commerce.vouchers.redemption.ts';
import { redeemBody, redemption } from './commerce.vouchers.schemas.ts';
import type { Actor } from './commerce.vouchers.service.ts';
import { walletSchema, walletTransactionPage, walletTransactionsQuery } from './commerce.wallet.schemas.ts';
import type { WalletService } from './commerce.wallet.service.ts';

/** Who is calling, for audits and per-user / per-address limits. */
export const actorOf = (request: FastifyRequest): Actor => ({
  userId: principalOf(request).userId,
  ip: request.ip,
  userAgent: request.headers['user-agent'],
  requestId: request.id,
});

/** The caller's wallet (any role): balances, statement, voucher redemption. */
export function walletRoutes(wallet: WalletService, redemptions: VoucherRedemption) {
  return async function routes(app: FastifyInstance, { guard, idempotency }: RouteContext) {
    const r = app.withTypeProvider<ZodTypeProvider>();

    r.get(
      '/wallet',
      {
        onRequest: guard.authenticate,
        schema: {
          operationId: 'getWallet',
          tags: ['wallet'],
          summary: 'My wallet balances',
          description:
            'The balance of the caller’s wallet in each currency it has held, in major units. A new account has no balances yet (`[]`).',
          security: bearerSecurity,
          response: responses({ data: walletSchema }, [401]),
        },
      },
      async (request) => successBody(await wallet.balances(principalOf(request).userId)),
    );

    r.get(
      '/wallet/transactions',
      {
        onRequest: guard.authenticate,
        schema: {
          operationId: 'listWalletTransactions',
          tags: ['wallet'],
          summary: 'My wallet statement',
          description:
            'The caller’s wallet movements newest first (voucher top-ups, wallet purchases, refunds), each with the signed amount and the balance right after it. Keyset pagination: pass `pageInfo.nextCursor` as `cursor`. `currency` narrows to one currency.',
          security: bearerSecurity,
          querystring: walletTransactionsQuery,
          response: responses({ data: walletTransactionPage }, [401]),
        },
      },
      async (request) => successBody(await wallet.transactions(principalOf(request).userId, request.query)),
    );

    r.post(
      '/wallet/vouchers/redeem',
      {
        onRequest: guard.authenticate,
        // The attempt limit is checked before the Idempotency-Key is claimed, so a 429 is never
        // stored as the key's answer and the same key works once the window has passed.
        preHandler: [async (request) => redemptions.assertAllowed(actorOf(request)), idempotency],
        schema: {
          operationId: 'redeemVoucher',
          tags: ['wallet'],
          summary: 'Top up my wallet with a voucher code',
          description: `Credits the voucher's value to the caller's wallet, once ever: the voucher is claimed and the ledger posted in one transaction, so of any number of concurrent attempts exactly one succeeds. Every refused code (unknown, malformed, disabled, expired or already used) gets the same 400 "${INVALID_VOUCHER_MESSAGE}" so the endpoint reveals nothing about which codes exist; the reason is kept in the audit log. After ${REDEEM_FAILURE_LIMITS.perUser} failed attempts per account (or ${REDEEM_FAILURE_LIMITS.perIp} per client address) within ${REDEEM_FAILURE_LIMITS.windowSeconds / 60} minutes, attempts are refused with 429 and \`Retry-After\`. Send an \`Idempotency-Key\` to retry safely.`,
          security: bearerSecurity,
          headers: idempotencyHeaderSchema,
          body: redeemBody,
          response: responses({ data: redemption }, [401, 409, 422]),
        },
      },
      async (request) => successBody(await redemptions.redeem(actorOf(request), request.body.code)),
    );
  };
}
