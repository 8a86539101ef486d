import { randomInt } from 'node:crypto';
import { safeEqual, sha256Hex } from '../../platform/crypto.ts';
import { Unauthorized } from '../../platform/errors.ts';
import { loginCodeEmail } from './identity.email-flows.emails.ts';
import type { EmailFlowDeps } from './identity.email-flows.service.ts';
import * as repo from './identity.repository.ts';
import type { RequestMeta, SignInResult } from './identity.signin.ts';

export const OTP_PURPOSE = 'otp_login';
const OTP_TTL_SECONDS = 600;
const OTP_MAX_ATTEMPTS = 5;
export const OTP_REQUEST_MESSAGE = 'If the email is registered, a sign-in code is on its way';

// Bound to the user so one stored hash cannot be matched against another account's code.
const codeHash = (userId: number, code: string) => sha256Hex(`${userId}:${code}`);

/** Email OTP sign-in (seed 004): a 6-digit code by email, then the code for a session. */
export function createOtpService(deps: EmailFlowDeps) {
  const { db, mailer, signIn, emailRequestAllowed } = deps;

  return {
    /**
     * Emails a sign-in code to an active account. The answer never depends on whether the email
     * exists, is disabled or is over its request limit; only whether a code is sent does.
     */
    async requestCode(email: string, meta: RequestMeta) {
      if (!(await emailRequestAllowed('otp-request', email))) return { message: OTP_REQUEST_MESSAGE };
      const user = await repo.findUserByEmail(db, email);
      if (!user || user.status !== 'active' || user.deletedAt) return { message: OTP_REQUEST_MESSAGE };
      const code = String(randomInt(0, 1_000_000)).padStart(6, '0');
      await db.transaction(async (tx) => {
        await repo.insertOneTimeToken(tx, {
          userId: user.id,
          purpose: OTP_PURPOSE,
          tokenHash: codeHash(user.id, code),
          ttlSeconds: OTP_TTL_SECONDS,
          replace: true,
        });
        await mailer.send(loginCodeEmail(user.email, user.name, code), { tx });
        await repo.appendAudit(tx, { action: 'otp.requested', subjectId: user.id, ...meta });
      });
      return { message: OTP_REQUEST_MESSAGE };
    },

    /**
     * Signs in with an emailed code. Unknown email, wrong, expired, used or exhausted code all
     * answer the same 401; a code allows 5 tries, and the email locks out progressively.
     */
    async login(input: { email: string; code: string }, meta: RequestMeta): Promise<SignInResult> {
      await signIn.assertNotLocked('otp', input.email);
      const user = await repo.findUserByEmail(db, input.email);
      const token =
        user && !user.deletedAt ? await repo.findLatestLiveOneTimeToken(db, user.id, OTP_PURPOSE) : undefined;
      let accepted = false;
      if (user && token) {
        // Every guess spends an attempt before it is compared, so even a burst of parallel guesses
        // gets at most 5 comparisons against one code.
        const attempt = await repo.recordOneTimeTokenAttempt(db, token.id);
        if (attempt <= OTP_MAX_ATTEMPTS && safeEqual(token.tokenHash, codeHash(user.id, input.code))) {
          // Parallel logins with one code: the atomic consume lets exactly one through.
          accepted = await repo.consumeOneTimeToken(db, token.id);
        } else if (attempt >= OTP_MAX_ATTEMPTS) {
          await repo.consumeOneTimeToken(db, token.id);
        }
      }
      if (!user || !accepted) {
        await signIn.recordFailure('otp', input.email);
        await repo.appendAudit(db, {
          action: 'login.failed',
          subjectId: user?.id ?? null,
          ...meta,
          success: false,
          detail: 'otp',
        });
        throw new Unauthorized('Invalid or expired code');
      }
      await signIn.clearFailures('otp', input.email);
      // The code reached the mailbox, which proves the address as a verification link would.
      await repo.markEmailVerified(db, user.id);
      return signIn.completeSignIn(user, 'otp', meta);
    },
  };
}
export type OtpService = ReturnType<typeof createOtpService>;
