import { z } from 'zod';

const email = z
  .email({ error: 'Must be a valid email address' })
  .trim()
  .max(254)
  .meta({ example: 'john@example.com' });
const password = z
  .string()
  .min(8, 'Must be at least 8 characters')
  .max(128, 'Must be at most 128 characters')
  .meta({ example: 'correct horse battery staple' });
const name = z.string().trim().min(1, 'Must not be empty').max(100).meta({ example: 'John Doe' });
const phone = z
  .string()
  .trim()
  .regex(/^\+?[0-9 ()-]{6,20}$/, 'Must be a phone number such as +2348012345678')
  .max(20)
  .meta({ example: '+2348012345678' });
const avatarUrl = z
  .url({ protocol: /^https?$/, error: 'Must be an http(s) URL' })
  .max(2048)
  .meta({ example: 'https://example.com/avatar.jpg' });
const username = z
  .string()
  .regex(/^[A-Za-z0-9_.]{3,50}$/, '3–50 letters, digits, underscores or dots')
  .meta({ example: 'john_doe' });

export const registerBody = z
  .strictObject({
    email,
    phone: phone.optional(),
    password,
    name,
    avatarUrl: avatarUrl.optional(),
    username: username.optional(),
  })
  .meta({
    description: 'Seed 002 registration body; `username` is optional and derived from the email when absent.',
  });

export const passwordLoginBody = z.strictObject({ email, password: z.string().min(1).max(128) });
export const providerLoginBody = z.strictObject({
  provider: z.string().min(1).max(50).meta({ example: 'google' }),
  providerUserId: z.string().min(1).max(255),
  accessToken: z.string().min(1).max(4096),
});
export const loginBody = z.union([passwordLoginBody, providerLoginBody]);

export const refreshBody = z.strictObject({
  refreshToken: z
    .string()
    .min(10)
    .max(200)
    .meta({ example: 'rt_Q2hhbmdlIG1lIGV2ZXJ5IHRpbWUgeW91IHJlZnJlc2g' }),
});

export const locale = z
  .string()
  .regex(/^[a-z]{2,3}(-[A-Za-z0-9]{2,8})*$/, 'Must be a BCP 47 language tag such as en or pt-BR')
  .max(35)
  .refine((v) => {
    try {
      return Intl.getCanonicalLocales(v).length === 1;
    } catch {
      return false;
    }
  }, 'Must be a BCP 47 language tag such as en or pt-BR')
  .meta({ example: 'en-NG' });
export const timezone = z
  .string()
  .max(64)
  .refine((v) => {
    try {
      new Intl.DateTimeFormat('en', { timeZone: v });
      return true;
    } catch {
      return false;
    }
  }, 'Must be an IANA time zone such as Africa/Lagos')
  .meta({ example: 'Africa/Lagos' });

export const updateProfileBody = z
  .strictObject({
    name: name.optional(),
    avatarUrl: avatarUrl.nullable().optional(),
    phone: phone.nullable().optional(),
    bio: z.string().trim().max(2000).nullable().optional(),
    locale: locale.nullable().optional(),
    timezone: timezone.nullable().optional(),
  })
  .refine((b) => Object.values(b).some((v) => v !== undefined), {
    message: 'Provide at least one field to update',
  });

export const authResult = z.object({
  userId: z.number().int().meta({ example: 1 }),
  token: z
    .string()
    .meta({ description: 'Access token (JWT, HS256), sent as `Authorization: Bearer <token>`' }),
  refreshToken: z
    .string()
    .meta({ description: 'Opaque, single-use refresh token; rotate it with POST /api/auth/token/refresh' }),
  expiresIn: z.number().int().meta({ description: 'Access token lifetime in seconds', example: 900 }),
  message: z.string().meta({ example: 'Login successful' }),
});

export const mfaChallenge = z
  .object({
    mfaRequired: z.literal(true),
    mfaToken: z.string().meta({ description: 'Single-use, 5-minute token for POST /api/auth/mfa/verify' }),
    userId: z.number().int(),
    message: z.string().meta({ example: 'Second factor required' }),
  })
  .meta({
    description:
      'The account has two-factor authentication: complete the sign-in with POST /api/auth/mfa/verify.',
  });

/** A sign-in answer: tokens, or a second-factor challenge. */
export const signInResult = z.union([authResult, mfaChallenge]);

export const sessionItem = z.object({
  id: z.number().int(),
  device: z.string().meta({ example: 'Firefox 128 on Windows 10' }),
  userAgent: z.string().nullable(),
  ip: z.string().nullable(),
  createdAt: z.string(),
  lastUsedAt: z.string(),
  expiresAt: z.string(),
  current: z.boolean(),
});
export const sessionIdParams = z.strictObject({ id: z.coerce.number().int().positive() });
export const revokeOthersResult = z.object({ revoked: z.number().int(), message: z.string() });

export const profile = z.object({
  userId: z.number().int().meta({ example: 1 }),
  username: z.string().meta({ example: 'john_doe' }),
  email: z.string().meta({ example: 'john@example.com' }),
  name: z.string().meta({ example: 'John Doe' }),
  avatarUrl: z.string().nullable().meta({ example: 'https://example.com/avatar.jpg' }),
  role: z.enum(['student', 'instructor', 'admin']),
  phone: z.string().nullable(),
  bio: z.string().nullable(),
  locale: z.string().nullable(),
  timezone: z.string().nullable(),
  isEmailVerified: z.boolean(),
  mfaEnabled: z.boolean(),
  createdAt: z.string(),
  updatedAt: z.string(),
});

export const messageResult = z.object({ message: z.string() });
export const profileUpdated = z.object({
  userId: z.number().int(),
  message: z.string().meta({ example: 'Profile updated successfully' }),
});
