import { z } from 'zod';

const email = z
  .email({ error: 'Must be a valid email address' })
  .trim()
  .max(254)
  .meta({ example: 'john@example.com' });
const newPassword = z
  .string()
  .min(8, 'Must be at least 8 characters')
  .max(128, 'Must be at most 128 characters')
  .meta({ example: 'correct horse battery staple' });
const linkToken = z
  .string()
  .min(20, 'Invalid or expired link')
  .max(200, 'Invalid or expired link')
  .meta({ description: 'The `token` query parameter of the emailed link' });

export const verifyEmailBody = z.strictObject({ token: linkToken });

export const otpRequestBody = z.strictObject({ email });
export const otpLoginBody = z.strictObject({
  email,
  code: z
    .string()
    .regex(/^[0-9]{6}$/, 'Must be the 6-digit code from the email')
    .meta({ example: '042917' }),
});

export const forgotPasswordBody = z.strictObject({ email });
export const resetPasswordBody = z.strictObject({ token: linkToken, password: newPassword });
export const changePasswordBody = z.strictObject({
  currentPassword: z.string().min(1, 'Required').max(128),
  newPassword,
  signOutOtherSessions: z
    .boolean()
    .default(false)
    .meta({ description: 'Also sign out every other device; this one stays signed in' }),
});

export const changePasswordResult = z.object({
  message: z.string().meta({ example: 'Password changed' }),
  revokedSessions: z.number().int().meta({ description: 'Other sessions signed out', example: 2 }),
});
