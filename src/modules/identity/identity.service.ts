import { randomInt } from 'node:crypto';
import type { Db } from '../../platform/db.ts';
import { isUniqueViolation } from '../../platform/db.ts';
import type { Events } from '../../platform/events.ts';
import type { Logger } from '../../platform/logger.ts';
import type { Storage } from '../../platform/storage.ts';
import { hasEnabledTotp } from './identity.mfa.repository.ts';
import { Conflict, NotFound, ValidationError } from '../../platform/errors.ts';
import type { Role } from '../../platform/http/auth.ts';
import { hashPassword, passwordProblem } from './identity.credentials.ts';
import * as repo from './identity.repository.ts';
import type { IssuedTokens, RequestMeta, SignIn } from './identity.signin.ts';

/** Published when public profile fields (name, avatar) change; other modules refresh their copies. */
export const USER_UPDATED = 'identity.user.updated';
export interface UserUpdated {
  userId: number;
  name: string;
  avatarUrl: string | null;
}

/** Published when an account's personal data was erased; other modules erase theirs. */
export const USER_ERASED = 'identity.user.erased';
export interface UserErased {
  userId: number;
  reason: 'self' | 'admin';
}

/** Published when an account is created (registration, admin or CLI); payload `UserRegistered`. */
export const USER_REGISTERED = 'identity.user.registered';
export interface UserRegistered {
  userId: number;
  email: string;
  name: string;
  role: Role;
  /** How the account came to be: self-registration, an admin's invitation, the CLI, an OAuth sign-in. */
  origin: 'registration' | 'admin' | 'cli' | 'oauth';
}

export interface NewUser {
  email: string;
  /** Absent for accounts that sign in another way first (OAuth, invitation). */
  password?: string;
  name: string;
  role: Role;
  phone?: string;
  avatarUrl?: string;
  username?: string;
  emailVerified?: boolean;
}

export interface IdentityServiceDeps {
  db: Db;
  events: Pick<Events, 'publish'>;
  signIn: SignIn;
  /** For removing an uploaded avatar that nothing points at any more. */
  storage: Pick<Storage, 'delete'>;
  logger: Pick<Logger, 'warn'>;
}

function deriveUsername(email: string): string {
  const base = (email.split('@')[0] ?? '')
    .toLowerCase()
    .replace(/[^a-z0-9_.]/g, '_')
    .slice(0, 40);
  return base.length >= 3 ? base : `user_${base}`.slice(0, 40);
}

/** Throws a 400 naming `field` when the password is weak. */
export function assertStrongPassword(password: string, context: { email: string }, field = 'body.password') {
  const problem = passwordProblem(password, context);
  if (problem) throw new ValidationError('Invalid input data', [{ field, message: problem }]);
}

export function createIdentityService(deps: IdentityServiceDeps) {
  const { db, events, signIn, storage, logger } = deps;

  /** Deletes a stored avatar after the change that orphaned it committed; a failure only leaks a file. */
  async function deleteAvatarObject(key: string | null | undefined) {
    if (!key) return;
    await storage
      .delete(key)
      .catch((err: unknown) => logger.warn({ err, key }, 'could not delete an orphaned avatar'));
  }

  async function pickUsername(email: string, requested?: string): Promise<string> {
    if (requested) {
      if (await repo.usernameExists(db, requested)) throw new Conflict('Username already taken');
      return requested;
    }
    const base = deriveUsername(email);
    if (!(await repo.usernameExists(db, base))) return base;
    for (let i = 0; i < 8; i++) {
      const candidate = `${base}_${randomInt(1000, 1_000_000)}`;
      if (!(await repo.usernameExists(db, candidate))) return candidate;
    }
    throw new Conflict('Could not pick a free username; choose one');
  }

  /** Creates an account, audits it and publishes `identity.user.registered`, in one transaction. */
  async function createUser(
    input: NewUser,
    origin: UserRegistered['origin'],
    meta: RequestMeta & { actorId?: number | null } = {},
  ) {
    if (input.password !== undefined) assertStrongPassword(input.password, input);
    if (await repo.findUserByEmail(db, input.email)) throw new Conflict('Email already registered');
    const username = await pickUsername(input.email, input.username);
    const passwordHash = input.password === undefined ? null : await hashPassword(input.password);
    try {
      return await db.transaction(async (tx) => {
        const user = await repo.insertUser(tx, {
          email: input.email,
          username,
          passwordHash,
          name: input.name,
          role: input.role,
          phone: input.phone,
          avatarUrl: input.avatarUrl,
          emailVerifiedAt: input.emailVerified ? new Date() : null,
        });
        await repo.appendAudit(tx, {
          action: 'user.created',
          actorId: meta.actorId === undefined ? (origin === 'cli' ? null : user.id) : meta.actorId,
          subjectId: user.id,
          ip: meta.ip,
          userAgent: meta.userAgent,
          requestId: meta.requestId,
          detail: `${origin}, role ${user.role}`,
        });
        await events.publish<UserRegistered>(tx, USER_REGISTERED, {
          userId: user.id,
          email: user.email,
          name: user.name,
          role: user.role,
          origin,
        });
        return user;
      });
    } catch (err) {
      // Two registrations racing for one email or username: the unique index decides.
      if (isUniqueViolation(err, 'users_email_lower_key')) throw new Conflict('Email already registered');
      if (isUniqueViolation(err, 'users_username_lower_key')) throw new Conflict('Username already taken');
      throw err;
    }
  }

  return {
    createUser,

    /** Registers a student and signs them in (seed 002: `POST /api/auth/user/register`). */
    async register(
      input: {
        email: string;
        password: string;
        name: string;
        phone?: string;
        avatarUrl?: string;
        username?: string;
      },
      meta: RequestMeta,
    ): Promise<IssuedTokens> {
      const user = await createUser({ ...input, role: 'student' }, 'registration', meta);
      return signIn.issueSession(user.id, user.role, meta);
    },

    async getProfile(userId: number) {
      const user = await repo.findUserById(db, userId);
      if (!user || user.deletedAt) throw new NotFound('User not found');
      return {
        userId: user.id,
        username: user.username,
        email: user.email,
        name: user.name,
        avatarUrl: user.avatarUrl,
        role: user.role,
        phone: user.phone,
        bio: user.bio,
        locale: user.locale,
        timezone: user.timezone,
        isEmailVerified: user.emailVerifiedAt !== null,
        mfaEnabled: await hasEnabledTotp(db, user.id),
        createdAt: user.createdAt.toISOString(),
        updatedAt: user.updatedAt.toISOString(),
      };
    },

    async updateProfile(
      userId: number,
      patch: {
        name?: string;
        avatarUrl?: string | null;
        phone?: string | null;
        bio?: string | null;
        locale?: string | null;
        timezone?: string | null;
      },
    ) {
      // An avatar URL given here replaces any uploaded avatar, whose stored file is then removed.
      const before = patch.avatarUrl !== undefined ? await repo.findUserById(db, userId) : undefined;
      const updated = await db.transaction(async (tx) => {
        const ok = await repo.updateUserProfile(tx, userId, {
          ...patch,
          ...(patch.avatarUrl !== undefined ? { avatarKey: null } : {}),
        });
        if (ok && (patch.name !== undefined || patch.avatarUrl !== undefined)) {
          const user = await repo.findUserById(tx, userId);
          await events.publish<UserUpdated>(tx, USER_UPDATED, {
            userId,
            name: user!.name,
            avatarUrl: user!.avatarUrl,
          });
        }
        return ok;
      });
      if (!updated) throw new NotFound('User not found');
      await deleteAvatarObject(before?.avatarKey);
      return { userId };
    },

    /**
     * Erases an account (GDPR erasure, or an admin's deactivate-and-anonymise): every session ends,
     * personal fields are anonymised, credentials and second factors are deleted, and
     * `identity.user.erased` tells other modules to erase or anonymise what they hold.
     */
    async eraseAccount(
      userId: number,
      reason: UserErased['reason'],
      meta: RequestMeta & { actorId?: number | null },
    ) {
      const user = await repo.findUserById(db, userId);
      if (!user || user.deletedAt) throw new NotFound('User not found');
      await signIn.revokeAllSessions(
        userId,
        reason === 'self' ? 'account_erased' : 'account_deleted_by_admin',
        meta,
      );
      await db.transaction(async (tx) => {
        await repo.anonymiseUser(tx, userId);
        await repo.appendAudit(tx, {
          action: 'user.erased',
          actorId: meta.actorId ?? userId,
          subjectId: userId,
          ip: meta.ip,
          userAgent: meta.userAgent,
          requestId: meta.requestId,
          detail: reason,
        });
        await events.publish<UserErased>(tx, USER_ERASED, { userId, reason });
      });
      await deleteAvatarObject(user.avatarKey);
    },

    findUserByEmail: (email: string) => repo.findUserByEmail(db, email),
    findUserById: (id: number) => repo.findUserById(db, id),
  };
}
export type IdentityService = ReturnType<typeof createIdentityService>;
