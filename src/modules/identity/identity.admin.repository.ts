import { and, desc, eq, gte, ilike, isNotNull, isNull, like, lt, or, sql, type SQL } from 'drizzle-orm';
import type { DbOrTx } from '../../platform/db.ts';
import type { Role } from '../../platform/http/auth.ts';
import { auditLog, sessions, users } from './identity.tables.ts';

export type AdminStatusFilter = 'active' | 'suspended' | 'deleted';

/** `%`, `_` and `\` match themselves in a LIKE pattern built from user input. */
const likeEscape = (s: string) => s.replace(/[\\%_]/g, (c) => `\\${c}`);

const statusCondition: Record<AdminStatusFilter, SQL | undefined> = {
  active: and(eq(users.status, 'active'), isNull(users.deletedAt)),
  suspended: and(eq(users.status, 'disabled'), isNull(users.deletedAt)),
  deleted: isNotNull(users.deletedAt),
};

const adminUserColumns = {
  id: users.id,
  email: users.email,
  username: users.username,
  name: users.name,
  role: users.role,
  status: users.status,
  deletedAt: users.deletedAt,
  emailVerifiedAt: users.emailVerifiedAt,
  hasPassword: sql<boolean>`${users.passwordHash} is not null`.mapWith(Boolean),
  createdAt: users.createdAt,
  // Qualified by hand: drizzle leaves columns unqualified in single-table selects, which would
  // make `user_id = id` compare against the subquery's own table.
  lastLoginAt:
    sql<Date | null>`(select max(s.created_at) from ${sessions} as s where s.user_id = ${users}.id)`.mapWith(
      sessions.createdAt,
    ),
};

/** Users newest first, filtered, one keyset page (`limit + 1` rows, so the caller sees whether more follow). */
export async function listUsersPage(
  db: DbOrTx,
  params: { q?: string; role?: Role; status?: AdminStatusFilter; limit: number; beforeId?: number },
) {
  const pattern = params.q === undefined ? undefined : `%${likeEscape(params.q)}%`;
  return db
    .select(adminUserColumns)
    .from(users)
    .where(
      and(
        pattern === undefined
          ? undefined
          : or(ilike(users.name, pattern), ilike(users.email, pattern), ilike(users.username, pattern)),
        params.role === undefined ? undefined : eq(users.role, params.role),
        params.status === undefined ? undefined : statusCondition[params.status],
        params.beforeId === undefined ? undefined : lt(users.id, params.beforeId),
      ),
    )
    .orderBy(desc(users.id))
    .limit(params.limit + 1);
}

export type AdminUserRow = Awaited<ReturnType<typeof listUsersPage>>[number];

export async function findAdminUser(db: DbOrTx, id: number): Promise<AdminUserRow | undefined> {
  const [row] = await db.select(adminUserColumns).from(users).where(eq(users.id, id));
  return row;
}

/**
 * Locks every active admin (in id order, so concurrent callers queue instead of deadlocking) and
 * returns their ids. A transaction that changes an admin takes this first: two demotions of the
 * last two admins then run one after the other and the second sees only one admin left.
 */
export async function lockActiveAdminIds(db: DbOrTx): Promise<number[]> {
  const rows = await db
    .select({ id: users.id })
    .from(users)
    .where(and(eq(users.role, 'admin'), eq(users.status, 'active'), isNull(users.deletedAt)))
    .orderBy(users.id)
    .for('update');
  return rows.map((r) => r.id);
}

/** The user row, locked for the rest of the transaction. */
export async function lockUser(db: DbOrTx, id: number) {
  const [row] = await db.select().from(users).where(eq(users.id, id)).for('update');
  return row;
}

export async function updateRoleAndStatus(
  db: DbOrTx,
  id: number,
  patch: { role?: Role; status?: 'active' | 'disabled' },
): Promise<void> {
  await db
    .update(users)
    .set({ ...patch, updatedAt: sql`now()` })
    .where(eq(users.id, id));
}

/** Audit rows newest first, filtered, one keyset page of `limit + 1` rows. */
export async function listAuditPage(
  db: DbOrTx,
  params: {
    actorId?: number;
    subjectId?: number;
    action?: string;
    success?: boolean;
    from?: Date;
    to?: Date;
    limit: number;
    beforeId?: number;
  },
) {
  const { action } = params;
  return db
    .select({
      id: auditLog.id,
      action: auditLog.action,
      actorId: auditLog.actorId,
      subjectId: auditLog.subjectId,
      ip: auditLog.ip,
      userAgent: auditLog.userAgent,
      requestId: auditLog.requestId,
      success: auditLog.success,
      detail: auditLog.detail,
      createdAt: auditLog.createdAt,
    })
    .from(auditLog)
    .where(
      and(
        params.actorId === undefined ? undefined : eq(auditLog.actorId, params.actorId),
        params.subjectId === undefined ? undefined : eq(auditLog.subjectId, params.subjectId),
        action === undefined
          ? undefined
          : action.endsWith('.')
            ? like(auditLog.action, `${likeEscape(action)}%`)
            : eq(auditLog.action, action),
        params.success === undefined ? undefined : eq(auditLog.success, params.success),
        params.from === undefined ? undefined : gte(auditLog.createdAt, params.from),
        params.to === undefined ? undefined : lt(auditLog.createdAt, params.to),
        params.beforeId === undefined ? undefined : lt(auditLog.id, params.beforeId),
      ),
    )
    .orderBy(desc(auditLog.id))
    .limit(params.limit + 1);
}
