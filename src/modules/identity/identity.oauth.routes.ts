import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import type { ZodTypeProvider } from 'fastify-type-provider-zod';
import { bearerSecurity, principalOf } from '../../platform/http/auth.ts';
import { responses, successBody } from '../../platform/http/envelope.ts';
import type { RouteContext } from '../../platform/http/route-context.ts';
import { metaOf } from './identity.http.ts';
import {
  linkedAccountsResult,
  oauthCallbackQuery,
  oauthProviderParams,
  oauthProvidersResult,
  oauthStartQuery,
  redirectResponse,
  unlinkResult,
} from './identity.oauth.schemas.ts';
import type { OAuthRedirect, OAuthService } from './identity.oauth.service.ts';

/** Response schemas of a route answering 302 on success. */
function redirectResponses(errorStatuses: number[]) {
  const out = responses({ data: redirectResponse }, errorStatuses);
  delete out[200];
  return { 302: redirectResponse, ...out };
}

function cookieOf(request: FastifyRequest, name: string): string | undefined {
  for (const part of (request.headers.cookie ?? '').split(';')) {
    const eq = part.indexOf('=');
    if (eq > 0 && part.slice(0, eq).trim() === name) return part.slice(eq + 1).trim();
  }
  return undefined;
}

/** Sends a browser redirect; the binding cookie is secure whenever the API is served over https. */
function redirect(
  reply: FastifyReply,
  secure: boolean,
  out: OAuthRedirect & { clearCookie?: { name: string; path: string } },
) {
  const flags = `HttpOnly; SameSite=Lax${secure ? '; Secure' : ''}`;
  if (out.cookie) {
    const c = out.cookie;
    reply.header('set-cookie', `${c.name}=${c.value}; Path=${c.path}; Max-Age=${c.maxAgeSeconds}; ${flags}`);
  }
  if (out.clearCookie) {
    reply.header('set-cookie', `${out.clearCookie.name}=; Path=${out.clearCookie.path}; Max-Age=0; ${flags}`);
  }
  return reply.header('cache-control', 'no-store').redirect(out.location, 302);
}

/** OAuth 2 / OpenID Connect sign-in: provider list, browser flow, linked accounts. */
export function oauthRoutes(oauth: OAuthService) {
  return async function routes(app: FastifyInstance, { guard, buckets, platform }: RouteContext) {
    const r = app.withTypeProvider<ZodTypeProvider>();
    const authed = { onRequest: guard.authenticate };
    const secure = platform.config.publicUrl.startsWith('https://');

    r.get(
      '/auth/oauth/providers',
      {
        schema: {
          operationId: 'listOAuthProviders',
          tags: ['auth'],
          summary: 'Sign-in providers configured on this server',
          description: 'For showing “Sign in with …” buttons; each links to `/api/auth/oauth/{name}/start`.',
          response: responses({ data: oauthProvidersResult }),
        },
      },
      async () => successBody(oauth.listProviders()),
    );

    r.get(
      '/auth/oauth/:provider/start',
      {
        config: { rateLimit: buckets.credentials },
        schema: {
          operationId: 'startOAuthSignIn',
          tags: ['auth'],
          summary: 'Begin signing in with a provider (browser navigation)',
          description:
            'Open this URL in the browser (a top-level navigation, not fetch). Answers 302 to the provider’s authorization page with an authorization-code request using PKCE (S256), `state` and, for OpenID Connect, `nonce`; these are kept server-side for 10 minutes, and a short-lived HttpOnly cookie ties the sign-in to this browser. `returnTo` is a path in the web app (starting with a single `/`) handed back when the sign-in completes. Unknown providers are 404. If the provider cannot be reached, the redirect goes straight to `{APP_URL}/oauth/complete#error=provider_unavailable`.',
          params: oauthProviderParams,
          querystring: oauthStartQuery,
          response: redirectResponses([404]),
        },
      },
      async (request, reply) =>
        redirect(reply, secure, await oauth.start(request.params.provider, request.query.returnTo)),
    );

    r.get(
      '/auth/oauth/:provider/callback',
      {
        config: { rateLimit: buckets.credentials },
        schema: {
          operationId: 'finishOAuthSignIn',
          tags: ['auth'],
          summary: 'Where the provider sends the browser back',
          description:
            'The provider’s redirect target (`{PUBLIC_URL}/api/auth/oauth/{provider}/callback`, register it with the provider). An unknown, expired, already used or other-provider `state`, or one from another browser, is a 400. Otherwise the code is exchanged (with the PKCE verifier), the ID token checked (signature, issuer, audience, expiry, nonce) and the account resolved: an existing link, else the account with the same email if the provider verified it, else a new student account. The answer is always a 302 to the web app with a URL fragment (fragments never reach server logs): `{APP_URL}/oauth/complete#token=…&refreshToken=…&expiresIn=…&userId=…&returnTo=…`, or with two-factor authentication `#mfaRequired=1&mfaToken=…&userId=…&returnTo=…` (finish with POST /api/auth/mfa/verify), or on failure `#error=<code>` with code `access_denied` (cancelled at the provider), `provider_error`, `email_unverified` (an account uses this email but the provider has not verified it), `email_required` (the provider gave no email) or `account_disabled`.',
          params: oauthProviderParams,
          querystring: oauthCallbackQuery,
          response: redirectResponses([404]),
        },
      },
      async (request, reply) =>
        redirect(
          reply,
          secure,
          await oauth.finish(
            request.params.provider,
            request.query,
            (name) => cookieOf(request, name),
            metaOf(request),
          ),
        ),
    );

    r.get(
      '/auth/oauth/accounts',
      {
        ...authed,
        schema: {
          operationId: 'listLinkedAccounts',
          tags: ['auth'],
          summary: 'My linked sign-in providers',
          security: bearerSecurity,
          response: responses({ data: linkedAccountsResult }, [401]),
        },
      },
      async (request) => successBody(await oauth.listAccounts(principalOf(request).userId)),
    );

    r.delete(
      '/auth/oauth/accounts/:provider',
      {
        ...authed,
        schema: {
          operationId: 'unlinkAccount',
          tags: ['auth'],
          summary: 'Unlink a sign-in provider from my account',
          description:
            'Refused with 409 when it is the only way left to sign in (no password and no other linked provider); 404 when no account of that provider is linked.',
          security: bearerSecurity,
          params: oauthProviderParams,
          response: responses({ data: unlinkResult }, [401, 404, 409]),
        },
      },
      async (request) =>
        successBody(await oauth.unlink(principalOf(request), request.params.provider, metaOf(request))),
    );
  };
}
