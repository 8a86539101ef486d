import { and, eq, gt, isNull, sql } from 'drizzle-orm';
import type { DbOrTx } from '../../platform/db.ts';
import type { Role } from '../../platform/http/auth.ts';
import { auditLog, refreshTokens, sessions, users } from './identity.tables.ts';

export type UserRow = typeof users.$inferSelect;

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
    passwordHash: string;
    name: string;
    role: Role;
    phone?: string;
    avatarUrl?: string;
  },
): Promise<UserRow> {
  const [row] = await db.insert(users).values(values).returning();
  return row!;
}

export async function updateUserProfile(
  db: DbOrTx,
  id: number,
  patch: { name?: string; avatarUrl?: string | null; phone?: string | null; bio?: string | null },
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

export async function insertAudit(
  db: DbOrTx,
  entry: {
    action: string;
    actorId?: number | null;
    subjectId?: number | null;
    ip?: string;
    success?: boolean;
    detail?: string;
  },
): Promise<void> {
  await db.insert(auditLog).values(entry);
}

export async function listAudit(db: DbOrTx, subjectId: number) {
  return db.select().from(auditLog).where(eq(auditLog.subjectId, subjectId)).orderBy(auditLog.id);
}
