import { verify as verifyTotp } from 'otplib';
import type { Sealer } from '../../platform/crypto.ts';
import type { Db } from '../../platform/db.ts';
import {
  Conflict,
  NotFound,
  TooManyRequests,
  ValidationError,
  type ErrorDetail,
} from '../../platform/errors.ts';
import type { Events } from '../../platform/events.ts';
import type { Jobs } from '../../platform/jobs.ts';
import type { Logger } from '../../platform/logger.ts';
import type { Mailer, MailMessage } from '../../platform/mail.ts';
import type { Storage } from '../../platform/storage.ts';
import { verifyPassword } from './identity.credentials.ts';
import * as privacyRepo from './identity.privacy.repository.ts';
import * as repo from './identity.repository.ts';
import { USER_ERASED, type IdentityService, type UserErased } from './identity.service.ts';
import { describeDevice } from './identity.sessions.routes.ts';
import type { RequestMeta, SignIn } from './identity.signin.ts';

export const BUILD_EXPORT_JOB = 'identity.buildDataExport';
export const EXPIRE_EXPORT_JOB = 'identity.expireDataExport';
const BUILD_RETRY_LIMIT = 5;
/** The emailed link and the archive behind it live this long; then the archive is deleted. */
export const EXPORT_LINK_SECONDS = 7 * 86_400;
const EXPORTS_PER_DAY = 3;
const DAY_SECONDS = 86_400;

/**
 * Supplies one section of a user's data export: everything a module holds about `userId`, as
 * plain JSON-serialisable data, never secrets (password hashes, TOTP seeds, token hashes, card data).
 */
export type ExportContributor = (userId: number) => Promise<unknown>;

export interface PrivacyServiceDeps {
  db: Db;
  jobs: Pick<Jobs, 'define' | 'send'>;
  events: Pick<Events, 'subscribe'>;
  storage: Pick<Storage, 'newKey' | 'put' | 'delete' | 'signedUrl'>;
  mailer: Pick<Mailer, 'send'>;
  sealer: Pick<Sealer, 'open'>;
  signIn: Pick<SignIn, 'assertNotLocked' | 'recordFailure' | 'clearFailures'>;
  identity: Pick<IdentityService, 'eraseAccount'>;
  logger: Pick<Logger, 'warn'>;
}

const escapeHtml = (s: string) =>
  s.replace(/[&<>"']/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' })[c]!);

/** "Your data export is ready" with the signed download link. */
export function exportReadyEmail(to: string, name: string, link: string): MailMessage {
  const paragraphs = [
    `Hello ${name},`,
    'The copy of your personal data you asked for is ready. The download link below works for 7 days; after that the archive is deleted and you can ask for a new one.',
    'If you did not ask for this export, change your password and review your signed-in devices.',
  ];
  return {
    to,
    subject: 'Your Lectern data export is ready',
    text: `${[...paragraphs, `Download my data: ${link}`].join('\n\n')}\n`,
    html: [
      ...paragraphs.map((p) => `<p>${escapeHtml(p)}</p>`),
      `<p><a href="${escapeHtml(link)}">Download my data</a></p>`,
    ].join('\n'),
  };
}

/**
 * Privacy requests (GDPR, seed 003): personal-data exports and self-service erasure.
 *
 * Exports are built by the `identity.buildDataExport` job from a registry of contributors, one per
 * module: `registerExportContributor('commerce', (userId) => …)` adds a `commerce` section to every
 * archive built afterwards. Identity's own section is registered first. Register while modules are
 * built; a contributor that throws fails the attempt and the job retries.
 *
 * Defines its jobs and its `identity.user.erased` consumer, so call it before jobs start.
 */
export function createPrivacyService(deps: PrivacyServiceDeps) {
  const { db, jobs, storage, mailer, signIn, logger } = deps;
  const contributors = new Map<string, ExportContributor>();

  function registerExportContributor(name: string, contributor: ExportContributor) {
    if (contributors.has(name)) throw new Error(`Export contributor ${name} is registered twice`);
    contributors.set(name, contributor);
  }

  // Identity's section: the account, devices, linked providers, second-factor status, audit trail.
  registerExportContributor('identity', async (userId) => {
    const user = await repo.findUserById(db, userId);
    if (!user) return null;
    const [sessions, linkedAccounts, mfa, auditLog, exports] = await Promise.all([
      privacyRepo.listAllSessions(db, userId),
      privacyRepo.listLinkedAccounts(db, userId),
      privacyRepo.mfaStatus(db, userId),
      privacyRepo.listAuditAbout(db, userId),
      privacyRepo.listUserExports(db, userId, { limit: 1000 }),
    ]);
    return {
      profile: {
        userId: user.id,
        username: user.username,
        email: user.email,
        name: user.name,
        phone: user.phone,
        bio: user.bio,
        avatarUrl: user.avatarUrl,
        role: user.role,
        status: user.status,
        locale: user.locale,
        timezone: user.timezone,
        hasPassword: user.passwordHash !== null,
        emailVerifiedAt: user.emailVerifiedAt,
        passwordChangedAt: user.passwordChangedAt,
        createdAt: user.createdAt,
        updatedAt: user.updatedAt,
      },
      sessions: sessions.map((s) => ({ ...s, device: describeDevice(s.userAgent) })),
      linkedAccounts,
      twoFactor: {
        totpEnabled: mfa.enabledAt !== null,
        enabledAt: mfa.enabledAt,
        unusedRecoveryCodes: mfa.unusedRecoveryCodes,
      },
      // Where someone else (an admin) acted on the user, their IP and browser are theirs, not the user's.
      auditLog: auditLog.map((a) =>
        a.actorId !== null && a.actorId !== userId ? { ...a, ip: null, userAgent: null } : a,
      ),
      dataExports: exports.map((e) => ({
        exportId: e.id,
        status: e.status,
        createdAt: e.createdAt,
        completedAt: e.completedAt,
      })),
    };
  });

  async function deleteObject(key: string) {
    await storage.delete(key).catch((err: unknown) => logger.warn({ err, key }, 'could not delete export'));
  }

  async function buildExport({ exportId }: { exportId: number }, job: { retryCount: number }) {
    const row = await privacyRepo.findDataExport(db, exportId);
    if (!row || row.status !== 'pending') return;
    const user = await repo.findUserById(db, row.userId);
    if (!user || user.deletedAt) {
      await privacyRepo.markExportFailed(db, exportId);
      return;
    }
    let key: string | undefined;
    try {
      const sections: Record<string, unknown> = {};
      for (const [name, contribute] of contributors) sections[name] = await contribute(user.id);
      const archive = {
        format: 'lectern-data-export',
        version: 1,
        exportId,
        userId: user.id,
        generatedAt: new Date().toISOString(),
        sections,
      };
      key = storage.newKey('exports', '.json');
      await storage.put(key, Buffer.from(JSON.stringify(archive, null, 2)), {
        contentType: 'application/json',
      });
      const link = await storage.signedUrl(key, {
        expiresInSeconds: EXPORT_LINK_SECONDS,
        downloadName: 'lectern-data-export.json',
      });
      const storedKey = key;
      const delivered = await db.transaction(async (tx) => {
        if (!(await privacyRepo.markExportReady(tx, exportId, storedKey))) return false;
        await mailer.send(
          { ...exportReadyEmail(user.email, user.name, link), idempotencyKey: `data-export:${exportId}` },
          { tx },
        );
        await jobs.send(
          EXPIRE_EXPORT_JOB,
          { exportId },
          { tx, startAfter: new Date(Date.now() + EXPORT_LINK_SECONDS * 1000) },
        );
        await repo.appendAudit(tx, {
          action: 'privacy.export_ready',
          subjectId: user.id,
          detail: `export ${exportId}`,
        });
        return true;
      });
      // Purged (account erased) or built by a concurrent attempt meanwhile: this copy must not linger.
      if (!delivered) await deleteObject(storedKey);
    } catch (err) {
      if (key) await deleteObject(key);
      if (job.retryCount >= BUILD_RETRY_LIMIT) await privacyRepo.markExportFailed(db, exportId);
      throw err;
    }
  }

  async function expireExport({ exportId }: { exportId: number }) {
    const key = await db.transaction((tx) => privacyRepo.markExportExpired(tx, exportId));
    if (key) await storage.delete(key);
  }

  jobs.define<{ exportId: number }>({
    name: BUILD_EXPORT_JOB,
    handler: buildExport,
    retryLimit: BUILD_RETRY_LIMIT,
  });
  jobs.define<{ exportId: number }>({ name: EXPIRE_EXPORT_JOB, handler: expireExport, retryLimit: 10 });

  // Archives are personal data: whoever erased the account (the user or an admin), they go too.
  deps.events.subscribe<UserErased>({
    event: USER_ERASED,
    consumer: 'identity.purgeDataExports',
    handle: async (event, tx) => {
      const keys = await privacyRepo.deleteUserExports(tx, event.payload.userId);
      // Deleting a missing object succeeds, so a retry after a failed commit is harmless.
      for (const key of keys) await storage.delete(key);
    },
  });

  /** Whether `code` is the current TOTP code (±1 step) of a sealed secret, and not a replay. */
  async function totpMatches(totp: { secretEncrypted: string; lastUsedStep: number | null }, code: string) {
    try {
      const result = await verifyTotp({
        secret: deps.sealer.open(totp.secretEncrypted),
        token: code,
        epochTolerance: 30,
        ...(totp.lastUsedStep !== null ? { afterTimeStep: totp.lastUsedStep } : {}),
      });
      return result.valid;
    } catch {
      return false;
    }
  }

  return {
    registerExportContributor,

    /** Starts a data export: one pending at a time and at most 3 a day per user. */
    async requestExport(userId: number, meta: RequestMeta) {
      const created = await db.transaction(async (tx) => {
        // Serialises this user's requests so the limits below hold under concurrency.
        if (!(await privacyRepo.lockUser(tx, userId))) throw new NotFound('User not found');
        if ((await privacyRepo.countPendingExports(tx, userId)) > 0) {
          throw new Conflict(
            'An export is already being prepared; you will receive an email when it is ready',
          );
        }
        const recent = await privacyRepo.exportsSince(tx, userId, DAY_SECONDS);
        if (recent.count >= EXPORTS_PER_DAY) {
          const retryAfter = recent.oldest
            ? (recent.oldest.getTime() + DAY_SECONDS * 1000 - Date.now()) / 1000
            : DAY_SECONDS;
          throw new TooManyRequests(retryAfter, `At most ${EXPORTS_PER_DAY} data exports per day`);
        }
        const row = await privacyRepo.insertDataExport(tx, userId);
        await jobs.send(BUILD_EXPORT_JOB, { exportId: row.id }, { tx });
        await repo.appendAudit(tx, {
          action: 'privacy.export_requested',
          actorId: userId,
          subjectId: userId,
          ...meta,
          detail: `export ${row.id}`,
        });
        return row;
      });
      return {
        exportId: created.id,
        status: 'pending' as const,
        message: 'Your data export is being prepared; we will email you a download link',
      };
    },

    /** The caller's exports, newest first. */
    async listExports(userId: number, page: { limit: number; cursor?: number }) {
      const rows = await privacyRepo.listUserExports(db, userId, {
        limit: page.limit + 1,
        beforeId: page.cursor,
      });
      const items = rows.slice(0, page.limit).map((r) => ({
        exportId: r.id,
        status: r.status as privacyRepo.DataExportStatus,
        createdAt: r.createdAt.toISOString(),
        completedAt: r.completedAt?.toISOString() ?? null,
      }));
      const hasMore = rows.length > page.limit;
      return { items, pageInfo: { nextCursor: hasMore ? String(items.at(-1)!.exportId) : null, hasMore } };
    },

    /**
     * Erases the caller's account after re-checking who they are: the password when the account
     * has one, and a TOTP code when an authenticator is enabled. Wrong answers count towards a
     * lockout, like sign-in.
     */
    async eraseMe(userId: number, proof: { password?: string; code?: string }, meta: RequestMeta) {
      const user = await repo.findUserById(db, userId);
      if (!user || user.deletedAt) throw new NotFound('User not found');
      const lockId = `user:${userId}`;
      await signIn.assertNotLocked('erase', lockId);
      const totp = await privacyRepo.findEnabledTotp(db, userId);
      if (!user.passwordHash && !totp) {
        throw new ValidationError('Invalid input data', [
          {
            field: 'body.password',
            message:
              'This account has no password to confirm with: set one with “Forgot password” or turn on two-factor authentication first',
          },
        ]);
      }
      const missing: ErrorDetail[] = [];
      if (user.passwordHash && !proof.password) missing.push({ field: 'body.password', message: 'Required' });
      if (totp && !proof.code)
        missing.push({ field: 'body.code', message: 'Required: your authenticator code' });
      if (missing.length) throw new ValidationError('Invalid input data', missing);

      const wrong: ErrorDetail[] = [];
      if (user.passwordHash && !(await verifyPassword(user.passwordHash, proof.password!))) {
        wrong.push({ field: 'body.password', message: 'Incorrect password' });
      }
      if (totp && !(await totpMatches(totp, proof.code!))) {
        wrong.push({ field: 'body.code', message: 'Invalid or expired code' });
      }
      if (wrong.length) {
        await signIn.recordFailure('erase', lockId);
        await repo.appendAudit(db, {
          action: 'user.erase_refused',
          actorId: userId,
          subjectId: userId,
          ...meta,
          success: false,
          detail: wrong.map((w) => w.field).join(', '),
        });
        throw new ValidationError('Could not confirm it is you', wrong);
      }
      await signIn.clearFailures('erase', lockId);
      await deps.identity.eraseAccount(userId, 'self', { ...meta, actorId: userId });
      // Anonymising cleared the key; the image itself is personal data too.
      if (user.avatarKey) {
        await storage
          .delete(user.avatarKey)
          .catch((err: unknown) => logger.warn({ err }, 'could not delete avatar'));
      }
      return { message: 'Your account and personal data have been deleted' };
    },
  };
}
export type PrivacyService = ReturnType<typeof createPrivacyService>;
