import { newSecretToken, sha256Hex } from '../../platform/crypto.ts';
import { NotFound, ValidationError } from '../../platform/errors.ts';
import type { Principal } from '../../platform/http/auth.ts';
import { hashPassword, verifyPassword } from './identity.credentials.ts';
import { passwordChangedEmail, passwordResetEmail } from './identity.email-flows.emails.ts';
import type { EmailFlowDeps } from './identity.email-flows.service.ts';
import { OTP_PURPOSE } from './identity.otp.service.ts';
import * as repo from './identity.repository.ts';
import { assertStrongPassword } from './identity.service.ts';
import type { RequestMeta } from './identity.signin.ts';

export const RESET_PURPOSE = 'password_reset';
const RESET_TTL_SECONDS = 30 * 60;
export const FORGOT_MESSAGE = 'If the email is registered, a password reset link is on its way';

const invalidLink = () =>
  new ValidationError('Invalid or expired reset link', [
    { field: 'body.token', message: 'Invalid or expired reset link' },
  ]);
const invalid = (field: string, message: string) =>
  new ValidationError('Invalid input data', [{ field, message }]);

/** Forgotten-password reset by emailed link, and password change for a signed-in user. */
export function createPasswordService(deps: EmailFlowDeps) {
  const { db, mailer, signIn, appUrl, emailRequestAllowed } = deps;
  const forgotLink = `${appUrl}/forgot-password`;

  return {
    /** Emails a reset link to an active account; answers the same for every email. */
    async forgot(email: string, meta: RequestMeta) {
      if (!(await emailRequestAllowed('password-forgot', email))) return { message: FORGOT_MESSAGE };
      const user = await repo.findUserByEmail(db, email);
      if (!user || user.status !== 'active' || user.deletedAt) return { message: FORGOT_MESSAGE };
      const token = newSecretToken();
      const link = `${appUrl}/reset-password?token=${encodeURIComponent(token)}`;
      await db.transaction(async (tx) => {
        await repo.insertOneTimeToken(tx, {
          userId: user.id,
          purpose: RESET_PURPOSE,
          tokenHash: sha256Hex(token),
          ttlSeconds: RESET_TTL_SECONDS,
          replace: true,
        });
        await mailer.send(passwordResetEmail(user.email, user.name, link), { tx });
        await repo.appendAudit(tx, { action: 'password.reset_requested', subjectId: user.id, ...meta });
      });
      return { message: FORGOT_MESSAGE };
    },

    /**
     * Sets a new password with an emailed token (single use, 30 minutes), then signs out every
     * device. It opens no session: the next sign-in still asks for the second factor.
     */
    async reset(input: { token: string; password: string }, meta: RequestMeta) {
      const token = await repo.findLiveOneTimeToken(db, RESET_PURPOSE, sha256Hex(input.token));
      const user = token?.userId ? await repo.findUserById(db, token.userId) : undefined;
      if (!token || !user || user.status !== 'active' || user.deletedAt) throw invalidLink();
      // Checked before the token is consumed, so a refused password leaves the link usable.
      assertStrongPassword(input.password, user, 'body.password');
      if (user.passwordHash && (await verifyPassword(user.passwordHash, input.password))) {
        throw invalid('body.password', 'Choose a password different from your current one');
      }
      const passwordHash = await hashPassword(input.password);
      await db.transaction(async (tx) => {
        if (!(await repo.consumeOneTimeToken(tx, token.id))) throw invalidLink();
        await repo.updatePasswordHash(tx, user.id, passwordHash);
        // The link reached the mailbox, which proves the address.
        await repo.markEmailVerified(tx, user.id);
        await repo.invalidateOneTimeTokens(tx, user.id, RESET_PURPOSE);
        await repo.invalidateOneTimeTokens(tx, user.id, OTP_PURPOSE);
        await mailer.send(passwordChangedEmail(user.email, user.name, 'reset', forgotLink), { tx });
        await repo.appendAudit(tx, {
          action: 'password.reset',
          actorId: user.id,
          subjectId: user.id,
          ...meta,
        });
      });
      await signIn.revokeAllSessions(user.id, 'password_reset', meta);
      // Whoever locked the account out with wrong guesses no longer knows its password.
      await signIn.clearFailures('login', user.email);
      await signIn.clearFailures('otp', user.email);
      return { message: 'Password has been reset; sign in with your new password' };
    },

    /** Changes the caller's password after checking the current one; optionally signs out other devices. */
    async change(
      principal: Principal,
      input: { currentPassword: string; newPassword: string; signOutOtherSessions: boolean },
      meta: RequestMeta,
    ) {
      const user = await repo.findUserById(db, principal.userId);
      if (!user || user.deletedAt) throw new NotFound('User not found');
      if (!user.passwordHash) {
        throw invalid(
          'body.currentPassword',
          'This account has no password yet; set one with a reset link (POST /api/auth/password/forgot)',
        );
      }
      await signIn.assertNotLocked('password-change', user.email);
      if (!(await verifyPassword(user.passwordHash, input.currentPassword))) {
        await signIn.recordFailure('password-change', user.email);
        await repo.appendAudit(db, {
          action: 'password.change_failed',
          actorId: user.id,
          subjectId: user.id,
          ...meta,
          success: false,
        });
        throw invalid('body.currentPassword', 'Current password is incorrect');
      }
      await signIn.clearFailures('password-change', user.email);
      assertStrongPassword(input.newPassword, user, 'body.newPassword');
      if (input.newPassword === input.currentPassword) {
        throw invalid('body.newPassword', 'The new password must differ from the current one');
      }
      const passwordHash = await hashPassword(input.newPassword);
      await db.transaction(async (tx) => {
        await repo.updatePasswordHash(tx, user.id, passwordHash);
        // A pending reset link was asked for under the old password; it should not outlive it.
        await repo.invalidateOneTimeTokens(tx, user.id, RESET_PURPOSE);
        await mailer.send(passwordChangedEmail(user.email, user.name, 'change', forgotLink), { tx });
        await repo.appendAudit(tx, {
          action: 'password.changed',
          actorId: user.id,
          subjectId: user.id,
          ...meta,
          detail: input.signOutOtherSessions ? 'other sessions signed out' : undefined,
        });
      });
      const revokedSessions = input.signOutOtherSessions
        ? await signIn.revokeAllSessions(user.id, 'password_changed', { ...meta, keep: principal.sessionId })
        : 0;
      return { message: 'Password changed', revokedSessions };
    },
  };
}
export type PasswordService = ReturnType<typeof createPasswordService>;
