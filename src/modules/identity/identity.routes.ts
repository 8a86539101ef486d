import type { FastifyInstance } from 'fastify';
import type { ZodTypeProvider } from 'fastify-type-provider-zod';
import { bearerSecurity, principalOf } from '../../platform/http/auth.ts';
import { responses, successBody } from '../../platform/http/envelope.ts';
import type { RouteContext } from '../../platform/http/route-context.ts';
import { metaOf } from './identity.http.ts';
import {
  authResult,
  loginBody,
  messageResult,
  profile,
  profileUpdated,
  refreshBody,
  registerBody,
  signInResult,
  updateProfileBody,
} from './identity.schemas.ts';
import type { OAuthService } from './identity.oauth.service.ts';
import type { IdentityService } from './identity.service.ts';
import type { SignIn, SignInResult } from './identity.signin.ts';

/** Shapes a sign-in result for the API: tokens with `message`, or the MFA challenge. */
export function signInBody(result: SignInResult, message: string) {
  return 'mfaRequired' in result ? { ...result, message: 'Second factor required' } : { ...result, message };
}

/** Seed 002 Auth Service routes plus token refresh and logout. */
export function identityRoutes(
  service: IdentityService,
  signIn: SignIn,
  oauth: Pick<OAuthService, 'loginWithProviderToken'>,
) {
  return async function routes(app: FastifyInstance, { guard, buckets }: RouteContext) {
    const r = app.withTypeProvider<ZodTypeProvider>();
    const authed = { onRequest: guard.authenticate };

    r.post(
      '/auth/user/register',
      {
        config: { rateLimit: buckets.credentials },
        schema: {
          operationId: 'registerUser',
          tags: ['auth'],
          summary: 'Register a student account and sign in',
          description:
            'Creates a `student`. Emails are unique case-insensitively (409 when taken). Passwords are 8–128 characters and must not be a common password. Answers 200 (seed 002) with an access token and a refresh token.',
          body: registerBody,
          response: responses({ data: authResult }, [409]),
        },
      },
      async (request) =>
        successBody({
          ...(await service.register(request.body, metaOf(request))),
          message: 'User registered successfully',
        }),
    );

    r.post(
      '/auth/user/login',
      {
        config: { rateLimit: buckets.credentials },
        schema: {
          operationId: 'loginUser',
          tags: ['auth'],
          summary: 'Sign in with email and password',
          description:
            'A wrong password and an unknown email give the same 401 `Invalid credentials`. After 5, 10 and 15 failures for one email the email is locked out for 1, 5 and 30 minutes (429 with Retry-After), whether or not the account exists. With two-factor authentication on, the answer is `{ mfaRequired: true, mfaToken }`. Seed 002’s provider body `{provider, providerUserId, accessToken}` is checked with the provider’s userinfo endpoint (the subject must equal `providerUserId`); anything that does not verify is 401.',
          body: loginBody,
          response: responses({ data: signInResult }, [401, 403]),
        },
      },
      async (request) => {
        const body = request.body;
        if (!('email' in body)) {
          return successBody(
            signInBody(await oauth.loginWithProviderToken(body, metaOf(request)), 'Login successful'),
          );
        }
        return successBody(signInBody(await signIn.login(body, metaOf(request)), 'Login successful'));
      },
    );

    r.post(
      '/auth/token/refresh',
      {
        config: { rateLimit: buckets.credentials },
        schema: {
          operationId: 'refreshToken',
          tags: ['auth'],
          summary: 'Exchange a refresh token for new tokens',
          description:
            'Refresh tokens are single use: each call returns a new one. Presenting a token that was already used revokes the whole session (401).',
          body: refreshBody,
          response: responses({ data: authResult }, [401]),
        },
      },
      async (request) =>
        successBody({
          ...(await signIn.refresh(request.body.refreshToken, metaOf(request))),
          message: 'Token refreshed',
        }),
    );

    r.post(
      '/auth/logout',
      {
        ...authed,
        schema: {
          operationId: 'logout',
          tags: ['auth'],
          summary: 'Sign out this session',
          description:
            'Revokes the current session: its refresh token and access token stop working at once.',
          security: bearerSecurity,
          response: responses({ data: messageResult }, [401]),
        },
      },
      async (request) => {
        await signIn.logout(principalOf(request), metaOf(request));
        return successBody({ message: 'Logged out' });
      },
    );

    r.get(
      '/auth/user/profile',
      {
        ...authed,
        schema: {
          operationId: 'getProfile',
          tags: ['auth'],
          summary: 'The caller’s profile',
          security: bearerSecurity,
          response: responses({ data: profile }, [401, 404]),
        },
      },
      async (request) => successBody(await service.getProfile(principalOf(request).userId)),
    );

    r.put(
      '/auth/user/profile',
      {
        ...authed,
        schema: {
          operationId: 'updateProfile',
          tags: ['auth'],
          summary: 'Update the caller’s profile',
          description:
            'Seed 002 fields `name` and `avatarUrl`, plus `phone`, `bio`, `locale` (BCP 47) and `timezone` (IANA); `null` clears an optional field.',
          security: bearerSecurity,
          body: updateProfileBody,
          response: responses({ data: profileUpdated }, [401, 404]),
        },
      },
      async (request) =>
        successBody({
          ...(await service.updateProfile(principalOf(request).userId, request.body)),
          message: 'Profile updated successfully',
        }),
    );
  };
}
