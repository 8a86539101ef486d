import { createRemoteJWKSet, type JWTPayload, jwtVerify } from 'jose';
import { z } from 'zod';
import { ConfigError, type OAuthProviderSettings } from '../../platform/config.ts';

export type TokenAuthMethod = 'client_secret_basic' | 'client_secret_post';

interface Preset {
  displayName: string;
  issuer?: string;
  authorizationUrl?: string;
  tokenUrl?: string;
  userinfoUrl?: string;
  scopes: string[];
  tokenAuthMethod?: TokenAuthMethod;
  /** Other spellings of the issuer seen in ID tokens. */
  idTokenIssuers?: string[];
  /**
   * Whether an email the provider returns counts as verified although it sends no `email_verified`.
   * Facebook's Graph API returns only confirmed addresses (we rely on its documented behaviour).
   */
  returnsOnlyVerifiedEmails?: boolean;
}

/** Known providers: only the client id and secret need configuring. Any setting can be overridden. */
export const OAUTH_PRESETS: Record<string, Preset> = {
  google: {
    displayName: 'Google',
    issuer: 'https://accounts.google.com',
    // Google documents both forms for the `iss` of its ID tokens.
    idTokenIssuers: ['accounts.google.com'],
    scopes: ['openid', 'email', 'profile'],
  },
  linkedin: {
    displayName: 'LinkedIn',
    issuer: 'https://www.linkedin.com/oauth',
    scopes: ['openid', 'profile', 'email'],
  },
  facebook: {
    displayName: 'Facebook',
    authorizationUrl: 'https://www.facebook.com/v19.0/dialog/oauth',
    tokenUrl: 'https://graph.facebook.com/v19.0/oauth/access_token',
    userinfoUrl: 'https://graph.facebook.com/me?fields=id,name,email',
    scopes: ['email', 'public_profile'],
    tokenAuthMethod: 'client_secret_post',
    returnsOnlyVerifiedEmails: true,
  },
};

/** A provider answered badly or not at all. Internal: callers turn it into their own error. */
export class ProviderFailure extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'ProviderFailure';
  }
}

export interface ProviderEndpoints {
  authorization: string;
  token: string;
  userinfo: string;
  tokenAuthMethod: TokenAuthMethod;
  introspection?: string;
  /** RFC 9207: the provider names itself in the authorization response (mix-up defence). */
  issParameterSupported: boolean;
}

export interface ProviderTokens {
  accessToken: string;
  refreshToken?: string;
  idToken?: string;
}

/** Who the provider says the person is, in one shape for every provider. */
export interface ProviderProfile {
  subject: string;
  email: string | null;
  emailVerified: boolean;
  name: string | null;
  picture: string | null;
}

export interface OAuthProvider {
  name: string;
  displayName: string;
  clientId: string;
  /** `oidc` when an issuer is configured: ID tokens and nonces are checked. */
  kind: 'oidc' | 'oauth2';
  issuer?: string;
  scopes: string[];
  endpoints(): Promise<ProviderEndpoints>;
  exchangeCode(input: { code: string; redirectUri: string; codeVerifier: string }): Promise<ProviderTokens>;
  /** Verifies an ID token's signature (JWKS), issuer, audience, expiry and nonce; returns its claims. */
  verifyIdToken(idToken: string, nonce: string): Promise<JWTPayload & { sub: string }>;
  fetchProfile(accessToken: string): Promise<ProviderProfile>;
  /**
   * When the provider offers token introspection (RFC 7662), confirms the access token is live and
   * was issued to this client, so a token obtained by another application cannot be replayed here.
   */
  assertTokenIssuedToUs(accessToken: string): Promise<void>;
}

interface Discovered {
  endpoints: ProviderEndpoints;
  jwks?: ReturnType<typeof createRemoteJWKSet>;
}

const HTTP_TIMEOUT_MS = 10_000;
const DISCOVERY_TTL_MS = 3_600_000;

const discoverySchema = z.object({
  issuer: z.string(),
  authorization_endpoint: z.string(),
  token_endpoint: z.string(),
  userinfo_endpoint: z.string(),
  jwks_uri: z.string(),
  introspection_endpoint: z.string().optional(),
  token_endpoint_auth_methods_supported: z.array(z.string()).optional(),
  id_token_signing_alg_values_supported: z.array(z.string()).optional(),
  authorization_response_iss_parameter_supported: z.boolean().optional(),
});

const tokenResponseSchema = z.object({
  access_token: z.string().min(1),
  token_type: z.string().optional(),
  refresh_token: z.string().min(1).optional(),
  id_token: z.string().min(1).optional(),
});

const EMAIL = /^[^\s@]{1,64}@[^\s@]+\.[^\s@]+$/;

async function fetchJson(url: string, init: RequestInit, what: string): Promise<unknown> {
  let res: Response;
  try {
    res = await fetch(url, { ...init, redirect: 'manual', signal: AbortSignal.timeout(HTTP_TIMEOUT_MS) });
  } catch (err) {
    throw new ProviderFailure(`${what}: ${(err as Error).message}`);
  }
  const text = await res.text().catch(() => '');
  if (!res.ok) throw new ProviderFailure(`${what}: HTTP ${res.status}`);
  try {
    return JSON.parse(text) as unknown;
  } catch {
    throw new ProviderFailure(`${what}: not JSON`);
  }
}

function clientAuth(
  method: TokenAuthMethod,
  clientId: string,
  clientSecret: string,
  body: URLSearchParams,
): Record<string, string> {
  if (method === 'client_secret_post') {
    body.set('client_id', clientId);
    body.set('client_secret', clientSecret);
    return {};
  }
  // RFC 6749 §2.3.1: each part is form-encoded before joining.
  const basic = Buffer.from(`${encodeURIComponent(clientId)}:${encodeURIComponent(clientSecret)}`).toString(
    'base64',
  );
  return { authorization: `Basic ${basic}` };
}

function toProfile(info: unknown, trustEmails: boolean): ProviderProfile {
  if (!info || typeof info !== 'object') throw new ProviderFailure('userinfo: not an object');
  const o = info as Record<string, unknown>;
  const rawSubject = o.sub ?? o.id;
  const subject =
    typeof rawSubject === 'string' ? rawSubject : typeof rawSubject === 'number' ? String(rawSubject) : '';
  if (!subject || subject.length > 255) throw new ProviderFailure('userinfo: no subject');
  const rawEmail = typeof o.email === 'string' ? o.email.trim() : '';
  const email = rawEmail.length <= 254 && EMAIL.test(rawEmail) ? rawEmail : null;
  const given = [o.given_name, o.family_name].filter((v) => typeof v === 'string').join(' ');
  const name = (typeof o.name === 'string' && o.name.trim()) || given.trim() || null;
  const picture =
    typeof o.picture === 'string' && o.picture.startsWith('https://') && o.picture.length <= 2048
      ? o.picture
      : null;
  return {
    subject,
    email,
    emailVerified: email !== null && (o.email_verified === true || trustEmails),
    name,
    picture,
  };
}

function createProvider(settings: OAuthProviderSettings, allowInsecureHttp: boolean): OAuthProvider {
  const preset: Partial<Preset> = OAUTH_PRESETS[settings.name] ?? {};
  const issuer = settings.issuer ?? preset.issuer;
  const explicit = {
    authorization: settings.authorizationUrl ?? preset.authorizationUrl,
    token: settings.tokenUrl ?? preset.tokenUrl,
    userinfo: settings.userinfoUrl ?? preset.userinfoUrl,
  };
  const prefix = `OAUTH_${settings.name.toUpperCase()}_`;
  if (!issuer) {
    const missing = (
      [
        ['AUTHORIZATION_URL', explicit.authorization],
        ['TOKEN_URL', explicit.token],
        ['USERINFO_URL', explicit.userinfo],
      ] as const
    ).filter(([, v]) => !v);
    if (missing.length) {
      throw new ConfigError(
        missing.map(([key]) => `${prefix}${key}: required unless ${prefix}ISSUER is set (OpenID Connect)`),
      );
    }
  }
  const kind = issuer ? 'oidc' : 'oauth2';
  const scopes = settings.scopes ?? preset.scopes ?? ['openid', 'email', 'profile'];
  const { clientId, clientSecret } = settings;

  const assertSecureUrl = (url: string, what: string) => {
    if (url.startsWith('https://') || (allowInsecureHttp && url.startsWith('http://'))) return url;
    throw new ProviderFailure(`${what} is not an https URL`);
  };

  let discovery: { at: number; value: Promise<Discovered> } | undefined;

  async function discover(): Promise<Discovered> {
    if (!issuer) {
      return {
        endpoints: {
          authorization: explicit.authorization!,
          token: explicit.token!,
          userinfo: explicit.userinfo!,
          tokenAuthMethod: settings.tokenAuthMethod ?? preset.tokenAuthMethod ?? 'client_secret_basic',
          issParameterSupported: false,
        },
      };
    }
    const url = `${issuer.replace(/\/$/, '')}/.well-known/openid-configuration`;
    const parsed = discoverySchema.safeParse(await fetchJson(url, {}, 'discovery'));
    if (!parsed.success) throw new ProviderFailure('discovery: incomplete metadata');
    const meta = parsed.data;
    // OpenID Connect Discovery §4.3: the document must name exactly the issuer we asked.
    if (meta.issuer !== issuer) throw new ProviderFailure('discovery: issuer mismatch');
    const methods = meta.token_endpoint_auth_methods_supported ?? ['client_secret_basic'];
    const tokenAuthMethod =
      settings.tokenAuthMethod ??
      preset.tokenAuthMethod ??
      (methods.includes('client_secret_basic') || !methods.includes('client_secret_post')
        ? 'client_secret_basic'
        : 'client_secret_post');
    return {
      endpoints: {
        authorization: assertSecureUrl(
          explicit.authorization ?? meta.authorization_endpoint,
          'authorization',
        ),
        token: assertSecureUrl(explicit.token ?? meta.token_endpoint, 'token endpoint'),
        userinfo: assertSecureUrl(explicit.userinfo ?? meta.userinfo_endpoint, 'userinfo endpoint'),
        introspection: meta.introspection_endpoint
          ? assertSecureUrl(meta.introspection_endpoint, 'introspection endpoint')
          : undefined,
        tokenAuthMethod,
        issParameterSupported: meta.authorization_response_iss_parameter_supported === true,
      },
      jwks: createRemoteJWKSet(new URL(assertSecureUrl(meta.jwks_uri, 'jwks_uri')), {
        timeoutDuration: HTTP_TIMEOUT_MS,
      }),
    };
  }

  function resolved() {
    if (!discovery || Date.now() - discovery.at > DISCOVERY_TTL_MS) {
      const value = discover();
      const entry = { at: Date.now(), value };
      discovery = entry;
      // A failed discovery is retried on the next sign-in rather than cached for an hour.
      value.catch(() => {
        if (discovery === entry) discovery = undefined;
      });
    }
    return discovery.value;
  }

  return {
    name: settings.name,
    displayName: settings.displayName ?? preset.displayName ?? settings.name,
    clientId,
    kind,
    issuer,
    scopes,
    endpoints: async () => (await resolved()).endpoints,

    async exchangeCode({ code, redirectUri, codeVerifier }) {
      const { endpoints } = await resolved();
      const body = new URLSearchParams({
        grant_type: 'authorization_code',
        code,
        redirect_uri: redirectUri,
        code_verifier: codeVerifier,
      });
      const headers = clientAuth(endpoints.tokenAuthMethod, clientId, clientSecret, body);
      const json = await fetchJson(
        endpoints.token,
        {
          method: 'POST',
          headers: {
            ...headers,
            'content-type': 'application/x-www-form-urlencoded',
            accept: 'application/json',
          },
          body,
        },
        'token',
      );
      const parsed = tokenResponseSchema.safeParse(json);
      if (!parsed.success) throw new ProviderFailure('token: no access token');
      if (parsed.data.token_type && parsed.data.token_type.toLowerCase() !== 'bearer')
        throw new ProviderFailure('token: not a bearer token');
      return {
        accessToken: parsed.data.access_token,
        refreshToken: parsed.data.refresh_token,
        idToken: parsed.data.id_token,
      };
    },

    async verifyIdToken(idToken, nonce) {
      const { jwks } = await resolved();
      if (!jwks || !issuer) throw new ProviderFailure('id token: provider is not OpenID Connect');
      try {
        const { payload } = await jwtVerify(idToken, jwks, {
          issuer: [issuer, ...(preset.idTokenIssuers ?? [])],
          audience: clientId,
          requiredClaims: ['sub', 'exp', 'iat'],
          clockTolerance: 60,
        });
        // OIDC Core §3.1.3.7: with several audiences the authorized party must be us.
        if (Array.isArray(payload.aud) && payload.aud.length > 1 && payload.azp !== clientId)
          throw new ProviderFailure('id token: azp mismatch');
        if (payload.nonce !== nonce) throw new ProviderFailure('id token: nonce mismatch');
        return payload as JWTPayload & { sub: string };
      } catch (err) {
        if (err instanceof ProviderFailure) throw err;
        throw new ProviderFailure(`id token: ${(err as Error).message}`);
      }
    },

    async fetchProfile(accessToken) {
      const { endpoints } = await resolved();
      const info = await fetchJson(
        endpoints.userinfo,
        { headers: { authorization: `Bearer ${accessToken}`, accept: 'application/json' } },
        'userinfo',
      );
      return toProfile(info, preset.returnsOnlyVerifiedEmails === true);
    },

    async assertTokenIssuedToUs(accessToken) {
      const { endpoints } = await resolved();
      if (!endpoints.introspection) return;
      const body = new URLSearchParams({ token: accessToken, token_type_hint: 'access_token' });
      const headers = clientAuth(endpoints.tokenAuthMethod, clientId, clientSecret, body);
      const json = (await fetchJson(
        endpoints.introspection,
        {
          method: 'POST',
          headers: {
            ...headers,
            'content-type': 'application/x-www-form-urlencoded',
            accept: 'application/json',
          },
          body,
        },
        'introspection',
      )) as { active?: unknown; client_id?: unknown };
      if (json.active !== true) throw new ProviderFailure('introspection: token not active');
      if (json.client_id !== undefined && json.client_id !== clientId)
        throw new ProviderFailure('introspection: token issued to another client');
    },
  };
}

/**
 * The configured providers by name, with presets applied. Throws ConfigError (at start-up) naming
 * the variable when a provider has neither an issuer nor its three endpoint URLs.
 */
export function createOAuthProviders(config: {
  providers: OAuthProviderSettings[];
  allowInsecureHttp: boolean;
}): Map<string, OAuthProvider> {
  return new Map(config.providers.map((s) => [s.name, createProvider(s, config.allowInsecureHttp)]));
}
