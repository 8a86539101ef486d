import { randomInt } from 'node:crypto';
import type { Cache } from '../../platform/cache.ts';
import type { Db } from '../../platform/db.ts';
import type { Events } from '../../platform/events.ts';
import { isUniqueViolation } from '../../platform/db.ts';
import { Conflict, Forbidden, NotFound, Unauthorized, ValidationError } from '../../platform/errors.ts';
import type { Principal, Role } from '../../platform/http/auth.ts';
import {
  type AccessTokens,
  hashPassword,
  hashToken,
  newRefreshToken,
  passwordProblem,
  verifyPassword,
} from './identity.credentials.ts';
import * as repo from './identity.repository.ts';

export interface ClientInfo {
  ip?: string;
  userAgent?: string;
}

export interface IssuedTokens {
  userId: number;
  token: string;
  refreshToken: string;
  expiresIn: number;
}

/** Published when an account is created (registration, admin or CLI); payload `UserRegistered`. */
export const USER_REGISTERED = 'identity.user.registered';
export interface UserRegistered {
  userId: number;
  email: string;
  name: string;
  role: Role;
}

export interface IdentityServiceDeps {
  db: Db;
  events: Pick<Events, 'publish'>;
  cache: Cache;
  tokens: AccessTokens;
  accessTtlSeconds: number;
  refreshTtlDays: number;
}

const SESSION_CACHE_TTL_SECONDS = 60;
const sessionCacheKey = (sessionId: number) => `session:${sessionId}`;

function deriveUsername(email: string): string {
  const base = (email.split('@')[0] ?? '')
    .toLowerCase()
    .replace(/[^a-z0-9_.]/g, '_')
    .slice(0, 40);
  return base.length >= 3 ? base : `user_${base}`.slice(0, 40);
}

export function createIdentityService(deps: IdentityServiceDeps) {
  const { db, cache, tokens, events } = deps;
  const refreshTtlMs = deps.refreshTtlDays * 86_400_000;

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

  async function issueSession(userId: number, role: Role, client: ClientInfo): Promise<IssuedTokens> {
    const refresh = newRefreshToken();
    const sessionId = await db.transaction(async (tx) => {
      const id = await repo.insertSession(tx, {
        userId,
        ip: client.ip,
        userAgent: client.userAgent?.slice(0, 512),
        expiresAt: new Date(Date.now() + refreshTtlMs),
      });
      await repo.insertRefreshToken(tx, id, refresh.hash);
      return id;
    });
    const token = await tokens.sign({ userId, role, sessionId });
    return { userId, token, refreshToken: refresh.token, expiresIn: deps.accessTtlSeconds };
  }

  async function createUser(
    input: {
      email: string;
      password: string;
      name: string;
      role: Role;
      phone?: string;
      avatarUrl?: string;
      username?: string;
    },
    client?: ClientInfo,
  ) {
    const problem = passwordProblem(input.password, input);
    if (problem)
      throw new ValidationError('Invalid input data', [{ field: 'body.password', message: problem }]);
    if (await repo.findUserByEmail(db, input.email)) throw new Conflict('Email already registered');
    const username = await pickUsername(input.email, input.username);
    const passwordHash = await hashPassword(input.password);
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
        });
        await repo.insertAudit(tx, {
          action: 'user.created',
          // Self-registration acts for itself; the CLI (no client) is the system.
          actorId: client ? user.id : null,
          subjectId: user.id,
          ip: client?.ip,
        });
        await events.publish<UserRegistered>(tx, USER_REGISTERED, {
          userId: user.id,
          email: user.email,
          name: user.name,
          role: user.role,
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
      client: ClientInfo,
    ): Promise<IssuedTokens> {
      const user = await createUser({ ...input, role: 'student' });
      await repo.insertAudit(db, {
        action: 'user.registered',
        actorId: user.id,
        subjectId: user.id,
        ip: client.ip,
      });
      return issueSession(user.id, user.role, client);
    },

    /** Password login. Unknown email and wrong password answer alike, in the same time. */
    async login(input: { email: string; password: string }, client: ClientInfo): Promise<IssuedTokens> {
      const user = await repo.findUserByEmail(db, input.email);
      const ok = await verifyPassword(user?.passwordHash, input.password);
      if (!user || !ok) {
        await repo.insertAudit(db, {
          action: 'login.failed',
          subjectId: user?.id ?? null,
          ip: client.ip,
          success: false,
        });
        throw new Unauthorized('Invalid credentials');
      }
      if (user.status !== 'active') {
        await repo.insertAudit(db, {
          action: 'login.refused_disabled',
          subjectId: user.id,
          ip: client.ip,
          success: false,
        });
        throw new Forbidden('Account disabled');
      }
      await repo.insertAudit(db, {
        action: 'login.succeeded',
        actorId: user.id,
        subjectId: user.id,
        ip: client.ip,
      });
      return issueSession(user.id, user.role, client);
    },

    /**
     * Rotates a refresh token. A token presented twice means it leaked (or a client raced itself):
     * the whole session is revoked and the caller must sign in again.
     */
    async refresh(refreshToken: string, client: ClientInfo): Promise<IssuedTokens> {
      const hash = hashToken(refreshToken);
      const outcome = await db.transaction(async (tx) => {
        const sessionId = await repo.consumeRefreshToken(tx, hash);
        if (sessionId === undefined) {
          const known = await repo.findRefreshToken(tx, hash);
          if (!known) return { kind: 'invalid' as const };
          const revoked = await repo.revokeSession(tx, known.sessionId, 'refresh_token_reuse');
          if (revoked)
            await repo.insertAudit(tx, {
              action: 'session.refresh_reuse',
              ip: client.ip,
              success: false,
              detail: `session ${known.sessionId}`,
            });
          return { kind: 'reuse' as const, sessionId: known.sessionId };
        }
        const session = await repo.findLiveSession(tx, sessionId);
        if (!session || session.status !== 'active') return { kind: 'dead' as const };
        const next = newRefreshToken();
        await repo.insertRefreshToken(tx, sessionId, next.hash);
        await repo.touchSession(tx, sessionId, {
          expiresAt: new Date(Date.now() + refreshTtlMs),
          ip: client.ip,
          userAgent: client.userAgent?.slice(0, 512),
        });
        return { kind: 'ok' as const, session, refreshToken: next.token };
      });
      if (outcome.kind === 'reuse') {
        await cache.del(sessionCacheKey(outcome.sessionId));
        throw new Unauthorized('Refresh token already used; the session has been revoked');
      }
      if (outcome.kind !== 'ok') throw new Unauthorized('Invalid refresh token');
      const { session } = outcome;
      const token = await tokens.sign({
        userId: session.userId,
        role: session.role,
        sessionId: session.sessionId,
      });
      return {
        userId: session.userId,
        token,
        refreshToken: outcome.refreshToken,
        expiresIn: deps.accessTtlSeconds,
      };
    },

    /** Ends the caller's session; its refresh and access tokens stop working at once. */
    async logout(principal: Principal, client: ClientInfo): Promise<void> {
      await db.transaction(async (tx) => {
        if (await repo.revokeSession(tx, principal.sessionId, 'logout')) {
          await repo.insertAudit(tx, {
            action: 'session.logout',
            actorId: principal.userId,
            subjectId: principal.userId,
            ip: client.ip,
          });
        }
      });
      await cache.del(sessionCacheKey(principal.sessionId));
    },

    /** Verifies an access token and that its session is still live (cached briefly; revocation evicts). */
    async verifyAccessToken(token: string): Promise<Principal> {
      const claims = await tokens.verify(token);
      if (!claims) throw new Unauthorized('Invalid or expired token');
      const live = await cache.getOrLoad(
        sessionCacheKey(claims.sessionId),
        { ttlSeconds: SESSION_CACHE_TTL_SECONDS },
        async () => (await repo.findLiveSession(db, claims.sessionId)) ?? null,
      );
      if (!live || live.userId !== claims.userId || live.status !== 'active') {
        throw new Unauthorized('Session has ended; sign in again');
      }
      // The role comes from the database, so a role change applies without waiting for token expiry.
      return { userId: live.userId, role: live.role, sessionId: live.sessionId };
    },

    async getProfile(userId: number) {
      const user = await repo.findUserById(db, userId);
      if (!user) throw new NotFound('User not found');
      return {
        userId: user.id,
        username: user.username,
        email: user.email,
        name: user.name,
        avatarUrl: user.avatarUrl,
        role: user.role,
        phone: user.phone,
        bio: user.bio,
        isEmailVerified: user.emailVerifiedAt !== null,
        createdAt: user.createdAt.toISOString(),
        updatedAt: user.updatedAt.toISOString(),
      };
    },

    async updateProfile(
      userId: number,
      patch: { name?: string; avatarUrl?: string | null; phone?: string | null; bio?: string | null },
    ) {
      const updated = await repo.updateUserProfile(db, userId, patch);
      if (!updated) throw new NotFound('User not found');
      return { userId };
    },

    findUserByEmail: (email: string) => repo.findUserByEmail(db, email),
  };
}
export type IdentityService = ReturnType<typeof createIdentityService>;
