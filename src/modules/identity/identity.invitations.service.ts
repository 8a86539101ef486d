import { newSecretToken, sha256Hex } from '../../platform/crypto.ts';
import type { Db, DbOrTx } from '../../platform/db.ts';
import { ValidationError } from '../../platform/errors.ts';
import type { MailMessage, Mailer } from '../../platform/mail.ts';
import { hashPassword } from './identity.credentials.ts';
import * as repo from './identity.repository.ts';
import { assertStrongPassword } from './identity.service.ts';
import type { RequestMeta, SignIn, SignInResult } from './identity.signin.ts';

export const INVITATION_PURPOSE = 'invitation';
const INVITATION_TTL_SECONDS = 7 * 86_400;

const escapeHtml = (s: string) =>
  s.replace(/[&<>"']/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' })[c]!);

/** "You are invited to Lectern" with a set-password link valid for 7 days. */
export function invitationEmail(to: string, name: string, role: string, link: string): MailMessage {
  const paragraphs = [
    `Hello ${name},`,
    `An administrator created a Lectern ${role} account for you. Choose a password to start: the link works once and expires in 7 days.`,
    'If you were not expecting this, you can ignore this message.',
  ];
  const label = 'Accept the invitation';
  return {
    to,
    subject: 'You are invited to Lectern',
    text: `${[...paragraphs, `${label}: ${link}`].join('\n\n')}\n`,
    html: [
      ...paragraphs.map((p) => `<p>${escapeHtml(p)}</p>`),
      `<p><a href="${escapeHtml(link)}">${escapeHtml(label)}</a></p>`,
    ].join('\n'),
  };
}

const invalidInvitation = () =>
  new ValidationError('Invalid or expired invitation', [
    { field: 'body.token', message: 'Invalid or expired invitation' },
  ]);

export interface InvitationDeps {
  db: Db;
  mailer: Pick<Mailer, 'send'>;
  signIn: SignIn;
  /** Base URL of the web app, where the emailed link lands. */
  appUrl: string;
}

/** Invitations: the set-password link an admin's new account receives, and accepting it. */
export function createInvitations(deps: InvitationDeps) {
  const { db, mailer, signIn, appUrl } = deps;

  return {
    /** Issues a fresh invitation (an earlier one stops working) and mails it as part of `tx`. */
    async send(tx: DbOrTx, user: repo.UserRow, meta: RequestMeta & { actorId: number }) {
      const token = newSecretToken();
      await repo.insertOneTimeToken(tx, {
        userId: user.id,
        purpose: INVITATION_PURPOSE,
        tokenHash: sha256Hex(token),
        ttlSeconds: INVITATION_TTL_SECONDS,
        meta: { invitedBy: meta.actorId },
        replace: true,
      });
      const link = `${appUrl}/accept-invitation?token=${encodeURIComponent(token)}`;
      await mailer.send(invitationEmail(user.email, user.name, user.role, link), { tx });
      await repo.appendAudit(tx, {
        action: 'invitation.sent',
        actorId: meta.actorId,
        subjectId: user.id,
        ip: meta.ip,
        userAgent: meta.userAgent,
        requestId: meta.requestId,
        detail: `role ${user.role}`,
      });
    },

    /**
     * Sets the invited account's password with the emailed token (single use, 7 days), verifies
     * the email (the link reached the mailbox) and signs the user in.
     */
    async accept(
      input: { token: string; password: string; name?: string },
      meta: RequestMeta,
    ): Promise<SignInResult> {
      const token = await repo.findLiveOneTimeToken(db, INVITATION_PURPOSE, sha256Hex(input.token));
      const user = token?.userId ? await repo.findUserById(db, token.userId) : undefined;
      if (!token || !user || user.deletedAt || user.status !== 'active' || user.passwordHash) {
        throw invalidInvitation();
      }
      // Checked before the token is consumed, so a refused password leaves the link usable.
      assertStrongPassword(input.password, user, 'body.password');
      const passwordHash = await hashPassword(input.password);
      await db.transaction(async (tx) => {
        // Of parallel accepts of one link, only the one that consumes the token goes on.
        if (!(await repo.consumeOneTimeToken(tx, token.id))) throw invalidInvitation();
        await repo.updatePasswordHash(tx, user.id, passwordHash);
        await repo.markEmailVerified(tx, user.id);
        if (input.name !== undefined) await repo.updateUserProfile(tx, user.id, { name: input.name });
        await repo.appendAudit(tx, {
          action: 'invitation.accepted',
          actorId: user.id,
          subjectId: user.id,
          ...meta,
        });
      });
      const fresh = await repo.findUserById(db, user.id);
      if (!fresh) throw invalidInvitation();
      return signIn.completeSignIn(fresh, 'invitation', meta);
    },
  };
}
export type Invitations = ReturnType<typeof createInvitations>;
