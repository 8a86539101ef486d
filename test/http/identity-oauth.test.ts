import { enableTotp } from '../factories/mfa.ts';
import { createHash, randomBytes } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createOAuthProviders } from '../../src/modules/identity/identity.oauth.providers.ts';
import { ConfigError, loadConfig } from '../../src/platform/config.ts';
import { sha256Hex } from '../../src/platform/crypto.ts';
import { PASSWORD, registerStudent, uniqueEmail } from '../factories/users.ts';
import { createTestApp, type TestApp } from '../helpers/app.ts';
import {
  CookieJar,
  type OidcTestAccount,
  type OidcTestClient,
  startOidcProvider,
  type TestOidcProvider,
} from '../helpers/oidc-provider.ts';

const PUBLIC_URL = 'http://api.lectern.test';
const APP_URL = 'http://app.lectern.test';
const callbackOf = (provider: string) => `${PUBLIC_URL}/api/auth/oauth/${provider}/callback`;
const school: OidcTestClient = {
  clientId: 'lectern',
  clientSecret: 'school-secret-0123456789abcdef0123',
  redirectUris: [callbackOf('school')],
};
const plain: OidcTestClient = {
  clientId: 'lectern-plain',
  clientSecret: 'plain-secret-0123456789abcdef01234',
  redirectUris: [callbackOf('plain')],
  authMethod: 'client_secret_post',
};
const otherApp: OidcTestClient = {
  clientId: 'other-app',
  clientSecret: 'other-secret-0123456789abcdef01234',
  redirectUris: ['http://other.test/cb'],
};

describe('OAuth 2 / OpenID Connect sign-in against a real provider on loopback', () => {
  let t: TestApp;
  let idp: TestOidcProvider;
  const accounts: OidcTestAccount[] = [];

  beforeAll(async () => {
    idp = await startOidcProvider({ accounts, clients: [school, plain, otherApp] });
    t = await createTestApp({
      AUTH_RATE_LIMIT_MAX: '1000',
      PUBLIC_URL,
      APP_URL,
      OAUTH_PROVIDERS: 'school,plain',
      OAUTH_SCHOOL_CLIENT_ID: school.clientId,
      OAUTH_SCHOOL_CLIENT_SECRET: school.clientSecret,
      OAUTH_SCHOOL_ISSUER: idp.issuer,
      OAUTH_SCHOOL_DISPLAY_NAME: 'Lectern School',
      // The same provider used as a plain OAuth 2 server: explicit endpoints, no ID token.
      OAUTH_PLAIN_CLIENT_ID: plain.clientId,
      OAUTH_PLAIN_CLIENT_SECRET: plain.clientSecret,
      OAUTH_PLAIN_AUTHORIZATION_URL: `${idp.issuer}/auth`,
      OAUTH_PLAIN_TOKEN_URL: `${idp.issuer}/token`,
      OAUTH_PLAIN_USERINFO_URL: `${idp.issuer}/me`,
      OAUTH_PLAIN_TOKEN_AUTH_METHOD: 'client_secret_post',
    });
  });
  afterAll(async () => {
    await t?.close();
    await idp?.close();
  });

  const sql = (text: string, values: unknown[] = []) =>
    t.app.platform.database.executor.executeSql(text, values).then((r) => r.rows);
  const countUsers = async () => Number((await sql('select count(*)::int as n from identity.users'))[0]!.n);
  const linksOf = (userId: number) =>
    sql('select * from identity.user_accounts where user_id = $1 order by account_id', [userId]);
  const profileOf = (token: string) => t.request({ method: 'GET', url: '/api/auth/user/profile', token });

  function account(emailVerified = true, email = uniqueEmail('idp')): OidcTestAccount {
    const a = { sub: `sub-${randomBytes(6).toString('hex')}`, email, emailVerified, name: 'Ada Provider' };
    accounts.push(a);
    return a;
  }

  async function start(provider = 'school', returnTo = '/courses/42') {
    const url = `/api/auth/oauth/${provider}/start?returnTo=${encodeURIComponent(returnTo)}`;
    const res = await t.request({ method: 'GET', url });
    expect(res.status).toBe(302);
    const location = new URL(String(res.headers.location));
    const cookie = String([res.headers['set-cookie']].flat()[0]).split(';')[0]!;
    return { res, location, cookie, state: location.searchParams.get('state')! };
  }

  const callback = (provider: string, search: string, cookie?: string) =>
    t.request({
      method: 'GET',
      url: `/api/auth/oauth/${provider}/callback${search}`,
      headers: cookie ? { cookie } : {},
    });

  function fragmentOf(res: { headers: Record<string, unknown> }) {
    const location = String(res.headers.location);
    expect(location.startsWith(`${APP_URL}/oauth/complete#`)).toBe(true);
    return Object.fromEntries(new URLSearchParams(location.split('#')[1]));
  }

  /** Start → provider login/consent → the provider's redirect, not yet delivered to the app. */
  async function providerLeg(a: OidcTestAccount, provider = 'school', jar = new CookieJar()) {
    const s = await start(provider);
    const back = new URL(await idp.authorize(s.location.toString(), a.sub, jar));
    expect(`${back.origin}${back.pathname}`).toBe(callbackOf(provider));
    return { ...s, search: back.search };
  }

  async function signInWith(a: OidcTestAccount, provider = 'school', jar = new CookieJar()) {
    const leg = await providerLeg(a, provider, jar);
    const res = await callback(provider, leg.search, leg.cookie);
    expect(res.status).toBe(302);
    return fragmentOf(res);
  }

  describe('providers and start', () => {
    it('lists the configured providers publicly', async () => {
      const res = await t.request({ method: 'GET', url: '/api/auth/oauth/providers' });
      expect(res.status).toBe(200);
      expect(res.body.data.providers).toEqual([
        { name: 'school', displayName: 'Lectern School' },
        { name: 'plain', displayName: 'plain' },
      ]);
    });

    it('redirects to the provider with code + PKCE S256 + state + nonce, keeping them server-side', async () => {
      const { location, res, state } = await start('school', '/courses/42?tab=1');
      expect(`${location.origin}${location.pathname}`).toBe(`${idp.issuer}/auth`);
      const q = Object.fromEntries(location.searchParams);
      expect(q).toMatchObject({
        response_type: 'code',
        client_id: 'lectern',
        redirect_uri: callbackOf('school'),
        scope: 'openid email profile',
        code_challenge_method: 'S256',
      });
      expect(Buffer.from(state, 'base64url').length).toBeGreaterThanOrEqual(16);
      expect(q.nonce).toMatch(/^[\w-]{43}$/);
      expect(String(res.headers['set-cookie'])).toMatch(/HttpOnly; SameSite=Lax/);
      const [row] = await sql(
        `select user_id, meta, extract(epoch from expires_at - created_at)::int as ttl
           from identity.one_time_tokens where purpose = 'oauth_state' and token_hash = $1`,
        [sha256Hex(state)],
      );
      expect(row).toMatchObject({ user_id: null, ttl: 600 });
      expect(row!.meta).toMatchObject({ provider: 'school', nonce: q.nonce, returnTo: '/courses/42?tab=1' });
      expect(q.code_challenge).toBe(createHash('sha256').update(row!.meta.codeVerifier).digest('base64url'));
    });

    it('refuses a returnTo that leaves the app (400 naming the field, nothing stored)', async () => {
      const before = await sql(`select count(*)::int as n from identity.one_time_tokens`);
      for (const returnTo of ['//evil.test/x', 'https://evil.test', '/\\evil.test', 'courses']) {
        const res = await t.request({
          method: 'GET',
          url: `/api/auth/oauth/school/start?returnTo=${encodeURIComponent(returnTo)}`,
        });
        expect(res.status).toBe(400);
        expect(res.body.error.details[0].field).toBe('querystring.returnTo');
      }
      expect(await sql(`select count(*)::int as n from identity.one_time_tokens`)).toEqual(before);
    });

    it('documents the routes in OpenAPI, with 302 answers for the browser legs', async () => {
      const spec = (await t.request({ method: 'GET', url: '/openapi.json' })).body;
      expect(Object.keys(spec.paths['/api/auth/oauth/{provider}/start'].get.responses)).toContain('302');
      expect(spec.paths['/api/auth/oauth/{provider}/callback'].get.operationId).toBe('finishOAuthSignIn');
      expect(spec.paths['/api/auth/oauth/accounts/{provider}'].delete.operationId).toBe('unlinkAccount');
    });

    it('answers 404 for an unknown provider on start and callback', async () => {
      expect((await t.request({ method: 'GET', url: '/api/auth/oauth/github/start' })).status).toBe(404);
      const res = await t.request({ method: 'GET', url: '/api/auth/oauth/github/callback?code=x&state=y' });
      expect(res.status).toBe(404);
    });
  });

  describe('callback', () => {
    it('creates a verified student from a new identity and hands tokens to the app in the fragment', async () => {
      const a = account(true);
      const before = await countUsers();
      const data = await signInWith(a);
      expect(data).toMatchObject({ expiresIn: '900', returnTo: '/courses/42', userId: expect.any(String) });
      expect(data.refreshToken).toMatch(/^rt_/);
      const profile = await profileOf(data.token!);
      expect(profile.status).toBe(200);
      expect(profile.body.data).toMatchObject({
        userId: Number(data.userId),
        email: a.email,
        name: 'Ada Provider',
        role: 'student',
        isEmailVerified: true,
      });
      expect(await countUsers()).toBe(before + 1);
      const [link] = await linksOf(Number(data.userId));
      expect(link).toMatchObject({ provider: 'school', provider_user_id: a.sub, email: a.email });
      // Tokens are sealed at rest, and the sealed value is the provider's real, working token.
      expect(link!.access_token).toMatch(/^v1\./);
      const accessToken = t.app.platform.sealer.open(link!.access_token);
      expect(link!.access_token).not.toContain(accessToken);
      const me = await fetch(`${idp.issuer}/me`, { headers: { authorization: `Bearer ${accessToken}` } });
      expect(((await me.json()) as { sub: string }).sub).toBe(a.sub);
    });

    it('reuses the link on the next sign-in (with and without the provider session)', async () => {
      const a = account(true);
      const jar = new CookieJar();
      const first = await signInWith(a, 'school', jar);
      const users = await countUsers();
      const again = await signInWith(a, 'school', jar);
      const fresh = await signInWith(a, 'school');
      expect([again.userId, fresh.userId]).toEqual([first.userId, first.userId]);
      expect(await countUsers()).toBe(users);
      expect(await linksOf(Number(first.userId))).toHaveLength(1);
    });

    it('links a provider-verified email to an existing verified password account', async () => {
      const email = uniqueEmail('existing');
      const user = await t.app.modules.identity.createUser({
        email,
        password: PASSWORD,
        name: 'Existing',
        role: 'student',
        emailVerified: true,
      });
      const data = await signInWith(account(true, email.toUpperCase()));
      expect(Number(data.userId)).toBe(user.id);
      expect(await linksOf(user.id)).toHaveLength(1);
      const audit = await sql(`select action from identity.audit_log where subject_id = $1`, [user.id]);
      expect(audit.map((r) => r.action)).toContain('oauth.linked');
      const login = await t.request({
        method: 'POST',
        url: '/api/auth/user/login',
        payload: { email, password: PASSWORD },
      });
      expect(login.status).toBe(200);
    });

    it('on linking an unverified local account, removes its unproven password and ends its sessions', async () => {
      const squatter = await registerStudent(t);
      const data = await signInWith(account(true, squatter.email));
      expect(Number(data.userId)).toBe(squatter.userId);
      expect((await profileOf(squatter.token)).status).toBe(401);
      const login = await t.request({
        method: 'POST',
        url: '/api/auth/user/login',
        payload: { email: squatter.email, password: squatter.password },
      });
      expect(login.status).toBe(401);
      expect((await profileOf(data.token!)).body.data.isEmailVerified).toBe(true);
    });

    it('refuses an unverified provider email that matches an existing account (no link, no duplicate)', async () => {
      const existing = await registerStudent(t);
      const users = await countUsers();
      const data = await signInWith(account(false, existing.email));
      expect(data).toEqual({ error: 'email_unverified' });
      expect(await countUsers()).toBe(users);
      expect(await linksOf(existing.userId)).toHaveLength(0);
      expect((await profileOf(existing.token)).status).toBe(200);
    });

    it('creates an unverified account for a new unverified email', async () => {
      const data = await signInWith(account(false));
      expect((await profileOf(data.token!)).body.data.isEmailVerified).toBe(false);
    });

    it('works with a plain OAuth 2 provider (explicit endpoints, client_secret_post, no ID token)', async () => {
      const a = account(true);
      const data = await signInWith(a, 'plain');
      expect((await profileOf(data.token!)).body.data.email).toBe(a.email);
      expect((await linksOf(Number(data.userId)))[0]).toMatchObject({
        provider: 'plain',
        provider_user_id: a.sub,
      });
    });

    it('refuses a tampered state with 400 and leaves the real one usable', async () => {
      const leg = await providerLeg(account(true));
      const tampered = leg.search.replace(/state=([^&]+)/, (_m, s: string) => `state=${s.slice(0, -2)}xx`);
      const res = await callback('school', tampered, leg.cookie);
      expect(res.status).toBe(400);
      expect(res.body.error.details[0].field).toBe('querystring.state');
      expect((await callback('school', leg.search, leg.cookie)).status).toBe(302);
    });

    it('refuses a reused state with 400, and lets only one of two parallel callbacks through', async () => {
      const leg = await providerLeg(account(true));
      const [a, b] = await Promise.all([
        callback('school', leg.search, leg.cookie),
        callback('school', leg.search, leg.cookie),
      ]);
      expect([a.status, b.status].sort()).toEqual([302, 400]);
      expect((await callback('school', leg.search, leg.cookie)).status).toBe(400);
    });

    it('refuses an expired state, a state of another provider, and a state from another browser', async () => {
      const expired = await providerLeg(account(true));
      await sql(
        `update identity.one_time_tokens set expires_at = now() - interval '1 second' where token_hash = $1`,
        [sha256Hex(expired.state)],
      );
      expect((await callback('school', expired.search, expired.cookie)).status).toBe(400);

      const other = await providerLeg(account(true));
      expect((await callback('plain', other.search, other.cookie)).status).toBe(400);

      const csrf = await providerLeg(account(true));
      expect((await callback('school', csrf.search)).status).toBe(400);
      expect((await callback('school', csrf.search, `${csrf.cookie.split('=')[0]}=forged`)).status).toBe(400);
      expect((await callback('school', csrf.search, csrf.cookie)).status).toBe(302);
    });

    it('sends provider errors and bad codes to the app as error codes, auditing the failure', async () => {
      const cancelled = await start();
      const res = await callback('school', `?error=access_denied&state=${cancelled.state}`, cancelled.cookie);
      expect(fragmentOf(res)).toEqual({ error: 'access_denied' });

      const bad = await start();
      const iss = encodeURIComponent(idp.issuer);
      const badCode = await callback('school', `?code=nonsense&state=${bad.state}&iss=${iss}`, bad.cookie);
      expect(fragmentOf(badCode)).toEqual({ error: 'provider_error' });

      const mixUp = await providerLeg(account(true));
      const forged = mixUp.search.replace(/iss=[^&]+/, `iss=${encodeURIComponent('https://evil.test')}`);
      expect(fragmentOf(await callback('school', forged, mixUp.cookie))).toEqual({ error: 'provider_error' });
      const [row] = await sql(
        `select detail from identity.audit_log where action = 'login.failed' order by id desc limit 1`,
      );
      expect(row!.detail).toMatch(/^oauth:school: authorization response issuer mismatch/);
    });

    it('refuses a disabled account', async () => {
      const a = account(true);
      const first = await signInWith(a);
      await sql(`update identity.users set status = 'disabled' where id = $1`, [Number(first.userId)]);
      expect(await signInWith(a)).toEqual({ error: 'account_disabled' });
    });

    it('does not bypass two-factor authentication', async () => {
      const a = account(true);
      const first = await signInWith(a);
      const { recoveryCodes } = await enableTotp(t, first.token!);
      const challenged = await signInWith(a);
      expect(challenged).toEqual({
        mfaRequired: '1',
        mfaToken: expect.any(String),
        userId: first.userId,
        returnTo: '/courses/42',
      });
      const verify = await t.request({
        method: 'POST',
        url: '/api/auth/mfa/verify',
        payload: { mfaToken: challenged.mfaToken, recoveryCode: recoveryCodes[0] },
      });
      expect(verify.status).toBe(200);
    });
  });

  describe("seed 002's provider-token login", () => {
    // Through the public route: POST /api/auth/user/login with seed 002's provider body.
    const login = async (body: { provider: string; providerUserId: string; accessToken: string }) => {
      const res = await t.request({ method: 'POST', url: '/api/auth/user/login', payload: body });
      if (res.status !== 200)
        throw Object.assign(new Error(res.body.error.message), {
          statusCode: res.status,
          message: res.body.error.message,
        });
      expect(res.body.data.message).toBe('Login successful');
      return res.body.data;
    };

    it('signs in with a real access token verified at the provider, reusing the link', async () => {
      const a = account(true);
      const viaBrowser = await signInWith(a);
      const accessToken = await idp.accessTokenFor(school, a.sub);
      const result = await login({ provider: 'school', providerUserId: a.sub, accessToken });
      expect(result).toMatchObject({ userId: Number(viaBrowser.userId), token: expect.any(String) });
      expect((await profileOf((result as { token: string }).token)).status).toBe(200);
    });

    it('creates the account on first use, like the browser flow', async () => {
      const a = account(true);
      const accessToken = await idp.accessTokenFor(school, a.sub);
      const result = (await login({ provider: 'school', providerUserId: a.sub, accessToken })) as {
        token: string;
      };
      expect((await profileOf(result.token)).body.data).toMatchObject({
        email: a.email,
        isEmailVerified: true,
      });
    });

    it('answers 401 for a wrong providerUserId, a garbage token, another app’s token or an unknown provider', async () => {
      const a = account(true);
      const accessToken = await idp.accessTokenFor(school, a.sub);
      const foreign = await idp.accessTokenFor(otherApp, a.sub);
      const attempts = [
        { provider: 'school', providerUserId: 'someone-else', accessToken },
        { provider: 'school', providerUserId: a.sub, accessToken: 'garbage-token' },
        { provider: 'school', providerUserId: a.sub, accessToken: foreign },
        { provider: 'github', providerUserId: a.sub, accessToken },
      ];
      for (const body of attempts) {
        await expect(login(body)).rejects.toMatchObject({ statusCode: 401, message: 'Invalid credentials' });
      }
      expect(
        await sql('select 1 from identity.user_accounts where provider_user_id = $1', [a.sub]),
      ).toHaveLength(0);
      // The foreign token is genuine at userinfo; introspection is what shows it belongs to another app.
      const failures = await sql(
        `select detail from identity.audit_log where action = 'login.failed' and detail like 'oauth:%'`,
      );
      expect(failures.map((r) => r.detail)).toContain(
        'oauth:school: introspection: token issued to another client',
      );
    });
  });

  describe('linked accounts', () => {
    const list = (token?: string) => t.request({ method: 'GET', url: '/api/auth/oauth/accounts', token });
    const unlink = (provider: string, token?: string) =>
      t.request({ method: 'DELETE', url: `/api/auth/oauth/accounts/${provider}`, token });

    it('lists my links and requires authentication', async () => {
      const a = account(true);
      const data = await signInWith(a);
      const res = await list(data.token);
      expect(res.status).toBe(200);
      expect(res.body.data.accounts).toEqual([
        { provider: 'school', email: a.email, createdAt: expect.any(String) },
      ]);
      expect((await list()).status).toBe(401);
      expect((await unlink('school')).status).toBe(401);
    });

    it('refuses to unlink the only way to sign in (409), allows it with another link', async () => {
      const a = account(true);
      const first = await signInWith(a);
      const res = await unlink('school', first.token);
      expect(res.status).toBe(409);
      expect(await linksOf(Number(first.userId))).toHaveLength(1);
      // Same verified email through the second provider links a second identity to the account.
      const second = await signInWith(a, 'plain');
      expect(second.userId).toBe(first.userId);
      expect((await unlink('school', first.token)).status).toBe(200);
      expect(
        (await list(first.token)).body.data.accounts.map((x: { provider: string }) => x.provider),
      ).toEqual(['plain']);
      expect((await unlink('plain', first.token)).status).toBe(409);
      expect((await unlink('school', first.token)).status).toBe(404);
    });

    it('lets only one of two parallel unlinks through when each is the other’s fallback', async () => {
      const a = account(true);
      const first = await signInWith(a);
      await signInWith(a, 'plain');
      const results = await Promise.all([unlink('school', first.token), unlink('plain', first.token)]);
      expect(results.map((r) => r.status).sort()).toEqual([200, 409]);
      expect(await linksOf(Number(first.userId))).toHaveLength(1);
    });

    it('unlinks freely when the account has a password, touching only my own links', async () => {
      const email = uniqueEmail('pw');
      await t.app.modules.identity.createUser({
        email,
        password: PASSWORD,
        name: 'Pw',
        role: 'student',
        emailVerified: true,
      });
      const mine = await signInWith(account(true, email));
      const theirs = await signInWith(account(true));
      expect((await unlink('school', mine.token)).status).toBe(200);
      expect(await linksOf(Number(mine.userId))).toHaveLength(0);
      expect(await linksOf(Number(theirs.userId))).toHaveLength(1);
    });
  });
});

describe('OAuth configuration', () => {
  const base = { NODE_ENV: 'test', PGLITE_PATH: 'memory://' };
  const problemsOf = (env: Record<string, string>) => {
    try {
      loadConfig({ ...base, ...env });
      return [];
    } catch (err) {
      if (err instanceof ConfigError) return err.problems;
      throw err;
    }
  };

  it('names the missing variable of a listed provider', () => {
    expect(
      problemsOf({
        OAUTH_PROVIDERS: 'google,school',
        OAUTH_GOOGLE_CLIENT_ID: 'id',
        OAUTH_GOOGLE_CLIENT_SECRET: 's',
        OAUTH_SCHOOL_CLIENT_ID: 'id',
      }),
    ).toEqual(['OAUTH_SCHOOL_CLIENT_SECRET: required when OAUTH_PROVIDERS lists school']);
  });

  it('accepts presets with only id and secret, and http issuers only outside production', () => {
    const config = loadConfig({
      ...base,
      OAUTH_PROVIDERS: 'Google,facebook,linkedin',
      ...Object.fromEntries(
        ['GOOGLE', 'FACEBOOK', 'LINKEDIN'].flatMap((p) => [
          [`OAUTH_${p}_CLIENT_ID`, 'id'],
          [`OAUTH_${p}_CLIENT_SECRET`, 'secret'],
        ]),
      ),
    });
    const providers = createOAuthProviders(config.oauth);
    expect([...providers.values()].map((p) => [p.name, p.kind, p.issuer])).toEqual([
      ['google', 'oidc', 'https://accounts.google.com'],
      ['facebook', 'oauth2', undefined],
      ['linkedin', 'oidc', 'https://www.linkedin.com/oauth'],
    ]);
    const http = {
      OAUTH_PROVIDERS: 'school',
      OAUTH_SCHOOL_CLIENT_ID: 'id',
      OAUTH_SCHOOL_CLIENT_SECRET: 's',
      OAUTH_SCHOOL_ISSUER: 'http://127.0.0.1:9',
    };
    expect(problemsOf(http)).toEqual([]);
    expect(
      problemsOf({
        ...http,
        NODE_ENV: 'production',
        JWT_SECRET: 'j'.repeat(32),
        SIGNING_SECRET: 's'.repeat(32),
        ENCRYPTION_KEY: 'e'.repeat(32),
        PUBLIC_URL: 'https://x.test',
      }),
    ).toEqual(['OAUTH_SCHOOL_ISSUER: must be an https:// URL in production']);
  });

  it('requires an issuer or all three endpoints for a provider without a preset', () => {
    const config = loadConfig({
      ...base,
      OAUTH_PROVIDERS: 'custom',
      OAUTH_CUSTOM_CLIENT_ID: 'id',
      OAUTH_CUSTOM_CLIENT_SECRET: 's',
      OAUTH_CUSTOM_TOKEN_URL: 'https://custom.test/token',
    });
    expect(() => createOAuthProviders(config.oauth)).toThrow(
      /OAUTH_CUSTOM_AUTHORIZATION_URL: required unless OAUTH_CUSTOM_ISSUER is set/,
    );
  });
});
