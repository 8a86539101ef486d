import type { FastifyInstance } from 'fastify';
import type { ZodTypeProvider } from 'fastify-type-provider-zod';
import { bearerSecurity, principalOf } from '../../platform/http/auth.ts';
import { responses, successBody } from '../../platform/http/envelope.ts';
import type { RouteContext } from '../../platform/http/route-context.ts';
import { metaOf } from './identity.http.ts';
import {
  codeBody,
  disableBody,
  mfaStatus,
  recoveryCodesResult,
  totpSetup,
  verifyBody,
} from './identity.mfa.schemas.ts';
import type { Mfa } from './identity.mfa.service.ts';
import { authResult, messageResult } from './identity.schemas.ts';

/** TOTP two-factor authentication: set-up, enable, disable, recovery codes, and the sign-in step. */
export function mfaRoutes(mfa: Mfa) {
  return async function routes(app: FastifyInstance, { guard, buckets }: RouteContext) {
    const r = app.withTypeProvider<ZodTypeProvider>();
    const authed = { onRequest: guard.authenticate };
    const limited = { config: { rateLimit: buckets.credentials } };

    r.get(
      '/auth/mfa',
      {
        ...authed,
        schema: {
          operationId: 'getMfaStatus',
          tags: ['auth'],
          summary: 'My two-factor authentication status',
          security: bearerSecurity,
          response: responses({ data: mfaStatus }, [401, 404]),
        },
      },
      async (request) => successBody(await mfa.status(principalOf(request).userId)),
    );

    r.post(
      '/auth/mfa/totp/setup',
      {
        ...authed,
        schema: {
          operationId: 'setupTotp',
          tags: ['auth'],
          summary: 'Start setting up an authenticator app',
          description:
            'Creates a new secret (replacing an unfinished set-up) and answers it with its `otpauth://` URI (issuer Lectern, SHA1, 6 digits, 30 seconds) and QR codes. Two-factor authentication is on only after POST /api/auth/mfa/totp/enable with a first code. 409 when it is already on.',
          security: bearerSecurity,
          response: responses({ data: totpSetup }, [401, 404, 409]),
        },
      },
      async (request) => successBody(await mfa.setup(principalOf(request).userId, metaOf(request))),
    );

    r.post(
      '/auth/mfa/totp/enable',
      {
        ...authed,
        ...limited,
        schema: {
          operationId: 'enableTotp',
          tags: ['auth'],
          summary: 'Turn on two-factor authentication with a first code',
          description:
            'Checks a code of the pending set-up (one 30-second step of clock drift is tolerated) and answers 10 single-use recovery codes, shown this once only. A wrong code is 400 on `code`; 409 without a pending set-up or when already on.',
          security: bearerSecurity,
          body: codeBody,
          response: responses({ data: recoveryCodesResult }, [401, 404, 409]),
        },
      },
      async (request) =>
        successBody(await mfa.enable(principalOf(request).userId, request.body.code, metaOf(request))),
    );

    r.post(
      '/auth/mfa/totp/disable',
      {
        ...authed,
        ...limited,
        schema: {
          operationId: 'disableTotp',
          tags: ['auth'],
          summary: 'Turn off two-factor authentication',
          description:
            'Needs the current password and a TOTP code or a recovery code; a wrong one is 400 naming the field. Accounts without a password set one through the password reset flow first. Deletes the authenticator and the recovery codes.',
          security: bearerSecurity,
          body: disableBody,
          response: responses({ data: messageResult }, [401, 404, 409]),
        },
      },
      async (request) =>
        successBody(await mfa.disable(principalOf(request).userId, request.body, metaOf(request))),
    );

    r.post(
      '/auth/mfa/recovery-codes',
      {
        ...authed,
        ...limited,
        schema: {
          operationId: 'regenerateRecoveryCodes',
          tags: ['auth'],
          summary: 'Replace my recovery codes',
          description:
            'Needs a current TOTP code. Answers 10 new single-use recovery codes; every earlier one stops working.',
          security: bearerSecurity,
          body: codeBody,
          response: responses({ data: recoveryCodesResult }, [401, 404, 409]),
        },
      },
      async (request) =>
        successBody(
          await mfa.regenerateRecoveryCodes(principalOf(request).userId, request.body.code, metaOf(request)),
        ),
    );

    r.post(
      '/auth/mfa/verify',
      {
        ...limited,
        schema: {
          operationId: 'verifyMfa',
          tags: ['auth'],
          summary: 'Complete a sign-in with the second factor',
          description:
            'Takes the `mfaToken` of a sign-in answer (valid 5 minutes, single use) and a TOTP code or a recovery code, and answers the same tokens as password login. Each TOTP code and recovery code works once. Every failure is 401 `Invalid or expired code`; 5 wrong codes end the challenge, and repeated failures lock the account out progressively (429 with Retry-After).',
          body: verifyBody,
          response: responses({ data: authResult }, [401, 403]),
        },
      },
      async (request) =>
        successBody({ ...(await mfa.verify(request.body, metaOf(request))), message: 'Login successful' }),
    );
  };
}
