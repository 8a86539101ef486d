import type { Db, DbOrTx } from '../../platform/db.ts';
import { Conflict, NotFound } from '../../platform/errors.ts';
import type { Principal, Role } from '../../platform/http/auth.ts';
import * as adminRepo from './identity.admin.repository.ts';
import { encodeIdCursor } from '../../platform/http/pagination.ts';
import type { Invitations } from './identity.invitations.service.ts';
import * as repo from './identity.repository.ts';
import type { IdentityService } from './identity.service.ts';
import type { RequestMeta, SignIn } from './identity.signin.ts';

export interface AdminUserDeps {
  db: Db;
  service: Pick<IdentityService, 'createUser' | 'eraseAccount'>;
  signIn: Pick<SignIn, 'revokeAllSessions' | 'evictSessions'>;
  invitations: Pick<Invitations, 'send'>;
}

type ApiStatus = 'active' | 'suspended' | 'deleted';

const statusOf = (u: { status: 'active' | 'disabled'; deletedAt: Date | null }): ApiStatus =>
  u.deletedAt ? 'deleted' : u.status === 'active' ? 'active' : 'suspended';

/** An anonymised account keeps its row, but nothing that looks like contact data is shown. */
function toItem(u: adminRepo.AdminUserRow) {
  const deleted = u.deletedAt !== null;
  return {
    userId: u.id,
    email: deleted ? null : u.email,
    username: deleted ? null : u.username,
    name: u.name,
    role: u.role,
    status: statusOf(u),
    isEmailVerified: u.emailVerifiedAt !== null,
    createdAt: u.createdAt.toISOString(),
    lastLoginAt: u.lastLoginAt ? u.lastLoginAt.toISOString() : null,
  };
}

const isActiveAdmin = (u: { role: Role; status: string; deletedAt: Date | null }) =>
  u.role === 'admin' && u.status === 'active' && !u.deletedAt;

const lastAdmin = () => new Conflict('Cannot remove the last admin');

/**
 * Locks the active admins, then the target user, for the rest of `tx`. Always in this order, so
 * concurrent admin changes queue behind each other instead of deadlocking.
 */
async function lockForChange(tx: DbOrTx, id: number) {
  const adminIds = await adminRepo.lockActiveAdminIds(tx);
  const user = await adminRepo.lockUser(tx, id);
  return { adminIds, user };
}

/** Refuses a change that would leave no active admin when `user` stops being one. */
function assertKeepsAnAdmin(adminIds: number[], user: repo.UserRow) {
  if (isActiveAdmin(user) && adminIds.filter((a) => a !== user.id).length === 0) throw lastAdmin();
}

/** Admin user management (seed 004): list, inspect, invite, change role or status, delete. */
export function createAdminUsers(deps: AdminUserDeps) {
  const { db, service, signIn, invitations } = deps;

  async function get(id: number) {
    const user = await adminRepo.findAdminUser(db, id);
    if (!user) throw new NotFound('User not found');
    const live = user.deletedAt ? [] : await repo.listLiveSessions(db, id);
    return { ...toItem(user), liveSessions: live.length, hasPassword: user.hasPassword };
  }

  return {
    /** Users newest first, searched and filtered, one keyset page. */
    async list(query: { q?: string; role?: Role; status?: ApiStatus; limit: number; cursor?: number }) {
      const rows = await adminRepo.listUsersPage(db, {
        q: query.q,
        role: query.role,
        status: query.status,
        limit: query.limit,
        beforeId: query.cursor,
      });
      const page = rows.slice(0, query.limit);
      const hasMore = rows.length > query.limit;
      return {
        items: page.map(toItem),
        pageInfo: { nextCursor: hasMore ? encodeIdCursor(page.at(-1)!.id) : null, hasMore },
      };
    },

    /** One user with their live-session count; deleted users too (status `deleted`, no email). */
    get,

    /**
     * Creates a password-less instructor or admin and emails an invitation to set a password.
     * The account is committed first; if mailing the invitation fails, re-send it.
     */
    async create(
      actor: Principal,
      input: { email: string; name: string; role: 'instructor' | 'admin' },
      meta: RequestMeta,
    ) {
      const user = await service.createUser(
        { email: input.email, name: input.name, role: input.role, emailVerified: false },
        'admin',
        { ...meta, actorId: actor.userId },
      );
      await db.transaction((tx) => invitations.send(tx, user, { ...meta, actorId: actor.userId }));
      return { userId: user.id, message: 'Invitation sent' };
    },

    /** Sends a new invitation link; the previous one stops working. */
    async resendInvitation(actor: Principal, id: number, meta: RequestMeta) {
      await db.transaction(async (tx) => {
        const user = await adminRepo.lockUser(tx, id);
        if (!user || user.deletedAt) throw new NotFound('User not found');
        if (user.passwordHash) throw new Conflict('User has already set a password');
        if (user.status !== 'active') throw new Conflict('User is suspended');
        await invitations.send(tx, user, { ...meta, actorId: actor.userId });
      });
      return { message: 'Invitation sent' };
    },

    /**
     * Changes role and/or status. Both apply to the user's existing access tokens on their next
     * request: suspension revokes every session, a role change evicts the cached sessions.
     */
    async update(
      actor: Principal,
      id: number,
      patch: { role?: Role; status?: 'active' | 'suspended' },
      meta: RequestMeta,
    ) {
      const audit = {
        actorId: actor.userId,
        subjectId: id,
        ip: meta.ip,
        userAgent: meta.userAgent,
        requestId: meta.requestId,
      };
      const outcome = await db.transaction(async (tx) => {
        const { adminIds, user } = await lockForChange(tx, id);
        if (!user) throw new NotFound('User not found');
        if (user.deletedAt) throw new Conflict('User is deleted');
        const role = patch.role ?? user.role;
        const status =
          patch.status === undefined ? user.status : patch.status === 'suspended' ? 'disabled' : 'active';
        if (!isActiveAdmin({ role, status, deletedAt: null })) assertKeepsAnAdmin(adminIds, user);
        const roleChanged = role !== user.role;
        const statusChanged = status !== user.status;
        if (roleChanged || statusChanged) {
          await adminRepo.updateRoleAndStatus(tx, id, {
            ...(roleChanged ? { role } : {}),
            ...(statusChanged ? { status } : {}),
          });
        }
        if (roleChanged) {
          await repo.appendAudit(tx, {
            ...audit,
            action: 'user.role_changed',
            detail: `${user.role} -> ${role}`,
          });
        }
        if (statusChanged) {
          await repo.appendAudit(tx, {
            ...audit,
            action: status === 'disabled' ? 'user.suspended' : 'user.reactivated',
          });
        }
        return { roleChanged, suspended: statusChanged && status === 'disabled' };
      });
      if (outcome.suspended) {
        await signIn.revokeAllSessions(id, 'suspended_by_admin', { ...meta, actorId: actor.userId });
      } else if (outcome.roleChanged) {
        // The guard caches each session with its user's role: drop them so the new role applies now.
        const live = await repo.listLiveSessions(db, id);
        await signIn.evictSessions(live.map((s) => s.id));
      }
      return get(id);
    },

    /** Deactivates and anonymises an account; its sessions end at once. */
    async remove(actor: Principal, id: number, meta: RequestMeta) {
      await db.transaction(async (tx) => {
        const { adminIds, user } = await lockForChange(tx, id);
        if (!user || user.deletedAt) throw new NotFound('User not found');
        assertKeepsAnAdmin(adminIds, user);
        // Disabled under the admin lock, so a concurrent change already counts this admin as gone.
        if (user.status !== 'disabled') await adminRepo.updateRoleAndStatus(tx, id, { status: 'disabled' });
      });
      await service.eraseAccount(id, 'admin', { ...meta, actorId: actor.userId });
      return { message: 'User deleted' };
    },
  };
}
export type AdminUsers = ReturnType<typeof createAdminUsers>;
