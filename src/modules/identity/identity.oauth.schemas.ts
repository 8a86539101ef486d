import { z } from 'zod';

export const oauthProviderParams = z.strictObject({
  provider: z.string().min(1).max(50).meta({ example: 'google' }),
});

/** A path inside the web app: `/x`, never `//host` or `/\host` (both leave the site in browsers). */
const relativePath = z
  .string()
  .max(2048)
  .refine(
    (v) =>
      v.startsWith('/') &&
      !v.startsWith('//') &&
      !v.startsWith('/\\') &&
      ![...v].some((c) => c.charCodeAt(0) < 0x20 || c.charCodeAt(0) === 0x7f),
    'Must be a path within the app, starting with a single /',
  )
  .meta({ example: '/courses/42' });

export const oauthStartQuery = z.object({
  returnTo: relativePath.default('/'),
});

export const oauthCallbackQuery = z
  .object({
    code: z.string().max(4096).optional(),
    state: z.string().max(512).optional(),
    error: z.string().max(256).optional(),
    error_description: z.string().max(2048).optional(),
    iss: z.string().max(2048).optional(),
  })
  .meta({ description: 'As sent by the provider; other parameters (scope, authuser, …) are ignored.' });

export const oauthProvidersResult = z.object({
  providers: z.array(
    z.object({
      name: z.string().meta({ example: 'google' }),
      displayName: z.string().meta({ example: 'Google' }),
    }),
  ),
});

export const linkedAccountsResult = z.object({
  accounts: z.array(
    z.object({
      provider: z.string().meta({ example: 'google' }),
      email: z.string().nullable().meta({ example: 'john@example.com' }),
      createdAt: z.string(),
    }),
  ),
});

export const unlinkResult = z.object({ message: z.string().meta({ example: 'Account unlinked' }) });

/** The empty body of a 302 answer; the Location header carries the destination. */
export const redirectResponse = z.null().meta({ description: 'Redirect; see the Location header' });
