import { LRUCache } from 'lru-cache';
import type { Cache } from '../../platform/cache.ts';
import type { Db } from '../../platform/db.ts';
import { Forbidden, NotFound, TooManyRequests, Unauthorized } from '../../platform/errors.ts';
import type { Principal, Role } from '../../platform/http/auth.ts';
import type { Logger } from '../../platform/logger.ts';
import type { Throttle } from '../../platform/throttle.ts';
import { sha256Hex } from '../../platform/crypto.ts';
import { type AccessTokens, hashToken, newRefreshToken, verifyPassword } from './identity.credentials.ts';
import * as repo from './identity.repository.ts';

/** Who is asking, for sessions and the audit log. */
export interface RequestMeta {
  ip?: string;
  userAgent?: string;
  requestId?: string;
}

export interface IssuedTokens {
  userId: number;
  token: string;
  refreshToken: string;
  expiresIn: number;
}

export interface MfaChallenge {
  mfaRequired: true;
  mfaToken: string;
  userId: number;
}

export type SignInResult = IssuedTokens | MfaChallenge;

/** How a sign-in was proven, recorded in the audit log. */
export type SignInMethod = 'password' | 'otp' | 'oauth' | 'invitation' | 'password_reset';

/**
 * The second factor, when a user has one: returns a short-lived challenge token instead of a
 * session. Supplied by the MFA feature; without it, sign-in completes on the first factor.
 */
export interface MfaGate {
  challengeFor(userId: number, method: SignInMethod, meta: RequestMeta): Promise<string | null>;
}

export const noMfa: MfaGate = { challengeFor: async () => null };

export interface SignInDeps {
  db: Db;
  cache: Cache;
  throttle: Throttle;
  tokens: AccessTokens;
  accessTtlSeconds: number;
  refreshTtlDays: number;
  mfa: () => MfaGate;
  logger?: Pick<Logger, 'warn'>;
}

const SESSION_CACHE_TTL_SECONDS = 60;
export const sessionCacheKey = (sessionId: number) => `session:${sessionId}`;

/**
 * Progressive lockout per account, counted by email so unknown and known emails behave the same:
 * 5 failures → 1 minute, 10 → 5 minutes, 15 or more → 30 minutes. Counted over 24 hours.
 */
export const LOCKOUT_WINDOW_SECONDS = 86_400;
export function lockoutSeconds(failures: number): number {
  if (failures >= 15) return 1800;
  if (failures >= 10) return 300;
  if (failures >= 5) return 60;
  return 0;
}

export function createSignIn(deps: SignInDeps) {
  const { db, cache, throttle, tokens } = deps;
  const refreshTtlMs = deps.refreshTtlDays * 86_400_000;
  const failureKey = (scope: string, identifier: string) =>
    `signin-fail:${scope}:${sha256Hex(identifier.toLowerCase())}`;
  const lockKey = (scope: string, identifier: string) =>
    `signin-lock:${scope}:${sha256Hex(identifier.toLowerCase())}`;
  /**
   * Lockouts the shared cache could not store (Redis unreachable), kept in this process until they
   * end so that a lockout still holds during an outage; the throttle counts failures the same way.
   */
  const localLocks = new LRUCache<string, number>({ max: 100_000 });

  /**
   * Drops revoked sessions from the cache. The revocation itself is committed already, and while
   * the cache is unreachable the guard reads sessions from the database, so a failed eviction is
   * logged rather than failing the request; the entry's 60 s TTL bounds what a recovered cache holds.
   */
  async function evictSessions(ids: number[]) {
    await Promise.all(
      ids.map((id) =>
        cache
          .del(sessionCacheKey(id))
          .catch((err: unknown) =>
            deps.logger?.warn({ err, sessionId: id }, 'could not evict a revoked session from the cache'),
          ),
      ),
    );
  }

  const signIn = {
    /** Refuses with 429 while `identifier` (an email) is locked out for `scope` (login, otp, mfa, reset). */
    async assertNotLocked(scope: string, identifier: string): Promise<void> {
      const key = lockKey(scope, identifier);
      const locked = Math.max((await cache.get<number>(key)) ?? 0, localLocks.get(key) ?? 0);
      if (locked > Date.now()) {
        throw new TooManyRequests((locked - Date.now()) / 1000, 'Too many failed attempts; try again later');
      }
    },

    /** Counts a failure; locks the identifier out progressively. */
    async recordFailure(scope: string, identifier: string): Promise<void> {
      const failures = await throttle.hit(failureKey(scope, identifier), LOCKOUT_WINDOW_SECONDS);
      const seconds = lockoutSeconds(failures);
      if (seconds > 0 && failures % 5 === 0) {
        const key = lockKey(scope, identifier);
        const until = Date.now() + seconds * 1000;
        if (!(await cache.set(key, until, { ttlSeconds: seconds }))) {
          localLocks.set(key, until, { ttl: seconds * 1000 });
        }
      }
    },

    async clearFailures(scope: string, identifier: string): Promise<void> {
      await throttle.reset(failureKey(scope, identifier));
      localLocks.delete(lockKey(scope, identifier));
      await cache
        .del(lockKey(scope, identifier))
        .catch((err: unknown) => deps.logger?.warn({ err }, 'could not clear a lockout'));
    },

    /** Opens a session (refresh-token family) and signs its first access token. */
    async issueSession(userId: number, role: Role, meta: RequestMeta): Promise<IssuedTokens> {
      const refresh = newRefreshToken();
      const sessionId = await db.transaction(async (tx) => {
        const id = await repo.insertSession(tx, {
          userId,
          ip: meta.ip,
          userAgent: meta.userAgent?.slice(0, 512),
          expiresAt: new Date(Date.now() + refreshTtlMs),
        });
        await repo.insertRefreshToken(tx, id, refresh.hash);
        return id;
      });
      const token = await tokens.sign({ userId, role, sessionId });
      return { userId, token, refreshToken: refresh.token, expiresIn: deps.accessTtlSeconds };
    },

    /**
     * The last step of every sign-in (password, OTP, OAuth, reset): refuses suspended or erased
     * accounts, asks for the second factor when the user has one, otherwise opens a session.
     */
    async completeSignIn(user: repo.UserRow, method: SignInMethod, meta: RequestMeta): Promise<SignInResult> {
      if (user.status !== 'active' || user.deletedAt) {
        await repo.appendAudit(db, {
          action: 'login.refused_disabled',
          subjectId: user.id,
          ...meta,
          success: false,
          detail: method,
        });
        throw new Forbidden('Account disabled');
      }
      const mfaToken = await deps.mfa().challengeFor(user.id, method, meta);
      if (mfaToken) {
        await repo.appendAudit(db, {
          action: 'login.mfa_challenged',
          subjectId: user.id,
          ...meta,
          detail: method,
        });
        return { mfaRequired: true, mfaToken, userId: user.id };
      }
      await repo.appendAudit(db, {
        action: 'login.succeeded',
        actorId: user.id,
        subjectId: user.id,
        ...meta,
        detail: method,
      });
      return signIn.issueSession(user.id, user.role, meta);
    },

    /** Password sign-in. Unknown email and wrong password answer alike, in the same time. */
    async login(input: { email: string; password: string }, meta: RequestMeta): Promise<SignInResult> {
      await signIn.assertNotLocked('login', input.email);
      const user = await repo.findUserByEmail(db, input.email);
      const ok = await verifyPassword(user?.deletedAt ? null : user?.passwordHash, input.password);
      if (!user || !ok) {
        await signIn.recordFailure('login', input.email);
        await repo.appendAudit(db, {
          action: 'login.failed',
          subjectId: user?.id ?? null,
          ...meta,
          success: false,
          detail: 'password',
        });
        throw new Unauthorized('Invalid credentials');
      }
      await signIn.clearFailures('login', input.email);
      return signIn.completeSignIn(user, 'password', meta);
    },

    /**
     * Rotates a refresh token. A token presented twice means it leaked (or a client raced itself):
     * the whole session is revoked and the caller must sign in again.
     */
    async refresh(refreshToken: string, meta: RequestMeta): Promise<IssuedTokens> {
      const hash = hashToken(refreshToken);
      const outcome = await db.transaction(async (tx) => {
        const sessionId = await repo.consumeRefreshToken(tx, hash);
        if (sessionId === undefined) {
          const known = await repo.findRefreshToken(tx, hash);
          if (!known) return { kind: 'invalid' as const };
          const revoked = await repo.revokeSession(tx, known.sessionId, 'refresh_token_reuse');
          if (revoked) {
            await repo.appendAudit(tx, {
              action: 'session.refresh_reuse',
              ...meta,
              success: false,
              detail: `session ${known.sessionId}`,
            });
          }
          return { kind: 'reuse' as const, sessionId: known.sessionId };
        }
        const session = await repo.findLiveSession(tx, sessionId);
        if (!session || session.status !== 'active') return { kind: 'dead' as const };
        const next = newRefreshToken();
        await repo.insertRefreshToken(tx, sessionId, next.hash);
        await repo.touchSession(tx, sessionId, {
          expiresAt: new Date(Date.now() + refreshTtlMs),
          ip: meta.ip,
          userAgent: meta.userAgent?.slice(0, 512),
        });
        return { kind: 'ok' as const, session, refreshToken: next.token };
      });
      if (outcome.kind === 'reuse') {
        await evictSessions([outcome.sessionId]);
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

    /** The caller's live sessions (devices), newest use first. */
    async listSessions(principal: Principal) {
      const rows = await repo.listLiveSessions(db, principal.userId);
      return rows.map((s) => ({
        id: s.id,
        userAgent: s.userAgent,
        ip: s.ip,
        createdAt: s.createdAt.toISOString(),
        lastUsedAt: s.lastUsedAt.toISOString(),
        expiresAt: s.expiresAt.toISOString(),
        current: s.id === principal.sessionId,
      }));
    },

    /** Revokes one of the caller's own sessions; another user's session is 404, as if absent. */
    async revokeSession(principal: Principal, sessionId: number, meta: RequestMeta): Promise<void> {
      const session = await repo.findSession(db, sessionId);
      if (!session || session.userId !== principal.userId || session.revokedAt)
        throw new NotFound('Session not found');
      await db.transaction(async (tx) => {
        await repo.revokeSession(
          tx,
          sessionId,
          principal.sessionId === sessionId ? 'logout' : 'revoked_by_user',
        );
        await repo.appendAudit(tx, {
          action: 'session.revoked',
          actorId: principal.userId,
          subjectId: principal.userId,
          ...meta,
          detail: `session ${sessionId}`,
        });
      });
      await evictSessions([sessionId]);
    },

    /** Ends every session of a user, optionally keeping one (the caller's). Returns how many ended. */
    async revokeAllSessions(
      userId: number,
      reason: string,
      meta: RequestMeta & { actorId?: number | null; keep?: number },
    ): Promise<number> {
      const ids = await db.transaction(async (tx) => {
        const revoked = await repo.revokeUserSessions(tx, userId, reason, meta.keep);
        if (revoked.length) {
          await repo.appendAudit(tx, {
            action: 'session.revoked_all',
            actorId: meta.actorId ?? userId,
            subjectId: userId,
            ip: meta.ip,
            userAgent: meta.userAgent,
            requestId: meta.requestId,
            detail: `${reason}: ${revoked.length} session(s)`,
          });
        }
        return revoked;
      });
      await evictSessions(ids);
      return ids.length;
    },

    /** Ends the caller's session; its refresh and access tokens stop working at once. */
    async logout(principal: Principal, meta: RequestMeta): Promise<void> {
      await db.transaction(async (tx) => {
        if (await repo.revokeSession(tx, principal.sessionId, 'logout')) {
          await repo.appendAudit(tx, {
            action: 'session.logout',
            actorId: principal.userId,
            subjectId: principal.userId,
            ...meta,
          });
        }
      });
      await evictSessions([principal.sessionId]);
    },

    evictSessions,
  };
  return signIn;
}
export type SignIn = ReturnType<typeof createSignIn>;
