import { z } from 'zod';

const totpCode = z
  .string()
  .trim()
  .regex(/^\d{6}$/, 'Must be the 6-digit code from your authenticator app')
  .meta({ example: '492039', description: 'The current 6-digit code of the authenticator app' });
const recoveryCode = z
  .string()
  .trim()
  .min(10, 'Must be a recovery code such as k7wq-3mzp-ab')
  .max(20, 'Must be a recovery code such as k7wq-3mzp-ab')
  .meta({ example: 'k7wq-3mzp-ab', description: 'One of the single-use recovery codes' });
const mfaToken = z
  .string()
  .min(10)
  .max(100)
  .meta({ description: 'The `mfaToken` of the sign-in answer', example: 'mfa_Q2hhbmdlIG1lIGV2ZXJ5IHRpbWU' });

/** Exactly one of `code` and `recoveryCode`, reported on `code` otherwise. */
const oneFactor = (b: { code?: string; recoveryCode?: string }) =>
  (b.code === undefined) !== (b.recoveryCode === undefined);
const oneFactorError = { message: 'Provide either code or recoveryCode', path: ['code'] };

export const codeBody = z.strictObject({ code: totpCode });

export const disableBody = z
  .strictObject({
    password: z.string().min(1, 'Required').max(128).meta({ description: 'The current password' }),
    code: totpCode.optional(),
    recoveryCode: recoveryCode.optional(),
  })
  .refine(oneFactor, oneFactorError)
  .meta({ description: 'The current password and either a TOTP code or a recovery code.' });

export const verifyBody = z
  .strictObject({ mfaToken, code: totpCode.optional(), recoveryCode: recoveryCode.optional() })
  .refine(oneFactor, oneFactorError)
  .meta({ description: 'The challenge token and either a TOTP code or a recovery code.' });

export const mfaStatus = z.object({
  totpEnabled: z.boolean(),
  recoveryCodesRemaining: z.number().int().meta({ example: 10 }),
});

export const totpSetup = z.object({
  secret: z.string().meta({
    description: 'Base32 secret (160 bits), for typing into an authenticator app by hand',
    example: 'JBSWY3DPEHPK3PXPJBSWY3DPEHPK3PXP',
  }),
  otpauthUri: z.string().meta({
    example:
      'otpauth://totp/Lectern:john%40example.com?secret=JBSWY3DPEHPK3PXPJBSWY3DPEHPK3PXP&issuer=Lectern&algorithm=SHA1&digits=6&period=30',
  }),
  qrCodeSvg: z.string().meta({ description: 'The URI as a QR code, an SVG document' }),
  qrCodeDataUrl: z.string().meta({ description: 'The URI as a QR code, a `data:image/png;base64,` URL' }),
});

export const recoveryCodesResult = z.object({
  recoveryCodes: z
    .array(z.string())
    .meta({ description: '10 single-use recovery codes; shown this once only', example: ['k7wq-3mzp-ab'] }),
  message: z.string(),
});
