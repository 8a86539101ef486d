import pino, { type LoggerOptions } from 'pino';

/** Paths never written to logs: credentials, tokens and card data, wherever they appear. */
export const redactPaths = [
  'req.headers.authorization',
  'req.headers.cookie',
  'req.headers["x-paystack-signature"]',
  'res.headers["set-cookie"]',
  ...[
    'password',
    'currentPassword',
    'newPassword',
    'token',
    'refreshToken',
    'accessToken',
    'mfaToken',
    'code',
    'recoveryCode',
    'secret',
    'cardDetails',
    'cvv',
    'number',
    'authorization',
  ].flatMap((k) => [k, `*.${k}`, `*.*.${k}`]),
];

export function loggerOptions(level: string): LoggerOptions {
  return {
    level,
    redact: { paths: redactPaths, censor: '[redacted]' },
    base: { service: 'lectern' },
    timestamp: pino.stdTimeFunctions.isoTime,
  };
}

export function createLogger(level: string) {
  return pino(loggerOptions(level));
}
export type Logger = ReturnType<typeof createLogger>;
