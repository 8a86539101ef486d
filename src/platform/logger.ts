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

// Query parameters that carry single-use secrets: OAuth codes and state, signed-link signatures, tokens.
const SECRET_QUERY = /([?&](?:code|state|token|sig|mfaToken|access_token)=)[^&#]*/gi;

/** A URL fit for logs: secret query values replaced. */
export function redactUrl(url: string): string {
  return url.replace(SECRET_QUERY, '$1[redacted]');
}

export function loggerOptions(level: string): LoggerOptions {
  return {
    level,
    serializers: {
      req: (req: { method?: string; url?: string; ip?: string; socket?: { remotePort?: number } }) => ({
        method: req.method,
        url: req.url ? redactUrl(req.url) : req.url,
        remoteAddress: req.ip,
        remotePort: req.socket?.remotePort,
      }),
      err: pino.stdSerializers.err,
    },
    redact: { paths: redactPaths, censor: '[redacted]' },
    base: { service: 'lectern' },
    timestamp: pino.stdTimeFunctions.isoTime,
  };
}

export function createLogger(level: string) {
  return pino(loggerOptions(level));
}
export type Logger = ReturnType<typeof createLogger>;
