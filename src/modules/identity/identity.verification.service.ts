import { newSecretToken, sha256Hex } from '../../platform/crypto.ts';
import type { DbOrTx } from '../../platform/db.ts';
import type { DomainEvent } from '../../platform/events.ts';
import { Conflict, NotFound, TooManyRequests, ValidationError } from '../../platform/errors.ts';
import type { EmailFlowDeps } from './identity.email-flows.service.ts';
import { verificationEmail } from './identity.email-flows.emails.ts';
import * as repo from './identity.repository.ts';
import type { UserRegistered } from './identity.service.ts';
import type { RequestMeta } from './identity.signin.ts';

export const VERIFY_EMAIL_PURPOSE = 'verify_email';
const VERIFY_TTL_SECONDS = 24 * 3600;
const RESEND_LIMIT = 3;
const RESEND_WINDOW_SECONDS = 3600;

const invalidLink = () =>
  new ValidationError('Invalid or expired verification link', [
    { field: 'body.token', message: 'Invalid or expired verification link' },
  ]);

/** Email verification: the link sent on registration, confirming it, and asking for a new one. */
export function createVerificationService(deps: EmailFlowDeps) {
  const { db, mailer, throttle, appUrl } = deps;

  /** Issues a fresh link (earlier ones stop working) and mails it as part of `tx`. */
  async function sendVerification(tx: DbOrTx, user: repo.UserRow) {
    const token = newSecretToken();
    await repo.insertOneTimeToken(tx, {
      userId: user.id,
      purpose: VERIFY_EMAIL_PURPOSE,
      tokenHash: sha256Hex(token),
      ttlSeconds: VERIFY_TTL_SECONDS,
      replace: true,
    });
    const link = `${appUrl}/verify-email?token=${encodeURIComponent(token)}`;
    await mailer.send(verificationEmail(user.email, user.name, link), { tx });
  }

  return {
    /**
     * Consumer of `identity.user.registered`. Invited accounts prove their address by accepting the
     * invitation, and accounts created verified (OAuth with a provider-verified email) need nothing.
     */
    async onUserRegistered(event: DomainEvent<UserRegistered>, tx: DbOrTx) {
      if (event.payload.origin === 'admin') return;
      const user = await repo.findUserById(tx, event.payload.userId);
      if (!user || user.emailVerifiedAt || user.deletedAt || user.status !== 'active') return;
      await sendVerification(tx, user);
    },

    /** Confirms an address with the emailed token; the token works once. */
    async verify(token: string, meta: RequestMeta) {
      await db.transaction(async (tx) => {
        const row = await repo.findLiveOneTimeToken(tx, VERIFY_EMAIL_PURPOSE, sha256Hex(token));
        if (!row || row.userId === null) throw invalidLink();
        const user = await repo.findUserById(tx, row.userId);
        if (!user || user.deletedAt) throw invalidLink();
        // Of two clicks racing on one link, only the one that consumes the token goes on.
        if (!(await repo.consumeOneTimeToken(tx, row.id))) throw invalidLink();
        await repo.markEmailVerified(tx, user.id);
        await repo.appendAudit(tx, {
          action: 'email.verified',
          actorId: user.id,
          subjectId: user.id,
          ...meta,
        });
      });
      return { message: 'Email verified' };
    },

    /** Sends a new link to the caller; at most 3 per hour per account. */
    async resend(userId: number) {
      const user = await repo.findUserById(db, userId);
      if (!user || user.deletedAt) throw new NotFound('User not found');
      if (user.emailVerifiedAt) throw new Conflict('Email already verified');
      const sent = await throttle.hit(`verify-resend:${userId}`, RESEND_WINDOW_SECONDS);
      if (sent > RESEND_LIMIT) {
        const wait = await throttle.ttl(`verify-resend:${userId}`);
        throw new TooManyRequests(
          wait || RESEND_WINDOW_SECONDS,
          'Too many verification emails; try again later',
        );
      }
      await db.transaction((tx) => sendVerification(tx, user));
      return { message: 'Verification email sent' };
    },
  };
}
export type VerificationService = ReturnType<typeof createVerificationService>;
