import { and, count, desc, eq, gt, isNotNull, isNull, lt, min, or, sql } from 'drizzle-orm';
import type { DbOrTx } from '../../platform/db.ts';
import {
  auditLog,
  dataExports,
  mfaRecoveryCodes,
  mfaTotp,
  sessions,
  userAccounts,
  users,
} from './identity.tables.ts';

export type DataExportRow = typeof dataExports.$inferSelect;
export type DataExportStatus = 'pending' | 'ready' | 'failed' | 'expired';

/** Locks the user's row until the transaction ends, serialising that user's export requests. */
export async function lockUser(db: DbOrTx, userId: number): Promise<boolean> {
  const rows = await db.select({ id: users.id }).from(users).where(eq(users.id, userId)).for('update');
  return rows.length > 0;
}

export async function countPendingExports(db: DbOrTx, userId: number): Promise<number> {
  const [row] = await db
    .select({ n: count() })
    .from(dataExports)
    .where(and(eq(dataExports.userId, userId), eq(dataExports.status, 'pending')));
  return row?.n ?? 0;
}

/** How many exports the user requested in the last `seconds`, and when the oldest of them was. */
export async function exportsSince(db: DbOrTx, userId: number, seconds: number) {
  const [row] = await db
    .select({ n: count(), oldest: min(dataExports.createdAt) })
    .from(dataExports)
    .where(
      and(
        eq(dataExports.userId, userId),
        gt(dataExports.createdAt, sql`now() - make_interval(secs => ${seconds})`),
      ),
    );
  return { count: row?.n ?? 0, oldest: row?.oldest ?? null };
}

export async function insertDataExport(db: DbOrTx, userId: number): Promise<DataExportRow> {
  const [row] = await db.insert(dataExports).values({ userId, status: 'pending' }).returning();
  return row!;
}

export async function findDataExport(db: DbOrTx, id: number): Promise<DataExportRow | undefined> {
  const [row] = await db.select().from(dataExports).where(eq(dataExports.id, id));
  return row;
}

/** Marks a pending export ready; false when it is no longer pending (built already, or purged). */
export async function markExportReady(db: DbOrTx, id: number, storageKey: string): Promise<boolean> {
  const rows = await db
    .update(dataExports)
    .set({ status: 'ready', storageKey, completedAt: sql`now()` })
    .where(and(eq(dataExports.id, id), eq(dataExports.status, 'pending')))
    .returning({ id: dataExports.id });
  return rows.length > 0;
}

export async function markExportFailed(db: DbOrTx, id: number): Promise<void> {
  await db
    .update(dataExports)
    .set({ status: 'failed', completedAt: sql`now()` })
    .where(and(eq(dataExports.id, id), eq(dataExports.status, 'pending')));
}

/** Marks a ready export expired and returns the key of its archive, to delete. */
export async function markExportExpired(db: DbOrTx, id: number): Promise<string | null | undefined> {
  const [row] = await db
    .select({ storageKey: dataExports.storageKey })
    .from(dataExports)
    .where(and(eq(dataExports.id, id), eq(dataExports.status, 'ready')))
    .for('update');
  if (!row) return undefined;
  await db.update(dataExports).set({ status: 'expired', storageKey: null }).where(eq(dataExports.id, id));
  return row.storageKey;
}

/** A user's exports, newest first, keyset-paginated by id. */
export async function listUserExports(
  db: DbOrTx,
  userId: number,
  page: { limit: number; beforeId?: number },
): Promise<DataExportRow[]> {
  return db
    .select()
    .from(dataExports)
    .where(
      and(
        eq(dataExports.userId, userId),
        page.beforeId === undefined ? undefined : lt(dataExports.id, page.beforeId),
      ),
    )
    .orderBy(desc(dataExports.id))
    .limit(page.limit);
}

/** Deletes every export row of a user and returns the archive keys they pointed at. */
export async function deleteUserExports(db: DbOrTx, userId: number): Promise<string[]> {
  const rows = await db
    .delete(dataExports)
    .where(eq(dataExports.userId, userId))
    .returning({ storageKey: dataExports.storageKey });
  return rows.flatMap((r) => (r.storageKey ? [r.storageKey] : []));
}

// What the archive holds ----------------------------------------------------------------------

/** Every session of the user, revoked and expired ones included (they are personal data too). */
export async function listAllSessions(db: DbOrTx, userId: number) {
  return db
    .select({
      id: sessions.id,
      userAgent: sessions.userAgent,
      ip: sessions.ip,
      createdAt: sessions.createdAt,
      lastUsedAt: sessions.lastUsedAt,
      expiresAt: sessions.expiresAt,
      revokedAt: sessions.revokedAt,
      revokedReason: sessions.revokedReason,
    })
    .from(sessions)
    .where(eq(sessions.userId, userId))
    .orderBy(sessions.id);
}

/** Linked OAuth identities without their tokens. */
export async function listLinkedAccounts(db: DbOrTx, userId: number) {
  return db
    .select({
      provider: userAccounts.provider,
      providerUserId: userAccounts.providerUserId,
      email: userAccounts.email,
      createdAt: userAccounts.createdAt,
    })
    .from(userAccounts)
    .where(eq(userAccounts.userId, userId))
    .orderBy(userAccounts.id);
}

/** Whether an authenticator is enabled and how many recovery codes are unused; never the secret. */
export async function mfaStatus(db: DbOrTx, userId: number) {
  const [totp] = await db
    .select({ enabledAt: mfaTotp.enabledAt })
    .from(mfaTotp)
    .where(and(eq(mfaTotp.userId, userId), isNotNull(mfaTotp.enabledAt)));
  const [codes] = await db
    .select({ n: count() })
    .from(mfaRecoveryCodes)
    .where(and(eq(mfaRecoveryCodes.userId, userId), isNull(mfaRecoveryCodes.usedAt)));
  return { enabledAt: totp?.enabledAt ?? null, unusedRecoveryCodes: codes?.n ?? 0 };
}

/** Audit entries where the user acted or was acted on, without the chain's hashes. */
export async function listAuditAbout(db: DbOrTx, userId: number) {
  return db
    .select({
      id: auditLog.id,
      action: auditLog.action,
      actorId: auditLog.actorId,
      subjectId: auditLog.subjectId,
      ip: auditLog.ip,
      userAgent: auditLog.userAgent,
      success: auditLog.success,
      detail: auditLog.detail,
      createdAt: auditLog.createdAt,
    })
    .from(auditLog)
    .where(or(eq(auditLog.subjectId, userId), eq(auditLog.actorId, userId)))
    .orderBy(auditLog.id);
}

// Erasure confirmation ------------------------------------------------------------------------

/** The user's enabled authenticator (sealed secret, last used step), if any. */
export async function findEnabledTotp(db: DbOrTx, userId: number) {
  const [row] = await db
    .select({ secretEncrypted: mfaTotp.secretEncrypted, lastUsedStep: mfaTotp.lastUsedStep })
    .from(mfaTotp)
    .where(and(eq(mfaTotp.userId, userId), isNotNull(mfaTotp.enabledAt)));
  return row;
}
