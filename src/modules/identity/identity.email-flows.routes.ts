import type { FastifyInstance } from 'fastify';
import type { ZodTypeProvider } from 'fastify-type-provider-zod';
import { bearerSecurity, principalOf } from '../../platform/http/auth.ts';
import { responses, successBody } from '../../platform/http/envelope.ts';
import type { RouteContext } from '../../platform/http/route-context.ts';
import {
  changePasswordBody,
  changePasswordResult,
  forgotPasswordBody,
  otpLoginBody,
  otpRequestBody,
  resetPasswordBody,
  verifyEmailBody,
} from './identity.email-flows.schemas.ts';
import type { EmailFlows } from './identity.email-flows.service.ts';
import { metaOf } from './identity.http.ts';
import { signInBody } from './identity.routes.ts';
import { messageResult, signInResult } from './identity.schemas.ts';

/** Email verification, email OTP sign-in, password reset and change. */
export function emailFlowRoutes({ verification, otp, password }: EmailFlows) {
  return async function routes(app: FastifyInstance, { guard, buckets }: RouteContext) {
    const r = app.withTypeProvider<ZodTypeProvider>();
    const credentials = { config: { rateLimit: buckets.credentials } };
    const authed = { onRequest: guard.authenticate };

    r.post(
      '/auth/email/verify',
      {
        ...credentials,
        schema: {
          operationId: 'verifyEmail',
          tags: ['auth'],
          summary: 'Confirm an email address with the emailed link',
          description:
            'Takes the `token` of the link sent on registration (valid 24 hours, single use). No sign-in needed. A used, expired or unknown token answers 400 on `body.token`.',
          body: verifyEmailBody,
          response: responses({ data: messageResult }),
        },
      },
      async (request) => successBody(await verification.verify(request.body.token, metaOf(request))),
    );

    r.post(
      '/auth/email/verify/resend',
      {
        ...authed,
        ...credentials,
        schema: {
          operationId: 'resendVerificationEmail',
          tags: ['auth'],
          summary: 'Send me a new verification link',
          description:
            'The new link replaces any earlier one. At most 3 per hour per account (429 with Retry-After); 409 when the email is already verified.',
          security: bearerSecurity,
          response: responses({ data: messageResult }, [401, 404, 409]),
        },
      },
      async (request) => successBody(await verification.resend(principalOf(request).userId)),
    );

    r.post(
      '/auth/otp/request',
      {
        ...credentials,
        schema: {
          operationId: 'requestLoginCode',
          tags: ['auth'],
          summary: 'Email me a sign-in code',
          description:
            'Sends a 6-digit code valid for 10 minutes to an active account; a new request invalidates the previous code. The answer is the same whether or not the email is registered. At most 5 codes per email per 15 minutes; further requests answer alike but send nothing.',
          body: otpRequestBody,
          response: responses({ data: messageResult }),
        },
      },
      async (request) => successBody(await otp.requestCode(request.body.email, metaOf(request))),
    );

    r.post(
      '/auth/otp/login',
      {
        ...credentials,
        schema: {
          operationId: 'loginWithCode',
          tags: ['auth'],
          summary: 'Sign in with an emailed code',
          description:
            'Answers like password login: tokens, or `{ mfaRequired: true, mfaToken }` when the account has two-factor authentication. Unknown email and wrong, expired or used code give the same 401 `Invalid or expired code`. A code allows 5 tries; after 5, 10 and 15 failures the email is locked out for 1, 5 and 30 minutes (429). Signing in this way also verifies the email.',
          body: otpLoginBody,
          response: responses({ data: signInResult }, [401, 403]),
        },
      },
      async (request) =>
        successBody(signInBody(await otp.login(request.body, metaOf(request)), 'Login successful')),
    );

    r.post(
      '/auth/password/forgot',
      {
        ...credentials,
        schema: {
          operationId: 'forgotPassword',
          tags: ['auth'],
          summary: 'Email me a password reset link',
          description:
            'Sends a link to `/reset-password?token=…` of the web app, valid 30 minutes, to an active account; a new request invalidates the previous link. The answer is the same whether or not the email is registered. At most 5 links per email per 15 minutes.',
          body: forgotPasswordBody,
          response: responses({ data: messageResult }),
        },
      },
      async (request) => successBody(await password.forgot(request.body.email, metaOf(request))),
    );

    r.post(
      '/auth/password/reset',
      {
        ...credentials,
        schema: {
          operationId: 'resetPassword',
          tags: ['auth'],
          summary: 'Set a new password with the emailed link',
          description:
            'The token works once and for 30 minutes (otherwise 400 on `body.token`). The password follows the registration rules and must differ from the current one. Every session is signed out and no new one is opened: sign in again (with the second factor if the account has one). Also verifies the email.',
          body: resetPasswordBody,
          response: responses({ data: messageResult }),
        },
      },
      async (request) => successBody(await password.reset(request.body, metaOf(request))),
    );

    r.post(
      '/auth/password/change',
      {
        ...authed,
        ...credentials,
        schema: {
          operationId: 'changePassword',
          tags: ['auth'],
          summary: 'Change my password',
          description:
            'Needs the current password (400 on `body.currentPassword` when wrong; repeated failures lock changes out for a while, 429). With `signOutOtherSessions`, every other device is signed out and this one stays. Accounts without a password (OAuth, invitation) set one through the reset flow instead.',
          security: bearerSecurity,
          body: changePasswordBody,
          response: responses({ data: changePasswordResult }, [401, 404]),
        },
      },
      async (request) =>
        successBody(await password.change(principalOf(request), request.body, metaOf(request))),
    );
  };
}
