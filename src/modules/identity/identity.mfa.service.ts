import { randomBytes } from 'node:crypto';
import { generateSecret, generateURI, verify } from 'otplib';
import QRCode from 'qrcode';
import { newSecretToken, type Sealer, sha256Hex } from '../../platform/crypto.ts';
import type { Db, DbOrTx } from '../../platform/db.ts';
import { Conflict, Forbidden, NotFound, Unauthorized, ValidationError } from '../../platform/errors.ts';
import type { MailMessage, Mailer } from '../../platform/mail.ts';
import { verifyPassword } from './identity.credentials.ts';
import * as mfaRepo from './identity.mfa.repository.ts';
import * as repo from './identity.repository.ts';
import type { IssuedTokens, MfaGate, RequestMeta, SignIn } from './identity.signin.ts';

export const MFA_LOGIN_PURPOSE = 'mfa_login';
const MFA_TOKEN_TTL_SECONDS = 300;
const MFA_MAX_ATTEMPTS = 5;
const DEFAULT_ISSUER = 'Lectern';
const PERIOD_SECONDS = 30;
const RECOVERY_CODE_COUNT = 10;
// 32 symbols (5 bits each) without 0/o and 1/i, so codes read back from paper unambiguously.
const RECOVERY_ALPHABET = '23456789abcdefghjklmnpqrstuvwxyz';
// Sign-in lockout and the lockout of signed-in management calls are counted apart, so a stolen
// access token cannot lock the owner out of signing in.
const LOGIN_SCOPE = 'mfa';
const MANAGE_SCOPE = 'mfa_manage';
const INVALID_LOGIN_CODE = 'Invalid or expired code';

/** The second factor offered with a request: a TOTP code or a recovery code. */
export interface FactorInput {
  code?: string;
  recoveryCode?: string;
}

export interface MfaDeps {
  db: Db;
  sealer: Pick<Sealer, 'seal' | 'open'>;
  mailer: Pick<Mailer, 'send'>;
  signIn: Pick<SignIn, 'assertNotLocked' | 'recordFailure' | 'clearFailures' | 'issueSession'>;
  appUrl: string;
  issuer?: string;
}

/** Thrown inside a transaction to roll it back when a factor was claimed by a concurrent request. */
class FactorLost extends Error {}

/** A recovery code like `k7wq-3mzp-ab`: 10 symbols of 5 bits, 50 bits of randomness. */
function newRecoveryCode(): string {
  // 256 is a multiple of 32, so masking a byte keeps every symbol equally likely.
  const s = Array.from(randomBytes(10), (b) => RECOVERY_ALPHABET[b & 31]).join('');
  return `${s.slice(0, 4)}-${s.slice(4, 8)}-${s.slice(8)}`;
}

// Bound to the user so a stored hash cannot be matched against another account's codes.
const recoveryCodeHash = (userId: number, code: string) =>
  sha256Hex(`mfa-recovery:${userId}:${code.toLowerCase().replace(/[^a-z0-9]/g, '')}`);

/**
 * The time step a TOTP code belongs to, accepting one step of clock drift either way, or null.
 * Steps up to `lastUsedStep` are refused: a code is good once, even within its window.
 */
async function matchStep(secret: string, code: string, lastUsedStep: number | null): Promise<number | null> {
  const epoch = Math.floor(Date.now() / 1000);
  // otplib rejects an afterTimeStep beyond its window; every step in the window is used up then.
  if (lastUsedStep !== null && lastUsedStep >= Math.floor((epoch + PERIOD_SECONDS) / PERIOD_SECONDS)) {
    return null;
  }
  const result = await verify({
    secret,
    token: code,
    epoch,
    period: PERIOD_SECONDS,
    digits: 6,
    algorithm: 'sha1',
    epochTolerance: PERIOD_SECONDS,
    ...(lastUsedStep === null ? {} : { afterTimeStep: lastUsedStep }),
  });
  // The functional API types TOTP and HOTP results alike; only the TOTP one carries `timeStep`.
  return result.valid && 'timeStep' in result ? result.timeStep : null;
}

const escapeHtml = (s: string) =>
  s.replace(/[&<>"']/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' })[c]!);

function securityNotice(to: string, name: string, subject: string, what: string, link: string): MailMessage {
  const paragraphs = [
    `Hello ${name},`,
    what,
    'If this was not you, reset your password at once and review your signed-in devices.',
  ];
  return {
    to,
    subject,
    text: `${[...paragraphs, `Security settings: ${link}`].join('\n\n')}\n`,
    html: [
      ...paragraphs.map((p) => `<p>${escapeHtml(p)}</p>`),
      `<p><a href="${escapeHtml(link)}">Security settings</a></p>`,
    ].join('\n'),
  };
}

/** TOTP two-factor authentication: set-up, recovery codes, and the second step of every sign-in. */
export function createMfa(deps: MfaDeps) {
  const { db, sealer, mailer, signIn } = deps;
  const issuer = deps.issuer ?? DEFAULT_ISSUER;
  const settingsLink = `${deps.appUrl}/settings/security`;

  async function activeUser(userId: number) {
    const user = await repo.findUserById(db, userId);
    if (!user || user.deletedAt) throw new NotFound('User not found');
    return user;
  }

  async function notify(tx: DbOrTx, user: repo.UserRow, subject: string, what: string) {
    await mailer.send(securityNotice(user.email, user.name, subject, what, settingsLink), { tx });
  }

  /**
   * Checks a factor without using it up. Returns a claim that uses it up atomically inside a
   * transaction (false when a concurrent request got there first), or null when it is wrong.
   */
  async function checkFactor(
    userId: number,
    totp: mfaRepo.TotpRow,
    input: FactorInput,
  ): Promise<((tx: DbOrTx) => Promise<boolean>) | null> {
    if (input.code !== undefined) {
      const step = await matchStep(sealer.open(totp.secretEncrypted), input.code, totp.lastUsedStep);
      return step === null ? null : (tx) => mfaRepo.advanceTotpStep(tx, userId, step);
    }
    if (input.recoveryCode !== undefined) {
      const hash = recoveryCodeHash(userId, input.recoveryCode);
      if (!(await mfaRepo.recoveryCodeExists(db, userId, hash))) return null;
      return (tx) => mfaRepo.useRecoveryCode(tx, userId, hash);
    }
    return null;
  }

  /** Runs `work` after claiming the factor, all in one transaction; false if the claim was lost. */
  async function withClaim(
    claim: (tx: DbOrTx) => Promise<boolean>,
    work: (tx: DbOrTx) => Promise<void>,
  ): Promise<boolean> {
    try {
      await db.transaction(async (tx) => {
        if (!(await claim(tx))) throw new FactorLost();
        await work(tx);
      });
      return true;
    } catch (err) {
      if (err instanceof FactorLost) return false;
      throw err;
    }
  }

  function newRecoveryCodes(userId: number) {
    const codes = Array.from({ length: RECOVERY_CODE_COUNT }, newRecoveryCode);
    return { codes, hashes: codes.map((c) => recoveryCodeHash(userId, c)) };
  }

  const gate: MfaGate = {
    async challengeFor(userId, method, meta) {
      if (!(await mfaRepo.hasEnabledTotp(db, userId))) return null;
      const token = newSecretToken('mfa_');
      await repo.insertOneTimeToken(db, {
        userId,
        purpose: MFA_LOGIN_PURPOSE,
        tokenHash: sha256Hex(token),
        ttlSeconds: MFA_TOKEN_TTL_SECONDS,
        meta: { method, ip: meta.ip ?? null, userAgent: meta.userAgent?.slice(0, 512) ?? null },
      });
      return token;
    },
  };

  return {
    gate,

    /** Whether the caller has 2FA on and how many recovery codes are left. */
    async status(userId: number) {
      const totp = await mfaRepo.findTotp(db, userId);
      const totpEnabled = Boolean(totp?.enabledAt);
      return {
        totpEnabled,
        recoveryCodesRemaining: totpEnabled ? await mfaRepo.countUnusedRecoveryCodes(db, userId) : 0,
      };
    },

    /** Starts (or restarts) set-up: a new pending secret, its otpauth URI and QR codes. */
    async setup(userId: number, meta: RequestMeta) {
      const user = await activeUser(userId);
      const existing = await mfaRepo.findTotp(db, userId);
      const already = new Conflict('Two-factor authentication is already enabled; disable it first');
      if (existing?.enabledAt) throw already;
      const secret = generateSecret({ length: 20 });
      if (!(await mfaRepo.upsertPendingTotp(db, userId, sealer.seal(secret)))) throw already;
      const otpauthUri = `${generateURI({ issuer, label: user.email, secret })}&algorithm=SHA1&digits=6&period=${PERIOD_SECONDS}`;
      const qr = { errorCorrectionLevel: 'M', margin: 2 } as const;
      const [qrCodeSvg, qrCodeDataUrl] = await Promise.all([
        QRCode.toString(otpauthUri, { ...qr, type: 'svg' }),
        QRCode.toDataURL(otpauthUri, qr),
      ]);
      await repo.appendAudit(db, {
        action: 'mfa.setup_started',
        actorId: userId,
        subjectId: userId,
        ...meta,
      });
      return { secret, otpauthUri, qrCodeSvg, qrCodeDataUrl };
    },

    /** Confirms set-up with a first code; answers the recovery codes, shown this once only. */
    async enable(userId: number, code: string, meta: RequestMeta) {
      const user = await activeUser(userId);
      const totp = await mfaRepo.findTotp(db, userId);
      if (totp?.enabledAt) throw new Conflict('Two-factor authentication is already enabled');
      if (!totp)
        throw new Conflict('No two-factor set-up is pending; start with POST /api/auth/mfa/totp/setup');
      await signIn.assertNotLocked(MANAGE_SCOPE, user.email);
      const step = await matchStep(sealer.open(totp.secretEncrypted), code, null);
      if (step === null) {
        await signIn.recordFailure(MANAGE_SCOPE, user.email);
        throw new ValidationError('Invalid input data', [
          {
            field: 'body.code',
            message: 'Invalid code; check the clock of your device and try the next code',
          },
        ]);
      }
      const { codes, hashes } = newRecoveryCodes(userId);
      const enabled = await withClaim(
        (tx) => mfaRepo.enableTotp(tx, userId, step),
        async (tx) => {
          await mfaRepo.replaceRecoveryCodes(tx, userId, hashes);
          await repo.appendAudit(tx, { action: 'mfa.enabled', actorId: userId, subjectId: userId, ...meta });
          await notify(
            tx,
            user,
            'Two-factor authentication turned on',
            'Two-factor authentication was turned on for your Lectern account. Signing in now needs a code from your authenticator app or one of your recovery codes.',
          );
        },
      );
      if (!enabled) throw new Conflict('Two-factor authentication is already enabled');
      await signIn.clearFailures(MANAGE_SCOPE, user.email);
      return { recoveryCodes: codes, message: 'Two-factor authentication enabled' };
    },

    /** Turns 2FA off; needs the password and a TOTP or recovery code. */
    async disable(userId: number, input: FactorInput & { password: string }, meta: RequestMeta) {
      const user = await activeUser(userId);
      const totp = await mfaRepo.findTotp(db, userId);
      if (!totp?.enabledAt) throw new Conflict('Two-factor authentication is not enabled');
      if (!user.passwordHash) {
        throw new ValidationError('Invalid input data', [
          {
            field: 'body.password',
            message: 'Your account has no password; set one with the password reset flow first',
          },
        ]);
      }
      await signIn.assertNotLocked(MANAGE_SCOPE, user.email);
      const factorField = input.code !== undefined ? 'body.code' : 'body.recoveryCode';
      const refuse = async (field: string, message: string) => {
        await signIn.recordFailure(MANAGE_SCOPE, user.email);
        await repo.appendAudit(db, {
          action: 'mfa.disable_failed',
          actorId: userId,
          subjectId: userId,
          ...meta,
          success: false,
          detail: field,
        });
        return new ValidationError('Invalid input data', [{ field, message }]);
      };
      if (!(await verifyPassword(user.passwordHash, input.password))) {
        throw await refuse('body.password', 'Incorrect password');
      }
      const claim = await checkFactor(userId, totp, input);
      const disabled =
        claim &&
        (await withClaim(claim, async (tx) => {
          await mfaRepo.deleteTotp(tx, userId);
          await mfaRepo.deleteRecoveryCodes(tx, userId);
          await repo.invalidateOneTimeTokens(tx, userId, MFA_LOGIN_PURPOSE);
          await repo.appendAudit(tx, { action: 'mfa.disabled', actorId: userId, subjectId: userId, ...meta });
          await notify(
            tx,
            user,
            'Two-factor authentication turned off',
            'Two-factor authentication was turned off for your Lectern account. Signing in now needs your password only.',
          );
        }));
      if (!disabled) throw await refuse(factorField, 'Invalid or already used code');
      await signIn.clearFailures(MANAGE_SCOPE, user.email);
      return { message: 'Two-factor authentication disabled' };
    },

    /** Replaces the recovery codes (all old ones stop working); needs a current TOTP code. */
    async regenerateRecoveryCodes(userId: number, code: string, meta: RequestMeta) {
      const user = await activeUser(userId);
      const totp = await mfaRepo.findTotp(db, userId);
      if (!totp?.enabledAt) throw new Conflict('Two-factor authentication is not enabled');
      await signIn.assertNotLocked(MANAGE_SCOPE, user.email);
      const claim = await checkFactor(userId, totp, { code });
      const { codes, hashes } = newRecoveryCodes(userId);
      const done =
        claim &&
        (await withClaim(claim, async (tx) => {
          await mfaRepo.replaceRecoveryCodes(tx, userId, hashes);
          await repo.appendAudit(tx, {
            action: 'mfa.recovery_codes_regenerated',
            actorId: userId,
            subjectId: userId,
            ...meta,
          });
          await notify(
            tx,
            user,
            'New recovery codes for your account',
            'New two-factor recovery codes were created for your Lectern account; the previous ones no longer work.',
          );
        }));
      if (!done) {
        await signIn.recordFailure(MANAGE_SCOPE, user.email);
        throw new ValidationError('Invalid input data', [
          { field: 'body.code', message: 'Invalid or already used code' },
        ]);
      }
      await signIn.clearFailures(MANAGE_SCOPE, user.email);
      return { recoveryCodes: codes, message: 'New recovery codes generated' };
    },

    /**
     * Completes a sign-in challenged for the second factor. Every failure answers the same 401; a
     * challenge dies after 5 wrong codes, the account locks out progressively, and a TOTP code or
     * recovery code is accepted once only.
     */
    async verify(input: FactorInput & { mfaToken: string }, meta: RequestMeta): Promise<IssuedTokens> {
      const token = await repo.findLiveOneTimeToken(db, MFA_LOGIN_PURPOSE, sha256Hex(input.mfaToken));
      const user = token?.userId ? await repo.findUserById(db, token.userId) : undefined;
      if (!token || !user || token.attempts >= MFA_MAX_ATTEMPTS) throw new Unauthorized(INVALID_LOGIN_CODE);
      await signIn.assertNotLocked(LOGIN_SCOPE, user.email);
      const factor = input.code !== undefined ? 'totp' : 'recovery_code';
      const audit = (target: DbOrTx, success: boolean) =>
        repo.appendAudit(target, {
          action: success ? 'login.mfa_succeeded' : 'login.mfa_failed',
          ...(success ? { actorId: user.id } : {}),
          subjectId: user.id,
          ...meta,
          success,
          detail: `${String(token.meta.method ?? 'unknown')}, ${factor}`,
        });

      const totp = await mfaRepo.findTotp(db, user.id);
      const claim = totp?.enabledAt ? await checkFactor(user.id, totp, input) : null;
      if (claim && (user.status !== 'active' || user.deletedAt)) {
        await repo.appendAudit(db, {
          action: 'login.refused_disabled',
          subjectId: user.id,
          ...meta,
          success: false,
          detail: 'mfa',
        });
        throw new Forbidden('Account disabled');
      }
      const accepted =
        claim &&
        (await withClaim(
          // The challenge first: of parallel verifies of one challenge, exactly one proceeds.
          async (tx) => (await repo.consumeOneTimeToken(tx, token.id)) && (await claim(tx)),
          async (tx) => {
            await audit(tx, true);
            if (factor === 'recovery_code') {
              const left = await mfaRepo.countUnusedRecoveryCodes(tx, user.id);
              await notify(
                tx,
                user,
                'A recovery code was used to sign in',
                `Someone signed in to your Lectern account with one of your two-factor recovery codes. ${left} unused recovery code(s) remain.`,
              );
            }
          },
        ));
      if (!accepted) {
        // A right factor that lost a race (a double submit) is no guess: only wrong ones count.
        if (!claim) {
          if ((await repo.recordOneTimeTokenAttempt(db, token.id)) >= MFA_MAX_ATTEMPTS) {
            await repo.consumeOneTimeToken(db, token.id);
          }
          await signIn.recordFailure(LOGIN_SCOPE, user.email);
        }
        await audit(db, false);
        throw new Unauthorized(INVALID_LOGIN_CODE);
      }
      await signIn.clearFailures(LOGIN_SCOPE, user.email);
      return signIn.issueSession(user.id, user.role, meta);
    },
  };
}
export type Mfa = ReturnType<typeof createMfa>;
