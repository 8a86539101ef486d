/**
 * A real OpenID Connect provider (the `oidc-provider` package) on 127.0.0.1 with a random port, for
 * end-to-end sign-in tests. Its built-in development login and consent pages (`devInteractions`)
 * are driven like a browser would: fetch, manual redirects and a cookie jar.
 */
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { exportJWK, generateKeyPair } from 'jose';

export interface OidcTestAccount {
  sub: string;
  email: string;
  emailVerified: boolean;
  name: string;
}

export interface OidcTestClient {
  clientId: string;
  clientSecret: string;
  redirectUris: string[];
  authMethod?: 'client_secret_basic' | 'client_secret_post';
}

/** Cookies per browser, matched by path and dropped when expired, as a browser would. */
export class CookieJar {
  private cookies = new Map<string, { name: string; value: string; path: string }>();

  store(res: Response, url: string) {
    for (const line of res.headers.getSetCookie()) this.storeLine(line, url);
  }

  storeLine(line: string, url: string) {
    const [pair = '', ...attrs] = line.split(';').map((s) => s.trim());
    const eq = pair.indexOf('=');
    const name = pair.slice(0, eq);
    const value = pair.slice(eq + 1);
    let path = new URL(url).pathname.replace(/\/[^/]*$/, '') || '/';
    let expired = value === '';
    for (const attr of attrs) {
      const [k = '', v = ''] = attr.split('=');
      if (k.toLowerCase() === 'path') path = v;
      if (k.toLowerCase() === 'max-age' && Number(v) <= 0) expired = true;
      if (k.toLowerCase() === 'expires' && Date.parse(v) < Date.now()) expired = true;
    }
    const key = `${name};${path}`;
    if (expired) this.cookies.delete(key);
    else this.cookies.set(key, { name, value, path });
  }

  header(url: string): string {
    const { pathname } = new URL(url);
    return [...this.cookies.values()]
      .filter((c) => pathname === c.path || pathname.startsWith(c.path.endsWith('/') ? c.path : `${c.path}/`))
      .map((c) => `${c.name}=${c.value}`)
      .join('; ');
  }
}

export interface TestOidcProvider {
  issuer: string;
  /**
   * Opens `authorizationUrl` in a browser with `jar`, signs in as `accountId` and consents when the
   * provider asks, and returns the URL the provider finally redirects to (the client's callback).
   */
  authorize(authorizationUrl: string, accountId: string, jar?: CookieJar): Promise<string>;
  /** A real access token for `client` and `accountId`, through the full code flow with PKCE. */
  accessTokenFor(client: OidcTestClient, accountId: string): Promise<string>;
  close(): Promise<void>;
}

const decodeHtml = (s: string) =>
  s
    .replace(/&amp;/g, '&')
    .replace(/&#x2F;/gi, '/')
    .replace(/&#39;/g, "'")
    .replace(/&quot;/g, '"');

export async function startOidcProvider(options: {
  accounts: OidcTestAccount[];
  clients: OidcTestClient[];
}): Promise<TestOidcProvider> {
  // oidc-provider's start-up warnings (Node 20, in-memory adapter, dev interactions) are expected here.
  const warn = console.warn;
  console.warn = () => undefined;
  try {
    return await start(options);
  } finally {
    console.warn = warn;
  }
}

async function start(options: {
  accounts: OidcTestAccount[];
  clients: OidcTestClient[];
}): Promise<TestOidcProvider> {
  // oidc-provider ships no types; its surface used here is small.
  const { Provider } = (await import('oidc-provider' as string)) as {
    Provider: new (
      issuer: string,
      config: Record<string, unknown>,
    ) => {
      callback(): (req: unknown, res: unknown) => void;
    };
  };
  const server: Server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const issuer = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  const { privateKey } = await generateKeyPair('RS256', { extractable: true });
  const signingKey = { ...(await exportJWK(privateKey)), kid: 'test-key', alg: 'RS256', use: 'sig' };

  const provider = new Provider(issuer, {
    clients: options.clients.map((c) => ({
      client_id: c.clientId,
      client_secret: c.clientSecret,
      redirect_uris: c.redirectUris,
      response_types: ['code'],
      grant_types: ['authorization_code'],
      token_endpoint_auth_method: c.authMethod ?? 'client_secret_basic',
    })),
    async findAccount(_ctx: unknown, sub: string) {
      const account = options.accounts.find((a) => a.sub === sub);
      if (!account) return undefined;
      return {
        accountId: sub,
        async claims() {
          return { sub, email: account.email, email_verified: account.emailVerified, name: account.name };
        },
      };
    },
    claims: { openid: ['sub'], email: ['email', 'email_verified'], profile: ['name'] },
    features: {
      devInteractions: { enabled: true },
      // Confidential clients may introspect any token, as at most providers.
      introspection: { enabled: true, allowedPolicy: async () => true },
    },
    pkce: { required: () => true },
    cookies: { keys: ['oidc-test-cookie-signing-key'] },
    jwks: { keys: [signingKey] },
    ttl: {
      AccessToken: 3600,
      AuthorizationCode: 60,
      IdToken: 3600,
      Interaction: 600,
      Session: 3600,
      Grant: 3600,
    },
  });
  server.on('request', provider.callback());

  async function authorize(authorizationUrl: string, accountId: string, jar = new CookieJar()) {
    let url = authorizationUrl;
    for (let step = 0; step < 20; step++) {
      if (!url.startsWith(`${issuer}/`)) return url;
      const res = await fetch(url, { redirect: 'manual', headers: { cookie: jar.header(url) } });
      jar.store(res, url);
      const location = res.headers.get('location');
      if (res.status >= 300 && res.status < 400 && location) {
        url = new URL(location, url).toString();
        continue;
      }
      const html = await res.text();
      const action = /<form[^>]*action="([^"]+)"/.exec(html)?.[1];
      const prompt = /name="prompt" value="([^"]+)"/.exec(html)?.[1];
      if (res.status !== 200 || !action || !prompt)
        throw new Error(`provider page ${res.status}: ${html.slice(0, 500)}`);
      const target = new URL(decodeHtml(action), url).toString();
      const form = new URLSearchParams({
        prompt,
        ...(prompt === 'login' ? { login: accountId, password: 'x' } : {}),
      });
      const submitted = await fetch(target, {
        method: 'POST',
        redirect: 'manual',
        headers: { cookie: jar.header(target), 'content-type': 'application/x-www-form-urlencoded' },
        body: form,
      });
      jar.store(submitted, target);
      const next = submitted.headers.get('location');
      if (!next)
        throw new Error(`provider form ${submitted.status}: ${(await submitted.text()).slice(0, 500)}`);
      url = new URL(next, target).toString();
    }
    throw new Error('too many provider redirects');
  }

  return {
    issuer,
    authorize,
    async accessTokenFor(client, accountId) {
      const { createHash, randomBytes } = await import('node:crypto');
      const verifier = randomBytes(32).toString('base64url');
      const redirectUri = client.redirectUris[0]!;
      const start = new URL(`${issuer}/auth`);
      start.search = new URLSearchParams({
        response_type: 'code',
        client_id: client.clientId,
        redirect_uri: redirectUri,
        scope: 'openid email profile',
        state: randomBytes(16).toString('base64url'),
        code_challenge: createHash('sha256').update(verifier).digest('base64url'),
        code_challenge_method: 'S256',
      }).toString();
      const back = new URL(await authorize(start.toString(), accountId));
      const code = back.searchParams.get('code');
      if (!code) throw new Error(`no code in ${back.toString()}`);
      const body = new URLSearchParams({
        grant_type: 'authorization_code',
        code,
        redirect_uri: redirectUri,
        code_verifier: verifier,
      });
      const headers: Record<string, string> = { 'content-type': 'application/x-www-form-urlencoded' };
      if (client.authMethod === 'client_secret_post') {
        body.set('client_id', client.clientId);
        body.set('client_secret', client.clientSecret);
      } else {
        headers.authorization = `Basic ${Buffer.from(`${client.clientId}:${client.clientSecret}`).toString('base64')}`;
      }
      const res = await fetch(`${issuer}/token`, { method: 'POST', headers, body });
      const json = (await res.json()) as { access_token?: string };
      if (!json.access_token) throw new Error(`token endpoint: ${JSON.stringify(json)}`);
      return json.access_token;
    },
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}
