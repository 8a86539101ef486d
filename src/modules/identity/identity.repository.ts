import { and, desc, eq, gt, isNull, ne, sql } from 'drizzle-orm';
import { sha256Hex } from '../../platform/crypto.ts';
import type { DbOrTx } from '../../platform/db.ts';
import type { Role } from '../../platform/http/auth.ts';
import {
  auditLog,
  mfaRecoveryCodes,
  mfaTotp,
  oneTimeTokens,
  refreshTokens,
  sessions,
  userAccounts,
  users,
} from './identity.tables.ts';

export type UserRow = typeof users.$inferSelect;

/** Active administrators' contact details, for operational alerts. */
export async function listAdminContacts(db: DbOrTx) {
  return db
    .select({ userId: users.id, email: users.email, name: users.name })
    .from(users)
    .where(and(eq(users.role, 'admin'), eq(users.status, 'active'), isNull(users.deletedAt)))
    .orderBy(users.id);
}

export async function findUserById(db: DbOrTx, id: number): Promise<UserRow | undefined> {
  const [row] = await db.select().from(users).where(eq(users.id, id));
  return row;
}

export async function findUserByEmail(db: DbOrTx, email: string): Promise<UserRow | undefined> {
  const [row] = await db
    .select()
    .from(users)
    .where(sql`lower(${users.email}) = ${email.toLowerCase()}`);
  return row;
}

export async function usernameExists(db: DbOrTx, username: string): Promise<boolean> {
  const [row] = await db
    .select({ id: users.id })
    .from(users)
    .where(sql`lower(${users.username}) = ${username.toLowerCase()}`);
  return Boolean(row);
}

export async function insertUser(
  db: DbOrTx,
  values: {
    email: string;
    username: string;
    passwordHash: string | null;
    name: string;
    role: Role;
    phone?: string;
    avatarUrl?: string;
    emailVerifiedAt?: Date | null;
  },
): Promise<UserRow> {
  const [row] = await db.insert(users).values(values).returning();
  return row!;
}

export async function updateUserProfile(
  db: DbOrTx,
  id: number,
  patch: {
    name?: string;
    avatarUrl?: string | null;
    avatarKey?: string | null;
    phone?: string | null;
    bio?: string | null;
    locale?: string | null;
    timezone?: string | null;
  },
): Promise<boolean> {
  const rows = await db
    .update(users)
    .set({ ...patch, updatedAt: sql`now()` })
    .where(eq(users.id, id))
    .returning({ id: users.id });
  return rows.length > 0;
}

export async function insertSession(
  db: DbOrTx,
  values: { userId: number; userAgent?: string; ip?: string; expiresAt: Date },
): Promise<number> {
  const [row] = await db.insert(sessions).values(values).returning({ id: sessions.id });
  return row!.id;
}

/** A session that is neither revoked nor expired, with its user's current role and status. */
export async function findLiveSession(db: DbOrTx, sessionId: number) {
  const [row] = await db
    .select({ sessionId: sessions.id, userId: users.id, role: users.role, status: users.status })
    .from(sessions)
    .innerJoin(users, eq(users.id, sessions.userId))
    .where(and(eq(sessions.id, sessionId), isNull(sessions.revokedAt), gt(sessions.expiresAt, sql`now()`)));
  return row;
}

export async function touchSession(
  db: DbOrTx,
  sessionId: number,
  values: { expiresAt: Date; ip?: string; userAgent?: string },
): Promise<void> {
  await db
    .update(sessions)
    .set({ lastUsedAt: sql`now()`, ...values })
    .where(eq(sessions.id, sessionId));
}

/** Revokes a live session; returns false if it was already revoked. */
export async function revokeSession(db: DbOrTx, sessionId: number, reason: string): Promise<boolean> {
  const rows = await db
    .update(sessions)
    .set({ revokedAt: sql`now()`, revokedReason: reason })
    .where(and(eq(sessions.id, sessionId), isNull(sessions.revokedAt)))
    .returning({ id: sessions.id });
  return rows.length > 0;
}

export async function insertRefreshToken(db: DbOrTx, sessionId: number, tokenHash: string): Promise<void> {
  await db.insert(refreshTokens).values({ sessionId, tokenHash });
}

/**
 * Marks an unused refresh token used and returns its session. Atomic: of two concurrent
 * presentations of one token, exactly one wins; the other sees reuse.
 */
export async function consumeRefreshToken(db: DbOrTx, tokenHash: string): Promise<number | undefined> {
  const [row] = await db
    .update(refreshTokens)
    .set({ usedAt: sql`now()` })
    .where(and(eq(refreshTokens.tokenHash, tokenHash), isNull(refreshTokens.usedAt)))
    .returning({ sessionId: refreshTokens.sessionId });
  return row?.sessionId;
}

export async function findRefreshToken(db: DbOrTx, tokenHash: string) {
  const [row] = await db
    .select({ sessionId: refreshTokens.sessionId, usedAt: refreshTokens.usedAt })
    .from(refreshTokens)
    .where(eq(refreshTokens.tokenHash, tokenHash));
  return row;
}

export interface AuditEntry {
  action: string;
  actorId?: number | null;
  subjectId?: number | null;
  ip?: string;
  userAgent?: string;
  requestId?: string;
  success?: boolean;
  detail?: string;
}

const AUDIT_CHAIN_LOCK = 7_263_115_002;

/** The canonical text a row's hash covers: its predecessor's hash and every field but the id. */
/** The fields of an audit row that its hash covers, as stored (absent values are null). */
export interface AuditHashedFields {
  action: string;
  actorId: number | null;
  subjectId: number | null;
  ip: string | null;
  userAgent: string | null;
  requestId: string | null;
  success: boolean;
  detail: string | null;
  createdAt: Date;
}

export function auditHashInput(prevHash: string | null, row: AuditHashedFields) {
  return JSON.stringify([
    prevHash ?? '',
    row.action,
    row.actorId,
    row.subjectId,
    row.ip,
    row.userAgent,
    row.requestId,
    row.success,
    row.detail,
    row.createdAt.toISOString(),
  ]);
}

/**
 * Appends an audit row chained to the previous one. The advisory lock serialises writers so the
 * chain has no forks; it is held only until the surrounding transaction ends.
 */
export async function appendAudit(db: DbOrTx, entry: AuditEntry): Promise<void> {
  await db.transaction(async (tx) => {
    await tx.execute(sql`select pg_advisory_xact_lock(${AUDIT_CHAIN_LOCK})`);
    const [last] = await tx
      .select({ hash: auditLog.hash })
      .from(auditLog)
      .orderBy(desc(auditLog.id))
      .limit(1);
    const row = {
      action: entry.action,
      actorId: entry.actorId ?? null,
      subjectId: entry.subjectId ?? null,
      ip: entry.ip ?? null,
      userAgent: entry.userAgent?.slice(0, 512) ?? null,
      requestId: entry.requestId ?? null,
      success: entry.success ?? true,
      detail: entry.detail ?? null,
      // Millisecond precision, so the stored timestamp hashes the same when read back.
      createdAt: new Date(),
    };
    const prevHash = last?.hash ?? null;
    const hash = sha256Hex(auditHashInput(prevHash, row));
    await tx.insert(auditLog).values({ ...row, prevHash, hash });
  });
}

export type AuditRow = typeof auditLog.$inferSelect;

/** Audit rows in id order from `afterId`, for chain verification in batches. */
export async function listAuditBatch(db: DbOrTx, afterId: number, limit: number): Promise<AuditRow[]> {
  return db.select().from(auditLog).where(gt(auditLog.id, afterId)).orderBy(auditLog.id).limit(limit);
}

export async function listAudit(db: DbOrTx, subjectId: number) {
  return db.select().from(auditLog).where(eq(auditLog.subjectId, subjectId)).orderBy(auditLog.id);
}

// One-time tokens -----------------------------------------------------------------------------

export type OneTimeTokenRow = typeof oneTimeTokens.$inferSelect;

/**
 * Stores a new one-time token. With `replace`, the user's earlier unused tokens of the same
 * purpose stop working (a new OTP request invalidates the old code).
 */
export async function insertOneTimeToken(
  db: DbOrTx,
  values: {
    userId: number | null;
    purpose: string;
    tokenHash: string;
    ttlSeconds: number;
    meta?: Record<string, unknown>;
    replace?: boolean;
  },
): Promise<OneTimeTokenRow> {
  if (values.replace && values.userId !== null)
    await invalidateOneTimeTokens(db, values.userId, values.purpose);
  const [row] = await db
    .insert(oneTimeTokens)
    .values({
      userId: values.userId,
      purpose: values.purpose,
      tokenHash: values.tokenHash,
      meta: values.meta ?? {},
      expiresAt: sql`now() + make_interval(secs => ${values.ttlSeconds})`,
    })
    .returning();
  return row!;
}

/** Tokens of `purpose` that are neither used nor expired. */
const liveToken = (purpose: string) =>
  and(
    eq(oneTimeTokens.purpose, purpose),
    isNull(oneTimeTokens.usedAt),
    gt(oneTimeTokens.expiresAt, sql`now()`),
  );

/** The unused, unexpired token of `purpose` with this hash. */
export async function findLiveOneTimeToken(
  db: DbOrTx,
  purpose: string,
  tokenHash: string,
): Promise<OneTimeTokenRow | undefined> {
  const [row] = await db
    .select()
    .from(oneTimeTokens)
    .where(and(liveToken(purpose), eq(oneTimeTokens.tokenHash, tokenHash)));
  return row;
}

/** The user's newest unused, unexpired token of `purpose` (for codes compared per user, like OTPs). */
export async function findLatestLiveOneTimeToken(
  db: DbOrTx,
  userId: number,
  purpose: string,
): Promise<OneTimeTokenRow | undefined> {
  const [row] = await db
    .select()
    .from(oneTimeTokens)
    .where(and(liveToken(purpose), eq(oneTimeTokens.userId, userId)))
    .orderBy(desc(oneTimeTokens.id))
    .limit(1);
  return row;
}

/** Marks a token used. Atomic: of concurrent consumers exactly one gets `true`. */
export async function consumeOneTimeToken(db: DbOrTx, id: number): Promise<boolean> {
  const rows = await db
    .update(oneTimeTokens)
    .set({ usedAt: sql`now()` })
    .where(
      and(eq(oneTimeTokens.id, id), isNull(oneTimeTokens.usedAt), gt(oneTimeTokens.expiresAt, sql`now()`)),
    )
    .returning({ id: oneTimeTokens.id });
  return rows.length > 0;
}

/** Counts a wrong guess against a token and returns the new attempt count. */
export async function recordOneTimeTokenAttempt(db: DbOrTx, id: number): Promise<number> {
  const [row] = await db
    .update(oneTimeTokens)
    .set({ attempts: sql`${oneTimeTokens.attempts} + 1` })
    .where(eq(oneTimeTokens.id, id))
    .returning({ attempts: oneTimeTokens.attempts });
  return row?.attempts ?? 0;
}

export async function invalidateOneTimeTokens(db: DbOrTx, userId: number, purpose: string): Promise<void> {
  await db
    .update(oneTimeTokens)
    .set({ usedAt: sql`now()` })
    .where(
      and(eq(oneTimeTokens.userId, userId), eq(oneTimeTokens.purpose, purpose), isNull(oneTimeTokens.usedAt)),
    );
}

// Sessions ------------------------------------------------------------------------------------

export async function listLiveSessions(db: DbOrTx, userId: number) {
  return db
    .select()
    .from(sessions)
    .where(and(eq(sessions.userId, userId), isNull(sessions.revokedAt), gt(sessions.expiresAt, sql`now()`)))
    .orderBy(desc(sessions.lastUsedAt));
}

export async function findSession(db: DbOrTx, sessionId: number) {
  const [row] = await db.select().from(sessions).where(eq(sessions.id, sessionId));
  return row;
}

/** Revokes every live session of a user except `keep`; returns the revoked ids (to evict from cache). */
export async function revokeUserSessions(
  db: DbOrTx,
  userId: number,
  reason: string,
  keep?: number,
): Promise<number[]> {
  const rows = await db
    .update(sessions)
    .set({ revokedAt: sql`now()`, revokedReason: reason })
    .where(
      and(
        eq(sessions.userId, userId),
        isNull(sessions.revokedAt),
        keep === undefined ? undefined : ne(sessions.id, keep),
      ),
    )
    .returning({ id: sessions.id });
  return rows.map((r) => r.id);
}

export async function updatePasswordHash(db: DbOrTx, userId: number, passwordHash: string): Promise<void> {
  await db
    .update(users)
    .set({ passwordHash, passwordChangedAt: sql`now()`, updatedAt: sql`now()` })
    .where(eq(users.id, userId));
}

export async function markEmailVerified(db: DbOrTx, userId: number): Promise<void> {
  await db
    .update(users)
    .set({ emailVerifiedAt: sql`coalesce(${users.emailVerifiedAt}, now())`, updatedAt: sql`now()` })
    .where(eq(users.id, userId));
}

/**
 * Erases a user's personal data in place: the row stays (payments and audit refer to it) but
 * nothing in it identifies the person any more; credentials, second factors, linked accounts and
 * pending tokens are deleted.
 */
export async function anonymiseUser(db: DbOrTx, userId: number): Promise<void> {
  await db.delete(mfaTotp).where(eq(mfaTotp.userId, userId));
  await db.delete(mfaRecoveryCodes).where(eq(mfaRecoveryCodes.userId, userId));
  await db.delete(userAccounts).where(eq(userAccounts.userId, userId));
  await db.delete(oneTimeTokens).where(eq(oneTimeTokens.userId, userId));
  await db
    .update(users)
    .set({
      email: `deleted-${userId}@deleted.invalid`,
      username: `deleted_${userId}`,
      name: 'Deleted user',
      phone: null,
      passwordHash: null,
      avatarUrl: null,
      avatarKey: null,
      bio: null,
      locale: null,
      timezone: null,
      status: 'disabled',
      deletedAt: sql`now()`,
      updatedAt: sql`now()`,
    })
    .where(eq(users.id, userId));
}
