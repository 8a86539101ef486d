import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import type { ZodTypeProvider } from 'fastify-type-provider-zod';
import { z } from 'zod';
import { AppError } from '../../platform/errors.ts';
import { bearerSecurity, principalOf } from '../../platform/http/auth.ts';
import { responses, successBody } from '../../platform/http/envelope.ts';
import type { RouteContext } from '../../platform/http/route-context.ts';
import type { Preferences, UnsubscribeScope } from './notifications.preferences.ts';
import { escapeHtml } from './templates/html.ts';

const tags = ['notifications'];
const category = z.enum(['account', 'course_updates', 'payments', 'reminders', 'marketing']);
const switches = z.object({ email: z.boolean(), in_app: z.boolean(), push: z.boolean() });
const switchesPatch = z.strictObject({
  email: z.boolean().optional(),
  in_app: z.boolean().optional(),
  push: z.boolean().optional(),
});

const preferencesView = z.object({
  preferences: z.object({
    account: switches,
    course_updates: switches,
    payments: switches,
    reminders: switches,
    marketing: switches,
  }),
  dailyDigest: z.boolean().meta({ description: 'A 07:00 UTC email listing unread in-app notifications' }),
  alwaysOn: z.array(category).meta({ description: 'Categories that cannot be turned off' }),
});

const preferencesBody = z
  .strictObject({
    preferences: z
      .strictObject({
        account: switchesPatch.optional(),
        course_updates: switchesPatch.optional(),
        payments: switchesPatch.optional(),
        reminders: switchesPatch.optional(),
        marketing: switchesPatch.optional(),
      })
      .optional(),
    dailyDigest: z.boolean().optional(),
  })
  .refine((b) => b.preferences !== undefined || b.dailyDigest !== undefined, 'Nothing to change');

const unsubscribeQuery = z.strictObject({
  token: z.string().min(1).max(200).meta({ description: 'The signed token from the email' }),
});
const unsubscribeScope = z.enum(['course_updates', 'payments', 'reminders', 'marketing', 'digest']);
const unsubscribeResult = z.object({
  unsubscribed: z.literal(true),
  scope: unsubscribeScope,
  message: z.string(),
});
const unsubscribePreview = z.object({
  unsubscribed: z.boolean().meta({ description: 'Whether this kind of email is already off' }),
  scope: unsubscribeScope,
  message: z.string(),
});

const SCOPE_NAMES: Record<UnsubscribeScope, string> = {
  course_updates: 'course update emails',
  payments: 'payment emails',
  reminders: 'reminder emails',
  marketing: 'news and offers',
  digest: 'the daily digest',
};

/** Browsers following the link from an email get a small page; API clients the usual envelope. */
const wantsHtml = (request: FastifyRequest) => {
  const accept = request.headers.accept ?? '';
  return accept.includes('text/html') && !accept.trimStart().startsWith('application/json');
};

function page(
  reply: FastifyReply,
  status: number,
  title: string,
  text: string,
  form?: { action: string; button: string },
) {
  const button = form
    ? `<form method="post" action="${escapeHtml(form.action)}" style="margin:24px 0 0;"><input type="hidden" name="confirm" value="1"><button type="submit" style="font-size:16px;padding:10px 20px;border:0;border-radius:6px;background:#1f6feb;color:#fff;cursor:pointer;">${escapeHtml(form.button)}</button></form>`
    : '';
  return reply
    .status(status)
    .type('text/html; charset=utf-8')
    .header('cache-control', 'no-store')
    .send(
      `<!DOCTYPE html><html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1"><meta name="robots" content="noindex"><title>${escapeHtml(title)}</title></head>` +
        `<body style="margin:0;padding:48px 16px;background:#f5f7fa;font-family:-apple-system,BlinkMacSystemFont,'Segoe UI',Roboto,Helvetica,Arial,sans-serif;color:#1f2933;">` +
        `<main style="max-width:480px;margin:0 auto;background:#fff;border:1px solid #e4e7eb;border-radius:8px;padding:32px;"><h1 style="font-size:22px;margin:0 0 16px;">${escapeHtml(title)}</h1><p style="font-size:16px;line-height:24px;margin:0;">${escapeHtml(text)}</p>${button}</main></body></html>`,
    );
}

const badLinkPage = (reply: FastifyReply) =>
  page(
    reply,
    400,
    'This link does not work',
    'The unsubscribe link is invalid or was altered. Nothing was changed.',
  );

/** Preferences per category and channel, and the one-click unsubscribe links of emails. */
export function preferenceRoutes(preferences: Preferences) {
  return async function routes(app: FastifyInstance, { guard }: RouteContext) {
    // RFC 8058 one-click unsubscribe posts `List-Unsubscribe=One-Click` as a form, URL-encoded or
    // multipart; the confirmation page's form posts URL-encoded. The token is in the query, so the
    // body's content is not needed. This plugin's scope only.
    if (!app.hasContentTypeParser('application/x-www-form-urlencoded')) {
      app.addContentTypeParser(
        'application/x-www-form-urlencoded',
        { parseAs: 'string', bodyLimit: 4096 },
        (_req, body, done) => done(null, Object.fromEntries(new URLSearchParams(String(body)))),
      );
    }
    if (!app.hasContentTypeParser('multipart/form-data')) {
      app.addContentTypeParser(
        'multipart/form-data',
        { parseAs: 'string', bodyLimit: 4096 },
        (_req, _body, done) => done(null, {}),
      );
    }
    const r = app.withTypeProvider<ZodTypeProvider>();
    const authed = { onRequest: guard.authenticate };

    r.get(
      '/notifications/preferences',
      {
        ...authed,
        schema: {
          operationId: 'getNotificationPreferences',
          tags,
          summary: 'My notification preferences',
          description:
            'Every category × channel switch (defaults: on, except `marketing`), the daily digest setting, and the categories that are always on (`account`: sign-in, security and account messages).',
          security: bearerSecurity,
          response: responses({ data: preferencesView }, [401]),
        },
      },
      async (request) => successBody(await preferences.get(principalOf(request).userId)),
    );

    r.put(
      '/notifications/preferences',
      {
        ...authed,
        schema: {
          operationId: 'updateNotificationPreferences',
          tags,
          summary: 'Change my notification preferences',
          description:
            'Partial: only the switches given change. Turning an `account` switch off is 400 and changes nothing. Returns the full, updated preferences.',
          security: bearerSecurity,
          body: preferencesBody,
          response: responses({ data: preferencesView }, [401]),
        },
      },
      async (request) => successBody(await preferences.update(principalOf(request).userId, request.body)),
    );

    r.get(
      '/notifications/unsubscribe',
      {
        schema: {
          tags,
          querystring: unsubscribeQuery,
          response: responses({ data: unsubscribePreview }),
          operationId: 'previewUnsubscribe',
          summary: 'What an unsubscribe link turns off (no login, changes nothing)',
          description:
            'The link at the bottom of non-essential emails. `token` is signed by the server (HMAC-SHA256 over the user and the kind of email) and never expires; a forged or altered token is 400. Opening the link changes nothing — mail scanners and link previews follow links — it shows what would be turned off: browsers (`Accept: text/html`) get a page with an Unsubscribe button that POSTs to the same URL, API clients the envelope.',
        },
      },
      async (request, reply) => {
        const html = wantsHtml(request);
        try {
          const { scope, alreadyOff } = await preferences.inspectUnsubscribe(request.query.token);
          const name = SCOPE_NAMES[scope];
          const message = alreadyOff
            ? `You are not receiving ${name} by email. You can turn them back on in your notification settings.`
            : `Unsubscribe from ${name} by email? You can turn them back on in your notification settings.`;
          if (!html) return successBody({ unsubscribed: alreadyOff, scope, message });
          if (alreadyOff) return page(reply, 200, 'You are unsubscribed', message);
          return page(reply, 200, 'Unsubscribe', message, {
            // Relative, so it posts to the URL the link opened, whatever prefix a proxy adds.
            action: `?token=${encodeURIComponent(request.query.token)}`,
            button: `Unsubscribe from ${name}`,
          });
        } catch (err) {
          if (html && err instanceof AppError && err.statusCode === 400) return badLinkPage(reply);
          throw err;
        }
      },
    );

    r.post(
      '/notifications/unsubscribe',
      {
        schema: {
          tags,
          querystring: unsubscribeQuery,
          response: responses({ data: unsubscribeResult }),
          operationId: 'unsubscribeOneClick',
          summary: 'Unsubscribe: one click (RFC 8058) or the confirmation page (no login)',
          description:
            'Turns email off for the category the token names (or the daily digest). What mail clients call for our `List-Unsubscribe-Post: List-Unsubscribe=One-Click` header (form body URL-encoded or multipart; its content is not needed) and what the confirmation page’s button posts. Idempotent. A forged or altered token is 400 and changes nothing.',
          body: z.looseObject({}).optional(),
        },
      },
      async (request, reply) => {
        const html = wantsHtml(request);
        try {
          const { scope } = await preferences.unsubscribe(request.query.token);
          const message = `You will no longer receive ${SCOPE_NAMES[scope]} by email. You can turn them back on in your notification settings.`;
          if (html) return page(reply, 200, 'You are unsubscribed', message);
          return successBody({ unsubscribed: true as const, scope, message });
        } catch (err) {
          if (html && err instanceof AppError && err.statusCode === 400) return badLinkPage(reply);
          throw err;
        }
      },
    );
  };
}
