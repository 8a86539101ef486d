import { createHash } from 'node:crypto';
import type { Sealer } from '../../platform/crypto.ts';
import { newSecretToken, safeEqual, sha256Hex } from '../../platform/crypto.ts';
import type { Db } from '../../platform/db.ts';
import { Conflict, Forbidden, NotFound, Unauthorized, ValidationError } from '../../platform/errors.ts';
import type { Principal } from '../../platform/http/auth.ts';
import {
  type OAuthProvider,
  type ProviderProfile,
  type ProviderTokens,
  ProviderFailure,
} from './identity.oauth.providers.ts';
import * as oauthRepo from './identity.oauth.repository.ts';
import * as repo from './identity.repository.ts';
import type { IdentityService } from './identity.service.ts';
import type { RequestMeta, SignIn, SignInResult } from './identity.signin.ts';

export const OAUTH_STATE_PURPOSE = 'oauth_state';
const STATE_TTL_SECONDS = 600;

/** What the server keeps about a sign-in in progress, keyed by the hash of its `state`. */
interface StateMeta {
  provider: string;
  codeVerifier: string;
  nonce?: string;
  returnTo: string;
  /** SHA-256 of the browser-binding cookie set by /start. */
  binding: string;
}

/** A cookie tying a sign-in to the browser that started it (login-CSRF defence, RFC 6749 §10.12). */
export interface BrowserCookie {
  name: string;
  value: string;
  path: string;
  maxAgeSeconds: number;
}

export interface OAuthRedirect {
  location: string;
  cookie?: BrowserCookie;
}

/** Why a provider identity was not signed in; the code goes to the web app in the fragment. */
class Refusal extends Error {
  constructor(readonly code: 'email_unverified' | 'email_required') {
    super(code);
  }
}

export interface OAuthServiceDeps {
  db: Db;
  providers: Map<string, OAuthProvider>;
  sealer: Pick<Sealer, 'seal'>;
  signIn: Pick<SignIn, 'completeSignIn' | 'revokeAllSessions'>;
  identity: Pick<IdentityService, 'createUser'>;
  publicUrl: string;
  appUrl: string;
}

const invalidState = () =>
  new ValidationError('Invalid or expired sign-in request; start again', [
    { field: 'querystring.state', message: 'Unknown, expired or already used state' },
  ]);

const bindingCookieName = (state: string) => `lectern_oauth_${sha256Hex(state).slice(0, 16)}`;
const sameEmail = (a: string, b: string | null) => b !== null && a.toLowerCase() === b.toLowerCase();

/** OAuth 2 / OpenID Connect sign-in: authorization-code flow with PKCE, and seed 002's token login. */
export function createOAuthService(deps: OAuthServiceDeps) {
  const { db, providers, sealer, signIn, identity } = deps;
  const callbackUrl = (name: string) => `${deps.publicUrl}/api/auth/oauth/${name}/callback`;
  const completeUrl = (params: Record<string, string>) =>
    `${deps.appUrl}/oauth/complete#${new URLSearchParams(params).toString()}`;

  function providerNamed(name: string): OAuthProvider {
    const provider = providers.get(name);
    if (!provider) throw new NotFound('Unknown sign-in provider');
    return provider;
  }

  /** Links a provider identity to an existing account whose email the provider has verified. */
  async function linkExisting(
    user: repo.UserRow,
    provider: string,
    profile: ProviderProfile,
    sealed: { accessToken: string; refreshToken: string | null },
    meta: RequestMeta,
  ) {
    // Pre-account-hijacking defence: a password set on an address nobody has proved to own may
    // belong to someone squatting the victim's email; the provider just proved who owns it.
    const unprovenPassword = !user.emailVerifiedAt && user.passwordHash !== null;
    await db.transaction(async (tx) => {
      await oauthRepo.insertLinkedAccount(tx, {
        userId: user.id,
        provider,
        providerUserId: profile.subject,
        email: profile.email,
        ...sealed,
      });
      if (!user.emailVerifiedAt) await repo.markEmailVerified(tx, user.id);
      if (unprovenPassword) await oauthRepo.clearPasswordHash(tx, user.id);
      await repo.appendAudit(tx, {
        action: 'oauth.linked',
        actorId: user.id,
        subjectId: user.id,
        ...meta,
        detail: unprovenPassword ? `${provider}; unverified account: password removed` : provider,
      });
    });
    if (unprovenPassword) await signIn.revokeAllSessions(user.id, 'oauth_linked_unverified', meta);
  }

  /**
   * The account for a provider identity: its existing link; else the account with the same email
   * if the provider verified that email (then linked); else a new student account (then linked).
   */
  async function resolveUser(
    provider: string,
    profile: ProviderProfile,
    tokens: Pick<ProviderTokens, 'accessToken' | 'refreshToken'>,
    meta: RequestMeta,
    retried = false,
  ): Promise<repo.UserRow> {
    const sealed = {
      accessToken: sealer.seal(tokens.accessToken),
      refreshToken: tokens.refreshToken ? sealer.seal(tokens.refreshToken) : null,
    };
    const linked = await oauthRepo.findLinkedAccount(db, provider, profile.subject);
    if (linked) {
      const user = await repo.findUserById(db, linked.userId);
      if (!user) throw new ProviderFailure('linked account vanished');
      await oauthRepo.updateLinkedAccountTokens(db, linked.id, { email: profile.email, ...sealed });
      if (profile.emailVerified && !user.emailVerifiedAt && sameEmail(user.email, profile.email))
        await repo.markEmailVerified(db, user.id);
      return user;
    }
    if (!profile.email) throw new Refusal('email_required');
    const existing = await repo.findUserByEmail(db, profile.email);
    if (existing) {
      // A disabled account is left untouched; completeSignIn refuses it.
      if (existing.status !== 'active' || existing.deletedAt) return existing;
      if (!profile.emailVerified) {
        await repo.appendAudit(db, {
          action: 'oauth.refused',
          subjectId: existing.id,
          ...meta,
          success: false,
          detail: `${provider}: email not verified by the provider`,
        });
        throw new Refusal('email_unverified');
      }
      await linkExisting(existing, provider, profile, sealed, meta);
      return existing;
    }
    let user: repo.UserRow;
    try {
      user = await identity.createUser(
        {
          email: profile.email,
          name: (profile.name ?? profile.email.split('@')[0] ?? 'New user').slice(0, 100),
          role: 'student',
          emailVerified: profile.emailVerified,
          avatarUrl: profile.picture ?? undefined,
        },
        'oauth',
        meta,
      );
    } catch (err) {
      // A concurrent sign-in created the account first: resolve again, which now finds it.
      if (err instanceof Conflict && !retried) return resolveUser(provider, profile, tokens, meta, true);
      throw err;
    }
    const link = await oauthRepo.insertLinkedAccount(db, {
      userId: user.id,
      provider,
      providerUserId: profile.subject,
      email: profile.email,
      ...sealed,
    });
    return link.userId === user.id ? user : ((await repo.findUserById(db, link.userId)) ?? user);
  }

  async function auditProviderFailure(provider: string, err: ProviderFailure, meta: RequestMeta) {
    await repo.appendAudit(db, {
      action: 'login.failed',
      ...meta,
      success: false,
      detail: `oauth:${provider}: ${err.message}`.slice(0, 500),
    });
  }

  return {
    /** The providers a web app can show sign-in buttons for. */
    listProviders() {
      return {
        providers: [...providers.values()].map((p) => ({ name: p.name, displayName: p.displayName })),
      };
    },

    /**
     * Begins a sign-in: stores state, PKCE verifier, nonce and `returnTo` server-side for 10
     * minutes and answers the provider's authorization URL plus the browser-binding cookie.
     */
    async start(name: string, returnTo: string): Promise<OAuthRedirect> {
      const provider = providerNamed(name);
      let authorizationEndpoint: string;
      try {
        authorizationEndpoint = (await provider.endpoints()).authorization;
      } catch (err) {
        if (err instanceof ProviderFailure)
          return { location: completeUrl({ error: 'provider_unavailable' }) };
        throw err;
      }
      const state = newSecretToken();
      const codeVerifier = newSecretToken();
      const nonce = provider.kind === 'oidc' ? newSecretToken() : undefined;
      const binding = newSecretToken();
      const meta: StateMeta = { provider: name, codeVerifier, nonce, returnTo, binding: sha256Hex(binding) };
      await repo.insertOneTimeToken(db, {
        userId: null,
        purpose: OAUTH_STATE_PURPOSE,
        tokenHash: sha256Hex(state),
        ttlSeconds: STATE_TTL_SECONDS,
        meta: { ...meta },
      });
      const url = new URL(authorizationEndpoint);
      const params = {
        response_type: 'code',
        client_id: provider.clientId,
        redirect_uri: callbackUrl(name),
        scope: provider.scopes.join(' '),
        state,
        code_challenge: createHash('sha256').update(codeVerifier).digest('base64url'),
        code_challenge_method: 'S256',
        ...(nonce ? { nonce } : {}),
      };
      for (const [key, value] of Object.entries(params)) url.searchParams.set(key, value);
      return {
        location: url.toString(),
        cookie: {
          name: bindingCookieName(state),
          value: binding,
          path: new URL(callbackUrl(name)).pathname,
          maxAgeSeconds: STATE_TTL_SECONDS,
        },
      };
    },

    /**
     * Completes a sign-in from the provider's redirect. A bad state is a 400; everything after the
     * state is accepted ends in a redirect to the web app with tokens or an error code.
     */
    async finish(
      name: string,
      query: { code?: string; state?: string; error?: string; iss?: string },
      cookieNamed: (cookie: string) => string | undefined,
      meta: RequestMeta,
    ): Promise<OAuthRedirect & { clearCookie?: { name: string; path: string } }> {
      const provider = providerNamed(name);
      if (!query.state) throw invalidState();
      const row = await repo.findLiveOneTimeToken(db, OAUTH_STATE_PURPOSE, sha256Hex(query.state));
      const state = row?.meta as StateMeta | undefined;
      const cookieName = bindingCookieName(query.state);
      const browser = cookieNamed(cookieName);
      if (
        !row ||
        !state ||
        state.provider !== name ||
        !browser ||
        !safeEqual(sha256Hex(browser), state.binding)
      )
        throw invalidState();
      // Of two callbacks racing with one state, only the one that consumes it goes on.
      if (!(await repo.consumeOneTimeToken(db, row.id))) throw invalidState();
      const clearCookie = { name: cookieName, path: new URL(callbackUrl(name)).pathname };
      const fail = (error: string) => ({ location: completeUrl({ error }), clearCookie });

      if (query.error) return fail(query.error === 'access_denied' ? 'access_denied' : 'provider_error');
      try {
        if (!query.code) throw new ProviderFailure('callback without code');
        if (provider.kind === 'oidc') {
          const { issParameterSupported } = await provider.endpoints();
          // RFC 9207: a response naming another issuer is a mix-up attack.
          if (query.iss !== undefined ? query.iss !== provider.issuer : issParameterSupported)
            throw new ProviderFailure('authorization response issuer mismatch');
        }
        const tokens = await provider.exchangeCode({
          code: query.code,
          redirectUri: callbackUrl(name),
          codeVerifier: state.codeVerifier,
        });
        let idSubject: string | undefined;
        if (provider.kind === 'oidc') {
          if (!tokens.idToken) throw new ProviderFailure('token response without id_token');
          idSubject = (await provider.verifyIdToken(tokens.idToken, state.nonce ?? '')).sub;
        }
        const profile = await provider.fetchProfile(tokens.accessToken);
        if (idSubject !== undefined && profile.subject !== idSubject)
          throw new ProviderFailure('userinfo subject differs from the ID token');
        const user = await resolveUser(name, profile, tokens, meta);
        const result = await signIn.completeSignIn(user, 'oauth', meta);
        return { location: completeUrl({ ...fragmentOf(result), returnTo: state.returnTo }), clearCookie };
      } catch (err) {
        if (err instanceof ProviderFailure) {
          await auditProviderFailure(name, err, meta);
          return fail('provider_error');
        }
        if (err instanceof Refusal) return fail(err.code);
        if (err instanceof Forbidden) return fail('account_disabled');
        throw err;
      }
    },

    /**
     * Seed 002's `{ provider, providerUserId, accessToken }` login. The body is never trusted: the
     * token must be accepted by the provider's userinfo endpoint (and its introspection endpoint,
     * when it has one) for exactly `providerUserId`. Any mismatch or provider error is a 401.
     */
    async loginWithProviderToken(
      input: { provider: string; providerUserId: string; accessToken: string },
      meta: RequestMeta,
    ): Promise<SignInResult> {
      const provider = providers.get(input.provider);
      let user: repo.UserRow;
      try {
        if (!provider) throw new ProviderFailure('unknown provider');
        await provider.assertTokenIssuedToUs(input.accessToken);
        const profile = await provider.fetchProfile(input.accessToken);
        if (profile.subject !== input.providerUserId) throw new ProviderFailure('subject mismatch');
        user = await resolveUser(provider.name, profile, { accessToken: input.accessToken }, meta);
      } catch (err) {
        if (err instanceof ProviderFailure) {
          await auditProviderFailure(input.provider.slice(0, 50), err, meta);
          throw new Unauthorized('Invalid credentials');
        }
        if (err instanceof Refusal) throw new Unauthorized('Invalid credentials');
        throw err;
      }
      return signIn.completeSignIn(user, 'oauth', meta);
    },

    /** The caller's linked provider accounts. */
    async listAccounts(userId: number) {
      const rows = await oauthRepo.listLinkedAccounts(db, userId);
      return {
        accounts: rows.map((r) => ({
          provider: r.provider,
          email: r.email,
          createdAt: r.createdAt.toISOString(),
        })),
      };
    },

    /** Unlinks a provider, unless that would leave the account with no way to sign in (409). */
    async unlink(principal: Principal, provider: string, meta: RequestMeta) {
      await db.transaction(async (tx) => {
        const credentials = await oauthRepo.lockUserCredentials(tx, principal.userId);
        if (!credentials) throw new NotFound('User not found');
        const links = await oauthRepo.listLinkedAccounts(tx, principal.userId);
        if (!links.some((l) => l.provider === provider))
          throw new NotFound('No linked account for this provider');
        if (!credentials.hasPassword && !links.some((l) => l.provider !== provider)) {
          throw new Conflict(
            'This is your only way to sign in: set a password (forgot password) or link another provider first',
          );
        }
        await oauthRepo.deleteLinkedAccounts(tx, principal.userId, provider);
        await repo.appendAudit(tx, {
          action: 'oauth.unlinked',
          actorId: principal.userId,
          subjectId: principal.userId,
          ...meta,
          detail: provider,
        });
      });
      return { message: 'Account unlinked' };
    },
  };
}
export type OAuthService = ReturnType<typeof createOAuthService>;

/** The fragment the web app reads on /oauth/complete: tokens, or the second-factor challenge. */
function fragmentOf(result: SignInResult): Record<string, string> {
  if ('mfaRequired' in result)
    return { mfaRequired: '1', mfaToken: result.mfaToken, userId: String(result.userId) };
  return {
    token: result.token,
    refreshToken: result.refreshToken,
    expiresIn: String(result.expiresIn),
    userId: String(result.userId),
  };
}
