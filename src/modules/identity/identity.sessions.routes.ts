import type { FastifyInstance } from 'fastify';
import type { ZodTypeProvider } from 'fastify-type-provider-zod';
import { UAParser } from 'ua-parser-js';
import { z } from 'zod';
import { bearerSecurity, principalOf } from '../../platform/http/auth.ts';
import { responses, successBody } from '../../platform/http/envelope.ts';
import type { RouteContext } from '../../platform/http/route-context.ts';
import { metaOf } from './identity.http.ts';
import { messageResult, revokeOthersResult, sessionIdParams, sessionItem } from './identity.schemas.ts';
import type { SignIn } from './identity.signin.ts';

/** "Firefox 128 on Windows 10" from a user agent, for the devices list. */
export function describeDevice(userAgent: string | null): string {
  if (!userAgent) return 'Unknown device';
  const ua = UAParser(userAgent);
  const browser = [ua.browser.name, ua.browser.major].filter(Boolean).join(' ');
  const os = [ua.os.name, ua.os.version].filter(Boolean).join(' ');
  if (browser && os) return `${browser} on ${os}`;
  return browser || os || userAgent.slice(0, 60);
}

/** The caller's sessions (devices): list, revoke one, revoke all others. */
export function sessionRoutes(signIn: SignIn) {
  return async function routes(app: FastifyInstance, { guard }: RouteContext) {
    const r = app.withTypeProvider<ZodTypeProvider>();
    const authed = { onRequest: guard.authenticate };

    r.get(
      '/auth/sessions',
      {
        ...authed,
        schema: {
          operationId: 'listSessions',
          tags: ['auth'],
          summary: 'My signed-in devices',
          description:
            'Live sessions of the caller, most recently used first; `current` marks the one making this request.',
          security: bearerSecurity,
          response: responses({ data: z.object({ sessions: z.array(sessionItem) }) }, [401]),
        },
      },
      async (request) => {
        const sessions = await signIn.listSessions(principalOf(request));
        return successBody({
          sessions: sessions.map((s) => ({ ...s, device: describeDevice(s.userAgent) })),
        });
      },
    );

    r.delete(
      '/auth/sessions/:id',
      {
        ...authed,
        schema: {
          operationId: 'revokeSession',
          tags: ['auth'],
          summary: 'Sign out one of my devices',
          description:
            'Its refresh and access tokens stop working at once. Sessions of other users answer 404.',
          security: bearerSecurity,
          params: sessionIdParams,
          response: responses({ data: messageResult }, [401, 404]),
        },
      },
      async (request) => {
        await signIn.revokeSession(principalOf(request), request.params.id, metaOf(request));
        return successBody({ message: 'Session revoked' });
      },
    );

    r.post(
      '/auth/sessions/revoke-others',
      {
        ...authed,
        schema: {
          operationId: 'revokeOtherSessions',
          tags: ['auth'],
          summary: 'Sign out all my other devices',
          security: bearerSecurity,
          response: responses({ data: revokeOthersResult }, [401]),
        },
      },
      async (request) => {
        const principal = principalOf(request);
        const revoked = await signIn.revokeAllSessions(principal.userId, 'revoked_by_user', {
          ...metaOf(request),
          keep: principal.sessionId,
        });
        return successBody({ revoked, message: `${revoked} other session(s) signed out` });
      },
    );
  };
}
