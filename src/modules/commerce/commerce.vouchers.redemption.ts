import type { Db, Tx } from '../../platform/db.ts';
import { TooManyRequests, ValidationError } from '../../platform/errors.ts';
import type { Platform } from '../../platform/platform.ts';
import type { Throttle } from '../../platform/throttle.ts';
import type { IdentityApi } from '../identity/index.ts';
import { getWalletBalances, postLedger } from './commerce.ledger.ts';
import { toMajor } from './commerce.money.ts';
import {
  attemptHint,
  hashVoucherCode,
  normaliseVoucherCode,
  voucherHint,
} from './commerce.vouchers.codes.ts';
import * as repo from './commerce.vouchers.repository.ts';
import type { Actor } from './commerce.vouchers.service.ts';

/** Published in the redemption's transaction (e.g. for a "wallet topped up" notification). */
export const VOUCHER_REDEEMED = 'commerce.voucher.redeemed';
export interface VoucherRedeemed {
  voucherId: number;
  userId: number;
  amountMinor: number;
  currency: string;
  ledgerTransactionId: number;
}

/**
 * Failed attempts allowed per fixed window before redemption is refused with 429. The per-IP
 * allowance is larger because a school or an office shares one address.
 */
export const REDEEM_FAILURE_LIMITS = { perUser: 10, perIp: 30, windowSeconds: 15 * 60 };

/**
 * The one answer for every refused code: unknown, malformed, disabled, expired or already used
 * look the same, so the endpoint is no oracle for which codes exist. The audit log keeps the reason.
 */
export const INVALID_VOUCHER_MESSAGE = 'Invalid or already used voucher code';

export type RedeemFailureReason = 'malformed' | 'unknown' | 'already_redeemed' | 'disabled' | 'expired';

export interface VoucherRedemptionDeps {
  db: Db;
  events: Platform['events'];
  throttle: Throttle;
  identity: Pick<IdentityApi, 'audit'>;
  limits?: typeof REDEEM_FAILURE_LIMITS;
}

/** Redeeming a voucher into the caller's wallet: once ever, rate-limited, failures audited. */
export function createVoucherRedemption(deps: VoucherRedemptionDeps) {
  const { db, events, throttle, identity } = deps;
  const limits = deps.limits ?? REDEEM_FAILURE_LIMITS;
  const userKey = (who: Actor) => `voucher-redeem-fail:user:${who.userId}`;
  const ipKey = (who: Actor) => `voucher-redeem-fail:ip:${who.ip ?? 'unknown'}`;

  /** 429 while the caller or their address has used up its failed attempts. */
  async function assertAllowed(who: Actor): Promise<void> {
    const checks = [
      { key: userKey(who), max: limits.perUser },
      { key: ipKey(who), max: limits.perIp },
    ];
    const blocked: string[] = [];
    for (const { key, max } of checks) if ((await throttle.count(key)) >= max) blocked.push(key);
    if (blocked.length === 0) return;
    const wait = Math.max(...(await Promise.all(blocked.map((k) => throttle.ttl(k)))));
    throw new TooManyRequests(
      wait || limits.windowSeconds,
      'Too many failed voucher attempts; try again later',
    );
  }

  /** Counts a failed attempt against the caller and their address. */
  async function countFailure(who: Actor) {
    await throttle.hit(userKey(who), limits.windowSeconds);
    await throttle.hit(ipKey(who), limits.windowSeconds);
  }

  /** Audits a failure (already counted), and returns the generic error to throw. */
  async function refusal(
    who: Actor,
    reason: RedeemFailureReason,
    hint: string | null,
    voucherId?: number,
  ): Promise<ValidationError> {
    await identity.audit({
      action: 'commerce.voucher.redeem_failed',
      actorId: who.userId,
      ip: who.ip,
      userAgent: who.userAgent,
      requestId: who.requestId,
      success: false,
      detail: JSON.stringify({ reason, hint, ...(voucherId === undefined ? {} : { voucherId }) }),
    });
    return new ValidationError(INVALID_VOUCHER_MESSAGE, [
      { field: 'body.code', message: INVALID_VOUCHER_MESSAGE },
    ]);
  }

  /** Why a well-formed code could not be claimed, read after the claim failed. */
  async function reasonFor(
    tx: Tx,
    codeHash: string,
  ): Promise<{ reason: RedeemFailureReason; voucherId?: number }> {
    const voucher = await repo.findVoucherByHash(tx, codeHash);
    if (!voucher) return { reason: 'unknown' };
    const reason = voucher.effectiveStatus === 'redeemed' ? 'already_redeemed' : voucher.effectiveStatus;
    // `active` here means the voucher changed between the claim and this read; it is refused all the same.
    return { reason: reason === 'active' ? 'already_redeemed' : reason, voucherId: voucher.id };
  }

  return {
    assertAllowed,

    /**
     * Claims the voucher and credits the wallet in one transaction: the conditional update lets
     * exactly one of any number of concurrent redeemers through, and the ledger posting
     * (voucher float → user wallet, reference `voucher:<id>`) commits with it or not at all.
     */
    async redeem(who: Actor, code: string) {
      const normalised = normaliseVoucherCode(code);
      const codeHash = normalised ? hashVoucherCode(normalised) : undefined;

      // One attempt per user at a time (a transaction-scoped advisory lock): the failure limit is
      // checked and a failure counted inside it, so parallel wrong guesses cannot overshoot the limit,
      // and a user's parallel valid redemptions simply queue. Nothing in it takes a second database
      // connection (the audit comes after), so waiters cannot starve the lock holder of the pool.
      const outcome = await db.transaction(async (tx) => {
        await repo.lockRedeemer(tx, who.userId);
        await assertAllowed(who);
        if (!normalised || !codeHash) {
          await countFailure(who);
          return { failed: { reason: 'malformed' as const, hint: attemptHint(code) } };
        }
        const voucher = await repo.claimVoucher(tx, codeHash, who.userId);
        if (!voucher) {
          const { reason, voucherId } = await reasonFor(tx, codeHash);
          await countFailure(who);
          return { failed: { reason, hint: voucherHint(normalised), voucherId } };
        }
        const { amountMinor, currency } = voucher;
        const posted = await postLedger(tx, {
          kind: 'voucher_redemption',
          reference: `voucher:${voucher.id}`,
          description: `Voucher top-up (…${voucher.codeHint})`,
          entries: [
            { account: { kind: 'voucher_float', currency }, amountMinor: -amountMinor },
            { account: { kind: 'user_wallet', userId: who.userId, currency }, amountMinor },
          ],
        });
        // The claim above succeeds once per voucher, so the reference cannot have been posted.
        if (posted.duplicate) throw new Error(`Voucher ${voucher.id} was already posted to the ledger`);
        const balances = await getWalletBalances(tx, who.userId);
        const balanceMinor = balances.find((b) => b.currency === currency)?.balanceMinor ?? 0;
        await events.publish<VoucherRedeemed>(tx, VOUCHER_REDEEMED, {
          voucherId: voucher.id,
          userId: who.userId,
          amountMinor,
          currency,
          ledgerTransactionId: posted.transactionId,
        });
        return { credited: { voucher, balanceMinor, transactionId: posted.transactionId } };
      });

      if (outcome.failed) {
        const { reason, hint, voucherId } = outcome.failed;
        throw await refusal(who, reason, hint, voucherId);
      }
      const { voucher, balanceMinor, transactionId } = outcome.credited;
      await identity.audit({
        action: 'commerce.voucher.redeemed',
        actorId: who.userId,
        ip: who.ip,
        userAgent: who.userAgent,
        requestId: who.requestId,
        success: true,
        detail: JSON.stringify({
          voucherId: voucher.id,
          amountMinor: voucher.amountMinor,
          currency: voucher.currency,
        }),
      });
      return {
        voucherId: voucher.id,
        amount: toMajor(voucher.amountMinor, voucher.currency),
        currency: voucher.currency,
        balance: toMajor(balanceMinor, voucher.currency),
        transactionId,
      };
    },
  };
}
export type VoucherRedemption = ReturnType<typeof createVoucherRedemption>;
