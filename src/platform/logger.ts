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

type LogMethod = 'fatal' | 'error' | 'warn' | 'info' | 'debug' | 'trace';

/**
 * A request's child logger that is built on its first log line. Fastify makes a child per request
 * (to bind `reqId`), and a pino child serialises its bindings through the redaction rules: ~4% of
 * the CPU of a cached catalog page, for a logger that most requests never write to at the default
 * levels. A route-level log level (`opts.level`) builds the child at once.
 */
class LazyRequestLogger {
  private built: Logger | undefined;
  constructor(
    private readonly parent: Logger,
    private readonly childBindings: pino.Bindings,
    private readonly opts: pino.ChildLoggerOptions,
  ) {
    if (opts.level !== undefined) this.built = parent.child(childBindings, opts);
  }
  private get real(): Logger {
    return (this.built ??= this.parent.child(this.childBindings, this.opts));
  }
  private write(level: LogMethod, args: unknown[]) {
    const logger = this.built ?? (this.parent.isLevelEnabled(level) ? this.real : undefined);
    (logger?.[level] as ((...a: unknown[]) => void) | undefined)?.apply(logger, args);
  }
  get level() {
    return this.real.level;
  }
  set level(level: string) {
    this.real.level = level;
  }
  fatal(...args: unknown[]) {
    this.write('fatal', args);
  }
  error(...args: unknown[]) {
    this.write('error', args);
  }
  warn(...args: unknown[]) {
    this.write('warn', args);
  }
  info(...args: unknown[]) {
    this.write('info', args);
  }
  debug(...args: unknown[]) {
    this.write('debug', args);
  }
  trace(...args: unknown[]) {
    this.write('trace', args);
  }
  silent() {}
  child(bindings: pino.Bindings, opts?: pino.ChildLoggerOptions) {
    return this.real.child(bindings, opts);
  }
  isLevelEnabled(level: string) {
    return this.real.isLevelEnabled(level);
  }
  bindings() {
    return this.real.bindings();
  }
}

/** Fastify's `childLoggerFactory`: request loggers that cost nothing until they write. */
export function lazyChildLoggerFactory(
  parent: Logger,
  bindings: pino.Bindings,
  opts: pino.ChildLoggerOptions,
): Logger {
  return new LazyRequestLogger(parent, bindings, opts) as unknown as Logger;
}
