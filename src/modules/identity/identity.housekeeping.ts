import { lt, or } from 'drizzle-orm';
import type { Db } from '../../platform/db.ts';
import type { Jobs } from '../../platform/jobs.ts';
import type { Logger } from '../../platform/logger.ts';
import { oneTimeTokens, sessions } from './identity.tables.ts';

export const PURGE_EXPIRED_CREDENTIALS_JOB = 'identity.purgeExpiredCredentials';

/**
 * How long expired or revoked rows stay before the daily purge deletes them. Until then a link
 * that arrives late still answers "expired" rather than "invalid", and a device list or an
 * investigation can still see a recently revoked session.
 */
export const CREDENTIAL_RETENTION_DAYS = 30;

/**
 * Deletes one-time tokens (verification and reset links, OTP codes, invitations, MFA challenges,
 * OAuth state) and sessions (with their refresh tokens, by cascade) that expired or were revoked
 * more than the retention period ago. None of them can authenticate anyone any more; the audit log
 * keeps the record of what happened.
 */
export async function purgeExpiredCredentials(db: Db, now = new Date()) {
  const cutoff = new Date(now.getTime() - CREDENTIAL_RETENTION_DAYS * 86_400_000);
  const tokens = await db
    .delete(oneTimeTokens)
    .where(lt(oneTimeTokens.expiresAt, cutoff))
    .returning({ id: oneTimeTokens.id });
  const ended = await db
    .delete(sessions)
    .where(or(lt(sessions.expiresAt, cutoff), lt(sessions.revokedAt, cutoff)))
    .returning({ id: sessions.id });
  return { oneTimeTokens: tokens.length, sessions: ended.length };
}

/** Runs the purge once a day (03:41 UTC). */
export function scheduleCredentialPurge({ db, jobs, logger }: { db: Db; jobs: Jobs; logger: Logger }) {
  jobs.define({
    name: PURGE_EXPIRED_CREDENTIALS_JOB,
    retryLimit: 2,
    handler: async () => {
      const purged = await purgeExpiredCredentials(db);
      if (purged.oneTimeTokens || purged.sessions) logger.info({ purged }, 'expired credentials purged');
    },
  });
  jobs.schedule(PURGE_EXPIRED_CREDENTIALS_JOB, '41 3 * * *');
}
